/**
 * Time to first byte of `get --stdout` (`npm run bench:stream`): a `serve` seeder shares a
 * file of `--size` MiB (default 1024, random bytes) on loopback (`--broadcast
 * 127.255.255.255`); `get NAME --stdout` is spawned `--trials N` times (default 3), each
 * into a fresh folder, in two ways: standalone (the command starts its own peer: Node
 * start-up, discovery of the seeder, its list, the manifest, then the first piece) and
 * through a running `serve` of the viewer's settings folder (the control socket: the peer
 * already knows the file). Reported per trial: ms to the first byte and to the first MiB
 * on stdout, ms to the end, and that the stream's BLAKE3 equals the file's.
 * Writes bench/results/stream.json.
 * Usage: npm run bench:stream -- [--size MIB] [--trials N]
 */
import { spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import fs from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { createHasher, toHex } from "../source/protocol/hash.js";
import { freeBase, freePort, tempDir, waitFor } from "../test/helpers/net.js";
import { CLI, loopbackNet, peerFolders, ServeProcess } from "../test/helpers/process.js";

const here = path.dirname(fileURLToPath(import.meta.url));
const { values } = parseArgs({
	options: { size: { type: "string", default: "1024" }, trials: { type: "string", default: "3" } },
});
const MiB = 1024 * 1024;
const size = Number(values.size) * MiB;
const trials = Number(values.trials);

interface Trial {
	mode: "standalone" | "running-peer";
	firstByteMs: number;
	firstMiBMs: number;
	endMs: number;
	identical: boolean;
}

/** Runs `get --stdout` once, timing its output and hashing it. */
function run(args: string[], expected: string, mode: Trial["mode"]): Promise<Trial> {
	const child = spawn(process.execPath, [CLI, "get", "--stdout", ...args], {
		stdio: ["ignore", "pipe", "ignore"],
	});
	const started = performance.now();
	const hasher = createHasher();
	let length = 0;
	let firstByteMs = Number.NaN;
	let firstMiBMs = Number.NaN;
	child.stdout.on("data", (chunk: Buffer) => {
		if (length === 0) firstByteMs = performance.now() - started;
		length += chunk.length;
		if (length >= MiB && Number.isNaN(firstMiBMs)) firstMiBMs = performance.now() - started;
		hasher.update(chunk);
	});
	return new Promise((resolve, reject) =>
		child.on("close", (code) => {
			if (code !== 0) reject(new Error(`get --stdout exited ${code}`));
			else
				resolve({
					mode,
					firstByteMs: Math.round(firstByteMs),
					firstMiBMs: Math.round(firstMiBMs),
					endMs: Math.round(performance.now() - started),
					identical: length === size && toHex(hasher.digest()) === expected,
				});
		}),
	);
}

async function main() {
	const root = tempDir("p2p-tui-bench-stream-");
	const servers: ServeProcess[] = [];
	try {
		const share = path.join(root, "seeder", "share");
		fs.mkdirSync(share, { recursive: true });
		const file = path.join(share, "film.mkv");
		const fd = fs.openSync(file, "w");
		const hasher = createHasher();
		for (let done = 0; done < size; done += 16 * MiB) {
			const chunk = randomBytes(Math.min(16 * MiB, size - done));
			hasher.update(chunk);
			fs.writeSync(fd, chunk);
		}
		fs.closeSync(fd);
		const expected = toHex(hasher.digest());
		const net = loopbackNet(await freePort(), 500);
		const seeder = new ServeProcess([
			...peerFolders(root, "seeder"),
			"--port",
			String(await freeBase()),
			...net,
		]);
		servers.push(seeder);
		await waitFor(
			() => seeder.events.find((e) => e.event === "index-progress" && e.done === true),
			"the seeder indexed",
			300_000,
		);
		const results: Trial[] = [];
		for (let i = 0; i < trials; i++) {
			const t = await run(
				["film.mkv", "--wait", "10000", ...peerFolders(root, `viewer${i}`), ...net],
				expected,
				"standalone",
			);
			results.push(t);
			console.log(JSON.stringify(t));
			fs.rmSync(path.join(root, `viewer${i}`), { recursive: true, force: true });
		}
		for (let i = 0; i < trials; i++) {
			const name = `running${i}`;
			const viewer = new ServeProcess([
				...peerFolders(root, name),
				"--port",
				String(await freeBase()),
				...net,
			]);
			servers.push(viewer);
			await waitFor(() => viewer.event("control-listening"), "the viewer's control socket");
			await waitFor(() => viewer.event("peer-joined"), "the seeder heard", 10_000);
			const t = await run(
				["film.mkv", "--config-dir", path.join(root, name, "cfg")],
				expected,
				"running-peer",
			);
			results.push(t);
			console.log(JSON.stringify(t));
			await viewer.stop();
			fs.rmSync(path.join(root, name), { recursive: true, force: true });
		}
		const out = path.join(here, "..", "..", "bench", "results", "stream.json");
		fs.mkdirSync(path.dirname(out), { recursive: true });
		fs.writeFileSync(
			out,
			`${JSON.stringify({ sizeBytes: size, node: process.version, results }, null, "\t")}\n`,
		);
		console.log(`wrote ${out}`);
	} finally {
		await Promise.all(servers.map((s) => s.stop()));
		fs.rmSync(root, { recursive: true, force: true });
	}
}

main().catch((error: unknown) => {
	console.error(error instanceof Error ? error.message : String(error));
	process.exitCode = 1;
});
