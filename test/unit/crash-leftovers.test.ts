/**
 * What a download killed while moving its verified file to the final name leaves behind
 * (the partial file hard-linked to the final name, its resume record): the next download
 * of the file keeps the placed file and deletes those leftovers, and only those.
 */
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import fs from "node:fs";
import path from "node:path";
import { describe, it } from "node:test";
import { pieceCount, pieceSizeFor } from "../../source/protocol/manifest.js";
import { encodeResume } from "../../source/protocol/resume.js";
import { Swarm } from "../helpers/swarm.js";

/** A resume record of file `id` naming every piece of a `size`-byte file. */
function fullRecord(id: string, size: number): Buffer {
	const pieceSize = pieceSizeFor(size);
	const have = new Uint8Array(Math.ceil(pieceCount(size, pieceSize) / 8)).fill(0xff);
	const spare = have.length * 8 - pieceCount(size, pieceSize);
	have[have.length - 1] &= 0xff << spare;
	return encodeResume({ fileId: Buffer.from(id, "hex"), size, pieceSize, have });
}

describe("leftovers of a download killed while placing its file", () => {
	it("are deleted when the next download finds the file in place; other files stay", async () => {
		const swarm = await Swarm.create();
		try {
			const size = 700_000;
			const share = path.join(swarm.root, "seed-share");
			fs.mkdirSync(share, { recursive: true });
			const content = randomBytes(size);
			fs.writeFileSync(path.join(share, "a.bin"), content);
			fs.writeFileSync(path.join(share, "b.bin"), randomBytes(size));
			await swarm.add("seeder", share);
			const leecher = await swarm.add("leecher");
			await swarm.waitForFiles(leecher, 2);
			const a = leecher.files().find((f) => f.name === "a.bin");
			const b = leecher.files().find((f) => f.name === "b.bin");
			assert.ok(a && b);
			const dl = leecher.self().downloadsDir;
			fs.mkdirSync(dl, { recursive: true });

			// a.bin: killed after the link to the final name, before the partial file's unlink.
			const finalA = path.join(dl, "a.bin");
			fs.writeFileSync(finalA, content);
			fs.linkSync(finalA, `${finalA}.p2p-part`);
			fs.writeFileSync(`${finalA}.p2p-resume`, fullRecord(a.id, size));
			fs.writeFileSync(`${finalA}.p2p-resume.tmp`, "cut short");
			const first = await leecher.download(a.id);
			assert.equal(first.status, "complete");
			assert.equal(first.path, finalA);
			assert.ok(fs.readFileSync(finalA).equals(content));
			assert.deepEqual(fs.readdirSync(dl).sort(), ["a.bin"]);

			// Killed after the unlink, before the record's removal: the record alone is left.
			fs.writeFileSync(`${finalA}.p2p-resume`, fullRecord(a.id, size));
			await leecher.download(a.id);
			assert.deepEqual(fs.readdirSync(dl).sort(), ["a.bin"]);

			// A partial file and record of another file under that name are not ours to delete.
			fs.writeFileSync(`${finalA}.p2p-part`, "someone else's");
			fs.writeFileSync(`${finalA}.p2p-resume`, fullRecord(b.id, size));
			await leecher.download(a.id);
			assert.deepEqual(fs.readdirSync(dl).sort(), ["a.bin", "a.bin.p2p-part", "a.bin.p2p-resume"]);
			assert.equal(fs.readFileSync(`${finalA}.p2p-part`, "utf8"), "someone else's");
		} finally {
			await swarm.close();
		}
	});
});
