/**
 * Offers and text messages between two peers (issue 16, docs/protocol.md §16): the state
 * machines on both sides, with their bounds. The sender cuts an offer (or a text) in signed
 * chunks and resends them until the receiver answers; the receiver checks each message
 * (its signature, that it is for us, from a peer discovery knows at that address, fresh),
 * assembles it within bounds, and reports it upwards. What to do with an offer (accept,
 * decline, download) is the Peer's business; this file moves and checks the messages, and
 * keeps the files each offer serves to its receiver. No React, no sockets of its own.
 */
import { randomBytes } from "node:crypto";
import { EventEmitter } from "node:events";
import { toHex } from "../protocol/hash.js";
import { checkPeerSignature, fingerprint, type Identity } from "../protocol/identity.js";
import { isFolderEntry, type ListEntry, listEntrySize } from "../protocol/messages.js";
import { printable, sanitizeName } from "../protocol/names.js";
import {
	AnswerStatus,
	decodePeerMessage,
	EXCHANGE_ID_SIZE,
	encodePeerMessage,
	MAX_CHUNKS,
	MAX_NOTE_BYTES,
	MAX_OFFER_ENTRIES,
	MAX_REASON_BYTES,
	MAX_TEXT_BYTES,
	OFFER_OVERHEAD,
	type OfferAnswer,
	type OfferChunk,
	type OfferProgress,
	type PeerMessage,
	type PeerMessageHead,
	ProgressState,
	TEXT_OVERHEAD,
	type TextChunk,
} from "../protocol/offers.js";
import type { Endpoint, OfferedFile } from "../transfer/serve.js";
import type { PeerRecord } from "./types.js";

/** How often unanswered chunks are sent again, in ms. */
export const RESEND_MS = 400;
/** How often a receiver reports the progress of an accepted offer, in ms. */
export const PROGRESS_MS = 500;
/** Times a receiver repeats the final progress until the sender closes the offer. */
const FINAL_REPEATS = 20;
/** A message older than the newest announce of its sender by more than this is stale, in ms. */
export const FRESH_MS = 5 * 60_000;
/** Exchange ids remembered (to drop replays and answer repeats), and for how long. */
const MAX_REMEMBERED = 4_096;
const REMEMBER_MS = 10 * 60_000;
/** Offers and texts being assembled at once, in all and per sender. */
export const MAX_ASSEMBLING = 8;
export const MAX_ASSEMBLING_PER_PEER = 2;
/** An assembly with no new chunk for this long is dropped, in ms. */
const ASSEMBLY_MS = 30_000;
/** Offers waiting for a decision at once (more are refused). */
export const MAX_PENDING_OFFERS = 16;
/** New offers and texts taken from one peer per minute (more are refused or dropped). */
export const MAX_PER_MINUTE = 10;

/** One entry of an offer as the receiver shows it. */
export interface OfferEntry {
	/** Hex file id; empty for an empty folder. */
	id: string;
	/** The name as sent (`/`-separated); show it through `printable`. */
	name: string;
	size: number;
	/** Hex BLAKE3 of the content; empty for a folder. */
	contentHash: string;
	folder: boolean;
}

/** Where an incoming offer stands. */
export type IncomingStatus =
	| "pending"
	| "fetching"
	| "complete"
	| "failed"
	| "declined"
	| "refused"
	| "withdrawn";

/** An offer received whole. */
export interface IncomingOffer {
	/** `<sender id>:<exchange id>`: the handle to accept or decline it. */
	key: string;
	/** Sender's peer id (hex) and what it announces. */
	from: string;
	fromName: string;
	fingerprint: string;
	note: string;
	entries: OfferEntry[];
	/** Files (not folders) and their bytes. */
	files: number;
	totalSize: number;
	/** When it arrived, ms since the epoch. */
	receivedAt: number;
	status: IncomingStatus;
	/** Why it was refused or failed. */
	reason?: string;
}

/** A text received whole. */
export interface TextMessage {
	key: string;
	from: string;
	fromName: string;
	fingerprint: string;
	text: string;
	receivedAt: number;
}

/** What the sender hears back about an offer. */
export type OfferUpdate =
	| { kind: "answer"; status: OfferAnswer["status"]; reason: string }
	| {
			kind: "progress";
			state: OfferProgress["state"];
			bytesDone: number;
			bytesTotal: number;
			filesDone: number;
			reason: string;
	  };

/** Counters of the offers service. */
export interface OfferStats {
	/** Messages dropped: not for us, from an unknown peer or address, stale, or repeated. */
	ignored: number;
	/** Bad signatures (or ids not their keys'). */
	forged: number;
	/** Offers refused by a bound (rate, count, room). */
	refused: number;
}

/** Events of the service. */
export interface OffersEvents {
	"offer-received": [offer: IncomingOffer];
	"offer-updated": [offer: IncomingOffer];
	"text-received": [message: TextMessage];
}

/** What the service needs of the peer. */
export interface OffersDeps {
	identity: Identity;
	/** Sends a §16 datagram from our distribute port. */
	send(datagram: Buffer, to: Endpoint): void;
	/** A peer known from discovery. */
	peer(id: string): PeerRecord | undefined;
	/** Its newest signed timestamp (see `PeerTable.stampOf`). */
	stampOf(id: string): number | undefined;
	/** Largest plain datagram towards an address (path MTU less any envelope). */
	maxDatagram(address: string): number;
}

interface Assembly {
	from: string;
	exchange: string;
	type: "offer" | "text";
	chunks: (OfferChunk | TextChunk | undefined)[];
	got: number;
	touched: number;
}

interface Outgoing {
	to: string;
	exchangeId: Buffer;
	datagrams: Buffer[];
	timer: NodeJS.Timeout;
	files: Map<string, OfferedFile>;
	onUpdate: (update: OfferUpdate) => void;
	answered: boolean;
}

interface IncomingState {
	offer: IncomingOffer;
	exchangeId: Buffer;
	/** The last answer or progress sent, repeated when the sender repeats itself. */
	last?: Buffer;
	finalTimer?: NodeJS.Timeout;
}

/** Offers and texts, both directions. */
export class OffersService extends EventEmitter<OffersEvents> {
	readonly stats: OfferStats = { ignored: 0, forged: 0, refused: 0 };
	private readonly assemblies = new Map<string, Assembly>();
	private readonly outgoing = new Map<string, Outgoing>();
	private readonly incoming = new Map<string, IncomingState>();
	/** Finished exchanges (key → when), to drop repeats. */
	private readonly remembered = new Map<string, number>();
	/** New exchanges per peer in the current minute. */
	private readonly rates = new Map<string, { minute: number; count: number }>();
	private readonly textAcks = new Map<string, () => void>();
	private readonly sweeper: NodeJS.Timeout;

	constructor(private readonly deps: OffersDeps) {
		super();
		this.sweeper = setInterval(() => this.sweep(), 5_000);
		this.sweeper.unref();
	}

	/** Stops every timer and withdraws nothing (the peer is going away). */
	close(): void {
		clearInterval(this.sweeper);
		for (const o of this.outgoing.values()) clearInterval(o.timer);
		for (const s of this.incoming.values()) clearInterval(s.finalTimer);
		this.outgoing.clear();
	}

	/** Offers received and not yet decided, oldest first. */
	pending(): IncomingOffer[] {
		return [...this.incoming.values()].map((s) => s.offer).filter((o) => o.status === "pending");
	}

	/** An offer received this session. */
	incomingOffer(key: string): IncomingOffer | undefined {
		return this.incoming.get(key)?.offer;
	}

	/** The file `id` if an offer under way serves it to the address asking. */
	offered(id: string, from: Endpoint): OfferedFile | undefined {
		for (const o of this.outgoing.values()) {
			const file = o.files.get(id);
			if (!file) continue;
			const receiver = this.deps.peer(o.to);
			if (
				receiver &&
				(receiver.address === from.address || receiver.addresses.includes(from.address))
			)
				return file;
		}
		return undefined;
	}

	// ------------------------------------------------------------------ sending

	private head(to: string, exchangeId: Uint8Array): PeerMessageHead {
		const id = this.deps.identity;
		return {
			from: id.peerId,
			publicKey: id.publicKey,
			timestamp: id.nextTimestamp(),
			to: Buffer.from(to, "hex"),
			exchangeId,
		};
	}

	private encode(message: PeerMessage): Buffer {
		return encodePeerMessage(message, (bytes) => this.deps.identity.signBytes(bytes));
	}

	private sendTo(peerId: string, datagram: Buffer): void {
		const p = this.deps.peer(peerId);
		if (p) this.deps.send(datagram, { address: p.address, port: p.ports.distribute });
	}

	/**
	 * Starts an offer: sends its chunks until the receiver answers, and serves `files` to
	 * the receiver meanwhile. Call `endOffer` when done.
	 * @param to - the receiver's peer id (known from discovery)
	 * @param entries - the entries offered (at most {@link MAX_OFFER_ENTRIES})
	 * @param files - the files served, by hex id
	 * @param note - the sender's note (at most 1024 bytes)
	 * @returns the offer's exchange id (hex)
	 * @throws RangeError when the offer is out of bounds
	 */
	startOffer(
		to: string,
		entries: ListEntry[],
		files: Map<string, OfferedFile>,
		note: string,
		onUpdate: (update: OfferUpdate) => void,
	): string {
		const receiver = this.deps.peer(to);
		if (!receiver) throw new RangeError("unknown peer");
		if (entries.length === 0 || entries.length > MAX_OFFER_ENTRIES)
			throw new RangeError(`an offer carries 1 to ${MAX_OFFER_ENTRIES} entries`);
		if (Buffer.byteLength(note) > MAX_NOTE_BYTES) throw new RangeError("note over 1024 bytes");
		const exchangeId = randomBytes(EXCHANGE_ID_SIZE);
		const budget = this.deps.maxDatagram(receiver.address);
		const pages: ListEntry[][] = [];
		let page: ListEntry[] = [];
		let size = OFFER_OVERHEAD + Buffer.byteLength(note);
		for (const e of entries) {
			const n = listEntrySize(e);
			if (page.length > 0 && size + n > budget) {
				pages.push(page);
				page = [];
				size = OFFER_OVERHEAD;
			}
			page.push(e);
			size += n;
		}
		pages.push(page);
		if (pages.length > MAX_CHUNKS) throw new RangeError("offer over 4096 chunks");
		const totalSize = entries.reduce((n, e) => n + e.size, 0);
		const datagrams = pages.map((p, chunk) =>
			this.encode({
				type: "offer",
				...this.head(to, exchangeId),
				chunk,
				chunks: pages.length,
				entryCount: entries.length,
				totalSize,
				note: chunk === 0 ? note : "",
				entries: p,
			}),
		);
		const key = `${to}:${toHex(exchangeId)}`;
		const send = () => {
			for (const d of datagrams) this.sendTo(to, d);
		};
		const outgoing: Outgoing = {
			to,
			exchangeId,
			datagrams,
			files,
			onUpdate,
			answered: false,
			timer: setInterval(() => {
				if (!outgoing.answered) send();
			}, RESEND_MS),
		};
		outgoing.timer.unref();
		this.outgoing.set(key, outgoing);
		send();
		return toHex(exchangeId);
	}

	/**
	 * Ends an offer we made: its files stop being served; the receiver is told (withdrawn
	 * when it had not finished).
	 */
	endOffer(to: string, exchange: string, withdrawn: boolean): void {
		const key = `${to}:${exchange}`;
		const o = this.outgoing.get(key);
		if (!o) return;
		clearInterval(o.timer);
		this.outgoing.delete(key);
		this.sendTo(to, this.encode({ type: "offerClose", ...this.head(to, o.exchangeId), withdrawn }));
	}

	/**
	 * Sends a text (at most 64 KiB of UTF-8) and resolves when the receiver acknowledges it.
	 * @throws RangeError when it is too long; rejects with an Error after `wait` ms unanswered
	 */
	sendText(to: string, text: string, wait: number): Promise<void> {
		const receiver = this.deps.peer(to);
		if (!receiver) return Promise.reject(new RangeError("unknown peer"));
		const bytes = Buffer.from(text, "utf8");
		if (bytes.length > MAX_TEXT_BYTES) throw new RangeError("a text is at most 64 KiB");
		const exchangeId = randomBytes(EXCHANGE_ID_SIZE);
		const room = Math.max(1, this.deps.maxDatagram(receiver.address) - TEXT_OVERHEAD);
		const chunks = Math.max(1, Math.ceil(bytes.length / room));
		const datagrams: Buffer[] = [];
		for (let chunk = 0; chunk < chunks; chunk++)
			datagrams.push(
				this.encode({
					type: "text",
					...this.head(to, exchangeId),
					chunk,
					chunks,
					totalBytes: bytes.length,
					bytes: bytes.subarray(chunk * room, (chunk + 1) * room),
				}),
			);
		const key = `${to}:${toHex(exchangeId)}`;
		return new Promise<void>((resolve, reject) => {
			const send = () => {
				for (const d of datagrams) this.sendTo(to, d);
			};
			const timer = setInterval(send, RESEND_MS);
			const deadline = setTimeout(() => {
				clearInterval(timer);
				this.textAcks.delete(key);
				reject(new Error(`no acknowledgement within ${wait} ms`));
			}, wait);
			this.textAcks.set(key, () => {
				clearInterval(timer);
				clearTimeout(deadline);
				this.textAcks.delete(key);
				resolve();
			});
			send();
		});
	}

	// ------------------------------------------------------------------ receiving

	/**
	 * Handles one plain §16 datagram from our distribute port.
	 * @returns false when it is malformed or forged (charged to its source)
	 */
	recv(bytes: Buffer, from: Endpoint): boolean {
		const decoded = decodePeerMessage(bytes);
		if (!decoded) return false;
		const m = decoded.message;
		if (!this.deps.identity.peerId.equals(m.to)) {
			this.stats.ignored++;
			return true;
		}
		const fromId = toHex(m.from);
		const peer = this.deps.peer(fromId);
		// Only a peer discovery proved, from one of its addresses and its distribute port:
		// our answers go back there, never to an address the datagram merely names.
		if (
			!peer ||
			fromId === this.deps.identity.id ||
			!(peer.address === from.address || peer.addresses.includes(from.address)) ||
			peer.ports.distribute !== from.port
		) {
			this.stats.ignored++;
			return true;
		}
		const stamp = this.deps.stampOf(fromId);
		if (stamp !== undefined && m.timestamp < stamp - FRESH_MS) {
			this.stats.ignored++;
			return true;
		}
		if (checkPeerSignature(m.from, m.publicKey, decoded.signed, decoded.signature) !== "ok") {
			this.stats.forged++;
			return false;
		}
		const key = `${fromId}:${toHex(m.exchangeId)}`;
		switch (m.type) {
			case "offer":
			case "text":
				this.onChunk(peer, key, m);
				break;
			case "offerAnswer":
				this.onUpdate(key, { kind: "answer", status: m.status, reason: m.reason });
				break;
			case "offerProgress": {
				this.onUpdate(key, {
					kind: "progress",
					state: m.state,
					bytesDone: m.bytesDone,
					bytesTotal: m.bytesTotal,
					filesDone: m.filesDone,
					reason: m.reason,
				});
				break;
			}
			case "offerClose": {
				const state = this.incoming.get(key);
				if (!state) break;
				clearInterval(state.finalTimer);
				state.finalTimer = undefined;
				if (
					m.withdrawn &&
					(state.offer.status === "pending" || state.offer.status === "fetching")
				) {
					state.offer.status = "withdrawn";
					this.emit("offer-updated", state.offer);
				}
				break;
			}
			case "textAck":
				this.textAcks.get(key)?.();
				break;
		}
		return true;
	}

	private onUpdate(key: string, update: OfferUpdate): void {
		const o = this.outgoing.get(key);
		if (!o) {
			this.stats.ignored++;
			return;
		}
		if (update.kind === "answer" || update.kind === "progress") o.answered = true;
		o.onUpdate(update);
	}

	/** Allows one more new exchange from `peerId` this minute. */
	private allow(peerId: string): boolean {
		const minute = Math.floor(Date.now() / 60_000);
		const rate = this.rates.get(peerId);
		if (!rate || rate.minute !== minute) {
			if (this.rates.size >= MAX_REMEMBERED) this.rates.clear();
			this.rates.set(peerId, { minute, count: 1 });
			return true;
		}
		rate.count++;
		return rate.count <= MAX_PER_MINUTE;
	}

	private onChunk(peer: PeerRecord, key: string, m: OfferChunk | TextChunk): void {
		// A repeat of an exchange already whole: the sender missed our answer.
		const known = this.incoming.get(key);
		if (known) {
			if (known.last) this.sendTo(peer.id, known.last);
			return;
		}
		if (this.remembered.has(key)) {
			if (m.type === "text") this.ack(peer.id, m.exchangeId);
			else this.stats.ignored++;
			return;
		}
		let a = this.assemblies.get(key);
		if (!a) {
			const mine = [...this.assemblies.values()].filter((x) => x.from === peer.id).length;
			if (this.assemblies.size >= MAX_ASSEMBLING || mine >= MAX_ASSEMBLING_PER_PEER) {
				this.stats.ignored++;
				return;
			}
			if (!this.allow(peer.id)) {
				this.stats.refused++;
				this.remember(key);
				if (m.type === "offer")
					this.answer(
						peer.id,
						m.exchangeId,
						AnswerStatus.refused,
						"too many offers from you; wait a minute",
					);
				return;
			}
			a = {
				from: peer.id,
				exchange: toHex(m.exchangeId),
				type: m.type,
				chunks: new Array(m.chunks).fill(undefined),
				got: 0,
				touched: Date.now(),
			};
			this.assemblies.set(key, a);
		}
		if (a.type !== m.type || a.chunks.length !== m.chunks) {
			this.stats.ignored++;
			return;
		}
		const first = a.chunks.find((c) => c !== undefined);
		if (first && !sameWhole(first, m)) {
			this.stats.ignored++;
			return;
		}
		a.touched = Date.now();
		if (a.chunks[m.chunk] === undefined) {
			a.chunks[m.chunk] = copyChunk(m);
			a.got++;
		}
		if (a.got < a.chunks.length) return;
		this.assemblies.delete(key);
		if (m.type === "text") this.textWhole(peer, key, a.chunks as TextChunk[]);
		else this.offerWhole(peer, key, a.chunks as OfferChunk[]);
	}

	private textWhole(peer: PeerRecord, key: string, chunks: TextChunk[]): void {
		const bytes = Buffer.concat(chunks.map((c) => c.bytes));
		this.remember(key);
		let text: string;
		try {
			if (bytes.length !== chunks[0].totalBytes) throw new Error("length");
			text = new TextDecoder("utf-8", { fatal: true }).decode(bytes);
		} catch {
			this.stats.ignored++;
			return;
		}
		this.ack(peer.id, chunks[0].exchangeId);
		this.emit("text-received", {
			key,
			from: peer.id,
			fromName: peer.name,
			fingerprint: fingerprint(peer.id),
			text,
			receivedAt: Date.now(),
		});
	}

	private ack(to: string, exchangeId: Uint8Array): void {
		this.sendTo(to, this.encode({ type: "textAck", ...this.head(to, exchangeId) }));
	}

	private offerWhole(peer: PeerRecord, key: string, chunks: OfferChunk[]): void {
		const head = chunks[0];
		const exchangeId = Buffer.from(head.exchangeId);
		const entries: OfferEntry[] = chunks.flatMap((c) =>
			c.entries.map((e) => ({
				id: isFolderEntry(e) ? "" : toHex(e.fileId),
				name: e.name,
				size: e.size,
				contentHash: isFolderEntry(e) ? "" : toHex(e.contentHash),
				folder: isFolderEntry(e),
			})),
		);
		const offer: IncomingOffer = {
			key,
			from: peer.id,
			fromName: peer.name,
			fingerprint: fingerprint(peer.id),
			note: head.note,
			entries,
			files: entries.filter((e) => !e.folder).length,
			totalSize: entries.reduce((n, e) => n + e.size, 0),
			receivedAt: Date.now(),
			status: "pending",
		};
		const state: IncomingState = { offer, exchangeId };
		this.incoming.set(key, state);
		this.remember(key);
		let refusal: string | undefined;
		if (entries.length !== head.entryCount || offer.totalSize !== head.totalSize)
			refusal = "the offer does not add up";
		else if (entries.some((e) => !sanitizeName(e.name).ok))
			refusal = `unsafe name ${JSON.stringify(printable(entries.find((e) => !sanitizeName(e.name).ok)?.name ?? ""))}`;
		else if (this.pending().length > MAX_PENDING_OFFERS)
			refusal = "too many offers waiting for an answer";
		if (refusal) {
			this.stats.refused++;
			this.refuse(key, refusal);
			return;
		}
		this.answer(peer.id, exchangeId, AnswerStatus.pending, "", state);
		this.emit("offer-received", offer);
	}

	private answer(
		to: string,
		exchangeId: Uint8Array,
		status: OfferAnswer["status"],
		reason: string,
		state?: IncomingState,
	): void {
		const datagram = this.encode({
			type: "offerAnswer",
			...this.head(to, exchangeId),
			status,
			reason: clip(reason),
		});
		if (state) state.last = datagram;
		this.sendTo(to, datagram);
	}

	/** Refuses an offer received (a bound: no room, too many) with a reason. */
	refuse(key: string, reason: string): void {
		const state = this.incoming.get(key);
		if (!state) return;
		state.offer.status = "refused";
		state.offer.reason = reason;
		this.answer(state.offer.from, state.exchangeId, AnswerStatus.refused, reason, state);
		this.emit("offer-updated", state.offer);
	}

	/** Declines an offer received. */
	decline(key: string, reason = ""): void {
		const state = this.incoming.get(key);
		if (state?.offer.status !== "pending") return;
		state.offer.status = "declined";
		state.offer.reason = reason || undefined;
		this.answer(state.offer.from, state.exchangeId, AnswerStatus.declined, reason, state);
		this.emit("offer-updated", state.offer);
	}

	/** Accepts an offer received (the Peer downloads it and reports with `progress`). */
	accept(key: string): IncomingOffer | undefined {
		const state = this.incoming.get(key);
		if (state?.offer.status !== "pending") return undefined;
		state.offer.status = "fetching";
		this.answer(state.offer.from, state.exchangeId, AnswerStatus.accepted, "", state);
		this.emit("offer-updated", state.offer);
		return state.offer;
	}

	/**
	 * Tells the sender how far an accepted offer is; the final state (complete or failed) is
	 * repeated until the sender closes the offer.
	 */
	progress(
		key: string,
		state: OfferProgress["state"],
		bytesDone: number,
		filesDone: number,
		reason = "",
	): void {
		const s = this.incoming.get(key);
		if (s?.offer.status !== "fetching") return;
		const datagram = this.encode({
			type: "offerProgress",
			...this.head(s.offer.from, s.exchangeId),
			state,
			bytesDone: Math.min(bytesDone, s.offer.totalSize),
			bytesTotal: s.offer.totalSize,
			filesDone,
			reason: clip(reason),
		});
		s.last = datagram;
		this.sendTo(s.offer.from, datagram);
		if (state === ProgressState.fetching) return;
		s.offer.status = state === ProgressState.complete ? "complete" : "failed";
		if (reason) s.offer.reason = reason;
		this.emit("offer-updated", s.offer);
		let left = FINAL_REPEATS;
		s.finalTimer = setInterval(() => {
			if (--left <= 0) {
				clearInterval(s.finalTimer);
				s.finalTimer = undefined;
			}
			this.sendTo(s.offer.from, datagram);
		}, PROGRESS_MS);
		s.finalTimer.unref();
	}

	private remember(key: string): void {
		if (this.remembered.size >= MAX_REMEMBERED) {
			const oldest = this.remembered.keys().next().value;
			if (oldest !== undefined) this.remembered.delete(oldest);
		}
		this.remembered.set(key, Date.now());
	}

	private sweep(): void {
		const now = Date.now();
		// Offers answered and done are forgotten after a while (their entries are the bulk).
		for (const [key, state] of this.incoming) {
			const live = state.offer.status === "pending" || state.offer.status === "fetching";
			if (!live && !state.finalTimer && now - state.offer.receivedAt > REMEMBER_MS)
				this.incoming.delete(key);
		}
		for (const [key, a] of this.assemblies)
			if (now - a.touched > ASSEMBLY_MS) this.assemblies.delete(key);
		for (const [key, at] of this.remembered) {
			if (now - at <= REMEMBER_MS) break;
			this.remembered.delete(key);
		}
	}
}

/** Chunks of one exchange must agree on what the whole is. */
function sameWhole(a: OfferChunk | TextChunk, b: OfferChunk | TextChunk): boolean {
	if (a.type === "offer" && b.type === "offer")
		return a.entryCount === b.entryCount && a.totalSize === b.totalSize;
	if (a.type === "text" && b.type === "text") return a.totalBytes === b.totalBytes;
	return false;
}

/** A chunk with its byte fields copied out of the datagram. */
function copyChunk<T extends OfferChunk | TextChunk>(m: T): T {
	if (m.type === "text")
		return { ...m, exchangeId: Buffer.from(m.exchangeId), bytes: Buffer.from(m.bytes) };
	return {
		...m,
		exchangeId: Buffer.from(m.exchangeId),
		entries: m.entries.map((e) => ({
			...e,
			fileId: Buffer.from(e.fileId),
			contentHash: Buffer.from(e.contentHash),
		})),
	};
}

/** A reason cut to {@link MAX_REASON_BYTES} bytes on a character boundary. */
function clip(reason: string): string {
	let out = reason;
	while (Buffer.byteLength(out) > MAX_REASON_BYTES) out = out.slice(0, -1);
	return out;
}
