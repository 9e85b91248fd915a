/**
 * Transfer controls of the built program in a real terminal (tmux), at 80x24 and 200x60:
 * `p` in the Transfers pane pauses a download and `p` again resumes it, to 100% and a
 * byte-identical file. `--max-down` keeps the download in progress long enough to pause it.
 *
 * Needs the `p` key (UI branch) and `--max-down` (engine branch): it fails on a branch that
 * has neither, which is why it is a file of its own.
 */
import assert from "node:assert/strict";
import fs from "node:fs";
import path from "node:path";
import { after, before, describe, it } from "node:test";
import { fixturesDir, freePort, tempDir, waitFor } from "../helpers/net.js";
import { CLI, loopbackNet, peerFolders, ServeProcess } from "../helpers/process.js";
import { boldRuns, paneRows, selectedRow, Terminal, TmuxServer } from "../helpers/tmux.js";

/** The file downloaded: 3 MiB of random bytes from fixtures/. */
const FILE = "random-3MiB.bin";
/** Download cap given with `--max-down`, in KB/s (1 KB = 1000 bytes): about 5 s for the file. */
const MAX_DOWN_KBPS = 600;
/** How long a paused download is watched for progress that must not come, in ms. */
const PAUSE_WATCH_MS = 1_500;

/** The Transfers pane's row of {@link FILE}, in a clean frame, or undefined. */
function transferRow(lines: string[], columns: number, rows: number): string | undefined {
	return paneRows(lines, columns, rows, "Transfers").find((row) => row.includes(FILE));
}

/** The percentage a transfer row shows, e.g. 42 for `… 42% …`. */
function percentOf(row: string | undefined): number | undefined {
	const match = row ? /\s(\d{1,3})%/.exec(row) : null;
	return match ? Number(match[1]) : undefined;
}

describe("transfer controls in a real terminal (tmux)", () => {
	const server = new TmuxServer(`p2p-tui-controls-${process.pid}`);
	const root = tempDir();
	const fixtures = fixturesDir();
	let seeder: ServeProcess;
	let net: string[];

	before(async () => {
		net = loopbackNet(await freePort());
		seeder = new ServeProcess([...net, ...peerFolders(root, "controls-seeder", fixtures)]);
		await waitFor(() => seeder.event("ready"), "the seeder ready");
	});

	after(async () => {
		await seeder.stop();
		server.kill();
		fs.rmSync(root, { recursive: true, force: true });
	});

	for (const [columns, rows] of [
		[80, 24],
		[200, 60],
	]) {
		it(`at ${columns}x${rows}: p pauses the download in the Transfers pane, p resumes it to 100%`, async (t) => {
			const name = `controls-${columns}x${rows}`;
			const argv = [
				process.execPath,
				CLI,
				...net,
				...peerFolders(root, name),
				"--max-down",
				String(MAX_DOWN_KBPS),
			];
			const term = Terminal.open(server, name, argv, { columns, rows });
			const row = (lines: string[]) => transferRow(lines, columns, rows);
			try {
				await term.frame(
					(lines) => lines.some((line) => line.includes(FILE)),
					"the file listed",
					15_000,
				);
				// Select the file (the Files pane has the focus) and download it.
				const selected = async () => selectedRow((await term.frame()).join("\n"));
				for (let i = 0; i < 20 && (await selected()) !== FILE; i++) {
					const before = await selected();
					term.keys("j");
					await term.frame(
						(lines) => selectedRow(lines.join("\n")) !== before,
						"the selection to move",
					);
				}
				assert.equal(await selected(), FILE);
				const started = performance.now();
				term.keys("Enter");

				// Under way, but far from done: the cap keeps it going for seconds.
				const running = await term.frame((lines) => {
					const percent = percentOf(row(lines));
					return percent !== undefined && percent > 0 && percent < 60;
				}, "the download under way");
				t.diagnostic(`under way: ${row(running)?.trim()}`);

				// Tab to the Transfers pane (its one row is selected), then p.
				term.keys("Tab");
				await waitFor(
					() => boldRuns(term.styledLines().join("\n")).some((run) => run.startsWith("Transfers")),
					"the Transfers pane focused",
				);
				await term.frame(
					(lines) => selectedRow(lines.join("\n"))?.includes(FILE) === true,
					"the row selected",
				);
				term.keys("p");
				const paused = await term.frame((lines) => /paused/i.test(row(lines) ?? ""), "paused");
				const activeBeforePause = performance.now() - started;
				const held = percentOf(row(paused));
				assert.ok(held !== undefined && held < 100, `paused before the end: ${row(paused)}`);
				const target = path.join(root, name, "dl", FILE);

				// Nothing moves while paused (the absence of progress has no event to wait for).
				const watchUntil = performance.now() + PAUSE_WATCH_MS;
				while (performance.now() < watchUntil) {
					const lines = await term.frame();
					assert.match(row(lines) ?? "", /paused/i, "still paused");
					assert.equal(percentOf(row(lines)), held, "no progress while paused");
					await new Promise((resolve) => setTimeout(resolve, 100));
				}
				assert.ok(!fs.existsSync(target), "no finished file while paused");

				term.keys("p");
				const resumedAt = performance.now();
				await term.frame((lines) => {
					const percent = percentOf(row(lines));
					return !/paused/i.test(row(lines) ?? "") && percent !== undefined && percent > held;
				}, "progress again after p");
				const done = await term.frame(
					(lines) => percentOf(row(lines)) === 100,
					"100% after resuming",
					60_000,
				);
				const active = activeBeforePause + (performance.now() - resumedAt);
				t.diagnostic(`done: ${row(done)?.trim()} after ${Math.round(active)} ms of transfer`);
				await waitFor(() => fs.existsSync(target), "the file in place");
				assert.ok(
					fs.readFileSync(target).equals(fs.readFileSync(path.join(fixtures, FILE))),
					"the download is byte-identical",
				);
				// The cap held: the bytes took at least half the time the cap allows for them.
				const floorMs = (fs.statSync(target).size / (MAX_DOWN_KBPS * 1000)) * 1000 * 0.5;
				assert.ok(active >= floorMs, `${Math.round(active)} ms >= ${Math.round(floorMs)} ms`);

				term.keys("q");
				assert.equal(await term.waitForExit(), 0);
			} finally {
				term.close();
			}
		});
	}
});
