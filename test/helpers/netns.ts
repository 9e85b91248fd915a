/**
 * Test networks made of Linux network namespaces: hosts, LANs (a bridge in a namespace of
 * its own, hosts on veth links with a 1500-byte MTU), routers and NATs. Every namespace a
 * `NetLab` makes carries its unique prefix and is removed by `cleanup()` (its processes
 * killed first), so traffic from the tests stays inside namespaces they made themselves.
 * Needs root and iproute2 (`.ci/run` installs it; CI runs as root).
 */
import { execFileSync } from "node:child_process";
import crypto from "node:crypto";

/** A host on a LAN: its namespace, interface and IPv4 address. */
export interface LanHost {
	/** Namespace name (already prefixed). */
	ns: string;
	/** Interface name inside `ns`. */
	iface: string;
	/** IPv4 address without prefix length, e.g. `10.77.1.2`. */
	address: string;
}

/** Runs `ip ARGS...`, throwing with its stderr on failure. */
export function ip(...args: string[]): string {
	return execFileSync("ip", args, { encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] });
}

/** Runs a command inside namespace `ns`, throwing with its stderr on failure. */
export function nsExec(ns: string, command: string, ...args: string[]): string {
	return execFileSync("ip", ["netns", "exec", ns, command, ...args], {
		encoding: "utf8",
		stdio: ["ignore", "pipe", "pipe"],
	});
}

/**
 * A set of namespaces made for one test. Names are `<prefix>-<name>`, the prefix unique to
 * this process and lab (`p2pt<pid><random>`), so parallel tests never share one.
 */
export class NetLab {
	readonly prefix: string;
	private readonly made: string[] = [];
	private subnet = 0;

	constructor(tag = "") {
		this.prefix = `p2pt${tag}${process.pid % 100_000}${crypto.randomBytes(2).toString("hex")}`;
	}

	/** Makes a namespace with loopback up; returns its full name. */
	host(name: string): string {
		const ns = `${this.prefix}-${name}`;
		ip("netns", "add", ns);
		this.made.push(ns);
		ip("-n", ns, "link", "set", "lo", "up");
		return ns;
	}

	/**
	 * Joins two namespaces with a veth pair (`ifA` in `nsA`, `ifB` in `nsB`), both up.
	 * @param mtu - link MTU in bytes (1500 as on Ethernet)
	 */
	link(nsA: string, ifA: string, nsB: string, ifB: string, mtu = 1500): void {
		ip("-n", nsA, "link", "add", ifA, "type", "veth", "peer", "name", ifB, "netns", nsB);
		ip("-n", nsA, "link", "set", ifA, "mtu", String(mtu), "up");
		ip("-n", nsB, "link", "set", ifB, "mtu", String(mtu), "up");
	}

	/** Adds an address (`10.0.0.1/24`, `fd77::1/64`) to an interface; IPv6 without DAD. */
	addr(ns: string, iface: string, cidr: string): void {
		if (cidr.includes(":")) ip("-n", ns, "-6", "addr", "add", cidr, "dev", iface, "nodad");
		else ip("-n", ns, "addr", "add", cidr, "dev", iface);
	}

	/**
	 * A LAN: a bridge in namespace `<name>` and a veth link from it to each host (made here
	 * when not yet made), each host's end named `iface` with address `10.77.<n>.<i+2>/24`
	 * (n counts the lab's LANs) unless `v4` is false. IPv6 link-local comes by itself.
	 */
	lan(
		name: string,
		hosts: string[],
		options: { iface?: string; v4?: boolean; mtu?: number } = {},
	): LanHost[] {
		const iface = options.iface ?? "eth0";
		const mtu = options.mtu ?? 1500;
		const net = ++this.subnet;
		const sw = this.host(name);
		ip("-n", sw, "link", "add", "br0", "type", "bridge");
		ip("-n", sw, "link", "set", "br0", "up");
		return hosts.map((host, i) => {
			const ns = this.made.includes(`${this.prefix}-${host}`)
				? `${this.prefix}-${host}`
				: this.host(host);
			const port = `p${i}`;
			this.link(sw, port, ns, iface, mtu);
			ip("-n", sw, "link", "set", port, "master", "br0");
			const address = `10.77.${net}.${i + 2}`;
			if (options.v4 !== false) this.addr(ns, iface, `${address}/24`);
			return { ns, iface, address };
		});
	}

	/** Full name of a namespace this lab made by its short name. */
	ns(name: string): string {
		return `${this.prefix}-${name}`;
	}

	/** Kills every process in the lab's namespaces and removes them. Never throws. */
	cleanup(): void {
		for (const ns of this.made.reverse()) {
			try {
				const pids = ip("netns", "pids", ns).split("\n").filter(Boolean);
				for (const pid of pids) {
					try {
						process.kill(Number(pid), "SIGKILL");
					} catch {}
				}
			} catch {}
			try {
				ip("netns", "del", ns);
			} catch {}
		}
		this.made.length = 0;
	}
}
