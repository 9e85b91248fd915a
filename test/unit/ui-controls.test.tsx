import assert from "node:assert/strict";
import { describe, it, type TestContext } from "node:test";
import { render } from "ink-testing-library";
import type { Intent, Snapshot } from "../../source/peer/types.js";
import { App } from "../../source/ui/app.js";
import {
	snapshot as baseSnapshot,
	FakeStore,
	file,
	folderTransfer,
	KEY,
	lineWith,
	mountApp,
	transfer,
	waitUntil,
} from "../helpers/ui.js";

const MiB = 1024 ** 2;

/** Five downloads, one per interesting status, in this order in the Transfers pane. */
function snapshot(overrides: Partial<Snapshot> = {}): Snapshot {
	return baseSnapshot({
		files: [file("alpha.txt")],
		transfers: [
			transfer("movie.mkv", {
				size: 700 * MiB,
				bytesDone: 350 * MiB,
				verifiedPieces: 175,
				totalPieces: 350,
				speed: 2_400_000,
				peers: 2,
				partialPath: "/srv/dl/.movie.mkv.part",
			}),
			transfer("paused.iso", { status: "paused", verifiedPieces: 3, totalPieces: 8 }),
			transfer("broken.zip", { status: "failed", error: "hash mismatch" }),
			transfer("done.txt", {
				status: "complete",
				bytesDone: 1000,
				verifiedPieces: 2,
				path: "/srv/dl/done.txt",
			}),
			transfer("queued.bin", { status: "queued", bytesDone: 0, verifiedPieces: 0 }),
		],
		...overrides,
	});
}

/** Mounts the app and focuses the Transfers pane (key `3`). */
async function inTransfers(t: TestContext, store: FakeStore) {
	const app = mountApp(t, render, App, store);
	await app.waitForSelected("alpha.txt");
	app.stdin.write("3");
	await app.waitForSelected("movie.mkv");
	return app;
}

/** Waits for `count` intents and returns them. */
async function intents(store: FakeStore, count: number): Promise<Intent[]> {
	await waitUntil(
		() => store.intents.length >= count,
		() => `${count} intents, got ${JSON.stringify(store.intents)}`,
	);
	return store.intents;
}

/** The status line (last line) of a frame. */
const statusLine = (frame: string) => frame.split("\n").at(-1) ?? "";

describe("Transfers pane rows", () => {
	it("show progress, speed, ETA, peers, verified pieces and the status of each download", async (t) => {
		const app = mountApp(t, render, App, new FakeStore(snapshot()));
		await app.waitForText("queued.bin");
		await app.resize(200, 40);
		const frame = app.frame();
		assert.match(lineWith(frame, "Progress"), /Done\s+Speed\s+ETA\s+Peers\s+Pieces/);
		// 350 MiB left at 2.4 MB/s: 153 s.
		assert.match(
			lineWith(frame, "movie.mkv"),
			/\[#####-----\]\s+50%\s+2\.4 MB\/s\s+2m33s\s+2\s+175\/350 /,
		);
		assert.match(lineWith(frame, "paused.iso"), /50%\s+1\s+3\/8 .*\spaused\s/);
		assert.match(lineWith(frame, "queued.bin"), /0%\s+1\s+0\/2 .*\squeued\s/);
		assert.match(lineWith(frame, "done.txt"), /\[##########\]\s+100%\s+2\/2 .*\sdone\s/);
		assert.match(lineWith(frame, "broken.zip"), /50% failed: hash mismatch\s/);
	});

	it("sum up the total rates, active and queued downloads and the limits in the bottom border", async (t) => {
		const store = new FakeStore(
			snapshot({
				rates: { down: 2_400_000, up: 340_000 },
				limits: { maxDown: 500_000, maxUp: null, maxActive: 2 },
			}),
		);
		const app = mountApp(t, render, App, store);
		await app.waitForText("queued.bin");
		assert.match(
			app.frame(),
			/╰─ ↓ 2\.4 MB\/s ↑ 340\.0 KB\/s · active 1\/2 · 1 queued · 1 paused · limits ↓ 500\.0 KB\/s ↑ unlimited ─+╯/,
		);
		// No limit set: the summary does not mention limits.
		store.set(snapshot({ rates: { down: 0, up: 1_500 } }));
		await app.waitForText("↓ 0 B/s ↑ 1.5 KB/s · active 1/3");
		assert.doesNotMatch(app.frame(), /limits ↓/);
	});
});

describe("keys sent together in one chunk", () => {
	it("act one by one: G then Enter downloads the last file, 3 x k cancels", async (t) => {
		const store = new FakeStore(snapshot({ files: [file("alpha.txt"), file("omega.txt")] }));
		const app = mountApp(t, render, App, store);
		await app.waitForSelected("alpha.txt");
		app.stdin.write("G\r");
		assert.deepEqual(await intents(store, 1), [
			{ type: "download", fileId: "id-omega.txt", name: "omega.txt" },
		]);
		app.stdin.write("3xk");
		assert.deepEqual((await intents(store, 2))[1], {
			type: "cancel",
			fileId: "id-movie.mkv",
			keepPartial: true,
		});
	});
});

describe("p pauses and resumes", () => {
	it("dispatches pause for a running download and resume for a paused one", async (t) => {
		const store = new FakeStore(snapshot());
		const app = await inTransfers(t, store);
		app.stdin.write("p");
		assert.deepEqual(await intents(store, 1), [{ type: "pause", fileId: "id-movie.mkv" }]);
		await app.waitForText("pausing movie.mkv");
		app.stdin.write("j");
		await app.waitForSelected("paused.iso");
		app.stdin.write("p");
		assert.deepEqual((await intents(store, 2))[1], { type: "resume", fileId: "id-paused.iso" });
		await app.waitForText("resuming paused.iso");
	});

	it("pauses a queued download and downloads a failed one again", async (t) => {
		const store = new FakeStore(snapshot());
		const app = await inTransfers(t, store);
		app.stdin.write("G");
		await app.waitForSelected("queued.bin");
		app.stdin.write("p");
		assert.deepEqual(await intents(store, 1), [{ type: "pause", fileId: "id-queued.bin" }]);
		app.stdin.write("kk");
		await app.waitForSelected("broken.zip");
		app.stdin.write("p");
		assert.deepEqual((await intents(store, 2))[1], { type: "download", fileId: "id-broken.zip" });
	});

	it("does nothing to a complete download and says so", async (t) => {
		const store = new FakeStore(snapshot());
		const app = await inTransfers(t, store);
		app.stdin.write("jjj");
		await app.waitForSelected("done.txt");
		app.stdin.write("p");
		await app.waitForText("done.txt is complete: nothing to pause");
		assert.deepEqual(store.intents, []);
	});

	it("outside the Transfers pane only tells where it works", async (t) => {
		const store = new FakeStore(snapshot());
		const app = mountApp(t, render, App, store);
		await app.waitForSelected("alpha.txt");
		app.stdin.write("p");
		await app.waitForText("p acts on the Transfers pane");
		app.stdin.write("x");
		await app.waitForText("x acts on the Transfers pane");
		assert.deepEqual(store.intents, []);
	});

	it("on a folder download pauses its running files, then resumes its paused ones", async (t) => {
		const files = [
			transfer("docs/a.txt", { folder: "docs" }),
			transfer("docs/b.txt", { folder: "docs", status: "waiting" }),
			transfer("docs/c.txt", { folder: "docs", status: "complete", bytesDone: 1000 }),
		];
		const store = new FakeStore(
			snapshot({ transfers: files, folderTransfers: [folderTransfer("docs")] }),
		);
		const app = mountApp(t, render, App, store);
		await app.waitForSelected("alpha.txt");
		app.stdin.write("3");
		await app.waitForSelected("▾ docs/");
		app.stdin.write("p");
		assert.deepEqual(await intents(store, 2), [
			{ type: "pause", fileId: "id-docs/a.txt" },
			{ type: "pause", fileId: "id-docs/b.txt" },
		]);
		await app.waitForText("pausing docs/ (2 files)");
		store.set(
			snapshot({
				transfers: files.map((t) =>
					t.status === "complete" ? t : { ...t, status: "paused" as const },
				),
				folderTransfers: [folderTransfer("docs")],
			}),
		);
		await app.waitForText(/b\.txt.*paused/);
		app.stdin.write("p");
		assert.deepEqual((await intents(store, 4)).slice(2), [
			{ type: "resume", fileId: "id-docs/a.txt" },
			{ type: "resume", fileId: "id-docs/b.txt" },
		]);
	});
});

describe("x cancels after asking about the partial file", () => {
	const PROMPT = "Cancel movie.mkv: keep partial file? [k]eep / [d]elete / Esc";

	it("k keeps the partial file", async (t) => {
		const store = new FakeStore(snapshot());
		const app = await inTransfers(t, store);
		app.stdin.write("x");
		await app.waitForText(PROMPT);
		assert.match(statusLine(app.frame()), /^Cancel movie\.mkv: keep partial file\?/);
		assert.match(statusLine(app.frame()), /k keep {2}d delete/);
		assert.deepEqual(store.intents, []);
		app.stdin.write("k");
		assert.deepEqual(await intents(store, 1), [
			{ type: "cancel", fileId: "id-movie.mkv", keepPartial: true },
		]);
		await app.waitForText("cancelled movie.mkv: partial file kept");
		assert.doesNotMatch(app.frame(), /keep partial file\?/);
	});

	it("d deletes the partial file", async (t) => {
		const store = new FakeStore(snapshot());
		const app = await inTransfers(t, store);
		app.stdin.write("x");
		await app.waitForText(PROMPT);
		app.stdin.write("d");
		assert.deepEqual(await intents(store, 1), [
			{ type: "cancel", fileId: "id-movie.mkv", keepPartial: false },
		]);
		await app.waitForText("cancelled movie.mkv: partial file deleted");
	});

	it("Esc backs out; other keys do nothing while it asks", async (t) => {
		const store = new FakeStore(snapshot());
		const app = await inTransfers(t, store);
		app.stdin.write("x");
		await app.waitForText(PROMPT);
		app.stdin.write("j");
		app.stdin.write("p");
		app.stdin.write(KEY.escape);
		await app.waitForGone(PROMPT);
		// The selection did not move and nothing was sent.
		await app.waitForSelected("movie.mkv");
		assert.deepEqual(store.intents, []);
		assert.equal(store.listeners.size, 1);
	});

	it("cancels every unfinished file of a folder download", async (t) => {
		const store = new FakeStore(
			snapshot({
				transfers: [
					transfer("docs/a.txt", { folder: "docs" }),
					transfer("docs/c.txt", { folder: "docs", status: "complete", bytesDone: 1000 }),
					transfer("docs/d.txt", { folder: "docs", status: "paused" }),
				],
				folderTransfers: [folderTransfer("docs")],
			}),
		);
		const app = mountApp(t, render, App, store);
		await app.waitForSelected("alpha.txt");
		app.stdin.write("3");
		await app.waitForSelected("▾ docs/");
		app.stdin.write("x");
		await app.waitForText("Cancel docs/: keep partial file?");
		app.stdin.write("k");
		assert.deepEqual(await intents(store, 2), [
			{ type: "cancel", fileId: "id-docs/a.txt", keepPartial: true },
			{ type: "cancel", fileId: "id-docs/d.txt", keepPartial: true },
		]);
	});

	it("does not ask about a complete download", async (t) => {
		const store = new FakeStore(snapshot());
		const app = await inTransfers(t, store);
		app.stdin.write("jjj");
		await app.waitForSelected("done.txt");
		app.stdin.write("x");
		await app.waitForText("nothing to cancel");
		assert.doesNotMatch(app.frame(), /keep partial file\?/);
		assert.deepEqual(store.intents, []);
	});
});

describe("o shows where a download is", () => {
	it("shows a finished file's path; Esc closes", async (t) => {
		const store = new FakeStore(snapshot());
		const app = await inTransfers(t, store);
		app.stdin.write("jjj");
		await app.waitForSelected("done.txt");
		app.stdin.write("o");
		await app.waitForText("Location");
		assert.match(lineWith(app.frame(), "Path"), /Path\s+\/srv\/dl\/done\.txt/);
		app.stdin.write(KEY.escape);
		await app.waitForSelected("done.txt");
		assert.doesNotMatch(app.frame(), /Location/);
		assert.deepEqual(store.intents, []);
	});

	it("shows where an unfinished one will be and its partial file", async (t) => {
		const store = new FakeStore(snapshot());
		const app = await inTransfers(t, store);
		app.stdin.write("o");
		await app.waitForText("Location");
		const frame = app.frame();
		assert.match(lineWith(frame, "Status"), /not finished: downloading/);
		assert.match(lineWith(frame, "Will be"), /\/srv\/dl\/movie\.mkv/);
		assert.match(lineWith(frame, "Partial file"), /\/srv\/dl\/\.movie\.mkv\.part/);
		app.stdin.write("o");
		await app.waitForSelected("movie.mkv");
	});

	it("shows a folder download's target", async (t) => {
		const store = new FakeStore(
			snapshot({
				transfers: [transfer("docs/a.txt", { folder: "docs" })],
				folderTransfers: [folderTransfer("docs", { status: "complete", filesDone: 3 })],
			}),
		);
		const app = mountApp(t, render, App, store);
		await app.waitForSelected("alpha.txt");
		app.stdin.write("3");
		await app.waitForSelected("▾ docs/");
		app.stdin.write("o");
		await app.waitForText(/Path\s+\/srv\/dl\/docs/);
		assert.match(app.frame(), /3\/3 in place/);
	});
});

describe("L sets the limits", () => {
	it("opens with the limits in force and dispatches set-limits on Enter", async (t) => {
		const store = new FakeStore(
			snapshot({ limits: { maxDown: 5_000_000, maxUp: null, maxActive: 3 } }),
		);
		const app = mountApp(t, render, App, store);
		await app.waitForSelected("alpha.txt");
		app.stdin.write("L");
		await app.waitForText("Limits");
		assert.match(lineWith(app.frame(), "Max download"), /› Max download\s+\[5000\s*\] KB\/s/);
		assert.match(lineWith(app.frame(), "Max upload"), /Max upload\s+\[\s+\] KB\/s/);
		assert.match(lineWith(app.frame(), "Active downloads"), /\[3\s+\]/);
		// Down: erase and type 500; up: 250; active: 2.
		app.stdin.write(KEY.ctrlU);
		app.stdin.write("500");
		app.stdin.write(KEY.tab);
		app.stdin.write("250");
		app.stdin.write(KEY.down);
		app.stdin.write(KEY.backspace);
		app.stdin.write("2");
		await app.waitForText(/› Active downloads\s+\[2/);
		assert.deepEqual(store.intents, []);
		app.stdin.write(KEY.enter);
		assert.deepEqual(await intents(store, 1), [
			{ type: "set-limits", limits: { maxDown: 500_000, maxUp: 250_000, maxActive: 2 } },
		]);
		await app.waitForText("limits: ↓ 500.0 KB/s ↑ 250.0 KB/s · 2 active");
		assert.doesNotMatch(app.frame(), /Max download/);
	});

	it("an empty rate field means unlimited", async (t) => {
		const store = new FakeStore(
			snapshot({ limits: { maxDown: 5_000_000, maxUp: 1_000_000, maxActive: 3 } }),
		);
		const app = mountApp(t, render, App, store);
		await app.waitForSelected("alpha.txt");
		app.stdin.write("L");
		await app.waitForText("Max download");
		app.stdin.write(KEY.ctrlU);
		// Back past the network key and the active downloads.
		app.stdin.write(KEY.shiftTab);
		app.stdin.write(KEY.shiftTab);
		app.stdin.write(KEY.shiftTab);
		app.stdin.write(KEY.ctrlU);
		await app.waitForText(/› Max upload\s+\[\s+\]/);
		app.stdin.write(KEY.enter);
		assert.deepEqual(await intents(store, 1), [
			{ type: "set-limits", limits: { maxDown: null, maxUp: null, maxActive: 3 } },
		]);
	});

	it("sets the network key from a masked field, and - clears it", async (t) => {
		const store = new FakeStore(snapshot({ networkKey: false }));
		const app = mountApp(t, render, App, store);
		await app.waitForSelected("alpha.txt");
		app.stdin.write("L");
		await app.waitForText("No network key: an open network");
		app.stdin.write(KEY.shiftTab);
		app.stdin.write("our secret q");
		await app.waitForText(/› Network key\s+\[•{12}/);
		assert.doesNotMatch(app.frame(), /our secret/);
		app.stdin.write(KEY.enter);
		assert.deepEqual(await intents(store, 2), [
			{ type: "set-limits", limits: { maxDown: null, maxUp: null, maxActive: 3 } },
			{ type: "set-network-key", secret: "our secret q" },
		]);
		await app.waitForText("network key set: only peers with it see us");
		assert.doesNotMatch(app.frame(), /our secret/);
		app.stdin.write("L");
		await app.waitForText("Network key");
		app.stdin.write(KEY.shiftTab);
		app.stdin.write("-");
		app.stdin.write(KEY.enter);
		assert.deepEqual((await intents(store, 4)).slice(2), [
			{ type: "set-limits", limits: { maxDown: null, maxUp: null, maxActive: 3 } },
			{ type: "set-network-key", secret: null },
		]);
	});

	it("refuses a bad value with a reason, and Esc closes without a change", async (t) => {
		const store = new FakeStore(snapshot());
		const app = mountApp(t, render, App, store);
		await app.waitForSelected("alpha.txt");
		app.stdin.write("L");
		await app.waitForText("Max download");
		app.stdin.write("0");
		app.stdin.write(KEY.enter);
		await app.waitForText("max download: a rate above 0 KB/s, or empty for none");
		app.stdin.write(KEY.backspace);
		app.stdin.write(KEY.tab);
		app.stdin.write(KEY.tab);
		app.stdin.write(KEY.ctrlU);
		app.stdin.write("0");
		app.stdin.write(KEY.enter);
		await app.waitForText("active downloads: a whole number from 1 to 1000");
		// Letters are not typed into a number field, and q does not quit here.
		app.stdin.write("q");
		assert.match(lineWith(app.frame(), "Active downloads"), /\[0\s+\]/);
		app.stdin.write(KEY.escape);
		await app.waitForGone("Max download");
		assert.deepEqual(store.intents, []);
		assert.equal(store.listeners.size, 1);
	});
});
