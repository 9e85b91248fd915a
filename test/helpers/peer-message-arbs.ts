/**
 * fast-check arbitraries of the §16 messages (offers, texts, their answers), valid by
 * construction, for the codec's property tests and the fuzz seeds.
 */
import fc from "fast-check";
import type { PeerMessage } from "../../source/protocol/offers.js";
import { entryArb } from "./arbitraries.js";

const id16 = fc.uint8Array({ minLength: 16, maxLength: 16 });
const key32 = fc.uint8Array({ minLength: 32, maxLength: 32 });
const exchange = fc.uint8Array({ minLength: 8, maxLength: 8 });
const reason = fc.string({ maxLength: 60 });

const headArb = fc.record({
	from: id16,
	publicKey: key32,
	timestamp: fc.nat({ max: 2 ** 53 - 1 }),
	to: id16,
	exchangeId: exchange,
});

/** Any valid §16 message (signature not included: the encoder adds it). */
export const peerMessageArb: fc.Arbitrary<PeerMessage> = fc.oneof(
	fc
		.tuple(
			headArb,
			fc.array(entryArb, { minLength: 0, maxLength: 4 }),
			fc.nat({ max: 3 }),
			fc.string({ maxLength: 40 }),
			fc.nat({ max: 4000 }),
		)
		.map(([head, entries, extra, note, size]) => {
			const chunks = 1 + extra;
			const chunk = extra;
			return {
				type: "offer" as const,
				...head,
				chunk,
				chunks,
				entryCount: entries.length + 1 + extra,
				totalSize: size,
				note: chunk === 0 ? note : "",
				entries,
			};
		}),
	fc.tuple(headArb, fc.constantFrom(0, 1, 2, 3), reason).map(([head, status, r]) => ({
		type: "offerAnswer" as const,
		...head,
		status: status as 0 | 1 | 2 | 3,
		reason: r,
	})),
	fc
		.tuple(
			headArb,
			fc.constantFrom(0, 1, 2),
			fc.nat({ max: 2 ** 40 }),
			fc.nat({ max: 2 ** 40 }),
			fc.nat(),
			reason,
		)
		.map(([head, state, a, b, files, r]) => ({
			type: "offerProgress" as const,
			...head,
			state: state as 0 | 1 | 2,
			bytesDone: Math.min(a, b),
			bytesTotal: Math.max(a, b),
			filesDone: files,
			reason: r,
		})),
	fc.tuple(headArb, fc.boolean()).map(([head, withdrawn]) => ({
		type: "offerClose" as const,
		...head,
		withdrawn,
	})),
	fc
		.tuple(headArb, fc.uint8Array({ maxLength: 300 }), fc.nat({ max: 3 }), fc.nat({ max: 1000 }))
		.map(([head, bytes, extra, more]) => ({
			type: "text" as const,
			...head,
			chunk: extra,
			chunks: extra + 1,
			totalBytes: bytes.length + more,
			bytes,
		})),
	headArb.map((head) => ({ type: "textAck" as const, ...head })),
);
