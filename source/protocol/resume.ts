/**
 * The resume record: which pieces of a partial download are verified and on disk, kept
 * beside the partial file (`<name>.p2p-resume`) so a download cut short (even by
 * `kill -9`) restarts fetching only what is missing. Pure codec; the download writes the
 * record after the data it describes and replaces it atomically (write, then rename).
 *
 * Layout (big-endian), documented in docs/protocol.md, section "Resume record":
 * magic "P2PR" (4), version u8 = 1, file id (32), size u64, piece size u32,
 * piece count u32, have-map (ceil(count / 8) bytes, most significant bit first), then the
 * BLAKE3 of everything before it (32), so a torn or damaged record is refused whole.
 */
import { hash } from "./hash.js";
import { pieceCount } from "./manifest.js";
import { HASH_SIZE } from "./messages.js";
import { Reader, Writer } from "./wire.js";

const MAGIC = Buffer.from("P2PR", "latin1");
export const RESUME_VERSION = 1;
/** Largest piece count a record may describe (as manifests). */
const MAX_RECORD_PIECES = 65_536;

/** What a resume record says. */
export interface ResumeRecord {
	/** 32-byte file id (the manifest's BLAKE3). */
	fileId: Uint8Array;
	/** File size in bytes. */
	size: number;
	/** Piece size in bytes. */
	pieceSize: number;
	/** Have-map: bit i (MSB first) set when piece i is verified and written. */
	have: Uint8Array;
}

/**
 * Encodes a resume record.
 * @throws RangeError when the have-map length does not match the piece count, or a field
 *   is out of range
 */
export function encodeResume(record: ResumeRecord): Buffer {
	const count = pieceCount(record.size, record.pieceSize);
	if (record.fileId.length !== HASH_SIZE) throw new RangeError("file id must be 32 bytes");
	if (record.have.length !== Math.ceil(count / 8)) throw new RangeError("have-map length");
	const body = 4 + 1 + HASH_SIZE + 8 + 4 + 4 + record.have.length;
	const w = new Writer(body + HASH_SIZE);
	w.bytes(MAGIC).u8(RESUME_VERSION).bytes(record.fileId).u64(record.size).u32(record.pieceSize);
	w.u32(count).bytes(record.have);
	w.bytes(hash(w.buffer.subarray(0, body)));
	return w.finish();
}

/**
 * Decodes an untrusted resume record.
 * @returns the record, or null when the bytes are not an intact version-1 record
 */
export function decodeResume(bytes: Uint8Array): ResumeRecord | null {
	if (bytes.length < HASH_SIZE) return null;
	const body = bytes.subarray(0, bytes.length - HASH_SIZE);
	if (!hash(body).equals(bytes.subarray(body.length))) return null;
	const r = new Reader(body);
	const magic = r.bytes(4);
	const version = r.u8();
	const fileId = r.bytes(HASH_SIZE);
	const size = r.u64();
	const pieceSize = r.u32();
	const count = r.u32();
	if (!r.ok || !Buffer.from(magic).equals(MAGIC) || version !== RESUME_VERSION) return null;
	if (pieceSize === 0 || count > MAX_RECORD_PIECES || count !== pieceCount(size, pieceSize))
		return null;
	const have = r.bytes(Math.ceil(count / 8));
	if (!r.done) return null;
	// Bits past the last piece must be clear: the record names no piece that does not exist.
	const spare = have.length * 8 - count;
	if (spare > 0 && (have[have.length - 1] & ((1 << spare) - 1)) !== 0) return null;
	return { fileId: Uint8Array.from(fileId), size, pieceSize, have: Uint8Array.from(have) };
}
