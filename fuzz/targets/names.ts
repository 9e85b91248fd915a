/**
 * Fuzz target: the network name sanitiser (source/protocol/names.ts), fed every input as
 * UTF-8, as Latin-1 and as UTF-16 text (so lone surrogates come up). Each name is refused
 * or made safe, stably, by rules checked here independently of the sanitiser's code; the
 * destination lies inside the folder with both POSIX and Windows path rules; and the text
 * helpers leave no control, escape or bidirectional character. Jazzer.js convention:
 * `fuzz` throws only on a real bug.
 */
import path from "node:path";
import {
	collisionKey,
	isSafeName,
	jsonText,
	MAX_NAME_BYTES,
	MAX_SAFE_SEGMENT_BYTES,
	numberedSafeName,
	printable,
	sanitizeName,
} from "../../source/protocol/names.js";
import { check, type Field } from "../oracle.js";

/** No length fields: a name is just text. */
export const fields: Field[] = [];

/** What no safe name and no printed text may hold: C0, DEL, C1, bidi controls, U+2028/9. */
const DANGEROUS =
	// biome-ignore lint/suspicious/noControlCharactersInRegex: finding control characters is the point
	/[\u0000-\u001f\u007f-\u009f\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069]/;
const LONE_SURROGATE = /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/;
const RESERVED = new Set(["CON", "PRN", "AUX", "NUL", "CONIN$", "CONOUT$", "CLOCK$"]);
for (const digit of "0123456789¹²³") RESERVED.add(`COM${digit}`).add(`LPT${digit}`);

/** Checks a name is safe on every platform, without the sanitiser's code. */
function checkSafe(name: string, from: string): void {
	const why = JSON.stringify(from);
	check(name.length > 0 && Buffer.byteLength(name) <= MAX_NAME_BYTES, `length of ${why}`);
	check(name === name.normalize("NFC"), `not NFC: ${why}`);
	check(!LONE_SURROGATE.test(name), `lone surrogate: ${why}`);
	check(!name.startsWith("/"), `absolute: ${why}`);
	for (const segment of name.split("/")) {
		check(segment !== "" && segment !== "." && segment !== "..", `segment of ${why}`);
		check(Buffer.byteLength(segment) <= MAX_SAFE_SEGMENT_BYTES, `long segment: ${why}`);
		check(!DANGEROUS.test(segment), `control or bidi: ${why}`);
		check(!/[\\:]/.test(segment), `separator: ${why}`);
		check(!/[. ]$/.test(segment), `trailing dot or space: ${why}`);
		check(
			!RESERVED.has(segment.split(".")[0].replace(/ +$/, "").toUpperCase()),
			`reserved: ${why}`,
		);
		check(!/\.p2p-(part|resume|resume\.tmp)$/i.test(segment), `our suffix: ${why}`);
	}
	// Inside the folder with both path rules, one path segment per name segment.
	const segments = name.split("/");
	const posix = path.posix.relative("/d", path.posix.resolve("/d", ...segments));
	check(posix !== "" && posix.split("/")[0] !== ".." && !path.posix.isAbsolute(posix), why);
	const win = path.win32.relative("C:\\d", path.win32.resolve("C:\\d", ...segments));
	check(
		win !== "" && win.split("\\")[0] !== ".." && !path.win32.isAbsolute(win),
		`Windows: ${why}`,
	);
	check(win.split("\\").length === segments.length, `split on Windows: ${why}`);
}

function one(raw: string): void {
	const verdict = sanitizeName(raw);
	const shownRaw = printable(raw);
	check(!DANGEROUS.test(shownRaw) && shownRaw.length === raw.length, "printable left a control");
	const json = jsonText(raw);
	check(!DANGEROUS.test(json) && JSON.parse(json) === raw, "jsonText does not round-trip");
	if (!verdict.ok) {
		check(
			typeof verdict.reason === "string" && verdict.reason.length > 0,
			"refused without a reason",
		);
		check(!isSafeName(raw), "a refused name is safe");
		return;
	}
	checkSafe(verdict.name, raw);
	check(verdict.segments.join("/") === verdict.name, "segments are not the name");
	check(verdict.changed === (verdict.name !== raw), "changed flag");
	const again = sanitizeName(verdict.name);
	check(
		again.ok && !again.changed && again.name === verdict.name,
		`not stable: ${JSON.stringify(raw)}`,
	);
	check(isSafeName(verdict.name), "a safe name is not safe");
	check(collisionKey(collisionKey(verdict.name)) === collisionKey(verdict.name), "collision key");
	const numbered = numberedSafeName(verdict.name, 1 + (raw.length % 1000));
	checkSafe(numbered, `${raw} (numbered)`);
}

export function fuzz(data: Buffer): void {
	one(data.toString("utf8"));
	one(data.toString("latin1"));
	// Pairs of bytes as UTF-16 units: lone surrogates and every code point of the BMP.
	one(data.subarray(0, data.length & ~1).toString("utf16le"));
}
