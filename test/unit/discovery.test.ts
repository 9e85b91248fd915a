import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import dgram from "node:dgram";
import { after, describe, it } from "node:test";
import { Discovery } from "../../source/discovery/discovery.js";
import { MAX_ADDRESSES, PeerTable } from "../../source/discovery/table.js";
import type { PeerRecord } from "../../source/peer/types.js";
import { Identity } from "../../source/protocol/identity.js";
import { encodeMessage } from "../../source/protocol/messages.js";
import { freePort, LOOPBACK_BROADCAST, waitFor } from "../helpers/net.js";

async function startPeer(
	port: number,
	name: string,
	basePort: number,
	identity = Identity.generate(true),
): Promise<Discovery> {
	return Discovery.start({
		identity,
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
		const announce = Identity.generate(true).announce({
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

describe("forged and replayed discovery messages on loopback", () => {
	it("drops and counts a forged announce and a forged leave in another peer's name", async () => {
		const port = await freePort();
		const bobId = Identity.generate(true);
		// A leave bob really signed, a minute ago (before the run below): replayed later.
		const oldLeave = bobId.leave(Date.now() - 60_000);
		const a = await startPeer(port, "alice", 30000);
		const b = await startPeer(port, "bob", 30004, bobId);
		const raw = dgram.createSocket({ type: "udp4", reuseAddr: true });
		try {
			await new Promise<void>((resolve) => raw.bind(0, "127.0.0.1", resolve));
			raw.setBroadcast(true);
			await waitFor(() => a.peers().some((p) => p.id === bobId.id), "alice hears bob");
			const left: string[] = [];
			a.on("peer-left", (p) => left.push(p.name));
			const mallory = Identity.generate(true);
			const send = (datagram: Buffer) =>
				new Promise((resolve) => raw.send(datagram, port, LOOPBACK_BROADCAST, resolve));
			const claim = {
				peerId: bobId.peerId,
				publicKey: mallory.publicKey,
				timestamp: Date.now() + 60_000,
			};
			// Bob's id with mallory's key (signed by mallory): the id is not the key's.
			await send(mallory.sign({ type: "leave", ...claim }));
			await send(
				mallory.sign({
					type: "announce",
					...claim,
					basePort: 40000,
					revision: 9,
					fileCount: 0,
					interval: 100,
					name: "mallory",
				}),
			);
			// Bob's id and bob's key, signed by mallory: the signature does not verify.
			await send(mallory.sign({ type: "leave", ...claim, publicKey: bobId.publicKey }));
			await waitFor(() => a.table.forged === 3 && b.table.forged === 0, "three forgeries counted");
			// Bob's own old leave, sent again: older than his announces, so stale.
			await send(oldLeave);
			await waitFor(() => a.table.stale === 1, "the replayed leave counted");
			// Bob still announces after all of it, unchanged.
			const seen = a.peers().find((p) => p.id === bobId.id)?.lastSeen ?? 0;
			await waitFor(
				() => (a.peers().find((p) => p.id === bobId.id)?.lastSeen ?? 0) > seen,
				"bob announces again",
			);
			const bob = a.peers().find((p) => p.id === bobId.id);
			assert.equal(bob?.name, "bob");
			assert.equal(bob?.ports.receive, 30004);
			assert.equal(left.length, 0, "nobody left");
			assert.equal(a.table.malformed, 0);
			// His real goodbye still works.
			await b.close();
			await waitFor(() => left.includes("bob"), "bob's real leave");
		} finally {
			raw.close();
			await a.close();
			await b.close();
		}
	});
});

describe("PeerTable", () => {
	const self = Identity.generate(true);
	const other = Identity.generate(true);
	const announce = (who: Identity, revision = 1, now?: number) =>
		who.announce({ basePort: 40000, revision, fileCount: 2, interval: 1000, name: "p" }, now);

	it("ignores its own announces and counts malformed datagrams", () => {
		const table = new PeerTable(self.id);
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
		// The unsigned announce of earlier builds (type 0x01) is retired: malformed.
		const legacy = Buffer.concat([Buffer.from([0x50, 0x32, 1, 1]), randomBytes(16)]);
		assert.equal(table.recv(legacy, "127.0.0.1", 0), undefined);
		assert.equal(table.malformed, 3);
	});

	it("tells a revision change apart from a refresh, and expires after three intervals", () => {
		const table = new PeerTable(self.id);
		const joined = table.recv(announce(other), "127.0.0.1", 0);
		assert.equal(joined?.kind, "joined");
		assert.equal(joined?.peer.found, "lan");
		const refresh = table.recv(announce(other), "127.0.0.1", 500);
		assert.equal(refresh?.kind === "updated" && refresh.revisionChanged, false);
		const bumped = table.recv(announce(other, 2), "127.0.0.1", 1000);
		assert.equal(bumped?.kind === "updated" && bumped.revisionChanged, true);
		assert.deepEqual(table.expire(4000), []);
		const gone = table.expire(4001);
		assert.equal(gone.length, 1);
		assert.equal((gone[0] as { peer: PeerRecord }).peer.id, other.id);
	});

	it("keeps one record with every address of a peer heard on several routes", () => {
		const table = new PeerTable(self.id);
		const datagram = announce(other);
		assert.equal(table.recv(datagram, "192.168.1.5", 0)?.kind, "joined");
		// The same announce on IPv6 and on a second interface: one peer, three addresses.
		const v6 = table.recv(datagram, "fe80::5%eth0", 1);
		assert.equal(v6?.kind, "updated");
		assert.equal(table.recv(datagram, "10.0.0.5", 2)?.kind, "updated");
		// A copy from an address already known is no news.
		assert.equal(table.recv(datagram, "10.0.0.5", 3), undefined);
		assert.equal(table.list().length, 1);
		const peer = table.get(other.id);
		assert.equal(peer?.address, "192.168.1.5");
		assert.deepEqual(peer?.addresses, ["192.168.1.5", "fe80::5%eth0", "10.0.0.5"]);
		// A newer announce from another address keeps the preferred one.
		table.recv(announce(other, 2), "10.0.0.5", 1500);
		assert.equal(table.get(other.id)?.address, "192.168.1.5");
		assert.equal(table.forged, 0);
		// The preferred address falls silent: the most recently heard one takes over.
		const changes = table.expire(3500);
		assert.equal(changes.length, 1);
		assert.equal(changes[0].kind, "updated");
		assert.equal(table.get(other.id)?.address, "10.0.0.5");
		assert.deepEqual(table.get(other.id)?.addresses, ["10.0.0.5"]);
	});

	it("holds at most MAX_ADDRESSES addresses per peer", () => {
		const table = new PeerTable(self.id);
		const datagram = announce(other);
		for (let i = 1; i <= MAX_ADDRESSES + 5; i++) table.recv(datagram, `10.0.0.${i}`, i);
		const peer = table.get(other.id);
		assert.equal(peer?.addresses.length, MAX_ADDRESSES);
		assert.equal(peer?.address, "10.0.0.1", "the preferred address is never the one evicted");
		assert.ok(peer?.addresses.includes(`10.0.0.${MAX_ADDRESSES + 5}`));
	});

	it("takes a signed leave from any address of the peer, and drops forged ones", () => {
		const table = new PeerTable(self.id);
		const mallory = Identity.generate(true);
		table.recv(announce(other), "127.0.0.1", 0);
		const forgedLeave = mallory.sign({
			type: "leave",
			peerId: other.peerId,
			publicKey: mallory.publicKey,
			timestamp: Date.now() + 1_000,
		});
		assert.equal(table.recv(forgedLeave, "127.0.0.1", 1), undefined);
		assert.equal(table.forged, 1);
		// One flipped bit anywhere in a real leave: dropped as forged.
		const leave = other.leave();
		for (const bit of [0, 20 * 8 + 3, 59 * 8, (leave.length - 1) * 8]) {
			const flipped = Buffer.from(leave);
			flipped[bit >> 3] ^= 1 << (bit & 7);
			assert.equal(table.recv(flipped, "127.0.0.1", 2), undefined);
		}
		assert.equal(table.forged, 4, "bits in the header make it malformed, the rest forged");
		assert.equal(table.malformed, 1);
		assert.equal(table.list().length, 1);
		assert.equal(table.recv(leave, "127.0.0.2", 3)?.kind, "left");
	});

	it("drops stale messages: an old leave after a newer announce, an old announce after a leave", () => {
		const table = new PeerTable(self.id);
		const who = Identity.generate(true);
		const oldAnnounce = announce(who, 1, 1_000);
		const oldLeave = who.leave(2_000);
		table.recv(announce(who, 1, 3_000), "127.0.0.1", 0);
		assert.equal(table.recv(oldLeave, "127.0.0.1", 1), undefined);
		assert.equal(table.stale, 1);
		assert.equal(table.list().length, 1);
		assert.equal(table.recv(who.leave(4_000), "127.0.0.1", 2)?.kind, "left");
		// Replayed after the goodbye: it does not bring the peer back.
		assert.equal(table.recv(oldAnnounce, "127.0.0.1", 3), undefined);
		assert.equal(table.stale, 2);
		assert.equal(table.list().length, 0);
		// A newer announce (the peer restarted) is welcome at once.
		assert.equal(table.recv(announce(who, 1, 5_000), "127.0.0.1", 4)?.kind, "joined");
	});
});
