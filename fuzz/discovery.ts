/**
 * The discovery side of the announce and leave targets: one peer table fed every input,
 * so a run of forged announces shows whether the table stays bounded.
 */
import {
	MAX_ADDRESSES,
	MAX_INTERVAL_MS,
	MAX_PEERS,
	MISSED_INTERVALS,
	PeerTable,
} from "../source/discovery/table.js";
import { check, checkMessage } from "./oracle.js";

const table = new PeerTable("00".repeat(16));
let now = 1_000_000;

/** Feeds one datagram to the decoder and to the shared peer table, checking both. */
export function discoveryInput(data: Uint8Array): void {
	const message = checkMessage(data);
	now += 1;
	// Now and then from another address: a peer's addresses must stay bounded.
	const change = table.recv(data, now % 7 === 0 ? `10.0.0.${now % 251}` : "127.0.0.1", now);
	if (change) {
		check(
			message?.type === "announce" || message?.type === "leave",
			"table took a non-discovery message",
		);
		const { ports, interval, addresses } = change.peer;
		check(addresses.length >= 1 && addresses.length <= MAX_ADDRESSES, "addresses unbounded");
		check(ports.receive >= 1 && ports.distributee <= 65535, `ports ${JSON.stringify(ports)}`);
		check(interval >= 10 && interval <= MAX_INTERVAL_MS, `interval ${interval}`);
	}
	check(table.list().length <= MAX_PEERS, `peer table grew to ${table.list().length}`);
	// Now and then, time passes: every peer must be gone after three of the longest intervals.
	if (now % 4096 === 0) {
		now += MISSED_INTERVALS * MAX_INTERVAL_MS + 1;
		table.expire(now);
		check(table.list().length === 0, "a peer outlived three of the longest intervals");
	}
}
