/**
 * Identity benchmark: what signed discovery costs the peer table, per datagram, in this
 * process (no sockets): a new peer's announce (decode, id and signature checked), the same
 * announce again from another address (a byte-equal copy: no second check), a refresh
 * (a newer announce: checked), a forged announce (wrong signature: checked and dropped),
 * and a stale leave (dropped before any check). Also signing an announce.
 *
 * Usage: npm run bench:identity [-- --count N] (N peers, at most 1,024: a full table). Prints one JSON object, microseconds per
 * datagram (median of 5 runs of N datagrams each).
 */
import { parseArgs } from "node:util";
import { MAX_PEERS, PeerTable } from "../source/discovery/table.js";
import { Identity } from "../source/protocol/identity.js";

const { values } = parseArgs({ options: { count: { type: "string", default: "1000" } } });
// At most a full table: further new peers would be refused, not measured.
const count = Math.min(Number(values.count), MAX_PEERS);
const fields = { basePort: 45460, revision: 1, fileCount: 10, interval: 2000, name: "bench" };

/** Median time per call of `body(i)` over 5 runs of `count` calls, in microseconds. */
function time(body: (i: number, run: number) => void): number {
	const runs: number[] = [];
	for (let run = 0; run < 5; run++) {
		const start = process.hrtime.bigint();
		for (let i = 0; i < count; i++) body(i, run);
		runs.push(Number(process.hrtime.bigint() - start) / 1e3 / count);
	}
	runs.sort((a, b) => a - b);
	return Math.round(runs[2] * 100) / 100;
}

const self = Identity.generate(true);
const peers = Array.from({ length: count }, () => Identity.generate(true));
// Leaves signed first (timestamp 1), so older than every announce below: replays.
const oldLeaves = peers.map((p) => p.leave(1));
const announces = peers.map((p) => p.announce(fields));

const sign = time((i) => peers[i].announce(fields));

let table = new PeerTable(self.id);
const joinRuns: number[] = [];
for (let run = 0; run < 5; run++) {
	table = new PeerTable(self.id);
	const start = process.hrtime.bigint();
	for (let i = 0; i < count; i++) table.recv(announces[i], "10.0.0.1", 1);
	joinRuns.push(Number(process.hrtime.bigint() - start) / 1e3 / count);
}
joinRuns.sort((a, b) => a - b);
const join = Math.round(joinRuns[2] * 100) / 100;

// The same datagrams from a second address: byte-equal copies, no signature check.
const copy = time((i) => table.recv(announces[i], "fe80::1%eth0", 2));
// A newer announce each run: checked every time.
const refreshes = [0, 1, 2, 3, 4].map(() => peers.map((p) => p.announce(fields)));
const refresh = time((i, run) => table.recv(refreshes[run][i], "10.0.0.1", 3));
const forgedBytes = announces.map((a) => {
	const f = Buffer.from(a);
	f[f.length - 1] ^= 1;
	return f;
});
const fresh = new PeerTable(self.id);
const forged = time((i) => fresh.recv(forgedBytes[i], "10.0.0.2", 4));
const stale = time((i) => table.recv(oldLeaves[i], "10.0.0.1", 5));

console.log(
	JSON.stringify({
		count,
		usPerDatagram: { sign, join, copy, refresh, forged, stale },
		counters: { forged: fresh.forged, stale: table.stale, peers: table.list().length },
	}),
);
