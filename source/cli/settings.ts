/**
 * Persistent settings (conf): shared folder, downloads folder, name, ports, broadcast.
 * A flag overrides a setting for one run only; `--config-dir` picks another settings
 * folder so several instances on one host keep separate settings.
 */
import os from "node:os";
import path from "node:path";
import Conf from "conf";
import { UsageError } from "../errors.js";
import type { RunFlags } from "./args.js";

/** What is kept between runs. */
export interface Settings {
	name: string;
	shareDir: string;
	downloadsDir: string;
	/** Transfer base port; 0 means the first free block from the default. */
	basePort: number;
	discoveryPort: number;
	broadcast: string[];
	/** Announce interval in ms. */
	interval: number;
}

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
		broadcast: ["255.255.255.255"],
		interval: DEFAULT_INTERVAL,
	};
}

/**
 * Loads settings (writing defaults on first use) and applies this run's flags.
 * @throws UsageError when the settings file cannot be read or written
 */
export function loadSettings(flags: RunFlags): Settings {
	let stored: Settings;
	try {
		const conf = new Conf<Settings>({
			projectName: "p2p-tui",
			projectSuffix: "",
			cwd: flags.configDir ? path.resolve(flags.configDir) : undefined,
			defaults: defaultSettings(),
		});
		stored = { ...defaultSettings(), ...conf.store };
	} catch (error) {
		throw new UsageError(
			`cannot use settings in ${flags.configDir ?? "the default folder"}: ${(error as Error).message}`,
			"SETTINGS",
		);
	}
	return {
		name: flags.name ?? stored.name,
		shareDir: path.resolve(flags.share ?? stored.shareDir),
		downloadsDir: path.resolve(flags.downloads ?? stored.downloadsDir),
		basePort: flags.port ?? stored.basePort,
		discoveryPort: flags.discoveryPort ?? stored.discoveryPort,
		broadcast: flags.broadcast ?? stored.broadcast,
		interval: flags.interval ?? stored.interval,
	};
}
