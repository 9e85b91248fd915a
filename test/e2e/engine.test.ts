/**
 * The transfer engine under real faults, end to end: a `get` killed with SIGKILL and
 * resumed, seeders that leave or crash mid-download, a download that waits for a new
 * seeder, a full disk (a small tmpfs: the download waits and goes on once space is freed), a downloads folder removed mid-download, and a file
 * over 4 GiB (offsets above 2^32). Real sockets on loopback only, real files, results
 * compared byte for byte (b3sum or Buffer.equals).
 */
import assert from "node:assert/strict";
import { type ChildProcess, execFileSync, spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import fs from "node:fs";
import path from "node:path";
import { describe, it } from "node:test";
import { OperationError } from "../../source/errors.js";
import type { Peer } from "../../source/peer/peer.js";
import type { TransferState } from "../../source/peer/types.js";
import { pieceCount, pieceSizeFor } from "../../source/protocol/manifest.js";
import { decodeResume, encodeResume, type ResumeRecord } from "../../source/protocol/resume.js";
import { freeBase, freePort, tempDir, waitFor } from "../helpers/net.js";
import { CLI, loopbackNet, peerFolders, runCli, ServeProcess } from "../helpers/process.js";
import { Swarm } from "../helpers/swarm.js";

const MiB = 1024 * 1024;
const GiB = 1024 * MiB;
/** Generous deadline for anything that should happen within seconds. */
const PATIENCE = 60_000;

function b3sum(file: string): string {
	return execFileSync("b3sum", ["--no-names", file], { encoding: "utf8" }).trim();
}

/** Writes `size` random bytes to `file` and returns them. */
function randomFile(file: string, size: number): Buffer {
	fs.mkdirSync(path.dirname(file), { recursive: true });
	const content = randomBytes(size);
	fs.writeFileSync(file, content);
	return content;
}

/** The resume record at `file` when it exists and decodes, else undefined. */
function readRecord(file: string): ResumeRecord | undefined {
	try {
		return decodeResume(fs.readFileSync(file)) ?? undefined;
	} catch {
		return undefined;
	}
}

function hasBit(bits: Uint8Array, index: number): boolean {
	return (bits[index >> 3] & (0x80 >> (index & 7))) !== 0;
}

/** Indices of the pieces a record marks as on disk. */
function recordedPieces(record: ResumeRecord): number[] {
	const out: number[] = [];
	const count = pieceCount(record.size, record.pieceSize);
	for (let i = 0; i < count; i++) if (hasBit(record.have, i)) out.push(i);
	return out;
}

/** Bytes of the pieces a record marks as on disk (the last piece may be short). */
function recordedBytes(record: ResumeRecord): number {
	let bytes = 0;
	for (const i of recordedPieces(record))
		bytes += Math.min(record.pieceSize, record.size - i * record.pieceSize);
	return bytes;
}

/** Asserts every piece the record names is on disk in `partial` exactly as in `content`. */
function assertRecordTruthful(record: ResumeRecord, partial: string, content: Buffer): void {
	const onDisk = fs.readFileSync(partial);
	for (const i of recordedPieces(record)) {
		const start = i * record.pieceSize;
		const end = Math.min(record.size, start + record.pieceSize);
		assert.ok(
			onDisk.subarray(start, end).equals(content.subarray(start, end)),
			`piece ${i} named by the resume record is on disk as in the source`,
		);
	}
}

function exited(child: ChildProcess): Promise<{ code: number | null; signal: string | null }> {
	return new Promise((resolve) => {
		if (child.exitCode !== null || child.signalCode !== null)
			return resolve({ code: child.exitCode, signal: child.signalCode });
		child.once("exit", (code, signal) => resolve({ code, signal }));
	});
}

/**
 * Waits until `peer` lists exactly one file, from `sources` peers (the Swarm helper's wait
 * is shorter than a busy machine may need, with a child process to start).
 */
async function listed(peer: Peer, sources = 1): Promise<void> {
	try {
		await waitFor(
			() => peer.files().length === 1 && peer.files()[0].peers.length >= sources,
			`one file listed by ${sources} peers`,
			PATIENCE,
		);
	} catch (error) {
		const heard = peer.peers().map((p) => `${p.name} (${p.files} files)`);
		throw new Error(`${String(error)}; peers heard: ${heard.join(", ") || "none"}`);
	}
}

/** The leecher's running download of `id` (it exists once the manifest arrived). */
async function downloadOf(peer: Peer, id: string) {
	return waitFor(() => peer.downloadOf(id), "the download to start", PATIENCE);
}

/** Waits until the download of `id` has `status`; the error names the state it had. */
async function statusBecomes(peer: Peer, id: string, status: string): Promise<void> {
	try {
		await waitFor(() => peer.downloadOf(id)?.state().status === status, status, PATIENCE);
	} catch (error) {
		throw new Error(`${String(error)}; state ${JSON.stringify(peer.downloadOf(id)?.state())}`);
	}
}

/** A download's byte counters, for the test's diagnostics. */
function counters(state: TransferState): string {
	const { size, resumedBytes, fromSeeders, fromDistribution, hashFailures } = state;
	return `size ${size}, resumed ${resumedBytes}, from seeders ${fromSeeders}, from distribution ${fromDistribution}, hash failures ${hashFailures}`;
}

describe("the engine under faults, end to end", () => {
	it("a get killed with SIGKILL resumes from its record and fetches only what is missing", {
		timeout: 180_000,
	}, async (t) => {
		const root = tempDir();
		const servers: ServeProcess[] = [];
		let getter: ChildProcess | undefined;
		try {
			const size = 48 * MiB;
			const share = path.join(root, "seed-share");
			const content = randomFile(path.join(share, "movie.bin"), size);
			const net = loopbackNet(await freePort());
			// 12 MB/s: the whole file takes about four seconds.
			const seeder = new ServeProcess([
				...net,
				...peerFolders(root, "seeder", share),
				"--port",
				String(await freeBase()),
				"--max-up",
				"12000",
			]);
			servers.push(seeder);
			await waitFor(() => seeder.event("ready"), "the seeder ready", PATIENCE);

			const getArgs = async () => [
				"get",
				"movie.bin",
				...net,
				...peerFolders(root, "getter"),
				"--port",
				String(await freeBase()),
				"--wait",
				"15000",
				"--json",
			];
			const downloads = path.join(root, "getter", "dl");
			const final = path.join(downloads, "movie.bin");
			const partial = `${final}.p2p-part`;
			const resume = `${final}.p2p-resume`;
			let stderr = "";
			getter = spawn(process.execPath, [CLI, ...(await getArgs())], {
				stdio: ["ignore", "pipe", "pipe"],
			});
			getter.stderr?.setEncoding("utf8");
			getter.stderr?.on("data", (chunk: string) => {
				stderr += chunk;
			});
			const first = getter;
			await waitFor(
				() => {
					if (first.exitCode !== null) throw new Error(`get exited early: ${stderr}`);
					const record = fs.existsSync(partial) ? readRecord(resume) : undefined;
					// An eighth of the file (24 of 192 pieces) on disk and recorded.
					return record && recordedPieces(record).length >= 24;
				},
				"a resume record naming 24 pieces beside the partial file",
				PATIENCE,
			);
			first.kill("SIGKILL");
			const end = await exited(first);
			assert.equal(end.signal, "SIGKILL", `the get died of SIGKILL, not ${JSON.stringify(end)}`);
			assert.ok(!fs.existsSync(final), "no final file after the kill");
			assert.ok(fs.existsSync(partial), "the partial file stays");
			const record = readRecord(resume);
			assert.ok(record, "the resume record stays and decodes");
			const recorded = recordedPieces(record);
			assert.ok(recorded.length > 0, "the record names some pieces");
			assert.ok(
				recorded.length < pieceCount(size, record.pieceSize),
				"killed before the end (a slower --max-up is needed otherwise)",
			);
			assert.equal(record.size, size);
			assertRecordTruthful(record, partial, content);

			const again = await runCli(await getArgs(), 120_000);
			assert.equal(again.code, 0, again.stderr);
			const out = JSON.parse(again.stdout) as {
				path: string;
				size: number;
				fromSeeders: number;
				fromDistribution: number;
				resumedBytes: number;
				hashFailures: number;
			};
			assert.equal(out.path, final);
			assert.equal(out.size, size);
			assert.equal(b3sum(final), b3sum(path.join(share, "movie.bin")));
			assert.ok(fs.readFileSync(final).equals(content));
			assert.ok(out.resumedBytes > 0, `resumedBytes ${out.resumedBytes}`);
			assert.equal(out.resumedBytes, recordedBytes(record), "every recorded piece was taken up");
			const fetched = out.fromSeeders + out.fromDistribution;
			t.diagnostic(
				`size ${size}, resumed ${out.resumedBytes}, fetched ${fetched}, hash failures ${out.hashFailures}`,
			);
			assert.ok(
				fetched + out.resumedBytes <= size + 4 * record.pieceSize,
				`only missing pieces fetched: fetched ${fetched} + resumed ${out.resumedBytes} of ${size}`,
			);
			assert.ok(!fs.existsSync(partial), "no .p2p-part left");
			assert.ok(!fs.existsSync(resume), "no .p2p-resume left");
		} finally {
			getter?.kill("SIGKILL");
			await Promise.all(servers.map((s) => s.stop()));
			fs.rmSync(root, { recursive: true, force: true });
		}
	});

	it("a seeder that says goodbye mid-download: the other one finishes it", {
		timeout: 120_000,
	}, async (t) => {
		const swarm = await Swarm.create();
		try {
			const size = 16 * MiB + 4321;
			const share = path.join(swarm.root, "seed-share");
			const content = randomFile(path.join(share, "data.bin"), size);
			const one = await swarm.add("one", share, { maxUploadRate: 4_000_000 });
			await swarm.add("two", share, { maxUploadRate: 4_000_000 });
			const leecher = await swarm.add("leecher");
			await listed(leecher, 2);
			const { id } = leecher.files()[0];
			const done = leecher.download(id);
			const download = await downloadOf(leecher, id);
			await waitFor(
				() =>
					download.state().verifiedPieces >= download.pieceCount / 4 && download.state().peers >= 2,
				"a quarter of the pieces verified, both seeders serving",
				PATIENCE,
			);
			assert.ok(download.state().verifiedPieces < download.pieceCount, "stopped mid-download");
			await one.stop();
			const result = await done;
			t.diagnostic(counters(result));
			assert.equal(result.status, "complete");
			assert.ok(fs.readFileSync(result.path ?? "").equals(content));
			assert.equal(result.hashFailures, 0);
			const fetched = result.fromSeeders + result.fromDistribution;
			assert.ok(
				fetched <= size + 4 * download.pieceSize,
				`nothing verified fetched again: ${fetched} bytes received for ${size}`,
			);
		} finally {
			await swarm.close();
		}
	});

	it("a seeder process killed with SIGKILL mid-download: the other one finishes it", {
		timeout: 120_000,
	}, async (t) => {
		const swarm = await Swarm.create();
		let crasher: ServeProcess | undefined;
		try {
			const size = 16 * MiB + 999;
			const share = path.join(swarm.root, "seed-share");
			const content = randomFile(path.join(share, "data.bin"), size);
			crasher = new ServeProcess([
				...loopbackNet(swarm.discoveryPort),
				...peerFolders(swarm.root, "crasher", share),
				"--port",
				String(await freeBase()),
				"--max-up",
				"4000",
			]);
			const spawned = crasher;
			await waitFor(
				() => spawned.event("ready") ?? (spawned.child.exitCode !== null && "exited"),
				"the serve process ready",
				PATIENCE,
			);
			assert.ok(spawned.event("ready"), "the serve process started");
			await swarm.add("steady", share, { maxUploadRate: 4_000_000 });
			const leecher = await swarm.add("leecher");
			await listed(leecher, 2);
			const { id } = leecher.files()[0];
			const done = leecher.download(id);
			const download = await downloadOf(leecher, id);
			await waitFor(
				() =>
					download.state().verifiedPieces >= download.pieceCount / 4 && download.state().peers >= 2,
				"a quarter of the pieces verified, both seeders serving",
				PATIENCE,
			);
			assert.ok(download.state().verifiedPieces < download.pieceCount, "killed mid-download");
			const child = crasher.child;
			child.kill("SIGKILL");
			assert.equal((await exited(child)).signal, "SIGKILL");
			const result = await done;
			t.diagnostic(counters(result));
			assert.equal(result.status, "complete");
			assert.ok(fs.readFileSync(result.path ?? "").equals(content));
			assert.equal(result.hashFailures, 0);
			const fetched = result.fromSeeders + result.fromDistribution;
			assert.ok(
				fetched <= size + 4 * download.pieceSize,
				`nothing verified fetched again: ${fetched} bytes received for ${size}`,
			);
		} finally {
			// ServeProcess.stop waits for an exit that already happened when the child died of a
			// signal, so only a child still running is stopped.
			if (crasher && crasher.child.exitCode === null && crasher.child.signalCode === null)
				await crasher.stop();
			await swarm.close();
		}
	});

	it("with no seeder left the download waits, and a new seeder finishes it", {
		timeout: 120_000,
	}, async (t) => {
		const swarm = await Swarm.create();
		try {
			const size = 16 * MiB + 77;
			const share = path.join(swarm.root, "seed-share");
			const content = randomFile(path.join(share, "data.bin"), size);
			const first = await swarm.add("first", share, { maxUploadRate: 4_000_000 });
			const leecher = await swarm.add("leecher");
			await listed(leecher);
			const { id } = leecher.files()[0];
			const done = leecher.download(id);
			let settled = false;
			void done.then(
				() => {
					settled = true;
				},
				() => {
					settled = true;
				},
			);
			const download = await downloadOf(leecher, id);
			await waitFor(
				() => download.state().verifiedPieces >= download.pieceCount / 4,
				"a quarter of the pieces verified",
				PATIENCE,
			);
			await first.stop();
			await statusBecomes(leecher, id, "waiting");
			const before = download.state();
			assert.ok(before.verifiedPieces < before.totalPieces, "stopped mid-download");
			assert.equal(settled, false, "the download neither failed nor finished while waiting");
			await swarm.add("second", share);
			const result = await done;
			t.diagnostic(counters(result));
			assert.equal(result.status, "complete");
			assert.ok(fs.readFileSync(result.path ?? "").equals(content));
			assert.equal(result.hashFailures, 0);
			const fetched = result.fromSeeders + result.fromDistribution;
			assert.ok(
				fetched <= size + 4 * download.pieceSize,
				`nothing verified fetched again: ${fetched} bytes received for ${size}`,
			);
		} finally {
			await swarm.close();
		}
	});

	it("a full disk makes the download wait with a reason, and it resumes by itself once space is freed", {
		timeout: 180_000,
	}, async (t) => {
		const swarm = await Swarm.create();
		const downloads = path.join(swarm.root, "leecher", "downloads");
		fs.mkdirSync(downloads, { recursive: true });
		try {
			execFileSync("mount", ["-t", "tmpfs", "-o", "size=8m", "tmpfs", downloads], {
				stdio: "pipe",
			});
		} catch (error) {
			fs.rmSync(swarm.root, { recursive: true, force: true });
			assert.fail(
				`this test needs to mount an 8 MiB tmpfs as the downloads folder (run as root): ${String(
					(error as { stderr?: unknown }).stderr ?? error,
				).trim()}`,
			);
		}
		let leecher: Peer | undefined;
		try {
			const size = 6 * MiB + 4321;
			const share = path.join(swarm.root, "seed-share");
			const content = randomFile(path.join(share, "big.bin"), size);
			// Something else fills most of the disk: about 3 MiB stay free for a 6 MiB file.
			const filler = path.join(downloads, "filler.bin");
			fs.writeFileSync(filler, Buffer.alloc(5 * MiB, 1));
			await swarm.add("seeder", share);
			leecher = await swarm.add("leecher");
			assert.equal(leecher.self().downloadsDir, downloads);
			await listed(leecher);
			const { id } = leecher.files()[0];
			const done = leecher.download(id);
			let settled = false;
			void done.then(
				() => {
					settled = true;
				},
				() => {
					settled = true;
				},
			);
			const peer = leecher;
			const state = await waitFor(
				() => {
					const s = peer.downloadOf(id)?.state();
					return s && /disk full/.test(s.error ?? "") ? s : undefined;
				},
				"the download to say the disk is full",
				PATIENCE,
			);
			t.diagnostic(`${state.status}: ${state.error}; ${counters(state)}`);
			assert.equal(state.status, "waiting");
			assert.match(state.error ?? "", /^disk full: waiting for space/);
			// The peer's transfer list (what the TUI draws) carries the reason too.
			const row = peer.transfers().find((x) => x.fileId === id);
			assert.match(row?.error ?? "", /disk full: waiting for space/);
			// It stays so: neither failing nor finishing while the disk is full.
			await new Promise((resolve) => setTimeout(resolve, 4_000));
			assert.equal(settled, false, "the download neither failed nor finished");
			assert.equal(peer.downloadOf(id)?.state().status, "waiting");
			const partial = path.join(downloads, "big.bin.p2p-part");
			const resume = path.join(downloads, "big.bin.p2p-resume");
			assert.ok(fs.existsSync(partial), "the partial file is kept");
			assert.ok(!fs.existsSync(path.join(downloads, "big.bin")), "no final file");
			// Every state file on the full disk is whole: the record decodes and tells the truth.
			const record = readRecord(resume);
			if (fs.existsSync(resume)) assert.ok(record, "the resume record decodes");
			if (record) assertRecordTruthful(record, partial, content);

			// Space comes back: the download goes on by itself.
			fs.rmSync(filler);
			const freedAt = Date.now();
			const result = await done;
			const took = Date.now() - freedAt;
			t.diagnostic(`completed ${took} ms after space was freed; ${counters(result)}`);
			assert.ok(took < 60_000, `resumed within 60 s of space freed (${took} ms)`);
			assert.equal(result.status, "complete");
			assert.equal(result.error, undefined);
			assert.equal(result.path, path.join(downloads, "big.bin"));
			assert.ok(fs.readFileSync(result.path).equals(content));
			assert.equal(result.hashFailures, 0);
			assert.ok(!fs.existsSync(partial), "no .p2p-part left");
			assert.ok(!fs.existsSync(resume), "no .p2p-resume left");
		} finally {
			await leecher?.stop();
			try {
				execFileSync("umount", [downloads], { stdio: "pipe" });
			} catch {
				execFileSync("umount", ["-l", downloads], { stdio: "pipe" });
			}
			await swarm.close();
		}
	});

	it("the downloads folder removed mid-download fails it with a clear error, no crash", {
		timeout: 120_000,
	}, async (t) => {
		const swarm = await Swarm.create();
		try {
			const size = 16 * MiB;
			const share = path.join(swarm.root, "seed-share");
			randomFile(path.join(share, "big.bin"), size);
			await swarm.add("seeder", share, { maxUploadRate: 4_000_000 });
			const leecher = await swarm.add("leecher");
			await listed(leecher);
			const { id } = leecher.files()[0];
			const done = leecher.download(id);
			const failed = assert.rejects(done, (error: unknown) => {
				assert.ok(error instanceof OperationError, `an OperationError, got ${String(error)}`);
				assert.match(error.message, /downloads folder .* was removed/);
				return true;
			});
			const download = await downloadOf(leecher, id);
			const downloads = leecher.self().downloadsDir;
			await waitFor(
				() =>
					download.state().verifiedPieces >= 8 &&
					fs.existsSync(path.join(downloads, "big.bin.p2p-resume")),
				"some pieces verified and recorded",
				PATIENCE,
			);
			assert.ok(download.state().verifiedPieces < download.pieceCount, "removed mid-download");
			fs.rmSync(downloads, { recursive: true, force: true });
			await statusBecomes(leecher, id, "failed");
			await failed;
			t.diagnostic(`${download.status}: ${download.error}; ${counters(download.state())}`);
			assert.match(download.state().error ?? "", /downloads folder .* was removed/);
			assert.deepEqual(
				leecher.files().map((f) => f.id),
				[id],
			);
			assert.ok(leecher.peers().some((p) => p.name === "seeder"));
		} finally {
			await swarm.close();
		}
	});

	it("a 4.5 GiB file: only the pieces past the 4 GiB mark are fetched, resumed around them", {
		timeout: 180_000,
	}, async (t) => {
		const swarm = await Swarm.create();
		try {
			const size = 4.5 * GiB + 12_345;
			// The random tail starts inside a piece beyond 4 GiB; everything before it is zeros.
			const tailStart = 4.5 * GiB - 8 * MiB + 100_000;
			assert.ok(tailStart > 2 ** 32);
			const share = path.join(swarm.root, "seed-share");
			fs.mkdirSync(share, { recursive: true });
			const source = path.join(share, "huge.bin");
			fs.writeFileSync(source, "");
			fs.truncateSync(source, size);
			const tail = randomBytes(size - tailStart);
			const fd = fs.openSync(source, "r+");
			try {
				fs.writeSync(fd, tail, 0, tail.length, tailStart);
			} finally {
				fs.closeSync(fd);
			}
			await swarm.add("seeder", share);
			const leecher = await swarm.add("leecher");
			await listed(leecher);
			const file = leecher.files()[0];
			assert.equal(file.size, size);

			// The downloads folder, prepared by hand: a sparse partial file (zeros are the right
			// content of the zero region) and a record naming every piece wholly before the tail.
			const pieceSize = pieceSizeFor(size);
			const count = pieceCount(size, pieceSize);
			const zeroPieces = Math.floor(tailStart / pieceSize);
			const have = new Uint8Array(Math.ceil(count / 8));
			for (let i = 0; i < zeroPieces; i++) have[i >> 3] |= 0x80 >> (i & 7);
			const downloads = leecher.self().downloadsDir;
			const final = path.join(downloads, "huge.bin");
			fs.writeFileSync(`${final}.p2p-part`, "");
			fs.truncateSync(`${final}.p2p-part`, size);
			fs.writeFileSync(
				`${final}.p2p-resume`,
				encodeResume({ fileId: Buffer.from(file.id, "hex"), size, pieceSize, have }),
			);

			const done = leecher.download(file.id);
			const download = await downloadOf(leecher, file.id);
			await waitFor(
				() => download.status !== "starting",
				"the download to open its files",
				PATIENCE,
			);
			if (download.resumedBytes === 0) {
				// Do not fetch 4.5 GiB for nothing: the record was not taken up.
				await download.cancel();
				await done.catch(() => {});
				assert.fail(
					`the hand-made record was ignored: piece size ${pieceSize}, manifest's ${download.pieceSize}`,
				);
			}
			const result = await done;
			t.diagnostic(counters(result));
			assert.equal(result.status, "complete");
			assert.equal(result.path, final);
			assert.equal(download.pieceSize, pieceSize);
			assert.equal(result.resumedBytes, zeroPieces * pieceSize);
			const tailBytes = size - tailStart;
			assert.ok(
				result.fromSeeders + result.fromDistribution <= tailBytes + pieceSize,
				`only the tail fetched: ${result.fromSeeders} from seeders for a tail of ${tailBytes}`,
			);
			assert.equal(result.hashFailures, 0);
			assert.equal(fs.statSync(final).size, size);
			assert.equal(b3sum(final), b3sum(source));
			assert.ok(!fs.existsSync(`${final}.p2p-part`));
			assert.ok(!fs.existsSync(`${final}.p2p-resume`));
		} finally {
			await swarm.close();
		}
	});
});
