/**
 * Keeping reads and writes inside their folders on disk, against symbolic links: a download
 * never writes through a link found in the downloads folder, and the library never serves a
 * file whose opened handle is outside the shared folder.
 *
 * Names from the network are made safe first (`../protocol/names.ts`, `./paths.ts`
 * `downloadTarget`): that keeps the *path* inside the folder. A link already in the folder
 * (`downloads/sub -> /elsewhere`, put there by the user or another program) would still lead
 * the write out, so the folders on the way are walked one by one with `lstat`, created
 * without following anything, and the files are opened with `O_NOFOLLOW`. A network peer
 * cannot create links in our folders; racing us with local links is a local attacker's
 * game, outside the threat model (SECURITY.md).
 */
import { constants as fsConstants } from "node:fs";
import fs from "node:fs/promises";
import path from "node:path";
import { OperationError } from "../errors.js";
import { isInside, PARTIAL_SUFFIX, RESUME_SUFFIX } from "./paths.js";

/** `O_NOFOLLOW` where the platform has it (not on Windows, where it is 0). */
export const O_NOFOLLOW: number = fsConstants.O_NOFOLLOW ?? 0;

/** The files a download at `target` may create: the file, its partial file and records. */
export function transferPaths(target: string): string[] {
	return [target, target + PARTIAL_SUFFIX, target + RESUME_SUFFIX, `${target}${RESUME_SUFFIX}.tmp`];
}

/**
 * Makes sure a download can be written at `target` without leaving `root` through a link:
 * every folder between `root` and `target` is looked at with `lstat` and created when
 * missing (one `mkdir` at a time, which never follows a link); a symbolic link or a
 * non-folder on the way is refused, and so is a symbolic link at the target itself or at
 * its partial file or resume records. Finally the real path of the target's folder must be
 * inside the real path of `root` (`root` itself may be a link: the user chose it).
 * @param root - the downloads folder (created when missing)
 * @param target - an absolute path strictly inside `root` (from `downloadTarget`)
 * @returns the real path of the target's folder
 * @throws OperationError `UNSAFE_PATH` when a link or a file is in the way or the folder
 *   resolves outside `root`; fs errors (EACCES, ENOSPC…) as they are
 */
export async function prepareTarget(root: string, target: string): Promise<string> {
	const base = path.resolve(root);
	const rel = path.relative(base, path.resolve(target));
	if (rel === "" || !isInside(base, path.resolve(target)))
		throw unsafe(`${target} is not inside ${base}`);
	await fs.mkdir(base, { recursive: true });
	const realRoot = await fs.realpath(base);
	const parts = rel.split(path.sep);
	let dir = realRoot;
	for (const part of parts.slice(0, -1)) {
		dir = path.join(dir, part);
		await ensureFolder(dir);
	}
	for (const file of transferPaths(path.join(dir, parts[parts.length - 1]))) {
		const stat = await fs.lstat(file).catch(() => undefined);
		if (stat?.isSymbolicLink()) throw unsafe(`refusing to write through the symbolic link ${file}`);
	}
	const real = await fs.realpath(dir);
	if (!isInside(realRoot, real)) throw unsafe(`${dir} resolves outside ${realRoot}`);
	return real;
}

/**
 * Makes sure `folder` is a real folder, not a link, creating it when missing (every folder
 * above it was checked already). {@link prepareTarget} for a folder of its own (the empty
 * folders of a folder download).
 */
export async function prepareFolder(root: string, folder: string): Promise<void> {
	// A folder is prepared as the parent of a file inside it.
	await prepareTarget(root, path.join(folder, "_"));
}

async function ensureFolder(dir: string): Promise<void> {
	for (let attempt = 0; attempt < 2; attempt++) {
		const stat = await fs.lstat(dir).catch((error: NodeJS.ErrnoException) => {
			if (error.code === "ENOENT") return undefined;
			throw error;
		});
		if (stat?.isDirectory()) return;
		if (stat?.isSymbolicLink()) throw unsafe(`refusing to write through the symbolic link ${dir}`);
		// A file in the way: the error mkdir would give.
		if (stat) throw Object.assign(new Error(`${dir} is not a folder`), { code: "ENOTDIR" });
		try {
			await fs.mkdir(dir);
			return;
		} catch (error) {
			// Created meanwhile (two downloads into one new folder): look again.
			if ((error as NodeJS.ErrnoException).code !== "EEXIST") throw error;
		}
	}
	throw unsafe(`cannot create the folder ${dir}`);
}

function unsafe(message: string): OperationError {
	return new OperationError(message, "UNSAFE_PATH");
}

/**
 * The real path of an open file, from the handle itself rather than a path that could have
 * been swapped: Linux's `/proc/self/fd/<fd>` link. Undefined where there is no such link
 * (macOS, Windows, a Linux without /proc).
 * @param handle - an open file
 */
export async function handlePath(handle: fs.FileHandle): Promise<string | undefined> {
	if (process.platform !== "linux") return undefined;
	try {
		const real = await fs.readlink(`/proc/self/fd/${handle.fd}`);
		// A file deleted since it was opened reads "<path> (deleted)": not a path to trust.
		return path.isAbsolute(real) && !real.endsWith(" (deleted)") ? real : undefined;
	} catch {
		return undefined;
	}
}

/**
 * Whether an opened file is inside `realRoot`: its real path (from the handle where the
 * system tells it, see {@link handlePath}) is inside the folder, and, where it does not, the
 * path it was opened by still resolves inside the folder to the very same file (device and
 * inode equal to the handle's `fstat`).
 * @param handle - the open file
 * @param openedPath - the path it was opened by
 * @param realRoot - the folder's real path (`fs.realpath`)
 * @param stat - the handle's bigint `fstat`, when already taken
 */
export async function openedInside(
	handle: fs.FileHandle,
	openedPath: string,
	realRoot: string,
	stat?: { dev: bigint; ino: bigint },
): Promise<boolean> {
	const real = await handlePath(handle);
	if (real !== undefined) return isInside(realRoot, real);
	try {
		const own = stat ?? (await handle.stat({ bigint: true }));
		const resolved = await fs.realpath(openedPath);
		if (!isInside(realRoot, resolved)) return false;
		const there = await fs.stat(resolved, { bigint: true });
		return there.dev === own.dev && there.ino === own.ino;
	} catch {
		return false;
	}
}
