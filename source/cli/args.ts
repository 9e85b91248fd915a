/**
 * Command-line parsing (node:util parseArgs) into a typed command. Pure: no I/O.
 */
import { isIP } from "node:net";
import { parseArgs } from "node:util";
import { parsePeerAddress } from "../discovery/peer-address.js";
import { UsageError } from "../errors.js";

/** The default discovery port (also in settings.ts, which imports this file). */
const DEFAULT_DISCOVERY_PORT = 45454;

/** The subcommands; `tui` is the default. */
export type CommandName =
	| "tui"
	| "serve"
	| "peers"
	| "list"
	| "get"
	| "search"
	| "manifest"
	| "share"
	| "download-to"
	| "config"
	| "network-key"
	| "doctor"
	| "send"
	| "trust"
	| "untrust"
	| "add-peer"
	| "remove-peer";

/** Every subcommand name a user may type. */
const COMMANDS: readonly CommandName[] = [
	"serve",
	"peers",
	"list",
	"get",
	"search",
	"manifest",
	"share",
	"download-to",
	"config",
	"network-key",
	"doctor",
	"send",
	"trust",
	"untrust",
	"add-peer",
	"remove-peer",
];

/**
 * Global flags: every command takes them (a shell alias may add them to any command line).
 * `--config-dir` picks the settings folder, the index cache (which `manifest` reads) and
 * the log's folder.
 */
export const GLOBAL_FLAGS: readonly string[] = ["config-dir"];

/**
 * The only flags the commands that start no peer accept besides the global ones (and
 * --help and --version): a peer flag there would do nothing, so it is refused rather than
 * silently ignored.
 */
const LOCAL_FLAGS: Partial<Record<CommandName, readonly string[]>> = {
	manifest: ["output", "json"],
	share: [],
	"download-to": [],
	config: ["json"],
	"network-key": ["network-key-file", "clear"],
	trust: [],
	untrust: [],
	"add-peer": [],
	"remove-peer": [],
};

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
	/** `--wait MS` for peers, list, search, get. */
	wait?: number;
	json: boolean;
	/** Start two demo peers on loopback sharing fixtures/ (TUI only). */
	demo: boolean;
	/** Upload cap in KB/s (1000 bytes); 0 for none (over a stored setting). */
	maxUp?: number;
	/** Download cap in KB/s (1000 bytes); 0 for none (over a stored setting). */
	maxDown?: number;
	/** Downloads running at once; the others are queued. */
	maxActive?: number;
	/** `--log FILE`: the log file instead of `<state dir>/p2p-tui.log`. */
	log?: string;
	/** `manifest -o FILE`: where the `.p2p` file goes (a folder: `<name>.p2p` in it). */
	output?: string;
	/** `--network-key SECRET`: the network key for this run (over a stored one). */
	networkKey?: string;
	/** `--network-key-file PATH`: read the network key from this file. */
	networkKeyFile?: string;
	/** `network-key --clear`: remove the stored network key. */
	clear?: boolean;
	/** `--no-seed` (TUI, serve): do not serve what this run downloads. */
	noSeed?: boolean;
	/** `send --to PEER`: the receiver (a name, an id or id prefix). */
	to?: string;
	/** `send --message TEXT`: a note shown with the offer. */
	message?: string;
	/** `send --text TEXT` (or `-`: standard input): a text message instead of files. */
	text?: string;
	/** `serve --accept-all`: accept every offer. */
	acceptAll?: boolean;
	/** `serve --accept-from ID` (repeatable): accept offers from these peer ids. */
	acceptFrom?: string[];
	/** `--peer HOST[:PORT]` (repeatable): peers named by address for this run, as typed. */
	peer?: string[];
	/** `--standalone`: start a peer of our own even when one runs (no control socket). */
	standalone?: boolean;
	/** `get --stdout`: write the file's bytes to stdout in order while it downloads. */
	stdout?: boolean;
}

/** A parsed command line. */
export type ParsedCommand =
	| { kind: "help" }
	| { kind: "version" }
	| {
			kind: "run";
			command: CommandName;
			target?: string;
			/** `send`: every path offered. */
			paths?: string[];
			flags: RunFlags;
	  };

/** Usage text printed by `--help`. */
export const USAGE = `Usage:
  p2p-tui [options]                              the terminal UI
  p2p-tui serve [options] [--json]               headless peer until SIGINT/SIGTERM
  p2p-tui peers [options] [--wait MS] [--json]   peers heard within MS (default 3000)
  p2p-tui list  [options] [--wait MS] [--json]   files on the network
  p2p-tui search <query> [options] [--wait MS] [--json]  files on the network, ranked by a fuzzy match
  p2p-tui get <id|p2p:id|name|file.p2p|folder> [options] [--wait MS] [--json]   download a file or a whole folder
  p2p-tui get <id|name> --stdout [options]       stream the file to stdout in order, each piece verified
  p2p-tui manifest <file> [-o OUT] [--json]      write a shareable <file>.p2p manifest, print its p2p: link
                                                 (reuses the index cache of a shared, unchanged file)
  p2p-tui share <dir> [--config-dir DIR]         store the folder to share (a running peer re-indexes)
  p2p-tui download-to <dir> [--config-dir DIR]   store the downloads folder (a running peer follows)
  p2p-tui config [--config-dir DIR] [--json]     show every setting, the settings file and your identity
  p2p-tui network-key [<secret> | --network-key-file PATH | --clear] [--config-dir DIR]
                                                 store, replace or clear the network key (no argument: is one set?)
  p2p-tui doctor [options] [--wait MS] [--json]  why peers are not seen: interfaces, ports, peers, folders
  p2p-tui send PATH... --to PEER [--message TEXT] [--wait MS] [--json]
                                                 offer files or folders to one peer; exit 0 once it verified them
  p2p-tui send --text TEXT|- --to PEER [--wait MS]  send a short text (up to 64 KiB; - reads stdin)
  p2p-tui trust ID | untrust ID [--config-dir DIR]  accept (or stop accepting) offers from a peer id without asking
  p2p-tui add-peer HOST[:PORT] [--config-dir DIR]     store a peer named by address (PORT: its discovery port)
  p2p-tui remove-peer HOST[:PORT] [--config-dir DIR]  forget a stored named peer

Options:
  --share DIR            folder to share
  --downloads DIR        folder downloads land in
  --name NAME            name announced to other peers
  --port BASE            transfer ports BASE..BASE+3 (receive, send, distribute, distributee)
  --discovery-port PORT  UDP port for announces (default 45454)
  --broadcast ADDR       where announces go, only there (repeatable; default: every interface)
  --peer HOST[:PORT]     a peer named by address (IPv4, [IPv6]:PORT or a host name; repeatable;
                         PORT: its discovery port, default ours), beside the stored ones
  --interval MS          announce interval (default 2000)
  --config-dir DIR       settings folder (several instances on one host); every command takes it
  --max-up KBPS          upload cap in KB/s (0: none)
  --max-down KBPS        (TUI, serve, get) download cap in KB/s (0: none)
  --max-active N         (TUI, serve, get) downloads at once; the others wait queued (default 3)
  --log FILE             (TUI, serve, get) log file (default p2p-tui.log in the state folder)
  --network-key SECRET   private network: only peers with the same key see and reach us
  --network-key-file PATH  the network key from a file (its bytes, less a final line break)
  -o, --output PATH      (manifest) the .p2p file to write (default ./<name>.p2p; never overwritten)
  --no-seed              (TUI, serve) do not serve what this run downloads (setting "seed")
  --to PEER              (send) the receiver: a name, a peer id or an id prefix
  --message TEXT         (send) a note shown with the offer
  --text TEXT            (send) a text message instead of files (- reads stdin)
  --accept-all           (serve) accept every offer
  --accept-from ID       (serve) accept offers from this peer id (repeatable); others are declined
  --demo                 (TUI) also start two demo peers on loopback sharing fixtures/
  --standalone           (peers, list, search, get) start a peer of our own, never ask the running one
  --stdout               (get) write the file's bytes to stdout while it downloads (progress on stderr)
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
	let command: CommandName = "tui";
	if (first !== undefined) {
		if (!COMMANDS.includes(first as CommandName))
			throw new UsageError(`unknown command ${JSON.stringify(first)} (see --help)`);
		command = first as CommandName;
	}
	const target = commandTarget(command, rest);
	const allowed = LOCAL_FLAGS[command];
	if (allowed) {
		for (const [flag, value] of Object.entries(values)) {
			if (value !== undefined && !allowed.includes(flag) && !GLOBAL_FLAGS.includes(flag))
				throw new UsageError(`--${flag} does not go with ${command} (see --help)`);
		}
	} else if (values.output !== undefined) {
		throw new UsageError("--output goes with manifest only");
	}
	// Checked now for a one-line error before any socket; the port default comes later.
	for (const text of values.peer ?? []) parsePeerAddress(text, DEFAULT_DISCOVERY_PORT);
	for (const address of values.broadcast ?? []) {
		if (!isIP(address))
			throw new UsageError(
				`expected --broadcast to be an IPv4 or IPv6 address, got ${JSON.stringify(address)}`,
			);
	}
	if (
		values.name !== undefined &&
		(values.name.length === 0 || Buffer.byteLength(values.name) > 64)
	) {
		throw new UsageError("expected --name to be 1 to 64 bytes long");
	}
	if (values.demo && command !== "tui") throw new UsageError("--demo goes with the TUI only");
	for (const flag of ["to", "message", "text"] as const)
		if (values[flag] !== undefined && command !== "send")
			throw new UsageError(`--${flag} goes with send only (see --help)`);
	if ((values["accept-all"] || values["accept-from"]) && command !== "serve")
		throw new UsageError("--accept-all and --accept-from go with serve only");
	for (const id of values["accept-from"] ?? [])
		if (!/^[0-9a-f]{32}$/i.test(id))
			throw new UsageError(
				`expected --accept-from to be a peer id of 32 hex digits, got ${JSON.stringify(id)}`,
			);
	let paths: string[] | undefined;
	if (command === "send") {
		paths = rest;
		if (values.to === undefined || values.to === "")
			throw new UsageError("send needs --to PEER: p2p-tui send PATH... --to PEER");
		if (values.text !== undefined && paths.length > 0)
			throw new UsageError("send takes paths or --text, not both");
		if (values.text === undefined && paths.length === 0)
			throw new UsageError(
				"send takes paths to offer, or --text TEXT: p2p-tui send PATH... --to PEER",
			);
		if (values.text !== undefined && values.message !== undefined)
			throw new UsageError("--message goes with an offer of files, not with --text");
		if (values.text !== undefined && values.text !== "-" && Buffer.byteLength(values.text) > 65_536)
			throw new UsageError("a text is at most 64 KiB");
		if (values.message !== undefined && Buffer.byteLength(values.message) > 1024)
			throw new UsageError("expected --message to be at most 1024 bytes");
		if (paths.some((p) => p === "")) throw new UsageError("send takes non-empty paths");
	}
	if (command === "peers" || command === "list" || command === "search" || command === "doctor") {
		// These download nothing and keep no log: the flag would do nothing.
		for (const flag of ["max-down", "max-active", "log"] as const) {
			if (values[flag] !== undefined)
				throw new UsageError(`--${flag} goes with the TUI, serve and get (see --help)`);
		}
	}
	if (command === "doctor" && values["max-up"] !== undefined)
		throw new UsageError("--max-up does not go with doctor (it transfers nothing)");
	if (values.log === "") throw new UsageError("expected --log to name a file");
	if (values["network-key"] !== undefined && values["network-key-file"] !== undefined)
		throw new UsageError("--network-key and --network-key-file do not go together");
	if (values["network-key"] === "") throw new UsageError("a network key must not be empty");
	if (values["network-key-file"] === "")
		throw new UsageError("expected --network-key-file to name a file");
	if (values["no-seed"] && command !== "tui" && command !== "serve")
		throw new UsageError("--no-seed goes with the TUI and serve (see --help)");
	if (values.stdout && command !== "get") throw new UsageError("--stdout goes with get only");
	if (values.stdout && values.json)
		throw new UsageError("--stdout and --json do not go together (stdout carries the file)");
	if (
		values.standalone &&
		!(["peers", "list", "search", "get", "send"] as CommandName[]).includes(command)
	)
		throw new UsageError("--standalone goes with peers, list, search, get and send");
	if (values.clear && command !== "network-key")
		throw new UsageError("--clear goes with network-key only");
	if (command === "network-key") {
		const given = [target !== undefined, values["network-key-file"] !== undefined, !!values.clear];
		if (given.filter(Boolean).length > 1)
			throw new UsageError("network-key takes one of: a secret, --network-key-file PATH, --clear");
	}
	return {
		kind: "run",
		command,
		target,
		...(paths ? { paths } : {}),
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
			maxUp: intFlag("max-up", values["max-up"], 0, 10_000_000),
			maxDown: intFlag("max-down", values["max-down"], 0, 10_000_000),
			maxActive: intFlag("max-active", values["max-active"], 1, 1_000),
			log: values.log,
			output: values.output,
			networkKey: values["network-key"],
			networkKeyFile: values["network-key-file"],
			clear: values.clear ?? false,
			noSeed: values["no-seed"] ?? false,
			to: values.to,
			message: values.message,
			text: values.text,
			acceptAll: values["accept-all"] ?? false,
			acceptFrom: values["accept-from"],
			peer: values.peer,
			standalone: values.standalone ?? false,
			stdout: values.stdout ?? false,
		},
	};
}

/**
 * The positional argument of a command (the file of `get` and `manifest`, the query of
 * `search`, the folder of `share` and `download-to`).
 * @throws UsageError when it is missing, empty or extra
 */
function commandTarget(command: CommandName, rest: string[]): string | undefined {
	const one = (usage: string): string => {
		if (rest.length !== 1 || rest[0] === "") throw new UsageError(usage);
		return rest[0];
	};
	switch (command) {
		case "get":
			return one(
				"get takes one file id, name or folder: p2p-tui get <id|p2p:id|name|file.p2p|folder>",
			);
		case "manifest":
			return one("manifest takes one file: p2p-tui manifest <file> [-o out.p2p]");
		case "share":
			return one("share takes one folder: p2p-tui share <dir>");
		case "download-to":
			return one("download-to takes one folder: p2p-tui download-to <dir>");
		case "send":
			return undefined;
		case "trust":
			return one("trust takes one peer id: p2p-tui trust <id>");
		case "untrust":
			return one("untrust takes one peer id: p2p-tui untrust <id>");
		case "add-peer":
		case "remove-peer": {
			const address = one(`${command} takes one peer: p2p-tui ${command} HOST[:PORT]`);
			parsePeerAddress(address, DEFAULT_DISCOVERY_PORT);
			return address;
		}
		case "network-key":
			if (rest.length > 1)
				throw new UsageError(
					"network-key takes one secret (quote a passphrase with spaces): p2p-tui network-key <secret>",
				);
			if (rest[0] === "") throw new UsageError("a network key must not be empty");
			return rest[0];
		case "search": {
			// `search slicon valey` without quotes searches for the words together.
			const query = rest.join(" ").trim();
			if (query === "") throw new UsageError("search takes a query: p2p-tui search <query>");
			return query;
		}
		default:
			if (rest.length > 0)
				throw new UsageError(`unexpected argument ${JSON.stringify(rest[0])} (see --help)`);
			return undefined;
	}
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
			peer: { type: "string", multiple: true },
			interval: { type: "string" },
			"config-dir": { type: "string" },
			wait: { type: "string" },
			json: { type: "boolean" },
			demo: { type: "boolean" },
			"max-up": { type: "string" },
			"max-down": { type: "string" },
			"max-active": { type: "string" },
			log: { type: "string" },
			output: { type: "string", short: "o" },
			"network-key": { type: "string" },
			"network-key-file": { type: "string" },
			clear: { type: "boolean" },
			"no-seed": { type: "boolean" },
			standalone: { type: "boolean" },
			stdout: { type: "boolean" },
			to: { type: "string" },
			message: { type: "string" },
			text: { type: "string" },
			"accept-all": { type: "boolean" },
			"accept-from": { type: "string", multiple: true },
			help: { type: "boolean", short: "h" },
			version: { type: "boolean", short: "v" },
		},
	});
}
