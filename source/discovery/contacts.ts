/**
 * Contacts: the peers we reach by unicast rather than broadcast (docs/protocol.md §15),
 * as a state machine with no sockets, no timers and no DNS. Two kinds: `named` (the user
 * named them: `--peer`, `add-peer`, the TUI; kept until removed) and `exchange` (learned by
 * peer exchange from a validated peer; given up after {@link EXCHANGE_TRIES} unanswered
 * hellos). `due(now)` says whom to send a hello now and schedules the next one: every
 * announce interval while the contact answers, else after an exponential backoff.
 */

import { isIP } from "node:net";

/** How a contact came to us. */
export type ContactKind = "named" | "exchange";

/** First retry delay of a contact that does not answer, in ms. */
export const FIRST_RETRY_MS = 1_000;
/** Longest retry delay of a contact that does not answer, in ms. */
export const MAX_RETRY_MS = 60_000;
/** Unanswered hellos after which a contact learned by exchange is given up. */
export const EXCHANGE_TRIES = 6;
/** Most contacts learned by exchange held at once (named ones are not counted). */
export const MAX_EXCHANGE_CONTACTS = 256;
/** How long a given-up exchange contact is not taken again from another exchange, in ms. */
export const GIVEN_UP_MS = 600_000;
/** Most given-up endpoints remembered. */
const MAX_GIVEN_UP = 1_024;

/**
 * The delay before the next hello to a contact that has not answered `attempts` hellos:
 * 1 s, 2 s, 4 s, ... doubling up to 60 s (or the announce interval, when that is longer),
 * so a named peer that never answers costs one 99-byte datagram a minute.
 * @param attempts - unanswered hellos so far (0 after the first)
 * @param interval - our announce interval in ms
 * @returns ms
 */
export function retryDelay(attempts: number, interval: number): number {
	const cap = Math.max(MAX_RETRY_MS, interval);
	return Math.min(cap, FIRST_RETRY_MS * 2 ** Math.min(attempts, 30));
}

/** One peer reached by unicast. */
export interface Contact {
	kind: ContactKind;
	/** Host name or IP address as given (an IP address for exchange contacts). */
	host: string;
	/** Its discovery UDP port. */
	port: number;
	/** Addresses `host` resolved to (the address itself for an IP address); empty until resolved. */
	addresses: string[];
	/** Hellos sent without an answer since it last answered. */
	attempts: number;
	/** When the next hello is due, ms. */
	nextAt: number;
	/** For an exchange contact: the address of the peer that told us of it. */
	from?: string;
}

/** Named and exchange contacts with their schedule. */
export class Contacts {
	private readonly byKey = new Map<string, Contact>();
	private readonly givenUp = new Map<string, number>();
	/** Exchange contacts given up without an answer (counter). */
	gaveUp = 0;

	/**
	 * @param interval - our announce interval in ms (the hello period of an answering contact)
	 */
	constructor(private readonly interval: number) {}

	/** Every contact. */
	list(): Contact[] {
		return [...this.byKey.values()];
	}

	/**
	 * Adds a named contact (an existing exchange contact of that endpoint becomes named); due
	 * at once.
	 * @returns false when it was named already
	 */
	addNamed(host: string, port: number, now: number): boolean {
		const key = keyOf(host, port);
		const known = this.byKey.get(key);
		if (known?.kind === "named") return false;
		this.byKey.set(key, {
			kind: "named",
			host,
			port,
			// An IP address is its own; a host name is looked up before its first hello.
			addresses: isIP(host.split("%")[0]) ? [host] : (known?.addresses ?? []),
			attempts: 0,
			nextAt: now,
		});
		return true;
	}

	/** Removes a named contact. @returns false when it was not named */
	removeNamed(host: string, port: number): boolean {
		const key = keyOf(host, port);
		if (this.byKey.get(key)?.kind !== "named") return false;
		return this.byKey.delete(key);
	}

	/**
	 * Adds a contact learned by peer exchange (an IP address), due at once, unless it is
	 * known, recently given up, or the table of exchange contacts (or the sender's share of
	 * it, {@link perSender}) is full.
	 * @param from - the address of the peer that told us
	 * @param perSender - most exchange contacts one sender may have in the table
	 * @returns true when added
	 */
	addExchange(
		address: string,
		port: number,
		from: string,
		now: number,
		perSender: number,
	): boolean {
		const key = keyOf(address, port);
		if (this.byKey.has(key)) return false;
		const until = this.givenUp.get(key);
		if (until !== undefined && until > now) return false;
		let total = 0;
		let fromSender = 0;
		for (const c of this.byKey.values()) {
			if (c.kind !== "exchange") continue;
			total++;
			if (c.from === from) fromSender++;
		}
		if (total >= MAX_EXCHANGE_CONTACTS || fromSender >= perSender) return false;
		this.byKey.set(key, {
			kind: "exchange",
			host: address,
			port,
			addresses: [address],
			attempts: 0,
			nextAt: now,
			from,
		});
		return true;
	}

	/** Forgets an exchange contact (its peer said goodbye). Named ones stay. */
	dropExchange(address: string, port: number): void {
		const key = keyOf(address, port);
		if (this.byKey.get(key)?.kind === "exchange") this.byKey.delete(key);
	}

	/** The contact whose addresses include `address` at discovery port `port`, if any. */
	match(address: string, port: number | undefined): Contact | undefined {
		if (port === undefined) return undefined;
		let found: Contact | undefined;
		for (const c of this.byKey.values()) {
			if (c.port !== port || !c.addresses.includes(address)) continue;
			// A named contact wins over an exchange one of the same endpoint.
			if (!found || c.kind === "named") found = c;
		}
		return found;
	}

	/**
	 * The contacts a hello is due to now, each rescheduled: an answering contact (`answers`
	 * true: a peer of the table is heard from it) again in one interval with its count of
	 * unanswered hellos reset, another after {@link retryDelay}. An exchange contact past
	 * {@link EXCHANGE_TRIES} unanswered hellos is given up (dropped, and not taken again from
	 * an exchange for {@link GIVEN_UP_MS}).
	 * @param answers - whether the contact is heard now
	 */
	due(now: number, answers: (contact: Contact) => boolean): Contact[] {
		const out: Contact[] = [];
		for (const [key, c] of this.byKey) {
			if (c.nextAt > now) continue;
			if (answers(c)) {
				c.attempts = 0;
				c.nextAt = now + this.interval;
			} else {
				if (c.kind === "exchange" && c.attempts >= EXCHANGE_TRIES) {
					this.byKey.delete(key);
					this.giveUp(key, now);
					continue;
				}
				c.nextAt = now + retryDelay(c.attempts, this.interval);
				c.attempts++;
			}
			out.push(c);
		}
		return out;
	}

	/**
	 * A contact answered (its peer was heard): its count of unanswered hellos is reset and
	 * its next hello is due within one interval, not after the backoff it was waiting out.
	 * @returns true when its schedule moved
	 */
	answered(contact: Contact, now: number): boolean {
		if (contact.attempts === 0) return false;
		contact.attempts = 0;
		contact.nextAt = Math.min(contact.nextAt, now + this.interval);
		return true;
	}

	/** The soonest time a hello is due, ms (Infinity with no contact). */
	nextDue(): number {
		let next = Number.POSITIVE_INFINITY;
		for (const c of this.byKey.values()) next = Math.min(next, c.nextAt);
		return next;
	}

	private giveUp(key: string, now: number): void {
		this.gaveUp++;
		if (this.givenUp.size >= MAX_GIVEN_UP) {
			const oldest = this.givenUp.keys().next().value;
			if (oldest !== undefined) this.givenUp.delete(oldest);
		}
		this.givenUp.set(key, now + GIVEN_UP_MS);
	}
}

function keyOf(host: string, port: number): string {
	return `${host.toLowerCase()}|${port}`;
}
