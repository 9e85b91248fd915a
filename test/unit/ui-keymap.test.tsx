import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { actionForKey, KEY_HELP, KEYMAP, matchesKey } from "../../source/ui/keymap.js";

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
		assert.equal(actionForKey("x", {}), undefined);
		assert.equal(actionForKey("", { escape: true, meta: true }), undefined);
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
		assert.equal(KEY_HELP, "Tab pane  ↑↓/jk move  Enter download  q quit");
	});
});
