/**
 * Fuzz target: the signed leave (0x04), through the decoder, the signature check and the
 * discovery peer table
 * (Jazzer.js convention: `fuzz` throws only on a real bug).
 */
import { MessageType } from "../../source/protocol/messages.js";
import { discoveryInput } from "../discovery.js";
import type { Field } from "../oracle.js";
import { withHeader } from "../oracle.js";

/** No length fields; the timestamp is the one number worth pushing to its limits. */
export const fields: Field[] = [{ offset: 52, size: 8 }];

export function fuzz(data: Buffer): void {
	discoveryInput(data);
	discoveryInput(withHeader(data, MessageType.leave));
}
