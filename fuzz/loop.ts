/**
 * The fuzzing loop of `npm run fuzz`, for one target: replays the seed corpus, then feeds
 * mutations of it (and of fresh valid inputs from the target's generator) until its time
 * or run budget is spent. Every input is timed and its memory growth measured; a throw, an
 * input slower than the limit even when run again, or one that makes the decoder set aside
 * far more memory than its own size is a failure, and its bytes are written to
 * `fuzz/crashes/` for replay.
 */
import { createHash } from "node:crypto";
import fs from "node:fs";
import path from "node:path";
import { performance } from "node:perf_hooks";
import v8 from "node:v8";
import fc from "fast-check";
import { mutate, Random } from "./mutate.js";
import type { Field } from "./oracle.js";

/** Mutations every run makes after its corpus, whatever its budget. */
const MIN_MUTATIONS = 16;

/** A fuzz target module: Jazzer.js's `fuzz` plus optional hints for this runner. */
export interface FuzzTarget {
	/** Throws only on a real bug (the Jazzer.js convention); may return a promise. */
	fuzz(data: Buffer): void | Promise<void>;
	/** Length and count fields of an input, for the mutator's interesting integers. */
	fields?: Field[] | ((data: Uint8Array) => Field[]);
	/** Fresh valid inputs to mix in (else the runner's own generator for the target, if any). */
	generator?: fc.Arbitrary<Buffer>;
	/** Per-input time limit in ms (default {@link SLOW_MS}). */
	timeLimitMs?: number;
	/** Longest input in bytes (default 65,536). */
	maxLength?: number;
	/** False when the target allocates by design (the runner's per-input memory check is off). */
	checkMemory?: boolean;
	/** Final checks and freeing what the target holds (sockets, peers), after the run. */
	close?(): Promise<void>;
	/** A line on what the run did, for the summary. */
	report?(): Promise<string>;
}

/** The decoders' time limit per input, in ms (issue 6). */
export const SLOW_MS = 10;
/**
 * Runs of an input found slow, of which the cheapest must still be slow to count. The
 * cost of a rerun is the process's CPU time, not wall time: on a busy machine a 4 ms
 * decode can wait 30 ms for a CPU, but it does not use more CPU for it.
 */
const RERUNS = 8;

/** A failure: what went wrong and where its input was saved. */
export interface Finding {
	kind: "crash" | "slow" | "memory";
	message: string;
	/** File the input was written to (absent when no crash folder was given). */
	file?: string;
	/** The input itself. */
	input: Buffer;
}

/** Options of {@link runTarget}. */
export interface LoopOptions {
	/** Target name (its corpus folder and crash file prefix). */
	name: string;
	/** Wall-clock budget in seconds. */
	seconds: number;
	/** Most executions (default unbounded). */
	runs?: number;
	/** Seed of the mutator. */
	seed: number;
	/** Seed corpus (replayed first, then mutated). */
	corpus: Buffer[];
	/** Fresh valid inputs mixed into the mutation pool. */
	generator?: fc.Arbitrary<Buffer>;
	/** Folder crashing inputs are written to; nothing is written when absent. */
	crashesDir?: string;
	/** Called with each input before it runs (the runner's hang watchdog keeps it). */
	onInput?: (data: Buffer) => void;
}

/** What a run of one target did. */
export interface LoopResult {
	name: string;
	/** Inputs executed. */
	execs: number;
	/** Wall-clock seconds spent. */
	seconds: number;
	/** Seed corpus entries. */
	corpus: number;
	/** Longest single execution measured, wall time in ms (GC pauses and CPU contention included). */
	maxMs: number;
	/**
	 * That slowest input's real cost: its least CPU time over {@link RERUNS} runs, in ms
	 * (wall time for async targets, whose CPU time is not theirs alone).
	 */
	maxConfirmedMs: number;
	/** Length in bytes of the slowest input. */
	slowestLength: number;
	/** Largest growth of external (Buffer) memory across one input, in bytes. */
	maxExternalBytes: number;
	findings: Finding[];
}

/** Replays and mutates inputs against `target` for the budget in `options`. */
export async function runTarget(target: FuzzTarget, options: LoopOptions): Promise<LoopResult> {
	const random = new Random(options.seed);
	const limit = target.timeLimitMs ?? SLOW_MS;
	const maxLength = target.maxLength ?? 65_536;
	const fieldsOf = (data: Uint8Array): Field[] =>
		typeof target.fields === "function" ? target.fields(data) : (target.fields ?? []);
	const pool: Buffer[] = options.corpus.length > 0 ? [...options.corpus] : [Buffer.alloc(0)];
	const corpusSize = pool.length;
	const findings: Finding[] = [];
	const seen = new Set<string>();
	const result: LoopResult = {
		name: options.name,
		execs: 0,
		seconds: 0,
		corpus: options.corpus.length,
		maxMs: 0,
		maxConfirmedMs: 0,
		slowestLength: 0,
		maxExternalBytes: 0,
		findings,
	};
	let slowest: Buffer | undefined;
	const start = performance.now();
	const deadline = start + options.seconds * 1000;
	const runs = options.runs ?? Number.POSITIVE_INFINITY;

	const record = (kind: Finding["kind"], message: string, input: Buffer) => {
		const key = `${kind}:${message.split("\n")[0]}`;
		if (seen.has(key) || findings.length >= 20) return;
		seen.add(key);
		const finding: Finding = { kind, message, input: Buffer.from(input) };
		if (options.crashesDir) {
			const digest = createHash("sha1").update(input).digest("hex").slice(0, 16);
			fs.mkdirSync(options.crashesDir, { recursive: true });
			finding.file = path.join(options.crashesDir, `${options.name}-${kind}-${digest}`);
			fs.writeFileSync(finding.file, input);
			fs.writeFileSync(`${finding.file}.txt`, `${message}\n`);
		}
		findings.push(finding);
	};

	let async = false;
	/** Runs one input; returns its wall and CPU time in ms, or undefined when it threw. */
	const execute = async (input: Buffer): Promise<{ wall: number; cpu: number } | undefined> => {
		options.onInput?.(input);
		const before = v8.getHeapStatistics().external_memory;
		const cpu0 = process.cpuUsage();
		const t0 = performance.now();
		try {
			const pending = target.fuzz(input);
			if (pending) {
				async = true;
				await pending;
			}
		} catch (error) {
			record(
				"crash",
				error instanceof Error ? (error.stack ?? error.message) : String(error),
				input,
			);
			return undefined;
		}
		const wall = performance.now() - t0;
		const used = process.cpuUsage(cpu0);
		const grown = v8.getHeapStatistics().external_memory - before;
		if (grown > result.maxExternalBytes) result.maxExternalBytes = grown;
		// A decoder may copy its input, not set aside memory for what the input only claims.
		if (target.checkMemory !== false && grown > 1024 * 1024 + 16 * input.length)
			record("memory", `${grown} bytes of buffers for an input of ${input.length} bytes`, input);
		return { wall, cpu: async ? wall : (used.user + used.system) / 1000 };
	};

	/** The least cost of `input` over {@link RERUNS} runs, in ms (CPU time of sync targets). */
	const bestOf = async (input: Buffer): Promise<number> => {
		let best = Number.POSITIVE_INFINITY;
		for (let i = 0; i < RERUNS; i++) best = Math.min(best, (await execute(input))?.cpu ?? best);
		return best;
	};

	let index = 0;
	// The corpus is replayed whole and, with a budget, followed by at least a few mutations,
	// even when a busy machine spent the whole budget on the replay.
	const floor = corpusSize + (options.seconds > 0 ? MIN_MUTATIONS : 0);
	while (result.execs < runs && (result.execs < floor || performance.now() < deadline)) {
		let input: Buffer;
		if (index < corpusSize) input = pool[index++];
		else if (options.generator && random.chance(0.05)) {
			input = fc.sample(options.generator, { numRuns: 1, seed: random.next() | 0 })[0];
			// Keep a few fresh valid inputs as mutation bases.
			if (pool.length < corpusSize + 256) pool.push(input);
			else pool[corpusSize + random.below(256)] = input;
		} else {
			const base = random.pick(pool);
			input = mutate(base, random, {
				maxLength,
				fields: fieldsOf(base),
				other: random.pick(pool),
			});
		}
		const ms = await execute(input);
		result.execs++;
		if (ms === undefined) continue;
		if (ms.wall > result.maxMs) {
			result.maxMs = ms.wall;
			slowest = input;
		}
		if (ms.wall > limit) {
			const best = await bestOf(input);
			if (best > limit)
				record("slow", `${best.toFixed(1)} ms of CPU at best of ${RERUNS} runs`, input);
		}
	}
	if (slowest) {
		result.maxConfirmedMs = await bestOf(slowest);
		result.slowestLength = slowest.length;
	}
	result.seconds = (performance.now() - start) / 1000;
	return result;
}

/** The seed corpus of a target: every file in `dir`, sorted by name (none when missing). */
export function loadCorpus(dir: string): Buffer[] {
	if (!fs.existsSync(dir)) return [];
	return fs
		.readdirSync(dir)
		.filter((f) => !f.startsWith("."))
		.sort()
		.map((f) => fs.readFileSync(path.join(dir, f)));
}
