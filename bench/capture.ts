/**
 * Screen captures for the docs (`npm run capture`): the built TUI in tmux at 80x24 and at
 * 200x60, on a demo swarm on loopback, with one download complete and one in progress.
 *
 * For each size: the TUI starts with `--demo` (two peers sharing fixtures/), and a third
 * `serve` peer, demo-carol, shares a 1 GiB file (sparse, so cheap to make). In the TUI,
 * gradient.png is downloaded (it completes), then the large file; when its progress is
 * between 5% and 90%, the screen is read with `tmux capture-pane -p` and written to
 * docs/screen-<columns>x<rows>.txt. With `--max-down` in the CLI, the download is capped
 * (at 20,000 KB/s) so it stays in progress; without it, the file is large enough to be caught
 * mid-way on loopback. README.md's screen (between its `screen:80x24` markers) is updated
 * with the new 80x24 capture; the wide one stays in docs/screen-200x60.txt.
 *
 * Usage: npm run capture. Every address is loopback (127.0.0.1, 127.255.255.255).
 */
import { execFileSync } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { selectedRow, Terminal, TmuxServer } from "../test/helpers/tmux.js";
import { freeUdpPort, stopAll, Watched } from "./process.js";

const here = path.dirname(fileURLToPath(import.meta.url));
const REPO = path.resolve(here, "..", "..");
const CLI = path.resolve(here, "..", "cli.js");
const DOCS = path.join(REPO, "docs");
const README = path.join(REPO, "README.md");
const BROADCAST = "127.255.255.255";
/** Size of demo-carol's large file. */
const LARGE_BYTES = 1024 * 1024 * 1024;
const LARGE_NAME = "holiday-2024-4k.mkv";
/** Download cap when the CLI has `--max-down`, in KB/s. */
const MAX_DOWN_KBPS = 20_000;
/** A fixed folder, so the paths on the status line are the same on every run. */
const ROOT = path.join(os.tmpdir(), "p2p-tui-capture");

/** Whether the built CLI takes `--max-down`. */
function hasMaxDown(): boolean {
	return execFileSync(process.execPath, [CLI, "--help"], { encoding: "utf8" }).includes(
		"--max-down",
	);
}

/** The percentage the large file's row shows, if it is on screen. */
function largePercent(text: string): number | undefined {
	const row = text.split("\n").find((line) => line.includes("holiday-") && /\d%/.test(line));
	const match = row ? /\s(\d{1,3})%/.exec(row) : null;
	return match ? Number(match[1]) : undefined;
}

/** Moves the Files pane's selection down to the row starting with `name`. */
async function select(term: Terminal, name: string): Promise<void> {
	for (let i = 0; i < 30; i++) {
		const current = selectedRow((await term.frame()).join("\n"));
		if (current?.startsWith(name)) return;
		term.keys("j");
		await term.frame(
			(lines) => selectedRow(lines.join("\n")) !== current,
			`the selection to move past ${current}`,
		);
	}
	throw new Error(`${name} not found in the Files pane`);
}

/** Runs one capture at `columns` × `rows`; returns the screen. */
async function capture(
	server: TmuxServer,
	columns: number,
	rows: number,
	discoveryPort: number,
	maxDown: boolean,
): Promise<string> {
	const home = path.join(ROOT, `${columns}x${rows}`);
	const term = Terminal.open(
		server,
		`capture-${columns}x${rows}`,
		[
			process.execPath,
			CLI,
			"--demo",
			"--name",
			"laptop",
			"--broadcast",
			BROADCAST,
			"--discovery-port",
			String(discoveryPort),
			"--interval",
			"1000",
			"--share",
			path.join(home, "Shared"),
			"--downloads",
			path.join(home, "Downloads"),
			"--config-dir",
			path.join(home, "config"),
			...(maxDown ? ["--max-down", String(MAX_DOWN_KBPS)] : []),
		],
		{ columns, rows },
	);
	try {
		await term.frame(
			(lines) => /Peers \(3\)/.test(lines.join("\n")) && lines.join("\n").includes(LARGE_NAME),
			"three peers and the large file",
			30_000,
		);
		await select(term, "gradient.png");
		term.keys("Enter");
		await term.frame(
			(lines) => lines.some((line) => /gradient\.png.*100%/.test(line)),
			"gradient.png downloaded",
			30_000,
		);
		await select(term, LARGE_NAME);
		term.keys("Enter");
		const lines = await term.frame(
			(lines) => {
				const percent = largePercent(lines.join("\n"));
				return percent !== undefined && percent >= 5 && percent <= 90;
			},
			"the large file in progress",
			60_000,
		);
		term.keys("q");
		await term.waitForExit(15_000);
		return `${lines.join("\n")}\n`;
	} finally {
		term.close();
	}
}

/** Puts `text` between `<!-- screen:NAME -->` and `<!-- /screen:NAME -->` in the README. */
function updateReadme(readme: string, name: string, text: string): string {
	const start = `<!-- screen:${name} -->`;
	const end = `<!-- /screen:${name} -->`;
	const from = readme.indexOf(start);
	const to = readme.indexOf(end);
	if (from < 0 || to < from) {
		console.error(`README.md has no ${start} … ${end} markers: not updated for ${name}`);
		return readme;
	}
	return `${readme.slice(0, from + start.length)}\n\`\`\`text\n${text}\`\`\`\n${readme.slice(to)}`;
}

async function main(): Promise<number> {
	fs.rmSync(ROOT, { recursive: true, force: true });
	const carolShare = path.join(ROOT, "carol");
	fs.mkdirSync(carolShare, { recursive: true });
	// Sparse: a gigabyte of zeros that takes no disk space on the seeder.
	fs.closeSync(fs.openSync(path.join(carolShare, LARGE_NAME), "w"));
	fs.truncateSync(path.join(carolShare, LARGE_NAME), LARGE_BYTES);
	const maxDown = hasMaxDown();
	const server = new TmuxServer(`p2p-tui-capture-${process.pid}`);
	const discoveryPort = await freeUdpPort();
	const carol = new Watched("demo-carol", CLI, [
		"serve",
		"--json",
		"--name",
		"demo-carol",
		"--share",
		carolShare,
		"--downloads",
		path.join(ROOT, "carol-downloads"),
		"--config-dir",
		path.join(ROOT, "carol-config"),
		"--broadcast",
		BROADCAST,
		"--discovery-port",
		String(discoveryPort),
		"--interval",
		"1000",
	]);
	try {
		await carol.waitFor(() => carol.event("ready"), "demo-carol ready", 60_000);
		console.log(
			maxDown
				? `--max-down ${MAX_DOWN_KBPS} keeps the download in progress`
				: "no --max-down in this build: the 1 GiB file is caught mid-way",
		);
		let readme = fs.readFileSync(README, "utf8");
		for (const [columns, rows] of [
			[80, 24],
			[200, 60],
		]) {
			const screen = await capture(server, columns, rows, discoveryPort, maxDown);
			const name = `${columns}x${rows}`;
			const out = path.join(DOCS, `screen-${name}.txt`);
			fs.writeFileSync(out, screen);
			console.log(`\n${screen}written to ${path.relative(process.cwd(), out)}`);
			// The README shows one screen, the one that fits any terminal.
			if (columns === 80) readme = updateReadme(readme, name, screen);
		}
		fs.writeFileSync(README, readme);
		return 0;
	} finally {
		server.kill();
		await stopAll();
		fs.rmSync(ROOT, { recursive: true, force: true });
	}
}

main().then(
	(code) => {
		process.exitCode = code;
	},
	(error: Error) => {
		console.error(`capture: ${error.message}`);
		process.exitCode = 1;
	},
);
