#!/usr/bin/env -S node --max-semi-space-size=4 --optimize-for-size
/**
 * (Node runs for memory, from the line above: a young generation of 4 MB a semi-space
 * instead of V8's 16, and --optimize-for-size. A peer fetching many lists at once allocates
 * in bursts, and V8's defaults let it grow its heap by tens of MB: 20 peers of 2,000 files
 * started cold peaked near 200 MB each, 110 MB with these; `npm run bench:swarm` measures
 * it with the same flags, and `npm start` uses them too.)
 *
 * p2p-tui entry point: parses arguments, picks a command, and turns errors into one line
 * on stderr with exit code 2 (usage, settings) or 1 (the work failed). Never a stack trace.
 */
import { readFileSync } from "node:fs";
import { parseCommandLine, USAGE } from "./source/cli/args.js";
import {
	config,
	dataDir,
	followSettings,
	get,
	getStream,
	keepLimits,
	list,
	logFile,
	manifest,
	manifestFileTarget,
	networkKeyCommand,
	type Output,
	peerCommand,
	peerOptions,
	peers,
	search,
	serve,
	setFolder,
	startControl,
	startLog,
} from "./source/cli/commands.js";
import {
	getVia,
	listVia,
	peersVia,
	routeOf,
	searchVia,
	streamVia,
} from "./source/cli/control-client.js";
import { DEMO_BROADCAST, startDemo } from "./source/cli/demo.js";
import { doctor } from "./source/cli/doctor.js";
import { offerPolicy, send, sendVia, trust, withText } from "./source/cli/offers.js";
import { loadSettings, settingsFile } from "./source/cli/settings.js";
import { OperationError, UsageError } from "./source/errors.js";
import { Peer } from "./source/peer/peer.js";
import { printableLines } from "./source/protocol/names.js";

// The last guard before the terminal: no control, escape or bidirectional character that
// a peer or file name carried gets out raw, whatever line quotes it (tabs and newlines kept).
const io: Output = {
	out: (line) => process.stdout.write(`${printableLines(line)}\n`),
	err: (line) => process.stderr.write(`${printableLines(line)}\n`),
	// `get` draws its progress bar on stderr when that is a terminal.
	tty: process.stderr.isTTY ? process.stderr : undefined,
};

function version(): string {
	const pkg = JSON.parse(readFileSync(new URL("../package.json", import.meta.url), "utf8")) as {
		version: string;
	};
	return pkg.version;
}

/**
 * Refuses to start the TUI outside a terminal (piped or redirected stdout or stdin), where
 * it could neither draw nor read keys and would hang.
 * @throws UsageError naming the stream that is not a terminal and the headless commands
 */
function requireTerminal(): void {
	const missing = !process.stdout.isTTY ? "stdout" : !process.stdin.isTTY ? "stdin" : undefined;
	if (missing) {
		throw new UsageError(
			`the TUI needs a terminal (${missing} is not one); use \`p2p-tui serve\`, \`list\` or \`get\` in scripts`,
		);
	}
}

async function main(argv: string[]): Promise<number> {
	const parsed = parseCommandLine(argv);
	if (parsed.kind === "help") {
		io.out(USAGE);
		return 0;
	}
	if (parsed.kind === "version") {
		io.out(version());
		return 0;
	}
	const { command, flags, target, paths } = parsed;
	// Before any settings or sockets: outside a terminal the TUI must say so at once.
	if (command === "tui") requireTerminal();
	// Commands that start no peer: no network settings needed.
	switch (command) {
		case "manifest":
			await manifest(target ?? "", flags.output, flags.json, io, dataDir(flags));
			return 0;
		case "share":
			setFolder("shareDir", target ?? "", flags.configDir, io);
			return 0;
		case "download-to":
			setFolder("downloadsDir", target ?? "", flags.configDir, io);
			return 0;
		case "config":
			config(flags.configDir, flags.json, io);
			return 0;
		case "network-key":
			networkKeyCommand(target, flags, io);
			return 0;
		case "trust":
		case "untrust":
			trust(target ?? "", command === "trust", flags.configDir, io);
			return 0;
		case "add-peer":
		case "remove-peer":
			peerCommand(target ?? "", command === "remove-peer", flags.configDir, io);
			return 0;
	}
	if (flags.demo && !flags.broadcast) flags.broadcast = [DEMO_BROADCAST];
	const settings = loadSettings(flags);
	const options = peerOptions(settings, flags);
	// Only a peer that stays seeds what it downloads: `get` leaves once its file is in.
	if (command !== "tui" && command !== "serve") options.seed = false;
	const wait = flags.wait ?? 3_000;
	// A running peer of this settings folder answers at once and keeps the downloads it runs.
	const route =
		command === "tui" || command === "serve" || command === "doctor" ? undefined : routeOf(flags);
	switch (command) {
		case "serve":
			await serve(options, flags.json, io, flags, logFile(flags), offerPolicy(flags, true));
			return 0;
		case "send": {
			const request = await withText({
				to: flags.to ?? "",
				paths: paths ?? [],
				text: flags.text,
				message: flags.message,
				wait: flags.wait,
				json: flags.json,
			});
			// Through a running peer the offer goes under its lasting identity (which the
			// receiver may trust); standalone, under a fresh one when that peer holds the folder.
			if (!(route && (await sendVia(route, request, io)))) await send(options, request, io);
			return 0;
		}
		case "peers":
			if (!(route && (await peersVia(route, flags.json, io))))
				await peers(options, wait, flags.json, io);
			return 0;
		case "list":
			if (!(route && (await listVia(route, flags.json, io))))
				await list(options, wait, flags.json, io);
			return 0;
		case "search":
			if (!(route && (await searchVia(route, target ?? "", flags.json, io))))
				await search(options, target ?? "", wait, flags.json, io);
			return 0;
		case "get": {
			const query = target ?? "";
			if (flags.stdout) {
				if (manifestFileTarget(query))
					throw new UsageError("--stdout takes a network file's id or name, not a .p2p file");
				if (!(route && (await streamVia(route, query, wait, process.stdout, io))))
					await getStream(options, query, wait, process.stdout, io, logFile(flags));
				return 0;
			}
			const p2pFile = manifestFileTarget(query);
			const via = p2pFile ? { manifest: readFileSync(p2pFile) } : { query };
			if (!(route && (await getVia(route, via, wait, flags.json, io))))
				await get(options, query, wait, flags.json, io, logFile(flags));
			return 0;
		}
		case "doctor":
			await doctor(
				{
					settings,
					settingsFile: settingsFile(flags.configDir),
					networkKey: options.networkKey,
					wait: flags.wait,
				},
				flags.json,
				io,
			);
			return 0;
		case "tui": {
			// Ink draws only the last frame when it thinks it runs in CI (CI=true); on a real
			// terminal the user wants the live screen, so that guess must not apply. The
			// variables go rather than being set to 0: chalk turns every colour and style off
			// while a CI variable exists at all, whatever its value.
			delete process.env.CI;
			delete process.env.CONTINUOUS_INTEGRATION;
			const demo = flags.demo ? startDemo(settings.discoveryPort, settings.interval) : undefined;
			try {
				const peer = await Peer.start(options);
				peer.setOfferPolicy(offerPolicy(flags, false));
				// A folder change that cannot be applied leaves the peer as it was; the TUI has
				// no place for the reason yet (`serve` prints it).
				const unfollow = followSettings(peer, flags, () => {});
				// No stray output over the TUI: a log or settings file that cannot be written
				// is not reported here.
				const stopLog = startLog(peer, logFile(flags), () => {});
				// Commands in other terminals drive this peer; its downloads show in Transfers.
				const stopControl = await startControl(peer, flags.configDir);
				const unkeep = keepLimits(peer, flags.configDir, () => {});
				// React's development build compares changed props deeply on every render, which
				// costs tenths of a second per frame with 100,000 files; users get the production one.
				process.env.NODE_ENV ??= "production";
				const { runTui } = await import("./source/ui/run-tui.js");
				try {
					// Output that would garble the screen goes to the log file instead.
					const log = stopLog.log;
					await runTui(peer, log ? { log: (line) => log.note(line.source, line.text) } : {});
				} finally {
					await stopControl();
					unfollow();
					unkeep();
					stopLog();
				}
			} finally {
				await demo?.stop();
			}
			return 0;
		}
	}
}

main(process.argv.slice(2)).then(
	(code) => {
		process.exitCode = code;
	},
	(error: unknown) => {
		if (error instanceof UsageError || error instanceof OperationError) {
			io.err(`p2p-tui: ${error.message}`);
			process.exitCode = error.exitCode;
		} else {
			io.err(`p2p-tui: internal error: ${error instanceof Error ? error.message : String(error)}`);
			process.exitCode = 1;
		}
	},
);
