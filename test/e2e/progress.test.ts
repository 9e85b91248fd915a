/**
 * The built program outside a terminal: `get` of a large file writes plain progress lines
 * on stderr (stdout keeps its one result line; `--json` stays one object with no progress),
 * `--max-down` paces it, and `serve` and `get` both log to the state folder.
 */
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import fs from "node:fs";
import path from "node:path";
import { after, before, describe, it } from "node:test";
import { freeBase, freePort, tempDir, waitFor } from "../helpers/net.js";
import { loopbackNet, peerFolders, runCli, ServeProcess } from "../helpers/process.js";

const MiB = 1024 * 1024;

/** The `event` fields of a log file's JSON lines. */
function loggedEvents(file: string): { event: string; msg: string }[] {
	if (!fs.existsSync(file)) return [];
	return fs
		.readFileSync(file, "utf8")
		.split("\n")
		.filter(Boolean)
		.map((line) => JSON.parse(line) as { event: string; msg: string });
}

describe("get outside a terminal: progress lines, --max-down, the log file", () => {
	const root = tempDir();
	const share = path.join(root, "seed-share");
	const big = randomBytes(6 * MiB);
	let net: string[];
	let seeder: ServeProcess;

	before(async () => {
		fs.mkdirSync(share, { recursive: true });
		fs.writeFileSync(path.join(share, "big.bin"), big);
		fs.writeFileSync(path.join(share, "small.bin"), randomBytes(100_000));
		net = loopbackNet(await freePort());
		seeder = new ServeProcess([
			...net,
			...peerFolders(root, "seeder", share),
			"--port",
			String(await freeBase()),
		]);
		await waitFor(() => seeder.event("ready"), "the seeder ready", 30_000);
	});

	after(async () => {
		await seeder.stop();
		fs.rmSync(root, { recursive: true, force: true });
	});

	it("writes a progress line every second or tenth, ending at 100%, paced by --max-down", async () => {
		const limit = 3_000_000;
		const result = await runCli([
			"get",
			"big.bin",
			...net,
			...peerFolders(root, "getter"),
			"--port",
			String(await freeBase()),
			"--wait",
			"15000",
			"--max-down",
			String(limit / 1000),
		]);
		assert.equal(result.code, 0, result.stderr);
		const saved = path.join(root, "getter", "dl", "big.bin");
		const out = result.stdout.trim().split("\n");
		assert.equal(out.length, 1, result.stdout);
		const match = /^saved (.+) \((\d+) bytes in ([\d.]+) s\)$/.exec(out[0]);
		assert.ok(match, out[0]);
		assert.equal(match[1], saved);
		assert.ok(fs.readFileSync(saved).equals(big));
		const seconds = Number(match[3]);
		assert.ok(
			big.length / seconds <= 1.3 * limit,
			`${Math.round(big.length / seconds)} B/s over 1.3 x ${limit}`,
		);

		const lines = result.stderr.trim().split("\n");
		const format = /^big\.bin (\d+)% [\d.]+ (B|KB|MB|GB)\/s ETA (\d+s|\d+m\d\ds|\d+h\d\dm|--)$/;
		for (const line of lines) assert.match(line, format);
		const percents = lines.map((line) => Number(format.exec(line)?.[1]));
		assert.ok(lines.length >= 4, `${lines.length} lines:\n${result.stderr}`);
		assert.ok(
			percents.every((p, i) => i === 0 || p >= percents[i - 1]),
			`rising: ${percents.join(" ")}`,
		);
		assert.match(lines.at(-1) ?? "", /^big\.bin 100% .* ETA 0s$/);
		assert.ok(percents[0] < 50, `starts low: ${percents.join(" ")}`);

		// The getter's log, in its state folder (its --config-dir).
		const getterLog = loggedEvents(path.join(root, "getter", "cfg", "p2p-tui.log"));
		const events = getterLog.map((l) => l.event);
		assert.ok(events.includes("download-started"), events.join(", "));
		assert.ok(
			getterLog.some(
				(l) => l.event === "download-complete" && l.msg === `download complete: ${saved}`,
			),
			events.join(", "),
		);
		// The seeder's: serve logs too.
		await waitFor(
			() =>
				loggedEvents(path.join(root, "seeder", "cfg", "p2p-tui.log")).some(
					(l) => l.msg === "peer joined: getter (127.0.0.1)",
				),
			"the seeder's log naming the getter",
		);
	});

	it("--json stays one object on stdout, with no progress", async () => {
		const result = await runCli([
			"get",
			"small.bin",
			...net,
			...peerFolders(root, "quiet"),
			"--port",
			String(await freeBase()),
			"--wait",
			"15000",
			"--json",
		]);
		assert.equal(result.code, 0, result.stderr);
		assert.equal(result.stderr, "");
		const out = JSON.parse(result.stdout) as { name: string; size: number };
		assert.equal(out.name, "small.bin");
		assert.equal(out.size, 100_000);
	});
});
