/**
 * Symlinks in the shared folder that lead outside it are never served, including when a
 * shared file (or a folder above it) is swapped for a link between the check and the read:
 * the library opens once, without following a link, checks the opened file (identity,
 * device and inode, real path inside the folder) and serves from that handle.
 */
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import fs from "node:fs";
import fsp from "node:fs/promises";
import path from "node:path";
import { after, describe, it } from "node:test";
import { openedInside } from "../../source/library/confine.js";
import { Library } from "../../source/library/library.js";
import type { Peer } from "../../source/peer/peer.js";
import { hashManifestFile, type ManifestHash } from "../../source/transfer/hash-pool.js";
import { tempDir, waitFor } from "../helpers/net.js";
import { Swarm } from "../helpers/swarm.js";

const PIECE = 256 * 1024;

/** A shared folder with `a.bin` (random), and an outside file of the same size (0xEE bytes). */
function setUp(root: string, size = 3 * PIECE + 1000) {
	const share = path.join(root, "share");
	const outside = path.join(root, "outside");
	const hold = path.join(root, "hold");
	for (const dir of [share, outside, hold]) fs.mkdirSync(dir, { recursive: true });
	const original = randomBytes(size);
	const secret = Buffer.alloc(size, 0xee);
	fs.writeFileSync(path.join(share, "a.bin"), original);
	fs.writeFileSync(path.join(outside, "secret.bin"), secret);
	return { share, outside, hold, original, secret };
}

/** Every read either null or the original bytes of that range (never a byte of `secret`). */
function assertOriginal(original: Buffer, offset: number, got: Buffer | null): boolean {
	if (got === null) return false;
	assert.ok(got.equals(original.subarray(offset, offset + got.length)), `bytes at ${offset}`);
	return true;
}

function sleep(ms: number): Promise<void> {
	return new Promise((resolve) => setTimeout(resolve, ms));
}

/**
 * Downloads `id`, trying again while a try fails (a seeder that stopped serving the file
 * makes it fail), and returns the file's path.
 * @throws when no try completes before `deadline` (ms since the epoch)
 */
async function downloadUntil(leecher: Peer, id: string, deadline: number): Promise<string> {
	let lastError = "";
	while (Date.now() < deadline) {
		try {
			const state = await leecher.download(id);
			assert.ok(state.path);
			return state.path;
		} catch (error) {
			lastError = (error as Error).message;
			await sleep(50);
		}
	}
	throw new Error(`never downloaded: ${lastError}`);
}

/** Replaces `file` by a link to `target`, atomically (a rename over it). */
function swapForLink(file: string, target: string): void {
	const link = `${file}.link`;
	fs.rmSync(link, { force: true });
	fs.symlinkSync(target, link);
	fs.renameSync(link, file);
}

describe("shared folder: links out are never served", () => {
	const root = tempDir();
	after(() => fs.rmSync(root, { recursive: true, force: true }));

	it("a file swapped for a link out after indexing, before its first read: not served, then not listed", async () => {
		const { share, outside, hold, original } = setUp(path.join(root, "before-read"));
		const library = await Library.open(share, { workers: 0 });
		after(() => library.close());
		await library.ready();
		const file = library.files().find((f) => f.name === "a.bin");
		assert.ok(file);
		fs.renameSync(path.join(share, "a.bin"), path.join(hold, "a.bin"));
		swapForLink(path.join(share, "a.bin"), path.join(outside, "secret.bin"));
		for (let offset = 0; offset < original.length; offset += PIECE)
			assert.equal(await library.read(file.id, offset, 1000), null);
		// Looked at again: a link out is not shared.
		await waitFor(() => library.files().length === 0, "a.bin no longer listed");
		// Back to the original: shared again, with the same id.
		fs.renameSync(path.join(hold, "a.bin"), path.join(share, "a.bin"));
		await library.rescan();
		await waitFor(() => library.get(file.id), "a.bin listed again");
		assertOriginal(original, PIECE, await library.read(file.id, PIECE, 1000));
	});

	it("swapped after its first read: the rest comes from the opened file or not at all", async () => {
		const { share, outside, hold, original } = setUp(path.join(root, "after-read"));
		const library = await Library.open(share, { workers: 0, watch: false });
		after(() => library.close());
		await library.ready();
		const file = library.files()[0];
		assert.ok(assertOriginal(original, 0, await library.read(file.id, 0, 4096)));
		fs.renameSync(path.join(share, "a.bin"), path.join(hold, "a.bin"));
		swapForLink(path.join(share, "a.bin"), path.join(outside, "secret.bin"));
		for (let offset = PIECE; offset < original.length; offset += PIECE)
			assertOriginal(original, offset, await library.read(file.id, offset, 4096));
	});

	it("a folder above it swapped for a link out: the file there now is not served", async () => {
		const base = path.join(root, "folder-swap");
		const share = path.join(base, "share");
		const outside = path.join(base, "outside");
		fs.mkdirSync(path.join(share, "dir"), { recursive: true });
		fs.mkdirSync(path.join(outside, "dir"), { recursive: true });
		const original = randomBytes(PIECE + 10);
		fs.writeFileSync(path.join(share, "dir", "a.bin"), original);
		fs.writeFileSync(path.join(outside, "dir", "a.bin"), Buffer.alloc(original.length, 0xee));
		const library = await Library.open(share, { workers: 0, watch: false });
		after(() => library.close());
		await library.ready();
		const file = library.files()[0];
		fs.renameSync(path.join(share, "dir"), path.join(base, "old-dir"));
		fs.symlinkSync(path.join(outside, "dir"), path.join(share, "dir"));
		assert.equal(await library.read(file.id, 0, 100), null);
		assert.equal(await library.read(file.id, PIECE, 10), null);
	});

	it("the same file reached through a folder swapped for a link out is not served (the handle's real path is outside)", async () => {
		const base = path.join(root, "hard-link");
		const share = path.join(base, "share");
		const outside = path.join(base, "outside");
		fs.mkdirSync(path.join(share, "dir"), { recursive: true });
		fs.mkdirSync(path.join(outside, "dir"), { recursive: true });
		const original = randomBytes(PIECE + 10);
		fs.writeFileSync(path.join(share, "dir", "a.bin"), original);
		// The very same inode outside too: size, times and inode all match what was indexed.
		fs.linkSync(path.join(share, "dir", "a.bin"), path.join(outside, "dir", "a.bin"));
		const library = await Library.open(share, { workers: 0, watch: false });
		after(() => library.close());
		await library.ready();
		const file = library.files()[0];
		fs.renameSync(path.join(share, "dir"), path.join(base, "old-dir"));
		fs.symlinkSync(path.join(outside, "dir"), path.join(share, "dir"));
		assert.equal(await library.read(file.id, 0, 100), null);
	});

	it("a file swapped for a link out while it is hashed is never listed", async () => {
		const { share, outside, hold, secret } = setUp(path.join(root, "while-hashed"));
		let swapped = false;
		const hasher = {
			async hashManifest(absPath: string): Promise<ManifestHash> {
				if (!swapped && path.basename(absPath) === "a.bin") {
					// Between the walk's check and the hash's open.
					swapped = true;
					fs.renameSync(absPath, path.join(hold, "a.bin"));
					swapForLink(absPath, path.join(outside, "secret.bin"));
				}
				return hashManifestFile(absPath);
			},
		};
		const hashed = await hashManifestFile(path.join(outside, "secret.bin"));
		assert.ok(!hashed.changed);
		const secretId = hashed;
		const library = await Library.open(share, { hasher, watch: false });
		after(() => library.close());
		const listed = new Set<string>();
		library.on("changed", () => {
			for (const f of library.files()) listed.add(f.id);
		});
		await library.ready();
		for (const f of library.files()) listed.add(f.id);
		assert.ok(swapped);
		assert.ok(library.stats.changedWhileHashing >= 1);
		assert.ok(!listed.has(secretId.id.toString("hex")), "the outside file was listed");
		assert.equal(library.get(secretId.id.toString("hex")), undefined);
		assert.equal(await library.read(secretId.id.toString("hex"), 0, 10), null);
		assert.equal(secret.length, fs.statSync(path.join(share, "a.bin")).size);
	});

	it("an opened file is inside only if its real path is (from the handle)", async () => {
		const { share, outside } = setUp(path.join(root, "opened"), 10);
		const realShare = fs.realpathSync(share);
		const inside = await fsp.open(path.join(share, "a.bin"));
		const out = await fsp.open(path.join(outside, "secret.bin"));
		try {
			assert.equal(await openedInside(inside, path.join(share, "a.bin"), realShare), true);
			assert.equal(await openedInside(out, path.join(outside, "secret.bin"), realShare), false);
			// Opened through a path inside that is now a link out: the handle tells the truth.
			swapForLink(path.join(share, "a.bin"), path.join(outside, "secret.bin"));
			assert.equal(await openedInside(out, path.join(share, "a.bin"), realShare), false);
		} finally {
			await inside.close();
			await out.close();
		}
	});

	it("race: the file swapped back and forth while pieces are read never yields a byte from outside", async () => {
		const { share, outside, hold, original } = setUp(path.join(root, "race"), 8 * PIECE);
		const library = await Library.open(share, { workers: 0 });
		after(() => library.close());
		await library.ready();
		const id = library.files()[0].id;
		const file = path.join(share, "a.bin");
		let running = true;
		let swaps = 0;
		// A link out for a few ms, then the original long enough to be indexed and read again
		// (every rename changes its ctime, so it is looked at afresh each time).
		const swapper = (async () => {
			while (running) {
				fs.renameSync(file, path.join(hold, "a.bin"));
				swapForLink(file, path.join(outside, "secret.bin"));
				await sleep(2 + Math.random() * 8);
				fs.renameSync(path.join(hold, "a.bin"), file);
				swaps++;
				await sleep(150 + Math.random() * 250);
			}
		})();
		let served = 0;
		let refused = 0;
		const deadline = Date.now() + 3_000;
		const reader = async () => {
			while (Date.now() < deadline) {
				const piece = Math.floor(Math.random() * 8);
				const offset = piece * PIECE + Math.floor(Math.random() * (PIECE - 1024));
				if (assertOriginal(original, offset, await library.read(id, offset, 1024))) served++;
				else refused++;
				await sleep(1);
			}
		};
		await Promise.all([reader(), reader(), reader(), reader()]);
		running = false;
		await swapper;
		assert.ok(swaps >= 5, `${swaps} swaps`);
		assert.ok(served > 0 && refused > 0, `${served} served, ${refused} refused`);
	});
});

describe("shared folder links: a real loopback peer pair", () => {
	/** Records every block the seeder's library hands to its send service. */
	function recordReads(peer: Peer): { offset: number; data: Buffer }[] {
		const library = (peer as unknown as { library: Library }).library;
		const read = library.read.bind(library);
		const served: { offset: number; data: Buffer }[] = [];
		library.read = async (id, offset, length) => {
			const data = await read(id, offset, length);
			if (data) served.push({ offset, data: Buffer.from(data) });
			return data;
		};
		return served;
	}

	it("a shared file swapped for a link out before the leecher asks: no byte from outside is served", async (t) => {
		const swarm = await Swarm.create();
		t.after(() => swarm.close());
		const { share, outside, hold, original } = setUp(path.join(swarm.root, "seed"));
		const seeder = await swarm.add("seeder", share);
		const served = recordReads(seeder);
		const leecher = await swarm.add("leecher");
		await swarm.waitForFiles(leecher, 1);
		const [file] = leecher.files();
		fs.renameSync(path.join(share, "a.bin"), path.join(hold, "a.bin"));
		swapForLink(path.join(share, "a.bin"), path.join(outside, "secret.bin"));
		// The seeder stops serving it (not found: the download fails or waits for a source).
		const outcome = await Promise.race([
			leecher.download(file.id).then(
				() => "downloaded",
				(error: Error) => error.message,
			),
			sleep(1_500).then(() => "waiting"),
		]);
		assert.notEqual(outcome, "downloaded");
		assert.deepEqual(served, []);
		// The original back: the seeder shares it again and a download ends with its bytes.
		fs.renameSync(path.join(hold, "a.bin"), path.join(share, "a.bin"));
		const done = await downloadUntil(leecher, file.id, Date.now() + 10_000);
		assert.ok(fs.readFileSync(done).equals(original));
		assert.ok(served.length > 0);
		for (const { offset, data } of served) assertOriginal(original, offset, data);
	});

	it("race: swapped back and forth during a download, the seeder serves only original bytes", async (t) => {
		const swarm = await Swarm.create();
		t.after(() => swarm.close());
		const { share, outside, hold, original } = setUp(path.join(swarm.root, "seed"), 16 * PIECE);
		const seeder = await swarm.add("seeder", share);
		const served = recordReads(seeder);
		const target = path.join(share, "a.bin");
		let running = true;
		let swaps = 0;
		const swapper = (async () => {
			while (running) {
				fs.renameSync(target, path.join(hold, "a.bin"));
				swapForLink(target, path.join(outside, "secret.bin"));
				await sleep(2 + Math.random() * 8);
				fs.renameSync(path.join(hold, "a.bin"), target);
				swaps++;
				await sleep(100 + Math.random() * 200);
			}
		})();
		// Leechers join one after the other while the file is swapped, each retrying until
		// it has the file.
		const deadline = Date.now() + 20_000;
		const results = await Promise.all(
			[0, 1, 2].map(async (i) => {
				await sleep(i * 500);
				const leecher = await swarm.add(`leecher${i}`);
				// Each swap changes the seeder's list twice and a list is fetched at most once a
				// second: a leecher may first hold a list taken while the file was away.
				await waitFor(
					() => leecher.files().length === 1,
					`leecher${i} lists the file`,
					deadline - Date.now(),
				);
				return downloadUntil(leecher, leecher.files()[0].id, deadline);
			}),
		);
		running = false;
		await swapper;
		assert.ok(swaps >= 5, `${swaps} swaps`);
		assert.ok(served.length > 0, "some blocks were served");
		for (const { offset, data } of served) assertOriginal(original, offset, data);
		for (const file of results) assert.ok(fs.readFileSync(file).equals(original));
	});
});
