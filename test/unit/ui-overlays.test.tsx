import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { render } from "ink-testing-library";
import type { Snapshot } from "../../source/peer/types.js";
import { pieceCount, pieceSizeFor } from "../../source/protocol/manifest.js";
import { App } from "../../source/ui/app.js";
import { formatBytes, formatCount } from "../../source/ui/format.js";
import { helpSections, KEY_MODES, keyLabel } from "../../source/ui/keymap.js";
import {
	snapshot as baseSnapshot,
	FakeStore,
	file,
	folder,
	KEY,
	lineWith,
	mountApp,
	peer,
	ports,
	transfer,
	waitUntil,
} from "../helpers/ui.js";

const GiB = 1024 ** 3;
const BOB_ID = "b0b".padEnd(32, "0");
const HASH = "c0ffee".padEnd(64, "e");

function snapshot(overrides: Partial<Snapshot> = {}): Snapshot {
	return baseSnapshot({
		peers: [
			peer("bob", {
				id: BOB_ID,
				address: "127.0.0.7",
				addresses: ["127.0.0.7", "fe80::b0b%eth0"],
				ports: ports(45500),
				files: 2,
				revision: 4,
				downRate: 1_200_000,
				upRate: 34_000,
			}),
			peer("mallory", { banned: true }),
		],
		files: [
			file("movie.mkv", {
				id: "f".repeat(64),
				size: 1.5 * GiB,
				contentHash: HASH,
				peers: [BOB_ID, "peer-mallory", "gone".padEnd(32, "9")],
			}),
			file("docs/guide.md", { peers: [BOB_ID] }),
		],
		folders: [folder("docs", { files: 1, size: 1024, peers: [BOB_ID] })],
		...overrides,
	});
}

describe("the help overlay (?)", () => {
	it("lists every key of every mode, generated from the keymaps, at 200x60 without scrolling", async (t) => {
		const app = mountApp(t, render, App, new FakeStore(snapshot()));
		await app.waitForText("movie.mkv");
		await app.resize(200, 60);
		app.stdin.write("?");
		await app.waitForText("Help: every key");
		const frame = app.frame();
		assert.doesNotMatch(frame, /lines \d+-\d+ of/, "everything fits: no scrolling");
		for (const section of helpSections()) {
			assert.ok(frame.includes(`── ${section.title} ──`), section.title);
			for (const entry of section.entries) {
				const escaped = (text: string) => text.replace(/[.*+?^${}()|[\]\\/]/g, "\\$&");
				assert.match(frame, new RegExp(`${escaped(entry.keys)}\\s+${escaped(entry.does)}`));
			}
		}
		// Every binding of every mode is in the help under its label.
		for (const mode of KEY_MODES) {
			for (const binding of mode.bindings) {
				assert.ok(frame.includes(keyLabel(binding.pattern)), keyLabel(binding.pattern));
			}
		}
		for (const key of ["?", "p", "x", "o", "L", "i", "Enter", "Esc", "Ctrl-C", "k K", "d D"]) {
			assert.ok(frame.includes(key), key);
		}
	});

	it("closes with Esc, ? and q (q does not quit there)", async (t) => {
		const store = new FakeStore(snapshot());
		const app = mountApp(t, render, App, store);
		await app.waitForSelected("▸ docs/");
		for (const close of [KEY.escape, "?", "q"]) {
			app.stdin.write("?");
			await app.waitForText("Help: every key");
			app.stdin.write(close);
			await app.waitForSelected("▸ docs/");
			assert.doesNotMatch(app.frame(), /Help: every key/);
		}
		assert.deepEqual(store.intents, []);
		assert.equal(store.listeners.size, 1);
	});

	it("scrolls at 80x24 and says which lines show", async (t) => {
		const app = mountApp(t, render, App, new FakeStore(snapshot()));
		await app.waitForSelected("▸ docs/");
		await app.resize(80, 24);
		app.stdin.write("?");
		await app.waitForText(/lines 1-21 of \d+ · ↑↓ PgUp PgDn scroll · Esc close/);
		assert.match(app.frame(), /── Main screen ──/);
		assert.doesNotMatch(app.frame(), /type a number/);
		app.stdin.write("G");
		await app.waitForText("type a number (empty = unlimited)");
		assert.doesNotMatch(app.frame(), /── Main screen ──/);
		app.stdin.write("g");
		await app.waitForText("── Main screen ──");
		app.stdin.write("j");
		await app.waitForText(/lines 2-22 of/);
		app.stdin.write(KEY.pageDown);
		await app.waitForText(/lines 22-42 of/);
		const lines = app.frame().split("\n");
		assert.equal(lines.length, 24);
		assert.ok(lines.every((line) => line.length === 80));
	});
});

describe("the peer details (Enter or i in the Peers pane)", () => {
	it("show name, id, fingerprint, addresses, the four ports and discovery, files, rates, banned and ours", async (t) => {
		const app = mountApp(t, render, App, new FakeStore(snapshot()));
		await app.waitForSelected("▸ docs/");
		app.stdin.write("1");
		await app.waitForSelected("bob");
		app.stdin.write(KEY.enter);
		await app.waitForText("Peer bob");
		const frame = app.frame();
		const row = (label: string, value: RegExp) =>
			assert.match(lineWith(frame, label), new RegExp(`${label}\\s+${value.source}`));
		row("Name", /bob/);
		row("Id", new RegExp(BOB_ID));
		row("Fingerprint", /b0b0 0000 0000 0000 \(compare it with theirs\)/);
		// Ours next to it, to compare by voice or by eye with what the other side shows.
		row("Yours", /5e1f 0000 0000 0000/);
		row("Found", /on the local network/);
		row("Address", /127\.0\.0\.7 \(preferred\)/);
		row("Also at", /fe80::b0b%eth0/);
		row("Receive port", /45500 /);
		row("Send port", /45501 /);
		row("Distribute", /45502 /);
		row("Distributee", /45503 /);
		row("Discovery", /45459 /);
		row("Download", /1\.2 MB\/s from this peer/);
		row("Upload", /34\.0 KB\/s to this peer/);
		row("Banned", /no/);
		row("Files", /2 \(list revision 4\)/);
		row("Shared", /movie\.mkv/);
		assert.match(frame, /│? {2,}docs\/guide\.md/);
		app.stdin.write(KEY.escape);
		await app.waitForSelected("bob");
	});

	it("follow the snapshot (rates change live) and say when the peer left", async (t) => {
		const store = new FakeStore(snapshot());
		const app = mountApp(t, render, App, store, { frameMs: 0 });
		await app.waitForSelected("▸ docs/");
		app.stdin.write("1");
		await app.waitForSelected("bob");
		app.stdin.write("i");
		await app.waitForText("1.2 MB/s from this peer");
		const next = snapshot();
		next.peers[0] = { ...next.peers[0], downRate: 5_000_000 };
		store.set(next);
		await app.waitForText("5.0 MB/s from this peer");
		store.set(snapshot({ peers: [] }));
		await app.waitForText("no longer heard: it left");
	});

	it("show a banned peer as banned", async (t) => {
		const app = mountApp(t, render, App, new FakeStore(snapshot()));
		await app.waitForSelected("▸ docs/");
		app.stdin.write("1");
		app.stdin.write("j");
		await app.waitForSelected("mallory");
		app.stdin.write("i");
		await app.waitForText("Peer mallory");
		assert.match(lineWith(app.frame(), "Banned"), /yes, for serving bad pieces/);
	});
});

describe("the file details (i)", () => {
	it("show id, content hash, size, the default piece size and count, and which peers have it", async (t) => {
		const app = mountApp(t, render, App, new FakeStore(snapshot()));
		await app.waitForSelected("▸ docs/");
		await app.resize(80, 24);
		app.stdin.write("j");
		await app.waitForSelected("movie.mkv");
		app.stdin.write("i");
		await app.waitForText("File movie.mkv");
		const frame = app.frame();
		const size = 1.5 * GiB;
		const pieceSize = pieceSizeFor(size);
		// At 80 columns the id and the hash go whole on the line under their labels.
		assert.match(frame, new RegExp(`┃ Id +┃\\n┃ {3}${"f".repeat(64)} +┃`));
		assert.match(frame, new RegExp(`┃ Content hash +┃\\n┃ {3}${HASH} +┃`));
		assert.match(lineWith(frame, "Size"), /1\.5 GiB \(1,610,612,736 bytes\)/);
		assert.match(
			lineWith(frame, "Piece size"),
			new RegExp(`${formatBytes(pieceSize)} \\(the default for this size\\)`),
		);
		assert.match(
			lineWith(frame, "Pieces"),
			new RegExp(`Pieces\\s+${formatCount(pieceCount(size, pieceSize))}`),
		);
		assert.match(lineWith(frame, "Peers"), /Peers\s+bob/);
		assert.match(frame, /mallory \(banned\)/);
		assert.match(frame, /gone9999… \(not heard now\)/);
		app.stdin.write("i");
		await app.waitForSelected("movie.mkv");
	});

	it("show the download's piece size, verified pieces and partial file when it downloads", async (t) => {
		const store = new FakeStore(
			snapshot({
				transfers: [
					transfer("movie.mkv", {
						fileId: "f".repeat(64),
						size: 1.5 * GiB,
						bytesDone: 0.75 * GiB,
						pieceSize: 4 * 1024 ** 2,
						totalPieces: 384,
						verifiedPieces: 192,
						partialPath: "/srv/dl/movie.mkv.part",
					}),
				],
			}),
		);
		const app = mountApp(t, render, App, store);
		await app.waitForSelected("▸ docs/");
		// From the Transfers pane, i (and Enter) show the file of the selected download.
		app.stdin.write("3");
		await app.waitForSelected("movie.mkv");
		app.stdin.write(KEY.enter);
		await app.waitForText("File movie.mkv");
		const frame = app.frame();
		assert.match(lineWith(frame, "Piece size"), /Piece size\s+4\.0 MiB\s/);
		assert.match(lineWith(frame, "Pieces"), /Pieces\s+384\s/);
		assert.match(lineWith(frame, "Download"), /50% · 192\/384 pieces verified/);
		assert.match(lineWith(frame, "Partial file"), /\/srv\/dl\/movie\.mkv\.part/);
	});

	it("show a folder's files, size and peers", async (t) => {
		const app = mountApp(t, render, App, new FakeStore(snapshot()));
		await app.waitForSelected("▸ docs/");
		app.stdin.write("i");
		await app.waitForText("Folder docs/");
		assert.match(lineWith(app.frame(), "Files"), /Files\s+1\s/);
		assert.match(lineWith(app.frame(), "Peers"), /Peers\s+bob/);
		app.stdin.write(KEY.escape);
		await waitUntil(
			() => !app.frame().includes("Folder docs/"),
			() => "the panel closed",
		);
	});
});
