/**
 * Measuring and limiting transfer rates.
 *
 * - `RateMeter` counts bytes per remote endpoint (address and port) in short time buckets
 *   and answers "bytes per second over the last two seconds", in total or for one peer.
 *   Counting a datagram costs a few map updates; the buckets turn over on the engine's
 *   timer, so the hot path reads no clock.
 * - `TokenBucket` paces block requests under a download rate limit (the classic token
 *   bucket, as in RFC 2697's single-rate meter, with debt: a request larger than the tokens
 *   left is still sent and paid back from later tokens, so any block size works at any rate).
 */
import { performance } from "node:perf_hooks";

/** Length of the window rates are measured over, in ms. */
export const RATE_WINDOW_MS = 2_000;
/** Length of one counting bucket, in ms. */
const BUCKET_MS = 100;

interface Bucket {
	/** Start of the bucket, in ms (meter clock). */
	start: number;
	/** Bytes counted in it. */
	total: number;
	/** Bytes by remote address, then port. */
	by: Map<string, Map<number, number>>;
}

/** Bytes per second through a set of ports, in total and per remote endpoint. */
export class RateMeter {
	private readonly buckets: Bucket[] = [];
	private current: Bucket;

	/** @param now - clock in ms (default `performance.now`) */
	constructor(private readonly now: () => number = () => performance.now()) {
		this.current = { start: this.now(), total: 0, by: new Map() };
		this.buckets.push(this.current);
	}

	/**
	 * Counts `bytes` exchanged with `address:port` (a datagram sent or received).
	 * @param address - the remote IP address (IPv4 or IPv6)
	 * @param port - the remote UDP port
	 * @param bytes - datagram length in bytes
	 */
	add(address: string, port: number, bytes: number): void {
		const bucket = this.current;
		bucket.total += bytes;
		let ports = bucket.by.get(address);
		if (!ports) {
			ports = new Map();
			bucket.by.set(address, ports);
		}
		ports.set(port, (ports.get(port) ?? 0) + bytes);
	}

	/**
	 * Starts a new bucket when the current one is {@link BUCKET_MS} old and forgets buckets
	 * older than the window. Call often (the engine calls it every 10 ms).
	 */
	rotate(now = this.now()): void {
		if (now - this.current.start < BUCKET_MS) return;
		this.current = { start: now, total: 0, by: new Map() };
		this.buckets.push(this.current);
		while (this.buckets.length > 0 && this.buckets[0].start < now - RATE_WINDOW_MS)
			this.buckets.shift();
	}

	/** Total rate over the last {@link RATE_WINDOW_MS}, in bytes per second. */
	rate(now = this.now()): number {
		let bytes = 0;
		for (const b of this.buckets) if (b.start >= now - RATE_WINDOW_MS) bytes += b.total;
		return (bytes * 1000) / RATE_WINDOW_MS;
	}

	/**
	 * Rate of the bytes exchanged with any of `ports` at `address`, in bytes per second.
	 * @param address - the remote peer's address
	 * @param ports - its ports (a peer uses four)
	 */
	rateOf(address: string, ports: readonly number[], now = this.now()): number {
		let bytes = 0;
		for (const b of this.buckets) {
			if (b.start < now - RATE_WINDOW_MS) continue;
			const byPort = b.by.get(address);
			if (!byPort) continue;
			for (const port of ports) bytes += byPort.get(port) ?? 0;
		}
		return (bytes * 1000) / RATE_WINDOW_MS;
	}
}

/** Least burst of a token bucket, in bytes: one largest datagram's payload and then some. */
const MIN_BURST = 64 * 1024;
/** Burst of a token bucket as time at its rate, in ms. */
const BURST_MS = 50;

/**
 * A token bucket on bytes: `rate` bytes per second, bursts of at most about 50 ms of it.
 * With no rate it allows everything, at the cost of one property check.
 */
export class TokenBucket {
	/** True while a rate is set; callers skip the bucket entirely otherwise. */
	limited = false;
	private rateBps = 0;
	private tokens = 0;
	private capacity = MIN_BURST;
	private filledAt = 0;

	/**
	 * @param rate - bytes per second, or null for no limit
	 * @param now - clock in ms (default `performance.now`)
	 */
	constructor(
		rate: number | null,
		private readonly now: () => number = () => performance.now(),
	) {
		this.setRate(rate);
	}

	/** The rate in bytes per second, or null when unlimited. */
	get rate(): number | null {
		return this.limited ? this.rateBps : null;
	}

	/** Changes the rate (bytes per second, or null for none); takes effect at once. */
	setRate(rate: number | null): void {
		if (rate === null || !(rate > 0)) {
			this.limited = false;
			return;
		}
		this.refill();
		this.rateBps = rate;
		this.capacity = Math.max(MIN_BURST, (rate * BURST_MS) / 1000);
		if (!this.limited) {
			this.tokens = this.capacity;
			this.filledAt = this.now();
		}
		this.tokens = Math.min(this.tokens, this.capacity);
		this.limited = true;
	}

	private refill(): void {
		if (!this.limited) return;
		const now = this.now();
		this.tokens = Math.min(
			this.capacity,
			this.tokens + ((now - this.filledAt) * this.rateBps) / 1000,
		);
		this.filledAt = now;
	}

	/** True when a request may go now (some tokens are left). */
	allow(): boolean {
		if (!this.limited) return true;
		this.refill();
		return this.tokens > 0;
	}

	/**
	 * Pays for `bytes` sent (or received unasked), going into debt if need be; the debt is
	 * capped at about a second of the rate, so a burst of pushes cannot stall requests long.
	 */
	take(bytes: number): void {
		if (!this.limited) return;
		this.refill();
		this.tokens = Math.max(this.tokens - bytes, -Math.max(this.rateBps, MIN_BURST));
	}
}
