/**
 * Discovery on every interface and over IPv6, in network namespaces the test makes (and
 * always removes), with no `--broadcast`: the peers pick their own targets.
 *
 * - A multi-homed host (LAN on eth0, its default route on eth1 towards another network,
 *   IPv6 off so only IPv4 broadcast can carry it) is heard by the LAN and hears it.
 * - `doctor` on that host reports eth1, where a firewall drops our announces, as not
 *   coming back, and eth0 as coming back with the LAN peer heard on it.
 * - An IPv6-only link, once with ULA addresses only and once with link-local ones only
 *   (shown with their scope), lists and downloads a file byte for byte over the four
 *   transfer ports, under a network key.
 *
 * Each prints the time a new peer took to appear (from its `ready` to the other side's
 * `peer-joined`): the figure the report quotes.
 */
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import { after, describe, it } from "node:test";
import { fixturesDir, freePort, tempDir, waitFor } from "../helpers/net.js";
import { ip, NetLab, nsExec } from "../helpers/netns.js";
import { loopbackNet, peerFolders, runCli, ServeProcess } from "../helpers/process.js";

const INTERVAL = ["--interval", "300"];

/** Times (ms since the epoch) at which a serve process printed each event, by kind and peer name. */
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

function b3(file: string): string {
	return execFileSync("b3sum", ["--no-names", file], { encoding: "utf8" });
}

describe("every interface: a multi-homed host whose default route is elsewhere", () => {
	const lab = new NetLab("mh");
	const root = tempDir();
	const servers: ServeProcess[] = [];

	after(async () => {
		await Promise.all(servers.map((s) => s.stop()));
		lab.cleanup();
		fs.rmSync(root, { recursive: true, force: true });
	});

	it("is heard by the LAN and hears it; doctor says which interface's announces come back", async () => {
		const [m, l] = lab.lan("sw", ["m", "l"]);
		const r = lab.host("r");
		lab.link(m.ns, "eth1", r, "up0");
		lab.addr(m.ns, "eth1", "10.99.0.2/24");
		lab.addr(r, "up0", "10.99.0.1/24");
		ip("-n", m.ns, "route", "add", "default", "via", "10.99.0.1", "dev", "eth1");
		ip("-n", l.ns, "route", "add", "default", "via", m.address, "dev", "eth0");
		// IPv6 off: only IPv4 can carry the announces, so the directed broadcast must do it.
		for (const ns of [m.ns, l.ns]) nsExec(ns, "sysctl", "-qw", "net.ipv6.conf.all.disable_ipv6=1");

		const lan = new ServeProcess([...INTERVAL, ...peerFolders(root, "lan", fixturesDir())], {
			netns: l.ns,
		});
		servers.push(lan);
		const lanSeen = stamp(lan);
		await waitFor(() => lan.event("ready"), "LAN peer ready");
		const spawned = Date.now();
		const multi = new ServeProcess([...INTERVAL, ...peerFolders(root, "multi")], { netns: m.ns });
		servers.push(multi);
		const multiSeen = stamp(multi);
		await waitFor(() => multiSeen.get("ready"), "multi-homed peer ready");
		const heard = await waitFor(
			() => lan.events.find((e) => e.event === "peer-joined" && e.name === "multi"),
			"the LAN hears the multi-homed host",
		);
		assert.equal(heard.address, m.address, "heard by its LAN address, not the other network's");
		const hears = await waitFor(
			() => multi.events.find((e) => e.event === "peer-joined" && e.name === "lan"),
			"the multi-homed host hears the LAN",
		);
		assert.equal(hears.address, l.address);
		console.log(
			`multi-homed: from the new peer's spawn: ready (Node start-up, first announce) ${(multiSeen.get("ready") ?? 0) - spawned} ms, heard by the LAN ${(lanSeen.get("peer-joined:multi") ?? 0) - spawned} ms, hears the LAN ${(multiSeen.get("peer-joined:lan") ?? 0) - spawned} ms (interval 300 ms)`,
		);

		// A link whose far end is down (a cable to a switched-off machine): no carrier.
		ip("-n", m.ns, "link", "add", "eth2", "type", "veth", "peer", "name", "eth2p");
		ip("-n", m.ns, "link", "set", "eth2", "up");
		// A firewall drops our announces going out of eth1: doctor sees they do not come back.
		nsExec(
			m.ns,
			"iptables",
			"-A",
			"OUTPUT",
			"-o",
			"eth1",
			"-p",
			"udp",
			"--dport",
			"45454",
			"-j",
			"DROP",
		);
		const doc = await runCli(
			["doctor", "--json", ...INTERVAL, ...peerFolders(root, "doc"), "--port", "47000"],
			30_000,
			{ netns: m.ns },
		);
		assert.equal(doc.code, 0, doc.stderr);
		const report = JSON.parse(doc.stdout) as {
			interfaces: { name: string; state: string; targets: string[]; v4Back?: boolean }[];
			ports: { role: string; port: number; v4: boolean; v6: boolean }[];
			peers: { name: string; endpoint: string; iface?: string }[];
			folders: { role: string; ok: boolean }[];
			causes: string[];
		};
		const iface = (name: string) => report.interfaces.find((i) => i.name === name);
		assert.deepEqual(iface("eth0")?.targets, ["10.77.1.255"]);
		assert.equal(iface("eth0")?.v4Back, true, "eth0's announces come back");
		assert.deepEqual(iface("eth1")?.targets, ["10.99.0.255"]);
		assert.equal(iface("eth1")?.v4Back, false, "eth1's announces are dropped");
		assert.ok(
			report.causes.some((c) => c.includes("did not come back on eth1")),
			doc.stdout,
		);
		assert.ok(!report.causes.some((c) => c.includes("on eth0")), doc.stdout);
		assert.deepEqual(iface("eth2"), {
			name: "eth2",
			state: "no carrier",
			addresses: [],
			targets: [],
			v4Back: false,
			v6Back: false,
		});
		assert.deepEqual(
			report.peers
				.filter((p) => p.name !== "multi")
				.map((p) => `${p.name} ${p.endpoint} ${p.iface}`),
			[
				`lan ${l.address}:${(lan.event("ready")?.ports as { receive: number } | undefined)?.receive} eth0`,
			],
		);
		assert.deepEqual(
			report.ports.map((p) => `${p.role} ${p.port} ${p.v4}`),
			[
				"discovery 45454 true",
				"receive 47000 true",
				"send 47001 true",
				"distribute 47002 true",
				"distributee 47003 true",
			],
		);
		assert.ok(report.folders.every((f) => f.ok));

		// The one-screen form says the same in words.
		const text = await runCli(["doctor", ...INTERVAL, ...peerFolders(root, "doc")], 30_000, {
			netns: m.ns,
		});
		assert.equal(text.code, 0, text.stderr);
		assert.match(text.stdout, /→ 10\.99\.0\.255: did NOT come back/);
		assert.match(text.stdout, /→ 10\.77\.1\.255: came back/);
		assert.match(text.stdout, /lan 10\.77\.1\.3:\d+ via eth0/);
		assert.match(text.stdout, /eth2 +no carrier/);
	});
});

for (const mode of ["ULA", "link-local"] as const)
	describe(`IPv6 end to end: an IPv6-only link (${mode} only), under a network key`, () => {
		const lab = new NetLab(mode === "ULA" ? "v6u" : "v6l");
		const root = tempDir();
		const servers: ServeProcess[] = [];

		after(async () => {
			await Promise.all(servers.map((s) => s.stop()));
			lab.cleanup();
			fs.rmSync(root, { recursive: true, force: true });
		});

		it("finds the peer, lists and downloads a file byte for byte", async () => {
			// The seal, the source guard, tokens and the three-times limit all on IPv6 addresses.
			const INTERVAL = ["--interval", "300", "--network-key", "v6 only"];
			const [a, b] = lab.lan("sw", ["a", "b"], { v4: false });
			if (mode === "ULA") {
				// ULA addresses only: the link-local ones go, so every datagram uses fd77::/64.
				for (const [h, n] of [
					[a, 1],
					[b, 2],
				] as const) {
					ip("-n", h.ns, "-6", "addr", "flush", "dev", "eth0", "scope", "link");
					lab.addr(h.ns, "eth0", `fd77::${n}/64`);
				}
			}
			// link-local: the kernel's own fe80:: addresses, usable once duplicate detection ends.
			const seeder = new ServeProcess(
				[...INTERVAL, ...peerFolders(root, "seeder", fixturesDir())],
				{
					netns: a.ns,
				},
			);
			servers.push(seeder);
			await waitFor(() => seeder.event("ready"), "seeder ready");
			const spawned = Date.now();
			const watcher = new ServeProcess([...INTERVAL, ...peerFolders(root, "watcher")], {
				netns: b.ns,
			});
			servers.push(watcher);
			const seen = stamp(watcher);
			await waitFor(() => seen.get("ready"), "watcher ready");
			const joined = await waitFor(
				() => watcher.events.find((e) => e.event === "peer-joined" && e.name === "seeder"),
				"the IPv6 peer heard",
			);
			const address = String(joined.address);
			if (mode === "ULA") assert.equal(address, "fd77::1");
			else assert.match(address, /^fe80::[0-9a-f:]+%eth0$/, "link-local, with its scope");
			console.log(
				`IPv6-only link (${mode}): from the new peer's spawn: ready ${(seen.get("ready") ?? 0) - spawned} ms, hears the seeder ${(seen.get("peer-joined:seeder") ?? 0) - spawned} ms (interval 300 ms), at ${address}`,
			);

			const peers = await runCli(
				["peers", ...INTERVAL, ...peerFolders(root, "leech"), "--wait", "1500"],
				30_000,
				{ netns: b.ns },
			);
			assert.equal(peers.code, 0, peers.stderr);
			// Shown the usual way: [address]:port, a link-local one with its scope.
			assert.match(
				peers.stdout,
				mode === "ULA"
					? /^seeder\t\[fd77::1\]:\d+\t/m
					: /^seeder\t\[fe80::[0-9a-f:]+%eth0\]:\d+\t/m,
			);

			const listed = await runCli(
				["list", ...INTERVAL, ...peerFolders(root, "leech"), "--wait", "1500"],
				30_000,
				{ netns: b.ns },
			);
			assert.equal(listed.code, 0, listed.stderr);
			assert.match(listed.stdout, /random-3MiB\.bin/);

			const got = await runCli(
				["get", "random-3MiB.bin", ...INTERVAL, ...peerFolders(root, "leech"), "--wait", "1500"],
				60_000,
				{ netns: b.ns },
			);
			assert.equal(got.code, 0, got.stderr);
			const file = path.join(root, "leech", "dl", "random-3MiB.bin");
			assert.equal(b3(file), b3(path.join(fixturesDir(), "random-3MiB.bin")));
		});
	});

describe("doctor on loopback with --broadcast", () => {
	const root = tempDir();
	after(() => fs.rmSync(root, { recursive: true, force: true }));

	it("sends only to the address given, sees it come back on lo, names the peer's route and a bad folder", async () => {
		const port = await freePort();
		const net = loopbackNet(port);
		const server = new ServeProcess([...net, ...peerFolders(root, "alice", fixturesDir())]);
		try {
			await waitFor(() => server.event("ready"), "alice ready");
			// A downloads folder under a file cannot be made: doctor says so.
			fs.writeFileSync(path.join(root, "plain-file"), "x");
			const doc = await runCli([
				"doctor",
				"--json",
				...net,
				...peerFolders(root, "doc"),
				"--downloads",
				path.join(root, "plain-file", "dl"),
			]);
			assert.equal(doc.code, 0, doc.stderr);
			const report = JSON.parse(doc.stdout) as {
				mode: string;
				interfaces: { name: string; targets: string[]; v4Back?: boolean }[];
				routed: string[];
				peers: { name: string; iface?: string }[];
				folders: { role: string; ok: boolean; problem?: string }[];
			};
			assert.equal(report.mode, "127.255.255.255");
			const lo = report.interfaces.find((i) => i.name === "lo");
			assert.deepEqual(lo?.targets, ["127.255.255.255"]);
			assert.equal(lo?.v4Back, true);
			// Nothing else is announced to: no other interface has a target.
			assert.deepEqual(
				report.interfaces.filter((i) => i.name !== "lo").flatMap((i) => i.targets),
				[],
			);
			assert.deepEqual(report.routed, []);
			assert.deepEqual(
				report.peers.map((p) => `${p.name} ${p.iface}`),
				["alice lo"],
			);
			const downloads = report.folders.find((f) => f.role === "downloads");
			assert.equal(downloads?.ok, false, JSON.stringify(downloads));
			assert.equal(downloads?.problem, "a file is in the way");
		} finally {
			await server.stop();
		}
	});
});
