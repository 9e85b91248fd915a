/**
 * Datagram size per path. Loopback carries 64 KiB datagrams, so large blocks cost fewer
 * datagrams there; on a LAN a datagram must fit a 1500-byte Ethernet frame (1500 - 20 IP
 * - 8 UDP = 1472 bytes), because IP fragmentation loses the whole datagram with any one
 * fragment. A fuller path MTU search (RFC 8899) can replace this table later.
 */

/** Largest UDP payload, in bytes, we send to `address`. */
export function maxDatagramFor(address: string): number {
	return address.startsWith("127.") ? 60 * 1024 + 64 : 1472;
}
