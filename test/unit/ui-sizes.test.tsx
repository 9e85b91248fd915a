import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { render } from "ink-testing-library";
import type { NetworkFile, Snapshot } from "../../source/peer/types.js";
import { App } from "../../source/ui/app.js";
import { MAX_PEERS_WIDTH } from "../../source/ui/layout.js";
import {
	snapshot as baseSnapshot,
	FakeStore,
	file,
	KEY,
	lineWith,
	mountApp,
	peer,
	transfer,
	waitUntil,
} from "../helpers/ui.js";

const KiB = 1024;
const MiB = 1024 ** 2;
const GiB = 1024 ** 3;
const LONG = "a-very-long-file-name-that-will-never-fit-in-a-pane-of-a-small-terminal.tar.gz";

/** A busy screen: peers, files of every size, downloads in every state, rates and limits. */
function busy(overrides: Partial<Snapshot> = {}): Snapshot {
	return baseSnapshot({
		peers: [
			peer("bob", { downRate: 1_200_000, upRate: 34_000 }),
			peer("carol-with-a-long-machine-name"),
		],
		files: [
			file(LONG, { size: 3.2 * GiB }),
			file("small.txt", { size: 512 }),
			file("middle.bin", { size: 1.5 * MiB }),
			file("kilo.dat", { size: 12 * KiB }),
		],
		transfers: [
			transfer("movie.mkv", { size: 700 * MiB, bytesDone: 350 * MiB, speed: 2_400_000 }),
			transfer(LONG, { size: 3.2 * GiB, bytesDone: GiB, speed: 850_000 }),
			transfer("slow.bin", { size: 10 * MiB, bytesDone: MiB, speed: 900 }),
		],
		rates: { down: 3_250_900, up: 120_000 },
		limits: { maxDown: 4_000_000, maxUp: null, maxActive: 3 },
		...overrides,
	});
}

/** Asserts a frame fills exactly `columns` × `rows` cells. */
function assertFills(frame: string, columns: number, rows: number): void {
	const lines = frame.split("\n");
	assert.equal(lines.length, rows, frame);
	for (const line of lines) assert.equal([...line].length, columns, JSON.stringify(line));
}

describe("the screen at any size", () => {
	for (const [columns, rows] of [
		[80, 24],
		[120, 40],
		[200, 60],
		[400, 120],
	] as const) {
		it(`fills ${columns}x${rows} exactly, every pane, summary and status line in place`, async (t) => {
			const app = mountApp(t, render, App, new FakeStore(busy()));
			await app.waitForText("movie.mkv");
			await app.resize(columns, rows);
			const frame = app.frame();
			assertFills(frame, columns, rows);
			const lines = frame.split("\n");
			assert.match(lines[0], /^╭─ Peers \(2\) ─+╮┏━ Files \(4\) ━+┓$/);
			const peersWidth = lines[0].indexOf("╮") + 1;
			assert.equal(peersWidth, Math.min(MAX_PEERS_WIDTH, Math.floor(columns / 3)));
			assert.match(frame, /╭─ Transfers \(3\) ─+╮/);
			assert.match(
				frame,
				/╰─ ↓ 3\.3 MB\/s ↑ 120\.0 KB\/s · active 3\/3 · limits ↓ 4\.0 MB\/s ↑ unlimited ─+╯/,
			);
			assert.match(lines[rows - 1], /^alice · /);
			assert.match(lines[rows - 1], /\? help/);
			// Transfers take about 40% of the rows below the top panes.
			const transfersTop = lines.findIndex((line) => line.startsWith("╭─ Transfers"));
			assert.equal(rows - 1 - transfersTop, Math.floor((rows - 1) * 0.4));
		});
	}

	it("follows resizes at once, both ways", async (t) => {
		const app = mountApp(t, render, App, new FakeStore(busy()));
		await app.waitForText("movie.mkv");
		await app.resize(200, 60);
		assert.match(lineWith(app.frame(), "Progress"), /Pieces S seeders · D distribution/);
		await app.resize(80, 24);
		assertFills(app.frame(), 80, 24);
		assert.doesNotMatch(app.frame(), /Pieces/);
		await app.resize(120, 30);
		assertFills(app.frame(), 120, 30);
	});

	it("cuts long names in the middle, keeping the extension", async (t) => {
		const app = mountApp(t, render, App, new FakeStore(busy()));
		await app.waitForText("movie.mkv");
		await app.resize(80, 24);
		for (const line of app
			.frame()
			.split("\n")
			.filter((l) => l.includes("…") && l.includes(".tar.gz"))) {
			assert.match(line, /a-very-[^ ]*…[^ ]*\.tar\.gz/);
		}
		const fileLine = lineWith(app.frame(), "3.2 GiB");
		assert.match(fileLine, /┃› a-very-long-[^ ]*…[^ ]*\.tar\.gz\s+3\.2 GiB\s+1┃/);
		const transferLine = app
			.frame()
			.split("\n")
			.find((line) => line.includes("31%"));
		assert.ok(transferLine);
		assert.match(transferLine, /│ {2}a-very-[^ ]*…[^ ]*\.tar\.gz\s+\[###-------\]/);
		// A peer's long name too.
		assert.match(app.frame(), /carol-w[^ ]*…[^ ]*name/);
	});

	it("right-aligns sizes in binary units and rates in decimal ones", async (t) => {
		const app = mountApp(t, render, App, new FakeStore(busy()));
		await app.waitForText("movie.mkv");
		await app.resize(120, 30);
		const frame = app.frame();
		const sizes = ["3.2 GiB", "512 B", "1.5 MiB", "12.0 KiB"].map((size) => {
			const line = lineWith(frame, size);
			return line.indexOf(size) + size.length;
		});
		assert.equal(new Set(sizes).size, 1, `size columns end at ${sizes}`);
		const rates = ["2.4 MB/s", "850.0 KB/s", "900 B/s"].map((rate) => {
			const line = lineWith(frame, rate);
			return line.indexOf(rate) + rate.length;
		});
		assert.equal(new Set(rates).size, 1, `rate columns end at ${rates}`);
		const header = lineWith(frame, "Progress");
		assert.equal(rates[0], header.indexOf("Speed") + "Speed".length);
	});

	it("scrolls 100,000 files, rendering only the visible rows, the selection always on screen", async (t) => {
		const files: NetworkFile[] = Array.from({ length: 100_000 }, (_, index) =>
			file(`file-${String(index).padStart(6, "0")}.dat`),
		);
		const app = mountApp(t, render, App, new FakeStore(busy({ files })), { frameMs: 0 });
		await app.waitForSelected("file-000000.dat");
		await app.resize(80, 24);
		const rowsShown = () => (app.frame().match(/file-\d{6}\.dat/g) ?? []).length;
		assert.equal(rowsShown(), 11);
		app.stdin.write("G");
		await app.waitForSelected("file-099999.dat");
		assert.equal(rowsShown(), 11);
		assert.match(app.frame(), /file-099989\.dat/);
		app.stdin.write(KEY.pageUp);
		await app.waitForSelected("file-099988.dat");
		app.stdin.write("k");
		await app.waitForSelected("file-099987.dat");
		app.stdin.write("g");
		await app.waitForSelected("file-000000.dat");
		// The Files title counts them all.
		assert.match(app.frame(), /Files \(100,000\)|Files \(100000\)/);
	});
});

describe("renders", () => {
	it("a burst of snapshots costs a few frames, and the last one is shown", async (t) => {
		const store = new FakeStore(busy());
		const app = mountApp(t, render, App, store, { frameMs: 200 });
		await app.waitForText("movie.mkv");
		const before = app.frames.length;
		for (let index = 0; index < 50; index++) {
			store.set(busy({ message: `event ${index}` }));
		}
		await app.waitForText("event 49");
		// The first at once, the last after the interval: two renders, not fifty.
		assert.ok(app.frames.length - before <= 3, `${app.frames.length - before} frames`);
	});

	it("keys are answered at once, whatever the frame interval", async (t) => {
		const store = new FakeStore(busy());
		const app = mountApp(t, render, App, store, { frameMs: 60_000 });
		await app.waitForSelected(LONG.slice(0, 8));
		// The first snapshot is drawn at once; one right after it waits for the interval...
		store.set(busy({ message: "first" }));
		await app.waitForText("first");
		store.set(busy({ message: "second" }));
		assert.doesNotMatch(app.frame(), /second/);
		// ...but keys do not wait, and they show the latest snapshot.
		app.stdin.write("j");
		await app.waitForSelected("kilo.dat");
		await waitUntil(
			() => app.frame().includes("second"),
			() => "the latest snapshot drawn with the key",
		);
	});
});
