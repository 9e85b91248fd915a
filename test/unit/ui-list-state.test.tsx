import assert from "node:assert/strict";
import { describe, it } from "node:test";
import {
	clampListState,
	INITIAL_LIST_STATE,
	type ListAction,
	type ListState,
	listReducer,
} from "../../source/ui/use-list-state.js";

/** Applies actions in order from the initial state. */
function run(...actions: ListAction[]): ListState {
	return actions.reduce(listReducer, INITIAL_LIST_STATE);
}

const size = { count: 10, visible: 4 };

describe("listReducer", () => {
	it("moves the selection down and up", () => {
		assert.deepEqual(run({ type: "move", delta: 1, ...size }), { selected: 1, offset: 0 });
		assert.deepEqual(
			run({ type: "move", delta: 2, ...size }, { type: "move", delta: -1, ...size }),
			{ selected: 1, offset: 0 },
		);
	});

	it("clamps at both ends", () => {
		assert.deepEqual(run({ type: "move", delta: -1, ...size }), { selected: 0, offset: 0 });
		assert.deepEqual(run({ type: "move", delta: 50, ...size }), { selected: 9, offset: 6 });
	});

	it("scrolls down just enough to keep the selection visible", () => {
		assert.deepEqual(run({ type: "move", delta: 3, ...size }), { selected: 3, offset: 0 });
		assert.deepEqual(run({ type: "move", delta: 4, ...size }), { selected: 4, offset: 1 });
		assert.deepEqual(run({ type: "move", delta: 5, ...size }), { selected: 5, offset: 2 });
	});

	it("scrolls up when the selection goes above the window", () => {
		const state = run({ type: "move", delta: 9, ...size }, { type: "move", delta: -4, ...size });
		assert.deepEqual(state, { selected: 5, offset: 5 });
	});

	it("moves by pages of visible rows", () => {
		assert.deepEqual(run({ type: "page", delta: 1, ...size }), { selected: 4, offset: 1 });
		assert.deepEqual(
			run({ type: "page", delta: 2, ...size }, { type: "page", delta: -1, ...size }),
			{ selected: 4, offset: 4 },
		);
	});

	it("selects an index, clamped", () => {
		assert.deepEqual(run({ type: "select", index: 7, ...size }), { selected: 7, offset: 4 });
		assert.deepEqual(run({ type: "select", index: Number.MAX_SAFE_INTEGER, ...size }), {
			selected: 9,
			offset: 6,
		});
		assert.deepEqual(run({ type: "select", index: -3, ...size }), { selected: 0, offset: 0 });
	});

	it("clamps the selection and the offset when the list shrinks", () => {
		const state = run({ type: "move", delta: 9, ...size });
		assert.deepEqual(listReducer(state, { type: "resize", count: 3, visible: 4 }), {
			selected: 2,
			offset: 0,
		});
		assert.deepEqual(listReducer(state, { type: "resize", count: 7, visible: 4 }), {
			selected: 6,
			offset: 3,
		});
	});

	it("keeps the selection visible when the pane gets shorter", () => {
		const state = run({ type: "move", delta: 3, ...size });
		assert.deepEqual(listReducer(state, { type: "resize", count: 10, visible: 2 }), {
			selected: 3,
			offset: 2,
		});
	});

	it("stays at 0 on an empty list", () => {
		assert.deepEqual(run({ type: "move", delta: 1, count: 0, visible: 4 }), {
			selected: 0,
			offset: 0,
		});
	});

	it("applies moves from the clamped state", () => {
		const state: ListState = { selected: 9, offset: 6 };
		assert.deepEqual(listReducer(state, { type: "move", delta: -1, count: 3, visible: 4 }), {
			selected: 1,
			offset: 0,
		});
	});
});

describe("clampListState", () => {
	it("returns the same object when nothing changes", () => {
		const state: ListState = { selected: 2, offset: 1 };
		assert.equal(clampListState(state, size), state);
	});

	it("treats a visible height below 1 as 1", () => {
		assert.deepEqual(clampListState({ selected: 5, offset: 0 }, { count: 10, visible: 0 }), {
			selected: 5,
			offset: 5,
		});
	});
});
