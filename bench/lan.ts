/**
 * LAN benchmark (issue 14): the engine over 1500-MTU Ethernet links, against a raw TCP copy
 * over the same links. Needs root: it makes its own network namespaces (names unique to the
 * run), one holding a bridge and four "hosts" joined to it by veth links (MTU 1500), on the
 * subnet 10.214.14.0/24, and removes them on the way out, also after a failure. Every peer
 * runs inside a host namespace with `--broadcast 10.214.14.255` (the bridge subnet's directed
 * broadcast): no datagram reaches a real interface.
 *
 * Scenarios (a random file, 512 MiB by default):
 *   tcp     socat copy host1 → host2 (the baseline)
 *   1       one seeder (host1) to one leecher (host2)
 *   3to1    three seeders (hosts 1, 3, 4) to one leecher (host2)
 *   1to3    one seeder (host1) to three leechers (hosts 2, 3, 4) started together
 *   tcp-gb  the TCP copy over an emulated gigabit LAN (`tc qdisc add dev eth0 root tbf rate
 *           1gbit burst 128kb latency 2ms` on each host), sender on CPU 0, receiver on CPU 1
 *   1-gb    one seeder to one leecher on that LAN, pinned the same way (`taskset -c N`)
 *
 * For each: MiB/s (file bytes from the start of the receiving process to its exit), the
 * ratio to the TCP copy of the same run, CPU seconds per GiB of every process (utime + stime
 * from /proc/<pid>/stat, all threads; a seeder's over the transfer only, a leecher's whole
 * life, start-up included), peak RSS (VmHWM) and the seeders' upload. `tcp` and `1` (and
 * `tcp-gb` and `1-gb`) run `--rounds` times each, alternating, and the median run is shown.
 *
 * Usage: npm run bench:lan -- [--mib N] [--rounds N] [--only tcp,1,3to1,1to3,tcp-gb,1-gb]
 *   [--timeout SECONDS]. JSON goes to bench/results/lan.json (lan-<N>MiB.json for another
 *   size). Exits 1 when a transfer failed or differs; missed targets are reported only.
 */
import { execFileSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { killAllNow, machineInfo, stopAll, Watched } from "./process.js";

const here = path.dirname(fileURLToPath(import.meta.url));
const CLI = path.resolve(here, "..", "cli.js");
const RESULTS_DIR = path.resolve(here, "..", "..", "bench", "results");
const SUBNET = "10.214.14";
const BROADCAST = `${SUBNET}.255`;
const MIB = 1024 * 1024;
const GIB = 1024 * MIB;
const SHAPE = ["root", "tbf", "rate", "1gbit", "burst", "128kb", "latency", "2ms"];

const { values: flags } = parseArgs({
	options: {
		mib: { type: "string", default: process.env.BENCH_MIB ?? "512" },
		rounds: { type: "string", default: "3" },
		only: { type: "string" },
		timeout: { type: "string", default: "600" },
	},
	strict: false,
});
const mib = Number(flags.mib);
const rounds = Number(flags.rounds);
const timeoutMs = Number(flags.timeout) * 1000;
const only = typeof flags.only === "string" ? flags.only.split(",") : undefined;
if (!Number.isInteger(mib) || mib < 1 || !Number.isInteger(rounds) || rounds < 1) {
	console.error("bench:lan: --mib and --rounds take positive integers");
	process.exit(2);
}

/** Names unique to this run. */
const tag = `p2pl${process.pid}${randomBytes(2).toString("hex")}`;
const BRIDGE_NS = `${tag}-br`;
const HOSTS = [1, 2, 3, 4].map((i) => `${tag}-h${i}`);
const root = fs.mkdtempSync(path.join(os.tmpdir(), "p2p-tui-lan-"));
let made: string[] = [];

function sh(args: string[]): string {
	return execFileSync(args[0], args.slice(1), {
		encoding: "utf8",
		stdio: ["ignore", "pipe", "pipe"],
	});
}

/** The bridge namespace and four hosts on it. */
function makeLan(): void {
	sh(["ip", "netns", "add", BRIDGE_NS]);
	made.push(BRIDGE_NS);
	sh(["ip", "-n", BRIDGE_NS, "link", "set", "lo", "up"]);
	sh(["ip", "-n", BRIDGE_NS, "link", "add", "br0", "type", "bridge"]);
	sh(["ip", "-n", BRIDGE_NS, "link", "set", "br0", "up"]);
	HOSTS.forEach((ns, i) => {
		sh(["ip", "netns", "add", ns]);
		made.push(ns);
		sh(["ip", "-n", ns, "link", "set", "lo", "up"]);
		const port = `v${i + 1}`;
		sh([
			"ip",
			"-n",
			BRIDGE_NS,
			"link",
			"add",
			port,
			"mtu",
			"1500",
			"type",
			"veth",
			"peer",
			"name",
			"eth0",
			"netns",
			ns,
			"mtu",
			"1500",
		]);
		sh(["ip", "-n", BRIDGE_NS, "link", "set", port, "master", "br0", "up"]);
		sh([
			"ip",
			"-n",
			ns,
			"addr",
			"add",
			`${SUBNET}.${i + 1}/24`,
			"broadcast",
			BROADCAST,
			"dev",
			"eth0",
		]);
		sh(["ip", "-n", ns, "link", "set", "eth0", "up"]);
	});
}

/** Removes every namespace this run made (their links go with them). */
function removeLan(): void {
	for (const ns of made.reverse()) {
		try {
			sh(["ip", "netns", "del", ns]);
		} catch {
			// Already gone.
		}
	}
	made = [];
}

function shape(on: boolean): void {
	for (const ns of HOSTS) {
		if (on) sh(["ip", "netns", "exec", ns, "tc", "qdisc", "add", "dev", "eth0", ...SHAPE]);
		else {
			try {
				sh(["ip", "netns", "exec", ns, "tc", "qdisc", "del", "dev", "eth0", "root"]);
			} catch {
				// No qdisc there.
			}
		}
	}
}

/** Prefix running a command in host `h` (1-based), pinned to `cpu` when given. */
function on(h: number, cpu?: number): string[] {
	return [
		"ip",
		"netns",
		"exec",
		HOSTS[h - 1],
		...(cpu === undefined ? [] : ["taskset", "-c", String(cpu)]),
	];
}

interface Source {
	path: string;
	name: string;
	bytes: number;
	digest: string;
}

function digest(file: string): string {
	return sh(["b3sum", "--no-names", file]).trim();
}

function makeSource(): Source {
	const share = path.join(root, "share");
	fs.mkdirSync(share);
	const name = `random-${mib}MiB.bin`;
	const file = path.join(share, name);
	const fd = fs.openSync(file, "w");
	for (let i = 0; i < mib; i++) fs.writeSync(fd, randomBytes(MIB));
	fs.closeSync(fd);
	return { path: file, name, bytes: mib * MIB, digest: digest(file) };
}

/** One process of a run. */
interface ProcessResult {
	name: string;
	role: "seeder" | "leecher" | "tcp-sender" | "tcp-receiver";
	cpuSeconds: number;
	cpuPerGiB: number;
	peakRss: number;
	uploaded?: number;
}

interface RunResult {
	scenario: string;
	ok: boolean;
	note?: string;
	seconds?: number;
	/** File bytes received (times the receivers) per second, in MiB/s. */
	mibPerSecond?: number;
	ratioToTcp?: number;
	seederUploadMultiple?: number;
	processes: ProcessResult[];
}

function same(source: Source, file: string | undefined): boolean {
	if (!file || !fs.existsSync(file)) return false;
	const ok = fs.statSync(file).size === source.bytes && digest(file) === source.digest;
	fs.rmSync(file, { force: true });
	return ok;
}

function num(value: unknown): number | undefined {
	return typeof value === "number" && Number.isFinite(value) ? value : undefined;
}

/** The TCP copy from host 1 to host 2 (socat), pinned when `pinned`. */
async function tcp(source: Source, scenario: string, pinned: boolean): Promise<RunResult> {
	const out = path.join(root, "tcp-copy.bin");
	const receiver = new Watched(
		"tcp-receiver",
		"socat",
		["-u", "TCP-LISTEN:5001,reuseaddr", `CREATE:${out}`],
		timeoutMs,
		{ prefix: on(2, pinned ? 1 : undefined), native: true },
	);
	const started = process.hrtime.bigint();
	const sender = new Watched(
		"tcp-sender",
		"socat",
		["-u", `GOPEN:${source.path}`, `TCP:${SUBNET}.2:5001,retry=200,interval=0.02`],
		timeoutMs,
		{ prefix: on(1, pinned ? 0 : undefined), native: true },
	);
	const [sent, received] = await Promise.all([sender.exited, receiver.exited]);
	const seconds = Number(received.endedAt - started) / 1e9;
	const ok = sent.code === 0 && received.code === 0 && same(source, out);
	const gib = source.bytes / GIB;
	return {
		scenario,
		ok,
		note: ok ? undefined : `socat: ${sender.stderr.trim()} ${receiver.stderr.trim()}`.trim(),
		seconds,
		mibPerSecond: ok ? source.bytes / MIB / seconds : undefined,
		processes: [sender, receiver].map((w) => ({
			name: w.name,
			role: w.name as ProcessResult["role"],
			cpuSeconds: w.cpuSeconds,
			cpuPerGiB: w.cpuSeconds / gib,
			peakRss: w.peakRss,
		})),
	};
}

/** Peer flags inside a host namespace. */
function peerArgs(name: string, share?: string): string[] {
	const own = path.join(root, "peers", name);
	fs.mkdirSync(path.join(own, "share"), { recursive: true });
	return [
		"--broadcast",
		BROADCAST,
		"--interval",
		"500",
		"--name",
		name,
		"--config-dir",
		path.join(own, "cfg"),
		"--downloads",
		path.join(own, "dl"),
		"--share",
		share ?? path.join(own, "share"),
	];
}

/** Seeders on `seedHosts`, leechers on `leechHosts`; CPUs pinned when `pinned`. */
async function swarm(
	source: Source,
	scenario: string,
	seedHosts: number[],
	leechHosts: number[],
	pinned: boolean,
): Promise<RunResult> {
	fs.rmSync(path.join(root, "peers"), { recursive: true, force: true });
	const seeders = seedHosts.map(
		(h, i) =>
			new Watched(
				`seed${h}`,
				CLI,
				["serve", "--json", ...peerArgs(`seed${h}`, path.dirname(source.path))],
				undefined,
				{ prefix: on(h, pinned ? i % 2 : undefined) },
			),
	);
	const indexed = (s: Watched) =>
		s.json().find((e) => e.event === "index-progress" && e.done === true);
	for (const s of seeders) await s.waitFor(() => indexed(s), "indexed", 300_000);
	const before = seeders.map((s) => s.readCpu());
	const started = process.hrtime.bigint();
	const leechers = leechHosts.map(
		(h, i) =>
			new Watched(
				`get${h}`,
				CLI,
				["get", source.name, "--json", "--wait", "30000", ...peerArgs(`get${h}`)],
				timeoutMs,
				{ prefix: on(h, pinned ? (i + 1) % 2 : undefined) },
			),
	);
	const exits = await Promise.all(leechers.map((l) => l.exited));
	const seconds = Math.max(...exits.map((e) => Number(e.endedAt - started) / 1e9));
	const seederCpu = seeders.map((s, i) => s.readCpu() - before[i]);
	await Promise.all(seeders.map((s) => s.stop()));
	const gib = source.bytes / GIB;
	const notes: string[] = [];
	const processes: ProcessResult[] = seeders.map((s, i) => {
		const uploaded = num(s.event("stopped")?.uploaded);
		return {
			name: s.name,
			role: "seeder",
			cpuSeconds: seederCpu[i],
			// Per GiB it sent (a third each of 3to1).
			cpuPerGiB: seederCpu[i] / ((uploaded ?? source.bytes) / GIB || gib),
			peakRss: s.peakRss,
			uploaded,
		};
	});
	let ok = true;
	leechers.forEach((l, i) => {
		const out = l.json().at(-1) ?? {};
		const good =
			exits[i].code === 0 && same(source, typeof out.path === "string" ? out.path : undefined);
		if (!good) {
			ok = false;
			notes.push(
				`${l.name}: exit ${exits[i].code ?? exits[i].signal} ${l.stderr.trim().split("\n").pop() ?? ""}`,
			);
		}
		processes.push({
			name: l.name,
			role: "leecher",
			cpuSeconds: l.cpuSeconds,
			cpuPerGiB: l.cpuSeconds / gib,
			peakRss: Math.max(l.peakRss, num(out.maxRss) ?? 0),
			uploaded: num(out.uploaded),
		});
	});
	const uploads = processes.filter((p) => p.role === "seeder").map((p) => p.uploaded ?? Number.NaN);
	return {
		scenario,
		ok,
		note: notes.length > 0 ? notes.join("; ") : undefined,
		seconds,
		mibPerSecond: ok ? (source.bytes * leechHosts.length) / MIB / seconds : undefined,
		seederUploadMultiple: uploads.reduce((a, b) => a + b, 0) / source.bytes,
		processes,
	};
}

/** The median run by MiB/s (a failed run counts as the slowest). */
function median(runs: RunResult[]): RunResult & { rounds: (number | null)[] } {
	const sorted = [...runs].sort((a, b) => (a.mibPerSecond ?? -1) - (b.mibPerSecond ?? -1));
	return {
		...sorted[Math.floor((sorted.length - 1) / 2)],
		rounds: runs.map((r) => (r.ok ? Number((r.mibPerSecond ?? 0).toFixed(1)) : null)),
	};
}

const col = (text: string, width: number, right = false) =>
	right ? text.padStart(width) : text.padEnd(width);

function table(results: (RunResult & { rounds?: (number | null)[] })[]): string {
	const lines = [
		`${col("scenario", 8)} ${col("MiB/s", 7, true)} ${col("xTCP", 5, true)} ${col("upload", 6, true)}  CPU s/GiB and peak RSS MB per process`,
	];
	for (const r of results) {
		const procs = r.processes
			.map((p) => `${p.name} ${p.cpuPerGiB.toFixed(1)}s ${(p.peakRss / 1e6).toFixed(0)}MB`)
			.join(", ");
		lines.push(
			`${col(r.scenario, 8)} ${col(r.ok ? (r.mibPerSecond ?? 0).toFixed(1) : "FAIL", 7, true)} ${col(r.ratioToTcp === undefined ? "-" : r.ratioToTcp.toFixed(2), 5, true)} ${col(r.seederUploadMultiple === undefined ? "-" : `${r.seederUploadMultiple.toFixed(2)}x`, 6, true)}  ${procs}`,
		);
		if (r.rounds && r.rounds.length > 1)
			lines.push(`${" ".repeat(9)}rounds MiB/s: ${r.rounds.map((x) => x ?? "fail").join(", ")}`);
		if (r.note) lines.push(`${" ".repeat(9)}${r.note}`);
	}
	return lines.join("\n");
}

async function main(): Promise<number> {
	if (process.getuid?.() !== 0) {
		console.error("bench:lan needs root (it makes network namespaces)");
		return 2;
	}
	const load = os.loadavg()[0];
	const want = (id: string) => !only || only.includes(id);
	makeLan();
	console.log(
		`bench:lan: ${mib} MiB, ${rounds} rounds, namespaces ${tag}-*, load ${load.toFixed(2)}`,
	);
	const source = makeSource();
	const runs = new Map<string, RunResult[]>();
	const record = (r: RunResult) => {
		runs.set(r.scenario, [...(runs.get(r.scenario) ?? []), r]);
		console.log(
			`  ${r.scenario}: ${r.ok ? `${(r.mibPerSecond ?? 0).toFixed(1)} MiB/s` : `failed ${r.note ?? ""}`}`,
		);
	};
	for (let round = 0; round < rounds; round++) {
		if (want("tcp")) record(await tcp(source, "tcp", false));
		if (want("1")) record(await swarm(source, "1", [1], [2], false));
	}
	if (want("3to1")) record(await swarm(source, "3to1", [1, 3, 4], [2], false));
	if (want("1to3")) record(await swarm(source, "1to3", [1], [2, 3, 4], false));
	if (want("tcp-gb") || want("1-gb")) {
		shape(true);
		try {
			for (let round = 0; round < rounds; round++) {
				if (want("tcp-gb")) record(await tcp(source, "tcp-gb", true));
				if (want("1-gb")) record(await swarm(source, "1-gb", [1], [2], true));
			}
		} finally {
			shape(false);
		}
	}
	const results = [...runs.values()].map(median);
	const tcpOf = (id: string) => results.find((r) => r.scenario === id)?.mibPerSecond;
	for (const r of results) {
		const base = tcpOf(r.scenario.endsWith("-gb") ? "tcp-gb" : "tcp");
		if (r.mibPerSecond !== undefined && base) r.ratioToTcp = r.mibPerSecond / base;
	}
	const one = results.find((r) => r.scenario === "1")?.mibPerSecond;
	const three = results.find((r) => r.scenario === "3to1")?.mibPerSecond;
	console.log("");
	console.log(table(results));
	if (one && three) console.log(`3to1 / 1: ${(three / one).toFixed(2)}x (target at least 1.0)`);
	console.log(
		`load average (1 min) at start ${load.toFixed(2)}, at end ${os.loadavg()[0].toFixed(2)}`,
	);
	fs.mkdirSync(RESULTS_DIR, { recursive: true });
	const file = path.join(RESULTS_DIR, mib === 512 && !only ? "lan.json" : `lan-${mib}MiB.json`);
	fs.writeFileSync(
		file,
		`${JSON.stringify(
			{
				date: new Date().toISOString(),
				machine: machineInfo(load),
				loadAverageAtEnd: os.loadavg()[0],
				fileBytes: source.bytes,
				rounds,
				link: "veth pairs, MTU 1500, one Linux bridge; gigabit: tbf 1gbit burst 128kb latency 2ms on each host",
				threeToOneOverOne: one && three ? three / one : undefined,
				results,
				runs: Object.fromEntries(runs),
			},
			null,
			"\t",
		)}\n`,
	);
	console.log(`results: ${path.relative(process.cwd(), file)}`);
	return results.every((r) => r.ok) ? 0 : 1;
}

function cleanUp(): void {
	killAllNow();
	removeLan();
	fs.rmSync(root, { recursive: true, force: true });
}

process.on("exit", cleanUp);
for (const signal of ["SIGINT", "SIGTERM"] as const)
	process.on(signal, () => {
		cleanUp();
		process.exit(130);
	});

main()
	.then(async (code) => {
		await stopAll();
		process.exitCode = code;
	})
	.catch(async (error: Error) => {
		console.error(`bench:lan: ${error.message}`);
		await stopAll();
		process.exitCode = 1;
	});
