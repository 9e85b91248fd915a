/**
 * One download: a receiver-driven, pipelined block scheduler over many sources.
 *
 * How the objects relate: the file is cut in pieces (manifest), each piece in blocks. A
 * piece being fetched is an `ActivePiece` assigned to one source, so a piece that fails
 * its BLAKE3 check is blamed on the source that sent it. Each source (a peer with the
 * file) keeps a congestion window of outstanding block requests (AIMD: slow start, then
 * +1/cwnd per block, halved at most once per RTT on a timeout) and an RTO from its
 * smoothed RTT (RFC 6298). A timed-out request is sent again; a source silent for many
 * RTOs gives its pieces back. A verified piece is written at its offset in the partial
 * file (`<name>.p2p-part`); when every piece is written the whole file is hashed again and
 * moved to its final name only if the content BLAKE3 matches (never over another file).
 *
 * No sockets: requests go out through the injected `send`; data comes in through
 * `onData`, pushed pieces through `offerPiece`, and time through `tick(now)`.
 */
import { EventEmitter } from "node:events";
import { constants as fsConstants } from "node:fs";
import fs from "node:fs/promises";
import path from "node:path";
import { readFully, reason } from "../library/library.js";
import { numberedName, PARTIAL_SUFFIX } from "../library/paths.js";
import type { TransferState, TransferStatus } from "../peer/types.js";
import { createHasher, hash } from "../protocol/hash.js";
import { type Manifest, pieceCount, pieceLength } from "../protocol/manifest.js";
import { DATA_OVERHEAD, encodeMessage, MAX_BLOCK_SIZE } from "../protocol/messages.js";
import { maxDatagramFor } from "./path-mtu.js";
import { RttEstimator } from "./rtt.js";
import type { Endpoint } from "./serve.js";

/** A peer that has the file: where to send block requests (its send port). */
export interface SourceInfo {
	peerId: string;
	address: string;
	/** The peer's send port. */
	port: number;
}

/** Initial congestion window, in blocks. */
const INITIAL_CWND = 4;
/** Largest congestion window, in blocks. */
const MAX_CWND = 512;
/** Most pieces held in memory while being fetched. */
const MAX_ACTIVE_PIECES = 48;
/** Most verified pieces waiting for the disk before requests pause. */
const MAX_PENDING_WRITES = 32;
/** Consecutive timeouts after which a source gives its pieces back. */
const STALL_TIMEOUTS = 8;
/** How long a stalled source is left alone, in ms. */
const STALL_BACKOFF_MS = 2_000;
/** Bad pieces after which a source is banned for the session. */
const BAN_BAD_PIECES = 3;

interface SourceState extends SourceInfo {
	rtt: RttEstimator;
	cwnd: number;
	ssthresh: number;
	inflight: number;
	/** Block payload size for this path, in bytes. */
	blockSize: number;
	badPieces: number;
	banned: boolean;
	stalledUntil: number;
	consecutiveTimeouts: number;
	lastLossAt: number;
	lastDataAt: number;
	token: () => Uint8Array;
}

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
	source: SourceState | undefined;
	contributors: Set<SourceState>;
}

interface Inflight {
	piece: ActivePiece;
	block: number;
	offset: number;
	length: number;
	source: SourceState;
	sentAt: number;
	retransmitted: boolean;
}

/** Events of a download. */
export interface DownloadEvents {
	/** A piece was verified and written (from a source or a push); `data` is its content. */
	piece: [index: number, data: Buffer];
	progress: [];
	complete: [path: string];
	failed: [error: string];
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
	/** Clock in ms. */
	now?: () => number;
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
	fromSeeders = 0;
	fromDistribution = 0;
	hashFailures = 0;
	/** Block datagrams that arrived for nothing we wanted (duplicates, late retransmissions). */
	duplicates = 0;
	retransmits = 0;

	private readonly sources = new Map<string, SourceState>();
	private readonly done: Uint8Array;
	private readonly active = new Map<number, ActivePiece>();
	private readonly inflight = new Map<number, Inflight>();
	/** Pieces that failed from a source: avoid giving them to it again. */
	private readonly failedFrom = new Map<number, Set<string>>();
	private readonly now: () => number;
	private readonly partialPath: string;
	private handle: fs.FileHandle | undefined;
	private pendingWrites = 0;
	private writeChain: Promise<void> = Promise.resolve();
	private finishing = false;
	private readonly rateSamples: { at: number; bytes: number }[] = [];

	constructor(private readonly options: DownloadOptions) {
		super();
		this.now = options.now ?? Date.now;
		this.pieceCount = pieceCount(options.manifest.size, options.manifest.pieceSize);
		this.done = new Uint8Array(this.pieceCount);
		this.have = new Uint8Array(Math.ceil(this.pieceCount / 8));
		this.partialPath = options.target + PARTIAL_SUFFIX;
	}

	/**
	 * Opens the partial file and starts requesting.
	 * @throws nothing; a failure to open the partial file fails the download
	 */
	async start(): Promise<void> {
		try {
			await fs.mkdir(path.dirname(this.partialPath), { recursive: true });
			this.handle = await fs.open(
				this.partialPath,
				fsConstants.O_RDWR | fsConstants.O_CREAT | fsConstants.O_TRUNC,
			);
		} catch (error) {
			this.fail(`cannot write ${this.partialPath}: ${reason(error)}`);
			return;
		}
		this.status = this.sources.size > 0 ? "downloading" : "waiting";
		if (this.pieceCount === 0) void this.finish();
		else this.pump();
	}

	/** Adds (or refreshes) a source. */
	addSource(info: SourceInfo): void {
		const key = `${info.address}:${info.port}`;
		if (this.sources.has(key)) return;
		const blockSize = Math.min(MAX_BLOCK_SIZE, maxDatagramFor(info.address) - DATA_OVERHEAD);
		this.sources.set(key, {
			...info,
			rtt: new RttEstimator(),
			cwnd: INITIAL_CWND,
			ssthresh: 64,
			inflight: 0,
			blockSize,
			badPieces: 0,
			banned: false,
			stalledUntil: 0,
			consecutiveTimeouts: 0,
			lastLossAt: 0,
			lastDataAt: 0,
			token: () => this.options.tokenFor(info),
		});
		if (this.status === "waiting") this.status = "downloading";
		this.pump();
	}

	/** Removes a source (the peer left or no longer has the file); its work goes to others. */
	removeSource(address: string, port: number): void {
		const source = this.sources.get(`${address}:${port}`);
		if (!source) return;
		this.release(source);
		this.sources.delete(`${address}:${port}`);
		this.updateWaiting();
		this.pump();
	}

	/** Number of sources not banned. */
	get usableSources(): number {
		let n = 0;
		for (const s of this.sources.values()) if (!s.banned) n++;
		return n;
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
		while (this.rateSamples.length > 0 && this.rateSamples[0].at < since) this.rateSamples.shift();
		let bytes = 0;
		for (const s of this.rateSamples) bytes += s.bytes;
		return bytes / 2;
	}

	/** The file's manifest. */
	get manifest(): Manifest {
		return this.options.manifest;
	}

	/** Piece size in bytes. */
	get pieceSize(): number {
		return this.options.manifest.pieceSize;
	}

	/**
	 * Reads a verified, written piece back from the partial file (for distribution).
	 * @returns the piece, or null when it is not on disk or the file is closed
	 */
	async readPiece(index: number): Promise<Buffer | null> {
		const handle = this.handle;
		if (!handle || (this.have[index >> 3] & (0x80 >> (index & 7))) === 0) return null;
		const data = Buffer.allocUnsafe(pieceLength(this.options.manifest, index));
		try {
			await readFully(handle, data, index * this.options.manifest.pieceSize);
			return data;
		} catch {
			return null;
		}
	}

	/** True when piece `index` is verified. */
	hasPiece(index: number): boolean {
		return this.done[index] === 1;
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
			hashFailures: this.hashFailures,
			status: this.status,
			path: this.finalPath,
			error: this.error,
		};
	}

	/**
	 * Takes a data datagram that arrived on our receive port.
	 * @param from - the sender; must be the source the block was requested from
	 */
	onData(from: Endpoint, offset: number, payload: Uint8Array): void {
		const request = this.inflight.get(offset);
		if (
			!request ||
			request.source.address !== from.address ||
			request.source.port !== from.port ||
			request.length !== payload.length
		) {
			this.duplicates++;
			return;
		}
		this.inflight.delete(offset);
		const { source, piece } = request;
		source.inflight--;
		const now = this.now();
		if (!request.retransmitted) source.rtt.sample(now - request.sentAt);
		source.consecutiveTimeouts = 0;
		source.lastDataAt = now;
		source.cwnd = Math.min(
			MAX_CWND,
			source.cwnd + (source.cwnd < source.ssthresh ? 1 : 1 / source.cwnd),
		);
		if (this.active.get(piece.index) === piece && piece.received[request.block] === 0) {
			piece.buffer.set(payload, request.block * piece.blockSize);
			piece.received[request.block] = 1;
			piece.receivedCount++;
			piece.contributors.add(source);
			this.fromSeeders += payload.length;
			this.rateSamples.push({ at: now, bytes: payload.length });
			if (piece.receivedCount === piece.received.length) this.completePiece(piece);
		} else {
			this.duplicates++;
		}
		this.pump();
	}

	/** A source answered a block request with an error (file gone): drop the source. */
	onError(from: Endpoint): void {
		this.removeSource(from.address, from.port);
	}

	/** A source issued a new token: resend everything outstanding to it at once. */
	onRetry(from: Endpoint): void {
		const now = this.now();
		for (const request of this.inflight.values()) {
			if (request.source.address === from.address && request.source.port === from.port) {
				request.sentAt = now;
				request.retransmitted = true;
				this.sendRequest(request);
			}
		}
	}

	/**
	 * Offers a whole piece pushed by another leecher (distribution).
	 * @returns true when the piece was missing, verified and taken
	 */
	offerPiece(index: number, data: Buffer): boolean {
		if (index < 0 || index >= this.pieceCount || this.done[index] === 1 || this.finishing)
			return false;
		if (data.length !== pieceLength(this.options.manifest, index)) return false;
		if (!hash(data).equals(this.options.manifest.pieceHashes[index])) return false;
		const piece = this.active.get(index);
		if (piece) this.dropPiece(piece);
		this.fromDistribution += data.length;
		this.rateSamples.push({ at: this.now(), bytes: data.length });
		this.accept(index, data);
		this.pump();
		return true;
	}

	/**
	 * Advances time: retransmits timed-out requests, backs off stalled sources.
	 * @param now - clock in ms
	 */
	tick(now = this.now()): void {
		if (this.status !== "downloading" && this.status !== "waiting") return;
		const lossFrom = new Set<SourceState>();
		for (const request of this.inflight.values()) {
			const source = request.source;
			if (now - request.sentAt <= source.rtt.rto) continue;
			if (!lossFrom.has(source)) {
				lossFrom.add(source);
				source.consecutiveTimeouts++;
				// One multiplicative decrease per round trip, as TCP reacts once per window.
				if (now - source.lastLossAt > (source.rtt.srtt ?? 0)) {
					source.ssthresh = Math.max(2, source.cwnd / 2);
					source.cwnd = source.ssthresh;
					source.lastLossAt = now;
				}
				source.rtt.backoff();
			}
			if (source.consecutiveTimeouts >= STALL_TIMEOUTS) continue;
			request.sentAt = now;
			request.retransmitted = true;
			this.retransmits++;
			this.sendRequest(request);
		}
		for (const source of lossFrom) {
			if (source.consecutiveTimeouts >= STALL_TIMEOUTS) {
				source.stalledUntil = now + STALL_BACKOFF_MS;
				source.consecutiveTimeouts = 0;
				source.cwnd = INITIAL_CWND;
				this.release(source);
			}
		}
		this.updateWaiting();
		this.pump();
	}

	/** Stops the download; the partial file stays. */
	async cancel(): Promise<void> {
		if (this.status === "complete" || this.status === "failed") return;
		this.fail("cancelled");
		await this.writeChain;
	}

	private updateWaiting(): void {
		if (this.status !== "downloading" && this.status !== "waiting") return;
		this.status = this.usableSources > 0 ? "downloading" : "waiting";
	}

	/** Fills every source's congestion window with block requests. */
	private pump(): void {
		if (this.status !== "downloading" || !this.handle) return;
		if (this.pendingWrites >= MAX_PENDING_WRITES) return;
		const now = this.now();
		for (const source of this.sources.values()) {
			if (source.banned || source.stalledUntil > now) continue;
			while (source.inflight < Math.floor(source.cwnd)) {
				const next = this.nextBlock(source);
				if (!next) break;
				const { piece, block } = next;
				piece.requested[block] = 1;
				const offset = piece.start + block * piece.blockSize;
				const length = Math.min(piece.blockSize, piece.length - block * piece.blockSize);
				const request: Inflight = {
					piece,
					block,
					offset,
					length,
					source,
					sentAt: now,
					retransmitted: false,
				};
				this.inflight.set(offset, request);
				source.inflight++;
				this.sendRequest(request);
			}
		}
	}

	private sendRequest(request: Inflight): void {
		const { source } = request;
		this.options.send(
			encodeMessage({
				type: "blockRequest",
				token: source.token(),
				fileId: this.options.fileId,
				offset: request.offset,
				length: request.length,
			}),
			source,
		);
	}

	private nextBlock(source: SourceState): { piece: ActivePiece; block: number } | undefined {
		for (const piece of this.active.values()) {
			if (piece.source !== source) continue;
			const block = piece.requested.indexOf(0);
			if (block >= 0) return { piece, block };
		}
		// Pieces whose source went away: adopt them if our blocks fit.
		for (const piece of this.active.values()) {
			if (piece.source === undefined && piece.blockSize <= source.blockSize) {
				piece.source = source;
				const block = piece.requested.indexOf(0);
				if (block >= 0) return { piece, block };
			}
		}
		if (this.active.size >= MAX_ACTIVE_PIECES) return undefined;
		const index = this.pickPiece(source);
		if (index === undefined) return undefined;
		const length = pieceLength(this.options.manifest, index);
		const blocks = Math.ceil(length / source.blockSize);
		const piece: ActivePiece = {
			index,
			start: index * this.options.manifest.pieceSize,
			length,
			blockSize: source.blockSize,
			buffer: Buffer.allocUnsafe(length),
			received: new Uint8Array(blocks),
			requested: new Uint8Array(blocks),
			receivedCount: 0,
			source,
			contributors: new Set(),
		};
		this.active.set(index, piece);
		return { piece, block: 0 };
	}

	/**
	 * Picks a missing piece nobody is fetching, at random: several leechers of one file
	 * then hold different pieces and distribution has something to push.
	 */
	private pickPiece(source: SourceState): number | undefined {
		const start = Math.floor(Math.random() * this.pieceCount);
		let fallback: number | undefined;
		for (let i = 0; i < this.pieceCount; i++) {
			const index = (start + i) % this.pieceCount;
			if (this.done[index] === 1 || this.active.has(index)) continue;
			if (this.failedFrom.get(index)?.has(source.peerId) && this.usableSources > 1) {
				fallback ??= index;
				continue;
			}
			return index;
		}
		return fallback;
	}

	private completePiece(piece: ActivePiece): void {
		this.active.delete(piece.index);
		if (hash(piece.buffer).equals(this.options.manifest.pieceHashes[piece.index])) {
			this.accept(piece.index, piece.buffer);
			return;
		}
		// A corrupt piece is discarded and fetched again, preferably from someone else.
		this.hashFailures++;
		const failed = this.failedFrom.get(piece.index) ?? new Set<string>();
		for (const source of piece.contributors) {
			failed.add(source.peerId);
			source.badPieces++;
			if (source.badPieces >= BAN_BAD_PIECES && !source.banned) {
				source.banned = true;
				this.release(source);
			}
		}
		this.failedFrom.set(piece.index, failed);
		this.updateWaiting();
	}

	/** Marks a verified piece done and queues its write. */
	private accept(index: number, data: Buffer): void {
		this.done[index] = 1;
		this.verifiedPieces++;
		this.pendingWrites++;
		const position = index * this.options.manifest.pieceSize;
		this.writeChain = this.writeChain.then(async () => {
			if (!this.handle || this.status === "failed") return;
			try {
				await this.handle.write(data, 0, data.length, position);
			} catch (error) {
				this.fail(`cannot write ${this.partialPath}: ${reason(error)}`);
				return;
			}
			this.pendingWrites--;
			this.have[index >> 3] |= 0x80 >> (index & 7);
			this.bytesDone += data.length;
			this.emit("piece", index, data);
			this.emit("progress");
			if (this.verifiedPieces === this.pieceCount) void this.finish();
			else this.pump();
		});
	}

	/** Forgets an active piece and its outstanding requests. */
	private dropPiece(piece: ActivePiece): void {
		this.active.delete(piece.index);
		for (let block = 0; block < piece.requested.length; block++) {
			const offset = piece.start + block * piece.blockSize;
			const request = this.inflight.get(offset);
			if (request && request.piece === piece) {
				request.source.inflight--;
				this.inflight.delete(offset);
			}
		}
	}

	/** Takes all outstanding work away from a source (it left, stalled or was banned). */
	private release(source: SourceState): void {
		for (const [offset, request] of this.inflight) {
			if (request.source !== source) continue;
			this.inflight.delete(offset);
			request.piece.requested[request.block] = 0;
		}
		source.inflight = 0;
		for (const piece of this.active.values()) {
			if (piece.source === source) piece.source = undefined;
		}
	}

	private fail(error: string): void {
		if (this.status === "failed" || this.status === "complete") return;
		this.status = "failed";
		this.error = error;
		for (const source of this.sources.values()) this.release(source);
		this.active.clear();
		void this.handle?.close().catch(() => {});
		this.handle = undefined;
		this.emit("failed", error);
	}

	/** Hashes the whole partial file and moves it to a final name that is not taken. */
	private async finish(): Promise<void> {
		if (this.finishing) return;
		this.finishing = true;
		await this.writeChain;
		if (this.status === "failed" || !this.handle) return;
		this.status = "verifying";
		this.emit("progress");
		const handle = this.handle;
		const { manifest } = this.options;
		try {
			await handle.truncate(manifest.size);
			await handle.sync();
			const content = await hashHandle(handle, manifest.size);
			await handle.close();
			this.handle = undefined;
			if (!content.equals(manifest.contentHash)) {
				this.fail("content hash mismatch after all pieces verified");
				return;
			}
			this.finalPath = await placeFinal(this.partialPath, this.options.target, content);
		} catch (error) {
			this.fail(`cannot finish ${this.options.target}: ${reason(error)}`);
			return;
		}
		this.status = "complete";
		this.emit("progress");
		this.emit("complete", this.finalPath);
	}
}

/** BLAKE3 of the first `size` bytes of an open file. */
async function hashHandle(handle: fs.FileHandle, size: number): Promise<Buffer> {
	const hasher = createHasher();
	const chunk = Buffer.allocUnsafe(Math.min(4 * 1024 * 1024, Math.max(size, 1)));
	for (let offset = 0; offset < size; offset += chunk.length) {
		const part = chunk.subarray(0, Math.min(chunk.length, size - offset));
		await readFully(handle, part, offset);
		hasher.update(part);
	}
	return hasher.digest();
}

/**
 * Moves the verified partial file to `target`, or to `name (n).ext` when `target` holds
 * a different file; when `target` already holds the same content, keeps that one.
 * `link` + `unlink` never replaces an existing file, unlike `rename`.
 * @returns the final path
 */
async function placeFinal(partial: string, target: string, content: Buffer): Promise<string> {
	for (let n = 0; n < 1000; n++) {
		const candidate = n === 0 ? target : numberedName(target, n);
		try {
			await fs.link(partial, candidate);
			await fs.unlink(partial);
			return candidate;
		} catch (error) {
			if ((error as NodeJS.ErrnoException).code !== "EEXIST") throw error;
			if (await sameContent(candidate, content)) {
				await fs.unlink(partial);
				return candidate;
			}
		}
	}
	throw new Error("no free name");
}

async function sameContent(file: string, content: Buffer): Promise<boolean> {
	try {
		const handle = await fs.open(file, fsConstants.O_RDONLY);
		try {
			const stat = await handle.stat();
			return stat.isFile() && (await hashHandle(handle, stat.size)).equals(content);
		} finally {
			await handle.close();
		}
	} catch {
		return false;
	}
}
