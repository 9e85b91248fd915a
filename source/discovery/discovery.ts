/**
 * Discovery over UDP broadcast and IPv6 multicast: the socket adapter around `PeerTable`.
 * It binds the discovery port with address reuse (so several peers on one host share it)
 * twice, a udp4 socket and a udp6 one (IPv6 only), announces every interval to each
 * configured broadcast address or, with none configured, on every interface (see
 * `interfaces.ts`: directed broadcasts, `255.255.255.255` and our multicast group per IPv6
 * link, followed as interfaces come and go), expires silent peers, and broadcasts a leave
 * on `close()`. Beside the broadcasts it says hello by unicast to peers named by address
 * and to peers learned by peer exchange (`Contacts`, with backoff while they do not
 * answer), answers hellos with one announce, and hands the peers it has proved to its
 * validated peers (docs/protocol.md §15).
 */
import { EventEmitter } from "node:events";
import { isIP } from "node:net";
import os from "node:os";
import DgramAsPromised, { type SocketAsPromised } from "dgram-as-promised";
import { UsageError } from "../errors.js";
import type { PeerRecord, PeerSource } from "../peer/types.js";
import type { Identity } from "../protocol/identity.js";
import { decodeMessage, encodeMessage, MAX_PEX_ENTRIES, type Pex } from "../protocol/messages.js";
import { Channel, NetworkGuard } from "../protocol/seal.js";
import { type Contact, Contacts } from "./contacts.js";
import {
	type AnnounceTarget,
	type InterfaceSource,
	InterfaceWatcher,
	isV6,
	MULTICAST_GROUP,
} from "./interfaces.js";
import { type PeerAddress, resolvePeerHost } from "./peer-address.js";
import { ExchangeLimiter, exchangeable, exchangeEntries, isLoopback } from "./pex.js";
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
	/** Peers named by address: said hello to by unicast (see `Contacts`). */
	named?: PeerAddress[];
}

/** The part of `SourceGuard` discovery uses. */
export interface DiscoveryGuard {
	/** False to drop a datagram unread (its source is banned or over its rate). */
	admit(address: string, port: number, bytes: number): boolean;
	/** Charges a source for a datagram found bad. */
	bad(address: string, port: number): void;
	/**
	 * True when an address has proved by a round trip that it receives (the guard's
	 * validated table). Without it no address counts as proved: no peer exchange.
	 */
	proved?(address: string): boolean;
}

/** Counters of unicast discovery and peer exchange. */
export interface ContactStats {
	/** Hellos sent (to named and exchange contacts). */
	hellos: number;
	/** Announces sent by unicast in answer to a hello. */
	answers: number;
	/** Peer exchange messages sent. */
	pexSent: number;
	/** Peer exchange messages taken (from a validated, known peer). */
	pexTaken: number;
	/** Peer exchange messages ignored (unknown or unvalidated sender). */
	pexIgnored: number;
	/** Entries that became exchange contacts. */
	pexLearned: number;
}

/** Most peer exchange messages held for senders not proved yet. */
const MAX_PENDING_PEX = 64;

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
	/** Named and exchange contacts, said hello to by unicast. */
	readonly contacts: Contacts;
	private readonly limiter: ExchangeLimiter;
	private contactTimer: NodeJS.Timeout | undefined;
	private contactRun: Promise<void> = Promise.resolve();
	/** When we last answered a hello from an endpoint (bounded). */
	private readonly answeredAt = new Map<string, number>();
	private pexTurn = 0;
	private exchangeQueued = false;
	/** The latest pex of each known peer not proved yet, taken once it is (bounded). */
	private readonly pendingPex = new Map<string, { message: Pex; from: string; port: number }>();
	readonly contactStats: ContactStats = {
		hellos: 0,
		answers: 0,
		pexSent: 0,
		pexTaken: 0,
		pexIgnored: 0,
		pexLearned: 0,
	};

	private constructor(
		private readonly options: DiscoveryOptions,
		private readonly socket: SocketAsPromised,
		private readonly socket6: SocketAsPromised | undefined,
	) {
		super();
		this.table = new PeerTable(options.identity.id);
		this.seal = options.seal ?? new NetworkGuard();
		if (options.broadcast.length === 0) this.watcher = new InterfaceWatcher(options.interfaces);
		this.contacts = new Contacts(options.interval);
		this.limiter = new ExchangeLimiter(options.interval);
		const now = Date.now();
		for (const p of options.named ?? []) this.contacts.addNamed(p.host, p.port, now);
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
		discovery.scheduleContacts(0);
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
		void this.broadcast(this.options.identity.leave(), true);
		change();
		for (const peer of this.table.clear()) this.emit("peer-left", peer, "expired");
		void this.announce();
	}

	/** Announces now (also called every interval); use after the shared list changed. */
	async announce(): Promise<void> {
		await this.broadcast(this.presence());
	}

	/** Our signed announce (plain bytes), or a hello carrying it. */
	private presence(hello?: "named" | "exchange"): Buffer {
		const d = this.options.describe();
		const announce = this.options.identity.announce({
			basePort: d.basePort,
			revision: d.revision,
			fileCount: d.fileCount,
			interval: this.options.interval,
			name: d.name,
		});
		return hello ? encodeMessage({ type: "hello", via: hello, announce }) : announce;
	}
	/**
	 * Names a peer by address: it is said hello to at once, then every interval while it
	 * answers, with backoff while it does not.
	 * @returns false when it was named already
	 */
	addNamed(peer: PeerAddress): boolean {
		const added = this.contacts.addNamed(peer.host, peer.port, Date.now());
		if (added) this.scheduleContacts(0);
		return added;
	}

	/** Stops saying hello to a named peer (it stays a peer until it expires). */
	removeNamed(peer: PeerAddress): boolean {
		return this.contacts.removeNamed(peer.host, peer.port);
	}

	/** How a known peer was found: named or exchange contact, a peer that said hello, or the LAN. */
	private foundOf(peer: PeerRecord, from: string, port: number): PeerSource {
		const contact =
			this.contacts.match(from, port) ?? this.contacts.match(peer.address, peer.discoveryPort);
		if (contact) return contact.kind;
		return peer.helloVia ?? peer.found;
	}

	/** True when a peer of the table is heard from the contact's endpoint. */
	private answering(contact: Contact): boolean {
		return this.table
			.list()
			.some(
				(p) =>
					p.discoveryPort === contact.port &&
					p.addresses.some((a) => contact.addresses.includes(a)),
			);
	}

	private proved(address: string): boolean {
		return this.options.guard?.proved?.(address) ?? false;
	}

	/** Runs the contacts' schedule in `delay` ms (or sooner if already due sooner). */
	private scheduleContacts(delay: number): void {
		if (this.closing) return;
		clearTimeout(this.contactTimer);
		this.contactTimer = setTimeout(
			() => {
				this.contactRun = this.contactRun.then(() => this.helloDue());
			},
			Math.max(0, delay),
		);
		this.contactTimer.unref();
	}

	/** Says hello to every contact due (resolving host names that do not answer). */
	private async helloDue(): Promise<void> {
		if (this.closing) return;
		const due = this.contacts.due(Date.now(), (c) => this.answering(c));
		const hellos = { named: this.presence("named"), exchange: this.presence("exchange") };
		for (const c of due) {
			const hello = hellos[c.kind];
			// A host name that does not answer is looked up again first, off this loop: a slow
			// resolver delays that contact's hello, not the others'.
			if (c.kind === "named" && !isIP(c.host.split("%")[0]) && !this.answering(c)) {
				if (!this.resolving.has(c)) void this.resolveAndHello(c, hello);
				continue;
			}
			await this.hello(c, hello);
		}
		const next = this.contacts.nextDue();
		if (Number.isFinite(next)) this.scheduleContacts(Math.max(50, next - Date.now()));
	}

	/** Contacts whose host name is being looked up. */
	private readonly resolving = new Set<Contact>();

	private async resolveAndHello(contact: Contact, hello: Buffer): Promise<void> {
		this.resolving.add(contact);
		try {
			const addresses = await resolvePeerHost(contact.host);
			if (addresses.length > 0) contact.addresses = addresses;
			await this.hello(contact, hello);
		} finally {
			this.resolving.delete(contact);
		}
	}

	/** Says hello to every address of a contact. */
	private async hello(contact: Contact, hello: Buffer): Promise<void> {
		for (const address of contact.addresses) {
			if (this.closing) return;
			this.contactStats.hellos++;
			await this.sendTo(hello, address, contact.port);
		}
	}

	/** Sends one plain datagram to one discovery endpoint (sealed when a key is set). */
	private async sendTo(plain: Buffer, address: string, port: number): Promise<void> {
		const socket = isV6(address) ? this.socket6 : this.socket;
		if (!socket) return;
		const sealed = this.seal.outgoing(plain, Channel.discovery);
		const datagram = Array.isArray(sealed) ? Buffer.concat(sealed) : sealed;
		await socket.send(datagram, port, address).catch(() => 0);
	}

	/**
	 * Answers a hello with one unicast announce, at most one per endpoint and peer id per half interval
	 * (at most 1 s), and, while the sender's address is not validated, only when the answer
	 * is no larger than the hello was (it never is: a hello is as long as the longest
	 * announce).
	 */
	private answer(
		helloBytes: number,
		from: string,
		port: number,
		peerId: string,
		joined: boolean,
	): void {
		const now = Date.now();
		const key = `${from}|${port}|${peerId}`;
		const last = this.answeredAt.get(key);
		const gap = Math.min(1_000, this.options.interval / 2);
		if (!joined && last !== undefined && now - last < gap) return;
		const reply = this.presence();
		if (!this.proved(from) && reply.length > helloBytes) return;
		this.answeredAt.delete(key);
		if (this.answeredAt.size >= 4_096) {
			const oldest = this.answeredAt.keys().next().value;
			if (oldest !== undefined) this.answeredAt.delete(oldest);
		}
		this.answeredAt.set(key, now);
		this.contactStats.answers++;
		void this.sendTo(reply, from, port);
	}

	/**
	 * Takes a peer exchange message: only from a known peer (its discovery endpoint) whose
	 * address is proved; each believable entry (see `exchangeable`) not known yet becomes an
	 * exchange contact (at most {@link MAX_PEX_ENTRIES} per sender in the table).
	 */
	private onPex(message: Pex, from: string, port: number): void {
		const peers = this.table.list();
		const sender = peers.find((p) => p.address === from && p.discoveryPort === port);
		if (!sender || !this.proved(from)) {
			this.contactStats.pexIgnored++;
			// A known peer not proved yet (its list is on its way): the latest pex of it waits
			// for the proof (`provedNow`), not for its next interval.
			if (sender) {
				const key = `${from}|${port}`;
				this.pendingPex.delete(key);
				if (this.pendingPex.size >= MAX_PENDING_PEX) {
					const oldest = this.pendingPex.keys().next().value;
					if (oldest !== undefined) this.pendingPex.delete(oldest);
				}
				this.pendingPex.set(key, { message, from, port });
			}
			return;
		}
		this.contactStats.pexTaken++;
		const now = Date.now();
		const loopbackOk = isLoopback(from);
		let added = 0;
		for (const e of message.entries) {
			if (!exchangeable(e.address, loopbackOk) || this.isSelf(e.address, e.port)) continue;
			if (peers.some((p) => p.address === e.address && p.discoveryPort === e.port)) continue;
			if (this.contacts.addExchange(e.address, e.port, from, now, MAX_PEX_ENTRIES)) added++;
		}
		this.contactStats.pexLearned += added;
		if (added > 0) this.scheduleContacts(0);
	}

	/** True when an endpoint is our own discovery socket. */
	private isSelf(address: string, port: number): boolean {
		if (port !== this.options.port) return false;
		if (isLoopback(address)) return true;
		return Object.values(os.networkInterfaces()).some((list) =>
			(list ?? []).some((i) => i.address === address),
		);
	}

	/**
	 * An address was just proved (the guard validated it): peer exchange runs now rather
	 * than at the next interval, so a peer named across a router learns our neighbours at
	 * once. The per-peer limit still holds.
	 */
	provedNow(): void {
		if (this.exchangeQueued || this.closing) return;
		this.exchangeQueued = true;
		setImmediate(() => {
			this.exchangeQueued = false;
			if (this.closing) return;
			for (const [key, pending] of this.pendingPex) {
				if (!this.proved(pending.from)) continue;
				this.pendingPex.delete(key);
				this.contactStats.pexIgnored--;
				this.onPex(pending.message, pending.from, pending.port);
			}
			this.exchange(false);
		});
	}

	/**
	 * Each interval: to every peer whose address is proved, the proved peers it may not know
	 * (at most one message per peer per interval, only when changed, in its first three, or
	 * every 15 intervals); and (`keepalive`) an announce by unicast to peers that reached us
	 * by hello and are proved, so they keep hearing us whatever their own hello period.
	 */
	private exchange(keepalive = true): void {
		if (!this.options.guard?.proved) return;
		const now = Date.now();
		const peers = this.table.list();
		let announce: Buffer | undefined;
		for (const p of peers) {
			if (p.discoveryPort === undefined || !this.proved(p.address)) continue;
			if (
				keepalive &&
				p.helloVia !== undefined &&
				!this.contacts.match(p.address, p.discoveryPort)
			) {
				announce ??= this.presence();
				void this.sendTo(announce, p.address, p.discoveryPort);
			}
			const entries = exchangeEntries(p, peers, (a) => this.proved(a), this.pexTurn);
			if (entries.length === 0 || !this.limiter.shouldSend(p.id, entries, now)) continue;
			this.contactStats.pexSent++;
			void this.sendTo(encodeMessage({ type: "pex", entries }), p.address, p.discoveryPort);
		}
		this.pexTurn += MAX_PEX_ENTRIES;
	}

	/** Where goodbyes go by unicast: answering contacts and proved peers that said hello. */
	private unicastTargets(): { address: string; port: number }[] {
		const out = new Map<string, { address: string; port: number }>();
		for (const p of this.table.list()) {
			if (p.discoveryPort === undefined) continue;
			const contact = this.contacts.match(p.address, p.discoveryPort);
			if (contact || (p.helloVia !== undefined && this.proved(p.address)))
				out.set(`${p.address}|${p.discoveryPort}`, { address: p.address, port: p.discoveryPort });
		}
		return [...out.values()];
	}

	private async broadcast(plain: Buffer, unicast = false): Promise<void> {
		const targets = unicast ? this.unicastTargets() : [];
		await Promise.all([
			...this.targets().map(({ address }) => {
				const socket = isV6(address) ? this.socket6 : this.socket;
				if (!socket) return 0;
				// Sealed once per address: a host that hears two of them takes both, not a replay.
				const sealed = this.seal.outgoing(plain, Channel.discovery);
				const datagram = Array.isArray(sealed) ? Buffer.concat(sealed) : sealed;
				return socket.send(datagram, this.options.port, address).catch(() => 0);
			}),
			...targets.map((t) => this.sendTo(plain, t.address, t.port)),
		]);
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
		this.exchange();
		this.limiter.retain(new Set(this.table.list().map((p) => p.id)));
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
		const message = decodeMessage(msg);
		if (message?.type === "pex") {
			this.onPex(message, from, port);
			return;
		}
		const bad = this.table.malformed + this.table.forged;
		const own = this.table.selfHeard;
		// A hello carries a whole signed announce: the table checks it like any other.
		const change =
			message?.type === "hello"
				? this.table.recv(message.announce, from, Date.now(), "lan", port, message.via)
				: this.table.recv(msg, from, Date.now(), "lan", port);
		// A forged signature is charged like a malformed datagram: each one cost a check.
		if (guard && this.table.malformed + this.table.forged !== bad) guard.bad(from, port);
		if (this.table.selfHeard !== own) this.emit("self-heard", from);
		if (!change) return;
		if (change.kind !== "left") {
			change.peer.found = this.foundOf(change.peer, from, port);
			// A contact that answers is said hello to every interval from now, not after the
			// backoff it was waiting out (it would expire in between).
			const contact = this.contacts.match(from, port);
			if (contact && this.contacts.answered(contact, Date.now()))
				this.scheduleContacts(Math.max(0, this.contacts.nextDue() - Date.now()));
		} else if (change.reason === "bye") {
			// It said goodbye: an exchange contact of it is not said hello to again.
			if (change.peer.discoveryPort !== undefined)
				this.contacts.dropExchange(change.peer.address, change.peer.discoveryPort);
			this.limiter.forget(change.peer.id);
		}
		// A peer that just joined (a restart, even under the same id) is answered at once.
		if (message?.type === "hello")
			this.answer(msg.length, from, port, change.peer.id, change.kind === "joined");
		// A new peer at an address proved already (a restart): exchange now, not next interval.
		if (change.kind === "joined" && this.proved(from)) this.provedNow();
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
			clearTimeout(this.contactTimer);
			// One signed leave sent twice: the second copy is the same datagram, not a replay.
			const leave = this.options.identity.leave();
			// Twice, a few ms apart: one lost datagram should not turn a goodbye into an expiry.
			await this.broadcast(leave, true);
			await new Promise((resolve) => setTimeout(resolve, 20));
			await this.broadcast(leave, true);
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
