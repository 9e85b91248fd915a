/**
 * Keeps stray output off the TUI's screen: while ink draws, anything written with
 * `console.*` or straight to `process.stderr` (a library's warning, a Node warning) would
 * land in the middle of the frame. The guard takes it instead, hands it to a sink (the
 * log file) and keeps the last lines to print once the terminal is restored.
 */

import { format } from "node:util";

/** Console methods the guard takes over. */
const METHODS = ["log", "info", "warn", "error", "debug", "trace", "dir"] as const;

/** Most lines kept for after the TUI. */
export const KEPT_LINES = 100;

/** A line taken from the console or stderr. */
export interface GuardedLine {
	/** `"log"`, `"info"`, `"warn"`, `"error"`, `"debug"`, `"trace"`, `"dir"` or `"stderr"`. */
	source: string;
	text: string;
}

/** A guard in place; `restore()` gives the console and stderr back. */
export interface ConsoleGuard {
	/** The last {@link KEPT_LINES} lines taken, oldest first. */
	readonly lines: readonly GuardedLine[];
	/** Puts the original console methods and `process.stderr.write` back (idempotent). */
	restore(): void;
}

/**
 * Takes over `console.*` and `process.stderr.write` until `restore()`.
 *
 * @param sink - gets every line taken (e.g. to write it to the log file); optional
 * @returns the guard
 */
export function guardConsole(sink?: (line: GuardedLine) => void): ConsoleGuard {
	const lines: GuardedLine[] = [];
	const take = (source: string, text: string) => {
		for (const part of text.replace(/\n$/, "").split("\n")) {
			const line = { source, text: part };
			lines.push(line);
			if (lines.length > KEPT_LINES) lines.shift();
			try {
				sink?.(line);
			} catch {
				// A failing sink must not bring the TUI down; the line is still kept.
			}
		}
	};
	const saved = METHODS.map((method) => [method, console[method]] as const);
	for (const method of METHODS) {
		console[method] = (...args: unknown[]) => take(method, format(...args));
	}
	const stderr = process.stderr;
	const write = stderr.write;
	stderr.write = ((chunk: string | Uint8Array, encoding?: unknown, callback?: unknown) => {
		take("stderr", typeof chunk === "string" ? chunk : Buffer.from(chunk).toString("utf8"));
		const done = typeof encoding === "function" ? encoding : callback;
		if (typeof done === "function") queueMicrotask(() => done());
		return true;
	}) as typeof stderr.write;
	let restored = false;
	return {
		lines,
		restore() {
			if (restored) return;
			restored = true;
			for (const [method, original] of saved) console[method] = original as never;
			stderr.write = write;
		},
	};
}
