/**
 * Streaming (issue 16) in process: a download in order (`Download.prioritize`) read by
 * `PieceStream` gives the file's bytes in order; pieces that fail verification (a peer
 * serving corrupt bytes in the second half) are fetched again before the stream passes
 * them. Also: the control socket's path per platform, and the new flags.
 */
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import fs from "node:fs";
import path from "node:path";
import { PassThrough } from "node:stream";
import { afterEach, describe, it } from "node:test";
import { parseCommandLine } from "../../source/cli/args.js";
import { PieceStream, StreamClosed } from "../../source/cli/stream.js";
import { identityOf } from "../../source/library/identity.js";
import { IndexCache } from "../../source/library/index-cache.js";
import { hashFile } from "../../source/library/library.js";
import { CONTROL_SOCKET_NAME, controlSocketPath } from "../../source/peer/control.js";
import { hash } from "../../source/protocol/hash.js";
import type { Download } from "../../source/transfer/download.js";
import { waitFor } from "../helpers/net.js";
import { Swarm } from "../helpers/swarm.js";

describe("streaming a download in order", () => {
	let swarm: Swarm | undefined;
	afterEach(async () => {
		await swarm?.close();
		swarm = undefined;
	});

	it("a piece failing verification mid-stream is fetched again; the stream is identical and in order", {
		timeout: 60_000,
	}, async () => {
		swarm = await Swarm.create();
		const content = randomBytes(12 * 1024 * 1024 + 777);
		for (const name of ["h1", "h2"]) {
			const share = path.join(swarm.root, `${name}-share`);
			fs.mkdirSync(share);
			fs.writeFileSync(path.join(share, "film.mkv"), content);
			await swarm.add(name, share);
		}
		// The liar: its copy is corrupt in every piece of the second half, under the honest
		// manifest (a poisoned index cache).
		const share = path.join(swarm.root, "liar-share");
		fs.mkdirSync(share);
		const file = path.join(share, "film.mkv");
		fs.writeFileSync(file, content);
		const honest = await hashFile(file);
		const { pieceSize } = honest.manifest;
		const fd = fs.openSync(file, "r+");
		for (
			let offset = Math.floor(content.length / 2) + 10;
			offset < content.length;
			offset += pieceSize
		)
			fs.writeSync(fd, Buffer.from([content[offset] ^ 0x5a]), 0, 1, offset);
		fs.closeSync(fd);
		const dataDir = path.join(swarm.root, "liar-data");
		const cache = await IndexCache.load(dataDir);
		const real = fs.realpathSync(file);
		const identity = identityOf(fs.statSync(real, { bigint: true }));
		cache.remember(real, identity, honest.manifestBytes, identity.ctimeNs + 10_000_000_000n);
		assert.ok(await cache.save());
		await swarm.add("liar", share, { dataDir });

		const leecher = await swarm.add("leecher");
		await swarm.waitForFiles(leecher, 1, 3);
		const [wanted] = leecher.files();
		const done = leecher.download(wanted.id, { inOrder: true });
		const download = (await waitFor(
			() => leecher.downloadOf(wanted.id),
			"the download started",
		)) as Download;
		assert.notEqual(
			download.prioritized,
			undefined,
			"asked in order: in-order mode from the start",
		);
		const failed: number[] = [];
		download.on("hash-failed", (index) => failed.push(index));
		const out = new PassThrough();
		const chunks: Buffer[] = [];
		out.on("data", (chunk: Buffer) => chunks.push(chunk));
		const positions: number[] = [];
		const stream = new PieceStream(
			out,
			{
				size: wanted.size,
				pieceSize,
				has: (i) => (download.have[i >> 3] & (0x80 >> (i & 7))) !== 0,
				paths: () => [download.state().partialPath, download.finalPath],
			},
			(next) => {
				positions.push(next);
				download.prioritize(next);
			},
		);
		download.on("progress", () => stream.poke());
		stream.poke();
		const result = await done;
		stream.poke();
		await stream.done;
		const bytes = Buffer.concat(chunks);
		assert.ok(hash(bytes).equals(hash(content)), "the stream is the file, byte for byte");
		assert.ok(failed.length >= 1, "the liar's pieces failed verification");
		const half = Math.floor(content.length / 2 / pieceSize);
		for (const index of failed) assert.ok(index >= half, `piece ${index} is in the second half`);
		assert.equal(result.hashFailures, failed.length);
		// The read position went up one piece at a time, to the end.
		assert.deepEqual(
			positions,
			Array.from({ length: Math.ceil(content.length / pieceSize) }, (_, i) => i + 1),
		);
	});

	it("a reader that goes away ends the stream with StreamClosed", async () => {
		const dir = fs.mkdtempSync(path.join(process.env.TMPDIR ?? "/tmp", "p2p-stream-"));
		try {
			const file = path.join(dir, "a.bin");
			fs.writeFileSync(file, randomBytes(64 * 1024));
			const out = new PassThrough();
			const stream = new PieceStream(out, {
				size: 64 * 1024,
				pieceSize: 16 * 1024,
				has: () => true,
				paths: () => [file],
			});
			out.emit("error", Object.assign(new Error("write EPIPE"), { code: "EPIPE" }));
			await assert.rejects(stream.done, StreamClosed);
		} finally {
			fs.rmSync(dir, { recursive: true, force: true });
		}
	});
});

describe("control socket path and flags", () => {
	it("is control.sock in the settings folder on Unix, a named pipe on Windows", () => {
		assert.equal(
			controlSocketPath("/home/a/.config/p2p-tui", "linux"),
			`/home/a/.config/p2p-tui/${CONTROL_SOCKET_NAME}`,
		);
		const pipe = controlSocketPath("C:\\Users\\a\\AppData\\p2p-tui", "win32");
		assert.match(pipe, /^\\\\\.\\pipe\\p2p-tui-[0-9a-f]{16}$/);
		// Case does not matter on Windows; another folder gets another pipe.
		assert.equal(controlSocketPath("c:\\users\\A\\appdata\\P2P-TUI", "win32"), pipe);
		assert.notEqual(controlSocketPath("C:\\other", "win32"), pipe);
	});

	it("--stdout goes with get only, not with --json; --standalone with the commands that may route", () => {
		const parsed = parseCommandLine(["get", "film.mkv", "--stdout", "--standalone"]);
		assert.ok(parsed.kind === "run" && parsed.flags.stdout && parsed.flags.standalone);
		assert.throws(() => parseCommandLine(["list", "--stdout"]), /--stdout goes with get only/);
		assert.throws(() => parseCommandLine(["get", "a", "--stdout", "--json"]), /do not go together/);
		assert.throws(() => parseCommandLine(["serve", "--standalone"]), /--standalone goes with/);
	});
});
