/**
 * The key bench's cross-check on the built program: the real TUI in tmux lists 100,000
 * files from a fake peer on loopback (bench/keys-peer.ts), keys go in with
 * `tmux send-keys` and the screen is polled with `tmux capture-pane` until it shows the
 * key's effect. Coarser than the in-process measure (each tmux call is a process, a few ms;
 * the overhead of one send-keys plus one capture-pane is measured and reported), but it
 * covers everything: the key through the pty, ink's input parsing, the render, the write,
 * and the terminal emulator. Every address is loopback.
 */
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { boldRuns, selectedRow, Terminal, TmuxServer } from "../test/helpers/tmux.js";
import { WORDS } from "./names.js";
import { freeBase, freeUdpPort, stopAll, Watched } from "./process.js";

const here = path.dirname(fileURLToPath(import.meta.url));
const CLI = path.resolve(here, "..", "cli.js");
const PEER = path.join(here, "keys-peer.js");
const BROADCAST = "127.255.255.255";
const PRESS_TIMEOUT_MS = 5_000;

/** Latency statistics in ms (as bench/keys.ts's). */
interface Stats {
	presses: number;
	median: number;
	p95: number;
	max: number;
}

function stats(ms: readonly number[]): Stats {
	const sorted = [...ms].sort((a, b) => a - b);
	const rank = (q: number) => sorted[Math.min(sorted.length - 1, Math.ceil(q * sorted.length) - 1)];
	return { presses: sorted.length, median: rank(0.5), p95: rank(0.95), max: sorted.at(-1) ?? 0 };
}

/** One size's rows. */
export interface TmuxSizeResult {
	size: string;
	/** ms of one send-keys of an unbound key plus one capture-pane: the floor of every figure. */
	tmuxOverheadMs: number;
	/** Seconds from the TUI's start to all files listed. */
	listedAfterSeconds: number;
	rows: Array<{ key: string; what: string; stats: Stats }>;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * Measures j, k, PageDown, Tab and typing in the search box in the real TUI at each size.
 *
 * @param options - files listed, presses per key, idle ms between presses, sizes
 * @returns per size, the statistics of each key
 */
export async function crossCheck(options: {
	listed: number;
	presses: number;
	gapMs: number;
	seed: number;
	sizes: ReadonlyArray<readonly [number, number]>;
}): Promise<TmuxSizeResult[]> {
	const root = fs.mkdtempSync(path.join(os.tmpdir(), "p2p-tui-keys-"));
	const server = new TmuxServer(`p2p-tui-keys-${process.pid}`);
	const discoveryPort = await freeUdpPort();
	const peer = new Watched("keys-peer", PEER, [
		"--listed",
		String(options.listed),
		"--seed",
		String(options.seed),
		"--discovery-port",
		String(discoveryPort),
		"--base",
		String(await freeBase()),
	]);
	const results: TmuxSizeResult[] = [];
	try {
		await peer.waitFor(() => (peer.json().some((line) => line.ready) ? true : undefined), "ready");
		for (const [columns, rows] of options.sizes) {
			const name = `keys-${columns}x${rows}`;
			const term = Terminal.open(
				server,
				name,
				[
					process.execPath,
					CLI,
					"--broadcast",
					BROADCAST,
					"--discovery-port",
					String(discoveryPort),
					"--interval",
					"1000",
					"--name",
					name,
					"--share",
					path.join(root, name, "share"),
					"--downloads",
					path.join(root, name, "dl"),
					"--config-dir",
					path.join(root, name, "cfg"),
				],
				{ columns, rows },
			);
			try {
				results.push(await measureTerminal(term, options));
			} finally {
				term.close();
			}
		}
	} finally {
		server.kill();
		await stopAll();
		fs.rmSync(root, { recursive: true, force: true });
	}
	return results;
}

/** Runs the keys on one terminal. */
async function measureTerminal(
	term: Terminal,
	options: { listed: number; presses: number; gapMs: number },
): Promise<TmuxSizeResult> {
	const started = performance.now();
	const count = (text: string) =>
		Number((/Files \(([\d,]+)/.exec(text)?.[1] ?? "0").replaceAll(",", ""));
	await term.frame(
		(lines) => count(lines.join("\n")) >= options.listed,
		`${options.listed} files listed`,
		120_000,
	);
	const listedAfterSeconds = (performance.now() - started) / 1000;
	const screen = async () => (await term.frame()).join("\n");
	const focused = () =>
		["Peers", "Files", "Transfers"].find((pane) =>
			boldRuns(term.styledLines().join("\n")).some((run) => run.startsWith(pane)),
		);

	/** Sends `keys` and polls until `done` holds for a clean frame; the ms it took. */
	const press = async (keys: string[], done: (text: string) => boolean, what: string) => {
		const start = performance.now();
		term.keys(...keys);
		for (;;) {
			const lines = term.cleanLines();
			if (lines && done(lines.join("\n"))) return performance.now() - start;
			if (performance.now() - start > PRESS_TIMEOUT_MS)
				throw new Error(`${term.columns}x${term.rows}: no ${what} in ${PRESS_TIMEOUT_MS} ms`);
			await sleep(1);
		}
	};
	const rows: TmuxSizeResult["rows"] = [];
	const run = async (key: string, what: string, measure: () => Promise<number>) => {
		const ms: number[] = [];
		for (let i = 0; i < options.presses; i++) {
			ms.push(await measure());
			await sleep(options.gapMs);
		}
		rows.push({ key, what, stats: stats(ms) });
	};
	const moved = async (key: string) => {
		const before = selectedRow(await screen());
		return press(
			[key],
			(text) => selectedRow(text) !== undefined && selectedRow(text) !== before,
			key,
		);
	};

	// The floor: an unbound key (F12) and one capture.
	const overhead: number[] = [];
	for (let i = 0; i < 20; i++) {
		const start = performance.now();
		term.keys("F12");
		term.cleanLines();
		overhead.push(performance.now() - start);
	}
	await run("j", "selection down one row", () => moved("j"));
	await run("k", "selection up one row", () => moved("k"));
	await run("PageDown", "selection down one page", () => moved("NPage"));
	await run("Tab", "focus to the next pane", async () => {
		const before = focused();
		const start = performance.now();
		term.keys("Tab");
		while (focused() === before) {
			if (performance.now() - start > PRESS_TIMEOUT_MS) throw new Error("no focus change");
			await sleep(1);
		}
		return performance.now() - start;
	});
	while (focused() !== "Files") {
		term.keys("Tab");
		await sleep(options.gapMs);
	}
	// Typing: `/` once, then characters (the first builds the search index: not counted).
	term.keys("/");
	await term.frame((lines) => lines.join("\n").includes("type to search"), "the search box");
	let query = "";
	const typed: number[] = [];
	for (let i = 0; typed.length < options.presses; i++) {
		const char = WORDS[i % WORDS.length][0];
		if (query.length >= 16) {
			// Start a new query: erase it all (Ctrl-U), untimed.
			term.keys("C-u");
			query = "";
			await term.frame((lines) => lines.join("\n").includes("type to search"), "the box emptied");
		}
		query += char;
		const shown = `/ ${query}`;
		const ms = await press(["-l", char], (text) => text.includes(shown), `"${query}" shown`);
		if (i > 0) typed.push(ms);
		await sleep(options.gapMs);
	}
	rows.push({ key: "a-z", what: "typed character shown in the query", stats: stats(typed) });
	// Esc then q, apart: a terminal sends Esc q typed together as Alt-q.
	term.keys("Escape");
	await term.frame((lines) => !lines.join("\n").includes(`/ ${query}`), "the search closed");
	term.keys("q");
	await term.waitForExit(10_000);
	return {
		size: `${term.columns}x${term.rows}`,
		tmuxOverheadMs: stats(overhead).median,
		listedAfterSeconds,
		rows,
	};
}
