/**
 * The size of the terminal ink renders to, following its resize events.
 */

import { useStdout } from "ink";
import { useEffect, useState } from "react";

/** Columns assumed when the output stream does not report its width. */
export const DEFAULT_COLUMNS = 80;
/** Rows assumed when the output stream does not report its height (e.g. in tests). */
export const DEFAULT_ROWS = 24;

/** A terminal size in character cells. */
export interface TerminalSize {
	/** Width in columns. */
	columns: number;
	/** Height in rows. */
	rows: number;
}

/** Reads the current size of a stream, with defaults for missing or zero values. */
function readSize(stream: { columns?: number; rows?: number }): TerminalSize {
	return {
		columns: stream.columns || DEFAULT_COLUMNS,
		rows: stream.rows || DEFAULT_ROWS,
	};
}

/**
 * Current size of ink's stdout, updated on every `resize` event of the stream.
 *
 * @returns columns and rows (80 × 24 when the stream does not say)
 */
export function useTerminalSize(): TerminalSize {
	const { stdout } = useStdout();
	const [size, setSize] = useState(() => readSize(stdout));
	useEffect(() => {
		const onResize = () => {
			const next = readSize(stdout);
			setSize((previous) =>
				previous.columns === next.columns && previous.rows === next.rows ? previous : next,
			);
		};
		// The size may have changed between the first render and this effect.
		onResize();
		stdout.on("resize", onResize);
		return () => {
			stdout.off("resize", onResize);
		};
	}, [stdout]);
	return size;
}
