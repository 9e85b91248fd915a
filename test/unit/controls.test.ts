/**
 * Transfer controls over real peers on loopback: pause and resume, cancel (keeping or
 * deleting the partial file), the queue of active downloads, rate limits on both sides,
 * measured rates, and the same controls as intents through the peer store.
 */
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import fs from "node:fs";
import path from "node:path";
import { afterEach, describe, it } from "node:test";
import type { OperationError } from "../../source/errors.js";
import type { Peer, PeerOptions } from "../../source/peer/peer.js";
import { createPeerStore } from "../../source/peer/store.js";
import type { TransferState, TransferStatus } from "../../source/peer/types.js";
import { decodeResume } from "../../source/protocol/resume.js";
import { waitFor } from "../helpers/net.js";
import { Swarm } from "../helpers/swarm.js";

const MiB = 1024 * 1024;

/** Files written in a seeder's shared folder. */
function share(swarm: Swarm, files: Record<string, Buffer>): string {
	const dir = path.join(swarm.root, "seed-share");
	fs.mkdirSync(dir, { recursive: true });
	for (const [name, content] of Object.entries(files))
		fs.writeFileSync(path.join(dir, name), content);
	return dir;
}

/** A seeder of `files` and a leecher that lists them, with extra options each. */
async function seederAndLeecher(
	swarm: Swarm,
	files: Record<string, Buffer>,
	leecherOptions: Partial<PeerOptions> = {},
	seederOptions: Partial<PeerOptions> = {},
): Promise<{ seeder: Peer; leecher: Peer; ids: Record<string, string> }> {
	const seeder = await swarm.add("seeder", share(swarm, files), seederOptions);
	const leecher = await swarm.add("leecher", undefined, leecherOptions);
	await swarm.waitForFiles(leecher, Object.keys(files).length);
	const ids = Object.fromEntries(leecher.files().map((f) => [f.name, f.id]));
	return { seeder, leecher, ids };
}

const stateOf = (peer: Peer, id: string): TransferState | undefined =>
	peer.transfers().find((t) => t.fileId === id);

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** The pieces a resume record names. */
function recordedPieces(file: string): number {
	const record = decodeResume(fs.readFileSync(file));
	assert.ok(record, `${file} decodes`);
	let n = 0;
	for (const byte of record.have) for (let b = byte; b; b &= b - 1) n++;
	return n;
}

describe("transfer controls", () => {
	let swarm: Swarm;
	afterEach(async () => {
		await swarm.close();
	});

	it("pause keeps the partial file and its record and stops fetching; resume completes byte-identical", async () => {
		swarm = await Swarm.create();
		const content = randomBytes(3 * MiB);
		// 1.5 MB/s: the download takes two seconds, time to pause it half-way.
		const { leecher, ids } = await seederAndLeecher(
			swarm,
			{ "a.bin": content },
			{ maxDownloadRate: 1_500_000 },
		);
		const id = ids["a.bin"];
		const events: string[] = [];
		leecher.on("download-paused", (t) => events.push(`paused ${t.status}`));
		leecher.on("download-resumed", (t) => events.push(`resumed ${t.status}`));
		const done = leecher.download(id);
		await waitFor(() => (stateOf(leecher, id)?.bytesDone ?? 0) >= 512 * 1024, "some bytes");
		const paused = await leecher.pause(id);
		assert.equal(paused.status, "paused");
		assert.equal(paused.speed, 0);
		const final = path.join(leecher.self().downloadsDir, "a.bin");
		assert.equal(paused.partialPath, `${final}.p2p-part`);
		assert.equal(paused.pieceSize, 256 * 1024);
		assert.ok(fs.existsSync(`${final}.p2p-part`), "the partial file stays");
		assert.ok(recordedPieces(`${final}.p2p-resume`) > 0, "the record names pieces on disk");
		// Answers already asked for may land for half a second; then nothing moves.
		await sleep(700);
		const settled = stateOf(leecher, id);
		await sleep(400);
		assert.equal(stateOf(leecher, id)?.bytesDone, settled?.bytesDone, "no bytes while paused");
		assert.ok((settled?.bytesDone ?? 0) < content.length, "paused before the end");
		assert.equal(recordedPieces(`${final}.p2p-resume`), settled?.verifiedPieces);
		assert.ok(!fs.existsSync(final), "never under its final name while paused");
		// Pausing again changes nothing.
		assert.equal((await leecher.pause(id)).status, "paused");

		const resumed = leecher.resume(id);
		assert.ok(["starting", "downloading", "waiting"].includes(resumed.status), resumed.status);
		const result = await done;
		assert.equal(result.status, "complete");
		assert.ok(fs.readFileSync(final).equals(content), "byte-identical");
		assert.ok(!fs.existsSync(`${final}.p2p-part`) && !fs.existsSync(`${final}.p2p-resume`));
		assert.deepEqual(events, ["paused paused", "resumed downloading"]);
		assert.throws(() => leecher.resume(id), { name: "OperationError", code: "BAD_STATE" });
		await assert.rejects(leecher.pause(id), { name: "OperationError", code: "BAD_STATE" });
	});

	it("cancel without keeping deletes the partial file and its record", async () => {
		swarm = await Swarm.create();
		const content = randomBytes(3 * MiB);
		const { leecher, ids } = await seederAndLeecher(
			swarm,
			{ "b.bin": content },
			{ maxDownloadRate: 1_500_000 },
		);
		const id = ids["b.bin"];
		const cancelled: [TransferState, boolean][] = [];
		leecher.on("download-cancelled", (t, keep) => cancelled.push([t, keep]));
		const done = leecher.download(id);
		done.catch(() => {}); // rejected by the cancel: checked below
		await waitFor(() => (stateOf(leecher, id)?.bytesDone ?? 0) >= 256 * 1024, "some bytes");
		const state = await leecher.cancel(id, { keepPartial: false });
		assert.equal(state.status, "cancelled");
		assert.equal(state.partialPath, undefined);
		await assert.rejects(done, (error: OperationError) => {
			assert.equal(error.code, "CANCELLED");
			assert.match(error.message, /b\.bin was cancelled/);
			return true;
		});
		const downloads = leecher.self().downloadsDir;
		assert.deepEqual(fs.readdirSync(downloads), [], "no partial, no record, no file");
		assert.equal(cancelled.length, 1);
		assert.equal(cancelled[0][1], false);
		// Nothing arrives any more, and it stays cancelled.
		await sleep(300);
		assert.deepEqual(fs.readdirSync(downloads), []);
		assert.equal(stateOf(leecher, id)?.status, "cancelled");
		// A cancelled download may be started again: from nothing.
		const again = await leecher.download(id);
		assert.equal(again.resumedBytes, 0);
		assert.ok(fs.readFileSync(again.path ?? "").equals(content));
	});

	it("cancel keeping the partial file, then download again: only the missing pieces are fetched", async () => {
		swarm = await Swarm.create();
		const content = randomBytes(3 * MiB);
		const { leecher, ids } = await seederAndLeecher(
			swarm,
			{ "c.bin": content },
			{ maxDownloadRate: 1_500_000 },
		);
		const id = ids["c.bin"];
		const done = leecher.download(id);
		done.catch(() => {}); // rejected by the cancel: checked below
		await waitFor(() => (stateOf(leecher, id)?.verifiedPieces ?? 0) >= 4, "four pieces");
		const state = await leecher.cancel(id, { keepPartial: true });
		await assert.rejects(done, { code: "CANCELLED" });
		assert.equal(state.status, "cancelled");
		const final = path.join(leecher.self().downloadsDir, "c.bin");
		assert.equal(state.partialPath, `${final}.p2p-part`);
		assert.ok(!fs.existsSync(final));
		const recorded = recordedPieces(`${final}.p2p-resume`);
		assert.ok(recorded >= 4 && recorded < 12, `${recorded} pieces recorded`);

		const result = await leecher.download(id);
		assert.equal(result.resumedBytes, recorded * 256 * 1024);
		const fetched = result.fromSeeders + result.fromDistribution;
		assert.ok(
			fetched <= content.length - result.resumedBytes + 256 * 1024,
			`fetched ${fetched} of ${content.length - result.resumedBytes} missing`,
		);
		assert.ok(fs.readFileSync(final).equals(content));
	});

	it("runs at most maxActive downloads; the others wait queued and start in order", async () => {
		swarm = await Swarm.create();
		const files = {
			"q1.bin": randomBytes(MiB),
			"q2.bin": randomBytes(MiB),
			"q3.bin": randomBytes(MiB),
		};
		const { leecher, ids } = await seederAndLeecher(swarm, files, {
			maxActive: 1,
			maxDownloadRate: 4_000_000,
		});
		const history = new Map<string, TransferStatus[]>();
		let mostActive = 0;
		const sample = () => {
			const all = leecher.transfers();
			for (const t of all) {
				const seen = history.get(t.name) ?? [];
				if (seen.at(-1) !== t.status) seen.push(t.status);
				history.set(t.name, seen);
			}
			const active = all.filter((t) =>
				["starting", "downloading", "waiting", "verifying"].includes(t.status),
			);
			mostActive = Math.max(mostActive, active.length);
		};
		const dequeued: string[] = [];
		leecher.on("download-started", sample);
		leecher.on("download-progress", sample);
		leecher.on("download-dequeued", (t) => dequeued.push(t.name));
		// One after the other, so the queue's order is known (manifests arrive in any order).
		const results: Promise<TransferState>[] = [];
		for (const name of ["q1.bin", "q2.bin", "q3.bin"]) {
			results.push(leecher.download(ids[name]));
			await waitFor(() => stateOf(leecher, ids[name]), `${name} known`);
		}
		assert.equal(stateOf(leecher, ids["q3.bin"])?.status, "queued");
		// Each queued one says its place in line (the Transfers pane and `get` show it).
		const q2 = stateOf(leecher, ids["q2.bin"]);
		if (q2?.status === "queued") assert.equal(q2.queuePosition, 1);
		assert.equal(stateOf(leecher, ids["q3.bin"])?.queuePosition, q2?.status === "queued" ? 2 : 1);
		for (const r of await Promise.all(results))
			assert.ok(fs.readFileSync(r.path ?? "").equals(files[r.name as keyof typeof files]));
		assert.equal(mostActive, 1, "one at a time");
		assert.deepEqual(dequeued, ["q2.bin", "q3.bin"], "in order");
		for (const name of ["q2.bin", "q3.bin"]) {
			const seen = history.get(name) ?? [];
			assert.equal(seen[0], "queued", `${name}: ${seen.join(" → ")}`);
			assert.ok(seen.includes("downloading"), `${name}: ${seen.join(" → ")}`);
			assert.equal(seen.at(-1), "complete");
		}
	});

	it("pausing a running download starts the next queued one; resumed ones queue again", async () => {
		swarm = await Swarm.create();
		const files = {
			"p1.bin": randomBytes(2 * MiB),
			"p2.bin": randomBytes(MiB),
			"p3.bin": randomBytes(2 * MiB),
		};
		const { leecher, ids } = await seederAndLeecher(swarm, files, {
			maxActive: 1,
			maxDownloadRate: 2_000_000,
		});
		const status = (name: string) => stateOf(leecher, ids[name])?.status;
		const dequeued: string[] = [];
		leecher.on("download-dequeued", (t) => dequeued.push(t.name));
		const results: Promise<TransferState>[] = [];
		for (const name of ["p1.bin", "p2.bin", "p3.bin"]) {
			results.push(leecher.download(ids[name]));
			await waitFor(() => status(name), `${name} known`);
		}
		assert.equal(status("p2.bin"), "queued");
		assert.equal(status("p3.bin"), "queued");
		// A queued download paused leaves the queue: p3 goes next when p1 pauses.
		assert.equal((await leecher.pause(ids["p2.bin"])).status, "paused");
		await waitFor(() => (stateOf(leecher, ids["p1.bin"])?.bytesDone ?? 0) > 0, "p1 fetching");
		await leecher.pause(ids["p1.bin"]);
		await waitFor(() => status("p3.bin") === "downloading", "p3 started in p1's slot");
		assert.equal(status("p2.bin"), "paused");
		// Resumed while p3 runs: each waits its turn again, in the order resumed.
		assert.equal(leecher.resume(ids["p1.bin"]).status, "queued");
		assert.equal(leecher.resume(ids["p2.bin"]).status, "queued");
		for (const r of await Promise.all(results))
			assert.ok(fs.readFileSync(r.path ?? "").equals(files[r.name as keyof typeof files]));
		assert.deepEqual(dequeued, ["p3.bin", "p1.bin", "p2.bin"]);
	});

	it("controls on a transfer that completed at once (the file was there) say it is complete", async () => {
		swarm = await Swarm.create();
		const content = randomBytes(100_000);
		const { leecher, ids } = await seederAndLeecher(swarm, { "k.bin": content });
		const downloads = leecher.self().downloadsDir;
		fs.mkdirSync(downloads, { recursive: true });
		fs.writeFileSync(path.join(downloads, "k.bin"), content);
		const id = ids["k.bin"];
		assert.equal((await leecher.download(id)).status, "complete");
		await assert.rejects(leecher.pause(id), {
			code: "BAD_STATE",
			message: "cannot pause k.bin: it is complete",
		});
		assert.throws(() => leecher.resume(id), { message: "cannot resume k.bin: it is complete" });
		await assert.rejects(leecher.cancel(id, { keepPartial: false }), {
			message: "cannot cancel k.bin: it is complete",
		});
		assert.ok(fs.readFileSync(path.join(downloads, "k.bin")).equals(content), "untouched");
	});

	it("cancelling a file of a folder download lets the others finish; the folder ends failed naming it", async () => {
		swarm = await Swarm.create();
		const dir = path.join(swarm.root, "seed-share");
		fs.mkdirSync(path.join(dir, "docs"), { recursive: true });
		const small = randomBytes(64 * 1024);
		fs.writeFileSync(path.join(dir, "docs", "big.bin"), randomBytes(3 * MiB));
		fs.writeFileSync(path.join(dir, "docs", "small.bin"), small);
		await swarm.add("seeder", dir);
		const leecher = await swarm.add("leecher", undefined, { maxDownloadRate: 1_500_000 });
		await swarm.waitForFiles(leecher, 2);
		const big = leecher.files().find((f) => f.name === "docs/big.bin");
		assert.ok(big);
		const folder = leecher.downloadFolder("docs");
		folder.catch(() => {}); // rejected by the cancel: checked below
		await waitFor(() => (stateOf(leecher, big.id)?.bytesDone ?? 0) > 0, "big.bin under way");
		await leecher.cancel(big.id, { keepPartial: false });
		await assert.rejects(folder, (error: OperationError) => {
			assert.match(
				error.message,
				/1 of 2 files failed; first: docs\/big\.bin: download of docs\/big\.bin was cancelled/,
			);
			return true;
		});
		const target = path.join(leecher.self().downloadsDir, "docs");
		assert.deepEqual(fs.readdirSync(target), ["small.bin"]);
		assert.ok(fs.readFileSync(path.join(target, "small.bin")).equals(small));
	});
});

describe("rate limits and rates", () => {
	let swarm: Swarm;
	afterEach(async () => {
		await swarm.close();
	});

	/** Asserts `bytes` in `ms` is at most 1.3 times `limit` (bytes/s) and not absurdly slow. */
	function assertPaced(bytes: number, ms: number, limit: number): void {
		const rate = (bytes * 1000) / ms;
		assert.ok(rate <= 1.3 * limit, `${Math.round(rate)} B/s exceeds 1.3 x ${limit}`);
		assert.ok(rate >= 0.4 * limit, `${Math.round(rate)} B/s is far below ${limit}`);
	}

	it("maxDown paces the download, and rates show in the snapshot, in total and per peer", async () => {
		swarm = await Swarm.create();
		const content = randomBytes(4 * MiB);
		const limit = 2_000_000;
		const { seeder, leecher, ids } = await seederAndLeecher(
			swarm,
			{ "d.bin": content },
			{ maxDownloadRate: limit },
		);
		const store = createPeerStore(leecher, () => {}, 20);
		try {
			assert.deepEqual(store.getSnapshot().limits, { maxDown: limit, maxUp: null, maxActive: 3 });
			const started = Date.now();
			const done = leecher.download(ids["d.bin"]);
			// Half-way, the measured rates are there: ours down, the seeder's up, and per peer.
			await waitFor(() => (stateOf(leecher, ids["d.bin"])?.bytesDone ?? 0) >= MiB, "a MiB");
			await waitFor(() => store.getSnapshot().rates.down > 0.3 * limit, "the total down rate");
			const snapshot = store.getSnapshot();
			assert.ok(snapshot.rates.down < 1.5 * limit, `down ${snapshot.rates.down}`);
			const fromSeeder = snapshot.peers.find((p) => p.name === "seeder");
			assert.ok(
				(fromSeeder?.downRate ?? 0) > 0.3 * limit,
				`seeder's down rate ${fromSeeder?.downRate}`,
			);
			assert.ok(seeder.rates().up > 0.3 * limit, `seeder up ${seeder.rates().up}`);
			const toLeecher = seeder.peers().find((p) => p.name === "leecher");
			assert.ok((toLeecher?.upRate ?? 0) > 0.3 * limit, `up to the leecher ${toLeecher?.upRate}`);
			const result = await done;
			assertPaced(content.length, Date.now() - started, limit);
			assert.ok(fs.readFileSync(result.path ?? "").equals(content));
		} finally {
			store.close();
		}
	});

	it("maxUp paces a seeder's answers", async () => {
		swarm = await Swarm.create();
		const content = randomBytes(4 * MiB);
		const limit = 2_000_000;
		const { leecher, ids } = await seederAndLeecher(
			swarm,
			{ "u.bin": content },
			{},
			{
				maxUploadRate: limit,
			},
		);
		const started = Date.now();
		const result = await leecher.download(ids["u.bin"]);
		assertPaced(content.length, Date.now() - started, limit);
		assert.ok(fs.readFileSync(result.path ?? "").equals(content));
	});

	it("limits change live: lifting maxDown speeds a download up at once", async () => {
		swarm = await Swarm.create();
		const content = randomBytes(8 * MiB);
		const { leecher, ids } = await seederAndLeecher(
			swarm,
			{ "l.bin": content },
			{ maxDownloadRate: 500_000 },
		);
		const changes: unknown[] = [];
		leecher.on("limits-changed", (l) => changes.push(l));
		const started = Date.now();
		const done = leecher.download(ids["l.bin"]);
		await waitFor(() => (stateOf(leecher, ids["l.bin"])?.bytesDone ?? 0) > 0, "some bytes");
		// At 500 KB/s the file would take 16 s; unlimited it takes a fraction of that.
		assert.deepEqual(leecher.setLimits({ maxDown: null }), {
			maxDown: null,
			maxUp: null,
			maxActive: 3,
		});
		const result = await done;
		assert.ok(Date.now() - started < 8_000, `${Date.now() - started} ms`);
		assert.ok(fs.readFileSync(result.path ?? "").equals(content));
		assert.deepEqual(changes, [{ maxDown: null, maxUp: null, maxActive: 3 }]);
		// The same limits again: no event. A bad one: refused, nothing changes.
		leecher.setLimits({ maxDown: null });
		assert.equal(changes.length, 1);
		assert.throws(() => leecher.setLimits({ maxActive: 0 }), {
			name: "UsageError",
			code: "BAD_LIMIT",
		});
		assert.throws(() => leecher.setLimits({ maxUp: -5 }), { code: "BAD_LIMIT" });
		assert.deepEqual(leecher.limits(), { maxDown: null, maxUp: null, maxActive: 3 });
	});
});

describe("controls as intents through the peer store", () => {
	let swarm: Swarm;
	afterEach(async () => {
		await swarm.close();
	});

	it("pause, resume, cancel and set-limits intents act on the peer and say so", async () => {
		swarm = await Swarm.create();
		const content = randomBytes(3 * MiB);
		const { leecher, ids } = await seederAndLeecher(
			swarm,
			{ "s.bin": content },
			{ maxDownloadRate: 1_000_000 },
		);
		const id = ids["s.bin"];
		const store = createPeerStore(leecher, () => {}, 10);
		try {
			const snap = () => store.getSnapshot();
			const row = () => snap().transfers.find((t) => t.fileId === id);
			const says = (text: string) =>
				waitFor(
					() => snap().message === text,
					`the message ${JSON.stringify(text)}, got ${snap().message}`,
				);
			store.dispatch({ type: "download", fileId: id });
			await waitFor(() => (row()?.bytesDone ?? 0) > 0, "the download under way");
			store.dispatch({ type: "pause", fileId: id });
			await says("paused s.bin");
			assert.equal(row()?.status, "paused");
			store.dispatch({ type: "resume", fileId: id });
			await says("resumed s.bin");
			assert.ok(
				["downloading", "waiting", "starting"].includes(row()?.status ?? ""),
				row()?.status,
			);
			store.dispatch({ type: "cancel", fileId: id, keepPartial: true });
			await says("cancelled s.bin (partial kept)");
			assert.equal(row()?.status, "cancelled");
			assert.ok(fs.existsSync(row()?.partialPath ?? ""), "the partial file kept");
			store.dispatch({ type: "cancel", fileId: id, keepPartial: false });
			await says("cancelled s.bin (partial deleted)");
			assert.equal(row()?.partialPath, undefined);
			assert.deepEqual(fs.readdirSync(leecher.self().downloadsDir), []);
			// A control the download is past: its reason as the message.
			store.dispatch({ type: "resume", fileId: id });
			await says("cannot resume s.bin: it is cancelled, not paused");
			store.dispatch({ type: "pause", fileId: "f".repeat(64) });
			await says(`no download of ${"f".repeat(64)} in this session`);

			store.dispatch({ type: "set-limits", limits: { maxDown: 3_000_000, maxActive: 2 } });
			await says("limits: down 3000 KB/s, up unlimited, 2 active at once");
			assert.deepEqual(snap().limits, { maxDown: 3_000_000, maxUp: null, maxActive: 2 });
			store.dispatch({ type: "set-limits", limits: { maxActive: 0 } });
			await says("expected maxActive to be a whole number of at least 1, got 0");
			assert.equal(snap().limits.maxActive, 2);
		} finally {
			store.close();
		}
	});
});
