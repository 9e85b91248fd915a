/**
 * What the fuzz targets check of every input: the decoders' contract. A decoder given
 * untrusted bytes returns null or a valid value and never throws; a value it returns
 * re-encodes to the very bytes it came from (one encoding per value), respects every bound
 * the rest of the program relies on, and holds no more items than the bytes can carry
 * (nothing is sized from a claimed count). A broken rule throws {@link FuzzBug}: the only
 * thing a target throws, so anything it throws is a real bug.
 */
import { hash } from "../source/protocol/hash.js";
import { MAX_PIECES } from "../source/protocol/manifest.js";
import {
	decodeMessage,
	encodeMessage,
	HASH_SIZE,
	HEADER_SIZE,
	isFolderEntry,
	type ListEntry,
	MAX_BLOCK_SIZE,
	MAX_DATAGRAM,
	MAX_MANIFEST_BYTES,
	MAX_NAME_BYTES,
	MAX_PATH_BYTES,
	MAX_RANGE_SIZE,
	type Message,
	MessageType,
} from "../source/protocol/messages.js";

/** A broken decoder rule: what a fuzz target throws on a real bug. */
export class FuzzBug extends Error {
	override name = "FuzzBug";
}

/** Throws a {@link FuzzBug} saying `what` unless `condition` holds. */
export function check(condition: unknown, what: string): asserts condition {
	if (!condition) throw new FuzzBug(what);
}

/** True when two byte sequences are equal. */
export function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
	return Buffer.from(a.buffer, a.byteOffset, a.byteLength).equals(b);
}

/**
 * The input with its last 32 bytes replaced by the BLAKE3 of the rest: lets a mutated
 * resume record or `.p2p` file past its check, so the fuzzer reaches the fields behind it.
 */
export function withCheck(data: Uint8Array): Buffer {
	if (data.length < HASH_SIZE) return Buffer.from(data);
	const body = data.subarray(0, data.length - HASH_SIZE);
	return Buffer.concat([body, hash(body)]);
}

/** Type names by code, as `decodeMessage` names them. */
const typeNames = new Map<number, string[]>([
	[MessageType.announce, ["announce"]],
	[MessageType.leave, ["leave"]],
	[MessageType.retry, ["retry"]],
	[MessageType.listRequest, ["listRequest"]],
	[MessageType.listPage, ["listPage"]],
	[MessageType.manifestRequest, ["manifestRequest"]],
	[MessageType.manifestChunk, ["manifestChunk"]],
	[MessageType.blockRequest, ["blockRequest"]],
	[MessageType.rangeRequest, ["rangeRequest"]],
	[MessageType.data, ["data"]],
	[MessageType.error, ["error"]],
	[MessageType.listDeltaRequest, ["listDeltaRequest"]],
	[MessageType.listDelta, ["listDelta"]],
	[MessageType.interest, ["interest"]],
	[MessageType.push, ["push"]],
]);

/** Smallest encoded list entry (1-byte name), in bytes. */
const MIN_ENTRY = HASH_SIZE * 2 + 8 + 2 + 1;

function checkEntry(entry: ListEntry, where: string): void {
	const nameBytes = Buffer.byteLength(entry.name);
	check(nameBytes >= 1 && nameBytes <= MAX_PATH_BYTES, `${where}: name of ${nameBytes} bytes`);
	check(Number.isSafeInteger(entry.size) && entry.size >= 0, `${where}: size ${entry.size}`);
	check(entry.fileId.length === HASH_SIZE && entry.contentHash.length === HASH_SIZE, where);
	if (isFolderEntry(entry)) check(entry.size === 0, `${where}: a folder with a size`);
}

/**
 * Decodes one datagram and checks the result against every rule of docs/protocol.md.
 * @param data - untrusted bytes
 * @returns the message, or null when the datagram was refused
 * @throws FuzzBug when the decoder broke a rule (a real bug)
 */
export function checkMessage(data: Uint8Array): Message | null {
	const message = decodeMessage(data);
	if (!message) return null;
	check(data.length >= HEADER_SIZE && data.length <= MAX_DATAGRAM, "accepted a bad length");
	check(typeNames.get(data[3])?.includes(message.type), `type 0x${data[3]} as ${message.type}`);
	let again: Buffer;
	try {
		again = encodeMessage(message);
	} catch (error) {
		throw new FuzzBug(`decoded a ${message.type} the encoder refuses: ${String(error)}`);
	}
	check(sameBytes(again, data), `${message.type} does not re-encode to its bytes`);
	switch (message.type) {
		case "announce":
			check(message.basePort >= 1 && message.basePort <= 65532, "announce basePort");
			check(message.interval >= 10, "announce interval");
			check(Buffer.byteLength(message.name) <= MAX_NAME_BYTES, "announce name");
			break;
		case "listPage":
			check(message.entries.length * MIN_ENTRY <= data.length, "more entries than bytes");
			check(message.index + message.entries.length <= message.total, "list page past total");
			message.entries.forEach((e, i) => {
				checkEntry(e, `entry ${i}`);
			});
			break;
		case "listDelta":
			check(message.status === 0 || message.status === 1, "delta status");
			check(message.changes.length * (MIN_ENTRY + 1) <= data.length, "more changes than bytes");
			check(message.index + message.changes.length <= message.total, "delta past total");
			if (message.status === 1)
				check(message.total === 0 && message.changes.length === 0, "full-list with changes");
			message.changes.forEach((c, i) => {
				checkEntry(c.entry, `change ${i}`);
			});
			break;
		case "manifestChunk":
			check(message.total <= MAX_MANIFEST_BYTES, `manifest total ${message.total}`);
			check(message.offset + message.bytes.length <= message.total, "chunk past total");
			break;
		case "blockRequest":
			check(message.length >= 1 && message.length <= MAX_BLOCK_SIZE, "block length");
			check(Number.isSafeInteger(message.offset), "block offset");
			break;
		case "rangeRequest":
			check(message.length >= 1 && message.length <= MAX_RANGE_SIZE, "range length");
			check(message.blockSize >= 1 && message.blockSize <= MAX_BLOCK_SIZE, "range block size");
			check(Number.isSafeInteger(message.offset), "range offset");
			break;
		case "data":
		case "push":
			check(message.payload.length >= 1, "empty payload");
			check(Number.isSafeInteger(message.offset), "data offset");
			break;
		case "interest": {
			check(message.firstPiece % 8 === 0, "interest firstPiece");
			const mapBytes = Math.ceil(message.pieceCount / 8);
			check(message.firstPiece / 8 + message.have.length <= mapBytes, "have-map past the end");
			// What the distribute port does with it (for a download of that many pieces).
			if (message.pieceCount <= MAX_PIECES) {
				const have = new Uint8Array(mapBytes);
				have.set(
					message.have.subarray(0, have.length - message.firstPiece / 8),
					message.firstPiece / 8,
				);
			}
			break;
		}
		default:
			break;
	}
	return message;
}

/** The input with its header replaced by a valid one of message type `code`. */
export function withHeader(data: Uint8Array, code: number): Buffer {
	const out = Buffer.from(data.length >= HEADER_SIZE ? data : Buffer.alloc(HEADER_SIZE));
	out[0] = 0x50;
	out[1] = 0x32;
	out[2] = 1;
	out[3] = code;
	return out;
}

/**
 * A fuzz target for one message type: decodes the input as it is and with its header made
 * that type's (so mutations spend themselves on the body).
 */
export function messageTarget(code: number): (data: Buffer) => void {
	return (data) => {
		checkMessage(data);
		checkMessage(withHeader(data, code));
	};
}

/** A length or count field the mutator should hit with interesting integers. */
export interface Field {
	/** Byte offset in the seed input. */
	offset: number;
	/** Width in bytes (big-endian). */
	size: 1 | 2 | 4 | 8;
}
