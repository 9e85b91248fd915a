/**
 * The headless core: one peer of the swarm. It wires the library (what we share),
 * discovery (who is out there) and the transfer engine (moving pieces), keeps the merged
 * view of the network's files, and emits typed events. The TUI, `serve` and the one-shot
 * commands are all consumers of this class; it knows nothing of React or terminals.
 */
import { EventEmitter } from "node:events";
import { constants as fsConstants } from "node:fs";
import fs from "node:fs/promises";
import path from "node:path";
import { type ContactStats, Discovery } from "../discovery/discovery.js";
import {
	formatPeerAddress,
	type PeerAddress,
	parsePeerAddress,
} from "../discovery/peer-address.js";
import { OperationError, UsageError } from "../errors.js";
import { prepareFolder, prepareTarget } from "../library/confine.js";
import { Library, reason } from "../library/library.js";
import {
	downloadTarget,
	isInside,
	numberedName,
	PARTIAL_SUFFIX,
	RESUME_SUFFIX,
} from "../library/paths.js";
import { toHex } from "../protocol/hash.js";
import { Identity } from "../protocol/identity.js";
import {
	encodeManifest,
	type Manifest,
	manifestId,
	pieceCount,
	pieceSizeFor,
} from "../protocol/manifest.js";
import { collisionKey, numberedSafeName, sanitizeName } from "../protocol/names.js";
import { decodeResume } from "../protocol/resume.js";
import { MAX_SECRET_BYTES, NetworkGuard, type SealStats } from "../protocol/seal.js";
import type { Download } from "../transfer/download.js";
import { type EngineStats, type RemoteList, TransferEngine } from "../transfer/engine.js";
import type { GuardStats } from "../transfer/guard.js";
import { HashPool, hashFilePrefix } from "../transfer/hash-pool.js";
import { maxDatagramFor } from "../transfer/path-mtu.js";
import type { ServeStats } from "../transfer/serve.js";
import { collectOffer } from "./offer-files.js";
import {
	type IncomingOffer,
	type OfferStats,
	OffersService,
	type OfferUpdate,
	type TextMessage,
} from "./offers.js";
import type {
	FolderTransferState,
	IndexProgress,
	Limits,
	NetworkFile,
	NetworkFolder,
	PeerRecord,
	SelfInfo,
	TransferState,
} from "./types.js";

/** Orders the network's files by name as `localeCompare` does, without a collator per call. */
const COLLATOR = new Intl.Collator();
/** Least time between two fetches of one peer's list, in ms (a changed list waits its turn). */
export const LIST_REFRESH_MS = 1_000;
/** How often running downloads are offered the peers that list their file, in ms. */
const RESUPPLY_MS = 1_000;
/**
 * Files of one folder download taken on at once (at least; `maxActive` when larger): their
 * downloads go through the engine's queue like any other, so at most `maxActive` of all
 * downloads run and the others wait `queued`; the rest of the folder waits its turn here.
 */
export const FOLDER_CONCURRENCY = 4;
/** Least time between two `folder-progress` events of one folder download, in ms. */
const FOLDER_PROGRESS_MS = 100;

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
	/**
	 * Where announces go, e.g. `["127.255.255.255"]`; empty: every interface (directed
	 * broadcasts, `255.255.255.255` and our IPv6 multicast group, see `discovery/interfaces.ts`).
	 */
	broadcast: string[];
	/** Announce interval in ms. */
	interval: number;
	/** Address to bind sockets to (default all interfaces). */
	bindAddress?: string;
	/** Upload cap in bytes per second, send and distribute ports (unlimited when absent). */
	maxUploadRate?: number;
	/** Download cap in bytes per second over every download (unlimited when absent). */
	maxDownloadRate?: number;
	/** Downloads running at once (default 3); the others wait with status `queued`. */
	maxActive?: number;
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
	/**
	 * The network key (any non-empty secret, at most 4096 bytes): every datagram is sealed
	 * with it, and peers without the same key neither see nor reach us. None when absent.
	 */
	networkKey?: string | Uint8Array;
	/**
	 * Our identity (the key pair from the settings folder, see `source/cli/identity-file.ts`);
	 * a fresh ephemeral one when absent.
	 */
	identity?: Identity;
	/**
	 * Seed what we download: each file a download completes (or finds already in place) is
	 * served and listed under its network name for as long as the peer runs (see
	 * `Library.seed`). Off when absent: one-shot commands leave at once anyway.
	 */
	seed?: boolean;
	/**
	 * Peers named by address (`--peer`, stored with `add-peer`): said hello to by unicast
	 * beside the broadcasts, with backoff while they do not answer (docs/protocol.md §15).
	 */
	peers?: PeerAddress[];
}

/** Counters of the peer table: discovery datagrams dropped, by reason. */
export interface DiscoveryStats {
	/** Not a valid announce or leave. */
	malformed: number;
	/** Announces of new peers while the table was full. */
	refused: number;
	/** Signature not verified, or a peer id not its key's (see `PeerTable.forged`). */
	forged: number;
	/** Older than the newest held for their peer (see `PeerTable.stale`). */
	stale: number;
}

/** Events of a peer; every payload is plain data. */
export interface PeerEvents {
	"peer-joined": [peer: PeerRecord];
	"peer-left": [peer: PeerRecord, reason: "bye" | "expired"];
	"peer-updated": [peer: PeerRecord];
	/** The merged list of files on the network changed. */
	"files-changed": [];
	/**
	 * Our shared list changed; `files` is how many we share; `reindexed` is false when only
	 * the downloaded files we seed changed.
	 */
	"library-changed": [files: number, reindexed: boolean];
	"download-started": [transfer: TransferState];
	"download-progress": [transfer: TransferState];
	"download-complete": [transfer: TransferState];
	"download-failed": [transfer: TransferState];
	/** Indexing of our shared folder moved on (at most a few times a second). */
	"index-progress": [progress: IndexProgress];
	"folder-progress": [folder: FolderTransferState];
	"folder-complete": [folder: FolderTransferState];
	"folder-failed": [folder: FolderTransferState];
	/** `changeFolders` switched the shared and/or downloads folder (absolute paths). */
	"folders-changed": [folders: { shareDir: string; downloadsDir: string }];
	/** A queued download got its turn and started (or resumed). */
	"download-dequeued": [transfer: TransferState];
	/**
	 * `setNetworkKey` set, changed or cleared the network key (its bytes, or undefined):
	 * for the settings to keep it. Never logged.
	 */
	"network-key-changed": [secret: Buffer | undefined];
	/** `pause` paused a download (its resume record is written). */
	"download-paused": [transfer: TransferState];
	/** `resume` resumed a paused download (it may be queued again: see its status). */
	"download-resumed": [transfer: TransferState];
	/** A download was cancelled; `keepPartial` tells whether its partial file stays. */
	"download-cancelled": [transfer: TransferState, keepPartial: boolean];
	/** A piece failed its BLAKE3 check and is fetched again; `peerIds` sent its blocks. */
	"hash-failure": [transfer: TransferState, piece: number, peerIds: string[]];
	/** A peer served too many bad pieces and is banned for the session (`peer` if still known). */
	"peer-banned": [peerId: string, peer: PeerRecord | undefined];
	/** `setLimits` changed the limits in force. */
	"limits-changed": [limits: Limits];
	/** A peer offers us files (§16); accept or decline it with `acceptOffer`/`declineOffer`. */
	"offer-received": [offer: IncomingOffer];
	/** An offer received changed status (accepted, declined, refused, complete, failed, withdrawn). */
	"offer-updated": [offer: IncomingOffer];
	/** A peer sent us a text (§16). */
	"text-received": [message: TextMessage];
	/** `addPeer` named a peer by address (canonical `HOST:PORT`): for the settings to keep it. */
	"peer-named": [address: string];
}

/** Who may have their offers accepted without a person (headless receivers). */
export interface OfferPolicy {
	/** Accept every offer. */
	acceptAll: boolean;
	/** Accept offers from these peer ids (lasting identities), hex. */
	acceptFrom: string[];
	/**
	 * Decline the others at once (headless) instead of leaving them pending for a person
	 * (the TUI).
	 */
	declineOthers: boolean;
}

/** How an offer we made ended. */
export interface OfferResult {
	files: number;
	bytes: number;
}

/** One file of a folder download: a (path, id) pair of the union of the peers' lists. */
interface FolderItem {
	id: string;
	/** Its path on the network (as the sharers list it). */
	name: string;
	/** Its path under the downloads folder, `/`-separated. */
	rel: string;
	size: number;
	contentHash: string;
	/** Peers listing this id at this path. */
	peers: string[];
}

/** A whole-folder download under way or ended. */
interface FolderJob {
	state: FolderTransferState;
	/** Items being fetched now, by file id. */
	active: Map<string, FolderItem>;
	/** Bytes of the items done. */
	doneBytes: number;
	/** Files that failed. */
	failedFiles: number;
	/** Empty folders that could not be created. */
	failedFolders: number;
	firstError?: string;
	progressAt: number;
	promise: Promise<FolderTransferState>;
}

/** The file a network file is shared under: what `download` needs of it. */
/** A file to fetch; with `manifest` (from a `.p2p` file) none is fetched from peers. */
type Wanted = Pick<NetworkFile, "id" | "name" | "size" | "contentHash" | "peers"> & {
	manifest?: Manifest;
};

/**
 * Creates the downloads folder when missing and checks we can write in it.
 * @throws UsageError `DOWNLOADS_UNWRITABLE`
 */
async function ensureWritable(downloads: string): Promise<void> {
	try {
		await fs.mkdir(downloads, { recursive: true });
		await fs.access(downloads, fsConstants.W_OK);
	} catch (error) {
		throw new UsageError(
			`cannot write downloads folder ${downloads}: ${reason(error)}`,
			"DOWNLOADS_UNWRITABLE",
		);
	}
}

/**
 * Refuses a shared folder and a downloads folder that are the same or nested: we would
 * share our own partial downloads, or download into what we share.
 * @throws UsageError `FOLDERS_NESTED`
 */
function refuseNested(share: string, downloads: string): void {
	if (isInside(share, downloads) || isInside(downloads, share)) {
		throw new UsageError(
			`shared folder ${share} and downloads folder ${downloads} must not be the same or nested`,
			"FOLDERS_NESTED",
		);
	}
}

/** A running peer. Create with `Peer.start`. */
export class Peer extends EventEmitter<PeerEvents> {
	/** Our identity: the key pair our announces and leaves are signed with. */
	readonly identity: Identity;
	/** Our 16-byte peer id, derived from our public key. */
	readonly peerId: Buffer;
	/** Hex of `peerId`. */
	readonly id: string;
	/**
	 * One pool of hash workers for indexing and for pieces: a worker thread costs memory
	 * (its own heap), and the two rarely hash at the same moment.
	 */
	private pool!: HashPool;
	private readonly lists = new Map<string, RemoteList>();
	/**
	 * The merged views of `lists`, rebuilt only when a list changes: snapshots ask for them
	 * every 100 ms, and sorting 100,000 names each time would cost the UI its frames.
	 */
	private filesCache: NetworkFile[] | undefined;
	private foldersCache: NetworkFolder[] | undefined;
	private readonly fetching = new Map<string, Promise<void>>();
	/** When each peer's list fetch last started (ms since the epoch). */
	private readonly listFetchedAt = new Map<string, number>();
	/** Refetches put off until LIST_REFRESH_MS after the last one, by peer id. */
	private readonly refreshTimers = new Map<string, NodeJS.Timeout>();
	/** Folder downloads of this session, oldest first. */
	private readonly folderJobs: FolderJob[] = [];
	/** The folder download each file download belongs to, by file id. */
	private readonly fileFolders = new Map<string, string>();
	/** The target each file download was started with, by file id. */
	private readonly targets = new Map<string, string>();
	/** Transfers under way, by target path (one at a time per target). */
	private readonly busyTargets = new Map<string, Promise<TransferState>>();
	/** Transfers completed without a download (identical file already there, or a copy), by path. */
	private readonly kept = new Map<string, TransferState>();
	/** Files we seed (see `seedFile`): the name each is listed under, by its path. */
	private readonly seededAt = new Map<string, string>();
	/** Seeds being set up (a stat and a realpath each). */
	private readonly seeding = new Set<Promise<void>>();
	private discovery!: Discovery;
	private engine!: TransferEngine;
	private library!: Library;
	private rescanTimer: NodeJS.Timeout | undefined;
	private resupplyTimer: NodeJS.Timeout | undefined;
	/** Files asked for in order whose download is not created yet (see `download`). */
	private readonly inOrder = new Set<string>();
	private stopping: Promise<void> | undefined;
	/** The gate of every datagram on our five ports (the network key, if any). */
	private readonly seal: NetworkGuard;
	/** The network key in force, as bytes (to tell a change from the same key again). */
	private networkKey: Buffer | undefined;
	/** Offers and texts, both ways (§16). */
	private offers!: OffersService;
	private offerPolicy: OfferPolicy = { acceptAll: false, acceptFrom: [], declineOthers: false };

	private constructor(readonly options: PeerOptions) {
		super();
		this.identity = options.identity ?? Identity.generate(true);
		this.peerId = this.identity.peerId;
		this.id = this.identity.id;
		try {
			this.seal = new NetworkGuard(options.networkKey);
			this.networkKey =
				options.networkKey === undefined ? undefined : Buffer.from(options.networkKey);
		} catch (error) {
			throw new UsageError((error as Error).message, "BAD_NETWORK_KEY");
		}
	}

	/**
	 * Starts indexing the shared folder (in worker threads; files are served as they are
	 * indexed, see `indexed()`), binds the transfer ports and the discovery port, and
	 * announces.
	 * @throws UsageError (exit code 2) for an unreadable shared folder, an unwritable
	 *   downloads folder, nested folders, or a port in use
	 */
	static async start(options: PeerOptions): Promise<Peer> {
		// Our own copy: `changeFolders` updates its folders without touching the caller's.
		const peer = new Peer({ ...options });
		const downloads = path.resolve(options.downloadsDir);
		await ensureWritable(downloads);
		const share = path.resolve(options.shareDir);
		refuseNested(share, downloads);
		peer.pool = new HashPool();
		try {
			peer.library = await Library.open(share, { dataDir: options.dataDir, hasher: peer.pool });
		} catch (error) {
			await peer.pool.close();
			throw error;
		}
		try {
			peer.engine = await TransferEngine.open({
				library: peer.library,
				hasher: peer.pool,
				basePort: options.basePort,
				bindAddress: options.bindAddress,
				selfId: peer.id,
				peerId: peer.peerId,
				// Without rates: the engine asks for this per interest message.
				peers: () => peer.discovery.peers(),
				maxUploadRate: options.maxUploadRate,
				maxDownloadRate: options.maxDownloadRate,
				maxActive: options.maxActive,
				seal: peer.seal,
			});
		} catch (error) {
			// The library's watcher and the hash workers would keep the process alive.
			await peer.library.close();
			await peer.pool.close();
			throw error;
		}
		try {
			peer.discovery = await Discovery.start({
				identity: peer.identity,
				port: options.discoveryPort,
				broadcast: options.broadcast,
				interval: options.interval,
				bindAddress: options.bindAddress,
				seal: peer.seal,
				guard: {
					admit: (address, port, bytes) => peer.engine.guard.admitBroadcast(address, port, bytes),
					bad: (address, port) => peer.engine.guard.bad(address, port),
					// Proved: validated by a round trip on the transfer ports (§5, §15).
					proved: (address) => peer.engine.guard.isValidated(address),
				},
				named: options.peers,
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
			await peer.pool.close();
			throw error;
		}
		peer.offers = new OffersService({
			identity: peer.identity,
			send: (datagram, to) => peer.engine.sendControl(datagram, to),
			peer: (id) => peer.discovery.table.get(id),
			stampOf: (id) => peer.discovery.table.stampOf(id),
			maxDatagram: (address) => maxDatagramFor(address, peer.seal.overhead),
		});
		peer.engine.setOffers(
			(bytes, from) => peer.offers.recv(bytes, from),
			(id, from) => peer.offers.offered(id, from),
		);
		peer.wire();
		return peer;
	}

	private wire(): void {
		// A newly proved address: peer exchange at once (docs/protocol.md §15).
		this.engine.guard.onValidated = () => this.discovery.provedNow();
		this.discovery.on("peer-joined", (p) => {
			this.engine.peerJoined(p);
			this.emit("peer-joined", p);
			this.refreshList(p);
		});
		this.discovery.on("peer-updated", (p) => {
			const list = this.lists.get(p.id);
			if (list) p.files = list.files.length;
			this.emit("peer-updated", p);
			// Any announce whose revision differs from the list we hold: also one that came
			// while a fetch was under way (that fetch may have got the older list).
			if (!list || list.revision !== p.revision) this.refreshList(p);
		});
		this.discovery.on("peer-left", (p, why) => {
			this.lists.delete(p.id);
			clearTimeout(this.refreshTimers.get(p.id));
			this.refreshTimers.delete(p.id);
			this.listFetchedAt.delete(p.id);
			this.listsChanged();
			for (const d of this.engine.downloads.values()) d.removeSource(p.address, p.ports.send);
			this.emit("peer-left", p, why);
			this.emit("files-changed");
		});
		// Re-announced at once: peers see our new revision and refetch the list.
		this.library.on("changed", (_revision, folder) => {
			this.emit("library-changed", this.library.files().length, folder);
			void this.discovery.announce();
		});
		this.library.on("progress", (progress) => this.emit("index-progress", progress));
		this.engine.on("download-progress", (d) => {
			const state = this.stateOf(d);
			this.emit("download-progress", state);
			if (state.folder) this.folderProgress(state.folder, false);
		});
		this.engine.on("download-complete", (d) => {
			const state = this.stateOf(d);
			if (state.path) this.seedFile(state.name, state.path, encodeManifest(d.manifest));
			this.emit("download-complete", state);
		});
		this.engine.on("download-failed", (d) => this.emit("download-failed", this.stateOf(d)));
		this.engine.on("download-dequeued", (d) => this.emit("download-dequeued", this.stateOf(d)));
		this.engine.on("download-cancelled", (d, keep) =>
			this.emit("download-cancelled", this.stateOf(d), keep),
		);
		this.engine.on("hash-failure", (d, index, peerIds) =>
			this.emit("hash-failure", this.stateOf(d), index, peerIds),
		);
		this.engine.on("peer-banned", (id) => {
			const p = this.peers().find((known) => known.id === id);
			if (p) this.emit("peer-updated", p);
			this.emit("peer-banned", id, p);
		});
		this.offers.on("offer-received", (offer) => {
			this.emit("offer-received", offer);
			const policy = this.offerPolicy;
			if (policy.acceptAll || policy.acceptFrom.includes(offer.from))
				void this.acceptOffer(offer.key).catch(() => {});
			else if (policy.declineOthers)
				this.declineOffer(
					offer.key,
					"not accepted from you: this peer accepts only trusted senders",
				);
		});
		this.offers.on("offer-updated", (offer) => this.emit("offer-updated", offer));
		this.offers.on("text-received", (message) => this.emit("text-received", message));
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

	/**
	 * Fetches a peer's list (once at a time per peer; as a delta from the list we hold when
	 * that is large) and adds it as a source where it fits.
	 */
	private refreshList(peer: PeerRecord): void {
		if (this.fetching.has(peer.id) || this.refreshTimers.has(peer.id) || this.stopping) return;
		// A peer indexing its folder republishes every 300 ms: its list is fetched again at most
		// every LIST_REFRESH_MS, so a swarm starting cold does not spend its memory on refetches.
		const wait =
			(this.listFetchedAt.get(peer.id) ?? Number.NEGATIVE_INFINITY) + LIST_REFRESH_MS - Date.now();
		if (wait > 0) {
			const timer = setTimeout(() => {
				this.refreshTimers.delete(peer.id);
				const now = this.discovery.table.get(peer.id);
				if (now && now.revision !== this.lists.get(peer.id)?.revision) this.refreshList(now);
			}, wait);
			timer.unref();
			this.refreshTimers.set(peer.id, timer);
			return;
		}
		this.listFetchedAt.set(peer.id, Date.now());
		let fetched = false;
		const job = this.engine
			.fetchList(peer, this.lists.get(peer.id))
			.then((list) => {
				if (!this.discovery.table.get(peer.id)) return;
				fetched = true;
				this.lists.set(peer.id, list);
				this.listsChanged();
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
			.finally(() => {
				this.fetching.delete(peer.id);
				// An announce of a newer revision came while we fetched: fetch again now, not
				// at the next announce.
				const now = this.discovery.table.get(peer.id);
				if (fetched && now && now.revision !== this.lists.get(peer.id)?.revision)
					this.refreshList(now);
			});
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
			fingerprint: this.identity.fingerprint,
			ephemeral: this.identity.ephemeral,
			name: this.options.name,
			shareDir: this.library.root,
			downloadsDir: path.resolve(this.options.downloadsDir),
			ports: this.engine.ports,
			discoveryPort: this.options.discoveryPort,
			sharedFiles: this.library.files().length,
			seededFiles: this.library.seeded().length,
		};
	}

	/**
	 * Known peers, by name; `banned` tells the ones banned this session for bad pieces,
	 * `downRate` / `upRate` the traffic with each over the last two seconds (bytes/s).
	 */
	peers(): PeerRecord[] {
		return this.discovery
			.peers()
			.map((p) => {
				const rates = this.engine.peerRates(p);
				return {
					...p,
					banned: this.engine.banned.has(p.id),
					downRate: rates.down,
					upRate: rates.up,
				};
			})
			.sort((a, b) => a.name.localeCompare(b.name) || a.id.localeCompare(b.id));
	}

	/** Total download and upload rates over the last two seconds, in bytes per second. */
	rates(): { down: number; up: number } {
		return this.engine.rates();
	}

	/** The rate limits and the queue's limit in force. */
	limits(): Limits {
		return this.engine.limits;
	}

	/**
	 * Changes limits live (see `TransferEngine.setLimits`; a rate of 0 or null means none).
	 * Emits `limits-changed` when something changed.
	 * @returns the limits now in force
	 * @throws UsageError `BAD_LIMIT` for a bad value (nothing changes)
	 */
	setLimits(limits: Partial<Limits>): Limits {
		const before = this.engine.limits;
		const after = this.engine.setLimits(limits);
		if (
			before.maxDown !== after.maxDown ||
			before.maxUp !== after.maxUp ||
			before.maxActive !== after.maxActive
		)
			this.emit("limits-changed", after);
		return after;
	}

	/**
	 * The download of `fileId` this session.
	 * @param verb - what is asked of it, for the error ("pause")
	 * @throws OperationError `BAD_STATE` for a transfer that completed without a download
	 *   (the file was already there), `NOT_FOUND` when there is none
	 */
	private downloadFor(fileId: string, verb: string): Download {
		const download = this.engine.downloads.get(fileId);
		if (download) return download;
		const kept = [...this.kept.values()].find((t) => t.fileId === fileId);
		if (kept) throw new OperationError(`cannot ${verb} ${kept.name}: it is complete`, "BAD_STATE");
		const name = this.files().find((f) => f.id === fileId)?.name ?? fileId;
		throw new OperationError(`no download of ${name} in this session`, "NOT_FOUND");
	}

	/**
	 * Pauses a download: it stops requesting (answers already asked for are still verified),
	 * keeps its partial file and writes its resume record; a queued one leaves the queue.
	 * A paused download never lands under its final name. Emits `download-paused`.
	 * A file of a folder download: the folder waits for it (it stays `downloading`).
	 * @param fileId - hex id of a download of this session
	 * @returns its state once its record is written (paused already: as it is)
	 * @throws OperationError `NOT_FOUND` (no such download), `BAD_STATE` when it is past
	 *   pausing (verifying the whole file, complete, failed or cancelled)
	 */
	async pause(fileId: string): Promise<TransferState> {
		const download = this.downloadFor(fileId, "pause");
		if (download.status === "paused") return this.stateOf(download);
		if (!(await this.engine.pause(fileId)))
			throw new OperationError(
				`cannot pause ${download.state().name}: it is ${download.status}`,
				"BAD_STATE",
			);
		const state = this.stateOf(download);
		this.emit("download-paused", state);
		return state;
	}

	/**
	 * Resumes a paused download: it fetches only the pieces still missing, at once when
	 * fewer than `maxActive` downloads run, else it waits `queued`. Emits `download-resumed`.
	 * @param fileId - hex id of a download of this session
	 * @returns its state (status `starting`, `downloading`, `waiting` or `queued`)
	 * @throws OperationError `NOT_FOUND`, `BAD_STATE` when it is not paused
	 */
	resume(fileId: string): TransferState {
		const download = this.downloadFor(fileId, "resume");
		if (!this.engine.resume(fileId))
			throw new OperationError(
				`cannot resume ${download.state().name}: it is ${download.status}, not paused`,
				"BAD_STATE",
			);
		const state = this.stateOf(download);
		this.emit("download-resumed", state);
		return state;
	}

	/**
	 * Cancels a download (queued, running, paused, or failed): it stops for good and never
	 * lands under its final name. With `keepPartial` the partial file and its resume record
	 * stay, so a later `download` of the file fetches only what is missing; without, both
	 * are deleted. A cancelled download may be started again with `download`. A file of a
	 * folder download: the folder goes on with its other files and ends failed, naming it.
	 * Emits `download-cancelled`.
	 * @param fileId - hex id of a download of this session
	 * @returns its state once the files are closed (and deleted)
	 * @throws OperationError `NOT_FOUND`, `BAD_STATE` when it is complete (or being moved
	 *   to its final name) or was cancelled already that way
	 */
	async cancel(fileId: string, options: { keepPartial: boolean }): Promise<TransferState> {
		const download = this.downloadFor(fileId, "cancel");
		if (!(await this.engine.cancel(fileId, options.keepPartial)))
			throw new OperationError(
				`cannot cancel ${download.state().name}: it is ${download.status}`,
				"BAD_STATE",
			);
		return this.stateOf(download);
	}

	/**
	 * Every file on the network (not our own): one entry per (name, content id) pair, its
	 * `peers` every peer with that content under any name (see `mergeFiles`), sorted by name.
	 * The same array until a list changes: treat it as read-only.
	 */
	files(): NetworkFile[] {
		this.filesCache ??= this.mergeFiles();
		return this.filesCache;
	}

	/** Drops the merged views: a peer's list arrived or went away. */
	private listsChanged(): void {
		this.filesCache = undefined;
		this.foldersCache = undefined;
	}

	/**
	 * One entry per (name, content) pair of every list: a content shared under several names
	 * (a symlink and its target, one song in two folders) is listed under each. Its `peers`
	 * are the peers that have the content under any name, each once: every one of them is a
	 * source of it (downloads merge sources by content id). The entries of one content share
	 * one `peers` array.
	 */
	private mergeFiles(): NetworkFile[] {
		// By id: the content's peers, and its entries by name (most contents have one name).
		const byId = new Map<
			string,
			{ peers: string[]; first: NetworkFile; more?: Map<string, NetworkFile> }
		>();
		const out: NetworkFile[] = [];
		for (const [peerId, list] of this.lists) {
			for (const f of list.files) {
				let content = byId.get(f.id);
				let entry = content
					? content.first.name === f.name
						? content.first
						: content.more?.get(f.name)
					: undefined;
				if (!entry) {
					entry = {
						id: f.id,
						name: f.name,
						size: f.size,
						contentHash: f.contentHash,
						peers: content?.peers ?? [],
					};
					out.push(entry);
					if (!content) {
						content = { peers: entry.peers, first: entry };
						byId.set(f.id, content);
					} else {
						content.more ??= new Map();
						content.more.set(f.name, entry);
					}
				}
				// A list is one peer's: the peer is the last one added when it lists this content twice.
				const peers = content?.peers ?? entry.peers;
				if (peers[peers.length - 1] !== peerId) peers.push(peerId);
			}
		}
		return out.sort(
			(a, b) => COLLATOR.compare(a.name, b.name) || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0),
		);
	}

	/**
	 * Every folder on the network, merged by path, sorted by path: the folders implied by
	 * the files' paths, and the empty folders the peers list (with `files` 0).
	 */
	folders(): NetworkFolder[] {
		this.foldersCache ??= this.mergeFolders();
		return this.foldersCache;
	}

	private mergeFolders(): NetworkFolder[] {
		const folders = new Map<string, { files: number; size: number; peers: Set<string> }>();
		const folderAt = (folderPath: string) => {
			let folder = folders.get(folderPath);
			if (!folder) {
				folder = { files: 0, size: 0, peers: new Set() };
				folders.set(folderPath, folder);
			}
			return folder;
		};
		/** Calls `visit` with every folder above `name` (`a/b/c.txt`: `a`, `a/b`). */
		const above = (name: string, visit: (folderPath: string) => void) => {
			for (let at = name.indexOf("/"); at > 0; at = name.indexOf("/", at + 1))
				visit(name.slice(0, at));
		};
		// Files and sizes from the merged entries: each (name, content) pair once.
		for (const f of this.files()) {
			above(f.name, (folderPath) => {
				const folder = folderAt(folderPath);
				folder.files++;
				folder.size += f.size;
			});
		}
		for (const [peerId, list] of this.lists) {
			// A list is sorted by name: files of one folder follow each other.
			let last = "";
			for (const f of list.files) {
				const slash = f.name.lastIndexOf("/");
				if (slash <= 0 || (last.length === slash && f.name.startsWith(last))) continue;
				last = f.name.slice(0, slash);
				above(`${last}/`, (folderPath) => folderAt(folderPath).peers.add(peerId));
			}
			for (const empty of list.folders) {
				folderAt(empty).peers.add(peerId);
				above(empty, (folderPath) => folderAt(folderPath).peers.add(peerId));
			}
		}
		return [...folders]
			.map(([folderPath, f]) => ({
				path: folderPath,
				files: f.files,
				size: f.size,
				peers: [...f.peers],
			}))
			.sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
	}

	/** Whole-folder downloads of this session, oldest first. */
	folderTransfers(): FolderTransferState[] {
		return this.folderJobs.map((job) => this.folderState(job));
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

	/**
	 * Files we share ourselves: the shared folder's, and the files we downloaded and seed
	 * (`downloaded`, with where they are).
	 */
	sharedFiles(): {
		id: string;
		name: string;
		size: number;
		contentHash: string;
		downloaded?: string;
	}[] {
		return this.library.files().map((f) => ({
			id: f.id,
			name: f.name,
			size: f.size,
			contentHash: toHex(f.manifest.contentHash),
			...(f.seedRoot === undefined ? {} : { downloaded: f.absPath }),
		}));
	}

	/**
	 * Finds a network file by id, by unique id prefix (8+ hex characters) or by exact name.
	 * @returns the file, or undefined
	 * @throws OperationError `AMBIGUOUS` (listing the ids) when several different files
	 *   have that exact name, or, with no file of that name, several ids that prefix
	 */
	findFile(query: string): NetworkFile | undefined {
		const files = this.files();
		const q = query.startsWith("p2p:") ? query.slice(4) : query;
		const byId = files.find((f) => f.id === q.toLowerCase());
		if (byId) return byId;
		let prefixed: NetworkFile[] = [];
		if (/^[0-9a-f]{8,}$/i.test(q)) {
			// One content listed under several names is one file to fetch: one match per id.
			const byPrefix = new Map<string, NetworkFile>();
			for (const f of files)
				if (f.id.startsWith(q.toLowerCase()) && !byPrefix.has(f.id)) byPrefix.set(f.id, f);
			prefixed = [...byPrefix.values()];
			if (prefixed.length === 1) return prefixed[0];
		}
		const named = files.filter((f) => f.name === q);
		if (named.length === 1) return named[0];
		const several = named.length > 1 ? named : prefixed;
		if (several.length > 1) {
			const ids = several.map((f) => `${f.id.slice(0, 16)} (${f.size} bytes)`).join(", ");
			throw new OperationError(
				`${several.length} different files match ${JSON.stringify(query)}: ${ids}; give an id`,
				"AMBIGUOUS",
			);
		}
		return undefined;
	}

	/**
	 * Every download of this session, newest last; then the transfers that completed at
	 * once (an identical file was already in place, or a folder's second copy of a file).
	 */
	transfers(): TransferState[] {
		return [
			...[...this.engine.downloads.values()].map((d) => this.stateOf(d)),
			...[...this.kept.values()].map((t) => this.marked(t)),
		];
	}

	/** A download's state, with the folder download it belongs to. */
	private stateOf(download: Download): TransferState {
		const state = download.state();
		const folder = this.fileFolders.get(state.fileId);
		if (folder !== undefined) state.folder = folder;
		if (state.status === "queued") {
			const position = this.engine.queuePosition(download);
			if (position > 0) state.queuePosition = position;
		}
		return this.marked(state);
	}

	/** A complete transfer we seed gets `seeding` (while the library still serves it). */
	private marked(state: TransferState): TransferState {
		if (state.status !== "complete" || !state.path) return state;
		const listed = this.seededAt.get(state.path);
		if (listed === undefined || this.library.seeding(listed)?.id !== state.fileId) return state;
		return { ...state, seeding: true };
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

	/** Counters of the peer table: discovery datagrams dropped, by reason. */
	discoveryStats(): DiscoveryStats {
		const t = this.discovery.table;
		return { malformed: t.malformed, refused: t.refused, forged: t.forged, stale: t.stale };
	}

	/**
	 * Counters of the network key's seal over every port: datagrams sealed and opened, and
	 * those dropped unanswered as forged (outside the network) or replayed.
	 */
	sealStats(): SealStats {
		return { ...this.seal.stats };
	}

	/**
	 * The kernel's help with datagrams (see source/transfer/gso.ts): GSO on the send port
	 * (batches and the datagrams in them) and GRO on the receive port (coalesced receives).
	 */
	offloadStats(): {
		gso: ReturnType<TransferEngine["gsoStats"]>;
		gro: TransferEngine["groStats"];
	} {
		return { gso: this.engine.gsoStats(), gro: { ...this.engine.groStats } };
	}

	/** True when a network key is in force. */
	get keyed(): boolean {
		return this.seal.keyed;
	}

	/**
	 * Names a peer by address for this run: it is said hello to at once, and its list asked
	 * for as soon as it answers. Emits `peer-named` (the TUI's settings keep it).
	 * @param text - `HOST[:PORT]` (PORT: its discovery port, ours by default)
	 * @returns the canonical `HOST:PORT`
	 * @throws UsageError for text that is no peer address
	 */
	addPeer(text: string): string {
		const address = parsePeerAddress(text, this.options.discoveryPort);
		const canonical = formatPeerAddress(address);
		if (this.discovery.addNamed(address)) this.emit("peer-named", canonical);
		return canonical;
	}

	/**
	 * Stops saying hello to a peer named by address (it stays a peer until it goes quiet).
	 * @param text - `HOST[:PORT]`, as for `addPeer`
	 * @returns false when it was not named
	 * @throws UsageError for text that is no peer address
	 */
	removePeer(text: string): boolean {
		return this.discovery.removeNamed(parsePeerAddress(text, this.options.discoveryPort));
	}

	/** Peers named by address (canonical `HOST:PORT`), in the order named. */
	namedPeers(): string[] {
		return this.discovery.contacts
			.list()
			.filter((c) => c.kind === "named")
			.map((c) => formatPeerAddress(c));
	}

	/** Counters of unicast discovery and peer exchange. */
	contactStats(): ContactStats {
		return { ...this.discovery.contactStats };
	}

	/**
	 * Sets, changes or clears the network key at once, on all five ports. The peers heard so
	 * far are forgotten (each leaves, as expired) and we announce under the new key.
	 * @param secret - the key (any non-empty string or bytes), or undefined for none
	 * @throws UsageError `BAD_NETWORK_KEY` for an empty or too long key (nothing changes)
	 */
	setNetworkKey(secret: string | Uint8Array | undefined): void {
		const bytes = secret === undefined ? undefined : Buffer.from(secret);
		const same =
			bytes === undefined ? this.networkKey === undefined : this.networkKey?.equals(bytes);
		if (same) return;
		if (bytes !== undefined && (bytes.length === 0 || bytes.length > MAX_SECRET_BYTES))
			throw new UsageError(
				bytes.length === 0
					? "a network key must not be empty"
					: `a network key must be at most ${MAX_SECRET_BYTES} bytes`,
				"BAD_NETWORK_KEY",
			);
		// Old peers hear a goodbye under the old key, then everything is under the new one.
		this.discovery.rekey(() => this.seal.setKey(secret));
		this.networkKey = bytes;
		this.emit("network-key-changed", bytes === undefined ? undefined : Buffer.from(bytes));
	}

	/**
	 * Counters of the transfer engine, its send port and its guard (rate limits, bans and
	 * the amplification limit), for reporters and benchmarks.
	 */
	transferStats(): EngineStats & ServeStats & GuardStats & { bannedSources: number } {
		return {
			...this.engine.stats,
			...this.engine.service.stats,
			...this.engine.guard.stats,
			bannedSources: this.engine.guard.bannedNow(),
		};
	}

	/** The running download of a file, if any (for tests and reporters). */
	downloadOf(fileId: string): Download | undefined {
		return this.engine.downloads.get(fileId);
	}

	/**
	 * Downloads a network file into the downloads folder, verified piece by piece and as a
	 * whole. It lands at its network path under the downloads folder; when a different file
	 * is there it gets the name `name (1).ext` (then `(2)`…), never overwriting; when that
	 * name already holds the same content (same size and BLAKE3), nothing is downloaded and
	 * the transfer completes at once with that path. A paused download of the file is
	 * resumed; a cancelled or failed one starts again (from its partial file, if kept).
	 * A content listed under several names is fetched once (from every peer that has it,
	 * whatever the name); asked for under a second name, it is copied there once verified.
	 * @param fileId - hex id of a file in `files()`
	 * @param options - `name`: which of its names to save it under (default: the first listed);
	 *   `inOrder`: fetch the pieces near the start first, in order (streaming)
	 * @returns the finished transfer (with `path`)
	 * @throws OperationError `NOT_FOUND` (unknown id, or no such name of it), `NO_SOURCE` (no
	 *   manifest), `BAD_MANIFEST` (a manifest that fails its id check), `UNSAFE_NAME`,
	 *   or `FAILED` when the download fails
	 */
	async download(
		fileId: string,
		options: { name?: string; inOrder?: boolean } = {},
	): Promise<TransferState> {
		const { name } = options;
		const file = this.files().find(
			(f) => f.id === fileId && (name === undefined || f.name === name),
		);
		if (!file)
			throw new OperationError(
				`no peer shares ${name === undefined ? fileId : `${JSON.stringify(name)} (${fileId.slice(0, 16)})`}`,
				"NOT_FOUND",
			);
		const running = this.engine.downloads.get(fileId);
		if (options.inOrder) {
			// In order (see `Download.prioritize`): a player can follow the partial file.
			this.inOrder.add(fileId);
			if (running && running.prioritized === undefined) running.prioritize(0);
		}
		if (running?.status === "paused") this.resume(fileId);
		const target = downloadTarget(this.options.downloadsDir, file.name);
		// The same content under another name: fetched once, then copied (see `fetchTo`).
		if (running && !isEnded(running) && (name === undefined || this.targets.get(fileId) === target))
			return this.waitFor(running);
		if (!target)
			throw new OperationError(
				`refusing unsafe file name ${JSON.stringify(file.name)}`,
				"UNSAFE_NAME",
			);
		await prepareDownload(this.options.downloadsDir, target);
		return this.fetchTo(file, target);
	}

	/**
	 * Downloads a file described by a manifest we already hold (from a `.p2p` file) from
	 * the peers that list its id: the manifest is not fetched, and every piece and the whole
	 * content are checked against it. Peers that list the id later are added as sources.
	 * @param manifest - the file's manifest; its encoding's BLAKE3 is the file id
	 * @param name - the name to save it under in the downloads folder (one safe segment)
	 * @returns the finished transfer (with `path`)
	 * @throws OperationError `UNSAFE_NAME` or `FAILED` when the download fails
	 */
	async downloadManifest(manifest: Manifest, name: string): Promise<TransferState> {
		const fileId = toHex(manifestId(encodeManifest(manifest)));
		const target = downloadTarget(this.options.downloadsDir, name);
		if (!target)
			throw new OperationError(`refusing unsafe file name ${JSON.stringify(name)}`, "UNSAFE_NAME");
		await prepareDownload(this.options.downloadsDir, target);
		const listed = this.files().find((f) => f.id === fileId);
		return this.fetchTo(
			{
				id: fileId,
				name,
				size: manifest.size,
				contentHash: toHex(manifest.contentHash),
				peers: listed?.peers ?? [],
				manifest,
			},
			target,
		);
	}

	/**
	 * Switches the shared and/or downloads folder of the running peer. The library is
	 * re-rooted on a new shared folder (`Library.setRoot`): the old files stop being served,
	 * the new ones are indexed, and each publication raises the revision, so peers refetch
	 * our list. New downloads land in the new downloads folder; running ones finish where
	 * they started. Nothing changes when it throws. Emits `folders-changed`; the library's
	 * publications bring `library-changed` as usual.
	 * Call one at a time (await each; `followSettings` in the CLI chains them).
	 * @param folders - the new folders; an absent or unchanged one stays
	 * @throws UsageError `FOLDERS_NESTED` (same or nested folders), `DOWNLOADS_UNWRITABLE`,
	 *   `SHARE_UNREADABLE`
	 */
	async changeFolders(folders: { shareDir?: string; downloadsDir?: string }): Promise<void> {
		if (this.stopping) return;
		const share = path.resolve(folders.shareDir ?? this.library.root);
		const downloads = path.resolve(folders.downloadsDir ?? this.options.downloadsDir);
		const shareMoved = share !== this.library.root && share !== path.resolve(this.options.shareDir);
		const downloadsMoved = downloads !== path.resolve(this.options.downloadsDir);
		if (!shareMoved && !downloadsMoved) return;
		refuseNested(share, downloads);
		if (downloadsMoved) await ensureWritable(downloads);
		if (shareMoved) {
			// Symlinks resolved: the real folders must not nest either.
			await fs.mkdir(share, { recursive: true }).catch(() => {});
			const realShare = await fs.realpath(share).catch(() => share);
			const realDownloads = await fs.realpath(downloads).catch(() => downloads);
			refuseNested(realShare, realDownloads);
		}
		if (this.stopping) return;
		if (shareMoved) {
			// The same library, re-rooted: its revision goes on counting up, so peers refetch
			// the list (a fresh library would count from 1 again, and could repeat a revision
			// they hold for another list). Throws, leaving the old folder shared, when the new
			// one cannot be read.
			await this.library.setRoot(share);
			this.options.shareDir = share;
		}
		this.options.downloadsDir = downloads;
		// The re-rooted library publishes its (new) list itself: `library-changed` and an
		// announce follow from the `changed` handler in `wire`.
		this.emit("folders-changed", { shareDir: this.library.root, downloadsDir: downloads });
	}

	/**
	 * Gets a network file to `target` (or a numbered name beside it): recognises an
	 * identical file already there, joins a running download of the same id (copying its
	 * result when it went to another path and `folder` is set), or downloads it. One
	 * transfer per target at a time: two different files wanting one name (from two peers)
	 * would otherwise share its partial file; the second waits, then gets `name (1).ext`.
	 */
	private async fetchTo(file: Wanted, target: string, folder?: string): Promise<TransferState> {
		// Keyed by collision key: names that differ only in case or normalisation are one file
		// on macOS and Windows, so their downloads (and partial files) take turns.
		const key = collisionKey(target);
		for (let busy = this.busyTargets.get(key); busy; busy = this.busyTargets.get(key))
			await busy.catch(() => {});
		// Set before any await, so the next caller for this target waits for this one.
		const run = this.fetchFree(file, target, folder);
		this.busyTargets.set(key, run);
		try {
			return await run;
		} finally {
			if (this.busyTargets.get(key) === run) this.busyTargets.delete(key);
		}
	}

	/** `fetchTo` once no other transfer uses `target`. */
	private async fetchFree(file: Wanted, target: string, folder?: string): Promise<TransferState> {
		const prior = this.engine.downloads.get(file.id);
		// Asked again for the target it was downloaded to this session: that transfer.
		if (prior && !isEnded(prior) && this.targets.get(file.id) === target)
			return this.waitFor(prior);
		const existing = await findIdentical(target, file.size, file.contentHash);
		if (existing) {
			await dropLeftovers(target, file.id, existing);
			return this.keep(file, existing, folder);
		}
		let download: Download;
		if (prior && !isEnded(prior)) download = prior;
		else {
			const sources = file.peers.flatMap((id) => {
				const p = this.discovery.table.get(id);
				return p ? [{ peerId: p.id, address: p.address, port: p.ports.send }] : [];
			});
			let manifest: Manifest;
			try {
				manifest = file.manifest ?? (await this.engine.fetchManifest(file.id, sources));
			} catch (error) {
				const bad = (error as { code?: unknown } | undefined)?.code === "BAD_MANIFEST";
				throw new OperationError(
					`cannot get the manifest of ${file.name}: ${reason(error)}`,
					bad ? "BAD_MANIFEST" : "NO_SOURCE",
				);
			}
			const before = this.engine.downloads.get(file.id);
			download = this.engine.download(file.id, file.name, manifest, target, sources);
			if (download !== before) {
				if (this.inOrder.delete(file.id)) download.prioritize(0);
				this.targets.set(file.id, target);
				if (folder !== undefined) this.fileFolders.set(file.id, folder);
				else this.fileFolders.delete(file.id);
				this.emit("download-started", this.stateOf(download));
			}
		}
		const state = await this.waitFor(download);
		if (this.targets.get(file.id) === target || !state.path) return state;
		// The same content wanted at a second path (a folder holding it twice, or fetched
		// before for another path): a copy of the verified file.
		return this.copyTo(state.path, file, target, folder);
	}

	/**
	 * Copies a verified file to `target` (or a numbered name beside it), never over an
	 * existing file, and checks the copy's BLAKE3.
	 */
	private async copyTo(
		source: string,
		file: Wanted,
		target: string,
		folder: string | undefined,
	): Promise<TransferState> {
		await fs.mkdir(path.dirname(target), { recursive: true });
		for (let n = 0; n < 1000; n++) {
			const candidate = n === 0 ? target : numberedName(target, n);
			try {
				await fs.copyFile(source, candidate, fsConstants.COPYFILE_EXCL);
			} catch (error) {
				if ((error as NodeJS.ErrnoException).code !== "EEXIST")
					throw new OperationError(`cannot copy to ${candidate}: ${reason(error)}`, "FAILED");
				if (await isIdentical(candidate, file.size, file.contentHash))
					return this.keep(file, candidate, folder);
				continue;
			}
			if (!(await isIdentical(candidate, file.size, file.contentHash))) {
				await fs.unlink(candidate).catch(() => {});
				throw new OperationError(`${source} changed since it was downloaded`, "FAILED");
			}
			return this.keep(file, candidate, folder);
		}
		throw new OperationError(`no free name beside ${target}`, "FAILED");
	}

	/**
	 * Seeds a verified file we hold (with `seed` on): listed under `name` (or, when a file
	 * of another content is seeded under that name already, its path under the downloads
	 * folder) and served from `where` while the peer runs.
	 */
	private seedFile(name: string, where: string, manifestBytes: Buffer): void {
		if (!this.options.seed) return;
		const root = path.resolve(this.options.downloadsDir);
		const id = toHex(manifestId(manifestBytes));
		const taken = this.library.seeding(name);
		const listed =
			taken && taken.id !== id && isInside(root, where)
				? path.relative(root, where).split(path.sep).join("/")
				: name;
		const job = this.library.seed(listed, where, manifestBytes, root).then((ok) => {
			if (ok) this.seededAt.set(where, listed);
		});
		this.seeding.add(job);
		void job.finally(() => this.seeding.delete(job));
	}

	/** Waits until the files completed so far are seeded (for tests and reporters). */
	async seeded(): Promise<void> {
		while (this.seeding.size > 0) await Promise.all(this.seeding);
	}

	/** Records a transfer that completed without downloading: the file is at `where`. */
	private keep(file: Wanted, where: string, folder?: string): TransferState {
		const pieces = pieceCount(file.size, pieceSizeFor(file.size));
		const state: TransferState = {
			fileId: file.id,
			name: file.name,
			size: file.size,
			bytesDone: file.size,
			verifiedPieces: pieces,
			totalPieces: pieces,
			speed: 0,
			peers: 0,
			fromSeeders: 0,
			fromDistribution: 0,
			resumedBytes: 0,
			bannedPeers: [],
			hashFailures: 0,
			status: "complete",
			path: where,
			...(folder === undefined ? {} : { folder }),
		};
		this.kept.delete(where);
		this.kept.set(where, state);
		// Seeded when its manifest is known: from a `.p2p` file, this session's download of
		// the content, or a file we serve already.
		const manifest = file.manifest ?? this.engine.downloads.get(file.id)?.manifest;
		const bytes = manifest ? encodeManifest(manifest) : this.library.get(file.id)?.manifestBytes;
		if (bytes) this.seedFile(file.name, where, bytes);
		this.emit("download-complete", state);
		return state;
	}

	/**
	 * Downloads a whole network folder: the union, by path, of what every peer shares under
	 * it. Network folder `a/b` lands in `<downloads>/b`: its last segment becomes the top
	 * folder, the tree below it is recreated with its names and empty subfolders, and every
	 * file is fetched as `download` does (verified piece by piece and as a whole; a
	 * different file in the way gets `name (1).ext`, an identical one is kept and not
	 * fetched again), {@link FOLDER_CONCURRENCY} files at a time. A file that fails does not
	 * stop the others, and nothing verified is deleted; the folder then ends failed.
	 * Emits `folder-progress` (at most every 100 ms and per file done), then
	 * `folder-complete` or `folder-failed`; each file's transfer has `folder` set.
	 * @param folderPath - a path of `folders()` (a trailing `/` is ignored)
	 * @returns the finished folder transfer (the running one when already under way)
	 * @throws OperationError `NOT_FOUND` (unknown folder), `UNSAFE_NAME` (its name cannot be
	 *   made safe), or `FAILED` naming the first file that failed and how many did
	 */
	async downloadFolder(folderPath: string): Promise<FolderTransferState> {
		const clean = folderPath.replace(/\/+$/, "");
		const running = this.folderJobs.find(
			(j) => j.state.path === clean && j.state.status === "downloading",
		);
		if (running) return running.promise;
		if (!this.folders().some((f) => f.path === clean))
			throw new OperationError(`no peer shares a folder ${JSON.stringify(clean)}`, "NOT_FOUND");
		const verdict = sanitizeName(clean);
		const top = verdict.ok ? verdict.segments[verdict.segments.length - 1] : undefined;
		const target = top === undefined ? null : downloadTarget(this.options.downloadsDir, top);
		if (!top || !target)
			throw new OperationError(
				`refusing unsafe folder name ${JSON.stringify(clean)}`,
				"UNSAFE_NAME",
			);
		const prefix = `${clean}/`;
		const items = new Map<string, FolderItem>();
		const dirs = new Set<string>();
		for (const [peerId, list] of this.lists) {
			for (const f of list.files) {
				if (!f.name.startsWith(prefix)) continue;
				const key = `${f.name}\n${f.id}`;
				const known = items.get(key);
				if (known) known.peers.push(peerId);
				else
					items.set(key, {
						id: f.id,
						name: f.name,
						rel: `${top}/${f.name.slice(prefix.length)}`,
						size: f.size,
						contentHash: f.contentHash,
						peers: [peerId],
					});
			}
			for (const d of list.folders) if (d.startsWith(prefix)) dirs.add(d);
		}
		const sorted = [...items.values()].sort((a, b) =>
			a.rel < b.rel ? -1 : a.rel > b.rel ? 1 : a.id < b.id ? -1 : 1,
		);
		distinctPaths(sorted);
		const job: FolderJob = {
			state: {
				path: clean,
				target,
				files: sorted.length,
				filesDone: 0,
				size: sorted.reduce((sum, item) => sum + item.size, 0),
				bytesDone: 0,
				status: "downloading",
			},
			active: new Map(),
			doneBytes: 0,
			failedFiles: 0,
			failedFolders: 0,
			progressAt: 0,
			promise: Promise.resolve() as unknown as Promise<FolderTransferState>,
		};
		this.folderJobs.push(job);
		job.promise = this.runFolder(job, top, sorted, [...dirs].sort());
		return job.promise;
	}

	/**
	 * Runs a folder download: creates its top folder and empty folders, then fetches its
	 * files, {@link FOLDER_CONCURRENCY} file ids at a time.
	 * @param top - the top folder's name under the downloads folder
	 * @param dirs - network paths of the empty folders under it
	 */
	private async runFolder(
		job: FolderJob,
		top: string,
		items: FolderItem[],
		dirs: string[],
	): Promise<FolderTransferState> {
		const prefix = `${job.state.path}/`;
		for (const dir of [job.state.path, ...dirs]) {
			const rel = dir === job.state.path ? top : `${top}/${dir.slice(prefix.length)}`;
			const abs = downloadTarget(this.options.downloadsDir, rel);
			try {
				if (!abs) throw new Error("unsafe folder name");
				await prepareFolder(this.options.downloadsDir, abs);
			} catch (error) {
				job.failedFolders++;
				job.firstError ??= `${dir}: cannot create the folder (${reason(error)})`;
			}
		}
		this.folderProgress(job.state.path, true);
		// One task per file id: a file listed at two paths is fetched once, then copied.
		const tasks = new Map<string, FolderItem[]>();
		for (const item of items) tasks.set(item.id, [...(tasks.get(item.id) ?? []), item]);
		const queue = [...tasks.values()];
		const worker = async () => {
			for (let task = queue.shift(); task; task = queue.shift()) {
				for (const item of task) await this.fetchItem(job, item);
			}
		};
		// The engine's queue decides how many run; this only bounds the files taken on.
		const workers = Math.max(FOLDER_CONCURRENCY, this.engine.limits.maxActive);
		await Promise.all(Array.from({ length: Math.min(workers, queue.length) }, () => worker()));
		if (job.failedFiles > 0 || job.failedFolders > 0) {
			const parts = [`${job.failedFiles} of ${job.state.files} files failed`];
			if (job.failedFolders > 0) parts.push(`${job.failedFolders} empty folders not created`);
			job.state.status = "failed";
			job.state.error = `${parts.join(", ")}; first: ${job.firstError}`;
			const state = this.folderState(job);
			this.emit("folder-failed", state);
			throw new OperationError(`folder ${job.state.path}: ${job.state.error}`, "FAILED");
		}
		job.state.status = "complete";
		const state = this.folderState(job);
		this.emit("folder-complete", state);
		return state;
	}

	/** Fetches one file of a folder download; a failure is recorded, not thrown. */
	private async fetchItem(job: FolderJob, item: FolderItem): Promise<void> {
		job.active.set(item.id, item);
		try {
			const target = downloadTarget(this.options.downloadsDir, item.rel);
			if (!target) throw new Error("unsafe file name");
			await prepareTarget(this.options.downloadsDir, target);
			await this.fetchTo(item, target, job.state.path);
			job.state.filesDone++;
			job.doneBytes += item.size;
		} catch (error) {
			job.failedFiles++;
			// Our own errors say what happened; a system error is named by its code.
			job.firstError ??= `${item.name}: ${error instanceof OperationError ? error.message : reason(error)}`;
		} finally {
			job.active.delete(item.id);
		}
		this.folderProgress(job.state.path, true);
	}

	/** A folder download's state, with bytes of the files under way counted. */
	private folderState(job: FolderJob): FolderTransferState {
		let bytes = job.doneBytes;
		for (const id of job.active.keys()) {
			const d = this.engine.downloads.get(id);
			if (d && this.fileFolders.get(id) === job.state.path) bytes += d.state().bytesDone;
		}
		job.state.bytesDone = Math.min(bytes, job.state.size);
		return { ...job.state };
	}

	/** Emits `folder-progress` for the running download of `folderPath` (throttled unless `now`). */
	private folderProgress(folderPath: string, now: boolean): void {
		const job = this.folderJobs.find(
			(j) => j.state.path === folderPath && j.state.status === "downloading",
		);
		if (!job) return;
		const at = Date.now();
		if (!now && at - job.progressAt < FOLDER_PROGRESS_MS) return;
		job.progressAt = at;
		this.emit("folder-progress", this.folderState(job));
	}

	/**
	 * Resolves with the state of a download once complete; rejects with OperationError
	 * `FAILED` when it fails, `CANCELLED` when it is cancelled. A paused one keeps waiting.
	 */
	private waitFor(download: Download): Promise<TransferState> {
		if (download.status === "complete") return Promise.resolve(this.stateOf(download));
		const cancelled = () =>
			new OperationError(`download of ${download.state().name} was cancelled`, "CANCELLED");
		if (download.status === "cancelled") return Promise.reject(cancelled());
		return new Promise((resolve, reject) => {
			const settle = (fn: () => void) => {
				download.off("complete", onComplete);
				download.off("failed", onFailed);
				download.off("cancelled", onCancelled);
				fn();
			};
			const onComplete = () => settle(() => resolve(this.stateOf(download)));
			const onFailed = (error: string) =>
				settle(() => reject(new OperationError(`download failed: ${error}`, "FAILED")));
			const onCancelled = () => settle(() => reject(cancelled()));
			download.on("complete", onComplete);
			download.on("failed", onFailed);
			download.on("cancelled", onCancelled);
		});
	}

	/**
	 * Says goodbye (leave message) and closes every socket; partial downloads stay on disk.
	 * Safe to call twice.
	 */
	/** Sets who gets offers accepted without a person (`serve --accept-all`, trust). */
	setOfferPolicy(policy: Partial<OfferPolicy>): void {
		this.offerPolicy = { ...this.offerPolicy, ...policy };
	}

	/** Offers received and waiting for a decision, oldest first. */
	pendingOffers(): IncomingOffer[] {
		return this.offers.pending();
	}

	/** Counters of offers and texts dropped or refused. */
	offerStats(): OfferStats {
		return { ...this.offers.stats };
	}

	/**
	 * Finds a known peer by id, unique id prefix (4+ hex digits), or exact name.
	 * @throws OperationError `AMBIGUOUS` when several peers match
	 */
	findPeer(query: string): PeerRecord | undefined {
		const all = this.discovery.peers();
		const q = query.toLowerCase().replace(/\s+/g, "");
		const byId = all.find((p) => p.id === q);
		if (byId) return byId;
		const named = all.filter((p) => p.name === query);
		const prefixed = /^[0-9a-f]{4,}$/.test(q) ? all.filter((p) => p.id.startsWith(q)) : [];
		const matches = named.length > 0 ? named : prefixed;
		if (matches.length > 1)
			throw new OperationError(
				`${matches.length} peers match ${JSON.stringify(query)}: ${matches.map((p) => p.id.slice(0, 16)).join(", ")}; give an id`,
				"AMBIGUOUS",
			);
		return matches[0];
	}

	/**
	 * Accepts an offer received: checks the downloads folder has room for it (else refuses it
	 * with the reason), then downloads every file from the sender with the normal engine
	 * (pulled, verified piece by piece and whole, resumable) into the downloads folder,
	 * reporting progress to the sender. Emits `offer-updated`.
	 * @param key - the offer's `key`
	 * @returns the offer once every file is verified
	 * @throws OperationError `NOT_FOUND` (no such pending offer), `NO_SPACE`, or `FAILED`
	 */
	async acceptOffer(key: string): Promise<IncomingOffer> {
		const offer = this.offers.incomingOffer(key);
		if (offer?.status !== "pending")
			throw new OperationError("no such offer waiting for an answer", "NOT_FOUND");
		const downloads = path.resolve(this.options.downloadsDir);
		const free = await freeBytes(downloads);
		if (free !== undefined && free < offer.totalSize) {
			const reason = `not enough space: ${offer.totalSize} bytes offered, ${free} bytes free`;
			this.offers.refuse(key, reason);
			throw new OperationError(reason, "NO_SPACE");
		}
		if (!this.offers.accept(key)) throw new OperationError("the offer is gone", "NOT_FOUND");
		const done = new Map<string, number>();
		let filesDone = 0;
		const bytesDone = () => {
			let n = 0;
			for (const e of offer.entries) {
				if (e.folder) continue;
				n += done.get(e.id) ?? this.engine.downloads.get(e.id)?.state().bytesDone ?? 0;
			}
			return n;
		};
		const timer = setInterval(() => this.offers.progress(key, 0, bytesDone(), filesDone), 500);
		timer.unref();
		let failure: string | undefined;
		try {
			for (const e of offer.entries.filter((x) => x.folder)) {
				const target = downloadTarget(downloads, e.name);
				if (!target) throw new OperationError(`unsafe folder name ${e.name}`, "UNSAFE_NAME");
				await prepareFolder(downloads, target);
			}
			const files = offer.entries.filter((x) => !x.folder);
			let next = 0;
			const worker = async () => {
				while (next < files.length && failure === undefined) {
					const e = files[next++];
					const target = downloadTarget(downloads, e.name);
					try {
						if (!target) throw new OperationError(`unsafe file name ${e.name}`, "UNSAFE_NAME");
						await prepareDownload(downloads, target);
						await this.fetchTo(
							{
								id: e.id,
								name: e.name,
								size: e.size,
								contentHash: e.contentHash,
								peers: [offer.from],
							},
							target,
						);
						done.set(e.id, e.size);
						filesDone++;
					} catch (error) {
						failure ??= `${e.name}: ${reason(error)}`;
					}
				}
			};
			await Promise.all(Array.from({ length: Math.min(FOLDER_CONCURRENCY, files.length) }, worker));
		} catch (error) {
			failure ??= reason(error);
		} finally {
			clearInterval(timer);
		}
		if (failure !== undefined) {
			this.offers.progress(key, 2, bytesDone(), filesDone, failure);
			throw new OperationError(`offer from ${offer.fromName} failed: ${failure}`, "FAILED");
		}
		this.offers.progress(key, 1, offer.totalSize, filesDone);
		return offer;
	}

	/** Declines an offer received (nothing is written). Emits `offer-updated`. */
	declineOffer(key: string, why = ""): void {
		this.offers.decline(key, why);
	}

	/**
	 * Offers files and folders to a peer and follows it to the end: the files are hashed
	 * (they need not be shared) and served to that peer only while the offer stands.
	 * @param to - the receiver's peer id (known from discovery)
	 * @param paths - files or folders on our disk
	 * @param options.note - a note shown with the offer
	 * @param options.wait - ms to wait for an answer (accept or decline)
	 * @param options.onUpdate - told of the answer and each progress report
	 * @returns how many files and bytes the receiver verified
	 * @throws UsageError for unreadable paths or too many entries; OperationError `DECLINED`,
	 *   `REFUSED`, `TIMEOUT` or `FAILED`
	 */
	async sendOffer(
		to: string,
		paths: string[],
		options: { note?: string; wait: number; onUpdate?: (update: OfferUpdate) => void },
	): Promise<OfferResult> {
		const { entries, files } = await collectOffer(paths, this.pool);
		const total = entries.reduce((n, e) => n + e.size, 0);
		const fileCount = entries.filter((e) => e.size > 0 || files.has(toHex(e.fileId))).length;
		let exchange = "";
		let finished = false;
		try {
			return await new Promise<OfferResult>((resolve, reject) => {
				let accepted = false;
				let silence: NodeJS.Timeout | undefined;
				const answerBy = setTimeout(
					() => reject(new OperationError(`no answer within ${options.wait} ms`, "TIMEOUT")),
					options.wait,
				);
				const watch = () => {
					clearTimeout(silence);
					silence = setTimeout(
						() => reject(new OperationError("the receiver went silent", "FAILED")),
						30_000,
					);
				};
				const end = (fn: () => void) => {
					clearTimeout(answerBy);
					clearTimeout(silence);
					fn();
				};
				exchange = this.offers.startOffer(to, entries, files, options.note ?? "", (u) => {
					options.onUpdate?.(u);
					if (u.kind === "answer") {
						if (u.status === 2)
							end(() =>
								reject(
									new OperationError(`declined${u.reason ? `: ${u.reason}` : ""}`, "DECLINED"),
								),
							);
						else if (u.status === 3)
							end(() => reject(new OperationError(`refused: ${u.reason}`, "REFUSED")));
						else if (u.status === 1 && !accepted) {
							accepted = true;
							clearTimeout(answerBy);
							watch();
						}
						return;
					}
					if (!accepted) {
						accepted = true;
						clearTimeout(answerBy);
					}
					watch();
					if (u.state === 1) {
						finished = true;
						end(() => resolve({ files: u.filesDone || fileCount, bytes: u.bytesTotal || total }));
					} else if (u.state === 2)
						end(() => reject(new OperationError(`the receiver failed: ${u.reason}`, "FAILED")));
				});
			});
		} finally {
			if (exchange) this.offers.endOffer(to, exchange, !finished);
		}
	}

	/**
	 * Sends a text (at most 64 KiB of UTF-8) to a peer and waits for its acknowledgement.
	 * @throws UsageError when it is too long; OperationError `TIMEOUT` when unacknowledged
	 */
	async sendText(to: string, text: string, wait: number): Promise<void> {
		if (Buffer.byteLength(text) > 64 * 1024)
			throw new UsageError("a text is at most 64 KiB", "TEXT_TOO_LONG");
		try {
			await this.offers.sendText(to, text, wait);
		} catch (error) {
			throw new OperationError(`not delivered: ${reason(error)}`, "TIMEOUT");
		}
	}

	stop(): Promise<void> {
		this.stopping ??= (async () => {
			clearInterval(this.rescanTimer);
			clearInterval(this.resupplyTimer);
			for (const timer of this.refreshTimers.values()) clearTimeout(timer);
			this.offers.close();
			await this.discovery.close();
			await this.engine.close();
			await this.library.close();
			await this.pool.close();
		})();
		return this.stopping;
	}
}

/** Free bytes for us in a folder's file system, or undefined when it cannot be told. */
async function freeBytes(folder: string): Promise<number | undefined> {
	try {
		const s = await fs.statfs(folder);
		return s.bavail * s.bsize;
	} catch {
		return undefined;
	}
}

/** True when a download has ended without its file: failed or cancelled (it may start again). */
function isEnded(download: Download): boolean {
	return download.status === "failed" || download.status === "cancelled";
}

/**
 * True when `file` is a regular file of `size` bytes whose BLAKE3 is `contentHash` (hex).
 * Hashing happens only when the size matches.
 */
/**
 * `prepareTarget` (no link on the way, folders made) with its fs errors as OperationError.
 * @throws OperationError `UNSAFE_PATH` (a link on the way) or `FAILED` (e.g. a file in the way)
 */
async function prepareDownload(root: string, target: string): Promise<void> {
	try {
		await prepareTarget(root, target);
	} catch (error) {
		if (error instanceof OperationError) throw error;
		throw new OperationError(`cannot write ${target}: ${reason(error)}`, "FAILED");
	}
}

/**
 * Gives the files of a folder download distinct safe paths, in place: each `rel` made safe
 * (`sanitizeName`), and one whose path collides with an earlier one's (equal but for case
 * or Unicode normalisation, or two names made safe alike, e.g. two control characters both
 * now `_`) numbered `name (1).ext`, so every platform gets the same, distinct, names.
 * @param items - the folder's files, sorted (the first of colliding names keeps its name)
 */
function distinctPaths(items: FolderItem[]): void {
	const taken = new Set<string>();
	for (const item of items) {
		const verdict = sanitizeName(item.rel);
		if (!verdict.ok) continue; // refused, file by file, when it is fetched
		let rel = verdict.name;
		for (let n = 1; taken.has(collisionKey(rel)); n++) rel = numberedSafeName(verdict.name, n);
		taken.add(collisionKey(rel));
		item.rel = rel;
	}
}

async function isIdentical(file: string, size: number, contentHash: string): Promise<boolean> {
	try {
		const stat = await fs.stat(file);
		if (!stat.isFile() || stat.size !== size) return false;
		return toHex(await hashFilePrefix(file, size)) === contentHash;
	} catch {
		return false;
	}
}

/**
 * The path holding the same content as a file about to be downloaded to `target`, if
 * any: `target`, then `name (1).ext`, `name (2).ext`… up to the first free name (where a
 * download would land).
 */
/**
 * Deletes what a download of file `id` to `target` left behind when it was killed while
 * moving the verified file to its final name (docs/protocol.md "Resume record"): the
 * partial file once linked to `existing`, and a resume record of this very file. A partial
 * file of another file, or one no record of ours names, is left alone.
 * @param existing - the verified copy of the file that is kept
 */
async function dropLeftovers(target: string, id: string, existing: string): Promise<void> {
	const partial = target + PARTIAL_SUFFIX;
	const resume = target + RESUME_SUFFIX;
	let ours = false;
	try {
		const record = decodeResume(await fs.readFile(resume));
		ours = record !== null && toHex(record.fileId) === id;
	} catch {
		// no record
	}
	try {
		const [a, b] = await Promise.all([fs.lstat(partial), fs.stat(existing)]);
		if (ours || (a.isFile() && a.ino === b.ino && a.dev === b.dev))
			await fs.rm(partial, { force: true });
	} catch {
		// no partial file
	}
	if (!ours) return;
	await Promise.all(
		[resume, `${resume}.tmp`].map((file) => fs.rm(file, { force: true }).catch(() => {})),
	);
}

async function findIdentical(
	target: string,
	size: number,
	contentHash: string,
): Promise<string | undefined> {
	for (let n = 0; n < 1000; n++) {
		const candidate = n === 0 ? target : numberedName(target, n);
		try {
			await fs.lstat(candidate);
		} catch {
			return undefined;
		}
		if (await isIdentical(candidate, size, contentHash)) return candidate;
	}
	return undefined;
}
