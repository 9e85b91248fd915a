/**
 * The lasting identity as separate programs on loopback: a peer id survives a restart of
 * `serve` with the same `--config-dir` (also after kill -9, whose lock is stale), another
 * folder is another id, a second instance on a folder in use runs with an ephemeral
 * identity, and `peers --json` shows each peer's id, addresses and how it was found.
 */
import assert from "node:assert/strict";
import fs from "node:fs";
import path from "node:path";
import { after, describe, it } from "node:test";
import { IDENTITY_FILE, LOCK_FILE } from "../../source/cli/identity-file.js";
import { freePort, tempDir, waitFor } from "../helpers/net.js";
import { loopbackNet, peerFolders, runCli, ServeProcess } from "../helpers/process.js";

interface Ready {
	peer: string;
	fingerprint: string;
	identity: "lasting" | "ephemeral";
}

interface ListedPeer {
	id: string;
	name: string;
	address: string;
	addresses: string[];
	found: string;
}

describe("identity across restarts and instances", () => {
	const root = tempDir("p2p-tui-e2e-id-");
	const running: ServeProcess[] = [];
	after(async () => {
		await Promise.all(running.map((s) => s.stop()));
		fs.rmSync(root, { recursive: true, force: true });
	});

	/** Starts `serve` for `name`'s folders (the settings folder is `root/name/cfg`). */
	async function serve(net: string[], name: string, label = name): Promise<ServeProcess> {
		const s = new ServeProcess([...net, ...peerFolders(root, name), "--name", label]);
		running.push(s);
		await waitFor(() => s.event("ready"), `${label} ready`, 20_000);
		return s;
	}
	const ready = (s: ServeProcess) => s.event("ready") as unknown as Ready;

	it("keeps the id across restarts, gives a second instance an ephemeral one", async () => {
		const net = loopbackNet(await freePort(), 200);
		const cfg = path.join(root, "alice", "cfg");

		const first = await serve(net, "alice");
		const alice = ready(first);
		assert.equal(alice.identity, "lasting");
		assert.match(alice.peer, /^[0-9a-f]{32}$/);
		assert.equal(alice.fingerprint, alice.peer.slice(0, 16).match(/.{4}/g)?.join(" "));
		assert.equal(fs.statSync(path.join(cfg, IDENTITY_FILE)).mode & 0o777, 0o600);

		// The same settings folder while alice runs: a distinct, ephemeral identity.
		const twin = await serve(net, "alice", "alice-twin");
		assert.equal(ready(twin).identity, "ephemeral");
		assert.notEqual(ready(twin).peer, alice.peer);

		// Another settings folder: another identity.
		const bob = await serve(net, "bob");
		assert.equal(ready(bob).identity, "lasting");
		assert.notEqual(ready(bob).peer, alice.peer);

		// A third program lists all three, each once, with its addresses and how it was found.
		const listed = await runCli([
			"peers",
			"--json",
			"--wait",
			"1500",
			...net,
			...peerFolders(root, "carol"),
		]);
		assert.equal(listed.code, 0, listed.stderr);
		const peers = JSON.parse(listed.stdout) as ListedPeer[];
		const ids = peers.map((p) => p.id).sort();
		assert.deepEqual(ids, [alice.peer, ready(twin).peer, ready(bob).peer].sort());
		for (const p of peers) {
			assert.deepEqual(p.addresses, ["127.0.0.1"]);
			assert.equal(p.address, "127.0.0.1");
			assert.equal(p.found, "lan");
		}

		// Restart alice (the twin still runs; the lock was alice's): the same id.
		assert.equal(await first.stop(), 0);
		assert.equal(fs.existsSync(path.join(cfg, LOCK_FILE)), false, "the lock is released on exit");
		const restarted = await serve(net, "alice");
		assert.equal(ready(restarted).peer, alice.peer);
		assert.equal(ready(restarted).identity, "lasting");

		// Killed with SIGKILL the lock stays behind, stale: the next start takes it over.
		restarted.child.kill("SIGKILL");
		await new Promise((resolve) => restarted.child.once("exit", resolve));
		assert.equal(
			fs.readFileSync(path.join(cfg, LOCK_FILE), "utf8").trim(),
			String(restarted.child.pid),
		);
		const afterKill = await serve(net, "alice");
		assert.equal(ready(afterKill).peer, alice.peer);
		assert.equal(ready(afterKill).identity, "lasting");
	});
});
