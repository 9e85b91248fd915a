/**
 * Seeding what we fetched: a peer with `seed` on serves each file it downloaded, listed
 * under its network name like a shared file (marked as downloaded in its own view), for as
 * long as it runs; so a file survives its original seeder leaving. Without `seed`, nothing
 * downloaded is served once complete.
 */
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import fs from "node:fs";
import path from "node:path";
import { after, before, describe, it } from "node:test";
import type { Peer } from "../../source/peer/peer.js";
import { transferStatusText } from "../../source/ui/rows.js";
import { waitFor } from "../helpers/net.js";
import { Swarm } from "../helpers/swarm.js";

describe("seeding what we fetched", () => {
	let swarm: Swarm;
	let origin: Peer;
	let relay: Peer;
	let plain: Peer;
	const content = randomBytes(1024 * 1024 + 333);

	before(async () => {
		swarm = await Swarm.create();
		const share = path.join(swarm.root, "origin-share");
		fs.mkdirSync(path.join(share, "albums"), { recursive: true });
		fs.writeFileSync(path.join(share, "albums", "take.flac"), content);
		origin = await swarm.add("origin", share);
		relay = await swarm.add("relay", undefined, { seed: true });
		plain = await swarm.add("plain", undefined, { seed: false });
		await swarm.waitForFiles(relay, 1);
		await swarm.waitForFiles(plain, 1);
	});

	after(() => swarm.close());

	it("serves a completed download under its name, marked as downloaded in its own view", async () => {
		const file = relay.findFile("albums/take.flac");
		assert.ok(file);
		const state = await relay.download(file.id, file.name);
		await relay.seeded();
		assert.equal(state.status, "complete");
		const own = relay.sharedFiles();
		assert.deepEqual(
			own.map((f) => [f.name, f.id, f.downloaded]),
			[["albums/take.flac", file.id, state.path]],
		);
		assert.equal(relay.self().seededFiles, 1);
		const transfer = relay.transfers().find((t) => t.fileId === file.id);
		assert.equal(transfer?.seeding, true);
		assert.ok(transfer);
		assert.equal(transferStatusText(transfer), "done · seeding", "the Transfers pane says so");
		// The plain peer sees the relay as a second source of the file.
		await waitFor(
			() => plain.files().find((f) => f.id === file.id)?.peers.length === 2,
			"the relay listed as a source",
		);
	});

	it("a peer without seed serves nothing it downloaded", async () => {
		const file = plain.findFile("albums/take.flac");
		assert.ok(file);
		const state = await plain.download(file.id, file.name);
		await plain.seeded();
		assert.equal(state.status, "complete");
		assert.deepEqual(plain.sharedFiles(), []);
		assert.equal(plain.transfers().find((t) => t.fileId === file.id)?.seeding, undefined);
	});

	it("a file completed by one peer is fetched from it after its original seeder left", async () => {
		const id = relay.findFile("albums/take.flac")?.id;
		assert.ok(id);
		await origin.stop();
		const late = await swarm.add("late");
		await waitFor(() => {
			const file = late.files().find((f) => f.id === id);
			return file && file.peers.length === 1 && file.peers[0] === relay.id;
		}, "the file listed by the relay alone");
		await waitFor(() => !late.peers().some((p) => p.id === origin.id), "origin gone");
		const state = await late.download(id, "albums/take.flac");
		assert.equal(state.status, "complete");
		assert.ok(fs.readFileSync(state.path ?? "").equals(content));
		assert.equal(state.fromSeeders + state.fromDistribution, content.length);
	});
});
