/**
 * Full-screen frames drawn over the old one instead of after a cleared screen, and only
 * where they changed.
 *
 * When a frame fills the terminal, ink (6.x) writes it as "clear the screen, then the
 * frame". A terminal that paints between the two (one without synchronized output, such as
 * tmux 3.3 or the Linux console) shows a blank or half-drawn screen: flicker. Rewritten
 * here as "cursor home, then each line over the old one, erasing only what a longer old
 * line leaves behind", every moment on screen is the old frame or the new one, line by line.
 *
 * Ink also writes the whole screen for every frame, even when one row changed (a key press
 * moving the selection) or none did: 200x60 cells, colours included, for the terminal to
 * parse each time. Once a frame is on screen, the next one of the same size is written as
 * its changed lines only, each after a cursor move to its row (CUP); an unchanged frame
 * writes nothing. Any other write to the terminal (ink clearing it on a resize, leaving the
 * alternate screen) makes the next frame a whole one again, and so does the passing of
 * {@link REPAINT_MS} (so another program's output on the terminal does not stay).
 * @module
 */
import { stripVTControlCharacters } from "node:util";
import { displayWidth } from "./format.js";

/** What ink writes before a full-screen frame (ansi-escapes' `clearTerminal`, not Windows). */
export const CLEAR_TERMINAL = "\u001B[2J\u001B[3J\u001B[H";
const HOME = "\u001B[H";
/** Erase from the cursor to the end of the line (EL 0). */
const ERASE_LINE_END = "\u001B[K";
/** Erase from the cursor to the end of the screen (ED 0). */
const ERASE_BELOW = "\u001B[J";
/** Synchronized output begin and end (ink brackets frames with them): they draw nothing. */
const SYNC_MARKS: ReadonlySet<string> = new Set(["\u001B[?2026h", "\u001B[?2026l"]);

/** Whether a frame line is narrower than the terminal (so an erase after it is safe). */
function isShort(line: string, columns: number): boolean {
	return displayWidth(stripVTControlCharacters(line)) < columns;
}

/**
 * The same frame, drawn in place. Lines as wide as the terminal get no erase: the cursor
 * then waits on their last column, where an erase would take that column's character.
 * @param chunk - what ink writes; anything not starting with {@link CLEAR_TERMINAL} is
 *   returned unchanged
 * @param columns - the terminal's width in columns
 * @returns the rewritten chunk; the cursor ends where ink's own would (end of the frame)
 */
export function drawInPlace(chunk: string, columns: number): string {
	if (!chunk.startsWith(CLEAR_TERMINAL)) return chunk;
	const lines = chunk.slice(CLEAR_TERMINAL.length).split("\n");
	let out = HOME;
	for (let i = 0; i < lines.length; i++) {
		const line = lines[i];
		const short = isShort(line, columns);
		out += line;
		if (i < lines.length - 1) out += short ? `${ERASE_LINE_END}\n` : "\n";
		else if (short) out += ERASE_LINE_END + ERASE_BELOW;
	}
	return out;
}

/**
 * The writes that turn frame `before` on screen into frame `after` of the same number of
 * lines: each changed line after a cursor move to its row (CUP, ECMA-48 §8.3.21), erasing
 * what a longer old line leaves behind; then the cursor where ink's own would be (the end
 * of the last line).
 * @param before - the lines on screen
 * @param after - the lines of the new frame (as many as `before`)
 * @param columns - the terminal's width in columns
 * @returns the writes; empty when no line changed
 */
export function drawChanged(
	before: readonly string[],
	after: readonly string[],
	columns: number,
): string {
	let out = "";
	for (let i = 0; i < after.length; i++) {
		const line = after[i];
		if (line === before[i]) continue;
		out += `\u001B[${i + 1};1H${line}${isShort(line, columns) ? ERASE_LINE_END : ""}`;
	}
	if (out === "") return "";
	const last = after.length - 1;
	const end = Math.min(displayWidth(stripVTControlCharacters(after[last])), columns - 1);
	return `${out}\u001B[${last + 1};${end + 1}H`;
}

/**
 * How often a frame is drawn whole anyway, in ms: what another program wrote on the
 * terminal (a `wall` message, a background job) is gone within this long even where the
 * TUI's lines do not change.
 */
export const REPAINT_MS = 5_000;

/** Options of {@link steadyFrames}. */
export interface SteadyFramesOptions {
	/** Draw a frame whole when the last whole one is older than this, in ms (default {@link REPAINT_MS}). */
	repaintMs?: number;
	/** The clock, in ms (default `performance.now`). */
	now?: () => number;
}

/**
 * Makes `stream`'s string writes go through {@link drawInPlace}, a frame of the same size
 * as the one on screen through {@link drawChanged} (unless the last whole frame is older
 * than `repaintMs`), until the returned function is called.
 * @param stream - the terminal ink draws on (its `columns` and `rows` are read at each write)
 * @param options - see {@link SteadyFramesOptions}
 * @returns a function that puts the original `write` back
 */
export function steadyFrames(
	stream: NodeJS.WriteStream,
	{ repaintMs = REPAINT_MS, now = () => performance.now() }: SteadyFramesOptions = {},
): () => void {
	const write = stream.write;
	/** The frame on screen, when only frames were written since it. */
	let shown: { lines: string[]; columns: number; rows: number } | undefined;
	/** When the last frame was drawn whole. */
	let wholeAt = Number.NEGATIVE_INFINITY;
	const rewrite = (chunk: unknown): unknown => {
		if (typeof chunk !== "string") {
			shown = undefined;
			return chunk;
		}
		if (chunk === "" || SYNC_MARKS.has(chunk)) return chunk;
		if (!chunk.startsWith(CLEAR_TERMINAL)) {
			// Something else drew on the terminal: the next frame is drawn whole.
			shown = undefined;
			return chunk;
		}
		const columns = stream.columns || 80;
		const rows = stream.rows || 24;
		const lines = chunk.slice(CLEAR_TERMINAL.length).split("\n");
		const at = now();
		const previous =
			shown !== undefined &&
			shown.columns === columns &&
			shown.rows === rows &&
			shown.lines.length === lines.length &&
			at - wholeAt <= repaintMs
				? shown
				: undefined;
		const out = previous
			? drawChanged(previous.lines, lines, columns)
			: drawInPlace(chunk, columns);
		if (!previous) wholeAt = at;
		shown = { lines, columns, rows };
		return out;
	};
	stream.write = function (this: NodeJS.WriteStream, chunk: unknown, ...rest: unknown[]) {
		return (write as (...args: unknown[]) => boolean).call(this, rewrite(chunk), ...rest);
	} as typeof stream.write;
	return () => {
		stream.write = write;
	};
}
