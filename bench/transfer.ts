/**
 * Transfer benchmark on loopback: one `serve` process seeds a random file made on the
 * fly, a `get` process downloads it; prints the time and MB/s and writes JSON to
 * bench/results/. Size in MiB from the first argument (default 100).
 * Usage: npm run bench -- [MiB]
 */
import { execFileSync, spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import dgram from "node:dgram";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";

const here = path.dirname(fileURLToPath(import.meta.url));
const cli = path.resolve(here, "..", "cli.js");
const mib = Number(process.argv[2] ?? 100);
const root = fs.mkdtempSync(path.join(os.tmpdir(), "p2p-tui-bench-"));

async function freePort(): Promise<number> {
	const s = dgram.createSocket("udp4");
	await new Promise<void>((r) => s.bind(0, "127.0.0.1", r));
	const { port } = s.address();
	s.close();
	return port;
}

async function main(): Promise<void> {
	const share = path.join(root, "share");
	fs.mkdirSync(share);
	const file = path.join(share, `random-${mib}MiB.bin`);
	const fd = fs.openSync(file, "w");
	for (let i = 0; i < mib; i++) fs.writeSync(fd, randomBytes(1024 * 1024));
	fs.closeSync(fd);
	const net = [
		"--broadcast",
		"127.255.255.255",
		"--discovery-port",
		String(await freePort()),
		"--interval",
		"500",
	];
	const peer = (name: string) => [
		...net,
		"--name",
		name,
		"--config-dir",
		path.join(root, name, "cfg"),
		"--downloads",
		path.join(root, name, "dl"),
	];
	const seeder = spawn(
		process.execPath,
		[cli, "serve", "--json", ...peer("seeder"), "--share", share],
		{
			stdio: ["ignore", "pipe", "inherit"],
		},
	);
	await new Promise<void>((resolve) => seeder.stdout.once("data", () => resolve()));
	const started = process.hrtime.bigint();
	const out = execFileSync(
		process.execPath,
		[
			cli,
			"get",
			path.basename(file),
			...peer("leecher"),
			"--share",
			path.join(root, "leecher", "share"),
			"--json",
		],
		{ encoding: "utf8" },
	);
	const seconds = Number(process.hrtime.bigint() - started) / 1e9;
	seeder.kill("SIGTERM");
	const result = JSON.parse(out) as { path: string; contentHash: string };
	const same = fs.readFileSync(result.path).equals(fs.readFileSync(file));
	const row = {
		scenario: "one seeder to one leecher, separate processes, loopback",
		bytes: mib * 1024 * 1024,
		seconds: Number(seconds.toFixed(3)),
		mbPerSecond: Number(((mib * 1024 * 1024) / 1e6 / seconds).toFixed(1)),
		identical: same,
		node: process.version,
		date: new Date().toISOString(),
	};
	console.log(
		`${mib} MiB: ${row.seconds} s for the whole get (start, discovery, manifest, transfer, verify), ${row.mbPerSecond} MB/s, identical: ${same}`,
	);
	fs.mkdirSync(path.resolve(here, "..", "..", "bench", "results"), { recursive: true });
	fs.writeFileSync(
		path.resolve(here, "..", "..", "bench", "results", "transfer.json"),
		`${JSON.stringify(row, null, 2)}\n`,
	);
	fs.rmSync(root, { recursive: true, force: true });
	if (!same) process.exitCode = 1;
}

main().catch((error: Error) => {
	console.error(`bench: ${error.message}`);
	fs.rmSync(root, { recursive: true, force: true });
	process.exitCode = 1;
});
