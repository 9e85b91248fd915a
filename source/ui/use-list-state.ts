/**
 * Selection and scrolling of a windowed list: which row is selected and which row is the
 * first one shown, given how many rows exist and how many fit. A pure reducer plus a
 * React hook around it.
 */

import { useCallback, useEffect, useReducer } from "react";

/** Selected row and first visible row of a list, both 0-based row indices. */
export interface ListState {
	/** Index of the selected row (0 when the list is empty). */
	selected: number;
	/** Index of the first visible row (the scroll offset). */
	offset: number;
}

/** The list's size: number of rows and number of rows that fit on screen. */
export interface ListSize {
	/** Number of rows in the list (0 or more). */
	count: number;
	/** Number of rows that fit in the pane (1 or more; smaller values count as 1). */
	visible: number;
}

/** What can happen to a list's selection; every action carries the current size. */
export type ListAction =
	/** Move the selection by `delta` rows (negative is up), clamped to the list. */
	| ({ type: "move"; delta: number } & ListSize)
	/** Move the selection by `delta` pages of `visible` rows. */
	| ({ type: "page"; delta: number } & ListSize)
	/** Select row `index`, clamped to the list. */
	| ({ type: "select"; index: number } & ListSize)
	/** The list's size changed: clamp the selection and the offset. */
	| ({ type: "resize" } & ListSize);

/** The state of a list nobody has moved in yet. */
export const INITIAL_LIST_STATE: ListState = { selected: 0, offset: 0 };

/**
 * Clamps a selection to a list size and scrolls as little as possible so the selected row
 * is visible (windowing).
 *
 * @param state - the current selection and offset
 * @param size - row count and visible row count
 * @returns the same object when nothing changes, else a new clamped state
 */
export function clampListState(state: ListState, size: ListSize): ListState {
	const count = Math.max(0, Math.floor(size.count));
	const visible = Math.max(1, Math.floor(size.visible));
	const selected = count === 0 ? 0 : Math.min(Math.max(0, state.selected), count - 1);
	let offset = Math.min(Math.max(0, state.offset), Math.max(0, count - visible));
	if (selected < offset) {
		offset = selected;
	} else if (selected >= offset + visible) {
		offset = selected - visible + 1;
	}
	if (selected === state.selected && offset === state.offset) {
		return state;
	}
	return { selected, offset };
}

/**
 * The list reducer: applies an action and keeps the selection inside the list and on
 * screen.
 *
 * @param state - the current selection and offset
 * @param action - what happened, with the list's current size
 * @returns the next state (the same object when nothing changes)
 */
export function listReducer(state: ListState, action: ListAction): ListState {
	const current = clampListState(state, action);
	switch (action.type) {
		case "move":
			return clampListState({ ...current, selected: current.selected + action.delta }, action);
		case "page":
			return clampListState(
				{
					...current,
					selected: current.selected + action.delta * Math.max(1, Math.floor(action.visible)),
				},
				action,
			);
		case "select":
			return clampListState({ ...current, selected: action.index }, action);
		case "resize":
			return current;
	}
}

/** What {@link useListState} returns: the clamped state plus actions bound to the size. */
export interface ListControls extends ListState {
	/** Moves the selection by `delta` rows. */
	move(delta: number): void;
	/** Moves the selection by `delta` pages. */
	page(delta: number): void;
	/** Selects row `index` (use `Number.MAX_SAFE_INTEGER` for the last row). */
	select(index: number): void;
}

/**
 * Holds a list's selection and scroll offset. The returned values are always clamped to
 * the given size, so a list that shrinks never shows a selection past its end.
 *
 * @param count - number of rows in the list
 * @param visible - number of rows that fit in the pane
 * @returns the selected index, the offset of the first visible row, and movers
 */
export function useListState(count: number, visible: number): ListControls {
	const [state, dispatch] = useReducer(listReducer, INITIAL_LIST_STATE);
	const clamped = clampListState(state, { count, visible });
	useEffect(() => {
		if (clamped !== state) {
			dispatch({ type: "resize", count, visible });
		}
	}, [clamped, state, count, visible]);
	const move = useCallback(
		(delta: number) => dispatch({ type: "move", delta, count, visible }),
		[count, visible],
	);
	const page = useCallback(
		(delta: number) => dispatch({ type: "page", delta, count, visible }),
		[count, visible],
	);
	const select = useCallback(
		(index: number) => dispatch({ type: "select", index, count, visible }),
		[count, visible],
	);
	return { selected: clamped.selected, offset: clamped.offset, move, page, select };
}
