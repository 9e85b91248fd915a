/**
 * The source guard on its own (an injected clock): token buckets per source, bans that
 * double, the bounded tables under forged sources, and the three-times limit for
 * unvalidated addresses (RFC 9000 section 8).
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import {
	AMPLIFICATION_FACTOR,
	BAD_DATAGRAM_COST,
	BAN_AFTER_DROPS,
	BAN_MS,
	MAX_SOURCES,
	SOURCE_RATE,
	SourceGuard,
} from "../../source/transfer/guard.js";

function clocked(learned: (address: string) => boolean = () => false) {
	const clock = { now: 1_000_000 };
	const guard = new SourceGuard(learned, () => clock.now);
	return { guard, clock };
}

describe("the source guard", () => {
	it("admits a burst of SOURCE_RATE datagrams, then drops until tokens come back", () => {
		const { guard, clock } = clocked();
		let admitted = 0;
		for (let i = 0; i < SOURCE_RATE + 100; i++) if (guard.admit("10.0.0.1", 5000, 64)) admitted++;
		assert.equal(admitted, SOURCE_RATE);
		assert.equal(guard.stats.rateLimited, 100);
		assert.equal(guard.stats.bans, 0, "100 drops are not yet a ban");
		clock.now += 10;
		let later = 0;
		for (let i = 0; i < 2_000; i++) if (guard.admit("10.0.0.1", 5000, 64)) later++;
		assert.equal(later, Math.floor((10 * SOURCE_RATE) / 1000));
		// Another port of the same host has its own bucket.
		assert.ok(guard.admit("10.0.0.1", 5001, 64));
	});

	it("bans a source that keeps flooding for 30 s, then 60 s, dropping it unread", () => {
		const { guard, clock } = clocked();
		for (let i = 0; i < SOURCE_RATE + BAN_AFTER_DROPS; i++) guard.admit("10.0.0.2", 7, 64);
		assert.equal(guard.stats.bans, 1);
		assert.ok(guard.isBanned("10.0.0.2", 7));
		assert.equal(guard.bannedNow(), 1);
		assert.equal(guard.admit("10.0.0.2", 7, 64), false);
		assert.equal(guard.stats.bannedDrops, 1);
		clock.now += BAN_MS - 1;
		assert.equal(guard.admit("10.0.0.2", 7, 64), false);
		clock.now += 1;
		assert.ok(guard.admit("10.0.0.2", 7, 64), "the ban ends after 30 s");
		// Flooding again: the second ban lasts twice as long.
		for (let i = 0; i < SOURCE_RATE + BAN_AFTER_DROPS; i++) guard.admit("10.0.0.2", 7, 64);
		assert.equal(guard.stats.bans, 2);
		clock.now += BAN_MS;
		assert.ok(guard.isBanned("10.0.0.2", 7));
		clock.now += BAN_MS;
		assert.ok(!guard.isBanned("10.0.0.2", 7));
	});

	it("bans a source of bad datagrams at a small fraction of the rate", () => {
		const { guard } = clocked();
		let sent = 0;
		while (guard.stats.bans === 0 && sent < SOURCE_RATE) {
			if (guard.admit("10.0.0.3", 9, 28)) guard.bad("10.0.0.3", 9);
			sent++;
		}
		assert.equal(guard.stats.bans, 1);
		const bound = Math.ceil(SOURCE_RATE / (1 + BAD_DATAGRAM_COST)) + BAN_AFTER_DROPS + 1;
		assert.ok(sent <= bound, `banned after ${sent} bad datagrams (bound ${bound})`);
	});

	it("never charges replies from an endpoint we asked, at any rate", () => {
		const { guard } = clocked();
		guard.asked("10.0.0.4", 45461);
		for (let i = 0; i < 3 * SOURCE_RATE; i++)
			assert.ok(guard.admit("10.0.0.4", 45461, 61_000, true), `reply ${i}`);
		assert.equal(guard.stats.rateLimited, 0);
		// The same endpoint's requests (not replies) are charged.
		let admitted = 0;
		for (let i = 0; i < SOURCE_RATE + 10; i++) if (guard.admit("10.0.0.4", 45461, 64)) admitted++;
		assert.equal(admitted, SOURCE_RATE);
	});

	it("keeps its tables at MAX_SOURCES entries under forged sources, and bans survive them", () => {
		const { guard } = clocked();
		for (let i = 0; i < SOURCE_RATE + BAN_AFTER_DROPS; i++) guard.admit("10.9.9.9", 1, 64);
		assert.ok(guard.isBanned("10.9.9.9", 1));
		for (let i = 0; i < 5 * MAX_SOURCES; i++) {
			const address = `10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}`;
			guard.admit(address, 1000 + (i % 7), 28);
		}
		const size = guard.size;
		assert.ok(size.sources <= MAX_SOURCES, `${size.sources} sources`);
		assert.ok(size.budgets <= MAX_SOURCES, `${size.budgets} budgets`);
		assert.equal(size.validated, 0, "forged sources validate nothing");
		assert.ok(guard.isBanned("10.9.9.9", 1), "the flooder is still banned");
	});

	it("sends an unvalidated address at most three times what it sent, until it is validated", () => {
		const { guard } = clocked();
		guard.admit("10.0.1.1", 45454, 40);
		assert.ok(guard.allowSend("10.0.1.1", 100));
		assert.ok(guard.allowSend("10.0.1.1", 20));
		assert.equal(guard.allowSend("10.0.1.1", 1), false, "121 > 3 × 40");
		assert.equal(guard.stats.amplificationDrops, 1);
		guard.admit("10.0.1.1", 45461, 28);
		assert.ok(guard.allowSend("10.0.1.1", AMPLIFICATION_FACTOR * 28));
		assert.equal(guard.allowSend("10.0.1.1", 1), false);
		guard.validate("10.0.1.1");
		assert.ok(guard.isValidated("10.0.1.1"));
		assert.ok(guard.allowSend("10.0.1.1", 60_000));
		assert.equal(guard.stats.validated, 1);
	});

	it("sends nothing to a learned address it holds no budget for, and anything to one never heard from", () => {
		const { guard } = clocked((address) => address === "10.0.2.2");
		assert.equal(guard.allowSend("10.0.2.2", 28), false, "known from discovery, budget forgotten");
		assert.ok(guard.allowSend("10.0.2.3", 28), "an address the user gave us");
	});
});

describe("the source guard and broadcasts", () => {
	it("counts a third of a broadcast datagram: every peer it reached sends back at most its size", () => {
		const guard = new SourceGuard();
		guard.admitBroadcast("10.0.3.3", 45454, 42);
		assert.ok(guard.allowSend("10.0.3.3", 28));
		assert.ok(guard.allowSend("10.0.3.3", 14));
		assert.equal(guard.allowSend("10.0.3.3", 1), false);
	});
});
