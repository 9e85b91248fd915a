/**
 * The library: the shared folder indexed into manifests, and the reads that serve it.
 *
 * Indexing walks the folder recursively and hashes each regular file once, piece by piece
 * (piece hashes plus the whole-content BLAKE3). Only regular files inside the folder are
 * indexed: symlinks are followed only when their target resolves inside the folder, and
 * partial downloads (`*.p2p-part`) are skipped. Serving reads by file id, so a peer can
 * never name a path; each read re-checks that the file still has the size and mtime it was
 * indexed with and refuses it otherwise (a changed file is re-indexed by `rescan`).
 */
import { EventEmitter } from "node:events";
import { constants as fsConstants } from "node:fs";
import fs from "node:fs/promises";
import path from "node:path";
import { UsageError } from "../errors.js";
import { createHasher, hash, toHex } from "../protocol/hash.js";
import { encodeManifest, type Manifest, manifestId, pieceSizeFor } from "../protocol/manifest.js";
import { isInside, isTransferFile } from "./paths.js";

/** One shared file. */
export interface SharedFile {
	/** Hex file id (BLAKE3 of `manifestBytes`). */
	id: string;
	/** Raw 32-byte file id. */
	idBytes: Buffer;
	/** Path relative to the shared folder, with `/`. */
	name: string;
	/** Absolute path on disk. */
	absPath: string;
	/** Size in bytes. */
	size: number;
	/** Modification time in whole ms, as indexed (whole ms: what utimes can set back). */
	mtimeMs: number;
	manifest: Manifest;
	/** The manifest's encoding, served to peers. */
	manifestBytes: Buffer;
}

/** Events of a library. */
export interface LibraryEvents {
	/** The shared list changed; `revision` is the new revision number. */
	changed: [revision: number];
}

/** Open files kept for serving (least recently used closed first). */
const OPEN_FILES = 16;
/**
 * Bytes of pieces kept in the read cache: enough for the pieces a leecher has requests
 * out for at once (its window), so each piece is read from disk once.
 */
const PIECE_CACHE_BYTES = 8 * 1024 * 1024;
/** Pieces cached however large they are. */
const MIN_CACHE_PIECES = 4;
/** Spare piece buffers kept per size for reuse. */
const SPARE_PIECES = 8;

/** A piece in the read cache; its buffer is reused once evicted and no read uses it. */
interface CachedPiece {
	data: Promise<Buffer | null>;
	readers: number;
	evicted: boolean;
}

/**
 * Hashes one file into a manifest, reading it piece by piece.
 * @param absPath - the file to hash
 * @returns manifest, its encoding and the file id; throws the fs error when unreadable
 */
export async function hashFile(
	absPath: string,
): Promise<{ manifest: Manifest; manifestBytes: Buffer; idBytes: Buffer; mtimeMs: number }> {
	const handle = await fs.open(absPath, fsConstants.O_RDONLY);
	try {
		const stat = await handle.stat();
		const size = stat.size;
		const pieceSize = pieceSizeFor(size);
		const content = createHasher();
		const pieceHashes: Uint8Array[] = [];
		const buffer = Buffer.allocUnsafe(Math.min(pieceSize, Math.max(size, 1)));
		for (let offset = 0; offset < size; offset += pieceSize) {
			const length = Math.min(pieceSize, size - offset);
			const piece = buffer.subarray(0, length);
			await readFully(handle, piece, offset);
			pieceHashes.push(hash(piece));
			content.update(piece);
		}
		const manifest: Manifest = { size, pieceSize, contentHash: content.digest(), pieceHashes };
		const manifestBytes = encodeManifest(manifest);
		return {
			manifest,
			manifestBytes,
			idBytes: manifestId(manifestBytes),
			mtimeMs: Math.floor(stat.mtimeMs),
		};
	} finally {
		await handle.close();
	}
}

/** Reads exactly `target.length` bytes at `position`; throws when the file is shorter. */
export async function readFully(
	handle: fs.FileHandle,
	target: Uint8Array,
	position: number,
): Promise<void> {
	let done = 0;
	while (done < target.length) {
		const { bytesRead } = await handle.read(target, done, target.length - done, position + done);
		if (bytesRead === 0) throw new Error("file shrank while reading");
		done += bytesRead;
	}
}

/** The shared folder, indexed. Create with `Library.open`. */
export class Library extends EventEmitter<LibraryEvents> {
	private byId = new Map<string, SharedFile>();
	private byPath = new Map<string, SharedFile>();
	/** Pieces read for serving, by `id:index`, least recently used first. */
	private pieces = new Map<string, CachedPiece>();
	/** Piece buffers free for reuse, by length. */
	private spare = new Map<number, Buffer[]>();
	/** Open handles of files being served, by id, least recently used first. */
	private handles = new Map<string, Promise<fs.FileHandle | null>>();
	private scanning: Promise<void> | undefined;
	/** Every folder under the root, relative with `/`, as of the last walk. */
	private folders: string[] = [];
	/** Revision of the shared list: bumped whenever the list changes. */
	revision = 1;

	private constructor(
		/** Absolute, resolved path of the shared folder. */
		readonly root: string,
	) {
		super();
	}

	/**
	 * Opens and indexes a shared folder.
	 * @param dir - the folder to share (created when missing)
	 * @throws UsageError (code `SHARE_UNREADABLE`) when the folder cannot be read
	 */
	static async open(dir: string): Promise<Library> {
		const abs = path.resolve(dir);
		try {
			await fs.mkdir(abs, { recursive: true });
			await fs.access(abs, fsConstants.R_OK | fsConstants.X_OK);
			const root = await fs.realpath(abs);
			const library = new Library(root);
			await library.rescan();
			return library;
		} catch (error) {
			if (error instanceof UsageError) throw error;
			throw new UsageError(
				`cannot read shared folder ${abs}: ${reason(error)}`,
				"SHARE_UNREADABLE",
			);
		}
	}

	/** Every shared file, sorted by name. */
	files(): SharedFile[] {
		return [...this.byPath.values()].sort((a, b) => (a.name < b.name ? -1 : 1));
	}

	/**
	 * Every folder under the shared folder (not the root itself), relative with `/`,
	 * sorted; empty ones included, so a peer can recreate them.
	 */
	directories(): string[] {
		return this.folders;
	}

	/** The shared file with this hex id, if any. */
	get(id: string): SharedFile | undefined {
		return this.byId.get(id);
	}

	/**
	 * Walks the folder again: hashes new and changed files, drops deleted ones.
	 * Emits `changed` with the new revision when the list changed.
	 */
	rescan(): Promise<void> {
		// One walk at a time: a read that finds a changed file and the periodic timer may
		// both ask; the second caller shares the walk under way.
		this.scanning ??= this.scan().finally(() => {
			this.scanning = undefined;
		});
		return this.scanning;
	}

	private async scan(): Promise<void> {
		const found = new Map<string, { absPath: string; size: number; mtimeMs: number }>();
		const dirs: string[] = [];
		await this.walk(this.root, found, dirs);
		dirs.sort();
		let changed = dirs.length !== this.folders.length || dirs.some((d, i) => d !== this.folders[i]);
		this.folders = dirs;
		for (const [name, file] of this.byPath) {
			const now = found.get(name);
			if (!now || now.size !== file.size || now.mtimeMs !== file.mtimeMs) {
				this.remove(file);
				changed = true;
			}
		}
		for (const [name, info] of found) {
			if (this.byPath.has(name)) continue;
			try {
				const hashed = await hashFile(info.absPath);
				const file: SharedFile = {
					id: toHex(hashed.idBytes),
					idBytes: hashed.idBytes,
					name,
					absPath: info.absPath,
					size: hashed.manifest.size,
					mtimeMs: hashed.mtimeMs,
					manifest: hashed.manifest,
					manifestBytes: hashed.manifestBytes,
				};
				this.byPath.set(name, file);
				if (!this.byId.has(file.id)) this.byId.set(file.id, file);
				changed = true;
			} catch {
				// Unreadable or vanished while hashing: not shared; the next rescan tries again.
			}
		}
		if (changed) {
			this.revision = (this.revision + 1) >>> 0 || 1;
			this.emit("changed", this.revision);
		}
	}

	private remove(file: SharedFile): void {
		this.byPath.delete(file.name);
		if (this.byId.get(file.id) === file) {
			this.byId.delete(file.id);
			// Another path with the same content keeps the id served.
			for (const other of this.byPath.values()) {
				if (other.id === file.id) {
					this.byId.set(other.id, other);
					break;
				}
			}
		}
		this.closeHandle(file.id);
		for (const key of [...this.pieces.keys()]) {
			if (key.startsWith(`${file.id}:`)) this.pieces.delete(key);
		}
	}

	private async walk(
		dir: string,
		found: Map<string, { absPath: string; size: number; mtimeMs: number }>,
		dirs: string[],
	): Promise<void> {
		let entries: import("node:fs").Dirent[];
		try {
			entries = await fs.readdir(dir, { withFileTypes: true });
		} catch {
			return;
		}
		for (const entry of entries) {
			const absPath = path.join(dir, entry.name);
			if (isTransferFile(entry.name)) continue;
			let real = absPath;
			if (entry.isSymbolicLink()) {
				try {
					real = await fs.realpath(absPath);
				} catch {
					continue;
				}
				// A link that leads outside the shared folder is never served.
				if (!isInside(this.root, real)) continue;
			}
			let stat: import("node:fs").Stats;
			try {
				stat = await fs.stat(real);
			} catch {
				continue;
			}
			if (stat.isDirectory()) {
				if (!entry.isSymbolicLink()) {
					dirs.push(path.relative(this.root, absPath).split(path.sep).join("/"));
					await this.walk(absPath, found, dirs);
				}
			} else if (stat.isFile()) {
				const name = path.relative(this.root, absPath).split(path.sep).join("/");
				found.set(name, { absPath: real, size: stat.size, mtimeMs: Math.floor(stat.mtimeMs) });
			}
		}
	}

	/**
	 * Reads `length` bytes of a shared file at `offset`, for serving. The range must lie
	 * inside one piece. The whole piece is read once into a small cache (a leecher asks for
	 * its blocks one after the other), and each answer is a copy of the block, which dies
	 * young; the cache's piece buffers are reused, so a seeder's memory stays flat whatever
	 * the file size. Files stay open between reads; every piece read first checks the
	 * opened file still has the size and mtime it was indexed with.
	 * @param id - hex file id
	 * @param offset - byte offset in the file
	 * @param length - bytes wanted
	 * @returns a new buffer with the bytes, or null when the file is not shared, the range
	 *   is outside one piece, or the file changed since it was indexed (which starts a
	 *   rescan)
	 */
	async read(id: string, offset: number, length: number): Promise<Buffer | null> {
		const file = this.byId.get(id);
		if (!file || length <= 0 || offset < 0 || offset + length > file.size) return null;
		const pieceSize = file.manifest.pieceSize;
		const index = Math.floor(offset / pieceSize);
		if (Math.floor((offset + length - 1) / pieceSize) !== index) return null;
		const key = `${id}:${index}`;
		let entry = this.pieces.get(key);
		if (entry)
			this.pieces.delete(key); // re-insert: most recently used last
		else entry = { data: this.readPiece(file, index), readers: 0, evicted: false };
		this.pieces.set(key, entry);
		this.evictPieces(pieceSize);
		entry.readers++;
		try {
			const piece = await entry.data;
			if (!piece) {
				if (this.pieces.get(key) === entry) this.pieces.delete(key);
				return null;
			}
			const start = offset - index * pieceSize;
			return Buffer.from(piece.subarray(start, start + length));
		} finally {
			entry.readers--;
			if (entry.evicted && entry.readers === 0) void this.recyclePiece(entry);
		}
	}

	/** Drops the least recently used pieces past the cache's byte budget. */
	private evictPieces(pieceSize: number): void {
		const most = Math.max(MIN_CACHE_PIECES, Math.floor(PIECE_CACHE_BYTES / pieceSize));
		while (this.pieces.size > most) {
			const [key, oldest] = this.pieces.entries().next().value as [string, CachedPiece];
			this.pieces.delete(key);
			oldest.evicted = true;
			if (oldest.readers === 0) void this.recyclePiece(oldest);
		}
	}

	/** Keeps an evicted piece's buffer for the next piece of the same size. */
	private async recyclePiece(entry: CachedPiece): Promise<void> {
		const buffer = await entry.data;
		if (!buffer || entry.readers > 0) return;
		const spare = this.spare.get(buffer.length) ?? [];
		if (spare.length < SPARE_PIECES) spare.push(buffer);
		this.spare.set(buffer.length, spare);
	}

	private async readPiece(file: SharedFile, index: number): Promise<Buffer | null> {
		const handle = await this.open(file);
		if (!handle) return null;
		try {
			// Check the opened file itself: a path swapped after indexing cannot slip past.
			const stat = await handle.stat();
			if (!stat.isFile() || stat.size !== file.size || Math.floor(stat.mtimeMs) !== file.mtimeMs) {
				this.closeHandle(file.id);
				void this.rescan();
				return null;
			}
			const start = index * file.manifest.pieceSize;
			const length = Math.min(file.manifest.pieceSize, file.size - start);
			const piece = this.spare.get(length)?.pop() ?? Buffer.allocUnsafeSlow(length);
			await readFully(handle, piece, start);
			return piece;
		} catch {
			this.closeHandle(file.id);
			return null;
		}
	}

	/** The open handle of a shared file (opened once, kept in a small LRU). */
	private open(file: SharedFile): Promise<fs.FileHandle | null> {
		let handle = this.handles.get(file.id);
		if (handle) {
			this.handles.delete(file.id); // re-insert: most recently used last
		} else {
			handle = fs.open(file.absPath, fsConstants.O_RDONLY).catch(() => null);
			if (this.handles.size >= OPEN_FILES) {
				const oldest = this.handles.keys().next().value;
				if (oldest !== undefined) this.closeHandle(oldest);
			}
		}
		this.handles.set(file.id, handle);
		return handle;
	}

	/** Closes a file's handle once the reads under way on it are done. */
	private closeHandle(id: string): void {
		const handle = this.handles.get(id);
		if (!handle) return;
		this.handles.delete(id);
		// Reads already started keep their own reference; closing after a grace period
		// lets them finish instead of failing with EBADF.
		setTimeout(() => void handle.then((h) => h?.close().catch(() => {})), 1_000).unref();
	}

	/** Closes every open file. */
	close(): void {
		for (const id of [...this.handles.keys()]) this.closeHandle(id);
	}
}

/** The message of an unknown thrown value. */
export function reason(error: unknown): string {
	if (error && typeof error === "object" && "code" in error && typeof error.code === "string") {
		return error.code === "EACCES" ? "permission denied" : error.code;
	}
	return error instanceof Error ? error.message : String(error);
}
