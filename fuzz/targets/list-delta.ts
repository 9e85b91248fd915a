/**
 * Fuzz target: the list delta page (0x19): change count, total, kinds and name lengths (Jazzer.js convention: `fuzz` throws only on a real bug).
 * Checks `decodeMessage` against docs/protocol.md; see fuzz/oracle.ts.
 */
import { MessageType } from "../../source/protocol/messages.js";
import { type Field, messageTarget } from "../oracle.js";

/** Length, count and offset fields of a seed, for the mutator. */
export const fields: Field[] = [
	{ offset: 8, size: 1 },
	{ offset: 17, size: 4 },
	{ offset: 21, size: 4 },
	{ offset: 25, size: 2 },
	{ offset: 27, size: 1 },
	{ offset: 60, size: 8 },
	{ offset: 100, size: 2 },
];

export const fuzz = messageTarget(MessageType.listDelta);
