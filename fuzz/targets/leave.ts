/**
 * Fuzz target: the leave (0x02), through the decoder and the discovery peer table
 * (Jazzer.js convention: `fuzz` throws only on a real bug).
 */
import { MessageType } from "../../source/protocol/messages.js";
import { discoveryInput } from "../discovery.js";
import type { Field } from "../oracle.js";
import { withHeader } from "../oracle.js";

/** No length fields: a leave is a header and a peer id. */
export const fields: Field[] = [];

export function fuzz(data: Buffer): void {
	discoveryInput(data);
	discoveryInput(withHeader(data, MessageType.leave));
}
