import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import dgram from "node:dgram";
import { after, describe, it } from "node:test";
import { toHex } from "../../source/protocol/hash.js";
import { checkSigned, Identity } from "../../source/protocol/identity.js";
import { decodeMessage, encodeMessage, type Message } from "../../source/protocol/messages.js";
import {
	corruptCopy,
	FaultPlan,
	FaultRelay,
	mulberry32,
	relayStream,
	UdpFaultProxy,
} from "../helpers/fault-relay.js";
import { freeBase, freePort, LOOPBACK_BROADCAST, waitFor } from "../helpers/net.js";

const LOOPBACK = "127.0.0.1";

/** A socket on 127.0.0.1 that records what it receives, optionally echoing it back. */
async function endpoint(port = 0, echo = false) {
	const socket = dgram.createSocket("udp4");
	const received: { data: Buffer; from: dgram.RemoteInfo }[] = [];
	socket.on("message", (data, from) => {
		received.push({ data, from });
		if (echo) socket.send(data, from.port, from.address);
	});
	await new Promise<void>((resolve) => socket.bind(port, LOOPBACK, resolve));
	// Room for bursts of full-size datagrams (the default buffer holds only a few).
	socket.setRecvBufferSize(4 * 1024 * 1024);
	return {
		socket,
		received,
		port: socket.address().port,
		send: (data: Uint8Array, to: number) =>
			new Promise<void>((resolve) => socket.send(data, to, LOOPBACK, () => resolve())),
		close: () => new Promise<void>((resolve) => socket.close(() => resolve())),
	};
}

/** Datagrams numbered by their first four bytes, of assorted sizes up to a full block. */
function numbered(count: number, sizes = [4, 100, 1_472, 61_504]): Buffer[] {
	return Array.from({ length: count }, (_, i) => {
		const b = randomBytes(sizes[i % sizes.length]);
		b.writeUInt32BE(i, 0);
		return b;
	});
}

const closers: (() => Promise<void>)[] = [];
after(async () => {
	for (const close of closers.splice(0).reverse()) await close();
});

describe("FaultPlan: seeded decisions", () => {
	it("drops about half of 1000 datagrams at loss 0.5, the same ones for the same seed", () => {
		const decide = (seed: number) => {
			const plan = new FaultPlan({ seed, loss: 0.5 });
			return Array.from({ length: 1000 }, () => plan.decide(1000).drop);
		};
		const first = decide(42);
		const dropped = first.filter(Boolean).length;
		assert.ok(dropped > 430 && dropped < 570, `${dropped} of 1000 dropped`);
		assert.deepEqual(decide(42), first, "same seed, same decisions");
		assert.notDeepEqual(decide(43), first, "another seed, other decisions");
	});

	it("streams of one seed are independent, and each draws the same whatever is decided", () => {
		const a = new FaultPlan({ seed: 7, loss: 0.3 }, relayStream(0, 1, "upstream"));
		const b = new FaultPlan({ seed: 7, loss: 0.3 }, relayStream(0, 1, "downstream"));
		const da = Array.from({ length: 200 }, () => a.decide(100).drop);
		const db = Array.from({ length: 200 }, () => b.decide(100).drop);
		assert.notDeepEqual(da, db);
		// Turning on other faults does not move the loss decisions.
		const c = new FaultPlan({ seed: 7, loss: 0.3, corrupt: 0.5, duplicate: 0.5, jitterMs: 3 }, 2);
		const d = new FaultPlan({ seed: 7, loss: 0.3 }, 2);
		for (let i = 0; i < 200; i++) assert.equal(c.decide(100).drop, d.decide(100).drop);
	});

	it("corruption picks one byte past the header and a non-zero mask; mulberry32 is in [0, 1)", () => {
		const plan = new FaultPlan({ seed: 1, corrupt: 1, jitterMs: 10, delayMs: 5 });
		for (let i = 0; i < 500; i++) {
			const d = plan.decide(64);
			assert.ok(d.corruptAt >= 4 && d.corruptAt < 64);
			assert.ok(d.corruptMask >= 1 && d.corruptMask <= 255);
			assert.ok(d.delayMs >= 5 && d.delayMs <= 15);
		}
		assert.equal(new FaultPlan({ seed: 1, corrupt: 1 }).decide(0).corruptAt, -1);
		const original = Buffer.from([1, 2, 3, 4, 5, 6]);
		const copy = corruptCopy(original, 5, 0x80);
		assert.deepEqual([...copy], [1, 2, 3, 4, 5, 0x86]);
		assert.equal(original[5], 6, "the original is left alone");
		const r = mulberry32(123);
		for (let i = 0; i < 1000; i++) {
			const x = r();
			assert.ok(x >= 0 && x < 1);
		}
	});

	it("filters by direction and by message type", () => {
		const data = encodeMessage({
			type: "data",
			fileId: Buffer.alloc(32),
			offset: 0,
			payload: Buffer.alloc(10),
		});
		const retry = encodeMessage({ type: "retry", requestId: 1, token: Buffer.alloc(16) });
		const plan = new FaultPlan({ seed: 1, direction: "downstream", types: [0x16] });
		assert.equal(plan.applies(data, "downstream"), true);
		assert.equal(plan.applies(data, "upstream"), false);
		assert.equal(plan.applies(retry, "downstream"), false);
		assert.equal(new FaultPlan({ seed: 1 }).applies(retry, "upstream"), true);
	});
});

describe("UdpFaultProxy", () => {
	it("forwards datagrams both ways byte-exact without faults, one upstream socket per client", async () => {
		const server = await endpoint(0, true);
		const proxy = await UdpFaultProxy.start({ address: LOOPBACK, port: server.port }, { seed: 1 });
		const a = await endpoint();
		const b = await endpoint();
		closers.push(server.close, () => proxy.close(), a.close, b.close);
		const sent = numbered(40);
		for (const d of sent) await a.send(d, proxy.port);
		for (const d of sent.slice(0, 5)) await b.send(d, proxy.port);
		await waitFor(() => a.received.length === 40 && b.received.length === 5, "echoes");
		const sorted = (xs: Buffer[]) => xs.map((x) => x.toString("hex")).sort();
		assert.deepEqual(sorted(a.received.map((r) => r.data)), sorted(sent));
		assert.deepEqual(sorted(b.received.map((r) => r.data)), sorted(sent.slice(0, 5)));
		assert.ok(
			a.received.every((r) => r.from.port === proxy.port),
			"replies come from the proxy",
		);
		const upstreamPorts = new Set(server.received.map((r) => r.from.port));
		assert.equal(upstreamPorts.size, 2, "one upstream socket per client");
		assert.ok(!upstreamPorts.has(a.port) && !upstreamPorts.has(b.port));
		assert.equal(proxy.stats.forwarded, 90);
		assert.equal(proxy.stats.dropped + proxy.stats.corrupted + proxy.stats.duplicated, 0);
	});

	it("corruption flips exactly one byte past the header", async () => {
		const server = await endpoint();
		const proxy = await UdpFaultProxy.start(
			{ address: LOOPBACK, port: server.port },
			{ seed: 5, corrupt: 1 },
		);
		const client = await endpoint();
		closers.push(server.close, () => proxy.close(), client.close);
		const sent = numbered(20, [64, 1_000, 61_504]);
		for (const d of sent) await client.send(d, proxy.port);
		await waitFor(() => server.received.length === 20, "20 datagrams");
		for (const { data } of server.received) {
			// The flipped byte is past the header, so the number in bytes 0..3 is intact.
			const original = sent[data.readUInt32BE(0)];
			assert.equal(data.length, original.length);
			const differing = [...data].flatMap((byte, i) => (byte !== original[i] ? [i] : []));
			assert.equal(differing.length, 1, "exactly one byte differs");
			assert.ok(differing[0] >= 4);
		}
		assert.equal(proxy.stats.corrupted, 20);
	});

	it("corrupts no more than maxCorrupted datagrams", async () => {
		const server = await endpoint();
		const proxy = await UdpFaultProxy.start(
			{ address: LOOPBACK, port: server.port },
			{ seed: 5, corrupt: 1, maxCorrupted: 3 },
		);
		const client = await endpoint();
		closers.push(server.close, () => proxy.close(), client.close);
		const sent = numbered(10, [100]);
		for (const d of sent) await client.send(d, proxy.port);
		await waitFor(() => server.received.length === 10, "10 datagrams");
		const intact = server.received.filter((r) => r.data.equals(sent[r.data.readUInt32BE(0)]));
		assert.equal(intact.length, 7);
		assert.equal(proxy.stats.corrupted, 3);
	});

	it("duplication delivers every datagram twice", async () => {
		const server = await endpoint();
		const proxy = await UdpFaultProxy.start(
			{ address: LOOPBACK, port: server.port },
			{ seed: 5, duplicate: 1 },
		);
		const client = await endpoint();
		closers.push(server.close, () => proxy.close(), client.close);
		const sent = numbered(10, [100]);
		for (const d of sent) await client.send(d, proxy.port);
		await waitFor(() => server.received.length === 20, "20 datagrams");
		for (const d of sent) {
			assert.equal(server.received.filter((r) => r.data.equals(d)).length, 2);
		}
		assert.equal(proxy.stats.duplicated, 10);
	});

	it("reordering changes the order, loses nothing", async () => {
		const server = await endpoint();
		const proxy = await UdpFaultProxy.start(
			{ address: LOOPBACK, port: server.port },
			{ seed: 9, reorder: 0.3 },
		);
		const client = await endpoint();
		closers.push(server.close, () => proxy.close(), client.close);
		const sent = numbered(50, [100]);
		// Back to back, without waiting for each send: a held datagram goes after the next.
		for (const d of sent) client.socket.send(d, proxy.port, LOOPBACK);
		await waitFor(() => server.received.length === 50, "50 datagrams");
		const order = server.received.map((r) => r.data.readUInt32BE(0));
		assert.deepEqual(
			[...order].sort((x, y) => x - y),
			order.map((_, i) => i),
		);
		assert.notDeepEqual(
			order,
			[...order].sort((x, y) => x - y),
			"some came out of order",
		);
		assert.ok(proxy.stats.reordered > 0);
	});

	it("delays datagrams, and never sends a delayed one after close()", async () => {
		const server = await endpoint();
		const proxy = await UdpFaultProxy.start(
			{ address: LOOPBACK, port: server.port },
			{ seed: 1, delayMs: 60 },
		);
		const client = await endpoint();
		closers.push(server.close, client.close);
		const start = Date.now();
		await client.send(Buffer.from("first"), proxy.port);
		await waitFor(() => server.received.length === 1, "the delayed datagram");
		// Timers may fire a millisecond early by rounding.
		assert.ok(Date.now() - start >= 58, `arrived after ${Date.now() - start} ms`);
		await client.send(Buffer.from("second"), proxy.port);
		await waitFor(() => proxy.stats.forwarded === 2, "the proxy to hold the second datagram");
		await proxy.close();
		// An absence: wait well past the 60 ms delay the held datagram had left.
		await new Promise((resolve) => setTimeout(resolve, 150));
		assert.equal(server.received.length, 1, "nothing after close");
	});

	it("refuses targets other than 127.0.0.1", async () => {
		await assert.rejects(UdpFaultProxy.start({ address: "10.0.0.1", port: 9 }, { seed: 1 }));
	});
});

describe("FaultRelay", () => {
	it("re-announces a peer downstream with the relay's base port and relays its ports", async () => {
		const seeder = Identity.generate(true);
		const upstream = await freePort();
		let downstream = await freePort();
		while (downstream === upstream) downstream = await freePort();
		const relay = await FaultRelay.start({
			upstreamDiscoveryPort: upstream,
			downstreamDiscoveryPort: downstream,
			faults: { seed: 3 },
			signers: () => [seeder],
		});
		closers.push(() => relay.close());
		// A fake seeder: its announce goes out by broadcast, its send port echoes.
		const realBase = await freeBase();
		const sendPort = await endpoint(realBase + 1, true);
		const broadcaster = dgram.createSocket("udp4");
		await new Promise<void>((resolve) => broadcaster.bind(0, LOOPBACK, resolve));
		broadcaster.setBroadcast(true);
		// The leecher side: listens on the downstream discovery port.
		const leecher = await endpoint(downstream);
		const client = await endpoint();
		closers.push(
			sendPort.close,
			() => new Promise<void>((resolve) => broadcaster.close(() => resolve())),
			leecher.close,
			client.close,
		);
		const peerId = seeder.peerId;
		const announce = seeder.announce({
			basePort: realBase,
			revision: 7,
			fileCount: 2,
			interval: 200,
			name: "seeder",
		});
		const heardBytes = (type: string) =>
			leecher.received.map((r) => r.data).filter((d) => decodeMessage(d)?.type === type);
		const heard = (type: string) =>
			leecher.received
				.map((r) => decodeMessage(r.data))
				.filter((m): m is Message => m?.type === type);
		await waitFor(() => {
			broadcaster.send(announce, upstream, LOOPBACK_BROADCAST);
			return heard("announce").length > 0;
		}, "the relayed announce");
		const [relayed] = heard("announce");
		assert.ok(relayed.type === "announce");
		const base = await relay.basePortOf(toHex(peerId));
		assert.equal(relayed.basePort, base);
		assert.notEqual(relayed.basePort, realBase);
		assert.ok(Buffer.from(relayed.peerId).equals(peerId));
		// Signed again by the relay with the seeder's key: the leecher believes it.
		assert.equal(checkSigned(relayed, heardBytes("announce")[0]), "ok");
		assert.deepEqual(
			{
				...relayed,
				peerId: undefined,
				publicKey: undefined,
				timestamp: 0,
				signature: undefined,
				basePort: 0,
			},
			{
				type: "announce",
				peerId: undefined,
				publicKey: undefined,
				timestamp: 0,
				signature: undefined,
				basePort: 0,
				revision: 7,
				fileCount: 2,
				interval: 200,
				name: "seeder",
			},
		);
		assert.ok(leecher.received.every((r) => r.from.address === LOOPBACK));
		// Datagrams to R+1 reach the seeder's send port; the echo comes back from R+1.
		const probe = randomBytes(1_000);
		await client.send(probe, relayed.basePort + 1);
		await waitFor(() => client.received.length === 1, "the echo through the relay");
		assert.ok(client.received[0].data.equals(probe));
		assert.equal(client.received[0].from.port, relayed.basePort + 1);
		assert.ok(sendPort.received[0].data.equals(probe));
		// A leave is relayed too.
		broadcaster.send(seeder.leave(), upstream, LOOPBACK_BROADCAST);
		await waitFor(() => heard("leave").length > 0, "the relayed leave");
	});

	it("refuses equal discovery ports", async () => {
		const port = await freePort();
		await assert.rejects(
			FaultRelay.start({
				upstreamDiscoveryPort: port,
				downstreamDiscoveryPort: port,
				faults: { seed: 1 },
			}),
		);
	});
});
