/**
 * The spoofing harness, small (the 100,000-datagram run is `npm run bench:spoof`): 5,000
 * datagrams with forged source addresses over 127.0.0.0/8, sent through a raw socket (root)
 * to a peer that is downloading, 3,000 of them a flood of token-less block requests from one
 * address. No forged address gets back more than three times what it sent, the flooder is
 * banned, and the download under way completes with the seeder's bytes.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { runSpoof } from "../../bench/spoof.js";
import { AMPLIFICATION_FACTOR } from "../../source/transfer/guard.js";

describe("forged sources against a downloading peer", () => {
	it("get at most 3x back per address, the flooder is banned, the download completes", async () => {
		const r = await runSpoof({ requests: 5_000, addresses: 250, flood: 3_000, seed: 11 });
		assert.equal(r.counterDrops, 0, "every reply was counted");
		assert.ok(r.addresses >= 250, `${r.addresses} forged addresses`);
		assert.ok(
			r.maxRatio <= AMPLIFICATION_FACTOR,
			`${r.worst.address} got ${r.worst.received} bytes for ${r.worst.sent}`,
		);
		// The replies were counted at all: Retries (smaller than requests) came back.
		assert.ok(r.bytesBack > 0 && r.totalRatio < 1, `total ratio ${r.totalRatio}`);
		assert.ok(r.target.bans >= 1, `target stats ${JSON.stringify(r.target)}`);
		assert.ok(r.target.bannedDrops > 0, "the flooder's later datagrams were dropped unread");
		assert.ok(r.flooder.received < r.flooder.sent / 2, "the flooder got little back");
		assert.equal(r.target.pushed, 0, "nothing pushed to a forged interest");
		// 127.0.0.1, where the seeder and the harness's token socket are: no forged address.
		assert.equal(r.target.validated, 1, "no forged address validated");
		assert.ok(r.target.interestRetries > 0, "forged interests got Retries");
		assert.ok(r.downloadOk, "the honest download completed, byte for byte");
	});
});
