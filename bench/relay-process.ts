/**
 * The fault relay of test/helpers/fault-relay.ts in a process of its own, so that its CPU
 * and memory are not the bench's. It listens to the seeders' announces on the upstream
 * discovery port and re-announces them, with its own ports, on the downstream one; every
 * datagram it forwards may be lost or reordered. Loopback only.
 *
 *   node dist/bench/relay-process.js --upstream U --downstream D [--seed N] [--loss P] [--reorder P]
 *     [--keys DIR,DIR...]
 *
 * `--keys` names the seeders' settings folders: the relay reads their identity keys to sign
 * the announces it rewrites (announces are signed, docs/protocol.md §14).
 *
 * Prints `{"event":"ready"}` once relaying, and on SIGTERM/SIGINT
 * `{"event":"stopped","stats":{...}}` with the relay's counters, then exits.
 */
import fs from "node:fs";
import path from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { parseArgs } from "node:util";
import { IDENTITY_FILE } from "../source/cli/identity-file.js";
import { Identity } from "../source/protocol/identity.js";

/** The relay's module; its types are checked at build time, the code is loaded at run time. */
type RelayModule = typeof import("../test/helpers/fault-relay.js");

/** The built relay, next to the other test helpers in dist/. */
const RELAY_MODULE = path.resolve(
	path.dirname(fileURLToPath(import.meta.url)),
	"..",
	"test",
	"helpers",
	"fault-relay.js",
);

async function main(): Promise<void> {
	const { values } = parseArgs({
		options: {
			upstream: { type: "string" },
			downstream: { type: "string" },
			seed: { type: "string", default: "1" },
			loss: { type: "string", default: "0.02" },
			reorder: { type: "string", default: "0.02" },
			keys: { type: "string", default: "" },
		},
	});
	const keyDirs = values.keys ? values.keys.split(",") : [];
	const signers = new Map<string, Identity>();
	/** The seeders' identities, read once each key file exists (a seeder writes it on start). */
	const readSigners = () => {
		for (const dir of keyDirs) {
			if (signers.has(dir)) continue;
			const file = path.join(dir, IDENTITY_FILE);
			if (fs.existsSync(file)) signers.set(dir, Identity.fromPem(fs.readFileSync(file, "utf8")));
		}
		return signers.values();
	};
	const upstream = Number(values.upstream);
	const downstream = Number(values.downstream);
	if (!upstream || !downstream) throw new Error("--upstream and --downstream are required");
	if (!fs.existsSync(RELAY_MODULE)) throw new Error(`relay missing: ${RELAY_MODULE}`);
	// Imported at run time: the relay is written separately and may not be built yet.
	const { FaultRelay } = (await import(pathToFileURL(RELAY_MODULE).href)) as RelayModule;
	const relay = await FaultRelay.start({
		upstreamDiscoveryPort: upstream,
		downstreamDiscoveryPort: downstream,
		faults: {
			seed: Number(values.seed),
			loss: Number(values.loss),
			reorder: Number(values.reorder),
		},
		signers: readSigners,
	});
	console.log(JSON.stringify({ event: "ready", upstream, downstream }));
	await new Promise<void>((resolve) => {
		process.once("SIGTERM", resolve);
		process.once("SIGINT", resolve);
	});
	const stats = relay.stats;
	await relay.close();
	console.log(JSON.stringify({ event: "stopped", stats }));
}

main().catch((error: Error) => {
	console.error(`relay-process: ${error.message}`);
	process.exitCode = 1;
});
