/**
 * Per-source state of a download: what a source is (seeder or partial seeder, its have-map),
 * and its congestion and loss control: the window (LEDBAT over AIMD, RFC 6817 / 5681), the
 * RTT estimator (RFC 6298), RACK's state (RFC 8985), the datagram size search (RFC 8899) and
 * whether it takes range requests (protocol revision 3). The scheduler in `download.ts` reads
 * and moves these fields; the window's growth rule lives here.
 */
import type { PathMtuSearch } from "./path-mtu.js";
import type { RttEstimator } from "./rtt.js";
import type { Endpoint } from "./serve.js";

/** A peer that has the file, or part of it: where to send block requests (its send port). */
export interface SourceInfo {
	peerId: string;
	address: string;
	/** The peer's send port. */
	port: number;
}

/**
 * Queuing delay the window aims at, in ms (RFC 6817's TARGET, at most 100 ms): above it
 * the window shrinks, so a download never builds a long queue at a busy or rate-limited
 * peer and leaves room for other traffic on the LAN.
 */
export const TARGET_DELAY_MS = 50;
/** Window growth per round trip at zero queuing delay, in blocks (RFC 6817's GAIN). */
export const LEDBAT_GAIN = 1;
/** Length of one base-delay bucket, in ms, and buckets kept (RFC 6817 BASE_HISTORY). */
export const BASE_BUCKET_MS = 10_000;
export const BASE_HISTORY = 6;
/** Initial congestion window, in blocks (RFC 5681's IW is 2 to 4 segments). */
export const INITIAL_CWND = 4;
/**
 * Smallest congestion window, in blocks: under heavy random loss (a bad Wi-Fi link) a
 * window of one or two leaves the link idle while each loss waits for its timeout.
 */
export const MIN_CWND = 4;
/** Initial slow-start threshold, in blocks. */
export const INITIAL_SSTHRESH = 256;
/** Largest congestion window, in blocks. */
export const MAX_CWND = 1024;
/** Consecutive timeouts after which a source gives its pieces back. */
export const STALL_TIMEOUTS = 8;
/** How long a stalled source is left alone, in ms. */
export const STALL_BACKOFF_MS = 2_000;
/**
 * Range support of a source: not known yet; one range asked and not yet answered (it gets
 * single block requests meanwhile); yes; no (a peer of an earlier build).
 */
export const RANGES_UNKNOWN = 0;
export const RANGES_ASKED = 2;
export const RANGES_YES = 1;
export const RANGES_NO = -1;

/** A source of one download and its congestion and loss state. */
export interface SourceState extends SourceInfo {
	key: string;
	/** Have-map of a partial seeder; undefined for a seeder (every piece). */
	have: Uint8Array | undefined;
	rtt: RttEstimator;
	mtu: PathMtuSearch;
	/** Index of the piece probing a larger datagram size, if any. */
	probePiece: number | undefined;
	cwnd: number;
	ssthresh: number;
	inflight: number;
	banned: boolean;
	/**
	 * A partial seeder whose requests time out: its have-map claims leave the availability
	 * counts (so seeders are asked for those pieces) until it answers again.
	 */
	suspended: boolean;
	stalledUntil: number;
	consecutiveTimeouts: number;
	lastLossAt: number;
	lastBackoffAt: number;
	lastDataAt: number;
	/** Send time of the most recently sent request that was answered (RACK). */
	rackSentAt: number;
	/** Lowest RTT sample, in ms (RACK's min_RTT). */
	minRtt: number;
	/**
	 * Reordering window multiplier, raised each time a request we deemed lost turned out
	 * to be answered after all (RFC 8985 section 6.2, reo_wnd_mult).
	 */
	reorderMultiplier: number;
	/** Minimum RTT per bucket of BASE_BUCKET_MS, newest last (RFC 6817 base delay). */
	baseHistory: { start: number; min: number }[];
	/** Payload bytes received from this source. */
	received: number;
	/**
	 * Whether it answers range requests: RANGES_UNKNOWN until a ranged block is answered
	 * (RANGES_YES) or times out unanswered (RANGES_NO: it gets block requests only).
	 */
	ranges: number;
}

/**
 * Opens the window for one answered request, LEDBAT style (RFC 6817 section 2.4.2): the
 * window grows by GAIN * off_target / cwnd, where off_target is how far the queuing delay
 * (this RTT minus the lowest RTT seen lately) is below TARGET; above TARGET it shrinks.
 * Slow start (+1 per answer) runs until the slow-start threshold or until the queuing
 * delay reaches half of TARGET.
 */
export function grow(source: SourceState, now: number, rtt: number): void {
	const history = source.baseHistory;
	const last = history[history.length - 1];
	if (!last || now - last.start >= BASE_BUCKET_MS) {
		history.push({ start: now, min: rtt });
		if (history.length > BASE_HISTORY) history.shift();
	} else if (rtt < last.min) last.min = rtt;
	let base = Number.POSITIVE_INFINITY;
	for (const bucket of history) base = Math.min(base, bucket.min);
	const queuing = rtt - base;
	if (source.cwnd < source.ssthresh) {
		if (queuing < TARGET_DELAY_MS / 2) {
			source.cwnd = Math.min(MAX_CWND, source.cwnd + 1);
			return;
		}
		source.ssthresh = source.cwnd;
	}
	const offTarget = (TARGET_DELAY_MS - queuing) / TARGET_DELAY_MS;
	source.cwnd = Math.min(
		MAX_CWND,
		Math.max(MIN_CWND, source.cwnd + (LEDBAT_GAIN * Math.max(-1, offTarget)) / source.cwnd),
	);
}

/** True when `from` is this source's send port. */
export function isFrom(source: SourceState, from: Endpoint): boolean {
	return source.address === from.address && source.port === from.port;
}
