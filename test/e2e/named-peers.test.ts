/**
 * Peers named by address and peer exchange across a router (docs/protocol.md §15): two
 * LANs of namespaces (bridges over 1500-byte MTU veth links) joined by a router namespace
 * that forwards unicast (ip_forward=1) and, as every router, no broadcast. Alice on LAN A
 * names bob on LAN B with `--peer`: she sees him, lists and downloads his file byte for
 * byte; carol, bob's neighbour (heard by him by broadcast on LAN B), is found through peer
 * exchange and her files are listed; a host name (resolved inside the namespace) works as
 * well as an address. Every peer announces to its own LAN's directed
 * broadcast address; traffic stays inside the namespaces the test made.
 */
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import { after, before, describe, it } from "node:test";
import { fixturesDir, tempDir, waitFor } from "../helpers/net.js";
import { ip, type LanHost, NetLab, nsExec } from "../helpers/netns.js";
import { peerFolders, runCli, ServeProcess } from "../helpers/process.js";

describe("named peers and peer exchange across a router", () => {
	const lab = new NetLab("named");
	const root = tempDir();
	const servers: ServeProcess[] = [];
	let lanA: LanHost[];
	let lanB: LanHost[];
	/** Whether this test made /etc/netns (then it removes it, else only its own folder). */
	let madeEtcNetns = false;
	const interval = ["--interval", "300"];
	const onA = () => ["--broadcast", "10.77.1.255", ...interval];
	const onB = () => ["--broadcast", "10.77.2.255", ...interval];

	before(async () => {
		// LAN A: alice (10.77.1.2), the router (10.77.1.3). LAN B: bob (10.77.2.2), carol
		// (10.77.2.3), the router (10.77.2.4).
		lanA = lab.lan("swa", ["a", "r"]);
		lanB = lab.lan("swb", ["b", "c", "r"], { iface: "eth1" });
		const router = lab.ns("r");
		nsExec(router, "sysctl", "-qw", "net.ipv4.ip_forward=1");
		ip("-n", lanA[0].ns, "route", "add", "default", "via", lanA[1].address);
		for (const host of lanB.slice(0, 2))
			ip("-n", host.ns, "route", "add", "default", "via", lanB[2].address);
		const carolShare = path.join(root, "carol", "share");
		fs.mkdirSync(carolShare, { recursive: true });
		fs.writeFileSync(path.join(carolShare, "carol-only.txt"), "shared by carol, behind bob\n");
		const bob = new ServeProcess([...onB(), ...peerFolders(root, "bob", fixturesDir())], {
			netns: lanB[0].ns,
		});
		const carol = new ServeProcess([...onB(), ...peerFolders(root, "carol", carolShare)], {
			netns: lanB[1].ns,
		});
		servers.push(bob, carol);
		await waitFor(() => bob.event("ready") && carol.event("ready"), "bob and carol ready");
		await waitFor(
			() => bob.events.some((e) => e.event === "peer-joined" && e.name === "carol"),
			"bob hears carol on LAN B",
		);
	});

	after(async () => {
		await Promise.all(servers.map((s) => s.stop()));
		lab.cleanup();
		fs.rmSync(root, { recursive: true, force: true });
		if (lanA) fs.rmSync(`/etc/netns/${lanA[0].ns}`, { recursive: true, force: true });
		if (madeEtcNetns) {
			try {
				// Only when empty: another test may have put its own namespace's files there since.
				fs.rmdirSync("/etc/netns");
			} catch {}
		}
	});

	it("no broadcast crosses the router: without --peer alice hears nobody", async () => {
		const peers = await runCli(
			["peers", ...onA(), ...peerFolders(root, "alone"), "--wait", "1000", "--json"],
			30_000,
			{ netns: lanA[0].ns },
		);
		assert.equal(peers.code, 0, peers.stderr);
		assert.deepEqual(JSON.parse(peers.stdout), []);
	});

	it("--peer reaches bob across the router, and peer exchange finds carol", async () => {
		const t0 = Date.now();
		const alice = new ServeProcess(
			[...onA(), ...peerFolders(root, "alice"), "--peer", lanB[0].address],
			{ netns: lanA[0].ns },
		);
		servers.push(alice);
		await waitFor(() => alice.event("ready"), "alice ready");
		const ready = Date.now();
		const joined = (name: string) =>
			alice.events.find((e) => e.event === "peer-joined" && e.name === name);
		const bob = await waitFor(() => joined("bob"), "alice hears bob");
		const bobAt = Date.now();
		const carol = await waitFor(() => joined("carol"), "alice finds carol by exchange");
		const carolAt = Date.now();
		assert.equal(bob.address, lanB[0].address);
		assert.equal(bob.found, "named");
		assert.equal(carol.address, lanB[1].address);
		assert.equal(carol.found, "exchange");
		// The figures the report quotes (20 ms polling; from alice's `ready`).
		console.log(
			`named peer across the router: bob after ${bobAt - ready} ms, carol (exchange) after ${carolAt - ready} ms (start to ready ${ready - t0} ms)`,
		);
		await alice.stop();
	});

	it("peers --json marks them; list shows carol's files; get downloads bob's byte for byte", async () => {
		const named = [...onA(), ...peerFolders(root, "dave"), "--peer", `${lanB[0].address}:45454`];
		// By host name: `ip netns exec` mounts /etc/netns/<ns>/hosts over /etc/hosts, so the
		// name resolves (dns.lookup) inside alice's namespace only.
		madeEtcNetns = !fs.existsSync("/etc/netns");
		fs.mkdirSync(`/etc/netns/${lanA[0].ns}`, { recursive: true });
		fs.writeFileSync(`/etc/netns/${lanA[0].ns}/hosts`, `${lanB[0].address} bob.lan-b.test\n`);
		const byName = [...onA(), ...peerFolders(root, "dave"), "--peer", "bob.lan-b.test:45454"];
		const peers = await runCli(["peers", ...byName, "--wait", "2500", "--json"], 30_000, {
			netns: lanA[0].ns,
		});
		assert.equal(peers.code, 0, peers.stderr);
		const found = (JSON.parse(peers.stdout) as { name: string; found: string }[])
			.map((p) => `${p.name}:${p.found}`)
			.sort();
		assert.deepEqual(found, ["bob:named", "carol:exchange"]);

		const listed = await runCli(["list", ...named, "--wait", "2500", "--json"], 30_000, {
			netns: lanA[0].ns,
		});
		assert.equal(listed.code, 0, listed.stderr);
		const names = (JSON.parse(listed.stdout) as { name: string }[]).map((f) => f.name);
		assert.ok(names.includes("carol-only.txt"), `carol's file listed: ${names.join(", ")}`);
		assert.ok(names.includes("random-3MiB.bin"), "bob's files listed");

		const got = await runCli(["get", "random-3MiB.bin", ...named, "--wait", "2500"], 60_000, {
			netns: lanA[0].ns,
		});
		assert.equal(got.code, 0, got.stderr);
		const file = path.join(root, "dave", "dl", "random-3MiB.bin");
		const b3 = (f: string) => execFileSync("b3sum", ["--no-names", f], { encoding: "utf8" });
		assert.equal(b3(file), b3(path.join(fixturesDir(), "random-3MiB.bin")));
	});
});
