/**
 * Issue 16, "streaming": `get --stdout` writes the file's bytes in order, each piece verified,
 * while the rest downloads: identical to the source, the first MiB out well before the
 * download ends (a --max-down cap makes it measurable); with a seeder serving corrupt pieces
 * in the second half as the only source, the stream stops after the verified first half with
 * exit 1 and one line; through a running `serve` too; a reader that goes away (EPIPE) ends
 * it quietly. All on loopback.
 */
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import fs from "node:fs";
import path from "node:path";
import { after, before, describe, it } from "node:test";
import { identityOf } from "../../source/library/identity.js";
import { IndexCache } from "../../source/library/index-cache.js";
import { hashFile } from "../../source/library/library.js";
import { hash } from "../../source/protocol/hash.js";
import { freeBase, freePort, tempDir, waitFor } from "../helpers/net.js";
import { CLI, loopbackNet, peerFolders, ServeProcess } from "../helpers/process.js";

const MiB = 1024 * 1024;

/** A finished `get --stdout`: its bytes, when the first MiB was out, when it ended. */
interface Streamed {
	code: number | null;
	bytes: Buffer;
	stderr: string;
	firstMiBMs: number;
	endMs: number;
}

/** Runs `get --stdout` and records its output with times (ms from the start). */
function stream(
	args: string[],
	stopAfter?: number,
	onLength: (length: number) => void = () => {},
): Promise<Streamed> {
	const child = spawn(process.execPath, [CLI, "get", "--stdout", ...args], {
		stdio: ["ignore", "pipe", "pipe"],
	});
	const started = Date.now();
	const chunks: Buffer[] = [];
	let length = 0;
	let firstMiBMs = Number.POSITIVE_INFINITY;
	let stderr = "";
	child.stderr.setEncoding("utf8");
	child.stderr.on("data", (chunk: string) => {
		stderr += chunk;
	});
	child.stdout.on("data", (chunk: Buffer) => {
		chunks.push(chunk);
		length += chunk.length;
		onLength(length);
		if (length >= MiB && firstMiBMs === Number.POSITIVE_INFINITY) firstMiBMs = Date.now() - started;
		// A player that stops reading: the pipe closes under the writer.
		if (stopAfter !== undefined && length >= stopAfter) child.stdout.destroy();
	});
	return new Promise((resolve) => {
		child.on("close", (code) =>
			resolve({
				code,
				bytes: Buffer.concat(chunks),
				stderr,
				firstMiBMs,
				endMs: Date.now() - started,
			}),
		);
	});
}

describe("get --stdout streams a file in order while it downloads", () => {
	const root = tempDir();
	let netFlags: string[];
	const servers: ServeProcess[] = [];
	// 8 MiB: 32 pieces of 256 KiB; at 2 MB/s about 4 s.
	const content = randomBytes(8 * MiB);
	const digest = hash(content);

	before(async () => {
		netFlags = loopbackNet(await freePort());
		fs.mkdirSync(path.join(root, "seeder", "share"), { recursive: true });
		fs.writeFileSync(path.join(root, "seeder", "share", "film.mkv"), content);
		const seeder = new ServeProcess([
			...peerFolders(root, "seeder"),
			"--port",
			String(await freeBase()),
			...netFlags,
		]);
		servers.push(seeder);
		await waitFor(() => seeder.event("ready"), "the seeder ready");
	});

	after(async () => {
		await Promise.all(servers.map((s) => s.stop()));
		fs.rmSync(root, { recursive: true, force: true });
	});

	it("writes the verified bytes in order, the first MiB long before the download ends", async () => {
		const result = await stream([
			"film.mkv",
			"--max-down",
			"2000",
			...peerFolders(root, "viewer"),
			...netFlags,
		]);
		assert.equal(result.code, 0, result.stderr);
		assert.equal(result.bytes.length, content.length);
		assert.ok(hash(result.bytes).equals(digest), "the stream is the source, byte for byte");
		assert.ok(
			result.firstMiBMs < result.endMs - 1_500,
			`first MiB at ${result.firstMiBMs} ms, end at ${result.endMs} ms`,
		);
		assert.match(result.stderr, /streamed .*film\.mkv \(8388608 bytes/);
		// The file is kept too (and seeded by a running peer).
		assert.ok(fs.readFileSync(path.join(root, "viewer", "dl", "film.mkv")).equals(content));
	});

	it("a download that cannot finish stops the stream after the verified bytes, exit 1", async () => {
		// The only seeder serves corrupt bytes in every piece of the second half under the
		// honest manifest (its index cache poisoned, as a tampered client would do). The
		// refetch of a corrupt piece from an honest source is tested in test/unit/stream.test.ts.
		const film = randomBytes(8 * MiB);
		const dir = path.join(root, "liar");
		const share = path.join(dir, "share");
		fs.mkdirSync(share, { recursive: true });
		const file = path.join(share, "film2.mkv");
		fs.writeFileSync(file, film);
		const honest = await hashFile(file);
		const fd = fs.openSync(file, "r+");
		const pieceSize = honest.manifest.pieceSize;
		for (let offset = film.length / 2 + 100; offset < film.length; offset += pieceSize)
			fs.writeSync(fd, Buffer.from([film[offset] ^ 0xff]), 0, 1, offset);
		fs.closeSync(fd);
		const cfg = path.join(dir, "cfg");
		const cache = await IndexCache.load(cfg);
		const real = fs.realpathSync(file);
		const identity = identityOf(fs.statSync(real, { bigint: true }));
		cache.remember(real, identity, honest.manifestBytes, identity.ctimeNs + 10_000_000_000n);
		assert.ok(await cache.save(), "index cache poisoned");
		const liar = new ServeProcess([
			...peerFolders(root, "liar"),
			"--port",
			String(await freeBase()),
			...netFlags,
		]);
		servers.push(liar);
		await waitFor(() => liar.event("ready"), "the liar ready");
		const result = await stream([
			"film2.mkv",
			"--wait",
			"5000",
			...peerFolders(root, "viewer2"),
			...netFlags,
		]);
		// Its only source banned for corrupt pieces: the download cannot finish. The stream
		// holds only verified bytes of the first half, and the command says why in one line.
		assert.equal(result.code, 1, result.stderr);
		assert.ok(
			result.bytes.equals(film.subarray(0, film.length / 2)),
			"only verified bytes, in order",
		);
		const errors = result.stderr.split("\n").filter((l) => l.startsWith("p2p-tui:"));
		assert.equal(errors.length, 1, result.stderr);
		assert.match(errors[0], /download failed: .*corrupt pieces/);
		assert.doesNotMatch(result.stderr, /\n\s+at /);
		await liar.stop();
	});

	it("streams through a running serve (the download runs in it)", async () => {
		const user = new ServeProcess([
			...peerFolders(root, "user"),
			"--port",
			String(await freeBase()),
			...netFlags,
		]);
		servers.push(user);
		await waitFor(() => user.event("control-listening"), "the user's control socket");
		const result = await stream([
			"film.mkv",
			"--config-dir",
			path.join(root, "user", "cfg"),
			...netFlags,
		]);
		assert.equal(result.code, 0, result.stderr);
		assert.ok(hash(result.bytes).equals(digest));
		assert.ok(user.events.some((e) => e.event === "control-request" && e.type === "get"));
		await waitFor(
			() => user.events.find((e) => e.event === "download-complete"),
			"the download complete in the serving peer",
		);
	});

	it("ends quietly when the reader closes the pipe (EPIPE)", async () => {
		const result = await stream(
			["film.mkv", "--max-down", "2000", ...peerFolders(root, "quitter"), ...netFlags],
			MiB,
		);
		assert.equal(result.code, 0, result.stderr);
		assert.doesNotMatch(result.stderr, /error|EPIPE|\n\s+at /i);
		// It stopped with the reader, not after the download: 8 MiB at 2,000 KB/s would take
		// over 4 s, and the whole file would then lie under its final name.
		assert.equal(
			fs.existsSync(path.join(root, "quitter", "dl", "film.mkv")),
			false,
			`ended at ${result.endMs} ms with the download complete`,
		);
	});
});
