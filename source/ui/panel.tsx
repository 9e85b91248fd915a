/**
 * A panel that covers the panes (help, details, location, limits form): a focused frame
 * with a title, the lines of its content from `offset` on, and a footer saying which lines
 * show when the content is longer than the panel.
 */

import { Box, Text } from "ink";
import { type JSX, memo } from "react";
import { PANE_FRAME_COLUMNS, PANE_FRAME_ROWS } from "./layout.js";
import { Pane } from "./pane.js";
import type { PanelLine } from "./panel-content.js";
import { runs } from "./panes.js";
import { usePalette } from "./theme.js";

/** Blank columns between a panel's border and its content, on each side. */
export const PANEL_PADDING = 1;

/**
 * Columns of a panel's content.
 *
 * @param width - outer width of the panel, in columns
 * @returns the inside width less the padding, at least 1
 */
export function panelWidth(width: number): number {
	return Math.max(1, width - PANE_FRAME_COLUMNS - 2 * PANEL_PADDING);
}

/** Props of {@link Panel}. */
export interface PanelProps {
	title: string;
	/** Outer width, borders included, in columns. */
	width: number;
	/** Outer height, borders included, in rows. */
	height: number;
	/** Every line of the content, each {@link panelWidth} columns wide. */
	lines: readonly PanelLine[];
	/** Index of the first line shown (clamped to the content). */
	offset: number;
	/** The bottom border's key help when the content fits (default `Esc close`). */
	footer?: string;
}

/**
 * Lines of content that fit in a panel of `height` rows.
 *
 * @param height - outer height of the panel, in rows
 * @returns at least 1
 */
export function panelRows(height: number): number {
	return Math.max(1, height - PANE_FRAME_ROWS);
}

/**
 * The highest useful offset of a panel's content.
 *
 * @param lines - number of lines of content
 * @param height - outer height of the panel, in rows
 * @returns 0 when everything fits
 */
export function maxPanelOffset(lines: number, height: number): number {
	return Math.max(0, lines - panelRows(height));
}

/**
 * Draws the panel: the content window and, in the bottom border, `Esc close` and (when
 * the content scrolls) e.g. `lines 1-21 of 62 · ↑↓ PgUp PgDn scroll`.
 *
 * @param props - see {@link PanelProps}
 * @returns the panel element
 */
export const Panel = memo(function Panel(props: PanelProps): JSX.Element {
	const palette = usePalette();
	const rows = panelRows(props.height);
	const offset = Math.min(
		Math.max(0, props.offset),
		maxPanelOffset(props.lines.length, props.height),
	);
	const shown = props.lines.slice(offset, offset + rows);
	const footer =
		props.lines.length > rows
			? `lines ${offset + 1}-${offset + shown.length} of ${props.lines.length} · ↑↓ PgUp PgDn scroll · Esc close`
			: (props.footer ?? "Esc close");
	return (
		<Pane title={props.title} width={props.width} height={props.height} focused footer={footer}>
			{shown.map((line, index) => (
				// biome-ignore lint/suspicious/noArrayIndexKey: lines are positions in a fixed window
				<Box key={index} paddingX={PANEL_PADDING}>
					<Text wrap="truncate-end">{runs(line, palette)}</Text>
				</Box>
			))}
		</Pane>
	);
});
