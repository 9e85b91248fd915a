/**
 * The §16 codecs (offers, texts, answers): round trips, the bounds of docs/protocol.md
 * §16, signatures; the offers service between two in-memory peers (forged, misaddressed,
 * unknown and replayed messages dropped; the rate bound); the terminal's alert sequences.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import fc from "fast-check";
import { OffersService } from "../../source/peer/offers.js";
import type { PeerRecord } from "../../source/peer/types.js";
import { checkPeerSignature, Identity } from "../../source/protocol/identity.js";
import {
	decodePeerMessage,
	encodePeerMessage,
	MAX_OFFER_ENTRIES,
	MAX_TEXT_BYTES,
	type OfferChunk,
	type PeerMessage,
} from "../../source/protocol/offers.js";
import { alertSequence, clipboardSequence, oscText } from "../../source/ui/terminal-alerts.js";
import { peerMessageArb } from "../helpers/peer-message-arbs.js";

const alice = Identity.fromSeed(new Uint8Array(32).fill(1));
const bob = Identity.fromSeed(new Uint8Array(32).fill(2));
const sign = (identity: Identity) => (bytes: Uint8Array) => identity.signBytes(bytes);

const entry = {
	fileId: new Uint8Array(32).fill(9),
	size: 1000,
	contentHash: new Uint8Array(32).fill(8),
	name: "a.txt",
};

function offer(fields: Partial<OfferChunk> = {}): OfferChunk {
	return {
		type: "offer",
		from: alice.peerId,
		publicKey: alice.publicKey,
		timestamp: 1_700_000_000_000,
		to: bob.peerId,
		exchangeId: new Uint8Array(8).fill(4),
		chunk: 0,
		chunks: 1,
		entryCount: 1,
		totalSize: 1000,
		note: "hi",
		entries: [entry],
		...fields,
	};
}

/** Same as JSON, byte arrays as plain arrays. */
function canon(m: PeerMessage | undefined): string {
	return JSON.stringify(m, (_k, v) =>
		v instanceof Uint8Array ? [...v] : v?.type === "Buffer" && Array.isArray(v.data) ? v.data : v,
	);
}

describe("§16 codecs", () => {
	it("decode(encode(x)) equals x, and the bytes re-encode identically", () => {
		fc.assert(
			fc.property(peerMessageArb, (m) => {
				const bytes = encodePeerMessage(m, sign(alice));
				const decoded = decodePeerMessage(bytes);
				assert.ok(decoded);
				assert.equal(canon(decoded.message), canon(m));
				assert.ok(encodePeerMessage(decoded.message, () => decoded.signature).equals(bytes));
			}),
			{ numRuns: 300 },
		);
	});

	it("the offer header: fixed layout (type 0x30, 84 bytes of head, 64 of signature)", () => {
		const bytes = encodePeerMessage(offer(), sign(alice));
		assert.deepEqual([...bytes.subarray(0, 4)], [0x50, 0x32, 1, 0x30]);
		assert.ok(bytes.subarray(4, 20).equals(alice.peerId));
		assert.ok(bytes.subarray(20, 52).equals(alice.publicKey));
		assert.ok(bytes.subarray(60, 76).equals(bob.peerId));
		// chunk 0 of 1, 1 entry, 1000 bytes, note "hi", one entry of 79 bytes, signature.
		assert.equal(bytes.length, 84 + 2 + 2 + 4 + 8 + 2 + 2 + 2 + 79 + 64);
	});

	it("the signature binds every byte: ok, a flipped bit, another key", () => {
		const bytes = encodePeerMessage(offer(), sign(alice));
		const d = decodePeerMessage(bytes);
		assert.ok(d);
		assert.equal(
			checkPeerSignature(d.message.from, d.message.publicKey, d.signed, d.signature),
			"ok",
		);
		for (const at of [3, 10, 60, 90, bytes.length - 70]) {
			const flipped = Buffer.from(bytes);
			flipped[at] ^= 1;
			const f = decodePeerMessage(flipped);
			if (f)
				assert.notEqual(
					checkPeerSignature(f.message.from, f.message.publicKey, f.signed, f.signature),
					"ok",
					`byte ${at}`,
				);
		}
		const forged = encodePeerMessage(offer(), sign(bob));
		const g = decodePeerMessage(forged);
		assert.ok(g);
		assert.equal(
			checkPeerSignature(g.message.from, g.message.publicKey, g.signed, g.signature),
			"bad-signature",
		);
		const wrongId = encodePeerMessage(offer({ from: bob.peerId }), sign(alice));
		const w = decodePeerMessage(wrongId);
		assert.ok(w);
		assert.equal(
			checkPeerSignature(w.message.from, w.message.publicKey, w.signed, w.signature),
			"wrong-id",
		);
	});

	it("bounds: entry counts, chunk indexes, the note outside chunk 0, text size, lies and trailing bytes", () => {
		const ok = encodePeerMessage(offer(), sign(alice));
		const patch = (at: number, size: 2 | 4, value: number) => {
			const out = Buffer.from(ok);
			if (size === 2) out.writeUInt16BE(value, at);
			else out.writeUInt32BE(value, at);
			return decodePeerMessage(out);
		};
		assert.ok(decodePeerMessage(ok));
		assert.equal(patch(88, 4, 0), null, "no entries");
		assert.equal(patch(88, 4, MAX_OFFER_ENTRIES + 1), null, "over 4096 entries");
		assert.equal(patch(84, 2, 1), null, "chunk 1 of 1");
		assert.equal(patch(86, 2, 0), null, "0 chunks");
		assert.equal(patch(86, 2, 4097), null, "over 4096 chunks");
		assert.equal(patch(104, 2, 2), null, "more entries than the datagram holds");
		assert.equal(decodePeerMessage(Buffer.concat([ok, Buffer.from([0])])), null, "a trailing byte");
		assert.equal(decodePeerMessage(ok.subarray(0, ok.length - 1)), null, "truncated");
		assert.throws(() => encodePeerMessage(offer({ chunk: 1, chunks: 2 }), sign(alice)), /chunk 0/);
		assert.throws(
			() => encodePeerMessage(offer({ entryCount: 0, entries: [] }), sign(alice)),
			RangeError,
		);
		const text = (totalBytes: number, bytes: Uint8Array) =>
			encodePeerMessage(
				{ ...offer(), type: "text", chunk: 0, chunks: 1, totalBytes, bytes } as PeerMessage,
				sign(alice),
			);
		assert.ok(decodePeerMessage(text(MAX_TEXT_BYTES, new Uint8Array(10))));
		assert.throws(() => text(MAX_TEXT_BYTES + 1, new Uint8Array(10)), RangeError);
		const big = Buffer.from(text(MAX_TEXT_BYTES, new Uint8Array(10)));
		big.writeUInt32BE(MAX_TEXT_BYTES + 1, 88);
		assert.equal(decodePeerMessage(big), null, "a text over 64 KiB");
	});
});

/** Two services wired to each other in memory, as two peers on loopback would be. */
function pair() {
	const record = (identity: Identity, name: string, port: number): PeerRecord => ({
		id: identity.id,
		name,
		address: "127.0.0.1",
		addresses: ["127.0.0.1"],
		found: "lan",
		ports: { receive: port - 2, send: port - 1, distribute: port, distributee: port + 1 },
		files: 0,
		revision: 1,
		lastSeen: Date.now(),
		interval: 1000,
	});
	const a = record(alice, "alice", 1002);
	const b = record(bob, "bob", 2002);
	const wire: { to: number; bytes: Buffer; fromPort: number }[] = [];
	const make = (identity: Identity, self: PeerRecord, other: PeerRecord) =>
		new OffersService({
			identity,
			send: (bytes, to) => wire.push({ to: to.port, bytes, fromPort: self.ports.distribute }),
			peer: (id) => (id === other.id ? other : undefined),
			stampOf: () => undefined,
			maxDatagram: () => 1400,
		});
	const sa = make(alice, a, b);
	const sb = make(bob, b, a);
	/** Delivers what was sent so far (and what that makes them send), in order. */
	const flush = (drop?: (bytes: Buffer) => Buffer | undefined) => {
		while (wire.length > 0) {
			const d = wire.shift();
			if (!d) break;
			const bytes = drop ? drop(d.bytes) : d.bytes;
			if (!bytes) continue;
			const target = d.to === a.ports.distribute ? sa : sb;
			target.recv(bytes, { address: "127.0.0.1", port: d.fromPort });
		}
	};
	return { sa, sb, flush, wire, a, b };
}

describe("offers service", () => {
	it("an offer of 300 entries arrives in chunks, whole, once; the answer reaches the sender", () => {
		const { sa, sb, flush, b } = pair();
		try {
			const entries = Array.from({ length: 300 }, (_, i) => ({
				...entry,
				name: `dir/file-${i}.bin`,
			}));
			const got: string[] = [];
			sb.on("offer-received", (o) => got.push(`${o.fromName}:${o.entries.length}:${o.totalSize}`));
			const updates: string[] = [];
			const exchange = sa.startOffer(b.id, entries, new Map(), "note", (u) =>
				updates.push(u.kind === "answer" ? `answer ${u.status}` : `progress ${u.state}`),
			);
			flush();
			assert.deepEqual(got, ["alice:300:300000"]);
			assert.deepEqual(updates, ["answer 0"]);
			const key = sb.pending()[0].key;
			sb.decline(key, "no thanks");
			flush();
			assert.deepEqual(updates, ["answer 0", "answer 2"]);
			sa.endOffer(b.id, exchange, true);
			flush();
		} finally {
			sa.close();
			sb.close();
		}
	});

	it("drops forged, misaddressed and replayed messages; refuses past the rate bound", () => {
		const { sa, sb, flush, b, wire } = pair();
		try {
			let received = 0;
			sb.on("offer-received", () => received++);
			// Forged: a byte of the body changed after signing.
			sa.startOffer(b.id, [entry], new Map(), "", () => {});
			flush((bytes) => {
				if (bytes[3] !== 0x30) return bytes;
				const out = Buffer.from(bytes);
				out[out.length - 100] ^= 1;
				return out;
			});
			assert.equal(received, 0);
			assert.ok(sb.stats.forged >= 1);
			// From an address discovery does not know for alice: ignored.
			const before = sb.stats.ignored;
			const stray = encodePeerMessage(
				offer({ exchangeId: new Uint8Array(8).fill(7) }),
				sign(alice),
			);
			assert.equal(sb.recv(stray, { address: "10.9.9.9", port: 1002 }), true);
			assert.equal(sb.stats.ignored, before + 1);
			// For someone else: ignored.
			const other = encodePeerMessage(offer({ to: new Uint8Array(16).fill(3) }), sign(alice));
			sb.recv(other, { address: "127.0.0.1", port: 1002 });
			assert.equal(sb.stats.ignored, before + 2);
			// A real one, then its replay: shown once.
			const real = encodePeerMessage(offer({ exchangeId: new Uint8Array(8).fill(8) }), sign(alice));
			sb.recv(real, { address: "127.0.0.1", port: 1002 });
			sb.recv(real, { address: "127.0.0.1", port: 1002 });
			assert.equal(received, 1);
			wire.length = 0;
			// Ten new offers a minute at most (two were counted above).
			for (let i = 0; i < 12; i++) {
				const m = encodePeerMessage(
					offer({ exchangeId: new Uint8Array(8).fill(20 + i) }),
					sign(alice),
				);
				sb.recv(m, { address: "127.0.0.1", port: 1002 });
			}
			assert.ok(received <= 10, `${received} offers taken`);
			assert.ok(sb.stats.refused >= 2);
		} finally {
			sa.close();
			sb.close();
		}
	});

	it("a text in several chunks is delivered once and acknowledged", async () => {
		const { sa, sb, flush, b } = pair();
		try {
			const texts: string[] = [];
			sb.on("text-received", (m) => texts.push(m.text));
			const text = "ß".repeat(3000);
			const delivered = sa.sendText(b.id, text, 5_000);
			flush();
			await delivered;
			assert.deepEqual(texts, [text]);
		} finally {
			sa.close();
			sb.close();
		}
	});
});

describe("terminal alerts", () => {
	it("bell, OSC 9 and OSC 777 with no control character or ; from the text", () => {
		const seq = alertSequence("p2p-tui: offer from a;b", "x\u001b]52;c;AAAA\u0007y\n\u202e");
		assert.ok(seq.startsWith("\u0007\u001b]9;"));
		assert.ok(
			seq.endsWith("\u001b]777;notify;p2p-tui: offer from a b;x ]52 c AAAA y  \u0007"),
			seq,
		);
		assert.equal(oscText("a\u0000b\u009bc"), "a b c");
		assert.equal(
			clipboardSequence("hé"),
			`\u001b]52;c;${Buffer.from("hé").toString("base64")}\u0007`,
		);
	});
});
