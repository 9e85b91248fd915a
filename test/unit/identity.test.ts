/**
 * The lasting identity: the signed announce and leave (docs/protocol.md §3, §14) byte for
 * byte, their checks (bit flips, wrong keys, ids that are not the key's), and the key file
 * and its lock in the settings folder (made once with mode 0600, the same id after a
 * restart, another folder another id, a second instance ephemeral, a corrupt key refused).
 */
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import { describe, it } from "node:test";
import fc from "fast-check";
import { config } from "../../source/cli/commands.js";
import {
	IDENTITY_FILE,
	LOCK_FILE,
	loadIdentity,
	peekIdentity,
	releaseIdentity,
} from "../../source/cli/identity-file.js";
import { UsageError } from "../../source/errors.js";
import { checkSigned, fingerprint, Identity, peerIdOf } from "../../source/protocol/identity.js";
import {
	ANNOUNCE_OVERHEAD,
	decodeMessage,
	LEAVE_SIZE,
	type SignedMessage,
} from "../../source/protocol/messages.js";
import { tempDir } from "../helpers/net.js";
import { CLI } from "../helpers/process.js";

/** RFC 8032 §7.1, test 1: the secret key (seed) and its public key. */
const RFC_SEED = Buffer.from(
	"9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60",
	"hex",
);
const RFC_PUBLIC = "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a";
/** `b3sum` of the RFC public key's 32 raw bytes, its first 16 bytes. */
const RFC_PEER_ID = "6c31041268f471609c79f5f2dbcc38e4";

const fields = { basePort: 45460, revision: 7, fileCount: 3, interval: 2000, name: "Zoë" };

/** Decodes a signed datagram, failing the test if it is not an announce or leave. */
function decodeSigned(datagram: Uint8Array): SignedMessage {
	const message = decodeMessage(datagram);
	assert.ok(message?.type === "announce" || message?.type === "leave");
	return message;
}

describe("signed announce and leave", () => {
	const rfc = Identity.fromSeed(RFC_SEED);

	it("derives the peer id as BLAKE3 of the raw public key, first 16 bytes", () => {
		assert.equal(rfc.publicKey.toString("hex"), RFC_PUBLIC);
		assert.equal(rfc.id, RFC_PEER_ID);
		assert.equal(peerIdOf(rfc.publicKey).toString("hex"), RFC_PEER_ID);
		assert.equal(rfc.fingerprint, "6c31 0412 68f4 7160");
		assert.equal(fingerprint(RFC_PEER_ID), rfc.fingerprint);
	});

	it("encodes a leave byte for byte (Ed25519 is deterministic)", () => {
		const leave = rfc.leave(1_700_000_000_000);
		assert.equal(leave.length, LEAVE_SIZE);
		assert.equal(
			leave.toString("hex"),
			[
				"50320104",
				RFC_PEER_ID,
				RFC_PUBLIC,
				"0000018bcfe56800",
				"9ec426443ab7f85203969a94b1d66892fa300837ea3a401b90157ae56977b04b",
				"1f5e2c253cc67b4ca61adbe24331beca3984b6ae5212b89c3aeaeaeba07fbc00",
			].join(""),
		);
		assert.equal(checkSigned(decodeSigned(leave), leave), "ok");
	});

	it("encodes an announce byte for byte", () => {
		const announce = rfc.announce(fields, 1_700_000_000_001);
		assert.equal(announce.length, ANNOUNCE_OVERHEAD + 4);
		assert.equal(
			announce.toString("hex"),
			[
				"50320103",
				RFC_PEER_ID,
				RFC_PUBLIC,
				"0000018bcfe56801",
				"b194",
				"00000007",
				"00000003",
				"000007d0",
				"04",
				"5a6fc3ab",
				"9d230b8172aca5fc6b3cb7a28d0bfd6b71667ed38cc4d887235b66e5523ff5f8",
				"3e68db350cdf913dbbc00eb0f5a1bc8281ef95c9b2857dc03c4d40ad73c2ef04",
			].join(""),
		);
	});

	it("round-trips: what one identity signs decodes to its fields and checks out", () => {
		const who = Identity.generate(true);
		fc.assert(
			fc.property(
				fc.record({
					basePort: fc.integer({ min: 1, max: 65532 }),
					revision: fc.nat(0xffffffff),
					fileCount: fc.nat(0xffffffff),
					interval: fc.integer({ min: 10, max: 0xffffffff }),
					name: fc.string({ maxLength: 16 }),
				}),
				fc.boolean(),
				(f, isLeave) => {
					const datagram = isLeave ? who.leave() : who.announce(f);
					const message = decodeSigned(datagram);
					assert.equal(checkSigned(message, datagram), "ok");
					assert.ok(Buffer.from(message.peerId).equals(who.peerId));
					assert.ok(Buffer.from(message.publicKey).equals(who.publicKey));
					if (message.type === "announce") {
						const { basePort, revision, fileCount, interval, name } = message;
						assert.deepEqual({ basePort, revision, fileCount, interval, name }, { ...f });
					}
				},
			),
			{ numRuns: 100 },
		);
	});

	it("strictly increases its timestamps, even when the clock goes back", () => {
		const who = Identity.generate(true);
		assert.equal(who.nextTimestamp(5_000), 5_000);
		assert.equal(who.nextTimestamp(5_000), 5_001);
		assert.equal(who.nextTimestamp(1_000), 5_002);
		assert.equal(who.nextTimestamp(9_000), 9_000);
	});

	it("rejects every single flipped bit (malformed, or a signature that fails)", () => {
		for (const datagram of [rfc.announce(fields, 1), rfc.leave(2)]) {
			for (let bit = 0; bit < datagram.length * 8; bit++) {
				const flipped = Buffer.from(datagram);
				flipped[bit >> 3] ^= 1 << (bit & 7);
				const message = decodeMessage(flipped);
				if (message === null) continue;
				assert.ok(message.type === "announce" || message.type === "leave", `bit ${bit}`);
				assert.notEqual(checkSigned(message, flipped), "ok", `bit ${bit} accepted`);
			}
		}
	});

	it("rejects another key signing for an id, and a signature by the wrong key", () => {
		const victim = Identity.generate(true);
		const mallory = Identity.generate(true);
		// Mallory's key, the victim's id: not the key's id.
		const claim = mallory.sign({
			type: "leave",
			peerId: victim.peerId,
			publicKey: mallory.publicKey,
			timestamp: 1,
		});
		assert.equal(checkSigned(decodeSigned(claim), claim), "wrong-id");
		// The victim's id and key, signed by mallory: the signature does not verify.
		const wrongKey = mallory.sign({
			type: "leave",
			peerId: victim.peerId,
			publicKey: victim.publicKey,
			timestamp: 1,
		});
		assert.equal(checkSigned(decodeSigned(wrongKey), wrongKey), "bad-signature");
		// A key that is no point on the curve, with its "id": refused, never thrown.
		const junkKey = Buffer.alloc(32, 0xff);
		const junk = mallory.sign({
			type: "leave",
			peerId: peerIdOf(junkKey),
			publicKey: junkKey,
			timestamp: 1,
		});
		assert.equal(checkSigned(decodeSigned(junk), junk), "bad-signature");
	});

	it("does not let a leave's signature pass for an announce (the type byte is signed)", () => {
		const leave = rfc.leave(3);
		const relabelled = Buffer.from(leave);
		relabelled[3] = 0x03;
		assert.equal(decodeMessage(relabelled), null);
	});
});

describe("the identity key file and its lock", () => {
	it("makes the key once with mode 0600 and keeps the id across restarts", () => {
		const dir = tempDir("p2p-tui-id-");
		const first = loadIdentity(dir);
		assert.equal(first.ephemeral, false);
		const file = path.join(dir, IDENTITY_FILE);
		assert.equal(fs.statSync(file).mode & 0o777, 0o600);
		assert.equal(fs.readFileSync(path.join(dir, LOCK_FILE), "utf8").trim(), String(process.pid));
		// A second use in this process while the first holds it: ephemeral, the file untouched.
		const pem = fs.readFileSync(file, "utf8");
		const second = loadIdentity(dir);
		assert.equal(second.ephemeral, true);
		assert.notEqual(second.id, first.id);
		assert.equal(fs.readFileSync(file, "utf8"), pem);
		releaseIdentity(dir);
		assert.equal(fs.existsSync(path.join(dir, LOCK_FILE)), false);
		// "Restart": the same folder gives the same id; another folder another one.
		const again = loadIdentity(dir);
		assert.equal(again.id, first.id);
		assert.equal(again.ephemeral, false);
		const other = tempDir("p2p-tui-id-");
		assert.notEqual(loadIdentity(other).id, first.id);
		releaseIdentity(dir);
		releaseIdentity(other);
		// `config` shows it (read without the lock), never the key itself.
		assert.equal(peekIdentity(dir)?.id, first.id);
		const lines: string[] = [];
		config(dir, true, { out: (line) => lines.push(line), err: () => {} });
		const shown = JSON.parse(lines.join("")) as { identity: Record<string, string> };
		assert.deepEqual(shown.identity, {
			file: path.join(dir, IDENTITY_FILE),
			id: first.id,
			fingerprint: first.fingerprint,
		});
		assert.doesNotMatch(lines.join(""), /PRIVATE KEY/);
	});

	it("takes over a stale lock (its process is gone), and puts a widened key mode back", () => {
		const dir = tempDir("p2p-tui-id-");
		const id = loadIdentity(dir).id;
		releaseIdentity(dir);
		fs.chmodSync(path.join(dir, IDENTITY_FILE), 0o644);
		// A pid that runs no process (above the kernel's pid_max of 2^22).
		fs.writeFileSync(path.join(dir, LOCK_FILE), "4194400\n");
		const again = loadIdentity(dir);
		assert.equal(again.ephemeral, false);
		assert.equal(again.id, id);
		assert.equal(fs.statSync(path.join(dir, IDENTITY_FILE)).mode & 0o777, 0o600);
		releaseIdentity(dir);
	});

	it("refuses a corrupt key file with one line, and leaves it as it was", () => {
		const dir = tempDir("p2p-tui-id-");
		const file = path.join(dir, IDENTITY_FILE);
		fs.writeFileSync(file, "-----BEGIN PRIVATE KEY-----\nnot a key\n-----END PRIVATE KEY-----\n");
		assert.throws(
			() => loadIdentity(dir),
			(error: unknown) =>
				error instanceof UsageError &&
				error.code === "IDENTITY" &&
				!error.message.includes("\n") &&
				error.message.includes(file),
		);
		assert.match(fs.readFileSync(file, "utf8"), /not a key/);
		// The lock was given back: a good key in its place is taken at once.
		assert.equal(fs.existsSync(path.join(dir, LOCK_FILE)), false);
	});

	it("makes the CLI exit 2 with one line on a corrupt key file", async () => {
		const dir = tempDir("p2p-tui-id-");
		fs.writeFileSync(path.join(dir, IDENTITY_FILE), "garbage");
		const result = await new Promise<{ code: number | null; stderr: string }>((resolve) =>
			execFile(
				process.execPath,
				[CLI, "peers", "--config-dir", dir, "--broadcast", "127.255.255.255", "--wait", "0"],
				{ timeout: 30_000 },
				(error, _stdout, stderr) =>
					resolve({ code: error ? ((error as { code?: number }).code ?? null) : 0, stderr }),
			),
		);
		assert.equal(result.code, 2);
		assert.equal(result.stderr.trim().split("\n").length, 1, result.stderr);
		assert.match(result.stderr, /^p2p-tui: identity key .* is not an Ed25519 private key/);
	});
});
