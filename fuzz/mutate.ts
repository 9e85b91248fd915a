/**
 * A small byte mutator in the manner of libFuzzer's (the engine under Jazzer.js): bit
 * flips, byte changes, inserts, deletes, truncations, duplicated ranges, splices between
 * two inputs and interesting integers written over length and count fields. Seeded and
 * deterministic, so a run can be repeated.
 */
import type { Field } from "./oracle.js";

/** A seeded pseudo-random source (mulberry32). */
export class Random {
	private state: number;

	constructor(seed: number) {
		this.state = seed >>> 0;
	}

	/** A uniform 32-bit unsigned integer. */
	next(): number {
		this.state = (this.state + 0x6d2b79f5) >>> 0;
		let t = this.state;
		t = Math.imul(t ^ (t >>> 15), t | 1);
		t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
		return (t ^ (t >>> 14)) >>> 0;
	}

	/** A uniform integer in [0, n); 0 when n <= 0. */
	below(n: number): number {
		return n <= 0 ? 0 : this.next() % n;
	}

	/** True with probability `p`. */
	chance(p: number): boolean {
		return this.next() / 2 ** 32 < p;
	}

	/** One element of a non-empty array. */
	pick<T>(items: readonly T[]): T {
		return items[this.below(items.length)];
	}

	/** `n` random bytes. */
	bytes(n: number): Buffer {
		const out = Buffer.allocUnsafe(n);
		for (let i = 0; i < n; i++) out[i] = this.next() & 0xff;
		return out;
	}
}

/**
 * Integers that break bounds checks: zeros, ones, powers of two and their neighbours,
 * signed edges, and claims of a huge file (1 PiB) or list (a million entries).
 */
export const INTERESTING: readonly bigint[] = [
	0n,
	1n,
	2n,
	7n,
	8n,
	9n,
	16n,
	32n,
	64n,
	74n,
	75n,
	127n,
	128n,
	255n,
	256n,
	1023n,
	1024n,
	1025n,
	0x7fffn,
	0x8000n,
	0xfffen,
	0xffffn,
	0x10000n,
	65_532n,
	65_536n,
	61_440n,
	61_441n,
	1_000_000n,
	2_097_201n,
	2_097_202n,
	0x7fffffffn,
	0x80000000n,
	0xfffffffen,
	0xffffffffn,
	0x100000000n,
	2n ** 50n,
	2n ** 53n - 1n,
	2n ** 53n,
	2n ** 63n,
	2n ** 64n - 1n,
];

function writeUint(out: Buffer, offset: number, size: number, value: bigint): void {
	let v = value & ((1n << BigInt(size * 8)) - 1n);
	for (let i = size - 1; i >= 0; i--) {
		out[offset + i] = Number(v & 0xffn);
		v >>= 8n;
	}
}

function readUint(data: Uint8Array, offset: number, size: number): bigint {
	let v = 0n;
	for (let i = 0; i < size; i++) v = (v << 8n) | BigInt(data[offset + i]);
	return v;
}

/** Options of {@link mutate}. */
export interface MutateOptions {
	/** Longest output in bytes. */
	maxLength: number;
	/** Length and count fields of the input, for interesting integers. */
	fields: Field[];
	/** Another input to splice with. */
	other?: Uint8Array;
}

/**
 * One to four stacked mutations of `input` (which is not changed).
 * @returns a new buffer of at most `maxLength` bytes
 */
export function mutate(input: Uint8Array, random: Random, options: MutateOptions): Buffer {
	let out: Buffer = Buffer.from(input);
	const rounds = 1 + random.below(4);
	for (let round = 0; round < rounds; round++) out = mutateOnce(out, random, options);
	return out.length > options.maxLength ? out.subarray(0, options.maxLength) : out;
}

function mutateOnce(data: Buffer, random: Random, options: MutateOptions): Buffer {
	const n = data.length;
	const at = random.below(n);
	switch (random.below(11)) {
		case 0: {
			// Flip one to eight bits.
			if (n === 0) return random.bytes(1);
			const out = Buffer.from(data);
			for (let k = 1 + random.below(8); k > 0; k--) out[random.below(n)] ^= 1 << random.below(8);
			return out;
		}
		case 1: {
			if (n === 0) return random.bytes(1);
			const out = Buffer.from(data);
			out[at] = random.chance(0.5) ? random.pick([0, 1, 0x7f, 0x80, 0xff]) : random.below(256);
			return out;
		}
		case 2: {
			// Small arithmetic on one byte.
			if (n === 0) return random.bytes(1);
			const out = Buffer.from(data);
			out[at] = (out[at] + random.below(35) - 17) & 0xff;
			return out;
		}
		case 3:
			return Buffer.concat([
				data.subarray(0, at),
				random.bytes(1 + random.below(16)),
				data.subarray(at),
			]);
		case 4:
			return Buffer.concat([data.subarray(0, at), data.subarray(at + 1 + random.below(16))]);
		case 5:
			// Truncate: every prefix is a datagram cut short.
			return data.subarray(0, random.below(n + 1));
		case 6: {
			// Duplicate a range (a list entry twice, a chunk repeated).
			const from = random.below(n);
			const length = 1 + random.below(Math.min(256, n - from));
			return Buffer.concat([
				data.subarray(0, at),
				data.subarray(from, from + length),
				data.subarray(at),
			]);
		}
		case 7: {
			// Splice: the head of this input and the tail of another.
			const other = options.other;
			if (!other || other.length === 0)
				return Buffer.concat([data, random.bytes(1 + random.below(8))]);
			return Buffer.concat([data.subarray(0, at), other.subarray(random.below(other.length))]);
		}
		case 8:
		case 9: {
			// An interesting integer over a known length or count field (or anywhere).
			const fields = options.fields.filter((f) => f.offset + f.size <= n);
			const field: { offset: number; size: number } =
				fields.length > 0 && random.chance(0.8)
					? random.pick(fields)
					: { offset: at, size: random.pick([1, 2, 4, 8]) };
			if (field.offset + field.size > n) return data;
			const out = Buffer.from(data);
			const current = readUint(data, field.offset, field.size);
			const value = random.chance(0.7)
				? random.pick(INTERESTING)
				: current + BigInt(random.below(17)) - 8n;
			writeUint(out, field.offset, field.size, value < 0n ? 0n : value);
			return out;
		}
		default:
			return Buffer.concat([data, random.bytes(1 + random.below(32))]);
	}
}
