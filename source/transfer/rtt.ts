/**
 * Round-trip time estimation and the retransmission timeout, after RFC 6298 section 2
 * (SRTT, RTTVAR, RTO = SRTT + 4 * RTTVAR). The minimum RTO is lowered from the RFC's 1 s
 * to 30 ms because a LAN's round trips are well under a millisecond; Karn's rule (no
 * samples from retransmitted requests) is the caller's job.
 */

/** Smallest RTO in ms. */
export const MIN_RTO_MS = 30;
/** Largest RTO in ms. */
export const MAX_RTO_MS = 3_000;
/** RTO before the first sample, in ms. */
export const INITIAL_RTO_MS = 250;

/** RTT estimator of one peer. */
export class RttEstimator {
	/** Smoothed RTT in ms, undefined before the first sample. */
	srtt: number | undefined;
	/** RTT variation in ms. */
	rttvar = 0;
	/** Current retransmission timeout in ms. */
	rto = INITIAL_RTO_MS;

	/** Adds one RTT sample in ms (RFC 6298 section 2.2 and 2.3). */
	sample(rtt: number): void {
		if (this.srtt === undefined) {
			this.srtt = rtt;
			this.rttvar = rtt / 2;
		} else {
			this.rttvar = 0.75 * this.rttvar + 0.25 * Math.abs(this.srtt - rtt);
			this.srtt = 0.875 * this.srtt + 0.125 * rtt;
		}
		this.rto = clamp(this.srtt + Math.max(1, 4 * this.rttvar));
	}

	/** Doubles the RTO after a timeout (RFC 6298 section 5.5), up to the maximum. */
	backoff(): void {
		this.rto = clamp(this.rto * 2);
	}

	/**
	 * Undoes back-off once a resent request is answered: the peer is reachable again, so
	 * the RTO returns to SRTT + 4 * RTTVAR (as Linux does on an ACK after a timeout) instead
	 * of staying backed off until a sample from a request never resent, which under heavy
	 * loss may take long to come (Karn's rule allows no sample from a resent request).
	 */
	resetBackoff(): void {
		if (this.srtt !== undefined) this.rto = clamp(this.srtt + Math.max(1, 4 * this.rttvar));
	}
}

function clamp(rto: number): number {
	return Math.min(MAX_RTO_MS, Math.max(MIN_RTO_MS, rto));
}
