/**
 * Pieces assembled on disk (issue 14): a download whose pieces are over 1 MiB writes their
 * blocks to the partial file as they come and checks each piece by reading it back. These
 * tests drive a real Download (real partial file, real resume record) with simulated sources,
 * as engine.test.ts does, and the chunk store on its own.
 */
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import fs from "node:fs";
import path from "node:path";
import { describe, it } from "node:test";
import { hash } from "../../source/protocol/hash.js";
import type { Manifest } from "../../source/protocol/manifest.js";
import { decodeMessage } from "../../source/protocol/messages.js";
import { Download } from "../../source/transfer/download.js";
import {
	hashRange,
	MAX_STAGED_BYTES,
	PieceSpill,
	SPILL_CHUNK_BYTES,
} from "../../source/transfer/piece-spill.js";
import type { Endpoint } from "../../source/transfer/serve.js";
import { tempDir } from "../helpers/net.js";

const PIECE = 2 * 1024 * 1024;

function manifestOf(content: Buffer, pieceSize: number): Manifest {
	const pieceHashes: Uint8Array[] = [];
	for (let o = 0; o < content.length; o += pieceSize)
		pieceHashes.push(hash(content.subarray(o, o + pieceSize)));
	return { size: content.length, pieceSize, contentHash: hash(content), pieceHashes };
}

interface Source {
	endpoint: Endpoint;
	peerId: string;
	/** Its copy of the file (may be corrupt). */
	bytes: Buffer;
	served: number;
}

function harness(content: Buffer, sources: Source[]) {
	const dir = tempDir();
	const manifest = manifestOf(content, PIECE);
	const fileId = randomBytes(32);
	const download: Download = new Download({
		fileId,
		id: fileId.toString("hex"),
		name: "big.bin",
		manifest,
		target: path.join(dir, "big.bin"),
		send: (datagram, to) => {
			const message = decodeMessage(datagram);
			assert.ok(message?.type === "blockRequest");
			const source = sources.find((s) => s.endpoint.port === to.port);
			assert.ok(source);
			const payload = source.bytes.subarray(message.offset, message.offset + message.length);
			source.served += payload.length;
			setImmediate(() => download.onData(source.endpoint, message.offset, payload));
		},
		tokenFor: () => new Uint8Array(16),
	});
	const timer = setInterval(() => download.tick(), 5);
	return {
		dir,
		download,
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

function source(port: number, bytes: Buffer): Source {
	return { endpoint: { address: "127.0.0.1", port }, peerId: `peer${port}`, bytes, served: 0 };
}

describe("pieces assembled on disk", () => {
	it("a file with 2 MiB pieces from two seeders lands byte for byte, no piece held in memory", async () => {
		const content = randomBytes(5 * PIECE + 12_345);
		const sources = [source(9001, content), source(9002, content)];
		const h = harness(content, sources);
		try {
			assert.equal(h.download.assemblesOnDisk, true);
			const pieces: number[] = [];
			h.download.on("piece", (_index, data) => pieces.push(data.length));
			await h.download.start();
			for (const s of sources)
				h.download.addSource({
					peerId: s.peerId,
					address: s.endpoint.address,
					port: s.endpoint.port,
				});
			const file = await h.done;
			assert.ok(fs.readFileSync(file).equals(content));
			assert.equal(pieces.length, 6);
			assert.ok(
				pieces.every((n) => n === 0),
				"pieces assembled on disk come without their bytes",
			);
			assert.ok(
				sources.every((s) => s.served > 0),
				"both sources served",
			);
		} finally {
			await h.close();
		}
	});

	it("a corrupt piece is blamed on its one sender, fetched again from the other, and the liar banned at its second", async () => {
		const content = randomBytes(4 * PIECE);
		const corrupt = Buffer.from(content);
		for (let o = 1000; o < corrupt.length; o += PIECE) corrupt[o] ^= 0xff;
		const liar = source(9101, corrupt);
		const honest = source(9102, content);
		const h = harness(content, [liar, honest]);
		try {
			const failed: string[][] = [];
			const banned: string[] = [];
			h.download.on("hash-failed", (_index, peers) => failed.push(peers));
			h.download.on("banned", (peer) => banned.push(peer));
			await h.download.start();
			for (const s of [liar, honest])
				h.download.addSource({
					peerId: s.peerId,
					address: s.endpoint.address,
					port: s.endpoint.port,
				});
			const file = await h.done;
			assert.ok(fs.readFileSync(file).equals(content));
			assert.ok(failed.length >= 1);
			for (const peers of failed) assert.deepEqual(peers, [liar.peerId], "one sender per fetch");
			if (failed.length >= 2) assert.deepEqual(banned, [liar.peerId]);
			assert.equal(h.download.strikesOf(honest.peerId), 0);
		} finally {
			await h.close();
		}
	});
});

describe("the chunk store", () => {
	it("writes blocks arriving in any order to their place, holding at most MAX_STAGED_BYTES", async () => {
		const dir = tempDir();
		const file = path.join(dir, "part");
		const handle = await fs.promises.open(file, "w+");
		try {
			const pieceSize = 64 * SPILL_CHUNK_BYTES;
			const content = randomBytes(pieceSize);
			let drained: () => void = () => {};
			const spill = new PieceSpill(
				() => handle,
				() => drained(),
			);
			// Blocks of 1,000 bytes, every other one first (no chunk fills), then the rest; the
			// writer waits while the disk lags, as a download stops asking.
			const block = 1000;
			let peak = 0;
			for (const pass of [0, 1]) {
				for (let o = pass * block; o < pieceSize; o += 2 * block) {
					spill.put(0, o, content.subarray(o, Math.min(pieceSize, o + block)), pieceSize);
					peak = Math.max(peak, spill.stagedBytes);
					if (spill.full)
						await new Promise<void>((resolve) => {
							drained = resolve;
						});
				}
			}
			await spill.flush(0);
			assert.equal(spill.backlog, 0);
			assert.ok(peak <= MAX_STAGED_BYTES + SPILL_CHUNK_BYTES, `${peak} bytes staged`);
			const digest = await hashRange(handle, 0, pieceSize);
			assert.ok(digest.equals(hash(content)));
			assert.ok(fs.readFileSync(file).equals(content));
		} finally {
			await handle.close();
			fs.rmSync(dir, { recursive: true, force: true });
		}
	});
});
