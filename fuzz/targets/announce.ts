/**
 * Fuzz target: the signed announce (0x03), through the decoder, the signature check and the
 * discovery peer table
 * (Jazzer.js convention: `fuzz` throws only on a real bug).
 */
import { MessageType } from "../../source/protocol/messages.js";
import { discoveryInput } from "../discovery.js";
import { type Field, withHeader } from "../oracle.js";

/** Length, count and offset fields of a seed, for the mutator. */
export const fields: Field[] = [
	{ offset: 52, size: 8 },
	{ offset: 60, size: 2 },
	{ offset: 62, size: 4 },
	{ offset: 66, size: 4 },
	{ offset: 70, size: 4 },
	{ offset: 74, size: 1 },
];

export function fuzz(data: Buffer): void {
	discoveryInput(data);
	discoveryInput(withHeader(data, MessageType.announce));
}
