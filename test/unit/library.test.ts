import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import { after, describe, it } from "node:test";
import { Library } from "../../source/library/library.js";
import { hash, toHex } from "../../source/protocol/hash.js";
import { decodeManifest, manifestId } from "../../source/protocol/manifest.js";
import { fixturesDir, listFiles, tempDir } from "../helpers/net.js";

describe("Library", () => {
	const root = tempDir();
	after(() => fs.rmSync(root, { recursive: true, force: true }));

	it("indexes every fixture with manifests whose content hash is b3sum's and whose id is the manifest's BLAKE3", async () => {
		const fixtures = fixturesDir();
		const library = await Library.open(fixtures);
		after(() => library.close());
		await library.ready();
		assert.deepEqual(
			library.files().map((f) => f.name),
			listFiles(fixtures),
		);
		for (const f of library.files()) {
			const b3 = execFileSync("b3sum", ["--no-names", path.join(fixtures, f.name)], {
				encoding: "utf8",
			}).trim();
			assert.equal(toHex(f.manifest.contentHash), b3, f.name);
			assert.equal(f.id, toHex(manifestId(f.manifestBytes)));
			assert.deepEqual(decodeManifest(f.manifestBytes)?.size, f.size);
		}
		const big = library.files().find((f) => f.name === "random-3MiB.bin");
		assert.ok(big);
		assert.equal(big.manifest.pieceHashes.length, Math.ceil(big.size / big.manifest.pieceSize));
		const data = fs.readFileSync(path.join(fixtures, big.name));
		const piece1 = data.subarray(big.manifest.pieceSize, 2 * big.manifest.pieceSize);
		assert.ok(hash(piece1).equals(Buffer.from(big.manifest.pieceHashes[1])));
		const block = await library.read(big.id, big.manifest.pieceSize + 100, 5000);
		assert.ok(
			block?.equals(data.subarray(big.manifest.pieceSize + 100, big.manifest.pieceSize + 5100)),
		);
		// A range across a piece boundary or past the end is refused.
		assert.equal(await library.read(big.id, big.manifest.pieceSize - 10, 20), null);
		assert.equal(await library.read(big.id, big.size - 1, 2), null);
		assert.equal(await library.read("00".repeat(32), 0, 1), null);
	});

	it("serves only regular files inside the folder: no links out, no partial downloads", async () => {
		const share = path.join(root, "share");
		const outside = path.join(root, "outside");
		fs.mkdirSync(path.join(share, "sub"), { recursive: true });
		fs.mkdirSync(outside, { recursive: true });
		fs.writeFileSync(path.join(share, "inside.txt"), "inside");
		fs.writeFileSync(path.join(outside, "secret.txt"), "secret");
		fs.symlinkSync(path.join(outside, "secret.txt"), path.join(share, "link-out.txt"));
		fs.symlinkSync(outside, path.join(share, "dir-out"));
		fs.symlinkSync(path.join(share, "inside.txt"), path.join(share, "sub", "link-in.txt"));
		fs.writeFileSync(path.join(share, "half.bin.p2p-part"), "partial");
		const library = await Library.open(share);
		after(() => library.close());
		await library.ready();
		assert.deepEqual(
			library.files().map((f) => f.name),
			["inside.txt", "sub/link-in.txt"],
		);
	});

	it("stops serving a file that changed after indexing, and re-indexes it", async () => {
		const share = path.join(root, "changing");
		fs.mkdirSync(share, { recursive: true });
		const file = path.join(share, "a.txt");
		fs.writeFileSync(file, "version one");
		const library = await Library.open(share, { watch: false });
		after(() => library.close());
		await library.ready();
		const [before] = library.files();
		fs.writeFileSync(file, "version two!");
		fs.utimesSync(file, new Date(), new Date(Date.now() + 5000));
		assert.equal(await library.read(before.id, 0, 5), null);
		const revision = library.revision;
		await library.rescan();
		const [now] = library.files();
		assert.notEqual(now.id, before.id);
		assert.ok(library.revision !== revision);
		assert.equal((await library.read(now.id, 0, 12))?.toString(), "version two!");
	});
});
