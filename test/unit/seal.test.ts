import assert from "node:assert/strict";
import { createCipheriv, randomBytes } from "node:crypto";
import { describe, it } from "node:test";
import fc from "fast-check";
import { backends, deriveKey, VECTOR_CONTEXT } from "../../source/protocol/hash.js";
import { Identity } from "../../source/protocol/identity.js";
import { decodeMessage } from "../../source/protocol/messages.js";
import {
	Channel,
	looksSealed,
	NetworkSeal,
	networkRoot,
	parseSealHeader,
	REPLAY_WINDOW,
	ReplayWindow,
	SEAL_HEADER_SIZE,
	SEAL_OVERHEAD,
	senderKey,
} from "../../source/protocol/seal.js";

const SECRET = "correct horse battery staple";
const ID = Buffer.from("000102030405060708090a0b0c0d0e0f", "hex");
const channelArb = fc.constantFrom(...Object.values(Channel));

describe("BLAKE3 derive_key", () => {
	// test_vectors.json of the BLAKE3 reference implementation: input bytes i % 251.
	const vectors: [number, string][] = [
		[0, "2cc39783c223154fea8dfb7c1b1660f2ac2dcbd1c1de8277b0b0dd39b7e50d7d"],
		[1, "b3e2e340a117a499c6cf2398a19ee0d29cca2bb7404c73063382693bf66cb06c"],
		[1024, "7356cd7720d5b66b6d0697eb3177d9f8d73a4a5c5e968896eb6a689684302706"],
	];
	for (const [length, expected] of vectors) {
		it(`matches the spec's test vector for ${length} bytes, on every backend`, () => {
			const input = Buffer.alloc(length);
			for (let i = 0; i < length; i++) input[i] = i % 251;
			assert.equal(deriveKey(VECTOR_CONTEXT, input).toString("hex"), expected);
			assert.equal(backends.wasm.deriveKey(VECTOR_CONTEXT, input).toString("hex"), expected);
			if (backends.native)
				assert.equal(backends.native.deriveKey(VECTOR_CONTEXT, input).toString("hex"), expected);
		});
	}
});

describe("ChaCha20-Poly1305 from node:crypto", () => {
	it("gives RFC 8439 section 2.8.2's tag", () => {
		const key = Buffer.alloc(32);
		for (let i = 0; i < 32; i++) key[i] = 0x80 + i;
		const nonce = Buffer.from("070000004041424344454647", "hex");
		const aad = Buffer.from("50515253c0c1c2c3c4c5c6c7", "hex");
		const text = Buffer.from(
			"Ladies and Gentlemen of the class of '99: If I could offer you only one tip for the future, sunscreen would be it.",
		);
		const cipher = createCipheriv("chacha20-poly1305", key, nonce, { authTagLength: 16 });
		cipher.setAAD(aad, { plaintextLength: text.length });
		const sealed = cipher.update(text);
		cipher.final();
		assert.equal(sealed.subarray(0, 8).toString("hex"), "d31a8d34648e60db");
		assert.equal(cipher.getAuthTag().toString("hex"), "1ae10b594f09e26a7e902ecbd0600691");
	});
});

describe("the seal codec", () => {
	it("derives the root and sender keys with fixed contexts (pinned bytes)", () => {
		const root = networkRoot(SECRET);
		assert.equal(
			root.toString("hex"),
			"fb691a50f4ef9b0a780a0633c83c2feee7f86f5359ad1f0ea39e7f132cce52fa",
		);
		assert.deepEqual(networkRoot(Buffer.from(SECRET)), root);
		assert.equal(
			senderKey(root, ID).toString("hex"),
			"8ab4eb4e021b350659129243667983e4312312e36b537f0d70c3ffd2ec9ce9e3",
		);
		assert.throws(() => networkRoot(""), /must not be empty/);
		assert.throws(() => networkRoot("x".repeat(4097)), /at most 4096 bytes/);
	});

	it("writes the exact envelope: magic, version 0x81, sender id, counter, ciphertext, tag", () => {
		const seal = new NetworkSeal(SECRET, { senderId: ID });
		const plain = Buffer.from("P2\x01\x02hello", "latin1");
		const first = Buffer.concat(seal.seal(plain, Channel.discovery));
		assert.equal(
			first.toString("hex"),
			"503281000102030405060708090a0b0c0d0e0f0000000000000000" +
				"8b2c601978162eec68" +
				"2c67d333f62c51d1b2c7ac39ed84d19b",
		);
		// In parts, the same plain bytes give the same ciphertext under the next counter.
		const second = Buffer.concat(seal.seal([plain.subarray(0, 2), plain.subarray(2)], 0));
		assert.equal(
			second.toString("hex"),
			"503281000102030405060708090a0b0c0d0e0f0000000000000001215b0ab7ce32df906998337209eade71cb16cb34b93a8ddae7",
		);
		assert.equal(first.length, plain.length + SEAL_OVERHEAD);
		assert.deepEqual(parseSealHeader(second), { senderId: ID, counter: 1 });
		assert.equal(looksSealed(second), true);
		// A plain decoder drops it: the version byte is not 1.
		assert.equal(decodeMessage(second), null);
		assert.equal(seal.stats.sealed, 2);
	});

	it("opens what it seals, for any bytes in any parts and any port", () => {
		const sender = new NetworkSeal(SECRET);
		const receiver = new NetworkSeal(SECRET);
		fc.assert(
			fc.property(
				fc.array(fc.uint8Array({ maxLength: 300 }), { maxLength: 4 }),
				channelArb,
				(parts, channel) => {
					const sealed = Buffer.concat(sender.seal(parts, channel));
					const opened = receiver.open(sealed, channel);
					assert.deepEqual(opened, Buffer.concat(parts));
				},
			),
			{ numRuns: 300 },
		);
		assert.equal(receiver.stats.forged + receiver.stats.replayed, 0);
	});

	it("rejects any flipped bit, another port, another key and plain datagrams, and counts them", () => {
		const sender = new NetworkSeal(SECRET);
		const receiver = new NetworkSeal(SECRET);
		let rejected = 0;
		fc.assert(
			fc.property(fc.uint8Array({ maxLength: 200 }), fc.nat(), (plain, at) => {
				const sealed = Buffer.concat(sender.seal(plain, Channel.send));
				const bit = at % (sealed.length * 8);
				sealed[bit >> 3] ^= 1 << (bit & 7);
				assert.equal(receiver.open(sealed, Channel.send), null);
				rejected++;
			}),
			{ numRuns: 300 },
		);
		const message = Identity.fromSeed(new Uint8Array(32).fill(9)).leave();
		const forPort = Buffer.concat(sender.seal(message, Channel.send));
		assert.equal(receiver.open(forPort, Channel.receive), null);
		const outsider = Buffer.concat(new NetworkSeal("another key").seal(message, Channel.send));
		assert.equal(receiver.open(outsider, Channel.send), null);
		assert.equal(receiver.open(message, Channel.discovery), null);
		assert.equal(receiver.open(Buffer.alloc(0), Channel.discovery), null);
		assert.equal(receiver.stats.forged, rejected + 4);
		assert.equal(receiver.stats.opened, 0);
		// None of them entered the table of senders.
		assert.equal(receiver.senderCount, 0);
		// The genuine datagram still opens afterwards: nothing moved its window.
		assert.deepEqual(receiver.open(forPort, Channel.send), message);
	});

	it("rejects every replay, on its port and on the others", () => {
		const sender = new NetworkSeal(SECRET);
		const receiver = new NetworkSeal(SECRET);
		const sent = Array.from({ length: 500 }, (_, i) =>
			Buffer.concat(sender.seal(Buffer.from(`datagram ${i}`), Channel.receive)),
		);
		// Delivered out of order (a shuffle within the window): each opens once.
		const order = sent.map((_, i) => i).sort(() => Math.random() - 0.5);
		for (const i of order) assert.notEqual(receiver.open(sent[i], Channel.receive), null);
		for (const d of sent) assert.equal(receiver.open(d, Channel.receive), null);
		for (const d of sent) assert.equal(receiver.open(d, Channel.send), null);
		assert.equal(receiver.stats.opened, 500);
		assert.equal(receiver.stats.replayed, 500);
		assert.equal(receiver.stats.forged, 500);
	});

	it("forgets the least recently heard sender past its bound, never more", () => {
		const receiver = new NetworkSeal(SECRET, { maxSenders: 3 });
		const senders = Array.from({ length: 5 }, () => new NetworkSeal(SECRET));
		for (const s of senders) {
			assert.notEqual(receiver.open(Buffer.concat(s.seal([], Channel.discovery)), 0), null);
			assert.ok(receiver.senderCount <= 3);
		}
		// Forged sender ids with random tags add nothing.
		for (let i = 0; i < 100; i++) {
			const forged = Buffer.concat([Buffer.from([0x50, 0x32, 0x81]), randomBytes(40)]);
			assert.equal(receiver.open(forged, Channel.discovery), null);
		}
		assert.equal(receiver.senderCount, 3);
		assert.equal(SEAL_HEADER_SIZE, 27);
	});
});

describe("the replay window", () => {
	it("accepts exactly what a model of it accepts (new, and within the window)", () => {
		fc.assert(
			fc.property(
				fc.array(
					fc.oneof(
						fc.integer({ min: 0, max: 20_000 }),
						fc.integer({ min: 0, max: 64 }),
						fc.constant(Number.MAX_SAFE_INTEGER - 1),
					),
					{ maxLength: 400 },
				),
				(counters) => {
					const window = new ReplayWindow();
					const seen = new Set<number>();
					let top = -1;
					for (const c of counters) {
						const expected = !seen.has(c) && top - c < REPLAY_WINDOW;
						assert.equal(window.accept(c), expected, `counter ${c} after top ${top}`);
						if (expected) {
							seen.add(c);
							top = Math.max(top, c);
						}
					}
				},
			),
			{ numRuns: 300 },
		);
	});

	it("takes the oldest counter inside the window and refuses the one past it", () => {
		const window = new ReplayWindow();
		assert.equal(window.accept(10_000), true);
		assert.equal(window.accept(10_000 - REPLAY_WINDOW), false);
		assert.equal(window.accept(10_000 - REPLAY_WINDOW + 1), true);
		assert.equal(window.accept(10_000 - REPLAY_WINDOW + 1), false);
		// A jump far ahead clears the whole ring: nothing old is taken as seen.
		assert.equal(window.accept(1_000_000), true);
		assert.equal(window.accept(1_000_000 - 1), true);
	});
});
