/**
 * Folders and names over real peers on loopback: empty folders on the wire, whole-folder
 * downloads, name conflicts, ambiguous names, and list deltas.
 */
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import fs from "node:fs";
import path from "node:path";
import { after, before, describe, it } from "node:test";
import type { OperationError } from "../../source/errors.js";
import { Library } from "../../source/library/library.js";
import type { Peer } from "../../source/peer/peer.js";
import { FOLDER_CONCURRENCY } from "../../source/peer/peer.js";
import type { FolderTransferState, PeerRecord, TransferState } from "../../source/peer/types.js";
import { TransferEngine } from "../../source/transfer/engine.js";
import { assertSameTree, freeBase, tempDir, tree, waitFor } from "../helpers/net.js";
import { Swarm } from "../helpers/swarm.js";

/** Writes files (relative path → content) and empty folders (paths ending in `/`) under `root`. */
function writeTree(root: string, tree: Record<string, Buffer | string | null>): void {
	for (const [rel, content] of Object.entries(tree)) {
		const abs = path.join(root, ...rel.split("/"));
		if (content === null) fs.mkdirSync(abs, { recursive: true });
		else {
			fs.mkdirSync(path.dirname(abs), { recursive: true });
			fs.writeFileSync(abs, content);
		}
	}
}

describe("folder download", () => {
	let swarm: Swarm;
	let alice: Peer;
	let bob: Peer;
	let leecher: Peer;
	const big = randomBytes(700 * 1024);
	const union = tempDir("p2p-tui-union-");

	before(async () => {
		swarm = await Swarm.create();
		const aliceShare = path.join(swarm.root, "alice-share");
		const bobShare = path.join(swarm.root, "bob-share");
		const aliceTree = {
			"music/a.txt": "alpha\n",
			"music/rock/big.bin": big,
			"music/rock/deep/c.txt": "deep c\n",
			"music/rock/same-as-a.txt": "alpha\n",
			"music/rock/empty2/sub/": null,
			"music/empty/": null,
			"other/x.txt": "not in the folder\n",
		};
		// Bob shares one file alice has too, one of his own, and one more empty folder.
		const bobTree = {
			"music/a.txt": "alpha\n",
			"music/extra/e.txt": "bob's extra\n",
			"music/bob-empty/": null,
		};
		writeTree(aliceShare, aliceTree);
		writeTree(bobShare, bobTree);
		// What the leecher should end up with: the union of both under music/.
		writeTree(union, {
			...Object.fromEntries(
				Object.entries({ ...aliceTree, ...bobTree })
					.filter(([rel]) => rel.startsWith("music/"))
					.map(([rel, content]) => [rel, content]),
			),
		});
		alice = await swarm.add("alice", aliceShare);
		bob = await swarm.add("bob", bobShare);
		leecher = await swarm.add("leecher");
	});

	after(async () => {
		await swarm.close();
		fs.rmSync(union, { recursive: true, force: true });
	});

	it("lists empty folders from the wire as folders with no files", async () => {
		await waitFor(
			() => leecher.folders().some((f) => f.path === "music/bob-empty"),
			"bob's empty folder",
		);
		await waitFor(
			() => leecher.folders().some((f) => f.path === "music/rock/empty2/sub"),
			"alice's nested empty folder",
		);
		const byPath = new Map(leecher.folders().map((f) => [f.path, f]));
		assert.deepEqual(
			[...byPath.keys()],
			[
				"music",
				"music/bob-empty",
				"music/empty",
				"music/extra",
				"music/rock",
				"music/rock/deep",
				"music/rock/empty2",
				"music/rock/empty2/sub",
				"other",
			],
		);
		for (const empty of ["music/empty", "music/rock/empty2", "music/rock/empty2/sub"]) {
			assert.deepEqual(byPath.get(empty), {
				path: empty,
				files: 0,
				size: 0,
				peers: [alice.id],
			});
		}
		assert.deepEqual(byPath.get("music/bob-empty")?.peers, [bob.id]);
		// music: every name, as the Files pane lists them: a.txt, rock/same-as-a.txt (the same
		// content at a second path), big.bin, c.txt, e.txt.
		const music = byPath.get("music");
		assert.equal(music?.files, 5);
		assert.equal(music?.size, 6 + 6 + big.length + 7 + 12);
		assert.deepEqual(music?.peers.sort(), [alice.id, bob.id].sort());
	});

	it("recreates the tree, names and empty folders, every file byte for byte, a few files at a time", async () => {
		const downloads = leecher.self().downloadsDir;
		const progress: FolderTransferState[] = [];
		const files: TransferState[] = [];
		let mostAtOnce = 0;
		const onStarted = () => {
			const running = leecher
				.transfers()
				.filter((t) => t.folder === "music" && t.status !== "complete" && t.status !== "failed");
			mostAtOnce = Math.max(mostAtOnce, running.length);
		};
		leecher.on("download-started", onStarted);
		leecher.on("folder-progress", (f) => progress.push(f));
		leecher.on("download-complete", (t) => files.push(t));
		const complete = new Promise<FolderTransferState>((resolve) =>
			leecher.once("folder-complete", resolve),
		);
		const result = await leecher.downloadFolder("music/");
		leecher.off("download-started", onStarted);
		assert.equal(result.status, "complete");
		assert.equal(result.path, "music");
		assert.equal(result.target, path.join(downloads, "music"));
		// a.txt, big.bin, c.txt, same-as-a.txt, e.txt: by path.
		assert.equal(result.files, 5);
		assert.equal(result.filesDone, 5);
		assert.equal(result.size, 6 + big.length + 7 + 6 + 12);
		assert.equal(result.bytesDone, result.size);
		assert.deepEqual(await complete, result);
		assertSameTree(path.join(downloads, "music"), path.join(union, "music"));
		assert.deepEqual(leecher.folderTransfers(), [result]);

		// Progress for the whole folder, ending at every file.
		assert.ok(progress.length >= 5);
		assert.ok(progress.every((p, i) => i === 0 || p.filesDone >= progress[i - 1].filesDone));
		assert.equal(progress.at(-1)?.filesDone, 5);
		// Per file: each transfer names its folder, and lands inside it.
		const inFolder = files.filter((t) => t.folder === "music");
		assert.deepEqual(inFolder.map((t) => path.relative(downloads, t.path ?? "")).sort(), [
			"music/a.txt",
			"music/extra/e.txt",
			"music/rock/big.bin",
			"music/rock/deep/c.txt",
			"music/rock/same-as-a.txt",
		]);
		assert.ok(leecher.transfers().every((t) => t.folder === "music" && t.status === "complete"));
		assert.ok(mostAtOnce >= 1 && mostAtOnce <= FOLDER_CONCURRENCY, `${mostAtOnce} at once`);
	});

	it("lands a subfolder under its own last name, copying files already fetched", async () => {
		const downloads = leecher.self().downloadsDir;
		const result = await leecher.downloadFolder("music/rock");
		assert.equal(result.target, path.join(downloads, "rock"));
		assert.equal(result.status, "complete");
		assertSameTree(path.join(downloads, "rock"), path.join(union, "music", "rock"));
		assert.ok(leecher.transfers().some((t) => t.folder === "music/rock"));
	});

	it("refuses an unknown folder with NOT_FOUND", async () => {
		await assert.rejects(leecher.downloadFolder("no/such/folder"), {
			name: "OperationError",
			code: "NOT_FOUND",
		});
	});

	it("a file that fails makes the folder failed, keeping every file verified", async () => {
		const late = await swarm.add("late");
		await swarm.waitForFiles(late, leecher.files().length, 1);
		await waitFor(() => late.folders().some((f) => f.path === "music/bob-empty"), "the folders");
		const downloads = late.self().downloadsDir;
		// A plain file where the folder rock/ must go: nothing can land under it.
		writeTree(downloads, { "music/rock": "in the way" });
		const failed = new Promise<FolderTransferState>((resolve) =>
			late.once("folder-failed", resolve),
		);
		await assert.rejects(late.downloadFolder("music"), (error: OperationError) => {
			assert.equal(error.code, "FAILED");
			// rock/ holds big.bin, deep/c.txt, same-as-a.txt and the empty folders empty2, empty2/sub.
			assert.match(
				error.message,
				/^folder music: 3 of 5 files failed, 2 empty folders not created; first: music\/rock\/empty2: cannot create the folder \(ENOTDIR\)$/,
			);
			return true;
		});
		const state = await failed;
		assert.equal(state.status, "failed");
		assert.match(state.error ?? "", /^3 of 5 files failed, 2 empty folders not created; first: /);
		assert.equal(state.filesDone, 2);
		assert.equal(fs.readFileSync(path.join(downloads, "music", "rock"), "utf8"), "in the way");
		assert.equal(fs.readFileSync(path.join(downloads, "music", "a.txt"), "utf8"), "alpha\n");
		assert.equal(
			fs.readFileSync(path.join(downloads, "music", "extra", "e.txt"), "utf8"),
			"bob's extra\n",
		);
		assert.ok(fs.statSync(path.join(downloads, "music", "empty")).isDirectory());
		assert.deepEqual(
			late.folderTransfers().map((f) => f.status),
			["failed"],
		);
	});
});

describe("folder download of many files", () => {
	let swarm: Swarm;

	after(async () => {
		await swarm.close();
	});

	it(`fetches at most ${FOLDER_CONCURRENCY} files at once`, async () => {
		swarm = await Swarm.create();
		const share = path.join(swarm.root, "many-share");
		const files: Record<string, Buffer> = {};
		for (let i = 0; i < 24; i++) files[`many/sub${i % 3}/f${i}.bin`] = randomBytes(20_000 + i);
		writeTree(share, files);
		await swarm.add("seeder", share);
		const leecher = await swarm.add("leecher");
		await swarm.waitForFiles(leecher, 24);
		let mostAtOnce = 0;
		const sample = () => {
			const running = leecher
				.transfers()
				.filter((t) => t.folder === "many" && t.status !== "complete" && t.status !== "failed");
			mostAtOnce = Math.max(mostAtOnce, running.length);
		};
		leecher.on("download-started", sample);
		leecher.on("download-progress", sample);
		const result = await leecher.downloadFolder("many");
		assert.equal(result.filesDone, 24);
		assert.ok(mostAtOnce >= 2 && mostAtOnce <= FOLDER_CONCURRENCY, `${mostAtOnce} at once`);
		for (const [rel, content] of Object.entries(files)) {
			const got = fs.readFileSync(path.join(leecher.self().downloadsDir, ...rel.split("/")));
			assert.ok(got.equals(content), rel);
		}
	});
});

describe("names", () => {
	let swarm: Swarm;
	let one: Peer;
	let two: Peer;
	let leecher: Peer;

	before(async () => {
		swarm = await Swarm.create();
		const shareOne = path.join(swarm.root, "one-share");
		const shareTwo = path.join(swarm.root, "two-share");
		writeTree(shareOne, {
			"same.txt": "the first same.txt\n",
			"both.txt": "shared by both\n",
			"docs/a.txt": "network a\n",
			"docs/b.txt": "network b\n",
		});
		writeTree(shareTwo, {
			"same.txt": "a different same.txt, longer\n",
			"both.txt": "shared by both\n",
		});
		one = await swarm.add("one", shareOne);
		two = await swarm.add("two", shareTwo);
		leecher = await swarm.add("leecher");
		await waitFor(() => leecher.files().length === 5, "5 rows");
		await waitFor(
			() => leecher.files().find((f) => f.name === "both.txt")?.peers.length === 2,
			"both.txt from two peers",
		);
	});

	after(async () => {
		await swarm.close();
	});

	it("keeps one row per id with its peer count, and two rows for two files with one name", () => {
		const files = leecher.files();
		const both = files.filter((f) => f.name === "both.txt");
		assert.equal(both.length, 1);
		assert.deepEqual(both[0].peers.sort(), [one.id, two.id].sort());
		const same = files.filter((f) => f.name === "same.txt");
		assert.equal(same.length, 2);
		assert.notEqual(same[0].id, same[1].id);
		assert.deepEqual(
			same.map((f) => f.peers.length),
			[1, 1],
		);
		assert.deepEqual(
			same.map((f) => f.size).sort((a, b) => a - b),
			[19, 29],
		);
		assert.deepEqual(same.map((f) => f.peers[0]).sort(), [one.id, two.id].sort());
	});

	it("reports an ambiguous name with the ids instead of picking one", () => {
		const same = leecher.files().filter((f) => f.name === "same.txt");
		assert.throws(
			() => leecher.findFile("same.txt"),
			(error: OperationError) => {
				assert.equal(error.code, "AMBIGUOUS");
				for (const f of same) assert.ok(error.message.includes(f.id.slice(0, 16)), error.message);
				return true;
			},
		);
		// By id each one is found.
		for (const f of same) assert.equal(leecher.findFile(f.id)?.id, f.id);
		assert.equal(leecher.findFile("both.txt")?.name, "both.txt");
	});

	it("downloads two different files of one name at once to `name` and `name (1)`", async () => {
		const downloads = leecher.self().downloadsDir;
		const same = leecher.files().filter((f) => f.name === "same.txt");
		const results = await Promise.all(same.map((f) => leecher.download(f.id)));
		assert.deepEqual(results.map((r) => path.basename(r.path ?? "")).sort(), [
			"same (1).txt",
			"same.txt",
		]);
		const contents = results.map((r) => fs.readFileSync(r.path ?? "", "utf8")).sort();
		assert.deepEqual(contents, ["a different same.txt, longer\n", "the first same.txt\n"]);
		for (const [i, r] of results.entries()) assert.equal(r.fileId, same[i].id);
		assert.ok(fs.readdirSync(downloads).every((n) => !n.includes(".p2p-")));
	});

	it("gives a download a new name beside a different existing file, never overwriting", async () => {
		const downloads = leecher.self().downloadsDir;
		const file = leecher.files().find((f) => f.name === "docs/a.txt");
		assert.ok(file);
		writeTree(downloads, { "docs/a.txt": "mine, not the network's\n" });
		const result = await leecher.download(file.id);
		assert.equal(result.path, path.join(downloads, "docs", "a (1).txt"));
		assert.equal(fs.readFileSync(path.join(downloads, "docs", "a (1).txt"), "utf8"), "network a\n");
		assert.equal(
			fs.readFileSync(path.join(downloads, "docs", "a.txt"), "utf8"),
			"mine, not the network's\n",
		);
	});

	it("recognises an identical existing file and does not download it again", async () => {
		const downloads = leecher.self().downloadsDir;
		const file = leecher.files().find((f) => f.name === "both.txt");
		assert.ok(file);
		writeTree(downloads, { "both.txt": "shared by both\n" });
		const target = path.join(downloads, "both.txt");
		const before = fs.statSync(target);
		const completed: TransferState[] = [];
		leecher.on("download-complete", (t) => completed.push(t));
		const result = await leecher.download(file.id);
		assert.equal(result.status, "complete");
		assert.equal(result.path, target);
		assert.equal(result.bytesDone, file.size);
		assert.equal(leecher.downloadOf(file.id), undefined, "no download was started");
		const afterStat = fs.statSync(target);
		assert.equal(afterStat.ino, before.ino);
		assert.equal(afterStat.mtimeMs, before.mtimeMs);
		assert.deepEqual(completed, [result]);
		assert.ok(leecher.transfers().some((t) => t.path === target && t.status === "complete"));
	});

	it("applies the same rules inside a folder download", async () => {
		const downloads = leecher.self().downloadsDir;
		// docs/a.txt differs (then a (1).txt is there already, identical); docs/b.txt is identical.
		writeTree(downloads, { "docs/b.txt": "network b\n" });
		const bBefore = fs.statSync(path.join(downloads, "docs", "b.txt"));
		const result = await leecher.downloadFolder("docs");
		assert.equal(result.status, "complete");
		assert.equal(result.filesDone, 2);
		assert.deepEqual(tree(path.join(downloads, "docs")), ["a (1).txt", "a.txt", "b.txt"]);
		assert.equal(fs.statSync(path.join(downloads, "docs", "b.txt")).ino, bBefore.ino);
		const b = leecher.files().find((f) => f.name === "docs/b.txt");
		assert.ok(b);
		assert.equal(leecher.downloadOf(b.id), undefined, "b.txt was not downloaded");
		assert.ok(
			leecher
				.transfers()
				.some((t) => t.folder === "docs" && t.path === path.join(downloads, "docs", "b.txt")),
		);
	});
});

describe("list deltas", () => {
	let swarm: Swarm;
	let seeder: Peer;
	let leecher: Peer;
	let share: string;
	const COUNT = 2_000;

	before(async () => {
		swarm = await Swarm.create();
		share = path.join(swarm.root, "big-share");
		const files: Record<string, string> = {};
		for (let i = 0; i < COUNT; i++)
			files[`d${i % 20}/file-${String(i).padStart(5, "0")}.txt`] = `content ${i}\n`;
		writeTree(share, files);
		seeder = await swarm.add("seeder", share, { rescanInterval: 100 });
		leecher = await swarm.add("leecher");
		await swarm.waitForFiles(leecher, COUNT);
	});

	after(async () => {
		await swarm.close();
	});

	it("refetches a 2,000-file list that changed by one file as a delta, within 2 s", async () => {
		await leecher.settled();
		const before = seeder.transferStats();
		assert.ok(before.listEntries >= COUNT, "the whole list was sent once");
		const started = Date.now();
		writeTree(share, { "d3/new-file.txt": "new\n", "d4/new-empty/": null });
		await waitFor(
			() =>
				leecher.files().some((f) => f.name === "d3/new-file.txt") &&
				leecher.folders().some((f) => f.path === "d4/new-empty"),
			"the new file and folder",
		);
		const elapsed = Date.now() - started;
		assert.ok(elapsed < 2_000, `${elapsed} ms`);
		await leecher.settled();
		const after = seeder.transferStats();
		assert.equal(after.listEntries, before.listEntries, "no list page was sent again");
		assert.ok(after.deltaPages - before.deltaPages >= 1);
		// One or two deltas (a rescan may see the file and the folder apart): 2 changes in all.
		assert.equal(after.deltaChanges - before.deltaChanges, 2);
		assert.equal(after.deltaFallbacks, before.deltaFallbacks);
		assert.deepEqual(
			leecher.files().map((f) => f.name),
			seeder
				.sharedFiles()
				.map((f) => f.name)
				.sort(),
		);

		// A removal travels as a delta too.
		fs.rmSync(path.join(share, "d3", "new-file.txt"));
		await waitFor(
			() => !leecher.files().some((f) => f.name === "d3/new-file.txt"),
			"the file gone",
		);
		await leecher.settled();
		assert.equal(leecher.files().length, COUNT);
		assert.equal(seeder.transferStats().listEntries, before.listEntries);
	});

	it("falls back to the whole list from a revision the sharer does not know", async () => {
		const library = await Library.open(tempDir("p2p-tui-empty-share-"));
		const engine = await TransferEngine.open({
			library,
			basePort: await freeBase(),
			bindAddress: "127.0.0.1",
			selfId: "f".repeat(32),
			peerId: Buffer.alloc(16, 0xff),
			peers: () => [],
		});
		try {
			const target: PeerRecord = {
				id: seeder.id,
				name: "seeder",
				address: "127.0.0.1",
				addresses: ["127.0.0.1"],
				found: "lan",
				ports: seeder.self().ports,
				files: COUNT,
				revision: 0,
				lastSeen: Date.now(),
				interval: 200,
			};
			const fresh = await engine.fetchList(target);
			assert.equal(fresh.files.length, COUNT);
			const before = seeder.transferStats();
			// A held list at a revision the seeder never handed out.
			const stale = { ...fresh, revision: (fresh.revision + 1_000) >>> 0 };
			const list = await engine.fetchList(target, stale);
			const after = seeder.transferStats();
			assert.equal(after.deltaFallbacks - before.deltaFallbacks, 1);
			assert.equal(after.deltaChanges, before.deltaChanges);
			assert.ok(after.listEntries - before.listEntries >= COUNT);
			assert.equal(list.revision, fresh.revision);
			assert.deepEqual(list, fresh);

			// From the revision it handed out, an unchanged list is an empty delta.
			const again = await engine.fetchList(target, fresh);
			assert.deepEqual(again, fresh);
			assert.equal(seeder.transferStats().listEntries, after.listEntries);
		} finally {
			await engine.close();
			library.close();
		}
	});
});
