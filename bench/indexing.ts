/**
 * Indexing benchmark. Generates, once per run, in a temporary folder:
 *
 *   tree: 10,000 files of 1 KiB to 1 MiB (log-uniform sizes from a seeded PRNG) spread over
 *         nested folders, and
 *   big:  one 1 GiB file,
 *
 * then, for each data set:
 *
 *   1. `b3sum` over every file (its default threads; the baseline: it hashes, nothing more),
 *   2. cold indexing: a `Library` over the folder with a fresh, empty data folder, timed from
 *      `Library.open` to `ready()` resolving (every file hashed into a manifest),
 *   3. warm indexing: a new `Library` over the same folder and data folder once the cold one
 *      has closed (saving its index cache), timed the same way.
 *
 * Each library runs in its own process (this script with `--child`), so its peak RSS is its
 * own and nothing is shared between the cold and the warm run but the data folder. Checks:
 * the cold run indexed every file and byte, its content hashes equal b3sum's, and the warm
 * run served the same ids under the same names. The files were just written, so they are
 * in the OS page cache for every run: this measures hashing and indexing, not the disk.
 *
 * Usage: npm run bench:index -- [--files N] [--big-mib N] [--only tree|big] [--keep]
 *   Results go to bench/results/indexing.json for the full default run,
 *   indexing-<N>files-<M>MiB[-only-<set>].json otherwise. Exit code 1 when a run failed or
 *   a check did not hold; a missed target is reported, not fatal. No network is used.
 */
import { execFileSync, spawn } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { Library, type SharedFile } from "../source/library/library.js";
import { killAllNow, stopAll, Watched } from "./process.js";

const SELF = fileURLToPath(import.meta.url);
const RESULTS_DIR = path.resolve(path.dirname(SELF), "..", "..", "bench", "results");

const MB = 1e6;
const KIB = 1024;
const MIB = 1024 * 1024;
/** Seed of the PRNG behind sizes, folders and content: every run makes the same data. */
const SEED = 0x1d3f707;
/** About this many files per generated folder. */
const FILES_PER_FOLDER = 25;
/** The data is at least this old (last write to first timed run), in ms: see `main`. */
const DATA_AGE_MS = 3_000;
/** Targets, printed beside the results (from issue 4). */
const TARGET = {
	/** A warm start over the tree is ready in under this many seconds. */
	warmTreeSeconds: 2,
};

/**
 * The part of the library the bench uses (issue 4's API). `ready` is optional and `open`'s
 * options are cast in, so the bench also builds and runs against a library whose `open`
 * indexes everything before it returns and has no index cache (then warm = cold).
 */
interface BenchLibrary {
	ready?(): Promise<void>;
	files(): SharedFile[];
	close(): void | Promise<void>;
}
const openLibrary = Library.open as (
	dir: string,
	options?: { dataDir?: string },
) => Promise<BenchLibrary>;

/** What a `--child` process prints as its last stdout line. */
interface ChildReport {
	event: "indexed";
	/** From before `Library.open` to its return, s. */
	openSeconds: number;
	/** From before `Library.open` to `ready()` resolving, s. */
	readySeconds: number;
	/** `close()`, s (the index cache is saved there). */
	closeSeconds: number;
	files: number;
	bytes: number;
	/** process.resourceUsage().maxRSS, in bytes. */
	maxRss: number;
}

/** One shared file as a child saw it, written to its `--out` file. */
interface IndexedFile {
	name: string;
	id: string;
	size: number;
	/** Hex BLAKE3 of the whole content, from the manifest. */
	contentHash: string;
}

/** A generated data set. */
interface DataSet {
	key: "tree" | "big";
	title: string;
	dir: string;
	files: number;
	bytes: number;
	folders: number;
}

/** One timed run over a data set. */
interface RunResult {
	set: DataSet["key"];
	run: "b3sum" | "cold" | "warm";
	status: "ok" | "failed";
	note?: string;
	/** Timed span, s: b3sum from spawn to exit; a library from `open` to `ready()`. */
	seconds?: number;
	files?: number;
	bytes?: number;
	filesPerSecond?: number;
	mbPerSecond?: number;
	/** This run's MB/s over b3sum's on the same data. */
	ratioToB3sum?: number;
	/** `Library.open` alone, s (it returns once indexing has started). */
	openSeconds?: number;
	/** `close()`, s. */
	closeSeconds?: number;
	/** The child process from spawn to exit (Node start-up and module loading included), s. */
	processSeconds?: number;
	/** Peak RSS of the library's process, bytes. */
	peakRss?: number;
}

/** A check of the run, listed under the table. */
interface Check {
	check: string;
	pass: boolean;
	detail?: string;
}

/** Parses the flags; a bad one is a one-line error and exit 2. */
function readFlags() {
	try {
		const { values } = parseArgs({
			options: {
				files: { type: "string", default: "10000" },
				"big-mib": { type: "string", default: "1024" },
				only: { type: "string" },
				keep: { type: "boolean", default: false },
				child: { type: "boolean", default: false },
				dir: { type: "string" },
				"data-dir": { type: "string" },
				out: { type: "string" },
			},
		});
		const files = Number(values.files);
		const bigMib = Number(values["big-mib"]);
		if (!Number.isInteger(files) || files < 1)
			throw new Error(`--files wants a whole number above 0, got ${values.files}`);
		if (!Number.isInteger(bigMib) || bigMib < 1)
			throw new Error(`--big-mib wants a whole number above 0, got ${values["big-mib"]}`);
		if (values.only !== undefined && values.only !== "tree" && values.only !== "big")
			throw new Error(`--only wants tree or big, got ${values.only}`);
		return { ...values, files, bigMib, only: values.only as DataSet["key"] | undefined };
	} catch (error) {
		console.error(
			`bench:index: ${(error as Error).message} ` +
				"(flags: --files N, --big-mib N, --only tree|big, --keep; " +
				"the transfer bench's flags go to npm run bench:transfer)",
		);
		process.exit(2);
	}
}

const flags = readFlags();

/** mulberry32: a small seeded PRNG, uniform in [0, 1). */
function prng(seed: number): () => number {
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
 * 1 MiB of seeded random bytes, twice in a row, so that any window of up to 1 MiB starting
 * in the first half is contiguous. Files are windows of it at varied offsets, each with its
 * own 16-byte header: every file differs, and writing needs no fresh random bytes.
 */
function randomBase(random: () => number): Buffer {
	const base = Buffer.allocUnsafe(2 * MIB);
	for (let i = 0; i < MIB; i += 4) base.writeUInt32LE(Math.floor(random() * 2 ** 32), i);
	base.copy(base, MIB, 0, MIB);
	return base;
}

/** Writes the 16-byte header then `base[offset+16, offset+size)`: `size` bytes, ≥ 16. */
function writeWindow(
	fd: number,
	base: Buffer,
	header: Buffer,
	offset: number,
	size: number,
	position: number,
) {
	const parts = [header, base.subarray(offset + 16, offset + size)];
	let written = 0;
	while (written < size) {
		// writev may write less than asked: go on from where it stopped.
		let skip = written;
		const rest = parts
			.map((p) => {
				const cut = Math.min(skip, p.length);
				skip -= cut;
				return p.subarray(cut);
			})
			.filter((p) => p.length > 0);
		written += fs.writevSync(fd, rest, position + written);
	}
}

/** Bytes free for an unprivileged user where `dir` lives. */
function freeBytes(dir: string): number {
	const s = fs.statfsSync(dir);
	return s.bavail * s.bsize;
}

/** The tree's plan: sizes (log-uniform, 1 KiB to 1 MiB), folders and content offsets. */
function planTree(count: number, random: () => number) {
	const folders = [""];
	const folderCount = Math.max(1, Math.round(count / FILES_PER_FOLDER));
	// A random recursive tree: each new folder goes under a random earlier one (or the root),
	// so depths vary (about ln(folders) deep on average).
	for (let i = 1; i < folderCount; i++) {
		const parent = folders[Math.floor(random() * folders.length)];
		folders.push(path.posix.join(parent, `dir-${String(i).padStart(4, "0")}`));
	}
	const lo = Math.log(KIB);
	const hi = Math.log(MIB);
	const files = Array.from({ length: count }, (_, i) => {
		const size = Math.min(MIB, Math.max(KIB, Math.round(Math.exp(lo + random() * (hi - lo)))));
		const folder = folders[Math.floor(random() * folders.length)];
		const name = `file-${String(i).padStart(6, "0")}-${size}.bin`;
		return { rel: path.posix.join(folder, name), size, offset: Math.floor(random() * MIB) };
	});
	return { folders, files };
}

/** Writes the tree under `dir`. */
function writeTree(dir: string, plan: ReturnType<typeof planTree>, base: Buffer): void {
	for (const folder of plan.folders) fs.mkdirSync(path.join(dir, folder), { recursive: true });
	const header = Buffer.alloc(16);
	plan.files.forEach((file, i) => {
		header.writeUInt32LE(i, 0);
		header.writeUInt32LE(SEED, 4);
		header.writeDoubleLE(file.offset, 8);
		const fd = fs.openSync(path.join(dir, file.rel), "w");
		try {
			writeWindow(fd, base, header, file.offset, file.size, 0);
		} finally {
			fs.closeSync(fd);
		}
	});
}

/** Writes one file of `mib` MiB under `dir`: 1 MiB windows of `base` at shifting offsets. */
function writeBig(dir: string, mib: number, base: Buffer): string {
	fs.mkdirSync(dir, { recursive: true });
	const name = `random-${mib}MiB.bin`;
	const fd = fs.openSync(path.join(dir, name), "w");
	const header = Buffer.alloc(16);
	try {
		for (let i = 0; i < mib; i++) {
			header.writeUInt32LE(i, 0);
			header.writeUInt32LE(SEED, 4);
			// 104,729 (a prime) keeps neighbouring MiBs apart in the base.
			const offset = (i * 104_729) % MIB;
			header.writeDoubleLE(offset, 8);
			writeWindow(fd, base, header, offset, MIB, i * MIB);
		}
	} finally {
		fs.closeSync(fd);
	}
	return name;
}

/** Every regular file under `dir`, relative with `/`, sorted. */
function listFiles(dir: string): string[] {
	return (fs.readdirSync(dir, { recursive: true, withFileTypes: true }) as fs.Dirent[])
		.filter((d) => d.isFile())
		.map((d) => path.relative(dir, path.join(d.parentPath, d.name)).replaceAll("\\", "/"))
		.sort();
}

/** The latest modification time of any file under `dir`, in ms since the epoch. */
function newestMtimeMs(dir: string): number {
	return Math.max(0, ...listFiles(dir).map((name) => fs.statSync(path.join(dir, name)).mtimeMs));
}

/** What `b3sum` printed: content hash by relative name. */
interface B3sumResult {
	seconds: number;
	hashes: Map<string, string>;
	error?: string;
}

/**
 * Runs `b3sum` (its default `--num-threads`) over `names` in `dir`, passed by `xargs -0` in
 * chunks that fit ARG_MAX. Timed from spawn to exit; the list is made before.
 */
function runB3sum(dir: string, names: string[]): Promise<B3sumResult> {
	const input = Buffer.from(`${names.join("\0")}\0`);
	return new Promise((resolve) => {
		const started = process.hrtime.bigint();
		const child = spawn("xargs", ["-0", "b3sum"], { cwd: dir, stdio: ["pipe", "pipe", "pipe"] });
		const out: Buffer[] = [];
		let err = "";
		child.stdout.on("data", (chunk: Buffer) => out.push(chunk));
		child.stderr.on("data", (chunk: Buffer) => {
			err = (err + chunk.toString()).slice(-4096);
		});
		child.on("error", (error) => resolve({ seconds: 0, hashes: new Map(), error: error.message }));
		child.on("close", (code) => {
			const seconds = Number(process.hrtime.bigint() - started) / 1e9;
			const hashes = new Map<string, string>();
			for (const line of Buffer.concat(out).toString("utf8").split("\n")) {
				// "<64 hex>  <name>"; names here never need b3sum's escaping.
				const match = /^([0-9a-f]{64}) {2}(.*)$/.exec(line);
				if (match) hashes.set(match[2], match[1]);
			}
			const error =
				code === 0 ? undefined : `b3sum exit ${code}: ${err.trim().split("\n").pop() ?? ""}`;
			resolve({ seconds, hashes, error });
		});
		child.stdin.end(input);
	});
}

/** A child library run: the child's report, its file list and its process's numbers. */
interface LibraryRun {
	report?: ChildReport;
	indexed?: IndexedFile[];
	processSeconds: number;
	peakRss: number;
	error?: string;
}

/** Runs one library over `dir` with `dataDir` in a child process of this script. */
async function runLibrary(
	name: string,
	dir: string,
	dataDir: string,
	out: string,
	bytes: number,
): Promise<LibraryRun> {
	// A minute plus 20 MB/s: far beyond any sane run, short of a hang.
	const timeoutMs = 60_000 + (bytes / (20 * MB)) * 1000;
	const child = new Watched(
		name,
		SELF,
		["--child", "--dir", dir, "--data-dir", dataDir, "--out", out],
		timeoutMs,
	);
	const exit = await child.exited;
	const report = child.json().find((e) => e.event === "indexed") as ChildReport | undefined;
	const peakRss = Math.max(child.peakRss, report?.maxRss ?? 0);
	if (exit.code !== 0 || !report) {
		const why = exit.timedOut
			? `timed out after ${(timeoutMs / 1000).toFixed(0)} s`
			: `exit ${exit.code ?? exit.signal}`;
		const last = child.stderr.trim().split("\n").pop();
		return { processSeconds: exit.seconds, peakRss, error: last ? `${why}: ${last}` : why };
	}
	const indexed = JSON.parse(fs.readFileSync(out, "utf8")) as IndexedFile[];
	return { report, indexed, processSeconds: exit.seconds, peakRss };
}

/** `--child`: opens a library, waits for its first full index, reports, closes. */
async function child(dir: string, dataDir: string, out: string): Promise<void> {
	const started = process.hrtime.bigint();
	const since = () => Number(process.hrtime.bigint() - started) / 1e9;
	const library = await openLibrary(dir, { dataDir });
	const openSeconds = since();
	await library.ready?.();
	const readySeconds = since();
	const files = library.files();
	const indexed: IndexedFile[] = files.map((f) => ({
		name: f.name,
		id: f.id,
		size: f.size,
		contentHash: Buffer.from(f.manifest.contentHash).toString("hex"),
	}));
	const closing = process.hrtime.bigint();
	await library.close();
	const closeSeconds = Number(process.hrtime.bigint() - closing) / 1e9;
	fs.writeFileSync(out, JSON.stringify(indexed));
	const report: ChildReport = {
		event: "indexed",
		openSeconds,
		readySeconds,
		closeSeconds,
		files: indexed.length,
		bytes: indexed.reduce((sum, f) => sum + f.size, 0),
		maxRss: process.resourceUsage().maxRSS * 1024,
	};
	process.stdout.write(`${JSON.stringify(report)}\n`);
}

/** Runs b3sum, cold and warm over one data set; pushes rows and checks. */
async function benchSet(
	set: DataSet,
	root: string,
	rows: RunResult[],
	checks: Check[],
): Promise<void> {
	const names = listFiles(set.dir);
	const b3 = await runB3sum(set.dir, names);
	const b3row: RunResult = {
		set: set.key,
		run: "b3sum",
		status: b3.error || b3.hashes.size !== set.files ? "failed" : "ok",
		seconds: b3.seconds,
		files: b3.hashes.size,
		bytes: set.bytes,
	};
	if (b3.error) b3row.note = b3.error;
	else if (b3.hashes.size !== set.files)
		b3row.note = `hashed ${b3.hashes.size} of ${set.files} files`;
	rows.push(b3row);
	console.log(`${set.key} b3sum: ${b3row.status}, ${fixed(b3.seconds, 2)} s`);

	const dataDir = path.join(root, `data-${set.key}`);
	fs.mkdirSync(dataDir);
	let cold: IndexedFile[] | undefined;
	for (const run of ["cold", "warm"] as const) {
		const result = await runLibrary(
			`${set.key}-${run}`,
			set.dir,
			dataDir,
			path.join(root, `ids-${set.key}-${run}.json`),
			set.bytes,
		);
		const row: RunResult = {
			set: set.key,
			run,
			status: result.error ? "failed" : "ok",
			note: result.error,
			processSeconds: result.processSeconds,
			peakRss: result.peakRss,
		};
		if (result.report && result.indexed) {
			const r = result.report;
			Object.assign(row, {
				seconds: r.readySeconds,
				files: r.files,
				bytes: r.bytes,
				openSeconds: r.openSeconds,
				closeSeconds: r.closeSeconds,
			});
			const complete = r.files === set.files && r.bytes === set.bytes;
			checks.push({
				check: `${set.key} ${run}: every file and byte indexed`,
				pass: complete,
				detail: `${r.files} of ${set.files} files, ${r.bytes} of ${set.bytes} bytes`,
			});
			if (!complete) row.status = "failed";
			if (run === "cold") {
				cold = result.indexed;
				if (!b3.error) {
					const differ = cold.filter((f) => b3.hashes.get(f.name) !== f.contentHash).length;
					checks.push({
						check: `${set.key} cold: content hashes equal b3sum's`,
						pass: differ === 0 && cold.length === b3.hashes.size,
						detail: differ === 0 ? undefined : `${differ} differ`,
					});
				}
			} else if (cold) {
				const coldIds = new Map(cold.map((f) => [f.name, f.id]));
				const differ = result.indexed.filter((f) => coldIds.get(f.name) !== f.id).length;
				const same = differ === 0 && result.indexed.length === cold.length;
				checks.push({
					check: `${set.key} warm: same ids as cold`,
					pass: same,
					detail: same
						? undefined
						: `${differ} differ, ${result.indexed.length} vs ${cold.length} files`,
				});
				if (!same) row.status = "failed";
			}
		}
		rows.push(row);
		console.log(
			`${set.key} ${run}: ${row.status}, ${fixed(row.seconds, 2)} s` +
				(row.note ? ` (${row.note})` : ""),
		);
	}
	for (const row of rows.filter((r) => r.set === set.key && r.seconds && r.files !== undefined)) {
		row.filesPerSecond = (row.files ?? 0) / (row.seconds ?? 1);
		row.mbPerSecond = (row.bytes ?? 0) / MB / (row.seconds ?? 1);
	}
	const base = rows.find((r) => r.set === set.key && r.run === "b3sum" && r.status === "ok");
	for (const row of rows.filter((r) => r.set === set.key && r.run !== "b3sum"))
		if (base?.mbPerSecond && row.mbPerSecond) row.ratioToB3sum = row.mbPerSecond / base.mbPerSecond;
}

/** Pads to a column. */
const col = (text: string, width: number, right = false) =>
	right ? text.padStart(width) : text.padEnd(width);
const fixed = (n: number | undefined, digits = 1) => (n === undefined ? "-" : n.toFixed(digits));

/** The results table, one row per run. */
function table(rows: RunResult[], sets: DataSet[]): string {
	const lines = [
		[
			col("data set", 24),
			col("run", 6),
			col("result", 7),
			col("files", 7, true),
			col("MB", 8, true),
			col("seconds", 8, true),
			col("files/s", 9, true),
			col("MB/s", 8, true),
			col("x b3sum", 8, true),
			col("open s", 7, true),
			col("proc s", 7, true),
			col("peak RSS MB", 12, true),
		].join(" "),
	];
	for (const r of rows) {
		const set = sets.find((s) => s.key === r.set);
		lines.push(
			[
				col(r.run === "b3sum" ? (set?.title ?? r.set) : "", 24),
				col(r.run, 6),
				col(r.status, 7),
				col(r.files === undefined ? "-" : String(r.files), 7, true),
				col(fixed(r.bytes === undefined ? undefined : r.bytes / MB), 8, true),
				col(fixed(r.seconds, 3), 8, true),
				col(fixed(r.filesPerSecond, 0), 9, true),
				col(fixed(r.mbPerSecond), 8, true),
				col(fixed(r.ratioToB3sum, 2), 8, true),
				col(fixed(r.openSeconds, 3), 7, true),
				col(fixed(r.processSeconds, 2), 7, true),
				col(fixed(r.peakRss === undefined ? undefined : r.peakRss / MB, 0), 12, true),
			].join(" "),
		);
		if (r.note) lines.push(`    ${r.note}`);
	}
	return lines.join("\n");
}

/** `b3sum --version`, or why not. */
function b3sumVersion(): string {
	try {
		return execFileSync("b3sum", ["--version"], { encoding: "utf8" }).trim();
	} catch (error) {
		return `unavailable: ${(error as Error).message}`;
	}
}

async function main(root: string): Promise<number> {
	const load = os.loadavg()[0];
	const cpus = os.cpus().length;
	console.log(
		`p2p-tui indexing bench: ${flags.only ?? "tree and big"}, ${cpus} CPUs, Node ` +
			`${process.version}, ${b3sumVersion()}, load average ${load.toFixed(2)} at the start`,
	);
	const random = prng(SEED);
	const base = randomBase(random);
	const plan = planTree(flags.files, random);
	const treeBytes = plan.files.reduce((sum, f) => sum + f.size, 0);
	const bigBytes = flags.bigMib * MIB;
	const need = (flags.only !== "big" ? treeBytes : 0) + (flags.only !== "tree" ? bigBytes : 0);
	const free = freeBytes(root);
	// Room for the data plus the index caches and a margin.
	if (need * 1.05 + 256 * MIB > free)
		throw new Error(
			`not enough space in ${os.tmpdir()}: the data needs ${fixed(need / MB, 0)} MB, ` +
				`${fixed(free / MB, 0)} MB free`,
		);

	const sets: DataSet[] = [];
	const generating = process.hrtime.bigint();
	if (flags.only !== "big") {
		const dir = path.join(root, "tree");
		writeTree(dir, plan, base);
		sets.push({
			key: "tree",
			title: `tree: ${flags.files} files`,
			dir,
			files: plan.files.length,
			bytes: treeBytes,
			folders: plan.folders.length - 1,
		});
	}
	if (flags.only !== "tree") {
		const dir = path.join(root, "big");
		writeBig(dir, flags.bigMib, base);
		sets.push({
			key: "big",
			title: `big: one ${flags.bigMib} MiB file`,
			dir,
			files: 1,
			bytes: bigBytes,
			folders: 0,
		});
	}
	// Written back before timing, so no run competes with writeback of the data.
	execFileSync("sync");
	const generateSeconds = Number(process.hrtime.bigint() - generating) / 1e9;
	// A shared folder is usually not being written as it is indexed. A file modified just before
	// it was hashed is not trusted from the index cache after a restart (like git's "racy"
	// entries, 2 s: the coarsest common mtime), so let the newest file age past that first.
	const newest = Math.max(...sets.map((s) => newestMtimeMs(s.dir)));
	const wait = newest + DATA_AGE_MS - Date.now();
	if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait));
	for (const s of sets)
		console.log(
			`generated ${s.key}: ${s.files} files, ${fixed(s.bytes / MB)} MB` +
				(s.folders ? ` in ${s.folders} nested folders` : ""),
		);
	console.log(`(in ${fixed(generateSeconds, 1)} s, under ${root})`);

	const rows: RunResult[] = [];
	const checks: Check[] = [];
	for (const set of sets) await benchSet(set, root, rows, checks);

	const warmTree = rows.find((r) => r.set === "tree" && r.run === "warm" && r.status === "ok");
	const targets = sets.some((s) => s.key === "tree")
		? [
				{
					target: `warm tree (${flags.files} files) ready < ${TARGET.warmTreeSeconds} s`,
					value: warmTree ? `${fixed(warmTree.seconds, 3)} s` : "n/a",
					pass: warmTree ? (warmTree.seconds ?? Infinity) < TARGET.warmTreeSeconds : null,
				},
			]
		: [];

	console.log(
		"\nseconds: b3sum from spawn to exit (xargs -0 b3sum, default threads); a library from " +
			"Library.open to ready() (cold: empty data folder; warm: the cold run's index cache). " +
			"b3sum only hashes; indexing also builds manifests (piece hashes, ids) and walks the " +
			"folder. open s: Library.open alone; proc s: the library's process from spawn to exit " +
			"(Node start-up, close included). Data in the page cache. MB = 10^6 bytes\n",
	);
	console.log(table(rows, sets));
	console.log("\nchecks");
	for (const c of checks)
		console.log(`  ${c.pass ? "ok  " : "FAIL"}  ${c.check}${c.detail ? ` (${c.detail})` : ""}`);
	if (targets.length > 0) console.log("\ntargets");
	for (const t of targets)
		console.log(
			`  ${t.pass === null ? "n/a " : t.pass ? "PASS" : "FAIL"}  ${col(t.target, 40)} ${t.value}`,
		);

	const report = {
		bench: "indexing",
		date: new Date().toISOString(),
		machine: {
			cpus,
			cpuModel: os.cpus()[0]?.model,
			memoryBytes: os.totalmem(),
			platform: `${os.platform()} ${os.release()} ${os.arch()}`,
			node: process.version,
			b3sum: b3sumVersion(),
			loadAverageAtStart: load,
		},
		seed: SEED,
		generateSeconds,
		dataSets: sets.map(({ dir: _dir, ...s }) => s),
		timing:
			"seconds: b3sum (xargs -0 b3sum, default threads) from spawn to exit; a library from " +
			"Library.open to ready() resolving, cold with an empty data folder, warm with the cold " +
			"run's index cache; b3sum only hashes, indexing also builds manifests; data in the page " +
			"cache; MB = 10^6 bytes; peakRss in bytes",
		targets,
		checks,
		runs: rows,
	};
	fs.mkdirSync(RESULTS_DIR, { recursive: true });
	const defaults = flags.files === 10000 && flags.bigMib === 1024 && !flags.only;
	const suffix = defaults
		? ""
		: `-${flags.files}files-${flags.bigMib}MiB${flags.only ? `-only-${flags.only}` : ""}`;
	const out = path.join(RESULTS_DIR, `indexing${suffix}.json`);
	const rounded = (_key: string, value: unknown) =>
		typeof value === "number" && !Number.isInteger(value) ? Number(value.toFixed(3)) : value;
	fs.writeFileSync(out, `${JSON.stringify(report, rounded, 2)}\n`);
	console.log(`\nwritten to ${path.relative(process.cwd(), out)}`);
	const failed = rows.some((r) => r.status === "failed") || checks.some((c) => !c.pass);
	return failed ? 1 : 0;
}

if (flags.child) {
	if (!flags.dir || !flags["data-dir"] || !flags.out) {
		console.error("bench:index --child wants --dir, --data-dir and --out");
		process.exit(2);
	}
	try {
		await child(flags.dir, flags["data-dir"], flags.out);
		// Whatever the library left behind (a watcher, a timer) must not hold the bench up.
		process.exit(0);
	} catch (error) {
		console.error(`bench:index child: ${(error as Error).message}`);
		process.exit(1);
	}
} else {
	const root = fs.mkdtempSync(path.join(os.tmpdir(), "p2p-tui-bench-index-"));
	const cleanUp = () => {
		killAllNow();
		if (flags.keep) console.log(`kept the generated data in ${root}`);
		else fs.rmSync(root, { recursive: true, force: true });
	};
	for (const signal of ["SIGINT", "SIGTERM"] as const)
		process.once(signal, () => {
			cleanUp();
			process.exit(130);
		});
	try {
		process.exitCode = await main(root);
	} catch (error) {
		console.error(`bench:index: ${(error as Error).message}`);
		process.exitCode = 1;
	} finally {
		await stopAll();
		cleanUp();
	}
}
