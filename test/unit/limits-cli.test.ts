/**
 * Limits on the command line and in the settings (flags, stored values, a TUI's changes
 * kept, a running peer following them), and `get`'s progress report.
 */
import assert from "node:assert/strict";
import fs from "node:fs";
import path from "node:path";
import { PassThrough } from "node:stream";
import { after, describe, it } from "node:test";
import { parseCommandLine, type RunFlags } from "../../source/cli/args.js";
import {
	config,
	followSettings,
	keepLimits,
	type Output,
	peerOptions,
} from "../../source/cli/commands.js";
import { formatEta, ProgressReport, progressLine } from "../../source/cli/progress.js";
import {
	defaultSettings,
	limitsOf,
	loadSettings,
	storedSettings,
	storeLimits,
} from "../../source/cli/settings.js";
import { UsageError } from "../../source/errors.js";
import type { TransferState } from "../../source/peer/types.js";
import { transferStatusText, waitingReason } from "../../source/ui/rows.js";
import { tempDir, waitFor } from "../helpers/net.js";
import { Swarm } from "../helpers/swarm.js";

function flags(argv: string[]): RunFlags {
	const parsed = parseCommandLine(argv);
	assert.equal(parsed.kind, "run");
	return parsed.kind === "run" ? parsed.flags : assert.fail();
}

describe("limit flags", () => {
	it("--max-down, --max-up, --max-active and --log go with the TUI, serve and get", () => {
		for (const command of [[], ["serve"], ["get", "a.bin"]]) {
			const f = flags([
				...command,
				"--max-down",
				"2000",
				"--max-up",
				"0",
				"--max-active",
				"2",
				"--log",
				"x.log",
			]);
			assert.equal(f.maxDown, 2000);
			assert.equal(f.maxUp, 0);
			assert.equal(f.maxActive, 2);
			assert.equal(f.log, "x.log");
		}
	});

	it("refuses them where nothing is downloaded, and bad numbers, in one line", () => {
		const refused = (argv: string[], pattern: RegExp) =>
			assert.throws(
				() => parseCommandLine(argv),
				(error: unknown) => {
					assert.ok(error instanceof UsageError, String(error));
					assert.match(error.message, pattern);
					assert.ok(!error.message.includes("\n"));
					return true;
				},
			);
		refused(["list", "--max-down", "10"], /^--max-down goes with the TUI, serve and get/);
		refused(["search", "x", "--log", "a.log"], /^--log goes with the TUI, serve and get/);
		refused(["peers", "--max-active", "2"], /^--max-active goes with/);
		refused(["config", "--max-down", "10"], /^--max-down does not go with config/);
		refused(["get", "a", "--max-down", "fast"], /--max-down to be a whole number from 0 to/);
		refused(["serve", "--max-active", "0"], /--max-active to be a whole number from 1 to 1000/);
		refused(["serve", "--log", ""], /--log to name a file/);
	});
});

describe("limits in the settings", () => {
	const root = tempDir();
	after(() => fs.rmSync(root, { recursive: true, force: true }));

	it("default to none and 3 at once; a flag wins for one run; peer options in bytes/s", () => {
		const cfg = path.join(root, "one");
		const plain = loadSettings(flags(["serve", "--config-dir", cfg]));
		assert.deepEqual(limitsOf(plain), { maxDown: null, maxUp: null, maxActive: 3 });
		storeLimits({ maxDown: 1_500_000, maxUp: 250_400, maxActive: 4 }, cfg);
		const stored = storedSettings(cfg);
		assert.deepEqual([stored.maxDown, stored.maxUp, stored.maxActive], [1500, 250, 4]);
		const run = flags(["serve", "--config-dir", cfg, "--max-down", "0", "--max-active", "2"]);
		const settings = loadSettings(run);
		const options = peerOptions(settings, run);
		assert.equal(options.maxDownloadRate, undefined, "--max-down 0 lifts a stored limit");
		assert.equal(options.maxUploadRate, 250_000);
		assert.equal(options.maxActive, 2);
		assert.equal(storedSettings(cfg).maxActive, 4, "flags are not stored");
		// A rate under 1 KB/s is kept as 1 KB/s, not as none.
		storeLimits({ maxUp: 300 }, cfg);
		assert.equal(storedSettings(cfg).maxUp, 1);
		storeLimits({ maxUp: null }, cfg);
		assert.equal(storedSettings(cfg).maxUp, 0);
	});

	it("config shows them", () => {
		const cfg = path.join(root, "two");
		storeLimits({ maxDown: 3_000_000, maxActive: 5 }, cfg);
		const lines: string[] = [];
		const io: Output = { out: (l) => lines.push(l), err: (l) => lines.push(l) };
		config(cfg, false, io);
		assert.ok(lines.includes("max down          3000 KB/s"), lines.join("\n"));
		assert.ok(lines.includes("max up            0 (unlimited)"), lines.join("\n"));
		assert.ok(lines.includes("max active        5"), lines.join("\n"));
		const json: string[] = [];
		config(cfg, true, { out: (l) => json.push(l), err: () => {} });
		const shown = JSON.parse(json.join("")) as { settings: Record<string, unknown> };
		assert.deepEqual(
			[shown.settings.maxDown, shown.settings.maxUp, shown.settings.maxActive],
			[3000, 0, 5],
		);
		assert.equal(defaultSettings().maxActive, 3);
	});

	it("a running peer keeps its TUI changes and follows stored ones, flags pinned", async () => {
		const swarm = await Swarm.create();
		try {
			const cfg = path.join(root, "live");
			const run = flags(["--config-dir", cfg, "--max-active", "2"]);
			const peer = await swarm.add("live", undefined, { maxActive: 2 });
			const errors: string[] = [];
			const unkeep = keepLimits(peer, cfg, (e) => errors.push(e));
			const unfollow = followSettings(peer, run, (e) => errors.push(e));
			try {
				// Set in the TUI: stored in KB/s.
				peer.setLimits({ maxUp: 2_000_000 });
				assert.equal(storedSettings(cfg).maxUp, 2000);
				// Stored by another instance: followed, except what a flag pinned.
				storeLimits({ maxDown: 700_000, maxActive: 9 }, cfg);
				await waitFor(() => peer.limits().maxDown === 700_000, "the stored maxDown taken up");
				assert.deepEqual(peer.limits(), { maxDown: 700_000, maxUp: 2_000_000, maxActive: 2 });
				assert.deepEqual(errors, []);
			} finally {
				unkeep();
				unfollow();
			}
		} finally {
			await swarm.close();
		}
	});
});

describe("get's progress", () => {
	it("formats a line: name, percent, rate, time left", () => {
		assert.equal(formatEta(0), "0s");
		assert.equal(formatEta(2.2), "3s");
		assert.equal(formatEta(125), "2m05s");
		assert.equal(formatEta(3 * 3600 + 120), "3h02m");
		assert.equal(formatEta(Number.NaN), "--");
		assert.equal(progressLine("a.bin", 45, 100, 120_300_000), "a.bin 45% 120.3 MB/s ETA 1s");
		assert.equal(progressLine("a.bin", 0, 1000, 0), "a.bin 0% 0 B/s ETA --");
		assert.equal(progressLine("a.bin", 1000, 1000, 5000), "a.bin 100% 5.0 KB/s ETA 0s");
		assert.equal(progressLine("bad\u001b[2Jname", 1, 2, 0), "bad\ufffd[2Jname 50% 0 B/s ETA --");
	});

	it("writes a plain line every tenth of the way or every second, and 100% at the end", () => {
		let now = 0;
		const lines: string[] = [];
		const report = new ProgressReport("f.bin", 1000, { line: (l) => lines.push(l) }, () => now);
		report.update(0, 0);
		report.update(50, 100);
		now += 400;
		report.update(99, 100);
		report.update(100, 100);
		now += 1_000;
		report.update(150, 100);
		report.update(160, 100);
		report.update(420, 100);
		report.end(true);
		report.update(500, 100);
		assert.deepEqual(lines, [
			"f.bin 0% 0 B/s ETA --",
			"f.bin 10% 100 B/s ETA 9s",
			"f.bin 15% 100 B/s ETA 9s",
			"f.bin 42% 100 B/s ETA 6s",
			"f.bin 100% 100 B/s ETA 0s",
		]);
		const failed: string[] = [];
		const stopped = new ProgressReport("g.bin", 10, { line: (l) => failed.push(l) }, () => 0);
		stopped.update(3, 1);
		stopped.end(false);
		assert.deepEqual(failed, ["g.bin 30% 1 B/s ETA 7s"]);
	});

	it("says why a download waits instead of 0 B/s, when the reason appears and every 10 s", () => {
		let now = 0;
		const lines: string[] = [];
		const report = new ProgressReport("f.bin", 1000, { line: (l) => lines.push(l) }, () => now);
		report.update(300, 100);
		const reason = "disk full: waiting for space to write /dl/f.bin.p2p-part";
		report.update(300, 0, reason);
		for (let second = 1; second <= 12; second++) {
			now += 1_000;
			report.update(300, 0, reason);
		}
		report.update(300, 0, "waiting for peers");
		report.update(400, 100);
		report.end(true);
		assert.deepEqual(lines, [
			"f.bin 30% 100 B/s ETA 7s",
			`f.bin 30% ${reason}`,
			`f.bin 30% ${reason}`,
			"f.bin 30% waiting for peers",
			"f.bin 40% 100 B/s ETA 6s",
			"f.bin 100% 100 B/s ETA 0s",
		]);
		assert.ok(lines.every((line) => !line.includes("0 B/s ETA --")));
	});

	it("names every waiting state: queued with its place, peers, disk space, paused", () => {
		const base: TransferState = {
			fileId: "ab",
			name: "f.bin",
			size: 10,
			bytesDone: 0,
			verifiedPieces: 0,
			totalPieces: 1,
			speed: 0,
			peers: 0,
			fromSeeders: 0,
			fromDistribution: 0,
			resumedBytes: 0,
			bannedPeers: [],
			hashFailures: 0,
			status: "queued",
		};
		assert.equal(waitingReason({ ...base, queuePosition: 2 }, 3), "queued (#2 in line, 3 at once)");
		assert.equal(transferStatusText({ ...base, queuePosition: 1 }), "queued (#1 in line)");
		assert.equal(waitingReason({ ...base, status: "waiting" }), "waiting for peers");
		assert.equal(
			waitingReason({ ...base, status: "waiting", error: "disk full: waiting for space" }),
			"disk full: waiting for space",
		);
		assert.equal(waitingReason({ ...base, status: "paused" }), "paused");
		assert.equal(waitingReason({ ...base, status: "downloading", speed: 5 }), undefined);
		assert.equal(
			progressLine("f.bin", 5, 10, 0, "waiting for peers"),
			"f.bin 50% waiting for peers",
		);
	});

	it("draws a bar on a terminal", () => {
		const tty = Object.assign(new PassThrough(), { isTTY: true, columns: 100 });
		let drawn = "";
		tty.on("data", (chunk: Buffer) => {
			drawn += chunk.toString();
		});
		const lines: string[] = [];
		const report = new ProgressReport("movie.bin", 4000, { tty, line: (l) => lines.push(l) });
		report.update(1000, 2000);
		report.end(true);
		assert.deepEqual(lines, [], "no plain lines on a terminal");
		assert.match(drawn, /movie\.bin \[[^\]]+\] 100% \| 2\.0 KB\/s \| ETA 0s/);
	});
});
