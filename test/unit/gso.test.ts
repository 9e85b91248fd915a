/**
 * UDP GSO on the send port and GRO on the receive port (issue 14): a run of equal-size
 * datagrams leaves in one send and may arrive in one receive, split by our own headers;
 * each path and its fallback (forced by option or environment) on real loopback sockets.
 */
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import dgram from "node:dgram";
import fs from "node:fs";
import path from "node:path";
import { afterEach, describe, it } from "node:test";
import { splitCoalesced } from "../../source/protocol/coalesced.js";
import { encodeDataHeader, encodeMessage } from "../../source/protocol/messages.js";
import { Channel, NetworkSeal } from "../../source/protocol/seal.js";
import { enableGro, GsoSender, type OutDatagram } from "../../source/transfer/gso.js";
import { waitFor } from "../helpers/net.js";
import { Swarm } from "../helpers/swarm.js";

const fileId = randomBytes(32);

/** A range answer's data datagrams: `count` blocks of `block` bytes, the last `last`. */
function run(count: number, block: number, last: number, offset = 4096): Buffer[][] {
	const out: Buffer[][] = [];
	for (let i = 0; i < count; i++) {
		const payload = randomBytes(i === count - 1 ? last : block);
		out.push([
			encodeDataHeader({ type: "data", fileId, offset: offset + i * block, payload }),
			payload,
		]);
	}
	return out;
}

const sockets: dgram.Socket[] = [];
async function bound(): Promise<dgram.Socket> {
	const socket = dgram.createSocket("udp4");
	sockets.push(socket);
	await new Promise<void>((resolve) => socket.bind(0, "127.0.0.1", resolve));
	return socket;
}

function out(datagrams: Buffer[][]): OutDatagram[] {
	return datagrams.map((parts) => ({ parts, length: Buffer.concat(parts).length }));
}

describe("splitting a coalesced receive buffer", () => {
	it("splits a run of plain data datagrams (the last shorter) at their own headers", () => {
		const datagrams = run(5, 1428, 300).map((d) => Buffer.concat(d));
		const parts = splitCoalesced(Buffer.concat(datagrams));
		assert.deepEqual(parts, datagrams);
	});

	it("splits a run of sealed datagrams by the sender id and the next counters", () => {
		const seal = new NetworkSeal("k");
		const plain = run(4, 1000, 1000);
		const datagrams = plain.map((d) => Buffer.concat(seal.seal(d, Channel.receive)));
		const parts = splitCoalesced(Buffer.concat(datagrams));
		assert.deepEqual(parts, datagrams);
		const opener = new NetworkSeal("k");
		for (const [i, p] of parts.entries())
			assert.deepEqual(opener.open(p, Channel.receive), Buffer.concat(plain[i]));
	});

	it("leaves one datagram whole, whatever its payload imitates", () => {
		const [single] = run(1, 2000, 2000).map((d) => Buffer.concat(d));
		assert.deepEqual(splitCoalesced(single), [single]);
		// A data header of another file inside the payload: not a run.
		const other = Buffer.from(single);
		other[10] ^= 1;
		const fake = Buffer.concat([single, other.subarray(0, 200)]);
		assert.deepEqual(splitCoalesced(fake), [fake]);
		const list = encodeMessage({ type: "retry", requestId: 3, token: new Uint8Array(16) });
		assert.deepEqual(splitCoalesced(Buffer.concat([list, list])), [Buffer.concat([list, list])]);
	});

	it("splits a sender's datagrams out of order (GRO merges any run of one size), never two senders' or files' alone", () => {
		const a = run(3, 500, 500).map((d) => Buffer.concat(d));
		assert.deepEqual(splitCoalesced(Buffer.concat([a[0], a[2], a[1]])), [a[0], a[2], a[1]]);
		const other = Buffer.from(a[1]);
		other[10] ^= 1; // another file id
		// Two files from one seeder, interleaved in one flow: every block split off.
		assert.deepEqual(splitCoalesced(Buffer.concat([a[0], other, a[2]])), [a[0], other, a[2]]);
		assert.deepEqual(splitCoalesced(Buffer.concat([a[0], other])), [Buffer.concat([a[0], other])]);
		const seal = new NetworkSeal("k");
		const sealed = [0, 1, 2].map(() => Buffer.concat(seal.seal(a[0], Channel.receive)));
		const stranger = Buffer.concat(new NetworkSeal("k").seal(a[0], Channel.receive));
		const two = Buffer.concat([sealed[0], stranger]);
		assert.deepEqual(splitCoalesced(two), [two]);
		assert.deepEqual(splitCoalesced(Buffer.concat([sealed[2], sealed[0]])), [sealed[2], sealed[0]]);
	});
});

describe("GSO and GRO on loopback sockets", () => {
	afterEach(() => {
		for (const s of sockets.splice(0)) s.close();
		delete process.env.P2P_TUI_NO_GSO;
		delete process.env.P2P_TUI_NO_GRO;
	});

	async function send(sender: GsoSender, to: dgram.Socket, datagrams: Buffer[][], gro: boolean) {
		if (gro) assert.equal(enableGro(to), true, "the kernel takes UDP_GRO");
		const got: Buffer[] = [];
		let receives = 0;
		to.on("message", (m) => {
			receives++;
			got.push(...(gro ? splitCoalesced(m) : [m]));
		});
		sender.sendMany(out(datagrams), to.address().port, "127.0.0.1");
		await waitFor(() => got.length >= datagrams.length, "every datagram");
		assert.deepEqual(
			got,
			datagrams.map((d) => Buffer.concat(d)),
		);
		return receives;
	}

	it("sends a run in one GSO send; a receiver without GRO gets every datagram alone", async () => {
		const sender = new GsoSender(await bound());
		assert.equal(sender.enabled, true, "the kernel takes UDP_SEGMENT");
		const datagrams = run(16, 1428, 77);
		const receives = await send(sender, await bound(), datagrams, false);
		assert.equal(receives, 16);
		assert.equal(sender.stats.batches, 1);
		assert.equal(sender.stats.segments, 16);
		// Longer runs go 16 at a time.
		await send(sender, await bound(), run(40, 1000, 1000), false);
		assert.equal(sender.stats.batches, 4);
	});

	it("with GRO the run arrives in fewer receives, split back byte for byte", async () => {
		const sender = new GsoSender(await bound());
		const receives = await send(sender, await bound(), run(16, 1428, 1428), true);
		assert.ok(receives < 16, `${receives} receives`);
		assert.equal(sender.stats.batches, 1);
	});

	it("falls back to one send per datagram when GSO is refused (option or environment)", async () => {
		const off = new GsoSender(await bound(), false);
		assert.equal(off.enabled, false);
		assert.equal(await send(off, await bound(), run(10, 1000, 10), false), 10);
		assert.equal(off.stats.batches, 0);
		process.env.P2P_TUI_NO_GSO = "1";
		const env = new GsoSender(await bound());
		assert.equal(env.enabled, false);
		await send(env, await bound(), run(10, 1000, 10), false);
		assert.equal(env.stats.batches, 0);
		process.env.P2P_TUI_NO_GRO = "1";
		assert.equal(enableGro(await bound()), false);
	});

	it("a batch whose send fails is resent plainly and GSO switched off", async () => {
		const socket = await bound();
		// The kernel's refusal (EIO without checksum offload, EINVAL...), for batches only.
		const original = socket.send.bind(socket);
		// biome-ignore lint/suspicious/noExplicitAny: dgram's send has five overloads.
		(socket as any).send = (msg: Buffer | Buffer[], port: number, address: string, cb?: any) => {
			if (Array.isArray(msg) && msg.length > 2 && cb) {
				setImmediate(() => cb(Object.assign(new Error("send EIO"), { code: "EIO" }), 0));
				return;
			}
			if (cb) original(msg, port, address, cb);
			else original(msg, port, address);
		};
		const sender = new GsoSender(socket);
		assert.equal(sender.enabled, true);
		const datagrams = run(12, 1428, 1428);
		const receives = await send(sender, await bound(), datagrams, false);
		assert.equal(receives, 12);
		assert.equal(sender.stats.failed, 1);
		assert.equal(sender.enabled, false);
		// From now on: plain sends only.
		await send(sender, await bound(), run(5, 1428, 10), false);
		assert.equal(sender.stats.batches, 1);
	});
});

describe("a download between two peers with GSO and GRO", () => {
	let swarm: Swarm | undefined;
	afterEach(async () => {
		await swarm?.close();
		delete process.env.P2P_TUI_NO_GSO;
		delete process.env.P2P_TUI_NO_GRO;
	});

	for (const plain of [false, true])
		it(`${plain ? "with both switched off (environment)" : "with both on"}, under a network key: byte for byte`, async () => {
			if (plain) {
				process.env.P2P_TUI_NO_GSO = "1";
				process.env.P2P_TUI_NO_GRO = "1";
			}
			swarm = await Swarm.create();
			const content = randomBytes(3 * 1024 * 1024 + 777);
			const share = path.join(swarm.root, "content");
			fs.mkdirSync(share, { recursive: true });
			fs.writeFileSync(path.join(share, "f.bin"), content);
			const opts = { networkKey: "gso test key", interval: 60_000 };
			const alice = await swarm.add("alice", share, opts);
			const bob = await swarm.add("bob", undefined, opts);
			await swarm.waitForFiles(bob, 1);
			const result = await bob.download(bob.files()[0].id);
			assert.equal(result.status, "complete");
			assert.ok(fs.readFileSync(result.path as string).equals(content));
			const sent = alice.offloadStats().gso;
			const got = bob.offloadStats().gro;
			if (plain) {
				assert.equal(sent.enabled, false);
				assert.equal(sent.batches, 0);
				assert.equal(got.enabled, false);
			} else {
				assert.equal(sent.enabled, true);
				assert.ok(sent.batches > 0 && sent.segments > sent.batches, JSON.stringify(sent));
				assert.equal(got.enabled, true);
				assert.ok(got.buffers > 0, JSON.stringify(got));
			}
		});
});
