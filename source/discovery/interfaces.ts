/**
 * The local network interfaces as discovery sees them: which are up, their addresses,
 * where an announce goes on each (an IPv4 interface's directed broadcast address and
 * `255.255.255.255`; an IPv6 interface's link-local multicast group with its scope), a
 * watcher that says which interfaces came and went since the last look, and the one
 * formatter of endpoints (re-exported from `protocol/address.ts`).
 * Pure but for `os.networkInterfaces()` and Linux's `/sys/class/net` flags, both injectable.
 */
import fs from "node:fs";
import { isIPv4, isIPv6 } from "node:net";
import os from "node:os";

export { formatEndpoint, isV6 } from "../protocol/address.js";

/**
 * Our IPv6 multicast group: link-local scope (`2`), transient (`T` flag set: `ff12`, an
 * address IANA did not assign, RFC 4291 section 2.7), group id `7032:7074` ("p2pt" in
 * ASCII). Announces go to it with the scope of each interface, e.g. `ff12::7032:7074%eth0`.
 */
export const MULTICAST_GROUP = "ff12::7032:7074";

/** The IPv4 limited broadcast address (leaves by the default route only). */
export const LIMITED_BROADCAST = "255.255.255.255";

/** Linux interface flags (`/sys/class/net/<if>/flags`, `<linux/if.h>`). */
const IFF_BROADCAST = 0x2;
const IFF_LOOPBACK = 0x8;
const IFF_MULTICAST = 0x1000;

/** One IPv4 address of an interface. */
export interface Ipv4Address {
	address: string;
	netmask: string;
	/** Its directed broadcast address, or undefined for a /31, /32 or a non-broadcast link. */
	broadcast: string | undefined;
}

/** One IPv6 address of an interface. */
export interface Ipv6Address {
	address: string;
	/** Prefix length in bits. */
	prefix: number;
	/** True for `fe80::/10` (only meaningful with the interface's scope). */
	linkLocal: boolean;
}

/** An up interface and what discovery does with it. */
export interface NetInterface {
	name: string;
	loopback: boolean;
	v4: Ipv4Address[];
	v6: Ipv6Address[];
	/** Multicast group with scope (`ff12::7032:7074%eth0`) when announces go there; else undefined. */
	multicast: string | undefined;
}

/** An announce destination and the interface it leaves by (undefined: the routing table decides). */
export interface AnnounceTarget {
	address: string;
	iface: string | undefined;
}

/** What `readInterfaces` reads; tests inject both. */
export interface InterfaceSource {
	/** Interfaces that are up and running with their addresses (as `os.networkInterfaces()`). */
	list: () => NodeJS.Dict<os.NetworkInterfaceInfo[]>;
	/** The interface's Linux flags, or undefined where unknown (not Linux). */
	flags?: (name: string) => number | undefined;
}

/** The real machine's interfaces (`os.networkInterfaces()` only lists the up, running ones). */
export const SYSTEM_INTERFACES: InterfaceSource = {
	list: () => os.networkInterfaces(),
	flags: (name) => {
		try {
			return Number.parseInt(fs.readFileSync(`/sys/class/net/${name}/flags`, "utf8"), 16);
		} catch {
			return undefined;
		}
	},
};

/**
 * The up interfaces with their addresses, broadcast addresses and multicast group.
 * IPv4 broadcast is used on loopback and on links whose flags allow it (all of them
 * where flags are unknown); the IPv6 group on every non-loopback link with an IPv6 address
 * that allows multicast.
 */
export function readInterfaces(source: InterfaceSource = SYSTEM_INTERFACES): NetInterface[] {
	const result: NetInterface[] = [];
	for (const [name, infos] of Object.entries(source.list())) {
		if (!infos || infos.length === 0) continue;
		const flags = source.flags?.(name);
		const loopback =
			flags !== undefined ? (flags & IFF_LOOPBACK) !== 0 : infos.every((i) => i.internal);
		const canBroadcast = loopback || flags === undefined || (flags & IFF_BROADCAST) !== 0;
		const canMulticast = !loopback && (flags === undefined || (flags & IFF_MULTICAST) !== 0);
		const v4: Ipv4Address[] = [];
		const v6: Ipv6Address[] = [];
		for (const info of infos) {
			if (info.family === "IPv4") {
				v4.push({
					address: info.address,
					netmask: info.netmask,
					broadcast: canBroadcast ? directedBroadcast(info.address, info.netmask) : undefined,
				});
			} else if (info.family === "IPv6") {
				v6.push({
					address: info.address.split("%")[0],
					prefix: prefixLength(info.netmask),
					linkLocal: /^fe[89ab]/i.test(info.address),
				});
			}
		}
		const multicast = canMulticast && v6.length > 0 ? `${MULTICAST_GROUP}%${name}` : undefined;
		result.push({ name, loopback, v4, v6, multicast });
	}
	return result.sort((a, b) => a.name.localeCompare(b.name));
}

/**
 * Where announces go when no `--broadcast` is given: each interface's directed broadcast
 * address, `255.255.255.255` (once), and our multicast group on each IPv6 interface.
 */
export function announceTargets(interfaces: NetInterface[]): AnnounceTarget[] {
	const targets: AnnounceTarget[] = [];
	const seen = new Set<string>();
	for (const iface of interfaces) {
		for (const a of iface.v4) {
			if (a.broadcast && !seen.has(a.broadcast)) {
				seen.add(a.broadcast);
				targets.push({ address: a.broadcast, iface: iface.name });
			}
		}
	}
	if (interfaces.some((i) => i.v4.length > 0 && !i.loopback))
		targets.push({ address: LIMITED_BROADCAST, iface: undefined });
	for (const iface of interfaces)
		if (iface.multicast) targets.push({ address: iface.multicast, iface: iface.name });
	return targets;
}

/**
 * The directed broadcast address of an IPv4 subnet (RFC 919): the address with every host
 * bit set. Undefined for a /31 or /32 (no broadcast there, RFC 3021) or a malformed input.
 */
export function directedBroadcast(address: string, netmask: string): string | undefined {
	const a = ipv4ToNumber(address);
	const m = ipv4ToNumber(netmask);
	if (a === undefined || m === undefined) return undefined;
	if (~m >>> 0 < 3) return undefined;
	return numberToIpv4((a | ~m) >>> 0);
}

/** An IPv4 address as a 32-bit unsigned number, or undefined when it is not one. */
export function ipv4ToNumber(address: string): number | undefined {
	if (!isIPv4(address)) return undefined;
	return address.split(".").reduce((n, part) => n * 256 + Number(part), 0) >>> 0;
}

function numberToIpv4(n: number): string {
	return [n >>> 24, (n >>> 16) & 255, (n >>> 8) & 255, n & 255].join(".");
}

/** Bits set in an IPv6 netmask (`ffff:ffff:ffff:ffff::` is 64). */
function prefixLength(netmask: string): number {
	const bytes = ipv6Bytes(netmask);
	if (!bytes) return 128;
	let bits = 0;
	for (const b of bytes) {
		if (b === 255) bits += 8;
		else {
			bits += 8 - Math.log2(256 - b);
			break;
		}
	}
	return Math.round(bits);
}

/** The 16 bytes of an IPv6 address (any `%scope` ignored), or undefined. */
export function ipv6Bytes(address: string): Uint8Array | undefined {
	const plain = address.split("%")[0];
	if (!isIPv6(plain)) return undefined;
	const [head, tail] = plain.includes("::") ? plain.split("::") : [plain, undefined];
	const groups = (s: string): number[] => {
		if (s === "") return [];
		const parts = s.split(":");
		const out: number[] = [];
		for (const p of parts) {
			if (p.includes(".")) {
				const v4 = ipv4ToNumber(p) ?? 0;
				out.push(v4 >>> 16, v4 & 0xffff);
			} else out.push(Number.parseInt(p, 16));
		}
		return out;
	};
	const h = groups(head);
	const t = tail === undefined ? [] : groups(tail);
	const all = [...h, ...new Array(8 - h.length - t.length).fill(0), ...t];
	const bytes = new Uint8Array(16);
	all.forEach((g, i) => {
		bytes[2 * i] = g >>> 8;
		bytes[2 * i + 1] = g & 255;
	});
	return bytes;
}

/**
 * The name of our interface a peer's address is reached by: the one whose IPv4 subnet
 * holds it, the scope of a link-local IPv6 address (`fe80::2%eth0` is on `eth0`), or the
 * one whose IPv6 prefix holds it. Our own addresses map to their interface.
 * @returns the interface name, or undefined (only the routing table knows)
 */
export function interfaceOf(address: string, interfaces: NetInterface[]): string | undefined {
	const scope = address.split("%")[1];
	if (scope) return scope;
	const v4 = ipv4ToNumber(address);
	if (v4 !== undefined) {
		for (const iface of interfaces)
			for (const a of iface.v4) {
				const m = ipv4ToNumber(a.netmask) ?? 0xffffffff;
				if (((ipv4ToNumber(a.address) ?? 0) & m) >>> 0 === (v4 & m) >>> 0) return iface.name;
			}
		return undefined;
	}
	const bytes = ipv6Bytes(address);
	if (!bytes) return undefined;
	for (const iface of interfaces)
		for (const a of iface.v6) {
			const own = ipv6Bytes(a.address);
			if (own && samePrefix(own, bytes, a.prefix)) return iface.name;
		}
	return undefined;
}

function samePrefix(a: Uint8Array, b: Uint8Array, bits: number): boolean {
	for (let i = 0; i < 16 && bits > 0; i++, bits -= 8) {
		const mask = bits >= 8 ? 255 : (0xff << (8 - bits)) & 255;
		if ((a[i] & mask) !== (b[i] & mask)) return false;
	}
	return true;
}

/** What changed between two looks at the interfaces. */
export interface InterfaceChange {
	/** Interfaces (by name) whose multicast group we must join now. */
	joined: string[];
	/** Interfaces whose group we left (gone, or no IPv6 any more). */
	left: string[];
	/** True when any announce target changed (an address, an interface). */
	changed: boolean;
}

/**
 * Follows interfaces that come and go (Wi-Fi reconnecting, a VPN going up, a cable
 * plugged in): `poll()` reads them again and says what changed since the last poll, so
 * discovery joins the multicast group on a new IPv6 interface and announces to a new
 * broadcast address within one announce interval.
 */
export class InterfaceWatcher {
	private current: NetInterface[] = [];
	private key = "";

	constructor(private readonly source: InterfaceSource = SYSTEM_INTERFACES) {}

	/** The interfaces as of the last poll. */
	get interfaces(): NetInterface[] {
		return this.current;
	}

	/** The announce targets as of the last poll. */
	targets(): AnnounceTarget[] {
		return announceTargets(this.current);
	}

	/** Forgets an interface, so the next poll reports it joined again (a join that failed). */
	forget(name: string): void {
		this.current = this.current.filter((i) => i.name !== name);
		this.key = "";
	}

	/** Reads the interfaces again and compares with the last poll (the first poll joins all). */
	poll(): InterfaceChange {
		const next = readInterfaces(this.source);
		const before = new Set(this.current.filter((i) => i.multicast).map((i) => i.name));
		const after = new Set(next.filter((i) => i.multicast).map((i) => i.name));
		const key = JSON.stringify(next);
		const change: InterfaceChange = {
			joined: [...after].filter((n) => !before.has(n)),
			left: [...before].filter((n) => !after.has(n)),
			changed: key !== this.key,
		};
		this.current = next;
		this.key = key;
		return change;
	}
}
