/**
 * The library at scale: indexing in hash workers without holding up `open`, progress events,
 * the index cache across restarts (warm start, changed file, corrupt cache, renamed file), a
 * file changed while it is hashed, `setRoot`, and closing without leaving a handle behind.
 */
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { randomBytes } from "node:crypto";
import fs from "node:fs";
import path from "node:path";
import { after, describe, it } from "node:test";
import { promisify } from "node:util";
import { UsageError } from "../../source/errors.js";
import { identityOf } from "../../source/library/identity.js";
import { INDEX_CACHE_FILE, IndexCache } from "../../source/library/index-cache.js";
import { hashFile, Library, type LibraryOptions } from "../../source/library/library.js";
import type { IndexProgress } from "../../source/peer/types.js";
import { toHex } from "../../source/protocol/hash.js";
import { HashPool, type ManifestHash } from "../../source/transfer/hash-pool.js";
import { tempDir, waitFor } from "../helpers/net.js";

const run = promisify(execFile);

/** A real worker pool that counts the files it hashes, by name. */
class CountingHasher {
	readonly pool = new HashPool({ workers: 2 });
	readonly hashed: string[] = [];
	hashManifest(absPath: string, size?: number): Promise<ManifestHash> {
		this.hashed.push(path.basename(absPath));
		return this.pool.hashManifest(absPath, size);
	}
}

/** Writes `files` (relative name → bytes) under `dir`. */
function writeTree(dir: string, files: Record<string, Buffer | string>): void {
	for (const [name, data] of Object.entries(files)) {
		const file = path.join(dir, ...name.split("/"));
		fs.mkdirSync(path.dirname(file), { recursive: true });
		fs.writeFileSync(file, data);
	}
}

/** Name → id of every shared file. */
function ids(library: Library): Record<string, string> {
	return Object.fromEntries(library.files().map((f) => [f.name, f.id]));
}

/** The file id of some bytes, as the library computes it. */
async function idOf(dir: string, bytes: Buffer): Promise<string> {
	const file = path.join(dir, `probe-${randomBytes(4).toString("hex")}`);
	fs.writeFileSync(file, bytes);
	const { idBytes } = await hashFile(file);
	fs.rmSync(file);
	return toHex(idBytes);
}

describe("Library indexing at scale", () => {
	const root = tempDir();
	const pools: HashPool[] = [];
	const open = async (dir: string, options: LibraryOptions = {}) => {
		const library = await Library.open(dir, { watch: false, ...options });
		after(() => library.close());
		return library;
	};
	const counting = () => {
		const hasher = new CountingHasher();
		pools.push(hasher.pool);
		return hasher;
	};
	after(async () => {
		await Promise.all(pools.map((p) => p.close()));
		fs.rmSync(root, { recursive: true, force: true });
	});

	it("a warm start hashes nothing; a file changed with its size kept is hashed again", async () => {
		const share = path.join(root, "warm");
		const data = path.join(root, "warm-data");
		const files: Record<string, Buffer> = {};
		for (let i = 0; i < 30; i++)
			files[`d${i % 4}/sub${i % 3}/f${i}.bin`] = randomBytes(100 + i * 997);
		files["big.bin"] = randomBytes(3 * 1024 * 1024 + 5);
		files["empty.txt"] = Buffer.alloc(0);
		writeTree(share, files);

		const cold = counting();
		const first = await open(share, { dataDir: data, hasher: cold });
		await first.ready();
		assert.equal(cold.hashed.length, 32, "a cold start hashes every file once");
		assert.equal(first.files().length, 32);
		const before = ids(first);
		await first.close();
		assert.ok(fs.existsSync(path.join(data, INDEX_CACHE_FILE)), "the cache is saved on close");

		const warm = counting();
		const second = await open(share, { dataDir: data, hasher: warm });
		await second.ready();
		assert.deepEqual(warm.hashed, [], "a warm start hashes nothing");
		assert.equal(second.stats.cached, 32);
		assert.deepEqual(ids(second), before);
		const big = second.files().find((f) => f.name === "big.bin");
		assert.ok(big);
		const read = await second.read(big.id, 300_000, 1000);
		assert.ok(read?.equals(files["big.bin"].subarray(300_000, 301_000)), "cached files are served");
		await second.close();

		// Same size, new content and mtime: hashed again; the rest still comes from the cache.
		const changed = "d1/sub1/f1.bin";
		const now = randomBytes(files[changed].length);
		fs.writeFileSync(path.join(share, changed), now);
		fs.utimesSync(path.join(share, changed), new Date(), new Date(Date.now() + 5_000));
		const third = counting();
		const library = await open(share, { dataDir: data, hasher: third });
		await library.ready();
		assert.deepEqual(third.hashed, ["f1.bin"]);
		const after3 = ids(library);
		assert.equal(after3[changed], await idOf(root, now));
		assert.notEqual(after3[changed], before[changed]);
		assert.deepEqual({ ...after3, [changed]: "" }, { ...before, [changed]: "" });
	});

	it("a file renamed while the library was closed comes from the cache (by inode)", async () => {
		const share = path.join(root, "rename");
		const data = path.join(root, "rename-data");
		writeTree(share, { "a/old.bin": randomBytes(50_000), "keep.txt": "keep" });
		const first = await open(share, { dataDir: data, hasher: counting() });
		await first.ready();
		const oldId = ids(first)["a/old.bin"];
		await first.close();
		fs.mkdirSync(path.join(share, "b"));
		fs.renameSync(path.join(share, "a", "old.bin"), path.join(share, "b", "new.bin"));
		const warm = counting();
		const library = await open(share, { dataDir: data, hasher: warm });
		await library.ready();
		assert.deepEqual(warm.hashed, []);
		assert.equal(ids(library)["b/new.bin"], oldId);
		assert.deepEqual(library.directories(), ["a", "b"]);
	});

	it("a corrupt or foreign cache file is ignored: indexing starts cold and rewrites it", async () => {
		const share = path.join(root, "corrupt");
		const data = path.join(root, "corrupt-data");
		writeTree(share, { "one.txt": "one", "two/three.txt": "three" });
		const first = await open(share, { dataDir: data, hasher: counting() });
		await first.ready();
		const expected = ids(first);
		await first.close();
		const cacheFile = path.join(data, INDEX_CACHE_FILE);
		const valid = fs.readFileSync(cacheFile);

		const damaged = Buffer.from(valid);
		damaged[damaged.length - 3] ^= 0x55; // a byte of a manifest: the checksum fails
		for (const bytes of [
			damaged,
			valid.subarray(0, valid.length - 10),
			randomBytes(4096),
			Buffer.from('{"not":"a cache"}'),
		]) {
			fs.writeFileSync(cacheFile, bytes);
			const hasher = counting();
			const library = await open(share, { dataDir: data, hasher });
			await library.ready();
			assert.equal(hasher.hashed.length, 2, "every file hashed again");
			assert.deepEqual(ids(library), expected);
			await library.close();
		}
		const again = counting();
		const library = await open(share, { dataDir: data, hasher: again });
		await library.ready();
		assert.deepEqual(again.hashed, [], "the rewritten cache is valid");
		assert.equal((await IndexCache.load(data)).size, 2);
	});

	it("open returns before hashing; each file is served once indexed; progress is monotone and ends done", async () => {
		const share = path.join(root, "progressive");
		const files: Record<string, Buffer> = {};
		for (let i = 0; i < 12; i++)
			files[`f${String(i).padStart(2, "0")}.bin`] = randomBytes(1000 * (i + 1));
		writeTree(share, files);
		const pool = new HashPool({ workers: 1 });
		pools.push(pool);
		// Each hash waits until the test lets it through.
		const gates = new Map<string, () => void>();
		const hasher = {
			async hashManifest(absPath: string, size?: number): Promise<ManifestHash> {
				await new Promise<void>((resolve) => gates.set(path.basename(absPath), resolve));
				return pool.hashManifest(absPath, size);
			},
		};
		const library = await open(share, { hasher });
		const events: IndexProgress[] = [];
		library.on("progress", (p) => events.push(p));
		let changes = 0;
		library.on("changed", () => changes++);
		assert.equal(library.files().length, 0, "open did not wait for hashing");
		assert.equal(library.progress().done, false);
		let ready = false;
		void library.ready().then(() => {
			ready = true;
		});

		await waitFor(() => gates.has("f00.bin"), "the first hash to start");
		gates.get("f00.bin")?.();
		await waitFor(() => library.files().length === 1, "the first file served");
		const first = library.files()[0];
		assert.equal(first.name, "f00.bin");
		assert.ok((await library.read(first.id, 0, 10))?.equals(files["f00.bin"].subarray(0, 10)));
		assert.equal(ready, false);
		await waitFor(() => changes > 0, "a publication of the first file");

		for (const name of Object.keys(files)) {
			await waitFor(() => gates.has(name), `${name} to be hashed`);
			gates.get(name)?.();
		}
		await library.ready();
		assert.equal(library.files().length, 12);
		const total = Object.values(files).reduce((sum, b) => sum + b.length, 0);
		assert.deepEqual(library.progress(), {
			filesDone: 12,
			filesTotal: 12,
			bytesDone: total,
			bytesTotal: total,
			done: true,
		});
		assert.ok(events.length >= 2, "progress came in steps");
		assert.deepEqual(events.at(-1), library.progress());
		assert.equal(events.filter((e) => e.done).length, 1, "one event says done");
		for (let i = 1; i < events.length; i++) {
			const [a, b] = [events[i - 1], events[i]];
			assert.ok(b.filesDone >= a.filesDone && b.bytesDone >= a.bytesDone, "monotone");
			assert.ok(b.filesTotal >= a.filesTotal && b.bytesTotal >= a.bytesTotal, "monotone totals");
		}
		for (const e of events) assert.ok(e.filesDone <= e.filesTotal && e.bytesDone <= e.bytesTotal);
	});

	it("a file changed while it is hashed is hashed again and never advertised stale", async () => {
		const share = path.join(root, "racing");
		const original = randomBytes(700_000);
		const rewritten = randomBytes(700_000);
		writeTree(share, { "victim.bin": original, "other.txt": "other" });
		const staleId = await idOf(root, original);
		const freshId = await idOf(root, rewritten);
		const pool = new HashPool({ workers: 1 });
		pools.push(pool);
		let calls = 0;
		const hasher = {
			async hashManifest(absPath: string, size?: number): Promise<ManifestHash> {
				const result = await pool.hashManifest(absPath, size);
				if (path.basename(absPath) === "victim.bin" && calls++ === 0 && !result.changed) {
					// Rewritten (same size) while it was read: the worker's last stat sees it.
					fs.writeFileSync(absPath, rewritten);
					const after = identityOf(fs.statSync(absPath, { bigint: true }));
					return { changed: true, before: result.identity, after };
				}
				return result;
			},
		};
		const library = await open(share, { hasher });
		const seen = new Set<string>();
		const record = () => {
			for (const f of library.files()) seen.add(f.id);
		};
		library.on("changed", record);
		library.on("progress", record);
		await library.ready();
		record();
		assert.ok(calls >= 2, "hashed again");
		assert.ok(library.stats.changedWhileHashing >= 1);
		assert.equal(ids(library)["victim.bin"], freshId);
		assert.ok(!seen.has(staleId), "the stale manifest was never listed");
		assert.equal(library.get(staleId), undefined);
		assert.equal(await library.read(staleId, 0, 100), null);
	});

	for (const workers of [1, 0]) {
		it(`the ${workers ? "worker" : "inline hasher"} sees a file change while it reads it`, async () => {
			const file = path.join(root, `moving-${workers}.bin`);
			const size = 48 * 1024 * 1024;
			fs.writeFileSync(file, randomBytes(size));
			const pool = new HashPool({ workers });
			pools.push(pool);
			const still = await pool.hashManifest(file, size);
			assert.equal(still.changed, false, "an unchanged file gives its manifest");
			const fd = fs.openSync(file, "r+");
			let done = false;
			let writes = 0;
			const job = pool.hashManifest(file, size).finally(() => {
				done = true;
			});
			while (!done) {
				// Same size, one byte: only the times tell.
				fs.writeSync(fd, randomBytes(1), 0, 1, Math.floor(Math.random() * size));
				writes++;
				await new Promise((resolve) => setImmediate(resolve));
			}
			fs.closeSync(fd);
			const result = await job;
			assert.ok(writes > 0);
			assert.equal(result.changed, true, "no manifest of mixed contents");
		});
	}

	it("a file rewritten after indexing with size and mtime put back is not served: ctime tells", async () => {
		const share = path.join(root, "sneaky");
		const file = path.join(share, "a.bin");
		const original = randomBytes(300_000);
		writeTree(share, { "a.bin": original });
		const mtime = new Date("2025-06-01T00:00:00Z");
		fs.utimesSync(file, mtime, mtime);
		const library = await open(share);
		await library.ready();
		const [before] = library.files();
		const changed = Buffer.from(original);
		changed[1234] ^= 0xff;
		fs.writeFileSync(file, changed);
		fs.utimesSync(file, mtime, mtime);
		assert.equal(await library.read(before.id, 0, 5000), null, "the old id is not served");
		assert.equal(library.get(before.id), undefined);
		await library.rescan();
		assert.equal(ids(library)["a.bin"], await idOf(root, changed));
	});

	it("setRoot shares another folder: the old files stop being served, the new ones are indexed", async () => {
		const one = path.join(root, "root-one");
		const two = path.join(root, "root-two");
		writeTree(one, { "old.txt": "old content", "gone/x.txt": "x" });
		writeTree(two, { "new.txt": "new content", "empty-later/keep.txt": "k" });
		fs.mkdirSync(path.join(two, "empty"));
		const library = await Library.open(one);
		after(() => library.close());
		await library.ready();
		const [old] = library.files();
		const revisions: number[] = [];
		library.on("changed", (r) => revisions.push(r));
		const before = library.revision;

		await library.setRoot(two);
		assert.equal(library.root, fs.realpathSync(two));
		assert.equal(
			library.get(old.id),
			undefined,
			"the old folder's files stop being served at once",
		);
		assert.equal(await library.read(old.id, 0, 3), null);
		await library.ready();
		assert.deepEqual(
			library.files().map((f) => f.name),
			["empty-later/keep.txt", "new.txt"],
		);
		assert.deepEqual(library.directories(), ["empty", "empty-later"]);
		assert.ok(revisions.length > 0 && library.revision !== before);
		const fresh = library.files().find((f) => f.name === "new.txt");
		assert.equal((await library.read(fresh?.id ?? "", 0, 11))?.toString(), "new content");

		// The new folder is watched, the old one no longer.
		fs.writeFileSync(path.join(one, "late.txt"), "late");
		fs.writeFileSync(path.join(two, "late.txt"), "late");
		await waitFor(() => library.files().some((f) => f.name === "late.txt"), "a new file seen");
		assert.equal(library.files().length, 3);

		const notAFolder = path.join(root, "plain-file");
		fs.writeFileSync(notAFolder, "x");
		await assert.rejects(
			library.setRoot(path.join(notAFolder, "sub")),
			(error: unknown) => error instanceof UsageError && error.code === "SHARE_UNREADABLE",
		);
		assert.equal(library.root, fs.realpathSync(two), "a failed switch keeps the old folder");
	});

	it("a closed library, watcher and workers included, leaves nothing keeping the process alive", async () => {
		const share = path.join(root, "exit");
		writeTree(share, { "a.txt": "a", "b/c.txt": "c" });
		const module = path.resolve(import.meta.dirname, "../../source/library/library.js");
		const script = `
			const { Library } = await import(${JSON.stringify(module)});
			const library = await Library.open(${JSON.stringify(share)}, { dataDir: ${JSON.stringify(path.join(root, "exit-data"))} });
			await library.ready();
			if (library.files().length !== 2) throw new Error("not indexed");
			await library.close();
			console.log("closed");
		`;
		const { stdout } = await run(process.execPath, ["--input-type=module", "-e", script], {
			timeout: 20_000,
		});
		assert.equal(stdout.trim(), "closed");
	});
});
