/**
 * Peer exchange (PEX, docs/protocol.md §15), the pure part: which of the peers we know may
 * be handed to which peer (only addresses proved by a round trip, never the recipient
 * itself, loopback only to loopback), which received entries are believable, and the
 * per-recipient rate limit (at most one message per announce interval, and only when its
 * entries changed or {@link PEX_REFRESH_INTERVALS} intervals passed).
 */
import { isIPv4, isIPv6 } from "node:net";
import type { PeerRecord } from "../peer/types.js";
import { ipBytes, MAX_PEX_ENTRIES, type PexEntry } from "../protocol/messages.js";

/** Intervals after which unchanged entries are sent again (a lost datagram is made up). */
export const PEX_REFRESH_INTERVALS = 15;
/**
 * Messages sent to a new recipient one interval apart even when unchanged: the first may
 * arrive before the recipient has proved us, and be ignored.
 */
export const PEX_FIRST_SENDS = 3;

/** True for a loopback address (127.0.0.0/8, ::1). */
export function isLoopback(address: string): boolean {
	if (isIPv4(address)) return address.startsWith("127.");
	return ipBytes(address)?.every((b, i) => b === (i === 15 ? 1 : 0)) ?? false;
}

/**
 * Whether an address may stand in a peer exchange entry, sent or received: a unicast
 * address that names one host for everyone. Refused: unspecified (`0.0.0.0/8`, `::`),
 * limited broadcast and reserved (`240.0.0.0/4`), multicast (`224.0.0.0/4`, `ff00::/8`),
 * IPv6 link-local (`fe80::/10`, meaningless without the sender's zone), IPv4-mapped IPv6,
 * and loopback unless `loopbackOk` (both ends on one host).
 */
export function exchangeable(address: string, loopbackOk: boolean): boolean {
	const bytes = ipBytes(address);
	if (!bytes) return false;
	if (isLoopback(address)) return loopbackOk;
	if (bytes.length === 4) return bytes[0] !== 0 && bytes[0] < 224;
	if (!isIPv6(address)) return false;
	if (bytes.every((b) => b === 0)) return false;
	if (bytes[0] === 0xff) return false;
	if (bytes[0] === 0xfe && (bytes[1] & 0xc0) === 0x80) return false;
	const mapped =
		bytes.subarray(0, 10).every((b) => b === 0) && bytes[10] === 0xff && bytes[11] === 0xff;
	return !mapped;
}

/**
 * The entries a peer exchange message to `recipient` may carry: the discovery endpoints of
 * the other peers we know whose address is proved (`proved`: validated by a round trip),
 * never the recipient's own, loopback ones only to a loopback recipient, without
 * duplicates, at most {@link MAX_PEX_ENTRIES} (from `offset` on, cyclically, so a larger
 * set is handed out in turns).
 * @param recipient - the peer the message goes to
 * @param peers - every peer we know
 * @param proved - whether an address has proved by a round trip that it receives
 * @param offset - rotation of a set larger than one message
 */
export function exchangeEntries(
	recipient: PeerRecord,
	peers: readonly PeerRecord[],
	proved: (address: string) => boolean,
	offset = 0,
): PexEntry[] {
	const loopbackOk = isLoopback(recipient.address);
	const seen = new Set<string>();
	const all: PexEntry[] = [];
	for (const p of peers) {
		if (p.id === recipient.id || p.discoveryPort === undefined) continue;
		if (p.address === recipient.address && p.discoveryPort === recipient.discoveryPort) continue;
		if (!proved(p.address) || !exchangeable(p.address, loopbackOk)) continue;
		const key = `${p.address}|${p.discoveryPort}`;
		if (seen.has(key)) continue;
		seen.add(key);
		all.push({ address: p.address, port: p.discoveryPort });
	}
	if (all.length <= MAX_PEX_ENTRIES) return all;
	const start = offset % all.length;
	return [...all.slice(start), ...all.slice(0, start)].slice(0, MAX_PEX_ENTRIES);
}

/** Per-recipient rate limit of peer exchange messages. */
export class ExchangeLimiter {
	private readonly sent = new Map<string, { at: number; key: string; count: number }>();

	/** @param interval - our announce interval in ms */
	constructor(private readonly interval: number) {}

	/**
	 * Whether to send `entries` to `recipient` now (and notes it when so): at most one message
	 * per interval per recipient, and only when the entries differ from the last ones sent
	 * to it, or it has had fewer than {@link PEX_FIRST_SENDS}, or
	 * {@link PEX_REFRESH_INTERVALS} intervals passed.
	 */
	shouldSend(recipient: string, entries: readonly PexEntry[], now: number): boolean {
		const key = entries
			.map((e) => `${e.address}|${e.port}`)
			.sort()
			.join(",");
		const last = this.sent.get(recipient);
		if (last) {
			const since = now - last.at;
			if (since < this.interval) return false;
			const stale = since >= PEX_REFRESH_INTERVALS * this.interval;
			if (last.key === key && last.count >= PEX_FIRST_SENDS && !stale) return false;
		}
		this.sent.set(recipient, { at: now, key, count: (last?.count ?? 0) + 1 });
		return true;
	}

	/** Forgets a recipient (it left). */
	forget(recipient: string): void {
		this.sent.delete(recipient);
	}

	/** Forgets every recipient not in `known` (peers that expired), so the map stays bounded. */
	retain(known: ReadonlySet<string>): void {
		for (const id of this.sent.keys()) if (!known.has(id)) this.sent.delete(id);
	}
}
