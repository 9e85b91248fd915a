/**
 * `npm run fuzz` in miniature: every decoder target replays its committed seed corpus and
 * a short burst of mutations with the runner's own loop (fuzz/loop.ts), with no finding.
 * Also checks that the loop does find what it should: a throw, a slow input and an input
 * that makes a target set aside memory are each reported and saved.
 */
import assert from "node:assert/strict";
import fs from "node:fs";
import path from "node:path";
import { describe, it } from "node:test";
import { generators } from "../../fuzz/generators.js";
import { type FuzzTarget, loadCorpus, runTarget } from "../../fuzz/loop.js";
import { fixturesDir, tempDir } from "../helpers/net.js";

const corpusRoot = path.join(fixturesDir(), "..", "fuzz", "corpus");

describe("the fuzz runner", () => {
	for (const name of Object.keys(generators)) {
		it(`${name}: the seed corpus and mutations of it give no finding`, async () => {
			const target = (await import(`../../fuzz/targets/${name}.js`)) as FuzzTarget;
			const corpus = loadCorpus(path.join(corpusRoot, name));
			assert.ok(corpus.length >= 10, `${name} has a committed corpus`);
			const result = await runTarget(target, {
				name,
				seconds: 0.15,
				seed: 6,
				corpus,
				generator: generators[name],
			});
			assert.deepEqual(
				result.findings.map((f) => `${f.kind}: ${f.message}`),
				[],
			);
			assert.ok(result.execs > corpus.length);
		});
	}

	it("every target under fuzz/targets/ has a corpus, and every corpus a target", () => {
		const targetsDir = path.join(
			path.dirname(new URL(import.meta.url).pathname),
			"..",
			"..",
			"fuzz",
			"targets",
		);
		const targets = fs
			.readdirSync(targetsDir)
			.filter((f) => f.endsWith(".js"))
			.map((f) => f.slice(0, -3))
			.sort();
		assert.deepEqual(fs.readdirSync(corpusRoot).sort(), targets);
		assert.deepEqual(
			Object.keys(generators).sort(),
			targets.filter((t) => t !== "peer"),
		);
	});

	it("reports and saves a crash, a slow input and a memory-hungry one", async () => {
		const crashesDir = tempDir("p2p-tui-crashes-");
		const target: FuzzTarget = {
			fuzz(data) {
				if (data[0] === 0xee) throw new Error("boom");
				if (data[0] === 0x51) {
					// 15 ms of CPU, however long the machine makes it wait.
					const start = process.cpuUsage();
					while (process.cpuUsage(start).user < 15_000);
				}
				if (data[0] === 0xa1)
					(globalThis as { hog?: Buffer }).hog = Buffer.allocUnsafeSlow(64 * 1024 * 1024);
			},
		};
		const corpus = [Buffer.of(1), Buffer.of(0xee), Buffer.of(0x51), Buffer.of(0xa1)];
		const result = await runTarget(target, {
			name: "toy",
			seconds: 0,
			seed: 1,
			corpus,
			crashesDir,
		});
		delete (globalThis as { hog?: Buffer }).hog;
		const kinds = result.findings.map((f) => f.kind).sort();
		assert.deepEqual(kinds, ["crash", "memory", "slow"]);
		for (const f of result.findings) {
			assert.ok(f.file && fs.readFileSync(f.file).equals(f.input), `${f.kind} saved`);
		}
		assert.equal(result.execs, 4);
		assert.ok(result.maxConfirmedMs > 10);
		fs.rmSync(crashesDir, { recursive: true, force: true });
	});
});
