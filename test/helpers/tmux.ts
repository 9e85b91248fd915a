/**
 * Drives programs in a real terminal emulator: tmux, on a private server (its own socket,
 * no user configuration), one detached session per program. The screen is read back with
 * `tmux capture-pane` as the terminal shows it, after tmux parsed every escape sequence.
 *
 * Used by the end-to-end TUI tests and by the screen-capture and key-latency scripts.
 */
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import { waitFor } from "./net.js";

/** Marker the wrapping shell prints when the program ends: `P2P_EXITED=<code>`. */
const EXIT_MARKER = "P2P_EXITED=";

/**
 * A string quoted for `sh`: single quotes, inner ones as `'\''`.
 *
 * @param arg - any text
 * @returns the text as one shell word
 */
export function shellQuote(arg: string): string {
	return `'${arg.replaceAll("'", "'\\''")}'`;
}

/** A tmux server of our own: `tmux -L <socket> -f /dev/null`. */
export class TmuxServer {
	/** Socket name (under tmux's socket folder, e.g. /tmp/tmux-<uid>/). */
	readonly socket: string;

	/** @param socket - a name unique to this process (default: from the process id) */
	constructor(socket = `p2p-tui-test-${process.pid}`) {
		this.socket = socket;
	}

	/**
	 * Runs one tmux command on this server.
	 *
	 * @param args - the tmux command and its arguments, e.g. `["send-keys", "-t", "s", "q"]`
	 * @returns tmux's stdout
	 * @throws Error when tmux fails (its stderr in the message)
	 */
	run(...args: string[]): string {
		return execFileSync("tmux", ["-L", this.socket, "-f", "/dev/null", ...args], {
			encoding: "utf8",
			stdio: ["ignore", "pipe", "pipe"],
		});
	}

	/**
	 * Ends the server and every session on it (no error when none is running), and removes
	 * its socket file, which tmux leaves behind.
	 */
	kill(): void {
		try {
			this.run("kill-server");
		} catch {
			// No server was running.
		}
		// tmux's socket folder: $TMUX_TMPDIR (else /tmp) / tmux-<uid>.
		const folder = path.join(process.env.TMUX_TMPDIR || "/tmp", `tmux-${process.getuid?.() ?? 0}`);
		fs.rmSync(path.join(folder, this.socket), { force: true });
	}
}

/** How a program is started in a {@link Terminal}. */
export interface TerminalOptions {
	/** Terminal width in columns. */
	columns: number;
	/** Terminal height in rows. */
	rows: number;
	/** Extra environment variables for the program. */
	env?: Record<string, string>;
}

/** Terminal modes that a full-screen program must restore on its way out. */
export interface TerminalModes {
	/** The alternate screen is on (DEC mode 1049). */
	alternateScreen: boolean;
	/** The cursor is shown (DEC mode 25). */
	cursorVisible: boolean;
}

/**
 * One program running in a detached tmux session of `columns` × `rows` cells. The program
 * runs under `sh -c '<program>; echo P2P_EXITED=$?; exec sleep …'`, so after it exits its
 * exit code and the terminal state it left stay readable until {@link Terminal.close}.
 */
export class Terminal {
	private constructor(
		readonly server: TmuxServer,
		/** The tmux session name. */
		readonly session: string,
		/** Width in columns, as last set. */
		public columns: number,
		/** Height in rows, as last set. */
		public rows: number,
	) {}

	/**
	 * Starts `argv` in a new session.
	 *
	 * @param server - the tmux server
	 * @param name - the session name (unique on the server)
	 * @param argv - the program and its arguments (quoted for the shell here)
	 * @param options - size and environment
	 * @returns the terminal
	 */
	static open(
		server: TmuxServer,
		name: string,
		argv: readonly string[],
		options: TerminalOptions,
	): Terminal {
		const env = Object.entries(options.env ?? {}).flatMap(([key, value]) => [
			"-e",
			`${key}=${value}`,
		]);
		const command = argv.map(shellQuote).join(" ");
		server.run(
			"new-session",
			"-d",
			"-s",
			name,
			"-x",
			String(options.columns),
			"-y",
			String(options.rows),
			...env,
			`${command}; echo ${EXIT_MARKER}$?; exec sleep 3600`,
			// The server outlives its last session: otherwise a test that closes its session and
			// opens the next one at once races the exiting server ("server exited unexpectedly").
			";",
			"set-option",
			"-g",
			"exit-empty",
			"off",
		);
		// Debugging aid: P2P_TUI_TMUX_LOG=<folder> keeps every byte the program wrote.
		const log = process.env.P2P_TUI_TMUX_LOG;
		if (log) {
			const file = path.join(log, `${name}.raw`);
			server.run("pipe-pane", "-o", "-t", name, `cat > ${shellQuote(file)}`);
		}
		return new Terminal(server, name, options.columns, options.rows);
	}

	/** Runs a tmux format (`display-message -p`) on this session's pane. */
	private format(spec: string): string {
		return this.server.run("display-message", "-p", "-t", this.session, spec).trimEnd();
	}

	/** The screen as plain text, one string per row (trailing blanks trimmed by tmux). */
	lines(): string[] {
		const text = this.server.run("capture-pane", "-p", "-t", this.session);
		const lines = text.split("\n");
		if (lines.at(-1) === "") lines.pop();
		return lines;
	}

	/** The screen as plain text, rows joined with `\n`. */
	screen(): string {
		return this.lines().join("\n");
	}

	/** The screen with its colours and attributes as SGR escape sequences (`capture-pane -e`). */
	styledLines(): string[] {
		const text = this.server.run("capture-pane", "-p", "-e", "-t", this.session);
		const lines = text.split("\n");
		if (lines.at(-1) === "") lines.pop();
		return lines;
	}

	/**
	 * Presses keys, as tmux names them: `"j"`, `"Tab"`, `"BTab"` (Shift-Tab), `"Up"`,
	 * `"Down"`, `"NPage"` (PageDown), `"Enter"`, `"Escape"`, `"C-c"`.
	 */
	keys(...keys: string[]): void {
		this.server.run("send-keys", "-t", this.session, ...keys);
	}

	/** Types `text` literally (no key names). */
	type(text: string): void {
		this.server.run("send-keys", "-t", this.session, "-l", text);
	}

	/** Resizes the terminal (the program gets SIGWINCH). */
	resize(columns: number, rows: number): void {
		this.server.run("resize-window", "-t", this.session, "-x", String(columns), "-y", String(rows));
		this.columns = columns;
		this.rows = rows;
	}

	/** The terminal's size as tmux has it. */
	size(): { columns: number; rows: number } {
		const [columns, rows] = this.format("#{pane_width} #{pane_height}").split(" ").map(Number);
		return { columns, rows };
	}

	/** Whether the alternate screen is on and the cursor shown, right now. */
	modes(): TerminalModes {
		const [alternate, cursor] = this.format("#{alternate_on} #{cursor_flag}").split(" ");
		return { alternateScreen: alternate === "1", cursorVisible: cursor === "1" };
	}

	/** The program's exit code once it ended (read from the screen), else undefined. */
	exitCode(): number | undefined {
		const match = new RegExp(`${EXIT_MARKER}(\\d+)`).exec(this.screen());
		return match ? Number(match[1]) : undefined;
	}

	/**
	 * Waits until `check` holds for the screen.
	 *
	 * @param check - a text the screen must contain, a pattern it must match, or a predicate
	 *   over its lines
	 * @param what - what is awaited, for the error
	 * @param timeoutMs - how long to wait
	 * @returns the screen text that satisfied the check
	 * @throws Error naming `what` with the last screen, after `timeoutMs`
	 */
	async waitFor(
		check: string | RegExp | ((lines: string[]) => boolean),
		what: string,
		timeoutMs = 10_000,
	): Promise<string> {
		const test = (lines: string[]): boolean => {
			const text = lines.join("\n");
			if (typeof check === "string") return text.includes(check);
			if (check instanceof RegExp) return check.test(text);
			return check(lines);
		};
		try {
			return await waitFor(
				() => {
					const lines = this.lines();
					return test(lines) ? lines.join("\n") : undefined;
				},
				what,
				timeoutMs,
			);
		} catch (error) {
			throw new Error(`${(error as Error).message}; the screen:\n${this.screen()}`);
		}
	}

	/**
	 * The screen when it shows one clean frame at the terminal's size (see
	 * {@link assertCleanFrame}), else undefined: a capture may catch a frame half drawn.
	 */
	cleanLines(): string[] | undefined {
		const lines = this.lines();
		try {
			assertCleanFrame(lines, this.columns, this.rows);
			return lines;
		} catch {
			return undefined;
		}
	}

	/**
	 * Waits for a clean frame (see {@link Terminal.cleanLines}) for which `check` holds.
	 *
	 * @param check - a predicate over the frame's rows (default: any clean frame)
	 * @param what - what is awaited, for the error
	 * @returns the frame's rows
	 * @throws Error naming `what`, with the reason the last screen was not clean, after `timeoutMs`
	 */
	async frame(
		check: (lines: string[]) => boolean = () => true,
		what = "a clean frame",
		timeoutMs = 10_000,
	): Promise<string[]> {
		try {
			return await waitFor(
				() => {
					const lines = this.cleanLines();
					return lines && check(lines) ? lines : undefined;
				},
				`${what} (${this.columns}x${this.rows})`,
				timeoutMs,
			);
		} catch (error) {
			let why = "";
			try {
				assertCleanFrame(this.lines(), this.columns, this.rows);
			} catch (defect) {
				why = `; not clean: ${(defect as Error).message}`;
			}
			throw new Error(`${(error as Error).message}${why}; the screen:\n${this.screen()}`);
		}
	}

	/**
	 * Waits for the program to exit.
	 *
	 * @returns its exit code
	 */
	async waitForExit(timeoutMs = 10_000): Promise<number> {
		await this.waitFor(new RegExp(`${EXIT_MARKER}\\d+`), "the program to exit", timeoutMs);
		return this.exitCode() ?? -1;
	}

	/** Ends the session (and the program, if it still runs). */
	close(): void {
		try {
			this.server.run("kill-session", "-t", this.session);
		} catch {
			// Already gone.
		}
	}
}

/**
 * Columns a character takes in a terminal: 0 for combining marks and zero-width ones, 2
 * for East Asian wide and emoji ranges, else 1. Independent of the UI's own width code, so
 * a disagreement with the terminal shows up as a misaligned frame.
 */
export function cellWidth(char: string): number {
	const code = char.codePointAt(0) ?? 0;
	if (/^(?:\p{Mn}|\p{Me}|[\u200B-\u200F]|[\uFE00-\uFE0F])$/u.test(char)) return 0;
	if (
		(code >= 0x1100 && code <= 0x115f) ||
		(code >= 0x2e80 && code <= 0xa4cf) ||
		(code >= 0xac00 && code <= 0xd7a3) ||
		(code >= 0xf900 && code <= 0xfaff) ||
		(code >= 0xfe30 && code <= 0xfe4f) ||
		(code >= 0xff00 && code <= 0xff60) ||
		(code >= 0xffe0 && code <= 0xffe6) ||
		(code >= 0x1f300 && code <= 0x1faff) ||
		(code >= 0x20000 && code <= 0x3fffd)
	)
		return 2;
	return 1;
}

/** The cells of a line: the character starting at each column (`""` for the second half of a wide one). */
export function cells(line: string): string[] {
	const out: string[] = [];
	for (const char of line) {
		const width = cellWidth(char);
		if (width === 0 && out.length > 0) out[out.length - 1] += char;
		else if (width === 2) out.push(char, "");
		else out.push(char);
	}
	return out;
}

/** The box styles a pane may be drawn with: light round (blurred) or heavy (focused). */
const BOX_STYLES = [
	{ topLeft: "╭", topRight: "╮", bottomLeft: "╰", bottomRight: "╯", side: "│", line: "─" },
	{ topLeft: "┏", topRight: "┓", bottomLeft: "┗", bottomRight: "┛", side: "┃", line: "━" },
] as const;

/** Any box-drawing character of {@link BOX_STYLES}. */
const BORDER_CHARS: ReadonlySet<string> = new Set(
	BOX_STYLES.flatMap((style) => Object.values(style)),
);

/** One pane found on the screen. */
export interface PaneBox {
	/** Column of its left border. */
	left: number;
	/** Column of its right border. */
	right: number;
	/** The title set into its top border, e.g. `"Files (3)"`. */
	title: string;
	/** Drawn with the heavy frame (`┏━┓`), which marks the focused pane on some branches. */
	heavy: boolean;
}

/** One band of side-by-side panes: from row `top` to row `bottom`. */
export interface PaneBand {
	/** Row of the top border. */
	top: number;
	/** Row of the bottom border. */
	bottom: number;
	/** The panes, left to right. */
	panes: PaneBox[];
}

/**
 * Checks that a screen is one clean frame of the TUI at `columns` × `rows`, not a garbled
 * mix of frames: `rows` lines; every pane row exactly `columns` cells wide; the panes are
 * closed boxes (`╭…╮`, `│…│`, `╰…╯`, or heavy `┏…┓`, `┃…┃`, `┗…┛`, one style per box) whose
 * borders sit in the same columns on every row and cover the whole width; the bands of
 * panes stack from the top row; what follows (the status area) starts with no border piece.
 * Text inside a border (a title, a footer) is not checked.
 *
 * @param lines - the screen's rows, as {@link Terminal.lines} returns them
 * @returns the bands of panes found, top to bottom
 * @throws AssertionError describing the first defect, with the screen
 */
export function assertCleanFrame(
	lines: readonly string[],
	columns: number,
	rows: number,
): PaneBand[] {
	const screen = lines.join("\n");
	const fail = (why: string): never => assert.fail(`${why} (${columns}x${rows}):\n${screen}`);
	const styleAt = (char: string) => BOX_STYLES.find((style) => style.topLeft === char);
	if (lines.length !== rows) fail(`${lines.length} rows instead of ${rows}`);
	const bands: PaneBand[] = [];
	let row = 0;
	while (row < rows && styleAt(cells(lines[row])[0] ?? "")) {
		const top = cells(lines[row]);
		if (top.length !== columns) fail(`row ${row} is ${top.length} cells wide`);
		const panes: Array<PaneBox & { style: (typeof BOX_STYLES)[number] }> = [];
		for (let column = 0; column < columns; ) {
			const style = styleAt(top[column]);
			if (!style) return fail(`row ${row}: no top-left corner at column ${column}`);
			const right = top.indexOf(style.topRight, column + 1);
			if (right < 0) fail(`row ${row}: the pane at column ${column} has no ${style.topRight}`);
			const title = top
				.slice(column + 1, right)
				.join("")
				.replace(/^[─━] /, "")
				.replace(/ [─━]*$/, "");
			panes.push({ left: column, right, title, heavy: style.side === "┃", style });
			column = right + 1;
		}
		let bottom = row + 1;
		for (; bottom < rows; bottom++) {
			const line = cells(lines[bottom]);
			if (line.length !== columns) fail(`row ${bottom} is ${line.length} cells wide`);
			if (line[0] === panes[0].style.bottomLeft) break;
			for (const pane of panes) {
				if (line[pane.left] !== pane.style.side || line[pane.right] !== pane.style.side)
					fail(`row ${bottom}: pane "${pane.title}" lacks its ${pane.style.side} borders`);
			}
		}
		if (bottom >= rows) fail(`the band from row ${row} has no bottom border`);
		const last = cells(lines[bottom]);
		for (const pane of panes) {
			if (last[pane.left] !== pane.style.bottomLeft || last[pane.right] !== pane.style.bottomRight)
				fail(`row ${bottom}: pane "${pane.title}" lacks its bottom corners`);
		}
		bands.push({
			top: row,
			bottom,
			panes: panes.map(({ left, right, title, heavy }) => ({ left, right, title, heavy })),
		});
		row = bottom + 1;
	}
	if (bands.length === 0) fail("no panes");
	for (; row < rows; row++) {
		if (BORDER_CHARS.has(cells(lines[row])[0] ?? ""))
			fail(`row ${row} (after the panes) starts with a border`);
		if (cells(lines[row]).length > columns) fail(`row ${row} is wider than ${columns}`);
	}
	return bands;
}

/**
 * The inside rows of the pane whose title starts with `title` (borders cut off, trailing
 * blanks trimmed), as found by {@link assertCleanFrame}.
 *
 * @returns the rows, top to bottom
 * @throws AssertionError when the frame is not clean or has no such pane
 */
export function paneRows(
	lines: readonly string[],
	columns: number,
	rows: number,
	title: string,
): string[] {
	for (const band of assertCleanFrame(lines, columns, rows)) {
		const pane = band.panes.find((candidate) => candidate.title.startsWith(title));
		if (!pane) continue;
		return lines.slice(band.top + 1, band.bottom).map((line) =>
			cells(line)
				.slice(pane.left + 1, pane.right)
				.join("")
				.trimEnd(),
		);
	}
	return assert.fail(`no pane titled "${title}" in:\n${lines.join("\n")}`);
}

/** The text of a line's bold runs, in order (from `capture-pane -e` output). */
export function boldRuns(styledLine: string): string[] {
	const runs: string[] = [];
	let bold = false;
	let run = "";
	// biome-ignore lint/suspicious/noControlCharactersInRegex: parsing escape sequences is the point
	for (const part of styledLine.split(/(\u001B\[[0-9;:]*m)/)) {
		// biome-ignore lint/suspicious/noControlCharactersInRegex: parsing escape sequences is the point
		const sgr = /^\u001B\[([0-9;:]*)m$/.exec(part);
		if (!sgr) {
			if (bold) run += part;
			continue;
		}
		for (const code of (sgr[1] || "0").split(/[;:]/)) {
			if (code === "1") bold = true;
			else if (code === "0" || code === "22") {
				if (bold && run) runs.push(run);
				run = "";
				bold = false;
			}
		}
	}
	if (bold && run) runs.push(run);
	return runs;
}

/**
 * The selected row: the text after the selection marker `› ` on the screen, up to two
 * spaces or a border (only the focused pane marks its selection).
 *
 * @returns e.g. `"▸ docs/"`, `"hello.txt"`, or undefined when no row is marked
 */
export function selectedRow(screen: string): string | undefined {
	return /› \s*(.+?)(?:\s{2,}|[│┃]|$)/m.exec(screen)?.[1];
}
