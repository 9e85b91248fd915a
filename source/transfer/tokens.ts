/**
 * Stateless address-validation tokens, in the manner of QUIC's Retry tokens (RFC 9000
 * section 8.1): a token is an HMAC of the requester's address and port and the current
 * time epoch under a per-process secret, so it proves the requester receives at that
 * address, costs no state, and expires within two epochs.
 */
import { createHmac, randomBytes, timingSafeEqual } from "node:crypto";
import { TOKEN_SIZE } from "../protocol/messages.js";

/** Length of a token epoch in ms; a token is valid for its epoch and the next. */
export const TOKEN_EPOCH_MS = 60_000;

/** Issues and checks tokens. */
export class TokenIssuer {
	private readonly secret = randomBytes(32);

	/** @param now - clock in ms (injectable for tests) */
	constructor(private readonly now: () => number = Date.now) {}

	private make(address: string, port: number, epoch: number): Buffer {
		return createHmac("sha256", this.secret)
			.update(`${address}|${port}|${epoch}`)
			.digest()
			.subarray(0, TOKEN_SIZE);
	}

	/** A token for `address:port`, valid for one to two epochs. */
	issue(address: string, port: number): Buffer {
		return this.make(address, port, Math.floor(this.now() / TOKEN_EPOCH_MS));
	}

	/** True when `token` was issued to `address:port` in this epoch or the previous one. */
	check(token: Uint8Array, address: string, port: number): boolean {
		if (token.length !== TOKEN_SIZE) return false;
		const epoch = Math.floor(this.now() / TOKEN_EPOCH_MS);
		return (
			timingSafeEqual(token, this.make(address, port, epoch)) ||
			timingSafeEqual(token, this.make(address, port, epoch - 1))
		);
	}
}
