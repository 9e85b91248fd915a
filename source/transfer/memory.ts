/**
 * Keeps dead datagram buffers from piling up in memory.
 *
 * Every datagram Node receives arrives in a fresh buffer, and V8 frees dead buffers only
 * when its heap fills or when external memory grew by its soft limit (64 MiB) since the
 * last collection. Moving hundreds of MB/s through 60 KiB buffers allocates little heap,
 * so up to 64 MiB of dead buffers can sit in RSS at any time, which alone would break
 * the 150 MB budget of a peer. A young-generation collection (a scavenge, well under a
 * millisecond here) after every few MiB of datagrams frees them while they are young.
 *
 * The collector is reached by turning on `--expose-gc` at run time; where that is not
 * possible this does nothing and V8's own heuristics apply.
 */

import v8 from "node:v8";
import { runInNewContext } from "node:vm";

/** Bytes of datagrams between two collections. */
const COLLECT_EVERY_BYTES = 4 * 1024 * 1024;

type Collect = (options: { type: "minor" | "major"; execution?: "sync" | "async" }) => void;

let collect: Collect | null | undefined;

function collector(): Collect | null {
	if (collect === undefined) {
		try {
			v8.setFlagsFromString("--expose-gc");
			collect = runInNewContext("gc") as Collect;
		} catch {
			collect = null;
		}
	}
	return collect;
}

/** Counts datagram bytes and asks for a young-generation collection every few MiB. */
export class DatagramGarbage {
	private since = 0;

	/**
	 * Notes `bytes` of datagrams received or sent.
	 * @param bytes - size of the datagram in bytes
	 */
	note(bytes: number): void {
		this.since += bytes;
		if (this.since < COLLECT_EVERY_BYTES) return;
		this.since = 0;
		collector()?.({ type: "minor" });
	}
}
