/**
 * The TUI's part of named peers (docs/networks.md): `a` opens a one-field form that names a
 * peer by address (an `add-peer` intent; the UI never touches a socket), a bad address is
 * refused in the form with the parser's line, and the Peers pane marks peers reached by
 * unicast: `↗` named, `⇄` learned by peer exchange.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { render } from "ink-testing-library";
import { App } from "../../source/ui/app.js";
import { helpSections } from "../../source/ui/keymap.js";
import {
	snapshot as baseSnapshot,
	FakeStore,
	file,
	KEY,
	lineWith,
	mountApp,
	peer,
	waitUntil,
} from "../helpers/ui.js";

describe("a names a peer by address", () => {
	it("dispatches add-peer on Enter, refuses a bad address in the form, Esc closes", async (t) => {
		const store = new FakeStore(baseSnapshot({ files: [file("alpha.txt")] }));
		const app = mountApp(t, render, App, store);
		await app.waitForSelected("alpha.txt");
		app.stdin.write("a");
		await app.waitForText("Add a peer");
		app.stdin.write("bad host!");
		await app.waitForText(/› Peer\s+\[.*bad host!/);
		app.stdin.write(KEY.enter);
		await app.waitForText("expected a peer as HOST[:PORT]");
		assert.deepEqual(store.intents, []);
		app.stdin.write(KEY.ctrlU);
		// q and j are typed, not acted on.
		app.stdin.write("[fd00::2]:45455");
		await app.waitForText("[fd00::2]:45455");
		app.stdin.write(KEY.enter);
		await waitUntil(
			() => store.intents.length === 1,
			() => JSON.stringify(store.intents),
		);
		assert.deepEqual(store.intents, [{ type: "add-peer", address: "[fd00::2]:45455" }]);
		await app.waitForGone("Add a peer");
		app.stdin.write("a");
		await app.waitForText("Add a peer");
		app.stdin.write("q");
		app.stdin.write(KEY.escape);
		await app.waitForGone("Add a peer");
		assert.equal(store.intents.length, 1, "Esc names nobody");
	});

	it("is in the help, generated from the keymap", () => {
		const main = helpSections()[0];
		assert.ok(main.entries.some((e) => e.keys === "a" && /name a peer by address/.test(e.does)));
		assert.ok(helpSections().some((s) => s.title === "Add-peer form (after a)"));
	});

	it("marks peers reached by unicast in the Peers pane and in their details", async (t) => {
		const store = new FakeStore(
			baseSnapshot({
				peers: [
					peer("bob", { address: "10.77.2.2", found: "named" }),
					peer("carol", { address: "10.77.2.3", found: "exchange" }),
					peer("dave", { address: "10.77.1.9", found: "lan" }),
				],
			}),
		);
		const app = mountApp(t, render, App, store);
		await app.waitForText("carol");
		assert.match(app.frame(), /↗ 10\.77\.2\.2:/);
		assert.match(app.frame(), /⇄ 10\.77\.2\.3:/);
		assert.match(app.frame(), /│ {2}10\.77\.1\.9:/);
		app.stdin.write("1");
		app.stdin.write(KEY.enter);
		await app.waitForText("Found");
		assert.match(lineWith(app.frame(), "Found"), /named by address/);
	});
});
