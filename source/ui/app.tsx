/**
 * The full-screen terminal UI: Peers and Files side by side, Transfers below, a status
 * line last; panels (help, details, a download's location, the limits form) cover the
 * panes while open. It renders the core's snapshot and turns key presses into intents; it
 * never touches sockets or files.
 */

import { Box, type Key, useApp, useInput } from "ink";
import { parsePeerAddress } from "../discovery/peer-address.js";
import "./ink-frame-cache.js";
import {
	type JSX,
	useCallback,
	useEffect,
	useLayoutEffect,
	useMemo,
	useRef,
	useState,
	useSyncExternalStore,
} from "react";
import type { IncomingOffer, TextMessage } from "../peer/offers.js";
import type { Intent, Snapshot, Store, TransferState } from "../peer/types.js";
import type { FuzzyMatch, RankedMatches } from "../search/fuzzy.js";
import {
	type DetailView,
	fileDetails,
	folderDetails,
	folderLocation,
	peerDetails,
	transferLocation,
} from "./details.js";
import {
	buildFileTree,
	folderStats,
	nodeEntry,
	sameFileNames,
	sameFolderPaths,
	type TreeNode,
	visibleNodes,
} from "./file-tree.js";
import { formatBytes } from "./format.js";
import {
	actionForKey,
	CONFIRM_KEY_HINTS,
	CONFIRM_KEYMAP,
	FILTER_KEY_HINTS,
	FORM_KEY_HINTS,
	formActionForKey,
	helpSections,
	KEY_HINTS,
	type KeyFlags,
	type KeyHint,
	OFFER_KEY_HINTS,
	OFFER_KEYMAP,
	PANEL_KEY_HINTS,
	PANEL_KEYMAP,
	PEER_FORM_KEY_HINTS,
	PEERS_KEY_HINTS,
	peerFormActionForKey,
	SEARCH_KEY_HINTS,
	searchActionForKey,
	splitKeys,
	TEXT_KEY_HINTS,
	TEXT_KEYMAP,
	TRANSFERS_KEY_HINTS,
	type UiAction,
} from "./keymap.js";
import { computeLayout, STATUS_ROWS } from "./layout.js";
import {
	editLimitsForm,
	KEY_FIELD,
	type LimitsForm,
	openLimitsForm,
	parseLimitsForm,
} from "./limits-form.js";
import { maxPanelOffset, Panel, panelRows, panelWidth } from "./panel.js";
import {
	detailLines,
	helpLines,
	limitsFormLines,
	type PanelLine,
	peerFormLines,
} from "./panel-content.js";
import { FilesPane, type FilesPaneRow, PeersPane, TransfersPane } from "./panes.js";
import { formatLimit, transferSummary } from "./rows.js";
import { StatusLine } from "./status-line.js";
import { COLORS, NO_COLORS, noColorRequested, PaletteContext } from "./theme.js";
import { type TransferListItem, transferList } from "./transfer-list.js";
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

/** Least time between two renders caused by new snapshots, in ms (keys render at once). */
export const FRAME_MS = 200;

/**
 * Most frames per second ink draws (its `maxFps` render option; ink's default is 30). Ink
 * holds a frame asked for within 1000 / maxFps ms of the last one: at 30 a key pressed just
 * after another render (a snapshot, the Peers pane's clock) waited up to 34 ms for its frame,
 * at 60 at most 17 ms. Snapshots stay at most one per {@link FRAME_MS}, so the higher cap
 * only lets key presses through sooner.
 */
export const MAX_FPS = 60;

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
	/** Draw without any colour (default: when `NO_COLOR` is set and not empty). */
	noColor?: boolean;
	/**
	 * Least time between two renders caused by new snapshots, in ms (default
	 * {@link FRAME_MS}): a burst of snapshots costs a few frames per second; the first
	 * snapshot after a quiet spell is drawn at once.
	 */
	frameMs?: number;
	/**
	 * Gets a person's attention: an offer or a text arrived (the runner rings the bell and
	 * sends a desktop notification, see `terminal-alerts.ts`).
	 */
	notify?: (title: string, body: string) => void;
	/** Copies a text to the clipboard (the runner writes OSC 52). */
	copy?: (text: string) => void;
}

/**
 * Follows the store's snapshot with `useSyncExternalStore`, passing on at most one change
 * per `frameMs` (the first at once, the last of a burst after the interval), so frequent
 * snapshots do not make the screen redraw more than a few times a second.
 */
function useSnapshot(store: Store, frameMs: number): Snapshot {
	const subscribe = useCallback(
		(listener: () => void) => {
			let last = Number.NEGATIVE_INFINITY;
			let timer: NodeJS.Timeout | undefined;
			const notify = () => {
				timer = undefined;
				last = performance.now();
				listener();
			};
			const unsubscribe = store.subscribe(() => {
				if (timer) return;
				const wait = last + frameMs - performance.now();
				if (wait <= 0) notify();
				else timer = setTimeout(notify, wait);
			});
			return () => {
				clearTimeout(timer);
				unsubscribe();
			};
		},
		[store, frameMs],
	);
	const getSnapshot = useCallback(() => store.getSnapshot(), [store]);
	return useSyncExternalStore(subscribe, getSnapshot, getSnapshot);
}

/** The search of the Files pane: its query, and whether typed keys go to it. */
export interface SearchState {
	query: string;
	/** The box takes typing (after `/`); false once Tab left it with the filter kept. */
	editing: boolean;
}

/** What covers the panes, or asks a question, while open. */
export type Overlay =
	/** The help: every key of every mode. */
	| { kind: "help"; offset: number }
	/** A peer's details (by id, so they follow the snapshot). */
	| { kind: "peer"; id: string; offset: number }
	/** A file's details (a network file, or a download's file). */
	| { kind: "file"; fileId: string; name?: string; offset: number }
	/** A folder's details. */
	| { kind: "folder"; path: string; offset: number }
	/** Where a download (`fileId`) or a folder download (`folder`) is on disk. */
	| { kind: "location"; fileId?: string; folder?: string; offset: number }
	/** The limits form. */
	| { kind: "limits"; form: LimitsForm }
	/** The add-peer form: the text typed, and why the last Enter was refused. */
	| { kind: "add-peer"; text: string; error?: string }
	/** The cancel prompt: keep or delete the partial files of these downloads. */
	| { kind: "confirm"; fileIds: string[]; name: string };

/** A message of the UI itself (e.g. "paused a.txt") and the store message it supersedes. */
interface Notice {
	text: string;
	/** The snapshot's message when the notice was made; a newer one replaces the notice. */
	over: string | undefined;
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

/** The help's content; the keymaps are constant. */
const HELP = helpSections();

/** Statuses `p` pauses (the others resume, retry or are left alone). */
const PAUSABLE: ReadonlySet<TransferState["status"]> = new Set([
	"queued",
	"starting",
	"downloading",
	"waiting",
	"verifying",
]);

/** Statuses `x` can cancel. */
function cancellable(transfer: TransferState): boolean {
	return transfer.status !== "complete" && transfer.status !== "cancelled";
}

/**
 * The intents `p` sends for a row of the Transfers pane: a running or queued download is
 * paused, a paused one resumed, a failed or cancelled one downloaded again. On a folder's
 * row: pauses its running files, or when none runs, resumes its paused ones.
 *
 * @param item - the selected row
 * @returns the intents (none for a complete download) and what to tell the user
 */
export function pauseIntents(item: TransferListItem): { intents: Intent[]; notice: string } {
	if (item.kind === "file") {
		const { transfer } = item;
		if (transfer.status === "paused") {
			return {
				intents: [{ type: "resume", fileId: transfer.fileId }],
				notice: `resuming ${transfer.name}`,
			};
		}
		if (PAUSABLE.has(transfer.status)) {
			return {
				intents: [{ type: "pause", fileId: transfer.fileId }],
				notice: `pausing ${transfer.name}`,
			};
		}
		if (transfer.status === "failed" || transfer.status === "cancelled") {
			return {
				intents: [{ type: "download", fileId: transfer.fileId }],
				notice: `downloading ${transfer.name} again`,
			};
		}
		return { intents: [], notice: `${transfer.name} is complete: nothing to pause` };
	}
	const running = item.files.filter((t) => PAUSABLE.has(t.status));
	if (running.length > 0) {
		return {
			intents: running.map((t) => ({ type: "pause", fileId: t.fileId })),
			notice: `pausing ${item.folder.path}/ (${running.length} file${running.length === 1 ? "" : "s"})`,
		};
	}
	const paused = item.files.filter((t) => t.status === "paused");
	if (paused.length > 0) {
		return {
			intents: paused.map((t) => ({ type: "resume", fileId: t.fileId })),
			notice: `resuming ${item.folder.path}/ (${paused.length} file${paused.length === 1 ? "" : "s"})`,
		};
	}
	return { intents: [], notice: `${item.folder.path}/: nothing to pause or resume` };
}

/** The cancel prompt for a row of the Transfers pane, or undefined when nothing can be cancelled. */
function confirmFor(item: TransferListItem): Overlay | undefined {
	if (item.kind === "file") {
		return cancellable(item.transfer)
			? { kind: "confirm", fileIds: [item.transfer.fileId], name: item.transfer.name }
			: undefined;
	}
	const ids = item.files.filter(cancellable).map((t) => t.fileId);
	return ids.length > 0
		? { kind: "confirm", fileIds: ids, name: `${item.folder.path}/` }
		: undefined;
}

/**
 * Why the add-peer form's text is no peer address (the parser's one line), or undefined.
 * The port does not matter here: the core fills in its discovery port.
 */
function peerAddressError(text: string): string | undefined {
	try {
		parsePeerAddress(text, 1);
		return undefined;
	} catch (error) {
		return error instanceof Error ? error.message : String(error);
	}
}

/** The limits as a notice: `"limits: ↓ 500.0 KB/s ↑ unlimited · 3 active"`. */
function limitsNotice(limits: Snapshot["limits"]): string {
	return `limits: ↓ ${formatLimit(limits.maxDown)} ↑ ${formatLimit(limits.maxUp)} · ${limits.maxActive} active`;
}

/**
 * The whole UI, sized to the terminal (following resizes).
 *
 * Keys (the help overlay, `?`, lists them all from the keymaps): Tab / Shift-Tab cycle the
 * focus Peers → Files → Transfers, `1` `2` `3` focus one; ↑/↓ and `k`/`j` move the
 * selection of the focused list (PgUp/PgDn, Home/End, `g`/`G` jump). The Files pane is a
 * tree: →/`l` opens the selected folder (on an open one, goes to its first child), ←/`h`
 * closes it (on a file or closed folder, goes to the parent folder). Enter in the Files
 * pane dispatches `{type: "download", fileId}` for a file, `{type: "download-folder",
 * path}` for a folder; in the Peers and Transfers panes it opens the details, as `i` does
 * everywhere. `/` opens the search box over the Files pane: typed keys (letters such as
 * `j`, `k`, `q` included) go to the query and the pane shows the ranked matches with the
 * matched characters highlighted; ↑/↓ move, Enter downloads the selected match, Backspace
 * and Ctrl-U erase, Tab leaves the box keeping the filter (then `/` edits it again), Esc
 * clears the search. In the Transfers pane `p` dispatches `pause` or `resume` (by status;
 * `download` again for a failed or cancelled one), `x` asks "keep partial file? [k]eep /
 * [d]elete / Esc" and dispatches `cancel` with `keepPartial`, `o` shows where the file is
 * on disk. `L` opens the limits form, which dispatches `set-limits`. Panels close with Esc
 * (or `q`). `q` and Ctrl-C dispatch `{type: "quit"}` and exit ink (render it with
 * `exitOnCtrlC: false`); in the search box and the limits form only Ctrl-C does.
 *
 * @param props - the store to render, see {@link AppProps}
 * @returns the root element to pass to ink's `render`
 */
export function App({
	store,
	noColor = noColorRequested(),
	frameMs = FRAME_MS,
	notify,
	copy,
}: AppProps): JSX.Element {
	const snapshot = useSnapshot(store, frameMs);
	// Offers answered and texts closed here, hidden before the next snapshot says so.
	const handledRef = useRef(new Set<string>());
	const offerShown = snapshot.offers?.find((o) => !handledRef.current.has(o.key));
	const textShown = offerShown
		? undefined
		: snapshot.texts?.find((t) => !handledRef.current.has(t.key));
	const incomingRef = useRef<{ offer?: typeof offerShown; text?: typeof textShown }>({});
	incomingRef.current = { offer: offerShown, text: textShown };
	// Each new offer or text rings once.
	const alertedRef = useRef(new Set<string>());
	useEffect(() => {
		for (const o of snapshot.offers ?? []) {
			if (alertedRef.current.has(o.key)) continue;
			alertedRef.current.add(o.key);
			notify?.(
				`p2p-tui: offer from ${o.fromName}`,
				`${o.files} files, ${formatBytes(o.totalSize)}`,
			);
		}
		for (const t of snapshot.texts ?? []) {
			if (alertedRef.current.has(t.key)) continue;
			alertedRef.current.add(t.key);
			notify?.(`p2p-tui: message from ${t.fromName}`, t.text);
		}
	}, [snapshot.offers, snapshot.texts, notify]);
	const [, setAnswered] = useState(0);
	const { exit } = useApp();
	const { columns, rows } = useTerminalSize();
	const layout = computeLayout(columns, rows);
	const [focus, setFocusState] = useState<PaneName>(INITIAL_FOCUS);
	const [expanded, setExpanded] = useState<ReadonlySet<string>>(() => new Set());
	const [search, setSearchState] = useState<SearchState | undefined>(undefined);
	const [overlay, setOverlayState] = useState<Overlay | undefined>(undefined);
	const [notice, setNotice] = useState<Notice | undefined>(undefined);
	// Keys of one input chunk ("/abc", "L500") are handled before a re-render: they read
	// the mode from these refs, which every change goes through.
	const searchRef = useRef(search);
	const setSearch = (next: SearchState | undefined) => {
		searchRef.current = next;
		setSearchState(next);
	};
	const overlayRef = useRef(overlay);
	const setOverlay = (next: Overlay | undefined) => {
		overlayRef.current = next;
		setOverlayState(next);
	};
	const focusRef = useRef(focus);
	const setFocus = (next: PaneName) => {
		focusRef.current = next;
		setFocusState(next);
	};
	/** Highest scroll offset of the open panel, as last drawn. */
	const panelMaxRef = useRef(0);

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

	const say = (text: string) => setNotice({ text, over: snapshot.message });
	const send = (intents: readonly Intent[]) => {
		for (const intent of intents) store.dispatch(intent);
	};

	/** The selected node of the Files pane (tree row or search match). */
	const selectedNode = (filteringNow: boolean): TreeNode | undefined =>
		filteringNow ? results.matches.at(resultList.selected)?.item : treeRows[treeList.selected];

	/** Enter in the Files pane: download the selected file or folder. */
	const activate = (filteringNow: boolean) => {
		const node = selectedNode(filteringNow);
		if (node?.kind === "folder") {
			store.dispatch({ type: "download-folder", path: node.path });
		} else if (node) {
			const file = snapshot.files[node.fileIndex];
			if (file) store.dispatch({ type: "download", fileId: file.id, name: file.name });
		}
	};
	/** `s` in the Files pane: download the selected file in order (a folder: as Enter). */
	const inOrder = (filteringNow: boolean) => {
		const node = selectedNode(filteringNow);
		if (node?.kind !== "file") return activate(filteringNow);
		const file = snapshot.files[node.fileIndex];
		if (file) store.dispatch({ type: "download", fileId: file.id, inOrder: true });
	};
	/** `i` (and Enter in the Peers and Transfers panes): the selected row's details. */
	const details = (pane: PaneName, filteringNow: boolean) => {
		if (pane === "peers") {
			const peer = snapshot.peers[peers.selected];
			if (peer) setOverlay({ kind: "peer", id: peer.id, offset: 0 });
		} else if (pane === "files") {
			const node = selectedNode(filteringNow);
			if (node?.kind === "folder") {
				setOverlay({ kind: "folder", path: node.path, offset: 0 });
			} else if (node) {
				const file = snapshot.files[node.fileIndex];
				if (file) setOverlay({ kind: "file", fileId: file.id, name: file.name, offset: 0 });
			}
		} else {
			const item = transferRows[transfers.selected];
			if (item?.kind === "file")
				setOverlay({ kind: "file", fileId: item.transfer.fileId, offset: 0 });
			else if (item) setOverlay({ kind: "folder", path: item.folder.path, offset: 0 });
		}
	};
	/** The selected row of the Transfers pane when it has the focus, else a hint. */
	const selectedTransfer = (pane: PaneName, key: string): TransferListItem | undefined => {
		if (pane !== "transfers") {
			say(`${key} acts on the Transfers pane: press 3 or Tab to go there`);
			return undefined;
		}
		const item = transferRows[transfers.selected];
		if (!item) say("no downloads yet");
		return item;
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
	const quit = () => {
		// Keys typed after q are not acted on.
		pendingKeys.current.length = 0;
		store.dispatch({ type: "quit" });
		exit();
	};

	/** A key while a panel, the prompt or the form is open. */
	const overlayKey = (current: Overlay, input: string, key: KeyFlags): void => {
		const action: UiAction | undefined =
			current.kind === "confirm"
				? actionForKey(input, key, CONFIRM_KEYMAP)
				: current.kind === "limits"
					? formActionForKey(input, key, current.form.field === KEY_FIELD)
					: current.kind === "add-peer"
						? peerFormActionForKey(input, key)
						: actionForKey(input, key, PANEL_KEYMAP);
		if (!action) return;
		const scrollTo = (offset: number) => {
			if ("offset" in current) {
				setOverlay({ ...current, offset: Math.min(Math.max(0, offset), panelMaxRef.current) });
			}
		};
		const page = Math.max(1, panelRows(layout.rows - STATUS_ROWS) - 1);
		switch (action.type) {
			case "quit":
				quit();
				return;
			case "close":
				setOverlay(undefined);
				return;
			case "help":
				setOverlay(current.kind === "help" ? undefined : { kind: "help", offset: 0 });
				return;
			case "move":
				if ("offset" in current) scrollTo(current.offset + action.delta);
				return;
			case "page":
				if ("offset" in current) scrollTo(current.offset + action.delta * page);
				return;
			case "jump":
				scrollTo(action.to === "first" ? 0 : Number.MAX_SAFE_INTEGER);
				return;
			case "confirm":
				if (current.kind === "confirm") {
					send(
						current.fileIds.map((fileId) => ({
							type: "cancel",
							fileId,
							keepPartial: action.keepPartial,
						})),
					);
					say(`cancelled ${current.name}: partial file ${action.keepPartial ? "kept" : "deleted"}`);
					setOverlay(undefined);
				}
				return;
			case "submit":
				if (current.kind === "add-peer") {
					// Checked here for an error in the form; the core parses it again.
					const error = peerAddressError(current.text);
					if (error) setOverlay({ ...current, error });
					else {
						store.dispatch({ type: "add-peer", address: current.text.trim() });
						setOverlay(undefined);
					}
				}
				if (current.kind === "limits") {
					const parsed = parseLimitsForm(current.form);
					if (parsed.ok) {
						store.dispatch({ type: "set-limits", limits: parsed.limits });
						say(limitsNotice(parsed.limits));
						if (parsed.networkKey !== undefined) {
							store.dispatch({ type: "set-network-key", secret: parsed.networkKey });
							say(
								parsed.networkKey === null
									? "network key cleared: an open network"
									: "network key set: only peers with it see us",
							);
						}
						setOverlay(undefined);
					} else {
						setOverlay({
							kind: "limits",
							form: { ...current.form, field: parsed.field, error: parsed.error },
						});
					}
				}
				return;
			default:
				if (current.kind === "limits") {
					setOverlay({ kind: "limits", form: editLimitsForm(current.form, action) });
				} else if (current.kind === "add-peer") {
					const text =
						action.type === "type"
							? (current.text + action.text).slice(0, 300)
							: action.type === "erase"
								? current.text.slice(0, -1)
								: action.type === "erase-all"
									? ""
									: current.text;
					setOverlay({ kind: "add-peer", text });
				}
		}
	};

	/** A key while an offer or a text covers the screen. */
	const incomingKey = (input: string, key: KeyFlags): boolean => {
		const { offer, text } = incomingRef.current;
		if (!offer && !text) return false;
		const action = actionForKey(input, key, offer ? OFFER_KEYMAP : TEXT_KEYMAP);
		if (!action) return true;
		const done = (k: string) => {
			handledRef.current.add(k);
			incomingRef.current = {};
			setAnswered((n) => n + 1);
		};
		if (action.type === "quit") quit();
		else if (offer && action.type === "accept-offer") {
			store.dispatch({ type: "accept-offer", key: offer.key });
			say(`accepted the offer from ${offer.fromName}: downloading`);
			done(offer.key);
		} else if (offer && action.type === "decline-offer") {
			store.dispatch({ type: "decline-offer", key: offer.key });
			say(`declined the offer from ${offer.fromName}`);
			done(offer.key);
		} else if (text && action.type === "copy") {
			copy?.(text.text);
			say("copied the message to the clipboard");
		} else if (text && action.type === "close") {
			store.dispatch({ type: "dismiss-text", key: text.key });
			done(text.key);
		}
		return true;
	};

	const handleKey = (input: string, key: KeyFlags): void => {
		if (incomingKey(input, key)) return;
		const open = overlayRef.current;
		if (open) {
			overlayKey(open, input, key);
			return;
		}
		const current = searchRef.current;
		const pane = focusRef.current;
		const editing = current?.editing === true;
		const action = editing ? searchActionForKey(input, key) : actionForKey(input, key);
		if (!action) {
			return;
		}
		const filteringNow = current !== undefined && current.query.trim() !== "";
		const list = pane === "files" ? (filteringNow ? resultList : treeList) : lists[pane];
		const retype = (text: string) => {
			setSearch({ query: text, editing: true });
			// A new query starts at its best match.
			resultList.select(0);
		};
		const leaveBox = () => {
			if (current && editing) {
				// Leaving the box keeps a filter; an empty box just closes.
				setSearch(filteringNow ? { ...current, editing: false } : undefined);
			}
		};
		switch (action.type) {
			case "quit":
				quit();
				return;
			case "focus-next":
			case "focus-prev":
				leaveBox();
				setFocus(cyclePane(pane, action.type === "focus-next" ? 1 : -1));
				return;
			case "focus":
				leaveBox();
				setFocus(action.pane);
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
				if (pane === "files") activate(filteringNow);
				else details(pane, filteringNow);
				return;
			case "in-order":
				if (pane === "files") inOrder(filteringNow);
				return;
			case "details":
				details(pane, filteringNow);
				return;
			case "expand":
				if (pane === "files" && !filteringNow) expand();
				return;
			case "collapse":
				if (pane === "files" && !filteringNow) collapse();
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
			case "help":
				setOverlay({ kind: "help", offset: 0 });
				return;
			case "pause": {
				const item = selectedTransfer(pane, "p");
				if (!item) return;
				const { intents, notice: text } = pauseIntents(item);
				send(intents);
				say(text);
				return;
			}
			case "cancel": {
				const item = selectedTransfer(pane, "x");
				if (!item) return;
				const prompt = confirmFor(item);
				if (prompt) setOverlay(prompt);
				else say("nothing to cancel: it is complete or cancelled already");
				return;
			}
			case "reveal": {
				const item = selectedTransfer(pane, "o");
				if (item?.kind === "file")
					setOverlay({ kind: "location", fileId: item.transfer.fileId, offset: 0 });
				else if (item) setOverlay({ kind: "location", folder: item.folder.path, offset: 0 });
				return;
			}
			case "limits":
				setOverlay({
					kind: "limits",
					form: openLimitsForm(snapshot.limits, snapshot.networkKey ?? false),
				});
				return;
			case "add-peer":
				setOverlay({ kind: "add-peer", text: "" });
				return;
			default:
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
	// Keys typed faster than a frame (or sent together) arrive as one chunk: "jjj" is three
	// moves, "G\r" a jump and then an Enter on the row jumped to. The first key is handled
	// at once; each further one after the state the previous one changed has been rendered
	// (a render is asked for, and the next key is taken in the commit that follows), so
	// every key acts on what the user would have seen.
	const pendingKeys = useRef<[string, KeyFlags][]>([]);
	const [, setKeyTurn] = useState(0);
	const nextKey = useCallback(() => {
		const next = pendingKeys.current.shift();
		if (!next) return;
		handlerRef.current(next[0], next[1]);
		if (pendingKeys.current.length > 0) setKeyTurn((turn) => turn + 1);
	}, []);
	useLayoutEffect(() => {
		if (pendingKeys.current.length > 0) nextKey();
	});
	const onInput = useCallback(
		(input: string, key: Key) => {
			const keys =
				[...input].length > 1 && !key.ctrl && !key.meta && !input.includes("\u001B")
					? splitKeys(input)
					: [[input, key] as [string, KeyFlags]];
			const idle = pendingKeys.current.length === 0;
			pendingKeys.current.push(...keys);
			if (idle) nextKey();
		},
		[nextKey],
	);
	useInput(onInput);

	const palette = noColor ? NO_COLORS : COLORS;
	const statusSnapshot = useMemo(
		() => ({
			self: snapshot.self,
			indexing: snapshot.indexing,
			message: notice && notice.over === snapshot.message ? notice.text : snapshot.message,
		}),
		[snapshot.self, snapshot.indexing, snapshot.message, notice],
	);
	const hints: readonly KeyHint[] = offerShown
		? OFFER_KEY_HINTS
		: textShown
			? TEXT_KEY_HINTS
			: overlay
				? overlay.kind === "confirm"
					? CONFIRM_KEY_HINTS
					: overlay.kind === "limits"
						? FORM_KEY_HINTS
						: overlay.kind === "add-peer"
							? PEER_FORM_KEY_HINTS
							: PANEL_KEY_HINTS
				: search?.editing
					? SEARCH_KEY_HINTS
					: focus === "files"
						? filtering
							? FILTER_KEY_HINTS
							: KEY_HINTS
						: focus === "peers"
							? PEERS_KEY_HINTS
							: TRANSFERS_KEY_HINTS;
	const prompt =
		overlay?.kind === "confirm"
			? `Cancel ${overlay.name}: keep partial file? [k]eep / [d]elete / Esc`
			: undefined;

	// Only the rows of the window are made into text; while they show the same, the
	// Files pane keeps the same props and is not rendered again (e.g. on download progress).
	const fileCount = filtering ? results.matches.length : treeRows.length;
	const windowRows = useStable(
		filesWindow(
			filtering ? results.matches : undefined,
			treeRows,
			filesList.offset,
			Math.min(fileCount, filesList.offset + fileItems),
			(node, match) => nodeEntry(node, snapshot, expanded, match),
		),
		sameRows,
	);
	const searchBox = useMemo(
		() =>
			search
				? {
						query: search.query,
						editing: search.editing,
						matches: results.matches.length,
						pending: results.pending,
					}
				: undefined,
		[search, results.matches.length, results.pending],
	);

	const panelHeight = layout.rows - STATUS_ROWS;
	const panel =
		overlay && overlay.kind !== "confirm"
			? panelContent(overlay, snapshot, tree, panelWidth(layout.columns), panelHeight)
			: undefined;
	panelMaxRef.current = panel ? maxPanelOffset(panel.lines.length, panelHeight) : 0;

	let main: JSX.Element;
	const incoming = offerShown
		? offerView(offerShown, (snapshot.offers?.length ?? 1) - 1)
		: textShown
			? textView(textShown, (snapshot.texts?.length ?? 1) - 1)
			: undefined;
	if (incoming) {
		main = (
			<Panel
				title={incoming.title}
				width={layout.columns}
				height={panelHeight}
				lines={detailLines(incoming, panelWidth(layout.columns))}
				offset={0}
				footer={offerShown ? "y/Enter accept · n/Esc decline" : "c copy · Esc close"}
			/>
		);
	} else if (panel && overlay && overlay.kind !== "confirm") {
		main = (
			<Panel
				title={panel.title}
				width={layout.columns}
				height={panelHeight}
				lines={panel.lines}
				offset={"offset" in overlay ? overlay.offset : 0}
			/>
		);
	} else {
		main = (
			<>
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
						search={searchBox}
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
					summary={transferSummary(snapshot, Math.max(0, layout.transfers.width - 6))}
				/>
			</>
		);
	}

	return (
		<PaletteContext.Provider value={palette}>
			<Box flexDirection="column" width={layout.columns} height={layout.rows}>
				{main}
				<StatusLine
					snapshot={statusSnapshot}
					width={layout.columns}
					hints={hints}
					prompt={prompt}
				/>
			</Box>
		</PaletteContext.Provider>
	);
}

/**
 * The visible rows of the Files pane: search matches or tree rows `start` .. `end - 1`.
 *
 * @param matches - the search's matches while it filters, else undefined
 * @param treeRows - the visible tree rows
 * @param start - index of the first row shown
 * @param end - index after the last row shown
 * @param entry - what a row shows for a node (and its match)
 * @returns the rows, each with its absolute index
 */
function filesWindow(
	matches: RankedMatches<TreeNode> | undefined,
	treeRows: readonly TreeNode[],
	start: number,
	end: number,
	entry: (node: TreeNode, match: FuzzyMatch<TreeNode> | undefined) => FilesPaneRow["entry"],
): FilesPaneRow[] {
	const rows: FilesPaneRow[] = [];
	for (let index = start; index < end; index++) {
		const match = matches?.at(index);
		const node = match ? match.item : treeRows[index];
		if (node) rows.push({ id: nodeId(node), index, entry: entry(node, match) });
	}
	return rows;
}

/** Whether two windows of the Files pane show the same (the ranges of one search are shared). */
function sameRows(a: readonly FilesPaneRow[], b: readonly FilesPaneRow[]): boolean {
	if (a.length !== b.length) return false;
	return a.every((row, i) => {
		const other = b[i];
		const x = row.entry;
		const y = other.entry;
		return (
			row.id === other.id &&
			row.index === other.index &&
			x.kind === y.kind &&
			x.label === y.label &&
			x.ranges === y.ranges &&
			x.indent === y.indent &&
			x.glyph === y.glyph &&
			x.info === y.info &&
			x.size === y.size &&
			x.peers === y.peers
		);
	});
}

/** The rows of an offer's panel: who offers what, then the files (the first ones). */
export function offerView(offer: IncomingOffer, more: number): DetailView {
	const rows: DetailView["rows"] = [
		{ label: "From", value: offer.fromName, tone: "strong" },
		{ label: "Fingerprint", value: offer.fingerprint },
		{ label: "Peer id", value: offer.from },
		{
			label: "Offers",
			value: `${offer.files} files, ${formatBytes(offer.totalSize)} (${offer.totalSize} bytes)`,
		},
	];
	if (offer.note) rows.push({ label: "Note", value: offer.note });
	offer.entries.slice(0, 20).forEach((e, i) => {
		rows.push({
			label: i === 0 ? "Files" : "",
			value: e.folder ? `${e.name}/ (empty folder)` : `${e.name}  ${formatBytes(e.size)}`,
		});
	});
	if (offer.entries.length > 20)
		rows.push({ label: "", value: `… and ${offer.entries.length - 20} more` });
	if (more > 0) rows.push({ label: "Waiting", value: `${more} more offers after this one` });
	rows.push({ label: "", value: "" });
	rows.push({
		label: "Answer",
		value: "y or Enter: accept and download · n or Esc: decline",
		tone: "strong",
	});
	return { title: `Offer from ${offer.fromName}`, rows };
}

/** The rows of a text message's panel: sender, time, the text. */
export function textView(message: TextMessage, more: number): DetailView {
	const at = new Date(message.receivedAt);
	const time = `${String(at.getHours()).padStart(2, "0")}:${String(at.getMinutes()).padStart(2, "0")}:${String(at.getSeconds()).padStart(2, "0")}`;
	const rows: DetailView["rows"] = [
		{ label: "From", value: message.fromName, tone: "strong" },
		{ label: "Fingerprint", value: message.fingerprint },
		{ label: "Received", value: time },
	];
	message.text.split("\n").forEach((line, i) => {
		rows.push({ label: i === 0 ? "Text" : "", value: line });
	});
	if (more > 0) rows.push({ label: "Waiting", value: `${more} more messages after this one` });
	rows.push({ label: "", value: "" });
	rows.push({
		label: "Keys",
		value: "c: copy to the clipboard · Esc or Enter: close",
		tone: "strong",
	});
	return { title: `Message from ${message.fromName}`, rows };
}

/** A panel's title and lines. */
interface PanelContent {
	title: string;
	lines: PanelLine[];
}

/**
 * What an open panel shows, from the current snapshot (details follow live changes).
 *
 * @param overlay - the open panel (not the cancel prompt)
 * @param snapshot - the current snapshot
 * @param tree - the Files tree (for folders only implied by file paths)
 * @param width - inside width of the panel, in columns
 * @param height - outer height of the panel, in rows
 * @returns the title and the lines
 */
function panelContent(
	overlay: Exclude<Overlay, { kind: "confirm" }>,
	snapshot: Snapshot,
	tree: ReturnType<typeof buildFileTree>,
	width: number,
	height: number,
): PanelContent {
	const view = (detail: DetailView): PanelContent => ({
		title: detail.title,
		lines: detailLines(detail, width),
	});
	const gone = (title: string, value: string): PanelContent =>
		view({ title, rows: [{ label: title, value, tone: "warn" }] });
	switch (overlay.kind) {
		case "help":
			return {
				title: "Help: every key",
				lines: helpLines(HELP, width, panelRows(height)),
			};
		case "limits":
			return { title: "Limits", lines: limitsFormLines(overlay.form, width) };
		case "add-peer":
			return { title: "Add a peer", lines: peerFormLines(overlay.text, overlay.error, width) };
		case "peer": {
			const peer = snapshot.peers.find((p) => p.id === overlay.id);
			return peer
				? view(peerDetails(peer, snapshot, Date.now()))
				: gone("Peer", "no longer heard: it left");
		}
		case "file": {
			// The name picks the entry when one content is listed under several names.
			const file =
				snapshot.files.find((f) => f.id === overlay.fileId && f.name === overlay.name) ??
				snapshot.files.find((f) => f.id === overlay.fileId);
			const transfer = snapshot.transfers.find((t) => t.fileId === overlay.fileId);
			return file || transfer
				? view(fileDetails(file, transfer, snapshot))
				: gone("File", "no longer on the network");
		}
		case "folder": {
			const node = tree.nodes.find((n) => n.kind === "folder" && n.path === overlay.path);
			if (node?.kind === "folder") {
				const stats = folderStats(node, snapshot);
				const listed = node.folderIndex >= 0 ? snapshot.folders[node.folderIndex] : undefined;
				const peers = listed ? listed.peers : [...node.implied.peers];
				return view(
					folderDetails({ path: node.path, files: stats.files, size: stats.size, peers }, snapshot),
				);
			}
			const download = snapshot.folderTransfers.find((f) => f.path === overlay.path);
			return download
				? view(
						folderDetails(
							{ path: download.path, files: download.files, size: download.size, peers: [] },
							snapshot,
						),
					)
				: gone("Folder", "no longer on the network");
		}
		case "location": {
			if (overlay.folder !== undefined) {
				const download = snapshot.folderTransfers.find((f) => f.path === overlay.folder);
				return download ? view(folderLocation(download)) : gone("Location", "the download is gone");
			}
			const transfer = snapshot.transfers.find((t) => t.fileId === overlay.fileId);
			return transfer
				? view(transferLocation(transfer, snapshot.self.downloadsDir))
				: gone("Location", "the download is gone");
		}
	}
}
