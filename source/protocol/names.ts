/**
 * Names that come from the network, made safe before they become a path on disk or text on
 * a terminal. Pure functions, no I/O: the fuzz targets and property tests call them directly.
 *
 * A peer names its files with `/`-separated relative paths (docs/protocol.md, "Names").
 * A receiver never trusts one:
 * - {@link sanitizeName} refuses a name whose structure is hostile (absolute, drive letter,
 *   UNC or device path, `.` or `..` segments, empty segments, too long) and rewrites
 *   everything else that a file system or a terminal would mishandle, so the same network
 *   name lands under the same safe name on every platform.
 * - {@link printable} neutralises control, escape and bidirectional characters before any
 *   untrusted text (peer names, file names, error messages quoting them) is printed.
 * - {@link collisionKey} tells which safe names land on the same file on a case-insensitive
 *   or normalising file system (macOS, Windows), so two of them are never written at once.
 *
 * Decisions (written in docs/protocol.md "Names"): names are normalised to Unicode NFC; the
 * Windows rules (reserved device names, trailing dots and spaces, `:` and `\`) apply on
 * every platform, so a folder downloaded on Linux can be copied to a Windows disk; a segment
 * keeps at most {@link MAX_SAFE_SEGMENT_BYTES} bytes so our own suffixes (`.p2p-part`,
 * `.p2p-resume.tmp`) still fit the 255-byte limit of file systems.
 */

/** Longest network name accepted, in bytes of UTF-8 (the wire's limit, docs/protocol.md §3). */
export const MAX_NAME_BYTES = 1024;
/** Longest name of one path segment file systems allow (ext4, APFS, NTFS), in bytes of UTF-8. */
export const MAX_SEGMENT_BYTES = 255;
/** Bytes of the longest suffix a download adds to its name: `.p2p-resume.tmp`. */
export const SUFFIX_ROOM_BYTES = 15;
/** Longest safe segment: room left for {@link SUFFIX_ROOM_BYTES} under {@link MAX_SEGMENT_BYTES}. */
export const MAX_SAFE_SEGMENT_BYTES = MAX_SEGMENT_BYTES - SUFFIX_ROOM_BYTES;
/** Longest extension kept whole when a segment is truncated, in bytes (`.tar.gz` is 7). */
const MAX_KEPT_EXTENSION_BYTES = 32;
/** What replaces a character that cannot be in a safe name. */
const REPLACEMENT = "_";

/** The suffixes of our own transfer files (see `../library/paths.ts`); a network name never ends so. */
const TRANSFER_SUFFIXES = [".p2p-part", ".p2p-resume", ".p2p-resume.tmp"];

/**
 * Characters a name never keeps: C0 controls (NUL, ESC, newline…), DEL, C1 controls (CSI
 * U+009B among them), the bidirectional marks, embeddings, overrides and isolates
 * (U+061C, U+200E, U+200F, U+202A–U+202E, U+2066–U+2069), the line and paragraph
 * separators (U+2028, U+2029), and the path characters of Windows: `\` and `:`.
 */
const UNSAFE_IN_NAME =
	// biome-ignore lint/suspicious/noControlCharactersInRegex: refusing control characters is the point
	/[\u0000-\u001f\u007f-\u009f\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069\\:]/g;

/**
 * Characters never printed raw: C0 and C1 controls (ESC and CSI among them, so no escape
 * sequence gets through), DEL, bidirectional controls and the line and paragraph separators.
 * Each is one UTF-16 unit, so replacing it keeps every index into the text.
 */
const UNPRINTABLE =
	// biome-ignore lint/suspicious/noControlCharactersInRegex: matching control characters is the point
	/[\u0000-\u001f\u007f-\u009f\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069]/g;

/** {@link UNPRINTABLE} but tab and newline, for whole lines of output. */
const UNPRINTABLE_IN_LINES =
	// biome-ignore lint/suspicious/noControlCharactersInRegex: matching control characters is the point
	/[\u0000-\u0008\u000b-\u001f\u007f-\u009f\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069]/g;

/** A UTF-16 surrogate without its pair: not text, and no file system stores it as written. */
const LONE_SURROGATE = /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/g;

/**
 * Windows device names, reserved with any extension and in any case (`con.txt`, `Lpt1.log`):
 * CON, PRN, AUX, NUL, CONIN$, CONOUT$, CLOCK$, COM0–COM9 and LPT0–LPT9 (also with the
 * superscript digits ¹²³, which Windows reads as 1–3). Tested on the part before the first
 * dot, trailing spaces removed (Windows ignores them there too).
 */
const RESERVED = /^(con|prn|aux|nul|conin\$|conout\$|clock\$|com[0-9¹²³]|lpt[0-9¹²³])$/i;

/** Drive-letter paths (`C:`, `C:\x`, `c:x`): refused whole, `:` is never kept anyway. */
const DRIVE = /^[a-zA-Z]:/;

/** The outcome of {@link sanitizeName}. */
export type NameVerdict =
	| {
			ok: true;
			/** The safe name: `/`-separated, NFC, every segment safe (see {@link sanitizeName}). */
			name: string;
			/** Its segments, to join under the downloads folder. */
			segments: string[];
			/** Whether anything was rewritten (`name` differs from the input). */
			changed: boolean;
	  }
	| {
			ok: false;
			/** Why the name was refused, in a few words (e.g. `"a .. segment"`). */
			reason: string;
	  };

/**
 * Makes a name received from the network safe to use as a relative path, or refuses it.
 *
 * Refused (the name is hostile or malformed; nothing is written):
 * - not a string, empty, or over {@link MAX_NAME_BYTES} bytes of UTF-8;
 * - absolute (`/x`), rooted or UNC or device paths (`\x`, `\\server\share`, `\\?\C:\x`,
 *   `//x`), drive-letter paths (`C:`, `C:\x`, `c:x`);
 * - a `.` or `..` segment anywhere, or an empty segment (`a//b`, `a/`).
 *
 * Rewritten, segment by segment (the result is stable: sanitising it again changes nothing):
 * 1. lone surrogates become U+FFFD, then the text is normalised to NFC;
 * 2. control characters (C0, DEL, C1: so every ANSI escape sequence loses its ESC or CSI),
 *    bidirectional controls, U+2028/U+2029, `\` and `:` become `_`;
 * 3. trailing dots and spaces are removed (Windows drops them, so `a.` and `a` collide);
 *    a segment left empty becomes `_`;
 * 4. a Windows reserved name (`CON`, `nul.txt`, `Com1.log`…) gets a `_` in front;
 * 5. a name ending like our own transfer files (`.p2p-part`, `.p2p-resume`, any case) gets a
 *    `_` after, so it can never be mistaken for, or overwrite, a partial download;
 * 6. a segment over {@link MAX_SAFE_SEGMENT_BYTES} bytes is cut on a code point boundary,
 *    keeping its extension (up to 32 bytes).
 *
 * Names that differ only in case or normalisation may land on the same file on some file
 * systems: compare {@link collisionKey}s, and number the later one (`name (1).ext`).
 *
 * @param raw - untrusted name, `/`-separated (any value: anything but a string is refused)
 * @returns `{ ok: true, name, segments, changed }` or `{ ok: false, reason }`; never throws
 */
export function sanitizeName(raw: unknown): NameVerdict {
	if (typeof raw !== "string") return refuse("not a string");
	if (raw.length === 0) return refuse("empty");
	// A UTF-16 unit is 1 to 3 bytes of UTF-8: check the cheap bound before encoding.
	if (raw.length > MAX_NAME_BYTES || Buffer.byteLength(raw) > MAX_NAME_BYTES)
		return refuse(`over ${MAX_NAME_BYTES} bytes`);
	if (raw.startsWith("/")) return refuse("an absolute path");
	if (raw.startsWith("\\")) return refuse("a rooted, UNC or device path");
	if (DRIVE.test(raw)) return refuse("a drive-letter path");
	const rawSegments = raw.split("/");
	const segments: string[] = [];
	for (const segment of rawSegments) {
		if (segment === "") return refuse("an empty segment");
		if (segment === "." || segment === "..") return refuse(`a ${segment} segment`);
		segments.push(sanitizeSegment(segment));
	}
	const name = segments.join("/");
	if (Buffer.byteLength(name) > MAX_NAME_BYTES) return refuse(`over ${MAX_NAME_BYTES} bytes`);
	return { ok: true, name, segments, changed: name !== raw };
}

/**
 * True when `name` is already safe: {@link sanitizeName} accepts it unchanged.
 * @param name - any value
 */
export function isSafeName(name: unknown): name is string {
	const verdict = sanitizeName(name);
	return verdict.ok && !verdict.changed;
}

/**
 * One segment made safe (steps 1 to 6 of {@link sanitizeName}). Repeated until it no longer
 * changes: a cut can expose a trailing dot or one of our suffixes, and fixing those changes
 * the length again. Two rounds settle it in practice; four are allowed.
 */
function sanitizeSegment(segment: string): string {
	let current = segment;
	for (let round = 0; round < 4; round++) {
		const next = segmentRound(current);
		if (next === current) return next;
		current = next;
	}
	return current;
}

function segmentRound(segment: string): string {
	let s = segment.replace(LONE_SURROGATE, "\ufffd").normalize("NFC");
	s = s.replace(UNSAFE_IN_NAME, REPLACEMENT);
	s = stripTrailing(s);
	const dot = s.indexOf(".");
	if (RESERVED.test((dot < 0 ? s : s.slice(0, dot)).replace(/ +$/, ""))) s = REPLACEMENT + s;
	const lower = s.toLowerCase();
	if (TRANSFER_SUFFIXES.some((suffix) => lower.endsWith(suffix))) s += REPLACEMENT;
	if (Buffer.byteLength(s) > MAX_SAFE_SEGMENT_BYTES) s = truncateSegment(s);
	return s;
}

/** Removes trailing dots and spaces; `_` when nothing is left. */
function stripTrailing(s: string): string {
	let end = s.length;
	while (end > 0 && (s[end - 1] === "." || s[end - 1] === " ")) end--;
	return end === 0 ? REPLACEMENT : s.slice(0, end);
}

/**
 * Cuts a segment to {@link MAX_SAFE_SEGMENT_BYTES} bytes of UTF-8 on a code point boundary,
 * keeping its extension when it has a short one (`<cut stem>.ext`). The result is NFC.
 */
function truncateSegment(s: string): string {
	const dot = s.lastIndexOf(".");
	let extension = dot > 0 ? s.slice(dot) : "";
	if (Buffer.byteLength(extension) > MAX_KEPT_EXTENSION_BYTES) extension = "";
	const stem = extension === "" ? s : s.slice(0, dot);
	let room = MAX_SAFE_SEGMENT_BYTES - Buffer.byteLength(extension);
	// NFC can lengthen a cut text (a few characters decompose): cut more until it fits.
	for (;;) {
		const cut = stripTrailing(takeBytes(stem, room)) + extension;
		const normal = cut.normalize("NFC");
		if (Buffer.byteLength(normal) <= MAX_SAFE_SEGMENT_BYTES || room <= 1) return normal;
		room--;
	}
}

/** The longest prefix of `s` of at most `bytes` bytes of UTF-8, on a code point boundary. */
function takeBytes(s: string, bytes: number): string {
	let used = 0;
	let end = 0;
	for (const char of s) {
		const size = utf8Length(char.codePointAt(0) ?? 0);
		if (used + size > bytes) break;
		used += size;
		end += char.length;
	}
	return s.slice(0, end);
}

/** Bytes of UTF-8 for one code point (a lone surrogate counts as U+FFFD, 3 bytes). */
function utf8Length(codePoint: number): number {
	if (codePoint < 0x80) return 1;
	if (codePoint < 0x800) return 2;
	if (codePoint < 0x10000) return 3;
	return 4;
}

/**
 * A safe name with a number, for the later of two names that collide: `a/b (1).txt`. The
 * number goes before the extension (up to 32 bytes, as {@link sanitizeName} keeps) of the
 * last segment, whose stem is cut (on a code point boundary) when the segment would be over
 * {@link MAX_SAFE_SEGMENT_BYTES}: the result is as safe as the input, and distinct for
 * every `n`.
 * @param name - a safe name (from {@link sanitizeName})
 * @param n - the number, from 1
 * @returns the numbered name
 */
export function numberedSafeName(name: string, n: number): string {
	const slash = name.lastIndexOf("/");
	const folder = name.slice(0, slash + 1);
	const last = name.slice(slash + 1);
	const dot = last.lastIndexOf(".");
	let extension = dot > 0 ? last.slice(dot) : "";
	// As when cutting: a long "extension" (a dot early in a long name) is part of the stem,
	// else it would leave no room and the numbered segment would pass the limit.
	if (Buffer.byteLength(extension) > MAX_KEPT_EXTENSION_BYTES) extension = "";
	const stem = extension === "" ? last : last.slice(0, dot);
	const mark = ` (${n})`;
	const room = MAX_SAFE_SEGMENT_BYTES - Buffer.byteLength(mark) - Buffer.byteLength(extension);
	return `${folder}${takeBytes(stem, Math.max(1, room))}${mark}${extension}`;
}

function refuse(reason: string): NameVerdict {
	return { ok: false, reason };
}

/**
 * The key two safe names share when they would be the same file on a case-insensitive or
 * normalising file system (APFS and HFS+ by default, NTFS): NFC, lower case, then NFC again
 * (lowering can undo a composition: `ᾼ` and a combining mark become `ᾳ` and a mark that
 * compose, so without the second pass `ᾼ̴͂` and `ᾷ̴` would get different keys for one
 * file). Writers compare keys, never raw names, to keep two downloads off one file, and give
 * the later of two colliding names a number (`name (1).ext`).
 * @param name - a name or path (safe or not)
 * @returns the comparison key (not a name to write); the key of a key is itself
 */
export function collisionKey(name: string): string {
	return name.replace(LONE_SURROGATE, "\ufffd").normalize("NFC").toLowerCase().normalize("NFC");
}

/**
 * Makes text from the network safe to print on a terminal as one field: C0 and C1 control
 * characters (ESC and CSI among them, so no escape sequence gets through; newline and tab
 * too, so a name cannot fake a line or a column), DEL, bidirectional controls (which could
 * reorder what is shown, e.g. hide a file's real extension) and U+2028/U+2029 become
 * U+FFFD. Each replaced character is one UTF-16 unit, so indices into the text (search
 * match ranges) stay valid. Used by the TUI (every name it draws) and the CLI.
 * @param text - untrusted text (a peer name, a file name, a message quoting one)
 * @returns the text with every such character replaced by U+FFFD
 */
export function printable(text: string): string {
	return text.replace(UNPRINTABLE, "\ufffd");
}

/**
 * {@link printable} for whole lines of output that may hold tabs and newlines of their own
 * (the CLI's tables, usage text): everything but tab and newline is replaced. The last line
 * of defence before stdout and stderr; names inside should already be {@link printable}.
 * @param text - lines of output
 */
export function printableLines(text: string): string {
	return text.replace(UNPRINTABLE_IN_LINES, "\ufffd");
}

/**
 * `JSON.stringify` for output meant for a terminal or a pipe: the characters
 * {@link printable} replaces are written as `\uXXXX` escapes instead (JSON.stringify leaves
 * DEL, C1 controls and bidirectional controls raw), so the JSON parses to the very same
 * value and still carries no escape sequence.
 * @param value - any JSON-serialisable value
 * @returns one line of JSON
 */
export function jsonText(value: unknown): string {
	return (JSON.stringify(value) ?? "null").replace(
		UNPRINTABLE,
		(char) => `\\u${char.charCodeAt(0).toString(16).padStart(4, "0")}`,
	);
}
