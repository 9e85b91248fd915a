import assert from "node:assert/strict";
import fs from "node:fs";
import path from "node:path";
import { afterEach, describe, it } from "node:test";
import { render } from "ink-testing-library";
import { createPeerStore } from "../../source/peer/store.js";
import type { PeerRecord } from "../../source/peer/types.js";
import type { TransferEngine } from "../../source/transfer/engine.js";
import { App } from "../../source/ui/app.js";
import { buildFileTree, visibleNodes } from "../../source/ui/file-tree.js";
import { fixturesDir, listFiles, waitFor } from "../helpers/net.js";
import { Swarm } from "../helpers/swarm.js";

describe("the TUI over a real peer on loopback", () => {
	let swarm: Swarm;
	afterEach(async () => {
		await swarm.close();
	});

	it("shows peers and files, downloads with Enter, and q sends the leave", async () => {
		swarm = await Swarm.create();
		const fixtures = fixturesDir();
		const seeder = await swarm.add("seeder-sam", fixtures);
		const user = await swarm.add("user");
		let quit = false;
		const store = createPeerStore(
			user,
			() => {
				quit = true;
				void user.stop();
			},
			20,
		);
		const app = render(<App store={store} />);
		try {
			const frame = () => app.lastFrame() ?? "";
			await waitFor(() => frame().includes("seeder-sam"), "the seeder in the Peers pane");
			await waitFor(() => frame().includes("random-3MiB.bin"), "the files in the Files pane");

			const target = "gradient.png";
			// The Files pane is a tree, folders first and closed: find the row as it shows it.
			const rows = visibleNodes(buildFileTree(user.files(), user.folders()), new Set());
			const index = rows.findIndex((node) => node.path === target);
			assert.ok(index >= 0);
			for (let i = 0; i < index; i++) {
				app.stdin.write("j");
			}
			await waitFor(() => /› gradient\.png/.test(frame()), "gradient.png selected");
			app.stdin.write("\r");
			const downloaded = path.join(user.self().downloadsDir, target);
			await waitFor(() => fs.existsSync(downloaded), "the download on disk");
			assert.ok(fs.readFileSync(downloaded).equals(fs.readFileSync(path.join(fixtures, target))));
			await waitFor(
				() => /gradient\.png.*100%/.test(frame()),
				"the transfer at 100% in the Transfers pane",
			);
			// The final name is linked before the partial one is removed: wait for completion.
			await waitFor(() => user.transfers()[0]?.status === "complete", "the transfer complete");
			assert.deepEqual(listFiles(user.self().downloadsDir), [target]);

			const left: string[] = [];
			seeder.on("peer-left", (p, reason) => left.push(`${p.name}:${reason}`));
			app.stdin.write("q");
			await waitFor(() => quit, "the quit intent");
			await waitFor(() => left.includes("user:bye"), "the seeder hearing the leave");
		} finally {
			store.close();
			app.unmount();
		}
	});

	it("marks a peer the engine banned as banned in the Peers pane", async () => {
		swarm = await Swarm.create();
		const mallory = await swarm.add("mallory");
		const user = await swarm.add("user");
		const store = createPeerStore(user, () => {}, 20);
		const app = render(<App store={store} />);
		try {
			const frame = () => app.lastFrame() ?? "";
			await waitFor(() => frame().includes("mallory"), "mallory in the Peers pane");
			assert.doesNotMatch(frame(), /banned/);
			assert.equal(user.peers()[0]?.banned, false);
			// What the engine does when a peer served bad pieces once too often.
			const engine = Reflect.get(user, "engine") as TransferEngine;
			const updated: PeerRecord[] = [];
			user.on("peer-updated", (p) => updated.push(p));
			engine.banned.add(mallory.id);
			engine.emit("peer-banned", mallory.id);
			// Re-emitted at once as peer-updated, so the store refreshes without waiting.
			assert.ok(updated.some((p) => p.id === mallory.id && p.banned === true));
			await waitFor(() => /mallory\s+banned/.test(frame()), "mallory shown as banned");
			assert.equal(user.peers().find((p) => p.id === mallory.id)?.banned, true);
		} finally {
			store.close();
			app.unmount();
		}
	});
});
