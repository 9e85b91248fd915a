/**
 * Full-screen frames drawn over the old one instead of after a cleared screen.
 *
 * When a frame fills the terminal, ink (6.x) writes it as "clear the screen, then the
 * frame". A terminal that paints between the two (one without synchronized output, such as
 * tmux 3.3 or the Linux console) shows a blank or half-drawn screen: flicker. Rewritten
 * here as "cursor home, then each line over the old one, erasing only what a longer old
 * line leaves behind", every moment on screen is the old frame or the new one, line by line.
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
		const short = displayWidth(stripVTControlCharacters(line)) < columns;
		out += line;
		if (i < lines.length - 1) out += short ? `${ERASE_LINE_END}\n` : "\n";
		else if (short) out += ERASE_LINE_END + ERASE_BELOW;
	}
	return out;
}

/**
 * Makes `stream`'s string writes go through {@link drawInPlace} until the returned function
 * is called.
 * @param stream - the terminal ink draws on (its `columns` is read at each write)
 * @returns a function that puts the original `write` back
 */
export function steadyFrames(stream: NodeJS.WriteStream): () => void {
	const write = stream.write;
	stream.write = function (this: NodeJS.WriteStream, chunk: unknown, ...rest: unknown[]) {
		const text = typeof chunk === "string" ? drawInPlace(chunk, stream.columns || 80) : chunk;
		return (write as (...args: unknown[]) => boolean).call(this, text, ...rest);
	} as typeof stream.write;
	return () => {
		stream.write = write;
	};
}
