/**
 * Network addresses as text: the one formatter of `address:port` used by the CLI, the TUI
 * and the log, so an IPv6 endpoint always reads the usual way (RFC 3986 section 3.2.2
 * brackets, RFC 4007 section 11 zone index): `10.0.0.2:45460`, `[fd77::2]:45460`,
 * `[fe80::1%eth0]:45460`. Pure.
 */

/** True for an IPv6 address (with or without a `%scope`): it holds a `:`, IPv4 never does. */
export function isV6(address: string): boolean {
	return address.includes(":");
}

/**
 * An endpoint the usual way: `10.0.0.2:45460`, `[fe80::1%eth0]:45460`.
 * @param address - IPv4 or IPv6 address (an IPv6 link-local one with its `%scope`)
 * @param port - UDP port
 */
export function formatEndpoint(address: string, port: number): string {
	return isV6(address) ? `[${address}]:${port}` : `${address}:${port}`;
}
