/**
 * The peer table: discovery as a state machine with no sockets and no timers. Feed it
 * datagrams with `recv(bytes, from, now)` and the time with `expire(now)`; it returns what
 * changed. The socket adapter (`discovery.ts`) drives it.
 *
 * A peer is added on its first announce, refreshed on each, removed at once on its leave
 * and after three missed intervals (its declared interval) otherwise. Announces and leaves
 * are signed (docs/protocol.md §14): one whose signature does not verify, or whose peer id
 * is not its key's, is dropped and counted in `forged`; one older than the newest held for
 * its peer is dropped and counted in `stale`. A peer heard on several routes (interfaces,
 * IPv4 and IPv6) is one record with several addresses.
 */

import type { PeerRecord, PeerSource } from "../peer/types.js";
import { toHex } from "../protocol/hash.js";
import { checkSigned } from "../protocol/identity.js";
import { decodeMessage } from "../protocol/messages.js";

/** Missed announce intervals after which a silent peer (or one of its addresses) expires. */
export const MISSED_INTERVALS = 3;
/**
 * Most peers the table holds: announces from further new peer ids are dropped (and
 * counted in `refused`) until one leaves or expires, so forged peer ids cannot grow it.
 */
export const MAX_PEERS = 1_024;
/**
 * Longest announce interval believed for expiry, in ms (the longest `--interval` allows):
 * a forged announce claiming 49 days expires like a peer announcing hourly.
 */
export const MAX_INTERVAL_MS = 3_600_000;
/**
 * Most addresses kept per peer (interfaces times IP versions); a further one replaces the
 * least recently heard address other than the preferred one.
 */
export const MAX_ADDRESSES = 8;
/**
 * How long the newest timestamp of a peer that left or expired is remembered, in ms: a
 * replay of one of its older announces within this time does not bring it back.
 */
export const TOMBSTONE_MS = 10 * 60_000;
/** Most such timestamps remembered (the oldest is forgotten first). */
export const MAX_TOMBSTONES = 4_096;

/** What one datagram or one expiry pass did to the table. */
export type TableChange =
	| { kind: "joined"; peer: PeerRecord }
	| { kind: "updated"; peer: PeerRecord; revisionChanged: boolean }
	| { kind: "left"; peer: PeerRecord; reason: "bye" | "expired" };

/** What the table keeps of a peer besides its record. */
interface PeerState {
	/** Newest timestamp of a signed message of this peer that we believed. */
	stamp: number;
	/** The datagram carrying it: an identical copy on another route needs no second check. */
	datagram: Buffer;
	/** When each address was last heard, in ms. */
	heard: Map<string, number>;
}

/** Peers heard on the discovery port, keyed by peer id. */
export class PeerTable {
	private peers = new Map<string, PeerRecord>();
	private states = new Map<string, PeerState>();
	/** Newest timestamp of peers gone, with when they went, by id (insertion-ordered). */
	private tombstones = new Map<string, { stamp: number; at: number }>();
	/** Datagrams dropped because they did not decode as discovery messages. */
	malformed = 0;
	/** Our own announces and leaves heard (they come back on every interface they left by). */
	selfHeard = 0;
	/** Announces of new peers dropped because the table was full. */
	refused = 0;
	/**
	 * Announces and leaves dropped because their signature did not verify or their peer id
	 * is not their public key's: someone claiming an id it cannot sign for. (Before signed
	 * announces this table bound an id to its first address and counted announces from
	 * another one as conflicts; the signature now proves the id, so an announce of a known
	 * peer from a new address adds that address, and the preferred address, the one our
	 * requests go to, stays the first heard until it falls silent.)
	 */
	forged = 0;
	/**
	 * Signed announces and leaves dropped because they were older than the newest one held
	 * for their peer (or for a peer gone less than `TOMBSTONE_MS` ago): replays, such as an
	 * old leave sent again to evict a peer that came back, or a copy late on a slower route.
	 */
	stale = 0;

	/** @param selfId - our own peer id (hex); our own broadcasts come back and are ignored */
	constructor(private readonly selfId: string) {}

	/** Every known peer. */
	list(): PeerRecord[] {
		return [...this.peers.values()];
	}

	/** The peer with this hex id, if known. */
	/**
	 * The newest timestamp of a signed message of a known peer that we believed (its
	 * identity clock, ms), for the freshness check of §16 messages.
	 */
	stampOf(id: string): number | undefined {
		return this.states.get(id)?.stamp;
	}

	get(id: string): PeerRecord | undefined {
		return this.peers.get(id);
	}

	/**
	 * Takes one datagram from the discovery port.
	 * @param bytes - untrusted datagram
	 * @param from - the sender's address (IPv4, or IPv6 with its `%scope` when link-local)
	 * @param now - wall-clock time in ms
	 * @param found - how a peer this datagram adds was found (default `lan`)
	 * @param fromPort - the sender's UDP port (its discovery port), kept on the record
	 * @param helloVia - set when the announce came inside a hello: how the sender knows us
	 * @returns the change, or undefined (our own message, a repeat, or dropped and counted)
	 */
	recv(
		bytes: Uint8Array,
		from: string,
		now: number,
		found: PeerSource = "lan",
		fromPort?: number,
		helloVia?: "named" | "exchange",
	): TableChange | undefined {
		const message = decodeMessage(bytes);
		if (!message || (message.type !== "announce" && message.type !== "leave")) {
			this.malformed++;
			return undefined;
		}
		const id = toHex(message.peerId);
		if (id === this.selfId) {
			this.selfHeard++;
			return undefined;
		}
		const known = this.peers.get(id);
		const state = this.states.get(id);
		// Cheap checks first: a replay costs no signature check.
		const floor = state?.stamp ?? this.tombstone(id, now);
		if (floor !== undefined && message.timestamp < floor) {
			this.stale++;
			return undefined;
		}
		const copy = state?.datagram.equals(bytes) === true;
		if (!copy && checkSigned(message, bytes) !== "ok") {
			this.forged++;
			return undefined;
		}
		if (message.type === "leave") {
			if (!known) return undefined;
			this.remove(id, message.timestamp, now);
			return { kind: "left", peer: known, reason: "bye" };
		}
		if (copy && known && state) {
			// The same announce on another route (or again): only its address is news. It
			// keeps that address alive but not the peer: a replayer repeating a vanished peer's
			// last announce cannot keep it listed past three intervals.
			const added = !state.heard.has(from);
			this.hear(state, known.address, from, now);
			if (!added) return undefined;
			const peer = this.withAddresses(known, state);
			return { kind: "updated", peer, revisionChanged: false };
		}
		if (!known && this.peers.size >= MAX_PEERS) {
			this.refused++;
			return undefined;
		}
		const base = message.basePort;
		const next: PeerState = state ?? { stamp: 0, datagram: Buffer.alloc(0), heard: new Map() };
		next.stamp = message.timestamp;
		next.datagram = Buffer.from(bytes);
		const record: PeerRecord = {
			id,
			name: message.name,
			address: known?.address ?? from,
			addresses: [],
			found: known?.found ?? found,
			ports: { receive: base, send: base + 1, distribute: base + 2, distributee: base + 3 },
			files: message.fileCount,
			revision: message.revision,
			lastSeen: now,
			interval: Math.min(message.interval, MAX_INTERVAL_MS),
			discoveryPort: fromPort ?? known?.discoveryPort,
			helloVia: helloVia ?? known?.helloVia,
		};
		this.tombstones.delete(id);
		this.states.set(id, next);
		this.hear(next, record.address, from, now);
		const peer = this.withAddresses(record, next);
		if (!known) return { kind: "joined", peer };
		return { kind: "updated", peer, revisionChanged: known.revision !== peer.revision };
	}

	/** Notes that `from` was heard for a peer now, making room for it if needed. */
	private hear(state: PeerState, preferred: string, from: string, now: number): void {
		if (!state.heard.has(from) && state.heard.size >= MAX_ADDRESSES) {
			let stalest: string | undefined;
			for (const [address, at] of state.heard)
				if (
					address !== preferred &&
					(stalest === undefined || at < (state.heard.get(stalest) ?? 0))
				)
					stalest = address;
			if (stalest !== undefined) state.heard.delete(stalest);
		}
		state.heard.set(from, now);
	}

	/** Stores `peer` with its addresses (the preferred one first) and returns it. */
	private withAddresses(peer: PeerRecord, state: PeerState): PeerRecord {
		const others = [...state.heard.keys()].filter((a) => a !== peer.address);
		const record = { ...peer, addresses: [peer.address, ...others] };
		this.peers.set(peer.id, record);
		return record;
	}

	/** The newest timestamp of a peer gone less than `TOMBSTONE_MS` ago, if any. */
	private tombstone(id: string, now: number): number | undefined {
		const gone = this.tombstones.get(id);
		return gone && now - gone.at <= TOMBSTONE_MS ? gone.stamp : undefined;
	}

	/** Forgets a peer, remembering its newest timestamp for a while. */
	private remove(id: string, stamp: number, now: number): void {
		this.peers.delete(id);
		this.states.delete(id);
		this.tombstones.delete(id);
		this.tombstones.set(id, { stamp, at: now });
		if (this.tombstones.size > MAX_TOMBSTONES) {
			const oldest = this.tombstones.keys().next().value;
			if (oldest !== undefined) this.tombstones.delete(oldest);
		}
	}

	/**
	 * Forgets every peer at once (the network key changed: they are on another network now).
	 * @returns the peers forgotten
	 */
	clear(): PeerRecord[] {
		const all = [...this.peers.values()];
		const now = Date.now();
		for (const peer of all) this.remove(peer.id, this.states.get(peer.id)?.stamp ?? 0, now);
		return all;
	}

	/**
	 * Removes peers silent for more than three of their intervals, and the addresses of a
	 * peer not heard for that long (when its preferred address goes, the most recently heard
	 * one left becomes preferred).
	 * @param now - wall-clock time in ms
	 * @returns the peers removed, and those whose addresses changed
	 */
	expire(now: number): TableChange[] {
		const changes: TableChange[] = [];
		for (const peer of this.peers.values()) {
			const state = this.states.get(peer.id);
			const limit = MISSED_INTERVALS * peer.interval;
			if (now - peer.lastSeen > limit || !state) {
				this.remove(peer.id, state?.stamp ?? 0, now);
				changes.push({ kind: "left", peer, reason: "expired" });
				continue;
			}
			let dropped = false;
			for (const [address, at] of state.heard)
				if (now - at > limit) {
					state.heard.delete(address);
					dropped = true;
				}
			if (!dropped) continue;
			let address = peer.address;
			if (!state.heard.has(address)) {
				let newest = Number.NEGATIVE_INFINITY;
				for (const [a, at] of state.heard)
					if (at > newest) {
						newest = at;
						address = a;
					}
			}
			const updated = this.withAddresses({ ...peer, address }, state);
			changes.push({ kind: "updated", peer: updated, revisionChanged: false });
		}
		for (const [id, gone] of this.tombstones) {
			if (now - gone.at <= TOMBSTONE_MS) break;
			this.tombstones.delete(id);
		}
		return changes;
	}
}
