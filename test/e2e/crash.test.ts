/**
 * Crash safety, end to end: a `get` killed with SIGKILL at 200 random moments of its
 * download (start-up, pieces arriving, the last piece, the whole-file check, the move to
 * the final name), restarted after each kill. After every kill the final name is absent or
 * holds the source byte for byte, the resume record decodes and names only pieces on disk
 * as in the source, and the settings file still parses; every run that is not killed
 * completes with the source's content. Real processes and sockets on loopback only.
 *
 * The moments come from a seeded PRNG (P2P_CRASH_SEED overrides the seed), spread over the
 * time one uninterrupted download takes (measured first), so a resumed run, which has less
 * to fetch, is more often killed late in its life or not at all.
 */
import assert from "node:assert/strict";
import { type ChildProcess, spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import fs from "node:fs";
import path from "node:path";
import { describe, it } from "node:test";
import { pieceCount } from "../../source/protocol/manifest.js";
import { decodeResume } from "../../source/protocol/resume.js";
import { freeBase, freePort, tempDir, waitFor } from "../helpers/net.js";
import { CLI, loopbackNet, peerFolders, ServeProcess } from "../helpers/process.js";

const MiB = 1024 * 1024;
/** SIGKILLs in all, shared by the lanes. */
const KILLS = 200;
/** Leechers killed side by side (each its own folders), to keep the test short. */
const LANES = 2;
const SIZE = 4 * MiB + 12_345;
/** Download cap of each get, in KB/s: an uninterrupted get lasts about a second. */
const MAX_DOWN_KBPS = 5_000;

/** mulberry32: a small seeded PRNG giving floats in [0, 1). */
function prng(seed: number): () => number {
	let a = seed >>> 0;
	return () => {
		a = (a + 0x6d2b79f5) >>> 0;
		let t = a;
		t = Math.imul(t ^ (t >>> 15), t | 1);
		t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
		return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296;
	};
}

function hasBit(bits: Uint8Array, index: number): boolean {
	return (bits[index >> 3] & (0x80 >> (index & 7))) !== 0;
}

interface Run {
	child: ChildProcess;
	exit: Promise<{ code: number | null; signal: string | null }>;
	stdout: () => string;
	stderr: () => string;
}

function startGet(args: string[]): Run {
	const child = spawn(process.execPath, [CLI, ...args], { stdio: ["ignore", "pipe", "pipe"] });
	let stdout = "";
	let stderr = "";
	child.stdout?.setEncoding("utf8");
	child.stderr?.setEncoding("utf8");
	child.stdout?.on("data", (chunk: string) => {
		stdout += chunk;
	});
	child.stderr?.on("data", (chunk: string) => {
		stderr += chunk;
	});
	const exit = new Promise<{ code: number | null; signal: string | null }>((resolve) =>
		child.once("exit", (code, signal) => resolve({ code, signal })),
	);
	return { child, exit, stdout: () => stdout, stderr: () => stderr };
}

/** What the files of one leecher say about the moment it was killed. */
function phaseAfterKill(final: string, total: number): string {
	if (fs.existsSync(final)) return "after the move to the final name";
	const partial = `${final}.p2p-part`;
	if (!fs.existsSync(partial)) return "start-up";
	let record: ReturnType<typeof decodeResume> = null;
	try {
		record = decodeResume(fs.readFileSync(`${final}.p2p-resume`));
	} catch {
		// no record yet
	}
	if (!record) return "first pieces";
	let recorded = 0;
	for (let i = 0; i < total; i++) if (hasBit(record.have, i)) recorded++;
	// Pieces come mostly in order: a partial file at full length has its last pieces.
	if (fs.statSync(partial).size >= SIZE && recorded >= total / 2)
		return "last pieces, whole-file check or move";
	return "pieces arriving";
}

/**
 * Asserts the leecher's files are sound after a kill: the final name absent or the source;
 * a resume record that decodes and names only pieces on disk as in the source; settings
 * that parse.
 */
function assertSound(final: string, content: Buffer, configDir: string, what: string): void {
	if (fs.existsSync(final))
		assert.ok(fs.readFileSync(final).equals(content), `${what}: the final name holds the source`);
	const resume = `${final}.p2p-resume`;
	if (fs.existsSync(resume)) {
		const record = decodeResume(fs.readFileSync(resume));
		assert.ok(record, `${what}: the resume record decodes`);
		assert.equal(record.size, content.length, `${what}: the record's size`);
		const partial = `${final}.p2p-part`;
		const count = pieceCount(record.size, record.pieceSize);
		// Killed between the partial file's unlink and the record's, a record is left alone: a
		// get takes up a record only beside its partial file, and drops it once it sees the file.
		const onDisk = fs.existsSync(partial) ? fs.readFileSync(partial) : undefined;
		for (let i = 0; i < count && onDisk; i++) {
			if (!hasBit(record.have, i)) continue;
			const start = i * record.pieceSize;
			const end = Math.min(record.size, start + record.pieceSize);
			assert.ok(
				onDisk.subarray(start, end).equals(content.subarray(start, end)),
				`${what}: piece ${i} named by the record is on disk as in the source`,
			);
		}
	}
	const settings = path.join(configDir, "config.json");
	if (fs.existsSync(settings))
		assert.doesNotThrow(
			() => JSON.parse(fs.readFileSync(settings, "utf8")),
			`${what}: the settings file parses`,
		);
}

describe("crash safety, end to end", () => {
	it(`a get killed with SIGKILL at ${KILLS} random moments always ends with the source's bytes`, {
		timeout: 600_000,
	}, async (t) => {
		const seed = Number(process.env.P2P_CRASH_SEED ?? 0x6b696c6c);
		const random = prng(seed);
		const root = tempDir();
		let seeder: ServeProcess | undefined;
		const running = new Set<ChildProcess>();
		try {
			const share = path.join(root, "seed-share");
			fs.mkdirSync(share, { recursive: true });
			const content = randomBytes(SIZE);
			fs.writeFileSync(path.join(share, "crash.bin"), content);
			const net = loopbackNet(await freePort(), 200);
			seeder = new ServeProcess([
				...net,
				...peerFolders(root, "seeder", share),
				"--port",
				String(await freeBase()),
			]);
			const started = seeder;
			await waitFor(
				() => started.event("ready") ?? (started.child.exitCode !== null && "exited"),
				"the seeder ready",
				60_000,
			);
			assert.ok(started.event("ready"), "the seeder started");

			const getArgs = async (lane: number) => [
				"get",
				"crash.bin",
				...net,
				...peerFolders(root, `getter${lane}`),
				"--port",
				String(await freeBase()),
				"--wait",
				"20000",
				"--max-down",
				String(MAX_DOWN_KBPS),
				"--json",
			];
			const finalOf = (lane: number) => path.join(root, `getter${lane}`, "dl", "crash.bin");
			/** Removes a lane's download (and any leftovers) so its next get starts afresh. */
			const reset = (lane: number) => {
				const dl = path.dirname(finalOf(lane));
				fs.rmSync(dl, { recursive: true, force: true });
			};
			const checkComplete = (lane: number, run: Run, what: string) => {
				const final = finalOf(lane);
				const out = JSON.parse(run.stdout()) as { path: string; size: number };
				assert.equal(out.path, final, `${what}: saved under its own name`);
				assert.ok(fs.readFileSync(final).equals(content), `${what}: the file is the source`);
				assert.ok(!fs.existsSync(`${final}.p2p-part`), `${what}: no partial file left`);
				assert.ok(!fs.existsSync(`${final}.p2p-resume`), `${what}: no resume record left`);
				assert.ok(!fs.existsSync(`${final}.p2p-resume.tmp`), `${what}: no temporary record left`);
			};

			// One uninterrupted get measures how long a whole download lasts here.
			const calibration = startGet(await getArgs(0));
			running.add(calibration.child);
			const t0 = Date.now();
			const first = await calibration.exit;
			running.delete(calibration.child);
			const span = Date.now() - t0;
			assert.equal(first.code, 0, calibration.stderr());
			checkComplete(0, calibration, "the uninterrupted get");
			reset(0);
			t.diagnostic(
				`seed ${seed}; an uninterrupted get takes ${span} ms; kill window 0..${span} ms`,
			);

			const phases = new Map<string, number>();
			let kills = 0;
			let completions = 0;
			const lane = async (index: number) => {
				const configDir = path.join(root, `getter${index}`, "cfg");
				const final = finalOf(index);
				const total = pieceCount(SIZE, 256 * 1024);
				while (kills < KILLS) {
					// A quarter of the kills aim at the end: a few ms after the partial file reaches
					// its full length (the last pieces, the whole-file check, the move), a window
					// too short for uniform moments to hit often.
					const aimed = random() < 0.25;
					const delay = Math.floor(random() * (aimed ? 40 : span));
					const run = startGet(await getArgs(index));
					running.add(run.child);
					const timer = (async () => {
						if (aimed) {
							const partial = `${final}.p2p-part`;
							const deadline = Date.now() + 20_000;
							while (run.child.exitCode === null && Date.now() < deadline) {
								try {
									if (fs.statSync(partial).size >= SIZE) break;
								} catch {
									// not created yet
								}
								await new Promise((resolve) => setTimeout(resolve, 1));
							}
						}
						await new Promise((resolve) => setTimeout(resolve, delay));
						return "timer" as const;
					})();
					const first = await Promise.race([run.exit, timer]);
					if (first === "timer" && kills < KILLS) {
						kills++;
						run.child.kill("SIGKILL");
						const end = await run.exit;
						running.delete(run.child);
						if (end.signal === "SIGKILL") {
							const phase = phaseAfterKill(final, total);
							phases.set(phase, (phases.get(phase) ?? 0) + 1);
							assertSound(
								final,
								content,
								configDir,
								`kill ${kills} (${aimed ? `${delay} ms after full length` : `${delay} ms`}, ${phase})`,
							);
							continue;
						}
						// It finished just before the signal.
						assert.equal(end.code, 0, `get ${kills}: ${run.stderr()}`);
					} else {
						const end = await run.exit;
						running.delete(run.child);
						assert.equal(end.code, 0, `a restarted get failed: ${run.stderr()}`);
					}
					completions++;
					checkComplete(index, run, `completion ${completions}`);
					reset(index);
				}
			};
			await Promise.all(Array.from({ length: LANES }, (_, i) => lane(i)));
			// Each lane's last kill leaves a download behind: it must finish cleanly.
			for (let index = 0; index < LANES; index++) {
				const run = startGet(await getArgs(index));
				running.add(run.child);
				const end = await run.exit;
				running.delete(run.child);
				assert.equal(end.code, 0, `the last restart of lane ${index}: ${run.stderr()}`);
				checkComplete(index, run, `the last restart of lane ${index}`);
			}
			t.diagnostic(
				`${kills} kills, ${completions} restarts completed between them; kills by phase: ${[
					...phases,
				]
					.map(([phase, n]) => `${phase} ${n}`)
					.join(", ")}`,
			);
			assert.equal(kills, KILLS);
		} finally {
			for (const child of running) child.kill("SIGKILL");
			await seeder?.stop();
			fs.rmSync(root, { recursive: true, force: true });
		}
	});
});
