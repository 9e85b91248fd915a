/**
 * `get <folder>` with the built CLI: a `serve` process shares a tree with nested and empty
 * folders, and separate `get` processes download folders of it.
 */
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import fs from "node:fs";
import path from "node:path";
import { after, before, describe, it } from "node:test";
import { assertSameTree, freeBase, freePort, tempDir, waitFor } from "../helpers/net.js";
import { loopbackNet, peerFolders, runCli, ServeProcess } from "../helpers/process.js";

describe("get <folder> against a serve process", () => {
	const root = tempDir();
	const share = path.join(root, "share");
	let server: ServeProcess;
	let net: string[];
	let size = 0;

	before(async () => {
		const files: Record<string, Buffer> = {
			"album/01 intro.txt": Buffer.from("intro\n"),
			"album/disc2/02 track.bin": randomBytes(1_200_000),
			"album/disc2/bonus/03 – café.txt": Buffer.from("bonus ü\n"),
			"album/notes/readme.md": Buffer.from("# notes\n"),
			"elsewhere.txt": Buffer.from("not in the album\n"),
		};
		for (const [rel, content] of Object.entries(files)) {
			fs.mkdirSync(path.dirname(path.join(share, rel)), { recursive: true });
			fs.writeFileSync(path.join(share, rel), content);
			if (rel.startsWith("album/")) size += content.length;
		}
		for (const empty of ["album/empty", "album/disc2/empty/deeper"])
			fs.mkdirSync(path.join(share, empty), { recursive: true });
		net = loopbackNet(await freePort());
		server = new ServeProcess([
			...net,
			...peerFolders(root, "server", share),
			"--port",
			String(await freeBase()),
		]);
		await waitFor(() => server.event("ready"), "the server ready");
	});

	after(async () => {
		await server.stop();
		fs.rmSync(root, { recursive: true, force: true });
	});

	const client = (name: string) => [...net, ...peerFolders(root, name)];

	it("--json: downloads the folder's tree with its empty folders, byte for byte", async () => {
		const result = await runCli(["get", "album", ...client("getter"), "--wait", "5000", "--json"]);
		assert.equal(result.code, 0, result.stderr);
		const out = JSON.parse(result.stdout) as {
			folder: string;
			target: string;
			files: number;
			bytes: number;
			seconds: number;
		};
		const target = path.join(root, "getter", "dl", "album");
		assert.equal(out.folder, "album");
		assert.equal(out.target, target);
		assert.equal(out.files, 4);
		assert.equal(out.bytes, size);
		assert.ok(out.seconds >= 0);
		assertSameTree(target, path.join(share, "album"));
		assert.deepEqual(fs.readdirSync(path.join(root, "getter", "dl")), ["album"]);
	});

	it("again into the same folder: identical files are recognised, nothing is renamed", async () => {
		const target = path.join(root, "getter", "dl", "album");
		const inode = fs.statSync(path.join(target, "disc2", "02 track.bin")).ino;
		const result = await runCli(["get", "album/", ...client("getter"), "--wait", "5000"]);
		assert.equal(result.code, 0, result.stderr);
		assertSameTree(target, path.join(share, "album"));
		assert.equal(fs.statSync(path.join(target, "disc2", "02 track.bin")).ino, inode);
	});

	it("a subfolder lands under its last name, one line per file and a summary", async () => {
		const result = await runCli(["get", "album/disc2", ...client("sub"), "--wait", "5000"]);
		assert.equal(result.code, 0, result.stderr);
		const target = path.join(root, "sub", "dl", "disc2");
		assertSameTree(target, path.join(share, "album", "disc2"));
		const lines = result.stdout.trim().split("\n");
		assert.equal(lines.length, 3);
		assert.deepEqual(lines.slice(0, 2).sort(), [
			`saved ${path.join(target, "02 track.bin")} (1200000 bytes)`,
			`saved ${path.join(target, "bonus", "03 – café.txt")} (9 bytes)`,
		]);
		const escaped = target.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
		assert.match(
			lines[2],
			new RegExp(`^saved folder ${escaped} \\(2 files, 1200009 bytes in [\\d.]+ s\\)$`),
		);
	});

	it("an unknown folder exits 1 with one line", async () => {
		const result = await runCli(["get", "album/nope", ...client("nope"), "--wait", "800"]);
		assert.equal(result.code, 1);
		assert.equal(result.stderr.trim().split("\n").length, 1);
		assert.match(result.stderr, /^p2p-tui: no peer shares "album\/nope"/);
	});
});
