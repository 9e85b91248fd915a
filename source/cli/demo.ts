/**
 * The demo swarm: two headless `serve` peers on loopback sharing fixtures/, so a newcomer
 * sees peers and files at once. They run as child processes and say goodbye on SIGTERM.
 */
import { type ChildProcess, spawn } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";

/** Loopback broadcast address: the demo never sends beyond this machine. */
export const DEMO_BROADCAST = "127.255.255.255";

/** The folder of demo files (fixtures/ at the package root). */
export function fixturesDir(): string {
	// dist/source/cli/demo.js -> package root
	return path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..", "..", "..", "fixtures");
}

/** Running demo peers; `stop()` ends them (each broadcasts its leave). */
export interface DemoSwarm {
	stop(): Promise<void>;
}

/**
 * Starts the two demo peers.
 * @param discoveryPort - the discovery port the TUI uses
 * @param interval - announce interval in ms
 */
export function startDemo(discoveryPort: number, interval: number): DemoSwarm {
	const cli = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..", "..", "cli.js");
	const root = fs.mkdtempSync(path.join(os.tmpdir(), "p2p-tui-demo-"));
	const children: ChildProcess[] = ["demo-alice", "demo-bob"].map((name) => {
		const dir = path.join(root, name);
		return spawn(
			process.execPath,
			[
				cli,
				"serve",
				"--name",
				name,
				"--share",
				fixturesDir(),
				"--downloads",
				path.join(dir, "downloads"),
				"--config-dir",
				path.join(dir, "config"),
				"--broadcast",
				DEMO_BROADCAST,
				"--discovery-port",
				String(discoveryPort),
				"--interval",
				String(interval),
			],
			{ stdio: "ignore" },
		);
	});
	return {
		async stop() {
			await Promise.all(
				children.map(
					(child) =>
						new Promise<void>((resolve) => {
							if (child.exitCode !== null) return resolve();
							child.once("exit", () => resolve());
							child.kill("SIGTERM");
						}),
				),
			);
			fs.rmSync(root, { recursive: true, force: true });
		},
	};
}
