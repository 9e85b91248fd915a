/**
 * A bordered pane with its title set into the top border, e.g. `╭─ Files (3) ───╮`, and
 * an optional footer set into the bottom border. The focused pane has a heavy frame
 * (`┏━ Files (3) ━━━┓`, ink's "bold" border; the others its "round" one) and a bold title,
 * so focus shows without colour too.
 */

import { Box, Text } from "ink";
import { type JSX, memo, type ReactNode } from "react";
import { truncateEnd } from "./format.js";
import { usePalette } from "./theme.js";

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

/** Where a label sits in a border: after the corner and one line character. */
const LABEL_COLUMN = 2;

/**
 * The label as set into a border of `width` columns: cut to leave the corners, a line
 * character and a space on each side.
 */
function borderLabel(label: string, width: number): string {
	return label === "" ? "" : truncateEnd(label, Math.max(0, width - 6));
}

/**
 * A label over a border line (the border itself is the frame's, drawn by ink): a space,
 * the label, a space, from column {@link LABEL_COLUMN} of row `row`.
 */
function BorderLabel({
	label,
	row,
	color,
	labelColor,
	bold,
}: {
	label: string;
	row: number;
	color: string | undefined;
	labelColor: string | undefined;
	bold: boolean;
}): JSX.Element | null {
	if (label === "") return null;
	return (
		<Box position="absolute" marginTop={row} marginLeft={LABEL_COLUMN}>
			<Text wrap="truncate-end">
				<Text color={color}> </Text>
				<Text color={labelColor} bold={bold}>
					{label}
				</Text>
				<Text color={color}> </Text>
			</Text>
		</Box>
	);
}

/**
 * Draws a frame of exactly `width` × `height` cells with `title` in the top border and
 * `footer` in the bottom one; the focused pane gets the heavy frame, the focus colour and
 * a bold title.
 *
 * The whole frame is ink's box border, and the title and footer are laid over it: a border
 * drawn as text would be measured (grapheme by grapheme, a few hundred box-drawing
 * characters per pane) on every frame, the box's border is not.
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
	return (
		<Box flexDirection="column" width={width} height={height} flexShrink={0}>
			<Box
				// ink applies only the changed style props: the frame is made anew when its
				// style changes, so no stale border setting survives a change of focus.
				key={focused ? "focused" : "blurred"}
				flexDirection="column"
				borderStyle={focused ? "bold" : "round"}
				borderColor={color}
				width={width}
				height={height}
				flexShrink={0}
				// Rows are cut to the pane's width already (truncate-end); clipping only
				// vertically spares ink slicing every line of every frame.
				overflowY="hidden"
			>
				{children}
			</Box>
			<BorderLabel
				label={borderLabel(title, width)}
				row={0}
				color={color}
				labelColor={focused ? color : undefined}
				bold={focused}
			/>
			<BorderLabel
				label={borderLabel(footer ?? "", width)}
				row={Math.max(0, height - 1)}
				color={color}
				labelColor={undefined}
				bold={false}
			/>
		</Box>
	);
});
