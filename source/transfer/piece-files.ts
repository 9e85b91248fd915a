/**
 * The partial file's helpers: have-map bits, full writes, disk errors said in one line, and
 * the final placement of a verified file under a name that is not taken (by hard link, never
 * over another file).
 */
import fs from "node:fs/promises";
import { reason } from "../library/library.js";
import { numberedName } from "../library/paths.js";

/** True when bit `index` (0x80 of the first byte is bit 0) is set. */
export function hasBit(bits: Uint8Array, index: number): boolean {
	return (bits[index >> 3] & (0x80 >> (index & 7))) !== 0;
}

/** Sets bit `index`. */
export function setBit(bits: Uint8Array, index: number): void {
	bits[index >> 3] |= 0x80 >> (index & 7);
}

/** True for the fs errors of a full disk or an exhausted quota. */
export function isDiskFull(error: unknown): boolean {
	const code = (error as NodeJS.ErrnoException | undefined)?.code;
	return code === "ENOSPC" || code === "EDQUOT";
}

/** A one-line description of a write failure, naming disk full and a vanished folder. */
export function diskError(file: string, error: unknown): string {
	const code = (error as NodeJS.ErrnoException).code;
	if (code === "ENOSPC" || code === "EDQUOT")
		return `disk full writing ${file}; the partial download is kept, retry to resume`;
	if (code === "ENOENT") return `the downloads folder of ${file} was removed`;
	return `cannot write ${file}: ${reason(error)}`;
}

/** Writes all of `data` at `position` (a short write continues where it stopped). */
export async function writeFully(
	handle: fs.FileHandle,
	data: Buffer,
	position: number,
): Promise<void> {
	let done = 0;
	while (done < data.length) {
		const { bytesWritten } = await handle.write(data, done, data.length - done, position + done);
		if (bytesWritten === 0) throw new Error("wrote nothing");
		done += bytesWritten;
	}
}

/**
 * Moves the verified partial file to `target`, or to `name (n).ext` when `target` holds
 * a different file; when `target` already holds the same content, keeps that one.
 * `link` + `unlink` never replaces an existing file, unlike `rename`.
 * @returns the final path
 */
export async function placeFinal(
	partial: string,
	target: string,
	content: Buffer,
	hashFile: (file: string, size: number) => Promise<Buffer>,
): Promise<string> {
	for (let n = 0; n < 1000; n++) {
		const candidate = n === 0 ? target : numberedName(target, n);
		try {
			await fs.link(partial, candidate);
			await fs.unlink(partial);
			return candidate;
		} catch (error) {
			if ((error as NodeJS.ErrnoException).code !== "EEXIST") throw error;
			if (await sameContent(candidate, content, hashFile)) {
				await fs.unlink(partial);
				return candidate;
			}
		}
	}
	throw new Error("no free name");
}

/** True when `file` is a regular file whose BLAKE3 is `content`. */
export async function sameContent(
	file: string,
	content: Buffer,
	hashFile: (file: string, size: number) => Promise<Buffer>,
): Promise<boolean> {
	try {
		const stat = await fs.stat(file);
		return stat.isFile() && (await hashFile(file, stat.size)).equals(content);
	} catch {
		return false;
	}
}
