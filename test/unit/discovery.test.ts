import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import dgram from "node:dgram";
import { after, describe, it } from "node:test";
import { Discovery } from "../../source/discovery/discovery.js";
import { PeerTable } from "../../source/discovery/table.js";
import type { PeerRecord } from "../../source/peer/types.js";
import { toHex } from "../../source/protocol/hash.js";
import { encodeMessage } from "../../source/protocol/messages.js";
import { freePort, LOOPBACK_BROADCAST, waitFor } from "../helpers/net.js";

async function startPeer(port: number, name: string, basePort: number): Promise<Discovery> {
	const peerId = randomBytes(16);
	return Discovery.start({
		peerId,
		selfId: toHex(peerId),
		port,
		broadcast: [LOOPBACK_BROADCAST],
		interval: 100,
		describe: () => ({ name, basePort, revision: 1, fileCount: 3 }),
	});
}

describe("discovery between three peers on loopback", () => {
	const open: Discovery[] = [];
	after(async () => {
		await Promise.all(open.map((d) => d.close()));
	});

	it("joins, says goodbye, and expires a silent peer", async () => {
		const port = await freePort();
		const a = await startPeer(port, "alice", 30000);
		const b = await startPeer(port, "bob", 30004);
		const c = await startPeer(port, "carol", 30008);
		open.push(a, b, c);
		const names = (d: Discovery) =>
			d
				.peers()
				.map((p) => p.name)
				.sort()
				.join(",");
		await waitFor(
			() => names(a) === "bob,carol" && names(b) === "alice,carol" && names(c) === "alice,bob",
			"all joined",
		);
		const bob = a.peers().find((p) => p.name === "bob");
		assert.deepEqual(bob?.ports, {
			receive: 30004,
			send: 30005,
			distribute: 30006,
			distributee: 30007,
		});
		assert.equal(bob?.address, "127.0.0.1");
		assert.equal(bob?.files, 3);

		// Leave: carol says goodbye; both others drop her at once with reason "bye".
		const left: [string, string][] = [];
		a.on("peer-left", (p, reason) => left.push([p.name, reason]));
		await c.close();
		await waitFor(() => left.some(([n]) => n === "carol"), "carol left");
		assert.deepEqual(left, [["carol", "bye"]]);
		assert.equal(names(b), "alice");

		// Expire: a peer that announces once and falls silent is dropped after 3 intervals.
		const ghost = dgram.createSocket({ type: "udp4", reuseAddr: true });
		await new Promise<void>((resolve) => ghost.bind(0, resolve));
		ghost.setBroadcast(true);
		const ghostId = randomBytes(16);
		const announce = encodeMessage({
			type: "announce",
			peerId: ghostId,
			basePort: 31000,
			revision: 1,
			fileCount: 0,
			interval: 100,
			name: "ghost",
		});
		const joinedAt = Date.now();
		await new Promise((resolve) => ghost.send(announce, port, LOOPBACK_BROADCAST, resolve));
		await waitFor(() => names(a).includes("ghost"), "ghost joined");
		await waitFor(() => left.some(([n]) => n === "ghost"), "ghost expired", 3_000);
		ghost.close();
		assert.deepEqual(left.at(-1), ["ghost", "expired"]);
		assert.ok(Date.now() - joinedAt >= 300, "not expired before three missed intervals");
	});
});

describe("PeerTable", () => {
	const self = randomBytes(16);
	const announce = (peerId: Uint8Array, revision = 1) =>
		encodeMessage({
			type: "announce",
			peerId,
			basePort: 40000,
			revision,
			fileCount: 2,
			interval: 1000,
			name: "p",
		});

	it("ignores its own announces and counts malformed datagrams", () => {
		const table = new PeerTable(toHex(self));
		assert.equal(table.recv(announce(self), "127.0.0.1", 0), undefined);
		assert.equal(table.list().length, 0);
		assert.equal(table.recv(Buffer.from("garbage"), "127.0.0.1", 0), undefined);
		assert.equal(
			table.recv(
				encodeMessage({ type: "retry", requestId: 1, token: Buffer.alloc(16) }),
				"127.0.0.1",
				0,
			),
			undefined,
		);
		assert.equal(table.malformed, 2);
	});

	it("tells a revision change apart from a refresh, and expires after three intervals", () => {
		const table = new PeerTable(toHex(self));
		const other = randomBytes(16);
		assert.equal(table.recv(announce(other), "127.0.0.1", 0)?.kind, "joined");
		const refresh = table.recv(announce(other), "127.0.0.1", 500);
		assert.equal(refresh?.kind === "updated" && refresh.revisionChanged, false);
		const bumped = table.recv(announce(other, 2), "127.0.0.1", 1000);
		assert.equal(bumped?.kind === "updated" && bumped.revisionChanged, true);
		assert.deepEqual(table.expire(4000), []);
		const gone = table.expire(4001);
		assert.equal(gone.length, 1);
		assert.equal((gone[0] as { peer: PeerRecord }).peer.id, toHex(other));
	});

	it("ignores a leave from another address than the peer's", () => {
		const table = new PeerTable(toHex(self));
		const other = randomBytes(16);
		table.recv(announce(other), "127.0.0.1", 0);
		assert.equal(
			table.recv(encodeMessage({ type: "leave", peerId: other }), "127.0.0.2", 1),
			undefined,
		);
		assert.equal(table.list().length, 1);
		assert.equal(
			table.recv(encodeMessage({ type: "leave", peerId: other }), "127.0.0.1", 1)?.kind,
			"left",
		);
	});
});
