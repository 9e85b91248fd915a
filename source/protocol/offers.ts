/**
 * Codecs of the peer-to-peer messages of issue 16 (docs/protocol.md §16): offers of files
 * and short texts, and the answers to them. Types 0x30..0x35, sent between the distribute
 * ports of two peers. Every one is signed by its sender's lasting identity (Ed25519, like
 * `announce`) and names its receiver, so it can be neither forged nor replayed to another
 * peer. Pure: no I/O; `decodePeerMessage` returns null for anything invalid, never throws.
 */
import {
	checkEntry,
	HEADER_SIZE,
	type ListEntry,
	listEntrySize,
	MAX_DATAGRAM,
	MIN_ENTRY_SIZE,
	PEER_ID_SIZE,
	PROTOCOL_VERSION,
	PUBLIC_KEY_SIZE,
	readEntry,
	SIGNATURE_SIZE,
	writeEntry,
} from "./messages.js";
import { Reader, Writer } from "./wire.js";

/** Type codes of §16 (0x30..0x3f are reserved for these messages). */
export const PeerMessageType = {
	offer: 0x30,
	offerAnswer: 0x31,
	offerProgress: 0x32,
	offerClose: 0x33,
	text: 0x34,
	textAck: 0x35,
} as const;

/** Length in bytes of an exchange id (an offer's or a text's, random per exchange). */
export const EXCHANGE_ID_SIZE = 8;
/** Most entries (files and empty folders) one offer may carry. */
export const MAX_OFFER_ENTRIES = 4_096;
/** Most chunks one offer or text may be cut in. */
export const MAX_CHUNKS = 4_096;
/** Most bytes of UTF-8 of an offer's note (`--message`). */
export const MAX_NOTE_BYTES = 1_024;
/** Most bytes of UTF-8 of a text message (64 KiB). */
export const MAX_TEXT_BYTES = 64 * 1024;
/** Most bytes of a reason in an answer or progress message. */
export const MAX_REASON_BYTES = 200;
/** Bytes before the body: header, from, public key, timestamp, to, exchange id. */
export const PEER_MESSAGE_HEAD =
	HEADER_SIZE + PEER_ID_SIZE + PUBLIC_KEY_SIZE + 8 + PEER_ID_SIZE + EXCHANGE_ID_SIZE;
/** Fixed bytes of every message of §16: head and signature. */
export const PEER_MESSAGE_OVERHEAD = PEER_MESSAGE_HEAD + SIGNATURE_SIZE;
/** Fixed bytes of an offer chunk besides its note and entries. */
export const OFFER_OVERHEAD = PEER_MESSAGE_OVERHEAD + 2 + 2 + 4 + 8 + 2 + 2;
/** Fixed bytes of a text chunk besides its bytes. */
export const TEXT_OVERHEAD = PEER_MESSAGE_OVERHEAD + 2 + 2 + 4 + 2;

/** An offer answer's status. */
export const AnswerStatus = {
	/** Received whole; waiting for a person (or a rule) to decide. */
	pending: 0,
	accepted: 1,
	declined: 2,
	/** Refused by a bound: no room, too many offers, too large; `reason` says which. */
	refused: 3,
} as const;

/** An offer progress state. */
export const ProgressState = {
	fetching: 0,
	/** Every file verified in the receiver's downloads folder. */
	complete: 1,
	failed: 2,
} as const;

/** What every §16 message carries before its body. */
export interface PeerMessageHead {
	/** Sender's peer id (16 bytes): BLAKE3(publicKey)[0..16]. */
	from: Uint8Array;
	/** Sender's Ed25519 public key (32 bytes). */
	publicKey: Uint8Array;
	/** Sender's identity clock, ms since the epoch (< 2^53). */
	timestamp: number;
	/** Receiver's peer id (16 bytes). */
	to: Uint8Array;
	/** The offer's or text's id (8 random bytes), the same in every message about it. */
	exchangeId: Uint8Array;
}

/** One chunk of an offer (sender → receiver). */
export interface OfferChunk extends PeerMessageHead {
	type: "offer";
	/** This chunk's index, below `chunks`. */
	chunk: number;
	/** Chunks of the offer, 1..4096. */
	chunks: number;
	/** Entries of the whole offer, 1..4096. */
	entryCount: number;
	/** Bytes of every file offered (< 2^53). */
	totalSize: number;
	/** The sender's note (`--message`), in chunk 0 only; empty elsewhere. */
	note: string;
	/** Entries of this chunk: files (and empty folders), as list entries (§3). */
	entries: ListEntry[];
}

/** The receiver's decision (receiver → sender). */
export interface OfferAnswer extends PeerMessageHead {
	type: "offerAnswer";
	status: (typeof AnswerStatus)[keyof typeof AnswerStatus];
	/** Why, for `refused` (and optionally `declined`); at most 200 bytes. */
	reason: string;
}

/** How far the receiver's downloads of an accepted offer are (receiver → sender). */
export interface OfferProgress extends PeerMessageHead {
	type: "offerProgress";
	state: (typeof ProgressState)[keyof typeof ProgressState];
	/** Verified bytes so far. */
	bytesDone: number;
	/** Bytes of the offer. */
	bytesTotal: number;
	/** Files verified. */
	filesDone: number;
	/** Why, for `failed`; at most 200 bytes. */
	reason: string;
}

/** The sender ends an offer (sender → receiver). */
export interface OfferClose extends PeerMessageHead {
	type: "offerClose";
	/** 0: the final progress arrived; 1: the sender withdraws the offer (timed out, stopped). */
	withdrawn: boolean;
}

/** One chunk of a text message (sender → receiver). */
export interface TextChunk extends PeerMessageHead {
	type: "text";
	chunk: number;
	chunks: number;
	/** Bytes of the whole text's UTF-8, 0..65536. */
	totalBytes: number;
	/** This chunk's slice of the text's UTF-8 (the whole is checked once joined). */
	bytes: Uint8Array;
}

/** The text arrived whole (receiver → sender). */
export interface TextAck extends PeerMessageHead {
	type: "textAck";
}

/** Any message of §16. */
export type PeerMessage =
	| OfferChunk
	| OfferAnswer
	| OfferProgress
	| OfferClose
	| TextChunk
	| TextAck;

const utf8 = new TextEncoder();

/** True when a plain datagram's type byte is one of §16's (0x30..0x3f). */
export function isPeerMessageType(datagram: Uint8Array): boolean {
	return datagram.length >= HEADER_SIZE && datagram[3] >= 0x30 && datagram[3] <= 0x3f;
}

function checkFixed(name: string, b: Uint8Array, size: number): void {
	if (b.length !== size) throw new RangeError(`${name} must be ${size} bytes, got ${b.length}`);
}

/** Encoded size of an offer chunk. */
export function offerChunkSize(note: string, entries: ListEntry[]): number {
	return (
		OFFER_OVERHEAD + Buffer.byteLength(note) + entries.reduce((n, e) => n + listEntrySize(e), 0)
	);
}

/**
 * Encodes a §16 message and signs it (`Identity.signBytes`: the sender's Ed25519 key): the
 * signature covers every byte before it, header included.
 * @param sign - returns the 64-byte Ed25519 signature of its argument
 * @throws RangeError when a field is out of its bounds (a caller's bug)
 */
export function encodePeerMessage(
	message: PeerMessage,
	sign: (bytes: Uint8Array) => Uint8Array,
): Buffer {
	checkFixed("from", message.from, PEER_ID_SIZE);
	checkFixed("publicKey", message.publicKey, PUBLIC_KEY_SIZE);
	checkFixed("to", message.to, PEER_ID_SIZE);
	checkFixed("exchangeId", message.exchangeId, EXCHANGE_ID_SIZE);
	let body: Writer;
	let type: number;
	switch (message.type) {
		case "offer": {
			const note = utf8.encode(message.note);
			if (note.length > MAX_NOTE_BYTES) throw new RangeError("note over 1024 bytes");
			if (message.chunk !== 0 && note.length > 0) throw new RangeError("a note goes in chunk 0");
			checkChunks(message.chunk, message.chunks);
			if (message.entryCount < 1 || message.entryCount > MAX_OFFER_ENTRIES)
				throw new RangeError("entryCount out of 1..4096");
			if (message.entries.length > message.entryCount)
				throw new RangeError("more entries than entryCount");
			for (const e of message.entries) checkEntry(e);
			body = new Writer(offerChunkSize(message.note, message.entries) - PEER_MESSAGE_OVERHEAD);
			body.u16(message.chunk).u16(message.chunks).u32(message.entryCount).u64(message.totalSize);
			body.u16(note.length).bytes(note).u16(message.entries.length);
			for (const e of message.entries) writeEntry(body, e);
			type = PeerMessageType.offer;
			break;
		}
		case "offerAnswer": {
			const reason = reasonBytes(message.reason);
			if (!Object.values(AnswerStatus).includes(message.status)) throw new RangeError("bad status");
			body = new Writer(2 + reason.length).u8(message.status).u8(reason.length).bytes(reason);
			type = PeerMessageType.offerAnswer;
			break;
		}
		case "offerProgress": {
			const reason = reasonBytes(message.reason);
			if (!Object.values(ProgressState).includes(message.state)) throw new RangeError("bad state");
			if (message.bytesDone > message.bytesTotal) throw new RangeError("bytesDone over bytesTotal");
			body = new Writer(1 + 8 + 8 + 4 + 1 + reason.length).u8(message.state);
			body.u64(message.bytesDone).u64(message.bytesTotal).u32(message.filesDone);
			body.u8(reason.length).bytes(reason);
			type = PeerMessageType.offerProgress;
			break;
		}
		case "offerClose":
			body = new Writer(1).u8(message.withdrawn ? 1 : 0);
			type = PeerMessageType.offerClose;
			break;
		case "text": {
			checkChunks(message.chunk, message.chunks);
			if (message.totalBytes > MAX_TEXT_BYTES) throw new RangeError("text over 64 KiB");
			if (message.bytes.length > message.totalBytes) throw new RangeError("chunk over the text");
			body = new Writer(2 + 2 + 4 + 2 + message.bytes.length);
			body.u16(message.chunk).u16(message.chunks).u32(message.totalBytes);
			body.u16(message.bytes.length).bytes(message.bytes);
			type = PeerMessageType.text;
			break;
		}
		case "textAck":
			body = new Writer(0);
			type = PeerMessageType.textAck;
			break;
	}
	const inner = body.finish();
	const w = new Writer(PEER_MESSAGE_OVERHEAD + inner.length);
	w.u8(0x50).u8(0x32).u8(PROTOCOL_VERSION).u8(type);
	w.bytes(message.from).bytes(message.publicKey).u64(message.timestamp).bytes(message.to);
	w.bytes(message.exchangeId).bytes(inner).bytes(new Uint8Array(SIGNATURE_SIZE));
	const datagram = w.finish();
	if (datagram.length > MAX_DATAGRAM) throw new RangeError("message over one datagram");
	const signed = datagram.subarray(0, datagram.length - SIGNATURE_SIZE);
	datagram.set(sign(signed), datagram.length - SIGNATURE_SIZE);
	return datagram;
}

function checkChunks(chunk: number, chunks: number): void {
	if (chunks < 1 || chunks > MAX_CHUNKS || chunk >= chunks) throw new RangeError("bad chunk index");
}

function reasonBytes(reason: string): Uint8Array {
	const bytes = utf8.encode(reason);
	if (bytes.length > MAX_REASON_BYTES) throw new RangeError("reason over 200 bytes");
	return bytes;
}

/** A decoded message with its signature and the bytes it signs. */
export interface SignedPeerMessage {
	message: PeerMessage;
	/** 64 bytes. */
	signature: Uint8Array;
	/** The datagram's bytes before the signature. */
	signed: Uint8Array;
}

/**
 * Decodes one plain datagram of §16. Checks every bound, not the signature (see
 * `checkPeerSignature` in `identity.ts`).
 * @returns the message, or null when it is not a valid §16 message
 */
export function decodePeerMessage(datagram: Uint8Array): SignedPeerMessage | null {
	if (datagram.length < PEER_MESSAGE_OVERHEAD || datagram.length > MAX_DATAGRAM) return null;
	if (datagram[0] !== 0x50 || datagram[1] !== 0x32 || datagram[2] !== PROTOCOL_VERSION) return null;
	const end = datagram.length - SIGNATURE_SIZE;
	const r = new Reader(datagram.subarray(0, end));
	r.offset = HEADER_SIZE;
	const head: PeerMessageHead = {
		from: r.bytes(PEER_ID_SIZE),
		publicKey: r.bytes(PUBLIC_KEY_SIZE),
		timestamp: r.u64(),
		to: r.bytes(PEER_ID_SIZE),
		exchangeId: r.bytes(EXCHANGE_ID_SIZE),
	};
	let message: PeerMessage | null = null;
	switch (datagram[3]) {
		case PeerMessageType.offer: {
			const chunk = r.u16();
			const chunks = r.u16();
			const entryCount = r.u32();
			const totalSize = r.u64();
			const noteLength = r.u16();
			if (chunks < 1 || chunks > MAX_CHUNKS || chunk >= chunks) r.fail();
			if (entryCount < 1 || entryCount > MAX_OFFER_ENTRIES) r.fail();
			if (noteLength > MAX_NOTE_BYTES || (chunk !== 0 && noteLength !== 0)) r.fail();
			const note = r.utf8(noteLength);
			const count = r.u16();
			// A count the datagram cannot hold is a lie, refused before parsing.
			if (count > entryCount || count * MIN_ENTRY_SIZE > r.remaining) r.fail();
			const entries: ListEntry[] = [];
			for (let i = 0; i < count && r.ok; i++) entries.push(readEntry(r));
			message = { type: "offer", ...head, chunk, chunks, entryCount, totalSize, note, entries };
			break;
		}
		case PeerMessageType.offerAnswer: {
			const status = r.u8();
			if (status > AnswerStatus.refused) r.fail();
			const reason = readReason(r);
			message = { type: "offerAnswer", ...head, status: status as OfferAnswer["status"], reason };
			break;
		}
		case PeerMessageType.offerProgress: {
			const state = r.u8();
			const bytesDone = r.u64();
			const bytesTotal = r.u64();
			const filesDone = r.u32();
			if (state > ProgressState.failed || bytesDone > bytesTotal) r.fail();
			const reason = readReason(r);
			message = {
				type: "offerProgress",
				...head,
				state: state as OfferProgress["state"],
				bytesDone,
				bytesTotal,
				filesDone,
				reason,
			};
			break;
		}
		case PeerMessageType.offerClose: {
			const withdrawn = r.u8();
			if (withdrawn > 1) r.fail();
			message = { type: "offerClose", ...head, withdrawn: withdrawn === 1 };
			break;
		}
		case PeerMessageType.text: {
			const chunk = r.u16();
			const chunks = r.u16();
			const totalBytes = r.u32();
			const length = r.u16();
			if (chunks < 1 || chunks > MAX_CHUNKS || chunk >= chunks) r.fail();
			if (totalBytes > MAX_TEXT_BYTES || length > totalBytes) r.fail();
			message = { type: "text", ...head, chunk, chunks, totalBytes, bytes: r.bytes(length) };
			break;
		}
		case PeerMessageType.textAck:
			message = { type: "textAck", ...head };
			break;
		default:
			return null;
	}
	if (!r.done || !message) return null;
	return { message, signature: datagram.subarray(end), signed: datagram.subarray(0, end) };
}

function readReason(r: Reader): string {
	const length = r.u8();
	if (length > MAX_REASON_BYTES) r.fail();
	return r.utf8(length);
}
