/**
 * The library: the shared folder indexed into manifests, kept live, and the reads that serve it.
 *
 * Indexing walks the folder and hashes each regular file into a manifest (piece hashes plus the
 * whole-content BLAKE3) in worker threads (`../transfer/hash-pool.ts`), never on the event loop
 * and never reading a file whole into memory. `Library.open` returns as soon as the walk has
 * started: each file is served once it is indexed, while the rest still hash, and the shared
 * list is published (revision bumped, `changed` emitted) in batches at most every
 * {@link PUBLISH_MS}. Manifests are kept in an index cache (`./index-cache.ts`) so a restart
 * re-hashes only what changed. A watcher (chokidar) re-indexes what changes in the folder, and a
 * slow periodic `rescan` is the safety net.
 *
 * Only regular files inside the folder are indexed: symlinks are followed only when their
 * target resolves inside the folder, and our own transfer files (`*.p2p-part`, resume records)
 * are skipped. Serving reads by file id, so a peer can never name a path. A manifest is never
 * advertised stale: a file is fingerprinted (size, mtime and ctime in ns, inode: `./identity.ts`)
 * before and after it is hashed and hashed again when they differ, and every piece read checks
 * the opened file still has the fingerprint it was hashed with.
 */
import { EventEmitter } from "node:events";
import { constants as fsConstants } from "node:fs";
import fs from "node:fs/promises";
import path from "node:path";
import { type FSWatcher, watch } from "chokidar";
import { UsageError } from "../errors.js";
import type { IndexProgress } from "../peer/types.js";
import { toHex } from "../protocol/hash.js";
import { decodeManifest, type Manifest, manifestId } from "../protocol/manifest.js";
import {
	type DirEntry,
	HashPool,
	hashManifestFile,
	type ManifestHash,
	readDirAsync,
} from "../transfer/hash-pool.js";
import { O_NOFOLLOW, openedInside } from "./confine.js";
import { type FileIdentity, identityOf, isRacy, racyWaitMs, sameIdentity } from "./identity.js";
import { IndexCache, nowNs } from "./index-cache.js";
import { isInside, isTransferFile } from "./paths.js";

/** One shared file. */
export interface SharedFile {
	/** Hex file id (BLAKE3 of `manifestBytes`). */
	id: string;
	/** Raw 32-byte file id. */
	idBytes: Buffer;
	/** Path relative to the shared folder, with `/`. */
	name: string;
	/** Absolute path on disk (a symlink's resolved target). */
	absPath: string;
	/** Size in bytes. */
	size: number;
	/** Modification time in whole ms, as indexed. */
	mtimeMs: number;
	/** The file's identity when it was hashed (ns times, inode); serving checks it. */
	identity: FileIdentity;
	manifest: Manifest;
	/** The manifest's encoding, served to peers. */
	manifestBytes: Buffer;
	/**
	 * For a file we downloaded and seed (see `Library.seed`): the real path of the folder it
	 * must lie in when opened (the downloads folder). Absent for files of the shared folder.
	 */
	seedRoot?: string;
}

/** Events of a library. */
export interface LibraryEvents {
	/**
	 * The shared list changed; `revision` is the new revision number; `folder` is false when
	 * only the files we seed changed (see `seed`), not the shared folder's.
	 */
	changed: [revision: number, folder: boolean];
	/** Indexing moved on: at most a few per second, and one when it is done. */
	progress: [progress: IndexProgress];
}

/** Options of {@link Library.open}. */
export interface LibraryOptions {
	/**
	 * The app's data folder, where the index cache (`index-cache.bin`) is kept; without one
	 * the cache lives in memory only (a restart hashes everything again).
	 */
	dataDir?: string;
	/** Watch the folder and re-index what changes (default true). */
	watch?: boolean;
	/** Hash worker threads (default: `defaultHashWorkers()`); 0 hashes on the calling thread. */
	workers?: number;
	/**
	 * What computes manifests and reads folders; default a {@link HashPool} of `workers` threads
	 * owned (and closed) by the library. Tests pass their own to count or delay hashes; without
	 * `readDir`, folders are read on the calling thread.
	 */
	hasher?: Pick<HashPool, "hashManifest"> & Partial<Pick<HashPool, "readDir">>;
}

/** Counters of a library since it opened. */
export interface LibraryStats {
	/** Files hashed (manifest jobs that completed, whatever their outcome). */
	hashed: number;
	/** Files taken from the index cache without hashing. */
	cached: number;
	/** Hashes thrown away because the file changed while it was read. */
	changedWhileHashing: number;
}

/** Shared list publications are at least this far apart, in ms (peers see files appear). */
export const PUBLISH_MS = 300;
/** Changes are gathered this long before a publication, in ms (one folder and its files). */
const PUBLISH_COALESCE_MS = 50;
/** `progress` events are at least this far apart, in ms (the last one, done, comes at once). */
export const PROGRESS_MS = 250;
/** Watcher events are batched until the folder is quiet this long, in ms. */
export const WATCH_DEBOUNCE_MS = 150;
/** ...but a batch waits at most this long after its first event, in ms. */
const WATCH_MAX_WAIT_MS = 1_000;
/**
 * Manifest jobs handed to each hash worker at once: enough that a worker never waits for the
 * next one. A worker runs its jobs one after the other, so only one at a time holds a read
 * buffer (≤ 1 MiB).
 */
const JOBS_PER_WORKER = 8;
/** First delay before hashing again a file that changed while hashed, in ms (then doubled). */
const RETRY_MS = 50;
/** Longest delay between such attempts, in ms (a file written without pause). */
const RETRY_MAX_MS = 30_000;
/** Attempts that keep the pass (and `ready()`) waiting; later ones run in the background. */
const RETRIES_IN_PASS = 4;
/** The index cache is saved this long after indexing went idle, in ms... */
const SAVE_IDLE_MS = 1_000;
/** ...and this often while indexing is busy, in ms. */
const SAVE_BUSY_MS = 30_000;
/** Paths of a watcher batch examined at once. */
const BATCH_PARALLEL = 64;

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

/** A file waiting to be hashed. */
interface HashJob {
	absPath: string;
	size: number;
	/** The inode the walk saw (and checked to be inside the folder): the one to hash. */
	ino: bigint;
	/** Its device, when known. */
	dev?: bigint;
}

/**
 * Hashes one file into a manifest, reading it piece by piece on this thread.
 * @param absPath - the file to hash
 * @returns manifest, its encoding and the file id; throws the fs error when unreadable, or an
 *   Error when the file changed while it was read
 */
export async function hashFile(
	absPath: string,
): Promise<{ manifest: Manifest; manifestBytes: Buffer; idBytes: Buffer; mtimeMs: number }> {
	const result = await hashManifestFile(absPath);
	if (result.changed) throw new Error(`${absPath} changed while it was hashed`);
	const manifest = decodeManifest(result.manifestBytes);
	if (!manifest) throw new Error("bad manifest"); // cannot happen: we just encoded it
	return {
		manifest,
		manifestBytes: result.manifestBytes,
		idBytes: result.id,
		mtimeMs: Number(result.identity.mtimeNs / 1_000_000n),
	};
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

/** True when `name` is `prefix` itself or lies under it (`""` is the root: everything). */
function under(name: string, prefix: string): boolean {
	return prefix === "" || name === prefix || name.startsWith(`${prefix}/`);
}

/** A promise with its resolve function. */
function deferred(): { promise: Promise<void>; resolve: () => void } {
	let resolve!: () => void;
	const promise = new Promise<void>((r) => {
		resolve = r;
	});
	return { promise, resolve };
}

/** The shared folder, indexed. Create with `Library.open`. */
export class Library extends EventEmitter<LibraryEvents> {
	/** The shared files by name. */
	private byPath = new Map<string, SharedFile>();
	/** The shared files by id (several names may have the same content), first one served. */
	private byId = new Map<string, SharedFile[]>();
	/** When each shared file was added, by name (a counter: see `seq`). */
	private addedAt = new Map<string, number>();
	/** `files()`, sorted, until the list changes. */
	private sorted: SharedFile[] | undefined;
	/**
	 * Files we downloaded and seed, by the name they were listed under (outside the shared
	 * folder: no walk or watcher touches them; a read that finds one changed drops it).
	 */
	private seeds = new Map<string, SharedFile>();
	/** Every folder under the root, relative with `/`, with when it was added. */
	private folders = new Map<string, number>();
	private sortedFolders: string[] | undefined;
	/** Counter ordering additions against walks (a walk never drops what was added during it). */
	private seq = 0;
	/** Bumped by `setRoot` and `close`: work of an older epoch is thrown away. */
	private epoch = 0;
	private closed = false;

	/** Files to hash, by name, in order. */
	private queue = new Map<string, HashJob>();
	/** Names being hashed (one job per name at a time). */
	private hashing = new Set<string>();
	/** Manifest jobs running, of any epoch (bounded by `maxJobs`). */
	private running = 0;
	private readonly maxJobs: number;
	/** Attempts at a file that kept changing while hashed, by name. */
	private attempts = new Map<string, number>();
	private retryTimers = new Map<string, NodeJS.Timeout>();

	/** Files of the current pass not done yet, with their sizes. */
	private pending = new Map<string, number>();
	/** Walks and watcher batches under way. */
	private walking = 0;
	private state: IndexProgress = {
		filesDone: 0,
		filesTotal: 0,
		bytesDone: 0,
		bytesTotal: 0,
		done: false,
	};
	private progressTimer: NodeJS.Timeout | undefined;
	private lastProgress = 0;
	private firstIndex = deferred();
	private idleWaiters: (() => void)[] = [];

	private unpublished = false;
	/** The shared folder's part of the list changed since the last publication (not only seeds). */
	private folderChanged = false;
	private publishTimer: NodeJS.Timeout | undefined;
	private lastPublish = 0;
	private saveTimer: NodeJS.Timeout | undefined;
	private saveAt = 0;

	private watcher: FSWatcher | undefined;
	private dirty = new Set<string>();
	private flushTimer: NodeJS.Timeout | undefined;
	private firstDirty = 0;
	private scanning: Promise<void> | undefined;

	/** Pieces read for serving, by `id:index`, least recently used first. */
	private pieces = new Map<string, CachedPiece>();
	/** Piece buffers free for reuse, by length. */
	private spare = new Map<number, Buffer[]>();
	/** Open handles of files being served, by id, least recently used first. */
	private handles = new Map<string, Promise<fs.FileHandle | null>>();

	/** Revision of the shared list: bumped whenever the published list changes. */
	revision = 1;
	/** Counters since the library opened. */
	readonly stats: LibraryStats = { hashed: 0, cached: 0, changedWhileHashing: 0 };

	private readonly hasher: NonNullable<LibraryOptions["hasher"]>;
	private readonly ownPool: HashPool | undefined;

	private constructor(
		private currentRoot: string,
		private readonly cache: IndexCache,
		private readonly options: LibraryOptions,
	) {
		super();
		if (options.hasher) {
			this.hasher = options.hasher;
			this.maxJobs = JOBS_PER_WORKER * 2;
		} else {
			this.ownPool = new HashPool({ workers: options.workers });
			this.hasher = this.ownPool;
			this.maxJobs = JOBS_PER_WORKER * Math.max(1, this.ownPool.workers);
		}
	}

	/** Absolute, resolved path of the shared folder. */
	get root(): string {
		return this.currentRoot;
	}

	/**
	 * Opens a shared folder: loads the index cache and starts indexing, then returns (files are
	 * served as they are indexed; `ready()` tells when the whole folder is).
	 * @param dir - the folder to share (created when missing)
	 * @param options - data folder of the index cache, watching, hash workers
	 * @throws UsageError (code `SHARE_UNREADABLE`) when the folder cannot be read
	 */
	static async open(dir: string, options: LibraryOptions = {}): Promise<Library> {
		const root = await Library.resolveRoot(dir);
		const cache = await IndexCache.load(options.dataDir);
		const library = new Library(root, cache, options);
		library.start();
		return library;
	}

	/** Creates, checks and resolves a folder to share. @throws UsageError `SHARE_UNREADABLE` */
	private static async resolveRoot(dir: string): Promise<string> {
		const abs = path.resolve(dir);
		try {
			await fs.mkdir(abs, { recursive: true });
			await fs.access(abs, fsConstants.R_OK | fsConstants.X_OK);
			return await fs.realpath(abs);
		} catch (error) {
			throw new UsageError(
				`cannot read shared folder ${abs}: ${reason(error)}`,
				"SHARE_UNREADABLE",
			);
		}
	}

	/** Starts watching and the first walk of the current root. */
	private start(): void {
		const epoch = this.epoch;
		this.scan();
		if (this.options.watch === false) return;
		// The watcher walks the tree too, on this thread: it starts once the first index is
		// done, so as not to slow it, and a rescan once it is ready catches what changed before
		// it saw the folder (meanwhile the periodic rescan does).
		void this.firstIndex.promise.then(() => {
			if (epoch === this.epoch && !this.closed) this.startWatcher();
		});
	}

	/**
	 * Every shared file, sorted by name. The array is shared until the list changes: do not
	 * modify it.
	 */
	files(): SharedFile[] {
		this.sorted ??= [
			...this.byPath.values(),
			// A name of the shared folder wins over a seeded file of the same name.
			...[...this.seeds.values()].filter((f) => !this.byPath.has(f.name)),
		].sort((a, b) => (a.name < b.name ? -1 : 1));
		return this.sorted;
	}

	/**
	 * Serves a file we downloaded (verified against `manifestBytes`) under the name it was
	 * listed under, for as long as the library is open and the file stays as it is now: it
	 * is listed like a shared file (the list is republished), its reads are confined to
	 * `root` as shared files are to the shared folder, and a read that finds it changed,
	 * moved or gone stops serving it. A file of the shared folder of the same name wins.
	 * @param name - the network name (`/`-separated)
	 * @param absPath - where the verified file is (inside `root`)
	 * @param manifestBytes - its manifest's encoding (the file id is its BLAKE3)
	 * @param root - the folder it lies in (the downloads folder)
	 * @returns false when it cannot be served: not a regular file inside `root`, or its size
	 *   is not the manifest's
	 */
	async seed(name: string, absPath: string, manifestBytes: Buffer, root: string): Promise<boolean> {
		const manifest = decodeManifest(manifestBytes);
		if (!manifest || this.closed) return false;
		try {
			const realRoot = await fs.realpath(root);
			const real = await fs.realpath(absPath);
			if (!isInside(realRoot, real) || real === realRoot) return false;
			const stat = await fs.stat(real, { bigint: true });
			if (!stat.isFile() || Number(stat.size) !== manifest.size || this.closed) return false;
			const idBytes = Buffer.from(manifestId(manifestBytes));
			const previous = this.seeds.get(name);
			if (previous) this.unseedFile(previous);
			const file: SharedFile = {
				id: toHex(idBytes),
				idBytes,
				name,
				absPath: real,
				size: manifest.size,
				mtimeMs: Number(stat.mtimeNs / 1_000_000n),
				identity: identityOf(stat),
				manifest,
				manifestBytes,
				seedRoot: realRoot,
			};
			this.seeds.set(name, file);
			// After the shared folder's files of this id: they are served first.
			const same = this.byId.get(file.id);
			if (same) same.push(file);
			else this.byId.set(file.id, [file]);
			this.markListChanged(false);
			return true;
		} catch {
			return false;
		}
	}

	/** Files we downloaded and seed (see `seed`). */
	seeded(): SharedFile[] {
		return [...this.seeds.values()];
	}

	/** The downloaded file seeded under `name`, if any. */
	seeding(name: string): SharedFile | undefined {
		return this.seeds.get(name);
	}

	/** Stops seeding a downloaded file. */
	private unseedFile(file: SharedFile): void {
		if (this.seeds.get(file.name) !== file) return;
		this.seeds.delete(file.name);
		this.dropId(file);
		this.markListChanged(false);
	}

	/** Takes `file` out of `byId`; the id's open file and pieces go when it was the last. */
	private dropId(file: SharedFile): void {
		const same = this.byId.get(file.id)?.filter((f) => f !== file) ?? [];
		if (same.length > 0) this.byId.set(file.id, same);
		else {
			this.byId.delete(file.id);
			this.closeHandle(file.id);
			for (const key of [...this.pieces.keys()]) {
				if (key.startsWith(`${file.id}:`)) this.pieces.delete(key);
			}
		}
	}

	/**
	 * Every folder under the shared folder (not the root itself), relative with `/`,
	 * sorted; empty ones included, so a peer can recreate them.
	 */
	directories(): string[] {
		this.sortedFolders ??= [...this.folders.keys()].sort();
		return this.sortedFolders;
	}

	/** The shared file with this hex id, if any. */
	get(id: string): SharedFile | undefined {
		return this.byId.get(id)?.[0];
	}

	/** How far indexing has got: a copy. */
	progress(): IndexProgress {
		return { ...this.state };
	}

	/**
	 * Resolves once the first full index of the current shared folder is done (every file found
	 * by the first walk hashed or taken from the cache). Also resolves when the library closes.
	 */
	ready(): Promise<void> {
		return this.firstIndex.promise;
	}

	/**
	 * Walks the folder again: hashes new and changed files, drops deleted ones. Resolves once
	 * that work is done and published (revision bumped and `changed` emitted when the list
	 * changed). One walk at a time: a caller during a walk shares it.
	 */
	rescan(): Promise<void> {
		if (this.closed) return Promise.resolve();
		if (!this.scanning) this.scan();
		return this.scanning ?? Promise.resolve();
	}

	/**
	 * Starts a walk of the whole folder; `scanning` resolves once its work is done.
	 * @returns a promise of the walk alone
	 */
	private scan(): Promise<void> {
		const walked = this.walkUnder("", this.epoch);
		const scan: Promise<void> = walked
			.then(() => this.idle())
			.finally(() => {
				if (this.scanning === scan) this.scanning = undefined;
			});
		this.scanning = scan;
		return walked;
	}

	/**
	 * Shares another folder: stops watching the old one, stops serving its files at once
	 * (publishing the empty list), then indexes the new one as `open` does (the index cache
	 * applies). Returns once the walk has started; `ready()` then resolves when the new folder
	 * is indexed.
	 * @param dir - the new folder (created when missing)
	 * @throws UsageError (code `SHARE_UNREADABLE`) when it cannot be read; the old folder stays
	 *   shared then
	 */
	async setRoot(dir: string): Promise<void> {
		if (this.closed) throw new Error("library is closed");
		const root = await Library.resolveRoot(dir);
		await this.stopWatcher();
		this.epoch++;
		this.forgetAll();
		this.currentRoot = root;
		const previous = this.firstIndex;
		this.firstIndex = deferred();
		// Whoever waited for the old folder's index gets the new one's.
		void this.firstIndex.promise.then(previous.resolve);
		this.state = { filesDone: 0, filesTotal: 0, bytesDone: 0, bytesTotal: 0, done: false };
		this.markListChanged();
		this.publish();
		this.emitProgress(true);
		this.start();
	}

	/** Drops every file, folder and job of the current root (they stop being served). */
	private forgetAll(): void {
		for (const id of [...this.handles.keys()]) this.closeHandle(id);
		this.pieces.clear();
		this.byPath.clear();
		this.byId.clear();
		// Downloaded files are not of the shared folder: they stay served.
		for (const file of this.seeds.values())
			this.byId.set(file.id, [...(this.byId.get(file.id) ?? []), file]);
		this.addedAt.clear();
		this.folders.clear();
		this.queue.clear();
		this.hashing.clear();
		this.pending.clear();
		this.attempts.clear();
		for (const timer of this.retryTimers.values()) clearTimeout(timer);
		this.retryTimers.clear();
		this.dirty.clear();
		clearTimeout(this.flushTimer);
		this.flushTimer = undefined;
		this.scanning = undefined;
		this.walking = 0;
		this.sorted = undefined;
		this.sortedFolders = undefined;
	}

	/** A folder's entries, from the hasher's workers when it has them. */
	private readDir(dir: string): Promise<DirEntry[]> {
		return this.hasher.readDir ? this.hasher.readDir(dir) : readDirAsync(dir);
	}

	/** The absolute path of a name relative to the root. */
	private abs(name: string): string {
		return name === "" ? this.currentRoot : path.join(this.currentRoot, ...name.split("/"));
	}

	// ---- walking -------------------------------------------------------------------------

	/**
	 * Walks the folder `prefix` (`""`: the root), considering every file, then drops the files
	 * and folders under it that the walk did not find (unless added while it ran).
	 */
	private async walkUnder(prefix: string, epoch: number): Promise<void> {
		const startSeq = ++this.seq;
		const found = new Set<string>();
		const dirs = new Set<string>();
		this.walking++;
		try {
			await this.walkDir(prefix, found, dirs, epoch);
			if (epoch !== this.epoch) return;
			for (const [name, file] of this.byPath) {
				if (under(name, prefix) && !found.has(name) && (this.addedAt.get(name) ?? 0) < startSeq) {
					this.remove(file);
				}
			}
			for (const [dir, added] of this.folders) {
				if (dir !== prefix && under(dir, prefix) && !dirs.has(dir) && added < startSeq) {
					this.folders.delete(dir);
					this.sortedFolders = undefined;
					this.markListChanged();
				}
			}
		} finally {
			if (epoch === this.epoch) {
				this.walking--;
				this.checkIdle();
			}
		}
	}

	private async walkDir(
		dir: string,
		found: Set<string>,
		dirs: Set<string>,
		epoch: number,
	): Promise<void> {
		let entries: DirEntry[];
		try {
			// Read (and every entry stat'ed) in a worker: one message per folder here.
			entries = await this.readDir(this.abs(dir));
		} catch {
			return;
		}
		if (epoch !== this.epoch) return;
		const subfolders: string[] = [];
		for (const entry of entries) {
			if (isTransferFile(entry.name)) continue;
			const name = dir === "" ? entry.name : `${dir}/${entry.name}`;
			if (entry.kind === "dir") {
				dirs.add(name);
				this.addFolder(name);
				subfolders.push(name);
			} else if (entry.identity && (entry.kind === "file" || entry.kind === "link-file")) {
				const real = entry.real ?? this.abs(name);
				// A link that leads outside the shared folder is never served.
				if (entry.kind === "link-file" && !isInside(this.currentRoot, real)) continue;
				found.add(name);
				this.consider(name, real, entry.identity);
			}
			// A linked folder is not walked (no loops, no second copy of the same tree).
		}
		await Promise.all(subfolders.map((sub) => this.walkDir(sub, found, dirs, epoch)));
	}

	/**
	 * Looks at one path: a folder is recorded and walked, a file considered for indexing.
	 * @param isLink - whether it is a symlink; undefined: lstat it
	 * @returns false when nothing shareable is there (gone, a link out, a special file)
	 */
	private async visit(
		name: string,
		isLink: boolean | undefined,
		found: Set<string>,
		dirs: Set<string>,
		epoch: number,
	): Promise<boolean> {
		const absPath = this.abs(name);
		let real = absPath;
		let link = isLink;
		try {
			if (link === undefined) link = (await fs.lstat(absPath)).isSymbolicLink();
			if (link) {
				real = await fs.realpath(absPath);
				// A link that leads outside the shared folder is never served.
				if (!isInside(this.currentRoot, real)) return false;
			}
			const stat = await fs.stat(real, { bigint: true });
			if (epoch !== this.epoch) return false;
			if (stat.isDirectory()) {
				// A linked folder is not walked (no loops, no second copy of the same tree).
				if (link) return false;
				dirs.add(name);
				this.addFolder(name);
				await this.walkDir(name, found, dirs, epoch);
				return true;
			}
			if (!stat.isFile()) return false;
			found.add(name);
			this.consider(name, real, identityOf(stat));
			return true;
		} catch {
			return false;
		}
	}

	/** Records a folder (and its parents) as shared. */
	private addFolder(name: string): void {
		for (let dir = name; dir !== "" && !this.folders.has(dir); ) {
			this.folders.set(dir, ++this.seq);
			this.sortedFolders = undefined;
			this.markListChanged();
			const slash = dir.lastIndexOf("/");
			dir = slash < 0 ? "" : dir.slice(0, slash);
		}
	}

	/**
	 * A file found at `name`: nothing to do when it is shared unchanged; else its old entry
	 * stops being served, and it is taken from the index cache or queued for hashing.
	 */
	private consider(name: string, absPath: string, identity: FileIdentity): void {
		const existing = this.byPath.get(name);
		if (existing && existing.absPath === absPath && sameIdentity(existing.identity, identity)) {
			return;
		}
		// Being hashed: the job's own check after hashing sees this change and hashes again.
		if (this.hashing.has(name)) return;
		if (existing) this.remove(existing);
		this.countWork(name, identity.size);
		const cached = this.cache.lookup(absPath, identity);
		if (cached && this.addFromManifest(name, absPath, identity, cached)) {
			this.stats.cached++;
			this.attempts.delete(name);
			this.finishWork(name);
			return;
		}
		// Just written: a write in the same timestamp tick could follow unseen; wait it out.
		const hot = racyWaitMs(identity, nowNs());
		if (hot > 0) {
			this.retry(name, hot);
			return;
		}
		this.queue.set(name, { absPath, size: identity.size, ino: identity.ino, dev: identity.dev });
		this.pump();
	}

	/** Adds a file from a manifest encoding; false when the encoding does not fit the file. */
	private addFromManifest(
		name: string,
		absPath: string,
		identity: FileIdentity,
		manifestBytes: Buffer,
		idBytes?: Buffer,
	): boolean {
		const manifest = decodeManifest(manifestBytes);
		if (!manifest || manifest.size !== identity.size) return false;
		const id = idBytes ?? manifestId(manifestBytes);
		this.add({
			id: toHex(id),
			idBytes: id,
			name,
			absPath,
			size: identity.size,
			mtimeMs: Number(identity.mtimeNs / 1_000_000n),
			identity,
			manifest,
			manifestBytes,
		});
		return true;
	}

	// ---- hashing -------------------------------------------------------------------------

	/** Starts queued jobs while fewer than `maxJobs` run. */
	private pump(): void {
		while (this.running < this.maxJobs && this.queue.size > 0) {
			const [name, job] = this.queue.entries().next().value as [string, HashJob];
			this.queue.delete(name);
			if (this.hashing.has(name)) continue;
			this.hashing.add(name);
			this.running++;
			void this.hash(name, job, this.epoch, () => {
				this.running--;
				this.pump();
			});
		}
	}

	/**
	 * Hashes one file in a worker and shares it, unless it changed while it was read: then it
	 * is hashed again.
	 */
	private async hash(
		name: string,
		job: HashJob,
		epoch: number,
		freeSlot: () => void,
	): Promise<void> {
		const startedNs = nowNs();
		let result: ManifestHash | undefined;
		try {
			result = await this.hasher.hashManifest(job.absPath, job.size);
		} catch {
			// Unreadable, vanished, not a file any more, or the pool closed.
		} finally {
			// The worker is free: the next job goes while this one's result is checked.
			freeSlot();
		}
		if (epoch !== this.epoch) return;
		this.stats.hashed++;
		this.hashing.delete(name);
		if (!result) {
			const stale = this.byPath.get(name);
			if (stale) this.remove(stale);
			this.attempts.delete(name);
			this.finishWork(name);
			return;
		}
		// The worker compared the file's stat before its first read, after its last, and the
		// path's after that; a change later than that is the watcher's (or a read's) to see.
		if (result.changed) {
			this.stats.changedWhileHashing++;
			this.retry(name);
			return;
		}
		if (
			result.identity.ino !== job.ino ||
			(job.dev !== undefined &&
				result.identity.dev !== undefined &&
				result.identity.dev !== job.dev)
		) {
			// Not the file the walk checked (the path was swapped, perhaps for a link leading
			// out of the folder): look at the path again before anything is advertised.
			this.stats.changedWhileHashing++;
			this.retry(name);
			return;
		}
		if (isRacy(result.identity, startedNs)) {
			// It changed just before the read began: what it holds now is not certain yet.
			this.retry(name);
			return;
		}
		this.attempts.delete(name);
		this.cache.remember(job.absPath, result.identity, result.manifestBytes, startedNs);
		const existing = this.byPath.get(name);
		if (existing) this.remove(existing);
		this.addFromManifest(name, job.absPath, result.identity, result.manifestBytes, result.id);
		this.finishWork(name);
	}

	/**
	 * Looks at a file again (and hashes it) after a delay that doubles with each attempt, and is
	 * at least `atLeast` ms. The first attempts keep the pass waiting (so `ready()` sees the
	 * file); later ones, for a file written without pause, run as new work.
	 */
	private retry(name: string, atLeast = 0): void {
		const attempts = (this.attempts.get(name) ?? 0) + 1;
		this.attempts.set(name, attempts);
		const delay = Math.max(atLeast, Math.min(RETRY_MAX_MS, RETRY_MS * 2 ** (attempts - 1)));
		if (attempts > RETRIES_IN_PASS) this.finishWork(name);
		clearTimeout(this.retryTimers.get(name));
		const epoch = this.epoch;
		const timer = setTimeout(() => {
			this.retryTimers.delete(name);
			if (epoch !== this.epoch) return;
			// Looked at afresh: it may be gone, or a folder now.
			this.walking++;
			void this.visit(name, undefined, new Set(), new Set(), epoch).then((there) => {
				if (epoch !== this.epoch) return;
				if (!there) this.removeUnder(name);
				const waiting =
					this.queue.has(name) || this.hashing.has(name) || this.retryTimers.has(name);
				if (!waiting) this.finishWork(name);
				this.walking--;
				this.checkIdle();
			});
		}, delay);
		// While someone may await this pass (ready(), rescan()), the wait keeps the process up;
		// a file that keeps changing is then retried in the background.
		if (!this.pending.has(name)) timer.unref();
		this.retryTimers.set(name, timer);
	}

	// ---- the list ------------------------------------------------------------------------

	private add(file: SharedFile): void {
		this.byPath.set(file.name, file);
		this.addedAt.set(file.name, ++this.seq);
		const same = this.byId.get(file.id);
		if (same) same.push(file);
		else this.byId.set(file.id, [file]);
		this.markListChanged();
	}

	/**
	 * Stops sharing a file at once (its id is no longer served unless another name has the
	 * same content). Its index cache entry stays until the next save after a full index (a
	 * renamed file is found there by inode).
	 */
	private remove(file: SharedFile): void {
		if (this.byPath.get(file.name) !== file) return;
		this.byPath.delete(file.name);
		this.addedAt.delete(file.name);
		this.dropId(file);
		this.markListChanged();
	}

	/** Stops sharing everything at or under `name` (a deleted file or folder). */
	private removeUnder(name: string): void {
		for (const [other, file] of this.byPath) if (under(other, name)) this.remove(file);
		for (const dir of this.folders.keys()) {
			if (under(dir, name)) {
				this.folders.delete(dir);
				this.sortedFolders = undefined;
				this.markListChanged();
			}
		}
	}

	/** The list changed: publish it soon (at most every {@link PUBLISH_MS}). */
	private markListChanged(folder = true): void {
		this.sorted = undefined;
		this.unpublished = true;
		if (folder) this.folderChanged = true;
		if (this.publishTimer || this.closed) return;
		const wait = Math.max(PUBLISH_COALESCE_MS, this.lastPublish + PUBLISH_MS - Date.now());
		this.publishTimer = setTimeout(() => this.publish(), wait);
		this.publishTimer.unref();
	}

	/** Bumps the revision and emits `changed`, when the list changed since the last time. */
	private publish(): void {
		clearTimeout(this.publishTimer);
		this.publishTimer = undefined;
		if (!this.unpublished || this.closed) return;
		this.unpublished = false;
		const folder = this.folderChanged;
		this.folderChanged = false;
		this.lastPublish = Date.now();
		this.revision = (this.revision + 1) >>> 0 || 1;
		this.emit("changed", this.revision, folder);
		this.requestSave(this.state.done ? SAVE_IDLE_MS : SAVE_BUSY_MS);
	}

	// ---- progress ------------------------------------------------------------------------

	/** A file joins the work of the pass (a new pass starts when the last one was done). */
	private countWork(name: string, size: number): void {
		if (this.pending.has(name)) return;
		if (this.state.done) {
			this.state = { filesDone: 0, filesTotal: 0, bytesDone: 0, bytesTotal: 0, done: false };
		}
		this.pending.set(name, size);
		this.state.filesTotal++;
		this.state.bytesTotal += size;
		this.emitProgress(false);
	}

	/** A file of the pass is done (indexed, or given up). */
	private finishWork(name: string): void {
		const size = this.pending.get(name);
		if (size === undefined) return;
		this.pending.delete(name);
		this.state.filesDone++;
		this.state.bytesDone += size;
		this.emitProgress(false);
		this.checkIdle();
	}

	/** When nothing is walking or pending: the pass is done. */
	private checkIdle(): void {
		if (this.walking > 0 || this.pending.size > 0 || this.closed) return;
		const wasDone = this.state.done;
		this.state.done = true;
		// The pass's last batch goes out now rather than up to PUBLISH_MS later.
		this.publish();
		if (!wasDone) this.emitProgress(true);
		this.firstIndex.resolve();
		this.requestSave(SAVE_IDLE_MS);
		const waiters = this.idleWaiters;
		this.idleWaiters = [];
		for (const resolve of waiters) resolve();
	}

	/** Resolves when indexing is idle (now, or when the pass under way ends). */
	private idle(): Promise<void> {
		if (this.closed || (this.walking === 0 && this.pending.size === 0)) return Promise.resolve();
		return new Promise((resolve) => this.idleWaiters.push(resolve));
	}

	/** Emits `progress` now (forced) or within {@link PROGRESS_MS}. */
	private emitProgress(force: boolean): void {
		if (this.closed) return;
		const wait = this.lastProgress + PROGRESS_MS - Date.now();
		if (force || wait <= 0) {
			clearTimeout(this.progressTimer);
			this.progressTimer = undefined;
			this.lastProgress = Date.now();
			this.emit("progress", this.progress());
		} else if (!this.progressTimer) {
			this.progressTimer = setTimeout(() => this.emitProgress(true), wait);
			this.progressTimer.unref();
		}
	}

	/** Saves the index cache within `delay` ms (an earlier request wins). */
	private requestSave(delay: number): void {
		if (this.closed || !this.cache.file) return;
		const at = Date.now() + delay;
		if (this.saveTimer && this.saveAt <= at) return;
		clearTimeout(this.saveTimer);
		this.saveAt = at;
		this.saveTimer = setTimeout(() => {
			this.saveTimer = undefined;
			void this.saveCache();
		}, delay);
		this.saveTimer.unref();
	}

	/**
	 * Saves the index cache. After a full index, entries of files under the shared folder that
	 * are no longer shared (deleted, or changed since) are dropped first; other folders' entries
	 * stay (sharing them again is then a warm start), within the cache's size bound.
	 */
	private saveCache(): Promise<boolean> {
		if (this.state.done && this.walking === 0) {
			const root = this.currentRoot;
			const shared = new Set<string>();
			for (const file of this.byPath.values()) shared.add(file.absPath);
			this.cache.prune((absPath) => !isInside(root, absPath) || shared.has(absPath));
		}
		return this.cache.save();
	}

	// ---- watching ------------------------------------------------------------------------

	/**
	 * Watches the folder with chokidar, folders only: chokidar keeps a watch on every folder
	 * (following the ones created and removed), and each folder's watch reports what happens
	 * to the entries in it (created, written, touched, renamed, deleted) as `raw` events with
	 * the entry's name. Files are not watched one by one, which would cost an inotify watch and
	 * memory per file (10,000 files: 10,000 watches, about 80 MB).
	 */
	private startWatcher(): void {
		const root = this.currentRoot;
		const watcher = watch(root, {
			ignoreInitial: true,
			// Links are judged by the walk (only targets inside the folder), not followed here.
			followSymlinks: false,
			// The watcher must never keep the process alive.
			persistent: false,
			ignored: (p: string, stats?: { isFile(): boolean; isSymbolicLink(): boolean }) =>
				isTransferFile(path.basename(p)) ||
				stats?.isFile() === true ||
				stats?.isSymbolicLink() === true,
		});
		const changed = (absPath: string) => {
			if (this.watcher !== watcher || isTransferFile(path.basename(absPath))) return;
			if (!isInside(root, absPath)) return;
			const rel = path.relative(root, absPath);
			const name = rel.split(path.sep).join("/");
			// What was shared under this name stops being served at once if it changed.
			if (name !== "") void this.checkServed(name);
			this.markDirty(name);
		};
		watcher.on("raw", (_event, entry, details) => {
			const dir = (details as { watchedPath?: unknown } | undefined)?.watchedPath;
			if (typeof dir !== "string") return;
			// Without an entry name (some platforms), the whole folder is looked at again.
			changed(typeof entry === "string" && entry !== "" ? path.resolve(dir, entry) : dir);
		});
		watcher.on("all", (_event, entry) => changed(entry));
		watcher.on("ready", () => {
			if (this.watcher === watcher) void this.rescan();
		});
		// Errors (a watch limit reached, a folder unreadable) leave the periodic rescan to catch up.
		watcher.on("error", () => {});
		this.watcher = watcher;
	}

	private async stopWatcher(): Promise<void> {
		const watcher = this.watcher;
		this.watcher = undefined;
		await watcher?.close().catch(() => {});
	}

	/** Stops serving a file at once when it is no longer as it was hashed. */
	private async checkServed(name: string): Promise<void> {
		const file = this.byPath.get(name);
		if (!file) return;
		let now: FileIdentity | undefined;
		try {
			now = identityOf(await fs.stat(file.absPath, { bigint: true }));
		} catch {
			// Gone.
		}
		if (!now || !sameIdentity(now, file.identity)) this.remove(file);
	}

	/** A path changed: look at it again in the next batch. */
	private markDirty(name: string): void {
		if (this.closed) return;
		if (this.dirty.size === 0) this.firstDirty = Date.now();
		this.dirty.add(name);
		clearTimeout(this.flushTimer);
		const wait = Math.min(WATCH_DEBOUNCE_MS, this.firstDirty + WATCH_MAX_WAIT_MS - Date.now());
		this.flushTimer = setTimeout(() => void this.flush(), Math.max(0, wait));
		this.flushTimer.unref();
	}

	/** Re-indexes the paths of a watcher batch: each file, and each folder's tree. */
	private async flush(): Promise<void> {
		this.flushTimer = undefined;
		const epoch = this.epoch;
		const batch = [...this.dirty].sort();
		this.dirty.clear();
		this.walking++;
		try {
			// A folder walked in this batch covers the paths under it.
			const walked = new Set<string>();
			const covered = (name: string) => {
				for (let i = name.lastIndexOf("/"); i > 0; i = name.lastIndexOf("/", i - 1)) {
					if (walked.has(name.slice(0, i))) return true;
				}
				return false;
			};
			for (let i = 0; i < batch.length; i += BATCH_PARALLEL) {
				const slice = batch.slice(i, i + BATCH_PARALLEL).filter((name) => !covered(name));
				await Promise.all(
					slice.map(async (name) => {
						let stat: import("node:fs").Stats | undefined;
						try {
							stat = await fs.lstat(this.abs(name));
						} catch {
							// Gone.
						}
						if (epoch !== this.epoch) return;
						if (!stat) this.removeUnder(name);
						else if (stat.isDirectory()) {
							walked.add(name);
							this.addFolder(name);
							await this.walkUnder(name, epoch);
						} else {
							const there = await this.visit(name, undefined, new Set(), new Set(), epoch);
							if (!there && epoch === this.epoch) this.removeUnder(name);
						}
					}),
				);
				if (epoch !== this.epoch) return;
			}
			// Links to a changed file see it changed too.
			const changed = new Set(batch);
			for (const file of [...this.byPath.values()]) {
				if (file.absPath !== this.abs(file.name) && changed.has(this.relOf(file.absPath))) {
					await this.visit(file.name, true, new Set(), new Set(), epoch);
				}
			}
		} finally {
			if (epoch === this.epoch) {
				this.walking--;
				this.checkIdle();
			}
		}
	}

	/** The relative name of an absolute path under the root. */
	private relOf(absPath: string): string {
		return path.relative(this.currentRoot, absPath).split(path.sep).join("/");
	}

	// ---- serving -------------------------------------------------------------------------

	/**
	 * Reads `length` bytes of a shared file at `offset`, for serving. The range must lie
	 * inside one piece. The whole piece is read once into a small cache (a leecher asks for
	 * its blocks one after the other), and each answer is a copy of the block, which dies
	 * young; the cache's piece buffers are reused, so a seeder's memory stays flat whatever
	 * the file size. Files stay open between reads; every piece read first checks the
	 * opened file still has the identity it was hashed with (size, mtime and ctime in ns,
	 * inode).
	 * @param id - hex file id
	 * @param offset - byte offset in the file
	 * @param length - bytes wanted
	 * @returns a new buffer with the bytes, or null when the file is not shared, the range
	 *   is outside one piece, or the file changed since it was indexed (which stops serving
	 *   that id at once and re-indexes the file)
	 */
	async read(id: string, offset: number, length: number): Promise<Buffer | null> {
		const file = this.get(id);
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
		if (!handle) {
			// Gone, or refused (a link now, or outside the folder): stop serving it until the
			// path is looked at again.
			this.closeHandle(file.id);
			this.forget(file);
			return null;
		}
		try {
			// Check the opened file itself: a path swapped after indexing cannot slip past.
			const stat = await handle.stat({ bigint: true });
			if (!stat.isFile() || !sameIdentity(identityOf(stat), file.identity)) {
				this.forget(file);
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

	/**
	 * Stops serving a file found changed or gone: a shared one until its path is looked at
	 * again, a downloaded one for good.
	 */
	private forget(file: SharedFile): void {
		if (file.seedRoot !== undefined) {
			this.unseedFile(file);
			return;
		}
		this.remove(file);
		this.markDirty(file.name);
	}

	/**
	 * The open handle of a shared file (opened once, kept in a small LRU; every read is served
	 * from it, so a path swapped later changes nothing). Opened without following a link
	 * (`absPath` is already the resolved path), then checked: the handle must be a regular
	 * file with the identity indexed (device and inode among it) and its real path inside the
	 * shared folder (`openedInside`). Null when it cannot be opened or fails a check.
	 */
	private open(file: SharedFile): Promise<fs.FileHandle | null> {
		let handle = this.handles.get(file.id);
		if (handle) {
			this.handles.delete(file.id); // re-insert: most recently used last
		} else {
			handle = openConfined(file, file.seedRoot ?? this.currentRoot);
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

	/**
	 * Stops watching and indexing, closes every open file and the hash workers, and saves the
	 * index cache. Safe to call twice.
	 */
	async close(): Promise<void> {
		if (this.closed) return;
		this.closed = true;
		this.epoch++;
		for (const timer of [this.progressTimer, this.publishTimer, this.saveTimer, this.flushTimer])
			clearTimeout(timer);
		for (const timer of this.retryTimers.values()) clearTimeout(timer);
		this.retryTimers.clear();
		this.queue.clear();
		for (const id of [...this.handles.keys()]) this.closeHandle(id);
		this.firstIndex.resolve();
		for (const resolve of this.idleWaiters.splice(0)) resolve();
		await this.stopWatcher();
		await this.ownPool?.close();
		await this.saveCache();
	}
}

/**
 * Opens a shared file for serving, or null: `O_NOFOLLOW` (a link put at its path is not
 * followed), then the opened file itself must be the regular file indexed (identity, device
 * and inode included) and lie inside `root` (from the handle: a path swapped between the
 * check and the open cannot slip past). The handle is closed when it is refused.
 * @param file - the shared file (its `absPath` and `identity`)
 * @param root - the shared folder's real path
 */
async function openConfined(file: SharedFile, root: string): Promise<fs.FileHandle | null> {
	let handle: fs.FileHandle;
	try {
		handle = await fs.open(file.absPath, fsConstants.O_RDONLY | O_NOFOLLOW);
	} catch {
		return null;
	}
	try {
		const stat = await handle.stat({ bigint: true });
		if (
			stat.isFile() &&
			sameIdentity(identityOf(stat), file.identity) &&
			(await openedInside(handle, file.absPath, root, stat))
		)
			return handle;
	} catch {
		// Refused below.
	}
	await handle.close().catch(() => {});
	return null;
}

/** The message of an unknown thrown value. */
export function reason(error: unknown): string {
	if (error && typeof error === "object" && "code" in error && typeof error.code === "string") {
		return error.code === "EACCES" ? "permission denied" : error.code;
	}
	return error instanceof Error ? error.message : String(error);
}
