/**
 * Fuzz target: the §16 messages (0x30..0x35: offers, texts and their answers), through the
 * decoder (Jazzer.js convention: `fuzz` throws only on a real bug). Oracle: a decoded
 * message re-encodes, with the signature it carried, to the very bytes decoded.
 */
import { decodePeerMessage, encodePeerMessage } from "../../source/protocol/offers.js";
import type { Field } from "../oracle.js";
import { withHeader } from "../oracle.js";

/** Length, count and offset fields of a seed, for the mutator (chunk, chunks, counts). */
export const fields: Field[] = [
	{ offset: 52, size: 8 },
	{ offset: 84, size: 2 },
	{ offset: 86, size: 2 },
	{ offset: 88, size: 4 },
	{ offset: 92, size: 8 },
	{ offset: 100, size: 2 },
];

function check(data: Buffer): void {
	const decoded = decodePeerMessage(data);
	if (!decoded) return;
	const again = encodePeerMessage(decoded.message, () => decoded.signature);
	if (!again.equals(data)) throw new Error("a decoded §16 message does not re-encode to its bytes");
}

export function fuzz(data: Buffer): void {
	check(data);
	for (const code of [0x30, 0x31, 0x32, 0x33, 0x34, 0x35]) check(withHeader(data, code));
}
