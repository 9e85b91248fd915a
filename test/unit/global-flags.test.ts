/**
 * Global flags on every command: `--config-dir` goes with every command (a shell alias may
 * add it to any command line), and `manifest` uses it, reading the manifest of a shared,
 * unchanged file from that folder's index cache instead of hashing the file again. A flag
 * that means nothing to a command is still one line and exit code 2.
 */
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import fs from "node:fs";
import path from "node:path";
import { after, describe, it } from "node:test";
import { manifest, type Output } from "../../source/cli/commands.js";
import { identityOf } from "../../source/library/identity.js";
import { IndexCache, nowNs } from "../../source/library/index-cache.js";
import { Library } from "../../source/library/library.js";
import { toHex } from "../../source/protocol/hash.js";
import { encodeManifest, manifestId } from "../../source/protocol/manifest.js";
import { tempDir } from "../helpers/net.js";
import { runCli } from "../helpers/process.js";

const root = tempDir("p2p-tui-global-");
after(() => fs.rmSync(root, { recursive: true, force: true }));

describe("--config-dir on every command", () => {
	it("manifest FILE --config-dir DIR writes the .p2p of a file the folder's peer indexed", async () => {
		const share = path.join(root, "share");
		const config = path.join(root, "config");
		fs.mkdirSync(share, { recursive: true });
		const file = path.join(share, "song.mp3");
		fs.writeFileSync(file, randomBytes(700 * 1024));
		const library = await Library.open(share, { dataDir: config, watch: false, workers: 0 });
		await library.ready();
		const id = library.files()[0].id;
		await library.close();
		assert.ok(fs.existsSync(path.join(config, "index-cache.bin")), "the peer saved its cache");
		const out = path.join(root, "song.p2p");
		const result = await runCli(["manifest", file, "--config-dir", config, "-o", out, "--json"]);
		assert.equal(result.code, 0, result.stderr);
		assert.equal(JSON.parse(result.stdout).id, id);
		assert.ok(fs.existsSync(out));
		// And after the command, as an alias would put it.
		const again = await runCli(["--config-dir", config, "manifest", file, "-o", `${out}.2`]);
		assert.equal(again.code, 0, again.stderr);
		assert.match(again.stdout, new RegExp(`id +${id}`));
	});

	it("manifest reads the index cache of the folder given (it hashes nothing it finds there)", async () => {
		const data = path.join(root, "planted");
		const file = path.join(root, "cached.bin");
		fs.writeFileSync(file, Buffer.alloc(1000, 7));
		// A cache entry for the file as it is now: its manifest says what the file is.
		const planted = encodeManifest({
			size: 1000,
			pieceSize: 256 * 1024,
			contentHash: Buffer.alloc(32, 1),
			pieceHashes: [Buffer.alloc(32, 2)],
		});
		const cache = await IndexCache.load(data);
		const identity = identityOf(fs.statSync(file, { bigint: true }));
		cache.remember(fs.realpathSync(file), identity, planted, nowNs() + 10_000_000_000n);
		assert.ok(await cache.save());
		const lines: string[] = [];
		const io: Output = { out: (line) => lines.push(line), err: (line) => lines.push(line) };
		const output = path.join(root, "cached.p2p");
		await manifest(file, output, true, io, data);
		const printed = JSON.parse(lines[0]);
		assert.equal(printed.id, toHex(manifestId(planted)), "the cached manifest, not a new hash");
		assert.equal(printed.contentHash, "01".repeat(32));
		// Without the folder, the file is hashed.
		const lines2: string[] = [];
		await manifest(
			file,
			path.join(root, "hashed.p2p"),
			true,
			{ out: (l) => lines2.push(l), err: (l) => lines2.push(l) },
			path.join(root, "no-cache-here"),
		);
		assert.notEqual(JSON.parse(lines2[0]).id, printed.id);
	});

	it("every command takes --config-dir; a flag that means nothing is one line, exit 2", async () => {
		const config = path.join(root, "cfg-all");
		for (const args of [
			["config", "--json"],
			["share", path.join(root, "s")],
			["download-to", path.join(root, "d")],
			["network-key"],
		]) {
			const result = await runCli([...args, "--config-dir", config]);
			assert.equal(result.code, 0, `${args.join(" ")}: ${result.stderr}`);
		}
		for (const args of [
			["manifest", path.join(root, "cached.bin"), "--log", "x.log"],
			["config", "--wait", "5"],
			["share", "s", "--json"],
		]) {
			const result = await runCli([...args, "--config-dir", config]);
			assert.equal(result.code, 2, args.join(" "));
			assert.equal(result.stderr.trim().split("\n").length, 1, result.stderr);
			assert.match(result.stderr, /does not go with/);
		}
	});
});
