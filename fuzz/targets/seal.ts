/**
 * Fuzz target: the sealed envelope of a network key (source/protocol/seal.ts). Each input is
 * opened on every port's role by a fresh member of the network: only a datagram sealed with
 * the network's key for that role may open, and then exactly once (the second time is a
 * replay); whatever else it is, it is dropped without a throw. The input is also sealed as
 * a plain datagram and must open back to itself, and no flipped bit of it may open. The
 * replay window is checked against a model, on counters read from the input. Jazzer.js
 * convention: `fuzz` throws only on a real bug.
 */
import {
	Channel,
	NetworkSeal,
	parseSealHeader,
	REPLAY_WINDOW,
	ReplayWindow,
} from "../../source/protocol/seal.js";
import { check, type Field, sameBytes } from "../oracle.js";

/** The network key of the seed corpus (fuzz/seed.ts seals its inputs with it). */
export const FUZZ_KEY = "p2p-tui fuzz network key";

/** The counter field, for the mutator (edge integers: 0, 2^53 - 1, 2^64 - 1, ...). */
export const fields: Field[] = [{ offset: 19, size: 8 }];

const sender = new NetworkSeal(FUZZ_KEY);
const ROLES = Object.values(Channel);

function openEverywhere(data: Buffer): void {
	const header = parseSealHeader(data);
	let opened = 0;
	for (const role of ROLES) {
		const member = new NetworkSeal(FUZZ_KEY);
		const plain = member.open(data, role);
		if (!plain) continue;
		opened++;
		check(header !== null, "opened without a header");
		check(plain.length === data.length - 43, "plain length");
		check(member.open(data, role) === null, "a replay opened");
		check(member.stats.replayed === 1 && member.stats.opened === 1, "counted");
	}
	// The role is authenticated: one datagram opens on one role at most.
	check(opened <= 1, `opened on ${opened} roles`);
}

function roundTrip(data: Buffer): void {
	const role = ROLES[data.length % ROLES.length];
	const sealed = Buffer.concat(sender.seal(data, role));
	const member = new NetworkSeal(FUZZ_KEY);
	const plain = member.open(sealed, role);
	check(plain !== null && sameBytes(plain, data), "round trip");
	const bit = (data.length * 7919) % (sealed.length * 8);
	sealed[bit >> 3] ^= 1 << (bit & 7);
	check(new NetworkSeal(FUZZ_KEY).open(sealed, role) === null, `bit ${bit} flipped opened`);
}

function windowModel(data: Buffer): void {
	const window = new ReplayWindow();
	const seen = new Set<number>();
	let top = -1;
	let base = 0;
	for (let at = 0; at + 2 <= data.length; at += 2) {
		const step = data.readUInt16BE(at);
		// A jump now and then: the window slides by whole rings too.
		if (step === 0xffff) base += 100_000;
		const counter = base + (step % 8192);
		const expected = !seen.has(counter) && top - counter < REPLAY_WINDOW;
		check(window.accept(counter) === expected, `counter ${counter} after ${top}`);
		if (expected) {
			seen.add(counter);
			top = Math.max(top, counter);
		}
	}
}

export function fuzz(data: Buffer): void {
	openEverywhere(data);
	roundTrip(data);
	windowModel(data);
}
