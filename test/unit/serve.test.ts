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

	it("answers a range request (revision 3) with one data datagram per block, and refuses what does not fit", async () => {
		const { socket, replies, send } = await rawClient();
		after(() => socket.close());
		const port = seeder.self().ports.send;
		const big = seeder.sharedFiles().find((f) => f.name === "random-3MiB.bin");
		assert.ok(big);
		const fileId = Buffer.from(big.id, "hex");
		const range = (token: Uint8Array, offset: number, length: number, blockSize: number) =>
			encodeMessage({ type: "rangeRequest", token, fileId, offset, length, blockSize });
		// Without a token: a Retry naming request 0, smaller than the request.
		await send(range(Buffer.alloc(16), 0, 1_000, 100), port);
		await waitFor(() => replies.length === 1, "the retry");
		const retry = replies[0].message;
		assert.ok(retry?.type === "retry");
		assert.equal(retry.requestId, 0);
		assert.ok(replies[0].bytes < range(Buffer.alloc(16), 0, 1, 1).length);
		replies.length = 0;
		// 20,000 bytes from 5,000 in blocks of 1,428: 14 datagrams, the last one short.
		await send(range(retry.token, 5_000, 20_000, 1_428), port);
		await waitFor(() => replies.length === 15, "15 blocks");
		const source = fs.readFileSync(path.join(fixturesDir(), "random-3MiB.bin"));
		const got = Buffer.alloc(20_000);
		for (const [k, r] of replies.entries()) {
			assert.ok(r.message?.type === "data");
			const at = r.message.offset - 5_000;
			assert.equal(at % 1_428, 0);
			assert.equal(r.message.payload.length, Math.min(1_428, 20_000 - at), `block ${k}`);
			got.set(r.message.payload, at);
		}
		assert.ok(got.equals(source.subarray(5_000, 25_000)));
		replies.length = 0;
		// Across a piece boundary (256 KiB pieces): badRange; a full 61,440-byte block fits
		// loopback (61,484-byte datagrams); a block larger than the range is the range.
		await send(range(retry.token, 256 * 1024 - 10, 20, 10), port);
		await send(range(retry.token, 0, 61_440, 61_440), port);
		await send(range(retry.token, 0, 1_000, 61_440), port);
		await waitFor(() => replies.length >= 3, "three answers");
		const errors = replies.flatMap((r) => (r.message?.type === "error" ? [r.message] : []));
		assert.equal(errors.length, 1);
		assert.equal(errors[0].code, 2);
		assert.equal(errors[0].ref, 256 * 1024 - 10);
		const sizes = replies.flatMap((r) =>
			r.message?.type === "data" ? [r.message.payload.length] : [],
		);
		assert.deepEqual(
			sizes.sort((a, b) => a - b),
			[1_000, 61_440],
		);
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
