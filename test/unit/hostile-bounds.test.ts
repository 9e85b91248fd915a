/**
 * Regression tests for what fuzzing found (issue 6): sizes and counts from the network are
 * bounded before anything is set aside for them, and tables fed by strangers stay bounded.
 * Each test names the fix it guards.
 */
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import dgram from "node:dgram";
import fs from "node:fs";
import path from "node:path";
import { describe, it } from "node:test";
import v8 from "node:v8";
import { runInNewContext } from "node:vm";
import {
	MAX_INTERVAL_MS,
	MAX_PEERS,
	MISSED_INTERVALS,
	PeerTable,
} from "../../source/discovery/table.js";
import { Library, type SharedFile } from "../../source/library/library.js";
import { downloadTarget, isInside, safeSegments } from "../../source/library/paths.js";
import { Identity } from "../../source/protocol/identity.js";
import { encodeManifest } from "../../source/protocol/manifest.js";
import {
	decodeMessage,
	encodeMessage,
	MAX_MANIFEST_BYTES,
	MIN_MANIFEST_CHUNK,
} from "../../source/protocol/messages.js";
import {
	collisionKey,
	MAX_SAFE_SEGMENT_BYTES,
	numberedSafeName,
	sanitizeName,
} from "../../source/protocol/names.js";
import { TransferEngine } from "../../source/transfer/engine.js";
import { MAX_READ_BYTES, SendService, type ServedLibrary } from "../../source/transfer/serve.js";
import { TokenIssuer } from "../../source/transfer/tokens.js";
import { freeBase, tempDir, waitFor } from "../helpers/net.js";
import { Swarm } from "../helpers/swarm.js";

const fileId = new Uint8Array(32).fill(1);

function chunk(total: number, bytes: Uint8Array, offset = 0): Buffer {
	const datagram = encodeMessage({
		type: "manifestChunk",
		requestId: 1,
		fileId,
		total: 1,
		offset: 0,
		bytes: new Uint8Array(0),
	});
	const out = Buffer.concat([datagram, bytes]);
	out.writeUInt32BE(total, 40);
	out.writeUInt32BE(offset, 44);
	return out;
}

describe("a manifest chunk's claimed total", () => {
	it("is refused above the largest manifest (a 4 GiB claim cost a 4 GiB buffer)", () => {
		assert.equal(MAX_MANIFEST_BYTES, 2_097_201);
		assert.ok(decodeMessage(chunk(MAX_MANIFEST_BYTES, Uint8Array.of(1))));
		assert.equal(decodeMessage(chunk(MAX_MANIFEST_BYTES + 1, Uint8Array.of(1))), null);
		assert.equal(decodeMessage(chunk(0xffffffff, Uint8Array.of(1))), null);
		assert.throws(
			() =>
				encodeMessage({
					type: "manifestChunk",
					requestId: 1,
					fileId,
					total: MAX_MANIFEST_BYTES + 1,
					offset: 0,
					bytes: Uint8Array.of(1),
				}),
			RangeError,
		);
	});
});

describe("fetching a manifest from a liar", () => {
	async function engineAndLiar(answer: (request: Buffer) => Buffer | undefined) {
		const library = await Library.open(tempDir("p2p-tui-empty-share-"), { watch: false });
		const engine = await TransferEngine.open({
			library,
			basePort: await freeBase(),
			bindAddress: "127.0.0.1",
			selfId: "f".repeat(32),
			peerId: Buffer.alloc(16, 0xff),
			peers: () => [],
		});
		const liar = dgram.createSocket("udp4");
		await new Promise<void>((resolve) => liar.bind(0, "127.0.0.1", resolve));
		const requests: Buffer[] = [];
		liar.on("message", (m, from) => {
			requests.push(m);
			const reply = answer(m);
			if (reply) liar.send(reply, from.port, "127.0.0.1");
		});
		return {
			engine,
			requests,
			to: { address: "127.0.0.1", port: liar.address().port },
			close: async () => {
				liar.close();
				await engine.close();
				await library.close();
			},
		};
	}

	it("gives up at once on a first chunk of a few bytes (it would cost a request per byte)", async () => {
		const { engine, requests, to, close } = await engineAndLiar((request) => {
			const m = decodeMessage(request);
			if (m?.type !== "manifestRequest") return undefined;
			const reply = chunk(MAX_MANIFEST_BYTES, Uint8Array.of(7), m.offset);
			reply.writeUInt32BE(m.requestId, 4);
			Buffer.from(m.fileId).copy(reply, 8);
			return reply;
		});
		try {
			const started = Date.now();
			await assert.rejects(engine.fetchManifest("01".repeat(32), [to]), { code: "NO_SOURCE" });
			assert.ok(Date.now() - started < 2_000, "no waiting on a liar");
			assert.equal(requests.length, 1, "one request, not one per byte of a 2 MiB claim");
		} finally {
			await close();
		}
	});

	it("says a manifest fails its id check (BAD_MANIFEST), not that no peer has one", async () => {
		// A valid manifest, of an empty file: not the one whose id is asked for.
		const manifest = encodeManifest({
			size: 0,
			pieceSize: 256 * 1024,
			contentHash: new Uint8Array(32),
			pieceHashes: [],
		});
		const { engine, to, close } = await engineAndLiar((request) => {
			const m = decodeMessage(request);
			if (m?.type !== "manifestRequest") return undefined;
			return encodeMessage({
				type: "manifestChunk",
				requestId: m.requestId,
				fileId: m.fileId,
				total: manifest.length,
				offset: 0,
				bytes: manifest,
			});
		});
		try {
			await assert.rejects(engine.fetchManifest("01".repeat(32), [to]), (error: Error) => {
				assert.equal((error as Error & { code?: string }).code, "BAD_MANIFEST");
				assert.match(error.message, /fails its id check/);
				return true;
			});
		} finally {
			await close();
		}
	});

	it("still takes a short manifest whole in one chunk under the minimum chunk size", async () => {
		assert.ok(MIN_MANIFEST_CHUNK <= 1_172 - 48, "every sender's chunk is at least this");
		// An empty file's manifest is 49 bytes: one short chunk is all of it.
		const { engine, to, close } = await engineAndLiar((request) => {
			const m = decodeMessage(request);
			if (m?.type !== "manifestRequest") return undefined;
			return encodeMessage({
				type: "manifestChunk",
				requestId: m.requestId,
				fileId: m.fileId,
				total: 49,
				offset: 0,
				bytes: new Uint8Array(49),
			});
		});
		try {
			// 49 zero bytes are no valid manifest: refused by the decoder, after one request.
			await assert.rejects(engine.fetchManifest("01".repeat(32), [to]), { code: "NO_SOURCE" });
		} finally {
			await close();
		}
	});

	it("keeps at most 4,096 tokens from Retries of forged sources", async () => {
		const { engine, close } = await engineAndLiar(() => undefined);
		try {
			const retry = encodeMessage({ type: "retry", requestId: 0, token: randomBytes(16) });
			const port = engine.ports.receive;
			// 4,300 distinct source ports (the kernel reuses closed ones), a few hundred at a time.
			const used = new Set<number>();
			while (used.size < 4_300) {
				const sockets = await Promise.all(
					Array.from({ length: 300 }, async () => {
						const s = dgram.createSocket("udp4");
						await new Promise<void>((resolve) => s.bind(0, "127.0.0.1", resolve));
						used.add(s.address().port);
						await new Promise<void>((resolve) => s.send(retry, port, "127.0.0.1", () => resolve()));
						return s;
					}),
				);
				await Promise.all(
					sockets.map((s) => new Promise<void>((resolve) => s.close(() => resolve()))),
				);
			}
			// The table is private: read it the way a debugger would.
			const tokens = (engine as unknown as { tokens: Map<string, Uint8Array> }).tokens;
			await waitFor(() => tokens.size >= 4_096, "4,096 tokens");
			// The last few hundred Retries, still on their way, must not grow it further.
			await new Promise((resolve) => setTimeout(resolve, 300));
			assert.equal(tokens.size, 4_096);
		} finally {
			await close();
		}
	});
});

describe("the discovery peer table under forged announces", () => {
	const identities = new Map<number, Identity>();
	/** Peer number `id`: an identity of a fixed seed, signing for itself. */
	const who = (id: number) => {
		let identity = identities.get(id);
		if (!identity) {
			const seed = Buffer.alloc(32);
			seed.writeUInt32BE(id, 0);
			identity = Identity.fromSeed(seed);
			identities.set(id, identity);
		}
		return identity;
	};
	const announce = (id: number, interval = 1_000) =>
		who(id).announce({
			basePort: 40_000,
			revision: 1,
			fileCount: 0xffffffff,
			interval,
			name: `p${id}`,
		});

	it(`holds at most ${MAX_PEERS} peers; the rest are refused until one leaves`, () => {
		const table = new PeerTable("00".repeat(16));
		for (let i = 1; i <= MAX_PEERS + 500; i++) table.recv(announce(i), "127.0.0.1", 1_000);
		assert.equal(table.list().length, MAX_PEERS);
		assert.equal(table.refused, 500);
		// A known peer still refreshes.
		assert.equal(table.recv(announce(1), "127.0.0.1", 2_000)?.kind, "updated");
		// A leave frees a slot for a new peer.
		assert.equal(table.recv(who(1).leave(), "127.0.0.1", 2_000)?.kind, "left");
		assert.equal(table.recv(announce(MAX_PEERS + 1_000), "127.0.0.1", 2_000)?.kind, "joined");
	});

	it("keeps a known peer's preferred address (a stranger cannot sign for its id, a replay only adds an address)", () => {
		const table = new PeerTable("00".repeat(16));
		const honest = announce(1);
		assert.equal(table.recv(honest, "192.168.1.10", 0)?.kind, "joined");
		// The stranger's own key signing for peer 1's id: forged.
		const stranger = who(666);
		const claim = stranger.sign({
			type: "announce",
			peerId: who(1).peerId,
			publicKey: stranger.publicKey,
			timestamp: Date.now() + 60_000,
			basePort: 50_000,
			revision: 2,
			fileCount: 0,
			interval: 1_000,
			name: "p1",
		});
		assert.equal(table.recv(claim, "192.168.1.66", 1), undefined);
		assert.equal(table.forged, 1);
		// Peer 1's real announce, replayed from the stranger's address: one more address,
		// but our requests still go to the first one.
		assert.equal(table.recv(honest, "192.168.1.66", 2)?.kind, "updated");
		assert.equal(table.list()[0].address, "192.168.1.10");
		assert.equal(table.list()[0].ports.receive, 40_000);
		// Bytes changed in a real announce (another base port): the signature fails.
		const moved = Buffer.from(honest);
		moved.writeUInt16BE(50_000, 60);
		assert.equal(table.recv(moved, "192.168.1.10", 3), undefined);
		assert.equal(table.forged, 2);
		assert.equal(table.list()[0].ports.receive, 40_000);
	});

	it("expires a peer claiming a 49-day interval like one announcing hourly", () => {
		const table = new PeerTable("00".repeat(16));
		table.recv(announce(1, 0xffffffff), "127.0.0.1", 0);
		assert.equal(table.list()[0].interval, MAX_INTERVAL_MS);
		assert.equal(table.expire(MISSED_INTERVALS * MAX_INTERVAL_MS).length, 0);
		assert.equal(table.expire(MISSED_INTERVALS * MAX_INTERVAL_MS + 1).length, 1);
	});
});

describe("download paths: names that only start with two dots", () => {
	it("are accepted and land inside the downloads folder (isInside took `..a` for `..`)", () => {
		const root = path.resolve("/srv/downloads");
		for (const name of ["..a", "..hidden/file", "a/..b"]) {
			assert.ok(safeSegments(name), name);
			const target = downloadTarget(root, name);
			assert.ok(target, name);
			assert.equal(target, path.join(root, name));
		}
		assert.equal(isInside(root, path.join(root, "..a")), true);
		assert.equal(isInside(root, path.resolve(root, "..")), false);
		assert.equal(isInside(root, path.resolve(root, "../x")), false);
		assert.equal(downloadTarget(root, "../x"), null);
		assert.equal(downloadTarget(root, ".."), null);
	});
});

describe("numbered names of long segments", () => {
	it("stay within 240 bytes when the last dot is early (found by the names fuzz target)", () => {
		for (const raw of [
			`ab.t${"x".repeat(300)}`,
			`nul.txt${"é".repeat(200)}`,
			`a.${"e".repeat(31)}`,
			`${"s".repeat(230)}.${"e".repeat(32)}`,
		]) {
			const verdict = sanitizeName(raw);
			assert.ok(verdict.ok, raw);
			for (const n of [1, 99, 123_456]) {
				const numbered = numberedSafeName(verdict.name, n);
				assert.ok(Buffer.byteLength(numbered) <= MAX_SAFE_SEGMENT_BYTES, `${raw} (${n})`);
				assert.ok(numbered.endsWith(`(${n})`) || numbered.includes(`(${n}).`), numbered);
				assert.equal(sanitizeName(numbered).ok, true);
			}
		}
		// A short extension is kept after the number.
		assert.equal(numberedSafeName("report.pdf", 2), "report (2).pdf");
	});
});

describe("collision keys", () => {
	it("are the same for names one normalising, case-insensitive file system takes as one (found by the names fuzz target)", () => {
		// Lowering U+1FBC gives U+1FB3, which composes with the U+0342 after U+0334.
		const upper = "\u1fbc\u0334\u0342.txt";
		const lower = "\u1fb7\u0334.txt";
		assert.equal(collisionKey(upper), collisionKey(lower));
		assert.equal(collisionKey(collisionKey(upper)), collisionKey(upper));
		assert.equal(collisionKey("Café.TXT"), collisionKey("cafe\u0301.txt"));
	});
});

describe("block reads under way", () => {
	it(`hold at most ${MAX_READ_BYTES / 1048576} MiB: a flood of requests for distinct pieces is dropped past it`, async () => {
		const pieceSize = 1024 * 1024;
		const id = "ab".repeat(32);
		const pending: { piece: number; resolve: (b: Buffer | null) => void }[] = [];
		let reads = 0;
		let most = 0;
		const library = {
			revision: 1,
			files: () => [],
			directories: () => [],
			get: (wanted: string) =>
				wanted === id ? ({ manifest: { pieceSize } } as unknown as SharedFile) : undefined,
			// A slow disk: every read waits until the test lets it finish.
			read: (_id: string, offset: number, length: number) =>
				new Promise<Buffer | null>((resolve) => {
					reads++;
					most = Math.max(most, new Set(pending.map((p) => p.piece)).size + 1);
					pending.push({
						piece: Math.floor(offset / pieceSize),
						resolve: () => resolve(Buffer.alloc(length)),
					});
				}),
		};
		const tokens = new TokenIssuer();
		const from = { address: "127.0.0.1", port: 40_000 };
		const sent: Buffer[] = [];
		const service = new SendService(library as unknown as ServedLibrary, tokens, (d) => {
			sent.push(Array.isArray(d) ? Buffer.concat(d) : d);
		});
		const token = tokens.issue(from.address, from.port);
		const ask = (piece: number, within = 0) =>
			service.recv(
				encodeMessage({
					type: "blockRequest",
					token,
					fileId: Buffer.from(id, "hex"),
					offset: piece * pieceSize + within,
					length: 1000,
				}),
				from,
			);
		for (let piece = 0; piece < 200; piece++) ask(piece);
		const bound = MAX_READ_BYTES / pieceSize;
		assert.equal(reads, bound);
		assert.equal(most, bound);
		assert.equal(service.stats.busy, 200 - bound);
		// More blocks of a piece already being read cost nothing more.
		ask(0, 5_000);
		ask(1, 9_000);
		assert.equal(reads, bound + 2);
		assert.equal(service.stats.busy, 200 - bound);
		// Once the disk answers, the bytes are given back and requests are served again.
		for (const p of pending.splice(0)) p.resolve(null);
		await new Promise((resolve) => setImmediate(resolve));
		assert.equal(sent.length, bound + 2);
		ask(150);
		assert.equal(reads, bound + 3);
		assert.equal(service.stats.busy, 200 - bound);
	});
});

describe("a long-running peer's memory", () => {
	it("does not grow with each completed download (each kept up to 8 MiB of spare piece buffers; found by the stateful fuzzer's heap check)", async () => {
		v8.setFlagsFromString("--expose-gc");
		const gc = runInNewContext("gc") as () => void;
		const heap = () => {
			gc();
			gc();
			const h = v8.getHeapStatistics();
			return h.used_heap_size + h.external_memory;
		};
		const swarm = await Swarm.create();
		try {
			const share = path.join(swarm.root, "share");
			fs.mkdirSync(share, { recursive: true });
			await swarm.add("seeder", share);
			const leecher = await swarm.add("leecher");
			const sizes: number[] = [];
			for (let i = 0; i < 6; i++) {
				fs.writeFileSync(path.join(share, `f${i}.bin`), randomBytes(4 * 1024 * 1024));
				const file = await waitFor(
					() => leecher.files().find((f) => f.name === `f${i}.bin`),
					`f${i}.bin listed`,
				);
				await leecher.download(file.id);
				sizes.push(heap());
			}
			// From the third on: by then the seeder's piece cache (8 MiB) is full.
			const growth = sizes[5] - sizes[2];
			assert.ok(
				growth < 2 * 1024 * 1024,
				`heap grew ${(growth / 1048576).toFixed(1)} MiB over 3 downloads`,
			);
		} finally {
			await swarm.close();
		}
	});
});
