/**
 * Manifests: what a file is, piece by piece. A manifest holds the file size, the piece
 * size, the BLAKE3 of every piece and of the whole content. The file id is the BLAKE3 of
 * the manifest's encoding, so a manifest fetched from any peer is checked against the id
 * before use (content addressing, as BitTorrent's info-hash in BEP 3). The encoding is in
 * docs/protocol.md, section "Manifest".
 */

import { hash } from "./hash.js";
import { HASH_SIZE } from "./messages.js";
import { Reader, Writer } from "./wire.js";

export const MANIFEST_VERSION = 1;
/** Smallest and largest piece size in bytes (powers of two). */
export const MIN_PIECE_SIZE = 16 * 1024;
export const MAX_PIECE_SIZE = 1024 * 1024 * 1024;
/** Most pieces one manifest may list: bounds the manifest at 2 MiB. */
export const MAX_PIECES = 65_536;
/** Default piece size in bytes, raised for large files to keep the piece count bounded. */
export const DEFAULT_PIECE_SIZE = 256 * 1024;
/** Target largest piece count when choosing a piece size. */
const TARGET_PIECES = 16_384;

/** A decoded manifest. */
export interface Manifest {
	/** File size in bytes. */
	size: number;
	/** Piece size in bytes; the last piece may be shorter. */
	pieceSize: number;
	/** BLAKE3 of the whole content (32 bytes). */
	contentHash: Uint8Array;
	/** BLAKE3 of each piece, in order (32 bytes each). */
	pieceHashes: Uint8Array[];
}

/**
 * Chooses the piece size for a file: 256 KiB, doubled until the file has at most 16,384
 * pieces.
 * @param size - file size in bytes
 * @returns piece size in bytes
 */
export function pieceSizeFor(size: number): number {
	let pieceSize = DEFAULT_PIECE_SIZE;
	while (Math.ceil(size / pieceSize) > TARGET_PIECES && pieceSize < MAX_PIECE_SIZE) pieceSize *= 2;
	return pieceSize;
}

/** Number of pieces of a file of `size` bytes cut in `pieceSize` pieces. */
export function pieceCount(size: number, pieceSize: number): number {
	return Math.ceil(size / pieceSize);
}

/** Length in bytes of piece `index` (the last one may be short). */
export function pieceLength(manifest: Pick<Manifest, "size" | "pieceSize">, index: number): number {
	return Math.min(manifest.pieceSize, manifest.size - index * manifest.pieceSize);
}

/**
 * Encodes a manifest.
 * @throws RangeError when the manifest is inconsistent (wrong piece count or hash sizes)
 */
export function encodeManifest(manifest: Manifest): Buffer {
	const count = manifest.pieceHashes.length;
	if (count !== pieceCount(manifest.size, manifest.pieceSize)) {
		throw new RangeError("piece count does not match size and piece size");
	}
	const w = new Writer(1 + 8 + 4 + HASH_SIZE + 4 + count * HASH_SIZE);
	w.u8(MANIFEST_VERSION).u64(manifest.size).u32(manifest.pieceSize).bytes(manifest.contentHash);
	w.u32(count);
	for (const h of manifest.pieceHashes) {
		if (h.length !== HASH_SIZE) throw new RangeError("piece hash must be 32 bytes");
		w.bytes(h);
	}
	return w.finish();
}

/**
 * Decodes an untrusted manifest encoding.
 * @returns the manifest, or null when the bytes are not a valid version-1 manifest
 */
export function decodeManifest(bytes: Uint8Array): Manifest | null {
	const r = new Reader(bytes);
	const version = r.u8();
	const size = r.u64();
	const pieceSize = r.u32();
	const contentHash = r.bytes(HASH_SIZE);
	const count = r.u32();
	const validPieceSize =
		pieceSize >= MIN_PIECE_SIZE &&
		pieceSize <= MAX_PIECE_SIZE &&
		(pieceSize & (pieceSize - 1)) === 0;
	if (!r.ok || version !== MANIFEST_VERSION || !validPieceSize) return null;
	if (count > MAX_PIECES || count !== pieceCount(size, pieceSize)) return null;
	if (r.remaining !== count * HASH_SIZE) return null;
	const pieceHashes: Uint8Array[] = [];
	for (let i = 0; i < count; i++) pieceHashes.push(r.bytes(HASH_SIZE));
	return r.done ? { size, pieceSize, contentHash, pieceHashes } : null;
}

/** The file id of a manifest: BLAKE3 of its encoding (32 bytes). */
export function manifestId(encoded: Uint8Array): Buffer {
	return hash(encoded);
}
