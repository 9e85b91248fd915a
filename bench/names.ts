/**
 * Seeded file names for the key-latency bench and its fake peer: the same names in both,
 * from the same seed.
 */
import { createHash } from "node:crypto";
import type { NetworkFile } from "../source/peer/types.js";

/** A small seeded PRNG (mulberry32), so every run lists the same names. */
export function prng(seed: number): () => number {
	let a = seed >>> 0;
	return () => {
		a = (a + 0x6d2b79f5) >>> 0;
		let t = a;
		t = Math.imul(t ^ (t >>> 15), t | 1);
		t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
		return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
	};
}

/** Words the names are made of (and the queries typed). */
export const WORDS = (
	"alpha amber anchor apple archive atlas autumn backup beach birch budget canyon castle " +
	"cedar chapter cloud coral delta desert draft echo ember falcon festival forest garden " +
	"glacier granite harbor harvest holiday island jasmine journal jungle lagoon lantern " +
	"lecture meadow mirror monsoon mountain nebula notes ocean orchard paper photo planet " +
	"poster prairie project quartz rainbow raven recipe report river saffron scan season " +
	"sketch spring summer sunset thunder timber travel tundra valley velvet voyage winter"
).split(" ");
const EXTENSIONS = ["jpg", "png", "mp4", "pdf", "txt", "mkv", "flac", "zip", "iso", "md"];

/**
 * `count` network files with seeded, varied names (`"sunset-harbor holiday 04821.jpg"`),
 * all at the top of the tree, sizes from 1 KiB to 4 GiB.
 */
export function manyFiles(count: number, seed: number, peers: string[]): NetworkFile[] {
	const random = prng(seed);
	const pick = <T>(list: readonly T[]): T => list[Math.floor(random() * list.length)];
	const files: NetworkFile[] = [];
	for (let i = 0; i < count; i++) {
		const name = `${pick(WORDS)}-${pick(WORDS)} ${pick(WORDS)} ${String(i).padStart(5, "0")}.${pick(EXTENSIONS)}`;
		files.push({
			id: createHash("sha256").update(`id ${seed} ${i}`).digest("hex"),
			name,
			size: Math.floor(1024 * 2 ** (random() * 22)),
			contentHash: createHash("sha256").update(`content ${seed} ${i}`).digest("hex"),
			peers: random() < 0.5 ? peers : [peers[0]],
		});
	}
	return files;
}
