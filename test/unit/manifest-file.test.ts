/**
 * The `.p2p` file codec: exact bytes of a small example (checked against `b3sum`), round
 * trips of arbitrary names and manifests, and corrupt or truncated files refused (null,
 * never a throw).
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import fc from "fast-check";
import { hash } from "../../source/protocol/hash.js";
import { encodeManifest, type Manifest, manifestId } from "../../source/protocol/manifest.js";
import {
	decodeManifestFile,
	encodeManifestFile,
	fileLink,
	looksLikeManifestFile,
	MAX_MANIFEST_FILE_SIZE,
} from "../../source/protocol/manifest-file.js";
import { Writer } from "../../source/protocol/wire.js";
import { manifestArb } from "../helpers/arbitraries.js";

const ABC = "6437b3ac38465133ffb63b75273a8db548c558465d79db03fd359c6cd5bd9d85";

/** `abc.txt` holding "abc": one piece of 3 bytes; every hash here is what `b3sum` prints. */
const example: Manifest = {
	size: 3,
	pieceSize: 262_144,
	contentHash: Buffer.from(ABC, "hex"),
	pieceHashes: [Buffer.from(ABC, "hex")],
};
/** Its manifest's BLAKE3 (`b3sum` of the 81 manifest bytes). */
const EXAMPLE_ID = "9cd446c91c248a621114de2e7cb9ba6cb6d650a6534935e2097338265ea95ebb";
const exampleBytes = Buffer.from(
	[
		"5032504d", // magic "P2PM"
		"01", // version
		EXAMPLE_ID, // file id
		"0007", // name length
		"6162632e747874", // "abc.txt"
		"00000051", // manifest length: 81
		"01", // manifest: version
		"0000000000000003", // size
		"00040000", // piece size 262,144
		ABC, // content hash
		"00000001", // piece count
		ABC, // piece 0
		"a4812ca23e870fc13ce2d3c14f867dc6f5b7c26de8efb0b9fff804afa523cab3", // check
	].join(""),
	"hex",
);

/** A copy of `bytes` with byte `at` replaced by `value`. */
function patched(bytes: Uint8Array, at: number, value: number): Buffer {
	const copy = Buffer.from(bytes);
	copy[at] = value;
	return copy;
}

/** `body` with a correct check appended: damage the check alone cannot explain. */
function sealed(body: Uint8Array): Buffer {
	return Buffer.concat([body, hash(body)]);
}

/** The body of a `.p2p` file built field by field (no check). */
function rawBody(fields: {
	magic?: string;
	version?: number;
	id?: Uint8Array;
	name?: Uint8Array;
	manifest?: Uint8Array;
}): Buffer {
	const manifestBytes = fields.manifest ?? encodeManifest(example);
	const name = fields.name ?? Buffer.from("abc.txt");
	const w = new Writer(4 + 1 + 32 + 2 + name.length + 4 + manifestBytes.length);
	w.bytes(Buffer.from(fields.magic ?? "P2PM", "latin1")).u8(fields.version ?? 1);
	w.bytes(fields.id ?? manifestId(manifestBytes));
	w.u16(name.length).bytes(name).u32(manifestBytes.length).bytes(manifestBytes);
	return w.finish();
}

/** Names a `.p2p` file may carry: one segment, no control characters, 1..255 bytes. */
const nameArb = fc.string({ unit: "grapheme", minLength: 1, maxLength: 60 }).filter(
	(s) =>
		// biome-ignore lint/suspicious/noControlCharactersInRegex: the names refused are the point
		!/[\u0000-\u001f\u007f\\/]/.test(s) &&
		s !== "." &&
		s !== ".." &&
		!/^[a-zA-Z]:/.test(s) &&
		Buffer.byteLength(s) <= 255,
);

const plain = (m: Manifest | undefined) =>
	m && {
		size: m.size,
		pieceSize: m.pieceSize,
		contentHash: Buffer.from(m.contentHash).toString("hex"),
		pieceHashes: m.pieceHashes.map((h) => Buffer.from(h).toString("hex")),
	};

describe(".p2p file codec", () => {
	it("encodes the example byte for byte as docs/protocol.md says", () => {
		const encoded = encodeManifestFile("abc.txt", example);
		assert.equal(encoded.toString("hex"), exampleBytes.toString("hex"));
		assert.equal(encoded.length, 4 + 1 + 32 + 2 + 7 + 4 + 81 + 32);
		assert.equal(manifestId(encodeManifest(example)).toString("hex"), EXAMPLE_ID);
	});

	it("decodes the example: name, manifest, and the id the manifest hashes to", () => {
		const decoded = decodeManifestFile(exampleBytes);
		assert.ok(decoded);
		assert.equal(decoded.name, "abc.txt");
		assert.equal(decoded.id, EXAMPLE_ID);
		assert.equal(decoded.idBytes.toString("hex"), EXAMPLE_ID);
		assert.deepEqual(plain(decoded.manifest), plain(example));
		assert.ok(decoded.manifestBytes.equals(encodeManifest(example)));
		assert.equal(fileLink(decoded.id), `p2p:${EXAMPLE_ID}`);
		assert.ok(looksLikeManifestFile(exampleBytes));
		assert.ok(!looksLikeManifestFile(Buffer.from("P2PR")));
	});

	it("round-trips arbitrary names and manifests (property)", () => {
		fc.assert(
			fc.property(nameArb, manifestArb, (name, manifest) => {
				const decoded = decodeManifestFile(encodeManifestFile(name, manifest));
				assert.ok(decoded);
				assert.equal(decoded.name, name);
				assert.deepEqual(plain(decoded.manifest), plain(manifest));
				assert.equal(decoded.id, manifestId(encodeManifest(manifest)).toString("hex"));
			}),
			{ numRuns: 200 },
		);
	});

	it("refuses every truncation and every flipped byte of the example", () => {
		for (let length = 0; length < exampleBytes.length; length++)
			assert.equal(decodeManifestFile(exampleBytes.subarray(0, length)), null, `${length}`);
		assert.equal(decodeManifestFile(Buffer.concat([exampleBytes, Buffer.from([0])])), null);
		for (let at = 0; at < exampleBytes.length; at++)
			assert.equal(decodeManifestFile(patched(exampleBytes, at, exampleBytes[at] ^ 0x01)), null);
	});

	it("refuses arbitrary bytes without throwing (property)", () => {
		fc.assert(
			fc.property(fc.uint8Array({ maxLength: 400 }), (bytes) => {
				assert.equal(decodeManifestFile(bytes), null);
				assert.equal(decodeManifestFile(sealed(bytes)), null);
			}),
			{ numRuns: 300 },
		);
	});

	it("refuses intact files whose fields are wrong", () => {
		assert.ok(decodeManifestFile(sealed(rawBody({}))), "the builder makes a valid file");
		const cases: [string, Parameters<typeof rawBody>[0]][] = [
			["magic", { magic: "P2PR" }],
			["version 0", { version: 0 }],
			["version 2", { version: 2 }],
			["id of another manifest", { id: hash(Buffer.from("other")) }],
			["empty name", { name: Buffer.alloc(0) }],
			["name with a slash", { name: Buffer.from("docs/abc.txt") }],
			["name ..", { name: Buffer.from("..") }],
			["name with a control character", { name: Buffer.from("a\u0007b") }],
			["name of invalid UTF-8", { name: Buffer.from([0x61, 0xff, 0x62]) }],
			["name over 255 bytes", { name: Buffer.alloc(256, 0x61) }],
			["manifest that does not decode", { manifest: Buffer.alloc(81, 0) }],
			["manifest too short", { manifest: Buffer.alloc(10, 1) }],
		];
		for (const [what, fields] of cases)
			assert.equal(decodeManifestFile(sealed(rawBody(fields))), null, what);
		// A declared manifest length past the end of the body.
		const body = rawBody({});
		body.writeUInt32BE(0xffff_ffff, 4 + 1 + 32 + 2 + 7);
		assert.equal(decodeManifestFile(sealed(body)), null);
		// Anything longer than the largest possible file is refused before hashing.
		assert.equal(decodeManifestFile(Buffer.alloc(MAX_MANIFEST_FILE_SIZE + 1)), null);
	});

	it("refuses to encode a name that is not one safe segment", () => {
		for (const name of ["", "a/b", "..", "a\nb", "x".repeat(256)])
			assert.throws(() => encodeManifestFile(name, example), RangeError, JSON.stringify(name));
	});
});
