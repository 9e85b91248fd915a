/**
 * Reflection and flooding through the transfer ports, on loopback with real peers: the
 * distribute port answers an interest without its token only with a Retry (no pushes, no
 * block requests to a claimed partial seeder) and trades pieces once the token is echoed;
 * the send port answers list, list-delta, manifest and block requests with forged tokens
 * only with a Retry; a source flooding requests without tokens is banned and then dropped
 * unread, while another source of the same host is still served; a leecher resends its
 * window once per new token a Retry brings, not once per Retry.
 */
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import dgram from "node:dgram";
import { after, before, describe, it } from "node:test";
import { Library } from "../../source/library/library.js";
import type { Peer } from "../../source/peer/peer.js";
import { Identity } from "../../source/protocol/identity.js";
import { decodeMessage, encodeMessage, type Message } from "../../source/protocol/messages.js";
import { BAN_AFTER_DROPS } from "../../source/transfer/guard.js";
import { fixturesDir, freeBase, LOOPBACK_BROADCAST, waitFor } from "../helpers/net.js";
import { Swarm } from "../helpers/swarm.js";

interface Received {
	bytes: number;
	message: Message | null;
}

/** A socket on 127.0.0.1 that records what it receives. */
async function socketAt(port = 0) {
	const socket = dgram.createSocket("udp4");
	const got: Received[] = [];
	socket.on("message", (m) => got.push({ bytes: m.length, message: decodeMessage(m) }));
	await new Promise<void>((resolve) => socket.bind(port, "127.0.0.1", resolve));
	const send = (datagram: Buffer, to: number) =>
		new Promise((resolve) => socket.send(datagram, to, "127.0.0.1", resolve));
	return { socket, got, send, port: socket.address().port };
}

describe("the distribute port", () => {
	let swarm: Swarm;
	let leecher: Peer;
	let fileId: Buffer;
	let pieces: number;
	before(async () => {
		swarm = await Swarm.create();
		// A slow seeder: the leecher is still fetching (and has pieces to push) for a while.
		await swarm.add("seeder", fixturesDir(), { maxUploadRate: 256 * 1024 });
		leecher = await swarm.add("leecher");
		const file = await waitFor(() => leecher.findFile("random-3MiB.bin"), "the file listed");
		fileId = Buffer.from(file.id, "hex");
		leecher.download(file.id).catch(() => {});
		const download = await waitFor(() => {
			const d = leecher.downloadOf(file.id);
			return d?.have.some((b) => b !== 0) ? d : undefined;
		}, "a first piece");
		pieces = download.pieceCount;
	});
	after(async () => {
		await swarm.close();
	});

	it("answers an interest without its token with a 24-byte Retry only, and trades pieces once it is echoed", async () => {
		// A fake leecher: four ports, announced by broadcast like a peer.
		const base = await freeBase();
		const sockets = await Promise.all([0, 1, 2, 3].map((i) => socketAt(base + i)));
		const [, sendPort, distribute, distributee] = sockets;
		const fake = Identity.generate(true);
		const peerId = fake.peerId;
		const announce = fake.announce({
			basePort: base,
			revision: 1,
			fileCount: 0,
			interval: 200,
			name: "fake",
		});
		const discovery = dgram.createSocket("udp4");
		discovery.bind(0, "127.0.0.1", () => discovery.setBroadcast(true));
		const announcer = setInterval(
			() => discovery.send(announce, swarm.discoveryPort, LOOPBACK_BROADCAST),
			100,
		);
		try {
			const hex = peerId.toString("hex");
			await waitFor(() => leecher.peers().some((p) => p.id === hex), "the fake peer known");
			const ports = leecher.self().ports;
			// It claims every piece, so a leecher that believed it would ask it for blocks.
			const all = Buffer.alloc(Math.ceil(pieces / 8), 0xff);
			all[all.length - 1] = 0xff << (8 * all.length - pieces);
			const interest = (token: Uint8Array, have: Uint8Array) =>
				encodeMessage({
					type: "interest",
					token,
					peerId,
					fileId,
					pieceCount: pieces,
					done: false,
					firstPiece: 0,
					have,
				});
			const forged = interest(randomBytes(16), all);
			const zero = interest(Buffer.alloc(16), new Uint8Array(Math.ceil(pieces / 8)));
			await distribute.send(forged, ports.distribute);
			await distribute.send(zero, ports.distribute);
			const retries = () => distribute.got.filter((r) => r.message?.type === "retry");
			await waitFor(() => retries().length === 2, "two Retries");
			assert.ok(retries().every((r) => r.bytes === 24 && r.bytes < zero.length));
			// Nothing else answered them: no push, no block request to the claimed pieces.
			assert.equal(distributee.got.length, 0, "no push before the token");
			const blockRequests = () => sendPort.got.filter((r) => r.message?.type === "blockRequest");
			assert.equal(blockRequests().length, 0, "no block request before the token");

			const retry = retries()[0].message;
			assert.ok(retry?.type === "retry");
			await distribute.send(
				interest(retry.token, new Uint8Array(Math.ceil(pieces / 8))),
				ports.distribute,
			);
			await waitFor(
				() => distributee.got.some((r) => r.message?.type === "push"),
				"pushes once the token is echoed",
			);
			await distribute.send(interest(retry.token, all), ports.distribute);
			await waitFor(
				() => blockRequests().length > 0,
				"block requests to a validated partial seeder",
			);
		} finally {
			clearInterval(announcer);
			discovery.close();
			for (const s of sockets) s.socket.close();
		}
	});
});

describe("the send port under forged tokens and floods", () => {
	let swarm: Swarm;
	let seeder: Peer;
	before(async () => {
		swarm = await Swarm.create();
		seeder = await swarm.add("seeder", fixturesDir());
	});
	after(async () => {
		await swarm.close();
	});

	it("answers every kind of request with a forged token with a Retry smaller than it", async () => {
		const client = await socketAt();
		const port = seeder.self().ports.send;
		const file = seeder.sharedFiles().find((f) => f.name === "random-3MiB.bin");
		assert.ok(file);
		const fileId = Buffer.from(file.id, "hex");
		const token = randomBytes(16);
		const requests = [
			encodeMessage({ type: "listRequest", token, requestId: 1, index: 0 }),
			encodeMessage({ type: "listDeltaRequest", token, requestId: 2, since: 0, index: 0 }),
			encodeMessage({ type: "manifestRequest", token, requestId: 3, fileId, offset: 0 }),
			encodeMessage({ type: "blockRequest", token, fileId, offset: 0, length: 60_000 }),
		];
		for (const r of requests) await client.send(r, port);
		await waitFor(() => client.got.length === requests.length, "an answer to each");
		for (const [i, r] of client.got.entries()) {
			assert.equal(r.message?.type, "retry");
			assert.ok(r.bytes < requests[i].length, `${r.bytes} bytes for ${requests[i].length}`);
		}
		client.socket.close();
	});

	it("bans a source flooding requests without a token, and still serves another source", async () => {
		const flooder = await socketAt();
		const port = seeder.self().ports.send;
		const request = encodeMessage({
			type: "listRequest",
			token: Buffer.alloc(16),
			requestId: 1,
			index: 0,
		});
		const before = seeder.transferStats();
		// Enough to empty its bucket at 129 tokens each, then BAN_AFTER_DROPS more.
		for (let i = 0; i < 2_000 + 2 * BAN_AFTER_DROPS; i++)
			flooder.socket.send(request, port, "127.0.0.1");
		await waitFor(() => seeder.transferStats().bans > before.bans, "the flooder banned");
		// Every Retry sent before the ban has arrived.
		const answered = seeder.transferStats().retries - before.retries;
		await waitFor(() => flooder.got.length === answered, "the Retries sent");
		assert.ok(answered < 2_000 + 2 * BAN_AFTER_DROPS, `${answered} answers`);
		// Dropped unread now: no answer, counted.
		const drops = seeder.transferStats().bannedDrops;
		await new Promise((resolve) => flooder.socket.send(request, port, "127.0.0.1", resolve));
		await waitFor(() => seeder.transferStats().bannedDrops > drops, "a banned drop counted");
		assert.equal(seeder.transferStats().bannedSources, 1);
		// Another source of the same host is served as before.
		const leecher = await swarm.add("leecher");
		await swarm.waitForFiles(leecher, seeder.sharedFiles().length);
		const hello = leecher.findFile("hello.txt");
		assert.ok(hello);
		assert.equal((await leecher.download(hello.id)).status, "complete");
		assert.equal(flooder.got.length, answered, "the banned source got nothing more");
		flooder.socket.close();
	});
});

describe("block-request Retries at the leecher", () => {
	let swarm: Swarm;
	let library: Library;
	before(async () => {
		swarm = await Swarm.create();
		library = await Library.open(fixturesDir(), { watch: false });
		await library.ready();
	});
	after(async () => {
		await library.close();
		await swarm.close();
	});

	it("resend the window once per new token, at most every 100 ms: never once per Retry", async () => {
		const leecher = await swarm.add("leecher");
		const file = library.files().find((f) => f.name === "random-3MiB.bin");
		assert.ok(file);
		// A fake seeder: lists the file, serves its manifest, records block requests.
		const base = await freeBase();
		const sockets = await Promise.all([0, 1, 2, 3].map((i) => socketAt(base + i)));
		const send = sockets[1];
		const requests: { token: string; offset: number; at: number }[] = [];
		send.socket.on("message", (m, from) => {
			const message = decodeMessage(m);
			const reply = (datagram: Buffer) => send.socket.send(datagram, from.port, from.address);
			if (message?.type === "listRequest")
				reply(
					encodeMessage({
						type: "listPage",
						requestId: message.requestId,
						revision: 1,
						total: 1,
						index: 0,
						entries: [
							{
								fileId: file.idBytes,
								size: file.size,
								contentHash: file.manifest.contentHash,
								name: file.name,
							},
						],
					}),
				);
			else if (message?.type === "manifestRequest")
				reply(
					encodeMessage({
						type: "manifestChunk",
						requestId: message.requestId,
						fileId: file.idBytes,
						total: file.manifestBytes.length,
						offset: message.offset,
						bytes: file.manifestBytes.subarray(message.offset, message.offset + 60_000),
					}),
				);
			else if (message?.type === "blockRequest")
				requests.push({
					token: Buffer.from(message.token).toString("hex"),
					offset: message.offset,
					at: performance.now(),
				});
		});
		const announce = Identity.generate(true).announce({
			basePort: base,
			revision: 1,
			fileCount: 1,
			interval: 200,
			name: "fake-seeder",
		});
		const discovery = dgram.createSocket("udp4");
		discovery.bind(0, "127.0.0.1", () => discovery.setBroadcast(true));
		const announcer = setInterval(
			() => discovery.send(announce, swarm.discoveryPort, LOOPBACK_BROADCAST),
			100,
		);
		try {
			await waitFor(() => leecher.findFile(file.name), "the fake seeder's file listed");
			leecher.download(file.id).catch(() => {});
			await waitFor(() => requests.length >= 4, "a first window of block requests");
			const window = new Set(requests.map((r) => r.offset)).size;
			const retry = (token: Buffer) =>
				send.socket.send(
					encodeMessage({ type: "retry", requestId: 0, token }),
					leecher.self().ports.receive,
					"127.0.0.1",
				);
			const first = randomBytes(16);
			const second = randomBytes(16);
			// Ten Retries with one token (a window answered by Retries), then a new token at once.
			for (let i = 0; i < 10; i++) retry(first);
			retry(second);
			const sentSecond = performance.now();
			const withToken = (token: Buffer) =>
				requests.filter((r) => r.token === token.toString("hex"));
			// The second token's requests come only on their timeout (250 ms), not at once.
			await waitFor(() => withToken(second).length > 0, "requests with the second token");
			assert.ok(
				withToken(second)[0].at - sentSecond >= 200,
				`resent ${withToken(second)[0].at - sentSecond} ms after the second Retry`,
			);
			assert.equal(withToken(first).length, window, "the window resent once, not ten times");
		} finally {
			clearInterval(announcer);
			discovery.close();
			for (const s of sockets) s.socket.close();
		}
	});
});

describe("the discovery port under a flood", () => {
	let swarm: Swarm;
	let peer: Peer;
	before(async () => {
		swarm = await Swarm.create();
		peer = await swarm.add("alone");
	});
	after(async () => {
		await swarm.close();
	});

	it("charges junk to its source and bans it, before the peer table sees it", async () => {
		const flooder = await socketAt();
		const before = peer.transferStats();
		const junk = Buffer.from("not an announce");
		// In batches, so the discovery socket's small buffer is read between them.
		let sent = 0;
		while (peer.transferStats().bans === before.bans && sent < 20_000) {
			for (let i = 0; i < 50; i++) flooder.socket.send(junk, swarm.discoveryPort, "127.0.0.1");
			sent += 50;
			await new Promise((resolve) => setTimeout(resolve, 1));
		}
		assert.ok(peer.transferStats().bans > before.bans, `not banned after ${sent} junk datagrams`);
		const stats = peer.transferStats();
		assert.ok(stats.badDatagrams - before.badDatagrams >= 1_000, `${stats.badDatagrams} bad`);
		const table = peer.malformed;
		await new Promise((resolve) =>
			flooder.socket.send(junk, swarm.discoveryPort, "127.0.0.1", resolve),
		);
		await waitFor(() => peer.transferStats().bannedDrops > stats.bannedDrops, "dropped unread");
		assert.equal(peer.malformed, table, "the banned source's datagram never reached the table");
		flooder.socket.close();
	});
});
