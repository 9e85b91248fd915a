/**
 * The peer table: discovery as a state machine with no sockets and no timers. Feed it
 * datagrams with `recv(bytes, from, now)` and the time with `expire(now)`; it returns what
 * changed. The socket adapter (`discovery.ts`) drives it.
 *
 * A peer is added on its first announce, refreshed on each, removed at once on its leave
 * and after three missed intervals (its declared interval) otherwise.
 */

import type { PeerRecord } from "../peer/types.js";
import { toHex } from "../protocol/hash.js";
import { type Announce, decodeMessage, type Hello, type Leave } from "../protocol/messages.js";

/** Missed announce intervals after which a silent peer expires. */
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

/** What one datagram or one expiry pass did to the table. */
export type TableChange =
	| { kind: "joined"; peer: PeerRecord }
	| { kind: "updated"; peer: PeerRecord; revisionChanged: boolean }
	| { kind: "left"; peer: PeerRecord; reason: "bye" | "expired" };

/** Peers heard on the discovery port, keyed by peer id. */
export class PeerTable {
	private peers = new Map<string, PeerRecord>();
	/** Datagrams dropped because they did not decode as discovery messages. */
	malformed = 0;
	/** Announces of new peers dropped because the table was full. */
	refused = 0;
	/**
	 * Announces dropped because they named a known peer from another address: a peer id
	 * is bound to the address it was first heard from until it leaves or expires (as its
	 * leave must come from there), so a stranger on the LAN cannot point our requests for
	 * that peer (and the blame for bad pieces, which bans by peer id) at itself. A process
	 * picks a new id each start, so a peer that moves comes back under a new id. (Whoever
	 * can forge the source address is not stopped by this: see the network key.)
	 */
	conflicts = 0;

	/** @param selfId - our own peer id (hex); our own broadcasts come back and are ignored */
	constructor(private readonly selfId: string) {}

	/** Every known peer. */
	list(): PeerRecord[] {
		return [...this.peers.values()];
	}

	/** The peer with this hex id, if known. */
	get(id: string): PeerRecord | undefined {
		return this.peers.get(id);
	}

	/**
	 * Takes one datagram from the discovery port.
	 * @param bytes - untrusted datagram
	 * @param from - the sender's IPv4 address
	 * @param now - wall-clock time in ms
	 * @param fromPort - the sender's UDP port (its discovery port), kept on the record
	 * @returns the change, or undefined (our own message, a repeat, or dropped and counted)
	 */
	recv(bytes: Uint8Array, from: string, now: number, fromPort?: number): TableChange | undefined {
		const message = decodeMessage(bytes);
		if (
			!message ||
			(message.type !== "announce" && message.type !== "leave" && message.type !== "hello")
		) {
			this.malformed++;
			return undefined;
		}
		return this.take(message, from, now, fromPort);
	}

	/**
	 * Takes one decoded discovery message (an announce, a hello, which is an announce sent by
	 * unicast, or a leave).
	 * @returns the change, or undefined (our own message, or dropped and counted)
	 */
	take(
		message: Announce | Hello | Leave,
		from: string,
		now: number,
		fromPort?: number,
	): TableChange | undefined {
		const id = toHex(message.peerId);
		if (id === this.selfId) return undefined;
		const known = this.peers.get(id);
		if (message.type === "leave") {
			if (!known || known.address !== from) return undefined;
			this.peers.delete(id);
			return { kind: "left", peer: known, reason: "bye" };
		}
		if (known && known.address !== from) {
			this.conflicts++;
			return undefined;
		}
		if (!known && this.peers.size >= MAX_PEERS) {
			this.refused++;
			return undefined;
		}
		const base = message.basePort;
		const peer: PeerRecord = {
			id,
			name: message.name,
			address: from,
			ports: { receive: base, send: base + 1, distribute: base + 2, distributee: base + 3 },
			files: message.fileCount,
			revision: message.revision,
			lastSeen: now,
			interval: Math.min(message.interval, MAX_INTERVAL_MS),
			discoveryPort: fromPort ?? known?.discoveryPort,
			helloVia: message.type === "hello" ? message.via : known?.helloVia,
		};
		if (known?.found) peer.found = known.found;
		this.peers.set(id, peer);
		if (!known) return { kind: "joined", peer };
		return { kind: "updated", peer, revisionChanged: known.revision !== peer.revision };
	}

	/**
	 * Forgets every peer at once (the network key changed: they are on another network now).
	 * @returns the peers forgotten
	 */
	clear(): PeerRecord[] {
		const all = [...this.peers.values()];
		this.peers.clear();
		return all;
	}

	/**
	 * Removes peers silent for more than three of their intervals.
	 * @param now - wall-clock time in ms
	 * @returns the peers removed
	 */
	expire(now: number): TableChange[] {
		const changes: TableChange[] = [];
		for (const peer of this.peers.values()) {
			if (now - peer.lastSeen > MISSED_INTERVALS * peer.interval) {
				this.peers.delete(peer.id);
				changes.push({ kind: "left", peer, reason: "expired" });
			}
		}
		return changes;
	}
}
