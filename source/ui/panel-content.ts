/**
 * The lines of the panels that cover the panes: a detail view's labelled rows, the help
 * (every key, from the keymaps), the limits form. Pure text as styled runs, each line
 * exactly as wide as the panel's inside, so ink never wraps them.
 */

import type { DetailView } from "./details.js";
import { displayWidth, fit, printable, type Segment } from "./format.js";
import type { HelpSection } from "./keymap.js";
import { KEY_FIELD, LIMIT_FIELDS, type LimitsForm } from "./limits-form.js";

/** One line of a panel: styled runs whose texts together are the panel's inside width. */
export type PanelLine = Segment[];

/** Widest label column of a detail panel, in columns. */
const MAX_LABEL_WIDTH = 16;

/**
 * Cuts a text into pieces of at most `width` columns, at spaces when a piece would keep at
 * least half its room, else anywhere (hashes and paths have no spaces).
 *
 * @param text - plain text
 * @param width - columns per piece (at least 1)
 * @returns the pieces, at least one (empty text gives `[""]`)
 */
export function wrapText(text: string, width: number): string[] {
	const room = Math.max(1, width);
	const pieces: string[] = [];
	let rest = Array.from(text);
	while (rest.length > 0) {
		let used = 0;
		let end = 0;
		while (end < rest.length && used + displayWidth(rest[end]) <= room) {
			used += displayWidth(rest[end]);
			end++;
		}
		if (end < rest.length) {
			const space = rest.lastIndexOf(" ", end);
			if (space >= Math.floor(end / 2) && space > 0) end = space + 1;
		}
		end = Math.max(1, end);
		pieces.push(rest.slice(0, end).join("").trimEnd());
		rest = rest.slice(end);
	}
	return pieces.length > 0 ? pieces : [""];
}

/** A line of one plain run, fitted to `width`. */
function plainLine(text: string, width: number, style?: Segment["style"]): PanelLine {
	return [style ? { text: fit(text, width), style } : { text: fit(text, width) }];
}

/**
 * A detail view as panel lines: the labels in a column (dimmed), the values beside them,
 * long values wrapped under themselves (a long word such as a hash or a path that fits a
 * line goes whole on the line under its label), each value in its tone.
 *
 * @param view - the rows to show
 * @param width - inside width of the panel, in columns
 * @returns the lines, each exactly `width` columns wide
 */
export function detailLines(view: DetailView, width: number): PanelLine[] {
	const labelWidth = Math.min(
		MAX_LABEL_WIDTH,
		Math.max(0, ...view.rows.map((row) => displayWidth(row.label))) + 2,
	);
	const valueWidth = Math.max(1, width - labelWidth);
	const lines: PanelLine[] = [];
	for (const row of view.rows) {
		const value = printable(row.value);
		const size = displayWidth(value);
		// A long word (a hash, a path) that fits a whole line goes under its label, whole.
		if (size > valueWidth && size <= width - 2 && !value.includes(" ")) {
			lines.push([{ text: fit(row.label, width), style: "dim" }]);
			const whole: Segment = { text: fit(`  ${value}`, width) };
			if (row.tone) whole.style = row.tone;
			lines.push([whole]);
			continue;
		}
		wrapText(value, valueWidth).forEach((piece, index) => {
			const label = index === 0 ? row.label : "";
			const value: Segment = { text: fit(piece, valueWidth) };
			if (row.tone) value.style = row.tone;
			lines.push([{ text: fit(label, labelWidth), style: "dim" }, value]);
		});
	}
	return lines;
}

/** Least columns of one help column. */
const MIN_HELP_COLUMN = 36;
/** Widest keys column of the help. */
const MAX_KEYS_WIDTH = 22;
/** Columns between help columns. */
const HELP_GUTTER = 3;

/** The help as one column of lines `width` wide: section titles bold, keys bold. */
function helpColumn(sections: readonly HelpSection[], width: number): PanelLine[] {
	const keysWidth = Math.min(
		MAX_KEYS_WIDTH,
		Math.max(...sections.flatMap((s) => s.entries.map((e) => displayWidth(e.keys)))) + 2,
	);
	const doesWidth = Math.max(1, width - keysWidth);
	const lines: PanelLine[] = [];
	sections.forEach((section, index) => {
		if (index > 0) lines.push(plainLine("", width));
		lines.push(plainLine(`── ${section.title} ──`, width, "strong"));
		for (const entry of section.entries) {
			const keys = wrapText(entry.keys, keysWidth - 1);
			const does = wrapText(entry.does, doesWidth);
			for (let line = 0; line < Math.max(keys.length, does.length); line++) {
				lines.push([
					{ text: fit(keys[line] ?? "", keysWidth), style: "strong" },
					{ text: fit(does[line] ?? "", doesWidth) },
				]);
			}
		}
	});
	return lines;
}

/**
 * The help overlay's lines: one column when everything fits within `height` lines, else
 * the fewest columns side by side (at least 36 columns each) that show everything (a
 * column does not start with a blank line), else one column to scroll.
 *
 * @param sections - the help, from {@link helpSections}
 * @param width - inside width of the panel, in columns
 * @param height - lines that fit without scrolling
 * @returns the lines, each exactly `width` columns wide
 */
export function helpLines(
	sections: readonly HelpSection[],
	width: number,
	height: number,
): PanelLine[] {
	const single = helpColumn(sections, width);
	if (single.length <= height) return single;
	const most = Math.max(1, Math.floor((width + HELP_GUTTER) / (MIN_HELP_COLUMN + HELP_GUTTER)));
	for (let columns = 2; columns <= most; columns++) {
		const columnWidth = Math.floor((width - (columns - 1) * HELP_GUTTER) / columns);
		const flat = helpColumn(sections, columnWidth);
		const per = Math.ceil(flat.length / columns);
		if (per > height) continue;
		const parts: PanelLine[][] = [[]];
		for (const line of flat) {
			let part = parts[parts.length - 1];
			if (part.length >= per) {
				part = [];
				parts.push(part);
			}
			const blank = line.every((segment) => segment.text.trim() === "");
			if (!(blank && part.length === 0)) part.push(line);
		}
		if (parts.length > columns) continue;
		const rows = Math.max(...parts.map((part) => part.length));
		const lines: PanelLine[] = [];
		for (let row = 0; row < rows; row++) {
			const line: PanelLine = [];
			for (let column = 0; column < columns; column++) {
				if (column > 0) line.push({ text: " ".repeat(HELP_GUTTER) });
				line.push(...(parts[column]?.[row] ?? plainLine("", columnWidth)));
			}
			const used = columns * columnWidth + (columns - 1) * HELP_GUTTER;
			if (used < width) line.push({ text: " ".repeat(width - used) });
			lines.push(line);
		}
		return lines;
	}
	return single;
}

/**
 * The add-peer form's lines: what naming a peer does, the field (its end shown when
 * longer, then the cursor), examples, the error of the last Enter and the form's keys.
 *
 * @param text - what is typed
 * @param error - why the last Enter was refused, if it was
 * @param width - inside width of the panel, in columns
 * @returns the lines, each exactly `width` columns wide
 */
export function peerFormLines(text: string, error: string | undefined, width: number): PanelLine[] {
	const inputWidth = Math.max(8, Math.min(46, width - 12));
	const lines: PanelLine[] = [
		plainLine("Name a peer by address: it is said hello to by unicast, beside the", width),
		plainLine("broadcasts, and kept in the settings (remove-peer forgets it).", width),
		plainLine("", width),
		fitLine(
			[
				{ text: "› Peer  [" },
				{ text: fit(text, inputWidth - 1, "right"), style: "strong" },
				{ text: " ", style: "cursor" },
				{ text: "]" },
			],
			width,
		),
		plainLine("  HOST[:PORT]: 192.168.1.20, [fd00::2]:45454, nas.local", width, "dim"),
		plainLine("  PORT is its discovery port (ours when left out)", width, "dim"),
		plainLine("", width),
	];
	if (error) lines.push(plainLine(error, width, "error"));
	lines.push(plainLine("Enter add · Esc close · Ctrl-U clear", width, "dim"));
	return lines;
}

/**
 * The limits form's lines: a sentence on what the limits do, one line per field (the
 * edited one marked and its text followed by the cursor), the error of the last Enter
 * (in the error tone) and the form's keys.
 *
 * @param form - the form's state
 * @param width - inside width of the panel, in columns
 * @returns the lines, each exactly `width` columns wide
 */
export function limitsFormLines(form: LimitsForm, width: number): PanelLine[] {
	const labelWidth = Math.max(...LIMIT_FIELDS.map((field) => displayWidth(field.label))) + 2;
	const inputWidth = 14;
	const lines: PanelLine[] = [
		plainLine("Rate limits the engine honours, and how many downloads run at once.", width),
		plainLine("", width),
	];
	LIMIT_FIELDS.forEach((field, index) => {
		const editing = index === form.field;
		// The key is a secret: one bullet per character typed, never its text.
		const typed = form.values[index];
		const value = index === KEY_FIELD ? "•".repeat(Math.min(typed.length, inputWidth)) : typed;
		const line: PanelLine = [
			{
				text: `${editing ? "› " : "  "}${fit(field.label, labelWidth)}`,
				style: editing ? "strong" : undefined,
			},
			{ text: "[" },
			{ text: fit(value, Math.max(0, inputWidth - (editing ? 1 : 0))), style: "strong" },
		];
		if (editing) line.push({ text: " ", style: "cursor" });
		line.push({ text: `] ${field.unit}` });
		lines.push(fitLine(line, width));
	});
	if (form.keyed !== undefined)
		lines.push(
			plainLine(
				form.keyed
					? "  A network key is in force: only peers with it see us."
					: "  No network key: an open network.",
				width,
				"dim",
			),
		);
	lines.push(plainLine("", width));
	if (form.error) lines.push(plainLine(form.error, width, "error"));
	lines.push(
		plainLine("Tab/↑↓ field · Enter apply · Esc close · Ctrl-U clear field", width, "dim"),
	);
	return lines;
}

/** Cuts or pads runs to exactly `width` columns. */
function fitLine(line: PanelLine, width: number): PanelLine {
	const out: PanelLine = [];
	let used = 0;
	for (const segment of line) {
		if (used >= width) break;
		const text = fit(segment.text, Math.min(displayWidth(segment.text), width - used));
		if (text === "") continue;
		out.push(segment.style ? { text, style: segment.style } : { text });
		used += displayWidth(text);
	}
	if (used < width) out.push({ text: " ".repeat(width - used) });
	return out;
}
