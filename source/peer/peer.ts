/**
 * The headless core: one peer of the swarm. It wires the library (what we share),
 * discovery (who is out there) and the transfer engine (moving pieces), keeps the merged
 * view of the network's files, and emits typed events. The TUI, `serve` and the one-shot
 * commands are all consumers of this class; it knows nothing of React or terminals.
 */
import { randomBytes } from "node:crypto";
import { EventEmitter } from "node:events";
import { constants as fsConstants } from "node:fs";
import fs from "node:fs/promises";
import path from "node:path";
import { Discovery } from "../discovery/discovery.js";
import { OperationError, UsageError } from "../errors.js";
import { Library, reason } from "../library/library.js";
import { downloadTarget, isInside } from "../library/paths.js";
import { toHex } from "../protocol/hash.js";
import type { Download } from "../transfer/download.js";
import { type EngineStats, type RemoteFile, TransferEngine } from "../transfer/engine.js";
import type { ServeStats } from "../transfer/serve.js";
import type {
	FolderTransferState,
	IndexProgress,
	NetworkFile,
	NetworkFolder,
	PeerRecord,
	SelfInfo,
	TransferState,
} from "./types.js";

/** How often running downloads are offered the peers that list their file, in ms. */
const RESUPPLY_MS = 1_000;

/** Options of a peer. Every address is configurable: tests pass loopback ones. */
export interface PeerOptions {
	/** Name announced to others (at most 64 bytes of UTF-8). */
	name: string;
	/** Folder to share. */
	shareDir: string;
	/** Folder downloads land in. */
	downloadsDir: string;
	/** Transfer base port; when absent the first free block of four from the default. */
	basePort?: number;
	/** Discovery UDP port. */
	discoveryPort: number;
	/** Broadcast addresses for announces, e.g. `["127.255.255.255"]`. */
	broadcast: string[];
	/** Announce interval in ms. */
	interval: number;
	/** Address to bind sockets to (default all interfaces). */
	bindAddress?: string;
	/** Upload cap in bytes per second (unlimited when absent). */
	maxUploadRate?: number;
	/**
	 * How often the shared folder is re-scanned for changes, in ms (default 30000): a safety net
	 * behind the watcher, which catches changes within a second.
	 */
	rescanInterval?: number;
	/**
	 * The app's data folder: the index cache is kept there, so a restart re-hashes only what
	 * changed. Without one the cache lives in memory only.
	 */
	dataDir?: string;
}

/** Events of a peer; every payload is plain data. */
export interface PeerEvents {
	"peer-joined": [peer: PeerRecord];
	"peer-left": [peer: PeerRecord, reason: "bye" | "expired"];
	"peer-updated": [peer: PeerRecord];
	/** The merged list of files on the network changed. */
	"files-changed": [];
	/** Our shared folder was re-indexed; `files` is how many we share. */
	"library-changed": [files: number];
	"download-started": [transfer: TransferState];
	"download-progress": [transfer: TransferState];
	"download-complete": [transfer: TransferState];
	"download-failed": [transfer: TransferState];
	/** Indexing of our shared folder moved on (at most a few times a second). */
	"index-progress": [progress: IndexProgress];
	"folder-progress": [folder: FolderTransferState];
	"folder-complete": [folder: FolderTransferState];
	"folder-failed": [folder: FolderTransferState];
}

interface RemoteList {
	revision: number;
	files: RemoteFile[];
}

/** A running peer. Create with `Peer.start`. */
export class Peer extends EventEmitter<PeerEvents> {
	/** Our per-process peer id (16 random bytes): two peers on one host never share it. */
	readonly peerId = randomBytes(16);
	readonly id = toHex(this.peerId);
	private readonly lists = new Map<string, RemoteList>();
	private readonly fetching = new Map<string, Promise<void>>();
	private discovery!: Discovery;
	private engine!: TransferEngine;
	private library!: Library;
	private rescanTimer: NodeJS.Timeout | undefined;
	private resupplyTimer: NodeJS.Timeout | undefined;
	private stopping: Promise<void> | undefined;

	private constructor(readonly options: PeerOptions) {
		super();
	}

	/**
	 * Starts indexing the shared folder (in worker threads; files are served as they are
	 * indexed, see `indexed()`), binds the transfer ports and the discovery port, and
	 * announces.
	 * @throws UsageError (exit code 2) for an unreadable shared folder, an unwritable
	 *   downloads folder, nested folders, or a port in use
	 */
	static async start(options: PeerOptions): Promise<Peer> {
		const peer = new Peer(options);
		const downloads = path.resolve(options.downloadsDir);
		try {
			await fs.mkdir(downloads, { recursive: true });
			await fs.access(downloads, fsConstants.W_OK);
		} catch (error) {
			throw new UsageError(
				`cannot write downloads folder ${downloads}: ${reason(error)}`,
				"DOWNLOADS_UNWRITABLE",
			);
		}
		const share = path.resolve(options.shareDir);
		if (isInside(share, downloads) || isInside(downloads, share)) {
			throw new UsageError(
				`shared folder ${share} and downloads folder ${downloads} must not be the same or nested`,
				"FOLDERS_NESTED",
			);
		}
		peer.library = await Library.open(share, { dataDir: options.dataDir });
		try {
			peer.engine = await TransferEngine.open({
				library: peer.library,
				basePort: options.basePort,
				bindAddress: options.bindAddress,
				selfId: peer.id,
				peerId: peer.peerId,
				peers: () => peer.peers(),
				maxUploadRate: options.maxUploadRate,
			});
		} catch (error) {
			// Indexing has started in the background: stop it (and its workers) too.
			await peer.library.close();
			throw error;
		}
		try {
			peer.discovery = await Discovery.start({
				peerId: peer.peerId,
				selfId: peer.id,
				port: options.discoveryPort,
				broadcast: options.broadcast,
				interval: options.interval,
				bindAddress: options.bindAddress,
				describe: () => ({
					name: options.name,
					basePort: peer.engine.ports.receive,
					revision: peer.library.revision,
					fileCount: peer.library.files().length,
				}),
			});
		} catch (error) {
			await peer.engine.close();
			await peer.library.close();
			throw error;
		}
		peer.wire();
		return peer;
	}

	private wire(): void {
		this.discovery.on("peer-joined", (p) => {
			this.engine.peerJoined(p);
			this.emit("peer-joined", p);
			this.refreshList(p);
		});
		this.discovery.on("peer-updated", (p, revisionChanged) => {
			const list = this.lists.get(p.id);
			if (list) p.files = list.files.length;
			this.emit("peer-updated", p);
			if (revisionChanged || !list) this.refreshList(p);
		});
		this.discovery.on("peer-left", (p, why) => {
			this.lists.delete(p.id);
			for (const d of this.engine.downloads.values()) d.removeSource(p.address, p.ports.send);
			this.emit("peer-left", p, why);
			this.emit("files-changed");
		});
		this.library.on("changed", () => {
			this.emit("library-changed", this.library.files().length);
			void this.discovery.announce();
		});
		this.library.on("progress", (progress) => this.emit("index-progress", progress));
		this.engine.on("download-progress", (d) => this.emit("download-progress", d.state()));
		this.engine.on("download-complete", (d) => this.emit("download-complete", d.state()));
		this.engine.on("download-failed", (d) => this.emit("download-failed", d.state()));
		this.engine.on("peer-banned", (id) => {
			const p = this.peers().find((known) => known.id === id);
			if (p) this.emit("peer-updated", p);
		});
		this.rescanTimer = setInterval(
			() => void this.library.rescan(),
			this.options.rescanInterval ?? 30_000,
		);
		this.rescanTimer.unref();
		this.resupplyTimer = setInterval(() => this.resupply(), RESUPPLY_MS);
		this.resupplyTimer.unref();
	}

	/**
	 * Offers every running download the peers that list its file again: a source dropped
	 * after an error or a stall comes back, and a waiting download goes on by itself.
	 */
	private resupply(): void {
		for (const [id, download] of this.engine.downloads) {
			if (download.status !== "downloading" && download.status !== "waiting") continue;
			for (const [peerId, list] of this.lists) {
				if (!list.files.some((f) => f.id === id)) continue;
				const p = this.discovery.table.get(peerId);
				if (p) download.addSource({ peerId: p.id, address: p.address, port: p.ports.send });
			}
		}
	}

	/** Fetches a peer's list (once at a time per peer) and adds it as a source where it fits. */
	private refreshList(peer: PeerRecord): void {
		if (this.fetching.has(peer.id)) return;
		const job = this.engine
			.fetchList(peer)
			.then((list) => {
				if (!this.discovery.table.get(peer.id)) return;
				this.lists.set(peer.id, list);
				peer.files = list.files.length;
				for (const f of list.files) {
					const d = this.engine.downloads.get(f.id);
					if (d) d.addSource({ peerId: peer.id, address: peer.address, port: peer.ports.send });
				}
				this.emit("peer-updated", peer);
				this.emit("files-changed");
			})
			.catch(() => {
				// The next announce tries again.
			})
			.finally(() => this.fetching.delete(peer.id));
		this.fetching.set(peer.id, job);
	}

	/** Waits until every list fetch under way has ended. */
	async settled(): Promise<void> {
		while (this.fetching.size > 0) await Promise.all(this.fetching.values());
	}

	/** Our identity, folders and ports. */
	self(): SelfInfo {
		return {
			id: this.id,
			name: this.options.name,
			shareDir: this.library.root,
			downloadsDir: path.resolve(this.options.downloadsDir),
			ports: this.engine.ports,
			discoveryPort: this.options.discoveryPort,
			sharedFiles: this.library.files().length,
		};
	}

	/** Known peers, by name; `banned` tells the ones banned this session for bad pieces. */
	peers(): PeerRecord[] {
		return this.discovery
			.peers()
			.map((p) => ({ ...p, banned: this.engine.banned.has(p.id) }))
			.sort((a, b) => a.name.localeCompare(b.name) || a.id.localeCompare(b.id));
	}

	/** Every file on the network (not our own), merged by id, sorted by name. */
	files(): NetworkFile[] {
		const merged = new Map<string, NetworkFile>();
		for (const [peerId, list] of this.lists) {
			for (const f of list.files) {
				const known = merged.get(f.id);
				if (known) known.peers.push(peerId);
				else
					merged.set(f.id, {
						id: f.id,
						name: f.name,
						size: f.size,
						contentHash: f.contentHash,
						peers: [peerId],
					});
			}
		}
		return [...merged.values()].sort(
			(a, b) => a.name.localeCompare(b.name) || a.id.localeCompare(b.id),
		);
	}

	/**
	 * Every folder on the network, merged by path, sorted by path: the folders implied by
	 * the files' paths.
	 */
	folders(): NetworkFolder[] {
		const folders = new Map<string, { ids: Map<string, number>; peers: Set<string> }>();
		for (const [peerId, list] of this.lists) {
			for (const f of list.files) {
				const parts = f.name.split("/");
				for (let depth = 1; depth < parts.length; depth++) {
					const folderPath = parts.slice(0, depth).join("/");
					let folder = folders.get(folderPath);
					if (!folder) {
						folder = { ids: new Map(), peers: new Set() };
						folders.set(folderPath, folder);
					}
					folder.ids.set(f.id, f.size);
					folder.peers.add(peerId);
				}
			}
		}
		return [...folders]
			.map(([folderPath, f]) => ({
				path: folderPath,
				files: f.ids.size,
				size: [...f.ids.values()].reduce((a, b) => a + b, 0),
				peers: [...f.peers],
			}))
			.sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
	}

	/** Whole-folder downloads of this session, oldest first. */
	folderTransfers(): FolderTransferState[] {
		return [];
	}

	/** How far indexing of our shared folder has got (files indexed so far are served). */
	indexProgress(): IndexProgress {
		return this.library.progress();
	}

	/**
	 * Resolves once the first full index of our shared folder is done (`Peer.start` does not
	 * wait for it: files are served as they are indexed).
	 */
	indexed(): Promise<void> {
		return this.library.ready();
	}

	/** Files we share ourselves. */
	sharedFiles(): { id: string; name: string; size: number; contentHash: string }[] {
		return this.library.files().map((f) => ({
			id: f.id,
			name: f.name,
			size: f.size,
			contentHash: toHex(f.manifest.contentHash),
		}));
	}

	/**
	 * Finds a network file by id, by unique id prefix (8+ hex characters) or by exact name.
	 * @returns the file, or undefined
	 */
	findFile(query: string): NetworkFile | undefined {
		const files = this.files();
		const q = query.startsWith("p2p:") ? query.slice(4) : query;
		const byId = files.find((f) => f.id === q.toLowerCase());
		if (byId) return byId;
		if (/^[0-9a-f]{8,}$/i.test(q)) {
			const matches = files.filter((f) => f.id.startsWith(q.toLowerCase()));
			if (matches.length === 1) return matches[0];
		}
		return files.find((f) => f.name === q);
	}

	/** Every download of this session, newest last. */
	transfers(): TransferState[] {
		return [...this.engine.downloads.values()].map((d) => d.state());
	}

	/** Payload bytes uploaded so far (answers plus pushes). */
	get uploaded(): number {
		return this.engine.uploaded;
	}

	/** Datagrams dropped as malformed or unexpected, on the discovery and transfer ports. */
	get malformed(): number {
		return (
			this.discovery.table.malformed +
			this.engine.stats.malformed +
			this.engine.service.stats.malformed
		);
	}

	/** Counters of the transfer engine and its send port (for reporters and benchmarks). */
	transferStats(): EngineStats & ServeStats {
		return { ...this.engine.stats, ...this.engine.service.stats };
	}

	/** The running download of a file, if any (for tests and reporters). */
	downloadOf(fileId: string): Download | undefined {
		return this.engine.downloads.get(fileId);
	}

	/**
	 * Downloads a network file into the downloads folder, verified piece by piece and as a
	 * whole.
	 * @param fileId - hex id of a file in `files()`
	 * @returns the finished transfer (with `path`)
	 * @throws OperationError `NOT_FOUND` (unknown id), `NO_SOURCE` (no manifest), `UNSAFE_NAME`,
	 *   or `FAILED` when the download fails
	 */
	async download(fileId: string): Promise<TransferState> {
		const file = this.files().find((f) => f.id === fileId);
		if (!file) throw new OperationError(`no peer shares ${fileId}`, "NOT_FOUND");
		const running = this.engine.downloads.get(fileId);
		if (running && running.status !== "failed") return this.waitFor(running);
		const target = downloadTarget(this.options.downloadsDir, file.name);
		if (!target)
			throw new OperationError(
				`refusing unsafe file name ${JSON.stringify(file.name)}`,
				"UNSAFE_NAME",
			);
		const sources = file.peers.flatMap((id) => {
			const p = this.discovery.table.get(id);
			return p ? [{ peerId: p.id, address: p.address, port: p.ports.send }] : [];
		});
		let manifest: Awaited<ReturnType<TransferEngine["fetchManifest"]>>;
		try {
			manifest = await this.engine.fetchManifest(fileId, sources);
		} catch (error) {
			throw new OperationError(
				`cannot get the manifest of ${file.name}: ${reason(error)}`,
				"NO_SOURCE",
			);
		}
		const download = this.engine.download(fileId, file.name, manifest, target, sources);
		this.emit("download-started", download.state());
		return this.waitFor(download);
	}

	/**
	 * Downloads a whole network folder: its tree, names and empty subfolders recreated
	 * under the downloads folder, every file verified.
	 * @param folderPath - a path of `folders()`
	 * @returns the finished folder transfer
	 * @throws OperationError `NOT_FOUND` (unknown folder) or `FAILED`
	 */
	async downloadFolder(folderPath: string): Promise<FolderTransferState> {
		throw new OperationError(`cannot download folder ${folderPath} yet`, "NOT_FOUND");
	}

	private waitFor(download: Download): Promise<TransferState> {
		if (download.status === "complete") return Promise.resolve(download.state());
		return new Promise((resolve, reject) => {
			download.once("complete", () => resolve(download.state()));
			download.once("failed", (error) =>
				reject(new OperationError(`download failed: ${error}`, "FAILED")),
			);
		});
	}

	/**
	 * Says goodbye (leave message) and closes every socket; partial downloads stay on disk.
	 * Safe to call twice.
	 */
	stop(): Promise<void> {
		this.stopping ??= (async () => {
			clearInterval(this.rescanTimer);
			clearInterval(this.resupplyTimer);
			await this.discovery.close();
			await this.engine.close();
			await this.library.close();
		})();
		return this.stopping;
	}
}
