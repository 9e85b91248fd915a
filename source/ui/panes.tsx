/**
 * The three list panes. Each renders only the rows inside its window
 * (`offset` .. `offset + visible - 1`), the selected row inverse when the pane is focused.
 */

import { Text } from "ink";
import type { JSX } from "react";
import type { NetworkFile, PeerRecord, TransferState } from "../peer/types.js";
import { fit } from "./format.js";
import { PANE_FRAME_COLUMNS } from "./layout.js";
import { Pane } from "./pane.js";
import { fileHeader, fileRow, peerLines, transferHeader, transferRow } from "./rows.js";
import { useNow } from "./use-now.js";

/** What every list pane needs besides its items. */
export interface ListPaneProps<Item> {
	/** All items of the list; only the visible window is rendered. */
	items: readonly Item[];
	/** Outer width of the pane, borders included, in columns. */
	width: number;
	/** Outer height of the pane, borders included, in rows. */
	height: number;
	/** Whether the pane has the keyboard focus. */
	focused: boolean;
	/** Index of the selected item. */
	selected: number;
	/** Index of the first visible item. */
	offset: number;
	/** Number of items that fit. */
	visible: number;
}

/** A dimmed one-line placeholder for an empty list. */
function Empty({ text, width }: { text: string; width: number }): JSX.Element {
	return <Text dimColor>{fit(`  ${text}`, width)}</Text>;
}

/** The items of the window, each with its absolute index. */
function windowOf<Item>(props: ListPaneProps<Item>): Array<{ item: Item; index: number }> {
	return props.items
		.slice(props.offset, props.offset + props.visible)
		.map((item, position) => ({ item, index: props.offset + position }));
}

/** Title with the item count, e.g. `"Files (3)"`. */
function titled(name: string, count: number): string {
	return count > 0 ? `${name} (${count})` : name;
}

/** Colour of a peer banned for bad pieces (its row also says "banned"). */
export const BANNED_COLOR = "red";

/**
 * The Peers pane: per peer, its name and file count, then its address (receive port) and
 * the seconds since its last announce, refreshed every second. A banned peer's two lines
 * are red and say "banned".
 *
 * @param props - peers and window, see {@link ListPaneProps}
 * @returns the pane element
 */
export function PeersPane(props: ListPaneProps<PeerRecord>): JSX.Element {
	const now = useNow(1000);
	const inner = props.width - PANE_FRAME_COLUMNS;
	return (
		<Pane
			title={titled("Peers", props.items.length)}
			width={props.width}
			height={props.height}
			focused={props.focused}
		>
			{props.items.length === 0 ? (
				<Empty text="No peers yet" width={inner} />
			) : (
				windowOf(props).flatMap(({ item, index }) => {
					const highlighted = props.focused && index === props.selected;
					const [first, second] = peerLines(item, now, inner, highlighted);
					const color = item.banned ? BANNED_COLOR : undefined;
					return [
						<Text key={`${item.id}:1`} inverse={highlighted} color={color} bold wrap="truncate-end">
							{first}
						</Text>,
						<Text key={`${item.id}:2`} inverse={highlighted} color={color} wrap="truncate-end">
							{second}
						</Text>,
					];
				})
			)}
		</Pane>
	);
}

/**
 * The Files pane: name, human size and number of peers of every file on the network.
 *
 * @param props - files and window, see {@link ListPaneProps}
 * @returns the pane element
 */
export function FilesPane(props: ListPaneProps<NetworkFile>): JSX.Element {
	const inner = props.width - PANE_FRAME_COLUMNS;
	return (
		<Pane
			title={titled("Files", props.items.length)}
			width={props.width}
			height={props.height}
			focused={props.focused}
		>
			<Text dimColor wrap="truncate-end">
				{fileHeader(inner)}
			</Text>
			{props.items.length === 0 ? (
				<Empty text="No files on the network yet" width={inner} />
			) : (
				windowOf(props).map(({ item, index }) => {
					const highlighted = props.focused && index === props.selected;
					return (
						<Text key={item.id} inverse={highlighted} wrap="truncate-end">
							{fileRow(item, inner, highlighted)}
						</Text>
					);
				})
			)}
		</Pane>
	);
}

/** Colour of a transfer row by status. */
function transferColor(transfer: TransferState): string | undefined {
	switch (transfer.status) {
		case "complete":
			return "green";
		case "failed":
			return "red";
		case "waiting":
			return "yellow";
		default:
			return undefined;
	}
}

/**
 * The Transfers pane: name, progress bar, percent, speed, peers serving, where the bytes
 * came from (seeders or distribution) and status of every download; failed rows red,
 * waiting ones yellow, complete ones green (the status text says the same).
 *
 * @param props - transfers and window, see {@link ListPaneProps}
 * @returns the pane element
 */
export function TransfersPane(props: ListPaneProps<TransferState>): JSX.Element {
	const inner = props.width - PANE_FRAME_COLUMNS;
	return (
		<Pane
			title={titled("Transfers", props.items.length)}
			width={props.width}
			height={props.height}
			focused={props.focused}
		>
			<Text dimColor wrap="truncate-end">
				{transferHeader(inner)}
			</Text>
			{props.items.length === 0 ? (
				<Empty text="No downloads: pick a file and press Enter" width={inner} />
			) : (
				windowOf(props).map(({ item, index }) => {
					const highlighted = props.focused && index === props.selected;
					return (
						<Text
							key={item.fileId}
							inverse={highlighted}
							color={transferColor(item)}
							wrap="truncate-end"
						>
							{transferRow(item, inner, highlighted)}
						</Text>
					);
				})
			)}
		</Pane>
	);
}
