/**
 * fast-check arbitraries shared by the codec property tests.
 */
import fc from "fast-check";
import type { Manifest } from "../../source/protocol/manifest.js";

/** 32 random bytes: a BLAKE3 digest, file id or piece hash. */
export const hashArb = fc.uint8Array({ minLength: 32, maxLength: 32 });

/**
 * A well-formed manifest: a power-of-two piece size from 16 KiB to 1 GiB, 0 to 40 pieces,
 * a size that fills every piece but the last, and distinct piece hashes.
 */
export const manifestArb: fc.Arbitrary<Manifest> = fc
	.record({
		exponent: fc.integer({ min: 14, max: 30 }),
		count: fc.integer({ min: 0, max: 40 }),
		last: fc.nat(),
		contentHash: hashArb,
		seed: hashArb,
	})
	.map(({ exponent, count, last, contentHash, seed }) => {
		const pieceSize = 2 ** exponent;
		const size = count === 0 ? 0 : (count - 1) * pieceSize + 1 + (last % pieceSize);
		const pieceHashes = Array.from({ length: count }, (_, i) => seed.map((b) => b ^ i));
		return { size, pieceSize, contentHash, pieceHashes };
	});
