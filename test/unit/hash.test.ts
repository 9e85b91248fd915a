/**
 * BLAKE3 backends and the hash worker pool: the native binding and the WebAssembly fallback
 * agree with each other and with `b3sum`, incremental hashing equals one-shot, the pool returns
 * the same digests with the data intact, and P2P_TUI_BLAKE3=wasm selects the fallback.
 */
import assert from "node:assert/strict";
import { execFileSync, spawn } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import { after, before, describe, it } from "node:test";
import fc from "fast-check";
import {
	type Blake3Backend,
	backends,
	createHasher,
	HASH_BACKEND_ENV,
	hash,
	hashBackend,
	toHex,
} from "../../source/protocol/hash.js";
import { defaultHashWorkers, HashPool } from "../../source/transfer/hash-pool.js";
import { fixturesDir, listFiles, tempDir } from "../helpers/net.js";

// ---------------------------------------------------------------------------------------
// Helpers

/** `n` deterministic pseudo-random bytes (xorshift32 from `seed`), in a buffer of its own. */
function bytes(n: number, seed = 1): Buffer {
	const out = Buffer.alloc(n);
	let x = seed >>> 0 || 1;
	for (let i = 0; i < n; i++) {
		x ^= x << 13;
		x >>>= 0;
		x ^= x >>> 17;
		x ^= x << 5;
		x >>>= 0;
		out[i] = x & 0xff;
	}
	return out;
}

/** Hex digest that `b3sum` prints for `file`. */
function b3sum(file: string): string {
	return execFileSync("b3sum", ["--no-names", file], { encoding: "utf8" }).trim();
}

/** Whether the `b3sum` command can be run here. */
function haveB3sum(): boolean {
	try {
		execFileSync("b3sum", ["--version"], { stdio: "ignore" });
		return true;
	} catch {
		return false;
	}
}

/** Runs an ES module snippet in a child Node with extra environment; resolves with its stdout. */
function runModule(source: string, env: NodeJS.ProcessEnv = {}): Promise<string> {
	return new Promise((resolve, reject) => {
		const child = spawn(process.execPath, ["--input-type=module", "-e", source], {
			env: { ...process.env, ...env },
			stdio: ["ignore", "pipe", "pipe"],
		});
		let stdout = "";
		let stderr = "";
		child.stdout.on("data", (chunk) => {
			stdout += chunk;
		});
		child.stderr.on("data", (chunk) => {
			stderr += chunk;
		});
		const timer = setTimeout(() => child.kill(), 20_000);
		child.on("error", reject);
		child.on("close", (code, signal) => {
			clearTimeout(timer);
			if (code === 0) resolve(stdout.trim());
			else reject(new Error(`child exited with ${code ?? signal}: ${stderr}`));
		});
	});
}

/** Compiled module URLs for child processes (tests run from dist/test/unit/). */
const HASH_MODULE = new URL("../../source/protocol/hash.js", import.meta.url).href;
const POOL_MODULE = new URL("../../source/transfer/hash-pool.js", import.meta.url).href;

/** Why the native-vs-wasm tests are skipped on this machine, or false when they run. */
const NO_NATIVE = backends.native
	? false
	: "the native BLAKE3 binding (@napi-rs/blake-hash) cannot be loaded on this platform";

/** Lengths around BLAKE3's 64-byte block and 1024-byte chunk boundaries, and larger. */
const LENGTHS = [0, 1, 63, 64, 65, 1023, 1024, 1025, 2047, 2048, 2049, 65536, 65537, (1 << 20) + 3];

// ---------------------------------------------------------------------------------------
// Backends

describe("BLAKE3 backends", () => {
	it("selects the backend the environment asks for", () => {
		const expected =
			process.env[HASH_BACKEND_ENV] === "wasm" || !backends.native ? "wasm" : "native";
		assert.equal(hashBackend, expected);
	});

	it("loads the native binding where a prebuilt binary exists", (t) => {
		const prebuilt = ["linux-x64", "linux-arm64", "darwin-x64", "darwin-arm64", "win32-x64"];
		if (!prebuilt.includes(`${process.platform}-${process.arch}`)) {
			t.skip(`no prebuilt native binding expected on ${process.platform}-${process.arch}`);
			return;
		}
		assert.ok(backends.native, "the @napi-rs/blake-hash platform package should load here");
	});

	it("gives the reference digests of the empty string and of 'abc'", () => {
		const all: Blake3Backend[] = [backends.wasm, ...(backends.native ? [backends.native] : [])];
		for (const b of all) {
			assert.equal(
				toHex(b.hash(new Uint8Array(0))),
				"af1349b9f5f9a1a6a0404dea36dcc9499bcb25c9adc112b7cc9a93cae41f3262",
			);
			assert.equal(
				toHex(b.hash(Buffer.from("abc"))),
				"6437b3ac38465133ffb63b75273a8db548c558465d79db03fd359c6cd5bd9d85",
			);
		}
	});

	it("native and wasm agree at block and chunk boundaries", { skip: NO_NATIVE }, () => {
		const native = backends.native as Blake3Backend;
		for (const n of LENGTHS) {
			const data = bytes(n, n + 1);
			const expected = toHex(backends.wasm.hash(data));
			assert.equal(toHex(native.hash(data)), expected, `one-shot, length ${n}`);
			const h = native.createHasher();
			h.update(data);
			assert.equal(toHex(h.digest()), expected, `incremental, length ${n}`);
			// A view that starts at an odd offset inside a larger buffer: no alignment needed.
			const padded = Buffer.concat([Buffer.alloc(3), data]);
			assert.equal(toHex(native.hash(padded.subarray(3))), expected, `offset 3, length ${n}`);
			assert.equal(
				toHex(backends.wasm.hash(padded.subarray(3))),
				expected,
				`wasm, offset 3, length ${n}`,
			);
			assert.equal(native.hash(data).length, 32);
		}
	});

	it("hashes incrementally the same as in one shot, for every split (property)", () => {
		const all: Array<[string, Blake3Backend]> = [
			["wasm", backends.wasm],
			...(backends.native ? [["native", backends.native] as [string, Blake3Backend]] : []),
		];
		const reference = backends.native ?? backends.wasm;
		fc.assert(
			fc.property(
				fc.oneof(
					fc.uint8Array({ maxLength: 300 }),
					fc.uint8Array({ minLength: 1000, maxLength: 5000 }),
					fc.integer({ min: 0, max: 70_000 }).map((n) => new Uint8Array(bytes(n, n + 7))),
				),
				fc.array(fc.nat(), { maxLength: 12 }),
				(data, cuts) => {
					const points = [
						0,
						...cuts.map((c) => c % (data.length + 1)).sort((a, b) => a - b),
						data.length,
					];
					const expected = toHex(reference.hash(data));
					for (const [name, backend] of all) {
						const hasher = backend.createHasher();
						for (let i = 1; i < points.length; i++) {
							hasher.update(data.subarray(points[i - 1], points[i]));
						}
						assert.equal(toHex(hasher.digest()), expected, name);
					}
				},
			),
			{ numRuns: 150 },
		);
	});

	it("refuses a hasher used after its digest", () => {
		const all: Blake3Backend[] = [backends.wasm, ...(backends.native ? [backends.native] : [])];
		for (const b of all) {
			const h = b.createHasher();
			h.update(Buffer.from("x"));
			h.digest();
			assert.throws(() => h.update(Buffer.from("y")), /after digest/);
			assert.throws(() => h.digest(), /twice/);
		}
	});

	it("hashes inputs larger than the wasm slice in pieces without changing the digest", () => {
		const data = bytes(3 * (1 << 20) + 5, 99);
		const h = createHasher();
		h.update(data);
		assert.equal(toHex(h.digest()), toHex(hash(data)));
		assert.equal(toHex(backends.wasm.hash(data)), toHex(hash(data)));
	});

	it("P2P_TUI_BLAKE3=wasm in a child process selects the wasm backend", async () => {
		const script = `import { hashBackend, hash } from ${JSON.stringify(HASH_MODULE)};
console.log(hashBackend, hash(Buffer.from("abc")).toString("hex"));`;
		const forced = await runModule(script, { [HASH_BACKEND_ENV]: "wasm" });
		assert.equal(forced, "wasm 6437b3ac38465133ffb63b75273a8db548c558465d79db03fd359c6cd5bd9d85");
		const chosen = await runModule(script, { [HASH_BACKEND_ENV]: "" });
		assert.equal(chosen.split(" ")[0], backends.native ? "native" : "wasm");
	});
});

// ---------------------------------------------------------------------------------------
// b3sum

describe("BLAKE3 equals b3sum", { skip: haveB3sum() ? false : "b3sum is not installed" }, () => {
	const dir = tempDir();
	const generated = path.join(dir, "generated.bin");
	let pool: HashPool;
	before(() => {
		// Over one 4 MiB read of hashFile, so its streaming crosses a read boundary.
		fs.writeFileSync(generated, bytes(5 * (1 << 20) + 7, 2024));
		pool = new HashPool();
	});
	after(async () => {
		await pool?.close();
		fs.rmSync(dir, { recursive: true, force: true });
	});
	const files = [
		...listFiles(fixturesDir()).map((rel) => path.join(fixturesDir(), rel)),
		generated,
	];
	assert.ok(files.length >= 5, "fixtures/ should hold several files");

	for (const file of files) {
		const name =
			file === generated
				? "a generated file of 5 MiB + 7 bytes"
				: path.relative(path.dirname(fixturesDir()), file);
		it(name, async () => {
			const expected = b3sum(file);
			const content = fs.readFileSync(file);
			assert.equal(toHex(hash(content)), expected, "hash()");
			assert.equal(toHex(backends.wasm.hash(content)), expected, "wasm");
			if (backends.native) assert.equal(toHex(backends.native.hash(content)), expected, "native");
			assert.equal(toHex(await pool.hashFile(file, content.length)), expected, "pool.hashFile");
			const { digest } = await pool.hash(Buffer.from(content));
			assert.equal(toHex(digest), expected, "pool.hash");
		});
	}
});

// ---------------------------------------------------------------------------------------
// Pool

describe("HashPool", () => {
	it("sizes itself to the machine: 1 worker up to 2 cores, else min(4, cores - 1)", () => {
		assert.deepEqual(
			[1, 2, 3, 4, 5, 8, 64].map((cores) => defaultHashWorkers(cores)),
			[1, 1, 2, 3, 4, 4, 4],
		);
		assert.throws(() => new HashPool({ workers: -1 }), RangeError);
		assert.throws(() => new HashPool({ workers: 1.5 }), RangeError);
	});

	it("hashes a piece in a worker, transferring its bytes there and back", async () => {
		const pool = new HashPool({ workers: 1 });
		try {
			assert.equal(pool.workers, 1);
			assert.equal(pool.backend, hashBackend);
			const piece = bytes(1 << 20, 5);
			const copy = Buffer.from(piece);
			const expected = hash(copy);
			const { digest, data } = await pool.hash(piece);
			assert.equal(toHex(digest), toHex(expected));
			assert.equal(digest.length, 32);
			assert.ok(data.equals(copy), "data comes back intact");
			assert.equal(data.byteOffset, 0);
			assert.equal(data.buffer.byteLength, data.length, "data owns its ArrayBuffer");
			assert.equal(piece.length, 0, "the caller's buffer was transferred, not copied");
		} finally {
			await pool.close();
		}
	});

	it("copies (and leaves intact) buffers that do not own their ArrayBuffer", async () => {
		const pool = new HashPool({ workers: 1 });
		try {
			const small = Buffer.from("a small pooled buffer");
			const big = bytes(10_000, 3);
			const slice = big.subarray(17, 9_000);
			for (const data of [small, slice, Buffer.alloc(0)]) {
				const before = Buffer.from(data);
				const result = await pool.hash(data);
				assert.equal(toHex(result.digest), toHex(hash(before)));
				assert.ok(result.data.equals(before));
				assert.ok(data.equals(before), "the caller's view is untouched");
			}
		} finally {
			await pool.close();
		}
	});

	it("runs 50 concurrent jobs, pieces and files mixed, across workers", async () => {
		const dir = tempDir();
		const pool = new HashPool({ workers: 2 });
		try {
			const file = path.join(dir, "f.bin");
			const content = bytes(700_000, 77);
			fs.writeFileSync(file, content);
			const jobs = Array.from({ length: 50 }, (_, i) => {
				if (i % 5 === 4) {
					const size = (i * 13_331) % content.length;
					return pool
						.hashFile(file, size)
						.then((digest) => assert.equal(toHex(digest), toHex(hash(content.subarray(0, size)))));
				}
				const piece = bytes(i * 4099 + 1, i + 1);
				const copy = Buffer.from(piece);
				return pool.hash(piece).then(({ digest, data }) => {
					assert.equal(toHex(digest), toHex(hash(copy)), `job ${i}`);
					assert.ok(data.equals(copy), `job ${i} data`);
				});
			});
			await Promise.all(jobs);
		} finally {
			await pool.close();
			fs.rmSync(dir, { recursive: true, force: true });
		}
	});

	it("rejects hashFile with the fs error, or when the file is short", async () => {
		const dir = tempDir();
		const pool = new HashPool({ workers: 1 });
		try {
			const file = path.join(dir, "short.bin");
			fs.writeFileSync(file, bytes(100));
			await assert.rejects(pool.hashFile(path.join(dir, "missing"), 10), { code: "ENOENT" });
			await assert.rejects(pool.hashFile(dir, 10), { code: "EISDIR" });
			await assert.rejects(pool.hashFile(file, 101), { code: "ERR_SHORT_FILE" });
			await assert.rejects(pool.hashFile(file, -1), RangeError);
			assert.equal(toHex(await pool.hashFile(file, 60)), toHex(hash(bytes(100).subarray(0, 60))));
		} finally {
			await pool.close();
			fs.rmSync(dir, { recursive: true, force: true });
		}
	});

	it("hashes inline with 0 workers", async () => {
		const pool = new HashPool({ workers: 0 });
		try {
			assert.equal(pool.workers, 0);
			const piece = bytes(70_000, 8);
			const { digest, data } = await pool.hash(piece);
			assert.equal(toHex(digest), toHex(hash(piece)));
			assert.ok(data.equals(bytes(70_000, 8)));
			const file = path.join(fixturesDir(), "random-3MiB.bin");
			const content = fs.readFileSync(file);
			assert.equal(toHex(await pool.hashFile(file, content.length)), toHex(hash(content)));
		} finally {
			await pool.close();
		}
	});

	for (const workers of [1, 2, 0]) {
		it(`follows a file's complete prefix with a content stream (${workers} workers)`, async () => {
			const pool = new HashPool({ workers });
			const dir = tempDir("content-stream");
			const pieceSize = 64 * 1024;
			const content = bytes(pieceSize * 9 + 1234, 21);
			const pieces = Array.from({ length: 10 }, (_, i) =>
				content.subarray(i * pieceSize, Math.min(content.length, (i + 1) * pieceSize)),
			);
			const fd = fs.openSync(path.join(dir, "partial"), "w+");
			try {
				const stream = pool.contentStream();
				// Out of order, as pieces from several peers land: 0 and 1 in order (fed from
				// memory where the worker holds the stream), then 5, 2, 3, 4, the rest.
				const order = [0, 1, 5, 2, 3, 4, 9, 7, 8, 6];
				const have = new Set<number>();
				let prefix = 0;
				for (const i of order) {
					const piece = Buffer.from(pieces[i]);
					const { written } = await pool.hashAndWrite(
						piece,
						hash(pieces[i]),
						fd,
						i * pieceSize,
						stream,
					);
					assert.ok(written);
					have.add(i);
					while (have.has(prefix)) prefix++;
					if (i % 2 === 0) await stream.advance(fd, Math.min(content.length, prefix * pieceSize));
				}
				assert.equal(toHex(await stream.digest(fd, content.length)), toHex(hash(content)));
				// A stream never advanced reads the whole file for its digest.
				assert.equal(
					toHex(await pool.contentStream().digest(fd, content.length)),
					toHex(hash(content)),
				);
			} finally {
				fs.closeSync(fd);
				await pool.close();
				fs.rmSync(dir, { recursive: true, force: true });
			}
		});
	}

	it("a content stream past the end of the file rejects instead of hashing short", async () => {
		const pool = new HashPool({ workers: 1 });
		const dir = tempDir("content-short");
		const fd = fs.openSync(path.join(dir, "partial"), "w+");
		try {
			fs.writeSync(fd, bytes(1000, 3));
			await assert.rejects(pool.contentStream().digest(fd, 5000), { code: "ERR_SHORT_FILE" });
		} finally {
			fs.closeSync(fd);
			await pool.close();
			fs.rmSync(dir, { recursive: true, force: true });
		}
	});

	it("rejects the jobs of a crashed worker and replaces it", async () => {
		const pool = new HashPool({ workers: 1 });
		try {
			await pool.hash(bytes(10)); // the worker is up
			const pending = pool.hash(Buffer.alloc(64 << 20, 1));
			// Kill the worker from outside while it holds the job, as a crash would.
			const internals = pool as unknown as { slots: Array<{ worker: { terminate(): unknown } }> };
			internals.slots[0].worker.terminate();
			await assert.rejects(pending, /hash worker exited/);
			const after = bytes(5000, 4);
			const { digest } = await pool.hash(Buffer.from(after));
			assert.equal(toHex(digest), toHex(hash(after)));
			assert.equal(pool.workers, 1);
		} finally {
			await pool.close();
		}
	});

	it("closes cleanly: pending jobs reject, later calls reject, close twice is fine", async () => {
		const pool = new HashPool({ workers: 2 });
		const pending = pool.hash(Buffer.alloc(32 << 20, 2)).then(
			() => "done",
			(error: Error) => error.message,
		);
		await pool.close();
		const outcome = await pending;
		assert.ok(outcome === "done" || /closed/.test(outcome), outcome);
		assert.equal(pool.workers, 0);
		await assert.rejects(pool.hash(Buffer.alloc(1)), /closed/);
		await assert.rejects(pool.hashFile("unused", 1), /closed/);
		await pool.close();
	});

	it("an idle pool does not keep the process alive, but pending jobs complete", async () => {
		const script = `import { HashPool } from ${JSON.stringify(POOL_MODULE)};
const pool = new HashPool({ workers: 1 });
pool.hash(Buffer.from("abc")).then(({ digest }) => console.log(digest.toString("hex")));`;
		const out = await runModule(script);
		assert.equal(out, "6437b3ac38465133ffb63b75273a8db548c558465d79db03fd359c6cd5bd9d85");
	});

	it("a pool in a process forced to wasm reports wasm and hashes right", async () => {
		const script = `import { HashPool } from ${JSON.stringify(POOL_MODULE)};
const pool = new HashPool({ workers: 1 });
const { digest } = await pool.hash(Buffer.alloc(3000, 7));
console.log(pool.backend, digest.toString("hex"));`;
		const out = await runModule(script, { [HASH_BACKEND_ENV]: "wasm" });
		assert.equal(out, `wasm ${toHex(hash(Buffer.alloc(3000, 7)))}`);
	});
});
