/**
 * `npm run fuzz`: drives every fuzz target under fuzz/targets/ for a bounded time each,
 * one at a time, each in a worker thread. A target's seed corpus (fuzz/corpus/<target>/)
 * is replayed, then mutated; crashes, unhandled rejections, hangs and inputs slower than
 * 10 ms are failures, written to fuzz/crashes/. Prints per target the executions, the
 * longest time of one input and that input's best-of-5 time, then exits 1 on any failure.
 *
 * Usage: node dist/fuzz/run.js [--seconds S] [--runs N] [--seed N] [--target a,b] [--list]
 * The same targets run under Jazzer.js where its native prebuild loads:
 *   npx jazzer dist/fuzz/targets/<target>.js fuzz/corpus/<target>
 */
import fs from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { Worker } from "node:worker_threads";
import type { LoopResult } from "./loop.js";
import type { WorkerJob } from "./worker.js";

const here = path.dirname(fileURLToPath(import.meta.url));
/** The repository root (this file runs as dist/fuzz/run.js). */
const root = path.resolve(here, "..", "..");
const targetsDir = path.join(here, "targets");
/** Snapshot size of the input under execution, in bytes (larger inputs are cut). */
const SHARED_BYTES = 4 * 1024 * 1024;

const { values } = parseArgs({
	options: {
		seconds: { type: "string", default: "8" },
		runs: { type: "string" },
		seed: { type: "string" },
		target: { type: "string" },
		list: { type: "boolean", default: false },
		hang: { type: "string", default: "20" },
	},
});

const all = fs
	.readdirSync(targetsDir)
	.filter((f) => f.endsWith(".js"))
	.map((f) => f.slice(0, -3))
	.sort();
if (values.list) {
	console.log(all.join("\n"));
	process.exit(0);
}
const wanted = values.target ? values.target.split(",") : all;
const unknown = wanted.filter((t) => !all.includes(t));
if (unknown.length > 0) {
	console.error(`p2p-tui fuzz: no such target: ${unknown.join(", ")} (see --list)`);
	process.exit(2);
}
const seconds = Number(values.seconds);
const runs = values.runs === undefined ? undefined : Number(values.runs);
const hangSeconds = Number(values.hang);
const seed = values.seed === undefined ? Date.now() % 2 ** 31 : Number(values.seed);
if (!(seconds >= 0) || (runs !== undefined && !(runs >= 0)) || !(hangSeconds > 0)) {
	console.error("p2p-tui fuzz: --seconds, --runs and --hang take non-negative numbers");
	process.exit(2);
}

interface Row extends Omit<LoopResult, "findings"> {
	report?: string;
	findings: { kind: string; message: string; file?: string; length: number }[];
}

/** Runs one target in a worker; a hang or a worker crash becomes a finding. */
function runOne(name: string): Promise<Row> {
	const shared = new SharedArrayBuffer(8 + SHARED_BYTES);
	const counters = new Int32Array(shared, 0, 2);
	const job: WorkerJob = {
		name,
		file: path.join(targetsDir, `${name}.js`),
		seconds,
		runs,
		seed,
		corpusDir: path.join(root, "fuzz", "corpus"),
		crashesDir: path.join(root, "fuzz", "crashes"),
		shared,
	};
	const empty: Row = {
		name,
		execs: 0,
		seconds: 0,
		corpus: 0,
		maxMs: 0,
		maxConfirmedMs: 0,
		slowestLength: 0,
		maxExternalBytes: 0,
		findings: [],
	};
	const started = Date.now();
	/** Saves the input under execution (a hang's or a crash's). */
	const saveCurrent = (kind: string, message: string): Row["findings"][number] => {
		const length = Atomics.load(counters, 1);
		const input = Buffer.from(new Uint8Array(shared, 8, length));
		fs.mkdirSync(job.crashesDir, { recursive: true });
		const file = path.join(job.crashesDir, `${name}-${kind}-${Date.now()}`);
		fs.writeFileSync(file, input);
		fs.writeFileSync(`${file}.txt`, `${message}\n`);
		return { kind, message, file, length };
	};
	return new Promise((resolve) => {
		const worker = new Worker(path.join(here, "worker.js"), { workerData: job });
		let result: Row | undefined;
		let failure: Row["findings"][number] | undefined;
		let lastCount = -1;
		let lastChange = Date.now();
		const watchdog = setInterval(() => {
			// Once the result is in, only the worker's exit is awaited (see below).
			if (result) return;
			const count = Atomics.load(counters, 0);
			if (count !== lastCount) {
				lastCount = count;
				lastChange = Date.now();
			} else if (Date.now() - lastChange > hangSeconds * 1000) {
				failure = saveCurrent("hang", `no progress for ${hangSeconds} s`);
				void worker.terminate();
			}
		}, 250);
		worker.on("message", (row: Row) => {
			result = row;
			// A target may leave handles open (a peer's file watcher): the run is over anyway.
			setTimeout(() => void worker.terminate(), 2_000).unref();
		});
		worker.on("error", (error) => {
			failure = saveCurrent("crash", `uncaught in the worker: ${error.stack ?? error.message}`);
		});
		worker.on("exit", () => {
			clearInterval(watchdog);
			const row = result ?? { ...empty, execs: Atomics.load(counters, 0) };
			row.seconds ||= (Date.now() - started) / 1000;
			if (failure) row.findings.push(failure);
			resolve(row);
		});
	});
}

console.log(`fuzzing ${wanted.length} targets, ${seconds} s each, seed ${seed}`);
const rows: Row[] = [];
for (const name of wanted) {
	const row = await runOne(name);
	rows.push(row);
	const status = row.findings.length === 0 ? "ok" : `${row.findings.length} FAILURES`;
	console.log(
		`${name.padEnd(17)} ${String(row.execs).padStart(9)} execs ${String(Math.round(row.execs / Math.max(row.seconds, 1e-3))).padStart(7)}/s  corpus ${String(row.corpus).padStart(3)}  max ${row.maxMs.toFixed(2).padStart(7)} ms  (its best of 8: ${Number.isFinite(row.maxConfirmedMs) ? row.maxConfirmedMs.toFixed(2) : "-"} ms CPU, ${row.slowestLength} B)  ${status}`,
	);
	if (row.report) console.log(`  ${row.report}`);
	for (const f of row.findings)
		console.log(`  ${f.kind}: ${f.message.split("\n")[0]}  -> ${f.file ?? "(not saved)"}`);
}
const execs = rows.reduce((n, r) => n + r.execs, 0);
const failures = rows.reduce((n, r) => n + r.findings.length, 0);
// The decoders' figure: the stateful target's sequences are timed in round trips.
const worst = rows
	.filter((r) => r.name !== "peer" && Number.isFinite(r.maxConfirmedMs))
	.reduce((m, r) => Math.max(m, r.maxConfirmedMs), 0);
console.log(
	`total ${execs} execs over ${rows.length} targets; slowest decoder input ${worst.toFixed(2)} ms of CPU (best of 8 runs); ${failures} failures`,
);
process.exit(failures === 0 ? 0 : 1);
