/**
 * Memory no manifest can inflate (issue 14): a downloader (`p2p-tui get file.p2p`, its own
 * process) fed a valid manifest with 1 GiB pieces by a hostile seeder that answers every
 * block with garbage. The pieces are assembled in the partial file, not in memory, so the
 * downloader's peak resident memory (VmHWM) stays under 150 MB while it takes 2 GiB of
 * garbage, fails both pieces' hashes, bans the seeder and gives up with one line.
 */
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import { after, describe, it } from "node:test";
import { encodeManifestFile } from "../../source/protocol/manifest-file.js";
import { startHugePieceSeeder } from "../helpers/huge-piece-seeder.js";
import { freeBase, freePort, tempDir, waitFor } from "../helpers/net.js";
import { CLI, loopbackNet, peerFolders } from "../helpers/process.js";

/** VmHWM of a running process, in bytes (0 once it is gone). */
function peakRss(pid: number): number {
	try {
		const status = fs.readFileSync(`/proc/${pid}/status`, "utf8");
		const kb = /^VmHWM:\s+(\d+) kB/m.exec(status)?.[1];
		return kb ? Number(kb) * 1024 : 0;
	} catch {
		return 0;
	}
}

describe("a manifest with 1 GiB pieces and garbage data (hostile seeder on loopback)", () => {
	const root = tempDir();
	after(() => fs.rmSync(root, { recursive: true, force: true }));

	it("keeps the downloader under 150 MB peak RSS, fails both pieces and bans the seeder", {
		timeout: 240_000,
	}, async () => {
		const discovery = await freePort();
		const size = 2 * 2 ** 30;
		const seeder = await startHugePieceSeeder(await freeBase(), discovery, size);
		try {
			const p2p = path.join(root, "huge.p2p");
			fs.writeFileSync(p2p, encodeManifestFile("huge.bin", seeder.manifest));
			const child = spawn(
				process.execPath,
				[CLI, "get", p2p, ...loopbackNet(discovery, 200), ...peerFolders(root, "victim")],
				{ stdio: ["ignore", "pipe", "pipe"] },
			);
			let stderr = "";
			child.stderr.on("data", (chunk: Buffer) => {
				stderr += chunk.toString();
			});
			const exited = new Promise<number | null>((resolve) => child.on("exit", resolve));
			let peak = 0;
			let done = false;
			void exited.then(() => {
				done = true;
			});
			// VmHWM only grows: read it until just before the process ends.
			await waitFor(
				() => {
					if (child.pid !== undefined && !done) peak = Math.max(peak, peakRss(child.pid));
					return done;
				},
				"the download to give up",
				220_000,
			);
			const code = await exited;
			assert.notEqual(code, 0, "the download cannot succeed");
			assert.match(stderr, /banned/, stderr);
			assert.ok(
				seeder.sent() >= size,
				`the downloader took both pieces in (${seeder.sent()} bytes sent)`,
			);
			assert.ok(peak > 0, "peak RSS was read");
			assert.ok(peak < 150 * 1024 * 1024, `peak RSS ${(peak / 2 ** 20).toFixed(1)} MiB`);
			console.log(
				`garbage taken ${(seeder.sent() / 2 ** 30).toFixed(2)} GiB, downloader peak RSS ${(peak / 2 ** 20).toFixed(1)} MiB`,
			);
		} finally {
			await seeder.close();
		}
	});
});
