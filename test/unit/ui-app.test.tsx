import assert from "node:assert/strict";
import { describe, it, mock, type TestContext } from "node:test";
import { render } from "ink-testing-library";
import type { Snapshot } from "../../source/peer/types.js";
import { App } from "../../source/ui/app.js";
import {
	snapshot as baseSnapshot,
	FakeStore,
	file,
	KEY,
	lineWith,
	peer,
	transfer,
	waitUntil,
} from "../helpers/ui.js";

/** The shared test snapshot, with three files on the network. */
function snapshot(overrides: Partial<Snapshot> = {}): Snapshot {
	return baseSnapshot({
		files: [
			file("alpha.txt", { size: 512 }),
			file("beta.bin", { size: 1.5 * 1024 ** 2, peers: ["a", "b"] }),
			file("gamma.iso"),
		],
		...overrides,
	});
}

/** Renders the app on a fake store and unmounts it when the test ends. */
function mount(t: TestContext, store: FakeStore) {
	const app = render(<App store={store} />);
	t.after(() => app.unmount());
	const frame = () => app.lastFrame() ?? "";
	return {
		...app,
		frame,
		/** Waits until the frame contains `text` (or matches it). */
		waitForText: (text: string | RegExp) =>
			waitUntil(
				() => (typeof text === "string" ? frame().includes(text) : text.test(frame())),
				() => `${String(text)} in frame:\n${frame()}`,
			),
		/** Waits until the row marked as selected starts with `name`. */
		waitForSelected: (name: string) =>
			waitUntil(
				() => selected(frame()) === name,
				() => `"${name}" selected, got "${selected(frame())}" in frame:\n${frame()}`,
			),
	};
}

/** Resizes the fake terminal and waits for a frame of that size. */
async function resize(app: ReturnType<typeof mount>, columns: number, rows: number): Promise<void> {
	Object.defineProperty(app.stdout, "rows", { value: rows, configurable: true });
	Object.defineProperty(app.stdout, "columns", { value: columns, configurable: true });
	app.stdout.emit("resize");
	await waitUntil(
		() => {
			const lines = app.frame().split("\n");
			return lines.length === rows && Math.max(...lines.map((line) => line.length)) === columns;
		},
		() => `${columns}x${rows}, got:\n${app.frame()}`,
	);
}

const MiB = 1024 ** 2;
const DISK_FULL =
	"disk full writing /srv/dl/movie.mkv; the partial download is kept, retry to resume";

/** The text right after the selection marker, i.e. the highlighted row's name. */
function selected(frame: string): string | undefined {
	return /› (\S+)/.exec(frame)?.[1];
}

describe("App rendering", () => {
	it("renders the three pane titles and the status line", async (t) => {
		const app = mount(t, new FakeStore(snapshot()));
		await app.waitForText("Transfers");
		const frame = app.frame();
		assert.match(frame, /╭─ Peers/);
		// The focused pane (Files at start) has the heavy frame.
		assert.match(frame, /┏━ Files/);
		assert.match(frame, /╭─ Transfers/);
		const status = frame.split("\n").at(-1) ?? "";
		assert.match(status, /alice · share \/srv\/share · downloads \/srv\/dl/);
		assert.match(status, /Tab pane {2}Enter download {2}\/ search {2}\? help {2}q quit$/);
	});

	it("fills the terminal height (24 rows by default)", async (t) => {
		const app = mount(t, new FakeStore(snapshot()));
		await app.waitForText("Transfers");
		const lines = app.frame().split("\n");
		assert.equal(lines.length, 24);
		assert.ok(lines.every((line) => line.length <= 100));
	});

	it("shows peer rows with address, file count and seconds since last announce", async (t) => {
		const store = new FakeStore(
			snapshot({ peers: [peer("bob", { files: 3, lastSeen: Date.now() - 3000 })] }),
		);
		const app = mount(t, store);
		await app.waitForText("bob");
		assert.match(app.frame(), /bob\s+3 files/);
		assert.match(app.frame(), /127\.0\.0\.1:45460\s+3s/);
	});

	it("shows file rows with human size and number of peers", async (t) => {
		const app = mount(t, new FakeStore(snapshot()));
		await app.waitForText("beta.bin");
		assert.match(app.frame(), /alpha\.txt\s+512 B\s+1┃/);
		assert.match(app.frame(), /beta\.bin\s+1\.5 MiB\s+2┃/);
		assert.match(app.frame(), /gamma\.iso\s+1\.0 KiB\s+1┃/);
	});

	it("shows transfer rows with bar, percent, speed, peers and status", async (t) => {
		const store = new FakeStore(
			snapshot({
				transfers: [
					transfer("movie.mkv", { bytesDone: 500, speed: 1_200_000, peers: 2 }),
					transfer("waiting.bin", { status: "waiting", peers: 0, bytesDone: 0 }),
					transfer("checking.bin", { status: "verifying", bytesDone: 1000 }),
					transfer("done.txt", { status: "complete", bytesDone: 1000 }),
					transfer("broken.zip", { status: "failed", error: "hash mismatch" }),
				],
			}),
		);
		const app = mount(t, store);
		await app.waitForText("broken.zip");
		const frame = app.frame();
		assert.match(
			lineWith(frame, "Progress"),
			/Name\s+Progress\s+Done\s+Speed\s+ETA\s+Peers\s+Status/,
		);
		// 500 of 1000 bytes left at 1.2 MB/s: under a second, shown as 1s.
		assert.match(frame, /movie\.mkv\s+\[#####-----\]\s+50%\s+1\.2 MB\/s\s+1s\s+2 1\/2 pcs/);
		assert.match(frame, /waiting\.bin\s+\[-+\]\s+0%\s+0 waiting for peers/);
		assert.match(frame, /checking\.bin.*verifying/);
		assert.match(frame, /done\.txt\s+\[##########\]\s+100%.*done/);
		assert.match(frame, /broken\.zip.*failed: hash mismatch/);
	});

	it("shows a banned peer as banned", async (t) => {
		const store = new FakeStore(
			snapshot({ peers: [peer("bob"), peer("mallory", { banned: true, files: 3 })] }),
		);
		const app = mount(t, store);
		await app.waitForText("mallory");
		assert.match(lineWith(app.frame(), "mallory"), /mallory\s+banned · 3 files│/);
		assert.doesNotMatch(lineWith(app.frame(), "bob"), /banned/);
		await resize(app, 80, 24);
		assert.match(lineWith(app.frame(), "mallory"), /mallory\s+banned│/);
	});

	it("shows where a transfer's bytes came from, in full at 200 columns", async (t) => {
		const moving = transfer("movie.mkv", {
			size: 400 * MiB,
			bytesDone: 200 * MiB,
			fromSeeders: 120 * MiB,
			fromDistribution: 80 * MiB,
			peers: 3,
		});
		const app = mount(t, new FakeStore(snapshot({ transfers: [moving] })));
		await app.waitForText("movie.mkv");
		await resize(app, 200, 40);
		assert.match(
			lineWith(app.frame(), "Progress"),
			/ETA Peers\s+Pieces S seeders · D distribution\s+Status/,
		);
		// 200 MiB left at 1.2 MB/s: 175 s.
		assert.match(
			lineWith(app.frame(), "movie.mkv"),
			/\[#####-----\]\s+50%\s+1\.2 MB\/s\s+2m55s\s+3\s+1\/2 S 120\.0 MiB · D 80\.0 MiB\s+│$/,
		);
	});

	it("keeps every transfer row exactly 80 columns wide, pieces in the status cell", async (t) => {
		const store = new FakeStore(
			snapshot({
				transfers: [
					transfer("a-very-long-movie-name-of-the-summer-holidays.mkv", {
						size: 400 * MiB,
						bytesDone: 200 * MiB,
						fromSeeders: 120 * MiB,
						fromDistribution: 80 * MiB,
					}),
					transfer("waiting.bin", { status: "waiting", peers: 0, bytesDone: 0 }),
					transfer("movie.mkv", { status: "failed", error: DISK_FULL }),
				],
			}),
		);
		const app = mount(t, store);
		await app.waitForText("movie.mkv");
		await resize(app, 80, 24);
		const frame = app.frame();
		const rows = ["a-very", "waiting.bin", "movie.mkv"].map((name) => lineWith(frame, name));
		for (const row of rows) {
			assert.equal(row.length, 80, JSON.stringify(row));
			assert.match(row, /^│.*│$/);
		}
		// At 80 columns the verified pieces go into the status cell, before the sources.
		assert.match(rows[0], /1\.2 MB\/s\s+2m55s\s+1 1\/2 pcs\s+│$/);
		assert.match(rows[1], /0 waiting for peers\s*│$/);
		assert.match(rows[2], /50% failed: disk full … retry to resume\s+│$/);
	});

	it("shows a failed transfer's error and waiting for peers", async (t) => {
		const store = new FakeStore(
			snapshot({
				transfers: [
					transfer("movie.mkv", { status: "failed", error: DISK_FULL }),
					transfer("waiting.bin", { status: "waiting", peers: 0, bytesDone: 0, fromSeeders: 0 }),
				],
			}),
		);
		const app = mount(t, store);
		await app.waitForText("movie.mkv");
		await resize(app, 200, 24);
		assert.match(lineWith(app.frame(), "movie.mkv"), new RegExp(`50% failed: ${DISK_FULL}\\s+│$`));
		assert.match(lineWith(app.frame(), "waiting.bin"), /\s0\s+1\/2\s+waiting for peers\s+│$/);
	});

	it("shows the snapshot's message in the status line", async (t) => {
		const store = new FakeStore(snapshot());
		const app = mount(t, store);
		await app.waitForText("alice");
		assert.doesNotMatch(app.frame(), /download complete/);
		store.set(snapshot({ message: "download complete: a.txt" }));
		await app.waitForText("download complete: a.txt");
		assert.match(app.frame().split("\n").at(-1) ?? "", /download complete: a\.txt/);
	});

	it("re-renders when the store changes", async (t) => {
		const store = new FakeStore(snapshot());
		const app = mount(t, store);
		await app.waitForText("alpha.txt");
		store.set(snapshot({ files: [file("delta.pdf")] }));
		await app.waitForText("delta.pdf");
		assert.doesNotMatch(app.frame(), /alpha\.txt/);
	});

	it("follows terminal resize events", async (t) => {
		const app = mount(t, new FakeStore(snapshot()));
		await app.waitForText("Transfers");
		Object.defineProperty(app.stdout, "rows", { value: 30, configurable: true });
		Object.defineProperty(app.stdout, "columns", { value: 80, configurable: true });
		app.stdout.emit("resize");
		await waitUntil(
			() => app.frame().split("\n").length === 30,
			() => `30 rows, got:\n${app.frame()}`,
		);
		const lines = app.frame().split("\n");
		assert.equal(Math.max(...lines.map((line) => line.length)), 80);
	});

	it("refreshes the peer's age every second and clears its timer on unmount", async (t) => {
		mock.timers.enable({ apis: ["setInterval", "Date"], now: 1_000_000 });
		const mockedSetInterval = globalThis.setInterval;
		const mockedClearInterval = globalThis.clearInterval;
		const secondTimers: unknown[] = [];
		const cleared: unknown[] = [];
		globalThis.setInterval = ((callback: () => void, ms?: number) => {
			const id = mockedSetInterval(callback, ms);
			if (ms === 1000) {
				secondTimers.push(id);
			}
			return id;
		}) as typeof setInterval;
		globalThis.clearInterval = ((id: Parameters<typeof clearInterval>[0]) => {
			cleared.push(id);
			mockedClearInterval(id);
		}) as typeof clearInterval;
		try {
			const store = new FakeStore(
				snapshot({ peers: [peer("bob", { lastSeen: 1_000_000 - 3000 })] }),
			);
			const app = mount(t, store);
			await app.waitForText(/45460\s+3s/);
			mock.timers.tick(1000);
			await app.waitForText(/45460\s+4s/);
			mock.timers.tick(1000);
			await app.waitForText(/45460\s+5s/);
			assert.equal(secondTimers.length, 1);
			app.unmount();
			assert.ok(cleared.includes(secondTimers[0]), "the 1-second timer was not cleared");
		} finally {
			globalThis.setInterval = mockedSetInterval;
			globalThis.clearInterval = mockedClearInterval;
			mock.timers.reset();
		}
	});
});

describe("App keys", () => {
	it("starts with the Files pane focused and its first row selected", async (t) => {
		const app = mount(t, new FakeStore(snapshot()));
		await app.waitForSelected("alpha.txt");
	});

	it("cycles the focus with Tab and Shift-Tab", async (t) => {
		const store = new FakeStore(
			snapshot({ transfers: [transfer("movie.mkv")], peers: [peer("bob")] }),
		);
		const app = mount(t, store);
		await app.waitForSelected("alpha.txt");
		app.stdin.write(KEY.tab);
		await app.waitForSelected("movie.mkv");
		app.stdin.write(KEY.tab);
		await app.waitForSelected("bob");
		app.stdin.write(KEY.tab);
		await app.waitForSelected("alpha.txt");
		app.stdin.write(KEY.shiftTab);
		await app.waitForSelected("bob");
		app.stdin.write(KEY.shiftTab);
		await app.waitForSelected("movie.mkv");
	});

	it("moves the selection with j/k and the arrow keys, clamped to the list", async (t) => {
		const app = mount(t, new FakeStore(snapshot()));
		await app.waitForSelected("alpha.txt");
		app.stdin.write("j");
		await app.waitForSelected("beta.bin");
		app.stdin.write(KEY.down);
		await app.waitForSelected("gamma.iso");
		app.stdin.write("j");
		app.stdin.write("k");
		await app.waitForSelected("beta.bin");
		app.stdin.write(KEY.up);
		await app.waitForSelected("alpha.txt");
		app.stdin.write("k");
		app.stdin.write("j");
		await app.waitForSelected("beta.bin");
	});

	it("dispatches a download of the selected file on Enter in the Files pane", async (t) => {
		const store = new FakeStore(snapshot());
		const app = mount(t, store);
		await app.waitForSelected("alpha.txt");
		app.stdin.write(KEY.down);
		await app.waitForSelected("beta.bin");
		app.stdin.write(KEY.enter);
		await waitUntil(
			() => store.intents.length > 0,
			() => "an intent",
		);
		assert.deepEqual(store.intents, [
			{ type: "download", fileId: "id-beta.bin", name: "beta.bin" },
		]);
	});

	it("does not download on Enter in another pane", async (t) => {
		const store = new FakeStore(snapshot());
		const app = mount(t, store);
		await app.waitForSelected("alpha.txt");
		app.stdin.write(KEY.shiftTab);
		await app.waitForSelected("bob");
		// Enter on a peer opens its details; Esc closes them.
		app.stdin.write(KEY.enter);
		await app.waitForText("Peer bob");
		app.stdin.write(KEY.escape);
		await app.waitForSelected("bob");
		app.stdin.write(KEY.tab);
		await app.waitForSelected("alpha.txt");
		assert.deepEqual(store.intents, []);
	});

	it("keeps the selected row visible in a long list, rendering only visible rows", async (t) => {
		const files = Array.from({ length: 30 }, (_, index) =>
			file(`file-${String(index).padStart(2, "0")}.dat`),
		);
		const app = mount(t, new FakeStore(snapshot({ files })));
		await app.waitForSelected("file-00.dat");
		assert.match(app.frame(), /file-10\.dat/);
		assert.doesNotMatch(app.frame(), /file-11\.dat/);
		for (let index = 1; index <= 12; index++) {
			app.stdin.write("j");
			await app.waitForSelected(`file-${String(index).padStart(2, "0")}.dat`);
		}
		assert.doesNotMatch(app.frame(), /file-00\.dat|file-01\.dat/);
		assert.match(app.frame(), /file-02\.dat/);
		app.stdin.write("G");
		await app.waitForSelected("file-29.dat");
		assert.doesNotMatch(app.frame(), /file-18\.dat/);
		app.stdin.write("g");
		await app.waitForSelected("file-00.dat");
		assert.doesNotMatch(app.frame(), /file-11\.dat/);
	});

	it("clamps the selection when the list shrinks", async (t) => {
		const store = new FakeStore(snapshot());
		const app = mount(t, store);
		await app.waitForSelected("alpha.txt");
		app.stdin.write("j");
		await app.waitForSelected("beta.bin");
		app.stdin.write("j");
		await app.waitForSelected("gamma.iso");
		store.set(snapshot({ files: [file("only.txt")] }));
		await app.waitForSelected("only.txt");
		app.stdin.write(KEY.enter);
		await waitUntil(
			() => store.intents.length > 0,
			() => "an intent",
		);
		assert.deepEqual(store.intents, [
			{ type: "download", fileId: "id-only.txt", name: "only.txt" },
		]);
	});

	it("dispatches quit and exits on q", async (t) => {
		const store = new FakeStore(snapshot());
		const app = mount(t, store);
		await app.waitForSelected("alpha.txt");
		assert.equal(store.listeners.size, 1);
		app.stdin.write("q");
		await waitUntil(
			() => store.listeners.size === 0,
			() => "the app to exit (unsubscribe from the store)",
		);
		assert.deepEqual(store.intents, [{ type: "quit" }]);
	});

	it("dispatches quit and exits on Ctrl-C", async (t) => {
		const store = new FakeStore(snapshot());
		const app = mount(t, store);
		await app.waitForSelected("alpha.txt");
		app.stdin.write(KEY.ctrlC);
		await waitUntil(
			() => store.listeners.size === 0,
			() => "the app to exit (unsubscribe from the store)",
		);
		assert.deepEqual(store.intents, [{ type: "quit" }]);
	});
});
