import assert from "node:assert/strict";
import dgram from "node:dgram";
import fs from "node:fs";
import path from "node:path";
import { after, before, describe, it } from "node:test";
import type { Peer } from "../../source/peer/peer.js";
import { decodeMessage, encodeMessage, type Message } from "../../source/protocol/messages.js";
import { fixturesDir, waitFor } from "../helpers/net.js";
import { Swarm } from "../helpers/swarm.js";

/** A raw client socket on loopback that records every reply. */
async function rawClient() {
	const socket = dgram.createSocket("udp4");
	const replies: { bytes: number; message: Message | null }[] = [];
	socket.on("message", (m) => replies.push({ bytes: m.length, message: decodeMessage(m) }));
	await new Promise<void>((resolve) => socket.bind(0, "127.0.0.1", resolve));
	const send = (datagram: Buffer, port: number) =>
		new Promise((resolve) => socket.send(datagram, port, "127.0.0.1", resolve));
	return { socket, replies, send };
}

describe("the send port", () => {
	let swarm: Swarm;
	let seeder: Peer;
	before(async () => {
		swarm = await Swarm.create();
		seeder = await swarm.add("seeder", fixturesDir());
	});
	after(async () => {
		await swarm.close();
	});

	it("answers an unvalidated address with a Retry smaller than the request, then serves with the token", async () => {
		const { socket, replies, send } = await rawClient();
		const port = seeder.self().ports.send;
		const big = seeder.sharedFiles().find((f) => f.name === "random-3MiB.bin");
		assert.ok(big);
		const fileId = Buffer.from(big.id, "hex");
		const zero = Buffer.alloc(16);
		let sent = 0;
		for (let i = 0; i < 50; i++) {
			const request = encodeMessage({
				type: "blockRequest",
				token: zero,
				fileId,
				offset: 0,
				length: 60_000,
			});
			const list = encodeMessage({ type: "listRequest", token: zero, requestId: i + 1, index: 0 });
			sent += request.length + list.length;
			await send(request, port);
			await send(list, port);
		}
		await waitFor(() => replies.length === 100, "100 replies");
		const received = replies.reduce((n, r) => n + r.bytes, 0);
		assert.ok(received <= 3 * sent, `${received} bytes back for ${sent} sent`);
		assert.ok(received < sent, "a Retry is smaller than any request");
		assert.ok(replies.every((r) => r.message?.type === "retry"));

		const retry = replies[0].message;
		assert.ok(retry?.type === "retry");
		replies.length = 0;
		await send(
			encodeMessage({
				type: "blockRequest",
				token: retry.token,
				fileId,
				offset: 0,
				length: 60_000,
			}),
			port,
		);
		await waitFor(() => replies.length === 1, "the data");
		const data = replies[0].message;
		assert.ok(data?.type === "data");
		const source = fs.readFileSync(path.join(fixturesDir(), "random-3MiB.bin"));
		assert.ok(Buffer.from(data.payload).equals(source.subarray(0, 60_000)));
		socket.close();
	});

	it("drops malformed datagrams on every port, counts them, and keeps serving", async () => {
		const { socket, send } = await rawClient();
		const ports = seeder.self().ports;
		const before = seeder.malformed;
		const junk = [
			Buffer.from("hello"),
			Buffer.alloc(0),
			Buffer.from([0x50, 0x32, 0x01, 0x99]),
			Buffer.from([0x50, 0x32, 0x02, 0x11, 1, 2, 3]),
		];
		for (const port of [ports.receive, ports.send, ports.distribute, ports.distributee]) {
			for (const j of junk) await send(j, port);
		}
		await waitFor(() => seeder.malformed - before >= 16, "16 datagrams counted");
		socket.close();
		const leecher = await swarm.add("after-junk");
		await swarm.waitForFiles(leecher, seeder.sharedFiles().length);
		const hello = leecher.findFile("hello.txt");
		assert.ok(hello);
		assert.equal((await leecher.download(hello.id)).status, "complete");
	});
});
