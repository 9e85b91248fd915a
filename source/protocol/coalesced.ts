/**
 * Splitting a coalesced receive buffer (UDP GRO, docs/protocol.md §6 "Coalesced datagrams")
 * back into our datagrams. Pure: no sockets.
 *
 * With `UDP_GRO` on a socket, Linux may hand over several datagrams of one flow at once:
 * equal-size segments, the last one possibly shorter. Node gives no control message with the
 * segment size, so it is found from our own headers: consecutive datagrams of one sender
 * start alike. A sealed datagram starts with the seal's magic, version and sender id, then
 * its counter; a plain `data` datagram with the header and the file id, then its offset. The
 * segment size S is where the first datagram's prefix appears again with the next counter
 * (the offset plus S's payload), and every k·S must hold the k-th one; the last segment is 1
 * to S bytes. A buffer in which no such S is found is one datagram. A datagram's payload
 * could imitate the chain only if it held the sender's own prefix at the very positions,
 * with the very counters; it then only splits itself into datagrams its sender could have
 * sent one by one anyway, each of which meets the guard, the seal and the decoder alone.
 */
import { HASH_SIZE, HEADER_SIZE, MessageType } from "./messages.js";
import { COUNTER_SIZE, SEAL_HEADER_SIZE, SEAL_OVERHEAD, SEAL_VERSION } from "./seal.js";

/** Bytes of a data message's fixed part (header, file id, offset). */
const DATA_FIXED = HEADER_SIZE + HASH_SIZE + 8;
/** Bytes of the part of a sealed datagram shared by one sender's datagrams (magic..id). */
const SEAL_PREFIX = SEAL_HEADER_SIZE - COUNTER_SIZE;

/**
 * The datagrams a receive buffer holds: itself (the common case), or its segments (views of
 * the same memory, not copies) when it is a coalesced run of our datagrams.
 * @param buffer - bytes from one `recvmsg` of a socket with UDP GRO
 */
export function splitCoalesced(buffer: Buffer): Buffer[] {
	if (buffer.length < 4 || buffer[0] !== 0x50 || buffer[1] !== 0x32) return [buffer];
	if (buffer[2] === SEAL_VERSION) {
		if (buffer.length <= 2 * SEAL_OVERHEAD) return [buffer];
		const prefix = buffer.subarray(0, SEAL_PREFIX);
		const at = buffer.indexOf(prefix, SEAL_OVERHEAD + 1);
		return at < 0 ? [buffer] : chain(buffer, at, prefix, SEAL_OVERHEAD);
	}
	if (buffer[3] !== MessageType.data || buffer.length <= 2 * DATA_FIXED) return [buffer];
	const at = buffer.indexOf(buffer.subarray(0, HEADER_SIZE + HASH_SIZE), DATA_FIXED + 1);
	if (at < 0) return [buffer];
	// Blocks of another file may sit between two of this one's (two downloads from one
	// seeder): the size is the smallest fraction of `at` that is a run of data headers.
	const header = buffer.subarray(0, HEADER_SIZE);
	for (let parts = Math.floor(at / (DATA_FIXED + 1)); parts > 1; parts--) {
		if (at % parts !== 0) continue;
		const segments = chain(buffer, at / parts, header, DATA_FIXED);
		if (segments.length > 1) return segments;
	}
	return chain(buffer, at, header, DATA_FIXED);
}

/**
 * Segments of `size` bytes when each starts with `prefix` and is longer than `fixed` (the
 * fixed part of such a datagram), else [buffer].
 */
function chain(buffer: Buffer, size: number, prefix: Buffer, fixed: number): Buffer[] {
	const segments: Buffer[] = [buffer.subarray(0, size)];
	for (let start = size; start < buffer.length; start += size) {
		const segment = buffer.subarray(start, Math.min(buffer.length, start + size));
		if (segment.length <= fixed) return [buffer];
		if (segment.compare(prefix, 0, prefix.length, 0, prefix.length) !== 0) return [buffer];
		segments.push(segment);
	}
	return segments;
}
