/**
 * A hostile seeder for tests: a real peer on loopback whose list names its files with
 * adversarial names (test/helpers/adversarial-names.ts), and the check that a leecher
 * downloading all of them writes nothing outside its downloads folder.
 */
import assert from "node:assert/strict";
import fs from "node:fs";
import path from "node:path";
import { OperationError } from "../../source/errors.js";
import type { Library } from "../../source/library/library.js";
import type { Peer } from "../../source/peer/peer.js";
import { sanitizeName } from "../../source/protocol/names.js";
import type { Swarm } from "./swarm.js";

/** Control, escape and bidirectional characters (tab and newline excepted): never printed raw. */
export const DANGEROUS_IN_LINES =
	// biome-ignore lint/suspicious/noControlCharactersInRegex: finding control characters is the point
	/[\u0000-\u0008\u000b-\u001f\u007f-\u009f\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069]/;

/** A peer name made of escape sequences and bidi controls (30 bytes, under the 64 allowed). */
export const HOSTILE_PEER_NAME = "\u001b[2J\u001b]0;owned\u0007evil\u202etxt.exe\u009b";

/**
 * A name as it arrives: the wire carries UTF-8, where a lone surrogate becomes U+FFFD, and
 * its decoder (TextDecoder) drops a leading byte order mark.
 */
export function wire(name: string): string {
	return new TextDecoder().decode(Buffer.from(name, "utf8"));
}

/** Names the wire can carry: 1 to 1,024 bytes of UTF-8. */
export function wireNames(names: readonly string[]): string[] {
	return names.filter((name) => name.length > 0 && Buffer.byteLength(name) <= 1024);
}

/** The hostile seeder and what it lists. */
export interface HostileSeeder {
	peer: Peer;
	/** The network name (as it arrives) of each content (`content <i>\n`). */
	nameOf: Map<string, string>;
}

/**
 * Starts a seeder in `swarm` sharing one small file per name (content `content <i>\n`),
 * listed under `names[i]` instead of its own name, and called {@link HOSTILE_PEER_NAME}.
 * @param names - names the wire can carry ({@link wireNames})
 */
export async function startHostileSeeder(swarm: Swarm, names: string[]): Promise<HostileSeeder> {
	const share = path.join(swarm.root, "hostile-share");
	fs.mkdirSync(share);
	for (const [index] of names.entries())
		fs.writeFileSync(path.join(share, `f${index}.bin`), `content ${index}\n`);
	const peer = await swarm.add("hostile", share, { name: HOSTILE_PEER_NAME });
	const library = (peer as unknown as { library: Library }).library;
	const files = library.files.bind(library);
	const renamed = new Map<string, string>();
	const nameOf = new Map<string, string>();
	for (const f of files()) {
		const index = Number(f.name.slice(1, -4));
		renamed.set(f.id, names[index]);
		nameOf.set(`content ${index}\n`, wire(names[index]));
	}
	assert.equal(renamed.size, names.length);
	library.files = () => files().map((f) => ({ ...f, name: renamed.get(f.id) ?? f.name }));
	return { peer, nameOf };
}

/** Whether `child` is strictly inside `root` (both real paths). */
export function strictlyInside(root: string, child: string): boolean {
	const rel = path.relative(root, child);
	return rel !== "" && rel.split(path.sep)[0] !== ".." && !path.isAbsolute(rel);
}

/** Every file (not folder) under `dir`, as absolute paths. */
function filesUnder(dir: string): string[] {
	const out: string[] = [];
	for (const entry of fs.readdirSync(dir, { withFileTypes: true, recursive: true })) {
		if (!entry.isDirectory()) out.push(path.join(entry.parentPath, entry.name));
	}
	return out;
}

/** What became of the downloads. */
export interface Outcomes {
	saved: number;
	refused: number;
	/** In the way of each other (a file `x` and a file `x/y`): failed, nothing written. */
	inTheWay: number;
}

/**
 * Downloads every file `leecher` sees from the hostile seeder, `concurrency` at a time, and
 * checks each: saved strictly inside the downloads folder (real path), with the content the
 * seeder listed under that name, one file per download; or refused with `UNSAFE_NAME` when
 * the sanitiser refuses its name; or failed because another download's file or folder is in
 * the way. Then checks that every file under `root` other than the seeder's share is a
 * finished download inside the downloads folder.
 * @param root - the swarm's folder (everything the test wrote is under it)
 */
export async function downloadAll(
	leecher: Peer,
	downloadsDir: string,
	seeder: HostileSeeder,
	root: string,
	concurrency = 12,
): Promise<Outcomes> {
	const downloads = fs.realpathSync(downloadsDir);
	const outcomes: Outcomes = { saved: 0, refused: 0, inTheWay: 0 };
	const saved = new Set<string>();
	const fetchOne = async (id: string, name: string) => {
		const label = JSON.stringify(name);
		try {
			const state = await leecher.download(id);
			assert.ok(state.path, label);
			const real = fs.realpathSync(state.path);
			assert.ok(strictlyInside(downloads, real), `${label} -> ${real}`);
			assert.equal(seeder.nameOf.get(fs.readFileSync(real, "utf8")), name, label);
			assert.ok(!saved.has(real), `${real} holds two downloads`);
			saved.add(real);
			outcomes.saved++;
		} catch (error) {
			if (error instanceof assert.AssertionError) throw error;
			assert.ok(error instanceof OperationError, `${label}: ${String(error)}`);
			if (!sanitizeName(name).ok) {
				assert.equal(error.code, "UNSAFE_NAME", `${label}: ${error.message}`);
				outcomes.refused++;
			} else {
				assert.match(error.message, /(ENOTDIR|EISDIR|EEXIST)/, `${label}: ${error.message}`);
				outcomes.inTheWay++;
			}
		}
	};
	const queue = [...leecher.files()];
	await Promise.all(
		Array.from({ length: concurrency }, async () => {
			for (let f = queue.shift(); f; f = queue.shift()) await fetchOne(f.id, f.name);
		}),
	);
	const share = fs.realpathSync(path.join(root, "hostile-share"));
	for (const file of filesUnder(root)) {
		const real = fs.realpathSync(file);
		if (strictlyInside(share, real)) continue;
		assert.ok(strictlyInside(downloads, real), `written outside: ${real}`);
		assert.ok(saved.has(real), `not a finished download: ${real}`);
	}
	return outcomes;
}
