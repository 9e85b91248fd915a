/**
 * Wire messages of p2p-tui, protocol version 1: their types and pure codecs.
 *
 * Every datagram starts with a 4-byte header: magic `P2` (0x50 0x32), version (1) and a
 * message type. Discovery messages travel on the discovery port; the rest on the four
 * transfer ports. The field-by-field layout, sizes and byte order are in docs/protocol.md;
 * keep the two in step. `decodeMessage` never throws: a malformed, truncated, oversized
 * or unknown datagram decodes to `null`, and the caller drops and counts it.
 */
import { isIPv4, isIPv6 } from "node:net";
import { Reader, Writer } from "./wire.js";

/** Protocol version carried in every header. */
export const PROTOCOL_VERSION = 1;
/** Header size in bytes: magic (2), version (1), type (1). */
export const HEADER_SIZE = 4;
const MAGIC_0 = 0x50; // 'P'
const MAGIC_1 = 0x32; // '2'

/** Length in bytes of a peer id. */
export const PEER_ID_SIZE = 16;
/** Length in bytes of a file id, a content hash or a piece hash (BLAKE3, 256 bits). */
export const HASH_SIZE = 32;
/** Length in bytes of an address-validation token. */
export const TOKEN_SIZE = 16;
/** Longest peer name on the wire, in bytes of UTF-8. */
export const MAX_NAME_BYTES = 64;
/** Longest file path on the wire, in bytes of UTF-8. */
export const MAX_PATH_BYTES = 1024;
/** Largest block a request may ask for, in bytes (fits a loopback datagram with headers). */
export const MAX_BLOCK_SIZE = 60 * 1024;
/**
 * Largest range a `rangeRequest` may ask for, in bytes (1 MiB: a 256 KiB piece four times
 * over; a range never crosses a piece boundary anyway).
 */
export const MAX_RANGE_SIZE = 1024 * 1024;
/** Size of a `rangeRequest` in bytes. */
export const RANGE_REQUEST_SIZE = 4 + 16 + 32 + 8 + 4 + 4;
/** Largest UDP payload we ever send or accept, in bytes. */
export const MAX_DATAGRAM = 65_507;
/**
 * Largest manifest encoding, in bytes: 49 + 32 × 65,536 piece hashes (docs/protocol.md §4).
 * A `manifestChunk` claiming a larger `total` is refused, so a peer cannot make us set
 * aside more than this for a manifest before the bytes arrive.
 */
export const MAX_MANIFEST_BYTES = 49 + 32 * 65_536;
/**
 * Smallest chunk a manifest is fetched in, in bytes (unless the manifest is shorter): a
 * sender's chunk fills its datagram (at least 1,172 bytes on any IPv4 path), so a first
 * chunk under this is a peer trying to make us send one request per byte.
 */
export const MIN_MANIFEST_CHUNK = 1_024;

/** Length in bytes of a raw Ed25519 public key (RFC 8032 section 5.1.5). */
export const PUBLIC_KEY_SIZE = 32;
/** Length in bytes of an Ed25519 signature (RFC 8032 section 5.1.6). */
export const SIGNATURE_SIZE = 64;

/** Message type codes (the header's fourth byte). */
export const MessageType = {
	// 0x01 and 0x02 were the unsigned announce and leave of builds before the lasting
	// identity (issue 12): retired, they decode as malformed.
	announce: 0x03,
	leave: 0x04,
	/** Peer exchange: peers the sender has proved, for a validated peer (docs/protocol.md §15). */
	pex: 0x05,
	/** A signed announce sent by unicast to a named peer, padded; asks for an announce back (§15). */
	hello: 0x06,
	retry: 0x10,
	listRequest: 0x11,
	listPage: 0x12,
	manifestRequest: 0x13,
	manifestChunk: 0x14,
	blockRequest: 0x15,
	data: 0x16,
	error: 0x17,
	listDeltaRequest: 0x18,
	listDelta: 0x19,
	// 0x20 was the interest of builds before address validation (no token): retired.
	push: 0x21,
	interest: 0x22,
	/** Revision 3 (issue 14): many blocks for one request. */
	rangeRequest: 0x23,
} as const;

/** Error codes carried by an `error` message. */
export const ErrorCode = {
	/** The file id is not (or no longer) shared by this peer. */
	notFound: 1,
	/** The requested range lies outside the file or manifest. */
	badRange: 2,
	/** The peer could not read the file. */
	unavailable: 3,
} as const;

/**
 * Periodic presence on the discovery port (broadcast), signed by the sender's identity key
 * (docs/protocol.md §3, §14): `signature` is Ed25519 over every byte before it.
 */
export interface Announce {
	type: "announce";
	/** The sender's peer id: the first 16 bytes of BLAKE3(`publicKey`). */
	peerId: Uint8Array;
	/** The sender's raw Ed25519 public key (32 bytes). */
	publicKey: Uint8Array;
	/**
	 * When it was signed, in ms since the epoch by the sender's clock, strictly increasing
	 * per sender process: receivers drop an announce or leave older than the newest they hold.
	 */
	timestamp: number;
	/** First of the four transfer ports (receive); the others follow it. */
	basePort: number;
	/** Revision of the shared list; changes whenever the list does. */
	revision: number;
	/** Number of files shared. */
	fileCount: number;
	/** Announce interval in ms; listeners expire the peer after three missed ones. */
	interval: number;
	/** Peer name, at most 64 bytes of UTF-8. */
	name: string;
	/** Ed25519 signature (64 bytes) over the encoding up to this field. */
	signature: Uint8Array;
}

/**
 * A signed announce sent by unicast to a peer named by address (or learned by peer
 * exchange), whole, with how we came to know the receiver, padded with zeros to
 * {@link HELLO_SIZE} bytes, so the announce it asks for (at most 203 bytes) is never larger
 * than what came in (no amplification before the sender's address is validated).
 */
export interface Hello {
	type: "hello";
	/** How the sender knows the receiver: named by address, or learned by peer exchange. */
	via: "named" | "exchange";
	/** The sender's signed announce datagram (header and signature included). */
	announce: Uint8Array;
}

/** Offset of the name length byte in an announce datagram. */
const ANNOUNCE_NAME_LENGTH_AT = HEADER_SIZE + PEER_ID_SIZE + PUBLIC_KEY_SIZE + 8 + 2 + 4 + 4 + 4;
/**
 * Size of every `hello` datagram in bytes (208): header, the `via` byte and the longest
 * announce (203 bytes, a 64-byte name).
 */
export const HELLO_SIZE =
	HEADER_SIZE + 1 + ANNOUNCE_NAME_LENGTH_AT + 1 + MAX_NAME_BYTES + SIGNATURE_SIZE;
/** The `via` byte of a hello. */
const HELLO_VIA = { named: 0, exchange: 1 } as const;

/** Most entries in one `pex` message (19 bytes each at most: one small datagram). */
export const MAX_PEX_ENTRIES = 32;

/** A peer's discovery endpoint in a `pex` message. */
export interface PexEntry {
	/** IPv4 dotted quad, or IPv6 text (RFC 5952 form on decode; no zone). */
	address: string;
	/** Its discovery UDP port, 1..65535. */
	port: number;
}

/**
 * Peer exchange: discovery endpoints of peers the sender knows and has proved receive
 * (docs/protocol.md §15). Sent only to validated peers; taken only from them.
 */
export interface Pex {
	type: "pex";
	/** At most {@link MAX_PEX_ENTRIES}. */
	entries: PexEntry[];
}

/** Goodbye on the discovery port: remove this peer at once. Signed like an announce. */
export interface Leave {
	type: "leave";
	peerId: Uint8Array;
	/** The sender's raw Ed25519 public key (32 bytes). */
	publicKey: Uint8Array;
	/** When it was signed, in ms since the epoch (see {@link Announce.timestamp}). */
	timestamp: number;
	/** Ed25519 signature (64 bytes) over the encoding up to this field. */
	signature: Uint8Array;
}

/** Announce or leave: the signed discovery messages. */
export type SignedMessage = Announce | Leave;

/**
 * The bytes a discovery message's signature covers: everything but its last 64 bytes
 * (header included, so an announce's signature cannot pass for a leave's).
 * @param datagram - an encoded announce or leave
 */
export function signedPart(datagram: Uint8Array): Uint8Array {
	return datagram.subarray(0, Math.max(0, datagram.length - SIGNATURE_SIZE));
}

/** Size in bytes of an announce without its name (header included): 139. */
export const ANNOUNCE_OVERHEAD =
	HEADER_SIZE + PEER_ID_SIZE + PUBLIC_KEY_SIZE + 8 + 2 + 4 + 4 + 4 + 1 + SIGNATURE_SIZE;
/** Size in bytes of a leave (header included): 124. */
export const LEAVE_SIZE = HEADER_SIZE + PEER_ID_SIZE + PUBLIC_KEY_SIZE + 8 + SIGNATURE_SIZE;

/** Address validation (QUIC Retry, RFC 9000 section 8.1): resend with this token. */
export interface Retry {
	type: "retry";
	/** Request id of the request that carried no valid token (0 for block requests). */
	requestId: number;
	token: Uint8Array;
}

/** Asks for entries of the shared list starting at `index`. */
export interface ListRequest {
	type: "listRequest";
	token: Uint8Array;
	requestId: number;
	/** Index of the first entry wanted. */
	index: number;
}

/**
 * One entry of a shared list: a file, or a folder with no shared file under it (an
 * empty folder, so a peer can recreate it). A folder entry has an all-zero `fileId`, size 0
 * and an all-zero `contentHash` (see {@link folderEntry}); no BLAKE3 digest is all zeros in
 * practice, so no file is mistaken for one.
 */
export interface ListEntry {
	/** File id (BLAKE3 of the manifest encoding); all zeros for a folder. */
	fileId: Uint8Array;
	/** Size in bytes; 0 for a folder. */
	size: number;
	/** BLAKE3 of the whole content; all zeros for a folder. */
	contentHash: Uint8Array;
	/** Path relative to the shared folder with `/`, at most 1024 bytes of UTF-8. */
	name: string;
}

const ZERO_HASH = new Uint8Array(32);

/**
 * The list entry of a folder: all-zero file id and content hash, size 0.
 * @param path - the folder's path relative to the shared folder, `/`-separated, no trailing `/`
 */
export function folderEntry(path: string): ListEntry {
	return { fileId: ZERO_HASH, size: 0, contentHash: ZERO_HASH, name: path };
}

/** True when a list entry is a folder (its file id is all zeros). */
export function isFolderEntry(entry: ListEntry): boolean {
	return isZero(entry.fileId);
}

function isZero(bytes: Uint8Array): boolean {
	for (let i = 0; i < bytes.length; i++) if (bytes[i] !== 0) return false;
	return true;
}

/** A page of the shared list. */
export interface ListPage {
	type: "listPage";
	requestId: number;
	/** Revision of the list the page was cut from. */
	revision: number;
	/** Total number of entries in the list. */
	total: number;
	/** Index of the first entry of this page. */
	index: number;
	entries: ListEntry[];
}

/**
 * Asks for the changes of the shared list since revision `since` (one we hold), from
 * change `index` on. Answered by `listDelta`.
 */
export interface ListDeltaRequest {
	type: "listDeltaRequest";
	token: Uint8Array;
	requestId: number;
	/** The revision of the list the requester holds. */
	since: number;
	/** Index of the first change wanted. */
	index: number;
}

/** One change of a list delta: an entry added to or removed from the list. */
export interface ListChange {
	/** True when the entry was removed, false when it was added. */
	removed: boolean;
	entry: ListEntry;
}

/** Status of a list delta. */
export const DeltaStatus = {
	/** The changes from `since` to `revision` follow. */
	ok: 0,
	/** No delta from that revision (too old, unknown, or larger than the list): fetch the whole list. */
	fullList: 1,
} as const;

/** A page of the changes between two revisions of the shared list. */
export interface ListDelta {
	type: "listDelta";
	requestId: number;
	/** {@link DeltaStatus}: 0 the changes follow, 1 fetch the whole list instead. */
	status: number;
	/** The revision the changes start from (from the request). */
	since: number;
	/** The revision the changes lead to (the current one). */
	revision: number;
	/** Total number of changes from `since` to `revision` (0 with status 1). */
	total: number;
	/** Index of this page's first change. */
	index: number;
	changes: ListChange[];
}

/** Asks for the manifest encoding of a file, from byte `offset`. */
export interface ManifestRequest {
	type: "manifestRequest";
	token: Uint8Array;
	requestId: number;
	fileId: Uint8Array;
	offset: number;
}

/** A slice of a manifest encoding. */
export interface ManifestChunk {
	type: "manifestChunk";
	requestId: number;
	fileId: Uint8Array;
	/** Total length of the manifest encoding in bytes. */
	total: number;
	offset: number;
	bytes: Uint8Array;
}

/** Asks for `length` bytes of a file at `offset`; answered by one `data` message. */
export interface BlockRequest {
	type: "blockRequest";
	token: Uint8Array;
	fileId: Uint8Array;
	/** Byte offset in the file. */
	offset: number;
	/** Bytes wanted, 1 to MAX_BLOCK_SIZE. */
	length: number;
}

/**
 * Asks for `length` bytes of a file at `offset`, answered as one `data` message per block of
 * `blockSize` bytes (the last one shorter): a window of blocks for one request (revision 3).
 */
export interface RangeRequest {
	type: "rangeRequest";
	token: Uint8Array;
	fileId: Uint8Array;
	/** Byte offset in the file of the first block. */
	offset: number;
	/** Bytes wanted in all, 1 to MAX_RANGE_SIZE. */
	length: number;
	/** Payload bytes per `data` answer, 1 to MAX_BLOCK_SIZE. */
	blockSize: number;
}

/** A block of file content: the answer to a block request (`data`) or a pushed block (`push`). */
export interface Data {
	type: "data" | "push";
	fileId: Uint8Array;
	/** Byte offset of `payload` in the file. */
	offset: number;
	payload: Uint8Array;
}

/** A request could not be served. */
export interface ErrorMessage {
	type: "error";
	code: number;
	fileId: Uint8Array;
	/** The request id, or for a block request its offset. */
	ref: number;
}

/**
 * Tells a peer's distribute port that we are fetching `fileId` and which pieces we have
 * (a have-map slice), or with `done` that we no longer want pushes.
 */
export interface Interest {
	type: "interest";
	/**
	 * Address-validation token from the receiver's distribute port (zeros before its first
	 * Retry): a receiver acts only on an interest whose token it issued to the sender.
	 */
	token: Uint8Array;
	peerId: Uint8Array;
	fileId: Uint8Array;
	/** Number of pieces in the file. */
	pieceCount: number;
	/** True when we stopped fetching (completed or cancelled). */
	done: boolean;
	/** Piece index of the first bit of `have`; a multiple of 8. */
	firstPiece: number;
	/** Have-map bits, most significant bit first: bit i set means piece firstPiece+i is held. */
	have: Uint8Array;
}

/** Any decoded message. */
export type Message =
	| Announce
	| Hello
	| Pex
	| Leave
	| Retry
	| ListRequest
	| ListPage
	| ListDeltaRequest
	| ListDelta
	| ManifestRequest
	| ManifestChunk
	| BlockRequest
	| RangeRequest
	| Data
	| ErrorMessage
	| Interest;

const utf8 = new TextEncoder();

/**
 * The 4 or 16 bytes of an IPv4 or IPv6 address in text (RFC 4291 §2.2 forms, no zone id),
 * or undefined when it is neither.
 */
export function ipBytes(address: string): Uint8Array | undefined {
	if (isIPv4(address)) return Uint8Array.from(address.split(".").map(Number));
	if (!isIPv6(address) || address.includes("%")) return undefined;
	let text = address;
	// An IPv4 tail (::ffff:1.2.3.4) as two groups.
	const v4 = /(\d+\.\d+\.\d+\.\d+)$/.exec(text);
	if (v4) {
		const [a, b, c, d] = v4[1].split(".").map(Number);
		text = `${text.slice(0, -v4[1].length)}${((a << 8) | b).toString(16)}:${((c << 8) | d).toString(16)}`;
	}
	const [head, tail] = text.split("::");
	const groups = (part: string | undefined) => (part ? part.split(":") : []);
	const left = groups(head);
	const right = groups(tail);
	const all =
		tail === undefined
			? left
			: [...left, ...Array(8 - left.length - right.length).fill("0"), ...right];
	const out = new Uint8Array(16);
	all.forEach((g, i) => {
		const v = Number.parseInt(g, 16);
		out[2 * i] = v >> 8;
		out[2 * i + 1] = v & 0xff;
	});
	return out;
}

/** The text of 4 or 16 address bytes: dotted IPv4, or IPv6 in the RFC 5952 form. */
export function ipText(bytes: Uint8Array): string {
	if (bytes.length === 4) return bytes.join(".");
	const groups: string[] = [];
	for (let i = 0; i < 16; i += 2) groups.push(((bytes[i] << 8) | bytes[i + 1]).toString(16));
	// The URL parser writes IPv6 hosts in the RFC 5952 form (longest zero run as ::).
	return new URL(`http://[${groups.join(":")}]/`).hostname.slice(1, -1);
}
/** Kind byte of a list delta change. */
const CHANGE_ADDED = 1;
const CHANGE_REMOVED = 2;

function header(w: Writer, type: number): Writer {
	return w.u8(MAGIC_0).u8(MAGIC_1).u8(PROTOCOL_VERSION).u8(type);
}

function checkFixed(name: string, b: Uint8Array, size: number): void {
	if (b.length !== size) throw new RangeError(`${name} must be ${size} bytes, got ${b.length}`);
}

function checkSigned(m: SignedMessage): void {
	checkFixed("peerId", m.peerId, PEER_ID_SIZE);
	checkFixed("publicKey", m.publicKey, PUBLIC_KEY_SIZE);
	checkFixed("signature", m.signature, SIGNATURE_SIZE);
	if (!Number.isInteger(m.timestamp) || m.timestamp < 0 || m.timestamp > Number.MAX_SAFE_INTEGER)
		throw new RangeError("timestamp out of 0..2^53-1");
}

/** Encoded size in bytes of a list entry. */
export function listEntrySize(entry: ListEntry): number {
	return HASH_SIZE + 8 + HASH_SIZE + 2 + Buffer.byteLength(entry.name);
}

/** Size of a list page's fixed part (header included), in bytes. */
export const LIST_PAGE_OVERHEAD = HEADER_SIZE + 4 + 4 + 4 + 4 + 2;
/** Size of a list delta's fixed part (header included), in bytes. */
export const LIST_DELTA_OVERHEAD = HEADER_SIZE + 4 + 1 + 4 + 4 + 4 + 4 + 2;
/** Smallest encoded list entry (a 1-byte name), in bytes. */
/** Fewest bytes a list entry takes (a one-byte name). */
export const MIN_ENTRY_SIZE = HASH_SIZE * 2 + 10 + 1;

/** Encoded size in bytes of a list delta change (its kind byte and its entry). */
export function listChangeSize(change: ListChange): number {
	return 1 + listEntrySize(change.entry);
}

/** Checks a list entry before encoding it. @throws RangeError for a bad id, hash or name */
export function checkEntry(e: ListEntry): void {
	checkFixed("fileId", e.fileId, HASH_SIZE);
	checkFixed("contentHash", e.contentHash, HASH_SIZE);
	const bytes = Buffer.byteLength(e.name);
	if (bytes === 0) throw new RangeError("empty path");
	if (bytes > MAX_PATH_BYTES) throw new RangeError("path over 1024 bytes");
	if (isZero(e.fileId) && (e.size !== 0 || !isZero(e.contentHash)))
		throw new RangeError("a folder entry has size 0 and a zero content hash");
}

/** Writes one list entry (§3 listPage entry). */
export function writeEntry(w: Writer, e: ListEntry): void {
	const name = utf8.encode(e.name);
	w.bytes(e.fileId).u64(e.size).bytes(e.contentHash).u16(name.length).bytes(name);
}

/** Reads one list entry; fails the reader on a bad name length or a malformed folder entry. */
export function readEntry(r: Reader): ListEntry {
	const fileId = r.bytes(HASH_SIZE);
	const size = r.u64();
	const contentHash = r.bytes(HASH_SIZE);
	const nameLength = r.u16();
	if (nameLength === 0 || nameLength > MAX_PATH_BYTES) r.fail();
	if (r.ok && isZero(fileId) && (size !== 0 || !isZero(contentHash))) r.fail();
	return { fileId, size, contentHash, name: r.utf8(nameLength) };
}
/** Size of a data or push message's fixed part (header included), in bytes. */
export const DATA_OVERHEAD = HEADER_SIZE + HASH_SIZE + 8;
/** Size of an interest message without its have-map (header included), in bytes: 77. */
export const INTEREST_OVERHEAD = HEADER_SIZE + TOKEN_SIZE + PEER_ID_SIZE + HASH_SIZE + 4 + 1 + 4;

/**
 * Encodes the fixed part of a data or push message; sent together with the payload as
 * one datagram (`socket.send([header, payload])`), so the payload is never copied.
 * `Buffer.concat([encodeDataHeader(m), m.payload])` equals `encodeMessage(m)`.
 * @throws RangeError on a bad file id, offset, or an empty payload
 */
export function encodeDataHeader(message: Data): Buffer {
	checkFixed("fileId", message.fileId, HASH_SIZE);
	if (message.payload.length === 0) throw new RangeError("empty payload");
	const w = new Writer(DATA_OVERHEAD);
	header(w, message.type === "data" ? MessageType.data : MessageType.push);
	return w.bytes(message.fileId).u64(message.offset).finish();
}
/** Size of a manifest chunk's fixed part (header included), in bytes. */
export const MANIFEST_CHUNK_OVERHEAD = HEADER_SIZE + 4 + HASH_SIZE + 4 + 4;

/**
 * Encodes a message into one datagram.
 * @param message - a well-formed message (ids and tokens of their exact sizes)
 * @returns the datagram bytes
 * @throws RangeError when a field is out of its bounds (a bug in the caller, not bad input)
 */
export function encodeMessage(message: Message): Buffer {
	switch (message.type) {
		case "announce": {
			checkSigned(message);
			const name = utf8.encode(message.name);
			if (name.length > MAX_NAME_BYTES) throw new RangeError("peer name over 64 bytes");
			// The decoder drops these; refuse to send what every receiver would drop.
			if (message.basePort < 1 || message.basePort > 65532)
				throw new RangeError("basePort out of 1..65532");
			if (message.interval < 10) throw new RangeError("interval under 10 ms");
			const w = new Writer(ANNOUNCE_OVERHEAD + name.length);
			header(w, MessageType.announce).bytes(message.peerId).bytes(message.publicKey);
			w.u64(message.timestamp).u16(message.basePort);
			w.u32(message.revision).u32(message.fileCount).u32(message.interval);
			return w.u8(name.length).bytes(name).bytes(message.signature).finish();
		}
		case "hello": {
			if (decodeMessage(message.announce)?.type !== "announce")
				throw new RangeError("a hello carries one whole announce");
			const w = header(new Writer(HELLO_SIZE), MessageType.hello).u8(HELLO_VIA[message.via]);
			w.bytes(message.announce);
			return w
				.bytes(new Uint8Array(HELLO_SIZE - HEADER_SIZE - 1 - message.announce.length))
				.finish();
		}
		case "pex": {
			if (message.entries.length > MAX_PEX_ENTRIES)
				throw new RangeError(`over ${MAX_PEX_ENTRIES} pex entries`);
			const raw = message.entries.map((e) => {
				const bytes = ipBytes(e.address);
				if (!bytes) throw new RangeError(`not an IP address: ${e.address}`);
				if (!Number.isInteger(e.port) || e.port < 1 || e.port > 65535)
					throw new RangeError("pex port out of 1..65535");
				return { bytes, port: e.port };
			});
			const size = raw.reduce((n, e) => n + 3 + e.bytes.length, HEADER_SIZE + 1);
			const w = header(new Writer(size), MessageType.pex).u8(raw.length);
			for (const e of raw)
				w.u8(e.bytes.length === 4 ? 4 : 6)
					.bytes(e.bytes)
					.u16(e.port);
			return w.finish();
		}
		case "leave": {
			checkSigned(message);
			const w = new Writer(LEAVE_SIZE);
			header(w, MessageType.leave).bytes(message.peerId).bytes(message.publicKey);
			return w.u64(message.timestamp).bytes(message.signature).finish();
		}
		case "retry": {
			checkFixed("token", message.token, TOKEN_SIZE);
			const w = new Writer(HEADER_SIZE + 4 + TOKEN_SIZE);
			return header(w, MessageType.retry).u32(message.requestId).bytes(message.token).finish();
		}
		case "listRequest": {
			checkFixed("token", message.token, TOKEN_SIZE);
			const w = new Writer(HEADER_SIZE + TOKEN_SIZE + 4 + 4);
			header(w, MessageType.listRequest).bytes(message.token);
			return w.u32(message.requestId).u32(message.index).finish();
		}
		case "listPage": {
			let size = LIST_PAGE_OVERHEAD;
			for (const e of message.entries) {
				checkEntry(e);
				size += listEntrySize(e);
			}
			const w = new Writer(size);
			header(w, MessageType.listPage).u32(message.requestId).u32(message.revision);
			w.u32(message.total).u32(message.index).u16(message.entries.length);
			for (const e of message.entries) writeEntry(w, e);
			return w.finish();
		}
		case "listDeltaRequest": {
			checkFixed("token", message.token, TOKEN_SIZE);
			const w = new Writer(HEADER_SIZE + TOKEN_SIZE + 4 + 4 + 4);
			header(w, MessageType.listDeltaRequest).bytes(message.token).u32(message.requestId);
			return w.u32(message.since).u32(message.index).finish();
		}
		case "listDelta": {
			if (message.status !== DeltaStatus.ok && message.status !== DeltaStatus.fullList)
				throw new RangeError("unknown delta status");
			if (
				message.status === DeltaStatus.fullList &&
				(message.total !== 0 || message.index !== 0 || message.changes.length !== 0)
			)
				throw new RangeError("a full-list answer carries no changes");
			if (message.index + message.changes.length > message.total)
				throw new RangeError("index + count over total");
			let size = LIST_DELTA_OVERHEAD;
			for (const c of message.changes) {
				checkEntry(c.entry);
				size += listChangeSize(c);
			}
			const w = new Writer(size);
			header(w, MessageType.listDelta).u32(message.requestId).u8(message.status);
			w.u32(message.since).u32(message.revision).u32(message.total).u32(message.index);
			w.u16(message.changes.length);
			for (const c of message.changes) {
				w.u8(c.removed ? CHANGE_REMOVED : CHANGE_ADDED);
				writeEntry(w, c.entry);
			}
			return w.finish();
		}
		case "manifestRequest": {
			checkFixed("token", message.token, TOKEN_SIZE);
			checkFixed("fileId", message.fileId, HASH_SIZE);
			const w = new Writer(HEADER_SIZE + TOKEN_SIZE + 4 + HASH_SIZE + 4);
			header(w, MessageType.manifestRequest).bytes(message.token).u32(message.requestId);
			return w.bytes(message.fileId).u32(message.offset).finish();
		}
		case "manifestChunk": {
			checkFixed("fileId", message.fileId, HASH_SIZE);
			if (message.total > MAX_MANIFEST_BYTES) throw new RangeError("manifest over 2,097,201 bytes");
			const w = new Writer(MANIFEST_CHUNK_OVERHEAD + message.bytes.length);
			header(w, MessageType.manifestChunk).u32(message.requestId).bytes(message.fileId);
			return w.u32(message.total).u32(message.offset).bytes(message.bytes).finish();
		}
		case "blockRequest": {
			checkFixed("token", message.token, TOKEN_SIZE);
			checkFixed("fileId", message.fileId, HASH_SIZE);
			const w = new Writer(HEADER_SIZE + TOKEN_SIZE + HASH_SIZE + 8 + 4);
			header(w, MessageType.blockRequest).bytes(message.token).bytes(message.fileId);
			return w.u64(message.offset).u32(message.length).finish();
		}
		case "rangeRequest": {
			checkFixed("token", message.token, TOKEN_SIZE);
			checkFixed("fileId", message.fileId, HASH_SIZE);
			const w = new Writer(RANGE_REQUEST_SIZE);
			header(w, MessageType.rangeRequest).bytes(message.token).bytes(message.fileId);
			return w.u64(message.offset).u32(message.length).u32(message.blockSize).finish();
		}
		case "data":
		case "push": {
			checkFixed("fileId", message.fileId, HASH_SIZE);
			if (message.payload.length === 0) throw new RangeError("empty payload");
			const w = new Writer(DATA_OVERHEAD + message.payload.length);
			header(w, message.type === "data" ? MessageType.data : MessageType.push);
			return w.bytes(message.fileId).u64(message.offset).bytes(message.payload).finish();
		}
		case "error": {
			checkFixed("fileId", message.fileId, HASH_SIZE);
			const w = new Writer(HEADER_SIZE + 1 + HASH_SIZE + 8);
			header(w, MessageType.error).u8(message.code).bytes(message.fileId);
			return w.u64(message.ref).finish();
		}
		case "interest": {
			checkFixed("token", message.token, TOKEN_SIZE);
			checkFixed("peerId", message.peerId, PEER_ID_SIZE);
			checkFixed("fileId", message.fileId, HASH_SIZE);
			if (message.firstPiece % 8 !== 0) throw new RangeError("firstPiece must be a multiple of 8");
			const w = new Writer(INTEREST_OVERHEAD + message.have.length);
			header(w, MessageType.interest).bytes(message.token);
			w.bytes(message.peerId).bytes(message.fileId);
			w.u32(message.pieceCount)
				.u8(message.done ? 1 : 0)
				.u32(message.firstPiece);
			return w.bytes(message.have).finish();
		}
	}
}

/**
 * Decodes one datagram.
 * @param datagram - untrusted bytes as received
 * @returns the message, or `null` when the datagram is not a valid version-1 message
 *   (wrong magic or version, unknown type, truncated, trailing bytes, out-of-bound field).
 *   Byte fields are views into `datagram`; copy them to keep them past the datagram.
 */
export function decodeMessage(datagram: Uint8Array): Message | null {
	if (datagram.length < HEADER_SIZE || datagram.length > MAX_DATAGRAM) return null;
	if (datagram[0] !== MAGIC_0 || datagram[1] !== MAGIC_1 || datagram[2] !== PROTOCOL_VERSION) {
		return null;
	}
	const r = new Reader(datagram);
	r.offset = HEADER_SIZE;
	const message = decodeBody(datagram[3], r);
	return message && r.done ? message : null;
}

function decodeBody(type: number, r: Reader): Message | null {
	switch (type) {
		case MessageType.announce: {
			const peerId = r.bytes(PEER_ID_SIZE);
			const publicKey = r.bytes(PUBLIC_KEY_SIZE);
			const timestamp = r.u64();
			const basePort = r.u16();
			const revision = r.u32();
			const fileCount = r.u32();
			const interval = r.u32();
			const nameLength = r.u8();
			if (nameLength > MAX_NAME_BYTES || basePort === 0 || basePort > 65532) r.fail();
			if (interval < 10) r.fail();
			const name = r.utf8(nameLength);
			const signature = r.bytes(SIGNATURE_SIZE);
			return {
				type: "announce",
				peerId,
				publicKey,
				timestamp,
				basePort,
				revision,
				fileCount,
				interval,
				name,
				signature,
			};
		}
		case MessageType.hello: {
			const via = r.u8();
			if (via !== HELLO_VIA.named && via !== HELLO_VIA.exchange) r.fail();
			const rest = r.rest();
			// Exactly HELLO_SIZE bytes: one whole signed announce, then zeros.
			if (r.buffer.length !== HELLO_SIZE || rest.length <= ANNOUNCE_NAME_LENGTH_AT) {
				r.fail();
				return null;
			}
			const size = ANNOUNCE_NAME_LENGTH_AT + 1 + rest[ANNOUNCE_NAME_LENGTH_AT] + SIGNATURE_SIZE;
			const announce = rest.subarray(0, size);
			for (const b of rest.subarray(size)) if (b !== 0) r.fail();
			if (decodeMessage(announce)?.type !== "announce") r.fail();
			return { type: "hello", via: via === HELLO_VIA.exchange ? "exchange" : "named", announce };
		}
		case MessageType.pex: {
			const count = r.u8();
			if (count > MAX_PEX_ENTRIES) r.fail();
			const entries: PexEntry[] = [];
			for (let i = 0; i < count && r.ok; i++) {
				const family = r.u8();
				if (family !== 4 && family !== 6) r.fail();
				const address = ipText(r.bytes(family === 4 ? 4 : 16));
				const port = r.u16();
				if (port === 0) r.fail();
				entries.push({ address, port });
			}
			return { type: "pex", entries };
		}
		case MessageType.leave:
			return {
				type: "leave",
				peerId: r.bytes(PEER_ID_SIZE),
				publicKey: r.bytes(PUBLIC_KEY_SIZE),
				timestamp: r.u64(),
				signature: r.bytes(SIGNATURE_SIZE),
			};
		case MessageType.retry:
			return { type: "retry", requestId: r.u32(), token: r.bytes(TOKEN_SIZE) };
		case MessageType.listRequest:
			return {
				type: "listRequest",
				token: r.bytes(TOKEN_SIZE),
				requestId: r.u32(),
				index: r.u32(),
			};
		case MessageType.listPage: {
			const requestId = r.u32();
			const revision = r.u32();
			const total = r.u32();
			const index = r.u32();
			const count = r.u16();
			// Each entry takes at least 74 bytes: a count the datagram cannot hold is a lie.
			if (count * (HASH_SIZE * 2 + 10) > r.remaining) r.fail();
			const entries: ListEntry[] = [];
			for (let i = 0; i < count && r.ok; i++) entries.push(readEntry(r));
			if (index + count > total) r.fail();
			return { type: "listPage", requestId, revision, total, index, entries };
		}
		case MessageType.listDeltaRequest:
			return {
				type: "listDeltaRequest",
				token: r.bytes(TOKEN_SIZE),
				requestId: r.u32(),
				since: r.u32(),
				index: r.u32(),
			};
		case MessageType.listDelta: {
			const requestId = r.u32();
			const status = r.u8();
			const since = r.u32();
			const revision = r.u32();
			const total = r.u32();
			const index = r.u32();
			const count = r.u16();
			if (status !== DeltaStatus.ok && status !== DeltaStatus.fullList) r.fail();
			if (status === DeltaStatus.fullList && (total !== 0 || index !== 0 || count !== 0)) r.fail();
			// Each change takes at least 76 bytes: a count the datagram cannot hold is a lie.
			if (count * (MIN_ENTRY_SIZE + 1) > r.remaining) r.fail();
			if (index + count > total) r.fail();
			const changes: ListChange[] = [];
			for (let i = 0; i < count && r.ok; i++) {
				const kind = r.u8();
				if (kind !== CHANGE_ADDED && kind !== CHANGE_REMOVED) r.fail();
				changes.push({ removed: kind === CHANGE_REMOVED, entry: readEntry(r) });
			}
			return { type: "listDelta", requestId, status, since, revision, total, index, changes };
		}
		case MessageType.manifestRequest:
			return {
				type: "manifestRequest",
				token: r.bytes(TOKEN_SIZE),
				requestId: r.u32(),
				fileId: r.bytes(HASH_SIZE),
				offset: r.u32(),
			};
		case MessageType.manifestChunk: {
			const requestId = r.u32();
			const fileId = r.bytes(HASH_SIZE);
			const total = r.u32();
			const offset = r.u32();
			const bytes = r.rest();
			if (total > MAX_MANIFEST_BYTES || offset + bytes.length > total) r.fail();
			return { type: "manifestChunk", requestId, fileId, total, offset, bytes };
		}
		case MessageType.blockRequest: {
			const token = r.bytes(TOKEN_SIZE);
			const fileId = r.bytes(HASH_SIZE);
			const offset = r.u64();
			const length = r.u32();
			if (length === 0 || length > MAX_BLOCK_SIZE) r.fail();
			return { type: "blockRequest", token, fileId, offset, length };
		}
		case MessageType.rangeRequest: {
			const token = r.bytes(TOKEN_SIZE);
			const fileId = r.bytes(HASH_SIZE);
			const offset = r.u64();
			const length = r.u32();
			const blockSize = r.u32();
			if (length === 0 || length > MAX_RANGE_SIZE) r.fail();
			if (blockSize === 0 || blockSize > MAX_BLOCK_SIZE) r.fail();
			return { type: "rangeRequest", token, fileId, offset, length, blockSize };
		}
		case MessageType.data:
		case MessageType.push: {
			const fileId = r.bytes(HASH_SIZE);
			const offset = r.u64();
			const payload = r.rest();
			if (payload.length === 0) r.fail();
			return { type: type === MessageType.data ? "data" : "push", fileId, offset, payload };
		}
		case MessageType.error:
			return { type: "error", code: r.u8(), fileId: r.bytes(HASH_SIZE), ref: r.u64() };
		case MessageType.interest: {
			const token = r.bytes(TOKEN_SIZE);
			const peerId = r.bytes(PEER_ID_SIZE);
			const fileId = r.bytes(HASH_SIZE);
			const pieceCount = r.u32();
			const doneByte = r.u8();
			const firstPiece = r.u32();
			const have = r.rest();
			if (doneByte > 1 || firstPiece % 8 !== 0) r.fail();
			if (firstPiece + have.length * 8 > pieceCount + 7) r.fail();
			return {
				type: "interest",
				token,
				peerId,
				fileId,
				pieceCount,
				done: doneByte === 1,
				firstPiece,
				have,
			};
		}
		default:
			return null;
	}
}
