/**
 * Command-line parsing (node:util parseArgs) into a typed command. Pure: no I/O.
 */
import { isIPv4 } from "node:net";
import { parseArgs } from "node:util";
import { UsageError } from "../errors.js";

/** The subcommands; `tui` is the default. */
export type CommandName = "tui" | "serve" | "peers" | "list" | "get";

/** Options a flag may set for one run (absent: from settings). */
export interface RunFlags {
	share?: string;
	downloads?: string;
	name?: string;
	port?: number;
	discoveryPort?: number;
	broadcast?: string[];
	interval?: number;
	configDir?: string;
	/** `--wait MS` for peers, list, get. */
	wait?: number;
	json: boolean;
	/** Start two demo peers on loopback sharing fixtures/ (TUI only). */
	demo: boolean;
	/** Upload cap in KB/s (1000 bytes). */
	maxUp?: number;
}

/** A parsed command line. */
export type ParsedCommand =
	| { kind: "help" }
	| { kind: "version" }
	| { kind: "run"; command: CommandName; target?: string; flags: RunFlags };

/** Usage text printed by `--help`. */
export const USAGE = `Usage:
  p2p-tui [options]                              the terminal UI
  p2p-tui serve [options] [--json]               headless peer until SIGINT/SIGTERM
  p2p-tui peers [options] [--wait MS] [--json]   peers heard within MS (default 3000)
  p2p-tui list  [options] [--wait MS] [--json]   files on the network
  p2p-tui get <id|name> [options] [--wait MS] [--json]   download one file

Options:
  --share DIR            folder to share
  --downloads DIR        folder downloads land in
  --name NAME            name announced to other peers
  --port BASE            transfer ports BASE..BASE+3 (receive, send, distribute, distributee)
  --discovery-port PORT  UDP port for announces (default 45454)
  --broadcast ADDR       broadcast address for announces (repeatable; default 255.255.255.255)
  --interval MS          announce interval (default 2000)
  --config-dir DIR       settings folder (several instances on one host)
  --max-up KBPS          upload cap in KB/s
  --demo                 (TUI) also start two demo peers on loopback sharing fixtures/
  --json                 machine-readable output
  --help, --version`;

function intFlag(
	name: string,
	value: string | undefined,
	min: number,
	max: number,
): number | undefined {
	if (value === undefined) return undefined;
	const n = Number(value);
	if (!/^\d+$/.test(value) || !Number.isSafeInteger(n) || n < min || n > max) {
		throw new UsageError(
			`expected --${name} to be a whole number from ${min} to ${max}, got ${JSON.stringify(value)}`,
		);
	}
	return n;
}

/**
 * Parses arguments (without `node` and the script).
 * @throws UsageError for unknown flags, missing values, bad numbers or addresses
 */
export function parseCommandLine(argv: string[]): ParsedCommand {
	let parsed: ReturnType<typeof parse>;
	try {
		parsed = parse(argv);
	} catch (error) {
		// parseArgs explains at length; the first sentence is the useful part.
		const first = (error as Error).message.split(/\.\s|\n/)[0];
		throw new UsageError(`${first.charAt(0).toLowerCase()}${first.slice(1)} (see --help)`);
	}
	const { values, positionals } = parsed;
	if (values.help) return { kind: "help" };
	if (values.version) return { kind: "version" };
	const [first, ...rest] = positionals;
	const names: CommandName[] = ["serve", "peers", "list", "get"];
	let command: CommandName = "tui";
	if (first !== undefined) {
		if (!names.includes(first as CommandName))
			throw new UsageError(`unknown command ${JSON.stringify(first)} (see --help)`);
		command = first as CommandName;
	}
	let target: string | undefined;
	if (command === "get") {
		if (rest.length !== 1)
			throw new UsageError("get takes one file id or name: p2p-tui get <id|name>");
		target = rest[0];
	} else if (rest.length > 0) {
		throw new UsageError(`unexpected argument ${JSON.stringify(rest[0])} (see --help)`);
	}
	for (const address of values.broadcast ?? []) {
		if (!isIPv4(address))
			throw new UsageError(
				`expected --broadcast to be an IPv4 address, got ${JSON.stringify(address)}`,
			);
	}
	if (
		values.name !== undefined &&
		(values.name.length === 0 || Buffer.byteLength(values.name) > 64)
	) {
		throw new UsageError("expected --name to be 1 to 64 bytes long");
	}
	if (values.demo && command !== "tui") throw new UsageError("--demo goes with the TUI only");
	return {
		kind: "run",
		command,
		target,
		flags: {
			share: values.share,
			downloads: values.downloads,
			name: values.name,
			port: intFlag("port", values.port, 1, 65532),
			discoveryPort: intFlag("discovery-port", values["discovery-port"], 1, 65535),
			broadcast: values.broadcast,
			interval: intFlag("interval", values.interval, 100, 3_600_000),
			configDir: values["config-dir"],
			wait: intFlag("wait", values.wait, 0, 86_400_000),
			json: values.json ?? false,
			demo: values.demo ?? false,
			maxUp: intFlag("max-up", values["max-up"], 1, 10_000_000),
		},
	};
}

function parse(argv: string[]) {
	return parseArgs({
		args: argv,
		allowPositionals: true,
		strict: true,
		options: {
			share: { type: "string" },
			downloads: { type: "string" },
			name: { type: "string" },
			port: { type: "string" },
			"discovery-port": { type: "string" },
			broadcast: { type: "string", multiple: true },
			interval: { type: "string" },
			"config-dir": { type: "string" },
			wait: { type: "string" },
			json: { type: "boolean" },
			demo: { type: "boolean" },
			"max-up": { type: "string" },
			help: { type: "boolean", short: "h" },
			version: { type: "boolean", short: "v" },
		},
	});
}
