/**
 * Peers named by address (`--peer HOST[:PORT]`, `add-peer`, the TUI's form): parsing the
 * text a user types into a host and a discovery port, writing it back in one canonical
 * form, and resolving a host name to its addresses (every family, with `dns.lookup`).
 */
import dns from "node:dns/promises";
import { isIP, isIPv4, isIPv6 } from "node:net";
import { UsageError } from "../errors.js";

/** A peer named by address: a host (IPv4, IPv6 or a host name) and its discovery port. */
export interface PeerAddress {
	/** IPv4 dotted quad, IPv6 text (with a zone id for a link-local one), or a host name. */
	host: string;
	/** The peer's discovery UDP port (1..65535). */
	port: number;
}

/** RFC 1123 host name: dot-separated labels of letters, digits and inner hyphens. */
const HOST_NAME =
	/^(?=.{1,253}\.?$)[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?(?:\.[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?)*\.?$/i;

/**
 * Parses `HOST[:PORT]`: `192.168.1.20`, `192.168.1.20:45455`, `[fd00::2]:45455`, a bare
 * IPv6 address (`fd00::2`, no port then), `[fe80::1%eth0]`, `nas.local:45455`.
 * @param text - what the user typed
 * @param defaultPort - the port when none is given (our discovery port)
 * @throws UsageError (exit 2) with one line naming what is wrong
 */
export function parsePeerAddress(text: string, defaultPort: number): PeerAddress {
	const bad = (why: string) =>
		new UsageError(`expected a peer as HOST[:PORT] (${why}), got ${JSON.stringify(text)}`);
	const input = text.trim();
	if (input === "") throw bad("empty");
	let host: string;
	let portText: string | undefined;
	if (input.startsWith("[")) {
		const end = input.indexOf("]");
		if (end < 0) throw bad("no closing ]");
		host = input.slice(1, end);
		const rest = input.slice(end + 1);
		if (rest !== "") {
			if (!rest.startsWith(":")) throw bad("text after ]");
			portText = rest.slice(1);
		}
		if (!isIPv6(host.split("%")[0]) || host.endsWith("%")) throw bad("not an IPv6 address in [ ]");
	} else if (input.split(":").length > 2) {
		host = input;
		if (!isIPv6(host.split("%")[0])) throw bad("not an IPv6 address; write [ADDRESS]:PORT");
	} else {
		const colon = input.indexOf(":");
		host = colon < 0 ? input : input.slice(0, colon);
		if (colon >= 0) portText = input.slice(colon + 1);
		if (!isIPv4(host) && (/^[\d.]+$/.test(host) || !HOST_NAME.test(host)))
			throw bad("not an IPv4 address or host name");
	}
	let port = defaultPort;
	if (portText !== undefined) {
		port = Number(portText);
		if (!/^\d{1,5}$/.test(portText) || port < 1 || port > 65535) throw bad("port out of 1..65535");
	}
	const ip = host.split("%")[0];
	if (isIP(ip) && !namable(ip)) throw bad("not a unicast address");
	return { host: isIPv6(ip) ? host.toLowerCase() : host, port };
}

/** Unicast addresses only: no unspecified, broadcast, multicast or reserved address. */
function namable(ip: string): boolean {
	if (isIPv4(ip)) {
		const first = Number(ip.split(".")[0]);
		return first !== 0 && first < 224;
	}
	const lower = ip.toLowerCase();
	return !/^ff/.test(lower) && !/^(0*:)*:?0*$/.test(lower.replace(/::/, ":"));
}

/**
 * The canonical text of a named peer: `host:port`, `[v6]:port` (so `add-peer` and
 * `remove-peer` of the same peer typed two ways match).
 */
export function formatPeerAddress(peer: PeerAddress): string {
	return isIPv6(peer.host.split("%")[0])
		? `[${peer.host}]:${peer.port}`
		: `${peer.host}:${peer.port}`;
}

/**
 * The addresses of a host: itself for an IP address, else every address `dns.lookup`
 * gives (all families, IPv4 first).
 * @returns addresses; empty when the name does not resolve (tried again on the next hello)
 */
export async function resolvePeerHost(host: string): Promise<string[]> {
	if (isIP(host.split("%")[0])) return [host];
	try {
		const found = await dns.lookup(host, { all: true });
		found.sort((a, b) => a.family - b.family);
		return [...new Set(found.map((a) => a.address))];
	} catch {
		return [];
	}
}
