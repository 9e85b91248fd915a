/**
 * Per-source defences of the transfer ports (and the discovery port), applied to every
 * datagram before any decoding work, in two bounded tables that forged sources cannot grow:
 *
 * - **Rate limits and bans**, per source endpoint (address and port): a token bucket
 *   ({@link SOURCE_RATE} datagrams per second, a burst as large) charged one token per
 *   datagram, and {@link BAD_DATAGRAM_COST} more for a datagram found bad once decoded
 *   (malformed, without a valid token, unasked). A source whose bucket stays empty past
 *   {@link BAN_AFTER_DROPS} dropped datagrams is banned: everything from it is dropped
 *   unread for {@link BAN_MS} (doubled at each new ban, up to {@link MAX_BAN_MS}). Replies
 *   from an endpoint we sent a request or an interest to in the last {@link ASKED_MS} (the
 *   data we asked for) are not charged, so a transfer at full speed is never limited.
 * - **No amplification**, per IP address (IPv4 or IPv6, each address alone), as QUIC's anti-amplification limit (RFC 9000
 *   section 8): until an address is validated, we send it at most
 *   {@link AMPLIFICATION_FACTOR} times the bytes we received from it, on any port. An address
 *   is validated by a round trip: it echoed a token we issued (send and distribute ports),
 *   or it answered a request of ours with the random request id it carried. Only validated
 *   addresses enter the validated table, so forged sources cannot evict them from it.
 *
 * Tables hold at most {@link MAX_SOURCES} entries each; the oldest not recently used (and
 * not banned) is forgotten first (the CLOCK approximation of LRU, so the hot path moves no
 * entry). A forgotten unvalidated address starts again from nothing, which can only lower
 * what it may be sent.
 */

/** Datagrams per second a source endpoint may send us, and its burst. */
export const SOURCE_RATE = 131_072;
/** Extra tokens a datagram costs when it turns out bad (about 1,000 bad datagrams a second). */
export const BAD_DATAGRAM_COST = 128;
/** Datagrams dropped over the rate (since the bucket was last full) that earn a ban. */
export const BAN_AFTER_DROPS = 128;
/** First ban, in ms; each further ban of the same source doubles it. */
export const BAN_MS = 30_000;
/** Longest ban, in ms. */
export const MAX_BAN_MS = 3_600_000;
/** How long replies from an endpoint we sent to are taken as asked for, in ms. */
export const ASKED_MS = 10_000;
/** Entries in each table (sources, unvalidated addresses, validated addresses). */
export const MAX_SOURCES = 4_096;
/** What an unvalidated address may be sent, as a multiple of what it sent us (RFC 9000 §8). */
export const AMPLIFICATION_FACTOR = 3;
/** Entries looked at, at most, to find one to forget. */
const EVICT_SCAN = 16;

/** Counters of the guard (shown by `serve --json` with the engine's). */
export interface GuardStats {
	/** Datagrams dropped unread because their source was over its rate. */
	rateLimited: number;
	/** Datagrams dropped unread because their source was banned. */
	bannedDrops: number;
	/** Bans given (a source banned twice counts twice). */
	bans: number;
	/** Datagrams found bad once decoded, charged to their source. */
	badDatagrams: number;
	/** Datagrams not sent: the unvalidated address had used its three times. */
	amplificationDrops: number;
	/** Addresses validated by a round trip (held now). */
	validated: number;
}

interface Source {
	/** Tokens left (may be negative: bad datagrams put a source in debt). */
	tokens: number;
	/** When `tokens` was last brought up to date, ms. */
	at: number;
	/** Datagrams dropped over the rate since the bucket was last full. */
	over: number;
	bannedUntil: number;
	/** The next ban's length, ms. */
	banMs: number;
	/** Replies from it are not charged until then (ms). */
	askedUntil: number;
	/** Used since the eviction hand last passed (CLOCK). */
	used: boolean;
}

interface Budget {
	received: number;
	sent: number;
	used: boolean;
}

/** Rate limits, bans and the amplification limit. One per engine. */
export class SourceGuard {
	readonly stats: GuardStats = {
		rateLimited: 0,
		bannedDrops: 0,
		bans: 0,
		badDatagrams: 0,
		amplificationDrops: 0,
		validated: 0,
	};
	private readonly sources = new Map<string, Source>();
	private readonly budgets = new Map<string, Budget>();
	/** Validated addresses, with the time they were last validated (ms). */
	private readonly validatedAt = new Map<string, number>();
	/**
	 * Called when an address becomes validated (not when one already validated is again):
	 * discovery hands a newly proved peer what it knows at once (peer exchange).
	 */
	onValidated: ((address: string) => void) | undefined;

	/**
	 * @param learned - true for an address we learned from the network (a peer known from
	 *   discovery): one we hold no budget for was forgotten, and gets nothing until it
	 *   sends again. An address we never heard from (one the user gave) is not limited:
	 *   sending to it answers nothing.
	 * @param now - clock in ms (injectable for tests)
	 */
	constructor(
		private readonly learned: (address: string) => boolean = () => false,
		private readonly now: () => number = Date.now,
	) {}

	/**
	 * Decides whether to read a datagram that just arrived, before decoding it; counts its
	 * bytes towards what its address may be sent back.
	 * @param address - source IP address (IPv6 with its `%scope` when link-local)
	 * @param port - source UDP port
	 * @param bytes - datagram length in bytes
	 * @param reply - true on the ports that take answers (receive, distributee): a datagram
	 *   from an endpoint we recently sent to is not charged
	 * @returns false to drop it unread (banned, or over its rate)
	 */
	admit(address: string, port: number, bytes: number, reply = false): boolean {
		return this.admitCredited(address, port, reply, bytes);
	}

	/**
	 * `admit` for a datagram that came by broadcast (an announce): it reached every peer on
	 * the network, and each may answer its sender, so it counts a third of its bytes, and
	 * what each peer sends back stays under what the sender sent.
	 */
	admitBroadcast(address: string, port: number, bytes: number): boolean {
		return this.admitCredited(address, port, false, bytes / AMPLIFICATION_FACTOR);
	}

	private admitCredited(address: string, port: number, reply: boolean, credit: number): boolean {
		if (!this.validatedAt.has(address)) this.credit(address, credit);
		const now = this.now();
		const source = this.source(`${address}:${port}`, now);
		if (source.bannedUntil > now) {
			this.stats.bannedDrops++;
			return false;
		}
		if (reply && source.askedUntil > now) return true;
		this.refill(source, now);
		if (source.tokens >= 1) {
			source.tokens--;
			return true;
		}
		this.stats.rateLimited++;
		if (++source.over >= BAN_AFTER_DROPS) {
			source.bannedUntil = now + source.banMs;
			source.banMs = Math.min(MAX_BAN_MS, source.banMs * 2);
			source.over = 0;
			this.stats.bans++;
		}
		return false;
	}

	/**
	 * Charges a source for a datagram that turned out bad once decoded (malformed, a request
	 * without a valid token, a reply nobody asked for).
	 */
	bad(address: string, port: number): void {
		this.stats.badDatagrams++;
		const now = this.now();
		const source = this.source(`${address}:${port}`, now);
		this.refill(source, now);
		// A floor, so a source that stops recovers within a couple of seconds.
		source.tokens = Math.max(-SOURCE_RATE, source.tokens - BAD_DATAGRAM_COST);
	}

	/** Notes that we sent a request (or an interest) to `address:port`: its replies are asked for. */
	asked(address: string, port: number): void {
		const now = this.now();
		const source = this.source(`${address}:${port}`, now);
		source.askedUntil = now + ASKED_MS;
	}

	/**
	 * Decides whether we may send `bytes` to `address` now, and counts them when so.
	 * @returns false when the address is not validated and the datagram would take what
	 *   we sent it past {@link AMPLIFICATION_FACTOR} times what it sent us (or we hold
	 *   nothing of what it sent, and it is an address learned from the network)
	 */
	allowSend(address: string, bytes: number): boolean {
		if (this.validatedAt.has(address)) return true;
		const budget = this.budgets.get(address);
		if (!budget && !this.learned(address)) return true;
		if (!budget || budget.sent + bytes > AMPLIFICATION_FACTOR * budget.received) {
			this.stats.amplificationDrops++;
			return false;
		}
		budget.sent += bytes;
		budget.used = true;
		return true;
	}

	/** Marks an address validated: it proved by a round trip that it receives there. */
	validate(address: string): void {
		const now = this.now();
		const at = this.validatedAt.get(address);
		// Refreshed at most once a second: a validated peer's every request validates it again.
		if (at !== undefined && now - at < 1_000) return;
		if (at !== undefined) this.validatedAt.delete(address);
		else if (this.validatedAt.size >= MAX_SOURCES) {
			// The least recently validated goes (the map is in validation order).
			const oldest = this.validatedAt.keys().next().value;
			if (oldest !== undefined) this.validatedAt.delete(oldest);
		}
		this.validatedAt.set(address, now);
		this.budgets.delete(address);
		this.stats.validated = this.validatedAt.size;
		if (at === undefined) this.onValidated?.(address);
	}

	/** True when `address` is validated. */
	isValidated(address: string): boolean {
		return this.validatedAt.has(address);
	}

	/** True when `address:port` is banned now. */
	isBanned(address: string, port: number): boolean {
		const source = this.sources.get(`${address}:${port}`);
		return source !== undefined && source.bannedUntil > this.now();
	}

	/** Source endpoints banned now. */
	bannedNow(): number {
		const now = this.now();
		let n = 0;
		for (const s of this.sources.values()) if (s.bannedUntil > now) n++;
		return n;
	}

	/** Entries held in the two bounded tables (for tests). */
	get size(): { sources: number; budgets: number; validated: number } {
		return {
			sources: this.sources.size,
			budgets: this.budgets.size,
			validated: this.validatedAt.size,
		};
	}

	private credit(address: string, bytes: number): void {
		let budget = this.budgets.get(address);
		if (budget) budget.used = true;
		else {
			if (this.budgets.size >= MAX_SOURCES) evict(this.budgets, () => false);
			// Unused until heard from again: a forged one-off source is the first forgotten.
			budget = { received: 0, sent: 0, used: false };
			this.budgets.set(address, budget);
		}
		budget.received += bytes;
	}

	/** The entry of a source, marked used; a new one starts unused (see `evict`). */
	private source(key: string, now: number): Source {
		let source = this.sources.get(key);
		if (source) source.used = true;
		else {
			if (this.sources.size >= MAX_SOURCES) evict(this.sources, (s) => s.bannedUntil > now);
			source = {
				tokens: SOURCE_RATE,
				at: now,
				over: 0,
				bannedUntil: 0,
				banMs: BAN_MS,
				askedUntil: 0,
				used: false,
			};
			this.sources.set(key, source);
		}
		return source;
	}

	private refill(source: Source, now: number): void {
		if (now > source.at) {
			source.tokens = Math.min(
				SOURCE_RATE,
				source.tokens + ((now - source.at) * SOURCE_RATE) / 1000,
			);
			source.at = now;
			if (source.tokens >= SOURCE_RATE) source.over = 0;
		}
	}
}

/**
 * Forgets one entry of a full table: the oldest not used since the hand last passed and not
 * kept (a banned source); entries passed over go to the back, unmarked. After
 * {@link EVICT_SCAN} looks the oldest not kept goes, and after as many more the oldest, so
 * the cost stays bounded. A new entry starts unused, so forged one-off sources go first.
 */
function evict<T extends { used: boolean }>(
	table: Map<string, T>,
	keep: (entry: T) => boolean,
): void {
	for (let i = 0; i < 2 * EVICT_SCAN; i++) {
		const next = table.entries().next();
		if (next.done) return;
		const [key, entry] = next.value;
		table.delete(key);
		if (!keep(entry) && (!entry.used || i >= EVICT_SCAN)) return;
		entry.used = false;
		table.set(key, entry);
	}
	const oldest = table.keys().next().value;
	if (oldest !== undefined) table.delete(oldest);
}
