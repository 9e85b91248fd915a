/**
 * The live folder between two real peers on loopback: what is added, changed, renamed or
 * deleted in A's shared folder, and a new empty folder, reaches B through A's watcher (the
 * periodic rescan is set far off so it cannot be what found them), and a changed file's old id
 * stops being served by A.
 */
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import fs from "node:fs";
import path from "node:path";
import { after, before, describe, it } from "node:test";
import type { Library } from "../../source/library/library.js";
import type { Peer } from "../../source/peer/peer.js";
import { waitFor } from "../helpers/net.js";
import { Swarm } from "../helpers/swarm.js";

/** How long a change may take to show on the other peer here (the target is 2 s). */
const PATIENCE = 5_000;

/** The library of a peer (private; read for the assertions on what A serves). */
function libraryOf(peer: Peer): Library {
	return (peer as unknown as { library: Library }).library;
}

/** B's view of A's files: name → id. */
function seen(b: Peer): Record<string, string> {
	return Object.fromEntries(b.files().map((f) => [f.name, f.id]));
}

describe("the live folder, seen by another peer", () => {
	let swarm: Swarm;
	let a: Peer;
	let b: Peer;
	let share: string;

	before(async () => {
		swarm = await Swarm.create();
		share = path.join(swarm.root, "a-share");
		fs.mkdirSync(path.join(share, "docs"), { recursive: true });
		fs.writeFileSync(path.join(share, "docs", "first.txt"), "first");
		a = await swarm.add("a", share, { rescanInterval: 600_000 });
		b = await swarm.add("b");
		await waitFor(() => seen(b)["docs/first.txt"], "B to list A's first file", PATIENCE);
	});

	after(async () => {
		await swarm.close();
	});

	/** Times a change until `check` holds on B; returns the ms it took. */
	async function reaches(what: string, check: () => boolean): Promise<number> {
		const started = Date.now();
		await waitFor(check, what, PATIENCE);
		return Date.now() - started;
	}

	it("a file added to A's folder appears on B", async () => {
		const data = randomBytes(200_000);
		fs.writeFileSync(path.join(share, "docs", "added.bin"), data);
		const ms = await reaches("B to list the added file", () => "docs/added.bin" in seen(b));
		const file = b.files().find((f) => f.name === "docs/added.bin");
		assert.equal(file?.size, data.length);
		assert.deepEqual(file?.peers, [a.id]);
		assert.ok(ms < PATIENCE, `${ms} ms`);
	});

	it("a file changed in place gets a new id on B, and A stops serving the old id", async () => {
		const file = path.join(share, "docs", "first.txt");
		const oldId = seen(b)["docs/first.txt"];
		assert.ok(oldId);
		const library = libraryOf(a);
		assert.equal((await library.read(oldId, 0, 5))?.toString(), "first");
		fs.writeFileSync(file, "first, edited");
		await reaches(
			"B to list the new version",
			() => seen(b)["docs/first.txt"] !== undefined && seen(b)["docs/first.txt"] !== oldId,
		);
		assert.equal(await library.read(oldId, 0, 5), null, "the old id is no longer served");
		assert.equal(library.get(oldId), undefined);
		const newId = seen(b)["docs/first.txt"];
		assert.equal((await library.read(newId, 0, 13))?.toString(), "first, edited");
		assert.equal(b.files().filter((f) => f.name === "docs/first.txt").length, 1);
	});

	it("a renamed file shows under its new name only, with the same id", async () => {
		const id = seen(b)["docs/added.bin"];
		fs.mkdirSync(path.join(share, "moved"));
		fs.renameSync(path.join(share, "docs", "added.bin"), path.join(share, "moved", "renamed.bin"));
		await reaches("B to list the renamed file only", () => {
			const now = seen(b);
			return now["moved/renamed.bin"] === id && !("docs/added.bin" in now);
		});
	});

	it("a deleted file disappears from B and is no longer served", async () => {
		const id = seen(b)["moved/renamed.bin"];
		fs.rmSync(path.join(share, "moved", "renamed.bin"));
		await reaches("B to drop the deleted file", () => !("moved/renamed.bin" in seen(b)));
		assert.equal(await libraryOf(a).read(id, 0, 10), null);
	});

	it("an empty folder created in A's folder is listed and announced with a new revision", async () => {
		const library = libraryOf(a);
		const revision = library.revision;
		fs.mkdirSync(path.join(share, "empty", "inner"), { recursive: true });
		await reaches("A to list the empty folders", () =>
			library.directories().includes("empty/inner"),
		);
		assert.ok(library.directories().includes("empty"));
		await reaches("A to publish a new revision", () => library.revision !== revision);
		await reaches(
			"B to hear A's new revision",
			() => b.peers().find((p) => p.id === a.id)?.revision === library.revision,
		);
		fs.rmSync(path.join(share, "empty"), { recursive: true });
		await reaches("A to drop the removed folders", () => !library.directories().includes("empty"));
		assert.ok(!library.directories().includes("empty/inner"));
	});
});
