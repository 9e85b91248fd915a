import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import dgram from "node:dgram";
import fs from "node:fs";
import path from "node:path";
import { afterEach, describe, it } from "node:test";
import type { Peer } from "../../source/peer/peer.js";
import { Identity } from "../../source/protocol/identity.js";
import { encodeMessage, TOKEN_SIZE } from "../../source/protocol/messages.js";
import { Channel, looksSealed, NetworkSeal } from "../../source/protocol/seal.js";
import { maxDatagramFor } from "../../source/transfer/path-mtu.js";
import { LOOPBACK_BROADCAST, waitFor } from "../helpers/net.js";
import { Swarm } from "../helpers/swarm.js";

const KEY = "a passphrase works as a network key";

/** A datagram as it left one of our sockets. */
interface Captured {
	bytes: Buffer;
	port: number;
	address: string;
	/** The socket it left by. */
	socket: dgram.Socket;
}

/**
 * Records every datagram any socket of this process sends, as it goes to the kernel (the
 * bytes on the wire), until the returned function is called.
 */
function captureSends(into: Captured[]): () => void {
	const original = dgram.Socket.prototype.send;
	// biome-ignore lint/suspicious/noExplicitAny: dgram's send has five overloads; this wraps them all.
	dgram.Socket.prototype.send = function (this: dgram.Socket, ...args: any[]) {
		const [msg] = args;
		const offsetForm = typeof args[1] === "number" && typeof args[2] === "number";
		const port = offsetForm ? args[3] : args[1];
		const address = offsetForm ? args[4] : args[2];
		const bytes = Array.isArray(msg) ? Buffer.concat(msg) : Buffer.from(msg);
		if (typeof port === "number" && typeof address === "string")
			into.push({ bytes, port, address, socket: this });
		return original.apply(this, args as Parameters<typeof original>);
	} as typeof original;
	return () => {
		dgram.Socket.prototype.send = original;
	};
}

/** Raw sockets the test opened, closed after each test (even a failed one). */
const rawSockets: dgram.Socket[] = [];

/** A raw loopback socket that counts what comes back to it, by source port. */
async function rawSocket(): Promise<{ socket: dgram.Socket; from: Map<number, number> }> {
	const socket = dgram.createSocket("udp4");
	rawSockets.push(socket);
	const from = new Map<number, number>();
	socket.on("message", (_m, r) => from.set(r.port, (from.get(r.port) ?? 0) + 1));
	await new Promise<void>((resolve) => socket.bind(0, "127.0.0.1", resolve));
	socket.setBroadcast(true);
	return { socket, from };
}

function send(socket: dgram.Socket, bytes: Buffer, port: number, address = "127.0.0.1") {
	return new Promise<void>((resolve, reject) =>
		socket.send(bytes, port, address, (error) => (error ? reject(error) : resolve())),
	);
}

function portsOf(peer: Peer): number[] {
	const p = peer.self().ports;
	return [p.receive, p.send, p.distribute, p.distributee];
}

describe("a private network (network key) on loopback", () => {
	let swarm: Swarm;
	const restore: (() => void)[] = [];
	afterEach(async () => {
		for (const r of restore.splice(0)) r();
		for (const s of rawSockets.splice(0)) s.close();
		await swarm.close();
	});

	it("two peers with the key see each other and download byte for byte; every replay of their datagrams is rejected and counted", async () => {
		// The capture sees what Node is asked to send: a GSO batch would be one buffer of
		// several datagrams. Counting datagrams needs the plain path (gso.test.ts covers GSO
		// with a network key).
		process.env.P2P_TUI_NO_GSO = "1";
		restore.push(() => {
			delete process.env.P2P_TUI_NO_GSO;
		});
		swarm = await Swarm.create();
		const captured: Captured[] = [];
		restore.push(captureSends(captured));
		const content = randomBytes(3 * 1024 * 1024 + 12_345);
		const share = path.join(swarm.root, "content");
		fs.mkdirSync(share, { recursive: true });
		fs.writeFileSync(path.join(share, "secret.bin"), content);
		// A long interval: after the download the peers are quiet, so the replay phase below
		// sees only replays.
		const quiet = { networkKey: KEY, interval: 60_000 };
		const alice = await swarm.add("alice", share, quiet);
		// Broadcasts before bob binds the discovery port reach alice only.
		const beforeBob = captured.length;
		const bob = await swarm.add("bob", undefined, quiet);
		await swarm.waitForFiles(bob, 1);
		assert.deepEqual(
			bob.peers().map((p) => p.name),
			["alice"],
		);
		const [file] = bob.files();
		const result = await bob.download(file.id);
		assert.equal(result.status, "complete");
		assert.ok(fs.readFileSync(result.path as string).equals(content));
		// Every datagram that left either peer was sealed: nothing in the clear.
		assert.ok(captured.length > 50);
		for (const c of captured) {
			assert.ok(looksSealed(c.bytes), "a plain datagram left a peer");
			// The seal fits in the path's datagram size: blocks left room for it.
			assert.ok(c.bytes.length <= maxDatagramFor(c.address), `${c.bytes.length} bytes`);
		}
		const largest = Math.max(...captured.map((c) => c.bytes.length));
		// Data datagrams fill a step of the path MTU ladder exactly, seal included.
		assert.ok([8972, 16_356, 32_740, 61_504].includes(largest), `largest ${largest}`);
		// Every datagram sent so far has landed (sent by one, opened by the other; a broadcast
		// by both), so each replay below meets a window that took its original.
		const sealed = () => alice.sealStats().sealed + bob.sealStats().sealed;
		const opened = () => alice.sealStats().opened + bob.sealStats().opened;
		const heardTwice = () =>
			captured.filter((c, i) => c.address === LOOPBACK_BROADCAST && i >= beforeBob).length;
		await waitFor(() => opened() >= sealed() + heardTwice(), "every datagram landed");
		const settled = [alice, bob].map((p) => p.sealStats());
		restore.pop()?.();
		// Several sockets take turns, so no one source goes over the per-source rate limit
		// (a replay is charged as a bad datagram): every replay meets the seal, none the ban.
		const replayers = await Promise.all(Array.from({ length: 8 }, () => rawSocket()));
		const own = new Set([...portsOf(alice), ...portsOf(bob), swarm.discoveryPort]);
		let expected = 0;
		const replayed = () =>
			alice.sealStats().replayed -
			settled[0].replayed +
			bob.sealStats().replayed -
			settled[1].replayed;
		for (const [i, c] of captured.entries()) {
			assert.ok(own.has(c.port), `a datagram went to port ${c.port}`);
			// A broadcast reaches both peers (each hears its own announces too).
			expected += c.address === LOOPBACK_BROADCAST && i >= beforeBob ? 2 : 1;
			await send(replayers[i % replayers.length].socket, c.bytes, c.port, c.address);
			// In rounds of 64, each taken before the next goes: a burst of a thousand 9 KB
			// datagrams would overflow a busy peer's socket buffer, and the kernel's drops are
			// not what this counts.
			if (i % 64 === 63)
				await waitFor(() => replayed() >= expected, `${expected} replays rejected so far`);
		}
		await waitFor(() => replayed() >= expected, `${expected} replays rejected`);
		// Each delivery of a replay counted as one (so none opened), none taken as forged.
		assert.equal(replayed(), expected);
		assert.equal(alice.sealStats().forged + bob.sealStats().forged, 0);
		for (const r of replayers) assert.equal(r.from.size, 0, "a peer answered a replay");
		assert.equal(bob.transfers().length, 1);
	});

	it("a peer with another key, or none, neither sees nor reaches them, and gets no answer", async () => {
		swarm = await Swarm.create();
		const share = path.join(swarm.root, "content");
		fs.mkdirSync(share, { recursive: true });
		fs.writeFileSync(path.join(share, "secret.bin"), randomBytes(100_000));
		const alice = await swarm.add("alice", share, { networkKey: KEY });
		const bob = await swarm.add("bob", undefined, { networkKey: KEY });
		const carol = await swarm.add("carol", undefined, { networkKey: "another key" });
		const dave = await swarm.add("dave", share);
		await swarm.waitForFiles(bob, 1);
		// Several announces of everyone have been heard (and dropped by the strangers).
		await waitFor(
			() => alice.sealStats().forged >= 6 && carol.sealStats().forged >= 6 && dave.malformed >= 6,
			"announces across the networks",
		);
		assert.deepEqual(
			alice.peers().map((p) => p.name),
			["bob"],
		);
		assert.deepEqual(
			bob.peers().map((p) => p.name),
			["alice"],
		);
		assert.deepEqual(carol.peers(), []);
		assert.deepEqual(carol.files(), []);
		assert.deepEqual(
			dave.peers().map((p) => p.name),
			[],
		);
		assert.deepEqual(dave.files(), []);

		// A raw socket talks to alice's five ports: plain requests (which a keyless peer would
		// answer with a Retry), the same sealed under another key, garbage. Then it asks dave,
		// who has no key, the same plain request: his Retry proves the socket hears answers.
		const raw = await rawSocket();
		const mallory = Identity.generate(true);
		const peerId = mallory.peerId;
		const token = new Uint8Array(TOKEN_SIZE);
		const fileId = Buffer.from(alice.sharedFiles()[0].id, "hex");
		const plain = [
			mallory.announce({
				basePort: 40000,
				revision: 1,
				fileCount: 1,
				interval: 1000,
				name: "mallory",
			}),
			encodeMessage({ type: "listRequest", token, requestId: 7, index: 0 }),
			encodeMessage({ type: "manifestRequest", token, requestId: 8, fileId, offset: 0 }),
			encodeMessage({ type: "blockRequest", token, fileId, offset: 0, length: 1000 }),
			encodeMessage({
				type: "interest",
				token,
				peerId,
				fileId,
				pieceCount: 1,
				done: false,
				firstPiece: 0,
				have: new Uint8Array(1),
			}),
			randomBytes(100),
		];
		const outsider = new NetworkSeal("another key");
		const targets = [swarm.discoveryPort, ...portsOf(alice)];
		const channels = [
			Channel.discovery,
			Channel.receive,
			Channel.send,
			Channel.distribute,
			Channel.distributee,
		];
		// Carol's and dave's announces keep arriving at alice's discovery port while the probes
		// go (alice counts them as forged too, unless her guard has banned them by then): what
		// they send in this window is counted, and bounds what alice may count beyond the probes.
		const window: Captured[] = [];
		restore.push(captureSends(window));
		const carolBefore = carol.sealStats().sealed;
		const forgedBefore = alice.sealStats().forged;
		let sent = 0;
		for (const [i, port] of targets.entries()) {
			for (const message of plain) {
				await send(raw.socket, message, port);
				await send(raw.socket, Buffer.concat(outsider.seal(message, channels[i])), port);
				sent += 2;
			}
		}
		await waitFor(() => alice.sealStats().forged - forgedBefore >= sent, "all probes dropped");
		await send(raw.socket, plain[1], dave.self().ports.send);
		await waitFor(() => raw.from.get(dave.self().ports.send), "dave's Retry");
		for (const port of targets)
			assert.equal(raw.from.get(port) ?? 0, 0, `an answer came from port ${port}`);
		const forged = alice.sealStats().forged - forgedBefore;
		restore.pop()?.();
		const strangers =
			carol.sealStats().sealed -
			carolBefore +
			window.filter(
				(c) => c.socket !== raw.socket && c.port === swarm.discoveryPort && !looksSealed(c.bytes),
			).length;
		assert.ok(forged >= sent && forged <= sent + strangers, `${forged} forged, ${sent} probes`);
		assert.equal(alice.sealStats().replayed, 0);
		assert.deepEqual(
			alice.peers().map((p) => p.name),
			["bob"],
		);
	});

	it("a key set live makes a keyless peer join the network (and leave the old one)", async () => {
		swarm = await Swarm.create();
		const alice = await swarm.add("alice", undefined, { networkKey: KEY });
		const dave = await swarm.add("dave");
		const erin = await swarm.add("erin");
		await waitFor(() => dave.peers().length === 1, "dave sees erin");
		assert.equal(alice.peers().length, 0);
		// Dave says goodbye to the open network (under no key) before he switches.
		const left = new Promise<[string, string]>((resolve) =>
			erin.once("peer-left", (p, why) => resolve([p.name, why])),
		);
		dave.setNetworkKey(KEY);
		assert.equal(dave.keyed, true);
		await waitFor(
			() =>
				dave
					.peers()
					.map((p) => p.name)
					.join() === "alice" &&
				alice
					.peers()
					.map((p) => p.name)
					.join() === "dave",
			"dave and alice see each other",
		);
		assert.deepEqual(await left, ["dave", "bye"]);
		assert.equal(erin.peers().length, 0);
		assert.throws(() => dave.setNetworkKey(""), /must not be empty/);
		assert.equal(dave.keyed, true);
	});
});
