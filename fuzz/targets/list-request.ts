/**
 * Fuzz target: the list request (0x11) and the list delta request (0x18), with wild
 * indexes and revisions (Jazzer.js convention: `fuzz` throws only on a real bug).
 */
import { MessageType } from "../../source/protocol/messages.js";
import { checkMessage, type Field, withHeader } from "../oracle.js";

/** Length, count and offset fields of a seed, for the mutator. */
export const fields: Field[] = [
	{ offset: 20, size: 4 },
	{ offset: 24, size: 4 },
	{ offset: 28, size: 4 },
];

export function fuzz(data: Buffer): void {
	checkMessage(data);
	checkMessage(withHeader(data, MessageType.listRequest));
	checkMessage(withHeader(data, MessageType.listDeltaRequest));
}
