/**
 * BLAKE3 off the main thread: a small pool of worker threads that hash pieces and files, so that
 * verifying a piece never stalls the event loop that moves UDP datagrams. Digests are those of
 * `../protocol/hash.ts` (BLAKE3 spec, default unkeyed mode, 32 bytes, as `b3sum` prints), made by
 * the same backend: each worker loads that module and gets the main thread's backend choice.
 *
 * Piece bytes move to a worker and back by transferring their ArrayBuffer (no copy). Jobs queue
 * per worker and go to the least-loaded one. Workers are unref()ed while idle, so an idle pool
 * never keeps the process alive, and ref()ed while they have jobs, so pending jobs complete.
 * When worker threads cannot start, the pool hashes inline on the calling thread instead.
 */

import {
	type BigIntStats,
	closeSync,
	fstatSync,
	lstatSync,
	openSync,
	read,
	readdirSync,
	readSync,
	realpathSync,
	statSync,
	writeSync,
} from "node:fs";
import fs from "node:fs/promises";
import os from "node:os";
import { join } from "node:path";
import { Worker } from "node:worker_threads";
import { type FileIdentity, identityOf, sameIdentity } from "../library/identity.js";
import {
	createHasher,
	HASH_BACKEND_ENV,
	type HashBackendName,
	type Hasher,
	hash,
	hashBackend,
} from "../protocol/hash.js";
import { encodeManifest, manifestId, pieceSizeFor } from "../protocol/manifest.js";

/** Bytes read from a file at a time by {@link HashPool.hashFile}: 4 MiB. */
export const FILE_READ_SIZE = 4 * 1024 * 1024;

/**
 * Bytes read from a file at a time by {@link hashManifestFile}: 1 MiB. A power of two, so it
 * divides a piece or a piece divides it; a manifest job holds at most this much file data.
 */
export const MANIFEST_READ_SIZE = 1024 * 1024;
/** While hashing a large file, its identity is checked again every this many bytes: 64 MiB. */
const MANIFEST_CHECK_BYTES = 64 * 1024 * 1024;

/**
 * What {@link HashPool.hashManifest} resolves to: the manifest of a file that stayed the same
 * from its first read to its last (`changed: false`), or the identities that differed.
 */
export type ManifestHash =
	| {
			changed: false;
			/** The file's identity (fstat of the opened file) while it was hashed. */
			identity: FileIdentity;
			/** The manifest's encoding (`../protocol/manifest.ts`). */
			manifestBytes: Buffer;
			/** The file id: BLAKE3 of `manifestBytes`, 32 bytes. */
			id: Buffer;
	  }
	| {
			/** The file changed (or shrank) while it was read: hash it again later. */
			changed: true;
			before: FileIdentity;
			after: FileIdentity;
	  };

/** One entry of a folder, as {@link HashPool.readDir} reports it. */
export interface DirEntry {
	/** Its name in the folder. */
	name: string;
	/**
	 * `file`: a regular file; `dir`: a folder; `link-file` / `link-dir`: a symlink to one
	 * (resolved target in `real`); `other`: anything else, a broken link, or unreadable.
	 */
	kind: "file" | "dir" | "link-file" | "link-dir" | "other";
	/** The resolved absolute target of a link. */
	real?: string;
	/** Identity of a file (of a link's target file), from a bigint stat. */
	identity?: FileIdentity;
}

/** Options of {@link HashPool}. */
export interface HashPoolOptions {
	/**
	 * Number of worker threads, a non-negative integer; 0 hashes inline on the calling thread.
	 * Default: {@link defaultHashWorkers}.
	 */
	workers?: number;
}

/** Young generation of a hash worker's heap, in MB (V8's default is 16 to 48). */
const WORKER_YOUNG_MB = 4;

/** What {@link HashPool.hash} resolves to. */
export interface PieceHash {
	/** BLAKE3 of the piece: 32 bytes. */
	digest: Buffer;
	/** The piece's bytes, unchanged, in a buffer that owns its whole ArrayBuffer. */
	data: Buffer;
}

/**
 * A job sent to a hash worker (internal protocol between the pool and `hash-worker.js`).
 * `hash`: the BLAKE3 of the first `byteLength` bytes of `buffer`, which comes back transferred.
 * `file`: the BLAKE3 of the first `size` bytes of the file at `path`.
 */
export type HashJobMessage =
	| {
			id: number;
			op: "hash";
			buffer: ArrayBuffer | SharedArrayBuffer;
			byteLength: number;
			/** With `store`: write the bytes to `fd` at `position` when the digest equals `expected`. */
			store?: { expected: Uint8Array; fd: number; position: number; stream?: number };
	  }
	| {
			id: number;
			op: "stream";
			/** The content stream's id (see {@link HashPool.contentStream}). */
			stream: number;
			fd: number;
			/** Hash the file's bytes up to this offset (from where the stream stopped). */
			end: number;
			/** Reply with the digest and forget the stream. */
			final: boolean;
			/** Forget the stream, hashing nothing more. */
			drop?: boolean;
	  }
	| { id: number; op: "file"; path: string; size: number }
	| { id: number; op: "manifest"; path: string }
	| { id: number; op: "readdir"; path: string };

/**
 * The BLAKE3 of a file's whole content, computed while the file is still being written: it
 * follows the file's complete prefix, so the digest is ready almost as soon as the last
 * piece lands instead of costing a second read of the whole file at the end (BLAKE3 spec,
 * default mode; the digest equals `b3sum`'s).
 */
export interface ContentStream {
	/** Its id, for {@link HashPool.hashAndWrite} to feed a piece that lands in order. */
	readonly id: number;
	/**
	 * Hashes the bytes of `fd` from where the stream stopped up to offset `end` (nothing when it
	 * is already there). The bytes must be on disk; `fd` must stay open until it settles.
	 * @throws (rejects) the fs error of a failed read; the stream is then unusable
	 */
	advance(fd: number, end: number): Promise<void>;
	/**
	 * Hashes up to `size` and resolves the digest (32 bytes); the stream is spent.
	 * @throws (rejects) as `advance`, or when the pool closed or its worker died
	 */
	digest(fd: number, size: number): Promise<Buffer>;
	/** Forgets the stream without a digest (its download ended unfinished). */
	release(): void;
}

/** A content stream's state, where it runs (a worker, or the calling thread when inline). */
export interface StreamState {
	hasher: Hasher;
	/** Bytes hashed so far: the next byte to hash is at this offset. */
	position: number;
}

/** A read buffer for content streams, 1 MiB, made on first use. */
let streamChunk: Buffer | undefined;

/**
 * Advances a content stream to `end` with blocking reads of `fd` (in a worker).
 * @throws the fs error of a failed read; an Error with `code` `ERR_SHORT_FILE` at an early end
 */
export function advanceStreamSync(state: StreamState, fd: number, end: number): void {
	streamChunk ??= Buffer.allocUnsafeSlow(MANIFEST_READ_SIZE);
	while (state.position < end) {
		const want = Math.min(streamChunk.length, end - state.position);
		const got = readSync(fd, streamChunk, 0, want, state.position);
		if (got === 0) throw Object.assign(new Error("file ends early"), { code: "ERR_SHORT_FILE" });
		state.hasher.update(streamChunk.subarray(0, got));
		state.position += got;
	}
}

/** {@link advanceStreamSync} with asynchronous reads, for the calling thread. */
async function advanceStream(state: StreamState, fd: number, end: number): Promise<void> {
	const chunk = Buffer.allocUnsafe(Math.min(MANIFEST_READ_SIZE, Math.max(end - state.position, 1)));
	while (state.position < end) {
		const want = Math.min(chunk.length, end - state.position);
		const { bytesRead } = await new Promise<{ bytesRead: number }>((resolve, reject) =>
			read(fd, chunk, 0, want, state.position, (error, bytesRead) =>
				error ? reject(error) : resolve({ bytesRead }),
			),
		);
		if (bytesRead === 0) {
			throw Object.assign(new Error("file ends early"), { code: "ERR_SHORT_FILE" });
		}
		state.hasher.update(chunk.subarray(0, bytesRead));
		state.position += bytesRead;
	}
}

/** An error as plain data, so that its `code`, `syscall` and `path` survive postMessage. */
export interface SerializedError {
	name: string;
	message: string;
	stack?: string;
	code?: string;
	errno?: number;
	syscall?: string;
	path?: string;
}

/**
 * A message from a hash worker (internal protocol): `ready` once it has loaded and can take
 * jobs, then one `done` or `failed` per job. `done` carries the 32-byte digest and, for `hash`
 * jobs, the transferred buffer.
 */
export type HashReplyMessage =
	| { type: "ready"; backend: HashBackendName }
	| {
			type: "done";
			id: number;
			digest: Uint8Array;
			buffer?: ArrayBuffer | SharedArrayBuffer;
			/** For a `store` job: true when the digest matched and the bytes were written. */
			written?: boolean;
			/** For a `manifest` job: its result (`digest` is then the file id, or empty). */
			manifest?: ManifestHash;
			/** For a `readdir` job: the folder's entries. */
			entries?: DirEntry[];
	  }
	| { type: "failed"; id: number; error: SerializedError };

/**
 * The default pool size for a machine with `cores` logical cores: 1 when `cores` ≤ 2, else
 * min(4, cores − 1), leaving a core for the event loop.
 * @param cores logical cores; default `os.availableParallelism()`
 * @returns the number of worker threads, at least 1
 */
export function defaultHashWorkers(cores: number = os.availableParallelism()): number {
	return cores <= 2 ? 1 : Math.min(4, cores - 1);
}

/**
 * BLAKE3 of the first `size` bytes of the file at `path`, read {@link FILE_READ_SIZE} bytes at a
 * time with the module's selected backend. Used by the workers and by inline hashing.
 * @param path the file
 * @param size bytes to hash from the start: a non-negative safe integer
 * @returns a new 32-byte digest
 * @throws the fs error (with its `code`, e.g. `ENOENT`) when the file cannot be opened or read;
 *   an Error with `code` `ERR_SHORT_FILE` when the file has fewer than `size` bytes
 */
export async function hashFilePrefix(path: string, size: number): Promise<Buffer> {
	const handle = await fs.open(path, "r");
	try {
		const hasher = createHasher();
		const chunk = Buffer.allocUnsafe(Math.min(FILE_READ_SIZE, Math.max(size, 1)));
		let offset = 0;
		while (offset < size) {
			const want = Math.min(chunk.length, size - offset);
			const { bytesRead } = await handle.read(chunk, 0, want, offset);
			if (bytesRead === 0) {
				throw Object.assign(
					new Error(`${path}: file ends at ${offset} bytes, before the ${size} bytes to hash`),
					{ code: "ERR_SHORT_FILE", path },
				);
			}
			hasher.update(chunk.subarray(0, bytesRead));
			offset += bytesRead;
		}
		return hasher.digest();
	} finally {
		await handle.close();
	}
}

/** Spare read buffers of {@link MANIFEST_READ_SIZE} bytes, reused across manifest jobs. */
const spareReadBuffers: Buffer[] = [];

/**
 * Builds a manifest from a file's bytes fed in order, in reads of at most
 * {@link MANIFEST_READ_SIZE} that start on multiples of it: each read goes to the content
 * hasher, and is cut into pieces (or fed to the hasher of a piece larger than a read).
 */
class ManifestBuilder {
	readonly pieceSize: number;
	private readonly content = createHasher();
	private readonly pieceHashes: Uint8Array[] = [];
	private piece: Hasher | undefined;
	private pieceFill = 0;
	private offset = 0;
	private released = false;
	/** A read buffer, from the spare ones when it is full size. */
	readonly chunk: Buffer;

	constructor(readonly size: number) {
		this.pieceSize = pieceSizeFor(size);
		this.chunk =
			size >= MANIFEST_READ_SIZE
				? (spareReadBuffers.pop() ?? Buffer.allocUnsafeSlow(MANIFEST_READ_SIZE))
				: Buffer.allocUnsafe(Math.max(size, 1));
	}

	/** Bytes still to read, and where the next read starts. */
	get next(): { offset: number; length: number } {
		return { offset: this.offset, length: Math.min(this.chunk.length, this.size - this.offset) };
	}

	/** Takes the first `length` bytes of `chunk`, read at `next.offset`. */
	update(length: number): void {
		const view = this.chunk.subarray(0, length);
		this.content.update(view);
		const { pieceSize } = this;
		if (pieceSize <= this.chunk.length) {
			// Reads start on piece boundaries (both are powers of two, or there is one read):
			// whole pieces, the last one maybe short.
			for (let at = 0; at < length; at += pieceSize) {
				this.pieceHashes.push(hash(view.subarray(at, Math.min(length, at + pieceSize))));
			}
		} else {
			// A piece larger than a read: fed read by read.
			this.piece ??= createHasher();
			this.piece.update(view);
			this.pieceFill += length;
			if (this.pieceFill === pieceSize || this.offset + length === this.size) {
				this.pieceHashes.push(this.piece.digest());
				this.piece = undefined;
				this.pieceFill = 0;
			}
		}
		this.offset += length;
	}

	/** The manifest's encoding and id; the builder is spent. */
	finish(): { manifestBytes: Buffer; id: Buffer } {
		const contentHash = this.content.digest();
		const manifestBytes = encodeManifest({
			size: this.size,
			pieceSize: this.pieceSize,
			contentHash,
			pieceHashes: this.pieceHashes,
		});
		this.release();
		return { manifestBytes, id: manifestId(manifestBytes) };
	}

	/** Gives the read buffer back (after `finish`, or instead of it); once only. */
	release(): void {
		if (this.released) return;
		this.released = true;
		if (this.chunk.length === MANIFEST_READ_SIZE && spareReadBuffers.length < 8) {
			spareReadBuffers.push(this.chunk);
		}
	}
}

/** Throws ERR_NOT_FILE unless the stat is a regular file's. */
function mustBeFile(stat: BigIntStats, path: string): void {
	if (!stat.isFile()) {
		throw Object.assign(new Error(`${path}: not a regular file`), { code: "ERR_NOT_FILE", path });
	}
}

/**
 * The manifest of a file (`../protocol/manifest.ts`: piece size from `pieceSizeFor`, the
 * BLAKE3 of every piece and of the whole content), read {@link MANIFEST_READ_SIZE} bytes at a
 * time, never whole. The opened file's bigint fstat is taken before the first read, every
 * 64 MiB and after the last, and the path's stat after that: when one differs (a write,
 * truncation, touch, a rename over the path) or the file ends early, the result says
 * `changed` instead of giving a manifest of mixed or stale contents. This form
 * uses asynchronous reads, for the calling thread; workers use {@link hashManifestFileSync}.
 * @param path the file
 * @returns the manifest with the file id and identity, or `changed` with both identities
 * @throws the fs error (with `code`: `ENOENT`, `EACCES`, `EISDIR`, …) when it cannot be read;
 *   an Error with `code` `ERR_NOT_FILE` when it is not a regular file
 */
export async function hashManifestFile(path: string): Promise<ManifestHash> {
	const handle = await fs.open(path, "r");
	let builder: ManifestBuilder | undefined;
	try {
		const stat = await handle.stat({ bigint: true });
		mustBeFile(stat, path);
		const before = identityOf(stat);
		const changed = async (): Promise<ManifestHash> => ({
			changed: true,
			before,
			after: identityOf(await handle.stat({ bigint: true })),
		});
		builder = new ManifestBuilder(before.size);
		let sinceCheck = 0;
		while (builder.next.length > 0) {
			const { offset, length } = builder.next;
			let got = 0;
			while (got < length) {
				const { bytesRead } = await handle.read(builder.chunk, got, length - got, offset + got);
				if (bytesRead === 0) return await changed();
				got += bytesRead;
			}
			builder.update(length);
			sinceCheck += length;
			if (sinceCheck >= MANIFEST_CHECK_BYTES && builder.next.length > 0) {
				sinceCheck = 0;
				const now = identityOf(await handle.stat({ bigint: true }));
				if (!sameIdentity(before, now)) return { changed: true, before, after: now };
			}
		}
		const after = identityOf(await handle.stat({ bigint: true }));
		if (!sameIdentity(before, after)) return { changed: true, before, after };
		// The path must still lead to the file read (not replaced by a rename meanwhile).
		const now = identityOf(await fs.stat(path, { bigint: true }));
		if (!sameIdentity(before, now)) return { changed: true, before, after: now };
		return { changed: false, identity: before, ...builder.finish() };
	} finally {
		builder?.release();
		await handle.close();
	}
}

/**
 * {@link hashManifestFile} with synchronous reads: for worker threads, where blocking is
 * harmless and saves the trips through libuv's thread pool (about 4x the files per second on
 * small files).
 * @throws as {@link hashManifestFile}
 */
export function hashManifestFileSync(path: string): ManifestHash {
	const fd = openSync(path, "r");
	let builder: ManifestBuilder | undefined;
	try {
		const stat = fstatSync(fd, { bigint: true });
		mustBeFile(stat, path);
		const before = identityOf(stat);
		const changed = (): ManifestHash => ({
			changed: true,
			before,
			after: identityOf(fstatSync(fd, { bigint: true })),
		});
		builder = new ManifestBuilder(before.size);
		let sinceCheck = 0;
		while (builder.next.length > 0) {
			const { offset, length } = builder.next;
			let got = 0;
			while (got < length) {
				const bytesRead = readSync(fd, builder.chunk, got, length - got, offset + got);
				if (bytesRead === 0) return changed();
				got += bytesRead;
			}
			builder.update(length);
			sinceCheck += length;
			if (sinceCheck >= MANIFEST_CHECK_BYTES && builder.next.length > 0) {
				sinceCheck = 0;
				const now = identityOf(fstatSync(fd, { bigint: true }));
				if (!sameIdentity(before, now)) return { changed: true, before, after: now };
			}
		}
		const after = identityOf(fstatSync(fd, { bigint: true }));
		if (!sameIdentity(before, after)) return { changed: true, before, after };
		// The path must still lead to the file read (not replaced by a rename meanwhile).
		const now = identityOf(statSync(path, { bigint: true }));
		if (!sameIdentity(before, now)) return { changed: true, before, after: now };
		return { changed: false, identity: before, ...builder.finish() };
	} finally {
		builder?.release();
		closeSync(fd);
	}
}

/** The entry for `name`, from a stat that followed links. */
function dirEntry(
	name: string,
	isLink: boolean,
	real: string | undefined,
	stat: BigIntStats,
): DirEntry {
	if (stat.isDirectory()) return { name, kind: isLink ? "link-dir" : "dir", real };
	if (stat.isFile()) {
		return { name, kind: isLink ? "link-file" : "file", real, identity: identityOf(stat) };
	}
	return { name, kind: "other" };
}

/**
 * The entries of a folder with what the indexer needs of each: kind, a link's target, a file's
 * identity. Blocking calls: for worker threads (a stat costs 5 µs this way, 30 µs through the
 * promise API). Entries that vanish or cannot be read meanwhile come as `other`.
 * @param dir an absolute folder path
 * @returns its entries, in the order the file system gives them
 * @throws the fs error (with `code`) when the folder itself cannot be read
 */
export function readDirSync(dir: string): DirEntry[] {
	const out: DirEntry[] = [];
	for (const entry of readdirSync(dir, { withFileTypes: true })) {
		const full = join(dir, entry.name);
		try {
			let isLink = entry.isSymbolicLink();
			if (!isLink && !entry.isFile() && !entry.isDirectory()) {
				isLink = lstatSync(full).isSymbolicLink(); // a file system that gives no types
			}
			const real = isLink ? realpathSync(full) : undefined;
			out.push(dirEntry(entry.name, isLink, real, statSync(real ?? full, { bigint: true })));
		} catch {
			out.push({ name: entry.name, kind: "other" });
		}
	}
	return out;
}

/** {@link readDirSync} with asynchronous calls, for the calling thread. */
export async function readDirAsync(dir: string): Promise<DirEntry[]> {
	const entries = await fs.readdir(dir, { withFileTypes: true });
	return Promise.all(
		entries.map(async (entry): Promise<DirEntry> => {
			const full = join(dir, entry.name);
			try {
				let isLink = entry.isSymbolicLink();
				if (!isLink && !entry.isFile() && !entry.isDirectory()) {
					isLink = (await fs.lstat(full)).isSymbolicLink();
				}
				const real = isLink ? await fs.realpath(full) : undefined;
				return dirEntry(entry.name, isLink, real, await fs.stat(real ?? full, { bigint: true }));
			} catch {
				return { name: entry.name, kind: "other" };
			}
		}),
	);
}

/**
 * Writes all of `data` to `fd` at `position`, synchronously (in a worker thread, or inline).
 * @throws the fs error of a failed write
 */
export function writeAll(fd: number, data: Uint8Array, position: number): void {
	let done = 0;
	while (done < data.length) {
		const n = writeSync(fd, data, done, data.length - done, position + done);
		if (n === 0) throw new Error("wrote nothing");
		done += n;
	}
}

/** An error as plain data for postMessage. */
export function serializeError(error: unknown): SerializedError {
	if (!(error instanceof Error)) return { name: "Error", message: String(error) };
	const e = error as NodeJS.ErrnoException;
	const out: SerializedError = { name: e.name, message: e.message, stack: e.stack };
	if (typeof e.code === "string") out.code = e.code;
	if (typeof e.errno === "number") out.errno = e.errno;
	if (typeof e.syscall === "string") out.syscall = e.syscall;
	if (typeof e.path === "string") out.path = e.path;
	return out;
}

/** The Error that {@link serializeError} described, with its `code`, `syscall` and `path`. */
function deserializeError(data: SerializedError): Error {
	const error = new Error(data.message) as NodeJS.ErrnoException;
	error.name = data.name;
	if (data.stack) error.stack = data.stack;
	if (data.code !== undefined) error.code = data.code;
	if (data.errno !== undefined) error.errno = data.errno;
	if (data.syscall !== undefined) error.syscall = data.syscall;
	if (data.path !== undefined) error.path = data.path;
	return error;
}

/** The worker script, next to this module in the compiled layout (dist/source/transfer/). */
const WORKER_URL = new URL("./hash-worker.js", import.meta.url);

interface Job {
	message: HashJobMessage;
	/** The worker this job must run on (a content stream's), if any. */
	pinned?: Slot;
	/** Bytes this job hashes: the measure of a worker's load. */
	cost: number;
	resolve(reply: Extract<HashReplyMessage, { type: "done" }>): void;
	reject(error: Error): void;
}

interface Slot {
	worker: Worker;
	/** The worker has loaded and said `ready`; jobs are posted only then. */
	ready: boolean;
	/** Posted to the worker, awaiting its reply. */
	posted: Map<number, Job>;
	/** Waiting for the worker to become ready (their buffers are still ours). */
	waiting: Job[];
	/** Sum of the costs of posted and waiting jobs. */
	load: number;
	/** The last uncaught error of the worker, for the exit message. */
	error?: Error;
}

/**
 * A pool of worker threads computing BLAKE3 digests of pieces and files.
 *
 * ```ts
 * const pool = new HashPool();
 * const { digest, data } = await pool.hash(piece); // `piece` is detached; use `data`
 * await pool.close();
 * ```
 */
export class HashPool {
	/** The BLAKE3 backend the workers (and inline hashing) use, as chosen by `hash.ts`. */
	readonly backend: HashBackendName = hashBackend;

	private readonly slots: Slot[] = [];
	private readonly size: number;
	private nextId = 1;
	private inline = false;
	private closed = false;

	/**
	 * Starts the workers (they load in the background; jobs wait for them).
	 * @param options `workers`: the pool size, default {@link defaultHashWorkers}; 0 hashes inline
	 * @throws RangeError when `workers` is not a non-negative integer
	 */
	constructor(options: HashPoolOptions = {}) {
		const size = options.workers ?? defaultHashWorkers();
		if (!Number.isInteger(size) || size < 0) {
			throw new RangeError(`HashPool workers must be a non-negative integer, got ${size}`);
		}
		this.size = size;
		if (size === 0) this.inline = true;
		for (let i = 0; i < size && !this.inline; i++) this.spawn();
	}

	/**
	 * The number of worker threads running now; 0 when hashing inline (asked for, or because
	 * worker threads could not start).
	 */
	get workers(): number {
		return this.inline ? 0 : this.slots.length;
	}

	/**
	 * BLAKE3 of a piece, computed in a worker. The piece's ArrayBuffer is transferred to the
	 * worker and back, so `data` is detached (length 0) once this returns: use the resolved
	 * `data` instead, the same bytes without a copy. A `data` that does not own its whole
	 * ArrayBuffer (a slice, or a small buffer from Node's shared pool) is copied first and left
	 * intact; one backed by a SharedArrayBuffer is shared, not copied.
	 * @param data the piece, any length including 0
	 * @returns the 32-byte digest and the piece's bytes
	 * @throws Error (rejects) when the pool is closed, or when the worker dies while hashing (its
	 *   bytes are then lost with it)
	 */
	hash(data: Buffer): Promise<PieceHash> {
		return this.hashJob(data).then(({ digest, data }) => ({ digest, data }));
	}

	/**
	 * Hashes a piece and, when its BLAKE3 equals `expected`, writes it to the open file `fd` at
	 * `position`, all in the worker: verifying and storing a piece then costs the event loop one
	 * message. `fd` must stay open until the promise settles.
	 * @param data the piece (moved to the worker and back, as with `hash`)
	 * @param expected the 32-byte digest the piece must have
	 * @param fd an open file descriptor, writable
	 * @param position byte offset in the file
	 * @returns the digest, the bytes, and whether they were written (false on a mismatch)
	 * @throws (rejects) the fs error of a failed write (`ENOSPC`, `EBADF`, … with `code`), or
	 *   as `hash` does
	 */
	hashAndWrite(
		data: Buffer,
		expected: Uint8Array,
		fd: number,
		position: number,
		stream?: ContentStream,
	): Promise<PieceHash & { written: boolean }> {
		// postMessage clones a view's whole ArrayBuffer: a piece hash is a small Buffer, a view
		// of Node's 8 KiB pool slab, so each job carried 8 KiB (4,096 of them for a 1 GiB file,
		// 33 MB left alive in the worker until its GC ran). A copy of its own is 32 bytes.
		const digest =
			expected.byteLength === expected.buffer.byteLength ? expected : new Uint8Array(expected);
		return this.hashJob(data, { expected: digest, fd, position, stream: stream?.id });
	}

	/**
	 * Starts a {@link ContentStream}: the BLAKE3 of a file's content, fed as its prefix
	 * completes. Its jobs run on one worker, in order; a piece written there by `hashAndWrite`
	 * at the stream's position is fed from memory, without reading it back.
	 */
	contentStream(): ContentStream {
		const id = this.nextId++;
		if (this.inline || this.slots.length === 0) {
			const state: StreamState = { hasher: createHasher(), position: 0 };
			let chain = Promise.resolve();
			const run = (fd: number, end: number) => {
				chain = chain.then(() => advanceStream(state, fd, end));
				return chain;
			};
			return {
				id,
				advance: run,
				digest: (fd, size) => run(fd, size).then(() => state.hasher.digest()),
				release: () => {},
			};
		}
		let pinned: Slot | undefined;
		for (const slot of this.slots) if (!pinned || slot.load < pinned.load) pinned = slot;
		const slot = pinned as Slot;
		const job = (fd: number, end: number, final: boolean, drop?: boolean) =>
			new Promise<Extract<HashReplyMessage, { type: "done" }>>((resolve, reject) => {
				const message: HashJobMessage = {
					id: this.nextId++,
					op: "stream",
					stream: id,
					fd,
					end,
					final,
					drop,
				};
				this.dispatch({ message, cost: 1, resolve, reject, pinned: slot });
			});
		// Opens the stream on its worker at once, so pieces landing in order are fed from memory.
		job(-1, 0, false).catch(() => {});
		return {
			id,
			advance: (fd, end) => job(fd, end, false).then(() => undefined),
			digest: (fd, size) => job(fd, size, true).then((reply) => toBuffer(reply.digest)),
			release: () => {
				if (!this.closed) job(-1, 0, true, true).catch(() => {});
			},
		};
	}

	private hashJob(
		data: Buffer,
		store?: { expected: Uint8Array; fd: number; position: number; stream?: number },
	): Promise<PieceHash & { written: boolean }> {
		if (this.closed) return Promise.reject(new Error("HashPool is closed"));
		if (this.inline) return this.hashInline(data, store);
		const byteLength = data.byteLength;
		let buffer: ArrayBuffer | SharedArrayBuffer = data.buffer;
		if (
			!(buffer instanceof SharedArrayBuffer) &&
			(data.byteOffset !== 0 || buffer.byteLength !== byteLength)
		) {
			buffer = new ArrayBuffer(byteLength);
			new Uint8Array(buffer).set(data);
		}
		return this.submit(
			{ id: this.nextId++, op: "hash", buffer, byteLength, store },
			byteLength,
		).then((reply) => ({
			digest: toBuffer(reply.digest),
			data: Buffer.from(reply.buffer ?? buffer, 0, byteLength),
			written: reply.written === true,
		}));
	}

	/**
	 * BLAKE3 of the first `size` bytes of a file, streamed in a worker in 4 MiB reads.
	 * @param path the file
	 * @param size bytes to hash from the start of the file (a non-negative safe integer)
	 * @returns a new 32-byte digest, equal to `b3sum`'s when `size` is the file's length
	 * @throws (rejects) the fs error (`ENOENT`, `EACCES`, `EISDIR`, …, with `code` and `path`)
	 *   when the file cannot be read; an Error with `code` `ERR_SHORT_FILE` when it is shorter than
	 *   `size`; a RangeError for a bad `size`; an Error when the pool is closed or the worker dies
	 */
	hashFile(path: string, size: number): Promise<Buffer> {
		if (!Number.isSafeInteger(size) || size < 0) {
			return Promise.reject(
				new RangeError(`hashFile size must be a non-negative integer: ${size}`),
			);
		}
		if (this.closed) return Promise.reject(new Error("HashPool is closed"));
		if (this.inline) return hashFilePrefix(path, size);
		return this.submit({ id: this.nextId++, op: "file", path, size }, size).then((reply) =>
			toBuffer(reply.digest),
		);
	}

	/**
	 * The manifest of a file (see {@link hashManifestFile}), computed in a worker that reads
	 * the file 1 MiB at a time: the event loop and the memory of this thread never see the
	 * file's bytes. Jobs on one pool run side by side; the caller bounds how many it starts.
	 * @param path the file
	 * @param sizeHint its expected size in bytes (balances the workers' load); default 0
	 * @returns the manifest, file id and identity, or `changed` when the file changed while read
	 * @throws (rejects) as {@link hashManifestFile} does, or when the pool is closed or the
	 *   worker dies
	 */
	hashManifest(path: string, sizeHint = 0): Promise<ManifestHash> {
		if (this.closed) return Promise.reject(new Error("HashPool is closed"));
		if (this.inline) return hashManifestFile(path);
		return this.submit({ id: this.nextId++, op: "manifest", path }, Math.max(sizeHint, 1)).then(
			(reply) => {
				const m = reply.manifest;
				if (!m) throw new Error("hash worker sent no manifest");
				if (m.changed) return m;
				return { ...m, manifestBytes: toBuffer(m.manifestBytes), id: toBuffer(m.id) };
			},
		);
	}

	/**
	 * The entries of a folder (see {@link readDirSync}), read in a worker: walking a large
	 * tree costs the event loop one message per folder.
	 * @param path an absolute folder path
	 * @throws (rejects) the fs error when the folder cannot be read, or when the pool is closed
	 *   or the worker dies
	 */
	readDir(path: string): Promise<DirEntry[]> {
		if (this.closed) return Promise.reject(new Error("HashPool is closed"));
		if (this.inline) return readDirAsync(path);
		return this.submit({ id: this.nextId++, op: "readdir", path }, 1).then(
			(reply) => reply.entries ?? [],
		);
	}

	/**
	 * Stops the workers. Jobs still pending reject with an Error; later calls reject too.
	 * Calling it again is harmless.
	 * @returns once every worker thread has exited
	 */
	async close(): Promise<void> {
		if (this.closed) return;
		this.closed = true;
		const error = new Error("HashPool closed before the job finished");
		const slots = this.slots.splice(0);
		for (const slot of slots) {
			for (const job of [...slot.posted.values(), ...slot.waiting]) job.reject(error);
			slot.posted.clear();
			slot.waiting = [];
		}
		await Promise.all(slots.map((slot) => slot.worker.terminate()));
	}

	/** Inline fallback: hash on this thread, after yielding once so callers see a real promise. */
	private async hashInline(
		data: Buffer,
		store?: { expected: Uint8Array; fd: number; position: number; stream?: number },
	): Promise<PieceHash & { written: boolean }> {
		await new Promise<void>((resolve) => setImmediate(resolve));
		const digest = hash(data);
		const written = store !== undefined && digest.equals(store.expected);
		if (written) writeAll(store.fd, data, store.position);
		return { digest, data, written };
	}

	/** Queues `message` on the least-loaded worker. */
	private submit(
		message: HashJobMessage,
		cost: number,
	): Promise<Extract<HashReplyMessage, { type: "done" }>> {
		return new Promise((resolve, reject) => {
			this.dispatch({ message, cost, resolve, reject });
		});
	}

	/** Gives `job` to the least-loaded worker, or runs it inline when there is none. */
	private dispatch(job: Job): void {
		if (this.closed) {
			job.reject(new Error("HashPool is closed"));
			return;
		}
		let best: Slot | undefined;
		if (job.pinned) {
			if (!this.slots.includes(job.pinned)) {
				job.reject(new Error("the hash worker of this content stream exited"));
				return;
			}
			best = job.pinned;
		} else {
			for (const slot of this.slots) if (!best || slot.load < best.load) best = slot;
		}
		if (this.inline || !best) {
			this.inline = true;
			this.runInline(job);
			return;
		}
		best.load += job.cost;
		if (best.ready) this.post(best, job);
		else best.waiting.push(job);
		best.worker.ref();
	}

	/** Runs a job that was meant for a worker on this thread. */
	private runInline(job: Job): void {
		const m = job.message;
		const done = (digest: Buffer, buffer?: ArrayBuffer | SharedArrayBuffer) =>
			job.resolve({ type: "done", id: m.id, digest, buffer });
		if (m.op === "hash") {
			this.hashInline(Buffer.from(m.buffer, 0, m.byteLength)).then(
				(r) => done(r.digest, m.buffer),
				job.reject,
			);
		} else if (m.op === "file") {
			hashFilePrefix(m.path, m.size).then((digest) => done(digest), job.reject);
		} else if (m.op === "stream") {
			job.reject(new Error("content streams do not run inline"));
		} else if (m.op === "readdir") {
			readDirAsync(m.path).then(
				(entries) => job.resolve({ type: "done", id: m.id, digest: Buffer.alloc(0), entries }),
				job.reject,
			);
		} else {
			hashManifestFile(m.path).then(
				(manifest) => job.resolve({ type: "done", id: m.id, digest: Buffer.alloc(0), manifest }),
				job.reject,
			);
		}
	}

	/** Posts `job` to a ready worker, transferring its buffer when it can be transferred. */
	private post(slot: Slot, job: Job): void {
		const m = job.message;
		slot.posted.set(m.id, job);
		try {
			if (m.op === "hash" && m.buffer instanceof ArrayBuffer) {
				try {
					slot.worker.postMessage(m, [m.buffer]);
				} catch {
					// Not transferable (e.g. marked untransferable, or external memory): send a copy.
					const copy = m.buffer.slice(0, m.byteLength);
					job.message = { ...m, buffer: copy };
					slot.worker.postMessage(job.message, [copy]);
				}
			} else {
				slot.worker.postMessage(m);
			}
		} catch (error) {
			this.finish(slot, m.id);
			job.reject(error instanceof Error ? error : new Error(String(error)));
		}
	}

	/** Removes job `id` from `slot`, unref()ing the worker when it has nothing left to do. */
	private finish(slot: Slot, id: number): Job | undefined {
		const job = slot.posted.get(id);
		if (!job) return undefined;
		slot.posted.delete(id);
		slot.load -= job.cost;
		if (slot.posted.size === 0 && slot.waiting.length === 0) {
			slot.load = 0;
			slot.worker.unref();
		}
		return job;
	}

	/** Starts one worker, or switches to inline hashing when worker threads cannot start. */
	private spawn(): void {
		let worker: Worker;
		try {
			worker = new Worker(WORKER_URL, {
				env: { ...process.env, [HASH_BACKEND_ENV]: hashBackend },
				// Pieces and reads are buffers outside the heap: a small young generation is
				// plenty, and keeps each worker's memory down (peers run one or more).
				resourceLimits: { maxYoungGenerationSizeMb: WORKER_YOUNG_MB },
			});
		} catch {
			if (this.slots.length === 0) this.inline = true;
			return;
		}
		worker.unref();
		const slot: Slot = { worker, ready: false, posted: new Map(), waiting: [], load: 0 };
		this.slots.push(slot);
		worker.on("message", (reply: HashReplyMessage) => this.onMessage(slot, reply));
		worker.on("error", (error) => {
			slot.error = error;
		});
		worker.on("exit", (code) => this.onExit(slot, code));
	}

	private onMessage(slot: Slot, reply: HashReplyMessage): void {
		if (reply.type === "ready") {
			slot.ready = true;
			const waiting = slot.waiting;
			slot.waiting = [];
			for (const job of waiting) this.post(slot, job);
			return;
		}
		const job = this.finish(slot, reply.id);
		if (!job) return;
		if (reply.type === "done") job.resolve(reply);
		else job.reject(deserializeError(reply.error));
	}

	/**
	 * A worker exited without close(): its posted jobs reject (their bytes went with it); a
	 * worker that had started is replaced; one that never started is not, and when none is left
	 * the pool hashes inline. Jobs still waiting are dispatched again.
	 */
	private onExit(slot: Slot, code: number): void {
		const index = this.slots.indexOf(slot);
		if (index < 0) return; // closed
		this.slots.splice(index, 1);
		const cause = slot.error;
		const reason = cause ? `: ${cause.message}` : "";
		for (const job of slot.posted.values()) {
			job.reject(new Error(`hash worker exited with code ${code}${reason}`, { cause }));
		}
		slot.posted.clear();
		if (this.closed) return;
		if (slot.ready && this.slots.length < this.size) this.spawn();
		if (this.slots.length === 0) this.inline = true;
		for (const job of slot.waiting) this.dispatch(job);
	}
}

/** A Buffer view of a digest that arrived as a Uint8Array. */
function toBuffer(bytes: Uint8Array): Buffer {
	return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}
