/**
 * One download: a receiver-driven, pipelined block scheduler over many sources.
 *
 * How the objects relate: the file is cut in pieces (manifest), each piece in blocks. A
 * piece being fetched is an `ActivePiece` assigned to one source, so a piece that fails
 * its BLAKE3 check is blamed on the sources that sent its blocks. Sources are seeders
 * (the whole file) or partial seeders (other leechers, with a have-map). Pieces are picked
 * rarest first (fewest sources hold them, as BitTorrent does), ties broken by walking the
 * file from a random point, so leechers of one file hold different pieces and can trade
 * them. When every missing piece is being fetched, idle sources also ask for the blocks
 * still outstanding elsewhere (endgame), and the first answer wins.
 *
 * Each source keeps a congestion window of outstanding block requests (AIMD as TCP's,
 * RFC 5681: slow start, then +1/cwnd per block, halved at most once per round trip on a
 * loss), capped by the bytes our receive socket can buffer. Its retransmission timeout
 * comes from a smoothed RTT (RFC 6298); a request is also deemed lost, before its
 * timeout, once requests sent after it were answered and a reordering window passed
 * (RACK, RFC 8985). The block size per source is found by `PathMtuSearch` (RFC 8899).
 *
 * Verified pieces are written whole at their offset in `<name>.p2p-part`; a resume record
 * (`<name>.p2p-resume`) written after the data says which pieces are on disk, so a
 * restarted download fetches only the rest. When every piece is on disk the whole file is
 * hashed again and moved to its final name only if the content BLAKE3 matches (never over
 * another file). Hashing runs on the injected `PieceHasher` (a worker pool in the engine).
 *
 * No sockets: requests go out through the injected `send`; data comes in through
 * `onData`, pushed pieces through `offerPiece`, and time through `tick(now)`.
 */
import { EventEmitter } from "node:events";
import { constants as fsConstants } from "node:fs";
import fs from "node:fs/promises";
import path from "node:path";
import { performance } from "node:perf_hooks";
import { readFully, reason } from "../library/library.js";
import { PARTIAL_SUFFIX, RESUME_SUFFIX } from "../library/paths.js";
import type { TransferState, TransferStatus } from "../peer/types.js";
import { hash } from "../protocol/hash.js";
import { type Manifest, pieceCount, pieceLength } from "../protocol/manifest.js";
import {
	DATA_OVERHEAD,
	encodeMessage,
	MAX_BLOCK_SIZE,
	MAX_RANGE_SIZE,
} from "../protocol/messages.js";
import { decodeResume, encodeResume } from "../protocol/resume.js";
import {
	BAN_BAD_PIECES,
	type FailedFetch,
	type FetchInfo,
	judgeFailedFetches,
	recordFailedFetch,
} from "./blame.js";
import { type ContentStream, hashFilePrefix } from "./hash-pool.js";
import { maxDatagramFor, PathMtuSearch } from "./path-mtu.js";
import { diskError, hasBit, isDiskFull, placeFinal, setBit, writeFully } from "./piece-files.js";
import { hashRange, PieceSpill, SPILL_PIECE_BYTES } from "./piece-spill.js";
import { RttEstimator } from "./rtt.js";
import type { Endpoint } from "./serve.js";
import {
	grow,
	INITIAL_CWND,
	INITIAL_SSTHRESH,
	isFrom,
	MIN_CWND,
	RANGES_ASKED,
	RANGES_NO,
	RANGES_UNKNOWN,
	RANGES_YES,
	type SourceInfo,
	type SourceState,
	STALL_BACKOFF_MS,
	STALL_TIMEOUTS,
} from "./source-state.js";

export { BAN_BAD_PIECES } from "./blame.js";
export type { SourceInfo } from "./source-state.js";

/**
 * Hashes pieces and files; the engine passes a worker pool so hashing never stalls the
 * event loop that moves datagrams.
 */
export interface PieceHasher {
	/** BLAKE3 of `data`; resolves with the digest and the same bytes (possibly moved). */
	hash(data: Buffer): Promise<{ digest: Buffer; data: Buffer }>;
	/** BLAKE3 of the first `size` bytes of the file at `path`; rejects when unreadable. */
	hashFile(path: string, size: number): Promise<Buffer>;
	/**
	 * Optional: hashes `data` and, when its BLAKE3 equals `expected`, writes it to `fd` at
	 * `position`, off the event loop; rejects with the fs error of a failed write.
	 */
	hashAndWrite?(
		data: Buffer,
		expected: Uint8Array,
		fd: number,
		position: number,
		stream?: ContentStream,
	): Promise<{ digest: Buffer; data: Buffer; written: boolean }>;
	/**
	 * Optional: a BLAKE3 of the whole content that follows the file's complete prefix while it
	 * downloads, so the final check needs no second read of the file (see `HashPool`).
	 */
	contentStream?(): ContentStream;
}

/** Hashing on the calling thread (tests, and when no pool is given). */
export const inlineHasher: PieceHasher = {
	hash: async (data) => ({ digest: hash(data), data }),
	hashFile: hashFilePrefix,
};

/** Most bytes held in memory for pieces being fetched, verified or written. */
const MAX_BUFFERED_BYTES = 8 * 1024 * 1024;
/** Most pieces over MAX_BUFFERED_BYTES (one per source, so no source is starved). */
const MAX_EXTRA_PIECES = 16;
/** A gap between two ticks longer than this (ms) means our event loop was stalled. */
const LOOP_STALL_MS = 100;
/** Piece writes in flight at once. */
const MAX_WRITES = 8;
/** Least time between two resume records, in ms. */
const RESUME_INTERVAL_MS = 250;
/** Default cap on outstanding request bytes (all sources), for a 4 MiB receive buffer. */
const DEFAULT_MAX_INFLIGHT = 5 * 1024 * 1024;
/**
 * How long a paused download waits for the answers to requests already sent (they are
 * verified and kept) before it gives up its pieces in progress, in ms.
 */
const PAUSE_SETTLE_MS = 500;
/** How often a download waiting for disk space checks the free space again, in ms. */
export const SPACE_PROBE_MS = 3_000;
/** The content stream is advanced in steps of at least this many bytes (fewer messages). */
const CONTENT_STEP_BYTES = 8 * 1024 * 1024;

/** Pieces still being fetched, at most, when idle sources start duplicating requests. */
const ENDGAME_PIECES = 4;
/** Pieces per stripe when leechers split a file between them (2 MiB at 256 KiB pieces). */
const STRIPE_PIECES = 8;
/**
 * Most blocks one range request asks for (revision 3, `rangeRequest`): requests then cost
 * the sender one token check and one read per many datagrams.
 */
const MAX_BATCH = 64;
/** A source asks again only once this many blocks of its window are free (delayed acks). */
const MIN_BATCH = 16;
/** Most pieces assembled on disk at once, in all and per source (see `piece-spill.ts`). */
const MAX_SPILLED_ACTIVE = 16;
const MAX_SPILLED_PER_SOURCE = 2;
/** The `data` of a `piece` event for a piece assembled on disk (its bytes are not in memory). */
const NO_BYTES = Buffer.alloc(0);

/** Piece states. */
const MISSING = 0;
const ACTIVE = 1;
const VERIFYING = 2;
const VERIFIED = 3;

interface ActivePiece {
	index: number;
	/** Absolute byte offset of the piece in the file. */
	start: number;
	length: number;
	blockSize: number;
	buffer: Buffer;
	received: Uint8Array;
	requested: Uint8Array;
	receivedCount: number;
	/** Lowest block that may still be unrequested. */
	nextBlock: number;
	source: SourceState | undefined;
	contributors: Set<SourceState>;
	/** Who sent each received block (the smart ban compares them with the verified piece). */
	senders: (SourceState | undefined)[];
	/** Id of this fetch of the piece: a peer is blamed at most once per fetch. */
	fetch: number;
	/** True while this piece probes a larger datagram size for its source. */
	probe: boolean;
}

interface Inflight {
	piece: ActivePiece;
	block: number;
	offset: number;
	length: number;
	source: SourceState;
	sentAt: number;
	retransmitted: boolean;
	/** True for an endgame duplicate of a request outstanding at another source. */
	duplicate: boolean;
	/** True while it was last asked for in a range request (not resent alone since). */
	ranged: boolean;
}

/**
 * Where a verified piece came from: requested from a seeder, requested from another
 * leecher (a partial seeder), or pushed to us. Only pieces from seeders are pushed on: the
 * leecher that had the others pushes them to everyone itself.
 */
export type PieceOrigin = "seeder" | "leecher" | "push";

/** Events of a download. */
export interface DownloadEvents {
	/**
	 * A piece was verified and written; `data` is its content (valid only during the call;
	 * empty for a piece assembled on disk, see `assemblesOnDisk`) and `origin` where it came
	 * from.
	 */
	piece: [index: number, data: Buffer, origin: PieceOrigin];
	progress: [];
	complete: [path: string];
	failed: [error: string];
	/** A source served too many bad pieces and is banned for the session. */
	banned: [peerId: string];
	/** A piece failed its BLAKE3 check; `peerIds` sent its blocks. It is fetched again. */
	"hash-failed": [index: number, peerIds: string[]];
	/** The download was cancelled; `keepPartial` tells whether its partial file stays. */
	cancelled: [keepPartial: boolean];
}

/**
 * A shared budget of request bytes (a rate limit on what we ask for): checked before each
 * new block request, paid for every request sent. `limited` false means no limit.
 */
export interface RequestBudget {
	readonly limited: boolean;
	/** True when a request may go now. */
	allow(): boolean;
	/** Pays for a request of `bytes`. */
	take(bytes: number): void;
}

/** Options of a download. */
export interface DownloadOptions {
	/** 32-byte file id. */
	fileId: Buffer;
	/** Hex file id. */
	id: string;
	/** Display name (the sharer's relative path). */
	name: string;
	manifest: Manifest;
	/** Absolute path the file should land at (a free name is chosen if it exists). */
	target: string;
	/** Sends one datagram from our receive port. */
	send: (datagram: Buffer, to: Endpoint) => void;
	/** The current token for a source's send port (zeros when we have none). */
	tokenFor: (to: Endpoint) => Uint8Array;
	/** Piece and file hashing (default: on this thread). */
	hasher?: PieceHasher;
	/** Most request bytes outstanding over all sources (default 3 MiB). */
	maxInflightBytes?: number;
	/** Rate limit on the bytes requested (shared by every download); none when absent. */
	budget?: RequestBudget;
	/** Clock in ms (default `performance.now`). */
	now?: () => number;
	/**
	 * Bytes an envelope adds to every datagram (a network key's seal), so blocks and probes
	 * leave room for it; 0 when absent. Read when a source is added.
	 */
	overhead?: () => number;
	/**
	 * Ask sources for ranges of blocks (`rangeRequest`, protocol revision 3), falling back to
	 * one block per request for a source that does not answer them; default false (one block
	 * per request, as revision 2).
	 */
	ranges?: boolean;
}

/** A running download. */
export class Download extends EventEmitter<DownloadEvents> {
	readonly pieceCount: number;
	/** Have-map: bit i (MSB first) set when piece i is verified and written. */
	readonly have: Uint8Array;
	status: TransferStatus = "starting";
	error: string | undefined;
	/** Final path, once complete. */
	finalPath: string | undefined;
	verifiedPieces = 0;
	bytesDone = 0;
	/** Bytes found on disk from an earlier run (resume record). */
	resumedBytes = 0;
	/** Payload bytes received from seeders (peers with the whole file). */
	fromSeeders = 0;
	/** Payload bytes received from other leechers: pushes and their answers. */
	fromDistribution = 0;
	hashFailures = 0;
	/** Block datagrams that arrived for nothing we wanted (duplicates, late retransmissions). */
	duplicates = 0;
	retransmits = 0;

	private readonly sources = new Map<string, SourceState>();
	private readonly pieceState: Uint8Array;
	/** Partial seeders holding each piece (seeders are counted in `seederCount`). */
	private readonly availability: Uint16Array;
	private seederCount = 0;
	private missingCount: number;
	private cursor: number;
	private readonly active = new Map<number, ActivePiece>();
	private readonly inflight = new Map<number, Inflight>();
	private readonly duplicateInflight = new Map<number, Inflight>();
	private inflightBytes = 0;
	private bufferedBytes = 0;
	/** Pieces that failed from a source: avoid giving them to it again. */
	private readonly failedFrom = new Map<number, Set<string>>();
	private readonly pushVerifying = new Set<number>();
	/**
	 * Smart ban: for each piece that failed its hash and is not verified yet, who sent each
	 * block of each failed fetch and a 64-bit fingerprint of it (never the bytes).
	 */
	private readonly failedRecords = new Map<number, FailedFetch[]>();
	/** Fetches (ids) each peer is blamed for; `BAN_BAD_PIECES` of them ban it. */
	private readonly strikes = new Map<string, Set<number>>();
	/** Peers banned in this download (also pushers that are no source of it). */
	private readonly bannedIds = new Set<string>();
	private nextFetch = 0;
	private swarmRank = 0;
	private swarmSize = 1;
	/** Full-size piece buffers ready for reuse. */
	private readonly spare: Buffer[] = [];
	/**
	 * True when pieces are too large to assemble in memory (over SPILL_PIECE_BYTES): they are
	 * assembled in the partial file and hashed back from it, each from one source only.
	 */
	readonly assemblesOnDisk: boolean;
	private readonly spill: PieceSpill;
	private readonly now: () => number;
	private readonly hasher: PieceHasher;
	private readonly maxInflightBytes: number;
	private readonly partialPath: string;
	private readonly resumePath: string;
	private handle: fs.FileHandle | undefined;
	/** The whole-content hash following the complete prefix, when the hasher offers one. */
	private content: ContentStream | undefined;
	/** Pieces 0..contentPieces-1 are on disk and handed to `content`. */
	private contentPieces = 0;
	/** The last `content.advance`, awaited before the file closes. */
	private contentChain: Promise<unknown> = Promise.resolve();
	private readonly writeQueue: (() => Promise<void>)[] = [];
	private writesInFlight = 0;
	private readonly writesIdle: (() => void)[] = [];
	private recordChain: Promise<unknown> = Promise.resolve();
	/** Settles once a failed or cancelled download has written its record and closed. */
	private closed: Promise<void> = Promise.resolve();
	private lastRecordAt = Number.NEGATIVE_INFINITY;
	private recordDirty = false;
	private finishing = false;
	private rechecked = false;
	private readonly rateSamples: { at: number; bytes: number }[] = [];
	private rateBytes = 0;
	private lastTickAt = Number.POSITIVE_INFINITY;
	private skippedTick = false;
	/** `start` was called (a queued download has not started). */
	private startCalled = false;
	/** The partial file is open and the resume record taken up. */
	private opened = false;
	/** Settles when `start` has opened the partial file (or given up). */
	private opening: Promise<boolean> | undefined;
	/** The verified file is being moved to its final name: too late to cancel. */
	private placing = false;
	/** False once a cancel deleted the partial file and its record. */
	private partialKept = true;
	private settleTimer: NodeJS.Timeout | undefined;
	/** Set while the disk is full: the download waits, checking the free space now and then. */
	private spaceTimer: NodeJS.Timeout | undefined;

	constructor(private readonly options: DownloadOptions) {
		super();
		this.now = options.now ?? (() => performance.now());
		this.hasher = options.hasher ?? inlineHasher;
		this.maxInflightBytes = options.maxInflightBytes ?? DEFAULT_MAX_INFLIGHT;
		this.pieceCount = pieceCount(options.manifest.size, options.manifest.pieceSize);
		this.pieceState = new Uint8Array(this.pieceCount);
		this.availability = new Uint16Array(this.pieceCount);
		this.missingCount = this.pieceCount;
		// From the start of the file: pieces then land mostly in order, so the whole-content
		// hash follows them from memory (leechers of one swarm still spread out by stripes).
		this.cursor = 0;
		this.have = new Uint8Array(Math.ceil(this.pieceCount / 8));
		this.partialPath = options.target + PARTIAL_SUFFIX;
		this.resumePath = options.target + RESUME_SUFFIX;
		this.assemblesOnDisk = options.manifest.pieceSize > SPILL_PIECE_BYTES;
		this.spill = new PieceSpill(
			() => this.handle,
			() => this.pump(),
		);
	}

	/**
	 * Opens the partial file, taking up the pieces a valid resume record names, and starts
	 * requesting.
	 * @throws nothing; a failure to open the partial file fails the download
	 */
	async start(): Promise<void> {
		if (this.startCalled) return;
		this.startCalled = true;
		if (this.status === "queued") this.status = "starting";
		this.opening = this.open();
		if (!(await this.opening)) return;
		if (this.status === "paused" || this.status === "starting")
			this.content = this.hasher.contentStream?.();
		if (this.status === "paused") {
			// Paused while opening: it stays so, its pieces on disk counted.
			this.emit("progress");
			return;
		}
		if (this.status !== "starting") return;
		this.status = "downloading";
		this.updateWaiting();
		this.emit("progress");
		if (this.verifiedPieces === this.pieceCount) void this.finish();
		else this.pump();
	}

	/** Opens the partial file and takes up its record; false when it failed or was cancelled. */
	private async open(): Promise<boolean> {
		try {
			await fs.mkdir(path.dirname(this.partialPath), { recursive: true });
			const resumed = await this.readRecord();
			const handle = await fs.open(
				this.partialPath,
				// O_NOFOLLOW: never written through a link put at the partial file's path.
				fsConstants.O_RDWR |
					fsConstants.O_CREAT |
					(fsConstants.O_NOFOLLOW ?? 0) |
					(resumed ? 0 : fsConstants.O_TRUNC),
			);
			if (this.ended) {
				// Cancelled meanwhile: the cancel deletes or keeps the files once this settles.
				await handle.close();
				return false;
			}
			this.handle = handle;
			if (resumed) this.takeResumed(resumed);
			else await fs.rm(this.resumePath, { force: true });
		} catch (error) {
			this.fail(`cannot write ${this.partialPath}: ${reason(error)}`);
			return false;
		}
		this.opened = true;
		return true;
	}

	/** True once `start` was called (else it waits in the engine's queue). */
	get started(): boolean {
		return this.startCalled;
	}

	/** The resume record's have-map when it describes this file and the partial file exists. */
	private async readRecord(): Promise<Uint8Array | undefined> {
		try {
			const [bytes, stat] = await Promise.all([
				fs.readFile(this.resumePath),
				fs.stat(this.partialPath),
			]);
			const record = decodeResume(bytes);
			if (
				!record ||
				!stat.isFile() ||
				!Buffer.from(record.fileId).equals(this.options.fileId) ||
				record.size !== this.options.manifest.size ||
				record.pieceSize !== this.options.manifest.pieceSize
			)
				return undefined;
			return record.have;
		} catch {
			return undefined;
		}
	}

	private takeResumed(have: Uint8Array): void {
		for (let index = 0; index < this.pieceCount; index++) {
			if (!hasBit(have, index)) continue;
			this.pieceState[index] = VERIFIED;
			this.missingCount--;
			this.verifiedPieces++;
			setBit(this.have, index);
			const length = pieceLength(this.options.manifest, index);
			this.bytesDone += length;
			this.resumedBytes += length;
		}
	}

	/** A fresh path MTU search towards a source, leaving room for the envelope if any. */
	private pathSearch(address: string): PathMtuSearch {
		const overhead = this.options.overhead?.() ?? 0;
		return new PathMtuSearch(maxDatagramFor(address, overhead), overhead);
	}

	/**
	 * Adds a source, or updates a partial seeder's have-map.
	 * @param info - where the source's send port is
	 * @param have - for a partial seeder, its have-map slice starting at piece `firstPiece`
	 *   (a multiple of 8); absent for a seeder with the whole file
	 */
	addSource(info: SourceInfo, have?: { firstPiece: number; bits: Uint8Array }): void {
		const key = `${info.address}:${info.port}`;
		let source = this.sources.get(key);
		if (source?.banned || this.bannedIds.has(info.peerId)) return;
		if (!source) {
			source = {
				...info,
				key,
				have: have ? new Uint8Array(this.have.length) : undefined,
				rtt: new RttEstimator(),
				mtu: this.pathSearch(info.address),
				probePiece: undefined,
				cwnd: INITIAL_CWND,
				ssthresh: INITIAL_SSTHRESH,
				inflight: 0,
				banned: false,
				suspended: false,
				stalledUntil: 0,
				consecutiveTimeouts: 0,
				lastLossAt: Number.NEGATIVE_INFINITY,
				lastBackoffAt: Number.NEGATIVE_INFINITY,
				lastDataAt: 0,
				rackSentAt: Number.NEGATIVE_INFINITY,
				baseHistory: [],
				minRtt: Number.POSITIVE_INFINITY,
				reorderMultiplier: 1,
				received: 0,
				ranges: this.options.ranges ? RANGES_UNKNOWN : RANGES_NO,
			};
			this.sources.set(key, source);
			if (!source.have) this.seederCount++;
		} else if (!have && source.have) {
			// A partial seeder finished: it now holds everything.
			if (!source.suspended) this.countHave(source, -1);
			source.suspended = false;
			source.have = undefined;
			this.seederCount++;
		}
		if (have && source.have) this.setHave(source, have.firstPiece, have.bits);
		this.updateWaiting();
		this.pump();
	}

	/** Removes a source (the peer left or no longer has the file); its work goes to others. */
	removeSource(address: string, port: number): void {
		const source = this.sources.get(`${address}:${port}`);
		if (!source) return;
		this.release(source);
		this.uncount(source);
		this.sources.delete(source.key);
		this.updateWaiting();
		this.pump();
	}

	/** Removes a partial seeder (it finished, cancelled or went quiet); seeders stay. */
	removePartialSource(info: SourceInfo): void {
		const source = this.sources.get(`${info.address}:${info.port}`);
		if (source?.have) this.removeSource(info.address, info.port);
	}

	/** Bans a peer banned elsewhere in this session: its sources get no more requests. */
	banPeer(peerId: string): void {
		this.bannedIds.add(peerId);
		for (const source of this.sources.values()) {
			if (source.peerId === peerId && !source.banned) this.ban(source);
		}
		this.updateWaiting();
		this.pump();
	}

	/** Number of sources not banned. */
	get usableSources(): number {
		let n = 0;
		for (const s of this.sources.values()) if (!s.banned) n++;
		return n;
	}

	/** Peer ids of the sources banned by this download. */
	bannedPeers(): string[] {
		const ids = new Set(this.bannedIds);
		for (const s of this.sources.values()) if (s.banned) ids.add(s.peerId);
		return [...ids];
	}

	/** Peer ids this download holds bad pieces against, with how many (for views and tests). */
	strikesOf(peerId: string): number {
		return this.strikes.get(peerId)?.size ?? 0;
	}

	/** Sources that sent data in the last 2 seconds. */
	get servingPeers(): number {
		const since = this.now() - 2_000;
		let n = 0;
		for (const s of this.sources.values()) if (!s.banned && s.lastDataAt >= since) n++;
		return n;
	}

	/** Download rate over the last 2 seconds, in bytes per second. */
	get speed(): number {
		const since = this.now() - 2_000;
		let drop = 0;
		while (drop < this.rateSamples.length && this.rateSamples[drop].at < since) {
			this.rateBytes -= this.rateSamples[drop].bytes;
			drop++;
		}
		if (drop > 0) this.rateSamples.splice(0, drop);
		return this.rateBytes / 2;
	}

	/** Counts received bytes for `speed`, one sample per 10 ms at most. */
	private sampleRate(now: number, bytes: number): void {
		const last = this.rateSamples[this.rateSamples.length - 1];
		if (last && now - last.at < 10) last.bytes += bytes;
		else this.rateSamples.push({ at: now, bytes });
		this.rateBytes += bytes;
	}

	/** Hex file id. */
	get id(): string {
		return this.options.id;
	}

	/** The file's manifest. */
	get manifest(): Manifest {
		return this.options.manifest;
	}

	/** Piece size in bytes. */
	get pieceSize(): number {
		return this.options.manifest.pieceSize;
	}

	/** Largest block payload confirmed towards any source, in bytes (for views and tests). */
	get blockSize(): number {
		let best = 0;
		for (const s of this.sources.values()) best = Math.max(best, blockPayload(s.mtu.confirmed));
		return best;
	}

	/**
	 * Reads a verified, written piece back from the partial file (for distribution).
	 * @returns the piece, or null when it is not on disk or the file is closed
	 */
	async readPiece(index: number): Promise<Buffer | null> {
		if (index < 0 || index >= this.pieceCount) return null;
		const length = pieceLength(this.options.manifest, index);
		// A piece too large for memory is never read whole (nor pushed): partial seeders serve it.
		if (length > SPILL_PIECE_BYTES) return null;
		const buffer = this.pieceBuffer(length);
		const data = await this.readBlock(index * this.pieceSize, length, buffer);
		if (!data) this.recycle(buffer);
		return data;
	}

	/**
	 * Reads bytes of a verified, written piece (to serve other leechers: partial seeding).
	 * @param offset - byte offset in the file
	 * @param length - bytes wanted; the range must lie inside one piece
	 * @param into - a buffer of exactly `length` bytes to read into (else a new one)
	 * @returns the bytes, or null when that piece is not on disk or the range is bad
	 */
	async readBlock(offset: number, length: number, into?: Buffer): Promise<Buffer | null> {
		const handle = this.handle;
		const index = Math.floor(offset / this.pieceSize);
		if (!handle || length <= 0 || index < 0 || index >= this.pieceCount) return null;
		if (!hasBit(this.have, index)) return null;
		const end = index * this.pieceSize + pieceLength(this.options.manifest, index);
		if (offset + length > end) return null;
		const data = into?.length === length ? into : Buffer.allocUnsafe(length);
		try {
			await readFully(handle, data, offset);
			return data;
		} catch {
			return null;
		}
	}

	/** True when piece `index` is verified. */
	hasPiece(index: number): boolean {
		return this.pieceState[index] === VERIFIED;
	}

	/** A snapshot for views. */
	state(): TransferState {
		return {
			fileId: this.options.id,
			name: this.options.name,
			size: this.options.manifest.size,
			bytesDone: this.bytesDone,
			verifiedPieces: this.verifiedPieces,
			totalPieces: this.pieceCount,
			speed: this.status === "downloading" ? this.speed : 0,
			peers: this.servingPeers,
			fromSeeders: this.fromSeeders,
			fromDistribution: this.fromDistribution,
			resumedBytes: this.resumedBytes,
			hashFailures: this.hashFailures,
			bannedPeers: this.bannedPeers(),
			status: this.status,
			path: this.finalPath,
			error: this.error,
			pieceSize: this.pieceSize,
			partialPath:
				this.status === "complete" || (this.status === "cancelled" && !this.partialKept)
					? undefined
					: this.partialPath,
		};
	}

	/**
	 * Takes a data datagram that arrived on our receive port.
	 * @param from - the sender; must be the source the block was requested from
	 */
	onData(from: Endpoint, offset: number, payload: Uint8Array): void {
		const primary = this.inflight.get(offset);
		const duplicate = this.duplicateInflight.get(offset);
		const request =
			primary && isFrom(primary.source, from)
				? primary
				: duplicate && isFrom(duplicate.source, from)
					? duplicate
					: undefined;
		if (!request || request.length !== payload.length) {
			this.duplicates++;
			this.checkResent(from, offset, payload);
			return;
		}
		this.forget(request);
		const { source, piece } = request;
		if (request.ranged && source.ranges !== RANGES_NO) source.ranges = RANGES_YES;
		const now = this.now();
		const rtt = now - request.sentAt;
		if (request.retransmitted) source.rtt.resetBackoff();
		if (!request.retransmitted) {
			source.rtt.sample(rtt);
			source.minRtt = Math.min(source.minRtt, rtt);
			grow(source, now, rtt);
		} else if (rtt < source.minRtt / 2) {
			// Answered faster than any round trip: the first request's answer, so resending
			// was spurious. Wait longer for reordered answers from now on.
			source.reorderMultiplier = Math.min(16, source.reorderMultiplier + 1);
		}
		if (request.sentAt > source.rackSentAt) source.rackSentAt = request.sentAt;
		source.consecutiveTimeouts = 0;
		source.lastDataAt = now;
		this.suspend(source, false);
		// Only a full-size block proves the probe size; a piece's short last block does not.
		if (piece.probe && source.probePiece === piece.index && request.length === piece.blockSize) {
			source.mtu.acknowledge(piece.blockSize + DATA_OVERHEAD);
			source.probePiece = undefined;
			piece.probe = false;
		}
		if (this.active.get(piece.index) === piece && piece.received[request.block] === 0) {
			// The other copy of an endgame request is no longer needed.
			const other = request.duplicate ? primary : duplicate;
			if (other && other.piece === piece) this.forget(other);
			if (this.assemblesOnDisk)
				this.spill.put(piece.index, offset, payload, piece.start + piece.length);
			else {
				piece.buffer.set(payload, request.block * piece.blockSize);
				piece.senders[request.block] = source;
			}
			piece.received[request.block] = 1;
			piece.receivedCount++;
			piece.contributors.add(source);
			source.received += payload.length;
			if (source.have) this.fromDistribution += payload.length;
			else this.fromSeeders += payload.length;
			this.sampleRate(now, payload.length);
			if (piece.receivedCount === piece.received.length) this.completePiece(piece);
		} else {
			this.duplicates++;
			this.checkResent(from, offset, payload);
		}
		this.pump();
	}

	/**
	 * A block that arrived again for a piece being fetched: when the peer that sent it first
	 * now sends other bytes for it, it sent two contents for one block, which no honest peer
	 * does (a strike, see `strike`).
	 */
	private checkResent(from: Endpoint, offset: number, payload: Uint8Array): void {
		const piece = this.active.get(Math.floor(offset / this.pieceSize));
		// A piece assembled on disk has one source, and its bytes are not at hand to compare.
		if (!piece || this.assemblesOnDisk) return;
		const at = offset - piece.start;
		const block = at / piece.blockSize;
		if (!Number.isInteger(block) || block >= piece.received.length) return;
		const sender = piece.senders[block];
		if (piece.received[block] !== 1 || !sender || !isFrom(sender, from)) return;
		const length = Math.min(piece.blockSize, piece.length - at);
		if (length !== payload.length) return;
		if (!piece.buffer.subarray(at, at + length).equals(payload))
			this.strike(sender.peerId, piece.fetch);
	}

	/**
	 * A source answered a block request with an error: a refused size ends its datagram
	 * size search; "not found" from a seeder (the file is gone) drops it; a refused range
	 * otherwise is ignored (a request damaged on the way; it is resent on its timeout).
	 * @param offset - the refused request's offset (the error's `ref`)
	 * @param notFound - true for error code "not found", false for "bad range"
	 */
	onError(from: Endpoint, offset: number, notFound: boolean): void {
		const source = this.sources.get(`${from.address}:${from.port}`);
		if (!source) return;
		const request = this.inflight.get(offset);
		if (!notFound && request?.piece.probe && request.source === source) {
			this.probeFailed(source, request.piece, true);
			this.pump();
			return;
		}
		if (source.have && request?.source === source) {
			// A partial seeder that no longer has the piece (its have-map was stale): forget
			// that bit and give the piece to someone else.
			const { piece } = request;
			this.setHave(source, piece.index & ~7, [
				source.have[piece.index >> 3] & ~(0x80 >> (piece.index & 7)),
			]);
			this.release(source);
			this.pump();
			return;
		}
		if (source.have || !notFound) return;
		this.removeSource(from.address, from.port);
	}

	/** A source issued a new token: resend everything outstanding to it at once. */
	onRetry(from: Endpoint): void {
		const now = this.now();
		for (const table of [this.inflight, this.duplicateInflight]) {
			for (const request of table.values()) {
				if (isFrom(request.source, from)) {
					request.sentAt = now;
					request.retransmitted = true;
					request.ranged = false;
					this.sendRequest(request);
				}
			}
		}
	}

	/**
	 * Offers a whole piece pushed by another leecher (distribution). It is verified off the
	 * event loop and written only if its BLAKE3 matches the manifest; a corrupt one is a
	 * bad piece of its pusher (see `strike`), and a banned peer's pushes are refused.
	 * @param from - the pusher's peer id, when known
	 * @returns true when the piece was missing and is being verified
	 */
	offerPiece(index: number, data: Buffer, from?: string): boolean {
		if (!Number.isInteger(index) || index < 0 || index >= this.pieceCount) return false;
		if (from !== undefined && this.bannedIds.has(from)) return false;
		if (this.pieceState[index] >= VERIFYING || this.pushVerifying.has(index) || this.finishing)
			return false;
		if (this.status !== "downloading" && this.status !== "waiting") return false;
		if (this.spaceTimer || this.assemblesOnDisk) return false;
		if (data.length !== pieceLength(this.options.manifest, index)) return false;
		this.pushVerifying.add(index);
		this.bufferedBytes += data.length;
		void this.hasher.hash(data).then(
			({ digest, data: bytes }) => {
				this.pushVerifying.delete(index);
				this.bufferedBytes -= bytes.length;
				if (!this.running || this.pieceState[index] >= VERIFYING) return;
				if (!digest.equals(this.options.manifest.pieceHashes[index])) {
					if (from !== undefined) this.strike(from, this.nextFetch++);
					return;
				}
				this.judgeFailed(index, bytes);
				const piece = this.active.get(index);
				if (piece) this.dropPiece(piece);
				this.fromDistribution += bytes.length;
				this.sampleRate(this.now(), bytes.length);
				if (this.pieceState[index] === MISSING) this.missingCount--;
				this.accept(index, bytes, "push");
				this.pump();
			},
			() => {
				this.pushVerifying.delete(index);
				this.bufferedBytes -= data.length;
			},
		);
		return true;
	}

	private get running(): boolean {
		return this.status === "downloading" || this.status === "waiting";
	}

	/** Verified pieces are still taken (running, or paused: answers already asked for land). */
	private get accepting(): boolean {
		return this.running || this.status === "paused";
	}

	/** True once it completed, failed or was cancelled. */
	private get ended(): boolean {
		return this.status === "complete" || this.status === "failed" || this.status === "cancelled";
	}

	/**
	 * Advances time: detects lost requests (RACK and RTO) and resends them, backs off
	 * silent sources.
	 * @param now - clock in ms, same clock as `options.now`
	 */
	tick(now = this.now()): void {
		if (!this.running) return;
		// Our own event loop was stalled (a busy machine, a long GC): answers may be waiting
		// unread in the socket, so nothing can be judged lost from this gap. Judge next time.
		// (Only one tick is skipped in a row, so a machine that stays slow still recovers.)
		const gap = now - this.lastTickAt;
		this.lastTickAt = now;
		if (gap > LOOP_STALL_MS && !this.skippedTick) {
			this.skippedTick = true;
			return;
		}
		this.skippedTick = false;
		const timedOut = new Set<SourceState>();
		const lossFrom = new Set<SourceState>();
		const failedProbes: ActivePiece[] = [];
		for (const table of [this.inflight, this.duplicateInflight]) {
			for (const request of table.values()) {
				const source = request.source;
				const age = now - request.sentAt;
				const timeout = age > source.rtt.rto;
				if (request.piece.probe && source.probePiece === request.piece.index) {
					// A probe is lost only when its timer runs out (RFC 8899 PROBE_TIMER): a big
					// answer may well come after smaller ones.
					if (timeout) failedProbes.push(request.piece);
					continue;
				}
				// RACK: a later request was answered and this one is older than an RTT plus a
				// reordering window, so it is lost (RFC 8985 section 6.2).
				const srtt = source.rtt.srtt ?? source.rtt.rto;
				const reorderWindow = Math.max(
					2,
					Math.min(srtt, (source.reorderMultiplier * source.minRtt) / 4),
				);
				const lost = timeout || (request.sentAt < source.rackSentAt && age > srtt + reorderWindow);
				if (!lost) continue;
				// A range nobody answered: a peer of an earlier build, which drops the message.
				if (timeout && request.ranged && source.ranges === RANGES_ASKED) source.ranges = RANGES_NO;
				if (timeout) timedOut.add(source);
				lossFrom.add(source);
				if (source.consecutiveTimeouts >= STALL_TIMEOUTS) continue;
				request.sentAt = now;
				request.retransmitted = true;
				request.ranged = false;
				this.retransmits++;
				this.sendRequest(request);
			}
		}
		for (const piece of failedProbes) {
			if (piece.source && this.active.get(piece.index) === piece)
				this.probeFailed(piece.source, piece, false);
		}
		for (const source of lossFrom) {
			// One multiplicative decrease per round trip, as TCP reacts once per window.
			if (now - source.lastLossAt > (source.rtt.srtt ?? 0)) {
				source.ssthresh = Math.max(MIN_CWND, source.cwnd / 2);
				source.cwnd = source.ssthresh;
				source.lastLossAt = now;
			}
		}
		for (const source of timedOut) {
			// One back-off per RTO: the requests that time out together are one loss event.
			if (now - source.lastBackoffAt < source.rtt.rto) continue;
			source.lastBackoffAt = now;
			source.consecutiveTimeouts++;
			// A have-map that may lie: until it answers, seeders are asked for its pieces too.
			this.suspend(source, true);
			source.rtt.backoff();
			if (source.consecutiveTimeouts >= STALL_TIMEOUTS) {
				source.stalledUntil = now + STALL_BACKOFF_MS;
				source.consecutiveTimeouts = 0;
				source.cwnd = INITIAL_CWND;
				this.release(source);
				// Black hole detection (RFC 8899 section 4.3): the path may have stopped carrying
				// our block size; search again from the base size. Pieces cut for the old size
				// are cut again when adopted.
				source.mtu = this.pathSearch(source.address);
			}
		}
		this.updateWaiting();
		this.pump();
	}

	/**
	 * Puts a download that has not started, or a paused one, in the queue (status `queued`);
	 * the engine calls `start` or `resume` when its turn comes.
	 * @returns false when it is in another state
	 */
	hold(): boolean {
		const fresh = this.status === "starting" && !this.startCalled;
		if (!fresh && this.status !== "paused") return false;
		this.status = "queued";
		this.emit("progress");
		return true;
	}

	/**
	 * Pauses: no more requests; answers to requests already sent are still verified and
	 * written for {@link PAUSE_SETTLE_MS}, then pieces in progress are given up. The partial
	 * file stays open and its resume record is written. Pushes are no longer taken.
	 * @returns true when it paused now (false when paused already, or complete, failed,
	 *   cancelled or verifying the whole file: too late)
	 * @throws nothing; resolves once the resume record names what is on disk
	 */
	async pause(): Promise<boolean> {
		if (this.ended || this.finishing || this.status === "verifying" || this.status === "paused")
			return false;
		this.stopSpaceWait();
		const wasRunning = this.running;
		this.status = "paused";
		this.emit("progress");
		if (!this.opened) return true;
		if (wasRunning) {
			this.settleTimer = setTimeout(() => void this.settlePaused(), PAUSE_SETTLE_MS);
			this.settleTimer.unref();
		}
		await this.flushRecord();
		return true;
	}

	/** A paused download gives up its pieces in progress and records what is on disk. */
	private async settlePaused(): Promise<void> {
		this.settleTimer = undefined;
		if (this.status !== "paused") return;
		for (const piece of [...this.active.values()]) {
			this.dropPiece(piece);
			this.pieceState[piece.index] = MISSING;
			this.missingCount++;
		}
		await this.settleWrites();
		await this.flushRecord();
	}

	/** Writes the resume record now if pieces were stored since the last one. */
	private flushRecord(): Promise<void> {
		this.recordChain = this.recordChain.then(() => this.writeRecord());
		return this.recordChain.then(() => undefined);
	}

	/**
	 * Resumes a paused (or queued, once started) download: it fetches only the pieces
	 * still missing, and verifies the whole file if none is.
	 * @returns false when it was neither paused nor queued, or never started (`start` it)
	 */
	resume(): boolean {
		if ((this.status !== "paused" && this.status !== "queued") || !this.startCalled) return false;
		// A reason to wait for disk space is stale now: a full disk says so again at once.
		this.error = undefined;
		clearTimeout(this.settleTimer);
		this.settleTimer = undefined;
		if (!this.opened) {
			// Still opening: `start` goes on from here.
			this.status = "starting";
			this.emit("progress");
			return true;
		}
		this.status = "downloading";
		// A long pause is no stall of our event loop.
		this.lastTickAt = Number.POSITIVE_INFINITY;
		this.updateWaiting();
		this.emit("progress");
		if (this.verifiedPieces === this.pieceCount) void this.finish();
		else this.pump();
		return true;
	}

	/**
	 * Stops the download for good (status `cancelled`). With `keepPartial` (the default) the
	 * partial file and its resume record stay, so a later download of the file resumes;
	 * without, both are deleted (also those of an earlier run, for a download that never
	 * started). A failed or kept-cancelled download may be cancelled again to delete them.
	 * Emits `cancelled`.
	 * @returns true when it was cancelled now; false when complete, already moving to its
	 *   final name, or cancelled already that way
	 */
	async cancel(options: { keepPartial?: boolean } = {}): Promise<boolean> {
		const keep = options.keepPartial ?? true;
		if (this.status === "complete" || this.placing) return false;
		if (this.status === "cancelled" && (keep || !this.partialKept)) return false;
		const wasEnded = this.ended;
		this.status = "cancelled";
		this.partialKept = keep;
		this.stopSpaceWait();
		clearTimeout(this.settleTimer);
		this.settleTimer = undefined;
		if (!wasEnded) {
			for (const source of this.sources.values()) this.release(source);
			this.active.clear();
			this.spill.clear();
			this.spare.length = 0;
			const handle = this.handle;
			this.handle = undefined;
			const opening = this.opening;
			this.closed = (async () => {
				// `start` closes a file it opens after this; wait for it before deleting.
				await opening;
				await this.settleWrites();
				this.dropContent();
				if (keep && this.recordDirty && handle) await this.storeRecord(handle);
				await handle?.close().catch(() => {});
			})();
		}
		if (!keep) {
			const closed = this.closed;
			this.closed = (async () => {
				await closed;
				await Promise.all(
					[this.partialPath, this.resumePath, `${this.resumePath}.tmp`].map((f) =>
						fs.rm(f, { force: true }).catch(() => {}),
					),
				);
			})();
		}
		this.emit("progress");
		this.emit("cancelled", keep);
		await this.closed;
		return true;
	}

	private updateWaiting(): void {
		if (!this.running || this.spaceTimer) return;
		const usable = this.usableSources > 0;
		const next = usable ? "downloading" : "waiting";
		if (next !== this.status) {
			this.status = next;
			this.emit("progress");
		}
	}

	/** Fills every source's congestion window with block requests. */
	private pump(): void {
		// Waiting for disk space: nothing is asked for until some is freed.
		if (this.status !== "downloading" || !this.handle || this.spaceTimer) return;
		// Pieces assembled on disk: nothing more is asked while the disk lags behind.
		if (this.spill.full) return;
		const budget = this.options.budget;
		const now = this.now();
		// Round robin, one request per source per turn: the shared byte budget goes to every
		// source with room, and a source that answers faster frees it faster, so it gets more.
		let ready = [...this.sources.values()].filter(
			(source) => !source.banned && source.stalledUntil <= now,
		);
		while (ready.length > 0 && this.inflightBytes < this.maxInflightBytes) {
			const next: SourceState[] = [];
			for (const source of ready) {
				const room = Math.floor(source.cwnd) - source.inflight;
				if (room <= 0) continue;
				// With ranges, a source asks again once a few blocks are free, so that one
				// request carries several (as TCP acknowledges every other segment, RFC 1122).
				if (source.ranges === RANGES_YES && source.inflight > 0 && room < this.batchFloor(source))
					continue;
				if (this.inflightBytes >= this.maxInflightBytes) break;
				// Under a download rate limit: no tokens, no request (the next tick tries again).
				if (budget?.limited && !budget.allow()) return;
				if (!this.requestNext(source, now, room)) continue;
				next.push(source);
			}
			ready = next;
		}
	}

	/** Free window a source waits for before it asks again (see `pump`), in blocks. */
	private batchFloor(source: SourceState): number {
		return Math.max(1, Math.min(MIN_BATCH, Math.floor(source.cwnd / 4)));
	}

	/**
	 * Sends the next request to `source`: a range of up to `room` consecutive blocks of one
	 * piece when the source takes ranges (one block otherwise); false when it has nothing to
	 * ask of it.
	 */
	private requestNext(source: SourceState, now: number, room: number): boolean {
		const next = this.nextBlock(source);
		if (!next) return false;
		const { piece, block, duplicate } = next;
		const first = this.track(piece, block, source, now, duplicate);
		// Probes, endgame duplicates and rate-limited downloads go one block at a time.
		if (
			duplicate ||
			piece.probe ||
			source.ranges === RANGES_NO ||
			source.ranges === RANGES_ASKED ||
			this.options.budget?.limited
		) {
			this.sendRequest(first);
			return true;
		}
		let last = first;
		let bytes = first.length;
		const most = Math.min(room, MAX_BATCH);
		for (let b = block + 1, n = 1; n < most && b < piece.requested.length; b++, n++) {
			if (piece.requested[b] === 1 || this.inflightBytes >= this.maxInflightBytes) break;
			const length = Math.min(piece.blockSize, piece.length - b * piece.blockSize);
			if (bytes + length > MAX_RANGE_SIZE) break;
			last = this.track(piece, b, source, now, false);
			bytes += length;
		}
		if (last === first && source.ranges !== RANGES_YES) {
			this.sendRequest(first);
			return true;
		}
		for (let b = block; b <= last.block; b++) {
			const request = this.inflight.get(piece.start + b * piece.blockSize);
			if (request) request.ranged = true;
		}
		// The first range to a source of unknown build: the rest wait for its answer.
		if (source.ranges === RANGES_UNKNOWN) source.ranges = RANGES_ASKED;
		this.options.send(
			encodeMessage({
				type: "rangeRequest",
				token: this.options.tokenFor(source),
				fileId: this.options.fileId,
				offset: first.offset,
				length: bytes,
				blockSize: piece.blockSize,
			}),
			source,
		);
		return true;
	}

	/** Records a request for block `block` of `piece` as outstanding at `source`. */
	private track(
		piece: ActivePiece,
		block: number,
		source: SourceState,
		now: number,
		duplicate: boolean,
	): Inflight {
		const offset = piece.start + block * piece.blockSize;
		const request: Inflight = {
			piece,
			block,
			offset,
			length: Math.min(piece.blockSize, piece.length - block * piece.blockSize),
			source,
			sentAt: now,
			retransmitted: false,
			duplicate,
			ranged: false,
		};
		if (duplicate) this.duplicateInflight.set(offset, request);
		else {
			piece.requested[block] = 1;
			this.inflight.set(offset, request);
		}
		source.inflight++;
		this.inflightBytes += request.length;
		return request;
	}

	private sendRequest(request: Inflight): void {
		const { source } = request;
		// Every request is paid for, resent ones too: each brings its length in data.
		if (this.options.budget?.limited) this.options.budget.take(request.length);
		this.options.send(
			encodeMessage({
				type: "blockRequest",
				token: this.options.tokenFor(source),
				fileId: this.options.fileId,
				offset: request.offset,
				length: request.length,
			}),
			source,
		);
	}

	private sourceHas(source: SourceState, index: number): boolean {
		return source.have === undefined || hasBit(source.have, index);
	}

	private nextBlock(
		source: SourceState,
	): { piece: ActivePiece; block: number; duplicate: boolean } | undefined {
		// A probe for a larger datagram size goes first: one new piece at the probe size.
		const probe = source.mtu.probe;
		if (probe !== undefined && source.probePiece === undefined) {
			const piece = this.newPiece(source, blockPayload(probe));
			if (piece) {
				piece.probe = true;
				source.probePiece = piece.index;
				return { piece, block: this.takeBlock(piece) ?? 0, duplicate: false };
			}
		}
		for (const piece of this.active.values()) {
			if (piece.source !== source) continue;
			const block = this.takeBlock(piece);
			if (block !== undefined) return { piece, block, duplicate: false };
		}
		const blockSize = blockPayload(source.mtu.confirmed);
		// Pieces whose source went away: adopt them if our blocks fit, else start them over
		// at our block size (the blocks they hold are few next to a stuck download).
		for (const piece of [...this.active.values()]) {
			if (piece.source !== undefined || !this.sourceHas(source, piece.index)) continue;
			// A piece assembled on disk is never finished by another source (one sender per
			// fetch, so a bad piece is always that sender's): it starts over.
			if (piece.blockSize > blockSize || this.assemblesOnDisk) {
				this.dropPiece(piece);
				this.pieceState[piece.index] = MISSING;
				this.missingCount++;
				continue;
			}
			piece.source = source;
			const block = this.takeBlock(piece);
			if (block !== undefined) return { piece, block, duplicate: false };
		}
		const piece = this.newPiece(source, blockSize);
		if (piece) return { piece, block: this.takeBlock(piece) ?? 0, duplicate: false };
		// Endgame only for the last few pieces: earlier, duplicates would only load the peers.
		if (this.missingCount === 0 && this.active.size <= ENDGAME_PIECES)
			return this.endgameBlock(source, blockSize);
		return undefined;
	}

	/** The next unrequested block of a piece, or undefined. */
	private takeBlock(piece: ActivePiece): number | undefined {
		while (piece.nextBlock < piece.requested.length && piece.requested[piece.nextBlock] === 1)
			piece.nextBlock++;
		return piece.nextBlock < piece.requested.length ? piece.nextBlock : undefined;
	}

	/** Starts fetching the rarest missing piece this source holds, if memory allows. */
	private newPiece(source: SourceState, blockSize: number): ActivePiece | undefined {
		if (this.assemblesOnDisk) {
			// Its bytes go to disk: the bound is on pieces under way (their block maps).
			if (this.active.size >= MAX_SPILLED_ACTIVE) return undefined;
			let own = 0;
			for (const piece of this.active.values()) if (piece.source === source) own++;
			if (own >= MAX_SPILLED_PER_SOURCE) return undefined;
		} // Over the memory budget a source may still start one piece when it has none, so a
		// fast source cannot starve the others (nor their datagram size probes).
		else if (this.bufferedBytes + this.pieceSize > MAX_BUFFERED_BYTES && this.bufferedBytes > 0) {
			// ... but never past one extra piece per source in all.
			// (at most MAX_EXTRA_PIECES of them, so many sources cannot add up either).
			const extra = Math.min(this.sources.size, MAX_EXTRA_PIECES);
			const hardCap = MAX_BUFFERED_BYTES + extra * this.pieceSize;
			if (this.bufferedBytes + this.pieceSize > hardCap) return undefined;
			for (const piece of this.active.values()) if (piece.source === source) return undefined;
		}
		const index = this.pickPiece(source);
		if (index === undefined) return undefined;
		const length = pieceLength(this.options.manifest, index);
		const blocks = Math.ceil(length / blockSize);
		const piece: ActivePiece = {
			index,
			start: index * this.pieceSize,
			length,
			blockSize,
			buffer: this.assemblesOnDisk ? NO_BYTES : this.pieceBuffer(length),
			received: new Uint8Array(blocks),
			requested: new Uint8Array(blocks),
			receivedCount: 0,
			nextBlock: 0,
			source,
			contributors: new Set(),
			senders: this.assemblesOnDisk ? [] : new Array(blocks),
			fetch: this.nextFetch++,
			probe: false,
		};
		this.active.set(index, piece);
		this.pieceState[index] = ACTIVE;
		this.missingCount--;
		if (!this.assemblesOnDisk) this.bufferedBytes += length;
		return piece;
	}

	/**
	 * Tells the download where it stands among the leechers of this file: they split the
	 * file in stripes of STRIPE_PIECES pieces, and each prefers its own stripes when it
	 * asks a seeder, so leechers that started together fetch different pieces and push
	 * them to each other instead of all asking the seeder for the same ones.
	 * @param rank - our position among the leechers, 0-based (by peer id)
	 * @param leechers - how many leechers of the file we know, ourselves included
	 */
	setSwarm(rank: number, leechers: number): void {
		this.swarmRank = rank;
		this.swarmSize = Math.max(1, leechers);
	}

	/** True when piece `index` lies in one of our stripes. */
	private ours(index: number): boolean {
		return Math.floor(index / STRIPE_PIECES) % this.swarmSize === this.swarmRank;
	}

	/**
	 * Rarest first among the missing pieces this source holds (a seeder gets only pieces
	 * no other leecher holds); among equally rare ones,
	 * our own stripes first (see `setSwarm`), then the first found walking from a cursor
	 * that starts at the first piece, so one source reads the file mostly in order (and the
	 * content stream is fed from memory) while leechers of one swarm keep to their stripes.
	 */
	private pickPiece(source: SourceState): number | undefined {
		const n = this.pieceCount;
		let best = -1;
		let bestScore = Number.POSITIVE_INFINITY;
		let fallback = -1;
		for (let k = 0; k < n; k++) {
			const index = (this.cursor + k) % n;
			if (this.pieceState[index] !== MISSING) continue;
			if (source.have && !hasBit(source.have, index)) continue;
			// A piece another leecher holds is asked of that leecher, not of a seeder: the
			// seeder's upload goes to pieces no one else can give.
			if (!source.have && this.availability[index] > 0) continue;
			if (this.failedFrom.get(index)?.has(source.peerId)) {
				if (fallback < 0) fallback = index;
				continue;
			}
			const rarity = this.seederCount + this.availability[index];
			// Our stripes count as half a source rarer: preferred among equals, never over a
			// rarer piece.
			const score = rarity - (this.ours(index) ? 0.5 : 0);
			if (score < bestScore) {
				best = index;
				bestScore = score;
				if (score <= 0.5) break;
			}
		}
		// A piece that failed from this source goes back to it only when no one else can help.
		if (best < 0 && fallback >= 0 && this.onlyFailedHold(fallback)) best = fallback;
		if (best < 0) return undefined;
		this.cursor = (best + 1) % n;
		return best;
	}

	/** True when every usable source holding piece `index` already sent it corrupt. */
	private onlyFailedHold(index: number): boolean {
		const failed = this.failedFrom.get(index);
		for (const s of this.sources.values()) {
			if (!s.banned && this.sourceHas(s, index) && !failed?.has(s.peerId)) return false;
		}
		return true;
	}

	/** Endgame: a block outstanding at another source, asked of this one as well. */
	private endgameBlock(
		source: SourceState,
		blockSize: number,
	): { piece: ActivePiece; block: number; duplicate: boolean } | undefined {
		// Pieces assembled on disk come from one source each (no duplicates, no adoption).
		if (this.assemblesOnDisk) return undefined;
		for (const piece of this.active.values()) {
			if (piece.source === source || piece.blockSize > blockSize) continue;
			if (!this.sourceHas(source, piece.index)) continue;
			// A piece that failed is fetched again from one source only, so that fetch either
			// passes (and proves who sent the bad blocks) or is that source's bad piece.
			if (this.failedRecords.has(piece.index)) continue;
			for (let block = 0; block < piece.requested.length; block++) {
				if (piece.received[block] === 1) continue;
				const offset = piece.start + block * piece.blockSize;
				if (this.duplicateInflight.has(offset)) continue;
				const primary = this.inflight.get(offset);
				if (primary?.source === source) continue;
				if (piece.requested[block] === 0) {
					// Unrequested (its source went quiet): take it as a normal request.
					piece.source ??= source;
					if (piece.source === source) return { piece, block, duplicate: false };
					continue;
				}
				return { piece, block, duplicate: true };
			}
		}
		return undefined;
	}

	/** Removes a request from the tables and the window counts. */
	private forget(request: Inflight): void {
		const table = request.duplicate ? this.duplicateInflight : this.inflight;
		if (table.get(request.offset) !== request) return;
		table.delete(request.offset);
		request.source.inflight--;
		this.inflightBytes -= request.length;
	}

	/** A datagram-size probe was lost or refused: give the piece back and stop or retry. */
	private probeFailed(source: SourceState, piece: ActivePiece, refused: boolean): void {
		source.mtu.lose(refused);
		source.probePiece = undefined;
		this.dropPiece(piece);
		this.pieceState[piece.index] = MISSING;
		this.missingCount++;
	}

	private completePiece(piece: ActivePiece): void {
		if (this.assemblesOnDisk) {
			this.completeSpilled(piece);
			return;
		}
		this.active.delete(piece.index);
		// A probe piece with no full-size block proved nothing: probe again with another.
		if (piece.probe && piece.source?.probePiece === piece.index)
			piece.source.probePiece = undefined;
		this.pieceState[piece.index] = VERIFYING;
		const contributors = [...piece.contributors];
		const fetch: FetchInfo = {
			id: piece.fetch,
			blockSize: piece.blockSize,
			senders: piece.senders,
			contributors,
		};
		const handle = this.handle;
		if (this.hasher.hashAndWrite && handle) {
			// Verify and store in one trip to the worker; the file stays open until it is back.
			this.writesInFlight++;
			void this.hasher
				.hashAndWrite(
					piece.buffer,
					this.options.manifest.pieceHashes[piece.index],
					handle.fd,
					piece.start,
					this.content,
				)
				.then(
					({ digest, data, written }) => {
						this.writeDone();
						this.verified(piece.index, digest, data, fetch, written);
					},
					(error: unknown) => {
						this.writeDone();
						this.bufferedBytes -= piece.length;
						if (isDiskFull(error) && this.pieceState[piece.index] === VERIFYING) {
							// Not on disk: fetched again once there is room.
							this.pieceState[piece.index] = MISSING;
							this.missingCount++;
							this.waitForSpace(this.partialPath);
						} else this.fail(diskError(this.partialPath, error));
					},
				);
			return;
		}
		void this.hasher.hash(piece.buffer).then(
			({ digest, data }) => this.verified(piece.index, digest, data, fetch),
			(error: unknown) => {
				this.bufferedBytes -= piece.length;
				this.fail(`cannot verify pieces: ${reason(error)}`);
			},
		);
	}

	private verified(index: number, digest: Buffer, data: Buffer, fetch: FetchInfo, written = false) {
		const { contributors } = fetch;
		if (!this.accepting || this.pieceState[index] !== VERIFYING) {
			this.bufferedBytes -= data.length;
			this.recycle(data);
			return;
		}
		if (digest.equals(this.options.manifest.pieceHashes[index])) {
			this.judgeFailed(index, data);
			const origin = contributors.some((c) => c.have) ? "leecher" : "seeder";
			this.bufferedBytes -= data.length;
			if (written) {
				this.pieceState[index] = VERIFIED;
				this.verifiedPieces++;
				this.stored(index, data, origin);
			} else {
				// `accept` keeps the buffer until it is written.
				this.accept(index, data, origin);
				this.pump();
			}
			return;
		}
		this.bufferedBytes -= data.length;
		this.recordFailed(index, data, fetch);
		this.recycle(data);
		this.pieceFailed(index, fetch);
	}

	/**
	 * Every block of a piece assembled on disk arrived: its staged chunks are written, then it
	 * is hashed back from the partial file (1 MiB at a time). It counts as written: its bytes
	 * are in place, and the resume record names it only from now on.
	 */
	private completeSpilled(piece: ActivePiece): void {
		this.active.delete(piece.index);
		if (piece.probe && piece.source?.probePiece === piece.index)
			piece.source.probePiece = undefined;
		const { index } = piece;
		this.pieceState[index] = VERIFYING;
		const fetch: FetchInfo = {
			id: piece.fetch,
			blockSize: piece.blockSize,
			senders: [],
			contributors: [...piece.contributors],
		};
		const handle = this.handle;
		if (!handle) return;
		// Counted as a write: the file stays open until the check is back.
		this.writesInFlight++;
		void this.spill
			.flush(index)
			.then(() => hashRange(handle, piece.start, piece.length))
			.then(
				(digest) => {
					this.writeDone();
					if (!this.accepting || this.pieceState[index] !== VERIFYING) return;
					if (!digest.equals(this.options.manifest.pieceHashes[index])) {
						this.pieceFailed(index, fetch);
						return;
					}
					this.failedRecords.delete(index);
					this.pieceState[index] = VERIFIED;
					this.verifiedPieces++;
					const origin = fetch.contributors.some((c) => c.have) ? "leecher" : "seeder";
					this.stored(index, NO_BYTES, origin);
				},
				(error: unknown) => {
					this.writeDone();
					if (isDiskFull(error) && this.pieceState[index] === VERIFYING) {
						this.pieceState[index] = MISSING;
						this.missingCount++;
						this.waitForSpace(this.partialPath);
					} else if (this.running) this.fail(diskError(this.partialPath, error));
				},
			);
	}

	/** A fetched piece failed its hash: it goes back to missing, and blame is laid (§6.1). */
	private pieceFailed(index: number, fetch: FetchInfo): void {
		const { contributors } = fetch;
		// A corrupt piece is discarded and fetched again, preferably from someone else.
		this.hashFailures++;
		this.emit(
			"hash-failed",
			index,
			contributors.map((c) => c.peerId),
		);
		this.pieceState[index] = MISSING;
		this.missingCount++;
		const failed = this.failedFrom.get(index) ?? new Set<string>();
		for (const source of contributors) failed.add(source.peerId);
		this.failedFrom.set(index, failed);
		// Blame: a piece with one contributor is that peer's bad piece. With several, no one is
		// blamed yet (an innocent peer may have sent most of it): when the piece passes later,
		// `judgeFailed` blames exactly the peers whose blocks differ from the verified bytes.
		const peers = new Set(contributors.map((c) => c.peerId));
		if (peers.size === 1) for (const peerId of peers) this.strike(peerId, fetch.id);
		this.emit("progress");
		this.updateWaiting();
		this.pump();
	}

	/**
	 * Keeps who sent each block of a failed fetch and a 64-bit BLAKE3 fingerprint of it (a
	 * few bytes per block, for at most MAX_FAILED_RECORDS pieces). A peer that sent other
	 * bytes for the same block in an earlier failed fetch sent two contents for one block: a
	 * strike. `data` is the failed piece (still unrecycled).
	 */
	private recordFailed(index: number, data: Buffer, fetch: FetchInfo): void {
		for (const peerId of recordFailedFetch(this.failedRecords, index, data, fetch))
			this.strike(peerId, fetch.id);
	}

	/**
	 * Smart ban: piece `index` passed its hash (`data` is the verified piece); every peer that
	 * sent a block differing from it in an earlier failed fetch sent a bad piece (a strike
	 * for that fetch), and the innocent contributors of that fetch are cleared. Records of
	 * the piece are then dropped.
	 */
	private judgeFailed(index: number, data: Buffer): void {
		for (const { peerId, fetch } of judgeFailedFetches(this.failedRecords, index, data))
			this.strike(peerId, fetch);
	}

	/**
	 * A bad piece traceable to `peerId` (fetch `fetch`: a peer is blamed once per fetch).
	 * The BAN_BAD_PIECES-th bans it for the session: its sources get no more requests and its
	 * pushes are refused.
	 */
	private strike(peerId: string, fetch: number): void {
		if (this.bannedIds.has(peerId)) return;
		const fetches = this.strikes.get(peerId) ?? new Set<number>();
		fetches.add(fetch);
		this.strikes.set(peerId, fetches);
		if (fetches.size < BAN_BAD_PIECES) return;
		this.bannedIds.add(peerId);
		// Told first: the engine bans the peer in every download (this one included).
		this.emit("banned", peerId);
		for (const source of this.sources.values())
			if (source.peerId === peerId && !source.banned) this.ban(source);
		this.updateWaiting();
	}

	private ban(source: SourceState): void {
		this.release(source);
		this.uncount(source);
		source.banned = true;
		// Its blocks in pieces being fetched are not trusted: those pieces start over.
		for (const piece of [...this.active.values()]) {
			if (!piece.contributors.has(source)) continue;
			this.dropPiece(piece);
			this.pieceState[piece.index] = MISSING;
			this.missingCount++;
		}
		// Every source banned: say so rather than wait for ever; verified pieces stay on disk.
		if (this.usableSources === 0)
			this.fail(
				`every peer with this file served corrupt pieces and was banned (${this.bannedPeers().length}); the partial download is kept`,
			);
	}

	/**
	 * A buffer for a piece: a spare full-size one when there is one. Piece buffers live for
	 * tens of ms, long enough for V8 to move them to its old generation, where dead ones
	 * wait for a full collection; reusing them keeps memory flat instead. The engine takes
	 * its buffers for pushed pieces from here too.
	 * @param length - piece length in bytes
	 */
	pieceBuffer(length: number): Buffer {
		if (length !== this.pieceSize) return Buffer.allocUnsafe(length);
		return this.spare.pop() ?? Buffer.allocUnsafeSlow(length);
	}

	/**
	 * Gives a full-size piece buffer back for reuse (a bounded number are kept).
	 * @param buffer - a buffer from `pieceBuffer` no one uses any more
	 */
	recycle(buffer: Buffer): void {
		if (
			!this.ended &&
			buffer.length === this.pieceSize &&
			buffer.byteOffset === 0 &&
			buffer.buffer.byteLength === this.pieceSize &&
			this.spare.length * this.pieceSize < MAX_BUFFERED_BYTES
		)
			this.spare.push(buffer);
	}

	/** Marks a verified piece done and queues its write, then the resume record. */
	private accept(index: number, data: Buffer, origin: PieceOrigin): void {
		this.pieceState[index] = VERIFIED;
		this.verifiedPieces++;
		this.bufferedBytes += data.length;
		const position = index * this.pieceSize;
		this.writeQueue.push(async () => {
			const handle = this.handle;
			if (!handle || this.status === "failed") {
				this.bufferedBytes -= data.length;
				return;
			}
			try {
				await writeFully(handle, data, position);
			} catch (error) {
				this.bufferedBytes -= data.length;
				if (!isDiskFull(error)) {
					this.fail(diskError(this.partialPath, error));
					return;
				}
				// Not on disk (perhaps part of it is: its bit stays clear): fetched again later.
				if (this.pieceState[index] === VERIFIED && !hasBit(this.have, index)) {
					this.pieceState[index] = MISSING;
					this.verifiedPieces--;
					this.missingCount++;
				}
				this.recycle(data);
				this.waitForSpace(this.partialPath);
				return;
			}
			this.bufferedBytes -= data.length;
			this.stored(index, data, origin);
		});
		this.drainWrites();
	}

	/** A verified piece is on disk: mark it held, record it, tell listeners, go on. */
	private stored(index: number, data: Buffer, origin: PieceOrigin): void {
		if (this.status === "failed" || this.status === "cancelled") return;
		setBit(this.have, index);
		this.bytesDone += pieceLength(this.options.manifest, index);
		this.recordDirty = true;
		this.followContent();
		// The record is written after this piece's data, and lists only pieces whose write
		// finished; one record write at a time.
		if (this.now() - this.lastRecordAt >= RESUME_INTERVAL_MS) {
			this.lastRecordAt = this.now();
			this.recordChain = this.recordChain.then(() => this.writeRecord());
		}
		// Listeners use the piece at once (pushes copy what they send), so it can be reused.
		this.emit("piece", index, data, origin);
		this.recycle(data);
		this.emit("progress");
		// A paused download verifies the whole file once resumed, never while paused.
		if (this.bytesDone === this.options.manifest.size) {
			if (this.running) void this.finish();
		} else this.pump();
	}

	/**
	 * Hands the file's complete prefix to the content stream, in steps of at least
	 * CONTENT_STEP_BYTES (or to the end), so the whole-content hash keeps up with the download.
	 */
	private followContent(): void {
		const content = this.content;
		const handle = this.handle;
		if (!content || !handle) return;
		const from = this.contentPieces;
		while (this.contentPieces < this.pieceCount && hasBit(this.have, this.contentPieces))
			this.contentPieces++;
		if (this.contentPieces === from) return;
		const end = Math.min(this.contentPieces * this.pieceSize, this.options.manifest.size);
		if (end < this.options.manifest.size && end - from * this.pieceSize < CONTENT_STEP_BYTES) {
			this.contentPieces = from;
			return;
		}
		this.contentChain = content.advance(handle.fd, end).catch(() => {
			// A failed read spoils the stream: the final check reads the whole file instead.
			if (this.content === content) this.content = undefined;
		});
	}

	/** Starts queued piece writes, a few at a time (writes at different offsets overlap). */
	private drainWrites(): void {
		while (this.writesInFlight < MAX_WRITES && this.writeQueue.length > 0) {
			const job = this.writeQueue.shift() as () => Promise<void>;
			this.writesInFlight++;
			void job().finally(() => this.writeDone());
		}
	}

	/** One write (queued here or done by the worker) finished. */
	private writeDone(): void {
		this.writesInFlight--;
		this.drainWrites();
		if (this.writesInFlight === 0 && this.writeQueue.length === 0) {
			for (const resolve of this.writesIdle.splice(0)) resolve();
		}
	}

	/** Resolves once every queued piece write and record write has finished. */
	private async settleWrites(): Promise<void> {
		if (this.writesInFlight > 0 || this.writeQueue.length > 0)
			await new Promise<void>((resolve) => this.writesIdle.push(resolve));
		await this.recordChain;
		await this.contentChain;
	}

	/**
	 * Writes the resume record for what is on disk now, atomically (temporary file, then
	 * rename). It snapshots the have-map, whose bits are set only once a piece's write has
	 * finished, so it never names a piece not yet on disk.
	 */
	private async writeRecord(): Promise<boolean> {
		if (!this.recordDirty || this.status === "failed" || this.status === "cancelled") return true;
		this.lastRecordAt = this.now();
		const error = await this.storeRecord();
		if (error === undefined) return true;
		if (isDiskFull(error)) {
			// The old record stays in place (the new one goes to a temporary file first).
			this.recordDirty = true;
			this.waitForSpace(this.resumePath);
			return false;
		}
		this.fail(diskError(this.resumePath, error));
		return false;
	}

	/**
	 * Syncs the partial file's data, then writes the record to a temporary file and renames it
	 * over the old one.
	 * @param handle - the partial file (the download's own unless it is closing)
	 * @returns the fs error, or undefined when the record is in place
	 */
	private async storeRecord(handle = this.handle): Promise<unknown> {
		this.recordDirty = false;
		// The pieces the record names reach the disk first, so even a power cut never leaves a
		// record that claims bytes the disk lost. Syncing as we go also spreads the flush over
		// the download instead of one long sync at the end.
		// A failed sync (the disk full, say) must not cost the record: a piece it names that the
		// disk did lose fails the whole-content check, and every piece is checked again then.
		await handle?.datasync().catch(() => {});
		const bytes = encodeResume({
			fileId: this.options.fileId,
			size: this.options.manifest.size,
			pieceSize: this.pieceSize,
			have: this.have,
		});
		const temporary = `${this.resumePath}.tmp`;
		try {
			await fs.writeFile(temporary, bytes);
			await fs.rename(temporary, this.resumePath);
			return undefined;
		} catch (error) {
			await fs.rm(temporary, { force: true }).catch(() => {});
			return error ?? new Error("record not written");
		}
	}

	/** Forgets an active piece and its outstanding requests. */
	private dropPiece(piece: ActivePiece): void {
		if (this.active.get(piece.index) === piece) {
			this.active.delete(piece.index);
			if (this.assemblesOnDisk) this.spill.drop(piece.index);
			else {
				this.bufferedBytes -= piece.length;
				this.recycle(piece.buffer);
			}
		}
		for (let block = 0; block < piece.requested.length; block++) {
			const offset = piece.start + block * piece.blockSize;
			for (const table of [this.inflight, this.duplicateInflight]) {
				const request = table.get(offset);
				if (request && request.piece === piece) this.forget(request);
			}
		}
		if (piece.source?.probePiece === piece.index) piece.source.probePiece = undefined;
	}

	/** Takes all outstanding work away from a source (it left, stalled or was banned). */
	private release(source: SourceState): void {
		for (const table of [this.inflight, this.duplicateInflight]) {
			for (const request of [...table.values()]) {
				if (request.source !== source) continue;
				this.forget(request);
				if (!request.duplicate) {
					request.piece.requested[request.block] = 0;
					request.piece.nextBlock = Math.min(request.piece.nextBlock, request.block);
				}
			}
		}
		if (source.probePiece !== undefined) {
			const piece = this.active.get(source.probePiece);
			source.probePiece = undefined;
			if (piece) {
				this.dropPiece(piece);
				this.pieceState[piece.index] = MISSING;
				this.missingCount++;
			}
		}
		for (const piece of this.active.values()) {
			if (piece.source === source) piece.source = undefined;
		}
	}

	/** Takes a partial seeder's claims out of the availability counts, or puts them back. */
	private suspend(source: SourceState, suspended: boolean): void {
		if (!source.have || source.banned || source.suspended === suspended) return;
		this.countHave(source, suspended ? -1 : 1);
		source.suspended = suspended;
	}

	/** Takes a source out of the availability counts (it left or was banned). */
	private uncount(source: SourceState): void {
		if (source.banned) return;
		if (!source.have) this.seederCount--;
		else if (!source.suspended) this.countHave(source, -1);
	}

	private countHave(source: SourceState, sign: 1 | -1): void {
		const have = source.have;
		if (!have) return;
		for (let index = 0; index < this.pieceCount; index++)
			if (hasBit(have, index)) this.availability[index] += sign;
	}

	/** Replaces part of a partial seeder's have-map, keeping the availability counts. */
	private setHave(source: SourceState, firstPiece: number, bits: ArrayLike<number>): void {
		const have = source.have;
		if (!have || firstPiece % 8 !== 0) return;
		const first = firstPiece / 8;
		const spare = have.length * 8 - this.pieceCount;
		for (let b = 0; b < bits.length && first + b < have.length; b++) {
			const at = first + b;
			let next = bits[b];
			if (at === have.length - 1 && spare > 0) next &= 0xff << spare;
			const changed = have[at] ^ next;
			if (changed === 0) continue;
			for (let k = 0; k < 8; k++) {
				const mask = 0x80 >> k;
				if ((changed & mask) === 0) continue;
				if (!source.banned && !source.suspended)
					this.availability[at * 8 + k] += next & mask ? 1 : -1;
			}
			have[at] = next;
		}
	}

	/**
	 * The disk is full: stop asking for blocks and wait (status `waiting`, `error` saying
	 * why) until {@link SPACE_PROBE_MS} checks find room for a piece and its record, then go
	 * on by itself. Pieces in progress are given up; those whose write failed are missing
	 * again. The partial file and the last good resume record stay as they are.
	 * @param file - the file whose write failed
	 */
	private waitForSpace(file: string): void {
		if (this.ended || this.finishing) return;
		this.error = `disk full: waiting for space to write ${file}`;
		if (this.spaceTimer) return;
		for (const source of this.sources.values()) this.release(source);
		for (const piece of [...this.active.values()]) {
			this.dropPiece(piece);
			this.pieceState[piece.index] = MISSING;
			this.missingCount++;
		}
		if (this.running) this.status = "waiting";
		this.spaceTimer = setInterval(() => void this.probeSpace(), SPACE_PROBE_MS);
		this.spaceTimer.unref();
		this.emit("progress");
	}

	/** Goes on when the downloads folder has room for a piece and a record again. */
	private async probeSpace(): Promise<void> {
		if (!this.spaceTimer) return;
		let free: number;
		try {
			const stats = await fs.statfs(path.dirname(this.partialPath));
			free = stats.bavail * stats.bsize;
		} catch (error) {
			// The folder is gone (or unreadable): that is no longer a matter of space.
			this.fail(diskError(this.partialPath, error));
			return;
		}
		if (!this.spaceTimer || free < 2 * this.pieceSize + 64 * 1024) return;
		this.stopSpaceWait();
		this.error = undefined;
		if (!this.running) {
			// Paused meanwhile: resume() goes on from here.
			this.emit("progress");
			return;
		}
		this.status = "downloading";
		this.lastTickAt = Number.POSITIVE_INFINITY;
		this.updateWaiting();
		this.emit("progress");
		if (this.recordDirty) void this.flushRecord();
		if (this.verifiedPieces === this.pieceCount) void this.finish();
		else this.pump();
	}

	private stopSpaceWait(): void {
		clearInterval(this.spaceTimer);
		this.spaceTimer = undefined;
	}

	private fail(error: string): void {
		if (this.ended) return;
		this.stopSpaceWait();
		this.status = "failed";
		this.error = error;
		for (const source of this.sources.values()) this.release(source);
		this.active.clear();
		this.spill.clear();
		this.spare.length = 0;
		const handle = this.handle;
		this.handle = undefined;
		// The partial file stays, with a record of what it holds, for a later retry.
		this.closed = (async () => {
			await this.settleWrites();
			this.dropContent();
			if (this.recordDirty && handle) await this.storeRecord(handle);
			await handle?.close().catch(() => {});
		})();
		this.emit("failed", error);
	}

	/**
	 * Hashes the whole partial file and moves it to a final name that is not taken. When
	 * the content hash does not match although every piece did (a record that lied, a
	 * disk that lost a write), every piece is checked again once and the bad ones fetched.
	 */
	private async finish(): Promise<void> {
		if (this.finishing) return;
		this.finishing = true;
		this.stopSpaceWait();
		await this.settleWrites();
		if (this.ended || !this.handle) return;
		this.status = "verifying";
		this.emit("progress");
		const handle = this.handle;
		const { manifest } = this.options;
		try {
			await handle.truncate(manifest.size);
			await handle.sync();
			const content = await this.contentHash(handle);
			if (!content.equals(manifest.contentHash)) {
				if (!this.rechecked) {
					this.rechecked = true;
					this.finishing = false;
					await this.recheck();
					return;
				}
				this.fail("content hash mismatch after all pieces verified");
				return;
			}
			// Cancelled while hashing: it never appears under its final name.
			if (this.ended) return;
			this.placing = true;
			await handle.close();
			this.handle = undefined;
			this.finalPath = await placeFinal(this.partialPath, this.options.target, content, (f, n) =>
				this.hasher.hashFile(f, n),
			);
			await fs.rm(this.resumePath, { force: true });
			// A record write a crash cut short in an earlier run may have left its temporary file.
			await fs.rm(`${this.resumePath}.tmp`, { force: true });
		} catch (error) {
			this.placing = false;
			this.fail(`cannot finish ${this.options.target}: ${reason(error)}`);
			return;
		}
		this.status = "complete";
		// The engine keeps ended downloads (for their state): not their spare piece buffers.
		this.spare.length = 0;
		this.emit("progress");
		this.emit("complete", this.finalPath);
	}

	/** Lets go of the content stream of a download that ended without finishing. */
	private dropContent(): void {
		this.content?.release();
		this.content = undefined;
	}

	/**
	 * BLAKE3 of the partial file's whole content: from the content stream when it kept up
	 * (it has hashed nearly all of it by now), else by reading the file again.
	 */
	private async contentHash(handle: fs.FileHandle): Promise<Buffer> {
		const { size } = this.options.manifest;
		const content = this.content;
		this.content = undefined;
		if (content) {
			try {
				return await content.digest(handle.fd, size);
			} catch {
				// The stream broke (a failed read, its worker gone): read the file instead.
			}
		}
		return this.hasher.hashFile(this.partialPath, size);
	}

	/** Hashes every piece on disk again; the ones that fail go back to missing. */
	private async recheck(): Promise<void> {
		const handle = this.handle;
		if (!handle) return;
		for (let index = 0; index < this.pieceCount; index++) {
			const length = pieceLength(this.options.manifest, index);
			let digest: Buffer;
			if (this.assemblesOnDisk) digest = await hashRange(handle, index * this.pieceSize, length);
			else {
				const data = Buffer.allocUnsafe(length);
				await readFully(handle, data, index * this.pieceSize);
				digest = (await this.hasher.hash(data)).digest;
			}
			if (digest.equals(this.options.manifest.pieceHashes[index])) continue;
			this.pieceState[index] = MISSING;
			this.missingCount++;
			this.verifiedPieces--;
			this.bytesDone -= length;
			this.have[index >> 3] &= ~(0x80 >> (index & 7));
		}
		this.recordDirty = true;
		await this.writeRecord();
		if (this.ended) return;
		if (this.spaceTimer) {
			// The record met a full disk: wait for space, then go on (see probeSpace).
			this.status = "waiting";
			this.emit("progress");
			return;
		}
		this.status = "downloading";
		this.updateWaiting();
		this.emit("progress");
		if (this.bytesDone === this.options.manifest.size) void this.finish();
		else this.pump();
	}
}

/** Block payload bytes for a datagram of `datagram` bytes. */
function blockPayload(datagram: number): number {
	return Math.min(MAX_BLOCK_SIZE, datagram - DATA_OVERHEAD);
}
