/**
 * `npm run bench`: the transfer benchmark, then the indexing benchmark, each a separate
 * process given the same flags (each accepts the other's flags and ignores them; `--mib` sets
 * the size of both benchmarks' large file). Exit code 1 when either failed.
 */
import { spawnSync } from "node:child_process";
import path from "node:path";
import { fileURLToPath } from "node:url";

const here = path.dirname(fileURLToPath(import.meta.url));
let code = 0;
for (const script of ["transfer.js", "indexing.js"]) {
	const run = spawnSync(process.execPath, [path.join(here, script), ...process.argv.slice(2)], {
		stdio: "inherit",
	});
	if (run.status !== 0) code = 1;
	console.log("");
}
process.exitCode = code;
