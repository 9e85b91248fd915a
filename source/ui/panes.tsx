/**
 * The three list panes. Each renders only the rows inside its window
 * (`offset` .. `offset + visible - 1`), the selected row inverse when the pane is focused.
 */

import { Text } from "ink";
import { type JSX, memo } from "react";
import type { PeerRecord } from "../peer/types.js";
import { fit, type Segment } from "./format.js";
import { PANE_FRAME_COLUMNS } from "./layout.js";
import { Pane } from "./pane.js";
import {
	type FileListEntry,
	fileHeader,
	fileListRow,
	folderTransferRowSegments,
	peerLines,
	type SearchBoxState,
	searchLine,
	transferHeader,
	transferRowSegments,
} from "./rows.js";
import { type Palette, usePalette } from "./theme.js";
import type { TransferListItem } from "./transfer-list.js";
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

/**
 * The Peers pane: per peer, its name and file count, then its address (receive port), the
 * rates we receive from and send to it (when any, and room allows) and the seconds since
 * its last announce, refreshed every second. A banned peer's two lines are red (its second
 * line dimmed) and say "banned".
 *
 * @param props - peers and window, see {@link ListPaneProps}
 * @returns the pane element
 */
export const PeersPane = memo(function PeersPane(props: ListPaneProps<PeerRecord>): JSX.Element {
	const now = useNow(1000);
	const palette = usePalette();
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
					const color = item.banned ? palette.error : undefined;
					return [
						<Text key={`${item.id}:1`} inverse={highlighted} color={color} bold wrap="truncate-end">
							{first}
						</Text>,
						<Text
							key={`${item.id}:2`}
							inverse={highlighted}
							color={color}
							dimColor={item.banned === true && !highlighted}
							wrap="truncate-end"
						>
							{second}
						</Text>,
					];
				})
			)}
		</Pane>
	);
});

/**
 * Styled runs of text inside one `<Text>`: search matches bold, underlined and in the
 * match colour, dimmed info dim, the cursor inverse, tones in their colours (none under
 * `NO_COLOR`: then errors are still bold).
 *
 * @param segments - the runs
 * @param palette - the colours in force
 * @returns one `<Text>` per run
 */
export function runs(segments: readonly Segment[], palette: Palette): JSX.Element[] {
	return segments.map((segment, index) => {
		const key = `${index}:${segment.style ?? ""}`;
		switch (segment.style) {
			case "match":
				return (
					<Text key={key} color={palette.match} bold underline>
						{segment.text}
					</Text>
				);
			case "dim":
				return (
					<Text key={key} dimColor>
						{segment.text}
					</Text>
				);
			case "strong":
				return (
					<Text key={key} bold>
						{segment.text}
					</Text>
				);
			case "cursor":
				return (
					<Text key={key} inverse>
						{segment.text}
					</Text>
				);
			case "progress":
				return (
					<Text key={key} color={palette.progress}>
						{segment.text}
					</Text>
				);
			case "ok":
				return (
					<Text key={key} color={palette.ok}>
						{segment.text}
					</Text>
				);
			case "warn":
				return (
					<Text key={key} color={palette.warn}>
						{segment.text}
					</Text>
				);
			case "error":
				return (
					<Text key={key} color={palette.error} bold={palette.error === undefined}>
						{segment.text}
					</Text>
				);
			default:
				return <Text key={key}>{segment.text}</Text>;
		}
	});
}

/** One visible row of the Files pane. */
export interface FilesPaneRow {
	/** Stable identity for React (file id or folder path). */
	id: string;
	/** Absolute index in the list (to compare with `selected`). */
	index: number;
	entry: FileListEntry;
}

/** Props of {@link FilesPane}. */
export interface FilesPaneProps {
	/** The rows of the window only (the caller windows the tree or the search results). */
	rows: readonly FilesPaneRow[];
	/** Number of rows in the whole list (0 shows the placeholder). */
	count: number;
	/** Number of files on the network, for the title. */
	files: number;
	/** The search box line, when a search is open or filters the list. */
	search?: SearchBoxState;
	/** Outer width of the pane, borders included, in columns. */
	width: number;
	/** Outer height of the pane, borders included, in rows. */
	height: number;
	/** Whether the pane has the keyboard focus. */
	focused: boolean;
	/** Index of the selected row. */
	selected: number;
}

/**
 * The Files pane: the network's folders and files as a tree (folders with `▸`/`▾`, their
 * file count and total size; files with size and number of peers), or, while a search is
 * open, the search box line and the ranked matches with the matched characters
 * highlighted.
 *
 * @param props - see {@link FilesPaneProps}
 * @returns the pane element
 */
export const FilesPane = memo(function FilesPane(props: FilesPaneProps): JSX.Element {
	const palette = usePalette();
	const inner = props.width - PANE_FRAME_COLUMNS;
	const searching = props.search !== undefined && props.search.query.trim() !== "";
	return (
		<Pane
			title={titled("Files", props.files)}
			width={props.width}
			height={props.height}
			focused={props.focused}
		>
			{props.search ? (
				<Text wrap="truncate-end">{runs(searchLine(props.search, inner), palette)}</Text>
			) : null}
			<Text dimColor wrap="truncate-end">
				{fileHeader(inner)}
			</Text>
			{props.count === 0 ? (
				<Empty
					text={
						searching
							? props.search?.pending
								? "Searching…"
								: "No matches"
							: "No files on the network yet"
					}
					width={inner}
				/>
			) : (
				props.rows.map(({ id, index, entry }) => {
					const highlighted = props.focused && index === props.selected;
					return (
						<Text key={id} inverse={highlighted} wrap="truncate-end">
							{runs(fileListRow(entry, inner, highlighted), palette)}
						</Text>
					);
				})
			)}
		</Pane>
	);
});

/** React key of a Transfers pane row. */
function transferKey(item: TransferListItem): string {
	return item.kind === "folder" ? `folder:${item.folder.path}` : item.transfer.fileId;
}

/** Props of {@link TransfersPane}. */
export interface TransfersPaneProps extends ListPaneProps<TransferListItem> {
	/** The summary set into the bottom border (total rates, queue, limits). */
	summary: string;
}

/**
 * The Transfers pane: per download its name, progress bar (filled part green), percent,
 * speed, ETA, peers serving, verified pieces, where the bytes came from (seeders or
 * distribution) and status, in the status's colour (failed red, paused and waiting yellow,
 * complete green, queued and cancelled dim). A folder download is one row (`▾ path/`,
 * progress over the whole folder, files and bytes done) with its unfinished files under it
 * (`├`/`└`, paths inside the folder). The summary line is set into the bottom border.
 *
 * @param props - rows, window and summary, see {@link TransfersPaneProps}
 * @returns the pane element
 */
export const TransfersPane = memo(function TransfersPane(props: TransfersPaneProps): JSX.Element {
	const palette = usePalette();
	const inner = props.width - PANE_FRAME_COLUMNS;
	const count = props.items.filter((item) => item.kind === "folder" || !item.folder).length;
	return (
		<Pane
			title={titled("Transfers", count)}
			width={props.width}
			height={props.height}
			focused={props.focused}
			footer={props.summary}
		>
			<Text dimColor wrap="truncate-end">
				{transferHeader(inner)}
			</Text>
			{props.items.length === 0 ? (
				<Empty text="No downloads: pick a file or folder and press Enter" width={inner} />
			) : (
				windowOf(props).map(({ item, index }) => {
					const highlighted = props.focused && index === props.selected;
					const segments =
						item.kind === "folder"
							? folderTransferRowSegments(item.folder, item.files, inner, highlighted)
							: transferRowSegments(item.transfer, inner, highlighted, {
									prefix: item.branch,
									label: item.label,
								});
					const dim = item.kind === "file" && item.transfer.status === "cancelled";
					return (
						<Text
							key={transferKey(item)}
							inverse={highlighted}
							dimColor={dim && !highlighted}
							wrap="truncate-end"
						>
							{runs(segments, palette)}
						</Text>
					);
				})
			)}
		</Pane>
	);
});
