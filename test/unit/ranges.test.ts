/**
 * Range requests (protocol revision 3, issue 14): a download asks a source for many blocks
 * in one request, and falls back to one block per request for a source of an earlier build
 * that drops them. A real Download (real partial file) with simulated sources.
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
import type { Endpoint } from "../../source/transfer/serve.js";
import { tempDir } from "../helpers/net.js";

// 1 MiB pieces: 17 loopback blocks each (a range never crosses a piece).
const PIECE = 1024 * 1024;

interface Sim {
	endpoint: Endpoint;
	/** Drops range requests, as a peer of revision 2 does (an unknown type). */
	old: boolean;
	ranges: number;
	blocks: number;
	answered: number;
	/** Data datagrams sent. */
	datagrams: number;
}

function run(content: Buffer, sims: Sim[]) {
	const dir = tempDir();
	const pieceHashes: Uint8Array[] = [];
	for (let o = 0; o < content.length; o += PIECE)
		pieceHashes.push(hash(content.subarray(o, o + PIECE)));
	const manifest: Manifest = {
		size: content.length,
		pieceSize: PIECE,
		contentHash: hash(content),
		pieceHashes,
	};
	const fileId = randomBytes(32);
	const download: Download = new Download({
		fileId,
		id: fileId.toString("hex"),
		name: "f.bin",
		manifest,
		target: path.join(dir, "f.bin"),
		ranges: true,
		send: (datagram, to) => {
			const m = decodeMessage(datagram);
			const sim = sims.find((s) => s.endpoint.port === to.port);
			assert.ok(sim);
			const answer = (offset: number, length: number) => {
				sim.answered += length;
				sim.datagrams++;
				const payload = content.subarray(offset, offset + length);
				setImmediate(() => download.onData(sim.endpoint, offset, payload));
			};
			if (m?.type === "blockRequest") {
				sim.blocks++;
				answer(m.offset, m.length);
			} else if (m?.type === "rangeRequest") {
				sim.ranges++;
				if (sim.old) return;
				for (let at = 0; at < m.length; at += m.blockSize)
					answer(m.offset + at, Math.min(m.blockSize, m.length - at));
			} else assert.fail(`unexpected ${m?.type}`);
		},
		tokenFor: () => new Uint8Array(16),
	});
	const timer = setInterval(() => download.tick(), 5);
	return {
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

function sim(port: number, old: boolean): Sim {
	return {
		endpoint: { address: "127.0.0.1", port },
		old,
		ranges: 0,
		blocks: 0,
		answered: 0,
		datagrams: 0,
	};
}

describe("range requests", () => {
	it("asks a source that answers ranges for many blocks per request", async () => {
		const content = randomBytes(8 * 1024 * 1024);
		const peer = sim(9301, false);
		const h = run(content, [peer]);
		try {
			await h.download.start();
			h.download.addSource({ peerId: "a", address: "127.0.0.1", port: 9301 });
			assert.ok(fs.readFileSync(await h.done).equals(content));
			const requests = peer.ranges + peer.blocks;
			assert.ok(peer.ranges > 0);
			assert.ok(requests * 4 < peer.datagrams, `${requests} requests for ${peer.datagrams} blocks`);
		} finally {
			await h.close();
		}
	});

	it("falls back to one block per request for a source that drops ranges", async () => {
		const content = randomBytes(2 * 1024 * 1024);
		const old = sim(9302, true);
		const h = run(content, [old]);
		try {
			await h.download.start();
			h.download.addSource({ peerId: "b", address: "127.0.0.1", port: 9302 });
			assert.ok(fs.readFileSync(await h.done).equals(content));
			assert.equal(old.ranges, 1, "one range, unanswered, then block requests only");
			assert.ok(old.blocks > 0);
		} finally {
			await h.close();
		}
	});
});
