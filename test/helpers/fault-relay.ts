/**
 * Fault injection for the tests and the benchmark: a UDP relay between peers that drops,
 * delays, reorders, duplicates and corrupts datagrams, decided by a seeded PRNG.
 *
 * Every address here is loopback: the relay listens on 127.0.0.1 (and on the wildcard
 * address for the discovery port, where broadcasts to 127.255.255.255 arrive), and sends
 * only by unicast to 127.0.0.1.
 *
 * Determinism: each flow of datagrams (one relayed peer, one of its four ports, one
 * direction) draws from its own PRNG stream derived from the seed, and every datagram draws
 * the same number of values whatever is decided. So the n-th datagram of a flow always gets
 * the same decisions for a given seed, however flows interleave.
 */
import dgram from "node:dgram";
import { toHex } from "../../source/protocol/hash.js";
import type { Identity } from "../../source/protocol/identity.js";
import { decodeMessage, HEADER_SIZE } from "../../source/protocol/messages.js";

/** The only unicast address the relay ever sends to. */
const LOOPBACK = "127.0.0.1";
/** Socket buffer size, so that the relay itself does not drop datagrams under load. */
const SOCKET_BUFFER = 4 * 1024 * 1024;
/** How long a reordered datagram waits for a later one to overtake it, by default. */
const DEFAULT_REORDER_DELAY_MS = 5;

/**
 * Which way faults apply: `upstream` is from a client to the relayed peer, `downstream` is
 * from the relayed peer back to the client.
 */
export type FaultDirection = "both" | "upstream" | "downstream";

/** What the relay does to transfer datagrams. Probabilities are 0..1, applied per datagram. */
export interface FaultOptions {
	/** PRNG seed: the same seed gives the same decisions for the same datagram sequence. */
	seed: number;
	/** Probability a datagram is dropped. */
	loss?: number;
	/** Probability a datagram is sent twice. */
	duplicate?: number;
	/**
	 * Probability a datagram is held back and sent right after the next datagram of its flow
	 * (or after `reorderDelayMs` if none comes first).
	 */
	reorder?: number;
	/** Longest time a reordered datagram is held, in ms (default 5). */
	reorderDelayMs?: number;
	/** Fixed one-way delay added to every datagram, in ms. */
	delayMs?: number;
	/** Extra uniform random delay of 0..jitterMs ms per datagram. */
	jitterMs?: number;
	/**
	 * Probability one byte past the 4-byte message header is flipped (XOR with a non-zero
	 * mask), so the datagram usually still decodes and the damage reaches its content.
	 */
	corrupt?: number;
	/**
	 * Most datagrams corrupted in all (per relay, or per proxy used alone); later corruption
	 * decisions are ignored. Default: no limit.
	 */
	maxCorrupted?: number;
	/** Directions the faults apply to (default both); the other direction is relayed intact. */
	direction?: FaultDirection;
	/**
	 * Message type codes (`MessageType`) the faults apply to; other datagrams are relayed
	 * intact and draw nothing from the PRNG. Default: every datagram.
	 */
	types?: readonly number[];
}

/** Counters of a relay or proxy, summed over every flow. */
export interface RelayStats {
	/** Datagrams passed on (at least once). */
	forwarded: number;
	/** Datagrams dropped. */
	dropped: number;
	/** Extra copies sent. */
	duplicated: number;
	/** Datagrams held back behind later ones. */
	reordered: number;
	/** Datagrams with one byte flipped. */
	corrupted: number;
}

/** The fate of one datagram. */
export interface FaultDecision {
	/** Drop it (the other fields then do not matter). */
	drop: boolean;
	/** Send it twice. */
	duplicate: boolean;
	/** Hold it back behind the next datagram of its flow. */
	reorder: boolean;
	/** Delay before sending, in ms (fixed delay plus jitter). */
	delayMs: number;
	/** Index of the byte to flip, or -1 for none. */
	corruptAt: number;
	/** Non-zero XOR mask for the flipped byte (1..255). */
	corruptMask: number;
}

/** A UDP endpoint on loopback. */
export interface Endpoint {
	address: string;
	port: number;
}

/** Fresh zeroed counters. */
export function emptyStats(): RelayStats {
	return { forwarded: 0, dropped: 0, duplicated: 0, reordered: 0, corrupted: 0 };
}

/**
 * mulberry32: a tiny seeded PRNG.
 * @param seed - any 32-bit integer
 * @returns a function giving uniform numbers in [0, 1)
 */
export function mulberry32(seed: number): () => number {
	let a = seed >>> 0;
	return () => {
		a = (a + 0x6d2b79f5) >>> 0;
		let t = a;
		t = Math.imul(t ^ (t >>> 15), t | 1);
		t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
		return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296;
	};
}

/**
 * The seed of one PRNG stream: `seed` mixed with a stream number (murmur3's finaliser), so
 * neighbouring streams are unrelated.
 */
export function streamSeed(seed: number, stream: number): number {
	let h = (seed ^ Math.imul(stream + 1, 0x9e3779b9)) >>> 0;
	h = Math.imul(h ^ (h >>> 16), 0x85ebca6b);
	h = Math.imul(h ^ (h >>> 13), 0xc2b2ae35);
	return (h ^ (h >>> 16)) >>> 0;
}

/**
 * The PRNG stream number of one flow of a `FaultRelay`.
 * @param peer - the relayed peer's ordinal: 0 for the first peer the relay heard, 1 next, …
 * @param portIndex - 0 receive, 1 send, 2 distribute, 3 distributee
 * @param direction - which way the datagrams go
 */
export function relayStream(
	peer: number,
	portIndex: number,
	direction: "upstream" | "downstream",
): number {
	return peer * 8 + portIndex * 2 + (direction === "upstream" ? 0 : 1);
}

/**
 * The fault decisions of one flow: a seeded PRNG turned into one `FaultDecision` per
 * datagram. Pure (no sockets, no timers), so tests can check decisions without timing.
 */
export class FaultPlan {
	private readonly random: () => number;

	/**
	 * @param faults - the fault probabilities and the seed
	 * @param stream - which stream of the seed to draw from (see `relayStream`)
	 */
	constructor(
		readonly faults: FaultOptions,
		stream = 0,
	) {
		this.random = mulberry32(streamSeed(faults.seed, stream));
	}

	/**
	 * Whether the faults apply to a datagram going `direction` (its direction and message
	 * type pass the filters). Datagrams they do not apply to must not be given to `decide`.
	 */
	applies(datagram: Uint8Array, direction: "upstream" | "downstream"): boolean {
		const only = this.faults.direction ?? "both";
		if (only !== "both" && only !== direction) return false;
		const types = this.faults.types;
		return !types || (datagram.length >= HEADER_SIZE && types.includes(datagram[3]));
	}

	/**
	 * Decides the fate of the next datagram of the flow.
	 * @param length - the datagram's length in bytes (where a flipped byte may land)
	 */
	decide(length: number): FaultDecision {
		const f = this.faults;
		// Always seven draws, so the n-th datagram's fate depends only on the seed and n.
		const uLoss = this.random();
		const uDuplicate = this.random();
		const uReorder = this.random();
		const uJitter = this.random();
		const uCorrupt = this.random();
		const uAt = this.random();
		const uMask = this.random();
		let corruptAt = -1;
		if (length > 0 && uCorrupt < (f.corrupt ?? 0)) {
			// Past the message header when there is anything past it.
			const first = length > HEADER_SIZE ? HEADER_SIZE : 0;
			corruptAt = first + Math.floor(uAt * (length - first));
		}
		return {
			drop: uLoss < (f.loss ?? 0),
			duplicate: uDuplicate < (f.duplicate ?? 0),
			reorder: uReorder < (f.reorder ?? 0),
			delayMs: (f.delayMs ?? 0) + uJitter * (f.jitterMs ?? 0),
			corruptAt,
			corruptMask: 1 + Math.floor(uMask * 255),
		};
	}
}

/**
 * A copy of `datagram` with the byte at `at` XORed with `mask`.
 * @param mask - 1..255, so the byte always changes
 */
export function corruptCopy(datagram: Uint8Array, at: number, mask: number): Buffer {
	const copy = Buffer.from(datagram);
	copy[at] ^= mask;
	return copy;
}

/** Binds a UDP socket with large buffers; rejects when the port is taken. */
function bindSocket(
	port: number,
	address: string,
	options: { reuseAddr?: boolean } = {},
): Promise<dgram.Socket> {
	const socket = dgram.createSocket({ type: "udp4", reuseAddr: options.reuseAddr ?? false });
	return new Promise((resolve, reject) => {
		const onError = (error: Error) => {
			socket.close();
			reject(error);
		};
		socket.once("error", onError);
		socket.bind(port, address, () => {
			socket.off("error", onError);
			// A send to a closed port, or any late error, must not crash the test process.
			socket.on("error", () => {});
			enlargeBuffers(socket);
			resolve(socket);
		});
	});
}

function enlargeBuffers(socket: dgram.Socket): void {
	try {
		socket.setRecvBufferSize(SOCKET_BUFFER);
		socket.setSendBufferSize(SOCKET_BUFFER);
	} catch {
		// The system caps the size (net.core.rmem_max); the largest allowed is used.
	}
}

function closeSocket(socket: dgram.Socket): Promise<void> {
	return new Promise((resolve) => {
		try {
			socket.close(() => resolve());
		} catch {
			resolve(); // already closed
		}
	});
}

/** One direction of a proxy: its plan and the datagrams held back for reordering. */
interface Lane {
	direction: "upstream" | "downstream";
	plan: FaultPlan;
	held: { timer: NodeJS.Timeout; send: () => void }[];
}

/** Options of a single-port proxy. */
export interface ProxyOptions {
	/** Port to listen on, on 127.0.0.1 (default: an ephemeral one). */
	port?: number;
	/** Counters to add to (a relay shares one object between its proxies). */
	stats?: RelayStats;
	/** PRNG stream of the upstream direction; the downstream one is `stream + 1`. */
	stream?: number;
}

/**
 * A UDP proxy for one port: datagrams sent to `port` go to the target, each distinct client
 * (address:port) through its own upstream socket, so the target's replies come back to that
 * socket and are passed to the client from `port`. Faults apply both ways.
 */
export class UdpFaultProxy {
	/** Counters (shared with the relay when given in the options). */
	readonly stats: RelayStats;
	private readonly clients = new Map<string, dgram.Socket>();
	private readonly timers = new Set<NodeJS.Timeout>();
	private readonly up: Lane;
	private readonly down: Lane;
	private closed = false;

	private constructor(
		private target: Endpoint,
		private readonly socket: dgram.Socket,
		faults: FaultOptions,
		options: ProxyOptions,
	) {
		this.stats = options.stats ?? emptyStats();
		const stream = options.stream ?? 0;
		this.up = { direction: "upstream", plan: new FaultPlan(faults, stream), held: [] };
		this.down = { direction: "downstream", plan: new FaultPlan(faults, stream + 1), held: [] };
		socket.on("message", (msg, rinfo) => this.fromClient(msg, rinfo));
	}

	/**
	 * Starts a proxy to `target`.
	 * @param target - must be on 127.0.0.1 (tests never send elsewhere)
	 * @param faults - what to do to the datagrams
	 * @throws Error when the target is not loopback or the port is taken
	 */
	static async start(
		target: Endpoint,
		faults: FaultOptions,
		options: ProxyOptions = {},
	): Promise<UdpFaultProxy> {
		checkLoopback(target);
		const socket = await bindSocket(options.port ?? 0, LOOPBACK);
		return new UdpFaultProxy(target, socket, faults, options);
	}

	/** The port clients send to, on 127.0.0.1. */
	get port(): number {
		return this.socket.address().port;
	}

	/** Points the proxy at another port of the target (a relayed peer announced a new one). */
	retarget(target: Endpoint): void {
		checkLoopback(target);
		this.target = target;
	}

	private fromClient(msg: Buffer, from: dgram.RemoteInfo): void {
		// Replies go back to the client's address: only ever 127.0.0.1.
		if (this.closed || from.address !== LOOPBACK) return;
		const key = `${from.address}:${from.port}`;
		let upstream = this.clients.get(key);
		if (!upstream) {
			upstream = dgram.createSocket("udp4");
			upstream.on("error", () => {});
			upstream.on("listening", () => enlargeBuffers(upstream as dgram.Socket));
			// Replies from the target come back here and go on to the client.
			upstream.on("message", (reply) =>
				this.pass(this.down, reply, (b) => this.send(this.socket, b, from)),
			);
			// Sends made while binding are queued by node:dgram until the bind completes.
			upstream.bind(0, LOOPBACK);
			this.clients.set(key, upstream);
		}
		const socket = upstream;
		this.pass(this.up, msg, (b) => this.send(socket, b, this.target));
	}

	private send(socket: dgram.Socket, datagram: Buffer, to: Endpoint): void {
		if (this.closed) return;
		try {
			socket.send(datagram, to.port, to.address, () => {});
		} catch {
			// Closed under us.
		}
	}

	/** Decides a datagram's fate and carries it out. */
	private pass(lane: Lane, datagram: Buffer, transmit: (b: Buffer) => void): void {
		if (this.closed) return;
		if (!lane.plan.applies(datagram, lane.direction)) {
			this.stats.forwarded++;
			transmit(datagram);
			this.flush(lane);
			return;
		}
		const d = lane.plan.decide(datagram.length);
		if (d.drop) {
			this.stats.dropped++;
			return;
		}
		this.stats.forwarded++;
		let out = datagram;
		if (d.corruptAt >= 0 && this.stats.corrupted < (lane.plan.faults.maxCorrupted ?? Infinity)) {
			out = corruptCopy(datagram, d.corruptAt, d.corruptMask);
			this.stats.corrupted++;
		}
		if (d.duplicate) this.stats.duplicated++;
		if (d.reorder) this.stats.reordered++;
		const emit = () => {
			transmit(out);
			if (d.duplicate) transmit(out);
		};
		const go = () => {
			if (d.reorder) this.hold(lane, emit);
			else {
				emit();
				this.flush(lane);
			}
		};
		if (d.delayMs > 0) this.later(d.delayMs, go);
		else go();
	}

	/** Holds a datagram until the next one of its lane is sent, or the reorder delay ends. */
	private hold(lane: Lane, send: () => void): void {
		const entry = {
			send,
			timer: this.later(lane.plan.faults.reorderDelayMs ?? DEFAULT_REORDER_DELAY_MS, () => {
				lane.held.splice(lane.held.indexOf(entry), 1);
				send();
			}),
		};
		lane.held.push(entry);
	}

	/** Sends every held datagram of a lane, oldest first. */
	private flush(lane: Lane): void {
		const held = lane.held.splice(0);
		for (const entry of held) {
			clearTimeout(entry.timer);
			this.timers.delete(entry.timer);
			entry.send();
		}
	}

	/** A timer that never fires after `close()`. */
	private later(ms: number, fn: () => void): NodeJS.Timeout {
		const timer = setTimeout(() => {
			this.timers.delete(timer);
			if (!this.closed) fn();
		}, ms);
		this.timers.add(timer);
		return timer;
	}

	/** Stops relaying: cancels every delayed or held datagram and closes every socket. */
	async close(): Promise<void> {
		if (this.closed) return;
		this.closed = true;
		for (const timer of this.timers) clearTimeout(timer);
		this.timers.clear();
		this.up.held.length = 0;
		this.down.held.length = 0;
		await Promise.all([
			closeSocket(this.socket),
			...[...this.clients.values()].map((s) => closeSocket(s)),
		]);
		this.clients.clear();
	}
}

function checkLoopback(target: Endpoint): void {
	if (target.address !== LOOPBACK) {
		throw new Error(`fault proxy targets must be ${LOOPBACK}, not ${target.address}`);
	}
}

/** The relay's stand-in for one upstream peer: four proxies on R..R+3. */
interface RelayedPeer {
	/** R, the base port announced downstream. */
	base: number;
	/** The peer's own base port, as last announced. */
	realBase: number;
	proxies: UdpFaultProxy[];
}

/** Options of `FaultRelay.start`. */
export interface FaultRelayOptions {
	/** Discovery port the relayed peers (seeders) announce on. */
	upstreamDiscoveryPort: number;
	/** Discovery port the clients (leechers) listen on; must differ from the upstream one. */
	downstreamDiscoveryPort: number;
	/** What to do to transfer datagrams (discovery is relayed intact). */
	faults: FaultOptions;
	/**
	 * The identities of the relayed peers, asked for on each announce: the relay rewrites an
	 * announce's base port, so it must sign it again with the peer's own key (it is a
	 * man in the middle that the peer trusts). An announce of a peer it has no key for is
	 * relayed unchanged, and its receivers' transfers go straight to the peer.
	 */
	signers?: () => Iterable<Identity>;
}

/**
 * A fault-injecting relay between two discovery domains on loopback. Peers on the
 * upstream discovery port never hear peers on the downstream one; the relay listens to the
 * upstream announces, gives each announcing peer a block of four relay ports R..R+3 on
 * 127.0.0.1, and re-announces the peer downstream (unicast to 127.0.0.1) with base port R.
 * Datagrams to R+i go to the peer's port base+i, replies come back, faults both ways.
 */
export class FaultRelay {
	/** Counters summed over every relayed peer, port and direction. */
	readonly stats: RelayStats = emptyStats();
	private readonly peers = new Map<string, Promise<RelayedPeer>>();
	private closed = false;

	private constructor(
		private readonly options: FaultRelayOptions,
		private readonly listen: dgram.Socket,
		private readonly announcer: dgram.Socket,
	) {
		listen.on("message", (msg, rinfo) => this.onDiscovery(msg, rinfo));
	}

	/**
	 * Relays every peer announcing on `upstreamDiscoveryPort` to peers listening on
	 * `downstreamDiscoveryPort`.
	 * @throws Error when the two ports are equal or a socket cannot be bound
	 */
	static async start(options: FaultRelayOptions): Promise<FaultRelay> {
		if (options.upstreamDiscoveryPort === options.downstreamDiscoveryPort) {
			throw new Error("the upstream and downstream discovery ports must differ");
		}
		// Broadcasts to 127.255.255.255 arrive only on a wildcard bind; shared with the peers.
		const listen = await bindSocket(options.upstreamDiscoveryPort, "0.0.0.0", { reuseAddr: true });
		const announcer = await bindSocket(0, LOOPBACK).catch(async (error) => {
			await closeSocket(listen);
			throw error;
		});
		return new FaultRelay(options, listen, announcer);
	}

	/**
	 * The relay base port R announced downstream for a peer, once its first announce was
	 * relayed.
	 * @param peerId - the peer's id, lowercase hex
	 */
	async basePortOf(peerId: string): Promise<number | undefined> {
		const relayed = await this.peers.get(peerId)?.catch(() => undefined);
		return relayed?.base;
	}

	private onDiscovery(msg: Buffer, from: dgram.RemoteInfo): void {
		if (this.closed || from.address !== LOOPBACK) return;
		// Our own re-announces never come here (they go to the other port), but be sure.
		if (from.port === this.announcer.address().port) return;
		const message = decodeMessage(msg);
		if (message?.type === "announce") {
			const id = toHex(message.peerId);
			let relayed = this.peers.get(id);
			if (!relayed) {
				relayed = this.allocate(this.peers.size, message.basePort);
				relayed.catch(() => this.peers.delete(id));
				this.peers.set(id, relayed);
			}
			relayed.then(
				(peer) => {
					if (peer.realBase !== message.basePort) {
						peer.realBase = message.basePort;
						peer.proxies.forEach((p, i) => {
							p.retarget({ address: LOOPBACK, port: message.basePort + i });
						});
					}
					const signer = this.signerOf(id);
					this.announce(signer ? signer.sign({ ...message, basePort: peer.base }) : msg);
				},
				() => {},
			);
		} else if (message?.type === "leave") {
			const relayed = this.peers.get(toHex(message.peerId));
			relayed?.then(
				() => this.announce(msg),
				() => {},
			);
		}
	}

	private signerOf(id: string): Identity | undefined {
		for (const identity of this.options.signers?.() ?? []) if (identity.id === id) return identity;
		return undefined;
	}

	private announce(datagram: Buffer): void {
		if (this.closed) return;
		this.announcer.send(datagram, this.options.downstreamDiscoveryPort, LOOPBACK, () => {});
	}

	/** Binds four consecutive free relay ports, proxying to the peer's four ports. */
	private async allocate(ordinal: number, realBase: number): Promise<RelayedPeer> {
		for (let tries = 0; tries < 1_000; tries++) {
			if (this.closed) break;
			const base = 50_000 + 4 * Math.floor(Math.random() * 2_000);
			const proxies: UdpFaultProxy[] = [];
			try {
				for (let i = 0; i < 4; i++) {
					proxies.push(
						await UdpFaultProxy.start(
							{ address: LOOPBACK, port: realBase + i },
							this.options.faults,
							{
								port: base + i,
								stats: this.stats,
								stream: relayStream(ordinal, i, "upstream"),
							},
						),
					);
				}
			} catch {
				await Promise.all(proxies.map((p) => p.close()));
				continue;
			}
			if (this.closed) {
				await Promise.all(proxies.map((p) => p.close()));
				break;
			}
			return { base, realBase, proxies };
		}
		throw new Error("no free block of four relay ports");
	}

	/** Stops relaying: no datagram is sent after this resolves (nor after it is called). */
	async close(): Promise<void> {
		if (this.closed) return;
		this.closed = true;
		await Promise.all([closeSocket(this.listen), closeSocket(this.announcer)]);
		const peers = await Promise.allSettled(this.peers.values());
		await Promise.all(
			peers.flatMap((p) => (p.status === "fulfilled" ? p.value.proxies.map((x) => x.close()) : [])),
		);
	}
}
