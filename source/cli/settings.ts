/**
 * Persistent settings (conf): shared folder, downloads folder, name, ports, broadcast,
 * rate limits, the number of downloads at once and the network key. The settings file is
 * written with mode 0600 (owner only): it may hold the network key.
 * A flag overrides a setting for one run only; `--config-dir` picks another settings
 * folder so several instances on one host keep separate settings.
 */
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import Conf from "conf";
import { formatPeerAddress, parsePeerAddress } from "../discovery/peer-address.js";
import { UsageError } from "../errors.js";
import { isInside } from "../library/paths.js";
import type { Limits } from "../peer/types.js";
import { MAX_SECRET_BYTES } from "../protocol/seal.js";
import type { RunFlags } from "./args.js";

/** What is kept between runs. */
export interface Settings {
	name: string;
	shareDir: string;
	downloadsDir: string;
	/** Transfer base port; 0 means the first free block from the default. */
	basePort: number;
	discoveryPort: number;
	/** Where announces go; empty (the default): every interface (see `discovery/interfaces.ts`). */
	broadcast: string[];
	/** Announce interval in ms. */
	interval: number;
	/** Download rate cap in KB/s (1 KB = 1000 bytes); 0 means none. */
	maxDown: number;
	/** Upload rate cap in KB/s; 0 means none. */
	maxUp: number;
	/** Downloads running at once; the others wait queued. */
	maxActive: number;
	/** The network key (any secret; see `NetworkGuard`); `""` for none. */
	networkKey: string;
	/**
	 * Seed what the TUI and `serve` download: serve each completed file while the peer runs
	 * (default true; `--no-seed` turns it off for a run).
	 */
	seed: boolean;
	/**
	 * Peer ids (lasting identities, 32 hex digits) whose offers are accepted without asking
	 * (`p2p-tui trust ID`); never names or addresses.
	 */
	trusted: string[];
	/** Peers named by address (`add-peer`), canonical `HOST:PORT` (`[v6]:PORT`). */
	peers: string[];
}

/** Default number of downloads running at once. */
export const DEFAULT_MAX_ACTIVE = 3;

/** Default discovery port. */
export const DEFAULT_DISCOVERY_PORT = 45454;
/** Default announce interval in ms. */
export const DEFAULT_INTERVAL = 2_000;

/** The settings a fresh install starts with. */
export function defaultSettings(): Settings {
	const home = os.homedir();
	return {
		name: os.hostname().slice(0, 64) || "peer",
		shareDir: path.join(home, "p2p-tui", "shared"),
		downloadsDir: path.join(home, "p2p-tui", "downloads"),
		basePort: 0,
		discoveryPort: DEFAULT_DISCOVERY_PORT,
		broadcast: [],
		interval: DEFAULT_INTERVAL,
		maxDown: 0,
		maxUp: 0,
		maxActive: DEFAULT_MAX_ACTIVE,
		networkKey: "",
		seed: true,
		trusted: [],
		peers: [],
	};
}

/** Mode of the settings file: read and write for its owner only (it may hold the network key). */
export const SETTINGS_FILE_MODE = 0o600;

/** Opens the settings store (conf) in `configDir`, or the OS config folder when absent. */
function openStore(configDir: string | undefined): Conf<Settings> {
	try {
		return new Conf<Settings>({
			projectName: "p2p-tui",
			projectSuffix: "",
			cwd: configDir ? path.resolve(configDir) : undefined,
			defaults: defaultSettings(),
			// conf writes a temporary file with this mode and renames it over the settings file,
			// so the key is never readable by others, not even for a moment.
			configFileMode: SETTINGS_FILE_MODE,
		});
	} catch (error) {
		throw new UsageError(
			`cannot use settings in ${configDir ?? "the default folder"}: ${(error as Error).message}`,
			"SETTINGS",
		);
	}
}

/**
 * The stored settings, without this run's flags (defaults written on first use).
 * @param configDir - the `--config-dir` folder; the OS config folder when absent
 * @throws UsageError (code `SETTINGS`) when the settings file cannot be read or written
 */
export function storedSettings(configDir?: string): Settings {
	const conf = openStore(configDir);
	try {
		const stored = { ...defaultSettings(), ...conf.store };
		return { ...stored, broadcast: storedBroadcast(stored.broadcast) };
	} catch (error) {
		throw new UsageError(
			`cannot read settings ${conf.path}: ${(error as Error).message}`,
			"SETTINGS",
		);
	}
}

/**
 * The absolute path of the settings file (`config.json` in the settings folder).
 * @throws UsageError (code `SETTINGS`) when the settings folder cannot be used
 */
export function settingsFile(configDir?: string): string {
	return openStore(configDir).path;
}

/**
 * The settings folder: `--config-dir`, or the platform's folder conf uses (where the
 * identity key lives too).
 * @throws UsageError (code `SETTINGS`) when the settings folder cannot be used
 */
export function settingsDir(configDir?: string): string {
	return path.dirname(settingsFile(configDir));
}

/**
 * Loads settings (writing defaults on first use) and applies this run's flags.
 * @throws UsageError when the settings file cannot be read or written
 */
export function loadSettings(flags: RunFlags): Settings {
	const stored = storedSettings(flags.configDir);
	return {
		name: flags.name ?? stored.name,
		shareDir: path.resolve(flags.share ?? stored.shareDir),
		downloadsDir: path.resolve(flags.downloads ?? stored.downloadsDir),
		basePort: flags.port ?? stored.basePort,
		discoveryPort: flags.discoveryPort ?? stored.discoveryPort,
		broadcast: flags.broadcast ?? stored.broadcast,
		interval: flags.interval ?? stored.interval,
		maxDown: flags.maxDown ?? stored.maxDown,
		maxUp: flags.maxUp ?? stored.maxUp,
		maxActive: flags.maxActive ?? stored.maxActive,
		networkKey:
			flags.networkKey ?? (typeof stored.networkKey === "string" ? stored.networkKey : ""),
		// Anything but an explicit false in the file seeds.
		seed: !flags.noSeed && stored.seed !== false,
		trusted: storedTrusted(stored.trusted),
		// `--peer` adds to the stored peers for this run.
		peers: [...new Set([...storedPeers(stored), ...(flags.peer ?? [])])],
	};
}

/** The stored trusted peer ids, keeping only well-formed ones. */
function storedTrusted(stored: unknown): string[] {
	if (!Array.isArray(stored)) return [];
	return stored.filter((id): id is string => typeof id === "string" && /^[0-9a-f]{32}$/.test(id));
}

/**
 * Adds a peer id to the trusted list, or removes it (`trust` / `untrust`).
 * @param id - a full peer id, 32 hex digits (the fingerprint alone is too short to trust)
 * @returns the trusted list after the change
 * @throws UsageError for an id that is not 32 hex digits, `SETTINGS` when not writable
 */
export function storeTrust(id: string, trust: boolean, configDir?: string): string[] {
	const clean = id.toLowerCase().replace(/\s+/g, "");
	if (!/^[0-9a-f]{32}$/.test(clean))
		throw new UsageError(
			`expected a peer id of 32 hex digits (p2p-tui peers shows them), got ${JSON.stringify(id)}`,
		);
	const conf = openStore(configDir);
	try {
		const now = storedTrusted(conf.store.trusted).filter((t) => t !== clean);
		if (trust) now.push(clean);
		conf.set("trusted", now);
		return now;
	} catch (error) {
		throw new UsageError(`cannot write settings ${conf.path}: ${describe(error)}`, "SETTINGS");
	}
}

/** The stored named peers that still parse (a hand-edited settings file may hold others). */
function storedPeers(stored: Pick<Settings, "peers" | "discoveryPort">): string[] {
	if (!Array.isArray(stored.peers)) return [];
	return stored.peers.filter((p): p is string => {
		try {
			parsePeerAddress(String(p), stored.discoveryPort);
			return typeof p === "string";
		} catch {
			return false;
		}
	});
}

/**
 * Stores a peer named by address (`p2p-tui add-peer`, or named in the TUI), or removes one
 * (`remove-peer`). Stored in canonical form (`HOST:PORT`, `[v6]:PORT`; PORT defaults to the
 * stored discovery port), so two spellings of one peer are one entry.
 * @param text - `HOST[:PORT]` as typed
 * @param remove - true to remove it
 * @param configDir - the `--config-dir` folder; the OS config folder when absent
 * @returns the canonical address, whether the list changed, and the settings file's path
 * @throws UsageError (exit 2) for text that is no peer address, `SETTINGS` when the settings
 *   cannot be written
 */
export function storePeer(
	text: string,
	remove: boolean,
	configDir?: string,
): { address: string; changed: boolean; file: string } {
	const conf = openStore(configDir);
	const stored = storedSettings(configDir);
	const address = formatPeerAddress(parsePeerAddress(text, stored.discoveryPort));
	const peers = storedPeers(stored);
	const has = peers.includes(address);
	const changed = remove ? has : !has;
	if (changed) {
		try {
			conf.set("peers", remove ? peers.filter((p) => p !== address) : [...peers, address]);
		} catch (error) {
			throw new UsageError(`cannot write settings ${conf.path}: ${describe(error)}`, "SETTINGS");
		}
	}
	return { address, changed, file: conf.path };
}

/**
 * The stored broadcast setting, where the old default (`["255.255.255.255"]` only, which
 * left by the default route alone) now means every interface, as a fresh install does.
 */
function storedBroadcast(stored: unknown): string[] {
	if (!Array.isArray(stored)) return [];
	const list = stored.filter((a): a is string => typeof a === "string");
	return list.length === 1 && list[0] === "255.255.255.255" ? [] : list;
}

/**
 * Reads a network key file: its bytes are the key, less one final line break (so
 * `echo secret > key` and `--network-key secret` give the same key).
 * @param file - the key file's path
 * @returns the key's bytes (1 to `MAX_SECRET_BYTES`)
 * @throws UsageError `BAD_NETWORK_KEY` when the file cannot be read, is empty or too large
 */
export function readKeyFile(file: string): Buffer {
	const where = path.resolve(file);
	const tooLarge = () =>
		new UsageError(
			`network key file ${where}: a key is at most ${MAX_SECRET_BYTES} bytes`,
			"BAD_NETWORK_KEY",
		);
	let bytes: Buffer;
	try {
		// Not read whole when it is plainly no key (a disk image named by mistake).
		if (fs.statSync(where).size > MAX_SECRET_BYTES + 2) bytes = Buffer.alloc(0);
		else bytes = fs.readFileSync(where);
	} catch (error) {
		throw new UsageError(
			`cannot read network key file ${where}: ${describe(error)}`,
			"BAD_NETWORK_KEY",
		);
	}
	if (bytes.length === 0 && fs.statSync(where).size > 0) throw tooLarge();
	const end = bytes.at(-1) === 0x0a ? (bytes.at(-2) === 0x0d ? 2 : 1) : 0;
	const key = bytes.subarray(0, bytes.length - end);
	if (key.length === 0)
		throw new UsageError(`network key file ${where} is empty`, "BAD_NETWORK_KEY");
	if (key.length > MAX_SECRET_BYTES) throw tooLarge();
	return key;
}

/**
 * Checks a network key typed on the command line or in the TUI.
 * @throws UsageError `BAD_NETWORK_KEY` when it is empty or over `MAX_SECRET_BYTES` of UTF-8
 */
export function checkNetworkKey(secret: string): string {
	if (secret === "") throw new UsageError("a network key must not be empty", "BAD_NETWORK_KEY");
	if (Buffer.byteLength(secret) > MAX_SECRET_BYTES)
		throw new UsageError(`a network key is at most ${MAX_SECRET_BYTES} bytes`, "BAD_NETWORK_KEY");
	return secret;
}

/**
 * Stores (or clears) the network key in the settings (`p2p-tui network-key`, or the TUI).
 * The settings file is written with mode 0600, and set to it again afterwards in case it was
 * created wider by an older version.
 * @param secret - the key, or null to clear it
 * @param configDir - the `--config-dir` folder; the OS config folder when absent
 * @returns the settings file's path
 * @throws UsageError `BAD_NETWORK_KEY` for an empty or too long key, `SETTINGS` when the
 *   settings cannot be written
 */
export function storeNetworkKey(secret: string | null, configDir?: string): string {
	if (secret !== null) checkNetworkKey(secret);
	const conf = openStore(configDir);
	try {
		conf.set("networkKey", secret ?? "");
		fs.chmodSync(conf.path, SETTINGS_FILE_MODE);
	} catch (error) {
		throw new UsageError(`cannot write settings ${conf.path}: ${describe(error)}`, "SETTINGS");
	}
	return conf.path;
}

/**
 * Limits (bytes/s, null for none) from settings (KB/s, 0 for none).
 * @param settings - the three limit settings
 */
export function limitsOf(settings: Pick<Settings, "maxDown" | "maxUp" | "maxActive">): Limits {
	const rate = (kbps: number) => (kbps ? kbps * 1000 : null);
	return {
		maxDown: rate(settings.maxDown),
		maxUp: rate(settings.maxUp),
		maxActive: settings.maxActive,
	};
}

/**
 * Stores limits set in the TUI (the `set-limits` intent) in the settings, in KB/s (a rate
 * is rounded to whole KB/s, at least 1; none is 0). Settings already equal are not
 * written again. A running peer that follows the settings takes them up.
 * @param limits - the limits to store (absent fields stay as stored)
 * @param configDir - the `--config-dir` folder; the OS config folder when absent
 * @returns the settings file's path
 * @throws UsageError (code `SETTINGS`) when the settings cannot be written
 */
export function storeLimits(limits: Partial<Limits>, configDir?: string): string {
	const conf = openStore(configDir);
	const kbps = (bps: number | null) => (bps === null ? 0 : Math.max(1, Math.round(bps / 1000)));
	const next: Partial<Settings> = {};
	if (limits.maxDown !== undefined) next.maxDown = kbps(limits.maxDown);
	if (limits.maxUp !== undefined) next.maxUp = kbps(limits.maxUp);
	if (limits.maxActive !== undefined) next.maxActive = limits.maxActive;
	try {
		const stored = { ...defaultSettings(), ...conf.store };
		for (const [key, value] of Object.entries(next) as [keyof Settings, number][])
			if (stored[key] !== value) conf.set(key, value);
	} catch (error) {
		throw new UsageError(`cannot write settings ${conf.path}: ${describe(error)}`, "SETTINGS");
	}
	return conf.path;
}

/** Which folder setting: the shared folder or the downloads folder. */
export type FolderSetting = "shareDir" | "downloadsDir";

/** The user's word for a folder setting, for messages. */
const FOLDER_LABEL: Record<FolderSetting, string> = {
	shareDir: "shared folder",
	downloadsDir: "downloads folder",
};

/**
 * A path with symlinks resolved as far as it exists: the real path of its deepest existing
 * ancestor, then the rest as given. Compares folders that may not exist yet.
 */
function canonical(p: string): string {
	let head = path.resolve(p);
	const tail: string[] = [];
	for (;;) {
		try {
			return path.join(fs.realpathSync(head), ...tail.reverse());
		} catch {
			const parent = path.dirname(head);
			if (parent === head) return path.resolve(p);
			tail.push(path.basename(head));
			head = parent;
		}
	}
}

/** True when `a` and `b` are the same folder or one lies inside the other. */
export function foldersOverlap(a: string, b: string): boolean {
	const ca = canonical(a);
	const cb = canonical(b);
	return isInside(ca, cb) || isInside(cb, ca);
}

/**
 * Stores the shared or downloads folder in the settings (`p2p-tui share` and
 * `p2p-tui download-to`): resolved to an absolute path, created when missing, checked
 * usable (the shared folder readable, the downloads folder writable) and not the same as
 * nor nested with the other folder setting. Nothing is stored when it throws. A running
 * peer that watches the settings (`watchSettings`) follows the change.
 * @param key - which setting
 * @param dir - the folder, relative to the current folder or absolute
 * @param configDir - the `--config-dir` folder; the OS config folder when absent
 * @returns the absolute folder stored and the settings file's path
 * @throws UsageError `FOLDERS_NESTED`, `FOLDER_UNUSABLE` or `SETTINGS`
 */
export function storeFolder(
	key: FolderSetting,
	dir: string,
	configDir?: string,
): { folder: string; file: string } {
	const conf = openStore(configDir);
	const stored = storedSettings(configDir);
	const folder = path.resolve(dir);
	const otherKey: FolderSetting = key === "shareDir" ? "downloadsDir" : "shareDir";
	const other = path.resolve(stored[otherKey]);
	if (foldersOverlap(folder, other)) {
		throw new UsageError(
			`${FOLDER_LABEL[key]} ${folder} and ${FOLDER_LABEL[otherKey]} ${other} must not be the same or nested`,
			"FOLDERS_NESTED",
		);
	}
	try {
		fs.mkdirSync(folder, { recursive: true });
		if (!fs.statSync(folder).isDirectory()) throw new Error("not a folder");
		const mode =
			key === "shareDir"
				? fs.constants.R_OK | fs.constants.X_OK
				: fs.constants.W_OK | fs.constants.X_OK;
		fs.accessSync(folder, mode);
	} catch (error) {
		throw new UsageError(
			`cannot use ${folder} as the ${FOLDER_LABEL[key]}: ${describe(error)}`,
			"FOLDER_UNUSABLE",
		);
	}
	try {
		conf.set(key, folder);
	} catch (error) {
		throw new UsageError(`cannot write settings ${conf.path}: ${describe(error)}`, "SETTINGS");
	}
	return { folder, file: conf.path };
}

/** A short reason for a file-system error: its code, or its message. */
function describe(error: unknown): string {
	if (error && typeof error === "object" && "code" in error && typeof error.code === "string") {
		if (error.code === "EACCES") return "permission denied";
		if (error.code === "ENOTDIR" || error.code === "EEXIST") return "not a folder";
		return error.code;
	}
	return error instanceof Error ? error.message : String(error);
}

/**
 * Watches the settings file and calls `onChange` with the stored settings each time they
 * change (another `p2p-tui share` or `download-to`, or an edit). Watches the settings
 * folder with `fs.watch` (conf writes atomically, by rename) and reads the file again
 * 50 ms after the last event; falls back to polling once a second where `fs.watch` is
 * missing. conf's own `watch` option polls every 5 s on Linux, too slow to follow.
 * Unreadable or half-written contents are skipped until the next change.
 * @param configDir - the `--config-dir` folder; the OS config folder when absent
 * @param onChange - called with the new stored settings (flags not applied)
 * @returns a function that stops watching
 * @throws UsageError (code `SETTINGS`) when the settings folder cannot be used
 */
export function watchSettings(
	configDir: string | undefined,
	onChange: (stored: Settings) => void,
): () => void {
	const conf = openStore(configDir);
	const file = conf.path;
	const read = (): Settings | undefined => {
		try {
			return { ...defaultSettings(), ...conf.store };
		} catch {
			return undefined;
		}
	};
	let last = JSON.stringify(read());
	let timer: NodeJS.Timeout | undefined;
	const check = () => {
		const now = read();
		const key = JSON.stringify(now);
		if (!now || key === last) return;
		last = key;
		onChange(now);
	};
	const poke = () => {
		clearTimeout(timer);
		timer = setTimeout(check, 50);
		timer.unref();
	};
	let watcher: fs.FSWatcher | undefined;
	try {
		watcher = fs.watch(path.dirname(file), { persistent: false }, (_event, name) => {
			if (!name || name === path.basename(file)) poke();
		});
		watcher.on("error", () => {});
	} catch {
		fs.watchFile(file, { persistent: false, interval: 1_000 }, poke);
	}
	return () => {
		clearTimeout(timer);
		if (watcher) watcher.close();
		else fs.unwatchFile(file, poke);
	};
}
