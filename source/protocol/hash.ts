/**
 * The one BLAKE3 interface of p2p-tui. Every digest is the standard 32-byte BLAKE3 hash
 * (BLAKE3 spec, default mode, unkeyed), so whole-content hashes equal what `b3sum` prints.
 * Backed by the `blake3` package (its WebAssembly build on this platform).
 */
import blake3 from "blake3";

/** Incremental hasher: feed bytes in order, then take the 32-byte digest once. */
export interface Hasher {
	update(bytes: Uint8Array): void;
	/** The 32-byte digest; the hasher must not be used afterwards. */
	digest(): Buffer;
}

/** BLAKE3 of `bytes`: a new 32-byte buffer. */
export function hash(bytes: Uint8Array): Buffer {
	return blake3.hash(bytes) as Buffer;
}

/** A fresh incremental BLAKE3 hasher. */
export function createHasher(): Hasher {
	const h = blake3.createHash();
	return {
		update(bytes) {
			h.update(bytes);
		},
		digest() {
			const d = h.digest() as Buffer;
			h.dispose();
			return d;
		},
	};
}

/** Lowercase hex of bytes (ids, hashes). */
export function toHex(bytes: Uint8Array): string {
	return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString("hex");
}

/**
 * Parses lowercase or uppercase hex of exactly `size` bytes.
 * @returns the bytes, or null when `text` is not such hex
 */
export function fromHex(text: string, size: number): Buffer | null {
	if (text.length !== size * 2 || !/^[0-9a-fA-F]*$/.test(text)) return null;
	return Buffer.from(text, "hex");
}
