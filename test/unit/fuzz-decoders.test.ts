/**
 * Property tests of every decoder that takes bytes from outside (issue 6, "Fuzzing"): the
 * wire messages (announce, leave, retry, list and delta requests and pages, manifest
 * requests and chunks, block requests, data, push, error, interest), the manifest, the
 * resume record, the `.p2p` file and the download path rule. For valid values
 * decode(encode(x)) equals x; for arbitrary bytes, truncations, bit flips and valid inputs
 * with a length or count field set to an edge value, the fuzz target's oracle
 * (fuzz/oracle.ts) holds: the decoder returns null or a valid value that re-encodes to the
 * same bytes, never throws, sizes nothing from a claim, and takes under 10 ms.
 */
import assert from "node:assert/strict";
import { performance } from "node:perf_hooks";
import { describe, it } from "node:test";
import fc from "fast-check";
import { generators } from "../../fuzz/generators.js";
import type { FuzzTarget } from "../../fuzz/loop.js";
import { INTERESTING } from "../../fuzz/mutate.js";
import type { Field } from "../../fuzz/oracle.js";
import {
	decodeManifest,
	encodeManifest,
	MAX_PIECES,
	type Manifest,
} from "../../source/protocol/manifest.js";
import {
	decodeManifestFile,
	encodeManifestFile,
	MAX_EMBEDDED_MANIFEST,
} from "../../source/protocol/manifest-file.js";
import {
	decodeMessage,
	encodeMessage,
	MAX_MANIFEST_BYTES,
	type Message,
} from "../../source/protocol/messages.js";
import { decodeResume, encodeResume } from "../../source/protocol/resume.js";
import {
	manifestArb,
	manifestFileNameArb,
	messageArbs,
	resumeArb,
} from "../helpers/arbitraries.js";

/** The decoders' time limit per input, in ms (issue 6). */
const LIMIT_MS = 10;
const RUNS = 200;

/** A canonical form: byte fields as hex, object keys sorted (so field order does not count). */
function canon(value: unknown): string {
	const walk = (v: unknown): unknown => {
		if (ArrayBuffer.isView(v))
			return Buffer.from(v.buffer, v.byteOffset, v.byteLength).toString("hex");
		if (Array.isArray(v)) return v.map(walk);
		if (v && typeof v === "object")
			return Object.fromEntries(
				Object.entries(v)
					.sort(([a], [b]) => (a < b ? -1 : 1))
					.map(([k, x]) => [k, walk(x)]),
			);
		return v;
	};
	return JSON.stringify(walk(value));
}

/** CPU time of this process spent in `fn`, in ms. */
function cpuMs(fn: () => void): number {
	const before = process.cpuUsage();
	fn();
	const used = process.cpuUsage(before);
	return (used.user + used.system) / 1000;
}

/**
 * Times every call; an input over the limit in wall time is run eight more times and its
 * least CPU time counts: on a busy machine a 4 ms decode may wait 30 ms for a CPU, but it
 * does not use more CPU for it, while a decoder that is truly slow is slow every time.
 */
class Clock {
	max = 0;
	slow: { ms: number; length: number }[] = [];
	run(fn: (data: Buffer) => void, data: Buffer): void {
		const t0 = performance.now();
		fn(data);
		let ms = performance.now() - t0;
		if (ms > LIMIT_MS) {
			for (let i = 0; i < 8; i++)
				ms = Math.min(
					ms,
					cpuMs(() => fn(data)),
				);
			if (ms > LIMIT_MS) this.slow.push({ ms, length: data.length });
		}
		this.max = Math.max(this.max, ms);
	}
	assertFast(what: string): void {
		assert.deepEqual(this.slow, [], `${what}: inputs over ${LIMIT_MS} ms of CPU at best of 8 runs`);
	}
}

const targetNames = Object.keys(generators);
const targets = new Map<string, FuzzTarget>();
for (const name of targetNames)
	targets.set(name, (await import(`../../fuzz/targets/${name}.js`)) as FuzzTarget);

function fieldsOf(target: FuzzTarget, data: Uint8Array): Field[] {
	return typeof target.fields === "function" ? target.fields(data) : (target.fields ?? []);
}

function setField(data: Uint8Array, field: Field, value: bigint): Buffer {
	const out = Buffer.from(data);
	let v = value & ((1n << BigInt(field.size * 8)) - 1n);
	for (let i = field.size - 1; i >= 0; i--) {
		out[field.offset + i] = Number(v & 0xffn);
		v >>= 8n;
	}
	return out;
}

describe("decoders: decode(encode(x)) equals x", () => {
	for (const [name, arb] of Object.entries(messageArbs)) {
		it(`${name} messages`, () => {
			fc.assert(
				fc.property(arb as fc.Arbitrary<Message>, (message) => {
					const decoded = decodeMessage(encodeMessage(message));
					assert.equal(canon(decoded), canon(message));
				}),
				{ numRuns: RUNS },
			);
		});
	}

	it("manifests", () => {
		fc.assert(
			fc.property(manifestArb, (manifest) => {
				assert.equal(canon(decodeManifest(encodeManifest(manifest))), canon(manifest));
			}),
			{ numRuns: RUNS },
		);
	});

	it("resume records", () => {
		fc.assert(
			fc.property(resumeArb, (record) => {
				assert.equal(canon(decodeResume(encodeResume(record))), canon(record));
			}),
			{ numRuns: RUNS },
		);
	});

	it(".p2p files", () => {
		fc.assert(
			fc.property(manifestFileNameArb, manifestArb, (name, manifest) => {
				const file = decodeManifestFile(encodeManifestFile(name, manifest));
				assert.ok(file);
				assert.equal(file.name, name);
				assert.equal(canon(file.manifest), canon(manifest));
			}),
			{ numRuns: RUNS },
		);
	});
});

describe("decoders: hostile input returns null or a valid value, never throws, under 10 ms", () => {
	for (const name of targetNames) {
		const target = targets.get(name) as FuzzTarget;
		const valid = generators[name];
		const fuzz = (data: Buffer) => void target.fuzz(data);

		it(`${name}: arbitrary bytes`, () => {
			const clock = new Clock();
			fc.assert(
				fc.property(fc.uint8Array({ maxLength: 2048 }), (bytes) => {
					clock.run(fuzz, Buffer.from(bytes));
				}),
				{ numRuns: RUNS },
			);
			clock.assertFast(name);
		});

		it(`${name}: every truncation, bit flips and splices of valid inputs`, () => {
			const clock = new Clock();
			fc.assert(
				fc.property(
					valid,
					valid,
					fc.array(fc.nat(), { minLength: 1, maxLength: 8 }),
					fc.nat(),
					(data, other, flips, at) => {
						for (let n = 0; n < data.length; n++) clock.run(fuzz, data.subarray(0, n));
						const flipped = Buffer.from(data);
						if (flipped.length > 0)
							for (const f of flips) flipped[f % flipped.length] ^= 1 << ((f >> 3) % 8);
						clock.run(fuzz, flipped);
						const cut = at % (data.length + 1);
						clock.run(fuzz, Buffer.concat([data.subarray(0, cut), other.subarray(cut)]));
					},
				),
				{ numRuns: RUNS / 4 },
			);
			clock.assertFast(name);
		});

		it(`${name}: length and count fields set to edge values (a 1 PiB file, a million entries)`, () => {
			const clock = new Clock();
			fc.assert(
				fc.property(
					valid,
					fc.nat(),
					fc.constantFrom(...INTERESTING),
					fc.constantFrom(...INTERESTING),
					(data, which, value, second) => {
						const fields = fieldsOf(target, data).filter((f) => f.offset + f.size <= data.length);
						for (const field of fields) clock.run(fuzz, setField(data, field, value));
						if (fields.length >= 2) {
							const a = fields[which % fields.length];
							const b = fields[(which + 1) % fields.length];
							clock.run(fuzz, setField(setField(data, a, value), b, second));
						}
					},
				),
				{ numRuns: RUNS },
			);
			clock.assertFast(name);
		});
	}
});

describe("decoders: the largest inputs still decode in under 10 ms", () => {
	const pieceSize = 1024 * 1024;
	const largest: Manifest = {
		size: MAX_PIECES * pieceSize,
		pieceSize,
		contentHash: new Uint8Array(32).fill(1),
		pieceHashes: Array.from({ length: MAX_PIECES }, (_, i) => new Uint8Array(32).fill(i & 0xff)),
	};
	const manifestBytes = encodeManifest(largest);
	const file = encodeManifestFile("largest.bin", largest);

	it("the largest manifest is the bound the wire and the .p2p file use", () => {
		assert.equal(manifestBytes.length, MAX_MANIFEST_BYTES);
		assert.equal(MAX_EMBEDDED_MANIFEST, MAX_MANIFEST_BYTES);
	});

	it("a 65,536-piece manifest and its .p2p file (2 MiB each)", () => {
		const clock = new Clock();
		// Warm up once: the first call pays for compiling the decoder.
		decodeManifestFile(file);
		clock.run((d) => assert.ok(decodeManifest(d)), manifestBytes);
		clock.run((d) => assert.ok(decodeManifestFile(d)), file);
		clock.assertFast("largest manifest");
	});
});
