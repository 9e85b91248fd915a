/**
 * How long a new peer takes to appear (`npm run bench:appear`), with no `--broadcast`
 * (every interface) and the default 2 s announce interval, in network namespaces made
 * here and always removed (needs root and iproute2). Three scenarios, `--trials N` each
 * (default 5):
 *
 * - `multi-homed`: a host on a LAN whose default route is on another interface (IPv6 off,
 *   so only its directed broadcast can carry it) starts; time until the LAN peer lists it.
 * - `ipv6`: a peer starts on an IPv6-only link (ULA and link-local); time until the
 *   other lists it.
 * - `interface-up`: two peers already run, with no link between them; the link comes up
 *   with addresses; time until both list each other (the interface watcher's work, bounded
 *   by one announce interval).
 *
 * Times are from the new peer's spawn (Node start-up included; its `ready` is printed
 * too) or from the link coming up. Writes bench/results/appear.json.
 * Usage: npm run bench:appear -- [--trials N]
 */
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { waitFor } from "../test/helpers/net.js";
import { ip, NetLab, nsExec } from "../test/helpers/netns.js";
import { ServeProcess } from "../test/helpers/process.js";

const here = path.dirname(fileURLToPath(import.meta.url));
const { values } = parseArgs({ options: { trials: { type: "string", default: "5" } } });
const trials = Number(values.trials);

/** First time (ms since the epoch) each event kind (and kind:name) was printed. */
function stamp(server: ServeProcess): Map<string, number> {
	const seen = new Map<string, number>();
	let buffered = "";
	server.child.stdout?.on("data", (chunk: string) => {
		const now = Date.now();
		buffered += chunk;
		const lines = buffered.split("\n");
		buffered = lines.pop() ?? "";
		for (const line of lines) {
			if (!line.trim()) continue;
			const e = JSON.parse(line) as { event: string; name?: string };
			for (const key of [e.event, `${e.event}:${e.name}`]) if (!seen.has(key)) seen.set(key, now);
		}
	});
	return seen;
}

function folders(root: string, name: string): string[] {
	const dir = path.join(root, name);
	return [
		"--name",
		name,
		"--share",
		path.join(dir, "share"),
		"--downloads",
		path.join(dir, "dl"),
		"--config-dir",
		path.join(dir, "cfg"),
	];
}

interface Sample {
	/** Spawn (or link up) to the other side listing the new peer, ms. */
	appeared: number;
	/** Spawn to the new peer's `ready`, ms (undefined for interface-up). */
	ready?: number;
	/** The address it was listed at. */
	address: string;
}

async function trial(scenario: string, root: string): Promise<Sample> {
	const lab = new NetLab("ap");
	const servers: ServeProcess[] = [];
	const serve = (ns: string, name: string) => {
		const s = new ServeProcess(folders(root, name), { netns: ns });
		servers.push(s);
		return { s, seen: stamp(s) };
	};
	const joined = (s: ServeProcess, name: string) =>
		s.events.find((e) => e.event === "peer-joined" && e.name === name);
	try {
		if (scenario === "multi-homed") {
			const [m, l] = lab.lan("sw", ["m", "l"]);
			const r = lab.host("r");
			lab.link(m.ns, "eth1", r, "up0");
			lab.addr(m.ns, "eth1", "10.99.0.2/24");
			lab.addr(r, "up0", "10.99.0.1/24");
			ip("-n", m.ns, "route", "add", "default", "via", "10.99.0.1", "dev", "eth1");
			for (const ns of [m.ns, l.ns])
				nsExec(ns, "sysctl", "-qw", "net.ipv6.conf.all.disable_ipv6=1");
			const lan = serve(l.ns, "lan");
			await waitFor(() => lan.s.event("ready"), "lan ready", 30_000);
			const spawned = Date.now();
			const multi = serve(m.ns, "multi");
			const e = await waitFor(() => joined(lan.s, "multi"), "multi heard", 30_000);
			return {
				appeared: (lan.seen.get("peer-joined:multi") ?? 0) - spawned,
				ready: (await waitFor(() => multi.seen.get("ready"), "ready")) - spawned,
				address: String(e.address),
			};
		}
		if (scenario === "ipv6") {
			const [a, b] = lab.lan("sw", ["a", "b"], { v4: false });
			lab.addr(a.ns, "eth0", "fd77::1/64");
			lab.addr(b.ns, "eth0", "fd77::2/64");
			const old = serve(a.ns, "old");
			await waitFor(() => old.s.event("ready"), "old ready", 30_000);
			const spawned = Date.now();
			const fresh = serve(b.ns, "new");
			const e = await waitFor(() => joined(old.s, "new"), "new heard", 30_000);
			return {
				appeared: (old.seen.get("peer-joined:new") ?? 0) - spawned,
				ready: (await waitFor(() => fresh.seen.get("ready"), "ready")) - spawned,
				address: String(e.address),
			};
		}
		// interface-up
		const a = lab.host("a");
		const b = lab.host("b");
		const pa = serve(a, "a");
		const pb = serve(b, "b");
		await waitFor(() => pa.s.event("ready") && pb.s.event("ready"), "both ready", 30_000);
		const up = Date.now();
		lab.link(a, "eth0", b, "eth0");
		lab.addr(a, "eth0", "10.88.0.1/24");
		lab.addr(b, "eth0", "10.88.0.2/24");
		const e = await waitFor(() => joined(pa.s, "b"), "b heard", 30_000);
		await waitFor(() => joined(pb.s, "a"), "a heard", 30_000);
		return {
			appeared: Math.max(pa.seen.get("peer-joined:b") ?? 0, pb.seen.get("peer-joined:a") ?? 0) - up,
			address: String(e.address),
		};
	} finally {
		await Promise.all(servers.map((s) => s.stop()));
		lab.cleanup();
	}
}

const root = fs.mkdtempSync(path.join(os.tmpdir(), "p2p-appear-"));
const results: Record<string, { samples: Sample[]; median: number; max: number }> = {};
try {
	for (const scenario of ["multi-homed", "ipv6", "interface-up"]) {
		const samples: Sample[] = [];
		for (let i = 0; i < trials; i++) samples.push(await trial(scenario, root));
		const sorted = samples.map((s) => s.appeared).sort((x, y) => x - y);
		results[scenario] = {
			samples,
			median: sorted[Math.floor(sorted.length / 2)],
			max: sorted.at(-1) ?? 0,
		};
		const readies = samples.map((s) => s.ready).filter((r) => r !== undefined);
		console.log(
			`${scenario.padEnd(12)} appeared median ${results[scenario].median} ms, max ${results[scenario].max} ms` +
				(readies.length
					? ` (spawn to ready, Node start-up and first announce: ${readies.join(", ")} ms; ready to listed: ${samples.map((x) => x.appeared - (x.ready ?? 0)).join(", ")} ms)`
					: "") +
				`, at ${samples[0].address}`,
		);
	}
} finally {
	fs.rmSync(root, { recursive: true, force: true });
}
const out = path.join(here, "..", "..", "bench", "results", "appear.json");
fs.writeFileSync(out, `${JSON.stringify({ interval: 2000, trials, results }, null, "\t")}\n`);
console.log(`wrote ${path.relative(process.cwd(), out)}`);
