/**
 * fast-check arbitraries shared by the codec property tests.
 */
import fc from "fast-check";
import type { Manifest } from "../../source/protocol/manifest.js";
import { isManifestFileName } from "../../source/protocol/manifest-file.js";
import {
	DeltaStatus,
	folderEntry,
	type ListChange,
	type ListEntry,
	MAX_BLOCK_SIZE,
	MAX_MANIFEST_BYTES,
	MAX_RANGE_SIZE,
	type Message,
} from "../../source/protocol/messages.js";
import type { ResumeRecord } from "../../source/protocol/resume.js";

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

// ---------------------------------------------------------------------------------------
// Valid wire messages, resume records and `.p2p` files (fuzz seeds and property tests)

const bytesOf = (n: number) => fc.uint8Array({ minLength: n, maxLength: n });
const u32 = fc.integer({ min: 0, max: 0xffffffff });
const u64 = fc.maxSafeNat();
/** A file id: never all zeros (that marks a folder entry). */
const fileIdArb = hashArb.filter((b) => b.some((x) => x !== 0));
/** Peer names of at most 64 bytes of UTF-8. */
const peerNameArb = fc.oneof(
	fc.string({ unit: "binary", maxLength: 16 }),
	fc.string({ unit: "grapheme-ascii", maxLength: 64 }),
);
/** List paths of 1 to 1024 bytes of UTF-8. */
const pathNameArb = fc.oneof(
	fc.string({ unit: "binary", minLength: 1, maxLength: 40 }),
	fc.string({ unit: "grapheme", minLength: 1, maxLength: 40 }),
	fc.constant("x".repeat(1024)),
);
export const entryArb: fc.Arbitrary<ListEntry> = fc.oneof(
	{
		arbitrary: fc.record({ fileId: fileIdArb, size: u64, contentHash: hashArb, name: pathNameArb }),
		weight: 4,
	},
	{ arbitrary: pathNameArb.map(folderEntry), weight: 1 },
);

/** Arbitraries of valid messages, one per message type (data and push apart). */
export const messageArbs = {
	announce: fc.record({
		type: fc.constant("announce" as const),
		peerId: bytesOf(16),
		publicKey: bytesOf(32),
		timestamp: u64,
		basePort: fc.integer({ min: 1, max: 65532 }),
		revision: u32,
		fileCount: u32,
		interval: fc.integer({ min: 10, max: 0xffffffff }),
		name: peerNameArb,
		signature: bytesOf(64),
	}),
	leave: fc.record({
		type: fc.constant("leave" as const),
		peerId: bytesOf(16),
		publicKey: bytesOf(32),
		timestamp: u64,
		signature: bytesOf(64),
	}),
	retry: fc.record({ type: fc.constant("retry" as const), requestId: u32, token: bytesOf(16) }),
	listRequest: fc.record({
		type: fc.constant("listRequest" as const),
		token: bytesOf(16),
		requestId: u32,
		index: u32,
	}),
	listPage: fc
		.record({
			requestId: u32,
			revision: u32,
			index: fc.integer({ min: 0, max: 0x7fffffff }),
			extra: fc.integer({ min: 0, max: 0x7fffffff }),
			entries: fc.array(entryArb, { maxLength: 6 }),
		})
		.map(({ extra, ...page }) => ({
			type: "listPage" as const,
			...page,
			total: Math.min(0xffffffff, page.index + page.entries.length + extra),
		})),
	listDeltaRequest: fc.record({
		type: fc.constant("listDeltaRequest" as const),
		token: bytesOf(16),
		requestId: u32,
		since: u32,
		index: u32,
	}),
	listDelta: fc.oneof(
		fc
			.record({
				requestId: u32,
				since: u32,
				revision: u32,
				index: fc.integer({ min: 0, max: 0x7fffffff }),
				extra: fc.integer({ min: 0, max: 0x7fffffff }),
				changes: fc.array(fc.record({ removed: fc.boolean(), entry: entryArb }), {
					maxLength: 6,
				}),
			})
			.map(({ extra, ...delta }) => ({
				type: "listDelta" as const,
				status: DeltaStatus.ok as number,
				...delta,
				total: Math.min(0xffffffff, delta.index + delta.changes.length + extra),
			})),
		fc.record({
			type: fc.constant("listDelta" as const),
			requestId: u32,
			status: fc.constant(DeltaStatus.fullList as number),
			since: u32,
			revision: u32,
			total: fc.constant(0),
			index: fc.constant(0),
			changes: fc.constant([] as ListChange[]),
		}),
	),
	manifestRequest: fc.record({
		type: fc.constant("manifestRequest" as const),
		token: bytesOf(16),
		requestId: u32,
		fileId: hashArb,
		offset: u32,
	}),
	manifestChunk: fc
		.record({
			requestId: u32,
			fileId: hashArb,
			offset: fc.integer({ min: 0, max: MAX_MANIFEST_BYTES }),
			extra: fc.integer({ min: 0, max: MAX_MANIFEST_BYTES }),
			bytes: fc.uint8Array({ maxLength: 1500 }),
		})
		.map(({ extra, ...chunk }) => {
			const bytes = chunk.bytes.subarray(0, Math.max(0, MAX_MANIFEST_BYTES - chunk.offset));
			return {
				type: "manifestChunk" as const,
				...chunk,
				bytes,
				total: Math.min(MAX_MANIFEST_BYTES, chunk.offset + bytes.length + extra),
			};
		}),
	blockRequest: fc.record({
		type: fc.constant("blockRequest" as const),
		token: bytesOf(16),
		fileId: hashArb,
		offset: u64,
		length: fc.integer({ min: 1, max: MAX_BLOCK_SIZE }),
	}),
	rangeRequest: fc.record({
		type: fc.constant("rangeRequest" as const),
		token: bytesOf(16),
		fileId: hashArb,
		offset: u64,
		length: fc.integer({ min: 1, max: MAX_RANGE_SIZE }),
		blockSize: fc.integer({ min: 1, max: MAX_BLOCK_SIZE }),
	}),
	data: fc.record({
		type: fc.constant("data" as const),
		fileId: hashArb,
		offset: u64,
		payload: fc.uint8Array({ minLength: 1, maxLength: 2000 }),
	}),
	push: fc.record({
		type: fc.constant("push" as const),
		fileId: hashArb,
		offset: u64,
		payload: fc.uint8Array({ minLength: 1, maxLength: 2000 }),
	}),
	error: fc.record({
		type: fc.constant("error" as const),
		code: fc.integer({ min: 0, max: 255 }),
		fileId: hashArb,
		ref: u64,
	}),
	interest: fc
		.record({
			token: bytesOf(16),
			peerId: bytesOf(16),
			fileId: hashArb,
			pieceCount: fc.oneof(fc.integer({ min: 0, max: 20_000 }), u32),
			done: fc.boolean(),
			firstByte: fc.nat(),
			haveLength: fc.nat(),
			seed: fc.uint8Array({ minLength: 1024, maxLength: 1024 }),
		})
		.map(({ firstByte, haveLength, seed, ...rest }) => {
			// The have-map may not reach past the byte holding the last piece.
			const mapBytes = Math.ceil(rest.pieceCount / 8);
			const first = firstByte % (Math.min(mapBytes, 0x1fffffff) + 1);
			const length = Math.min(1024, haveLength % (mapBytes - first + 1));
			return {
				type: "interest" as const,
				...rest,
				firstPiece: first * 8,
				have: seed.subarray(0, length),
			};
		}),
} satisfies Record<string, fc.Arbitrary<Message>>;

/** A well-formed resume record: its have-map fits its piece count, spare bits clear. */
export const resumeArb: fc.Arbitrary<ResumeRecord> = fc
	.record({ manifest: manifestArb, fileId: hashArb, seed: fc.uint8Array({ maxLength: 8 }) })
	.map(({ manifest, fileId, seed }) => {
		const count = Math.ceil(manifest.size / manifest.pieceSize);
		const have = new Uint8Array(Math.ceil(count / 8));
		for (let i = 0; i < count; i++)
			if ((seed[i % Math.max(1, seed.length)] ?? 0) & (1 << (i % 8))) {
				have[i >> 3] |= 0x80 >> (i & 7);
			}
		return { fileId, size: manifest.size, pieceSize: manifest.pieceSize, have };
	});

/** A name a `.p2p` file may carry: one safe path segment. */
export const manifestFileNameArb = fc
	.oneof(
		fc.string({ unit: "grapheme", minLength: 1, maxLength: 30 }),
		fc.constantFrom("a.bin", "Café – résumé ü.txt", "x".repeat(255)),
	)
	.filter(isManifestFileName);
