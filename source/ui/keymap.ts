/**
 * Key bindings of the terminal UI as plain data, and a pure lookup from a key press (as
 * ink's `useInput` reports it) to a UI action. No React here.
 *
 * Two keymaps: {@link KEYMAP} normally, {@link SEARCH_KEYMAP} while the search box takes
 * typing (after `/`): then printable keys, `j`, `k`, `q`, `h`, `l` and `/` among them, go
 * to the query; arrows move through the results, Enter downloads the selected one, Tab
 * leaves the box with the filter kept, Esc clears the search, Ctrl-C still quits.

/** What a key press asks the UI to do. */
export type UiAction =
	/** Focus the next pane (Peers → Files → Transfers → Peers). */
	| { type: "focus-next" }
	/** Focus the previous pane. */
	| { type: "focus-prev" }
	/** Move the selection of the focused list by `delta` rows (negative is up). */
	| { type: "move"; delta: number }
	/** Move the selection of the focused list by `delta` pages (one page = visible rows). */
	| { type: "page"; delta: number }
	/** Jump to the first or last row of the focused list. */
	| { type: "jump"; to: "first" | "last" }
	/** Act on the selected row (Files pane: download the file, or the whole folder). */
	| { type: "activate" }
	/** Files pane: open the selected folder (on an open one, go to its first child). */
	| { type: "expand" }
	/** Files pane: close the selected folder (on a file or closed folder, go to its parent). */
	| { type: "collapse" }
	/** Open the search box (focusing the Files pane) and type into it. */
	| { type: "search" }
	/** Clear the search and close its box. */
	| { type: "clear" }
	/** Search box: add `text` to the query. */
	| { type: "type"; text: string }
	/** Search box: delete the last character of the query. */
	| { type: "erase" }
	/** Search box: delete the whole query. */
	| { type: "erase-all" }
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
}

/** The key bindings, in match order (more specific patterns first). */
export const KEYMAP: readonly KeyBinding[] = [
	{ pattern: { input: "c", ctrl: true }, action: { type: "quit" } },
	{ pattern: { input: "q", ctrl: false, meta: false }, action: { type: "quit" } },
	{ pattern: { tab: true, shift: true }, action: { type: "focus-prev" } },
	{ pattern: { tab: true, shift: false }, action: { type: "focus-next" } },
	{ pattern: { upArrow: true }, action: { type: "move", delta: -1 } },
	{ pattern: { downArrow: true }, action: { type: "move", delta: 1 } },
	{ pattern: { input: "k", ctrl: false, meta: false }, action: { type: "move", delta: -1 } },
	{ pattern: { input: "j", ctrl: false, meta: false }, action: { type: "move", delta: 1 } },
	{ pattern: { pageUp: true }, action: { type: "page", delta: -1 } },
	{ pattern: { pageDown: true }, action: { type: "page", delta: 1 } },
	{ pattern: { home: true }, action: { type: "jump", to: "first" } },
	{ pattern: { end: true }, action: { type: "jump", to: "last" } },
	{ pattern: { input: "g", ctrl: false, meta: false }, action: { type: "jump", to: "first" } },
	{ pattern: { input: "G", ctrl: false, meta: false }, action: { type: "jump", to: "last" } },
	{ pattern: { return: true }, action: { type: "activate" } },
	{ pattern: { rightArrow: true }, action: { type: "expand" } },
	{ pattern: { input: "l", ctrl: false, meta: false }, action: { type: "expand" } },
	{ pattern: { leftArrow: true }, action: { type: "collapse" } },
	{ pattern: { input: "h", ctrl: false, meta: false }, action: { type: "collapse" } },
	{ pattern: { input: "/", ctrl: false, meta: false }, action: { type: "search" } },
	{ pattern: { escape: true }, action: { type: "clear" } },
];

/**
 * The bindings while the search box takes typing; any other printable key is typed into
 * the query (see {@link searchActionForKey}).
 */
export const SEARCH_KEYMAP: readonly KeyBinding[] = [
	{ pattern: { input: "c", ctrl: true }, action: { type: "quit" } },
	{ pattern: { input: "u", ctrl: true }, action: { type: "erase-all" } },
	{ pattern: { escape: true }, action: { type: "clear" } },
	{ pattern: { tab: true, shift: true }, action: { type: "focus-prev" } },
	{ pattern: { tab: true, shift: false }, action: { type: "focus-next" } },
	{ pattern: { upArrow: true }, action: { type: "move", delta: -1 } },
	{ pattern: { downArrow: true }, action: { type: "move", delta: 1 } },
	{ pattern: { pageUp: true }, action: { type: "page", delta: -1 } },
	{ pattern: { pageDown: true }, action: { type: "page", delta: 1 } },
	{ pattern: { return: true }, action: { type: "activate" } },
	{ pattern: { backspace: true }, action: { type: "erase" } },
	{ pattern: { delete: true }, action: { type: "erase" } },
];

/** One entry of the key help: the keys, what they do, and how much it matters. */
export interface KeyHint {
	/** The keys, e.g. `"↑↓/jk"`. */
	keys: string;
	/** What they do, e.g. `"move"`. */
	does: string;
	/** 0 is kept longest when the status line is short of room. */
	rank: number;
}

/** Key help of the normal mode. */
export const KEY_HINTS: readonly KeyHint[] = [
	{ keys: "Tab", does: "pane", rank: 5 },
	{ keys: "↑↓/jk", does: "move", rank: 4 },
	{ keys: "→←/lh", does: "open/close", rank: 3 },
	{ keys: "Enter", does: "download", rank: 1 },
	{ keys: "/", does: "search", rank: 0 },
	{ keys: "q", does: "quit", rank: 2 },
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

/** The whole key help of the normal mode, as on a wide status line. */
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
