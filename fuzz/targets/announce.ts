/**
 * Fuzz target: the announce (0x01), through the decoder and the discovery peer table
 * (Jazzer.js convention: `fuzz` throws only on a real bug).
 */
import { MessageType } from "../../source/protocol/messages.js";
import { discoveryInput } from "../discovery.js";
import { type Field, withHeader } from "../oracle.js";

/** Length, count and offset fields of a seed, for the mutator. */
export const fields: Field[] = [
	{ offset: 20, size: 2 },
	{ offset: 22, size: 4 },
	{ offset: 26, size: 4 },
	{ offset: 30, size: 4 },
	{ offset: 34, size: 1 },
];

export function fuzz(data: Buffer): void {
	discoveryInput(data);
	discoveryInput(withHeader(data, MessageType.announce));
}
