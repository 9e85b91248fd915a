/**
 * The one-line status bar at the bottom of the screen.
 */

import { Box, Text } from "ink";
import type { JSX } from "react";
import type { Snapshot } from "../peer/types.js";
import { KEY_HINTS, type KeyHint } from "./keymap.js";
import { statusLineText } from "./rows.js";

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
}

/**
 * Shows indexing progress (while our shared folder is indexed), the snapshot's message
 * (when present), our name, shared and downloads folders, and the key help of the current
 * mode, on exactly one line of `width` columns.
 *
 * @param props - see {@link StatusLineProps}
 * @returns the status line element
 */
export function StatusLine({ snapshot, width, hints = KEY_HINTS }: StatusLineProps): JSX.Element {
	const { info, keys } = statusLineText(snapshot, width, hints);
	return (
		<Box width={width} height={1} flexShrink={0}>
			<Text
				color={snapshot.message || !snapshot.indexing.done ? "yellow" : undefined}
				wrap="truncate-end"
			>
				{info}
			</Text>
			<Text dimColor wrap="truncate-end">
				{keys}
			</Text>
		</Box>
	);
}
