/**
 * Sealed datagrams: the envelope of a private network (a network key, docs/protocol.md §8).
 * Pure: no sockets; the discovery service and the transfer engine call it for every datagram.
 *
 * - Keys: the secret (any string or bytes, a passphrase works) gives a 32-byte root with BLAKE3
 *   `derive_key` (spec section 2.6) under a fixed context; each sender's key is derived from the
 *   root and its 16-byte sender id, chosen at random per {@link NetworkSeal} (per process).
 * - Nonces: a 64-bit counter per sender, never reused: two peers never share a key, so equal
 *   counters on two peers never meet under one key, and a restart picks a new sender id.
 * - AEAD: ChaCha20-Poly1305 (RFC 8439) from `node:crypto`, 16-byte tag. The header (magic,
 *   envelope version, sender id, counter) and the receiving port's role (one byte, not sent)
 *   are the associated data, so a datagram moved to another port fails authentication.
 * - Replays: a sliding bitmap per sender and role (RFC 4303 section 3.4.3, RFC 6479), moved
 *   only after the tag checked out; the table of senders is bounded (least recently heard
 *   forgotten first), and only datagrams that authenticate can add to it.
 *
 * A datagram that does not open is dropped and counted: the caller must never answer it.
 */
import { createCipheriv, createDecipheriv, randomBytes } from "node:crypto";
import { deriveKey } from "./hash.js";

/** First two bytes of a sealed datagram: the plain protocol's magic `P2`. */
const MAGIC_0 = 0x50;
const MAGIC_1 = 0x32;
/**
 * Third byte: sealed envelope version 1. The plain protocol puts its version (1) there; the
 * high bit tells the two apart, so a peer without a key drops sealed datagrams as malformed.
 */
export const SEAL_VERSION = 0x81;
/** Bytes of a sender id. */
export const SENDER_ID_SIZE = 16;
/** Bytes of the per-sender counter (big-endian; the nonce is 4 zero bytes then this). */
export const COUNTER_SIZE = 8;
/** Bytes of the Poly1305 tag at the end of a sealed datagram. */
export const TAG_SIZE = 16;
/** Bytes before the ciphertext: magic (2), version (1), sender id (16), counter (8). */
export const SEAL_HEADER_SIZE = 3 + SENDER_ID_SIZE + COUNTER_SIZE;
/** Bytes a seal adds to a datagram: header and tag (43). */
export const SEAL_OVERHEAD = SEAL_HEADER_SIZE + TAG_SIZE;
/** Counters accepted behind the highest one heard from a sender on a port (RFC 6479 window). */
export const REPLAY_WINDOW = 4064;
/** Senders remembered at most (each with up to five replay windows of 512 bytes). */
export const MAX_SENDERS = 4096;
/** Longest secret accepted, in bytes (a key file larger than this is not a key). */
export const MAX_SECRET_BYTES = 4096;

/**
 * The receiving port's role: authenticated with every datagram (not sent), so a datagram
 * sealed for one port of a peer does not open on another.
 */
export const Channel = {
	discovery: 0,
	receive: 1,
	send: 2,
	distribute: 3,
	distributee: 4,
} as const;
/** A value of {@link Channel}. */
export type Channel = (typeof Channel)[keyof typeof Channel];
const CHANNELS = 5;

/** BLAKE3 `derive_key` contexts: "[application] [date] [purpose]", as the spec asks. */
const ROOT_CONTEXT = "p2p-tui 2026-12-02 network key v1 root";
const SENDER_CONTEXT = "p2p-tui 2026-12-02 network key v1 datagram sender";

const AEAD = "chacha20-poly1305";
/** 2^53: counters stay exact JavaScript numbers; a sender never gets near it. */
const COUNTER_LIMIT = Number.MAX_SAFE_INTEGER;

/**
 * The 32-byte root of a network key.
 * @param secret - the key as typed or read from a key file: any non-empty string (UTF-8) or
 *   bytes, at most {@link MAX_SECRET_BYTES}
 * @returns BLAKE3 `derive_key("p2p-tui 2026-12-02 network key v1 root", secret)`
 * @throws RangeError when the secret is empty or longer than {@link MAX_SECRET_BYTES}
 */
export function networkRoot(secret: string | Uint8Array): Buffer {
	const bytes = typeof secret === "string" ? Buffer.from(secret, "utf8") : secret;
	if (bytes.length === 0) throw new RangeError("a network key must not be empty");
	if (bytes.length > MAX_SECRET_BYTES)
		throw new RangeError(`a network key must be at most ${MAX_SECRET_BYTES} bytes`);
	return deriveKey(ROOT_CONTEXT, bytes);
}

/**
 * The ChaCha20-Poly1305 key of one sender.
 * @param root - the 32-byte network root ({@link networkRoot})
 * @param senderId - the sender's 16-byte id
 * @returns BLAKE3 `derive_key("p2p-tui 2026-12-02 network key v1 datagram sender", root ‖ id)`
 */
export function senderKey(root: Uint8Array, senderId: Uint8Array): Buffer {
	return deriveKey(SENDER_CONTEXT, Buffer.concat([root, senderId]));
}

/**
 * A sliding replay window over 64-bit counters (RFC 6479: a ring of 32-bit words; moving the
 * window forward clears whole words). Accepts each counter once, and none more than
 * {@link REPLAY_WINDOW} behind the highest accepted.
 */
export class ReplayWindow {
	private static readonly WORDS = REPLAY_WINDOW / 32 + 1;
	private readonly bits = new Uint32Array(ReplayWindow.WORDS);
	/** Highest counter accepted, -1 before the first. */
	private top = -1;

	/**
	 * Accepts a counter when it is new and inside the window (and records it).
	 * @param counter - a whole number from 0 to 2^53 - 1
	 * @returns false for a counter seen before or too old: a replay, to drop
	 */
	accept(counter: number): boolean {
		const words = ReplayWindow.WORDS;
		const word = Math.floor(counter / 32);
		if (counter > this.top) {
			const topWord = Math.floor(this.top / 32);
			const clear = Math.min(word - topWord, words);
			for (let i = 1; i <= clear; i++) this.bits[(((topWord + i) % words) + words) % words] = 0;
			this.top = counter;
		} else if (this.top - counter >= REPLAY_WINDOW) return false;
		const at = word % words;
		const bit = 1 << (counter % 32);
		if (this.bits[at] & bit) return false;
		this.bits[at] |= bit;
		return true;
	}
}

/** What the receiving side keeps of one sender. */
interface SenderState {
	key: Buffer;
	windows: (ReplayWindow | undefined)[];
}

/** Counters of a {@link NetworkSeal}. */
export interface SealStats {
	/** Datagrams sealed. */
	sealed: number;
	/** Datagrams opened (authentic and new). */
	opened: number;
	/** Datagrams dropped: not a sealed envelope, or their tag did not check out. */
	forged: number;
	/** Authentic datagrams dropped as replays (seen before, or behind the window). */
	replayed: number;
}

/** Options of a {@link NetworkSeal} (for tests: both are random or default otherwise). */
export interface SealOptions {
	/** Counters to add to (shared by successive seals of a {@link NetworkGuard}). */
	stats?: SealStats;
	/** Our 16-byte sender id; a fresh random one when absent (never reuse one with a key). */
	senderId?: Uint8Array;
	/** Most senders remembered (default {@link MAX_SENDERS}). */
	maxSenders?: number;
}

/**
 * One process's sealing state under one network key: our sender id and counter, and the
 * replay windows of every sender heard.
 */
export class NetworkSeal {
	readonly stats: SealStats;
	/** Our sender id (16 bytes). */
	readonly senderId: Buffer;
	private readonly root: Buffer;
	private readonly ownKey: Buffer;
	private readonly senders = new Map<string, SenderState>();
	private readonly maxSenders: number;
	private counter = 0;

	/**
	 * @param secret - the network key (see {@link networkRoot})
	 * @param options - a fixed sender id or table bound (tests)
	 * @throws RangeError for an empty or too long secret, or a sender id not 16 bytes long
	 */
	constructor(secret: string | Uint8Array, options: SealOptions = {}) {
		this.root = networkRoot(secret);
		this.stats = options.stats ?? { sealed: 0, opened: 0, forged: 0, replayed: 0 };
		const id = options.senderId ?? randomBytes(SENDER_ID_SIZE);
		if (id.length !== SENDER_ID_SIZE)
			throw new RangeError(`a sender id is ${SENDER_ID_SIZE} bytes`);
		this.senderId = Buffer.from(id);
		this.ownKey = senderKey(this.root, this.senderId);
		this.maxSenders = options.maxSenders ?? MAX_SENDERS;
	}

	/** Senders remembered now (for tests of the bound). */
	get senderCount(): number {
		return this.senders.size;
	}

	/**
	 * Seals a datagram for a port of the given role, with the next counter.
	 * @param parts - the plain datagram, whole or in parts (header and payload)
	 * @param channel - the role of the port it is sent to
	 * @returns the sealed datagram in parts (header, ciphertext, tag), for `socket.send`;
	 *   {@link SEAL_OVERHEAD} bytes longer than the plain one
	 * @throws RangeError when the counter is spent (after 2^53 datagrams)
	 */
	seal(parts: Uint8Array | readonly Uint8Array[], channel: Channel): Buffer[] {
		if (this.counter >= COUNTER_LIMIT) throw new RangeError("network seal counter spent");
		const counter = this.counter++;
		const header = Buffer.allocUnsafe(SEAL_HEADER_SIZE);
		header[0] = MAGIC_0;
		header[1] = MAGIC_1;
		header[2] = SEAL_VERSION;
		this.senderId.copy(header, 3);
		writeCounter(header, 3 + SENDER_ID_SIZE, counter);
		const cipher = createCipheriv(AEAD, this.ownKey, nonceOf(header), {
			authTagLength: TAG_SIZE,
		});
		const list = isPartList(parts) ? parts : [parts];
		let length = 0;
		for (const p of list) length += p.length;
		cipher.setAAD(aadOf(header, channel), { plaintextLength: length });
		const out: Buffer[] = [header];
		for (const p of list) if (p.length > 0) out.push(cipher.update(p));
		cipher.final();
		out.push(cipher.getAuthTag());
		this.stats.sealed++;
		return out;
	}

	/**
	 * Opens a received datagram: checks its tag, then that it is no replay.
	 * @param datagram - untrusted bytes as received
	 * @param channel - the role of the port it arrived on
	 * @returns the plain datagram (a new buffer), or null when it is not sealed, fails
	 *   authentication (counted in `forged`) or is a replay (counted in `replayed`)
	 */
	open(datagram: Uint8Array, channel: Channel): Buffer | null {
		const header = parseSealHeader(datagram);
		if (!header) {
			this.stats.forged++;
			return null;
		}
		const name = Buffer.from(header.senderId).toString("latin1");
		const known = this.senders.get(name);
		const key = known?.key ?? this.keyOf(header.senderId);
		const head = datagram.subarray(0, SEAL_HEADER_SIZE);
		const body = datagram.subarray(SEAL_HEADER_SIZE, datagram.length - TAG_SIZE);
		let plain: Buffer;
		try {
			const decipher = createDecipheriv(AEAD, key, nonceOf(head), { authTagLength: TAG_SIZE });
			decipher.setAAD(aadOf(head, channel), { plaintextLength: body.length });
			decipher.setAuthTag(datagram.subarray(datagram.length - TAG_SIZE));
			const first = decipher.update(body);
			decipher.final();
			plain = first;
		} catch {
			this.stats.forged++;
			return null;
		}
		// Authentic: only now may the sender enter the table and its window move.
		let state = known;
		if (state) {
			// Least recently heard first out: re-inserting moves it to the end.
			this.senders.delete(name);
			this.senders.set(name, state);
		} else {
			if (this.senders.size >= this.maxSenders) {
				const oldest = this.senders.keys().next().value;
				if (oldest !== undefined) this.senders.delete(oldest);
			}
			state = { key, windows: new Array(CHANNELS) };
			this.senders.set(name, state);
		}
		let window = state.windows[channel];
		if (!window) {
			window = new ReplayWindow();
			state.windows[channel] = window;
		}
		if (!window.accept(header.counter)) {
			this.stats.replayed++;
			return null;
		}
		this.stats.opened++;
		return plain;
	}

	private keyOf(senderId: Uint8Array): Buffer {
		return Buffer.from(senderId).equals(this.senderId)
			? this.ownKey
			: senderKey(this.root, senderId);
	}
}

/**
 * The one gate every datagram of a peer passes (discovery and the four transfer ports):
 * without a network key it lets datagrams through untouched (the plain protocol, byte for
 * byte); with one it seals what goes out and opens what comes in, dropping (and counting)
 * whatever does not open. Shared by the discovery service and the transfer engine, so a key
 * set or cleared takes effect on all five sockets at once.
 */
export class NetworkGuard {
	/** Counters over every key this guard held. */
	readonly stats: SealStats = { sealed: 0, opened: 0, forged: 0, replayed: 0 };
	private current: NetworkSeal | undefined;

	/** @param secret - the network key, or none (see {@link NetworkGuard.setKey}) */
	constructor(secret?: string | Uint8Array) {
		this.setKey(secret);
	}

	/**
	 * Sets or clears the network key. A new key starts a new sender id and counter, and
	 * forgets every sender heard under the old one.
	 * @param secret - the key (any non-empty string or bytes), or undefined for none
	 * @throws RangeError for an empty or too long secret (the key in force is kept then)
	 */
	setKey(secret: string | Uint8Array | undefined): void {
		this.current =
			secret === undefined ? undefined : new NetworkSeal(secret, { stats: this.stats });
	}

	/** True when a network key is in force. */
	get keyed(): boolean {
		return this.current !== undefined;
	}

	/** Bytes every datagram grows by on the wire: {@link SEAL_OVERHEAD} with a key, else 0. */
	get overhead(): number {
		return this.current ? SEAL_OVERHEAD : 0;
	}

	/**
	 * A datagram on its way out.
	 * @param parts - the plain datagram, whole or in parts
	 * @param channel - the role of the port it is sent to
	 * @returns the datagram to send: `parts` themselves without a key, else sealed (in parts)
	 */
	outgoing(parts: Buffer | Buffer[], channel: Channel): Buffer | Buffer[] {
		return this.current ? this.current.seal(parts, channel) : parts;
	}

	/**
	 * A datagram that arrived.
	 * @param datagram - untrusted bytes
	 * @param channel - the role of the port it arrived on
	 * @returns the plain datagram to decode (the same bytes without a key), or null to drop
	 *   it without any answer (counted in `stats`)
	 */
	incoming(datagram: Buffer, channel: Channel): Buffer | null {
		return this.current ? this.current.open(datagram, channel) : datagram;
	}
}

/** The fields of a sealed datagram's header. */
export interface SealHeader {
	/** The sender's 16-byte id (a view into the datagram). */
	senderId: Uint8Array;
	/** The sender's counter for this datagram. */
	counter: number;
}

/**
 * Reads the header of a sealed datagram without checking its tag.
 * @param datagram - untrusted bytes
 * @returns the header, or null when the bytes are not a sealed envelope of version 1 (too
 *   short for header and tag, wrong magic or version, or a counter of 2^53 or more)
 */
export function parseSealHeader(datagram: Uint8Array): SealHeader | null {
	if (datagram.length < SEAL_OVERHEAD) return null;
	if (datagram[0] !== MAGIC_0 || datagram[1] !== MAGIC_1 || datagram[2] !== SEAL_VERSION)
		return null;
	const at = 3 + SENDER_ID_SIZE;
	const high = readU32(datagram, at);
	// Counters stop at 2^53: a higher one was never sealed by us.
	if (high >= 0x200000) return null;
	return {
		senderId: datagram.subarray(3, at),
		counter: high * 0x1_0000_0000 + readU32(datagram, at + 4),
	};
}

/** True when a datagram starts like a sealed envelope (magic and sealed version). */
export function looksSealed(datagram: Uint8Array): boolean {
	return (
		datagram.length >= 3 &&
		datagram[0] === MAGIC_0 &&
		datagram[1] === MAGIC_1 &&
		datagram[2] === SEAL_VERSION
	);
}

function isPartList(parts: Uint8Array | readonly Uint8Array[]): parts is readonly Uint8Array[] {
	return Array.isArray(parts);
}

/** The 96-bit nonce: 4 zero bytes, then the 8-byte counter of the header. */
function nonceOf(header: Uint8Array): Buffer {
	const nonce = Buffer.alloc(12);
	nonce.set(header.subarray(3 + SENDER_ID_SIZE, SEAL_HEADER_SIZE), 4);
	return nonce;
}

/** Associated data: the header, then the receiving port's role. */
function aadOf(header: Uint8Array, channel: Channel): Buffer {
	const aad = Buffer.allocUnsafe(SEAL_HEADER_SIZE + 1);
	aad.set(header.subarray(0, SEAL_HEADER_SIZE), 0);
	aad[SEAL_HEADER_SIZE] = channel;
	return aad;
}

function writeCounter(buffer: Buffer, at: number, counter: number): void {
	buffer.writeUInt32BE(Math.floor(counter / 0x1_0000_0000), at);
	buffer.writeUInt32BE(counter >>> 0, at + 4);
}

function readU32(bytes: Uint8Array, at: number): number {
	return ((bytes[at] << 24) | (bytes[at + 1] << 16) | (bytes[at + 2] << 8) | bytes[at + 3]) >>> 0;
}
