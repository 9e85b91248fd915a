/**
 * Valid inputs per fuzz target, from the fast-check arbitraries of the property tests:
 * the seed corpus is cut from them (fuzz/seed.ts), and the runner mixes fresh ones into a
 * run so mutations start from every corner of the valid space, not only the corpus.
 */
import fc from "fast-check";
import { Identity } from "../source/protocol/identity.js";
import { encodeManifest } from "../source/protocol/manifest.js";
import { encodeManifestFile } from "../source/protocol/manifest-file.js";
import { encodeMessage, type Message } from "../source/protocol/messages.js";
import { encodePeerMessage } from "../source/protocol/offers.js";
import { encodeResume } from "../source/protocol/resume.js";
import { Channel, NetworkSeal } from "../source/protocol/seal.js";
import {
	manifestArb,
	manifestFileNameArb,
	messageArbs,
	resumeArb,
} from "../test/helpers/arbitraries.js";
import { peerMessageArb } from "../test/helpers/peer-message-arbs.js";
import { FUZZ_KEY } from "./targets/seal.js";

/** Identities of fixed seeds that sign the generated announces and leaves. */
const SIGNERS = [1, 2, 3].map((i) => Identity.fromSeed(new Uint8Array(32).fill(i)));
const signer = (identity: Identity, timestamp: number) => ({
	peerId: identity.peerId,
	publicKey: identity.publicKey,
	timestamp,
});

const encoded = (arb: fc.Arbitrary<Message>) => arb.map((m) => encodeMessage(m));

/** Sealed under the fuzz target's network key, so they open there. */
const fuzzSender = new NetworkSeal(FUZZ_KEY, { senderId: Buffer.alloc(16, 7) });

/** Any valid message, sealed under the fuzz network key for a random port role. */
const sealedArb = fc
	.tuple(fc.oneof(...Object.values(messageArbs)), fc.constantFrom(...Object.values(Channel)))
	.map(([message, role]) => Buffer.concat(fuzzSender.seal(encodeMessage(message), role)));

/** Names worth trying: the traps of docs/protocol.md §6 and random text. */
const nameArb = fc.oneof(
	fc.string({ unit: "binary", maxLength: 60 }),
	fc.string({ unit: "grapheme", maxLength: 60 }),
	fc
		.array(
			fc.constantFrom(
				"..",
				".",
				"",
				"a",
				"b c",
				"\\",
				"C:",
				"..a",
				"é",
				"/",
				"\u0000",
				"\u001b[2J",
				"\u202e",
			),
			{
				maxLength: 6,
			},
		)
		.map((parts) => parts.join("/")),
	fc.constantFrom(
		"x".repeat(255),
		"x".repeat(256),
		"a/".repeat(100),
		"CON",
		"nul.txt",
		"trailing. ",
	),
);

/** An arbitrary of valid inputs for each target that has one, as bytes. */
export const generators: Record<string, fc.Arbitrary<Buffer>> = {
	// Signed for real (by identities of fixed seeds), so they reach the table's state.
	announce: fc
		.tuple(messageArbs.announce, fc.nat(SIGNERS.length - 1))
		.map(([m, i]) => SIGNERS[i].sign({ ...m, ...signer(SIGNERS[i], m.timestamp) })),
	leave: fc
		.tuple(messageArbs.leave, fc.nat(SIGNERS.length - 1))
		.map(([m, i]) => SIGNERS[i].sign({ ...m, ...signer(SIGNERS[i], m.timestamp) })),
	retry: encoded(messageArbs.retry),
	// Signed by the first fixed signer (the key need not match `from`: the decoder does not check).
	"peer-message": peerMessageArb.map((m) => encodePeerMessage(m, (b) => SIGNERS[0].signBytes(b))),
	"list-request": encoded(fc.oneof(messageArbs.listRequest, messageArbs.listDeltaRequest)),
	"list-page": encoded(messageArbs.listPage),
	"list-delta": encoded(messageArbs.listDelta),
	"manifest-request": encoded(messageArbs.manifestRequest),
	"manifest-chunk": encoded(messageArbs.manifestChunk),
	"block-request": encoded(messageArbs.blockRequest),
	data: encoded(messageArbs.data),
	push: encoded(messageArbs.push),
	error: encoded(messageArbs.error),
	interest: encoded(messageArbs.interest),
	manifest: manifestArb.map(encodeManifest),
	resume: resumeArb.map(encodeResume),
	"manifest-file": fc
		.tuple(manifestFileNameArb, manifestArb)
		.map(([name, manifest]) => encodeManifestFile(name, manifest)),
	paths: nameArb.map((name) => Buffer.from(name, "utf8")),
	names: nameArb.map((name) => Buffer.from(name, "utf8")),
	seal: sealedArb,
};
