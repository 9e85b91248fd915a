/**
 * Indexing benchmark. Generates, once per run, in a temporary folder and from a seed:
 *
 *   - a tree of 10,000 files (sizes log-uniform from 1 KiB to 1 MiB) in nested folders
 *   - one file of 1 GiB
 *
 * and measures, for each, as separate Node processes (a real restart each time):
 *
 *   - cold: `Library.open` with an empty index cache, until `ready()` (every file hashed)
 *   - warm: `Library.open` again with the cache the cold run left, until `ready()`
 *   - b3sum over the same files in the same run (all files as arguments, in chunks), the
 *     reference BLAKE3 tool, for scale
 *
 * in files/s and MB/s (MB = 10^6 bytes). The data was just written, so every run reads from the
 * page cache: these are CPU numbers, not disk numbers. Prints a table, writes JSON to
 * bench/results/indexing.json (indexing-<files>-<mib>MiB[-w<workers>].json for other sizes or
 * a given worker count), then deletes the generated data.
 *
 * Usage: npm run bench:index -- [--files N] [--mib N] [--seed N] [--workers N]
 *   (--mib, or BENCH_MIB, also sets the transfer bench's file: one flag for both;
 *   --only and --timeout belong to the transfer bench and are ignored here.)
 *   Exit code 1 when a run failed or its files were not all indexed; the 2 s warm target
 *   is reported, not fatal.
 */
import { execFileSync, spawn } from "node:child_process";
import { createCipheriv, createHash } from "node:crypto";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { Library } from "../source/library/library.js";
import { defaultHashWorkers } from "../source/transfer/hash-pool.js";
import { machineInfo } from "./process.js";

const here = path.dirname(fileURLToPath(import.meta.url));
const RESULTS_DIR = path.resolve(here, "..", "..", "bench", "results");
const MB = 1e6;
const KIB = 1024;
const MIB = 1024 * 1024;
/** Target: a warm start over the tree is ready within this many seconds. */
const WARM_TARGET_SECONDS = 2;
/** Files per b3sum invocation (well under ARG_MAX). */
const B3SUM_CHUNK = 2_000;

const { values: flags } = parseArgs({
	options: {
		files: { type: "string", default: "10000" },
		mib: { type: "string", default: process.env.BENCH_MIB ?? "1024" },
		seed: { type: "string", default: "1" },
		workers: { type: "string" },
		// The transfer bench's flags (`npm run bench` passes the same flags to both).
		only: { type: "string" },
		timeout: { type: "string" },
		// The key-latency bench's flags.
		listed: { type: "string" },
		presses: { type: "string" },
		gap: { type: "string" },
		sizes: { type: "string" },
		tmux: { type: "boolean" },
		// Internal: run one measurement in this process and print it as JSON.
		child: { type: "string" },
		dir: { type: "string" },
		data: { type: "string" },
	},
});

/** A whole number flag, or exit with a one-line error. */
function whole(name: string, value: string | undefined, min: number): number {
	const n = Number(value);
	if (!Number.isInteger(n) || n < min) {
		console.error(`bench: --${name} wants a whole number >= ${min}, got ${value}`);
		process.exit(2);
	}
	return n;
}

/** What one child run measured. */
interface Measurement {
	/** From before `Library.open` to `ready()`, in seconds. */
	seconds: number;
	/** From before `Library.open` to its return, in seconds. */
	openSeconds: number;
	files: number;
	bytes: number;
	/** Files hashed by the workers (0 on a perfect warm start). */
	hashed: number;
	/** Files taken from the index cache. */
	cached: number;
	workers: number;
	/** Peak RSS of the child, bytes. */
	maxRss: number;
}

/** One data set's results. */
interface Row {
	name: string;
	files: number;
	bytes: number;
	cold?: Measurement;
	warm?: Measurement;
	b3sumSeconds?: number;
	error?: string;
}

// ---- child: one measurement ---------------------------------------------------------------

async function child(dir: string, data: string): Promise<void> {
	const workers = flags.workers === undefined ? undefined : whole("workers", flags.workers, 0);
	const started = process.hrtime.bigint();
	const library = await Library.open(dir, { dataDir: data, workers });
	const opened = process.hrtime.bigint();
	await library.ready();
	const ready = process.hrtime.bigint();
	const files = library.files();
	const result: Measurement = {
		seconds: Number(ready - started) / 1e9,
		openSeconds: Number(opened - started) / 1e9,
		files: files.length,
		bytes: files.reduce((sum, f) => sum + f.size, 0),
		hashed: library.stats.hashed,
		cached: library.stats.cached,
		workers: workers ?? defaultHashWorkers(),
		maxRss: process.resourceUsage().maxRSS * 1024,
	};
	await library.close();
	console.log(JSON.stringify(result));
}

// ---- parent ------------------------------------------------------------------------------

/** A seeded stream of pseudo-random bytes: AES-128-CTR keystream, key from the seed. */
function randomStream(seed: string): (length: number) => Buffer {
	const key = createHash("sha256").update(`p2p-tui bench ${seed}`).digest().subarray(0, 16);
	const cipher = createCipheriv("aes-128-ctr", key, Buffer.alloc(16));
	const zeros = Buffer.alloc(4 * MIB);
	return (length) => {
		const parts: Buffer[] = [];
		for (let left = length; left > 0; left -= zeros.length) {
			parts.push(cipher.update(zeros.subarray(0, Math.min(left, zeros.length))));
		}
		return parts.length === 1 ? parts[0] : Buffer.concat(parts);
	};
}

/** A seeded uniform [0, 1) generator (mulberry32) for sizes and paths. */
function uniform(seed: number): () => number {
	let a = seed >>> 0;
	return () => {
		a = (a + 0x6d2b79f5) >>> 0;
		let t = a;
		t = Math.imul(t ^ (t >>> 15), t | 1);
		t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
		return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
	};
}

/**
 * Writes `count` files, 1 KiB to 1 MiB log-uniform, in nested folders (16 at the top, 8 under
 * each, some files at each depth).
 * @returns the files' paths and their total size
 */
function makeTree(dir: string, count: number, seed: number): { paths: string[]; bytes: number } {
	const next = uniform(seed);
	const bytesOf = randomStream(`tree ${seed}`);
	const paths: string[] = [];
	let bytes = 0;
	for (let i = 0; i < count; i++) {
		const size = Math.round(Math.exp(Math.log(KIB) + next() * (Math.log(MIB) - Math.log(KIB))));
		const depth = Math.floor(next() * 4); // 0..3 folders deep
		const parts: string[] = [];
		for (let d = 0; d < depth; d++)
			parts.push(`dir${d}-${Math.floor(next() * (d === 0 ? 16 : 8))}`);
		const folder = path.join(dir, ...parts);
		fs.mkdirSync(folder, { recursive: true });
		const file = path.join(folder, `file-${String(i).padStart(5, "0")}.bin`);
		fs.writeFileSync(file, bytesOf(size));
		paths.push(file);
		bytes += size;
	}
	return { paths, bytes };
}

/** Writes one file of `mib` MiB. */
function makeBig(dir: string, mib: number, seed: number): { paths: string[]; bytes: number } {
	fs.mkdirSync(dir, { recursive: true });
	const file = path.join(dir, `big-${mib}MiB.bin`);
	const bytesOf = randomStream(`big ${seed}`);
	const fd = fs.openSync(file, "w");
	for (let i = 0; i < mib; i += 4) fs.writeSync(fd, bytesOf(Math.min(4, mib - i) * MIB));
	fs.closeSync(fd);
	return { paths: [file], bytes: mib * MIB };
}

/** Runs one child measurement. */
function measure(dir: string, data: string): Promise<Measurement> {
	const args = [fileURLToPath(import.meta.url), "--child", "run", "--dir", dir, "--data", data];
	if (flags.workers !== undefined) args.push("--workers", flags.workers);
	return new Promise((resolve, reject) => {
		const proc = spawn(process.execPath, args, { stdio: ["ignore", "pipe", "pipe"] });
		let out = "";
		let err = "";
		proc.stdout.on("data", (chunk: Buffer) => {
			out += chunk;
		});
		proc.stderr.on("data", (chunk: Buffer) => {
			err += chunk;
		});
		proc.on("error", reject);
		proc.on("exit", (code) => {
			if (code !== 0) {
				reject(new Error(`indexing run exited ${code}: ${err.trim().split("\n").pop() ?? ""}`));
				return;
			}
			try {
				resolve(JSON.parse(out.trim().split("\n").pop() ?? "") as Measurement);
			} catch {
				reject(new Error(`indexing run printed no result: ${out.trim()}`));
			}
		});
	});
}

/** Seconds b3sum takes over `paths`, in chunks of arguments; throws when it is missing. */
function b3sum(paths: string[]): number {
	const started = process.hrtime.bigint();
	for (let i = 0; i < paths.length; i += B3SUM_CHUNK) {
		execFileSync("b3sum", paths.slice(i, i + B3SUM_CHUNK), {
			stdio: ["ignore", "ignore", "inherit"],
			maxBuffer: 64 * MIB,
		});
	}
	return Number(process.hrtime.bigint() - started) / 1e9;
}

const col = (text: string, width: number, right = true) =>
	right ? text.padStart(width) : text.padEnd(width);
const fixed = (n: number | undefined, digits = 2) => (n === undefined ? "-" : n.toFixed(digits));
const rate = (n: number, seconds: number | undefined) =>
	seconds === undefined || seconds <= 0 ? undefined : n / seconds;

function table(rows: Row[]): string {
	const head = [
		col("data", 22, false),
		col("files", 6),
		col("MB", 8),
		col("cold s", 8),
		col("files/s", 8),
		col("MB/s", 7),
		col("warm s", 7),
		col("files/s", 8),
		col("MB/s", 8),
		col("hashed", 6),
		col("b3sum s", 8),
		col("files/s", 8),
		col("MB/s", 7),
	].join(" ");
	const lines = [head];
	for (const r of rows) {
		const mb = r.bytes / MB;
		lines.push(
			[
				col(r.name, 22, false),
				col(String(r.files), 6),
				col(fixed(mb, 1), 8),
				col(fixed(r.cold?.seconds, 3), 8),
				col(fixed(rate(r.files, r.cold?.seconds), 0), 8),
				col(fixed(rate(mb, r.cold?.seconds), 0), 7),
				col(fixed(r.warm?.seconds, 3), 7),
				col(fixed(rate(r.files, r.warm?.seconds), 0), 8),
				col(fixed(rate(mb, r.warm?.seconds), 0), 8),
				col(r.warm ? String(r.warm.hashed) : "-", 6),
				col(fixed(r.b3sumSeconds, 3), 8),
				col(fixed(rate(r.files, r.b3sumSeconds), 0), 8),
				col(fixed(rate(mb, r.b3sumSeconds), 0), 7),
			].join(" "),
		);
		if (r.error) lines.push(`    failed: ${r.error}`);
	}
	return lines.join("\n");
}

async function main(): Promise<number> {
	const files = whole("files", flags.files, 1);
	const mib = whole("mib", flags.mib, 1);
	const seed = whole("seed", flags.seed, 0);
	const load = os.loadavg()[0];
	console.log(
		`p2p-tui indexing bench: ${files} files (1 KiB-1 MiB, log-uniform) and one ${mib} MiB ` +
			`file, seed ${seed}, ${os.cpus().length} CPUs, hash workers ` +
			`${flags.workers ?? defaultHashWorkers()}, Node ${process.version}, ` +
			`load average ${load.toFixed(2)} at the start`,
	);
	// Expected tree size: the mean of a log-uniform size is (max - min) / ln(max / min).
	const need = (files * (MIB - KIB)) / Math.log(1024) + mib * MIB;
	const stat = fs.statfsSync(os.tmpdir());
	const free = stat.bavail * stat.bsize;
	console.log(
		`disk: ${(free / 1e9).toFixed(1)} GB free in ${os.tmpdir()}, about ${(need / 1e9).toFixed(1)} GB needed`,
	);
	if (free < need * 1.2 + 512 * MIB) {
		console.error("bench: not enough free disk space for the generated data");
		return 1;
	}

	const root = fs.mkdtempSync(path.join(os.tmpdir(), "p2p-tui-index-bench-"));
	const cleanUp = () => fs.rmSync(root, { recursive: true, force: true });
	for (const signal of ["SIGINT", "SIGTERM"] as const)
		process.once(signal, () => {
			cleanUp();
			process.exit(130);
		});
	const rows: Row[] = [];
	try {
		const sets = [
			{
				name: `${files} files tree`,
				key: "tree",
				make: () => makeTree(path.join(root, "tree"), files, seed),
			},
			{
				name: `one ${mib} MiB file`,
				key: "big",
				make: () => makeBig(path.join(root, "big"), mib, seed),
			},
		];
		for (const set of sets) {
			const t0 = Date.now();
			const made = set.make();
			console.log(
				`generated ${set.name}: ${(made.bytes / MB).toFixed(1)} MB in ${((Date.now() - t0) / 1000).toFixed(1)} s`,
			);
			const dir = path.join(root, set.key);
			const data = path.join(root, `${set.key}-data`);
			const row: Row = { name: set.name, files: made.paths.length, bytes: made.bytes };
			rows.push(row);
			try {
				row.b3sumSeconds = b3sum(made.paths);
			} catch (error) {
				row.error = `b3sum: ${(error as Error).message}`;
			}
			try {
				row.cold = await measure(dir, data);
				console.log(`  cold: ${row.cold.seconds.toFixed(3)} s`);
				row.warm = await measure(dir, data);
				console.log(`  warm: ${row.warm.seconds.toFixed(3)} s (${row.warm.hashed} hashed)`);
				for (const m of [row.cold, row.warm])
					if (m.files !== row.files || m.bytes !== row.bytes)
						row.error = `indexed ${m.files} files / ${m.bytes} bytes of ${row.files} / ${row.bytes}`;
			} catch (error) {
				row.error = (error as Error).message;
			}
			fs.rmSync(dir, { recursive: true, force: true });
		}
	} finally {
		cleanUp();
	}

	console.log(
		"\ncold: empty index cache; warm: restart with the cache of the cold run; seconds from " +
			"Library.open to ready() (a new process each); hashed: files the warm start hashed; " +
			"b3sum: all files as arguments (its default threads); page cache warm; MB = 10^6 bytes\n",
	);
	console.log(table(rows));
	const tree = rows[0];
	const warmPass = tree.warm ? tree.warm.seconds < WARM_TARGET_SECONDS : null;
	console.log(
		`\ntargets\n  ${warmPass === null ? "n/a " : warmPass ? "PASS" : "FAIL"}  warm start over ` +
			`${tree.files} files ready in < ${WARM_TARGET_SECONDS} s: ${fixed(tree.warm?.seconds, 3)} s`,
	);

	const report = {
		bench: "indexing",
		date: new Date().toISOString(),
		machine: machineInfo(load),
		seed,
		timing:
			"seconds: from Library.open to ready() in a new process; cold: empty index cache; " +
			"warm: the cache of the cold run; b3sum: all files as arguments in chunks of " +
			`${B3SUM_CHUNK}; page cache warm; MB = 10^6 bytes`,
		targets: [
			{
				target: `warm start over ${tree.files} files ready in < ${WARM_TARGET_SECONDS} s`,
				value: tree.warm?.seconds,
				pass: warmPass,
			},
		],
		rows: rows.map((r) => ({
			...r,
			cold: r.cold && {
				...r.cold,
				filesPerSecond: r.files / r.cold.seconds,
				mbPerSecond: r.bytes / MB / r.cold.seconds,
			},
			warm: r.warm && {
				...r.warm,
				filesPerSecond: r.files / r.warm.seconds,
				mbPerSecond: r.bytes / MB / r.warm.seconds,
			},
			b3sum: r.b3sumSeconds && {
				seconds: r.b3sumSeconds,
				filesPerSecond: r.files / r.b3sumSeconds,
				mbPerSecond: r.bytes / MB / r.b3sumSeconds,
			},
		})),
	};
	fs.mkdirSync(RESULTS_DIR, { recursive: true });
	const suffix =
		(files === 10_000 && mib === 1024 ? "" : `-${files}-${mib}MiB`) +
		(flags.workers === undefined ? "" : `-w${flags.workers}`);
	const out = path.join(RESULTS_DIR, `indexing${suffix}.json`);
	const rounded = (_key: string, value: unknown) =>
		typeof value === "number" && !Number.isInteger(value) ? Number(value.toFixed(3)) : value;
	fs.writeFileSync(out, `${JSON.stringify(report, rounded, 2)}\n`);
	console.log(`\nwritten to ${path.relative(process.cwd(), out)}`);
	return rows.some((r) => r.error) ? 1 : 0;
}

if (flags.child) {
	child(flags.dir ?? ".", flags.data ?? ".").catch((error: Error) => {
		console.error(error.stack ?? error.message);
		process.exitCode = 1;
	});
} else {
	main()
		.then((code) => {
			process.exitCode = code;
		})
		.catch((error: Error) => {
			console.error(`bench: ${error.stack ?? error.message}`);
			process.exitCode = 1;
		});
}
