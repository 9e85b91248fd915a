/**
 * Path rules shared by the library (what we serve) and downloads (where we write).
 */
import path from "node:path";

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

/** True when `child` (an absolute, resolved path) lies inside `root` (or is `root`). */
export function isInside(root: string, child: string): boolean {
	const rel = path.relative(root, child);
	// `..` as a whole first segment leaves root; a name like `..a` does not.
	return rel === "" || (rel !== ".." && !rel.startsWith(`..${path.sep}`) && !path.isAbsolute(rel));
}

/**
 * Turns a name received from the network (a `/`-separated relative path) into safe path
 * segments, or null when it cannot be made safe: empty, absolute, with `..` or `.`
 * segments, backslashes, NUL or other control characters, or over 255 bytes a segment.
 * @param name - untrusted relative path with `/` separators
 * @returns the segments to join under the downloads folder, or null
 */
export function safeSegments(name: string): string[] | null {
	if (name.length === 0 || name.startsWith("/")) return null;
	// biome-ignore lint/suspicious/noControlCharactersInRegex: refusing control characters is the point
	if (/[\u0000-\u001f\u007f\\]/.test(name)) return null;
	if (/^[a-zA-Z]:/.test(name)) return null;
	const segments = name.split("/");
	for (const s of segments) {
		if (s === "" || s === "." || s === "..") return null;
		if (Buffer.byteLength(s) > 255) return null;
	}
	return segments;
}

/**
 * Resolves where a download named `name` lands under `downloadsDir`.
 * @returns an absolute path inside `downloadsDir`, or null when the name is unsafe
 */
export function downloadTarget(downloadsDir: string, name: string): string | null {
	const segments = safeSegments(name);
	if (!segments) return null;
	const root = path.resolve(downloadsDir);
	const target = path.resolve(root, ...segments);
	return isInside(root, target) && target !== root ? target : null;
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
