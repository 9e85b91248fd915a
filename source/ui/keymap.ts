/**
 * Key bindings of the terminal UI as plain data, and a pure lookup from a key press (as
 * ink's `useInput` reports it) to a UI action. No React here.
 *
 * Two keymaps: {@link KEYMAP} normally, {@link SEARCH_KEYMAP} while the search box takes
 * typing (after `/`): then printable keys, `j`, `k`, `q`, `h`, `l` and `/` among them, go
 * to the query; arrows move through the results, Enter downloads the selected one, Tab
 * leaves the box with the filter kept, Esc clears the search, Ctrl-C still quits.

/** The panes, as key bindings name them (the same names as the app's `PaneName`). */
export type PaneId = "peers" | "files" | "transfers";

/** What a key press asks the UI to do. */
export type UiAction =
	/** Focus the next pane (Peers → Files → Transfers → Peers). */
	| { type: "focus-next" }
	/** Focus the previous pane. */
	| { type: "focus-prev" }
	/** Focus one pane directly. */
	| { type: "focus"; pane: PaneId }
	/** Move the selection of the focused list by `delta` rows (negative is up); scroll a panel. */
	| { type: "move"; delta: number }
	/** Move the selection of the focused list by `delta` pages (one page = visible rows). */
	| { type: "page"; delta: number }
	/** Jump to the first or last row of the focused list. */
	| { type: "jump"; to: "first" | "last" }
	/** Act on the selected row (Files: download; Peers: details; Transfers: details). */
	| { type: "activate" }
	/** Files pane: download the selected file in order (a player can follow the partial file). */
	| { type: "in-order" }
	/** Files pane: open the selected folder (on an open one, go to its first child). */
	| { type: "expand" }
	/** Files pane: close the selected folder (on a file or closed folder, go to its parent). */
	| { type: "collapse" }
	/** Open the search box (focusing the Files pane) and type into it. */
	| { type: "search" }
	/** Clear the search and close its box. */
	| { type: "clear" }
	/** Search box or form field: add `text`. */
	| { type: "type"; text: string }
	/** Search box or form field: delete the last character. */
	| { type: "erase" }
	/** Search box or form field: delete everything typed. */
	| { type: "erase-all" }
	/** Show the help overlay (in the help overlay: close it). */
	| { type: "help" }
	/** Show the details of the selected peer, file, folder or transfer. */
	| { type: "details" }
	/** Transfers pane: pause the selected download, or resume it when paused. */
	| { type: "pause" }
	/** Transfers pane: cancel the selected download (asks about the partial file first). */
	| { type: "cancel" }
	/** Transfers pane: show where the selected download is (or will be) on disk. */
	| { type: "reveal" }
	/** Open the limits form (download and upload rate, active downloads). */
	| { type: "limits" }
	/** Open the form that names a peer by address (`HOST[:PORT]`). */
	| { type: "add-peer" }
	/** Close the panel, prompt or form on top. */
	| { type: "close" }
	/** Cancel prompt: cancel, keeping (`true`) or deleting the partial file. */
	| { type: "confirm"; keepPartial: boolean }
	/** Limits form: go to the next (1) or previous (-1) field. */
	| { type: "field"; delta: number }
	/** Limits form: apply the values. */
	| { type: "submit" }
	/** Offer panel: accept the offer shown (its files are downloaded). */
	| { type: "accept-offer" }
	/** Offer panel: decline the offer shown. */
	| { type: "decline-offer" }
	/** Message panel: copy the text to the clipboard (OSC 52). */
	| { type: "copy" }
	/** Leave the program. */
	| { type: "quit" };

/**
 * The modifier and special-key flags of a key press, a subset of ink's `Key`; a missing
 * flag counts as `false`, so ink's `Key` object can be passed as is.
 */
export interface KeyFlags {
	upArrow?: boolean;
	downArrow?: boolean;
	leftArrow?: boolean;
	rightArrow?: boolean;
	pageUp?: boolean;
	pageDown?: boolean;
	home?: boolean;
	end?: boolean;
	return?: boolean;
	escape?: boolean;
	backspace?: boolean;
	delete?: boolean;
	ctrl?: boolean;
	shift?: boolean;
	meta?: boolean;
	tab?: boolean;
}

/**
 * A key press pattern: every listed flag must have the given value, and `input` (when
 * given) must equal the typed text exactly. Unlisted flags are ignored.
 */
export interface KeyPattern extends KeyFlags {
	input?: string;
}

/** One binding: the first binding whose pattern matches decides the action. */
export interface KeyBinding {
	pattern: KeyPattern;
	action: UiAction;
	/** What the help says the binding does, when it differs from {@link describeAction}. */
	does?: string;
}

/** Letters that act only without Ctrl and Meta. */
const plainKey = (input: string): KeyPattern => ({ input, ctrl: false, meta: false });

/** Ctrl-C quits in every mode. */
const QUIT_BINDING: KeyBinding = { pattern: { input: "c", ctrl: true }, action: { type: "quit" } };

/** The key bindings of the main screen, in match order (more specific patterns first). */
export const KEYMAP: readonly KeyBinding[] = [
	QUIT_BINDING,
	{ pattern: plainKey("q"), action: { type: "quit" } },
	{ pattern: { tab: true, shift: true }, action: { type: "focus-prev" } },
	{ pattern: { tab: true, shift: false }, action: { type: "focus-next" } },
	{ pattern: plainKey("1"), action: { type: "focus", pane: "peers" } },
	{ pattern: plainKey("2"), action: { type: "focus", pane: "files" } },
	{ pattern: plainKey("3"), action: { type: "focus", pane: "transfers" } },
	{ pattern: { upArrow: true }, action: { type: "move", delta: -1 } },
	{ pattern: { downArrow: true }, action: { type: "move", delta: 1 } },
	{ pattern: plainKey("k"), action: { type: "move", delta: -1 } },
	{ pattern: plainKey("j"), action: { type: "move", delta: 1 } },
	{ pattern: { pageUp: true }, action: { type: "page", delta: -1 } },
	{ pattern: { pageDown: true }, action: { type: "page", delta: 1 } },
	{ pattern: { home: true }, action: { type: "jump", to: "first" } },
	{ pattern: { end: true }, action: { type: "jump", to: "last" } },
	{ pattern: plainKey("g"), action: { type: "jump", to: "first" } },
	{ pattern: plainKey("G"), action: { type: "jump", to: "last" } },
	{ pattern: { return: true }, action: { type: "activate" } },
	{ pattern: plainKey("s"), action: { type: "in-order" } },
	{ pattern: { rightArrow: true }, action: { type: "expand" } },
	{ pattern: plainKey("l"), action: { type: "expand" } },
	{ pattern: { leftArrow: true }, action: { type: "collapse" } },
	{ pattern: plainKey("h"), action: { type: "collapse" } },
	{ pattern: plainKey("/"), action: { type: "search" } },
	{ pattern: { escape: true }, action: { type: "clear" } },
	{ pattern: plainKey("i"), action: { type: "details" } },
	{ pattern: plainKey("p"), action: { type: "pause" } },
	{ pattern: plainKey("x"), action: { type: "cancel" } },
	{ pattern: plainKey("o"), action: { type: "reveal" } },
	{ pattern: plainKey("L"), action: { type: "limits" } },
	{ pattern: plainKey("a"), action: { type: "add-peer" } },
	{ pattern: plainKey("?"), action: { type: "help" } },
];

/**
 * The bindings while the search box takes typing; any other printable key is typed into
 * the query (see {@link searchActionForKey}).
 */
export const SEARCH_KEYMAP: readonly KeyBinding[] = [
	QUIT_BINDING,
	{ pattern: { input: "u", ctrl: true }, action: { type: "erase-all" } },
	{ pattern: { escape: true }, action: { type: "clear" } },
	{ pattern: { tab: true, shift: true }, action: { type: "focus-prev" } },
	{ pattern: { tab: true, shift: false }, action: { type: "focus-next" } },
	{ pattern: { upArrow: true }, action: { type: "move", delta: -1 } },
	{ pattern: { downArrow: true }, action: { type: "move", delta: 1 } },
	{ pattern: { pageUp: true }, action: { type: "page", delta: -1 } },
	{ pattern: { pageDown: true }, action: { type: "page", delta: 1 } },
	{ pattern: { return: true }, action: { type: "activate" }, does: "download the selected match" },
	{ pattern: { backspace: true }, action: { type: "erase" } },
	{ pattern: { delete: true }, action: { type: "erase" } },
];

/** The bindings while a panel (help, details, location) covers the panes. */
export const PANEL_KEYMAP: readonly KeyBinding[] = [
	QUIT_BINDING,
	{ pattern: { escape: true }, action: { type: "close" } },
	{ pattern: plainKey("q"), action: { type: "close" } },
	{ pattern: { return: true }, action: { type: "close" } },
	{ pattern: plainKey("i"), action: { type: "close" } },
	{ pattern: plainKey("o"), action: { type: "close" } },
	{ pattern: plainKey("?"), action: { type: "help" }, does: "help (in the help: close it)" },
	{ pattern: { upArrow: true }, action: { type: "move", delta: -1 } },
	{ pattern: { downArrow: true }, action: { type: "move", delta: 1 } },
	{ pattern: plainKey("k"), action: { type: "move", delta: -1 } },
	{ pattern: plainKey("j"), action: { type: "move", delta: 1 } },
	{ pattern: { pageUp: true }, action: { type: "page", delta: -1 } },
	{ pattern: { pageDown: true }, action: { type: "page", delta: 1 } },
	{ pattern: { home: true }, action: { type: "jump", to: "first" } },
	{ pattern: { end: true }, action: { type: "jump", to: "last" } },
	{ pattern: plainKey("g"), action: { type: "jump", to: "first" } },
	{ pattern: plainKey("G"), action: { type: "jump", to: "last" } },
];

/** The bindings while the cancel prompt asks whether to keep the partial file. */
export const CONFIRM_KEYMAP: readonly KeyBinding[] = [
	QUIT_BINDING,
	{ pattern: plainKey("k"), action: { type: "confirm", keepPartial: true } },
	{ pattern: plainKey("K"), action: { type: "confirm", keepPartial: true } },
	{ pattern: plainKey("d"), action: { type: "confirm", keepPartial: false } },
	{ pattern: plainKey("D"), action: { type: "confirm", keepPartial: false } },
	{ pattern: { escape: true }, action: { type: "close" }, does: "do not cancel" },
	{ pattern: plainKey("q"), action: { type: "close" }, does: "do not cancel" },
];

/**
 * The bindings of the limits form; digits and `.` are typed into the field (see
 * {@link formActionForKey}).
 */
export const FORM_KEYMAP: readonly KeyBinding[] = [
	QUIT_BINDING,
	{ pattern: { input: "u", ctrl: true }, action: { type: "erase-all" } },
	{ pattern: { escape: true }, action: { type: "close" }, does: "close without changes" },
	{ pattern: { tab: true, shift: true }, action: { type: "field", delta: -1 } },
	{ pattern: { tab: true, shift: false }, action: { type: "field", delta: 1 } },
	{ pattern: { upArrow: true }, action: { type: "field", delta: -1 } },
	{ pattern: { downArrow: true }, action: { type: "field", delta: 1 } },
	{ pattern: { return: true }, action: { type: "submit" } },
	{ pattern: { backspace: true }, action: { type: "erase" } },
	{ pattern: { delete: true }, action: { type: "erase" } },
];

/** The bindings while an offer's panel asks (it opens over everything when one arrives). */
export const OFFER_KEYMAP: readonly KeyBinding[] = [
	QUIT_BINDING,
	{ pattern: plainKey("y"), action: { type: "accept-offer" } },
	{ pattern: { return: true }, action: { type: "accept-offer" } },
	{ pattern: plainKey("n"), action: { type: "decline-offer" } },
	{ pattern: { escape: true }, action: { type: "decline-offer" } },
];

/** The bindings while a text message's panel shows. */
export const TEXT_KEYMAP: readonly KeyBinding[] = [
	QUIT_BINDING,
	{ pattern: plainKey("c"), action: { type: "copy" } },
	{ pattern: { escape: true }, action: { type: "close" }, does: "close the message" },
	{ pattern: { return: true }, action: { type: "close" }, does: "close the message" },
	{ pattern: plainKey("q"), action: { type: "close" }, does: "close the message" },
];

/** The bindings of the add-peer form (one text field); printable text is typed. */
export const PEER_FORM_KEYMAP: readonly KeyBinding[] = [
	QUIT_BINDING,
	{ pattern: { input: "u", ctrl: true }, action: { type: "erase-all" } },
	{ pattern: { escape: true }, action: { type: "close" }, does: "close without naming a peer" },
	{ pattern: { return: true }, action: { type: "submit" }, does: "name the peer" },
	{ pattern: { backspace: true }, action: { type: "erase" } },
	{ pattern: { delete: true }, action: { type: "erase" } },
];

/** A mode of the UI with its keymap, as the help overlay lists it. */
export interface KeyMode {
	/** Heading in the help, e.g. `"Search box (after /)"`. */
	title: string;
	bindings: readonly KeyBinding[];
	/** Keys typed as text in this mode, e.g. `{ keys: "other keys", does: "type" }`. */
	typing?: { keys: string; does: string };
}

/** Every mode and its keymap, in the order the help shows them. */
export const KEY_MODES: readonly KeyMode[] = [
	{ title: "Main screen", bindings: KEYMAP },
	{
		title: "Search box (after /)",
		bindings: SEARCH_KEYMAP,
		typing: { keys: "other keys", does: "type into the query" },
	},
	{ title: "Help, details and location panels", bindings: PANEL_KEYMAP },
	{ title: "Cancel prompt (after x)", bindings: CONFIRM_KEYMAP },
	{
		title: "Limits form (after L)",
		bindings: FORM_KEYMAP,
		typing: { keys: "0-9 .", does: "type a number (empty = unlimited)" },
	},
	{
		title: "Add-peer form (after a)",
		bindings: PEER_FORM_KEYMAP,
		typing: { keys: "other keys", does: "type HOST[:PORT] (IPv4, [IPv6]:PORT or a host name)" },
	},
	{ title: "Offer panel (a peer offers files)", bindings: OFFER_KEYMAP },
	{ title: "Message panel (a peer sent a text)", bindings: TEXT_KEYMAP },
];

/** Names of the special keys, in the order a label looks for them. */
const SPECIAL_KEYS: readonly [keyof KeyFlags, string][] = [
	["upArrow", "↑"],
	["downArrow", "↓"],
	["leftArrow", "←"],
	["rightArrow", "→"],
	["pageUp", "PgUp"],
	["pageDown", "PgDn"],
	["home", "Home"],
	["end", "End"],
	["return", "Enter"],
	["escape", "Esc"],
	["backspace", "Backspace"],
	["delete", "Delete"],
	["tab", "Tab"],
];

/**
 * How a key pattern is written for people.
 *
 * @param pattern - a binding's pattern
 * @returns e.g. `"Ctrl-C"`, `"Shift-Tab"`, `"↑"`, `"q"`, `"Space"`
 */
export function keyLabel(pattern: KeyPattern): string {
	const special = SPECIAL_KEYS.find(([flag]) => pattern[flag] === true)?.[1];
	const base = special ?? (pattern.input === " " ? "Space" : (pattern.input ?? "?"));
	const ctrl = pattern.ctrl === true ? "Ctrl-" : "";
	const meta = pattern.meta === true ? "Alt-" : "";
	const shift = pattern.shift === true && special ? "Shift-" : "";
	return `${ctrl}${meta}${shift}${ctrl && !special ? base.toUpperCase() : base}`;
}

/** Capitalised pane name. */
function paneTitle(pane: PaneId): string {
	return pane === "peers" ? "Peers" : pane === "files" ? "Files" : "Transfers";
}

/**
 * What an action does, for the help overlay.
 *
 * @param action - a UI action
 * @returns a short description, e.g. `"move down"`
 */
export function describeAction(action: UiAction): string {
	switch (action.type) {
		case "focus-next":
			return "next pane";
		case "focus-prev":
			return "previous pane";
		case "focus":
			return `${paneTitle(action.pane)} pane`;
		case "move":
			return action.delta < 0 ? "move up" : "move down";
		case "page":
			return action.delta < 0 ? "page up" : "page down";
		case "jump":
			return action.to === "first" ? "first row" : "last row";
		case "activate":
			return "Files: download (file or whole folder) · Peers, Transfers: details";
		case "in-order":
			return "Files: download in order, for a player to follow the partial file (stream)";
		case "expand":
			return "Files: open folder";
		case "collapse":
			return "Files: close folder (on a file: go to its folder)";
		case "search":
			return "search the Files pane";
		case "clear":
			return "clear the search";
		case "type":
			return "type";
		case "erase":
			return "erase a character";
		case "erase-all":
			return "erase everything";
		case "help":
			return "this help";
		case "details":
			return "details of the selected peer, file, folder or transfer";
		case "pause":
			return "Transfers: pause / resume (failed or cancelled: download again)";
		case "cancel":
			return "Transfers: cancel (asks: keep or delete the partial file)";
		case "reveal":
			return "Transfers: show the file's path on disk";
		case "limits":
			return "set rate limits and active downloads";
		case "add-peer":
			return "name a peer by address (HOST[:PORT]; kept in the settings)";
		case "close":
			return "close";
		case "confirm":
			return action.keepPartial
				? "cancel, keep the partial file"
				: "cancel, delete the partial file";
		case "field":
			return action.delta < 0 ? "previous field" : "next field";
		case "submit":
			return "apply";
		case "accept-offer":
			return "accept: download the files offered";
		case "decline-offer":
			return "decline the offer";
		case "copy":
			return "copy the text to the clipboard (OSC 52)";
		case "quit":
			return "quit";
	}
}

/** One line of the help: the keys (e.g. `"↓ j"`) and what they do. */
export interface HelpEntry {
	keys: string;
	does: string;
}

/** One mode's part of the help. */
export interface HelpSection {
	title: string;
	entries: HelpEntry[];
}

/**
 * The help overlay's content, generated from {@link KEY_MODES}: per mode, the bindings
 * grouped by what they do (in first-binding order), keys joined by spaces.
 *
 * @returns one section per mode
 */
export function helpSections(): HelpSection[] {
	return KEY_MODES.map((mode) => {
		const groups = new Map<string, HelpEntry>();
		for (const binding of mode.bindings) {
			const does = binding.does ?? describeAction(binding.action);
			const id = `${JSON.stringify(binding.action)}\u0000${does}`;
			const label = keyLabel(binding.pattern);
			const entry = groups.get(id);
			if (entry) {
				if (!entry.keys.split(" ").includes(label)) entry.keys += ` ${label}`;
			} else {
				groups.set(id, { keys: label, does });
			}
		}
		const entries = [...groups.values()];
		if (mode.typing) entries.push({ ...mode.typing });
		return { title: mode.title, entries };
	});
}

/** One entry of the key help: the keys, what they do, and how much it matters. */
export interface KeyHint {
	/** The keys, e.g. `"↑↓/jk"`. */
	keys: string;
	/** What they do, e.g. `"move"`. */
	does: string;
	/** 0 is kept longest when the status line is short of room. */
	rank: number;
}

/** Key help of the Files pane (the normal mode). */
export const KEY_HINTS: readonly KeyHint[] = [
	{ keys: "Tab", does: "pane", rank: 5 },
	{ keys: "↑↓/jk", does: "move", rank: 6 },
	{ keys: "→←/lh", does: "open/close", rank: 4 },
	{ keys: "Enter", does: "download", rank: 1 },
	{ keys: "/", does: "search", rank: 2 },
	{ keys: "i", does: "info", rank: 7 },
	{ keys: "?", does: "help", rank: 0 },
	{ keys: "q", does: "quit", rank: 3 },
];

/** Key help of the Peers pane. */
export const PEERS_KEY_HINTS: readonly KeyHint[] = [
	{ keys: "Tab", does: "pane", rank: 3 },
	{ keys: "↑↓/jk", does: "move", rank: 4 },
	{ keys: "Enter", does: "details", rank: 1 },
	{ keys: "a", does: "add peer", rank: 5 },
	{ keys: "?", does: "help", rank: 0 },
	{ keys: "q", does: "quit", rank: 2 },
];

/** Key help of the Transfers pane. */
export const TRANSFERS_KEY_HINTS: readonly KeyHint[] = [
	{ keys: "Tab", does: "pane", rank: 7 },
	{ keys: "p", does: "pause/resume", rank: 1 },
	{ keys: "x", does: "cancel", rank: 2 },
	{ keys: "o", does: "path", rank: 3 },
	{ keys: "i", does: "info", rank: 6 },
	{ keys: "L", does: "limits", rank: 4 },
	{ keys: "?", does: "help", rank: 0 },
	{ keys: "q", does: "quit", rank: 5 },
];

/** Key help while the search box takes typing. */
export const SEARCH_KEY_HINTS: readonly KeyHint[] = [
	{ keys: "↑↓", does: "move", rank: 2 },
	{ keys: "Enter", does: "download", rank: 0 },
	{ keys: "Tab", does: "keep filter", rank: 3 },
	{ keys: "Esc", does: "clear", rank: 1 },
];

/** Key help while a search filters the Files pane but the box does not take typing. */
export const FILTER_KEY_HINTS: readonly KeyHint[] = [
	{ keys: "Tab", does: "pane", rank: 5 },
	{ keys: "↑↓/jk", does: "move", rank: 4 },
	{ keys: "Enter", does: "download", rank: 2 },
	{ keys: "/", does: "edit search", rank: 1 },
	{ keys: "Esc", does: "clear search", rank: 0 },
	{ keys: "q", does: "quit", rank: 3 },
];

/** Key help while a panel (help, details, location) is open. */
export const PANEL_KEY_HINTS: readonly KeyHint[] = [
	{ keys: "↑↓/jk", does: "scroll", rank: 1 },
	{ keys: "Esc", does: "close", rank: 0 },
];

/** Key help of the cancel prompt. */
export const CONFIRM_KEY_HINTS: readonly KeyHint[] = [
	{ keys: "k", does: "keep", rank: 0 },
	{ keys: "d", does: "delete", rank: 1 },
	{ keys: "Esc", does: "back", rank: 2 },
];

/** Key help of the offer panel. */
export const OFFER_KEY_HINTS: readonly KeyHint[] = [
	{ keys: "y/Enter", does: "accept", rank: 0 },
	{ keys: "n/Esc", does: "decline", rank: 1 },
];

/** Key help of the message panel. */
export const TEXT_KEY_HINTS: readonly KeyHint[] = [
	{ keys: "c", does: "copy", rank: 0 },
	{ keys: "Esc", does: "close", rank: 1 },
];

/** Key help of the add-peer form. */
export const PEER_FORM_KEY_HINTS: readonly KeyHint[] = [
	{ keys: "Enter", does: "add", rank: 0 },
	{ keys: "Esc", does: "close", rank: 1 },
];

/** Key help of the limits form. */
export const FORM_KEY_HINTS: readonly KeyHint[] = [
	{ keys: "Tab/↑↓", does: "field", rank: 2 },
	{ keys: "Enter", does: "apply", rank: 0 },
	{ keys: "Esc", does: "close", rank: 1 },
];

/**
 * The key help that fits: hints are kept by rank (0 first) while they fit in `width`
 * columns, then shown in list order, two spaces apart.
 *
 * @param hints - the hints of the current mode
 * @param width - columns available (Infinity for all)
 * @returns e.g. `"Enter download  / search  q quit"`
 */
export function keyHelp(hints: readonly KeyHint[], width: number): string {
	const text = (hint: KeyHint) => `${hint.keys} ${hint.does}`;
	const kept = new Set<KeyHint>();
	let used = 0;
	for (const hint of [...hints].sort((a, b) => a.rank - b.rank)) {
		const cost = [...text(hint)].length + (kept.size > 0 ? 2 : 0);
		if (used + cost > width) continue;
		kept.add(hint);
		used += cost;
	}
	return hints
		.filter((hint) => kept.has(hint))
		.map(text)
		.join("  ");
}

/** The whole key help of the normal mode (Files pane), as on a wide status line. */
export const KEY_HELP = keyHelp(KEY_HINTS, Number.POSITIVE_INFINITY);

/**
 * Whether a key press matches a pattern.
 *
 * @param pattern - the flags (and optional exact input) to require
 * @param input - the text ink reports for the key press
 * @param key - the flags ink reports; missing flags are `false`
 * @returns true when every field of the pattern matches
 */
export function matchesKey(pattern: KeyPattern, input: string, key: KeyFlags): boolean {
	for (const [name, expected] of Object.entries(pattern)) {
		const actual = name === "input" ? input : (key[name as keyof KeyFlags] ?? false);
		if (actual !== expected) {
			return false;
		}
	}
	return true;
}

/**
 * Maps a key press to a UI action using a keymap.
 *
 * @param input - the text ink's `useInput` reports (e.g. `"j"`, `"c"` with `ctrl`)
 * @param key - ink's key flags (`tab`, `shift`, `upArrow`, `return`, `ctrl`...)
 * @param keymap - bindings to search, in order; defaults to {@link KEYMAP}
 * @returns the action of the first matching binding, or `undefined` for an unbound key
 */
export function actionForKey(
	input: string,
	key: KeyFlags,
	keymap: readonly KeyBinding[] = KEYMAP,
): UiAction | undefined {
	return keymap.find((binding) => matchesKey(binding.pattern, input, key))?.action;
}

/**
 * Maps a key press to an action while the search box takes typing: the bindings of
 * {@link SEARCH_KEYMAP}, else printable text (no Ctrl, no Meta, no control characters) is
 * typed into the query.
 *
 * @param input - the text ink's `useInput` reports (a pasted text comes whole)
 * @param key - ink's key flags
 * @returns the action, or `undefined` for a key that does nothing in the box
 */
export function searchActionForKey(input: string, key: KeyFlags): UiAction | undefined {
	const bound = actionForKey(input, key, SEARCH_KEYMAP);
	if (bound) {
		return bound;
	}
	// biome-ignore lint/suspicious/noControlCharactersInRegex: refusing control characters is the point
	if (input === "" || key.ctrl || key.meta || /[\u0000-\u001f\u007f-\u009f]/.test(input)) {
		return undefined;
	}
	return { type: "type", text: input };
}

/**
 * Maps a key press to an action in the limits form: the bindings of {@link FORM_KEYMAP},
 * else digits and `.` (a pasted number comes whole) are typed into the field; in a text
 * field (the network key) any printable text is.
 *
 * @param input - the text ink's `useInput` reports
 * @param key - ink's key flags
 * @param text - the field takes any text, not only a number
 * @returns the action, or `undefined` for a key that does nothing in the form
 */
export function formActionForKey(input: string, key: KeyFlags, text = false): UiAction | undefined {
	const bound = actionForKey(input, key, FORM_KEYMAP);
	if (bound) {
		return bound;
	}
	const typed = text ? input !== "" && !PRINTABLE_REJECT.test(input) : /^[0-9.]+$/.test(input);
	if (key.ctrl || key.meta || !typed) {
		return undefined;
	}
	return { type: "type", text: input };
}

/**
 * Maps a key press to an action in the add-peer form: the bindings of
 * {@link PEER_FORM_KEYMAP}, else printable text is typed into the field.
 *
 * @param input - the text ink's `useInput` reports
 * @param key - ink's key flags
 * @returns the action, or `undefined` for a key that does nothing in the form
 */
export function peerFormActionForKey(input: string, key: KeyFlags): UiAction | undefined {
	const bound = actionForKey(input, key, PEER_FORM_KEYMAP);
	if (bound) return bound;
	if (key.ctrl || key.meta || input === "" || PRINTABLE_REJECT.test(input)) return undefined;
	return { type: "type", text: input };
}

/** What a text field does not take: C0 and C1 controls, DEL. */
// biome-ignore lint/suspicious/noControlCharactersInRegex: refusing control characters is the point
const PRINTABLE_REJECT = /[\u0000-\u001f\u007f-\u009f]/;

/**
 * Splits an input chunk into single key presses. ink splits its input at escape sequences
 * only: keys typed faster than a frame, or sent together (tmux `send-keys G Enter`, a
 * paste), arrive as one chunk such as `"jj"` or `"G\r"`. Printable characters become
 * one press each (upper-case letters with Shift), `\r` and `\n` Enter, `\t` Tab, `\b` and
 * DEL Backspace, other C0 controls Ctrl with their letter (`\u0015` is Ctrl-U).
 *
 * @param input - a chunk without escape sequences (ink's `input` of one event)
 * @returns the key presses, in order, as `[input, flags]` pairs
 */
export function splitKeys(input: string): [string, KeyFlags][] {
	const keys: [string, KeyFlags][] = [];
	for (const char of input) {
		const code = char.codePointAt(0) ?? 0;
		if (char === "\r" || char === "\n") keys.push(["\r", { return: true }]);
		else if (char === "\t") keys.push(["", { tab: true }]);
		else if (char === "\b" || code === 0x7f) keys.push(["", { backspace: true }]);
		else if (code > 0 && code < 0x20) {
			keys.push([String.fromCharCode(code + 0x60), { ctrl: true }]);
		} else {
			keys.push([char, { shift: char !== char.toLowerCase() }]);
		}
	}
	return keys;
}
