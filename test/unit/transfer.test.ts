import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import fs from "node:fs";
import path from "node:path";
import { afterEach, describe, it } from "node:test";
import { identityOf } from "../../source/library/identity.js";
import { IndexCache } from "../../source/library/index-cache.js";
import { hashFile } from "../../source/library/library.js";
import { fixturesDir, listFiles, waitFor } from "../helpers/net.js";
import { Swarm } from "../helpers/swarm.js";

describe("transfers between peers on loopback", () => {
	let swarm: Swarm;
	afterEach(async () => {
		await swarm.close();
	});

	it("downloads every fixture from two seeders, byte for byte", async () => {
		swarm = await Swarm.create();
		const fixtures = fixturesDir();
		const names = listFiles(fixtures);
		await swarm.add("alice", fixtures);
		await swarm.add("bob", fixtures);
		const leecher = await swarm.add("carol");
		await swarm.waitForFiles(leecher, names.length, 2);
		assert.deepEqual(
			leecher
				.files()
				.map((f) => f.name)
				.sort(),
			names,
		);
		for (const file of leecher.files()) {
			const result = await leecher.download(file.id);
			assert.equal(result.status, "complete");
			const expected = path.join(leecher.self().downloadsDir, ...file.name.split("/"));
			assert.equal(result.path, expected);
			assert.ok(
				fs.readFileSync(expected).equals(fs.readFileSync(path.join(fixtures, file.name))),
				file.name,
			);
		}
		const downloads = leecher.self().downloadsDir;
		assert.deepEqual(listFiles(downloads), names, "no partial file left behind");
	});

	it("refetches corrupt pieces from an honest peer", async () => {
		swarm = await Swarm.create();
		const content = randomBytes(4 * 1024 * 1024 + 777);
		const good = path.join(swarm.root, "good");
		const bad = path.join(swarm.root, "bad");
		// A whole-second mtime: utimes can set it back exactly after the corruption.
		const mtime = new Date("2026-01-01T00:00:00Z");
		for (const dir of [good, bad]) {
			fs.mkdirSync(dir, { recursive: true });
			fs.writeFileSync(path.join(dir, "data.bin"), content);
			fs.utimesSync(path.join(dir, "data.bin"), mtime, mtime);
		}
		// The liar's copy is corrupt (a byte in every piece), yet its index cache holds the
		// honest manifest for it: it serves wrong bytes under the right manifest. (A change
		// made while it runs, even one that puts size and mtime back, is seen and re-hashed.)
		const file = fs.realpathSync(path.join(bad, "data.bin"));
		const fd = fs.openSync(file, "r+");
		for (let offset = 1000; offset < content.length; offset += 256 * 1024) {
			fs.writeSync(fd, Buffer.from([content[offset] ^ 0xff]), 0, 1, offset);
		}
		fs.closeSync(fd);
		const honest = await hashFile(path.join(good, "data.bin"));
		const liarData = path.join(swarm.root, "liar-data");
		const poisoned = await IndexCache.load(liarData);
		const identity = identityOf(fs.statSync(file, { bigint: true }));
		poisoned.remember(file, identity, honest.manifestBytes, identity.ctimeNs + 10_000_000_000n);
		assert.ok(await poisoned.save());
		await swarm.add("honest", good);
		const liar = await swarm.add("liar", bad, { dataDir: liarData });
		assert.deepEqual(
			liar.sharedFiles().map((f) => f.id),
			[honest.idBytes.toString("hex")],
		);

		const leecher = await swarm.add("leecher");
		await swarm.waitForFiles(leecher, 1, 2);
		const [wanted] = leecher.files();
		const result = await leecher.download(wanted.id);
		assert.ok(result.hashFailures >= 1, "some piece from the liar failed its hash");
		assert.ok(fs.readFileSync(result.path ?? "").equals(content));
	});

	it("a download never overwrites a different file: it takes a free name", async () => {
		swarm = await Swarm.create();
		const fixtures = fixturesDir();
		await swarm.add("alice", fixtures);
		const leecher = await swarm.add("carol");
		await swarm.waitForFiles(leecher, listFiles(fixtures).length);
		const downloads = leecher.self().downloadsDir;
		fs.mkdirSync(downloads, { recursive: true });
		fs.writeFileSync(path.join(downloads, "hello.txt"), "mine, do not touch\n");
		const hello = leecher.findFile("hello.txt");
		assert.ok(hello);
		const result = await leecher.download(hello.id);
		assert.equal(result.path, path.join(downloads, "hello (1).txt"));
		assert.equal(
			fs.readFileSync(path.join(downloads, "hello.txt"), "utf8"),
			"mine, do not touch\n",
		);
		assert.ok(
			fs
				.readFileSync(path.join(downloads, "hello (1).txt"))
				.equals(fs.readFileSync(path.join(fixtures, "hello.txt"))),
		);
	});

	it("two leechers push verified pieces to each other (distribution)", async () => {
		swarm = await Swarm.create();
		const content = randomBytes(12 * 1024 * 1024);
		const share = path.join(swarm.root, "seed-share");
		fs.mkdirSync(share, { recursive: true });
		fs.writeFileSync(path.join(share, "big.bin"), content);
		// A slow seeder (4 MB/s) gives the leechers time to trade pieces.
		const seeder = await swarm.add("seeder", share, { maxUploadRate: 4_000_000 });
		const one = await swarm.add("one");
		const two = await swarm.add("two");
		await swarm.waitForFiles(one, 1);
		await swarm.waitForFiles(two, 1);
		// Interest goes to peers discovery knows: wait until the leechers know each other.
		await waitFor(
			() => one.peers().some((p) => p.name === "two") && two.peers().some((p) => p.name === "one"),
			"the leechers know each other",
		);
		const id = one.files()[0].id;
		const [a, b] = await Promise.all([one.download(id), two.download(id)]);
		assert.ok(fs.readFileSync(a.path ?? "").equals(content));
		assert.ok(fs.readFileSync(b.path ?? "").equals(content));
		const distributed = a.fromDistribution + b.fromDistribution;
		assert.ok(distributed > 0, "some pieces arrived by distribution");
		assert.equal(a.fromSeeders + a.fromDistribution >= content.length, true);
		assert.ok(
			seeder.uploaded < 2 * content.length,
			`seeder uploaded ${seeder.uploaded} bytes, under twice the file`,
		);
	});
});
