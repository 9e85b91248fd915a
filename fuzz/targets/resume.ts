/**
 * Fuzz target: the resume record (source/protocol/resume.ts), as read back from disk
 * after a crash. Each input is tried as it is and with its BLAKE3 check made right, so
 * mutations reach the fields behind the check (Jazzer.js convention: `fuzz` throws only
 * on a real bug).
 */
import { pieceCount } from "../../source/protocol/manifest.js";
import { decodeResume, encodeResume } from "../../source/protocol/resume.js";
import { check, type Field, sameBytes, withCheck } from "../oracle.js";

/** Size, piece size and piece count fields, for the mutator. */
export const fields: Field[] = [
	{ offset: 37, size: 8 },
	{ offset: 45, size: 4 },
	{ offset: 49, size: 4 },
];

function one(data: Uint8Array): void {
	const record = decodeResume(data);
	if (!record) return;
	const count = pieceCount(record.size, record.pieceSize);
	check(count <= 65_536, `${count} pieces`);
	check(record.have.length === Math.ceil(count / 8), "have-map length");
	check(sameBytes(encodeResume(record), data), "record does not re-encode to its bytes");
}

export function fuzz(data: Buffer): void {
	one(data);
	one(withCheck(data));
}
