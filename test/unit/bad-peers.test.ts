/**
 * Bad peers at the download scheduler: the smart ban (a failed piece remembers who sent
 * each block; when it passes later, the peers whose blocks differed are blamed), a peer
 * that sends two contents for one block, corrupt pushes, have-map liars, and innocent
 * co-contributors that must never be banned. Real files and real hashing; simulated peers
 * answer through `onData` / `onError` in place of sockets.
 */
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import fs from "node:fs";
import path from "node:path";
import { afterEach, describe, it } from "node:test";
import { hash } from "../../source/protocol/hash.js";
import type { Manifest } from "../../source/protocol/manifest.js";
import { DATA_OVERHEAD, decodeMessage } from "../../source/protocol/messages.js";
import { BAN_BAD_PIECES, Download } from "../../source/transfer/download.js";
import { BASE_PLPMTU } from "../../source/transfer/path-mtu.js";
import type { Endpoint } from "../../source/transfer/serve.js";
import { type MaliciousPeer, startMaliciousPeer } from "../helpers/malicious-peer.js";
import { tempDir, waitFor } from "../helpers/net.js";
import { Swarm } from "../helpers/swarm.js";

const PIECE = 16 * 1024;

function manifestOf(content: Buffer): Manifest {
	const pieceHashes: Uint8Array[] = [];
	for (let o = 0; o < content.length; o += PIECE)
		pieceHashes.push(hash(content.subarray(o, o + PIECE)));
	return { size: content.length, pieceSize: PIECE, contentHash: hash(content), pieceHashes };
}

/**
 * A simulated peer: `answer` returns the datagrams it sends for one block request (none:
 * silent; "not found": an error), after `delayMs`.
 */
interface SimPeer {
	id: string;
	port: number;
	delayMs?: number;
	/** Have-map claimed (a partial seeder); a seeder when absent. */
	claims?: Set<number>;
	answer: (offset: number, length: number) => (Buffer | "not found" | "bad range")[];
}

function harness(content: Buffer, peers: SimPeer[]) {
	const dir = tempDir();
	const manifest = manifestOf(content);
	const fileId = randomBytes(32);
	const failures: { index: number; peerIds: string[] }[] = [];
	const banned: string[] = [];
	const requests = new Map<string, number>();
	const download: Download = new Download({
		fileId,
		id: fileId.toString("hex"),
		name: "file.bin",
		manifest,
		target: path.join(dir, "file.bin"),
		send: (datagram, to) => {
			const message = decodeMessage(datagram);
			assert.ok(message?.type === "blockRequest");
			const peer = peers.find((p) => p.port === to.port);
			assert.ok(peer);
			requests.set(peer.id, (requests.get(peer.id) ?? 0) + 1);
			const from: Endpoint = { address: "127.0.0.1", port: peer.port };
			const replies = peer.answer(message.offset, message.length);
			setTimeout(() => {
				for (const reply of replies) {
					if (reply === "not found") download.onError(from, message.offset, true);
					else if (reply === "bad range") download.onError(from, message.offset, false);
					else download.onData(from, message.offset, reply);
				}
			}, peer.delayMs ?? 0);
		},
		tokenFor: () => new Uint8Array(16),
	});
	download.on("hash-failed", (index, peerIds) => failures.push({ index, peerIds }));
	download.on("banned", (peerId) => banned.push(peerId));
	const timer = setInterval(() => download.tick(), 5);
	const pieces = Math.ceil(content.length / PIECE);
	for (const p of peers) {
		const info = { peerId: p.id, address: "127.0.0.1", port: p.port };
		if (!p.claims) download.addSource(info);
		else {
			const bits = new Uint8Array(Math.ceil(pieces / 8));
			for (const i of p.claims) bits[i >> 3] |= 0x80 >> (i & 7);
			download.addSource(info, { firstPiece: 0, bits });
		}
	}
	return {
		download,
		manifest,
		failures,
		banned,
		requests,
		done: new Promise<string>((resolve, reject) => {
			download.once("complete", resolve);
			download.once("failed", (error) => reject(new Error(error)));
		}),
		close: async () => {
			clearInterval(timer);
			await download.cancel();
			fs.rmSync(dir, { recursive: true, force: true });
		},
	};
}

/** The bytes of `content` at a request, with byte `at` (relative) flipped when `flip`. */
function slice(content: Buffer, offset: number, length: number, flip = false): Buffer {
	const bytes = Buffer.from(content.subarray(offset, offset + length));
	if (flip) bytes[length >> 1] ^= 0xff;
	return bytes;
}

const honest = (content: Buffer, id: string, port: number, delayMs = 0): SimPeer => ({
	id,
	port,
	delayMs,
	answer: (offset, length) => [slice(content, offset, length)],
});

describe("smart ban", () => {
	it("bans after two bad pieces", () => {
		assert.equal(BAN_BAD_PIECES, 2);
	});

	it("a peer corrupting blocks it serves alone is banned after two bad pieces; honest ones never", async () => {
		const content = randomBytes(48 * PIECE + 321);
		// The liar flips a byte in every block past the first one of a piece.
		const liar: SimPeer = {
			id: "liar",
			port: 9,
			answer: (offset, length) => [slice(content, offset, length, offset % PIECE !== 0)],
		};
		const h = harness(content, [honest(content, "a", 1), honest(content, "b", 2), liar]);
		try {
			await h.download.start();
			assert.ok(fs.readFileSync(await h.done).equals(content));
			assert.deepEqual(h.banned, ["liar"]);
			assert.deepEqual(h.download.bannedPeers(), ["liar"]);
			const blamed = h.failures.filter((f) => f.peerIds.includes("liar"));
			assert.ok(blamed.length >= 1, "the liar's pieces failed");
			// Pieces already on their way when the ban fell may fail too, but at most two are
			// ever counted against it, and none against an honest peer.
			assert.equal(h.download.strikesOf("liar"), BAN_BAD_PIECES);
			assert.equal(h.download.strikesOf("a") + h.download.strikesOf("b"), 0);
		} finally {
			await h.close();
		}
	});

	it("endgame: pieces mixed from an honest and a lying peer fail, the honest one is never blamed, the liar is proven by the refetch", async () => {
		// The honest peer is a partial seeder claiming every piece, so the liar (a seeder) is
		// asked only in the endgame, for blocks outstanding at the honest one, which it
		// answers first, some corrupt. The honest peer refuses blocks above the base size, so
		// both use one block size and the liar's copies fit the honest one's pieces.
		const content = randomBytes(2 * PIECE);
		const base = BASE_PLPMTU - 28 - DATA_OVERHEAD;
		const h = harness(content, [
			{
				id: "h",
				port: 1,
				delayMs: 15,
				claims: new Set([0, 1]),
				answer: (offset, length) =>
					length > base ? ["bad range"] : [slice(content, offset, length)],
			},
			{
				id: "liar",
				port: 9,
				answer: (offset, length) => [slice(content, offset, length, offset % PIECE !== 0)],
			},
		]);
		try {
			await h.download.start();
			assert.ok(fs.readFileSync(await h.done).equals(content));
			const mixed = h.failures.filter((f) => f.peerIds.length === 2);
			assert.ok(mixed.length >= 1, `a mixed piece failed: ${JSON.stringify(h.failures)}`);
			assert.deepEqual(h.banned, ["liar"]);
			assert.equal(h.download.strikesOf("h"), 0, "the honest co-contributor is not blamed");
		} finally {
			await h.close();
		}
	});

	it("a peer sending two contents for one block is banned, though the first copies were good", async () => {
		const content = randomBytes(24 * PIECE);
		const twoFaced: SimPeer = {
			id: "two-faced",
			port: 9,
			answer: (offset, length) => [
				slice(content, offset, length),
				slice(content, offset, length, true),
			],
		};
		const h = harness(content, [honest(content, "a", 1), twoFaced]);
		try {
			await h.download.start();
			assert.ok(fs.readFileSync(await h.done).equals(content));
			assert.equal(h.download.hashFailures, 0, "every first copy was right");
			assert.deepEqual(h.banned, ["two-faced"]);
			assert.equal(h.download.strikesOf("a"), 0);
		} finally {
			await h.close();
		}
	});

	it("one bad piece is forgiven (a corrupting path looks like a liar), the second is not", async () => {
		const content = randomBytes(16 * PIECE);
		let corrupted = 0;
		// Corrupts one block only: its piece fails once and is refetched from it.
		const once: SimPeer = {
			id: "once",
			port: 1,
			answer: (offset, length) => [
				slice(content, offset, length, offset === 3 * PIECE && corrupted++ === 0),
			],
		};
		const h = harness(content, [once]);
		try {
			await h.download.start();
			assert.ok(fs.readFileSync(await h.done).equals(content));
			assert.equal(h.download.hashFailures, 1);
			assert.deepEqual(h.banned, []);
			assert.equal(h.download.strikesOf("once"), 1);
		} finally {
			await h.close();
		}
	});
});

describe("pushed pieces at the download", () => {
	it("a corrupt push is never written and blames its pusher; a banned pusher is refused", async () => {
		const content = randomBytes(8 * PIECE);
		// A silent seeder keeps the download running while pushes are offered.
		const h = harness(content, [{ id: "quiet", port: 1, answer: () => [] }]);
		try {
			await h.download.start();
			const piece = (i: number, flip = false) => slice(content, i * PIECE, PIECE, flip);
			assert.equal(h.download.offerPiece(8, piece(0)), false, "no such piece");
			assert.equal(h.download.offerPiece(2, piece(2).subarray(1)), false, "wrong length");
			assert.ok(h.download.offerPiece(5, piece(5, true), "pusher"));
			await waitFor(() => h.download.strikesOf("pusher") === 1, "the corrupt push blamed");
			assert.equal(h.download.hasPiece(5), false);
			assert.ok(h.download.offerPiece(6, piece(6, true), "pusher"));
			await waitFor(() => h.banned.includes("pusher"), "the pusher banned");
			assert.equal(
				h.download.offerPiece(7, piece(7), "pusher"),
				false,
				"a banned pusher is refused",
			);
			// An honest push lands; the same piece again is refused (it is no longer missing).
			assert.ok(h.download.offerPiece(4, piece(4), "friend"));
			await waitFor(() => h.download.hasPiece(4), "the good push written");
			assert.equal(h.download.offerPiece(4, piece(4), "friend"), false);
			assert.deepEqual(h.download.bannedPeers(), ["pusher"]);
			assert.equal(h.download.strikesOf("friend"), 0);
		} finally {
			await h.close();
		}
	});
});

describe("lying about have-maps", () => {
	it("a partial seeder that claims every piece but answers 'not found' loses those claims; the download completes", async () => {
		const content = randomBytes(32 * PIECE);
		const claims = new Set(Array.from({ length: 32 }, (_, i) => i));
		const liar: SimPeer = { id: "liar", port: 9, claims, answer: () => ["not found"] };
		const h = harness(content, [liar, honest(content, "seed", 1, 2)]);
		try {
			await h.download.start();
			assert.ok(fs.readFileSync(await h.done).equals(content));
			// Each "not found" withdraws the claim for its piece: the liar is asked at most a
			// window's worth of blocks (its congestion window is at least 4) per claimed piece.
			assert.ok(
				(h.requests.get("liar") ?? 0) <= 32 * 8,
				`${h.requests.get("liar")} requests to the liar`,
			);
			assert.deepEqual(h.banned, []);
		} finally {
			await h.close();
		}
	});

	it("a partial seeder that claims pieces and never answers does not stall the download", async () => {
		const content = randomBytes(32 * PIECE);
		const claims = new Set(Array.from({ length: 32 }, (_, i) => i));
		const liar: SimPeer = { id: "liar", port: 9, claims, answer: () => [] };
		const h = harness(content, [liar, honest(content, "seed", 1, 2)]);
		try {
			await h.download.start();
			assert.ok(fs.readFileSync(await h.done).equals(content));
		} finally {
			await h.close();
		}
	});
});

describe("a swarm with one malicious peer of five (real peers on loopback)", () => {
	let swarm: Swarm | undefined;
	let mallory: MaliciousPeer | undefined;
	afterEach(async () => {
		mallory?.stop();
		mallory = undefined;
		await swarm?.close();
		swarm = undefined;
	});

	it("the download completes byte for byte; the liar is banned after at most two bad pieces, no honest peer is", {
		timeout: 60_000,
	}, async (t) => {
		swarm = await Swarm.create();
		const content = randomBytes(4 * 1024 * 1024 + 4321);
		for (const name of ["h1", "h2", "h3", "h4"]) {
			const share = path.join(swarm.root, `${name}-share`);
			fs.mkdirSync(share);
			fs.writeFileSync(path.join(share, "data.bin"), content);
			await swarm.add(name, share);
		}
		// Corrupt bytes 64 KiB apart: every piece it serves has wrong blocks.
		mallory = await startMaliciousPeer(swarm, "mallory", "data.bin", content, 64 * 1024);
		const leecher = await swarm.add("leecher");
		await swarm.waitForFiles(leecher, 1, 5);
		const [file] = leecher.files();
		const bans: string[] = [];
		leecher.on("peer-banned", (id) => bans.push(id));
		const done = leecher.download(file.id);
		await waitFor(() => leecher.downloadOf(file.id) !== undefined, "the download started");
		const download = leecher.downloadOf(file.id) as Download;
		mallory.startPushing(leecher, 5);
		const failures: string[][] = [];
		download.on("hash-failed", (_index, peerIds) => failures.push(peerIds));
		const result = await done;
		assert.equal(result.status, "complete");
		assert.ok(fs.readFileSync(result.path ?? "").equals(content), "identical bytes");
		// Its list said 1 PiB; the verified manifest said otherwise, and nothing was allocated.
		assert.equal(download.manifest.size, content.length);

		const malloryId = mallory.peer.id;
		assert.deepEqual(bans, [malloryId]);
		assert.deepEqual(
			leecher
				.peers()
				.filter((p) => p.banned)
				.map((p) => p.name),
			["mallory"],
		);
		assert.equal(download.strikesOf(malloryId), BAN_BAD_PIECES, "banned at its second bad piece");
		for (const p of leecher.peers())
			if (p.id !== malloryId) assert.equal(download.strikesOf(p.id), 0, `${p.name} not blamed`);
		// A failed piece with one contributor was always mallory's.
		for (const peerIds of failures)
			if (peerIds.length === 1) assert.deepEqual(peerIds, [malloryId]);
		// Its pushes go on after the ban and are refused at the door; the other file's pushes
		// were never taken, and nothing but the download landed in the downloads folder.
		await waitFor(() => leecher.transferStats().pushRefused > 0, "pushes refused after the ban");
		assert.ok(mallory.pushesSent > 0);
		const stats = leecher.transferStats();
		t.diagnostic(
			`hash failures ${JSON.stringify(failures.map((f) => f.length))}, pushed pieces taken ${stats.pushPieces}, refused push blocks ${stats.pushRefused}`,
		);
		assert.deepEqual(fs.readdirSync(path.dirname(result.path ?? "")), ["data.bin"]);
	});
});
