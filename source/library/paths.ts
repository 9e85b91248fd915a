/**
 * Path rules shared by the library (what we serve) and downloads (where we write).
 */
import path from "node:path";
import { MAX_SEGMENT_BYTES, SUFFIX_ROOM_BYTES, sanitizeName } from "../protocol/names.js";

/** Suffix of a download in progress; such files are never shared and never final. */
export const PARTIAL_SUFFIX = ".p2p-part";
/** Suffix of a partial download's resume record (which pieces are on disk). */
export const RESUME_SUFFIX = ".p2p-resume";

/** True for our own bookkeeping files: partial downloads, resume records, their temporaries. */
export function isTransferFile(name: string): boolean {
	return (
		name.endsWith(PARTIAL_SUFFIX) ||
		name.endsWith(RESUME_SUFFIX) ||
		name.endsWith(`${RESUME_SUFFIX}.tmp`)
	);
}

/**
 * True when `child` (an absolute, resolved path) lies inside `root` (or is `root`). A name
 * that merely starts with two dots (`..x`) is inside; only a `..` segment leads out.
 */
export function isInside(root: string, child: string): boolean {
	const rel = path.relative(root, child);
	return rel === "" || (rel !== ".." && !rel.startsWith(`..${path.sep}`) && !path.isAbsolute(rel));
}

/**
 * Checks a name strictly, without rewriting it: the segments of a `/`-separated relative
 * path, or null when it is empty, absolute, a drive-letter path, has `..`, `.` or empty
 * segments, backslashes, NUL or other C0 control characters or DEL, or a segment over 255
 * bytes. For names we write ourselves (the name in a `.p2p` file); a name received from a
 * peer goes through {@link downloadTarget}, which makes it safe instead.
 * @param name - relative path with `/` separators
 * @returns the segments, or null
 */
export function safeSegments(name: string): string[] | null {
	if (name.length === 0 || name.startsWith("/")) return null;
	// biome-ignore lint/suspicious/noControlCharactersInRegex: refusing control characters is the point
	if (/[\u0000-\u001f\u007f\\]/.test(name)) return null;
	if (/^[a-zA-Z]:/.test(name)) return null;
	const segments = name.split("/");
	for (const s of segments) {
		if (s === "" || s === "." || s === "..") return null;
		if (Buffer.byteLength(s) > MAX_SEGMENT_BYTES) return null;
	}
	return segments;
}

/**
 * Longest absolute path we create, in bytes of UTF-8, suffixes included: PATH_MAX less its
 * terminating NUL (4,096 on Linux, 1,024 on macOS and the BSDs).
 */
export const MAX_PATH_BYTES = (process.platform === "linux" ? 4096 : 1024) - 1;

/**
 * Resolves where a download named `name` (received from the network) lands under
 * `downloadsDir`: the name is made safe by {@link sanitizeName} (`../protocol/names.ts`),
 * which refuses hostile structure (`..`, absolute, drive-letter and UNC paths) and rewrites
 * the rest (control and bidirectional characters, reserved names, trailing dots, long
 * segments). Pure path computation: the caller still refuses symlinks on the way
 * (`./confine.ts`).
 * @param downloadsDir - the downloads folder (relative paths resolve from the working folder)
 * @param name - untrusted `/`-separated relative path
 * @returns an absolute path strictly inside `downloadsDir`, or null when the name is refused
 *   or the path (with our longest suffix) would be over {@link MAX_PATH_BYTES}
 */
export function downloadTarget(downloadsDir: string, name: string): string | null {
	const verdict = sanitizeName(name);
	if (!verdict.ok) return null;
	const root = path.resolve(downloadsDir);
	const target = path.resolve(root, ...verdict.segments);
	if (!isInside(root, target) || target === root) return null;
	if (Buffer.byteLength(target) + SUFFIX_ROOM_BYTES > MAX_PATH_BYTES) return null;
	return target;
}

/**
 * The name to use beside an existing different file: `name (1).ext`, `name (2).ext`...
 * @param target - the wanted absolute path
 * @param n - the counter, from 1
 */
export function numberedName(target: string, n: number): string {
	const ext = path.extname(target);
	const base = target.slice(0, target.length - ext.length);
	return `${base} (${n})${ext}`;
}
