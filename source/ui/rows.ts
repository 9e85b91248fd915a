/**
 * Pure text of the list rows: each function turns one record of the snapshot into a
 * line (or two) exactly as wide as the pane's inside, so ink never has to wrap them.
 */

import type { NetworkFile, PeerRecord, Snapshot, TransferState } from "../peer/types.js";
import {
	displayWidth,
	fit,
	formatAge,
	formatBytes,
	formatBytesCompact,
	formatRate,
	percent,
	printable,
	progressBar,
	truncateEnd,
	truncateProse,
} from "./format.js";
import { KEY_HELP } from "./keymap.js";

/** Columns of the selection marker at the start of every row (`"› "` or two spaces). */
export const MARKER_WIDTH = 2;
/** Cells between the brackets of a transfer's progress bar. */
export const BAR_CELLS = 10;

const SIZE_WIDTH = 10;
const FILE_PEERS_WIDTH = 5;
const PERCENT_WIDTH = 4;
const SPEED_WIDTH = 10;
const TRANSFER_PEERS_WIDTH = 8;
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
 * The two lines of one peer: name and file count, then address and seconds since the
 * last announce. A peer banned for bad pieces says `"banned"` before its file count (in
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
	const address = `${peer.address}:${peer.ports.receive}`;
	const nameWidth = Math.max(1, width - MARKER_WIDTH - 1 - displayWidth(right));
	const addressWidth = Math.max(1, width - MARKER_WIDTH - 1 - displayWidth(age));
	const first = `${marker(marked)}${fit(peer.name, nameWidth, "left", "middle")} ${right}`;
	const second = `${" ".repeat(MARKER_WIDTH)}${fit(address, addressWidth, "left", "middle")} ${age}`;
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
 * One row of the Files pane: name (middle-truncated, extension kept), size in binary
 * units (right-aligned) and the number of peers that have the file.
 *
 * @param file - the network file
 * @param width - inside width of the pane, in columns
 * @param marked - whether to draw the selection marker
 * @returns a string exactly `width` columns wide
 */
export function fileRow(file: NetworkFile, width: number, marked: boolean): string {
	const line = `${marker(marked)}${fit(file.name, fileNameWidth(width), "left", "middle")} ${fit(formatBytes(file.size), SIZE_WIDTH, "right")} ${fit(String(file.peers.length), FILE_PEERS_WIDTH, "right")}`;
	return fit(line, width);
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
			return "waiting for peers";
		case "verifying":
			return "verifying";
		case "complete":
			return "done";
		case "failed":
			return `failed: ${transfer.error ?? "unknown error"}`;
	}
}

/**
 * Where a transfer's bytes came from, for the wide "from" column.
 *
 * @param transfer - the transfer
 * @returns e.g. `"S 120.0 MiB · D 80.0 MiB"` (S from seeders, D by distribution from other
 *   leechers), or `""` before any byte arrived
 */
export function transferSources(transfer: TransferState): string {
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

/** Column widths of the Transfers pane for an inside width; `from` is 0 when it does not fit. */
function transferColumns(width: number): { name: number; from: number; status: number } {
	const fixed =
		MARKER_WIDTH +
		(BAR_CELLS + 2 + 1) +
		(PERCENT_WIDTH + 1) +
		(SPEED_WIDTH + 1) +
		(TRANSFER_PEERS_WIDTH + 1);
	const flexible = Math.max(0, width - fixed);
	const from =
		flexible - (FROM_WIDTH + 1) >= MIN_WIDE_NAME_WIDTH + 1 + MIN_STATUS_WIDTH ? FROM_WIDTH : 0;
	const rest = from > 0 ? flexible - (from + 1) : flexible;
	// The status gets the odd column: `"waiting for peers"` and more fit at 80 columns.
	const name = Math.max(8, Math.floor((rest - 1) / 2));
	return { name, from, status: Math.max(0, rest - name - 1) };
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
		fit("Peers", TRANSFER_PEERS_WIDTH, "right"),
	];
	if (columns.from > 0) {
		cells.push(fit(FROM_HEADER, columns.from));
	}
	cells.push(fit("Status", columns.status));
	return fit(cells.join(" "), width);
}

/**
 * The status cell of a transfer row. A failure's message is cut in the middle at word
 * boundaries, so both its cause and its advice stay readable. Without a "from" column,
 * the compact sources (`"S 120M D 80M"`) go into the status cell when they fit.
 */
function transferStatusCell(transfer: TransferState, width: number, wide: boolean): string {
	const status = transferStatusText(transfer);
	if (transfer.status === "failed") {
		return fit(truncateProse(printable(status), width), width);
	}
	if (wide) {
		return fit(status, width);
	}
	const sources = compactSources(transfer);
	const candidates =
		transfer.status === "downloading"
			? [joined(sources, status), sources, status]
			: [joined(status, sources), status];
	return fit(firstFitting(candidates, width), width);
}

/**
 * One row of the Transfers pane: name, progress bar, percent, speed (while downloading),
 * number of peers serving, where the bytes came from (from seeders or by distribution:
 * its own column when the pane is wide, else in the status cell when there is room) and
 * the status. A failed transfer's message takes the speed, peers, from and status columns.
 *
 * @param transfer - the transfer
 * @param width - inside width of the pane, in columns
 * @param marked - whether to draw the selection marker
 * @returns a string exactly `width` columns wide
 */
export function transferRow(transfer: TransferState, width: number, marked: boolean): string {
	const columns = transferColumns(width);
	const wide = columns.from > 0;
	const complete = transfer.status === "complete";
	const fraction = complete ? 1 : transfer.size > 0 ? transfer.bytesDone / transfer.size : 0;
	const done = complete ? 100 : percent(transfer.bytesDone, transfer.size);
	const speed = transfer.status === "downloading" ? formatRate(transfer.speed) : "";
	const cells = [
		`${marker(marked)}${fit(transfer.name, columns.name, "left", "middle")}`,
		progressBar(fraction, BAR_CELLS),
		fit(`${done}%`, PERCENT_WIDTH, "right"),
	];
	if (transfer.status === "failed") {
		const from = wide ? columns.from + 1 : 0;
		const span = SPEED_WIDTH + 1 + TRANSFER_PEERS_WIDTH + 1 + from + columns.status;
		cells.push(transferStatusCell(transfer, span, wide));
	} else {
		cells.push(
			fit(speed, SPEED_WIDTH, "right"),
			fit(plural(transfer.peers, "peer"), TRANSFER_PEERS_WIDTH, "right"),
		);
		if (wide) {
			cells.push(fit(transferSources(transfer), columns.from));
		}
		cells.push(transferStatusCell(transfer, columns.status, wide));
	}
	return fit(cells.join(" "), width);
}

/** The two parts of the status line. */
export interface StatusLineText {
	/** Message (if any), self name, shared folder and downloads folder, fitted to its width. */
	info: string;
	/** The key help, right-aligned, fitted to its width. */
	keys: string;
}

/**
 * Text of the one-line status bar: the snapshot's message first (when present), then our
 * name and folders on the left, the key help on the right.
 *
 * @param snapshot - the current snapshot
 * @param width - terminal columns
 * @returns the two parts; together they are exactly `width` columns wide
 */
export function statusLineText(snapshot: Snapshot, width: number): StatusLineText {
	const keysWidth = Math.min(displayWidth(KEY_HELP), Math.max(0, width - 12));
	const infoWidth = Math.max(0, width - keysWidth);
	const parts = [
		snapshot.self.name,
		`share ${snapshot.self.shareDir}`,
		`downloads ${snapshot.self.downloadsDir}`,
	];
	if (snapshot.message) {
		parts.unshift(snapshot.message);
	}
	return {
		// Keep two spaces between the info and the key help.
		info: fit(truncateEnd(parts.join(" · "), infoWidth - 2), infoWidth),
		keys: fit(KEY_HELP, keysWidth, "right"),
	};
}
