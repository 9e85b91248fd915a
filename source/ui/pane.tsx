/**
 * A bordered pane with its title set into the top border, e.g. `╭─ Files (3) ───╮`, and
 * an optional footer set into the bottom border. The focused pane has a heavy frame
 * (`┏━ Files (3) ━━━┓`) and a bold title, so focus shows without colour too.
 */

import { Box, Text } from "ink";
import { type JSX, memo, type ReactNode } from "react";
import { displayWidth, truncateEnd } from "./format.js";
import { usePalette } from "./theme.js";

/** The frame characters of a pane: light and round, or heavy for the focused one. */
export const FRAMES = {
	round: { topLeft: "╭", topRight: "╮", bottomLeft: "╰", bottomRight: "╯", line: "─" },
	bold: { topLeft: "┏", topRight: "┓", bottomLeft: "┗", bottomRight: "┛", line: "━" },
} as const;

/** Props of {@link Pane}. */
export interface PaneProps {
	/** Title shown in the top border. */
	title: string;
	/** Outer width, borders included, in columns. */
	width: number;
	/** Outer height, borders included, in rows. */
	height: number;
	/** Whether this pane has the keyboard focus (heavy, coloured border, bold title). */
	focused: boolean;
	/** Text set into the bottom border (cut to fit), e.g. a summary line. */
	footer?: string;
	/** The body: one element per line, at most `height - 2` of them. */
	children?: ReactNode;
}

/** One border line: corner, `line`, the label (if any) and `line` to the other corner. */
function borderLine(
	left: string,
	right: string,
	line: string,
	label: string,
	width: number,
): { before: string; label: string; after: string } {
	if (label === "") {
		return {
			before: `${left}${line.repeat(Math.max(0, width - 2))}${right}`,
			label: "",
			after: "",
		};
	}
	// corner + line + space + label + space + lines + corner
	const shown = truncateEnd(label, Math.max(0, width - 6));
	const rest = Math.max(0, width - 5 - displayWidth(shown));
	return { before: `${left}${line} `, label: shown, after: ` ${line.repeat(rest)}${right}` };
}

/**
 * Draws a frame of exactly `width` × `height` cells with `title` in the top border and
 * `footer` in the bottom one; the focused pane gets the heavy frame, the focus colour and
 * a bold title.
 *
 * @param props - see {@link PaneProps}
 * @returns the pane element
 */
export const Pane = memo(function Pane({
	title,
	width,
	height,
	focused,
	footer,
	children,
}: PaneProps): JSX.Element {
	const palette = usePalette();
	const color = focused ? palette.focus : palette.blur;
	const frame = focused ? FRAMES.bold : FRAMES.round;
	const top = borderLine(frame.topLeft, frame.topRight, frame.line, title, width);
	const bottom = borderLine(frame.bottomLeft, frame.bottomRight, frame.line, footer ?? "", width);
	return (
		<Box flexDirection="column" width={width} height={height} flexShrink={0}>
			<Text wrap="truncate-end">
				<Text color={color}>{top.before}</Text>
				<Text color={focused ? color : undefined} bold={focused}>
					{top.label}
				</Text>
				<Text color={color}>{top.after}</Text>
			</Text>
			<Box
				// ink applies only the changed style props: a new border style alone would
				// bring the hidden top and bottom borders back, so the frame is made anew.
				key={focused ? "focused" : "blurred"}
				flexDirection="column"
				borderStyle={focused ? "bold" : "round"}
				borderTop={false}
				borderBottom={false}
				borderColor={color}
				width={width}
				height={Math.max(0, height - 2)}
				overflow="hidden"
			>
				{children}
			</Box>
			<Text wrap="truncate-end">
				<Text color={color}>{bottom.before}</Text>
				<Text>{bottom.label}</Text>
				<Text color={color}>{bottom.after}</Text>
			</Text>
		</Box>
	);
});
