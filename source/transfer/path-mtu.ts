/**
 * Datagram sizes per path, in the spirit of Datagram Packetization Layer PMTU Discovery
 * (RFC 8899). Two parts:
 *
 * - `maxDatagramFor` is the ceiling: the MTU of our own interface towards the address
 *   (from `/sys/class/net/<if>/mtu` on Linux) minus 28 bytes of IPv4 and UDP headers.
 *   Loopback carries 64 KiB datagrams; an unknown path gets 1472 (a 1500-byte Ethernet
 *   frame). We never send above it, so we never fragment at our own interface.
 * - `PathMtuSearch` walks up a ladder of sizes from the RFC's BASE_PLPMTU (1200) using
 *   real block requests as probes: a probe answered confirms the size (the answer came
 *   back whole, not fragmented away), two probes lost at a size end the search there.
 *   The peer's own ceiling shows as an error reply (it refuses blocks bigger than its
 *   interface carries), which ends the search at once. Probe loss is not congestion
 *   (RFC 8899 section 4.6), so the caller must not shrink its window for it.
 */
import fs from "node:fs";
import { interfaceOf, readInterfaces } from "../discovery/interfaces.js";

/** IPv4 (20) plus UDP (8) header bytes. */
const IP_UDP_HEADERS = 28;
/** IPv6 (40) plus UDP (8) header bytes. */
const IP6_UDP_HEADERS = 48;
/** RFC 8899 BASE_PLPMTU: every IPv4 path is assumed to carry this, in bytes (IP packet). */
export const BASE_PLPMTU = 1200;
/** Largest UDP payload on loopback that we use, in bytes (64 KiB minus headroom). */
const LOOPBACK_DATAGRAM = 60 * 1024 + 64;

const ceilings = new Map<string, number>();

/**
 * Largest UDP payload in bytes we send to `address`, from our interface's MTU.
 * @param address - the peer's IPv4 or IPv6 address (link-local with its `%scope`)
 * @param overhead - bytes an envelope adds around every datagram (a network key's seal: 43),
 *   taken off, so the result is the largest plain datagram whose sealed form still fits
 */
export function maxDatagramFor(address: string, overhead = 0): number {
	return interfaceCeiling(address) - overhead;
}

function interfaceCeiling(address: string): number {
	if (address.startsWith("127.") || address === "::1") return LOOPBACK_DATAGRAM;
	let ceiling = ceilings.get(address);
	if (ceiling === undefined) {
		// IPv6 headers take 20 bytes more of each packet than IPv4 ones.
		const headers = address.includes(":") ? IP6_UDP_HEADERS : IP_UDP_HEADERS;
		const mtu = interfaceMtuTowards(address);
		ceiling = (mtu ?? 1500) - headers;
		ceiling = Math.max(BASE_PLPMTU - headers, Math.min(LOOPBACK_DATAGRAM, ceiling));
		if (ceilings.size > 4096) ceilings.clear();
		ceilings.set(address, ceiling);
	}
	return ceiling;
}

/**
 * MTU of the local interface towards `address` (its IPv4 subnet or IPv6 prefix holds it, or
 * it is the scope of a link-local address), when Linux tells it.
 */
function interfaceMtuTowards(address: string): number | undefined {
	const name = interfaceOf(address, readInterfaces());
	if (name === undefined) return undefined;
	try {
		const mtu = Number(fs.readFileSync(`/sys/class/net/${name}/mtu`, "utf8").trim());
		return Number.isInteger(mtu) && mtu >= 576 ? mtu : undefined;
	} catch {
		return undefined;
	}
}

/** Datagram sizes probed in turn, in bytes (IP packet sizes: base, Ethernet, jumbo, loopback). */
const LADDER = [BASE_PLPMTU, 1500, 9000, 16 * 1024, 32 * 1024, LOOPBACK_DATAGRAM + IP_UDP_HEADERS];
/** Probes lost at one size before the search stops below it. */
const MAX_PROBES = 2;

/**
 * The search state of one path: the confirmed datagram size and the next size to probe.
 * Sizes are UDP payload bytes (datagrams) before any envelope: with an `overhead`, each
 * ladder step is that much smaller, so the datagram on the wire is the ladder's size.
 */
export class PathMtuSearch {
	/** Largest datagram confirmed to reach us, in bytes. */
	confirmed: number;
	private step = 0;
	private lost = 0;
	private readonly ceiling: number;
	private readonly headers: number;

	/**
	 * @param ceiling - largest datagram our interface sends on this path, in bytes (after
	 *   the envelope's overhead: see `maxDatagramFor`)
	 * @param overhead - bytes an envelope adds to every datagram (0 without a network key)
	 */
	constructor(ceiling: number, overhead = 0) {
		this.ceiling = ceiling;
		this.headers = IP_UDP_HEADERS + overhead;
		this.confirmed = Math.min(ceiling, BASE_PLPMTU - this.headers);
		this.advance();
	}

	/** The datagram size to probe next, or undefined when the search is over. */
	get probe(): number | undefined {
		const size = LADDER[this.step];
		return size === undefined ? undefined : Math.min(size - this.headers, this.ceiling);
	}

	/** A probe of `size` bytes was answered: the path carries it. */
	acknowledge(size: number): void {
		if (size > this.confirmed) this.confirmed = size;
		this.lost = 0;
		this.step++;
		this.advance();
	}

	/** A probe was lost (timed out) or refused; after `MAX_PROBES` losses, or a refusal, stop. */
	lose(refused = false): void {
		this.lost++;
		if (refused || this.lost >= MAX_PROBES) this.step = LADDER.length;
	}

	/** Skips ladder steps no bigger than what is confirmed, and stops at the ceiling. */
	private advance(): void {
		while (this.step < LADDER.length) {
			const size = Math.min(LADDER[this.step] - this.headers, this.ceiling);
			if (size > this.confirmed) return;
			this.step++;
		}
	}
}
