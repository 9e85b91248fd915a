/**
 * One fuzz target's run, in a worker thread of `npm run fuzz` (fuzz/run.ts): the main
 * thread watches the shared execution counter and stops a worker whose input hangs, and
 * reads that input from the shared buffer.
 */
import path from "node:path";
import { parentPort, workerData } from "node:worker_threads";
import { generators } from "./generators.js";
import { type FuzzTarget, loadCorpus, runTarget } from "./loop.js";

/** What the main thread passes to a worker. */
export interface WorkerJob {
	name: string;
	/** Absolute path of the compiled target module. */
	file: string;
	seconds: number;
	runs?: number;
	seed: number;
	corpusDir: string;
	crashesDir: string;
	/** [0] executions so far, [1] length of the current input, from byte 8 its bytes. */
	shared: SharedArrayBuffer;
}

const job = workerData as WorkerJob;
const counters = new Int32Array(job.shared, 0, 2);
const current = new Uint8Array(job.shared, 8);

function keep(data: Buffer): void {
	const n = Math.min(data.length, current.length);
	current.set(data.subarray(0, n));
	Atomics.store(counters, 1, n);
	Atomics.add(counters, 0, 1);
}

const target = (await import(job.file)) as FuzzTarget;
const result = await runTarget(target, {
	name: job.name,
	seconds: job.seconds,
	runs: job.runs,
	seed: job.seed,
	corpus: loadCorpus(path.join(job.corpusDir, job.name)),
	generator: target.generator ?? generators[job.name],
	crashesDir: job.crashesDir,
	onInput: keep,
});
const findings = result.findings.map(({ input, ...f }) => ({ ...f, length: input.length }));
const report = (await target.report?.()) ?? "";
try {
	await target.close?.();
} catch (error) {
	findings.push({
		kind: "crash",
		message: `final check: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`,
		length: 0,
	});
}
parentPort?.postMessage({ ...result, findings, report });
