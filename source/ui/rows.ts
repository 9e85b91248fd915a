/**
 * Pure text of the list rows: each function turns one record of the snapshot into a
 * line (or two) exactly as wide as the pane's inside, so ink never has to wrap them.
 */

import type {
	FolderTransferState,
	IndexProgress,
	NetworkFile,
	PeerRecord,
	Snapshot,
	TransferState,
} from "../peer/types.js";
import { formatEndpoint } from "../protocol/address.js";
import {
	displayWidth,
	fit,
	fitMarked,
	formatAge,
	formatBytes,
	formatBytesCompact,
	formatBytesPair,
	formatCount,
	formatEta,
	formatRate,
	percent,
	printable,
	progressBar,
	type Segment,
	segmentsText,
	truncateEnd,
	truncateProse,
	truncateStart,
} from "./format.js";
import { KEY_HINTS, type KeyHint, keyHelp } from "./keymap.js";
import { waitingReason } from "./waiting.js";

export { waitingReason };

/** Columns of the selection marker at the start of every row (`"› "` or two spaces). */
export const MARKER_WIDTH = 2;
/** Cells between the brackets of a transfer's progress bar. */
export const BAR_CELLS = 10;

const SIZE_WIDTH = 10;
const FILE_PEERS_WIDTH = 5;
const PERCENT_WIDTH = 4;
const SPEED_WIDTH = 10;
const ETA_WIDTH = 6;
const TRANSFER_PEERS_WIDTH = 5;
/** The Transfers pane's pieces column: `"16384/16384"`. */
const PIECES_WIDTH = 11;
/** Least columns left for a peer's name before its row drops the file count beside "banned". */
const MIN_PEER_NAME_WIDTH = 12;
/** The Transfers pane's "from" column: `"S 1023.9 MiB · D 1023.9 MiB"`. */
const FROM_WIDTH = 27;
/** Header of the "from" column. */
const FROM_HEADER = "S seeders · D distribution";
/** Least name columns for the Transfers pane to afford the "from" column. */
const MIN_WIDE_NAME_WIDTH = 24;
/** Least status columns: `"waiting for peers"` and a space. */
const MIN_STATUS_WIDTH = 18;

/** The 2-column row prefix: `"› "` for the highlighted row of the focused pane. */
function marker(marked: boolean): string {
	return marked ? "› " : "  ";
}

/** `"1 file"`, `"3 files"`. */
function plural(count: number, noun: string): string {
	return `${count} ${noun}${count === 1 ? "" : "s"}`;
}

/** The first candidate that fits `width` columns, else the last one. */
function firstFitting(candidates: readonly string[], width: number): string {
	return candidates.find((text) => displayWidth(text) <= width) ?? candidates.at(-1) ?? "";
}

/** Non-empty parts joined by `" · "`. */
function joined(...parts: string[]): string {
	return parts.filter((part) => part !== "").join(" · ");
}

/**
 * The two lines of one peer: name and file count, then address (after `↗` for a peer named
 * by address, `⇄` for one learned by peer exchange), the rates we receive
 * from and send to it (when any, and when they fit) and seconds since the last announce. A peer banned for bad pieces says `"banned"` before its file count (in
 * place of it when the name would get too narrow).
 *
 * @param peer - the peer record
 * @param now - current wall-clock time, in ms since the epoch
 * @param width - inside width of the pane, in columns
 * @param marked - whether to draw the selection marker
 * @returns two strings, each exactly `width` columns wide
 */
export function peerLines(
	peer: PeerRecord,
	now: number,
	width: number,
	marked: boolean,
): [string, string] {
	const files = plural(peer.files, "file");
	const right = peer.banned
		? firstFitting([`banned · ${files}`, "banned"], width - MARKER_WIDTH - 1 - MIN_PEER_NAME_WIDTH)
		: files;
	const age = formatAge(peer.lastSeen, now);
	// Reached by unicast: ↗ named by address (either way), ⇄ learned by peer exchange.
	const glyph = peer.found === "named" ? "↗ " : peer.found === "exchange" ? "⇄ " : "";
	const address = `${glyph}${formatEndpoint(peer.address, peer.ports.receive)}`;
	const down = peer.downRate ?? 0;
	const up = peer.upRate ?? 0;
	// Rates go beside the address while it stays whole; the age always does.
	const room = width - MARKER_WIDTH - 1 - displayWidth(address);
	const after =
		down > 0 || up > 0
			? firstFitting(
					[`↓${formatRate(down)} ↑${formatRate(up)} ${age}`, `↓${formatRate(down)} ${age}`, age],
					room,
				)
			: age;
	const nameWidth = Math.max(1, width - MARKER_WIDTH - 1 - displayWidth(right));
	const addressWidth = Math.max(1, width - MARKER_WIDTH - 1 - displayWidth(after));
	const first = `${marker(marked)}${fit(peer.name, nameWidth, "left", "middle")} ${right}`;
	const second = `${" ".repeat(MARKER_WIDTH)}${fit(address, addressWidth, "left", "middle")} ${after}`;
	return [fit(first, width), fit(second, width)];
}

/** Width of the name column of the Files pane for an inside width. */
function fileNameWidth(width: number): number {
	return Math.max(1, width - MARKER_WIDTH - 1 - SIZE_WIDTH - 1 - FILE_PEERS_WIDTH);
}

/**
 * Column header of the Files pane.
 *
 * @param width - inside width of the pane, in columns
 * @returns a string exactly `width` columns wide
 */
export function fileHeader(width: number): string {
	const line = `${" ".repeat(MARKER_WIDTH)}${fit("Name", fileNameWidth(width))} ${fit("Size", SIZE_WIDTH, "right")} ${fit("Peers", FILE_PEERS_WIDTH, "right")}`;
	return fit(line, width);
}

/**
 * What one row of the Files pane shows (a file or a folder, in the tree or as a search
 * result); made from the snapshot by the tree module.
 */
export interface FileListEntry {
	kind: "file" | "folder";
	/** The name (tree) or full path (search result); folders end with `/`. */
	label: string;
	/** Ranges of `label` to highlight: `[start, end]`, inclusive UTF-16 indices. */
	ranges: readonly (readonly [number, number])[];
	/** Columns of indentation before the glyph (tree depth). */
	indent: number;
	/** `"▸ "` / `"▾ "` before a folder of the tree, else `""`. */
	glyph: string;
	/** Kept whole at the right of the name column: `"3 files"`, `"empty"`, a short id. */
	info: string;
	/** The size cell, e.g. `"1.5 MiB"` (empty for an empty folder). */
	size: string;
	/** Number of peers that have it. */
	peers: number;
}

/** Least columns the label keeps before indentation is given up. */
const MIN_LABEL_WIDTH = 8;

/**
 * One row of the Files pane as styled runs: marker, indentation, glyph, label (cut in the
 * middle, matched characters as `"match"` runs), the info at the right of the name column
 * (dimmed), size and number of peers.
 *
 * @param entry - the row's contents
 * @param width - inside width of the pane, in columns
 * @param marked - whether to draw the selection marker
 * @returns segments whose texts together are exactly `width` columns wide
 */
export function fileListRow(entry: FileListEntry, width: number, marked: boolean): Segment[] {
	const nameWidth = fileNameWidth(width);
	const info = entry.info === "" ? "" : ` ${printable(entry.info)}`;
	const infoWidth = Math.min(displayWidth(info), Math.max(0, nameWidth - MIN_LABEL_WIDTH));
	const glyphWidth = displayWidth(entry.glyph);
	// Deep folders at narrow widths give up indentation before the name gets unreadable.
	const indent = Math.max(
		0,
		Math.min(entry.indent, nameWidth - infoWidth - glyphWidth - MIN_LABEL_WIDTH),
	);
	const labelWidth = Math.max(0, nameWidth - indent - glyphWidth - infoWidth);
	const segments: Segment[] = [
		{
			text: `${marker(marked)}${" ".repeat(indent)}${fit(entry.glyph, Math.min(glyphWidth, nameWidth - indent))}`,
		},
		...fitMarked(entry.label, entry.ranges, labelWidth),
	];
	if (infoWidth > 0) {
		segments.push({ text: fit(info, infoWidth, "right"), style: "dim" });
	}
	segments.push({
		text: ` ${fit(entry.size, SIZE_WIDTH, "right")} ${fit(String(entry.peers), FILE_PEERS_WIDTH, "right")}`,
	});
	return fitSegments(segments, width);
}

/** Cuts or pads segments to exactly `width` columns (they are built to fit already). */
function fitSegments(segments: Segment[], width: number): Segment[] {
	const out: Segment[] = [];
	let used = 0;
	for (const segment of segments) {
		if (used >= width) break;
		const room = width - used;
		const text = displayWidth(segment.text) > room ? fit(segment.text, room) : segment.text;
		if (text === "") continue;
		out.push({ ...segment, text });
		used += displayWidth(text);
	}
	if (used < width) out.push({ text: " ".repeat(width - used) });
	return out;
}

/**
 * One row of the Files pane for a file at the top level: name (middle-truncated,
 * extension kept), size in binary units (right-aligned) and the number of peers that have
 * the file.
 *
 * @param file - the network file
 * @param width - inside width of the pane, in columns
 * @param marked - whether to draw the selection marker
 * @returns a string exactly `width` columns wide
 */
export function fileRow(file: NetworkFile, width: number, marked: boolean): string {
	const entry: FileListEntry = {
		kind: "file",
		label: file.name,
		ranges: [],
		indent: 0,
		glyph: "",
		info: "",
		size: formatBytes(file.size),
		peers: file.peers.length,
	};
	return segmentsText(fileListRow(entry, width, marked));
}

/** What the search box line shows. */
export interface SearchBoxState {
	/** The query typed so far. */
	query: string;
	/** Whether keys go to the query (a cursor is shown). */
	editing: boolean;
	/** Number of matches (of the finished search, or the last one while `pending`). */
	matches: number;
	/** A search over many items is still running. */
	pending: boolean;
}

/**
 * The search box line at the top of the Files pane: `/ ` and the query (its end kept when
 * too long) with a cursor while typing, the match count at the right (or `"type to
 * search"`, `"searching…"`).
 *
 * @param state - query, editing, matches
 * @param width - inside width of the pane, in columns
 * @returns segments exactly `width` columns wide; the query is a `"strong"` run, the cursor
 *   a `"cursor"` run, the count a `"dim"` run
 */
export function searchLine(state: SearchBoxState, width: number): Segment[] {
	const query = printable(state.query);
	const blank = query.trim() === "";
	const count = blank
		? state.editing
			? "type to search"
			: ""
		: state.pending
			? "searching…"
			: `${formatCount(state.matches)} ${state.matches === 1 ? "match" : "matches"}`;
	const cursor = state.editing ? 1 : 0;
	const countWidth = displayWidth(count);
	// The count goes when the query would get fewer than 8 columns beside it.
	const showCount = count !== "" && width - 2 - cursor - countWidth - 1 >= 8;
	const queryWidth = Math.max(0, width - 2 - cursor - (showCount ? countWidth + 1 : 0));
	const shown = truncateStart(query, queryWidth);
	const segments: Segment[] = [{ text: "/ " }, { text: shown, style: "strong" }];
	if (cursor) segments.push({ text: " ", style: "cursor" });
	const used = 2 + displayWidth(shown) + cursor;
	if (showCount) {
		segments.push({ text: " ".repeat(Math.max(1, width - used - countWidth)) });
		segments.push({ text: count, style: "dim" });
	}
	return fitSegments(segments, width);
}

/**
 * Human status of a transfer, shown when it is not simply downloading.
 *
 * @param transfer - the transfer
 * @returns `""` while downloading (or `"resumed 40.0 MiB"` when bytes of an earlier run
 *   were on disk), else e.g. `"starting"`, `"waiting for peers"`, `"verifying"`, `"done"`,
 *   `"failed: <error>"`
 */
export function transferStatusText(transfer: TransferState): string {
	const resumed = transfer.resumedBytes > 0 ? formatBytes(transfer.resumedBytes) : "";
	switch (transfer.status) {
		case "downloading":
			return resumed ? `resumed ${resumed}` : "";
		case "starting":
			return resumed ? `resuming ${resumed}` : "starting";
		case "waiting":
			return waitingReason(transfer) ?? "waiting for peers";
		case "verifying":
			return "verifying";
		case "complete":
			return transfer.seeding ? "done · seeding" : "done";
		case "failed":
			return `failed: ${transfer.error ?? "unknown error"}`;
		case "queued":
			return waitingReason(transfer) ?? "queued";
		case "paused":
			return "paused";
		case "cancelled":
			return "cancelled";
	}
}

/**
 * Where a transfer's bytes came from, for the wide "from" column.
 *
 * @param transfer - the transfer
 * @returns e.g. `"S 120.0 MiB · D 80.0 MiB"` (S from seeders, D by distribution from other
 *   leechers), or `""` before any byte arrived
 */
export function transferSources(
	transfer: Pick<TransferState, "fromSeeders" | "fromDistribution">,
): string {
	if (transfer.fromSeeders + transfer.fromDistribution <= 0) {
		return "";
	}
	return `S ${formatBytes(transfer.fromSeeders)} · D ${formatBytes(transfer.fromDistribution)}`;
}

/** {@link transferSources} in at most 13 columns, e.g. `"S 120M D 80M"`. */
function compactSources(transfer: TransferState): string {
	if (transfer.fromSeeders + transfer.fromDistribution <= 0) {
		return "";
	}
	return `S ${formatBytesCompact(transfer.fromSeeders)} D ${formatBytesCompact(transfer.fromDistribution)}`;
}

/** Column widths of the Transfers pane for an inside width. */
export interface TransferColumns {
	/** Columns of the name cell after the marker. */
	name: number;
	/** Whether verified pieces have their own column (else they go into the status cell). */
	pieces: boolean;
	/** Columns of the "from" column, 0 when it does not fit. */
	from: number;
	/** Columns of the status cell. */
	status: number;
}

/**
 * Splits the Transfers pane's inside width into columns: marker, name, progress bar,
 * percent, speed, ETA and peers always; the pieces column from about 100 columns and the
 * "from" column from about 130, each only while the name keeps 24 columns and the status
 * 18; name and status share the rest.
 *
 * @param width - inside width of the pane, in columns
 * @returns the widths, see {@link TransferColumns}
 */
export function transferColumns(width: number): TransferColumns {
	const fixed =
		MARKER_WIDTH +
		(BAR_CELLS + 2 + 1) +
		(PERCENT_WIDTH + 1) +
		(SPEED_WIDTH + 1) +
		(ETA_WIDTH + 1) +
		(TRANSFER_PEERS_WIDTH + 1);
	let flexible = Math.max(0, width - fixed);
	const affords = (extra: number) => flexible - extra >= MIN_WIDE_NAME_WIDTH + 1 + MIN_STATUS_WIDTH;
	const pieces = affords(PIECES_WIDTH + 1);
	if (pieces) flexible -= PIECES_WIDTH + 1;
	const from = pieces && affords(FROM_WIDTH + 1) ? FROM_WIDTH : 0;
	if (from > 0) flexible -= FROM_WIDTH + 1;
	// The status gets the odd column: `"waiting for peers"` fits at 80 columns.
	const name = Math.max(8, Math.floor((flexible - 1) / 2));
	return { name, pieces, from, status: Math.max(0, flexible - name - 1) };
}

/**
 * Column header of the Transfers pane.
 *
 * @param width - inside width of the pane, in columns
 * @returns a string exactly `width` columns wide
 */
export function transferHeader(width: number): string {
	const columns = transferColumns(width);
	const cells = [
		`${" ".repeat(MARKER_WIDTH)}${fit("Name", columns.name)}`,
		fit("Progress", BAR_CELLS + 2),
		fit("Done", PERCENT_WIDTH, "right"),
		fit("Speed", SPEED_WIDTH, "right"),
		fit("ETA", ETA_WIDTH, "right"),
		fit("Peers", TRANSFER_PEERS_WIDTH, "right"),
	];
	if (columns.pieces) {
		cells.push(fit("Pieces", PIECES_WIDTH, "right"));
	}
	if (columns.from > 0) {
		cells.push(fit(FROM_HEADER, columns.from));
	}
	cells.push(fit("Status", columns.status));
	return fit(cells.join(" "), width);
}

/**
 * Seconds until a download finishes at its current speed.
 *
 * @param remaining - bytes still to fetch
 * @param speed - bytes per second
 * @returns `Infinity` when nothing moves, else the seconds left
 */
export function etaSeconds(remaining: number, speed: number): number {
	if (remaining <= 0) return 0;
	return speed > 0 ? remaining / speed : Number.POSITIVE_INFINITY;
}

/** `"12/40"` verified pieces of all, or `""` before the manifest is known. */
function piecesText(transfer: Pick<TransferState, "verifiedPieces" | "totalPieces">): string {
	return transfer.totalPieces > 0 ? `${transfer.verifiedPieces}/${transfer.totalPieces}` : "";
}

/**
 * The tone a status carries: failed is an error; paused and waiting need attention;
 * complete is fine; queued and cancelled are quiet.
 *
 * @param status - a transfer's or a folder download's status
 * @returns the segment style of its status text, or undefined for a plain one
 */
export function statusTone(
	status: TransferState["status"] | FolderTransferState["status"],
): Segment["style"] {
	switch (status) {
		case "failed":
			return "error";
		case "paused":
		case "waiting":
			return "warn";
		case "complete":
			return "ok";
		case "queued":
		case "cancelled":
			return "dim";
		default:
			return undefined;
	}
}

/**
 * The status cell of a transfer row. A failure's message is cut in the middle at word
 * boundaries, so both its cause and its advice stay readable. Without a pieces column the
 * verified pieces (`"12/40 pcs"`), and without a "from" column the compact sources
 * (`"S 120M D 80M"`), go into the status cell as far as they fit.
 */
function transferStatusCell(
	transfer: TransferState,
	width: number,
	columns: TransferColumns,
): string {
	const status = transferStatusText(transfer);
	if (transfer.status === "failed") {
		return fit(truncateProse(printable(status), width), width);
	}
	const pieces = columns.pieces || transfer.status === "complete" ? "" : piecesText(transfer);
	const extras = [pieces ? `${pieces} pcs` : "", columns.from > 0 ? "" : compactSources(transfer)];
	const candidates =
		transfer.status === "downloading"
			? [joined(...extras, status), joined(extras[0], status), joined(...extras), extras[0], status]
			: [joined(status, ...extras), joined(status, extras[0]), status];
	return fit(firstFitting(candidates, width), width);
}

/** How a transfer row is labelled when it belongs to a folder download. */
export interface TransferRowOptions {
	/** Drawn before the name, e.g. `"├ "` / `"└ "` under the folder's row. */
	prefix?: string;
	/** Shown instead of the transfer's name (e.g. the path inside the folder). */
	label?: string;
}

/** The progress bar as runs: the filled cells in the `"progress"` tone, the rest dimmed. */
function barSegments(fraction: number): Segment[] {
	const bar = progressBar(fraction, BAR_CELLS);
	const filled = bar.indexOf("-") < 0 ? BAR_CELLS : bar.indexOf("-") - 1;
	return [
		{ text: "[" },
		{ text: "#".repeat(filled), style: "progress" },
		{ text: "-".repeat(BAR_CELLS - filled), style: "dim" },
		{ text: "]" },
	];
}

/** Segments with one space between cells, fitted to exactly `width` columns. */
function cellsToRow(cells: readonly (Segment | Segment[])[], width: number): Segment[] {
	const out: Segment[] = [];
	cells.forEach((cell, index) => {
		if (index > 0) out.push({ text: " " });
		out.push(...(Array.isArray(cell) ? cell : [cell]));
	});
	return fitSegments(
		out.filter((segment) => segment.text !== ""),
		width,
	);
}

/**
 * One row of the Transfers pane as styled runs: name, progress bar (the filled part in the
 * `"progress"` tone), percent, speed and ETA (while downloading), peers serving, verified
 * pieces (their own column when the pane is wide, else in the status cell), where the bytes
 * came from (seeders or distribution; its own column when wide, else in the status cell
 * when there is room) and the status in its tone ({@link statusTone}). A failed
 * transfer's message takes the speed, ETA, peers, pieces, from and status columns.
 *
 * @param transfer - the transfer
 * @param width - inside width of the pane, in columns
 * @param marked - whether to draw the selection marker
 * @param options - a prefix and label for a file of a folder download
 * @returns segments whose texts together are exactly `width` columns wide
 */
export function transferRowSegments(
	transfer: TransferState,
	width: number,
	marked: boolean,
	options: TransferRowOptions = {},
): Segment[] {
	const columns = transferColumns(width);
	const complete = transfer.status === "complete";
	const fraction = complete ? 1 : transfer.size > 0 ? transfer.bytesDone / transfer.size : 0;
	const done = complete ? 100 : percent(transfer.bytesDone, transfer.size);
	const downloading = transfer.status === "downloading";
	const cells: (Segment | Segment[])[] = [
		{
			text: transferNameCell(
				options.label ?? transfer.name,
				options.prefix ?? "",
				columns.name,
				marked,
			),
		},
		barSegments(fraction),
		{ text: fit(`${done}%`, PERCENT_WIDTH, "right") },
	];
	const tone = statusTone(transfer.status);
	if (transfer.status === "failed") {
		cells.push({ text: transferStatusCell(transfer, failedSpan(columns), columns), style: tone });
		return cellsToRow(cells, width);
	}
	const active = transfer.status !== "complete" && transfer.status !== "cancelled";
	const eta = downloading
		? formatEta(etaSeconds(transfer.size - transfer.bytesDone, transfer.speed))
		: "";
	cells.push(
		{ text: fit(downloading ? formatRate(transfer.speed) : "", SPEED_WIDTH, "right") },
		{ text: fit(eta, ETA_WIDTH, "right") },
		{ text: fit(active ? String(transfer.peers) : "", TRANSFER_PEERS_WIDTH, "right") },
	);
	if (columns.pieces) {
		cells.push({ text: fit(piecesText(transfer), PIECES_WIDTH, "right") });
	}
	if (columns.from > 0) {
		cells.push({ text: fit(transferSources(transfer), columns.from) });
	}
	cells.push({ text: transferStatusCell(transfer, columns.status, columns), style: tone });
	return cellsToRow(cells, width);
}

/** Columns a failure's message spans: from the speed column to the end of the status. */
function failedSpan(columns: TransferColumns): number {
	return (
		SPEED_WIDTH +
		1 +
		ETA_WIDTH +
		1 +
		TRANSFER_PEERS_WIDTH +
		1 +
		(columns.pieces ? PIECES_WIDTH + 1 : 0) +
		(columns.from > 0 ? columns.from + 1 : 0) +
		columns.status
	);
}

/**
 * {@link transferRowSegments} as plain text.
 *
 * @returns a string exactly `width` columns wide
 */
export function transferRow(
	transfer: TransferState,
	width: number,
	marked: boolean,
	options: TransferRowOptions = {},
): string {
	return segmentsText(transferRowSegments(transfer, width, marked, options));
}

/** Marker, prefix and the name cut in the middle, `width` columns after the marker. */
function transferNameCell(name: string, prefix: string, width: number, marked: boolean): string {
	const prefixWidth = Math.min(displayWidth(prefix), Math.max(0, width - MIN_LABEL_WIDTH));
	return `${marker(marked)}${fit(prefix, prefixWidth)}${fit(name, width - prefixWidth, "left", "middle")}`;
}

/**
 * Human status of a folder download.
 *
 * @param folder - the folder download
 * @returns e.g. `"3/7 files · 1.2/9.8 MiB"` while downloading, `"done · 7 files"`,
 *   `"failed: <error>"`
 */
export function folderTransferStatusText(folder: FolderTransferState): string {
	switch (folder.status) {
		case "downloading":
			return `${formatCount(folder.filesDone)}/${plural(folder.files, "file")} · ${formatBytesPair(folder.bytesDone, folder.size)}`;
		case "complete":
			return `done · ${plural(folder.files, "file")}`;
		case "failed":
			return `failed: ${folder.error ?? "unknown error"}`;
	}
}

/**
 * The row of a whole-folder download in the Transfers pane as styled runs, in the columns
 * of {@link transferRowSegments}: the folder's path (bold), a progress bar and percent over
 * all its bytes (over its files when it has no bytes), the summed speed of its files and
 * the ETA at that speed, the most peers any of them uses, where the bytes came from, and
 * files and bytes done.
 *
 * @param folder - the folder download
 * @param files - the transfers of its files (for speed, peers and sources)
 * @param width - inside width of the pane, in columns
 * @param marked - whether to draw the selection marker
 * @returns segments whose texts together are exactly `width` columns wide
 */
export function folderTransferRowSegments(
	folder: FolderTransferState,
	files: readonly TransferState[],
	width: number,
	marked: boolean,
): Segment[] {
	const columns = transferColumns(width);
	const complete = folder.status === "complete";
	const byBytes = folder.size > 0;
	const done = complete
		? 100
		: byBytes
			? percent(folder.bytesDone, folder.size)
			: percent(folder.filesDone, folder.files);
	const fraction = complete
		? 1
		: byBytes
			? folder.bytesDone / folder.size
			: folder.files > 0
				? folder.filesDone / folder.files
				: 0;
	const downloading = folder.status === "downloading";
	const active = files.filter((t) => t.status === "downloading");
	const rate = sum(active, (t) => t.speed);
	const peers = Math.max(0, ...files.map((t) => t.peers));
	const status = printable(folderTransferStatusText(folder));
	const tone = statusTone(folder.status);
	const cells: (Segment | Segment[])[] = [
		{ text: transferNameCell(`${folder.path}/`, "▾ ", columns.name, marked), style: "strong" },
		barSegments(fraction),
		{ text: fit(`${done}%`, PERCENT_WIDTH, "right") },
	];
	if (folder.status === "failed") {
		const span = failedSpan(columns);
		cells.push({ text: fit(truncateProse(status, span), span), style: tone });
		return cellsToRow(cells, width);
	}
	const sources = {
		fromSeeders: sum(files, (t) => t.fromSeeders),
		fromDistribution: sum(files, (t) => t.fromDistribution),
	};
	const eta =
		downloading && byBytes ? formatEta(etaSeconds(folder.size - folder.bytesDone, rate)) : "";
	cells.push(
		{ text: fit(downloading ? formatRate(rate) : "", SPEED_WIDTH, "right") },
		{ text: fit(eta, ETA_WIDTH, "right") },
		{ text: fit(downloading ? String(peers) : "", TRANSFER_PEERS_WIDTH, "right") },
	);
	if (columns.pieces) {
		const verified = sum(files, (t) => t.verifiedPieces);
		const total = sum(files, (t) => t.totalPieces);
		cells.push({
			text: fit(
				piecesText({ verifiedPieces: verified, totalPieces: total }),
				PIECES_WIDTH,
				"right",
			),
		});
	}
	if (columns.from > 0) {
		cells.push({ text: fit(transferSources(sources), columns.from) });
	}
	// Short of room, the files count stays and the bytes go.
	const short = `${formatCount(folder.filesDone)}/${plural(folder.files, "file")}`;
	const candidates = downloading ? [status, short] : [status];
	cells.push({ text: fit(firstFitting(candidates, columns.status), columns.status), style: tone });
	return cellsToRow(cells, width);
}

/**
 * {@link folderTransferRowSegments} as plain text.
 *
 * @returns a string exactly `width` columns wide
 */
export function folderTransferRow(
	folder: FolderTransferState,
	files: readonly TransferState[],
	width: number,
	marked: boolean,
): string {
	return segmentsText(folderTransferRowSegments(folder, files, width, marked));
}

/** Statuses of a download that holds one of the active slots of the queue. */
const ACTIVE_STATUSES: ReadonlySet<TransferState["status"]> = new Set([
	"starting",
	"downloading",
	"waiting",
	"verifying",
]);

/**
 * A rate limit for people: `"500.0 KB/s"`, or `"unlimited"` for `null`.
 *
 * @param limit - bytes per second, or `null` for none
 */
export function formatLimit(limit: number | null): string {
	return limit === null ? "unlimited" : formatRate(limit);
}

/**
 * The summary line of the Transfers pane: total download and upload rates, active
 * downloads over the queue's limit, queued and paused counts, and the rate limits when
 * any is set. Short of room, the rates stay first, then the limits, the active count, the
 * queued and the paused counts.
 *
 * @param snapshot - the snapshot's rates, limits and transfers
 * @param width - columns available
 * @returns e.g. `"↓ 1.2 MB/s ↑ 340.0 KB/s · active 2/3 · 1 queued · limits ↓ 500.0 KB/s ↑ unlimited"`,
 *   at most `width` columns
 */
export function transferSummary(
	snapshot: Pick<Snapshot, "rates" | "limits" | "transfers">,
	width: number,
): string {
	const { rates, limits, transfers } = snapshot;
	const count = (test: (t: TransferState) => boolean) => transfers.filter(test).length;
	const active = count((t) => ACTIVE_STATUSES.has(t.status));
	const queued = count((t) => t.status === "queued");
	const paused = count((t) => t.status === "paused");
	// Display order; the rank says what stays when room is short (0 first).
	const parts: { text: string; rank: number }[] = [
		{ text: `↓ ${formatRate(rates.down)} ↑ ${formatRate(rates.up)}`, rank: 0 },
		{ text: `active ${active}/${limits.maxActive}`, rank: 2 },
	];
	if (queued > 0) parts.push({ text: `${queued} queued`, rank: 3 });
	if (paused > 0) parts.push({ text: `${paused} paused`, rank: 4 });
	if (limits.maxDown !== null || limits.maxUp !== null) {
		parts.push({
			text: `limits ↓ ${formatLimit(limits.maxDown)} ↑ ${formatLimit(limits.maxUp)}`,
			rank: 1,
		});
	}
	if (displayWidth(parts[0].text) > width) return truncateEnd(parts[0].text, width);
	const kept = new Set<number>();
	let used = 0;
	for (const part of [...parts].sort((a, b) => a.rank - b.rank)) {
		const cost = displayWidth(part.text) + (kept.size > 0 ? 3 : 0);
		if (used + cost > width) continue;
		kept.add(part.rank);
		used += cost;
	}
	return parts
		.filter((part) => kept.has(part.rank))
		.map((part) => part.text)
		.join(" · ");
}

/** Sum of `value` over `items`. */
function sum<T>(items: readonly T[], value: (item: T) => number): number {
	let total = 0;
	for (const item of items) total += value(item);
	return total;
}

/**
 * Indexing progress for the status line.
 *
 * @param progress - the snapshot's indexing progress
 * @returns e.g. `"indexing 1,234/10,000 files · 1.2/9.8 GiB"`
 */
export function indexingText(progress: IndexProgress): string {
	return `indexing ${formatCount(progress.filesDone)}/${formatCount(progress.filesTotal)} files · ${formatBytesPair(progress.bytesDone, progress.bytesTotal)}`;
}

/** The two parts of the status line. */
export interface StatusLineText {
	/**
	 * Indexing progress (while indexing), message (if any), self name, shared folder and
	 * downloads folder, fitted to its width.
	 */
	info: string;
	/** The key help, right-aligned, fitted to its width. */
	keys: string;
}

/** Columns the info keeps (and at least half the line) before the key help is shortened. */
const MIN_INFO_WIDTH = 44;

/**
 * Text of the one-line status bar: indexing progress while our shared folder is being
 * indexed, then the snapshot's message (when present), our name and folders on the left;
 * the key help on the right, as many of `hints` as leave the info 44 columns and half the
 * line (the most important first).
 *
 * @param snapshot - the current snapshot (its self, message and indexing)
 * @param width - terminal columns
 * @param hints - the key hints of the current mode (default: the normal ones)
 * @returns the two parts; together they are exactly `width` columns wide
 */
export function statusLineText(
	snapshot: Pick<Snapshot, "self" | "message" | "indexing">,
	width: number,
	hints: readonly KeyHint[] = KEY_HINTS,
): StatusLineText {
	const help = keyHelp(hints, Math.max(0, Math.min(width - MIN_INFO_WIDTH, Math.floor(width / 2))));
	const keysWidth = Math.min(displayWidth(help), Math.max(0, width - 12));
	const infoWidth = Math.max(0, width - keysWidth);
	const parts = [
		snapshot.self.name,
		// What we downloaded and serve besides the shared folder.
		...(snapshot.self.seededFiles > 0 ? [`seeding ${snapshot.self.seededFiles} downloaded`] : []),
		`share ${snapshot.self.shareDir}`,
		`downloads ${snapshot.self.downloadsDir}`,
	];
	if (snapshot.message) {
		parts.unshift(snapshot.message);
	}
	if (!snapshot.indexing.done) {
		parts.unshift(indexingText(snapshot.indexing));
	}
	return {
		// Keep two spaces between the info and the key help.
		info: fit(truncateEnd(parts.join(" · "), infoWidth - 2), infoWidth),
		keys: fit(help, keysWidth, "right"),
	};
}
