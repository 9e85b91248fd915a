/**
 * A bordered pane with its title set into the top border, e.g. `╭─ Files (3) ───╮`.
 */

import { Box, Text } from "ink";
import type { JSX, ReactNode } from "react";
import { displayWidth, truncateEnd } from "./format.js";

/** Border colour of the focused pane. */
export const FOCUSED_COLOR = "cyan";
/** Border colour of the other panes. */
export const BLURRED_COLOR = "gray";

/** Props of {@link Pane}. */
export interface PaneProps {
	/** Title shown in the top border. */
	title: string;
	/** Outer width, borders included, in columns. */
	width: number;
	/** Outer height, borders included, in rows. */
	height: number;
	/** Whether this pane has the keyboard focus (coloured border, bold title). */
	focused: boolean;
	/** The body: one element per line, at most `height - 2` of them. */
	children?: ReactNode;
}

/**
 * Draws a round-cornered frame of exactly `width` × `height` cells with `title` in the
 * top border; the focused pane gets a different border colour and a bold title.
 *
 * @param props - see {@link PaneProps}
 * @returns the pane element
 */
export function Pane({ title, width, height, focused, children }: PaneProps): JSX.Element {
	const color = focused ? FOCUSED_COLOR : BLURRED_COLOR;
	// "╭─ " + title + " " + dashes + "╮"
	const label = truncateEnd(title, Math.max(0, width - 6));
	const dashes = Math.max(0, width - 5 - displayWidth(label));
	return (
		<Box flexDirection="column" width={width} height={height} flexShrink={0}>
			<Text wrap="truncate-end">
				<Text color={color}>╭─ </Text>
				<Text color={focused ? color : undefined} bold={focused}>
					{label}
				</Text>
				<Text color={color}>{` ${"─".repeat(dashes)}╮`}</Text>
			</Text>
			<Box
				flexDirection="column"
				borderStyle="round"
				borderTop={false}
				borderColor={color}
				width={width}
				height={height - 1}
				overflow="hidden"
			>
				{children}
			</Box>
		</Box>
	);
}
