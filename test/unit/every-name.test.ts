/**
 * Every name listed: the network's files are one entry per (name, content) pair, so one
 * content shared under several names (a symlink and its target, one song in two folders)
 * is listed, searchable and downloadable under each, while its sources are merged by
 * content id and each peer is counted once. A symlink inside the shared folder to a file
 * inside it is listed under its own name; one leading outside is refused.
 */
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import fs from "node:fs";
import path from "node:path";
import { after, before, describe, it } from "node:test";
import type { Peer } from "../../source/peer/peer.js";
import { fuzzySearch } from "../../source/search/fuzzy.js";
import { waitFor } from "../helpers/net.js";
import { Swarm } from "../helpers/swarm.js";

describe("every name listed", () => {
	let swarm: Swarm;
	let alice: Peer;
	let bob: Peer;
	let leecher: Peer;
	const gpl = randomBytes(300 * 1024);
	const song = randomBytes(200 * 1024);
	const secret = Buffer.from("outside the shared folder\n");

	before(async () => {
		swarm = await Swarm.create();
		const aliceShare = path.join(swarm.root, "alice-share");
		const bobShare = path.join(swarm.root, "bob-share");
		const outside = path.join(swarm.root, "outside");
		for (const dir of ["lic", "music", "other"])
			fs.mkdirSync(path.join(aliceShare, dir), { recursive: true });
		fs.mkdirSync(path.join(bobShare, "music"), { recursive: true });
		fs.mkdirSync(outside, { recursive: true });
		fs.writeFileSync(path.join(aliceShare, "lic", "GPL-3"), gpl);
		// A relative link to a file inside the folder, as Debian's common-licenses has.
		fs.symlinkSync("GPL-3", path.join(aliceShare, "lic", "GPL"));
		fs.writeFileSync(path.join(outside, "secret.txt"), secret);
		fs.symlinkSync(path.join(outside, "secret.txt"), path.join(aliceShare, "lic", "secret"));
		fs.writeFileSync(path.join(aliceShare, "music", "song.mp3"), song);
		fs.writeFileSync(path.join(aliceShare, "other", "copy.mp3"), song);
		fs.writeFileSync(path.join(bobShare, "music", "song.mp3"), song);
		alice = await swarm.add("alice", aliceShare);
		bob = await swarm.add("bob", bobShare);
		leecher = await swarm.add("leecher");
		await waitFor(
			() =>
				leecher.files().length === 4 &&
				leecher.files().find((f) => f.name === "music/song.mp3")?.peers.length === 2,
			"four names from alice and bob",
		);
	});

	after(() => swarm.close());

	it("lists every name of a content, each peer counted once", () => {
		const files = leecher.files();
		assert.deepEqual(
			files.map((f) => f.name),
			["lic/GPL", "lic/GPL-3", "music/song.mp3", "other/copy.mp3"],
		);
		const byName = new Map(files.map((f) => [f.name, f]));
		// The link and its target: one content, two names, one peer (alice lists it twice).
		assert.equal(byName.get("lic/GPL")?.id, byName.get("lic/GPL-3")?.id);
		assert.deepEqual(byName.get("lic/GPL")?.peers, [alice.id]);
		assert.deepEqual(byName.get("lic/GPL-3")?.peers, [alice.id]);
		// The song: alice has it under two names, bob under one; both are sources of each name.
		for (const name of ["music/song.mp3", "other/copy.mp3"])
			assert.deepEqual(byName.get(name)?.peers.slice().sort(), [alice.id, bob.id].sort(), name);
		// The folder counts its names.
		assert.equal(leecher.folders().find((f) => f.path === "lic")?.files, 2);
	});

	it("refuses a link leading outside the shared folder", () => {
		assert.ok(alice.sharedFiles().every((f) => f.name !== "lic/secret"));
		assert.ok(leecher.files().every((f) => f.name !== "lic/secret"));
		assert.ok(
			alice.sharedFiles().some((f) => f.name === "lic/GPL"),
			"the in-folder link is shared under its own name",
		);
	});

	it("finds every name by search and by name", () => {
		const files = leecher.files();
		const songs = fuzzySearch("song", files, (f) => f.name).map((m) => m.item.name);
		assert.equal(songs[0], "music/song.mp3");
		const copies = fuzzySearch("copy", files, (f) => f.name).map((m) => m.item.name);
		assert.equal(copies[0], "other/copy.mp3");
		assert.equal(leecher.findFile("lic/GPL-3")?.name, "lic/GPL-3");
		assert.equal(leecher.findFile("lic/GPL")?.name, "lic/GPL");
		// An id prefix names one content, whatever its number of names.
		const id = files[0].id;
		assert.equal(leecher.findFile(id.slice(0, 12))?.id, id);
	});

	it("downloads each name of one content from the merged sources, fetching it once", async () => {
		const downloads = leecher.self().downloadsDir;
		const id = leecher.findFile("lic/GPL")?.id;
		assert.ok(id);
		const [link, target] = await Promise.all([
			leecher.download(id, "lic/GPL"),
			leecher.download(id, "lic/GPL-3"),
		]);
		assert.equal(link.path, path.join(downloads, "lic", "GPL"));
		assert.equal(target.path, path.join(downloads, "lic", "GPL-3"));
		assert.ok(fs.readFileSync(path.join(downloads, "lic", "GPL")).equals(gpl));
		assert.ok(fs.readFileSync(path.join(downloads, "lic", "GPL-3")).equals(gpl));
		const songId = leecher.findFile("other/copy.mp3")?.id;
		assert.ok(songId);
		const copy = await leecher.download(songId, "other/copy.mp3");
		assert.equal(copy.path, path.join(downloads, "other", "copy.mp3"));
		assert.ok(fs.readFileSync(copy.path ?? "").equals(song));
		// One download of the content, with both peers as its sources.
		assert.equal(leecher.downloadOf(songId)?.state().status, "complete");
		assert.equal(leecher.transfers().filter((t) => t.fileId === songId).length, 1);
	});

	it("downloads a folder with every name in it", async () => {
		const state = await leecher.downloadFolder("lic");
		assert.equal(state.status, "complete");
		assert.equal(state.files, 2);
		for (const name of ["GPL", "GPL-3"])
			assert.ok(fs.readFileSync(path.join(state.target, name)).equals(gpl), name);
	});
});
