/**
 * Swarm benchmark: memory of many peers started cold, and how fast one lists them all.
 *
 * Generates (seeded, in a temporary folder) `--peers` shared folders of `--files` small
 * files each (distinct contents, 0.5-2 KiB, in subfolders of 100), then starts, all at
 * once and cold (empty settings folders, so no index cache), one `serve` process per
 * folder and one watching peer (`bench/swarm-observer.ts`, sharing nothing), every one on
 * loopback only (`--broadcast 127.255.255.255`). It reports the time until the watching
 * peer lists every entry (peers x files), lets the swarm run `--settle` seconds more (every
 * serve peer fetches the 19 others' lists meanwhile), stops everything and reports each
 * process's peak RSS (VmHWM from /proc) against the 150 MB bound.
 *
 * Usage: npm run bench:swarm -- [--peers N] [--files N] [--settle S] [--seed N] [--timeout S]
 *   Exit code 1 when a process failed or the entries were not all listed in time; a peak
 *   over the bound is reported, not fatal. Writes bench/results/swarm.json
 *   (swarm-<peers>x<files>.json for other sizes).
 */
import { createHash } from "node:crypto";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { freeBase, freeUdpPort, killAllNow, machineInfo, stopAll, Watched } from "./process.js";

const here = path.dirname(fileURLToPath(import.meta.url));
const RESULTS_DIR = path.resolve(here, "..", "..", "bench", "results");
const CLI = path.resolve(here, "..", "cli.js");
const OBSERVER = path.resolve(here, "swarm-observer.js");
/**
 * The Node flags the installed command runs with (its `#!/usr/bin/env -S node ...` line):
 * every process of the swarm gets them, as a user's would.
 */
const NODE_FLAGS = (
	/^#!.*\bnode\b(.*)$/m.exec(fs.readFileSync(CLI, "utf8").split("\n")[0])?.[1] ?? ""
)
	.trim()
	.split(/\s+/)
	.filter(Boolean);
/** The bound: every process's peak RSS under this many bytes. */
export const RSS_BOUND = 150 * 1e6;
const MB = 1e6;

const { values: flags } = parseArgs({
	options: {
		peers: { type: "string", default: "20" },
		files: { type: "string", default: "2000" },
		settle: { type: "string", default: "15" },
		seed: { type: "string", default: "1" },
		timeout: { type: "string", default: "300" },
	},
});

/** A whole number flag, or exit with a one-line error. */
function whole(name: string, value: string | undefined, min: number): number {
	const n = Number(value);
	if (!Number.isInteger(n) || n < min) {
		console.error(`bench:swarm: --${name} must be a whole number >= ${min}`);
		process.exit(2);
	}
	return n;
}

/** Writes peer `p`'s folder: `files` files of distinct seeded bytes in subfolders of 100. */
function writeShare(dir: string, p: number, files: number, seed: number): void {
	for (let i = 0; i < files; i++) {
		const sub = path.join(dir, `set-${String(Math.floor(i / 100)).padStart(2, "0")}`);
		if (i % 100 === 0) fs.mkdirSync(sub, { recursive: true });
		const digest = createHash("sha256").update(`${seed}/${p}/${i}`).digest();
		const size = 512 + (digest.readUInt16BE(0) % 1536);
		const bytes = Buffer.alloc(size);
		for (let at = 0; at < size; at += digest.length) digest.copy(bytes, at);
		bytes.writeUInt32BE(i, 0);
		bytes.writeUInt32BE(p, 4);
		fs.writeFileSync(path.join(sub, `peer${p}-file-${String(i).padStart(5, "0")}.bin`), bytes);
	}
}

async function main(): Promise<number> {
	const peers = whole("peers", flags.peers, 1);
	const files = whole("files", flags.files, 1);
	const settle = whole("settle", flags.settle, 0);
	const seed = whole("seed", flags.seed, 0);
	const timeoutMs = whole("timeout", flags.timeout, 10) * 1000;
	const load = os.loadavg()[0];
	const root = fs.mkdtempSync(path.join(os.tmpdir(), "p2p-tui-swarm-"));
	for (const signal of ["SIGINT", "SIGTERM"] as const) {
		process.once(signal, () => {
			killAllNow();
			fs.rmSync(root, { recursive: true, force: true });
			process.exit(130);
		});
	}
	try {
		console.log(`generating ${peers} x ${files.toLocaleString("en")} files in ${root}`);
		for (let p = 0; p < peers; p++)
			writeShare(path.join(root, `peer${p}`, "share"), p, files, seed);
		const discovery = await freeUdpPort();
		const expect = peers * files;
		const serving: Watched[] = [];
		const started = process.hrtime.bigint();
		const observer = new Watched(
			"observer",
			OBSERVER,
			[
				"--discovery-port",
				String(discovery),
				"--port",
				String(await freeBase()),
				"--expect",
				String(expect),
				"--root",
				path.join(root, "observer"),
			],
			timeoutMs + settle * 1000 + 60_000,
			{ node: NODE_FLAGS },
		);
		for (let p = 0; p < peers; p++) {
			const dir = path.join(root, `peer${p}`);
			serving.push(
				new Watched(
					`peer${p}`,
					CLI,
					[
						"serve",
						"--json",
						"--name",
						`peer${p}`,
						"--share",
						path.join(dir, "share"),
						"--downloads",
						path.join(dir, "downloads"),
						"--config-dir",
						path.join(dir, "config"),
						"--port",
						String(await freeBase()),
						"--discovery-port",
						String(discovery),
						"--broadcast",
						"127.255.255.255",
					],
					timeoutMs + settle * 1000 + 60_000,
					{ node: NODE_FLAGS },
				),
			);
		}
		console.log(
			`started ${peers} serve peers and the watching peer (cold: no index cache; node ${NODE_FLAGS.join(" ")})`,
		);
		let listedMs: number | undefined;
		let failed = false;
		try {
			const listed = await observer.waitFor(
				() => observer.event("listed"),
				`all ${expect.toLocaleString("en")} entries listed`,
				timeoutMs,
			);
			listedMs = Number(listed.ms);
			console.log(
				`the watching peer lists all ${expect.toLocaleString("en")} entries after ${(listedMs / 1000).toFixed(2)} s (from its start; ${(Number(process.hrtime.bigint() - started) / 1e9).toFixed(2)} s from the first spawn)`,
			);
		} catch (error) {
			failed = true;
			console.error(`bench:swarm: ${(error as Error).message}`);
		}
		await new Promise((resolve) => setTimeout(resolve, settle * 1000));
		const everyone = [...serving, observer];
		const exits = await Promise.all(everyone.map((w) => w.stop("SIGTERM", 20_000)));
		const rows = everyone.map((w, i) => ({
			name: w.name,
			peakRssBytes: w.peakRss,
			exitCode: exits[i].code,
		}));
		for (const [i, exit] of exits.entries()) {
			if (exit.code !== 0 && exit.signal !== "SIGTERM") {
				failed = true;
				console.error(
					`${everyone[i].name} ended with ${exit.code ?? exit.signal}: ${everyone[i].stderr.trim()}`,
				);
			}
		}
		const stopped = observer.event("stopped");
		if (stopped) console.log(`watching peer's memory at most: ${JSON.stringify(stopped.memory)}`);
		const peaks = rows.map((r) => r.peakRssBytes);
		const worst = Math.max(...peaks);
		const sorted = [...peaks].sort((a, b) => a - b);
		console.log("\nprocess      peak RSS");
		for (const r of rows)
			console.log(`${r.name.padEnd(12)} ${(r.peakRssBytes / MB).toFixed(1).padStart(6)} MB`);
		console.log(
			`\nserve peers: median ${(sorted[Math.floor(sorted.length / 2)] / MB).toFixed(1)} MB, max ${(Math.max(...serving.map((w) => w.peakRss)) / MB).toFixed(1)} MB; watching peer ${(observer.peakRss / MB).toFixed(1)} MB`,
		);
		const pass = worst < RSS_BOUND;
		console.log(
			`\ntargets\n  ${pass ? "PASS" : "FAIL"}  every process under ${RSS_BOUND / MB} MB peak RSS: worst ${(worst / MB).toFixed(1)} MB`,
		);
		const report = {
			bench: "swarm",
			date: new Date().toISOString(),
			machine: machineInfo(load),
			peers,
			filesPerPeer: files,
			entries: expect,
			settleSeconds: settle,
			listedMs: listedMs ?? null,
			targets: [
				{
					target: `every process under ${RSS_BOUND / MB} MB peak RSS (${peers} peers x ${files} files, cold)`,
					value: worst,
					pass,
				},
			],
			processes: rows,
		};
		fs.mkdirSync(RESULTS_DIR, { recursive: true });
		const name = peers === 20 && files === 2000 ? "swarm.json" : `swarm-${peers}x${files}.json`;
		const out = path.join(RESULTS_DIR, name);
		fs.writeFileSync(out, `${JSON.stringify(report, null, 2)}\n`);
		console.log(`\nwritten to ${path.relative(process.cwd(), out)}`);
		return failed ? 1 : 0;
	} finally {
		await stopAll();
		fs.rmSync(root, { recursive: true, force: true });
	}
}

main().then(
	(code) => {
		process.exitCode = code;
	},
	(error: unknown) => {
		killAllNow();
		console.error(`bench:swarm: ${(error as Error).message}`);
		process.exitCode = 1;
	},
);
