/**
 * The lasting identity on disk: the Ed25519 private key in the settings folder
 * (`identity.key`, PEM PKCS #8, mode 0600, made on first run) and the lock that keeps two
 * instances from running under one identity at once (`identity.lock`, holding the pid of
 * the instance using the key).
 *
 * The rule for a settings folder used twice at once: the first instance holds the lock and
 * the lasting identity; a second one (while the first runs) gets an ephemeral identity, a
 * fresh key pair never written anywhere, so both are seen on the network as two peers. A
 * lock whose pid is no longer running (a crash, kill -9) is stale and taken over.
 * A key file that cannot be read or is not an Ed25519 key stops the program with one line
 * (exit 2): it is never replaced silently, since that would throw away the identity.
 */
import fs from "node:fs";
import path from "node:path";
import { UsageError } from "../errors.js";
import { Identity } from "../protocol/identity.js";

/** Name of the key file in the settings folder. */
export const IDENTITY_FILE = "identity.key";
/** Name of the lock file in the settings folder. */
export const LOCK_FILE = "identity.lock";
/** Mode of the key file: read and write for its owner only. */
export const KEY_FILE_MODE = 0o600;

/** Lock files this process holds (a second use in the same process gets an ephemeral identity). */
const held = new Set<string>();
let exitHook = false;

/**
 * The identity for a run with this settings folder: the lasting one when no other running
 * instance holds the folder's lock (the key file is made on first run), else an ephemeral
 * one. The lock is released when the process exits, or by {@link releaseIdentity}.
 * @param dir - the settings folder (`--config-dir`, or the platform's settings folder)
 * @throws UsageError `IDENTITY` when the key file or the lock cannot be read or written, or
 *   the key file does not hold an Ed25519 private key
 */
export function loadIdentity(dir: string): Identity {
	const folder = path.resolve(dir);
	try {
		fs.mkdirSync(folder, { recursive: true, mode: 0o700 });
	} catch (error) {
		throw failure(`cannot use settings folder ${folder}`, error);
	}
	const lock = path.join(folder, LOCK_FILE);
	if (!takeLock(lock)) return Identity.generate(true);
	try {
		return readOrMakeKey(path.join(folder, IDENTITY_FILE));
	} catch (error) {
		releaseLock(lock);
		throw error;
	}
}

/**
 * Releases the lock this process holds on a settings folder's identity (tests; the CLI
 * releases it on exit).
 * @param dir - the settings folder given to {@link loadIdentity}
 */
export function releaseIdentity(dir: string): void {
	releaseLock(path.join(path.resolve(dir), LOCK_FILE));
}

/**
 * The lasting identity kept in a settings folder, read without taking its lock (for
 * `config`), or undefined when none was made yet.
 * @throws UsageError `IDENTITY` when the key file cannot be read or is not an Ed25519 key
 */
export function peekIdentity(dir: string): Identity | undefined {
	const file = path.join(path.resolve(dir), IDENTITY_FILE);
	if (!fs.existsSync(file)) return undefined;
	return parseKey(file, readKey(file));
}

function readKey(file: string): string {
	try {
		return fs.readFileSync(file, "utf8");
	} catch (error) {
		throw failure(`cannot read identity key ${file}`, error);
	}
}

function parseKey(file: string, pem: string): Identity {
	try {
		return Identity.fromPem(pem);
	} catch {
		throw new UsageError(
			`identity key ${file} is not an Ed25519 private key (move it away to start with a new identity)`,
			"IDENTITY",
		);
	}
}

function readOrMakeKey(file: string): Identity {
	let pem: string;
	try {
		pem = fs.readFileSync(file, "utf8");
	} catch (error) {
		if ((error as NodeJS.ErrnoException).code !== "ENOENT")
			throw failure(`cannot read identity key ${file}`, error);
		return makeKey(file);
	}
	const identity = parseKey(file, pem);
	try {
		// The key is a secret: put its mode back to the owner's only if someone widened it.
		if ((fs.statSync(file).mode & 0o077) !== 0) fs.chmodSync(file, KEY_FILE_MODE);
	} catch (error) {
		throw failure(`cannot set the mode of identity key ${file}`, error);
	}
	return identity;
}

/** Makes a key pair and writes it: a temporary file of mode 0600, synced, renamed over. */
function makeKey(file: string): Identity {
	const identity = Identity.generate();
	const temp = `${file}.${process.pid}.tmp`;
	try {
		const fd = fs.openSync(temp, "wx", KEY_FILE_MODE);
		try {
			fs.writeSync(fd, identity.toPem());
			fs.fsyncSync(fd);
		} finally {
			fs.closeSync(fd);
		}
		fs.renameSync(temp, file);
	} catch (error) {
		fs.rmSync(temp, { force: true });
		throw failure(`cannot write identity key ${file}`, error);
	}
	return identity;
}

/** True when we now hold the lock; false when a running instance (or this one) holds it. */
function takeLock(lock: string): boolean {
	if (held.has(lock)) return false;
	for (let attempt = 0; attempt < 3; attempt++) {
		try {
			fs.writeFileSync(lock, `${process.pid}\n`, { flag: "wx", mode: 0o600 });
			held.add(lock);
			if (!exitHook) {
				exitHook = true;
				process.once("exit", () => {
					for (const file of held) releaseLock(file);
				});
			}
			return true;
		} catch (error) {
			if ((error as NodeJS.ErrnoException).code !== "EEXIST")
				throw failure(`cannot write identity lock ${lock}`, error);
		}
		if (running(lockPid(lock)) || justMade(lock)) return false;
		// Stale: its process is gone (a crash). Take it over.
		try {
			fs.rmSync(lock, { force: true });
		} catch (error) {
			throw failure(`cannot remove stale identity lock ${lock}`, error);
		}
	}
	return false;
}

/** The pid a lock file names, or undefined when it is gone or unreadable as a pid. */
function lockPid(lock: string): number | undefined {
	let text: string;
	try {
		text = fs.readFileSync(lock, "utf8");
	} catch (error) {
		if ((error as NodeJS.ErrnoException).code === "ENOENT") return undefined;
		throw failure(`cannot read identity lock ${lock}`, error);
	}
	const pid = Number(text.trim());
	return Number.isSafeInteger(pid) && pid > 0 ? pid : undefined;
}

/**
 * True for a lock without a pid made less than 2 s ago: its maker may not have written its
 * pid yet (`wx` creates the file before the write).
 */
function justMade(lock: string): boolean {
	try {
		const stat = fs.statSync(lock);
		return stat.size === 0 && Date.now() - stat.mtimeMs < 2_000;
	} catch {
		return false;
	}
}

/**
 * True when a process with this pid runs. Our own pid in a lock we do not hold is a lock
 * left by an earlier process that had our pid: stale.
 */
function running(pid: number | undefined): boolean {
	if (pid === undefined || pid === process.pid) return false;
	try {
		process.kill(pid, 0);
		return true;
	} catch (error) {
		// EPERM: it runs, as another user.
		return (error as NodeJS.ErrnoException).code === "EPERM";
	}
}

function releaseLock(lock: string): void {
	if (!held.delete(lock)) return;
	try {
		// Only our own lock: never one another instance took over meanwhile.
		if (lockPid(lock) === process.pid) fs.rmSync(lock, { force: true });
	} catch {
		// Left behind, it is stale once we are gone.
	}
}

function failure(what: string, error: unknown): UsageError {
	const reason = (error as NodeJS.ErrnoException).code ?? (error as Error).message;
	return new UsageError(`${what}: ${reason}`, "IDENTITY");
}
