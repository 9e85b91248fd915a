/**
 * Bench helpers: child processes whose peak memory is watched from /proc, whose stdout
 * is read as JSON lines, and which are all killed if the bench stops early. Loopback
 * ports for the peers. Every address here is loopback.
 */
import { type ChildProcess, spawn } from "node:child_process";
import dgram from "node:dgram";
import fs from "node:fs";
import os from "node:os";

/** How often a child's peak RSS is read. */
const RSS_POLL_MS = 50;

/** How a watched child ended. */
export interface Exit {
	code: number | null;
	signal: NodeJS.Signals | null;
	/** From spawn to exit, in seconds. */
	seconds: number;
	/** When it exited (process.hrtime.bigint()). */
	endedAt: bigint;
	/** Killed by us after its time limit. */
	timedOut: boolean;
}

/**
 * How to start a watched child: under a prefix (`ip netns exec NS`, `taskset -c N`, which
 * exec the program in place, so the pid watched is the program's), and a program that is
 * not a Node script (`native`: `script` is then the executable, such as `socat`).
 */
export interface Launch {
	prefix?: string[];
	native?: boolean;
	/** Flags for Node itself, before the script (with `BENCH_NODE_FLAGS`). */
	node?: readonly string[];
}

/**
 * Extra Node flags for every watched Node child, from `BENCH_NODE_FLAGS` (space-separated),
 * e.g. `--cpu-prof --cpu-prof-dir=/tmp/prof` to profile every process of a benchmark.
 */
const nodeFlags = (process.env.BENCH_NODE_FLAGS ?? "").split(" ").filter((f) => f !== "");

/** Clock ticks per second of /proc/<pid>/stat's times (USER_HZ, 100 on Linux). */
const CLOCK_TICKS = 100;

/** Every child still running, so that `killAll` can end them on the way out. */
const running = new Set<Watched>();

/**
 * A child process (Node, running `script`) with its stdout split into lines, stderr kept
 * (the last 8 KiB) and its peak resident set size read from `/proc/<pid>/status`
 * (`VmHWM`) every 50 ms until it exits; the last reading is kept.
 */
export class Watched {
	readonly child: ChildProcess;
	/** Every complete stdout line so far. */
	readonly lines: string[] = [];
	/** Resolves once the child has exited. */
	readonly exited: Promise<Exit>;
	/** The tail of stderr. */
	stderr = "";
	/** Peak RSS in bytes (VmHWM) from the last successful reading; 0 before the first. */
	peakRss = 0;
	/** User + system CPU seconds of the process (all its threads), at the last reading. */
	cpuSeconds = 0;
	/** When it was spawned (process.hrtime.bigint()). */
	readonly startedAt = process.hrtime.bigint();
	private buffered = "";
	private readonly lineWaiters = new Set<() => void>();
	private timedOut = false;

	/**
	 * @param name - for messages and the results table
	 * @param script - the JavaScript file to run with this Node
	 * @param args - its arguments
	 * @param timeoutMs - SIGKILL after this long (none when absent)
	 * @param launch - a prefix command and whether `script` is a native program
	 */
	constructor(
		readonly name: string,
		script: string,
		args: string[],
		timeoutMs?: number,
		launch: Launch = {},
	) {
		const argv = [
			...(launch.prefix ?? []),
			...(launch.native
				? [script]
				: [process.execPath, ...(launch.node ?? []), ...nodeFlags, script]),
			...args,
		];
		this.child = spawn(argv[0], argv.slice(1), { stdio: ["ignore", "pipe", "pipe"] });
		running.add(this);
		this.child.stdout?.setEncoding("utf8");
		this.child.stdout?.on("data", (chunk: string) => {
			this.buffered += chunk;
			const parts = this.buffered.split("\n");
			this.buffered = parts.pop() ?? "";
			this.lines.push(...parts.filter((line) => line.trim() !== ""));
			for (const wake of this.lineWaiters) wake();
		});
		this.child.stderr?.setEncoding("utf8");
		this.child.stderr?.on("data", (chunk: string) => {
			this.stderr = (this.stderr + chunk).slice(-8192);
		});
		const poll = setInterval(() => this.readRss(), RSS_POLL_MS);
		this.readRss();
		const limit =
			timeoutMs === undefined
				? undefined
				: setTimeout(() => {
						this.timedOut = true;
						this.child.kill("SIGKILL");
					}, timeoutMs);
		let endedAt = this.startedAt;
		this.child.once("exit", () => {
			endedAt = process.hrtime.bigint();
			clearInterval(poll);
			clearTimeout(limit);
		});
		// "close" comes after "exit" once stdout and stderr are drained: all output is in.
		this.exited = new Promise((resolve) => {
			this.child.once("close", (code, signal) => {
				running.delete(this);
				for (const wake of this.lineWaiters) wake();
				const seconds = Number(endedAt - this.startedAt) / 1e9;
				resolve({ code, signal, seconds, endedAt, timedOut: this.timedOut });
			});
		});
	}

	/**
	 * Reads VmHWM (kB) and the CPU times from /proc now; a vanished or zombie process keeps
	 * the last values.
	 * @returns the CPU seconds so far
	 */
	readCpu(): number {
		this.readRss();
		return this.cpuSeconds;
	}

	/** Reads VmHWM (kB) from /proc; a vanished or zombie process keeps the last value. */
	private readRss(): void {
		const pid = this.child.pid;
		if (pid === undefined || this.child.exitCode !== null) return;
		try {
			// Fields after the command name: state is 3rd, utime 14th, stime 15th (proc(5)).
			const stat = fs.readFileSync(`/proc/${pid}/stat`, "utf8");
			const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
			const ticks = Number(fields[11]) + Number(fields[12]);
			if (Number.isFinite(ticks)) this.cpuSeconds = ticks / CLOCK_TICKS;
		} catch {
			// Gone: keep the last reading.
		}
		try {
			const status = fs.readFileSync(`/proc/${pid}/status`, "utf8");
			const match = /^VmHWM:\s+(\d+)\s+kB/m.exec(status);
			if (match) this.peakRss = Math.max(this.peakRss, Number(match[1]) * 1024);
		} catch {
			// Gone between the check and the read: keep the last reading.
		}
	}

	/** Stdout lines that parse as JSON objects. */
	json(): Record<string, unknown>[] {
		const out: Record<string, unknown>[] = [];
		for (const line of this.lines) {
			try {
				const value: unknown = JSON.parse(line);
				if (value && typeof value === "object" && !Array.isArray(value))
					out.push(value as Record<string, unknown>);
			} catch {
				// Not JSON: text output, ignored.
			}
		}
		return out;
	}

	/** The first JSON line whose `event` is `kind`, if it came. */
	event(kind: string): Record<string, unknown> | undefined {
		return this.json().find((e) => e.event === kind);
	}

	/**
	 * Waits until `test` holds for the output so far.
	 * @throws Error when the child exits first or after `timeoutMs`
	 */
	async waitFor<T>(test: () => T | undefined, what: string, timeoutMs = 60_000): Promise<T> {
		const deadline = Date.now() + timeoutMs;
		for (;;) {
			const value = test();
			if (value !== undefined) return value;
			if (this.child.exitCode !== null || this.child.signalCode !== null)
				throw new Error(`${this.name} exited before ${what}: ${this.stderr.trim() || "no error"}`);
			const left = deadline - Date.now();
			if (left <= 0) throw new Error(`${this.name}: timed out waiting for ${what}`);
			await new Promise<void>((resolve) => {
				const wake = () => {
					clearTimeout(timer);
					this.lineWaiters.delete(wake);
					resolve();
				};
				const timer = setTimeout(wake, Math.min(left, 500));
				this.lineWaiters.add(wake);
			});
		}
	}

	/**
	 * Sends `signal` (SIGTERM by default), then SIGKILL if it has not exited in `graceMs`.
	 * @returns how it ended
	 */
	async stop(signal: NodeJS.Signals = "SIGTERM", graceMs = 15_000): Promise<Exit> {
		if (this.child.exitCode === null && this.child.signalCode === null) {
			this.child.kill(signal);
			const timer = setTimeout(() => this.child.kill("SIGKILL"), graceMs);
			const exit = await this.exited;
			clearTimeout(timer);
			return exit;
		}
		return this.exited;
	}
}

/** Stops every child still running (on the way out, also after a failure). */
export async function stopAll(): Promise<void> {
	await Promise.all([...running].map((w) => w.stop("SIGTERM", 5_000)));
}

/** Stops every child still running without waiting (for a synchronous exit handler). */
export function killAllNow(): void {
	for (const w of running) w.child.kill("SIGKILL");
}

/** A UDP port on 127.0.0.1 that was free a moment ago. */
export async function freeUdpPort(): Promise<number> {
	const socket = dgram.createSocket("udp4");
	await new Promise<void>((resolve) => socket.bind(0, "127.0.0.1", resolve));
	const { port } = socket.address();
	await new Promise<void>((resolve) => socket.close(() => resolve()));
	return port;
}

/** Transfer bases handed out in this run, so that two peers never get the same block. */
const handedOut = new Set<number>();

/**
 * A transfer base port whose block of four (receive, send, distribute, distributee) was
 * free a moment ago, away from the default range and from the ephemeral ports.
 */
export async function freeBase(): Promise<number> {
	for (;;) {
		const base = 20_000 + 4 * Math.floor(Math.random() * 3_000);
		if (handedOut.has(base)) continue;
		const sockets: dgram.Socket[] = [];
		let ok = true;
		for (let i = 0; i < 4 && ok; i++) {
			const socket = dgram.createSocket("udp4");
			ok = await new Promise<boolean>((resolve) => {
				socket.once("error", () => resolve(false));
				socket.bind(base + i, "127.0.0.1", () => resolve(true));
			});
			sockets.push(socket);
		}
		await Promise.all(sockets.map((s) => new Promise<void>((resolve) => s.close(() => resolve()))));
		if (ok) {
			handedOut.add(base);
			return base;
		}
	}
}

/** The machine a benchmark ran on, for its JSON report. */
export function machineInfo(loadAverageAtStart: number) {
	return {
		cpus: os.cpus().length,
		cpuModel: os.cpus()[0]?.model,
		memoryBytes: os.totalmem(),
		platform: `${os.platform()} ${os.release()} ${os.arch()}`,
		node: process.version,
		loadAverageAtStart,
	};
}
