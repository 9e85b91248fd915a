/**
 * The four-port transfer engine: the socket adapter that owns our UDP sockets and routes
 * datagrams to the state machines.
 *
 * - receive (BASE): answers to our requests (retry, list pages, manifest chunks, data,
 *   errors). Every request we send leaves from this socket, so replies come back here.
 * - send (BASE+1): the `SendService`, answering other peers' requests from the library.
 * - distribute (BASE+2): takes `interest` messages from leechers of files we are fetching
 *   and pushes them verified pieces they lack (`push` messages) to their distributee port.
 * - distributee (BASE+3): takes pushed pieces, only for files we are fetching, assembles
 *   and hands them to the download, which verifies them before writing.
 */
import { randomInt } from "node:crypto";
import { EventEmitter } from "node:events";
import { performance } from "node:perf_hooks";
import { UsageError } from "../errors.js";
import type { Library } from "../library/library.js";
import type { Limits, PeerRecord, TransferPorts } from "../peer/types.js";
import { splitCoalesced } from "../protocol/coalesced.js";
import { fromHex, toHex } from "../protocol/hash.js";
import { decodeManifest, type Manifest, manifestId, pieceLength } from "../protocol/manifest.js";
import {
	DATA_OVERHEAD,
	DeltaStatus,
	decodeMessage,
	ErrorCode,
	encodeDataHeader,
	encodeMessage,
	HASH_SIZE,
	isFolderEntry,
	type ListEntry,
	type Message,
	MIN_MANIFEST_CHUNK,
	TOKEN_SIZE,
} from "../protocol/messages.js";
import { isPeerMessageType } from "../protocol/offers.js";
import { Channel, NetworkGuard } from "../protocol/seal.js";
import { Download, type PieceHasher, type SourceInfo } from "./download.js";
import { DualSocket } from "./dual-socket.js";
import type { OutDatagram } from "./gso.js";
import { SourceGuard } from "./guard.js";
import { HashPool } from "./hash-pool.js";
import { DatagramGarbage } from "./memory.js";
import { maxDatagramFor } from "./path-mtu.js";
import { RateMeter, TokenBucket } from "./rates.js";
import { type Endpoint, type OfferedFile, SendService } from "./serve.js";
import { TokenIssuer } from "./tokens.js";

/** First base port tried when none is configured. */
export const DEFAULT_BASE_PORT = 45460;
/** Blocks of four ports tried before giving up, when no base port is configured. */
const PORT_SEARCH_BLOCKS = 64;
/** Socket buffer size asked of the kernel, in bytes (it may grant less). */
const SOCKET_BUFFER = 4 * 1024 * 1024;
/** First timeout of a list or manifest request, in ms; doubled at each retry. */
const REQUEST_TIMEOUT_MS = 200;
const REQUEST_ATTEMPTS = 5;
/** How often downloads advance their timers, in ms. */
const TICK_MS = 10;
/** How often a leecher re-sends its interest and have-map, in ms. */
const INTEREST_MS = 1_000;
/** New pieces after which a leecher sends its have-map at once (besides every second). */
const HAVE_EVERY_PIECES = 4;
/** Least time between two such have-map updates, in ms. */
const HAVE_MIN_GAP_MS = 50;
/** Most peers' address-validation tokens kept (the oldest is forgotten first). */
const MAX_TOKENS = 4_096;
/** Least time between two windows resent on block-request Retries from one port, in ms. */
const RETRY_RESEND_GAP_MS = 100;
/** Have-map bytes per interest datagram (8,192 pieces). */
const HAVE_CHUNK = 1_024;
/** Pieces pushed to one leecher in answer to one interest message. */
const PUSH_PER_INTEREST = 8;
/** A piece pushed this recently (ms) is taken as on its way, not pushed again. */
const PUSH_GRACE_MS = 2_000;
/**
 * Bytes queued in the distribute socket above which pushes are skipped: pushes have no
 * acknowledgement, so a full send queue is the only sign the path is saturated. A skipped
 * piece can go out later, when the peer's next interest shows it still lacks it.
 */
const PUSH_QUEUE_LIMIT = 512 * 1024;
/** Under an upload limit, pushes wait while answers already wait this long (ms) to go out. */
const PUSH_BACKLOG_MS = 200;
/** Downloads running at once by default; the others wait with status `queued`. */
export const DEFAULT_MAX_ACTIVE = 3;

/** One file in a remote peer's shared list. */
export interface RemoteFile {
	id: string;
	name: string;
	size: number;
	contentHash: string;
}

/** A remote peer's shared list as we hold it. */
export interface RemoteList {
	/** The revision it was fetched at. */
	revision: number;
	/** Its files, sorted by name. */
	files: RemoteFile[];
	/** Its folders with no file under them (empty folders), sorted. */
	folders: string[];
}

/**
 * Entries (files and folders) a held list must have for a refetch to ask for a delta
 * first: below it the whole list is a few pages and a delta saves nothing.
 */
export const DELTA_MIN_ENTRIES = 256;
/** Most entries accepted in a remote list or delta (a peer claiming more is not believed). */
export const MAX_LIST_ENTRIES = 1_000_000;

/** Counters of the engine. */
export interface EngineStats {
	/** Datagrams dropped because they did not decode or were unexpected, per port. */
	malformed: number;
	/** Payload bytes pushed from the distribute port. */
	pushed: number;
	/** Pushed blocks that arrived on the distributee port for a piece we lack. */
	pushBlocks: number;
	/** Pushed pieces assembled whole and handed to their download for verification. */
	pushPieces: number;
	/** Partly assembled pushed pieces given up (timed out or evicted). */
	pushAbandoned: number;
	/** Pushed blocks refused: from an unknown or banned peer. */
	pushRefused: number;
	/** Interests answered with a Retry (no valid token from our distribute port). */
	interestRetries: number;
}

/** Options of the engine. */
export interface EngineOptions {
	library: Library;
	/** Base port; when set and taken, `open` fails instead of moving on. */
	basePort?: number;
	/** Address to bind the four sockets, default `0.0.0.0`. */
	bindAddress?: string;
	/** Our hex peer id. */
	selfId: string;
	/** Our 16-byte peer id. */
	peerId: Uint8Array;
	/** Known peers, for interest messages and for checking who pushes and asks for pushes. */
	peers: () => PeerRecord[];
	/** Upload rate cap (send and distribute ports) in bytes per second; unlimited when absent. */
	maxUploadRate?: number;
	/** Download rate cap (bytes requested per second, all downloads); unlimited when absent. */
	maxDownloadRate?: number;
	/** Downloads running at once (default {@link DEFAULT_MAX_ACTIVE}); the rest are queued. */
	maxActive?: number;
	/** Piece and file hashing for downloads (a worker pool); on this thread when absent. */
	hasher?: PieceHasher;
	/**
	 * The network key's gate, shared with discovery: every datagram of the four ports is
	 * sealed and opened there. Without one, the plain protocol.
	 */
	seal?: NetworkGuard;
	/**
	 * Whether the send port may use UDP GSO for range answers (default true; also off with
	 * `P2P_TUI_NO_GSO=1`, or where the kernel refuses it: see gso.ts).
	 */
	gso?: boolean;
	/**
	 * Whether the receive port may take coalesced datagrams (UDP GRO; default true; also off
	 * with `P2P_TUI_NO_GRO=1`, or where the kernel refuses it).
	 */
	gro?: boolean;
}

/** Events of the engine. */
export interface EngineEvents {
	"download-progress": [download: Download];
	"download-complete": [download: Download];
	"download-failed": [download: Download];
	/** A peer served too many bad pieces; it is banned for the rest of the session. */
	"peer-banned": [peerId: string];
	/** A piece failed its BLAKE3 check (it is fetched again); `peerIds` sent its blocks. */
	"hash-failure": [download: Download, index: number, peerIds: string[]];
	/** A download was cancelled; `keepPartial` tells whether its partial file stays. */
	"download-cancelled": [download: Download, keepPartial: boolean];
	/** A queued download got its turn and started (or resumed). */
	"download-dequeued": [download: Download];
}

interface Pending {
	build: (token: Uint8Array, requestId: number) => Buffer;
	to: Endpoint;
	/** Hex file id of a manifest request (errors name it). */
	fileId?: string;
	resolve: (message: Message) => void;
	reject: (error: Error) => void;
	timer: NodeJS.Timeout;
	attempts: number;
}

interface Interested {
	peerId: string;
	to: Endpoint;
	/** Its send port (where we ask it for pieces as a partial seeder). */
	sendPort: number;
	/** Its have-map, as of its last interest message. */
	have: Uint8Array;
	/** When we last pushed each piece to it (ms): not pushed again while it may be in flight. */
	pushedAt: Map<number, number>;
	expires: number;
}

interface Assembly {
	buffer: Buffer;
	got: number;
	offsets: Set<number>;
	started: number;
}

/** The running engine. Create with `TransferEngine.open`. */
export class TransferEngine extends EventEmitter<EngineEvents> {
	readonly stats: EngineStats = {
		malformed: 0,
		pushed: 0,
		pushBlocks: 0,
		pushPieces: 0,
		pushAbandoned: 0,
		pushRefused: 0,
		interestRetries: 0,
	};
	/** UDP GRO on the receive port: whether on, coalesced receives and the datagrams in them. */
	readonly groStats = { enabled: false, buffers: 0, segments: 0 };
	/** Rate limits, bans and the amplification limit, for every port. */
	readonly guard: SourceGuard;
	/** Downloads by hex file id. */
	readonly downloads = new Map<string, Download>();
	readonly service: SendService;
	/** Peers banned for this session (bad pieces), by hex id. */
	readonly banned = new Set<string>();
	/** Most request bytes outstanding per download, from the receive buffer we were granted. */
	private readonly maxInflightBytes: number;
	/** Hashing of pieces off the event loop; ours to close when we made it. */
	private readonly hasher: PieceHasher;
	private readonly pool: HashPool | undefined;
	private readonly garbage = new DatagramGarbage();
	private readonly tokens = new Map<string, Uint8Array>();
	/** Addresses of the peers known from discovery, as of `knownAt` (see `knownAddress`). */
	private readonly known = new Set<string>();
	private knownAt = Number.NEGATIVE_INFINITY;
	/** When a block-request Retry last made us resend a window, per send port (bounded). */
	private readonly resentAt = new Map<string, number>();
	private readonly pending = new Map<number, Pending>();
	private readonly interested = new Map<string, Map<string, Interested>>();
	private readonly assemblies = new Map<string, Assembly>();
	private readonly timers: NodeJS.Timeout[] = [];
	private closing: Promise<void> | undefined;
	private uploadFreeAt = 0;
	/** Data answers waiting in the upload cap's queue, by asker, file and offset. */
	private readonly pacedKeys = new Set<string>();
	/** Limits in force (rates in bytes per second, null for none). */
	private limitsNow: Limits;
	/** Paces block requests under `maxDown`, over every download. */
	private readonly downBudget: TokenBucket;
	/** Bytes received on the receive and distributee ports, by sender. */
	private readonly downMeter = new RateMeter();
	/** Bytes sent from the send and distribute ports, by receiver. */
	private readonly upMeter = new RateMeter();
	/** Downloads waiting for a turn (status `queued`), first come first served. */
	private readonly queue: Download[] = [];
	/**
	 * Downloads not ended (not complete, failed or cancelled): the ones ticked and counted
	 * for the queue, without walking every download of the session.
	 */
	private readonly live = new Set<Download>();
	/** Issues and checks the tokens of our send and distribute ports. */
	private readonly issuer = new TokenIssuer();
	/** Turns of the tick, so downloads take turns at a limited request budget. */
	private tickTurn = 0;
	/** Seals and opens every datagram when a network key is set. */
	private readonly seal: NetworkGuard;
	/** Takes the §16 messages (offers, texts) that arrive on the distribute port. */
	private controlHandler: ((bytes: Buffer, from: Endpoint) => boolean) | undefined;
	/** Files offered to a receiver, served on the send port to that receiver only (§16). */
	private offeredLookup: ((id: string, from: Endpoint) => OfferedFile | undefined) | undefined;

	private constructor(
		private readonly options: EngineOptions,
		private readonly sockets: Record<keyof TransferPorts, DualSocket>,
		readonly ports: TransferPorts,
	) {
		super();
		this.seal = options.seal ?? new NetworkGuard();
		this.limitsNow = limitsOf(options);
		this.guard = new SourceGuard((address) => this.knownAddress(address));
		this.downBudget = new TokenBucket(this.limitsNow.maxDown);
		if (options.hasher) this.hasher = options.hasher;
		else {
			this.pool = new HashPool();
			this.hasher = this.pool;
		}
		this.service = new SendService(
			this.options.library,
			this.issuer,
			(datagram, to, key) => this.paced(datagram, to, key),
			(id, offset, length) => this.readPartial(id, offset, length),
			(from) => this.guard.validate(from.address),
			() => this.seal.overhead,
			(id, from) => this.offeredLookup?.(id, from),
			(datagrams, to) => this.sendMany(datagrams, to),
		);
		sockets.send.enableGso(options.gso !== false);
		// Linux reports twice the buffer asked for (half of it is bookkeeping); keep the bytes
		// in flight inside what it holds (5 MiB of an 8 MiB report) so a burst of answers
		// does not overflow it, while the window is large enough for a busy peer's latency.
		let granted = SOCKET_BUFFER;
		try {
			granted = sockets.receive.getRecvBufferSize();
		} catch {
			// Keep the default.
		}
		this.maxInflightBytes = Math.max(128 * 1024, Math.floor((granted * 5) / 8));
		// Every datagram meets the guard before it is decoded, then the network key's seal
		// when one is set (a datagram that does not open is dropped here, unanswered); one
		// found bad (not opening, counted malformed, refused, or a request without a valid
		// token) is charged to its source, so a flood of them gets it banned.
		const stats = this.stats;
		const served = this.service.stats;
		const received = (m: Buffer, r: Endpoint) => {
			if (!this.guard.admit(r.address, r.port, m.length, true)) return;
			this.garbage.note(m.length);
			const plain = this.opened(m, r, Channel.receive);
			if (!plain) return;
			this.downMeter.add(r.address, r.port, m.length);
			const bad = stats.malformed;
			this.onReceive(plain, r);
			if (stats.malformed !== bad) this.guard.bad(r.address, r.port);
		};
		// With UDP GRO, one receive may hold a run of a sender's datagrams: each is split off
		// and meets the guard, the seal and the decoder on its own (docs/protocol.md §6).
		this.groStats.enabled = options.gro !== false && sockets.receive.enableGro();
		const gro = this.groStats;
		sockets.receive.socket.on(
			"message",
			gro.enabled
				? (m, r) => {
						const parts = splitCoalesced(m);
						if (parts.length === 1) {
							received(m, r);
							return;
						}
						gro.buffers++;
						gro.segments += parts.length;
						for (const part of parts) received(part, r);
					}
				: received,
		);
		sockets.send.socket.on("message", (m, r) => {
			if (!this.guard.admit(r.address, r.port, m.length)) return;
			const plain = this.opened(m, r, Channel.send);
			if (!plain) return;
			const bad = served.malformed + served.retries;
			this.service.recv(plain, r);
			if (served.malformed + served.retries !== bad) this.guard.bad(r.address, r.port);
		});
		sockets.distribute.socket.on("message", (m, r) => {
			if (!this.guard.admit(r.address, r.port, m.length)) return;
			const plain = this.opened(m, r, Channel.distribute);
			if (!plain) return;
			const bad = stats.malformed + stats.interestRetries;
			this.onDistribute(plain, r);
			if (stats.malformed + stats.interestRetries !== bad) this.guard.bad(r.address, r.port);
		});
		sockets.distributee.socket.on("message", (m, r) => {
			if (!this.guard.admit(r.address, r.port, m.length, true)) return;
			this.garbage.note(m.length);
			const plain = this.opened(m, r, Channel.distributee);
			if (!plain) return;
			this.downMeter.add(r.address, r.port, m.length);
			const bad = stats.malformed + stats.pushRefused;
			this.onPush(plain, r);
			if (stats.malformed + stats.pushRefused !== bad) this.guard.bad(r.address, r.port);
		});
		this.timers.push(setInterval(() => this.tick(), TICK_MS));
		this.timers.push(setInterval(() => this.sendInterest(), INTEREST_MS));
		for (const t of this.timers) t.unref();
	}

	/**
	 * Binds the four transfer ports.
	 * @throws UsageError (code `PORT_IN_USE`) when `basePort` is set and one of its four
	 *   ports is taken, or when no free block of four is found; `BAD_LIMIT` for a bad rate
	 *   or `maxActive`
	 */
	static async open(options: EngineOptions): Promise<TransferEngine> {
		// Bad limits (from a hand-edited settings file) are refused before any port is bound.
		limitsOf(options);
		const fixed = options.basePort !== undefined;
		const first = options.basePort ?? DEFAULT_BASE_PORT;
		for (let block = 0; block < (fixed ? 1 : PORT_SEARCH_BLOCKS); block++) {
			const base = first + block * 4;
			const bound = await bindBlock(base, options.bindAddress ?? "0.0.0.0");
			if ("sockets" in bound) {
				const ports = {
					receive: base,
					send: base + 1,
					distribute: base + 2,
					distributee: base + 3,
				};
				return new TransferEngine(options, bound.sockets, ports);
			}
			if (fixed) {
				throw new UsageError(
					`port ${bound.port} is in use (transfer ports ${base}-${base + 3})`,
					"PORT_IN_USE",
				);
			}
		}
		throw new UsageError(`no free block of four UDP ports from ${first}`, "PORT_IN_USE");
	}

	/**
	 * Sends from the send (or distribute) socket, at most `maxUp` bytes per second over both.
	 * @returns false when the datagram was dropped (it would wait over a second)
	 */
	private paced(
		parts: Buffer | Buffer[],
		to: Endpoint,
		key?: string,
		port: "send" | "distribute" = "send",
	): boolean {
		const rate = this.limitsNow.maxUp;
		if (!rate) {
			this.sendFrom(port, parts, to);
			return true;
		}
		const datagram = { length: Array.isArray(parts) ? byteLength(parts) : parts.length };
		const now = Date.now();
		this.uploadFreeAt = Math.max(now, this.uploadFreeAt) + (datagram.length * 1000) / rate;
		const wait = this.uploadFreeAt - now;
		// A queue longer than a second means the asker is too greedy: drop, it will retry.
		if (wait > 1_000) {
			this.uploadFreeAt -= (datagram.length * 1000) / rate;
			return false;
		}
		if (wait < 1) {
			this.sendFrom(port, parts, to);
			return true;
		}
		// An asker that resent a request whose answer still waits here gets it once, not twice.
		if (key !== undefined) {
			if (this.pacedKeys.has(key)) {
				this.uploadFreeAt -= (datagram.length * 1000) / rate;
				return false;
			}
			this.pacedKeys.add(key);
		}
		setTimeout(() => {
			if (key !== undefined) this.pacedKeys.delete(key);
			this.sendFrom(port, parts, to);
		}, wait).unref();
		return true;
	}

	/** How long (ms) a datagram sent now would wait under the upload limit (0 without one). */
	private uploadBacklog(): number {
		return this.limitsNow.maxUp ? Math.max(0, this.uploadFreeAt - Date.now()) : 0;
	}

	/**
	 * A received datagram through the network key's seal: the plain bytes, or null to drop
	 * it (charged to its source as a bad datagram).
	 */
	private opened(datagram: Buffer, from: Endpoint, channel: Channel): Buffer | null {
		const plain = this.seal.incoming(datagram, channel);
		if (!plain) this.guard.bad(from.address, from.port);
		else if (plain !== datagram) this.garbage.note(plain.length);
		return plain;
	}

	/**
	 * Sends one datagram (sealed when a network key is set).
	 * @param port - our socket it leaves from
	 * @param to - where it goes
	 * @param channel - the role of the port it goes to: by default the one our `port` talks
	 *   to (requests to a send port, answers to a receive port, pushes to a distributee port)
	 */
	private sendFrom(
		port: keyof TransferPorts,
		datagram: Buffer | Buffer[],
		to: Endpoint,
		channel: Channel = PEER_CHANNEL[port],
	): void {
		if (this.closing) return;
		// Bytes on the wire: the seal's overhead counts towards the three-times limit too.
		const length =
			(Array.isArray(datagram) ? byteLength(datagram) : datagram.length) + this.seal.overhead;
		// Until an address is validated, it gets at most three times what it sent us.
		if (!this.guard.allowSend(to.address, length)) return;
		const sealed = this.seal.outgoing(datagram, channel);
		if (Array.isArray(sealed)) this.garbage.note(length);
		if (port === "send" || port === "distribute") this.upMeter.add(to.address, to.port, length);
		// Replies to our requests are asked for: the guard does not charge them.
		else this.guard.asked(to.address, to.port);
		this.sockets[port].socket.send(sealed, to.port, to.address);
	}

	/**
	 * Routes the §16 messages (types 0x30..0x3f) arriving on the distribute port to
	 * `handler`, which returns false for one it drops as bad (charged to its source), and
	 * serves the files `offered` returns on the send port (to the asker it names only).
	 */
	setOffers(
		handler: (bytes: Buffer, from: Endpoint) => boolean,
		offered: (id: string, from: Endpoint) => OfferedFile | undefined,
	): void {
		this.controlHandler = handler;
		this.offeredLookup = offered;
	}

	/**
	 * Sends a §16 message from our distribute port to a peer's distribute port (sealed under
	 * a network key). Not held to the three-times limit: these go only to peers discovery
	 * proved (their signed announces), the user asked for them, and the answers only to a
	 * signed message's source; each is bounded in size and rate by the offers service.
	 */
	sendControl(datagram: Buffer, to: Endpoint): void {
		if (this.closing) return;
		const sealed = this.seal.outgoing(datagram, Channel.distribute);
		this.sockets.distribute.socket.send(sealed, to.port, to.address);
	}

	/**
	 * Sends a range answer's data datagrams from the send port in as few system calls as
	 * GSO allows; each goes through the seal, the three-times limit and the upload meter as
	 * `sendFrom` does. Not under an upload cap (it paces one datagram at a time).
	 * @returns false when the caller must send them one by one instead
	 */
	private sendMany(datagrams: Buffer[][], to: Endpoint): boolean {
		if (this.limitsNow.maxUp) return false;
		if (this.closing) return true;
		const out: OutDatagram[] = [];
		for (const datagram of datagrams) {
			const length = byteLength(datagram) + this.seal.overhead;
			if (!this.guard.allowSend(to.address, length)) continue;
			const sealed = this.seal.outgoing(datagram, Channel.receive);
			if (Array.isArray(sealed)) this.garbage.note(length);
			this.upMeter.add(to.address, to.port, length);
			out.push({ parts: Array.isArray(sealed) ? sealed : [sealed], length });
		}
		this.sockets.send.socket.sendMany(out, to.port, to.address);
		return true;
	}

	/** GSO on the send port: whether on, and its counters (see gso.ts). */
	gsoStats(): ReturnType<DualSocket["gsoStats"]> {
		return this.sockets.send.gsoStats();
	}

	/** The token we hold for a peer's send (or distribute) port, or zeros. */
	private tokenFor(to: Endpoint): Uint8Array {
		return this.tokens.get(`${to.address}:${to.port}`) ?? ZERO_TOKEN;
	}

	/**
	 * Whether a block-request Retry from `from` resends every block request outstanding to
	 * it (or a distribute port's Retry our interests). Not when it carries the token we held
	 * already: the requests sent before it was
	 * issued were resent with it by the first such Retry (a window of 85 requests all
	 * answered with Retries resent the window 85 times). And at most once per
	 * {@link RETRY_RESEND_GAP_MS}: a Retry has no request id to match, so a forged one could
	 * make us resend a whole window to a peer per datagram.
	 */
	private resendAllowed(from: Endpoint, held: Uint8Array, token: Uint8Array): boolean {
		if (Buffer.from(held.buffer, held.byteOffset, held.length).equals(token)) return false;
		const key = `${from.address}:${from.port}`;
		const now = Date.now();
		const last = this.resentAt.get(key);
		if (last !== undefined && now - last < RETRY_RESEND_GAP_MS) return false;
		this.resentAt.delete(key);
		if (this.resentAt.size >= MAX_TOKENS) {
			const oldest = this.resentAt.keys().next().value;
			if (oldest !== undefined) this.resentAt.delete(oldest);
		}
		this.resentAt.set(key, now);
		return true;
	}

	/**
	 * True when `address` is a peer's known from discovery. The addresses are gathered at
	 * most every 100 ms: under forged announces this is asked for every interest to a
	 * forgotten address, and a walk of the peer table each time would cost more than the
	 * attack does.
	 */
	private knownAddress(address: string): boolean {
		const now = Date.now();
		if (now - this.knownAt >= 100) {
			this.knownAt = now;
			this.known.clear();
			for (const p of this.options.peers()) this.known.add(p.address);
		}
		return this.known.has(address);
	}

	/** Keeps the token a peer's port gave us in a Retry (bounded: the oldest goes first). */
	private keepToken(from: Endpoint, token: Uint8Array): void {
		const key = `${from.address}:${from.port}`;
		// Bounded: Retries from forged sources must not grow the table without end.
		if (!this.tokens.has(key) && this.tokens.size >= MAX_TOKENS) {
			const oldest = this.tokens.keys().next().value;
			if (oldest !== undefined) this.tokens.delete(oldest);
		}
		this.tokens.set(key, Buffer.from(token));
	}

	/**
	 * Sends a request from the receive port and waits for its answer, retrying with
	 * exponential back-off.
	 * @throws Error with code `TIMEOUT` after the last attempt, or `NOT_FOUND` on an error reply
	 */
	private request(to: Endpoint, build: Pending["build"], fileId?: string): Promise<Message> {
		return new Promise((resolve, reject) => {
			// Random, so an answer echoing it proves the peer received the request (it validates
			// the peer's address) and a forger cannot guess it.
			let requestId = randomInt(1, 0x1_0000_0000);
			while (this.pending.has(requestId)) requestId = randomInt(1, 0x1_0000_0000);
			const pending: Pending = {
				build,
				to,
				fileId,
				resolve,
				reject,
				attempts: 0,
				timer: undefined as unknown as NodeJS.Timeout,
			};
			this.pending.set(requestId, pending);
			this.attempt(requestId, pending);
		});
	}

	private attempt(requestId: number, pending: Pending): void {
		clearTimeout(pending.timer);
		if (pending.attempts >= REQUEST_ATTEMPTS || this.closing) {
			this.pending.delete(requestId);
			pending.reject(
				codedError("TIMEOUT", `no answer from ${pending.to.address}:${pending.to.port}`),
			);
			return;
		}
		const timeout = REQUEST_TIMEOUT_MS * 2 ** pending.attempts;
		pending.attempts++;
		this.sendFrom("receive", pending.build(this.tokenFor(pending.to), requestId), pending.to);
		pending.timer = setTimeout(() => this.attempt(requestId, pending), timeout);
		pending.timer.unref();
	}

	private settle(requestId: number, from: Endpoint, message: Message | Error): void {
		const pending = this.pending.get(requestId);
		if (!pending || pending.to.address !== from.address || pending.to.port !== from.port) {
			this.stats.malformed++;
			return;
		}
		clearTimeout(pending.timer);
		this.pending.delete(requestId);
		// The answer echoes our random request id: the peer receives at that address.
		this.guard.validate(from.address);
		if (message instanceof Error) pending.reject(message);
		else pending.resolve(message);
	}

	/**
	 * Fetches a peer's shared list. With a list we hold of at least
	 * {@link DELTA_MIN_ENTRIES} entries, asks first for the changes since its revision
	 * (`listDeltaRequest`, paged) and applies them; when the peer has no delta from that
	 * revision (or the delta goes wrong), fetches the whole list page by page.
	 * @param peer - the peer (its send port is asked)
	 * @param held - the list we hold of this peer, if any
	 * @returns the list's revision, files and empty folders
	 * @throws Error with code `TIMEOUT` when the peer does not answer or its list keeps
	 *   changing, `TOO_LARGE` when it claims over {@link MAX_LIST_ENTRIES} entries
	 */
	async fetchList(peer: PeerRecord, held?: RemoteList): Promise<RemoteList> {
		const to = { address: peer.address, port: peer.ports.send };
		if (held && held.files.length + held.folders.length >= DELTA_MIN_ENTRIES) {
			// A peer that does not answer deltas (or a lost delta) falls back to the whole list.
			const updated = await this.fetchDelta(to, held).catch((error: { code?: string }) => {
				if (error.code === "CLOSED") throw error;
				return null;
			});
			if (updated) return updated;
		}
		for (let restart = 0; restart < 3; restart++) {
			const entries: ListEntry[] = [];
			let revision: number | undefined;
			let total = 1;
			while (entries.length < total) {
				const index = entries.length;
				const page = await this.request(to, (token, requestId) =>
					encodeMessage({ type: "listRequest", token, requestId, index }),
				);
				if (page.type !== "listPage" || page.index !== index) break;
				if (revision !== undefined && page.revision !== revision) break;
				revision = page.revision;
				total = page.total;
				if (total > MAX_LIST_ENTRIES)
					throw codedError("TOO_LARGE", `${peer.name} claims ${total} list entries`);
				if (page.entries.length === 0 && entries.length < total) break;
				entries.push(...page.entries);
			}
			if (revision !== undefined && entries.length === total)
				return toRemoteList(revision, entries);
		}
		throw codedError("TIMEOUT", `the list of ${peer.name} kept changing`);
	}

	/**
	 * Fetches the changes of a peer's list since the revision we hold and applies them.
	 * @returns the updated list, or null when the peer says to fetch the whole list, or the
	 *   delta pages do not fit together (a revision changed between pages)
	 */
	private async fetchDelta(to: Endpoint, held: RemoteList): Promise<RemoteList | null> {
		const since = held.revision;
		const added: ListEntry[] = [];
		const removed = new Set<string>();
		let revision: number | undefined;
		let total = 1;
		let got = 0;
		while (got < total) {
			const index = got;
			const page = await this.request(to, (token, requestId) =>
				encodeMessage({ type: "listDeltaRequest", token, requestId, since, index }),
			);
			if (page.type !== "listDelta" || page.status !== DeltaStatus.ok) return null;
			if (page.since !== since || page.index !== index) return null;
			if (revision !== undefined && page.revision !== revision) return null;
			revision = page.revision;
			total = page.total;
			if (total > MAX_LIST_ENTRIES) return null;
			if (page.changes.length === 0 && got < total) return null;
			got += page.changes.length;
			for (const c of page.changes) {
				if (c.removed) removed.add(entryKey(c.entry));
				else added.push(c.entry);
			}
		}
		if (revision === undefined) return null;
		// Applied to the list we hold as it is (hex ids, names): nothing of it is turned back
		// into wire entries, so a refetch of a large list costs only its changes.
		const files: RemoteFile[] = [];
		const folders: string[] = [];
		const seen = new Set<string>();
		const keep = (key: string) => {
			if (removed.has(key) || seen.has(key)) return false;
			seen.add(key);
			return true;
		};
		for (const f of held.files) if (keep(fileKey(f.id, f.name))) files.push(f);
		for (const folder of held.folders) if (keep(fileKey(ZERO_HEX, folder))) folders.push(folder);
		const fresh: ListEntry[] = [];
		for (const e of added) if (keep(entryKey(e))) fresh.push(e);
		if (files.length + folders.length + fresh.length > MAX_LIST_ENTRIES) return null;
		const addedList = toRemoteList(revision, fresh);
		const byName = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);
		if (addedList.files.length > 0) {
			files.push(...addedList.files);
			files.sort((a, b) => byName(a.name, b.name) || byName(a.id, b.id));
		}
		if (addedList.folders.length > 0) {
			folders.push(...addedList.folders);
			folders.sort(byName);
		}
		return { revision, files, folders };
	}

	/**
	 * Fetches a manifest from the first source that answers, checked against the file id.
	 * @param fileId - hex file id
	 * @param sources - peers' send ports to ask, in order
	 * @throws Error with code `BAD_MANIFEST` when a source gave a manifest whose BLAKE3 is not
	 *   the id (and none gave a good one), else `NO_SOURCE` when no source gave a manifest
	 */
	async fetchManifest(fileId: string, sources: Endpoint[]): Promise<Manifest> {
		const idBytes = fromHex(fileId, HASH_SIZE);
		if (!idBytes) throw codedError("NOT_FOUND", `not a file id: ${fileId}`);
		let mismatch: Endpoint | undefined;
		for (const to of sources) {
			try {
				const first = await this.manifestChunk(to, idBytes, 0);
				const step = first.bytes.length;
				// A chunk of a few bytes would cost one request per few bytes: not believed.
				if (step < Math.min(first.total, MIN_MANIFEST_CHUNK)) continue;
				// At most 2 MiB: the decoder refuses a larger `total`.
				const bytes = Buffer.alloc(first.total);
				Buffer.from(first.bytes).copy(bytes, 0);
				const offsets: number[] = [];
				for (let o = step; o < first.total; o += step) offsets.push(o);
				// A few chunk requests in flight at once.
				for (let i = 0; i < offsets.length; i += 16) {
					const chunks = await Promise.all(
						offsets.slice(i, i + 16).map((o) => this.manifestChunk(to, idBytes, o)),
					);
					for (const c of chunks) Buffer.from(c.bytes).copy(bytes, c.offset);
				}
				const manifest = decodeManifest(bytes);
				if (manifest && manifestId(bytes).equals(idBytes)) return manifest;
				if (manifest) mismatch ??= to;
			} catch {
				// Try the next source.
			}
		}
		// Said as it is: a peer answered, but with a manifest that is not this file's.
		if (mismatch)
			throw codedError(
				"BAD_MANIFEST",
				`the manifest ${mismatch.address}:${mismatch.port} sent fails its id check (its BLAKE3 is not the file id)`,
			);
		throw codedError("NO_SOURCE", "no peer gave a valid manifest");
	}

	private async manifestChunk(to: Endpoint, fileId: Buffer, offset: number) {
		const reply = await this.request(
			to,
			(token, requestId) =>
				encodeMessage({ type: "manifestRequest", token, requestId, fileId, offset }),
			toHex(fileId),
		);
		if (
			reply.type !== "manifestChunk" ||
			reply.offset !== offset ||
			!Buffer.from(reply.fileId).equals(fileId)
		) {
			throw codedError("BAD_REPLY", "unexpected manifest reply");
		}
		return reply;
	}

	/**
	 * Starts (or returns the running) download of a file.
	 * @param fileId - hex id
	 * @param name - display name
	 * @param manifest - verified manifest
	 * @param target - absolute path the file should land at
	 * @param sources - peers known to have the file
	 */
	download(
		fileId: string,
		name: string,
		manifest: Manifest,
		target: string,
		sources: SourceInfo[],
	): Download {
		const running = this.downloads.get(fileId);
		if (running && running.status !== "failed" && running.status !== "cancelled") return running;
		const download = new Download({
			fileId: Buffer.from(fileId, "hex"),
			id: fileId,
			name,
			manifest,
			target,
			send: (datagram, to) => this.sendFrom("receive", datagram, to),
			overhead: () => this.seal.overhead,
			tokenFor: (to) => this.tokenFor(to),
			hasher: this.hasher,
			maxInflightBytes: this.maxInflightBytes,
			budget: this.downBudget,
			ranges: true,
		});
		this.downloads.set(fileId, download);
		this.interested.set(fileId, new Map());
		for (const s of sources) if (!this.banned.has(s.peerId)) download.addSource(s);
		download.on("banned", (peerId) => {
			if (this.banned.has(peerId)) return;
			this.banned.add(peerId);
			for (const d of this.downloads.values()) d.banPeer(peerId);
			this.emit("peer-banned", peerId);
		});
		let newPieces = 0;
		let interestAt = 0;
		download.on("piece", (index, data, origin) => {
			// A piece assembled on disk comes without its bytes: it is not pushed (too large).
			if (origin === "seeder" && data.length > 0) this.distribute(fileId, download, index, data);
			// Tell the other leechers about new pieces soon, not only once a second: their
			// choice of source (us or a seeder) depends on a fresh have-map.
			newPieces++;
			const now = Date.now();
			if (newPieces >= HAVE_EVERY_PIECES && now - interestAt >= HAVE_MIN_GAP_MS) {
				newPieces = 0;
				interestAt = now;
				this.sendInterestToLeechers(fileId, download);
			}
		});
		download.on("progress", () => this.emit("download-progress", download));
		download.on("complete", () => {
			this.sendInterestFor(fileId, download, true);
			this.interested.delete(fileId);
			this.emit("download-complete", download);
		});
		download.on("failed", () => {
			this.sendInterestFor(fileId, download, true);
			this.interested.delete(fileId);
			if (!this.closing) this.emit("download-failed", download);
		});
		download.on("hash-failed", (index, peerIds) =>
			this.emit("hash-failure", download, index, peerIds),
		);
		download.on("cancelled", (keepPartial) => {
			this.unqueue(download);
			if (this.downloads.get(fileId) === download) {
				this.sendInterestFor(fileId, download, true);
				this.interested.delete(fileId);
			}
			if (!this.closing) this.emit("download-cancelled", download, keepPartial);
		});
		const ended = () => {
			this.live.delete(download);
			this.admit();
		};
		download.on("complete", ended);
		download.on("failed", ended);
		download.on("cancelled", ended);
		if (running) this.live.delete(running);
		this.live.add(download);
		this.enter(download);
		return download;
	}

	/** Starts a download now when a slot is free, else queues it. */
	private enter(download: Download): void {
		if (this.queue.length === 0 && this.activeCount() < this.limitsNow.maxActive)
			this.launch(download, false);
		else if (download.hold()) this.queue.push(download);
	}

	/** Starts (or resumes) a download and tells the leechers of its file. */
	private launch(download: Download, fromQueue: boolean): void {
		const tell = () => {
			if (download.status === "downloading" || download.status === "waiting")
				this.sendInterestFor(download.id, download, false);
		};
		if (!download.started) void download.start().then(tell);
		else {
			download.resume();
			tell();
		}
		if (fromQueue) this.emit("download-dequeued", download);
	}

	/** Downloads holding a slot: started and not paused, queued or ended. */
	private activeCount(): number {
		let n = 0;
		for (const d of this.live) {
			if (!d.started) continue;
			const s = d.status;
			if (s === "starting" || s === "downloading" || s === "waiting" || s === "verifying") n++;
		}
		return n;
	}

	/**
	 * A queued download's place in the queue: 1 starts next; 0 when it is not queued.
	 */
	queuePosition(download: Download): number {
		return this.queue.indexOf(download) + 1;
	}

	/** Starts queued downloads, in order, while slots are free. */
	private admit(): void {
		if (this.closing) return;
		let active = this.activeCount();
		while (this.queue.length > 0 && active < this.limitsNow.maxActive) {
			const next = this.queue.shift() as Download;
			if (next.status !== "queued" || this.downloads.get(next.id) !== next) continue;
			this.launch(next, true);
			active++;
		}
	}

	private unqueue(download: Download): void {
		const at = this.queue.indexOf(download);
		if (at >= 0) this.queue.splice(at, 1);
	}

	/**
	 * Pauses a download (see `Download.pause`): a queued one leaves the queue, a running one
	 * gives its slot to the next queued download and tells the other leechers it stopped.
	 * @param fileId - hex file id
	 * @returns true when it paused now; false when unknown, paused already, or past pausing
	 *   (verifying the whole file, complete, failed, cancelled)
	 */
	async pause(fileId: string): Promise<boolean> {
		const download = this.downloads.get(fileId);
		if (!download) return false;
		const before = download.status;
		const paused = download.pause();
		if (download.status === "paused" && before !== "paused") {
			this.unqueue(download);
			if (before === "downloading" || before === "waiting")
				this.sendInterestFor(fileId, download, true);
			this.admit();
		}
		return paused;
	}

	/**
	 * Resumes a paused download: at once when a slot is free, else it queues (status
	 * `queued`) behind the downloads already waiting.
	 * @param fileId - hex file id
	 * @returns false when there is no paused download of that id
	 */
	resume(fileId: string): boolean {
		const download = this.downloads.get(fileId);
		if (download?.status !== "paused") return false;
		this.enter(download);
		return true;
	}

	/**
	 * Cancels a download (see `Download.cancel`); the next queued one may start.
	 * @param fileId - hex file id
	 * @param keepPartial - keep the partial file and its resume record (else both are deleted)
	 * @returns true when it was cancelled now (false when unknown, complete, or too late)
	 */
	async cancel(fileId: string, keepPartial: boolean): Promise<boolean> {
		const download = this.downloads.get(fileId);
		if (!download) return false;
		this.unqueue(download);
		return download.cancel({ keepPartial });
	}

	/** The limits in force (a copy). */
	get limits(): Limits {
		return { ...this.limitsNow };
	}

	/**
	 * Changes limits at once: the request budget takes the new download rate, the upload
	 * pacing the new upload rate, and a larger `maxActive` starts queued downloads (a smaller
	 * one lets running downloads finish; new ones queue).
	 * @param limits - fields to change; a rate of 0 or null means none
	 * @returns the limits now in force
	 * @throws UsageError `BAD_LIMIT` for a negative or non-finite rate, or a `maxActive`
	 *   that is not a whole number of at least 1; nothing changes then
	 */
	setLimits(limits: Partial<Limits>): Limits {
		const next = checkedLimits({
			maxDown: limits.maxDown === undefined ? this.limitsNow.maxDown : limits.maxDown,
			maxUp: limits.maxUp === undefined ? this.limitsNow.maxUp : limits.maxUp,
			maxActive: limits.maxActive ?? this.limitsNow.maxActive,
		});
		this.limitsNow = next;
		this.downBudget.setRate(next.maxDown);
		this.admit();
		return this.limits;
	}

	/** Total transfer rates over the last two seconds, in bytes per second. */
	rates(): { down: number; up: number } {
		return { down: this.downMeter.rate(), up: this.upMeter.rate() };
	}

	/**
	 * Rates of the traffic with one peer (any of its four ports), in bytes per second: `down`
	 * what we received from it (answers and pushes), `up` what we sent it (answers and pushes).
	 */
	peerRates(peer: Pick<PeerRecord, "address" | "ports">): { down: number; up: number } {
		const p = peer.ports;
		const ports = [p.receive, p.send, p.distribute, p.distributee];
		return {
			down: this.downMeter.rateOf(peer.address, ports),
			up: this.upMeter.rateOf(peer.address, ports),
		};
	}

	private onReceive(bytes: Buffer, from: Endpoint): void {
		const message = decodeMessage(bytes);
		if (!message) {
			this.stats.malformed++;
			return;
		}
		switch (message.type) {
			case "retry": {
				const held = this.tokenFor(from);
				this.keepToken(from, message.token);
				if (message.requestId !== 0) {
					// Resend at once with the token; the Retry counts as an attempt, so two peers
					// that disagree on addresses cannot bounce Retries forever.
					const pending = this.pending.get(message.requestId);
					if (pending && pending.to.address === from.address && pending.to.port === from.port) {
						// It echoes our random request id: the peer receives at that address.
						this.guard.validate(from.address);
						this.attempt(message.requestId, pending);
					}
				} else if (this.resendAllowed(from, held, message.token)) {
					for (const d of this.downloads.values()) d.onRetry(from);
				}
				return;
			}
			case "listPage":
			case "listDelta":
			case "manifestChunk":
				this.settle(message.requestId, from, message);
				return;
			case "data": {
				const download = this.downloads.get(toHex(message.fileId));
				if (download) download.onData(from, message.offset, message.payload);
				else this.stats.malformed++;
				return;
			}
			case "error": {
				// `ref` is a request id for manifest requests and an offset for block requests:
				// only an error naming the file a pending manifest request asked for settles it.
				const pending = this.pending.get(message.ref);
				if (pending?.fileId !== undefined && pending.fileId === toHex(message.fileId)) {
					this.settle(
						message.ref,
						from,
						codedError("NOT_FOUND", "the peer no longer shares that file"),
					);
				} else {
					this.downloads
						.get(toHex(message.fileId))
						?.onError(from, message.ref, message.code === ErrorCode.notFound);
				}
				return;
			}
			default:
				this.stats.malformed++;
		}
	}

	/**
	 * Distribute port: a leecher tells us it fetches a file and which pieces it has, or a
	 * peer we sent an interest to gives us its token (Retry).
	 */
	private onDistribute(bytes: Buffer, from: Endpoint): void {
		if (isPeerMessageType(bytes)) {
			// Offers and texts (§16): their handler checks signatures and counts its own drops.
			if (!this.controlHandler?.(bytes, from)) this.stats.malformed++;
			return;
		}
		const message = decodeMessage(bytes);
		if (message?.type === "retry") {
			this.onDistributeRetry(from, message.token);
			return;
		}
		if (message?.type !== "interest") {
			this.stats.malformed++;
			return;
		}
		const fileId = toHex(message.fileId);
		const download = this.downloads.get(fileId);
		const table = this.interested.get(fileId);
		if (!download || !table || message.pieceCount !== download.pieceCount) return;
		// A paused (or queued) download neither trades pieces nor takes partial sources.
		if (download.status !== "downloading" && download.status !== "waiting") return;
		// Pushes and partial-source requests answer an interest with far more bytes than it
		// has: only to an address that proved it receives there (RFC 9000 section 8). Else a
		// Retry (24 bytes, less than the 77 of the smallest interest) carries a token to echo.
		if (!this.issuer.check(message.token, from.address, from.port)) {
			this.stats.interestRetries++;
			const token = this.issuer.issue(from.address, from.port);
			const retry = encodeMessage({ type: "retry", requestId: 0, token });
			// To the asker's distribute port, where its interest came from.
			this.sendFrom("distribute", retry, from, Channel.distribute);
			return;
		}
		this.guard.validate(from.address);
		const peerId = toHex(message.peerId);
		// Push only to a peer discovery knows, at its announced distributee port.
		const peer = this.options.peers().find((p) => p.id === peerId && p.address === from.address);
		if (!peer || peerId === this.options.selfId) return;
		const partial = { peerId, address: peer.address, port: peer.ports.send };
		if (message.done) {
			table.delete(peerId);
			this.updateSwarm(download, table);
			download.removePartialSource(partial);
			return;
		}
		// A leecher of the same file is a partial seeder: we may ask it for what it has.
		if (!this.banned.has(peerId))
			download.addSource(partial, { firstPiece: message.firstPiece, bits: message.have });
		let entry = table.get(peerId);
		const now = Date.now();
		if (!entry) {
			entry = {
				peerId,
				to: { address: peer.address, port: peer.ports.distributee },
				have: new Uint8Array(download.have.length),
				pushedAt: new Map(),
				sendPort: peer.ports.send,
				expires: 0,
			};
			table.set(peerId, entry);
			this.updateSwarm(download, table);
			// Answer a new leecher at once, so both know each other within a round trip.
			this.sendInterestTo(fileId, download, false, peer);
		}
		entry.expires = now + 3 * INTEREST_MS;
		entry.have.set(
			message.have.subarray(0, entry.have.length - message.firstPiece / 8),
			message.firstPiece / 8,
		);
		for (const [index, at] of entry.pushedAt) {
			if (now - at > PUSH_GRACE_MS || hasBit(entry.have, index)) entry.pushedAt.delete(index);
		}
		// Push what we hold that it lacks, a bounded number per interest message.
		let pushed = 0;
		for (let index = 0; index < download.pieceCount && pushed < PUSH_PER_INTEREST; index++) {
			if (!download.hasPiece(index) || !this.lacks(entry, index)) continue;
			if (this.pushQueueFull()) break;
			void this.pushPiece(fileId, download, entry, index).catch(() => {});
			pushed++;
		}
	}

	/** True when a leecher lacks a piece and we did not push it lately. */
	private lacks(entry: Interested, index: number): boolean {
		return !hasBit(entry.have, index) && !entry.pushedAt.has(index);
	}

	/** True when the distribute socket has so much queued that pushes must wait. */
	private pushQueueFull(): boolean {
		if (this.uploadBacklog() > PUSH_BACKLOG_MS) return true;
		try {
			return this.sockets.distribute.socket.getSendQueueSize() > PUSH_QUEUE_LIMIT;
		} catch {
			return false;
		}
	}

	/** Gives a download its rank among the leechers of its file (they split the file). */
	private updateSwarm(download: Download, table: Map<string, Interested>): void {
		const ids = [this.options.selfId, ...table.keys()].sort();
		download.setSwarm(ids.indexOf(this.options.selfId), ids.length);
	}

	private distribute(fileId: string, download: Download, index: number, data: Buffer): void {
		const table = this.interested.get(fileId);
		if (!table) return;
		const now = Date.now();
		for (const entry of table.values()) {
			if (entry.expires < now) {
				table.delete(entry.peerId);
				this.updateSwarm(download, table);
				download.removePartialSource({
					peerId: entry.peerId,
					address: entry.to.address,
					port: entry.sendPort,
				});
				continue;
			}
			if (this.lacks(entry, index) && !this.pushQueueFull())
				this.pushBlocks(fileId, download, entry, index, data);
		}
	}

	private async pushPiece(
		fileId: string,
		download: Download,
		entry: Interested,
		index: number,
	): Promise<void> {
		entry.pushedAt.set(index, Date.now());
		const data = await download.readPiece(index);
		if (!data) return;
		this.pushBlocks(fileId, download, entry, index, data);
		download.recycle(data);
	}

	private pushBlocks(
		fileId: string,
		download: Download,
		entry: Interested,
		index: number,
		data: Buffer,
	): void {
		entry.pushedAt.set(index, Date.now());
		const blockSize = maxDatagramFor(entry.to.address, this.seal.overhead) - DATA_OVERHEAD;
		const start = index * download.pieceSize;
		const idBytes = Buffer.from(fileId, "hex");
		for (let o = 0; o < data.length; o += blockSize) {
			// A copy: the piece's buffer is reused once this returns, and a datagram the kernel
			// cannot take at once is sent later from the bytes given here.
			const payload = Buffer.from(data.subarray(o, Math.min(data.length, o + blockSize)));
			this.stats.pushed += payload.length;
			const push = { type: "push" as const, fileId: idBytes, offset: start + o, payload };
			this.paced([encodeDataHeader(push), payload], entry.to, undefined, "distribute");
		}
	}

	/** Distributee port: a pushed block of a piece of a file we fetch. */
	private onPush(bytes: Buffer, from: Endpoint): void {
		const message = decodeMessage(bytes);
		if (message?.type !== "push") {
			this.stats.malformed++;
			return;
		}
		const fileId = toHex(message.fileId);
		const download = this.downloads.get(fileId);
		if (!download || (download.status !== "downloading" && download.status !== "waiting")) return;
		// Pushes come from a peer discovery knows, from its distribute port, and never from a
		// banned one: a corrupt push is blamed on its pusher.
		const pusher = this.options
			.peers()
			.find((p) => p.address === from.address && p.ports.distribute === from.port);
		if (!pusher || pusher.id === this.options.selfId || this.banned.has(pusher.id)) {
			this.stats.pushRefused++;
			return;
		}
		// Unasked bytes count against the download limit too: requests make room for them.
		if (this.downBudget.limited) this.downBudget.take(message.payload.length);
		// Pieces too large to assemble in memory are never taken by push (they are requested).
		if (download.assemblesOnDisk) {
			this.stats.pushRefused++;
			return;
		}
		const index = Math.floor(message.offset / download.pieceSize);
		if (index >= download.pieceCount || download.hasPiece(index)) return;
		const length = pieceLength(download.manifest, index);
		const within = message.offset - index * download.pieceSize;
		if (within + message.payload.length > length) {
			this.stats.malformed++;
			return;
		}
		this.stats.pushBlocks++;
		const key = `${fileId}:${index}:${from.address}:${from.port}`;
		let assembly = this.assemblies.get(key);
		if (!assembly) {
			if (this.assemblies.size >= 64) this.expireAssemblies(true);
			assembly = {
				buffer: download.pieceBuffer(length),
				got: 0,
				offsets: new Set(),
				started: Date.now(),
			};
			this.assemblies.set(key, assembly);
		}
		if (assembly.offsets.has(within)) return;
		assembly.offsets.add(within);
		assembly.buffer.set(message.payload, within);
		assembly.got += message.payload.length;
		if (assembly.got >= length) {
			this.assemblies.delete(key);
			this.stats.pushPieces++;
			if (!download.offerPiece(index, assembly.buffer, pusher.id))
				download.recycle(assembly.buffer);
		}
	}

	private expireAssemblies(force: boolean): void {
		const old = Date.now() - 3_000;
		for (const [key, a] of this.assemblies) {
			if (force || a.started < old) {
				this.assemblies.delete(key);
				this.stats.pushAbandoned++;
			}
			if (force) return;
		}
	}

	private tick(): void {
		// After the I/O phase: answers that arrived meanwhile are taken before anything is
		// judged lost.
		setImmediate(() => {
			const now = performance.now();
			this.downMeter.rotate(now);
			this.upMeter.rotate(now);
			if (this.downBudget.limited && this.live.size > 1) {
				// Under a download limit the first to ask takes the tokens: take turns being first.
				const first = this.tickTurn++ % this.live.size;
				let i = 0;
				for (const d of this.live) if (i++ >= first) d.tick(now);
				i = 0;
				for (const d of this.live) if (i++ < first) d.tick(now);
			} else for (const d of this.live) d.tick(now);
			if (this.assemblies.size > 0) this.expireAssemblies(false);
		});
	}

	private sendInterest(): void {
		for (const [fileId, d] of this.downloads) {
			if (d.status === "downloading" || d.status === "waiting")
				this.sendInterestFor(fileId, d, false);
		}
	}

	/** Tells every known peer's distribute port what we have of a file we fetch. */
	/**
	 * A peer appeared on the network: tell it at once what we fetch, so leechers that
	 * started together find each other before they fetch the same pieces.
	 */
	peerJoined(peer: PeerRecord): void {
		for (const [fileId, d] of this.downloads) {
			if (d.status === "downloading" || d.status === "waiting")
				this.sendInterestTo(fileId, d, false, peer);
		}
	}

	/** Sends our have-map to the leechers of the file we know (not every known peer). */
	private sendInterestToLeechers(fileId: string, download: Download): void {
		const table = this.interested.get(fileId);
		if (!table || table.size === 0) return;
		for (const peer of this.options.peers()) {
			if (table.has(peer.id)) this.sendInterestTo(fileId, download, false, peer);
		}
	}

	private sendInterestFor(fileId: string, download: Download, done: boolean): void {
		for (const peer of this.options.peers()) this.sendInterestTo(fileId, download, done, peer);
	}

	/**
	 * A peer's distribute port answered our interest with a Retry: keep its token, and send
	 * that peer our interests again at once with it (so pushes start within a round trip),
	 * unless the token is the one we held or we did so in the last 100 ms (a forged Retry
	 * must not make us send a burst of interests per datagram; see `resendAllowed`).
	 */
	private onDistributeRetry(from: Endpoint, token: Uint8Array): void {
		const peer = this.options
			.peers()
			.find((p) => p.address === from.address && p.ports.distribute === from.port);
		if (!peer) {
			this.stats.malformed++;
			return;
		}
		const held = this.tokenFor(from);
		this.keepToken(from, token);
		if (!this.resendAllowed(from, held, token)) return;
		for (const [fileId, d] of this.downloads) {
			if (d.status === "downloading" || d.status === "waiting")
				this.sendInterestTo(fileId, d, false, peer);
		}
	}

	/** Sends our interest and have-map (in slices of HAVE_CHUNK bytes) to one peer. */
	private sendInterestTo(fileId: string, download: Download, done: boolean, peer: PeerRecord) {
		const idBytes = Buffer.from(fileId, "hex");
		const to = { address: peer.address, port: peer.ports.distribute };
		const token = this.tokenFor(to);
		// Its Retries and pushes are answers to this: the guard does not charge them.
		this.guard.asked(peer.address, peer.ports.distribute);
		for (let first = 0; first < download.have.length || first === 0; first += HAVE_CHUNK) {
			const have = done ? new Uint8Array(0) : download.have.subarray(first, first + HAVE_CHUNK);
			const datagram = encodeMessage({
				type: "interest",
				token,
				peerId: this.options.peerId,
				fileId: idBytes,
				pieceCount: download.pieceCount,
				done,
				firstPiece: first * 8,
				have,
			});
			this.sendFrom("distribute", datagram, to, Channel.distribute);
			if (done) break;
		}
	}

	/** Serves a block of a file we are still fetching, from its verified pieces. */
	private readPartial(id: string, offset: number, length: number): Promise<Buffer | null> {
		const download = this.downloads.get(id);
		if (!download || (download.status !== "downloading" && download.status !== "waiting"))
			return Promise.resolve(null);
		return download.readBlock(offset, length);
	}

	/** Payload bytes we uploaded: answers to requests plus pushes. */
	get uploaded(): number {
		return this.service.stats.uploaded + this.stats.pushed;
	}

	/**
	 * Closes the four sockets; safe to call twice. Downloads under way are cancelled keeping
	 * their partial files and records (no events are emitted for them).
	 */
	close(): Promise<void> {
		this.closing ??= (async () => {
			this.queue.length = 0;
			for (const t of this.timers) clearInterval(t);
			for (const [id, p] of this.pending) {
				clearTimeout(p.timer);
				p.reject(codedError("CLOSED", "engine closed"));
				this.pending.delete(id);
			}
			await Promise.all([...this.downloads.values()].map((d) => d.cancel()));
			await Promise.all(Object.values(this.sockets).map((s) => s.close().catch(() => {})));
			await this.pool?.close();
		})();
		return this.closing;
	}
}

/**
 * The port each of our sockets sends to, by default: interest messages and the Retries
 * that answer them go from distribute to distribute, and say so.
 */
const PEER_CHANNEL: Record<keyof TransferPorts, Channel> = {
	receive: Channel.send,
	send: Channel.receive,
	distribute: Channel.distributee,
	distributee: Channel.distributee,
};

const ZERO_TOKEN = new Uint8Array(TOKEN_SIZE);

/** Identity of a list entry: file id and name. */
function entryKey(entry: ListEntry): string {
	return fileKey(toHex(entry.fileId), entry.name);
}

/** {@link entryKey} of a held entry: hex file id (zeros for a folder) and name. */
function fileKey(id: string, name: string): string {
	return `${id}/${name}`;
}

/** A folder entry's file id, in hex. */
const ZERO_HEX = "0".repeat(HASH_SIZE * 2);

/** Splits list entries into files and folders, each sorted by name (copying every view). */
function toRemoteList(revision: number, entries: ListEntry[]): RemoteList {
	const files: RemoteFile[] = [];
	const folders: string[] = [];
	for (const e of entries) {
		if (isFolderEntry(e)) folders.push(e.name);
		else
			files.push({
				id: toHex(e.fileId),
				name: e.name,
				size: e.size,
				contentHash: toHex(e.contentHash),
			});
	}
	const byName = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);
	files.sort((a, b) => byName(a.name, b.name) || byName(a.id, b.id));
	folders.sort(byName);
	return { revision, files, folders };
}

function byteLength(parts: Buffer[]): number {
	let n = 0;
	for (const p of parts) n += p.length;
	return n;
}

function hasBit(bits: Uint8Array, index: number): boolean {
	return (bits[index >> 3] & (0x80 >> (index & 7))) !== 0;
}

/** The limits the options ask for, checked (see `checkedLimits`). */
function limitsOf(options: EngineOptions): Limits {
	return checkedLimits({
		maxDown: options.maxDownloadRate ?? null,
		maxUp: options.maxUploadRate ?? null,
		maxActive: options.maxActive ?? DEFAULT_MAX_ACTIVE,
	});
}

/**
 * Limits with a rate of 0 taken as none, checked.
 * @throws UsageError `BAD_LIMIT` for a negative or non-finite rate, or a `maxActive` that is
 *   not a whole number of at least 1
 */
function checkedLimits(limits: Limits): Limits {
	const rate = (name: string, value: number | null): number | null => {
		if (value === null || value === 0) return null;
		if (!Number.isFinite(value) || value < 0)
			throw new UsageError(
				`expected ${name} to be a rate of at least 0 bytes/s, got ${value}`,
				"BAD_LIMIT",
			);
		return value;
	};
	if (!Number.isSafeInteger(limits.maxActive) || limits.maxActive < 1)
		throw new UsageError(
			`expected maxActive to be a whole number of at least 1, got ${limits.maxActive}`,
			"BAD_LIMIT",
		);
	return {
		maxDown: rate("maxDown", limits.maxDown),
		maxUp: rate("maxUp", limits.maxUp),
		maxActive: limits.maxActive,
	};
}

/** An Error with a machine-readable `code`. */
export function codedError(code: string, message: string): Error & { code: string } {
	return Object.assign(new Error(message), { code });
}

async function bindBlock(
	base: number,
	address: string,
): Promise<{ sockets: Record<keyof TransferPorts, DualSocket> } | { port: number }> {
	if (base + 3 > 65535) return { port: base };
	const names: (keyof TransferPorts)[] = ["receive", "send", "distribute", "distributee"];
	const bound: DualSocket[] = [];
	for (let i = 0; i < 4; i++) {
		// IPv4 and, on the wildcard, IPv6 on the same port number (see dual-socket.ts).
		const socket = await DualSocket.bind(base + i, address);
		if (!socket) {
			await Promise.all(bound.map((s) => s.close().catch(() => {})));
			return { port: base + i };
		}
		// Send errors (an unreachable peer) surface as events; they must not crash us.
		socket.onError(() => {});
		try {
			socket.setRecvBufferSize(SOCKET_BUFFER);
			socket.setSendBufferSize(SOCKET_BUFFER);
		} catch {
			// The kernel caps buffers at net.core.rmem_max; what it grants is enough to start.
		}
		bound.push(socket);
	}
	const sockets = Object.fromEntries(names.map((n, i) => [n, bound[i]])) as Record<
		keyof TransferPorts,
		DualSocket
	>;
	return { sockets };
}
