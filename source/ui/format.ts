/**
 * Pure text helpers for the terminal UI: human-readable sizes and rates, text progress
 * bars and width-aware truncation and padding. Nothing here touches React or a stream.
 */

import { printable } from "../protocol/names.js";

/** Untrusted text is drawn through this one function (`../protocol/names.ts`). */
export { printable };

const ELLIPSIS = "…";

const BINARY_UNITS = ["B", "KiB", "MiB", "GiB"] as const;
const DECIMAL_RATE_UNITS = ["B/s", "KB/s", "MB/s", "GB/s"] as const;

/**
 * Scales `value` by `base` until it fits the unit: whole numbers for the first unit, one
 * decimal above. A value that would round up to `base` (e.g. 1023.96 KiB) is promoted.
 */
function scale(value: number, base: number, units: readonly string[]): string {
	let scaled = Number.isFinite(value) && value > 0 ? value : 0;
	let unit = 0;
	while (unit < units.length - 1) {
		const shown = unit === 0 ? Math.round(scaled) : Number(scaled.toFixed(1));
		if (shown < base) {
			break;
		}
		scaled /= base;
		unit += 1;
	}
	return unit === 0 ? `${Math.round(scaled)} ${units[0]}` : `${scaled.toFixed(1)} ${units[unit]}`;
}

/**
 * Formats a byte count with binary units, one decimal above bytes.
 *
 * @param bytes - a size in bytes (negative or non-finite counts as 0)
 * @returns e.g. `"512 B"`, `"1.5 KiB"`, `"3.0 MiB"`, `"1.2 GiB"` (GiB is the largest unit)
 */
export function formatBytes(bytes: number): string {
	return scale(bytes, 1024, BINARY_UNITS);
}

/**
 * Formats a byte count in at most five columns for tight table cells: binary units as a
 * single letter, one decimal below 10.
 *
 * @param bytes - a size in bytes (negative or non-finite counts as 0)
 * @returns e.g. `"0"`, `"512B"`, `"1.5K"`, `"120M"`, `"1.0G"` (T is the largest unit)
 */
export function formatBytesCompact(bytes: number): string {
	let scaled = Number.isFinite(bytes) && bytes > 0 ? bytes : 0;
	if (scaled === 0) {
		return "0";
	}
	if (Math.round(scaled) < 1024) {
		return `${Math.round(scaled)}B`;
	}
	const units = ["K", "M", "G", "T"];
	let unit = 0;
	scaled /= 1024;
	// Promote a value that would show as 1000 or more (e.g. 1000K shows as 1.0M).
	while (unit < units.length - 1 && Math.round(scaled) >= 1000) {
		scaled /= 1024;
		unit += 1;
	}
	const shown = Number(scaled.toFixed(1)) < 10 ? scaled.toFixed(1) : String(Math.round(scaled));
	return `${shown}${units[unit]}`;
}

/**
 * Formats a transfer rate with decimal (SI) units, one decimal above bytes.
 *
 * @param bytesPerSecond - a rate in bytes per second (negative or non-finite counts as 0)
 * @returns e.g. `"800 B/s"`, `"1.2 KB/s"`, `"1.2 MB/s"`, `"1.0 GB/s"` (GB/s is the largest unit)
 */
export function formatRate(bytesPerSecond: number): string {
	return scale(bytesPerSecond, 1000, DECIMAL_RATE_UNITS);
}

/**
 * Draws a text progress bar such as `[#####-----]`.
 *
 * @param fraction - completed part in [0, 1]; values outside are clamped, NaN counts as 0
 * @param width - number of cells between the brackets (the result is `width + 2` characters)
 * @returns the bar; a cell is `#` only when fully reached, so the bar is full only at 1
 */
export function progressBar(fraction: number, width: number): string {
	const cells = Math.max(0, Math.floor(width));
	const clamped = Number.isNaN(fraction) ? 0 : Math.min(1, Math.max(0, fraction));
	const filled = Math.floor(clamped * cells + 1e-9);
	return `[${"#".repeat(filled)}${"-".repeat(cells - filled)}]`;
}

/**
 * Whole percent of `done` out of `total`, rounded down so 100% means finished.
 *
 * @param done - bytes (or any unit) completed
 * @param total - total in the same unit; a total of 0 counts as 0%
 * @returns an integer between 0 and 100
 */
export function percent(done: number, total: number): number {
	if (!(total > 0) || !(done > 0)) {
		return 0;
	}
	return Math.min(100, Math.floor((done / total) * 100 + 1e-9));
}

/**
 * Time left, in at most six columns.
 *
 * @param seconds - seconds left (negative, NaN or infinite gives `""`)
 * @returns e.g. `"42s"`, `"3m04s"`, `"12h04m"`, `"4d03h"`, `"99d+"` from 100 days on
 */
export function formatEta(seconds: number): string {
	if (!Number.isFinite(seconds) || seconds < 0) {
		return "";
	}
	const total = Math.ceil(seconds);
	const two = (value: number) => String(value).padStart(2, "0");
	if (total < 60) {
		return `${total}s`;
	}
	if (total < 3600) {
		return `${Math.floor(total / 60)}m${two(total % 60)}s`;
	}
	if (total < 100 * 3600) {
		return `${Math.floor(total / 3600)}h${two(Math.floor(total / 60) % 60)}m`;
	}
	const days = Math.floor(total / 86_400);
	return days >= 100 ? "99d+" : `${days}d${two(Math.floor(total / 3600) % 24)}h`;
}

/**
 * Seconds since a moment, for "last seen" columns.
 *
 * @param then - earlier wall-clock time, in ms since the epoch
 * @param now - current wall-clock time, in ms since the epoch
 * @returns e.g. `"3s"`; never negative (clock skew shows `"0s"`)
 */
export function formatAge(then: number, now: number): string {
	const seconds = Math.max(0, Math.floor((now - then) / 1000));
	return `${seconds}s`;
}

/**
 * Terminal columns taken by one code point: 0 for combining marks and zero-width
 * characters, 2 for East Asian wide/fullwidth characters and most emoji, else 1.
 * An approximation that covers the common ranges.
 */
function codePointWidth(codePoint: number): number {
	if (
		codePoint < 32 ||
		(codePoint >= 0x7f && codePoint < 0xa0) ||
		(codePoint >= 0x300 && codePoint <= 0x36f) ||
		(codePoint >= 0x200b && codePoint <= 0x200f) ||
		(codePoint >= 0xfe00 && codePoint <= 0xfe0f)
	) {
		return 0;
	}
	if (
		(codePoint >= 0x1100 && codePoint <= 0x115f) ||
		(codePoint >= 0x2e80 && codePoint <= 0x303e) ||
		(codePoint >= 0x3041 && codePoint <= 0x33ff) ||
		(codePoint >= 0x3400 && codePoint <= 0x4dbf) ||
		(codePoint >= 0x4e00 && codePoint <= 0x9fff) ||
		(codePoint >= 0xa000 && codePoint <= 0xa4cf) ||
		(codePoint >= 0xac00 && codePoint <= 0xd7a3) ||
		(codePoint >= 0xf900 && codePoint <= 0xfaff) ||
		(codePoint >= 0xfe30 && codePoint <= 0xfe4f) ||
		(codePoint >= 0xff00 && codePoint <= 0xff60) ||
		(codePoint >= 0xffe0 && codePoint <= 0xffe6) ||
		(codePoint >= 0x1f300 && codePoint <= 0x1f64f) ||
		(codePoint >= 0x1f900 && codePoint <= 0x1f9ff) ||
		(codePoint >= 0x20000 && codePoint <= 0x3fffd)
	) {
		return 2;
	}
	return 1;
}

/**
 * Width of a string in terminal columns (see the approximation in `codePointWidth`).
 *
 * @param text - plain text without escape sequences
 * @returns the number of columns it occupies
 */
export function displayWidth(text: string): number {
	let width = 0;
	for (const char of text) {
		width += codePointWidth(char.codePointAt(0) ?? 0);
	}
	return width;
}

/** Longest prefix of `chars` that fits `width` columns. */
function takeStart(chars: string[], width: number): string {
	let used = 0;
	let out = "";
	for (const char of chars) {
		const w = codePointWidth(char.codePointAt(0) ?? 0);
		if (used + w > width) {
			break;
		}
		used += w;
		out += char;
	}
	return out;
}

/** Longest suffix of `chars` that fits `width` columns. */
function takeEnd(chars: string[], width: number): string {
	let used = 0;
	let out = "";
	for (let index = chars.length - 1; index >= 0; index--) {
		const char = chars[index];
		const w = codePointWidth(char.codePointAt(0) ?? 0);
		if (used + w > width) {
			break;
		}
		used += w;
		out = char + out;
	}
	return out;
}

/**
 * Cuts the end of a text so it fits, marking the cut with `…`.
 *
 * @param text - plain text
 * @param width - available columns
 * @returns `text` when it fits, else a prefix plus `…`, at most `width` columns wide
 */
export function truncateEnd(text: string, width: number): string {
	if (width <= 0) {
		return "";
	}
	if (displayWidth(text) <= width) {
		return text;
	}
	return takeStart(Array.from(text), width - 1) + ELLIPSIS;
}

/**
 * Cuts the middle of a text so it fits, marking the cut with `…` and keeping the file
 * extension (the part from the last `.` of the last path segment) whole when it is short
 * enough to leave room for a few leading characters.
 *
 * @param text - plain text, typically a file name or path
 * @param width - available columns
 * @returns `text` when it fits, else head + `…` + tail, at most `width` columns wide
 */
export function truncateMiddle(text: string, width: number): string {
	if (width <= 0) {
		return "";
	}
	const cut = middleCut(text, width);
	return cut ? cut.head + ELLIPSIS + cut.tail : text;
}

/**
 * Where {@link truncateMiddle} cuts: the head and tail it keeps around the `…`, or
 * undefined when the text fits as is (`width` must be at least 1).
 */
function middleCut(text: string, width: number): { head: string; tail: string } | undefined {
	if (displayWidth(text) <= width) {
		return undefined;
	}
	if (width === 1) {
		return { head: "", tail: "" };
	}
	const chars = Array.from(text);
	const available = width - 1;
	const base = text.slice(text.lastIndexOf("/") + 1);
	const dot = base.lastIndexOf(".");
	const extension = dot > 0 ? base.slice(dot) : "";
	const extensionWidth = displayWidth(extension);
	let tailWidth = Math.floor(available / 2);
	// Keep the whole extension when that still leaves at least two leading columns.
	if (extensionWidth > tailWidth && available - extensionWidth >= 2) {
		tailWidth = extensionWidth;
	}
	const tail = takeEnd(chars, tailWidth);
	const head = takeStart(chars, available - displayWidth(tail));
	return { head, tail };
}

/**
 * Cuts the start of a text so it fits, marking the cut with `…` (for text typed at its
 * end, such as a search query).
 *
 * @param text - plain text
 * @param width - available columns
 * @returns `text` when it fits, else `…` plus a suffix, at most `width` columns wide
 */
export function truncateStart(text: string, width: number): string {
	if (width <= 0) {
		return "";
	}
	if (displayWidth(text) <= width) {
		return text;
	}
	return ELLIPSIS + takeEnd(Array.from(text), width - 1);
}

/**
 * A run of text with one style: highlighted search match, dimmed, bold, the text cursor,
 * or a tone that carries meaning (the view maps tones to colours, none under `NO_COLOR`).
 */
export interface Segment {
	text: string;
	style?: SegmentStyle;
}

/** The styles of a {@link Segment}. */
export type SegmentStyle =
	| "match"
	| "dim"
	| "strong"
	| "cursor"
	/** Progress made (the filled part of a bar). */
	| "progress"
	/** Finished well (a complete download). */
	| "ok"
	/** Needs attention but is not broken (paused, waiting for peers). */
	| "warn"
	/** Broken (a failed download, a banned peer). */
	| "error";

/**
 * {@link fit} for a text with highlighted ranges (search matches): fits `raw` into exactly
 * `width` columns, cutting the middle (extension kept) when too long, and splits the result
 * into runs that are inside a range (`style: "match"`) or not. The `…` and the padding are
 * never highlighted.
 *
 * @param raw - plain text (made {@link printable}, which keeps UTF-16 indices)
 * @param ranges - `[start, end]` pairs, inclusive UTF-16 indices into `raw`
 * @param width - target columns (0 or less gives `[]`)
 * @returns segments whose texts together are exactly `width` columns wide
 */
export function fitMarked(
	raw: string,
	ranges: readonly (readonly [number, number])[],
	width: number,
): Segment[] {
	const text = printable(raw);
	if (width <= 0) {
		return [];
	}
	const inRange = (at: number) => ranges.some(([start, end]) => at >= start && at <= end);
	const chars: { char: string; marked: boolean }[] = [];
	let offset = 0;
	for (const char of text) {
		chars.push({ char, marked: inRange(offset) });
		offset += char.length;
	}
	const cut = middleCut(text, width);
	const kept = cut
		? [
				...chars.slice(0, Array.from(cut.head).length),
				{ char: ELLIPSIS, marked: false },
				...chars.slice(chars.length - Array.from(cut.tail).length),
			]
		: chars;
	const segments: Segment[] = [];
	let used = 0;
	for (const { char, marked } of kept) {
		used += codePointWidth(char.codePointAt(0) ?? 0);
		const last = segments.at(-1);
		if (last && (last.style === "match") === marked) {
			last.text += char;
		} else {
			segments.push(marked ? { text: char, style: "match" } : { text: char });
		}
	}
	if (used < width) {
		segments.push({ text: " ".repeat(width - used) });
	}
	return segments;
}

/**
 * The plain text of segments, joined.
 *
 * @param segments - runs of text
 * @returns their texts concatenated
 */
export function segmentsText(segments: readonly Segment[]): string {
	return segments.map((segment) => segment.text).join("");
}

/**
 * A count with thousands separators.
 *
 * @param count - a whole number
 * @returns e.g. `"1,234"`
 */
export function formatCount(count: number): string {
	return Math.max(0, Math.floor(count)).toLocaleString("en-US");
}

/**
 * Two byte counts as `done/total`, the unit written once when both share it.
 *
 * @param done - bytes done
 * @param total - bytes in all
 * @returns e.g. `"1.2/9.8 GiB"`, `"512.0 MiB/1.5 GiB"`, `"0 B/0 B"`
 */
export function formatBytesPair(done: number, total: number): string {
	const a = formatBytes(done);
	const b = formatBytes(total);
	const unitA = a.slice(a.indexOf(" "));
	const unitB = b.slice(b.indexOf(" "));
	return unitA === unitB && unitA !== " B" ? `${a.slice(0, -unitA.length)}/${b}` : `${a}/${b}`;
}

/**
 * Cuts the middle of a sentence (e.g. an error message) so it fits, marking the cut with
 * `…`: half the room for each end, each end shortened to a whole word when that costs at
 * most a third of it, so both the start (the cause) and the end (the advice) stay readable.
 *
 * @param text - plain text
 * @param width - available columns
 * @returns `text` when it fits, else head + `…` + tail, at most `width` columns wide
 */
export function truncateProse(text: string, width: number): string {
	if (width <= 0) {
		return "";
	}
	if (displayWidth(text) <= width) {
		return text;
	}
	if (width === 1) {
		return ELLIPSIS;
	}
	const chars = Array.from(text);
	const available = width - 1;
	let tail = takeEnd(chars, Math.floor(available / 2));
	let head = takeStart(chars, available - displayWidth(tail));
	const lastSpace = head.lastIndexOf(" ");
	if (lastSpace > 0 && head.length - (lastSpace + 1) <= head.length / 3) {
		head = head.slice(0, lastSpace + 1);
	}
	const firstSpace = tail.indexOf(" ");
	if (firstSpace >= 0 && firstSpace < tail.length - 1 && firstSpace <= tail.length / 3) {
		tail = tail.slice(firstSpace);
	}
	return head + ELLIPSIS + tail;
}

/**
 * Fits a text into exactly `width` columns: truncates (at the end or the middle) when too
 * long, pads with spaces when too short.
 *
 * @param text - plain text
 * @param width - target columns (0 or less gives `""`)
 * @param align - `"left"` pads on the right, `"right"` pads on the left
 * @param truncate - where to cut a text that is too long
 * @returns a string exactly `width` columns wide
 */
export function fit(
	raw: string,
	width: number,
	align: "left" | "right" = "left",
	truncate: "end" | "middle" = "end",
): string {
	const text = printable(raw);
	if (width <= 0) {
		return "";
	}
	const cut = truncate === "middle" ? truncateMiddle(text, width) : truncateEnd(text, width);
	const padding = " ".repeat(Math.max(0, width - displayWidth(cut)));
	return align === "right" ? padding + cut : cut + padding;
}
