import assert from "node:assert/strict";
import { describe, it } from "node:test";
import {
	actionForKey,
	FILTER_KEY_HINTS,
	KEY_HELP,
	KEY_HINTS,
	KEYMAP,
	keyHelp,
	matchesKey,
	SEARCH_KEY_HINTS,
	SEARCH_KEYMAP,
	searchActionForKey,
} from "../../source/ui/keymap.js";

describe("actionForKey", () => {
	it("cycles focus with Tab and Shift-Tab", () => {
		assert.deepEqual(actionForKey("", { tab: true }), { type: "focus-next" });
		assert.deepEqual(actionForKey("", { tab: true, shift: false }), { type: "focus-next" });
		assert.deepEqual(actionForKey("", { tab: true, shift: true }), { type: "focus-prev" });
	});

	it("moves with the arrows and j/k", () => {
		assert.deepEqual(actionForKey("", { upArrow: true }), { type: "move", delta: -1 });
		assert.deepEqual(actionForKey("", { downArrow: true }), { type: "move", delta: 1 });
		assert.deepEqual(actionForKey("k", {}), { type: "move", delta: -1 });
		assert.deepEqual(actionForKey("j", {}), { type: "move", delta: 1 });
	});

	it("pages and jumps", () => {
		assert.deepEqual(actionForKey("", { pageUp: true }), { type: "page", delta: -1 });
		assert.deepEqual(actionForKey("", { pageDown: true }), { type: "page", delta: 1 });
		assert.deepEqual(actionForKey("", { home: true }), { type: "jump", to: "first" });
		assert.deepEqual(actionForKey("", { end: true }), { type: "jump", to: "last" });
		assert.deepEqual(actionForKey("g", {}), { type: "jump", to: "first" });
		assert.deepEqual(actionForKey("G", { shift: true }), { type: "jump", to: "last" });
	});

	it("activates with Enter", () => {
		assert.deepEqual(actionForKey("", { return: true }), { type: "activate" });
	});

	it("quits with q and Ctrl-C", () => {
		assert.deepEqual(actionForKey("q", {}), { type: "quit" });
		assert.deepEqual(actionForKey("c", { ctrl: true }), { type: "quit" });
	});

	it("ignores letters with Ctrl or Meta and unbound keys", () => {
		assert.equal(actionForKey("c", {}), undefined);
		assert.equal(actionForKey("j", { ctrl: true }), undefined);
		assert.equal(actionForKey("q", { meta: true }), undefined);
		assert.equal(actionForKey("z", {}), undefined);
		assert.equal(actionForKey("x", { ctrl: true }), undefined);
		assert.equal(actionForKey("l", { meta: true }), undefined);
	});

	it("opens and closes folders with →/← and l/h", () => {
		assert.deepEqual(actionForKey("", { rightArrow: true }), { type: "expand" });
		assert.deepEqual(actionForKey("l", {}), { type: "expand" });
		assert.deepEqual(actionForKey("", { leftArrow: true }), { type: "collapse" });
		assert.deepEqual(actionForKey("h", {}), { type: "collapse" });
	});

	it("opens the search with / and clears it with Esc", () => {
		assert.deepEqual(actionForKey("/", {}), { type: "search" });
		assert.deepEqual(actionForKey("", { escape: true, meta: true }), { type: "clear" });
	});

	it("accepts a custom keymap", () => {
		const keymap = [{ pattern: { input: "x" }, action: { type: "quit" } as const }];
		assert.deepEqual(actionForKey("x", {}, keymap), { type: "quit" });
		assert.equal(actionForKey("q", {}, keymap), undefined);
	});
});

describe("matchesKey", () => {
	it("requires every listed field and treats missing flags as false", () => {
		assert.equal(matchesKey({ input: "q", ctrl: false }, "q", {}), true);
		assert.equal(matchesKey({ input: "q", ctrl: false }, "q", { ctrl: true }), false);
		assert.equal(matchesKey({ tab: true }, "", { tab: true, shift: true }), true);
		assert.equal(matchesKey({ tab: true, shift: false }, "", { tab: true, shift: true }), false);
	});
});

describe("KEYMAP data", () => {
	it("is plain data with one action per binding", () => {
		assert.ok(KEYMAP.length > 0);
		assert.deepEqual(JSON.parse(JSON.stringify(KEYMAP)), KEYMAP);
	});

	it("documents the main keys in the help line", () => {
		assert.equal(
			KEY_HELP,
			"Tab pane  ↑↓/jk move  →←/lh open/close  Enter download  / search  i info  ? help  q quit",
		);
	});

	it("keeps the most important hints when the line is short, in their order", () => {
		assert.equal(keyHelp(KEY_HINTS, 40), "Enter download  / search  ? help  q quit");
		assert.equal(keyHelp(KEY_HINTS, 8), "? help");
		assert.equal(keyHelp(KEY_HINTS, 0), "");
		assert.equal(keyHelp(SEARCH_KEY_HINTS, 34), "↑↓ move  Enter download  Esc clear");
		assert.equal(keyHelp(SEARCH_KEY_HINTS, 30), "Enter download  Esc clear");
		assert.ok(keyHelp(FILTER_KEY_HINTS, 30).includes("Esc clear search"));
	});

	it("has plain-data search bindings", () => {
		assert.deepEqual(JSON.parse(JSON.stringify(SEARCH_KEYMAP)), SEARCH_KEYMAP);
	});
});

describe("searchActionForKey (the search box takes typing)", () => {
	it("types letters, the bound ones included, and pasted text", () => {
		for (const letter of ["j", "k", "q", "h", "l", "g", "G", "/", " ", "é"]) {
			assert.deepEqual(searchActionForKey(letter, {}), { type: "type", text: letter });
		}
		assert.deepEqual(searchActionForKey("Silicon Valley", {}), {
			type: "type",
			text: "Silicon Valley",
		});
	});

	it("moves with the arrows and pages, downloads with Enter", () => {
		assert.deepEqual(searchActionForKey("", { downArrow: true }), { type: "move", delta: 1 });
		assert.deepEqual(searchActionForKey("", { upArrow: true }), { type: "move", delta: -1 });
		assert.deepEqual(searchActionForKey("", { pageDown: true }), { type: "page", delta: 1 });
		assert.deepEqual(searchActionForKey("", { return: true }), { type: "activate" });
	});

	it("erases with Backspace/Delete and Ctrl-U, clears with Esc, leaves with Tab", () => {
		assert.deepEqual(searchActionForKey("", { backspace: true }), { type: "erase" });
		assert.deepEqual(searchActionForKey("", { delete: true }), { type: "erase" });
		assert.deepEqual(searchActionForKey("u", { ctrl: true }), { type: "erase-all" });
		assert.deepEqual(searchActionForKey("", { escape: true, meta: true }), { type: "clear" });
		assert.deepEqual(searchActionForKey("", { tab: true }), { type: "focus-next" });
		assert.deepEqual(searchActionForKey("", { tab: true, shift: true }), { type: "focus-prev" });
	});

	it("still quits on Ctrl-C, ignores other Ctrl/Meta keys and control characters", () => {
		assert.deepEqual(searchActionForKey("c", { ctrl: true }), { type: "quit" });
		assert.equal(searchActionForKey("j", { ctrl: true }), undefined);
		assert.equal(searchActionForKey("x", { meta: true }), undefined);
		assert.equal(searchActionForKey("", { leftArrow: true }), undefined);
		assert.equal(searchActionForKey("a\u0007", {}), undefined);
	});
});
