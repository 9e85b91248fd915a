/**
 * Fuzz target: the download path rules (source/library/paths.ts), fed every input as UTF-8
 * and as Latin-1 text: `downloadTarget` puts a name it accepts strictly inside the
 * downloads folder, on the segments the sanitiser made of it, under PATH_MAX; `safeSegments`
 * (the strict check for names we write) accepts only clean relative paths. Jazzer.js
 * convention: `fuzz` throws only on a real bug.
 */
import path from "node:path";
import {
	downloadTarget,
	isInside,
	MAX_PATH_BYTES,
	safeSegments,
} from "../../source/library/paths.js";
import { SUFFIX_ROOM_BYTES, sanitizeName } from "../../source/protocol/names.js";
import { check, type Field } from "../oracle.js";

/** No length fields: a name is just text. */
export const fields: Field[] = [];

const root = path.resolve("/srv/p2p-fuzz/downloads");

function one(name: string): void {
	const target = downloadTarget(root, name);
	const verdict = sanitizeName(name);
	if (target !== null) {
		check(verdict.ok, `${JSON.stringify(name)} refused by the sanitiser yet given a target`);
		check(
			isInside(root, target) && target !== root,
			`${JSON.stringify(name)} escapes to ${target}`,
		);
		check(target === path.join(root, ...verdict.segments), "target is not the safe segments");
		check(Buffer.byteLength(target) + SUFFIX_ROOM_BYTES <= MAX_PATH_BYTES, "target over PATH_MAX");
	} else if (verdict.ok) {
		const joined = path.join(root, ...verdict.segments);
		check(
			Buffer.byteLength(joined) + SUFFIX_ROOM_BYTES > MAX_PATH_BYTES,
			`${JSON.stringify(name)} made safe yet given no target`,
		);
	}
	const segments = safeSegments(name);
	if (!segments) return;
	check(segments.join("/") === name, "segments are not the name");
	for (const s of segments) {
		check(s !== "" && s !== "." && s !== "..", `segment ${JSON.stringify(s)}`);
		// biome-ignore lint/suspicious/noControlCharactersInRegex: refusing control characters is the point
		check(!/[\u0000-\u001f\u007f\\]/.test(s), `control character in ${JSON.stringify(s)}`);
		check(Buffer.byteLength(s) <= 255, "segment over 255 bytes");
	}
	check(isInside(root, path.join(root, ...segments)), `${JSON.stringify(name)} escapes`);
}

export function fuzz(data: Buffer): void {
	one(data.toString("utf8"));
	one(data.toString("latin1"));
}
