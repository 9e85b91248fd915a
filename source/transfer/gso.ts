/**
 * UDP generic segmentation offload (GSO, Linux `UDP_SEGMENT`) for one `dgram` socket: a run
 * of equal-size datagrams to one peer leaves in one `sendmsg` as one buffer the kernel cuts
 * into datagrams of that size (the last may be shorter). Each segment is a complete datagram
 * of ours (sealed on its own with a network key), so a receiver sees plain datagrams.
 *
 * Node cannot attach the per-send control message, so the size is the socket option, and it
 * applies to every later `sendmsg` of the socket. Node hands an unconnected send to libuv a
 * tick later, and libuv queues it when the socket buffer is full, so the option is changed
 * only while no send of ours is waiting in either place; otherwise a datagram waits in a
 * queue of ours until it can go under the right option. Support is detected at run time
 * (`setsockopt` fails: another OS, an old kernel, `P2P_TUI_NO_GSO=1`), and a batch whose send
 * fails (EIO without checksum offload, EINVAL...) switches GSO off and is resent plainly.
 */

import type { Socket } from "node:dgram";
import { createRequire } from "node:module";

/** `SOL_UDP` (Linux `netinet/udp.h`). */
const SOL_UDP = 17;
/** `UDP_SEGMENT`: the GSO segment size of later sends, in bytes (Linux 4.18). */
const UDP_SEGMENT = 103;
/** `UDP_GRO`: receive coalesced runs of datagrams in one buffer (Linux 5.0). */
const UDP_GRO = 104;
/**
 * Most datagrams per GSO send (the kernel takes 64). A receiver with GRO takes a run as one
 * buffer, and a full socket buffer drops it whole: with 64, a CPU-starved leecher (one seeder
 * to three leechers on two CPUs) lost runs of 64 and slowed by a third; 16 keeps most of
 * the saving (bench:lan).
 */
const MAX_SEGMENTS = 16;
/** Bytes of one GSO send: under the 65,507 a UDP datagram over IPv4 can carry. */
const MAX_GSO_BYTES = 65_000;

/** sockopt's setsockopt: it reads `socket._handle.fd` (handed a stand-in holding the fd). */
type SetSockOpt = (
	socket: { _handle: { fd: number } },
	level: number,
	name: number,
	value: number,
) => void;

let setsockoptFn: SetSockOpt | null | undefined;

/** `sockopt`'s setsockopt, or null where its binary does not load. */
function loadSetsockopt(): SetSockOpt | null {
	if (setsockoptFn !== undefined) return setsockoptFn;
	try {
		const require = createRequire(import.meta.url);
		setsockoptFn = (require("sockopt") as { setsockopt: SetSockOpt }).setsockopt;
	} catch {
		setsockoptFn = null;
	}
	return setsockoptFn;
}

/** Whether GSO is refused by the environment (`P2P_TUI_NO_GSO=1`, for tests and comparisons). */
export function gsoDisabledByEnv(): boolean {
	const value = process.env.P2P_TUI_NO_GSO;
	return value !== undefined && value !== "" && value !== "0";
}

/** Whether GRO is refused by the environment (`P2P_TUI_NO_GRO=1`). */
export function groDisabledByEnv(): boolean {
	const value = process.env.P2P_TUI_NO_GRO;
	return value !== undefined && value !== "" && value !== "0";
}

/**
 * Switches UDP GRO on for a bound socket: from then on one receive may hold several
 * datagrams (split them with `splitCoalesced`).
 * @returns whether the kernel took it (false: plain datagrams, nothing to split)
 */
export function enableGro(socket: Socket): boolean {
	if (groDisabledByEnv()) return false;
	const set = loadSetsockopt();
	const fd = fdOf(socket);
	if (!set || fd === undefined) return false;
	try {
		set({ _handle: { fd } }, SOL_UDP, UDP_GRO, 1);
		return true;
	} catch {
		return false;
	}
}

/** One datagram: its parts (sent as one, never copied) and their total length in bytes. */
export interface OutDatagram {
	parts: Buffer[];
	length: number;
}

/** Counters of a GSO sender. */
export interface GsoStats {
	/** `sendmsg` calls that carried more than one datagram. */
	batches: number;
	/** Datagrams sent inside such batches. */
	segments: number;
	/** Batches resent plainly after their send failed. */
	failed: number;
}

/** Sends through one bound `dgram` socket, with GSO when the kernel allows it. */
export class GsoSender {
	/** Whether batches go out with GSO (false: plain datagrams, one `sendmsg` each). */
	enabled: boolean;
	readonly stats: GsoStats = { batches: 0, segments: 0, failed: 0 };
	/** The socket's `UDP_SEGMENT` now (0: none). */
	private segment = 0;
	/** Destinations (address) that took a batch at `segment`: their path carries it. */
	private okAt = new Set<string>();
	/** Sends handed to Node whose `afterDns` tick has not run yet. */
	private ticking = 0;
	/** Datagrams waiting until the option can change: [parts, port, address]. */
	private waiting: [Buffer[] | Buffer, number, string][] = [];
	private flushArmed = false;
	private readonly untick = () => {
		this.ticking--;
	};

	/**
	 * @param socket - a bound socket; every send on it must go through this sender
	 * @param allow - false to never try GSO (the plain path)
	 */
	constructor(
		private readonly socket: Socket,
		allow = true,
	) {
		this.enabled = allow && !gsoDisabledByEnv() && this.trySet(0);
	}

	/** Sends one datagram. Never throws; errors surface as the socket's `error` events. */
	send(parts: Buffer | Buffer[], port: number, address: string): void {
		if (this.segment !== 0) {
			const length = Array.isArray(parts) ? lengthOf(parts) : parts.length;
			// With the option set, every send of the socket is checked against it (EINVAL when
			// the route's MTU is smaller, EIO without checksum offload): only to a peer that
			// took a batch at this size, and no longer once GSO failed.
			if (!this.enabled || length > this.segment || !this.okAt.has(address)) {
				if (this.waiting.length > 0 || !this.quiet() || !this.setSegment(0)) {
					this.wait(parts, port, address);
					return;
				}
			}
		}
		this.rawSend(parts, port, address);
	}

	/**
	 * Sends datagrams to one destination: runs of equal size (the last of a run may be
	 * shorter) leave as one GSO send each when enabled, else one send per datagram.
	 */
	sendMany(datagrams: OutDatagram[], port: number, address: string): void {
		let i = 0;
		while (i < datagrams.length) {
			const size = datagrams[i].length;
			let j = i + 1;
			let bytes = size;
			while (
				j < datagrams.length &&
				j - i < MAX_SEGMENTS &&
				bytes + datagrams[j].length <= MAX_GSO_BYTES &&
				datagrams[j].length <= size
			) {
				bytes += datagrams[j].length;
				j++;
				if (datagrams[j - 1].length < size) break;
			}
			if (j - i > 1 && this.enabled && this.batchReady(size, address)) {
				const run = datagrams.slice(i, j);
				const parts: Buffer[] = [];
				for (const d of run) for (const p of d.parts) parts.push(p);
				this.stats.batches++;
				this.stats.segments += run.length;
				this.ticking++;
				this.socket.send(parts, port, address, (error) => {
					if (error) this.failed(run, port, address);
				});
				process.nextTick(this.untick);
			} else for (let k = i; k < j; k++) this.send(datagrams[k].parts, port, address);
			i = j;
		}
	}

	/** Whether the option is (or now could be set to) `size` for a batch to `address`. */
	private batchReady(size: number, address: string): boolean {
		if (this.waiting.length > 0) return false;
		if (this.segment !== size) {
			if (!this.quiet() || !this.setSegment(size)) return false;
		}
		this.okAt.add(address);
		return true;
	}

	/** A batch's send failed: GSO off for good, the datagrams resent one by one. */
	private failed(run: OutDatagram[], port: number, address: string): void {
		this.stats.failed++;
		this.enabled = false;
		for (const d of run) this.waiting.push([d.parts, port, address]);
		this.flushSoon();
	}

	/** No send of ours waits in Node's tick or libuv's queue: the option may change. */
	private quiet(): boolean {
		return this.ticking === 0 && this.socket.getSendQueueCount() === 0;
	}

	private setSegment(size: number): boolean {
		if (!this.trySet(size)) {
			this.enabled = false;
			return false;
		}
		this.segment = size;
		this.okAt.clear();
		return true;
	}

	private trySet(size: number): boolean {
		const set = loadSetsockopt();
		const fd = fdOf(this.socket);
		if (!set || fd === undefined) return false;
		try {
			set({ _handle: { fd } }, SOL_UDP, UDP_SEGMENT, size);
			return true;
		} catch {
			return false;
		}
	}

	private rawSend(parts: Buffer | Buffer[], port: number, address: string): void {
		this.ticking++;
		this.socket.send(parts, port, address);
		process.nextTick(this.untick);
	}

	private wait(parts: Buffer | Buffer[], port: number, address: string): void {
		this.waiting.push([parts, port, address]);
		this.flushSoon();
	}

	private flushSoon(): void {
		if (this.flushArmed) return;
		this.flushArmed = true;
		setImmediate(() => {
			this.flushArmed = false;
			this.flush();
		});
	}

	/** Sends the waiting datagrams plainly once the option can go back to 0. */
	private flush(): void {
		if (this.segment !== 0) {
			if (!this.quiet()) {
				if (this.waiting.length > 0 || !this.enabled) this.flushSoon();
				return;
			}
			if (!this.trySet(0)) {
				// The option cannot be cleared: nothing over the segment size may go out.
				this.enabled = false;
			} else {
				this.segment = 0;
				this.okAt.clear();
			}
		}
		const waiting = this.waiting;
		this.waiting = [];
		for (const [parts, port, address] of waiting) this.rawSend(parts, port, address);
	}
}

/**
 * The file descriptor of a bound socket, or undefined. Read from Node's internal state
 * (`socket._handle` is deprecated: DEP0112 would print a warning on stderr).
 */
function fdOf(socket: Socket): number | undefined {
	const state = Object.getOwnPropertySymbols(socket).find((s) => s.description === "state symbol");
	const handle =
		state && (socket as unknown as Record<symbol, { handle?: { fd?: number } }>)[state];
	const fd = handle?.handle?.fd;
	return typeof fd === "number" && fd >= 0 ? fd : undefined;
}

function lengthOf(parts: Buffer[]): number {
	let n = 0;
	for (const p of parts) n += p.length;
	return n;
}
