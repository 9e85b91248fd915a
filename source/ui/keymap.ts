/**
 * Key bindings of the terminal UI as plain data, and a pure lookup from a key press (as
 * ink's `useInput` reports it) to a UI action. No React here.
 */

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
	/** Act on the selected row (Files pane: download the file). */
	| { type: "activate" }
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
];

/** The one-line key help shown in the status line. */
export const KEY_HELP = "Tab pane  ↑↓/jk move  Enter download  q quit";

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
