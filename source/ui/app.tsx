/**
 * The full-screen terminal UI: Peers and Files side by side, Transfers below, a status
 * line last. It renders the core's snapshot and turns key presses into intents; it never
 * touches sockets or files.
 */

import { Box, type Key, useApp, useInput } from "ink";
import {
	type JSX,
	useCallback,
	useLayoutEffect,
	useMemo,
	useRef,
	useState,
	useSyncExternalStore,
} from "react";
import type { Snapshot, Store } from "../peer/types.js";
import {
	buildFileTree,
	nodeEntry,
	sameFileNames,
	sameFolderPaths,
	type TreeNode,
	visibleNodes,
} from "./file-tree.js";
import {
	actionForKey,
	FILTER_KEY_HINTS,
	KEY_HINTS,
	SEARCH_KEY_HINTS,
	searchActionForKey,
} from "./keymap.js";
import { computeLayout } from "./layout.js";
import { FilesPane, type FilesPaneRow, PeersPane, TransfersPane } from "./panes.js";
import { StatusLine } from "./status-line.js";
import { transferList } from "./transfer-list.js";
import { useFuzzySearch } from "./use-fuzzy-search.js";
import { type ListControls, useListState } from "./use-list-state.js";
import { useStable } from "./use-stable.js";
import { useTerminalSize } from "./use-terminal-size.js";

/** The panes that can hold the keyboard focus, in Tab order. */
export const PANES = ["peers", "files", "transfers"] as const;

/** One of {@link PANES}. */
export type PaneName = (typeof PANES)[number];

/** The pane focused at start: Files, where Enter starts a download. */
export const INITIAL_FOCUS: PaneName = "files";

/**
 * The pane after (`step` 1) or before (`step` -1) `pane` in Tab order, wrapping around.
 *
 * @param pane - the currently focused pane
 * @param step - how many panes to move, negative to go back
 * @returns the pane to focus next
 */
export function cyclePane(pane: PaneName, step: number): PaneName {
	const index = PANES.indexOf(pane);
	const length = PANES.length;
	return PANES[(((index + step) % length) + length) % length];
}

/** Props of {@link App}. */
export interface AppProps {
	/** The core's store: the snapshot to render and the sink for intents. */
	store: Store;
}

/** Follows the store's snapshot with `useSyncExternalStore`. */
function useSnapshot(store: Store): Snapshot {
	const subscribe = useCallback((listener: () => void) => store.subscribe(listener), [store]);
	const getSnapshot = useCallback(() => store.getSnapshot(), [store]);
	return useSyncExternalStore(subscribe, getSnapshot, getSnapshot);
}

/** The search of the Files pane: its query, and whether typed keys go to it. */
export interface SearchState {
	query: string;
	/** The box takes typing (after `/`); false once Tab left it with the filter kept. */
	editing: boolean;
}

/** What a search matches a node against: its full path. */
const nodePath = (node: TreeNode): string => node.path;

/** A stable identity of a node for React. */
function nodeId(node: TreeNode): string {
	return node.kind === "folder" ? `folder:${node.path}` : `file:${node.fileIndex}`;
}

/** The query without its last character (a whole code point). */
function withoutLast(text: string): string {
	return Array.from(text).slice(0, -1).join("");
}

/**
 * The whole UI, sized to the terminal (following resizes).
 *
 * Keys: Tab / Shift-Tab cycle the focus Peers → Files → Transfers; ↑/↓ and `k`/`j` move
 * the selection of the focused list (PgUp/PgDn, Home/End, `g`/`G` jump). The Files pane
 * is a tree: →/`l` opens the selected folder (on an open one, goes to its first child),
 * ←/`h` closes it (on a file or closed folder, goes to the parent folder). Enter in the
 * Files pane dispatches `{type: "download", fileId}` for a file, `{type:
 * "download-folder", path}` for a folder. `/` opens the search box over the Files pane:
 * typed keys (letters such as `j`, `k`, `q` included) go to the query and the pane shows
 * the ranked matches (files and folders, by full path) with the matched characters
 * highlighted; ↑/↓ move, Enter downloads the selected match, Backspace and Ctrl-U erase,
 * Tab leaves the box keeping the filter (then `/` edits it again), Esc clears the search
 * and closes the box. `q` and Ctrl-C dispatch `{type: "quit"}` and exit ink (render it with
 * `exitOnCtrlC: false`); in the search box only Ctrl-C does.
 *
 * @param props - the store to render, see {@link AppProps}
 * @returns the root element to pass to ink's `render`
 */
export function App({ store }: AppProps): JSX.Element {
	const snapshot = useSnapshot(store);
	const { exit } = useApp();
	const { columns, rows } = useTerminalSize();
	const layout = computeLayout(columns, rows);
	const [focus, setFocus] = useState<PaneName>(INITIAL_FOCUS);
	const [expanded, setExpanded] = useState<ReadonlySet<string>>(() => new Set());
	const [search, setSearchState] = useState<SearchState | undefined>(undefined);
	// Keys of one input chunk ("/abc") are handled before a re-render: they read the
	// search mode from this ref, which every change goes through.
	const searchRef = useRef(search);
	const setSearch = (next: SearchState | undefined) => {
		searchRef.current = next;
		setSearchState(next);
	};

	// The tree and the search index are rebuilt only when names change, not per snapshot.
	const files = useStable(snapshot.files, sameFileNames);
	const folders = useStable(snapshot.folders, sameFolderPaths);
	const tree = useMemo(() => buildFileTree(files, folders), [files, folders]);
	const treeRows = useMemo(() => visibleNodes(tree, expanded), [tree, expanded]);
	const query = search?.query ?? "";
	const filtering = query.trim() !== "";
	const results = useFuzzySearch(tree.nodes, nodePath, query);
	const fileItems = Math.max(1, layout.fileItems - (search ? 1 : 0));

	const peers = useListState(snapshot.peers.length, layout.peerItems);
	const treeList = useListState(treeRows.length, fileItems);
	const resultList = useListState(results.matches.length, fileItems);
	const transferRows = useMemo(
		() => transferList(snapshot.transfers, snapshot.folderTransfers),
		[snapshot.transfers, snapshot.folderTransfers],
	);
	const transfers = useListState(transferRows.length, layout.transferItems);
	const filesList = filtering ? resultList : treeList;
	const lists: Record<PaneName, ListControls> = { peers, files: filesList, transfers };

	/** Enter in the Files pane: download the selected file or folder. */
	const activate = (filteringNow: boolean) => {
		const node = filteringNow
			? results.matches[resultList.selected]?.item
			: treeRows[treeList.selected];
		if (node?.kind === "folder") {
			store.dispatch({ type: "download-folder", path: node.path });
		} else if (node) {
			const file = snapshot.files[node.fileIndex];
			if (file) store.dispatch({ type: "download", fileId: file.id });
		}
	};
	/** →/l: open the selected folder, or step into an open one. */
	const expand = () => {
		const node = treeRows[treeList.selected];
		if (node?.kind !== "folder") return;
		if (!expanded.has(node.path)) {
			setExpanded((open) => new Set(open).add(node.path));
		} else if (node.children.length > 0) {
			treeList.move(1);
		}
	};
	/** ←/h: close the selected folder, or go up to the parent folder. */
	const collapse = () => {
		const index = treeList.selected;
		const node = treeRows[index];
		if (!node) return;
		if (node.kind === "folder" && expanded.has(node.path)) {
			setExpanded((open) => {
				const next = new Set(open);
				next.delete(node.path);
				return next;
			});
		} else if (node.parent) {
			const at = treeRows.lastIndexOf(node.parent, index);
			if (at >= 0) treeList.select(at);
		}
	};

	const handleKey = (input: string, key: Key): void => {
		const current = searchRef.current;
		const editing = current?.editing === true;
		const action = editing ? searchActionForKey(input, key) : actionForKey(input, key);
		if (!action) {
			return;
		}
		const filteringNow = current !== undefined && current.query.trim() !== "";
		const list = focus === "files" ? (filteringNow ? resultList : treeList) : lists[focus];
		const retype = (text: string) => {
			setSearch({ query: text, editing: true });
			// A new query starts at its best match.
			resultList.select(0);
		};
		switch (action.type) {
			case "quit":
				store.dispatch({ type: "quit" });
				exit();
				return;
			case "focus-next":
			case "focus-prev":
				if (current && editing) {
					// Leaving the box keeps a filter; an empty box just closes.
					setSearch(filteringNow ? { ...current, editing: false } : undefined);
				}
				setFocus((pane) => cyclePane(pane, action.type === "focus-next" ? 1 : -1));
				return;
			case "move":
				list.move(action.delta);
				return;
			case "page":
				list.page(action.delta);
				return;
			case "jump":
				list.select(action.to === "first" ? 0 : Number.MAX_SAFE_INTEGER);
				return;
			case "activate":
				if (focus === "files") activate(filteringNow);
				return;
			case "expand":
				if (focus === "files" && !filteringNow) expand();
				return;
			case "collapse":
				if (focus === "files" && !filteringNow) collapse();
				return;
			case "search":
				setFocus("files");
				setSearch({ query: current?.query ?? "", editing: true });
				return;
			case "clear":
				if (current) setSearch(undefined);
				return;
			case "type":
				retype((current?.query ?? "") + action.text);
				return;
			case "erase":
				retype(withoutLast(current?.query ?? ""));
				return;
			case "erase-all":
				retype("");
				return;
		}
	};
	// ink subscribes the input handler in a passive effect, which may run after the frame
	// is drawn; a key pressed in between would reach the previous render's handler. Route
	// every key through a ref refreshed during commit so it always sees the latest state.
	const handlerRef = useRef(handleKey);
	useLayoutEffect(() => {
		handlerRef.current = handleKey;
	});
	const onInput = useCallback((input: string, key: Key) => {
		// Keys typed faster than a frame (or pasted) arrive as one chunk: "jjj" is three moves.
		if (input.length > 1 && !key.ctrl && !key.meta && /^[\x20-\x7e]+$/.test(input)) {
			for (const char of input) handlerRef.current(char, key);
		} else {
			handlerRef.current(input, key);
		}
	}, []);
	useInput(onInput);

	// Only the rows of the window are made into text.
	const fileCount = filtering ? results.matches.length : treeRows.length;
	const windowRows: FilesPaneRow[] = [];
	const windowEnd = Math.min(fileCount, filesList.offset + fileItems);
	for (let index = filesList.offset; index < windowEnd; index++) {
		const match = filtering ? results.matches[index] : undefined;
		const node = match ? match.item : treeRows[index];
		if (node) {
			windowRows.push({
				id: nodeId(node),
				index,
				entry: nodeEntry(node, snapshot, expanded, match),
			});
		}
	}
	const hints = search?.editing ? SEARCH_KEY_HINTS : filtering ? FILTER_KEY_HINTS : KEY_HINTS;

	return (
		<Box flexDirection="column" width={layout.columns} height={layout.rows}>
			<Box flexDirection="row" flexShrink={0}>
				<PeersPane
					items={snapshot.peers}
					width={layout.peers.width}
					height={layout.peers.height}
					focused={focus === "peers"}
					selected={peers.selected}
					offset={peers.offset}
					visible={layout.peerItems}
				/>
				<FilesPane
					rows={windowRows}
					count={fileCount}
					files={snapshot.files.length}
					search={
						search
							? {
									query: search.query,
									editing: search.editing,
									matches: results.matches.length,
									pending: results.pending,
								}
							: undefined
					}
					width={layout.files.width}
					height={layout.files.height}
					focused={focus === "files"}
					selected={filesList.selected}
				/>
			</Box>
			<TransfersPane
				items={transferRows}
				width={layout.transfers.width}
				height={layout.transfers.height}
				focused={focus === "transfers"}
				selected={transfers.selected}
				offset={transfers.offset}
				visible={layout.transferItems}
			/>
			<StatusLine
				snapshot={{ self: snapshot.self, message: snapshot.message, indexing: snapshot.indexing }}
				width={layout.columns}
				hints={hints}
			/>
		</Box>
	);
}
