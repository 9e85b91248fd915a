/**
 * The download scheduler on its own: real files, real hashing, and simulated paths and
 * peers in place of sockets (every request goes through `send`, every answer comes back
 * through `onData`), so path MTU limits, rarity, stripes and the endgame can be set up
 * exactly.
 */
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import fs from "node:fs";
import path from "node:path";
import { describe, it } from "node:test";
import fc from "fast-check";
import { hash } from "../../source/protocol/hash.js";
import { type Manifest, pieceCount } from "../../source/protocol/manifest.js";
import { DATA_OVERHEAD, decodeMessage } from "../../source/protocol/messages.js";
import { decodeResume, encodeResume } from "../../source/protocol/resume.js";
import { Download } from "../../source/transfer/download.js";
import { BASE_PLPMTU, maxDatagramFor, PathMtuSearch } from "../../source/transfer/path-mtu.js";
import type { Endpoint } from "../../source/transfer/serve.js";
import { tempDir, waitFor } from "../helpers/net.js";

const PIECE = 16 * 1024;

function manifestOf(content: Buffer, pieceSize = PIECE): Manifest {
	const pieceHashes: Uint8Array[] = [];
	for (let o = 0; o < content.length; o += pieceSize)
		pieceHashes.push(hash(content.subarray(o, o + pieceSize)));
	return { size: content.length, pieceSize, contentHash: hash(content), pieceHashes };
}

/** A simulated peer: how it answers block requests for `content`. */
interface SimPeer {
	endpoint: Endpoint;
	/** Largest datagram the path carries; bigger answers are lost. */
	pathMtu?: number;
	/** Never answers. */
	silent?: boolean;
	/** Pieces it holds (a partial seeder); all when absent. */
	pieces?: Set<number>;
	requests: { offset: number; length: number }[];
}

function harness(content: Buffer, peers: SimPeer[], pieceSize = PIECE) {
	const dir = tempDir();
	const manifest = manifestOf(content, pieceSize);
	const fileId = randomBytes(32);
	const download: Download = new Download({
		fileId,
		id: fileId.toString("hex"),
		name: "file.bin",
		manifest,
		target: path.join(dir, "file.bin"),
		send: (datagram, to) => {
			const message = decodeMessage(datagram);
			assert.ok(message?.type === "blockRequest");
			const peer = peers.find((p) => p.endpoint.port === to.port);
			assert.ok(peer);
			peer.requests.push({ offset: message.offset, length: message.length });
			if (peer.silent) return;
			if (peer.pathMtu !== undefined && message.length + DATA_OVERHEAD > peer.pathMtu) return;
			const index = Math.floor(message.offset / pieceSize);
			if (peer.pieces && !peer.pieces.has(index)) return;
			const payload = content.subarray(message.offset, message.offset + message.length);
			setImmediate(() => download.onData(peer.endpoint, message.offset, payload));
		},
		tokenFor: () => new Uint8Array(16),
	});
	const timer = setInterval(() => download.tick(), 5);
	return {
		dir,
		download,
		manifest,
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

function sim(port: number, extra: Partial<SimPeer> = {}): SimPeer {
	return { endpoint: { address: "127.0.0.1", port }, requests: [], ...extra };
}

describe("datagram size search (RFC 8899)", () => {
	it("climbs from the base size to the ceiling when every probe is answered", () => {
		const search = new PathMtuSearch(61_504);
		assert.equal(search.confirmed, BASE_PLPMTU - 28);
		const probed: number[] = [];
		for (let probe = search.probe; probe !== undefined; probe = search.probe) {
			probed.push(probe);
			search.acknowledge(probe);
		}
		assert.deepEqual(probed, [1472, 8972, 16_356, 32_740, 61_504]);
		assert.equal(search.confirmed, 61_504);
	});

	it("stops below a size whose probe is lost twice, or refused once", () => {
		const lost = new PathMtuSearch(61_504);
		lost.acknowledge(1472);
		assert.equal(lost.probe, 8972);
		lost.lose();
		assert.equal(lost.probe, 8972, "one loss may be chance: probe again");
		lost.lose();
		assert.equal(lost.probe, undefined);
		assert.equal(lost.confirmed, 1472);
		const refused = new PathMtuSearch(61_504);
		refused.lose(true);
		assert.equal(refused.probe, undefined);
		assert.equal(refused.confirmed, BASE_PLPMTU - 28);
	});

	it("never probes above our interface's ceiling", () => {
		assert.equal(maxDatagramFor("127.0.0.1"), 61_504);
		const search = new PathMtuSearch(1472);
		assert.equal(search.probe, 1472);
		search.acknowledge(1472);
		assert.equal(search.probe, undefined);
	});

	it("with a network key, leaves room for the seal: a sealed probe is the ladder's size", () => {
		const overhead = 43;
		assert.equal(maxDatagramFor("127.0.0.1", overhead), 61_504 - overhead);
		const search = new PathMtuSearch(maxDatagramFor("127.0.0.1", overhead), overhead);
		assert.equal(search.confirmed + overhead, BASE_PLPMTU - 28);
		const probed: number[] = [];
		for (let probe = search.probe; probe !== undefined; probe = search.probe) {
			probed.push(probe + overhead);
			search.acknowledge(probe);
		}
		assert.deepEqual(probed, [1472, 8972, 16_356, 32_740, 61_504]);
		// An Ethernet interface (1472-byte datagrams): nothing sealed goes above it.
		const ethernet = new PathMtuSearch(1472 - overhead, overhead);
		assert.equal(ethernet.probe, 1472 - overhead);
		ethernet.acknowledge(1472 - overhead);
		assert.equal(ethernet.probe, undefined);
	});

	it("a download settles on the largest block the path carries and completes", async () => {
		const content = randomBytes(40 * PIECE + 123);
		// Datagrams above 9000 bytes never arrive (a jumbo-frame LAN).
		const peer = sim(1, { pathMtu: 9000 });
		const h = harness(content, [peer]);
		try {
			h.download.addSource({ peerId: "a", ...peer.endpoint, port: 1 });
			await h.download.start();
			const file = await h.done;
			assert.ok(fs.readFileSync(file).equals(content));
			assert.equal(h.download.blockSize, 8972 - DATA_OVERHEAD);
			const lengths = new Set(peer.requests.map((r) => r.length));
			assert.ok(lengths.has(16_356 - DATA_OVERHEAD), "it probed the next size up");
		} finally {
			await h.close();
		}
	});
});

describe("piece selection", () => {
	it("asks a seeder only for pieces no leecher holds; the leecher serves the rest", async () => {
		const content = randomBytes(32 * PIECE);
		const held = new Set([0, 1, 2, 3, 4, 5, 6, 7]);
		const seeder = sim(1);
		const leecher = sim(2, { pieces: held });
		const h = harness(content, [seeder, leecher]);
		try {
			const bits = new Uint8Array(4);
			bits[0] = 0xff; // pieces 0..7
			h.download.addSource({ peerId: "leecher", ...leecher.endpoint }, { firstPiece: 0, bits });
			h.download.addSource({ peerId: "seeder", ...seeder.endpoint });
			await h.download.start();
			const file = await h.done;
			assert.ok(fs.readFileSync(file).equals(content));
			const fromSeeder = new Set(seeder.requests.map((r) => Math.floor(r.offset / PIECE)));
			for (const index of held) assert.ok(!fromSeeder.has(index), `piece ${index} not asked`);
			assert.ok(leecher.requests.length > 0);
			const state = h.download.state();
			assert.equal(state.fromDistribution, 8 * PIECE);
			assert.equal(state.fromSeeders, 24 * PIECE);
		} finally {
			await h.close();
		}
	});

	it("prefers its own stripes when it knows other leechers of the file", async () => {
		const content = randomBytes(96 * PIECE);
		const seeder = sim(1);
		const h = harness(content, [seeder]);
		try {
			h.download.setSwarm(1, 3);
			h.download.addSource({ peerId: "seeder", ...seeder.endpoint });
			await h.download.start();
			await h.done;
			const order: number[] = [];
			for (const r of seeder.requests) {
				const index = Math.floor(r.offset / PIECE);
				if (order[order.length - 1] !== index && !order.includes(index)) order.push(index);
			}
			// Stripes of 8 pieces dealt to 3 leechers: ours (rank 1) are 8..15, 32..39, 56..63, 80..87.
			const ours = (i: number) => Math.floor(i / 8) % 3 === 1;
			const firstThird = order.slice(0, 32);
			assert.ok(
				firstThird.every(ours),
				`the first 32 pieces asked are ours: ${firstThird.join(",")}`,
			);
		} finally {
			await h.close();
		}
	});

	it("endgame: a silent source's blocks are asked of another and the download ends", async () => {
		const content = randomBytes(24 * PIECE);
		const good = sim(1);
		const silent = sim(2, { silent: true });
		const h = harness(content, [good, silent]);
		try {
			h.download.addSource({ peerId: "silent", ...silent.endpoint });
			h.download.addSource({ peerId: "good", ...good.endpoint });
			await h.download.start();
			const file = await h.done;
			assert.ok(fs.readFileSync(file).equals(content));
			assert.ok(silent.requests.length > 0, "the silent source was given work");
		} finally {
			await h.close();
		}
	});

	it("resumes from its record: only pieces not on disk are asked for", async () => {
		const content = randomBytes(20 * PIECE + 5);
		const seeder = sim(1);
		const first = harness(content, [seeder]);
		const target = path.join(first.dir, "file.bin");
		// Pieces 0..9 on disk and in the record, as a run cut short would leave them.
		fs.writeFileSync(`${target}.p2p-part`, content.subarray(0, 10 * PIECE));
		const have = new Uint8Array(Math.ceil(pieceCount(content.length, PIECE) / 8));
		have[0] = 0xff;
		have[1] = 0xc0;
		const fileId = Buffer.from(first.download.state().fileId, "hex");
		fs.writeFileSync(
			`${target}.p2p-resume`,
			encodeResume({ fileId, size: content.length, pieceSize: PIECE, have }),
		);
		try {
			first.download.addSource({ peerId: "seeder", ...seeder.endpoint });
			await first.download.start();
			const file = await first.done;
			assert.ok(fs.readFileSync(file).equals(content));
			const asked = new Set(seeder.requests.map((r) => Math.floor(r.offset / PIECE)));
			for (let i = 0; i < 10; i++) assert.ok(!asked.has(i), `piece ${i} was on disk`);
			assert.equal(first.download.state().resumedBytes, 10 * PIECE);
			assert.ok(!fs.existsSync(`${target}.p2p-resume`), "the record goes with the partial file");
		} finally {
			await first.close();
		}
	});

	it("a record that lies is caught by the whole-file check and its bad pieces refetched", async () => {
		const content = randomBytes(12 * PIECE);
		const seeder = sim(1);
		const h = harness(content, [seeder]);
		const target = path.join(h.dir, "file.bin");
		const wrong = Buffer.from(content);
		wrong[3 * PIECE + 7] ^= 0xff; // piece 3 on disk is damaged
		fs.writeFileSync(`${target}.p2p-part`, wrong);
		const fileId = Buffer.from(h.download.state().fileId, "hex");
		fs.writeFileSync(
			`${target}.p2p-resume`,
			encodeResume({
				fileId,
				size: content.length,
				pieceSize: PIECE,
				have: Uint8Array.from([0xff, 0xf0]),
			}),
		);
		try {
			h.download.addSource({ peerId: "seeder", ...seeder.endpoint });
			await h.download.start();
			const file = await h.done;
			assert.ok(fs.readFileSync(file).equals(content));
			const asked = new Set(seeder.requests.map((r) => Math.floor(r.offset / PIECE)));
			assert.deepEqual([...asked], [3]);
		} finally {
			await h.close();
		}
	});

	it("waits with no source and goes on by itself when one appears", async () => {
		const content = randomBytes(8 * PIECE);
		const seeder = sim(1);
		const h = harness(content, [seeder]);
		try {
			await h.download.start();
			assert.equal(h.download.state().status, "waiting");
			h.download.addSource({ peerId: "seeder", ...seeder.endpoint });
			assert.equal(h.download.state().status, "downloading");
			assert.ok(fs.readFileSync(await h.done).equals(content));
		} finally {
			await h.close();
		}
	});

	it("a source that leaves gives its pieces to the others; nothing verified is fetched again", async () => {
		const content = randomBytes(64 * PIECE);
		const a = sim(1);
		const b = sim(2);
		const h = harness(content, [a, b]);
		try {
			h.download.addSource({ peerId: "a", ...a.endpoint });
			h.download.addSource({ peerId: "b", ...b.endpoint });
			await h.download.start();
			await waitFor(() => h.download.state().verifiedPieces >= 8, "some pieces verified");
			a.silent = true;
			h.download.removeSource(a.endpoint.address, a.endpoint.port);
			assert.ok(fs.readFileSync(await h.done).equals(content));
			const state = h.download.state();
			assert.equal(state.hashFailures, 0);
			assert.ok(state.fromSeeders <= content.length, "no verified byte came twice");
		} finally {
			await h.close();
		}
	});
});

describe("resume record codec", () => {
	it("round-trips any have-map and refuses any damaged byte or truncation", () => {
		fc.assert(
			fc.property(
				fc.integer({ min: 1, max: 5000 }),
				fc.integer({ min: 14, max: 24 }),
				fc.infiniteStream(fc.boolean()),
				fc.nat(),
				(pieces, log2, bits, flip) => {
					const pieceSize = 2 ** log2;
					const size = (pieces - 1) * pieceSize + 1;
					const have = new Uint8Array(Math.ceil(pieces / 8));
					const it = bits[Symbol.iterator]();
					for (let i = 0; i < pieces; i++) if (it.next().value) have[i >> 3] |= 0x80 >> (i & 7);
					const fileId = randomBytes(32);
					const bytes = encodeResume({ fileId, size, pieceSize, have });
					const back = decodeResume(bytes);
					assert.ok(back);
					assert.deepEqual(Buffer.from(back.have), Buffer.from(have));
					assert.equal(back.size, size);
					assert.equal(back.pieceSize, pieceSize);
					assert.ok(Buffer.from(back.fileId).equals(fileId));
					const damaged = Buffer.from(bytes);
					damaged[flip % damaged.length] ^= 1 << (flip % 8);
					assert.equal(decodeResume(damaged), null);
					assert.equal(decodeResume(bytes.subarray(0, bytes.length - 1)), null);
				},
			),
			{ numRuns: 200 },
		);
	});

	it("describes sizes above 4 GiB exactly", () => {
		const size = 5 * 1024 ** 3 + 17;
		const pieceSize = 512 * 1024;
		const have = new Uint8Array(Math.ceil(pieceCount(size, pieceSize) / 8)).fill(0xaa);
		const spare = have.length * 8 - pieceCount(size, pieceSize);
		have[have.length - 1] &= 0xff << spare;
		const back = decodeResume(encodeResume({ fileId: randomBytes(32), size, pieceSize, have }));
		assert.equal(back?.size, size);
	});
});
