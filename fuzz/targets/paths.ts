/**
 * Fuzz target: the download path rule (source/library/paths.ts `safeSegments` and
 * `downloadTarget`), fed every input as UTF-8 and as Latin-1 text: a name it accepts
 * lands strictly inside the downloads folder (Jazzer.js convention: `fuzz` throws only on
 * a real bug).
 */
import path from "node:path";
import { downloadTarget, isInside, safeSegments } from "../../source/library/paths.js";
import { check, type Field } from "../oracle.js";

/** No length fields: a name is just text. */
export const fields: Field[] = [];

const root = path.resolve("/srv/p2p-fuzz/downloads");

function one(name: string): void {
	const segments = safeSegments(name);
	const target = downloadTarget(root, name);
	if (!segments) {
		check(target === null, `refused ${JSON.stringify(name)} yet got a target`);
		return;
	}
	check(segments.join("/") === name, "segments are not the name");
	for (const s of segments) {
		check(s !== "" && s !== "." && s !== "..", `segment ${JSON.stringify(s)}`);
		// biome-ignore lint/suspicious/noControlCharactersInRegex: refusing control characters is the point
		check(!/[\u0000-\u001f\u007f\\]/.test(s), `control character in ${JSON.stringify(s)}`);
		check(Buffer.byteLength(s) <= 255, "segment over 255 bytes");
	}
	check(target !== null, `accepted ${JSON.stringify(name)} yet no target`);
	check(isInside(root, target) && target !== root, `${JSON.stringify(name)} escapes to ${target}`);
	check(target === path.join(root, ...segments), "target is not the joined segments");
}

export function fuzz(data: Buffer): void {
	one(data.toString("utf8"));
	one(data.toString("latin1"));
}
