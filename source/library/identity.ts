/**
 * A file's identity on disk, at nanosecond precision: what tells the library that a file is
 * still the one it hashed. Taken from a bigint `stat`/`fstat` (Node's `{ bigint: true }`), so
 * two writes within the same millisecond still differ when the file system records finer
 * times (ext4, btrfs, xfs, APFS keep nanoseconds).
 */
import type { BigIntStats } from "node:fs";

/** Size, times, inode and device of a file, as a bigint stat reports them. */
export interface FileIdentity {
	/** Size in bytes. */
	size: number;
	/** Modification time in ns since the epoch. */
	mtimeNs: bigint;
	/** Status change time in ns since the epoch (any write, chmod, rename or link changes it). */
	ctimeNs: bigint;
	/** Inode number (a file replaced by rename has a new one). */
	ino: bigint;
	/**
	 * Device of the file system holding it: with `ino`, what names one file (an inode number
	 * alone repeats across file systems). Absent in identities read back from the index cache.
	 */
	dev?: bigint;
}

/**
 * The identity of a bigint stat.
 * @param stat - from `fs.stat(path, { bigint: true })` or `handle.stat({ bigint: true })`
 */
export function identityOf(stat: BigIntStats): FileIdentity {
	return {
		size: Number(stat.size),
		mtimeNs: stat.mtimeNs,
		ctimeNs: stat.ctimeNs,
		ino: stat.ino,
		dev: stat.dev,
	};
}

/**
 * True when both identities are the same in every field (the file did not change); the
 * devices are compared when both identities have one.
 */
export function sameIdentity(a: FileIdentity, b: FileIdentity): boolean {
	return (
		a.size === b.size &&
		a.mtimeNs === b.mtimeNs &&
		a.ctimeNs === b.ctimeNs &&
		a.ino === b.ino &&
		(a.dev === undefined || b.dev === undefined || a.dev === b.dev)
	);
}

/** How soon after a change a file's timestamps may not move again, in ns: 50 ms. */
const FINE_WINDOW_NS = 50_000_000n;
/** The same for file systems that keep whole seconds (FAT keeps 2 s), in ns: 2 s. */
const COARSE_WINDOW_NS = 2_000_000_000n;

/** The later of a file's mtime and ctime, in ns (Math.max takes no bigints). */
function lastChangeNs(identity: FileIdentity): bigint {
	if (identity.mtimeNs > identity.ctimeNs) return identity.mtimeNs;
	return identity.ctimeNs;
}

/** The timestamp granularity to allow for: coarse when the file system keeps whole seconds. */
function windowNs(identity: FileIdentity): bigint {
	return identity.ctimeNs % 1_000_000_000n === 0n ? COARSE_WINDOW_NS : FINE_WINDOW_NS;
}

/**
 * Whether a file was read too soon after its last change to trust its identity ("racy git"): a
 * write within the same timestamp tick as the previous one leaves size, mtime and ctime as
 * they were, so a manifest made then could go stale unseen. True when `atNs` is less than the
 * file system's timestamp granularity (50 ms; 2 s when its times are whole seconds) after the
 * later of mtime and ctime. A time far in the future of `atNs` (a skewed clock) is not racy:
 * waiting would never end.
 * @param identity - the file's identity
 * @param atNs - when it was (or is about to be) read, ns since the epoch (wall clock)
 */
export function isRacy(identity: FileIdentity, atNs: bigint): boolean {
	const window = windowNs(identity);
	const age = atNs - lastChangeNs(identity);
	return age < window && age > -window;
}

/** Ms until `identity` is no longer racy at the wall clock (0 when it is not racy now). */
export function racyWaitMs(identity: FileIdentity, nowNs: bigint): number {
	if (!isRacy(identity, nowNs)) return 0;
	const until = lastChangeNs(identity) + windowNs(identity);
	return Math.max(1, Math.ceil(Number(until - nowNs) / 1e6));
}
