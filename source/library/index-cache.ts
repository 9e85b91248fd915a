/**
 * The index cache: manifests of files already hashed, kept in the app's data folder so a
 * restart re-hashes nothing that did not change. An entry is keyed by the file's absolute
 * path, size, modification time (ns) and inode, and also its status change time (ns): a write
 * that puts the old mtime back (`touch -r`, a tool restoring times) still changes ctime, so
 * the file is hashed again rather than advertised with a stale manifest. A file renamed
 * inside the shared folder (rename changes ctime, not content) is found by inode, size and
 * mtime under its old path. Like git's index ("racy git"), an entry hashed too soon after its
 * file last changed (`isRacy`, `./identity.ts`) is never used: a write within the same
 * timestamp tick could have left every field as it was.
 *
 * File format (little-endian), written atomically (temporary file, then rename):
 *
 *     magic "P2PTIDX2" (8) · entry count u32 · BLAKE3 of the body (32) · body
 *     body: per entry: path length u16 · path (UTF-8) · size u64 · mtimeNs i64 · ctimeNs i64 ·
 *           ino u64 · hashedAtNs i64 · manifest length u32 · manifest encoding
 *
 * A file with another magic, a wrong checksum or a bad entry is ignored as a whole (indexing
 * starts cold and the next save replaces it). The file is bounded by {@link MAX_CACHE_BYTES}:
 * the entries used most recently are kept.
 */
import { randomBytes } from "node:crypto";
import fs from "node:fs/promises";
import path from "node:path";
import { hash } from "../protocol/hash.js";
import { type FileIdentity, isRacy } from "./identity.js";

/** Name of the cache file inside the data folder. */
export const INDEX_CACHE_FILE = "index-cache.bin";
/** Largest cache file written, in bytes: 32 MiB (about 100,000 small files). */
export const MAX_CACHE_BYTES = 32 * 1024 * 1024;

const MAGIC = Buffer.from("P2PTIDX2", "latin1");
const HEADER = MAGIC.length + 4 + 32;
/** Fixed bytes of an entry besides its path and manifest. */
const ENTRY_FIXED = 2 + 8 * 5 + 4;

interface Entry extends FileIdentity {
	/** When hashing started, in ns since the epoch (wall clock). */
	hashedAtNs: bigint;
	manifestBytes: Buffer;
}

/** The key of an entry by content identity: inode, size and mtime. */
function inodeKey(id: Pick<FileIdentity, "ino" | "size" | "mtimeNs">): string {
	return `${id.ino}:${id.size}:${id.mtimeNs}`;
}

/** Encoded bytes of one entry. */
function entryBytes(absPath: string, entry: Entry): number {
	return ENTRY_FIXED + Buffer.byteLength(absPath) + entry.manifestBytes.length;
}

/** The wall clock in ns since the epoch (what file times are compared with). */
export function nowNs(): bigint {
	return BigInt(Date.now()) * 1_000_000n;
}

/** Manifests of files hashed before, by absolute path. Load with {@link IndexCache.load}. */
export class IndexCache {
	/** By absolute path; least recently used first. */
	private entries = new Map<string, Entry>();
	/** Absolute path by {@link inodeKey}. */
	private byInode = new Map<string, string>();
	private dirty = false;
	private saving: Promise<boolean> = Promise.resolve(true);

	private constructor(
		/** The cache file, or undefined for a cache kept in memory only. */
		readonly file: string | undefined,
	) {}

	/**
	 * Loads the cache of a data folder. A missing, unreadable, foreign or corrupt file gives an
	 * empty cache (never an error).
	 * @param dataDir - the app's data folder; undefined for a cache in memory only
	 */
	static async load(dataDir: string | undefined): Promise<IndexCache> {
		const cache = new IndexCache(dataDir ? path.join(dataDir, INDEX_CACHE_FILE) : undefined);
		if (!cache.file) return cache;
		let bytes: Buffer;
		try {
			bytes = await fs.readFile(cache.file);
		} catch {
			return cache;
		}
		cache.decode(bytes);
		return cache;
	}

	/** Number of entries. */
	get size(): number {
		return this.entries.size;
	}

	/**
	 * The manifest encoding cached for a file with this identity: under its path when size,
	 * mtime, ctime and inode are all equal, or under another path (it was renamed) when size,
	 * mtime and inode are; undefined otherwise, or when the entry was hashed racily.
	 * @param absPath - the file's absolute path
	 * @param identity - its identity now
	 */
	lookup(absPath: string, identity: FileIdentity): Buffer | undefined {
		const matches = (e: Entry | undefined, ctime: boolean): e is Entry =>
			e !== undefined &&
			e.size === identity.size &&
			e.mtimeNs === identity.mtimeNs &&
			e.ino === identity.ino &&
			(!ctime || e.ctimeNs === identity.ctimeNs) &&
			!isRacy(e, e.hashedAtNs);
		let entry = this.entries.get(absPath);
		if (!matches(entry, true)) {
			const other = this.byInode.get(inodeKey(identity));
			// The same path with another ctime was written to: never found by inode.
			if (other === undefined || other === absPath) return undefined;
			entry = this.entries.get(other);
			if (!matches(entry, false)) return undefined;
			// Recorded under the new path with today's ctime. Its content is as hashed: any write
			// since, even in the rename's timestamp tick, would have moved mtime off the old one;
			// so the entry is dated past the racy window of that ctime.
			this.remember(absPath, identity, entry.manifestBytes, identity.ctimeNs + 2_000_000_000n);
			return entry.manifestBytes;
		}
		// Most recently used last: what a bounded save keeps.
		this.entries.delete(absPath);
		this.entries.set(absPath, entry);
		return entry.manifestBytes;
	}

	/**
	 * Records the manifest of a file just hashed.
	 * @param absPath - the file's absolute path
	 * @param identity - its identity while hashed
	 * @param manifestBytes - its manifest encoding
	 * @param hashedAtNs - when hashing started (ns since the epoch, from {@link nowNs})
	 */
	remember(
		absPath: string,
		identity: FileIdentity,
		manifestBytes: Buffer,
		hashedAtNs: bigint,
	): void {
		this.forget(absPath);
		const entry: Entry = {
			size: identity.size,
			mtimeNs: identity.mtimeNs,
			ctimeNs: identity.ctimeNs,
			ino: identity.ino,
			hashedAtNs,
			manifestBytes,
		};
		this.entries.set(absPath, entry);
		this.byInode.set(inodeKey(entry), absPath);
		this.dirty = true;
	}

	/** Drops the entry of a path (a deleted file). */
	forget(absPath: string): void {
		const entry = this.entries.get(absPath);
		if (!entry) return;
		this.entries.delete(absPath);
		const key = inodeKey(entry);
		if (this.byInode.get(key) === absPath) this.byInode.delete(key);
		this.dirty = true;
	}

	/**
	 * Drops every entry whose path `keep` refuses.
	 * @param keep - called with each entry's absolute path
	 */
	prune(keep: (absPath: string) => boolean): void {
		for (const absPath of [...this.entries.keys()]) if (!keep(absPath)) this.forget(absPath);
	}

	/**
	 * Writes the cache file when it changed since the last save: atomically (a temporary file
	 * beside it, then rename), at most {@link MAX_CACHE_BYTES}, most recently used entries first.
	 * Saves run one at a time.
	 * @returns true when the file is up to date, false when writing failed (the cache is only
	 *   an optimisation: the failure is not fatal)
	 */
	save(): Promise<boolean> {
		this.saving = this.saving.then(() => this.write());
		return this.saving;
	}

	private async write(): Promise<boolean> {
		if (!this.file || !this.dirty) return true;
		this.dirty = false;
		const bytes = this.encode();
		const temp = `${this.file}.${process.pid}.${randomBytes(4).toString("hex")}.tmp`;
		try {
			await fs.mkdir(path.dirname(this.file), { recursive: true });
			await fs.writeFile(temp, bytes);
			await fs.rename(temp, this.file);
			return true;
		} catch {
			this.dirty = true;
			await fs.rm(temp, { force: true }).catch(() => {});
			return false;
		}
	}

	/** The file's bytes: the newest entries that fit in {@link MAX_CACHE_BYTES}. */
	encode(): Buffer {
		const kept: [string, Entry][] = [];
		let total = HEADER;
		const all = [...this.entries];
		for (let i = all.length - 1; i >= 0; i--) {
			const [absPath, entry] = all[i];
			const size = entryBytes(absPath, entry);
			if (Buffer.byteLength(absPath) > 0xffff) continue;
			if (total + size > MAX_CACHE_BYTES) break;
			total += size;
			kept.push(all[i]);
		}
		kept.reverse(); // oldest first again, so a reload keeps the order of use
		const out = Buffer.allocUnsafe(total);
		MAGIC.copy(out, 0);
		out.writeUInt32LE(kept.length, MAGIC.length);
		let at = HEADER;
		for (const [absPath, entry] of kept) {
			const length = out.write(absPath, at + 2, "utf8");
			out.writeUInt16LE(length, at);
			at += 2 + length;
			out.writeBigUInt64LE(BigInt(entry.size), at);
			out.writeBigInt64LE(BigInt.asIntN(64, entry.mtimeNs), at + 8);
			out.writeBigInt64LE(BigInt.asIntN(64, entry.ctimeNs), at + 16);
			out.writeBigUInt64LE(BigInt.asUintN(64, entry.ino), at + 24);
			out.writeBigInt64LE(BigInt.asIntN(64, entry.hashedAtNs), at + 32);
			out.writeUInt32LE(entry.manifestBytes.length, at + 40);
			at += 44;
			entry.manifestBytes.copy(out, at);
			at += entry.manifestBytes.length;
		}
		hash(out.subarray(HEADER)).copy(out, MAGIC.length + 4);
		return out;
	}

	/** Fills the cache from a file's bytes, or leaves it empty when they are not a valid cache. */
	private decode(bytes: Buffer): void {
		if (bytes.length < HEADER || !bytes.subarray(0, MAGIC.length).equals(MAGIC)) return;
		const body = bytes.subarray(HEADER);
		if (!hash(body).equals(bytes.subarray(MAGIC.length + 4, HEADER))) return;
		const count = bytes.readUInt32LE(MAGIC.length);
		const entries = new Map<string, Entry>();
		let at = 0;
		for (let i = 0; i < count; i++) {
			if (at + 2 > body.length) return;
			const pathLength = body.readUInt16LE(at);
			if (at + ENTRY_FIXED + pathLength > body.length) return;
			const absPath = body.toString("utf8", at + 2, at + 2 + pathLength);
			at += 2 + pathLength;
			const entry: Entry = {
				size: Number(body.readBigUInt64LE(at)),
				mtimeNs: body.readBigInt64LE(at + 8),
				ctimeNs: body.readBigInt64LE(at + 16),
				ino: body.readBigUInt64LE(at + 24),
				hashedAtNs: body.readBigInt64LE(at + 32),
				manifestBytes: Buffer.alloc(0),
			};
			const manifestLength = body.readUInt32LE(at + 40);
			at += 44;
			if (!Number.isSafeInteger(entry.size)) return;
			if (at + manifestLength > body.length) return;
			entry.manifestBytes = body.subarray(at, at + manifestLength);
			at += manifestLength;
			entries.set(absPath, entry);
		}
		if (at !== body.length) return;
		this.entries = entries;
		for (const [absPath, entry] of entries) this.byInode.set(inodeKey(entry), absPath);
	}
}
