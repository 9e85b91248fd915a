/**
 * Discovery over UDP broadcast and IPv6 multicast: the socket adapter around `PeerTable`.
 * It binds the discovery port with address reuse (so several peers on one host share it)
 * twice, a udp4 socket and a udp6 one (IPv6 only), announces every interval to each
 * configured broadcast address or, with none configured, on every interface (see
 * `interfaces.ts`: directed broadcasts, `255.255.255.255` and our multicast group per IPv6
 * link, followed as interfaces come and go), expires silent peers, and broadcasts a leave
 * on `close()`.
 */
import { EventEmitter } from "node:events";
import DgramAsPromised, { type SocketAsPromised } from "dgram-as-promised";
import { UsageError } from "../errors.js";
import type { PeerRecord } from "../peer/types.js";
import type { Identity } from "../protocol/identity.js";
import { Channel, NetworkGuard } from "../protocol/seal.js";
import {
	type AnnounceTarget,
	type InterfaceSource,
	InterfaceWatcher,
	isV6,
	MULTICAST_GROUP,
} from "./interfaces.js";
import { PeerTable } from "./table.js";

/** Options of a discovery service. */
export interface DiscoveryOptions {
	/** Our identity: announces and leaves are signed with it, and carry its peer id. */
	identity: Identity;
	/** Discovery UDP port, shared by every peer of the swarm. */
	port: number;
	/**
	 * Addresses to announce to, e.g. `["127.255.255.255"]` (IPv4 broadcast, or IPv6 with a
	 * scope such as `ff12::7032:7074%eth0`). Empty: every interface (see `interfaces.ts`).
	 */
	broadcast: string[];
	/** Where interfaces are read from when `broadcast` is empty (tests inject a list). */
	interfaces?: InterfaceSource;
	/** Announce interval in ms. */
	interval: number;
	/**
	 * Address to bind, default `0.0.0.0` (broadcasts arrive only on a wildcard bind); the
	 * udp6 socket is bound (to `::`) only with the default.
	 */
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
/**
 * How often the interfaces are read again, in ms (at most the announce interval): a new
 * interface carries an announce this soon after it comes up.
 */
export const WATCH_MS = 500;

/** Events of the discovery service. */
export interface DiscoveryEvents {
	"peer-joined": [peer: PeerRecord];
	"peer-updated": [peer: PeerRecord, revisionChanged: boolean];
	"peer-left": [peer: PeerRecord, reason: "bye" | "expired"];
	/** One of our own announces came back (`from` is the source address it left with). */
	"self-heard": [from: string];
}

/** The running discovery service. Create with `Discovery.start`. */
export class Discovery extends EventEmitter<DiscoveryEvents> {
	readonly table: PeerTable;
	/** Follows the interfaces when announces go on every interface (no `broadcast` given). */
	readonly watcher: InterfaceWatcher | undefined;
	private timer: NodeJS.Timeout | undefined;
	private watchTimer: NodeJS.Timeout | undefined;
	private closing: Promise<void> | undefined;
	private greetedAt = Number.NEGATIVE_INFINITY;
	private readonly seal: NetworkGuard;
	/** Interfaces whose multicast group the udp6 socket joined. */
	private readonly joined = new Set<string>();

	private constructor(
		private readonly options: DiscoveryOptions,
		private readonly socket: SocketAsPromised,
		private readonly socket6: SocketAsPromised | undefined,
	) {
		super();
		this.table = new PeerTable(options.identity.id);
		this.seal = options.seal ?? new NetworkGuard();
		if (options.broadcast.length === 0) this.watcher = new InterfaceWatcher(options.interfaces);
	}

	/** The sockets bound: the udp4 one always, the udp6 one where IPv6 works. */
	get bound(): { v4: boolean; v6: boolean } {
		return { v4: true, v6: this.socket6 !== undefined };
	}

	/**
	 * Binds the discovery port (udp4, and udp6 where the host has IPv6) and starts announcing.
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
		const wildcard = (options.bindAddress ?? "0.0.0.0") === "0.0.0.0";
		const socket6 = wildcard ? await bindV6(options.port) : undefined;
		const discovery = new Discovery(options, socket, socket6);
		for (const s of [socket, socket6]) {
			s?.socket.on("message", (msg, rinfo) => discovery.onDatagram(msg, rinfo.address, rinfo.port));
			// A send error (unreachable broadcast address) must not crash the peer.
			s?.socket.on("error", () => {});
		}
		discovery.followInterfaces();
		if (discovery.watcher) {
			// An interface that came up (or changed address) gets an announce at once.
			discovery.watchTimer = setInterval(
				() => {
					if (discovery.followInterfaces()) void discovery.announce();
				},
				Math.min(options.interval, WATCH_MS),
			);
			discovery.watchTimer.unref();
		}
		discovery.timer = setInterval(() => discovery.tick(), options.interval);
		discovery.timer.unref();
		await discovery.announce();
		return discovery;
	}

	/** Where announces go now. */
	targets(): AnnounceTarget[] {
		if (this.watcher) return this.watcher.targets();
		return this.options.broadcast.map((address) => ({
			address,
			iface: address.split("%")[1],
		}));
	}

	/**
	 * Reads the interfaces again (when announcing on every interface; every `WATCH_MS`) and
	 * joins our multicast group on each new IPv6 interface, leaving it on each gone (with
	 * `--broadcast`, joins the group on the interfaces of the multicast targets given).
	 * @returns true when the announce targets changed
	 */
	private followInterfaces(): boolean {
		let join: string[];
		let leave: string[];
		let changed = false;
		if (this.watcher) {
			const change = this.watcher.poll();
			join = change.joined;
			leave = change.left;
			changed = change.changed;
		} else {
			join = this.options.broadcast
				.filter((a) => a.split("%")[0] === MULTICAST_GROUP && a.includes("%"))
				.map((a) => a.split("%")[1]);
			leave = [];
		}
		const socket6 = this.socket6?.socket;
		if (!socket6) return changed;
		for (const name of leave) {
			this.joined.delete(name);
			try {
				socket6.dropMembership(MULTICAST_GROUP, `::%${name}`);
			} catch {
				// The interface is gone, and its membership with it.
			}
		}
		for (const name of join) {
			if (this.joined.has(name)) continue;
			try {
				socket6.addMembership(MULTICAST_GROUP, `::%${name}`);
				this.joined.add(name);
			} catch {
				// Not multicast-capable after all (or just went away): try again on the next poll.
				this.watcher?.forget(name);
			}
		}
		return changed;
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
			this.targets().map(({ address }) => {
				const socket = isV6(address) ? this.socket6 : this.socket;
				if (!socket) return 0;
				// Sealed once per address: a host that hears two of them takes both, not a replay.
				const sealed = this.seal.outgoing(plain, Channel.discovery);
				const datagram = Array.isArray(sealed) ? Buffer.concat(sealed) : sealed;
				return socket.send(datagram, this.options.port, address).catch(() => 0);
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
		const own = this.table.selfHeard;
		const change = this.table.recv(msg, from, Date.now());
		// A forged signature is charged like a malformed datagram: each one cost a check.
		if (guard && this.table.malformed + this.table.forged !== bad) guard.bad(from, port);
		if (this.table.selfHeard !== own) this.emit("self-heard", from);
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
			clearInterval(this.watchTimer);
			// One signed leave sent twice: the second copy is the same datagram, not a replay.
			const leave = this.options.identity.leave();
			// Twice, a few ms apart: one lost datagram should not turn a goodbye into an expiry.
			await this.broadcast(leave);
			await new Promise((resolve) => setTimeout(resolve, 20));
			await this.broadcast(leave);
			await this.socket.close().catch(() => {});
			await this.socket6?.close().catch(() => {});
		})();
		return this.closing;
	}
}

/**
 * Binds the udp6 discovery socket (IPv6 only, so IPv4 stays with the udp4 one and a peer
 * is never heard as `::ffff:10.0.0.2`), with multicast loopback so two peers on one host
 * hear each other. Undefined where the host has no IPv6.
 */
async function bindV6(port: number): Promise<SocketAsPromised | undefined> {
	const socket = DgramAsPromised.createSocket({ type: "udp6", reuseAddr: true, ipv6Only: true });
	try {
		await socket.bind(port, "::");
		socket.socket.setMulticastLoopback(true);
		return socket;
	} catch {
		socket.destroy();
		return undefined;
	}
}
