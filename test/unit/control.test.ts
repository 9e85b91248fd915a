/**
 * The control socket in process (issue 16): a peer's `ControlServer` and the commands' client
 * (`ask`, `getVia`) on a real Unix socket. A routed `get` runs the download in the peer (its
 * transfers, hence its TUI's Transfers pane, list it) with the standalone output; a second
 * peer on the same folder does not take the socket over; a socket with loose permissions is
 * not trusted; `MISMATCH` sends the command standalone; a handler added for a new type works.
 */
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import fs from "node:fs";
import path from "node:path";
import { afterEach, describe, it } from "node:test";
import type { Output } from "../../source/cli/commands.js";
import { ask, getVia } from "../../source/cli/control-client.js";
import { ControlServer, controlSocketPath } from "../../source/peer/control.js";
import { createPeerStore } from "../../source/peer/store.js";
import { waitFor } from "../helpers/net.js";
import { Swarm } from "../helpers/swarm.js";

/** Output collected in arrays. */
function collect(): Output & { lines: string[]; errors: string[] } {
	const lines: string[] = [];
	const errors: string[] = [];
	return { lines, errors, out: (l) => lines.push(l), err: (l) => errors.push(l) };
}

describe("control socket in process", () => {
	let swarm: Swarm | undefined;
	const servers: ControlServer[] = [];
	afterEach(async () => {
		await Promise.all(servers.splice(0).map((s) => s.close()));
		await swarm?.close();
		swarm = undefined;
	});

	it("a routed get downloads in the peer, shows in its store's transfers, prints as standalone", async () => {
		swarm = await Swarm.create();
		const content = randomBytes(700_000);
		const share = path.join(swarm.root, "seed-share");
		fs.mkdirSync(share);
		fs.writeFileSync(path.join(share, "a.bin"), content);
		await swarm.add("seed", share);
		const user = await swarm.add("user");
		await swarm.waitForFiles(user, 1);
		const dir = path.join(swarm.root, "user-cfg");
		const server = await ControlServer.listen(user, dir);
		assert.ok(server);
		servers.push(server);
		assert.equal(server.path, controlSocketPath(dir));
		assert.equal(fs.statSync(server.path).mode & 0o777, 0o600);
		const requests: string[] = [];
		server.on("request", (type) => requests.push(type));
		const store = createPeerStore(user, () => {});
		try {
			const io = collect();
			assert.equal(await getVia({ dir, expect: {} }, { query: "a.bin" }, 1_000, false, io), true);
			const target = path.join(user.self().downloadsDir, "a.bin");
			assert.equal(io.lines.length, 1, io.lines.join("\n"));
			assert.ok(
				io.lines[0].startsWith(`saved ${target} (700000 bytes in `),
				`the standalone line: ${io.lines[0]}`,
			);
			assert.ok(fs.readFileSync(target).equals(content));
			assert.deepEqual(requests, ["get"]);
			// The peer's own download: in its transfers, so in the TUI's Transfers pane.
			await waitFor(
				() =>
					store.getSnapshot().transfers.some((t) => t.name === "a.bin" && t.status === "complete"),
				"the download in the store's transfers",
			);
		} finally {
			store.close();
		}
	});

	it("one socket per folder; loose permissions are not trusted; MISMATCH means standalone", async () => {
		swarm = await Swarm.create();
		const a = await swarm.add("a");
		const b = await swarm.add("b");
		const dir = path.join(swarm.root, "cfg");
		const server = await ControlServer.listen(a, dir);
		assert.ok(server);
		servers.push(server);
		assert.equal(await ControlServer.listen(b, dir), undefined, "a live socket is left alone");
		const answer = await ask(dir, { type: "peers" });
		assert.equal(answer?.type, "result");
		assert.equal(
			await ask(dir, { type: "peers", expect: { name: "someone else" } }),
			undefined,
			"another name: run standalone",
		);
		assert.equal(
			await ask(dir, { type: "peers", expect: { name: "a" } }).then((m) => m?.type),
			"result",
		);
		// A handler for a new request type (as `send` will add).
		server.handle("echo", (request) => ({ said: request.text }));
		assert.equal((await ask(dir, { type: "echo", text: "hi" }))?.said, "hi");
		fs.chmodSync(server.path, 0o666);
		assert.equal(
			await ask(dir, { type: "peers" }),
			undefined,
			"a socket others may open is not trusted",
		);
	});
});
