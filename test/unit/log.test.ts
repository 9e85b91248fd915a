/**
 * The log file: real peers on loopback, the log in a temporary state folder, and the lines
 * a download, its controls, a limit change, a liar's bad pieces and its ban leave there.
 */
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import fs from "node:fs";
import path from "node:path";
import { afterEach, describe, it } from "node:test";
import envPaths from "env-paths";
import { logFile } from "../../source/cli/commands.js";
import { identityOf } from "../../source/library/identity.js";
import { IndexCache } from "../../source/library/index-cache.js";
import { hashFile } from "../../source/library/library.js";
import { attachLog } from "../../source/peer/log.js";
import { tempDir, waitFor } from "../helpers/net.js";
import { Swarm } from "../helpers/swarm.js";

interface LogLine {
	level: number;
	time: string;
	pid: number;
	event: string;
	msg: string;
	[field: string]: unknown;
}

/** The log's lines, parsed (every line must be JSON). */
function readLog(file: string): LogLine[] {
	if (!fs.existsSync(file)) return [];
	return fs
		.readFileSync(file, "utf8")
		.split("\n")
		.filter((line) => line.length > 0)
		.map((line) => JSON.parse(line) as LogLine);
}

describe("the log file's place", () => {
	it("lives in the state folder (the config folder when given), or where --log says", () => {
		assert.equal(logFile({ configDir: "/tmp/cfg" }), "/tmp/cfg/p2p-tui.log");
		assert.equal(logFile({ configDir: "/tmp/cfg", log: "/var/x.log" }), "/var/x.log");
		assert.equal(logFile({ log: "rel.log" }), path.resolve("rel.log"));
		assert.equal(logFile({}), path.join(envPaths("p2p-tui", { suffix: "" }).log, "p2p-tui.log"));
	});
});

describe("the log file", () => {
	let swarm: Swarm;
	afterEach(async () => {
		await swarm.close();
	});

	it("a download, its controls and a limit change leave their lines", async () => {
		swarm = await Swarm.create();
		const state = path.join(swarm.root, "state");
		const file = logFile({ configDir: state });
		const content = randomBytes(2 * 1024 * 1024);
		const share = path.join(swarm.root, "seed-share");
		fs.mkdirSync(share, { recursive: true });
		fs.writeFileSync(path.join(share, "film.bin"), content);
		const leecher = await swarm.add("leecher", undefined, { maxDownloadRate: 2_000_000 });
		const log = attachLog(leecher, file);
		try {
			await swarm.add("seeder", share);
			await swarm.waitForFiles(leecher, 1);
			const id = leecher.files()[0].id;
			const done = leecher.download(id);
			await waitFor(() => (leecher.transfers()[0]?.bytesDone ?? 0) > 0, "bytes");
			await leecher.pause(id);
			leecher.resume(id);
			leecher.setLimits({ maxDown: null, maxActive: 5 });
			const result = await done;
			const lines = readLog(file);
			const events = lines.map((l) => l.event);
			for (const event of [
				"peer-joined",
				"download-started",
				"download-paused",
				"download-resumed",
				"limits-changed",
				"download-complete",
			])
				assert.ok(events.includes(event), `${event} in ${events.join(", ")}`);
			const byEvent = (event: string) => lines.find((l) => l.event === event) as LogLine;
			assert.equal(byEvent("peer-joined").msg, "peer joined: seeder (127.0.0.1)");
			assert.equal(byEvent("download-started").msg, "download started: film.bin");
			assert.equal(byEvent("download-paused").msg, "paused film.bin");
			assert.equal(byEvent("download-resumed").msg, "resumed film.bin");
			assert.equal(
				byEvent("limits-changed").msg,
				"limits: down unlimited, up unlimited, 5 active at once",
			);
			const complete = byEvent("download-complete");
			assert.equal(complete.msg, `download complete: ${result.path}`);
			assert.equal(complete.id, id);
			assert.equal(complete.size, content.length);
			// In the order they happened, with pino's level, ISO time and pid.
			assert.ok(events.indexOf("download-started") < events.indexOf("download-paused"));
			assert.ok(events.indexOf("download-resumed") < events.indexOf("download-complete"));
			for (const l of lines) {
				assert.equal(l.pid, process.pid);
				assert.ok(!Number.isNaN(Date.parse(l.time)), l.time);
				assert.equal(l.level, 30);
			}
		} finally {
			log.close();
		}
		// Closed: nothing more is written.
		const before = fs.readFileSync(file, "utf8");
		leecher.setLimits({ maxActive: 2 });
		assert.equal(fs.readFileSync(file, "utf8"), before);
	});

	it("stray output kept off the TUI's screen is noted with its source", async () => {
		swarm = await Swarm.create();
		const file = logFile({ configDir: path.join(swarm.root, "state") });
		const log = attachLog(await swarm.add("alone"), file);
		log.note("warn", "a library warned");
		log.close();
		log.note("stderr", "after close");
		const stray = readLog(file).filter((l) => l.event === "stray-output");
		assert.equal(stray.length, 1);
		assert.equal(stray[0].source, "warn");
		assert.equal(stray[0].msg, "a library warned");
	});

	it("a cancel keeping the partial file, and one deleting it", async () => {
		swarm = await Swarm.create();
		const file = path.join(swarm.root, "logs", "custom.log");
		const share = path.join(swarm.root, "seed-share");
		fs.mkdirSync(share, { recursive: true });
		fs.writeFileSync(path.join(share, "c.bin"), randomBytes(2 * 1024 * 1024));
		await swarm.add("seeder", share);
		const leecher = await swarm.add("leecher", undefined, { maxDownloadRate: 1_000_000 });
		const log = attachLog(leecher, file);
		try {
			await swarm.waitForFiles(leecher, 1);
			const id = leecher.files()[0].id;
			leecher.download(id).catch(() => {});
			await waitFor(() => (leecher.transfers()[0]?.bytesDone ?? 0) > 0, "bytes");
			await leecher.cancel(id, { keepPartial: true });
			await leecher.cancel(id, { keepPartial: false });
		} finally {
			log.close();
		}
		const cancels = readLog(file).filter((l) => l.event === "download-cancelled");
		assert.deepEqual(
			cancels.map((l) => [l.msg, l.keepPartial]),
			[
				["cancelled c.bin (partial kept)", true],
				["cancelled c.bin (partial deleted)", false],
			],
		);
	});

	it("a liar's bad pieces, its ban and the failed download", async () => {
		swarm = await Swarm.create();
		// The liar serves corrupt bytes under the honest manifest (a poisoned index cache, as
		// in the transfer tests): every piece it sends fails its BLAKE3 check.
		const content = randomBytes(2 * 1024 * 1024);
		const good = tempDir();
		const bad = path.join(swarm.root, "bad");
		const mtime = new Date("2026-01-01T00:00:00Z");
		for (const dir of [good, bad]) {
			fs.mkdirSync(dir, { recursive: true });
			fs.writeFileSync(path.join(dir, "data.bin"), content);
			fs.utimesSync(path.join(dir, "data.bin"), mtime, mtime);
		}
		const liarFile = fs.realpathSync(path.join(bad, "data.bin"));
		const fd = fs.openSync(liarFile, "r+");
		for (let offset = 1000; offset < content.length; offset += 256 * 1024)
			fs.writeSync(fd, Buffer.from([content[offset] ^ 0xff]), 0, 1, offset);
		fs.closeSync(fd);
		const honest = await hashFile(path.join(good, "data.bin"));
		fs.rmSync(good, { recursive: true, force: true });
		const liarData = path.join(swarm.root, "liar-data");
		const poisoned = await IndexCache.load(liarData);
		const identity = identityOf(fs.statSync(liarFile, { bigint: true }));
		poisoned.remember(liarFile, identity, honest.manifestBytes, identity.ctimeNs + 10_000_000_000n);
		assert.ok(await poisoned.save());

		const state = path.join(swarm.root, "state");
		const leecher = await swarm.add("leecher");
		const log = attachLog(leecher, logFile({ configDir: state }));
		try {
			await swarm.add("liar", bad, { dataDir: liarData });
			await swarm.waitForFiles(leecher, 1);
			await assert.rejects(leecher.download(leecher.files()[0].id), { code: "FAILED" });
		} finally {
			log.close();
		}
		const lines = readLog(path.join(state, "p2p-tui.log"));
		const failures = lines.filter((l) => l.event === "hash-failure");
		// BAN_BAD_PIECES (2) bad pieces from the only source ban it.
		assert.ok(failures.length >= 2, `${failures.length} hash failures logged`);
		assert.match(
			failures[0].msg,
			/^verification failed: data\.bin piece \d+ from liar, fetching it again$/,
		);
		assert.equal(failures[0].level, 40);
		const ban = lines.find((l) => l.event === "peer-banned");
		assert.equal(ban?.msg, "peer banned: liar (served bad pieces)");
		const failed = lines.find((l) => l.event === "download-failed");
		assert.match(
			failed?.msg ?? "",
			/^download failed: data\.bin: every peer with this file served corrupt pieces/,
		);
		assert.equal(failed?.level, 50);
	});
});
