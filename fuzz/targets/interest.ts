/**
 * Fuzz target: the interest message and its have-map (0x22) (Jazzer.js convention: `fuzz` throws only on a real bug).
 * Checks `decodeMessage` against docs/protocol.md; see fuzz/oracle.ts.
 */
import { MessageType } from "../../source/protocol/messages.js";
import { type Field, messageTarget } from "../oracle.js";

/** Length, count and offset fields of a seed, for the mutator. */
export const fields: Field[] = [
	{ offset: 52, size: 4 },
	{ offset: 56, size: 1 },
	{ offset: 57, size: 4 },
];

export const fuzz = messageTarget(MessageType.interest);
