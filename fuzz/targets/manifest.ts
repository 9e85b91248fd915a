/**
 * Fuzz target: the manifest encoding (docs/protocol.md §4), as fetched from a peer
 * (Jazzer.js convention: `fuzz` throws only on a real bug).
 */
import {
	decodeManifest,
	encodeManifest,
	MAX_PIECES,
	pieceCount,
} from "../../source/protocol/manifest.js";
import { HASH_SIZE } from "../../source/protocol/messages.js";
import { check, type Field, sameBytes } from "../oracle.js";

/** Size, piece size and piece count fields, for the mutator. */
export const fields: Field[] = [
	{ offset: 1, size: 8 },
	{ offset: 9, size: 4 },
	{ offset: 45, size: 4 },
];

export function fuzz(data: Buffer): void {
	const manifest = decodeManifest(data);
	if (!manifest) return;
	const count = manifest.pieceHashes.length;
	check(count <= MAX_PIECES && count * HASH_SIZE <= data.length, `${count} pieces`);
	check(count === pieceCount(manifest.size, manifest.pieceSize), "piece count");
	check((manifest.pieceSize & (manifest.pieceSize - 1)) === 0, "piece size not a power of two");
	check(sameBytes(encodeManifest(manifest), data), "manifest does not re-encode to its bytes");
}
