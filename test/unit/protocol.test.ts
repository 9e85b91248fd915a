import assert from "node:assert/strict";
import path from "node:path";
import { describe, it } from "node:test";
import fc from "fast-check";
import { downloadTarget, numberedName, safeSegments } from "../../source/library/paths.js";
import { createHasher, fromHex, hash, toHex } from "../../source/protocol/hash.js";
import {
	decodeManifest,
	encodeManifest,
	MAX_PIECE_SIZE,
	MAX_PIECES,
	type Manifest,
	manifestId,
	pieceCount,
	pieceLength,
	pieceSizeFor,
} from "../../source/protocol/manifest.js";
import {
	DeltaStatus,
	decodeMessage,
	encodeMessage,
	folderEntry,
	ipBytes,
	ipText,
	isFolderEntry,
	type ListChange,
	type ListEntry,
	MAX_BLOCK_SIZE,
	MAX_DATAGRAM,
	MAX_MANIFEST_BYTES,
	MAX_RANGE_SIZE,
	type Message,
	MessageType,
} from "../../source/protocol/messages.js";
import { MAX_U64, Reader, Writer } from "../../source/protocol/wire.js";
import { maxDatagramFor } from "../../source/transfer/path-mtu.js";
import {
	DELTA_HISTORY_REVISIONS,
	SendService,
	type ServedLibrary,
} from "../../source/transfer/serve.js";
import { TokenIssuer } from "../../source/transfer/tokens.js";
import { manifestArb } from "../helpers/arbitraries.js";

// ---------------------------------------------------------------------------------------
// Helpers

/** Hex (whitespace ignored) to bytes. */
function hex(...parts: string[]): Buffer {
	return Buffer.from(parts.join("").replace(/\s+/g, ""), "hex");
}

/** `n` copies of one hex byte. */
function rep(byte: string, n: number): string {
	return byte.repeat(n);
}

function filled(n: number, value: number): Uint8Array {
	return new Uint8Array(n).fill(value);
}

/** Deep copy with every byte field as a Buffer, so decoded views compare with inputs. */
function plain(value: unknown): unknown {
	if (value instanceof Uint8Array) return Buffer.from(value);
	if (Array.isArray(value)) return value.map(plain);
	if (value !== null && typeof value === "object") {
		return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, plain(v)]));
	}
	return value;
}

function assertRoundTrip(message: Message): void {
	const encoded = encodeMessage(message);
	const decoded = decodeMessage(encoded);
	assert.notEqual(decoded, null, `${message.type} did not decode`);
	assert.deepEqual(plain(decoded), plain(message));
	// Also from a plain Uint8Array view that does not start at offset 0 of its buffer.
	const host = new Uint8Array(encoded.length + 7);
	host.set(encoded, 3);
	assert.deepEqual(plain(decodeMessage(host.subarray(3, 3 + encoded.length))), plain(message));
}

/** Same bytes, with byte `at` replaced. */
function patched(bytes: Uint8Array, at: number, value: number): Buffer {
	const copy = Buffer.from(bytes);
	copy[at] = value;
	return copy;
}

// ---------------------------------------------------------------------------------------
// Fixed examples of every message type, with their hand-written encodings

const seqPeerId = Uint8Array.from({ length: 16 }, (_, i) => i);

const examples: { message: Message; code: number; bytes: Buffer }[] = [
	{
		message: {
			type: "announce",
			peerId: filled(16, 0xaa),
			publicKey: filled(32, 0xbb),
			timestamp: 1_700_000_000_000,
			basePort: 45460,
			revision: 7,
			fileCount: 3,
			interval: 2000,
			name: "Zoë",
			signature: filled(64, 0xcc),
		},
		code: 0x03,
		bytes: hex(
			"50 32 01 03",
			rep("aa", 16),
			rep("bb", 32),
			"00 00 01 8b cf e5 68 00",
			"b1 94",
			"00 00 00 07",
			"00 00 00 03",
			"00 00 07 d0",
			"04",
			"5a 6f c3 ab",
			rep("cc", 64),
		),
	},
	{
		message: {
			type: "leave",
			peerId: seqPeerId,
			publicKey: filled(32, 0xbb),
			timestamp: 1,
			signature: filled(64, 0xdd),
		},
		code: 0x04,
		bytes: hex(
			"50 32 01 04",
			"00 01 02 03 04 05 06 07 08 09 0a 0b 0c 0d 0e 0f",
			rep("bb", 32),
			"00 00 00 00 00 00 00 01",
			rep("dd", 64),
		),
	},
	{
		message: { type: "retry", requestId: 0x01020304, token: filled(16, 0x33) },
		code: 0x10,
		bytes: hex("50 32 01 10", "01 02 03 04", rep("33", 16)),
	},
	{
		message: { type: "listRequest", token: filled(16, 0x11), requestId: 1, index: 0 },
		code: 0x11,
		bytes: hex("50 32 01 11", rep("11", 16), "00 00 00 01", "00 00 00 00"),
	},
	{
		message: {
			type: "listPage",
			requestId: 9,
			revision: 3,
			total: 2,
			index: 0,
			entries: [{ fileId: filled(32, 0x44), size: 5, contentHash: filled(32, 0x55), name: "ü/x" }],
		},
		code: 0x12,
		bytes: hex(
			"50 32 01 12",
			"00 00 00 09",
			"00 00 00 03",
			"00 00 00 02",
			"00 00 00 00",
			"00 01",
			rep("44", 32),
			"00 00 00 00 00 00 00 05",
			rep("55", 32),
			"00 04",
			"c3 bc 2f 78",
		),
	},
	{
		message: {
			type: "manifestRequest",
			token: filled(16, 0x11),
			requestId: 5,
			fileId: filled(32, 0x22),
			offset: 1424,
		},
		code: 0x13,
		bytes: hex("50 32 01 13", rep("11", 16), "00 00 00 05", rep("22", 32), "00 00 05 90"),
	},
	{
		message: {
			type: "manifestChunk",
			requestId: 5,
			fileId: filled(32, 0x22),
			total: 145,
			offset: 0,
			bytes: Uint8Array.of(1, 2, 3),
		},
		code: 0x14,
		bytes: hex(
			"50 32 01 14",
			"00 00 00 05",
			rep("22", 32),
			"00 00 00 91",
			"00 00 00 00",
			"01 02 03",
		),
	},
	{
		message: {
			type: "blockRequest",
			token: filled(16, 0x11),
			fileId: filled(32, 0x22),
			offset: 2 ** 40 + 5,
			length: 1428,
		},
		code: 0x15,
		bytes: hex(
			"50 32 01 15",
			rep("11", 16),
			rep("22", 32),
			"00 00 01 00 00 00 00 05",
			"00 00 05 94",
		),
	},
	{
		message: {
			type: "data",
			fileId: filled(32, 0x77),
			offset: 262144,
			payload: Uint8Array.of(0x68, 0x69),
		},
		code: 0x16,
		bytes: hex("50 32 01 16", rep("77", 32), "00 00 00 00 00 04 00 00", "68 69"),
	},
	{
		message: { type: "error", code: 2, fileId: filled(32, 0x66), ref: 1234 },
		code: 0x17,
		bytes: hex("50 32 01 17", "02", rep("66", 32), "00 00 00 00 00 00 04 d2"),
	},
	{
		message: {
			type: "interest",
			token: filled(16, 0x0a),
			peerId: filled(16, 0x01),
			fileId: filled(32, 0x02),
			pieceCount: 20,
			done: false,
			firstPiece: 8,
			have: Uint8Array.of(0xa0, 0xf0),
		},
		code: 0x22,
		bytes: hex(
			"50 32 01 22",
			rep("0a", 16),
			rep("01", 16),
			rep("02", 32),
			"00 00 00 14",
			"00",
			"00 00 00 08",
			"a0 f0",
		),
	},
	{
		message: { type: "push", fileId: filled(32, 0x77), offset: 1, payload: Uint8Array.of(0xff) },
		code: 0x21,
		bytes: hex("50 32 01 21", rep("77", 32), "00 00 00 00 00 00 00 01", "ff"),
	},
	{
		message: {
			type: "listDeltaRequest",
			token: filled(16, 0x11),
			requestId: 2,
			since: 0x01020304,
			index: 5,
		},
		code: 0x18,
		bytes: hex("50 32 01 18", rep("11", 16), "00 00 00 02", "01 02 03 04", "00 00 00 05"),
	},
	{
		message: {
			type: "listDelta",
			requestId: 7,
			status: DeltaStatus.ok,
			since: 3,
			revision: 5,
			total: 2,
			index: 0,
			changes: [
				{
					removed: true,
					entry: { fileId: filled(32, 0x44), size: 5, contentHash: filled(32, 0x55), name: "a" },
				},
				{ removed: false, entry: folderEntry("d/e") },
			],
		},
		code: 0x19,
		bytes: hex(
			"50 32 01 19",
			"00 00 00 07",
			"00",
			"00 00 00 03",
			"00 00 00 05",
			"00 00 00 02",
			"00 00 00 00",
			"00 02",
			"02",
			rep("44", 32),
			"00 00 00 00 00 00 00 05",
			rep("55", 32),
			"00 01",
			"61",
			"01",
			rep("00", 32),
			"00 00 00 00 00 00 00 00",
			rep("00", 32),
			"00 03",
			"64 2f 65",
		),
	},
	{
		message: {
			type: "listDelta",
			requestId: 8,
			status: DeltaStatus.fullList,
			since: 3,
			revision: 9,
			total: 0,
			index: 0,
			changes: [],
		},
		code: 0x19,
		bytes: hex(
			"50 32 01 19",
			"00 00 00 08",
			"01",
			"00 00 00 03",
			"00 00 00 09",
			"00 00 00 00",
			"00 00 00 00",
			"00 00",
		),
	},
	{
		message: {
			type: "listPage",
			requestId: 1,
			revision: 2,
			total: 1,
			index: 0,
			entries: [folderEntry("empty")],
		},
		code: 0x12,
		bytes: hex(
			"50 32 01 12",
			"00 00 00 01",
			"00 00 00 02",
			"00 00 00 01",
			"00 00 00 00",
			"00 01",
			rep("00", 32),
			"00 00 00 00 00 00 00 00",
			rep("00", 32),
			"00 05",
			"65 6d 70 74 79",
		),
	},
	{
		message: {
			type: "rangeRequest",
			token: filled(16, 0x11),
			fileId: filled(32, 0x22),
			offset: 2 ** 40 + 5,
			length: 65_536,
			blockSize: 1428,
		},
		code: 0x23,
		bytes: hex(
			"50 32 01 23",
			rep("11", 16),
			rep("22", 32),
			"00 00 01 00 00 00 00 05",
			"00 01 00 00",
			"00 00 05 94",
		),
	},
];

/** Types whose last field runs to the end of the datagram (no length prefix). */
const tailTypes = new Set(["manifestChunk", "data", "push", "interest"]);
/** Size of the fixed part (header included) of each tail type; data and push need 1 payload byte. */
const tailMinimum: Record<string, number> = { manifestChunk: 48, data: 45, push: 45, interest: 77 };

// ---------------------------------------------------------------------------------------
// Arbitraries of valid messages

const bytesOf = (n: number) => fc.uint8Array({ minLength: n, maxLength: n });
const peerIdArb = bytesOf(16);
const tokenArb = bytesOf(16);
const hashArb = bytesOf(32);
const u32 = fc.integer({ min: 0, max: 0xffffffff });
const u64 = fc.maxSafeNat();
/** Peer names of at most 64 bytes of UTF-8 (4-byte code points included). */
const peerNameArb = fc.oneof(
	fc.string({ unit: "binary", maxLength: 16 }),
	fc.string({ unit: "grapheme-ascii", maxLength: 64 }),
	fc.string({ unit: "grapheme", maxLength: 20 }).filter((s) => Buffer.byteLength(s) <= 64),
);
const pathNameArb = fc.oneof(
	fc.string({ unit: "binary", minLength: 1, maxLength: 40 }),
	fc.string({ unit: "grapheme", minLength: 1, maxLength: 40 }),
	fc.constant("x".repeat(1024)),
);

const publicKeyArb = fc.uint8Array({ minLength: 32, maxLength: 32 });
const signatureArb = fc.uint8Array({ minLength: 64, maxLength: 64 });
const announceArb = fc.record({
	type: fc.constant("announce" as const),
	peerId: peerIdArb,
	publicKey: publicKeyArb,
	timestamp: fc.maxSafeNat(),
	basePort: fc.integer({ min: 1, max: 65532 }),
	revision: u32,
	fileCount: u32,
	interval: fc.integer({ min: 10, max: 0xffffffff }),
	name: peerNameArb,
	signature: signatureArb,
});
const leaveArb = fc.record({
	type: fc.constant("leave" as const),
	peerId: peerIdArb,
	publicKey: publicKeyArb,
	timestamp: fc.maxSafeNat(),
	signature: signatureArb,
});
const helloArb = fc
	.tuple(announceArb, fc.constantFrom("named" as const, "exchange" as const))
	.map(([announce, via]) => ({ type: "hello" as const, via, announce: encodeMessage(announce) }));
const pexArb = fc.record({
	type: fc.constant("pex" as const),
	entries: fc.array(
		fc.record({
			// Decoded addresses come back in canonical form (RFC 5952 for IPv6).
			address: fc.oneof(fc.ipV4(), fc.ipV6()).map((a) => ipText(ipBytes(a) ?? new Uint8Array(4))),
			port: fc.integer({ min: 1, max: 65535 }),
		}),
		{ maxLength: 32 },
	),
});
const retryArb = fc.record({
	type: fc.constant("retry" as const),
	requestId: u32,
	token: tokenArb,
});
const listRequestArb = fc.record({
	type: fc.constant("listRequest" as const),
	token: tokenArb,
	requestId: u32,
	index: u32,
});
/** A file id: never all zeros (that marks a folder entry). */
const fileIdArb = hashArb.filter((b) => b.some((x) => x !== 0));
const entryArb: fc.Arbitrary<ListEntry> = fc.oneof(
	{
		arbitrary: fc.record({ fileId: fileIdArb, size: u64, contentHash: hashArb, name: pathNameArb }),
		weight: 4,
	},
	{ arbitrary: pathNameArb.map(folderEntry), weight: 1 },
);
const changeArb: fc.Arbitrary<ListChange> = fc.record({ removed: fc.boolean(), entry: entryArb });
const listDeltaRequestArb = fc.record({
	type: fc.constant("listDeltaRequest" as const),
	token: tokenArb,
	requestId: u32,
	since: u32,
	index: u32,
});
const listDeltaArb: fc.Arbitrary<Message> = fc.oneof(
	fc
		.record({
			requestId: u32,
			since: u32,
			revision: u32,
			index: fc.integer({ min: 0, max: 0x7fffffff }),
			extra: fc.integer({ min: 0, max: 0x7fffffff }),
			changes: fc.array(changeArb, { maxLength: 6 }),
		})
		.map(({ extra, ...delta }) => ({
			type: "listDelta" as const,
			status: DeltaStatus.ok,
			...delta,
			total: Math.min(0xffffffff, delta.index + delta.changes.length + extra),
		})),
	fc.record({
		type: fc.constant("listDelta" as const),
		requestId: u32,
		status: fc.constant(DeltaStatus.fullList),
		since: u32,
		revision: u32,
		total: fc.constant(0),
		index: fc.constant(0),
		changes: fc.constant([] as ListChange[]),
	}),
);
const listPageArb = fc
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
	}));
const manifestRequestArb = fc.record({
	type: fc.constant("manifestRequest" as const),
	token: tokenArb,
	requestId: u32,
	fileId: hashArb,
	offset: u32,
});
const manifestChunkArb = fc
	.record({
		requestId: u32,
		fileId: hashArb,
		offset: fc.integer({ min: 0, max: MAX_MANIFEST_BYTES - 1500 }),
		extra: fc.integer({ min: 0, max: MAX_MANIFEST_BYTES }),
		bytes: fc.uint8Array({ maxLength: 1500 }),
	})
	.map(({ extra, ...chunk }) => ({
		type: "manifestChunk" as const,
		...chunk,
		// A manifest is at most MAX_MANIFEST_BYTES long: a larger total is refused.
		total: Math.min(MAX_MANIFEST_BYTES, chunk.offset + chunk.bytes.length + extra),
	}));
const blockRequestArb = fc.record({
	type: fc.constant("blockRequest" as const),
	token: tokenArb,
	fileId: hashArb,
	offset: u64,
	length: fc.integer({ min: 1, max: MAX_BLOCK_SIZE }),
});
const rangeRequestArb = fc.record({
	type: fc.constant("rangeRequest" as const),
	token: tokenArb,
	fileId: hashArb,
	offset: u64,
	length: fc.integer({ min: 1, max: MAX_RANGE_SIZE }),
	blockSize: fc.integer({ min: 1, max: MAX_BLOCK_SIZE }),
});
const dataArb = fc.record({
	type: fc.constantFrom("data" as const, "push" as const),
	fileId: hashArb,
	offset: u64,
	payload: fc.uint8Array({ minLength: 1, maxLength: 2000 }),
});
const errorArb = fc.record({
	type: fc.constant("error" as const),
	code: fc.integer({ min: 0, max: 255 }),
	fileId: hashArb,
	ref: u64,
});
const interestArb = fc
	.record({
		token: fc.uint8Array({ minLength: 16, maxLength: 16 }),
		peerId: peerIdArb,
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
		// firstPiece is a u32: keep first * 8 below 2^32.
		const first = firstByte % (Math.min(mapBytes, 0x1fffffff) + 1);
		const length = Math.min(1024, haveLength % (mapBytes - first + 1));
		return {
			type: "interest" as const,
			...rest,
			firstPiece: first * 8,
			have: seed.subarray(0, length),
		};
	});

const arbitraries: [string, fc.Arbitrary<Message>][] = [
	["announce", announceArb],
	["hello", helloArb],
	["pex", pexArb],
	["leave", leaveArb],
	["retry", retryArb],
	["listRequest", listRequestArb],
	["listPage", listPageArb],
	["listDeltaRequest", listDeltaRequestArb],
	["listDelta", listDeltaArb],
	["manifestRequest", manifestRequestArb],
	["manifestChunk", manifestChunkArb],
	["blockRequest", blockRequestArb],
	["rangeRequest", rangeRequestArb],
	["data and push", dataArb],
	["error", errorArb],
	["interest", interestArb],
];
const anyMessageArb: fc.Arbitrary<Message> = fc.oneof(...arbitraries.map(([, arb]) => arb));

// ---------------------------------------------------------------------------------------

describe("message encodings", () => {
	for (const { message, bytes, code } of examples) {
		it(`encodes ${message.type} exactly as specified (type 0x${code.toString(16)})`, () => {
			const encoded = encodeMessage(message);
			assert.equal(encoded.toString("hex"), bytes.toString("hex"));
			assert.deepEqual([...encoded.subarray(0, 4)], [0x50, 0x32, 0x01, code]);
		});
	}

	it("makes a Retry (24 bytes) smaller than any request (amplification factor < 1)", () => {
		const retry = encodeMessage({ type: "retry", requestId: 1, token: filled(16, 0) });
		assert.equal(retry.length, 24);
		for (const { message, bytes } of examples) {
			if (message.type.endsWith("Request")) assert.ok(bytes.length > retry.length, message.type);
		}
		const smallestRequest = Math.min(
			...examples.filter((e) => e.message.type.endsWith("Request")).map((e) => e.bytes.length),
		);
		assert.equal(smallestRequest, 28);
	});

	it("refuses to encode fields of the wrong size or out of bounds", () => {
		const leave = {
			type: "leave" as const,
			peerId: filled(16, 0),
			publicKey: filled(32, 0),
			timestamp: 0,
			signature: filled(64, 0),
		};
		assert.throws(() => encodeMessage({ ...leave, peerId: filled(15, 0) }), RangeError);
		assert.throws(() => encodeMessage({ ...leave, publicKey: filled(31, 0) }), RangeError);
		assert.throws(() => encodeMessage({ ...leave, signature: filled(63, 0) }), RangeError);
		assert.throws(() => encodeMessage({ ...leave, timestamp: 2 ** 53 }), RangeError);
		assert.throws(() => encodeMessage({ ...leave, timestamp: -1 }), RangeError);
		assert.throws(
			() => encodeMessage({ type: "retry", requestId: 0, token: filled(17, 0) }),
			RangeError,
		);
		assert.throws(
			() =>
				encodeMessage({
					type: "announce",
					peerId: filled(16, 0),
					publicKey: filled(32, 0),
					timestamp: 0,
					basePort: 1,
					revision: 0,
					fileCount: 0,
					interval: 10,
					name: "é".repeat(33),
					signature: filled(64, 0),
				}),
			RangeError,
		);
		const entry = { fileId: filled(32, 0), size: 1, contentHash: filled(32, 0), name: "" };
		assert.throws(
			() =>
				encodeMessage({
					type: "listPage",
					requestId: 0,
					revision: 0,
					total: 1,
					index: 0,
					entries: [{ ...entry, name: "x".repeat(1025) }],
				}),
			RangeError,
		);
		assert.throws(
			() =>
				encodeMessage({
					type: "interest",
					token: filled(16, 0),
					peerId: filled(16, 0),
					fileId: filled(32, 0),
					pieceCount: 100,
					done: false,
					firstPiece: 4,
					have: new Uint8Array(0),
				}),
			RangeError,
		);
		assert.throws(
			() => encodeMessage({ type: "error", code: 1, fileId: filled(32, 0), ref: 2 ** 53 }),
			RangeError,
		);
	});
});

describe("message round trips", () => {
	for (const { message } of examples) {
		it(`decodes the ${message.type} example back to itself`, () => {
			assertRoundTrip(message);
		});
	}

	it("round-trips a list page of several entries with non-ASCII and 1024-byte names", () => {
		const names = [
			"readme.txt",
			"Café – résumé ü.txt",
			"docs/nested/deep notes.txt",
			"日本語/🎉.bin",
		];
		const entries: ListEntry[] = names.map((name, i) => ({
			fileId: filled(32, i + 1),
			size: i === 3 ? MAX_U64 : i * 1000,
			contentHash: filled(32, 0x80 + i),
			name,
		}));
		entries.push({
			fileId: filled(32, 9),
			size: 0,
			contentHash: filled(32, 9),
			name: "y".repeat(1024),
		});
		assertRoundTrip({ type: "listPage", requestId: 77, revision: 4, total: 10, index: 5, entries });
		assertRoundTrip({
			type: "listPage",
			requestId: 1,
			revision: 1,
			total: 0,
			index: 0,
			entries: [],
		});
	});

	it("round-trips boundary values", () => {
		assertRoundTrip({
			type: "announce",
			peerId: filled(16, 0xff),
			publicKey: filled(32, 0xff),
			timestamp: Number.MAX_SAFE_INTEGER,
			basePort: 65532,
			revision: 0xffffffff,
			fileCount: 0,
			interval: 10,
			name: "é".repeat(32),
			signature: filled(64, 0xff),
		});
		assertRoundTrip({
			type: "announce",
			peerId: filled(16, 0),
			publicKey: filled(32, 0),
			timestamp: 0,
			basePort: 1,
			revision: 0,
			fileCount: 0xffffffff,
			interval: 0xffffffff,
			name: "",
			signature: filled(64, 0),
		});
		assertRoundTrip({
			type: "blockRequest",
			token: filled(16, 0),
			fileId: filled(32, 0),
			offset: MAX_U64,
			length: MAX_BLOCK_SIZE,
		});
		assertRoundTrip({ type: "error", code: 255, fileId: filled(32, 1), ref: MAX_U64 });
		assertRoundTrip({
			type: "interest",
			token: filled(16, 0xff),
			peerId: filled(16, 0),
			fileId: filled(32, 0),
			pieceCount: 0,
			done: true,
			firstPiece: 0,
			have: new Uint8Array(0),
		});
		assertRoundTrip({
			type: "manifestChunk",
			requestId: 0,
			fileId: filled(32, 3),
			total: 3,
			offset: 3,
			bytes: new Uint8Array(0),
		});
		const payload = filled(MAX_DATAGRAM - 44, 0x5a);
		assertRoundTrip({ type: "data", fileId: filled(32, 1), offset: 0, payload });
	});

	for (const [name, arb] of arbitraries) {
		it(`decode(encode(m)) equals m for arbitrary valid ${name} messages`, () => {
			fc.assert(
				fc.property(arb, (message) => {
					assertRoundTrip(message);
				}),
				{ numRuns: 300 },
			);
		});
	}

	it("re-encodes anything that decodes to the very same bytes (one encoding per message)", () => {
		fc.assert(
			fc.property(anyMessageArb, fc.integer({ min: 0, max: 2000 }), (message, cut) => {
				const bytes = encodeMessage(message);
				const prefix = bytes.subarray(0, Math.min(bytes.length, cut + 4));
				const decoded = decodeMessage(prefix);
				if (decoded) assert.equal(encodeMessage(decoded).toString("hex"), prefix.toString("hex"));
			}),
			{ numRuns: 300 },
		);
	});
});

describe("message rejection", () => {
	it("rejects a wrong magic", () => {
		for (const { bytes } of examples) {
			assert.equal(decodeMessage(patched(bytes, 0, 0x51)), null);
			assert.equal(decodeMessage(patched(bytes, 1, 0x33)), null);
			assert.equal(decodeMessage(patched(bytes, 0, 0x32)), null);
		}
	});

	it("rejects any version other than 1", () => {
		for (const { bytes } of examples) {
			for (const version of [0, 2, 0x81, 0xff]) {
				assert.equal(decodeMessage(patched(bytes, 2, version)), null);
			}
		}
	});

	it("rejects every unknown type code", () => {
		const known = new Set(examples.map((e) => e.code));
		assert.equal(known.size, 15);
		// A body that would be a valid leave, data or push: only the type byte decides.
		const bodies = [examples[1].bytes.subarray(4), examples[8].bytes.subarray(4)];
		for (let code = 0; code < 256; code++) {
			for (const body of bodies) {
				const datagram = Buffer.concat([hex("50 32 01"), Uint8Array.of(code), body]);
				const decoded = decodeMessage(datagram);
				if (known.has(code)) continue;
				assert.equal(decoded, null, `type 0x${code.toString(16)}`);
			}
		}
		// The same bodies do decode under their own type codes.
		assert.notEqual(decodeMessage(examples[1].bytes), null);
		assert.notEqual(decodeMessage(examples[8].bytes), null);
	});

	it("rejects datagrams shorter than the header", () => {
		for (const datagram of [[], [0x50], [0x50, 0x32], [0x50, 0x32, 0x01]]) {
			assert.equal(decodeMessage(Uint8Array.from(datagram)), null);
		}
	});

	it("rejects every truncation of a fixed-layout message", () => {
		for (const { message, bytes } of examples) {
			if (tailTypes.has(message.type)) continue;
			for (let length = 0; length < bytes.length; length++) {
				assert.equal(
					decodeMessage(bytes.subarray(0, length)),
					null,
					`${message.type} cut at ${length}`,
				);
			}
		}
	});

	it("rejects truncations of tail messages inside their fixed part; later cuts shorten the tail", () => {
		for (const { message, bytes } of examples) {
			if (!tailTypes.has(message.type)) continue;
			const minimum = tailMinimum[message.type];
			for (let length = 0; length < bytes.length; length++) {
				const decoded = decodeMessage(bytes.subarray(0, length));
				if (length < minimum) {
					assert.equal(decoded, null, `${message.type} cut at ${length}`);
				} else {
					assert.ok(decoded, `${message.type} cut at ${length}`);
					assert.equal(decoded.type, message.type);
					assert.equal(encodeMessage(decoded).length, length);
				}
			}
		}
	});

	it("rejects every truncation of arbitrary fixed-layout messages (property)", () => {
		const fixedArb = fc.oneof(
			announceArb,
			leaveArb,
			retryArb,
			listRequestArb,
			listPageArb,
			listDeltaRequestArb,
			listDeltaArb,
			manifestRequestArb,
			blockRequestArb,
			rangeRequestArb,
			errorArb,
		);
		fc.assert(
			fc.property(fixedArb, fc.nat(), (message, at) => {
				const bytes = encodeMessage(message);
				assert.equal(decodeMessage(bytes.subarray(0, at % bytes.length)), null);
			}),
			{ numRuns: 300 },
		);
	});

	it("rejects a trailing garbage byte", () => {
		for (const { message, bytes } of examples) {
			if (tailTypes.has(message.type)) continue;
			for (const extra of [0x00, 0xff]) {
				assert.equal(
					decodeMessage(Buffer.concat([bytes, Uint8Array.of(extra)])),
					null,
					message.type,
				);
			}
		}
		// A tail message already at its bound rejects one more byte too.
		const fullChunk = encodeMessage({
			type: "manifestChunk",
			requestId: 1,
			fileId: filled(32, 1),
			total: 3,
			offset: 0,
			bytes: Uint8Array.of(1, 2, 3),
		});
		assert.notEqual(decodeMessage(fullChunk), null);
		assert.equal(decodeMessage(Buffer.concat([fullChunk, Uint8Array.of(4)])), null);
	});

	it("rejects datagrams over 65,507 bytes", () => {
		const fileId = filled(32, 1);
		const fits = encodeMessage({
			type: "data",
			fileId,
			offset: 0,
			payload: filled(MAX_DATAGRAM - 44, 1),
		});
		assert.equal(fits.length, 65_507);
		assert.notEqual(decodeMessage(fits), null);
		const over = encodeMessage({
			type: "data",
			fileId,
			offset: 0,
			payload: filled(MAX_DATAGRAM - 43, 1),
		});
		assert.equal(decodeMessage(over), null);
	});

	describe("announce", () => {
		const announce = (name: Buffer, basePort = 45460, interval = 2000) =>
			Buffer.concat([
				hex("50 32 01 03", rep("aa", 16), rep("bb", 32), "00000000 00000001"),
				hex(basePort.toString(16).padStart(4, "0")),
				hex("00000001 00000002"),
				hex(interval.toString(16).padStart(8, "0")),
				Uint8Array.of(name.length),
				name,
				hex(rep("cc", 64)),
			]);

		it("accepts a 64-byte name and rejects a 65-byte one", () => {
			const ok = decodeMessage(announce(Buffer.from("n".repeat(64))));
			assert.equal(ok?.type === "announce" && ok.name, "n".repeat(64));
			assert.equal(decodeMessage(announce(Buffer.from("n".repeat(65)))), null);
			assert.equal(decodeMessage(announce(Buffer.from("n".repeat(255)))), null);
		});

		it("rejects base port 0 and base ports above 65532", () => {
			const name = Buffer.from("p");
			assert.notEqual(decodeMessage(announce(name, 1)), null);
			assert.notEqual(decodeMessage(announce(name, 65532)), null);
			for (const port of [0, 65533, 65534, 65535]) {
				assert.equal(decodeMessage(announce(name, port)), null, `port ${port}`);
			}
		});

		it("rejects an interval under 10 ms", () => {
			const name = Buffer.from("p");
			assert.notEqual(decodeMessage(announce(name, 45460, 10)), null);
			assert.equal(decodeMessage(announce(name, 45460, 9)), null);
			assert.equal(decodeMessage(announce(name, 45460, 0)), null);
		});

		it("rejects a name that is not valid UTF-8", () => {
			assert.notEqual(decodeMessage(announce(hex("c3 a9"))), null);
			for (const bad of ["ff", "c3 28", "c0 80", "ed a0 80", "f4 90 80 80", "e2 82"]) {
				assert.equal(decodeMessage(announce(hex(bad))), null, bad);
			}
		});
	});

	describe("list page", () => {
		const page = (entries: Buffer[], count = entries.length, total = 10, index = 0) =>
			Buffer.concat([
				hex("50 32 01 12", "00000001 00000001"),
				hex(total.toString(16).padStart(8, "0"), index.toString(16).padStart(8, "0")),
				hex(count.toString(16).padStart(4, "0")),
				...entries,
			]);
		const entry = (name: Buffer, size = "0000000000000001") =>
			Buffer.concat([
				hex(rep("01", 32), size, rep("02", 32)),
				hex(name.length.toString(16).padStart(4, "0")),
				name,
			]);

		it("rejects a page claiming more entries than the datagram holds", () => {
			const one = entry(Buffer.from("a.txt"));
			assert.notEqual(decodeMessage(page([one])), null);
			assert.equal(decodeMessage(page([one], 2)), null);
			assert.equal(decodeMessage(page([one], 0xffff, 0xffffffff)), null);
			assert.equal(decodeMessage(page([], 1)), null);
		});

		it("rejects index + count > total", () => {
			const one = entry(Buffer.from("a.txt"));
			assert.notEqual(decodeMessage(page([one], 1, 5, 4)), null);
			assert.equal(decodeMessage(page([one], 1, 5, 5)), null);
			assert.equal(decodeMessage(page([], 0, 5, 6)), null);
		});

		it("rejects empty names and names over 1024 bytes", () => {
			assert.notEqual(decodeMessage(page([entry(Buffer.from("x".repeat(1024)))])), null);
			assert.equal(decodeMessage(page([entry(Buffer.from("x".repeat(1025)))])), null);
			assert.equal(decodeMessage(page([entry(Buffer.alloc(0))])), null);
		});

		it("rejects a name that is not valid UTF-8", () => {
			assert.equal(decodeMessage(page([entry(hex("61 ff 62"))])), null);
			assert.equal(decodeMessage(page([entry(Buffer.from("ok")), entry(hex("ed b0 80"))])), null);
		});

		it("rejects a size of 2^53 or more", () => {
			const name = Buffer.from("a");
			assert.notEqual(decodeMessage(page([entry(name, "001fffffffffffff")])), null);
			assert.equal(decodeMessage(page([entry(name, "0020000000000000")])), null);
			assert.equal(decodeMessage(page([entry(name, "ffffffffffffffff")])), null);
		});
	});

	it("rejects block lengths 0 and over MAX_BLOCK_SIZE", () => {
		const request = (length: number) =>
			encodeMessage({
				type: "blockRequest",
				token: filled(16, 0),
				fileId: filled(32, 0),
				offset: 0,
				length,
			});
		assert.equal(MAX_BLOCK_SIZE, 61_440);
		assert.notEqual(decodeMessage(request(1)), null);
		assert.notEqual(decodeMessage(request(MAX_BLOCK_SIZE)), null);
		assert.equal(decodeMessage(request(0)), null);
		assert.equal(decodeMessage(request(MAX_BLOCK_SIZE + 1)), null);
		assert.equal(decodeMessage(request(0xffffffff)), null);
	});

	it("rejects a u64 of 2^53 or more in every u64 field", () => {
		const cases: [Buffer, number][] = [
			[examples[7].bytes, 52], // blockRequest offset
			[examples[8].bytes, 36], // data offset
			[examples[11].bytes, 36], // push offset
			[examples[9].bytes, 37], // error ref
		];
		for (const [bytes, at] of cases) {
			const withU64 = (v: string) => {
				const copy = Buffer.from(bytes);
				hex(v).copy(copy, at);
				return copy;
			};
			assert.notEqual(decodeMessage(withU64("001fffffffffffff")), null);
			assert.equal(decodeMessage(withU64("0020000000000000")), null);
			assert.equal(decodeMessage(withU64("8000000000000000")), null);
		}
	});

	it("rejects data and push without payload, and refuses to encode them", () => {
		for (const type of [MessageType.data, MessageType.push]) {
			// Header + file id + offset, no payload: hand-built, since the encoder refuses it.
			const empty = Buffer.concat([
				Buffer.from([0x50, 0x32, 0x01, type]),
				Buffer.alloc(32, 1),
				Buffer.alloc(8),
			]);
			assert.equal(decodeMessage(empty), null);
		}
		for (const type of ["data", "push"] as const) {
			assert.throws(
				() => encodeMessage({ type, fileId: filled(32, 1), offset: 0, payload: new Uint8Array(0) }),
				/empty payload/,
			);
		}
	});

	it("rejects a manifest chunk that runs past its total", () => {
		const chunk = (total: number, offset: number) =>
			encodeMessage({
				type: "manifestChunk",
				requestId: 1,
				fileId: filled(32, 1),
				total,
				offset,
				bytes: Uint8Array.of(1, 2),
			});
		assert.notEqual(decodeMessage(chunk(12, 10)), null);
		assert.equal(decodeMessage(chunk(11, 10)), null);
		assert.equal(decodeMessage(chunk(0, 0)), null);
	});

	describe("interest", () => {
		const interest = (pieceCount: number, done: number, firstPiece: number, have: Buffer) =>
			Buffer.concat([
				hex("50 32 01 22", rep("0c", 16), rep("01", 16), rep("02", 32)),
				hex(pieceCount.toString(16).padStart(8, "0")),
				Uint8Array.of(done),
				hex(firstPiece.toString(16).padStart(8, "0")),
				have,
			]);

		it("rejects a firstPiece that is not a multiple of 8", () => {
			assert.notEqual(decodeMessage(interest(100, 0, 8, Buffer.alloc(0))), null);
			for (const first of [1, 4, 7, 12]) {
				assert.equal(decodeMessage(interest(100, 0, first, Buffer.alloc(0))), null, `${first}`);
			}
		});

		it("rejects a done byte other than 0 or 1", () => {
			const one = decodeMessage(interest(8, 1, 0, Buffer.alloc(0)));
			assert.equal(one?.type === "interest" && one.done, true);
			assert.equal(decodeMessage(interest(8, 2, 0, Buffer.alloc(0))), null);
			assert.equal(decodeMessage(interest(8, 0xff, 0, Buffer.alloc(0))), null);
		});

		it("rejects a have-map reaching past the byte of the last piece", () => {
			// 9 pieces: two have bytes at most; from piece 8, one.
			assert.notEqual(decodeMessage(interest(9, 0, 0, Buffer.alloc(2))), null);
			assert.equal(decodeMessage(interest(9, 0, 0, Buffer.alloc(3))), null);
			assert.notEqual(decodeMessage(interest(9, 0, 8, Buffer.alloc(1))), null);
			assert.equal(decodeMessage(interest(9, 0, 8, Buffer.alloc(2))), null);
			assert.notEqual(decodeMessage(interest(8, 0, 0, Buffer.alloc(1))), null);
			assert.equal(decodeMessage(interest(8, 0, 0, Buffer.alloc(2))), null);
			assert.equal(decodeMessage(interest(0, 0, 0, Buffer.alloc(1))), null);
		});
	});

	it("never throws on arbitrary bytes", () => {
		fc.assert(
			fc.property(fc.uint8Array({ maxLength: 2000 }), (bytes) => {
				const decoded = decodeMessage(bytes);
				if (decoded) assert.equal(encodeMessage(decoded).length, bytes.length);
			}),
			{ numRuns: 500 },
		);
	});

	it("never throws on arbitrary bytes behind a valid header of every type code", () => {
		const codes = [...examples.map((e) => e.code), 0x00, 0x03, 0x18, 0x22, 0xff];
		fc.assert(
			fc.property(fc.constantFrom(...codes), fc.uint8Array({ maxLength: 600 }), (code, body) => {
				const datagram = Buffer.concat([hex("50 32 01"), Uint8Array.of(code), body]);
				const decoded = decodeMessage(datagram);
				if (decoded) assert.equal(encodeMessage(decoded).toString("hex"), datagram.toString("hex"));
			}),
			{ numRuns: 500 },
		);
	});

	it("never throws on valid messages with arbitrary bytes flipped", () => {
		fc.assert(
			fc.property(
				anyMessageArb,
				fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 }))),
				(m, edits) => {
					const bytes = Buffer.from(encodeMessage(m));
					for (const [at, value] of edits) bytes[at % bytes.length] = value;
					decodeMessage(bytes);
				},
			),
			{ numRuns: 300 },
		);
	});
});

// ---------------------------------------------------------------------------------------

describe("manifest", () => {
	const example: Manifest = {
		size: 600_000,
		pieceSize: 262_144,
		contentHash: filled(32, 0xcc),
		pieceHashes: [filled(32, 0xa1), filled(32, 0xa2), filled(32, 0xa3)],
	};
	const exampleBytes = hex(
		"01",
		"00 00 00 00 00 09 27 c0",
		"00 04 00 00",
		rep("cc", 32),
		"00 00 00 03",
		rep("a1", 32),
		rep("a2", 32),
		rep("a3", 32),
	);

	/** A consistent manifest encoding built by hand (zero hashes). */
	function rawManifest(
		size: number,
		pieceSize: number,
		count = Math.ceil(size / pieceSize),
		version = 1,
	): Buffer {
		const w = new Writer(49 + count * 32);
		w.u8(version).u64(size).u32(pieceSize).bytes(filled(32, 7)).u32(count);
		w.bytes(new Uint8Array(count * 32));
		return w.finish();
	}

	it("encodes exactly as specified (49 + 32 n bytes)", () => {
		const encoded = encodeManifest(example);
		assert.equal(encoded.toString("hex"), exampleBytes.toString("hex"));
		assert.equal(encoded.length, 49 + 3 * 32);
	});

	it("round-trips the example and an empty file", () => {
		assert.deepEqual(plain(decodeManifest(exampleBytes)), plain(example));
		const empty: Manifest = {
			size: 0,
			pieceSize: 262_144,
			contentHash: hash(new Uint8Array(0)),
			pieceHashes: [],
		};
		assert.deepEqual(plain(decodeManifest(encodeManifest(empty))), plain(empty));
	});

	it("round-trips arbitrary manifests (property)", () => {
		fc.assert(
			fc.property(manifestArb, (manifest) => {
				const decoded = decodeManifest(encodeManifest(manifest));
				assert.deepEqual(plain(decoded), plain(manifest));
			}),
			{ numRuns: 200 },
		);
	});

	it("rejects a wrong version", () => {
		assert.notEqual(decodeManifest(rawManifest(100, 16384)), null);
		for (const version of [0, 2, 0xff]) {
			assert.equal(decodeManifest(rawManifest(100, 16384, 1, version)), null);
			assert.equal(decodeManifest(patched(exampleBytes, 0, version)), null);
		}
	});

	it("rejects piece sizes that are not a power of two in 16 KiB..1 GiB", () => {
		assert.notEqual(decodeManifest(rawManifest(1, 16 * 1024)), null);
		assert.notEqual(decodeManifest(rawManifest(1, 1024 ** 3)), null);
		for (const pieceSize of [
			0,
			1,
			8 * 1024,
			16 * 1024 - 1,
			3 * 16 * 1024,
			262_145,
			2 ** 31,
			0xffffffff,
		]) {
			assert.equal(decodeManifest(rawManifest(1, pieceSize, 1)), null, `${pieceSize}`);
		}
	});

	it("rejects a piece count that does not match size and piece size", () => {
		assert.equal(decodeManifest(rawManifest(600_000, 262_144, 2)), null);
		assert.equal(decodeManifest(rawManifest(600_000, 262_144, 4)), null);
		assert.equal(decodeManifest(rawManifest(0, 262_144, 1)), null);
		assert.equal(decodeManifest(rawManifest(1, 262_144, 0)), null);
	});

	it("rejects more than 65,536 pieces", () => {
		const pieceSize = 16 * 1024;
		assert.notEqual(decodeManifest(rawManifest(MAX_PIECES * pieceSize, pieceSize)), null);
		assert.equal(decodeManifest(rawManifest(MAX_PIECES * pieceSize + 1, pieceSize)), null);
	});

	it("rejects a size of 2^53 or more", () => {
		const bytes = Buffer.from(exampleBytes);
		hex("0020000000000000").copy(bytes, 1);
		assert.equal(decodeManifest(bytes), null);
	});

	it("rejects trailing bytes and every truncation", () => {
		assert.equal(decodeManifest(Buffer.concat([exampleBytes, Uint8Array.of(0)])), null);
		assert.equal(decodeManifest(Buffer.concat([exampleBytes, new Uint8Array(32)])), null);
		for (let length = 0; length < exampleBytes.length; length++) {
			assert.equal(decodeManifest(exampleBytes.subarray(0, length)), null, `cut at ${length}`);
		}
	});

	it("never throws on arbitrary bytes", () => {
		fc.assert(
			fc.property(fc.uint8Array({ maxLength: 400 }), (bytes) => {
				decodeManifest(bytes);
				decodeManifest(Buffer.concat([hex("01"), bytes]));
			}),
			{ numRuns: 300 },
		);
	});

	it("refuses to encode an inconsistent manifest", () => {
		assert.throws(
			() => encodeManifest({ ...example, pieceHashes: example.pieceHashes.slice(1) }),
			RangeError,
		);
		assert.throws(
			() =>
				encodeManifest({ ...example, pieceHashes: [filled(32, 1), filled(31, 1), filled(32, 1)] }),
			RangeError,
		);
	});

	it("takes the file id as the BLAKE3 of the encoding", () => {
		const id = manifestId(exampleBytes);
		assert.equal(id.length, 32);
		assert.equal(toHex(id), toHex(hash(exampleBytes)));
		assert.notEqual(toHex(manifestId(patched(exampleBytes, 60, 0))), toHex(id));
	});

	it("chooses 256 KiB pieces for files up to 4 GiB, then doubles", () => {
		assert.equal(pieceSizeFor(0), 256 * 1024);
		assert.equal(pieceSizeFor(1), 256 * 1024);
		assert.equal(pieceSizeFor(3 * 1024 * 1024), 256 * 1024);
		assert.equal(pieceSizeFor(16_384 * 256 * 1024), 256 * 1024);
		assert.equal(pieceSizeFor(16_384 * 256 * 1024 + 1), 512 * 1024);
		assert.equal(pieceSizeFor(16_384 * 1024 ** 3), MAX_PIECE_SIZE);
		assert.equal(pieceSizeFor(2 ** 50), MAX_PIECE_SIZE);
	});

	it("keeps at most 16,384 pieces of a minimal power-of-two size up to 16 TiB (property)", () => {
		fc.assert(
			fc.property(fc.integer({ min: 0, max: 16_384 * 1024 ** 3 }), (size) => {
				const pieceSize = pieceSizeFor(size);
				assert.ok(pieceSize >= 256 * 1024 && pieceSize <= MAX_PIECE_SIZE);
				assert.equal(pieceSize & (pieceSize - 1), 0);
				assert.ok(pieceCount(size, pieceSize) <= 16_384);
				if (pieceSize > 256 * 1024) assert.ok(pieceCount(size, pieceSize / 2) > 16_384);
			}),
			{ numRuns: 500 },
		);
	});

	it("gives the last piece the remainder", () => {
		assert.equal(pieceCount(600_000, 262_144), 3);
		assert.equal(pieceLength(example, 0), 262_144);
		assert.equal(pieceLength(example, 2), 600_000 - 2 * 262_144);
		assert.equal(pieceLength({ size: 524_288, pieceSize: 262_144 }, 1), 262_144);
	});
});

describe("hash", () => {
	it("is standard BLAKE3 (what b3sum prints)", () => {
		assert.equal(
			toHex(hash(Buffer.from("abc"))),
			"6437b3ac38465133ffb63b75273a8db548c558465d79db03fd359c6cd5bd9d85",
		);
		assert.equal(
			toHex(hash(new Uint8Array(0))),
			"af1349b9f5f9a1a6a0404dea36dcc9499bcb25c9adc112b7cc9a93cae41f3262",
		);
	});

	it("hashes incrementally the same as in one shot (property)", () => {
		fc.assert(
			fc.property(
				fc.uint8Array({ maxLength: 5000 }),
				fc.array(fc.nat(), { maxLength: 6 }),
				(bytes, cuts) => {
					const points = [
						0,
						...cuts.map((c) => c % (bytes.length + 1)).sort((a, b) => a - b),
						bytes.length,
					];
					const hasher = createHasher();
					for (let i = 1; i < points.length; i++)
						hasher.update(bytes.subarray(points[i - 1], points[i]));
					assert.equal(toHex(hasher.digest()), toHex(hash(bytes)));
				},
			),
			{ numRuns: 200 },
		);
	});

	it("converts hex both ways", () => {
		fc.assert(
			fc.property(fc.uint8Array({ maxLength: 64 }), (bytes) => {
				const text = toHex(bytes);
				assert.match(text, /^[0-9a-f]*$/);
				assert.deepEqual(fromHex(text, bytes.length), Buffer.from(bytes));
				assert.deepEqual(fromHex(text.toUpperCase(), bytes.length), Buffer.from(bytes));
			}),
			{ numRuns: 200 },
		);
		const host = Uint8Array.of(0, 1, 0xab, 0xcd, 9);
		assert.equal(toHex(host.subarray(2, 4)), "abcd");
	});

	it("rejects hex of the wrong length or with non-hex characters", () => {
		assert.equal(fromHex("abcd", 3), null);
		assert.equal(fromHex("abcdef00", 3), null);
		assert.equal(fromHex("abc", 2), null);
		assert.equal(fromHex("zz", 1), null);
		assert.equal(fromHex("0g", 1), null);
		assert.equal(fromHex(" a", 1), null);
		assert.equal(fromHex("+1", 1), null);
		assert.equal(fromHex("", 0)?.length, 0);
	});
});

describe("Reader and Writer", () => {
	it("reads big-endian integers, unsigned", () => {
		const r = new Reader(hex("ab cd ef 01 ff ff ff ff 00 1f ff ff ff ff ff ff"));
		assert.equal(r.u8(), 0xab);
		assert.equal(r.u16(), 0xcdef);
		assert.equal(r.u8(), 0x01);
		assert.equal(r.u32(), 0xffffffff);
		assert.equal(r.u64(), MAX_U64);
		assert.equal(r.done, true);
	});

	it("fails a u64 of 2^53 or more", () => {
		for (const big of ["0020000000000000", "ffffffffffffffff", "8000000000000001"]) {
			const r = new Reader(hex(big));
			assert.equal(r.u64(), 0);
			assert.equal(r.ok, false);
		}
		const edge = new Reader(hex("001fffffffffffff"));
		assert.equal(edge.u64(), 2 ** 53 - 1);
		assert.equal(edge.ok, true);
	});

	it("latches failure on a read past the end: later reads give zero values", () => {
		const r = new Reader(hex("01 02 03"));
		assert.equal(r.u32(), 0);
		assert.equal(r.ok, false);
		assert.equal(r.remaining, 0);
		assert.equal(r.u8(), 0);
		assert.equal(r.bytes(1).length, 0);
		assert.equal(r.done, false);
	});

	it("fails invalid UTF-8", () => {
		const r = new Reader(hex("ff fe"));
		assert.equal(r.utf8(2), "");
		assert.equal(r.ok, false);
		assert.equal(new Reader(Buffer.from("ü")).utf8(2), "ü");
	});

	it("writes u64 up to 2^53 - 1 and throws beyond", () => {
		assert.equal(new Writer(8).u64(MAX_U64).finish().toString("hex"), "001fffffffffffff");
		assert.equal(
			new Writer(8)
				.u64(2 ** 32 + 1)
				.finish()
				.toString("hex"),
			"0000000100000001",
		);
		for (const bad of [2 ** 53, -1, 1.5, Number.NaN, Number.POSITIVE_INFINITY]) {
			assert.throws(() => new Writer(8).u64(bad), RangeError, `${bad}`);
		}
	});

	it("round-trips u64 values (property)", () => {
		fc.assert(
			fc.property(u64, (v) => {
				assert.equal(new Reader(new Writer(8).u64(v).finish()).u64(), v);
			}),
			{ numRuns: 300 },
		);
	});

	it("throws from finish when under- or over-filled", () => {
		assert.throws(() => new Writer(4).u16(1).finish(), /wrote 2 of 4/);
		assert.throws(() => new Writer(3).finish(), /wrote 0 of 3/);
		assert.throws(() => new Writer(1).u8(1).u8(2).finish(), RangeError);
		assert.equal(new Writer(3).u8(1).u16(0x0203).finish().toString("hex"), "010203");
	});

	it("refuses integers out of their field's range instead of wrapping them", () => {
		assert.throws(() => new Writer(1).u8(256), RangeError);
		assert.throws(() => new Writer(2).u16(65536), RangeError);
		assert.throws(() => new Writer(4).u32(2 ** 32 + 5), RangeError);
		assert.throws(() => new Writer(4).u32(-1), RangeError);
		assert.throws(() => new Writer(8).u64(2 ** 53), RangeError);
	});
});

// ---------------------------------------------------------------------------------------

describe("address validation", () => {
	it("accepts a token in its epoch and the next, only for its address and port", () => {
		let now = 10 * 60_000 + 5;
		const issuer = new TokenIssuer(() => now);
		const token = issuer.issue("192.168.1.2", 45460);
		assert.equal(token.length, 16);
		assert.equal(issuer.check(token, "192.168.1.2", 45460), true);
		assert.equal(issuer.check(token, "192.168.1.3", 45460), false);
		assert.equal(issuer.check(token, "192.168.1.2", 45461), false);
		assert.equal(issuer.check(token.subarray(0, 15), "192.168.1.2", 45460), false);
		now = 11 * 60_000 + 59_999;
		assert.equal(issuer.check(token, "192.168.1.2", 45460), true);
		now = 12 * 60_000;
		assert.equal(issuer.check(token, "192.168.1.2", 45460), false);
	});

	it("answers an unvalidated request only with a 24-byte Retry; requestId 0 for blocks", () => {
		const sent: Buffer[] = [];
		const service = new SendService(
			{
				files: () => [],
				directories: () => [],
				get: () => undefined,
				read: async () => null,
				revision: 3,
			},
			new TokenIssuer(() => 0),
			(datagram) => {
				sent.push(Array.isArray(datagram) ? Buffer.concat(datagram) : datagram);
			},
		);
		const from = { address: "10.0.0.9", port: 45460 };
		service.recv(
			encodeMessage({ type: "listRequest", token: filled(16, 0), requestId: 42, index: 0 }),
			from,
		);
		service.recv(
			encodeMessage({
				type: "blockRequest",
				token: filled(16, 0),
				fileId: filled(32, 1),
				offset: 0,
				length: 10,
			}),
			from,
		);
		assert.equal(sent.length, 2);
		const [listRetry, blockRetry] = sent.map((d) => decodeMessage(d));
		assert.equal(sent[0].length, 24);
		assert.equal(listRetry?.type === "retry" && listRetry.requestId, 42);
		assert.equal(blockRetry?.type === "retry" && blockRetry.requestId, 0);
		assert.equal(service.stats.retries, 2);
		// With the token the request is answered.
		const token = listRetry?.type === "retry" ? Buffer.from(listRetry.token) : filled(16, 0);
		service.recv(encodeMessage({ type: "listRequest", token, requestId: 43, index: 0 }), from);
		const page = decodeMessage(sent[2]);
		assert.equal(page?.type, "listPage");
		assert.equal(page?.type === "listPage" && page.revision, 3);
	});

	it("drops malformed datagrams and non-requests without answering", () => {
		const sent: Buffer[] = [];
		const service = new SendService(
			{
				files: () => [],
				directories: () => [],
				get: () => undefined,
				read: async () => null,
				revision: 1,
			},
			new TokenIssuer(),
			(datagram) => {
				sent.push(Array.isArray(datagram) ? Buffer.concat(datagram) : datagram);
			},
		);
		const from = { address: "10.0.0.9", port: 1 };
		service.recv(hex("50 32 01"), from);
		service.recv(hex("00 00 00 00 00"), from);
		service.recv(examples[1].bytes, from); // a leave: not for this port
		service.recv(patched(examples[3].bytes, 2, 2), from); // version 2
		assert.equal(sent.length, 0);
		assert.equal(service.stats.malformed, 4);
	});
});

// ---------------------------------------------------------------------------------------

describe("folder entries and list deltas: rejection", () => {
	const rawEntry = (fileId: string, size: string, contentHash: string, name: string) =>
		Buffer.concat([
			hex(fileId, size, contentHash, Buffer.byteLength(name).toString(16).padStart(4, "0")),
			Buffer.from(name),
		]);
	const page = (entry: Buffer) =>
		Buffer.concat([hex("50 32 01 12", "00000001 00000001 00000001 00000000 0001"), entry]);
	const zero = rep("00", 32);
	const zeroSize = "0000000000000000";

	it("accepts a folder entry only with size 0 and a zero content hash", () => {
		const ok = decodeMessage(page(rawEntry(zero, zeroSize, zero, "d")));
		assert.ok(ok?.type === "listPage" && isFolderEntry(ok.entries[0]));
		assert.equal(decodeMessage(page(rawEntry(zero, "0000000000000001", zero, "d"))), null);
		assert.equal(decodeMessage(page(rawEntry(zero, zeroSize, `${rep("00", 31)}01`, "d"))), null);
		// A file entry (non-zero id) may have any content hash and size 0.
		const file = decodeMessage(page(rawEntry(`${rep("00", 31)}01`, zeroSize, zero, "f")));
		assert.ok(file?.type === "listPage" && !isFolderEntry(file.entries[0]));
	});

	it("refuses to encode a malformed folder entry or an empty name", () => {
		const bad: ListEntry[] = [
			{ ...folderEntry("d"), size: 1 },
			{ ...folderEntry("d"), contentHash: filled(32, 1) },
			{ fileId: filled(32, 1), size: 0, contentHash: filled(32, 0), name: "" },
		];
		for (const entry of bad) {
			assert.throws(
				() =>
					encodeMessage({
						type: "listPage",
						requestId: 0,
						revision: 0,
						total: 1,
						index: 0,
						entries: [entry],
					}),
				RangeError,
			);
			assert.throws(
				() =>
					encodeMessage({
						type: "listDelta",
						requestId: 0,
						status: DeltaStatus.ok,
						since: 0,
						revision: 1,
						total: 1,
						index: 0,
						changes: [{ removed: false, entry }],
					}),
				RangeError,
			);
		}
	});

	const delta = (
		fields: { status?: string; total?: number; index?: number; count?: number },
		changes: Buffer[],
	) =>
		Buffer.concat([
			hex("50 32 01 19", "00000007", fields.status ?? "00", "00000003", "00000005"),
			hex((fields.total ?? changes.length).toString(16).padStart(8, "0")),
			hex((fields.index ?? 0).toString(16).padStart(8, "0")),
			hex((fields.count ?? changes.length).toString(16).padStart(4, "0")),
			...changes,
		]);
	const change = (kind: string, name = "a") =>
		Buffer.concat([hex(kind), rawEntry(rep("44", 32), "0000000000000005", rep("55", 32), name)]);

	it("rejects an unknown delta status, and a full-list answer that carries changes", () => {
		assert.notEqual(decodeMessage(delta({}, [change("01")])), null);
		assert.notEqual(decodeMessage(delta({ status: "01" }, [])), null);
		for (const status of ["02", "ff"]) assert.equal(decodeMessage(delta({ status }, [])), null);
		assert.equal(decodeMessage(delta({ status: "01" }, [change("01")])), null);
		assert.equal(decodeMessage(delta({ status: "01", total: 3 }, [])), null);
		assert.equal(decodeMessage(delta({ status: "01", total: 3, index: 3 }, [])), null);
	});

	it("rejects change kinds other than 1 (added) and 2 (removed)", () => {
		const removed = decodeMessage(delta({}, [change("02")]));
		assert.ok(removed?.type === "listDelta" && removed.changes[0].removed);
		for (const kind of ["00", "03", "ff"])
			assert.equal(decodeMessage(delta({}, [change(kind)])), null, kind);
	});

	it("rejects a count the datagram cannot hold and index + count > total", () => {
		assert.equal(decodeMessage(delta({ count: 2 }, [change("01")])), null);
		assert.equal(decodeMessage(delta({ count: 0xffff, total: 0xffffffff }, [])), null);
		assert.notEqual(decodeMessage(delta({ total: 5, index: 4 }, [change("01")])), null);
		assert.equal(decodeMessage(delta({ total: 5, index: 5 }, [change("01")])), null);
		assert.equal(decodeMessage(delta({ total: 0 }, [change("01")])), null);
	});

	it("rejects bad names inside a delta: empty, over 1024 bytes, invalid UTF-8", () => {
		assert.notEqual(decodeMessage(delta({}, [change("01", "x".repeat(1024))])), null);
		assert.equal(decodeMessage(delta({}, [change("01", "x".repeat(1025))])), null);
		assert.equal(decodeMessage(delta({}, [change("01", "")])), null);
		const bad = Buffer.concat([
			hex("01"),
			hex(rep("44", 32), "0000000000000005", rep("55", 32), "0002", "c3 28"),
		]);
		assert.equal(decodeMessage(delta({}, [bad])), null);
	});

	it("never throws on arbitrary bytes after a list page or delta header (property)", () => {
		fc.assert(
			fc.property(
				fc.constantFrom(MessageType.listPage, MessageType.listDelta, MessageType.listDeltaRequest),
				fc.uint8Array({ maxLength: 400 }),
				(type, body) => {
					const decoded = decodeMessage(
						Buffer.concat([hex("50 32 01"), Uint8Array.of(type), body]),
					);
					if (decoded) assert.equal(encodeMessage(decoded).length, body.length + 4);
				},
			),
			{ numRuns: 1000 },
		);
	});
});

/** A fake shared list the send service reads: files by name (id = BLAKE3 of the name and content tag), folders. */
function fakeLibrary() {
	const state = { revision: 1, files: new Map<string, string>(), dirs: [] as string[] };
	const library: ServedLibrary = {
		get revision() {
			return state.revision;
		},
		files: () =>
			[...state.files]
				.sort(([a], [b]) => (a < b ? -1 : 1))
				.map(([name, tag]) => {
					const idBytes = hash(Buffer.from(`${name}|${tag}`));
					return {
						id: toHex(idBytes),
						idBytes,
						name,
						size: tag.length,
						manifest: { contentHash: hash(Buffer.from(tag)) },
					} as unknown as ReturnType<ServedLibrary["files"]>[number];
				}),
		directories: () => state.dirs,
		get: () => undefined,
		read: async () => null,
	};
	return { state, library };
}

/** A send service over a fake library, and a validated client that collects its answers. */
function serviceClient(library: ServedLibrary, address = "127.0.0.1") {
	const issuer = new TokenIssuer(() => 0);
	const answers: Message[] = [];
	/** Sizes in bytes of every datagram sent. */
	const sizes: number[] = [];
	const service = new SendService(library, issuer, (datagram) => {
		const bytes = Array.isArray(datagram) ? Buffer.concat(datagram) : datagram;
		sizes.push(bytes.length);
		const m = decodeMessage(bytes);
		if (m) answers.push(m);
	});
	const from = { address, port: 40000 };
	const token = issuer.issue(from.address, from.port);
	let requestId = 0;
	const ask = (build: (token: Uint8Array, requestId: number) => Buffer): Message => {
		service.recv(build(token, ++requestId), from);
		const answer = answers.pop();
		assert.ok(answer);
		return answer;
	};
	const list = () => {
		const entries: ListEntry[] = [];
		let total = 1;
		let revision = 0;
		while (entries.length < total) {
			const index = entries.length;
			const page = ask((t, id) =>
				encodeMessage({ type: "listRequest", token: t, requestId: id, index }),
			);
			assert.ok(page.type === "listPage");
			total = page.total;
			revision = page.revision;
			entries.push(...page.entries);
		}
		return { revision, entries };
	};
	const delta = (since: number) => {
		const changes: ListChange[] = [];
		let total = 1;
		let status: number = DeltaStatus.ok;
		let revision = 0;
		while (changes.length < total) {
			const index = changes.length;
			const page = ask((t, id) =>
				encodeMessage({ type: "listDeltaRequest", token: t, requestId: id, since, index }),
			);
			assert.ok(page.type === "listDelta");
			assert.equal(page.since, since);
			({ status, total, revision } = page);
			if (status !== DeltaStatus.ok) break;
			changes.push(...page.changes);
		}
		const named = (removed: boolean) =>
			changes
				.filter((c) => c.removed === removed)
				.map((c) => (isFolderEntry(c.entry) ? `${c.entry.name}/` : c.entry.name))
				.sort();
		return { status, revision, added: named(false), removed: named(true), changes };
	};
	return { service, list, delta, sizes };
}

describe("the send service's list: folders and deltas", () => {
	it("lists files, then the folders no file lies under, sorted by name", () => {
		const { state, library } = fakeLibrary();
		state.files.set("a/b/x.txt", "x");
		state.files.set("z.txt", "z");
		state.dirs = ["a", "a/b", "empty", "empty/sub", "m"];
		const { list } = serviceClient(library);
		const { entries, revision } = list();
		assert.equal(revision, 1);
		assert.deepEqual(
			entries.map((e) => (isFolderEntry(e) ? `${e.name}/` : e.name)),
			["a/b/x.txt", "empty/", "empty/sub/", "m/", "z.txt"],
		);
	});

	it("answers a delta with the changes since a revision it handed out, net of changes undone", () => {
		const { state, library } = fakeLibrary();
		for (let i = 0; i < 10; i++) state.files.set(`f${i}.txt`, `v${i}`);
		const { list, delta, service } = serviceClient(library);
		assert.equal(list().revision, 1);
		assert.deepEqual(delta(1), { status: 0, revision: 1, added: [], removed: [], changes: [] });

		state.files.delete("f1.txt");
		state.files.set("f2.txt", "changed");
		state.files.set("new.txt", "n");
		state.dirs = ["empty"];
		state.revision = 2;
		const d2 = delta(1);
		assert.equal(d2.status, DeltaStatus.ok);
		assert.equal(d2.revision, 2);
		assert.deepEqual(d2.added, ["empty/", "f2.txt", "new.txt"]);
		assert.deepEqual(d2.removed, ["f1.txt", "f2.txt"]);

		// Revision 3 adds a file, revision 4 removes it again and restores f1: from 2 only f1.
		state.files.set("tmp.txt", "t");
		state.revision = 3;
		assert.deepEqual(delta(2).added, ["tmp.txt"]);
		state.files.delete("tmp.txt");
		state.files.set("f1.txt", "v1");
		state.revision = 4;
		const d4 = delta(2);
		assert.deepEqual([d4.added, d4.removed], [["f1.txt"], []]);
		const d14 = delta(1);
		assert.deepEqual([d14.added, d14.removed], [["empty/", "f2.txt", "new.txt"], ["f2.txt"]]);
		// The removal carries the entry as it was listed.
		const removed = d14.changes.find((c) => c.removed);
		assert.equal(removed?.entry.size, "v2".length);
		assert.equal(service.stats.deltaFallbacks, 0);
	});

	it("says to fetch the whole list for a revision it never handed out or has forgotten", () => {
		const { state, library } = fakeLibrary();
		for (let i = 0; i < 5; i++) state.files.set(`f${i}.txt`, `v${i}`);
		const { list, delta, service } = serviceClient(library);
		list();
		assert.equal(delta(77).status, DeltaStatus.fullList);
		assert.equal(delta(77).revision, 1);
		for (let r = 2; r <= DELTA_HISTORY_REVISIONS + 2; r++) {
			state.files.set(`r${r}.txt`, `r${r}`);
			state.revision = r;
			list();
		}
		// Revision 1's step is forgotten (64 steps kept); revision 2's is still there.
		assert.equal(delta(1).status, DeltaStatus.fullList);
		const kept = delta(2);
		assert.equal(kept.status, DeltaStatus.ok);
		assert.equal(kept.added.length, DELTA_HISTORY_REVISIONS);
		assert.equal(service.stats.deltaFallbacks, 3);
	});

	it("says to fetch the whole list when the delta would be longer than the list", () => {
		const { state, library } = fakeLibrary();
		for (let i = 0; i < 5; i++) state.files.set(`f${i}.txt`, `v${i}`);
		const { list, delta } = serviceClient(library);
		list();
		state.files.clear();
		state.files.set("only.txt", "o");
		state.revision = 2;
		assert.equal(delta(1).status, DeltaStatus.fullList);
	});

	it("pages a long delta within the path's datagram size, every change once", () => {
		const { state, library } = fakeLibrary();
		const address = "10.255.255.1";
		const { list, delta, service, sizes } = serviceClient(library, address);
		state.files.set("seed.txt", "s");
		for (let i = 0; i < 300; i++) state.files.set(`old/${String(i).padStart(4, "0")}`, "o");
		list();
		for (let i = 0; i < 300; i++) state.files.set(`${"n".repeat(200)}/${i}`, "n");
		state.revision = 2;
		const sent = sizes.length;
		const d = delta(1);
		assert.equal(d.status, DeltaStatus.ok);
		assert.equal(d.added.length, 300);
		assert.equal(new Set(d.added).size, 300);
		assert.equal(service.stats.deltaChanges, 300);
		// 300 changes of 280 bytes: as many pages as the path's datagram size needs, none over it.
		const pages = sizes.slice(sent);
		assert.equal(pages.length, service.stats.deltaPages);
		const budget = maxDatagramFor(address);
		assert.ok(pages.every((n) => n <= budget));
		assert.ok(pages.length >= Math.ceil((300 * 280) / budget) && pages.length > 1);
	});
});

// ---------------------------------------------------------------------------------------

describe("download paths", () => {
	const root = "/tmp/dl";
	// Hostile structure: refused by both the strict check and the download path.
	const refused = [
		"",
		".",
		"..",
		"../x",
		"a/..",
		"a/../../b",
		"a/./b",
		"/etc/passwd",
		"C:\\x",
		"C:x",
		"a//b",
		"a/",
	];
	// Not refused on the way down any more: made safe (docs/protocol.md "Names").
	const rewritten: [string, string][] = [
		["a\\b", "a_b"],
		["a\u0000b", "a_b"],
		["a\nb", "a_b"],
		["a\u007fb", "a_b"],
		["x".repeat(256), "x".repeat(240)],
		[`ok/${"é".repeat(128)}`, `ok/${"é".repeat(120)}`],
	];

	for (const name of refused) {
		it(`refuses ${JSON.stringify(name)}`, () => {
			assert.equal(safeSegments(name), null);
			assert.equal(downloadTarget(root, name), null);
		});
	}

	for (const [name, safe] of rewritten) {
		const shown = name.length > 40 ? `${name.slice(0, 20)}…` : name;
		it(`is strict about ${JSON.stringify(shown).replace("\u007f", "\\u007f")} and makes it safe to download`, () => {
			assert.equal(safeSegments(name), null);
			assert.equal(downloadTarget(root, name), `${root}/${safe}`);
		});
	}

	it("accepts nested and non-ASCII names, under the downloads folder", () => {
		assert.deepEqual(safeSegments("docs/nested/deep notes.txt"), [
			"docs",
			"nested",
			"deep notes.txt",
		]);
		assert.equal(
			downloadTarget(root, "docs/nested/deep notes.txt"),
			"/tmp/dl/docs/nested/deep notes.txt",
		);
		assert.equal(downloadTarget(root, "Café – résumé ü.txt"), "/tmp/dl/Café – résumé ü.txt");
		assert.equal(downloadTarget(root, "x".repeat(240)), `/tmp/dl/${"x".repeat(240)}`);
		assert.deepEqual(safeSegments("x".repeat(255)), ["x".repeat(255)]);
		assert.equal(downloadTarget("/tmp/dl/", "a.txt"), "/tmp/dl/a.txt");
	});

	it("never resolves a name outside the downloads folder (property)", () => {
		const segment = fc.constantFrom("..", ".", "", "a", "b c", "\\", "C:", "..a", "é", "/");
		const nameArb = fc.oneof(
			fc.string({ unit: "binary", maxLength: 40 }),
			fc.string({ unit: "grapheme", maxLength: 40 }),
			fc.string({ unit: "binary-ascii", maxLength: 40 }),
			fc.array(segment, { maxLength: 6 }).map((parts) => parts.join("/")),
		);
		fc.assert(
			fc.property(nameArb, (name) => {
				const target = downloadTarget(root, name);
				if (target === null) return;
				const rel = path.relative(root, target);
				// Strictly inside: no `..` segment first (a name may start with two dots: `..a`).
				assert.ok(rel !== "" && rel.split("/")[0] !== ".." && !path.isAbsolute(rel), target);
				// As many segments as the name: nothing split or joined on the way.
				assert.equal(rel.split("/").length, name.split("/").length);
			}),
			{ numRuns: 500 },
		);
	});

	it("numbers a name before its extension", () => {
		assert.equal(numberedName("/d/a.txt", 1), "/d/a (1).txt");
		assert.equal(numberedName("/d/a.tar.gz", 2), "/d/a.tar (2).gz");
		assert.equal(numberedName("/d/README", 3), "/d/README (3)");
	});
});
