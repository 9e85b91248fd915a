/**
 * Helpers to run the built CLI (dist/cli.js) as real processes in tests.
 */
import { type ChildProcess, execFile, spawn } from "node:child_process";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { LOOPBACK_BROADCAST } from "./net.js";

/** Absolute path of the built CLI. */
export const CLI = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..", "..", "cli.js");

/** Flags that keep a CLI peer on loopback: broadcast, discovery port, a short interval. */
export function loopbackNet(discoveryPort: number, interval = 300): string[] {
	return [
		"--broadcast",
		LOOPBACK_BROADCAST,
		"--discovery-port",
		String(discoveryPort),
		"--interval",
		String(interval),
	];
}

/**
 * Flags giving a CLI peer its own folders under `root/name`.
 * @param share - folder to share; `root/name/share` when absent
 */
export function peerFolders(root: string, name: string, share?: string): string[] {
	const dir = path.join(root, name);
	return [
		"--name",
		name,
		"--share",
		share ?? path.join(dir, "share"),
		"--downloads",
		path.join(dir, "dl"),
		"--config-dir",
		path.join(dir, "cfg"),
	];
}

/** Result of a finished command. */
export interface RunResult {
	code: number | null;
	stdout: string;
	stderr: string;
}

/** Where a CLI process runs: `netns` names a network namespace the test made. */
export interface CliPlace {
	netns?: string;
}

/** The command line that runs the CLI with `args`, inside `place.netns` when given. */
export function cliCommand(args: string[], place: CliPlace = {}): [string, string[]] {
	return place.netns
		? ["ip", ["netns", "exec", place.netns, process.execPath, CLI, ...args]]
		: [process.execPath, [CLI, ...args]];
}

/** Runs the CLI to completion (at most `timeoutMs`). */
export function runCli(
	args: string[],
	timeoutMs = 60_000,
	place: CliPlace = {},
): Promise<RunResult> {
	const [command, argv] = cliCommand(args, place);
	return new Promise((resolve) => {
		execFile(
			command,
			argv,
			{ timeout: timeoutMs, maxBuffer: 16 * 1024 * 1024 },
			(error, stdout, stderr) => {
				const code: unknown = error ? (error as { code?: unknown }).code : 0;
				resolve({ code: typeof code === "number" ? code : null, stdout, stderr });
			},
		);
	});
}

/** A long-running `serve` process whose JSON event lines are collected. */
export class ServeProcess {
	readonly events: Record<string, unknown>[] = [];
	readonly child: ChildProcess;
	private buffered = "";

	constructor(args: string[], place: CliPlace = {}) {
		const [command, argv] = cliCommand(["serve", "--json", ...args], place);
		this.child = spawn(command, argv, {
			stdio: ["ignore", "pipe", "pipe"],
		});
		this.child.stdout?.setEncoding("utf8");
		this.child.stdout?.on("data", (chunk: string) => {
			this.buffered += chunk;
			const lines = this.buffered.split("\n");
			this.buffered = lines.pop() ?? "";
			for (const line of lines) if (line.trim()) this.events.push(JSON.parse(line));
		});
	}

	/** The first event of this kind, once it arrived. */
	event(kind: string): Record<string, unknown> | undefined {
		return this.events.find((e) => e.event === kind);
	}

	/** Sends SIGTERM and waits for the exit code (null when a signal ended it). */
	stop(): Promise<number | null> {
		return new Promise((resolve) => {
			// Already gone: by exit, or by a signal (then exitCode stays null for ever).
			if (this.child.exitCode !== null || this.child.signalCode !== null)
				return resolve(this.child.exitCode);
			this.child.once("exit", (code) => resolve(code));
			this.child.kill("SIGTERM");
		});
	}
}
