/**
 * Pure screen geometry: how the terminal is split into the Peers, Files and Transfers
 * panes and the status line, and how many list rows fit in each pane.
 */

/** Rows a pane spends on its frame: the titled top border and the bottom border. */
export const PANE_FRAME_ROWS = 2;
/** Columns a pane spends on its frame: the left and right borders. */
export const PANE_FRAME_COLUMNS = 2;
/** Terminal lines one peer takes in the Peers pane (name line, address line). */
export const PEER_ITEM_ROWS = 2;
/** Rows taken by the column header of the Files and Transfers panes. */
export const HEADER_ROWS = 1;
/** Rows of the status line. */
export const STATUS_ROWS = 1;

/** Outer size of one pane, in terminal cells. */
export interface PaneBox {
	/** Columns, borders included. */
	width: number;
	/** Rows, borders included. */
	height: number;
}

/** The whole screen split into panes, plus how many list items fit in each. */
export interface ScreenLayout {
	/** Terminal columns. */
	columns: number;
	/** Terminal rows. */
	rows: number;
	peers: PaneBox;
	files: PaneBox;
	transfers: PaneBox;
	/** Number of peers (two lines each) that fit in the Peers pane, at least 1. */
	peerItems: number;
	/** Number of file rows that fit in the Files pane, at least 1. */
	fileItems: number;
	/** Number of transfer rows that fit in the Transfers pane, at least 1. */
	transferItems: number;
}

/** Smallest pane height: title border, one body row, bottom border (plus a header). */
const MIN_PANE_HEIGHT = PANE_FRAME_ROWS + HEADER_ROWS + 1;
/** Smallest pane width that can still show a few characters of a row. */
const MIN_PANE_WIDTH = 16;
/** Widest Peers pane: beyond it the Files pane gets the room (long paths want it more). */
export const MAX_PEERS_WIDTH = 64;

/**
 * Splits a terminal into the three panes and the status line: Peers (a third of the width,
 * at most {@link MAX_PEERS_WIDTH} columns) and Files side by side on top, Transfers below
 * (about 40% of the rows), the status line last.
 *
 * @param columns - terminal width in columns (values below 2 × 16 are raised to that)
 * @param rows - terminal height in rows (very small values are raised so every pane
 *   keeps one body row; the screen then overflows rather than breaking the layout)
 * @returns pane sizes in cells and the number of list items each pane can show
 */
export function computeLayout(columns: number, rows: number): ScreenLayout {
	const width = Math.max(2 * MIN_PANE_WIDTH, Math.floor(columns));
	const height = Math.max(STATUS_ROWS + 2 * MIN_PANE_HEIGHT, Math.floor(rows));
	const paneRows = height - STATUS_ROWS;
	// Transfers get about 40% of the pane rows; the side-by-side lists get the rest.
	const transfersHeight = Math.max(MIN_PANE_HEIGHT, Math.floor(paneRows * 0.4));
	const topHeight = paneRows - transfersHeight;
	const peersWidth = Math.min(
		width - MIN_PANE_WIDTH,
		Math.max(MIN_PANE_WIDTH, Math.min(MAX_PEERS_WIDTH, Math.floor(width / 3))),
	);
	const filesWidth = width - peersWidth;
	const body = (paneHeight: number) => paneHeight - PANE_FRAME_ROWS;
	return {
		columns: width,
		rows: height,
		peers: { width: peersWidth, height: topHeight },
		files: { width: filesWidth, height: topHeight },
		transfers: { width, height: transfersHeight },
		peerItems: Math.max(1, Math.floor(body(topHeight) / PEER_ITEM_ROWS)),
		fileItems: Math.max(1, body(topHeight) - HEADER_ROWS),
		transferItems: Math.max(1, body(transfersHeight) - HEADER_ROWS),
	};
}
