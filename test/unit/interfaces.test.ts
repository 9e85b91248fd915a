/**
 * The interface list as discovery sees it (injected, so no real interface is touched):
 * directed broadcasts, the IPv6 multicast group with scope per link, the watcher that
 * follows interfaces coming and going, the interface a peer's address is on, and the one
 * endpoint formatter. Plus a transfer port bound on both families, over loopback only.
 */
import assert from "node:assert/strict";
import dgram from "node:dgram";
import type os from "node:os";
import { describe, it } from "node:test";
import { Discovery } from "../../source/discovery/discovery.js";
import {
	announceTargets,
	directedBroadcast,
	InterfaceWatcher,
	interfaceOf,
	MULTICAST_GROUP,
	readInterfaces,
} from "../../source/discovery/interfaces.js";
import { formatEndpoint } from "../../source/protocol/address.js";
import { Identity } from "../../source/protocol/identity.js";
import { DualSocket } from "../../source/transfer/dual-socket.js";
import { freePort, waitFor } from "../helpers/net.js";

type List = NodeJS.Dict<os.NetworkInterfaceInfo[]>;

function v4(address: string, netmask: string, internal = false): os.NetworkInterfaceInfo {
	return { address, netmask, family: "IPv4", mac: "00:00:00:00:00:00", internal, cidr: null };
}
function v6(address: string, prefix: number, internal = false): os.NetworkInterfaceInfo {
	const netmask =
		prefix === 128 ? "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff" : "ffff:ffff:ffff:ffff::";
	return {
		address,
		netmask,
		family: "IPv6",
		mac: "00:00:00:00:00:00",
		internal,
		cidr: null,
		scopeid: 0,
	};
}

const LO = [v4("127.0.0.1", "255.0.0.0", true), v6("::1", 128, true)];
/** Linux flags: UP|BROADCAST|RUNNING|MULTICAST, and LOOPBACK|UP|RUNNING. */
const flags = (name: string) => (name === "lo" ? 0x49 : 0x1043);

describe("interfaces", () => {
	it("computes directed broadcast addresses, none for /31 and /32", () => {
		assert.equal(directedBroadcast("10.77.1.2", "255.255.255.0"), "10.77.1.255");
		assert.equal(directedBroadcast("172.16.5.9", "255.255.240.0"), "172.16.15.255");
		assert.equal(directedBroadcast("127.0.0.1", "255.0.0.0"), "127.255.255.255");
		assert.equal(directedBroadcast("10.0.0.1", "255.255.255.254"), undefined);
		assert.equal(directedBroadcast("10.0.0.1", "255.255.255.255"), undefined);
		assert.equal(directedBroadcast("fe80::1", "255.255.255.0"), undefined);
	});

	it("announces to each interface's broadcast, 255.255.255.255 and the group per IPv6 link", () => {
		const list: List = {
			lo: LO,
			eth0: [v4("10.77.1.2", "255.255.255.0"), v6("fe80::1", 64)],
			wlan0: [v4("192.168.1.7", "255.255.255.0")],
			eth1: [v6("fd77::1", 64)],
		};
		const ifaces = readInterfaces({ list: () => list, flags });
		assert.deepEqual(
			announceTargets(ifaces).map((t) => `${t.address}@${t.iface ?? "route"}`),
			[
				"10.77.1.255@eth0",
				"127.255.255.255@lo",
				"192.168.1.255@wlan0",
				"255.255.255.255@route",
				`${MULTICAST_GROUP}%eth0@eth0`,
				`${MULTICAST_GROUP}%eth1@eth1`,
			],
		);
		// Loopback carries no multicast; a point-to-point link (no BROADCAST flag) no broadcast.
		const ptp = readInterfaces({
			list: () => ({ tun0: [v4("10.8.0.2", "255.255.255.0")] }),
			flags: () => 0x1091,
		});
		assert.deepEqual(
			announceTargets(ptp).map((t) => t.address),
			["255.255.255.255"],
		);
	});

	it("follows interfaces that come and go (the watcher joins and leaves the group)", () => {
		let list: List = { lo: LO, eth0: [v4("10.77.1.2", "255.255.255.0"), v6("fe80::1", 64)] };
		const watcher = new InterfaceWatcher({ list: () => list, flags });
		assert.deepEqual(watcher.poll(), { joined: ["eth0"], left: [], changed: true });
		assert.deepEqual(watcher.poll(), { joined: [], left: [], changed: false });
		// Wi-Fi comes up with IPv6; a VPN with IPv4 only.
		list = {
			...list,
			wlan0: [v4("192.168.1.7", "255.255.255.0"), v6("fe80::2", 64)],
			tun0: [v4("10.8.0.2", "255.255.255.0")],
		};
		assert.deepEqual(watcher.poll(), { joined: ["wlan0"], left: [], changed: true });
		assert.ok(watcher.targets().some((t) => t.address === "192.168.1.255"));
		assert.ok(watcher.targets().some((t) => t.address === `${MULTICAST_GROUP}%wlan0`));
		// The cable is pulled: eth0 is no longer listed (not running), its group is left.
		const { eth0: _gone, ...rest } = list;
		list = rest;
		assert.deepEqual(watcher.poll(), { joined: [], left: ["eth0"], changed: true });
		assert.ok(!watcher.targets().some((t) => t.address === "10.77.1.255"));
		// An address change alone changes the targets, joins nothing.
		list = { ...list, wlan0: [v4("192.168.2.7", "255.255.255.0"), v6("fe80::2", 64)] };
		assert.deepEqual(watcher.poll(), { joined: [], left: [], changed: true });
		assert.ok(watcher.targets().some((t) => t.address === "192.168.2.255"));
		// A failed join is forgotten and tried again on the next poll.
		watcher.forget("wlan0");
		assert.deepEqual(watcher.poll().joined, ["wlan0"]);
	});

	it("names the interface a peer's address is on", () => {
		const ifaces = readInterfaces({
			list: () => ({
				lo: LO,
				eth0: [v4("10.77.1.2", "255.255.255.0"), v6("fe80::1", 64), v6("fd77::1", 64)],
				eth1: [v4("10.77.2.2", "255.255.255.0")],
			}),
			flags,
		});
		assert.equal(interfaceOf("10.77.2.9", ifaces), "eth1");
		assert.equal(interfaceOf("10.77.1.200", ifaces), "eth0");
		assert.equal(interfaceOf("127.0.0.1", ifaces), "lo");
		assert.equal(interfaceOf("fe80::9%eth1", ifaces), "eth1");
		assert.equal(interfaceOf("fd77::2", ifaces), "eth0");
		assert.equal(interfaceOf("fd78::2", ifaces), undefined);
		assert.equal(interfaceOf("8.8.8.8", ifaces), undefined);
	});

	it("formats endpoints the usual way", () => {
		assert.equal(formatEndpoint("10.0.0.2", 45460), "10.0.0.2:45460");
		assert.equal(formatEndpoint("fd77::2", 45460), "[fd77::2]:45460");
		assert.equal(formatEndpoint("fe80::1%eth0", 45460), "[fe80::1%eth0]:45460");
		assert.equal(formatEndpoint("::1", 1), "[::1]:1");
	});
});

describe("a transfer port on both families (loopback)", () => {
	it("receives from 127.0.0.1 and ::1 and answers each from its own family", async () => {
		const port = await freePort();
		const socket = await DualSocket.bind(port, "0.0.0.0");
		assert.ok(socket, "bound");
		assert.ok(socket.v6, "IPv6 socket bound beside the IPv4 one");
		const seen: string[] = [];
		socket.socket.on("message", (msg, rinfo) => {
			seen.push(`${msg}@${rinfo.family}`);
			socket.socket.send(Buffer.from(`re:${msg}`), rinfo.port, rinfo.address);
		});
		const answers: string[] = [];
		const c4 = dgram.createSocket("udp4");
		const c6 = dgram.createSocket("udp6");
		for (const c of [c4, c6]) c.on("message", (m) => answers.push(String(m)));
		c4.send("four", port, "127.0.0.1");
		c6.send("six", port, "::1");
		await waitFor(() => answers.length === 2, "both answers");
		assert.deepEqual(seen.sort(), ["four@IPv4", "six@IPv6"]);
		assert.deepEqual(answers.sort(), ["re:four", "re:six"]);
		// A second bind of the same port fails on either family: the block is taken.
		assert.equal(await DualSocket.bind(port, "0.0.0.0"), undefined);
		c4.close();
		c6.close();
		await socket.close();
	});
});

describe("discovery on every interface (interfaces injected: loopback only)", () => {
	it("announces to an interface that comes up within one interval, and hears its own", async () => {
		const port = await freePort();
		// No interface at first (as a laptop before Wi-Fi connects), then loopback comes up.
		let list: List = {};
		const source = { list: () => list, flags };
		const start = (name: string) => {
			return Discovery.start({
				identity: Identity.generate(true),
				port,
				broadcast: [],
				interfaces: source,
				interval: 200,
				describe: () => ({ name, basePort: 30000, revision: 1, fileCount: 0 }),
			});
		};
		const a = await start("alice");
		const b = await start("bob");
		try {
			assert.deepEqual(a.targets(), []);
			assert.deepEqual(a.bound, { v4: true, v6: true });
			let own = 0;
			a.on("self-heard", (from) => {
				if (from === "127.0.0.1") own++;
			});
			// Nothing leaves while no interface is up.
			await new Promise((resolve) => setTimeout(resolve, 450));
			assert.equal(a.peers().length + b.peers().length, 0);
			assert.equal(own, 0);
			list = { lo: LO };
			const upAt = Date.now();
			await waitFor(
				() => a.peers().some((p) => p.name === "bob") && b.peers().some((p) => p.name === "alice"),
				"both heard once loopback is up",
			);
			// Within one interval of the interface coming up (plus slack for a busy machine).
			assert.ok(Date.now() - upAt < 200 + 400, `took ${Date.now() - upAt} ms`);
			assert.deepEqual(
				a.targets().map((t) => t.address),
				["127.255.255.255"],
			);
			await waitFor(() => own > 0, "our own announce came back on loopback");
		} finally {
			await Promise.all([a.close(), b.close()]);
		}
	});
});
