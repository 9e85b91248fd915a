/**
 * Transfer benchmark on loopback. Makes a random file (1 GiB by default) in a temporary
 * folder and runs, as separate processes of the built CLI:
 *
 *   1. one seeder to one leecher
 *   2. three seeders (three `serve` sharing the same file) to one leecher
 *   3. one seeder to three leechers started together (they pass pieces among themselves)
 *   4. one seeder to one leecher through the fault relay (2% loss, 2% reordering)
 *   5. a raw TCP copy between two Node processes (bench/tcp-copy.ts): the baseline
 *
 * A scenario is timed from the start of its `get` process(es) to their exit, so start-up,
 * discovery, the manifest and the final check are included; the download alone, as `get`
 * measures it, is shown beside. Every download is compared with the source (b3sum), the
 * peak RSS of every process is read from /proc, and the seeders' upload comes from their
 * final `stopped` event. Prints a table and the targets, writes JSON to bench/results/.
 *
 * Usage: npm run bench:transfer -- [--mib N] [--only 1,3,5] [--timeout SECONDS] [--rounds N]
 *   [--network-key SECRET] (every p2p-tui process on a private network: sealed datagrams)
 *   (or BENCH_MIB=N). Results go to bench/results/transfer.json for the full 1 GiB run,
 *   transfer-<N>MiB[-only-<ids>].json otherwise. Exit code 1 when a download failed or
 *   differs; missed targets are reported, not fatal. Every address is loopback:
 *   127.0.0.1 and 127.255.255.255. `--rounds N` (default 3) runs the baseline (5) and (1)
 *   N times each, alternating, and reports each one's median run.
 */
import { execFileSync } from "node:child_process";
import { createHash, randomBytes } from "node:crypto";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import {
	type Exit,
	freeBase,
	freeUdpPort,
	killAllNow,
	machineInfo,
	stopAll,
	Watched,
} from "./process.js";

const here = path.dirname(fileURLToPath(import.meta.url));
/** Built scripts, from dist/bench/. */
const CLI = path.resolve(here, "..", "cli.js");
const TCP_COPY = path.join(here, "tcp-copy.js");
const RELAY_PROCESS = path.join(here, "relay-process.js");
const RELAY_MODULE = path.resolve(here, "..", "test", "helpers", "fault-relay.js");
const RESULTS_DIR = path.resolve(here, "..", "..", "bench", "results");

const BROADCAST = "127.255.255.255";
const INTERVAL_MS = 500;
const MB = 1e6;
/** Targets, printed beside the results. */
const TARGET = {
	/** (1) MB/s at least this fraction of the TCP baseline. */
	vsTcp: 0.6,
	/** (4) MB/s at least this fraction of (1). */
	lossyVsClean: 0.6,
	/** (3) seeder upload below this multiple of the file size. */
	seederUpload: 1.5,
	/** Peak RSS of every p2p-tui process below this. */
	rssBytes: 150 * MB,
};

/** The random file every scenario moves. */
interface Source {
	path: string;
	name: string;
	bytes: number;
	digest: string;
}

/** One process of a scenario and its peak resident set size. */
interface ProcessResult {
	name: string;
	role: "seeder" | "leecher" | "relay" | "tcp";
	peakRss: number;
}

/** One leecher (or the TCP client) of a scenario. */
interface LeecherResult {
	name: string;
	ok: boolean;
	error?: string;
	/** From its start to its exit. */
	seconds: number;
	/** The download alone, as the process measured it. */
	transferSeconds?: number;
	/** File bytes / `seconds`, when it succeeded. */
	mbPerSecond?: number;
	identical: boolean;
	/** What it uploaded to other leechers meanwhile. */
	uploaded?: number;
}

/** What a scenario measured. */
interface ScenarioResult {
	id: number;
	title: string;
	status: "ok" | "failed" | "skipped";
	note?: string;
	/** From the start of the leecher(s) to the exit of the last one. */
	seconds?: number;
	/** File bytes moved (times the leechers) / `seconds`: per leecher for one, else aggregate. */
	mbPerSecond?: number;
	/** `mbPerSecond` over the TCP baseline's. */
	ratioToTcp?: number;
	leechers: LeecherResult[];
	/** Upload of each seeder, from its `stopped` event. */
	seederUploads?: number[];
	/** Their sum over the file size. */
	seederUploadMultiple?: number;
	processes: ProcessResult[];
	relayStats?: unknown;
	/** Every run's MB/s and wall seconds, when the scenario ran in rounds (see `--rounds`). */
	rounds?: { mbPerSecond?: number; seconds?: number; status: string }[];
}

/** A scenario of the table. */
interface Scenario {
	id: number;
	title: string;
	run: (source: Source, dir: string) => Promise<ScenarioResult>;
}

/** How a swarm scenario is made. */
interface SwarmShape {
	seeders: number;
	leechers: number;
	relay?: { loss: number; reorder: number; seed: number };
}

const { values: flags } = parseArgs({
	options: {
		mib: { type: "string", default: process.env.BENCH_MIB ?? "1024" },
		only: { type: "string" },
		timeout: { type: "string" },
		rounds: { type: "string", default: "3" },
		"network-key": { type: "string" },
		// The indexing bench's flags (`npm run bench` passes the same flags to both).
		files: { type: "string" },
		seed: { type: "string" },
		workers: { type: "string" },
		// The key-latency bench's flags.
		listed: { type: "string" },
		presses: { type: "string" },
		gap: { type: "string" },
		sizes: { type: "string" },
		tmux: { type: "boolean" },
	},
});
const mib = Number(flags.mib);
if (!Number.isInteger(mib) || mib < 1)
	throw new Error(`--mib wants a whole number, got ${flags.mib}`);
const only = flags.only?.split(",").map(Number);
/**
 * Runs of the baseline (5) and of (1), alternating: the page cache of this kind of machine
 * takes a fresh GiB at anywhere from 0.4 to 3 GB/s from one run to the next, and both copies
 * write a GiB, so one run of each can land on opposite sides of that. The table keeps each
 * one's median run; the JSON has every run.
 */
const rounds = Number(flags.rounds);
if (!Number.isInteger(rounds) || rounds < 1)
	throw new Error(`--rounds wants a whole number of at least 1, got ${flags.rounds}`);
/** Scenarios run `rounds` times, alternating, before the others. */
const PAIRED = [5, 1];
/** Time limit of one transfer: a minute plus 2 MB/s, unless given. */
const timeoutMs = flags.timeout
	? Number(flags.timeout) * 1000
	: 60_000 + ((mib * 1024 * 1024) / (2 * MB)) * 1000;
const root = fs.mkdtempSync(path.join(os.tmpdir(), "p2p-tui-bench-"));

/** The scenarios, run in this order (the baseline first, for the ratios). */
const SCENARIOS: Scenario[] = [
	{ id: 5, title: "raw TCP copy (baseline)", run: tcpCopy },
	{
		id: 1,
		title: "1 seeder -> 1 leecher",
		run: (s, d) => swarm(s, d, { seeders: 1, leechers: 1 }),
	},
	{
		id: 2,
		title: "3 seeders -> 1 leecher",
		run: (s, d) => swarm(s, d, { seeders: 3, leechers: 1 }),
	},
	{
		id: 3,
		title: "1 seeder -> 3 leechers",
		run: (s, d) => swarm(s, d, { seeders: 1, leechers: 3 }),
	},
	{
		id: 4,
		title: "1 -> 1 via relay, 2% loss + reorder",
		run: (s, d) =>
			swarm(s, d, { seeders: 1, leechers: 1, relay: { loss: 0.02, reorder: 0.02, seed: 42 } }),
	},
];

/** BLAKE3 of a file with `b3sum`, or SHA-256 where b3sum is missing (same for both sides). */
function digest(file: string): string {
	try {
		return execFileSync("b3sum", ["--no-names", file], { encoding: "utf8" }).trim();
	} catch (error) {
		if ((error as NodeJS.ErrnoException).code !== "ENOENT") throw error;
		const hash = createHash("sha256");
		const fd = fs.openSync(file, "r");
		const chunk = Buffer.alloc(1 << 20);
		for (let n = fs.readSync(fd, chunk); n > 0; n = fs.readSync(fd, chunk))
			hash.update(chunk.subarray(0, n));
		fs.closeSync(fd);
		return `sha256:${hash.digest("hex")}`;
	}
}

/** Writes `mib` MiB of random bytes to `root/share/`. */
function makeSource(): Source {
	const share = path.join(root, "share");
	fs.mkdirSync(share);
	const name = `random-${mib}MiB.bin`;
	const file = path.join(share, name);
	const fd = fs.openSync(file, "w");
	for (let i = 0; i < mib; i++) fs.writeSync(fd, randomBytes(1024 * 1024));
	fs.closeSync(fd);
	return { path: file, name, bytes: mib * 1024 * 1024, digest: digest(file) };
}

/** Flags of one p2p-tui process: loopback discovery, its own folders and transfer ports. */
async function peerFlags(dir: string, name: string, discoveryPort: number, share?: string) {
	const own = path.join(dir, name);
	fs.mkdirSync(path.join(own, "share"), { recursive: true });
	return [
		"--broadcast",
		BROADCAST,
		"--discovery-port",
		String(discoveryPort),
		"--interval",
		String(INTERVAL_MS),
		"--name",
		name,
		"--config-dir",
		path.join(own, "cfg"),
		"--downloads",
		path.join(own, "dl"),
		"--share",
		share ?? path.join(own, "share"),
		"--port",
		String(await freeBase()),
		...(flags["network-key"] ? ["--network-key", flags["network-key"]] : []),
	];
}

/** A number field of a JSON line, if it is one. */
function num(value: unknown): number | undefined {
	return typeof value === "number" && Number.isFinite(value) ? value : undefined;
}

/** Why a process failed, in one line. */
function failure(w: Watched, exit: Exit): string {
	const last = w.stderr.trim().split("\n").pop();
	const why = exit.timedOut
		? `timed out after ${(timeoutMs / 1000).toFixed(0)} s`
		: `exit ${exit.code ?? exit.signal}`;
	return last ? `${why}: ${last}` : why;
}

/** Checks a finished download against the source, then deletes it (disk space). */
function check(source: Source, file: string | undefined): boolean {
	if (!file || !fs.existsSync(file)) return false;
	const same = fs.statSync(file).size === source.bytes && digest(file) === source.digest;
	fs.rmSync(file, { force: true });
	return same;
}

/** Scenarios 1-4: seeders, maybe the relay, then leechers started together. */
async function swarm(source: Source, dir: string, shape: SwarmShape): Promise<ScenarioResult> {
	const upstream = await freeUdpPort();
	const downstream = shape.relay ? await freeUdpPort() : upstream;
	const result: ScenarioResult = { id: 0, title: "", status: "ok", leechers: [], processes: [] };
	if (shape.relay && !fs.existsSync(RELAY_MODULE)) {
		return { ...result, status: "skipped", note: "skipped: relay missing" };
	}

	const seeders: Watched[] = [];
	for (let i = 1; i <= shape.seeders; i++) {
		const name = shape.seeders > 1 ? `seed${i}` : "seed";
		const args = await peerFlags(dir, name, upstream, path.dirname(source.path));
		seeders.push(new Watched(name, CLI, ["serve", "--json", ...args]));
	}
	// Indexing hashes the whole file (in the background since serve is ready at once): the
	// scenario starts once every seeder has indexed it.
	const indexed = (s: Watched) =>
		s.json().find((e) => e.event === "index-progress" && e.done === true);
	for (const s of seeders) await s.waitFor(() => indexed(s), "indexed", 300_000);

	let relay: Watched | undefined;
	if (shape.relay) {
		const { loss, reorder, seed } = shape.relay;
		relay = new Watched("relay", RELAY_PROCESS, [
			...["--upstream", String(upstream), "--downstream", String(downstream)],
			...["--loss", String(loss), "--reorder", String(reorder), "--seed", String(seed)],
			// The relay signs the announces it rewrites with the seeders' own keys.
			...["--keys", seeders.map((s) => path.join(dir, s.name, "cfg")).join(",")],
		]);
		await relay.waitFor(() => relay?.event("ready"), "relay ready");
	}

	const leecherArgs: string[][] = [];
	for (let i = 1; i <= shape.leechers; i++) {
		const name = shape.leechers > 1 ? `get${i}` : "get";
		leecherArgs.push(await peerFlags(dir, name, downstream));
	}
	const started = process.hrtime.bigint();
	const leechers = leecherArgs.map(
		(args, i) =>
			new Watched(
				shape.leechers > 1 ? `get${i + 1}` : "get",
				CLI,
				["get", source.name, "--json", "--wait", "30000", ...args],
				timeoutMs,
			),
	);
	const exits = await Promise.all(leechers.map((l) => l.exited));
	result.seconds = Math.max(...exits.map((e) => Number(e.endedAt - started) / 1e9));

	if (relay) {
		await relay.stop();
		result.relayStats = relay.event("stopped")?.stats;
	}
	await Promise.all(seeders.map((s) => s.stop()));
	result.seederUploads = seeders.map((s) => num(s.event("stopped")?.uploaded) ?? Number.NaN);
	result.seederUploadMultiple = result.seederUploads.reduce((a, b) => a + b, 0) / source.bytes;

	leechers.forEach((l, i) => {
		const exit = exits[i];
		const out = l.json().at(-1) ?? {};
		const ok = exit.code === 0;
		const identical = ok && check(source, typeof out.path === "string" ? out.path : undefined);
		l.peakRss = Math.max(l.peakRss, num(out.maxRss) ?? 0);
		result.leechers.push({
			name: l.name,
			ok: ok && identical,
			error: ok ? (identical ? undefined : "differs from the source") : failure(l, exit),
			seconds: exit.seconds,
			transferSeconds: num(out.seconds),
			mbPerSecond: ok && identical ? source.bytes / MB / exit.seconds : undefined,
			identical,
			uploaded: num(out.uploaded),
		});
	});
	result.processes = [
		...seeders.map((s) => ({ name: s.name, role: "seeder" as const, peakRss: s.peakRss })),
		...leechers.map((l) => ({ name: l.name, role: "leecher" as const, peakRss: l.peakRss })),
		...(relay ? [{ name: relay.name, role: "relay" as const, peakRss: relay.peakRss }] : []),
	];
	const notes = [
		...result.leechers.filter((l) => !l.ok).map((l) => `${l.name}: ${l.error}`),
		...seeders
			.filter((_, i) => Number.isNaN(result.seederUploads?.[i]))
			.map((s) => `${s.name}: no upload count in its stopped event`),
	];
	if (!result.leechers.every((l) => l.ok)) result.status = "failed";
	if (notes.length > 0) result.note = notes.join("; ");
	if (result.status === "ok")
		result.mbPerSecond = (source.bytes * shape.leechers) / MB / result.seconds;
	return result;
}

/** Scenario 5: the file over one TCP connection between two Node processes. */
async function tcpCopy(source: Source, dir: string): Promise<ScenarioResult> {
	fs.mkdirSync(dir, { recursive: true });
	const out = path.join(dir, "copy.bin");
	const server = new Watched("tcp-server", TCP_COPY, ["server", source.path]);
	const ready = await server.waitFor(() => server.event("ready"), "tcp server ready");
	const client = new Watched(
		"tcp-client",
		TCP_COPY,
		["client", String(ready.port), out],
		timeoutMs,
	);
	const exit = await client.exited;
	await server.stop();
	const report = client.json().at(-1) ?? {};
	const ok = exit.code === 0;
	const identical = ok && check(source, out);
	client.peakRss = Math.max(client.peakRss, num(report.maxRss) ?? 0);
	const leecher: LeecherResult = {
		name: client.name,
		ok: ok && identical,
		error: ok ? (identical ? undefined : "differs from the source") : failure(client, exit),
		seconds: exit.seconds,
		transferSeconds: num(report.seconds),
		mbPerSecond: ok && identical ? source.bytes / MB / exit.seconds : undefined,
		identical,
	};
	return {
		id: 0,
		title: "",
		status: leecher.ok ? "ok" : "failed",
		note: leecher.error,
		seconds: exit.seconds,
		mbPerSecond: leecher.mbPerSecond,
		leechers: [leecher],
		processes: [
			{ name: server.name, role: "tcp", peakRss: server.peakRss },
			{ name: client.name, role: "tcp", peakRss: client.peakRss },
		],
	};
}

/** A target, checked against the results. */
interface TargetResult {
	target: string;
	value: string;
	pass: boolean | null;
}

/** The targets, `pass: null` when the scenarios they need did not run or failed. */
function targets(results: Map<number, ScenarioResult>, fileBytes: number): TargetResult[] {
	const ok = (id: number) => {
		const r = results.get(id);
		return r?.status === "ok" ? r : undefined;
	};
	const out: TargetResult[] = [];
	const one = ok(1);
	const tcp = ok(5);
	out.push(
		one && tcp && one.mbPerSecond && tcp.mbPerSecond
			? {
					target: `(1) >= ${TARGET.vsTcp} x TCP baseline`,
					value: `${(one.mbPerSecond / tcp.mbPerSecond).toFixed(2)} x`,
					pass: one.mbPerSecond >= TARGET.vsTcp * tcp.mbPerSecond,
				}
			: { target: `(1) >= ${TARGET.vsTcp} x TCP baseline`, value: "n/a", pass: null },
	);
	const lossy = ok(4);
	out.push(
		lossy && one && lossy.mbPerSecond && one.mbPerSecond
			? {
					target: `(4) >= ${TARGET.lossyVsClean} x (1)`,
					value: `${(lossy.mbPerSecond / one.mbPerSecond).toFixed(2)} x`,
					pass: lossy.mbPerSecond >= TARGET.lossyVsClean * one.mbPerSecond,
				}
			: {
					target: `(4) >= ${TARGET.lossyVsClean} x (1)`,
					value: results.get(4)?.note ?? "n/a",
					pass: null,
				},
	);
	const three = ok(3);
	const up = three?.seederUploads?.[0];
	out.push(
		up !== undefined && Number.isFinite(up)
			? {
					target: `(3) seeder upload < ${TARGET.seederUpload} x file`,
					value: `${(up / fileBytes).toFixed(2)} x`,
					pass: up < TARGET.seederUpload * fileBytes,
				}
			: { target: `(3) seeder upload < ${TARGET.seederUpload} x file`, value: "n/a", pass: null },
	);
	const peers = [...results.values()].flatMap((r) =>
		r.processes
			.filter((p) => p.role === "seeder" || p.role === "leecher")
			.map((p) => ({ ...p, id: r.id })),
	);
	const worst = peers.reduce<(typeof peers)[number] | undefined>(
		(a, p) => (!a || p.peakRss > a.peakRss ? p : a),
		undefined,
	);
	out.push({
		target: `every p2p-tui process peak RSS < ${TARGET.rssBytes / MB} MB`,
		value: worst
			? `max ${(worst.peakRss / MB).toFixed(0)} MB (${worst.name} in (${worst.id}))`
			: "n/a",
		pass: worst ? peers.every((p) => p.peakRss < TARGET.rssBytes) : null,
	});
	return out;
}

/** Pads or cuts to a column. */
const col = (text: string, width: number, right = false) =>
	right ? text.padStart(width) : text.padEnd(width);
const fixed = (n: number | undefined, digits = 1) => (n === undefined ? "-" : n.toFixed(digits));
const rssList = (ps: ProcessResult[]) =>
	ps.map((p) => `${p.name} ${(p.peakRss / MB).toFixed(0)}`).join(", ");

/** The results table, one row per scenario (and one per leecher of a swarm of leechers). */
function table(results: ScenarioResult[], fileBytes: number): string {
	const lines = [
		[
			col("#", 3),
			col("scenario", 37),
			col("result", 7),
			col("wall s", 7, true),
			col("get s", 7, true),
			col("MB/s", 8, true),
			col("x TCP", 6, true),
			col("seeder upload MB (x file)", 34, true),
			"  peak RSS MB",
		].join(" "),
	];
	for (const r of results.sort((a, b) => a.id - b.id)) {
		const uploads = r.seederUploads ?? [];
		const total = uploads.reduce((a, b) => a + b, 0);
		const upload =
			uploads.length === 0
				? "-"
				: `${fixed(total / MB)} (${(total / fileBytes).toFixed(2)}x)` +
					(uploads.length > 1
						? ` = ${uploads.map((u) => (u / fileBytes).toFixed(2)).join("+")}`
						: "");
		const single = r.leechers.length === 1 ? r.leechers[0] : undefined;
		lines.push(
			[
				col(`(${r.id})`, 3),
				col(r.title, 37),
				col(r.status, 7),
				col(fixed(r.seconds, 2), 7, true),
				col(fixed(single?.transferSeconds, 2), 7, true),
				col(`${r.leechers.length > 1 ? "agg " : ""}${fixed(r.mbPerSecond)}`, 8, true),
				col(fixed(r.ratioToTcp, 2), 6, true),
				col(r.status === "skipped" ? "" : upload, 34, true),
				`  ${rssList(r.processes)}`,
			].join(" "),
		);
		if (r.leechers.length > 1)
			for (const l of r.leechers)
				lines.push(
					[
						col("", 3),
						col(`  ${l.name}`, 37),
						col(l.ok ? "ok" : "failed", 7),
						col(fixed(l.seconds, 2), 7, true),
						col(fixed(l.transferSeconds, 2), 7, true),
						col(fixed(l.mbPerSecond), 8, true),
						col("", 6),
						col(
							l.uploaded === undefined ? "" : `(it uploaded ${fixed(l.uploaded / MB)})`,
							34,
							true,
						),
					].join(" "),
				);
		if (r.note) lines.push(`    ${r.note}`);
		if (r.rounds && r.rounds.length > 1)
			lines.push(
				`      ${r.rounds.length} runs, MB/s: ${r.rounds.map((x) => (x.status === "ok" ? fixed(x.mbPerSecond) : x.status)).join(", ")} (median shown; RSS: peak of all)`,
			);
	}
	return lines.join("\n");
}

/**
 * The run to report of a scenario's rounds: the median by MB/s (a failed run counts as the
 * slowest), carrying every run's figures and, for the RSS target, each process's peak over
 * all runs.
 * @param all - one or more runs of one scenario
 */
function median(all: ScenarioResult[]): ScenarioResult {
	if (all.length === 1) return all[0] as ScenarioResult;
	const speed = (r: ScenarioResult) => (r.status === "ok" ? (r.mbPerSecond ?? 0) : -1);
	const sorted = [...all].sort((a, b) => speed(a) - speed(b));
	const kept = sorted[Math.floor((sorted.length - 1) / 2)] as ScenarioResult;
	const peak = new Map<string, number>();
	for (const r of all)
		for (const p of r.processes) peak.set(p.name, Math.max(peak.get(p.name) ?? 0, p.peakRss));
	return {
		...kept,
		processes: kept.processes.map((p) => ({ ...p, peakRss: peak.get(p.name) ?? p.peakRss })),
		rounds: all.map((r) => ({ mbPerSecond: r.mbPerSecond, seconds: r.seconds, status: r.status })),
	};
}

async function main(): Promise<number> {
	// Other work on the machine skews every number: the load average at the start says how much.
	const load = os.loadavg()[0];
	console.log(
		`p2p-tui transfer bench: ${mib} MiB random file, loopback, ${os.cpus().length} CPUs, ` +
			`Node ${process.version}, load average ${load.toFixed(2)} at the start`,
	);
	const source = makeSource();
	const results = new Map<number, ScenarioResult>();
	const runs = new Map<number, ScenarioResult[]>();
	const chosen = SCENARIOS.filter((s) => !only || only.includes(s.id));
	const paired = chosen.filter((s) => PAIRED.includes(s.id));
	const order = [
		...Array.from({ length: rounds }, () => paired).flat(),
		...chosen.filter((s) => !PAIRED.includes(s.id)),
	];
	for (const scenario of order) {
		const dir = path.join(root, `s${scenario.id}`);
		let result: ScenarioResult;
		try {
			result = await scenario.run(source, dir);
		} catch (error) {
			await stopAll();
			result = {
				id: 0,
				title: "",
				status: "failed",
				note: (error as Error).message,
				leechers: [],
				processes: [],
			};
		}
		result.id = scenario.id;
		result.title = scenario.title;
		runs.set(scenario.id, [...(runs.get(scenario.id) ?? []), result]);
		results.set(scenario.id, median(runs.get(scenario.id) ?? [result]));
		fs.rmSync(dir, { recursive: true, force: true });
		console.log(
			`(${scenario.id}) ${scenario.title}: ${result.status}` +
				(result.mbPerSecond ? `, ${fixed(result.mbPerSecond)} MB/s` : "") +
				(result.note ? ` (${result.note})` : ""),
		);
	}
	const tcp = results.get(5);
	for (const r of results.values())
		if (r.status === "ok" && tcp?.status === "ok" && r.mbPerSecond && tcp.mbPerSecond)
			r.ratioToTcp = r.mbPerSecond / tcp.mbPerSecond;

	const rows = [...results.values()];
	const checked = targets(results, source.bytes);
	console.log(
		"\nwall s: from the start of the get process(es) to the exit of the last (start-up, " +
			"discovery, manifest, transfer, final check); get s: the download alone as get reports it; " +
			"MB/s = file bytes / wall s (agg: all leechers' bytes / wall s); MB = 10^6 bytes\n",
	);
	console.log(table(rows, source.bytes));
	console.log("\ntargets");
	for (const t of checked)
		console.log(
			`  ${t.pass === null ? "n/a " : t.pass ? "PASS" : "FAIL"}  ${col(t.target, 44)} ${t.value}`,
		);

	const report = {
		bench: "transfer",
		date: new Date().toISOString(),
		machine: machineInfo(load),
		fileBytes: source.bytes,
		networkKey: Boolean(flags["network-key"]),
		timing:
			"seconds: from the start of the get process(es) to the exit of the last; " +
			"transferSeconds: the download alone as the process reports it; MB = 10^6 bytes",
		targets: checked,
		scenarios: rows,
	};
	fs.mkdirSync(RESULTS_DIR, { recursive: true });
	// transfer.json is the full default run; other sizes and --only runs go beside it.
	const suffix =
		(mib === 1024 ? "" : `-${mib}MiB`) +
		(only ? `-only-${only.join("-")}` : "") +
		(flags["network-key"] ? "-network-key" : "");
	const out = path.join(RESULTS_DIR, `transfer${suffix}.json`);
	// Fractions to three decimals: enough for seconds (ms) and MB/s.
	const rounded = (_key: string, value: unknown) =>
		typeof value === "number" && !Number.isInteger(value) ? Number(value.toFixed(3)) : value;
	fs.writeFileSync(out, `${JSON.stringify(report, rounded, 2)}\n`);
	console.log(`\nwritten to ${path.relative(process.cwd(), out)}`);
	return [...runs.values()].flat().some((r) => r.status === "failed") ? 1 : 0;
}

/** Removes the temporary folder (children first, they may hold files there). */
function cleanUp(): void {
	killAllNow();
	fs.rmSync(root, { recursive: true, force: true });
}

for (const signal of ["SIGINT", "SIGTERM"] as const)
	process.once(signal, () => {
		cleanUp();
		process.exit(130);
	});

main()
	.then((code) => {
		process.exitCode = code;
	})
	.catch((error: Error) => {
		console.error(`bench: ${error.stack ?? error.message}`);
		process.exitCode = 1;
	})
	.finally(async () => {
		await stopAll();
		cleanUp();
	});
