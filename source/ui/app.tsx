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
	useRef,
	useState,
	useSyncExternalStore,
} from "react";
import type { Snapshot, Store } from "../peer/types.js";
import { actionForKey } from "./keymap.js";
import { computeLayout } from "./layout.js";
import { FilesPane, PeersPane, TransfersPane } from "./panes.js";
import { StatusLine } from "./status-line.js";
import { type ListControls, useListState } from "./use-list-state.js";
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

/**
 * The whole UI, sized to the terminal (following resizes).
 *
 * Keys: Tab / Shift-Tab cycle the focus Peers → Files → Transfers; ↑/↓ and `k`/`j` move
 * the selection of the focused list (PgUp/PgDn, Home/End, `g`/`G` jump); Enter in the
 * Files pane dispatches `{type: "download", fileId}` for the selected file; `q` and
 * Ctrl-C dispatch `{type: "quit"}` and exit ink (render it with `exitOnCtrlC: false`).
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

	const peers = useListState(snapshot.peers.length, layout.peerItems);
	const files = useListState(snapshot.files.length, layout.fileItems);
	const transfers = useListState(snapshot.transfers.length, layout.transferItems);
	const lists: Record<PaneName, ListControls> = { peers, files, transfers };

	const handleKey = (input: string, key: Key): void => {
		const action = actionForKey(input, key);
		if (!action) {
			return;
		}
		const list = lists[focus];
		switch (action.type) {
			case "quit":
				store.dispatch({ type: "quit" });
				exit();
				return;
			case "focus-next":
				setFocus((pane) => cyclePane(pane, 1));
				return;
			case "focus-prev":
				setFocus((pane) => cyclePane(pane, -1));
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
			case "activate": {
				const file = focus === "files" ? snapshot.files[files.selected] : undefined;
				if (file) {
					store.dispatch({ type: "download", fileId: file.id });
				}
				return;
			}
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
					items={snapshot.files}
					width={layout.files.width}
					height={layout.files.height}
					focused={focus === "files"}
					selected={files.selected}
					offset={files.offset}
					visible={layout.fileItems}
				/>
			</Box>
			<TransfersPane
				items={snapshot.transfers}
				width={layout.transfers.width}
				height={layout.transfers.height}
				focused={focus === "transfers"}
				selected={transfers.selected}
				offset={transfers.offset}
				visible={layout.transferItems}
			/>
			<StatusLine snapshot={snapshot} width={layout.columns} />
		</Box>
	);
}
