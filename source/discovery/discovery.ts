/**
 * Discovery over UDP broadcast: the socket adapter around `PeerTable`. It binds the
 * discovery port with address reuse (so several peers on one host share it), announces
 * every interval to each configured broadcast address, expires silent peers, and
 * broadcasts a leave on `close()`.
 */
import { EventEmitter } from "node:events";
import DgramAsPromised, { type SocketAsPromised } from "dgram-as-promised";
import { UsageError } from "../errors.js";
import type { PeerRecord } from "../peer/types.js";
import type { Identity } from "../protocol/identity.js";
import { Channel, NetworkGuard } from "../protocol/seal.js";
import { PeerTable } from "./table.js";

/** Options of a discovery service. */
export interface DiscoveryOptions {
	/** Our identity: announces and leaves are signed with it, and carry its peer id. */
	identity: Identity;
	/** Discovery UDP port, shared by every peer of the swarm. */
	port: number;
	/** Broadcast addresses to announce to, e.g. `["127.255.255.255"]`. */
	broadcast: string[];
	/** Announce interval in ms. */
	interval: number;
	/** Address to bind, default `0.0.0.0` (broadcasts arrive only on a wildcard bind). */
	bindAddress?: string;
	/** What to announce; called before every announce. */
	describe: () => { name: string; basePort: number; revision: number; fileCount: number };
	/**
	 * The network key's gate, shared with the transfer engine: announces are sealed, and a
	 * datagram that does not open is dropped before the peer table sees it (and charged to
	 * its source, like a malformed one).
	 */
	seal?: NetworkGuard;
	/**
	 * Per-source rate limits (the transfer engine's guard): a datagram it does not admit is
	 * dropped unread, and one the table drops as malformed is charged to its source.
	 */
	guard?: DiscoveryGuard;
}

/** The part of `SourceGuard` discovery uses. */
export interface DiscoveryGuard {
	/** False to drop a datagram unread (its source is banned or over its rate). */
	admit(address: string, port: number, bytes: number): boolean;
	/** Charges a source for a datagram found bad. */
	bad(address: string, port: number): void;
}

/** Least time between two extra announces for newly heard peers, in ms. */
const GREET_GAP_MS = 1_000;

/** Events of the discovery service. */
export interface DiscoveryEvents {
	"peer-joined": [peer: PeerRecord];
	"peer-updated": [peer: PeerRecord, revisionChanged: boolean];
	"peer-left": [peer: PeerRecord, reason: "bye" | "expired"];
}

/** The running discovery service. Create with `Discovery.start`. */
export class Discovery extends EventEmitter<DiscoveryEvents> {
	readonly table: PeerTable;
	private timer: NodeJS.Timeout | undefined;
	private closing: Promise<void> | undefined;
	private greetedAt = Number.NEGATIVE_INFINITY;
	private readonly seal: NetworkGuard;

	private constructor(
		private readonly options: DiscoveryOptions,
		private readonly socket: SocketAsPromised,
	) {
		super();
		this.table = new PeerTable(options.identity.id);
		this.seal = options.seal ?? new NetworkGuard();
	}

	/**
	 * Binds the discovery port and starts announcing.
	 * @throws UsageError (code `PORT_IN_USE`) when the port cannot be bound
	 */
	static async start(options: DiscoveryOptions): Promise<Discovery> {
		const socket = DgramAsPromised.createSocket({ type: "udp4", reuseAddr: true });
		try {
			await socket.bind(options.port, options.bindAddress ?? "0.0.0.0");
		} catch (error) {
			socket.destroy();
			throw new UsageError(
				`cannot bind discovery port ${options.port}: ${(error as Error).message}`,
				"PORT_IN_USE",
			);
		}
		socket.setBroadcast(true);
		const discovery = new Discovery(options, socket);
		socket.socket.on("message", (msg, rinfo) =>
			discovery.onDatagram(msg, rinfo.address, rinfo.port),
		);
		// A send error (unreachable broadcast address) must not crash the peer.
		socket.socket.on("error", () => {});
		discovery.timer = setInterval(() => discovery.tick(), options.interval);
		discovery.timer.unref();
		await discovery.announce();
		return discovery;
	}

	/** Known peers. */
	peers(): PeerRecord[] {
		return this.table.list();
	}

	/**
	 * Moves to another network (a network key set, changed or cleared): broadcasts a goodbye
	 * under the key in force, runs `change` (which switches the seal's key; the caller has
	 * checked the new key), forgets every known peer (each gets a `peer-left`, as expired:
	 * they are strangers now) and announces under the new key at once.
	 */
	rekey(change: () => void): void {
		// `broadcast` seals before its first await: this goodbye goes under the old key.
		void this.broadcast(this.options.identity.leave());
		change();
		for (const peer of this.table.clear()) this.emit("peer-left", peer, "expired");
		void this.announce();
	}

	/** Announces now (also called every interval); use after the shared list changed. */
	async announce(): Promise<void> {
		const d = this.options.describe();
		await this.broadcast(
			this.options.identity.announce({
				basePort: d.basePort,
				revision: d.revision,
				fileCount: d.fileCount,
				interval: this.options.interval,
				name: d.name,
			}),
		);
	}

	private async broadcast(plain: Buffer): Promise<void> {
		await Promise.all(
			this.options.broadcast.map((address) => {
				// Sealed once per address: a host that hears two of them takes both, not a replay.
				const sealed = this.seal.outgoing(plain, Channel.discovery);
				const datagram = Array.isArray(sealed) ? Buffer.concat(sealed) : sealed;
				return this.socket.send(datagram, this.options.port, address).catch(() => 0);
			}),
		);
	}

	/**
	 * A new peer was heard: announce once more now (by broadcast, never a unicast reply),
	 * so it sees us at once rather than up to an interval later. At most once per second,
	 * so many peers starting together cost a few datagrams, not a storm.
	 */
	private greet(): void {
		const now = Date.now();
		if (now - this.greetedAt < GREET_GAP_MS || this.closing) return;
		this.greetedAt = now;
		void this.announce();
	}

	private tick(): void {
		for (const change of this.table.expire(Date.now())) {
			if (change.kind === "left") this.emit("peer-left", change.peer, change.reason);
			else if (change.kind === "updated") this.emit("peer-updated", change.peer, false);
		}
		void this.announce();
	}

	private onDatagram(datagram: Buffer, from: string, port: number): void {
		const guard = this.options.guard;
		// Rate limits first: a flood of forged datagrams costs no decryption once banned.
		if (guard && !guard.admit(from, port, datagram.length)) return;
		const msg = this.seal.incoming(datagram, Channel.discovery);
		if (!msg) {
			guard?.bad(from, port);
			return;
		}
		const bad = this.table.malformed + this.table.forged;
		const change = this.table.recv(msg, from, Date.now());
		// A forged signature is charged like a malformed datagram: each one cost a check.
		if (guard && this.table.malformed + this.table.forged !== bad) guard.bad(from, port);
		if (!change) return;
		if (change.kind === "joined") {
			this.emit("peer-joined", change.peer);
			this.greet();
		} else if (change.kind === "updated")
			this.emit("peer-updated", change.peer, change.revisionChanged);
		else this.emit("peer-left", change.peer, change.reason);
	}

	/**
	 * Broadcasts the leave message and closes the socket. Safe to call twice: the second
	 * call returns the same promise.
	 */
	close(): Promise<void> {
		this.closing ??= (async () => {
			clearInterval(this.timer);
			// One signed leave sent twice: the second copy is the same datagram, not a replay.
			const leave = this.options.identity.leave();
			// Twice, a few ms apart: one lost datagram should not turn a goodbye into an expiry.
			await this.broadcast(leave);
			await new Promise((resolve) => setTimeout(resolve, 20));
			await this.broadcast(leave);
			await this.socket.close().catch(() => {});
		})();
		return this.closing;
	}
}
