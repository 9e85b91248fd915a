/**
 * `npm run fuzz:seed`: (re)writes the committed seed corpus under fuzz/corpus/<target>/:
 * valid inputs cut from the property tests' arbitraries with a fixed seed, and hostile
 * ones written by hand (a 1 PiB file, a million-entry list, a 4 GiB manifest, wild block
 * ranges). Deterministic: running it again gives the same files.
 */
import fs from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import fc from "fast-check";
import { Identity } from "../source/protocol/identity.js";
import { encodeManifest } from "../source/protocol/manifest.js";
import { encodeManifestFile } from "../source/protocol/manifest-file.js";
import { encodeMessage, type Message } from "../source/protocol/messages.js";
import { encodeResume } from "../source/protocol/resume.js";
import { generators } from "./generators.js";
import { sequenceSeeds } from "./stateful.js";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..", "..");
const corpusDir = path.join(root, "fuzz", "corpus");
/** Generated seeds per target. */
const GENERATED = 12;

const id = (byte: number) => new Uint8Array(32).fill(byte);
const peerId = new Uint8Array(16).fill(0xaa);
/** Signs the hand-written announces and leaves (a fixed seed: the same bytes every run). */
const seedSigner = Identity.fromSeed(new Uint8Array(32).fill(0x5e));
const token = new Uint8Array(16).fill(7);
const PIB = 2 ** 50;

const m = (message: Message) => encodeMessage(message);
/** A datagram with one u32/u64 field overwritten (claims the encoder would refuse). */
function patched(bytes: Buffer, offset: number, size: 2 | 4 | 8, value: bigint): Buffer {
	const out = Buffer.from(bytes);
	if (size === 2) out.writeUInt16BE(Number(value), offset);
	else if (size === 4) out.writeUInt32BE(Number(value), offset);
	else out.writeBigUInt64BE(value, offset);
	return out;
}

const hugeEntry = { fileId: id(1), size: PIB, contentHash: id(2), name: "one-pebibyte.iso" };
const manifest = {
	size: 600_000,
	pieceSize: 262_144,
	contentHash: id(3),
	pieceHashes: [id(4), id(5), id(6)],
};

/** Hand-written hostile seeds per target. */
const handmade: Record<string, Record<string, Buffer>> = {
	announce: {
		"interval-49-days": seedSigner.announce(
			{
				basePort: 45460,
				revision: 0xffffffff,
				fileCount: 0xffffffff,
				interval: 0xffffffff,
				name: "\u001b[2J\u202eevil",
			},
			1_000,
		),
		// Someone else's id under this key: dropped as forged.
		"forged-id": seedSigner.sign({
			type: "announce",
			peerId,
			publicKey: seedSigner.publicKey,
			timestamp: 2_000,
			basePort: 45460,
			revision: 1,
			fileCount: 1,
			interval: 2_000,
			name: "forger",
		}),
	},
	leave: {
		leave: seedSigner.leave(3_000),
		"forged-id": seedSigner.sign({
			type: "leave",
			peerId,
			publicKey: seedSigner.publicKey,
			timestamp: 4_000,
		}),
	},
	"list-page": {
		"million-entries-claimed": m({
			type: "listPage",
			requestId: 1,
			revision: 1,
			total: 1_000_000,
			index: 0,
			entries: [hugeEntry],
		}),
		"count-65535-one-entry": patched(
			m({ type: "listPage", requestId: 1, revision: 1, total: 1, index: 0, entries: [hugeEntry] }),
			20,
			2,
			65_535n,
		),
		"empty-page": m({
			type: "listPage",
			requestId: 1,
			revision: 1,
			total: 0,
			index: 0,
			entries: [],
		}),
	},
	"list-delta": {
		"million-changes-claimed": m({
			type: "listDelta",
			requestId: 1,
			status: 0,
			since: 1,
			revision: 2,
			total: 1_000_000,
			index: 0,
			changes: [{ removed: true, entry: hugeEntry }],
		}),
	},
	"manifest-chunk": {
		"total-4-gib": patched(
			m({
				type: "manifestChunk",
				requestId: 1,
				fileId: id(1),
				total: 1,
				offset: 0,
				bytes: Uint8Array.of(1),
			}),
			40,
			4,
			0xffffffffn,
		),
	},
	"block-request": {
		"offset-2p53-1": m({
			type: "blockRequest",
			token,
			fileId: id(1),
			offset: 2 ** 53 - 1,
			length: 61_440,
		}),
		"length-61441": patched(
			m({ type: "blockRequest", token, fileId: id(1), offset: 0, length: 1 }),
			60,
			4,
			61_441n,
		),
	},
	data: {
		"offset-1-pib": m({ type: "data", fileId: id(1), offset: PIB, payload: Uint8Array.of(1) }),
	},
	push: {
		"offset-1-pib": m({ type: "push", fileId: id(1), offset: PIB, payload: Uint8Array.of(1) }),
	},
	interest: {
		"four-billion-pieces": m({
			type: "interest",
			token,
			peerId,
			fileId: id(1),
			pieceCount: 0xffffffff,
			done: false,
			firstPiece: 0xfffffff8 - 8 * 1024,
			have: new Uint8Array(1024).fill(0xff),
		}),
	},
	manifest: {
		example: encodeManifest(manifest),
		"pieces-claimed-65537": patched(encodeManifest(manifest), 45, 4, 65_537n),
		"size-1-pib": patched(encodeManifest(manifest), 1, 8, BigInt(PIB)),
	},
	resume: {
		example: encodeResume({
			fileId: id(1),
			size: 600_000,
			pieceSize: 262_144,
			have: Uint8Array.of(0xa0),
		}),
	},
	"manifest-file": { example: encodeManifestFile("Café – résumé ü.txt", manifest) },
	paths: {
		dotdot: Buffer.from("a/../../etc/passwd"),
		absolute: Buffer.from("/etc/passwd"),
		drive: Buffer.from("C:\\Windows\\win.ini"),
		ansi: Buffer.from("\u001b]0;pwned\u0007name.txt"),
		bidi: Buffer.from("invoice\u202etxt.exe"),
		long: Buffer.from("x".repeat(256)),
		reserved: Buffer.from("CON/aux.txt"),
		nfd: Buffer.from("cafe\u0301.txt"),
	},
};

fs.rmSync(corpusDir, { recursive: true, force: true });
let written = 0;
for (const [target, arb] of Object.entries(generators)) {
	const dir = path.join(corpusDir, target);
	fs.mkdirSync(dir, { recursive: true });
	const samples = fc.sample(arb, { numRuns: GENERATED, seed: 6 });
	samples.forEach((bytes, i) => {
		fs.writeFileSync(path.join(dir, `gen-${String(i).padStart(2, "0")}`), bytes);
	});
	written += samples.length;
	for (const [name, bytes] of Object.entries(handmade[target] ?? {})) {
		fs.writeFileSync(path.join(dir, name), bytes);
		written++;
	}
}
// The names target also starts from a spread of the adversarial names corpus (issue 6).
const adversarial = JSON.parse(
	fs.readFileSync(path.join(root, "fixtures", "adversarial-names.json"), "utf8"),
) as { category: string; name: string }[];
const namesDir = path.join(corpusDir, "names");
adversarial.forEach((entry, i) => {
	if (i % 15 !== 0) return;
	fs.writeFileSync(
		path.join(namesDir, `adv-${String(i).padStart(3, "0")}-${entry.category}`),
		entry.name,
	);
	written++;
});
const peerDir = path.join(corpusDir, "peer");
fs.mkdirSync(peerDir, { recursive: true });
for (const [name, bytes] of Object.entries(sequenceSeeds())) {
	fs.writeFileSync(path.join(peerDir, name), bytes);
	written++;
}
console.log(`wrote ${written} seeds under ${path.relative(root, corpusDir)}/`);
