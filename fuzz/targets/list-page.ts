/**
 * Fuzz target: the list page (0x12): entry count, total and name lengths (Jazzer.js convention: `fuzz` throws only on a real bug).
 * Checks `decodeMessage` against docs/protocol.md; see fuzz/oracle.ts.
 */
import { MessageType } from "../../source/protocol/messages.js";
import { type Field, messageTarget } from "../oracle.js";

/** Length, count and offset fields of a seed, for the mutator. */
export const fields: Field[] = [
	{ offset: 12, size: 4 },
	{ offset: 16, size: 4 },
	{ offset: 20, size: 2 },
	{ offset: 54, size: 8 },
	{ offset: 94, size: 2 },
];

export const fuzz = messageTarget(MessageType.listPage);
