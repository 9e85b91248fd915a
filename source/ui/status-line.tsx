/**
 * The one-line status bar at the bottom of the screen: events and progress on the left,
 * the keys of the current mode on the right; or a question (the cancel prompt).
 */

import { Box, Text } from "ink";
import { type JSX, memo } from "react";
import type { Snapshot } from "../peer/types.js";
import { displayWidth, fit, truncateEnd } from "./format.js";
import { KEY_HINTS, type KeyHint, keyHelp } from "./keymap.js";
import { statusLineText } from "./rows.js";
import { usePalette } from "./theme.js";

/** Words that make a status message an error (shown red). */
const ERROR_WORDS =
	/\b(fail(ed|s|ure)?|errors?|banned|cannot|refused|mismatch|denied|invalid|not found)\b/i;

/**
 * Whether a status message reports something that went wrong (a failed download or
 * verification, a banned peer, an error).
 *
 * @param message - the message
 * @returns true for the error tone
 */
export function isErrorMessage(message: string): boolean {
	return ERROR_WORDS.test(message);
}

/** Props of {@link StatusLine}. */
export interface StatusLineProps {
	/**
	 * The parts of the snapshot it shows: message, self name and folders, indexing (not
	 * the whole snapshot: React's development build diffs changed props deeply).
	 */
	snapshot: Pick<Snapshot, "self" | "message" | "indexing">;
	/** Terminal width, in columns. */
	width: number;
	/** The key help of the current mode (default: the normal one). */
	hints?: readonly KeyHint[];
	/** A question that takes the whole line (the cancel prompt), with `hints` beside it. */
	prompt?: string;
}

/**
 * Shows indexing progress (while our shared folder is indexed), the message (when
 * present: red for an error, else yellow), our name, shared and downloads folders, and the
 * key help of the current mode, on exactly one line of `width` columns. With a `prompt`,
 * the line shows the question (bold) and the keys that answer it.
 *
 * @param props - see {@link StatusLineProps}
 * @returns the status line element
 */
export const StatusLine = memo(function StatusLine({
	snapshot,
	width,
	hints = KEY_HINTS,
	prompt,
}: StatusLineProps): JSX.Element {
	const palette = usePalette();
	if (prompt !== undefined) {
		// The question comes first; the keys that answer it take what is left.
		const keys = keyHelp(hints, Math.max(0, width - displayWidth(prompt) - 2));
		const room = Math.max(0, width - displayWidth(keys));
		return (
			<Box width={width} height={1} flexShrink={0}>
				<Text color={palette.warn} bold wrap="truncate-end">
					{fit(truncateEnd(prompt, room - 2), room)}
				</Text>
				<Text dimColor wrap="truncate-end">
					{keys}
				</Text>
			</Box>
		);
	}
	const { info, keys } = statusLineText(snapshot, width, hints);
	const tone =
		snapshot.message && isErrorMessage(snapshot.message)
			? palette.error
			: snapshot.message || !snapshot.indexing.done
				? palette.warn
				: undefined;
	return (
		<Box width={width} height={1} flexShrink={0}>
			<Text color={tone} wrap="truncate-end">
				{info}
			</Text>
			<Text dimColor wrap="truncate-end">
				{keys}
			</Text>
		</Box>
	);
});
