/**
 * Named peers and peer exchange benchmark (`npm run bench:named`): how long until a peer
 * named across a router appears, and its neighbour found through peer exchange. Needs root
 * (network namespaces) and iproute2.
 *
 * Two LANs of network namespaces (bridges, 1500-byte MTU veth links) joined by a router
 * namespace (ip_forward=1; no broadcast crosses it). Bob and carol run `serve` on LAN B
 * (directed broadcast 10.77.2.255, the default 2,000 ms interval) and hear each other. Then,
 * `--runs` times, alice runs `serve --peer <bob>` on LAN A (directed broadcast 10.77.1.255):
 * the time from her `ready` event to her `peer-joined` of bob (found `named`) and of carol
 * (found `exchange`), polled every 20 ms. Each run restarts alice at the same address, as a
 * user restarting the program. Writes JSON to bench/results/named-peers.json.
 *
 * Usage: npm run bench:named -- [--runs N]. Exit code 1 when a peer is not found in 20 s or
 * found the wrong way. Traffic stays inside the namespaces made here, removed at the end.
 */
import fs from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { fixturesDir, tempDir, waitFor } from "../test/helpers/net.js";
import { ip, NetLab, nsExec } from "../test/helpers/netns.js";
import { peerFolders, ServeProcess } from "../test/helpers/process.js";

const { values } = parseArgs({ options: { runs: { type: "string", default: "5" } } });
const runs = Number(values.runs);
const lab = new NetLab("bench");
const root = tempDir();
const servers: ServeProcess[] = [];
const results: { named: number; exchange: number }[] = [];
let failed = false;
try {
	const lanA = lab.lan("swa", ["a", "r"]);
	const lanB = lab.lan("swb", ["b", "c", "r"], { iface: "eth1" });
	nsExec(lab.ns("r"), "sysctl", "-qw", "net.ipv4.ip_forward=1");
	ip("-n", lanA[0].ns, "route", "add", "default", "via", lanA[1].address);
	for (const h of lanB.slice(0, 2))
		ip("-n", h.ns, "route", "add", "default", "via", lanB[2].address);
	const onB = ["--broadcast", "10.77.2.255"];
	const bob = new ServeProcess([...onB, ...peerFolders(root, "bob", fixturesDir())], {
		netns: lanB[0].ns,
	});
	const carol = new ServeProcess([...onB, ...peerFolders(root, "carol", fixturesDir())], {
		netns: lanB[1].ns,
	});
	servers.push(bob, carol);
	await waitFor(() => bob.events.some((e) => e.event === "peer-joined"), "bob hears carol", 20_000);
	for (let run = 0; run < runs; run++) {
		const alice = new ServeProcess(
			["--broadcast", "10.77.1.255", ...peerFolders(root, "alice"), "--peer", lanB[0].address],
			{ netns: lanA[0].ns },
		);
		servers.push(alice);
		await waitFor(() => alice.event("ready"), "alice ready", 20_000);
		const start = Date.now();
		const joined = (name: string) =>
			alice.events.find((e) => e.event === "peer-joined" && e.name === name);
		const bobJoined = await waitFor(() => joined("bob"), "bob", 20_000);
		const named = Date.now() - start;
		const carolJoined = await waitFor(() => joined("carol"), "carol", 20_000);
		const exchange = Date.now() - start;
		if (bobJoined.found !== "named" || carolJoined.found !== "exchange") failed = true;
		results.push({ named, exchange });
		console.log(
			`run ${run + 1}: bob (${String(bobJoined.found)}) after ${named} ms, carol (${String(carolJoined.found)}) after ${exchange} ms`,
		);
		await alice.stop();
	}
} catch (error) {
	console.error(error instanceof Error ? error.message : String(error));
	failed = true;
} finally {
	await Promise.all(servers.map((s) => s.stop()));
	lab.cleanup();
	fs.rmSync(root, { recursive: true, force: true });
}
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? 0;
const summary = {
	interval: 2_000,
	runs: results,
	medianNamedMs: median(results.map((r) => r.named)),
	medianExchangeMs: median(results.map((r) => r.exchange)),
	maxNamedMs: Math.max(0, ...results.map((r) => r.named)),
	maxExchangeMs: Math.max(0, ...results.map((r) => r.exchange)),
};
console.log(
	`median: named ${summary.medianNamedMs} ms, exchange ${summary.medianExchangeMs} ms (max ${summary.maxNamedMs} / ${summary.maxExchangeMs} ms)`,
);
const out = path.resolve(
	path.dirname(fileURLToPath(import.meta.url)),
	"..",
	"..",
	"bench",
	"results",
);
fs.mkdirSync(out, { recursive: true });
fs.writeFileSync(path.join(out, "named-peers.json"), `${JSON.stringify(summary, null, "\t")}\n`);
process.exit(failed ? 1 : 0);
