/**
 * The watching peer of `bench/swarm.ts`: one more peer of the swarm, sharing an empty
 * folder, that asks for the network's files every 100 ms (as the TUI's store builds a
 * snapshot), prints a JSON line once it lists `--expect` of them (how long after its
 * start), then keeps running (holding every entry) until SIGTERM; its last line gives the
 * most each part of its memory reached.
 *
 * Usage: node dist/bench/swarm-observer.js --discovery-port P --port BASE --expect N
 *   --root DIR
 */
import fs from "node:fs";
import path from "node:path";
import { parseArgs } from "node:util";
import { Peer } from "../source/peer/peer.js";

const { values } = parseArgs({
	options: {
		"discovery-port": { type: "string" },
		port: { type: "string" },
		expect: { type: "string" },
		root: { type: "string" },
		interval: { type: "string", default: "2000" },
	},
});

async function main(): Promise<void> {
	const started = performance.now();
	const root = String(values.root);
	for (const dir of ["share", "downloads", "data"])
		fs.mkdirSync(path.join(root, dir), { recursive: true });
	const peer = await Peer.start({
		name: "observer",
		shareDir: path.join(root, "share"),
		downloadsDir: path.join(root, "downloads"),
		dataDir: path.join(root, "data"),
		basePort: Number(values.port),
		discoveryPort: Number(values["discovery-port"]),
		broadcast: ["127.255.255.255"],
		interval: Number(values.interval),
	});
	const expect = Number(values.expect);
	const say = (fields: Record<string, unknown>) =>
		process.stdout.write(`${JSON.stringify(fields)}\n`);
	say({ event: "ready" });
	let reported = false;
	// The most each part of the memory reached (sampled with the polls): where the peak is.
	const most = { rss: 0, heapTotal: 0, heapUsed: 0, external: 0, arrayBuffers: 0 };
	const poll = setInterval(() => {
		const now = process.memoryUsage();
		for (const key of Object.keys(most) as (keyof typeof most)[])
			most[key] = Math.max(most[key], now[key]);
		const files = peer.files().length;
		if (!reported && files >= expect) {
			reported = true;
			say({ event: "listed", files, peers: peer.peers().length, ms: performance.now() - started });
		}
	}, 100);
	await new Promise<void>((resolve) => process.once("SIGTERM", () => resolve()));
	clearInterval(poll);
	say({ event: "stopped", files: peer.files().length, peers: peer.peers().length, memory: most });
	await peer.stop();
}

main().catch((error: unknown) => {
	process.stderr.write(`swarm observer: ${(error as Error).message}\n`);
	process.exitCode = 1;
});
