/**
 * `npm run bench`: the transfer benchmark, the LAN benchmark (needs root: network
 * namespaces), the indexing benchmark, the key-latency benchmark, then the spoofing harness
 * (needs root and python3), each a separate process
 * given the same flags (each accepts the others' flags and ignores them; `--mib` sets the
 * size of both the transfer and the indexing benchmarks' large file). Exit code 1 when any
 * failed.
 */
import { spawnSync } from "node:child_process";
import path from "node:path";
import { fileURLToPath } from "node:url";

const here = path.dirname(fileURLToPath(import.meta.url));
let code = 0;
for (const script of ["transfer.js", "lan.js", "indexing.js", "keys.js", "spoof.js"]) {
	const run = spawnSync(process.execPath, [path.join(here, script), ...process.argv.slice(2)], {
		stdio: "inherit",
	});
	if (run.status !== 0) code = 1;
	console.log("");
}
process.exitCode = code;
