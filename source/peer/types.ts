/**
 * Shapes shared by the headless core and its consumers (the Ink UI, the `serve --json`
 * reporter, the one-shot commands). Nothing here touches a socket or React.
 */
import type { IncomingOffer, TextMessage } from "./offers.js";

/** The four UDP transfer ports of a peer: base, base+1, base+2, base+3. */
export interface TransferPorts {
	/** Data for our own downloads arrives here (BASE). */
	receive: number;
	/** Answers list, manifest and block requests (BASE+1). */
	send: number;
	/** Pushes verified pieces to other leechers (BASE+2); also takes their interest messages. */
	distribute: number;
	/** Accepts pieces pushed to us by other leechers (BASE+3). */
	distributee: number;
}

/**
 * How a peer was found: `lan` by its announces on the local network; `named` because it was
 * named by address (`--peer`, `add-peer`); `exchange` because another peer told us of it.
 */
export type PeerSource = "lan" | "named" | "exchange";

/** A remote peer as known from its announces. */
export interface PeerRecord {
	/**
	 * Peer id, 32 lowercase hex characters: the first 16 bytes of BLAKE3 of the peer's
	 * Ed25519 public key, proved by the signature of each announce (docs/protocol.md §14).
	 * The same across the peer's restarts (unless it runs with an ephemeral identity).
	 */
	id: string;
	/** Human name the peer announced (at most 64 bytes of UTF-8). */
	name: string;
	/**
	 * The preferred address, where our requests go: the first one its announces came from,
	 * until that one falls silent for three intervals. IPv4, or IPv6 (a link-local one with
	 * its `%scope`, `fe80::1%eth0`, so replies leave by the right interface). Show it with
	 * `formatEndpoint`.
	 */
	address: string;
	/**
	 * Every address its announces came from recently (several interfaces, IPv4 and IPv6),
	 * the preferred one first; at most 8.
	 */
	addresses: string[];
	/** How the peer was found. */
	found: PeerSource;
	ports: TransferPorts;
	/** Number of files in the peer's shared list, as of its last fetched list (or announce). */
	files: number;
	/** Revision number of the peer's shared list; it changes whenever the list changes. */
	revision: number;
	/** Wall-clock time of the last announce, in ms since the epoch. */
	lastSeen: number;
	/** Announce interval the peer declared, in ms; it expires after three missed intervals. */
	interval: number;
	/** Banned for the rest of the session for serving bad pieces (absent means not banned). */
	banned?: boolean;
	/**
	 * The UDP port its discovery messages come from (its discovery port): where unicast
	 * hellos and peer exchange go.
	 */
	discoveryPort?: number;
	/**
	 * Set once it reached us with a unicast hello: how it knows us (it named us, or learned
	 * us by peer exchange). Absent for a peer heard by broadcast only.
	 */
	helloVia?: "named" | "exchange";
	/** Recent rate of data we receive from this peer, in bytes per second (absent: 0). */
	downRate?: number;
	/** Recent rate of data we send to this peer (answers and pushes), in bytes per second (absent: 0). */
	upRate?: number;
}

/**
 * One file on the network: one (name, content) pair, merged across every peer that lists
 * it. A content shared under several names is one entry per name, all with the same `id`.
 */
export interface NetworkFile {
	/** File id: lowercase hex BLAKE3 of the manifest's encoding (64 characters). */
	id: string;
	/** Path relative to the sharer's folder, with `/` separators. */
	name: string;
	/** Size in bytes. */
	size: number;
	/** Lowercase hex BLAKE3 of the whole content, as `b3sum` prints it. */
	contentHash: string;
	/**
	 * Ids of the peers that have this content (under this name or another), each once: the
	 * sources of a download of it.
	 */
	peers: string[];
}

/**
 * A folder on the network: the union, by path, of what every peer shares under it
 * (folders are implied by file paths; empty ones are listed explicitly).
 */
export interface NetworkFolder {
	/** Path relative to the sharers' folders, with `/` separators, no trailing `/`. */
	path: string;
	/** Files under it, at any depth: distinct (name, content) pairs, as the Files pane lists them. */
	files: number;
	/** Sum of their sizes in bytes. */
	size: number;
	/** Ids of the peers that share something under it (or the empty folder itself). */
	peers: string[];
}

/** Progress of indexing our shared folder (hashing runs in worker threads). */
export interface IndexProgress {
	/** Files hashed (or found unchanged in the index cache) in the walk under way. */
	filesDone: number;
	/** Files found by the walk so far. */
	filesTotal: number;
	/** Bytes of the files done. */
	bytesDone: number;
	/** Bytes of every file found. */
	bytesTotal: number;
	/** True once every file found is indexed (files indexed so far are served meanwhile). */
	done: boolean;
}

/** A whole-folder download: one download per file, plus the empty folders recreated. */
export interface FolderTransferState {
	/** The network folder's path (as in {@link NetworkFolder}). */
	path: string;
	/** Where it lands: an absolute path under the downloads folder. */
	target: string;
	/** Files in the folder. */
	files: number;
	/** Files verified and in place (downloaded, or already there and identical). */
	filesDone: number;
	/** Total bytes of its files. */
	size: number;
	/** Verified bytes so far, over every file. */
	bytesDone: number;
	status: "downloading" | "complete" | "failed";
	/** One-line reason when failed (the first file that failed). */
	error?: string;
}

/** Life cycle of one download. */
export type TransferStatus =
	| "queued"
	| "starting"
	| "downloading"
	| "waiting"
	| "paused"
	| "verifying"
	| "complete"
	| "failed"
	| "cancelled";

/** A download as the UI and reporters see it. */
export interface TransferState {
	/** File id being fetched (hex). */
	fileId: string;
	name: string;
	/** Total size in bytes. */
	size: number;
	/** Verified bytes written to the partial file. */
	bytesDone: number;
	verifiedPieces: number;
	totalPieces: number;
	/** Recent download rate in bytes per second. */
	speed: number;
	/** Number of peers currently serving this download. */
	peers: number;
	/** Bytes requested from seeders (peers with the whole file). */
	fromSeeders: number;
	/** Bytes from other leechers: pushed to our distributee port or requested of them. */
	fromDistribution: number;
	/** Bytes already on disk from an earlier run when this one started (resume). */
	resumedBytes: number;
	/** Ids of peers this download banned for serving bad pieces. */
	bannedPeers: string[];
	/** Pieces that failed their BLAKE3 check and were fetched again. */
	hashFailures: number;
	status: TransferStatus;
	/** Final path once complete. */
	path?: string;
	/** One-line reason when failed. */
	error?: string;
	/** Path of the folder download this file belongs to, if any. */
	folder?: string;
	/** Piece size in bytes (from the manifest; absent before the manifest is known). */
	pieceSize?: number;
	/** Path of the partial file while not complete (absent once complete or deleted on cancel). */
	partialPath?: string;
	/** Complete, and served to other peers from `path` (we seed what we downloaded). */
	seeding?: boolean;
	/** While `queued`: its place in the download queue (1 starts next). */
	queuePosition?: number;
}

/** This peer's own identity and folders. */
export interface SelfInfo {
	/** Our peer id (hex), derived from our public key. */
	id: string;
	/** Short fingerprint of our id: its first 8 bytes in four groups of hex digits. */
	fingerprint: string;
	/**
	 * True when our identity lives only as long as this process: another instance held the
	 * settings folder's identity when we started (or none is kept, as in tests).
	 */
	ephemeral: boolean;
	name: string;
	shareDir: string;
	downloadsDir: string;
	ports: TransferPorts;
	discoveryPort: number;
	/** Number of files we share (the shared folder's and the ones we seed). */
	sharedFiles: number;
	/** Of those, files we downloaded and seed (see `PeerOptions.seed`). */
	seededFiles: number;
}

/** Everything a view needs, at one moment. Treat as immutable. */
export interface Snapshot {
	self: SelfInfo;
	peers: PeerRecord[];
	files: NetworkFile[];
	/** Folders on the network, sorted by path. */
	folders: NetworkFolder[];
	transfers: TransferState[];
	/** Whole-folder downloads of this session. */
	folderTransfers: FolderTransferState[];
	/** Indexing of our shared folder. */
	indexing: IndexProgress;
	/** Last short message for the status area (e.g. "download complete: a.txt"). */
	message?: string;
	/** Total transfer rates of this peer, in bytes per second, over every download and upload. */
	rates: { down: number; up: number };
	/** Rate limits and the download queue's limit in force (see {@link Limits}). */
	limits: Limits;
	/** True when a network key is in force (the key itself is never in a snapshot). */
	networkKey?: boolean;
	/** Offers received and waiting for an answer, oldest first (§16). */
	offers?: IncomingOffer[];
	/** Texts received and not yet dismissed, oldest first (§16). */
	texts?: TextMessage[];
}

/**
 * Rate limits the engine honours and the queue's limit of active downloads.
 * Rates are in bytes per second; `null` means unlimited. The command line takes them in
 * KB/s (`--max-down`, `--max-up`, 1 KB = 1000 bytes).
 */
export interface Limits {
	/** Ceiling of the total download rate, in bytes/s, or `null` for none. */
	maxDown: number | null;
	/** Ceiling of the total upload rate (send and distribute ports), in bytes/s, or `null`. */
	maxUp: number | null;
	/** Most downloads running at once; further ones wait with status `queued` (at least 1). */
	maxActive: number;
}

/** What a view may ask the core to do. */
export type Intent =
	/**
	 * Downloads a file; `name` picks which of its names it lands under (default the first);
	 * `inOrder`: pieces near the start first, in order, so a player can follow the partial file.
	 */
	| { type: "download"; fileId: string; name?: string; inOrder?: boolean }
	| { type: "download-folder"; path: string }
	/** Pauses a queued or running download (kept on disk with its resume record). */
	| { type: "pause"; fileId: string }
	/** Resumes a paused download (it may queue again behind the active limit). */
	| { type: "resume"; fileId: string }
	/** Cancels a download; `keepPartial` keeps the partial file and resume record, else both are deleted. */
	| { type: "cancel"; fileId: string; keepPartial: boolean }
	/** Changes limits; a missing field is left as it is. Also stored with the settings. */
	| { type: "set-limits"; limits: Partial<Limits> }
	/** Sets the network key (`null`: clears it) at once; also stored with the settings. */
	| { type: "set-network-key"; secret: string | null }
	/** Accepts an offer received (by its `key`): its files are downloaded. */
	| { type: "accept-offer"; key: string }
	/** Declines an offer received. */
	| { type: "decline-offer"; key: string }
	/** Dismisses a text received (its panel closes). */
	| { type: "dismiss-text"; key: string }
	/** Names a peer by address (`HOST[:PORT]`): said hello to, its list fetched; stored with the settings. */
	| { type: "add-peer"; address: string }
	| { type: "quit" };

/**
 * The contract between the core and any view: read the current snapshot, be told when
 * it changes, send intents. Modelled on React's `useSyncExternalStore` contract.
 */
export interface Store {
	/** The current snapshot; the same object until something changes. */
	getSnapshot(): Snapshot;
	/** Calls `listener` after each change; returns the unsubscribe function. */
	subscribe(listener: () => void): () => void;
	/** Sends an intent; never throws (failures show up in the snapshot). */
	dispatch(intent: Intent): void;
}
