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
	formatRate,
	percent,
	progressBar,
	truncateEnd,
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

/** The 2-column row prefix: `"› "` for the highlighted row of the focused pane. */
function marker(marked: boolean): string {
	return marked ? "› " : "  ";
}

/** `"1 file"`, `"3 files"`. */
function plural(count: number, noun: string): string {
	return `${count} ${noun}${count === 1 ? "" : "s"}`;
}

/**
 * The two lines of one peer: name and file count, then address and seconds since the
 * last announce.
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
	const age = formatAge(peer.lastSeen, now);
	const address = `${peer.address}:${peer.ports.receive}`;
	const nameWidth = Math.max(1, width - MARKER_WIDTH - 1 - displayWidth(files));
	const addressWidth = Math.max(1, width - MARKER_WIDTH - 1 - displayWidth(age));
	const first = `${marker(marked)}${fit(peer.name, nameWidth, "left", "middle")} ${files}`;
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
 * @returns `""` while downloading, else e.g. `"waiting for peers"`, `"verifying"`,
 *   `"done"`, `"failed: <error>"`
 */
export function transferStatusText(transfer: TransferState): string {
	switch (transfer.status) {
		case "downloading":
			return "";
		case "starting":
			return "starting";
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

/** Column widths of the Transfers pane for an inside width. */
function transferColumns(width: number): { name: number; status: number } {
	const fixed =
		MARKER_WIDTH +
		(BAR_CELLS + 2 + 1) +
		(PERCENT_WIDTH + 1) +
		(SPEED_WIDTH + 1) +
		(TRANSFER_PEERS_WIDTH + 1);
	const flexible = Math.max(0, width - fixed);
	const name = Math.max(8, Math.ceil(flexible * 0.55));
	return { name, status: Math.max(0, flexible - name - 1) };
}

/**
 * Column header of the Transfers pane.
 *
 * @param width - inside width of the pane, in columns
 * @returns a string exactly `width` columns wide
 */
export function transferHeader(width: number): string {
	const columns = transferColumns(width);
	const line = [
		`${" ".repeat(MARKER_WIDTH)}${fit("Name", columns.name)}`,
		fit("Progress", BAR_CELLS + 2),
		fit("Done", PERCENT_WIDTH, "right"),
		fit("Speed", SPEED_WIDTH, "right"),
		fit("Peers", TRANSFER_PEERS_WIDTH, "right"),
		fit("Status", columns.status),
	].join(" ");
	return fit(line, width);
}

/**
 * One row of the Transfers pane: name, progress bar, percent, speed (while downloading),
 * number of peers serving, and the status when not downloading.
 *
 * @param transfer - the transfer
 * @param width - inside width of the pane, in columns
 * @param marked - whether to draw the selection marker
 * @returns a string exactly `width` columns wide
 */
export function transferRow(transfer: TransferState, width: number, marked: boolean): string {
	const columns = transferColumns(width);
	const complete = transfer.status === "complete";
	const fraction = complete ? 1 : transfer.size > 0 ? transfer.bytesDone / transfer.size : 0;
	const done = complete ? 100 : percent(transfer.bytesDone, transfer.size);
	const speed = transfer.status === "downloading" ? formatRate(transfer.speed) : "";
	const line = [
		`${marker(marked)}${fit(transfer.name, columns.name, "left", "middle")}`,
		progressBar(fraction, BAR_CELLS),
		fit(`${done}%`, PERCENT_WIDTH, "right"),
		fit(speed, SPEED_WIDTH, "right"),
		fit(plural(transfer.peers, "peer"), TRANSFER_PEERS_WIDTH, "right"),
		fit(transferStatusText(transfer), columns.status),
	].join(" ");
	return fit(line, width);
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
