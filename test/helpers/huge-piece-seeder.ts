/**
 * A hostile seeder written from docs/protocol.md alone, as an outside implementer did: raw UDP
 * sockets on loopback that announce one file whose (valid) manifest has 1 GiB pieces, list
 * it, and answer every block request, whatever its token, with garbage of the length asked.
 * A downloader must check those pieces without holding them in memory.
 */
import { randomBytes } from "node:crypto";
import dgram from "node:dgram";
import { hash } from "../../source/protocol/hash.js";
import { Identity } from "../../source/protocol/identity.js";
import { encodeManifest, type Manifest, manifestId } from "../../source/protocol/manifest.js";
import { decodeMessage, encodeDataHeader, encodeMessage } from "../../source/protocol/messages.js";
import { LOOPBACK_BROADCAST } from "./net.js";

/** A running hostile seeder. */
export interface HugePieceSeeder {
	/** The manifest it announces (1 GiB pieces, random hashes). */
	manifest: Manifest;
	/** Its file id (BLAKE3 of the manifest). */
	fileId: Buffer;
	/** Garbage payload bytes sent so far. */
	sent: () => number;
	close(): Promise<void>;
}

/**
 * Starts the seeder.
 * @param basePort - its four transfer ports start here (only BASE+1, the send port, is used)
 * @param discoveryPort - where it broadcasts its announce (on 127.255.255.255)
 * @param size - the file size it claims, in bytes (pieces of 1 GiB)
 */
export async function startHugePieceSeeder(
	basePort: number,
	discoveryPort: number,
	size: number,
): Promise<HugePieceSeeder> {
	const pieceSize = 2 ** 30;
	const count = Math.ceil(size / pieceSize);
	const manifest: Manifest = {
		size,
		pieceSize,
		contentHash: randomBytes(32),
		pieceHashes: Array.from({ length: count }, () => randomBytes(32)),
	};
	const fileId = manifestId(encodeManifest(manifest));
	const garbage = randomBytes(64 * 1024);
	let sent = 0;

	const send = dgram.createSocket("udp4");
	await new Promise<void>((resolve, reject) => {
		send.once("error", reject);
		send.bind(basePort + 1, "127.0.0.1", () => resolve());
	});
	send.on("error", () => {});
	send.on("message", (bytes, rinfo) => {
		const message = decodeMessage(bytes);
		if (message?.type === "listRequest") {
			const page = encodeMessage({
				type: "listPage",
				requestId: message.requestId,
				revision: 1,
				total: 1,
				index: 0,
				entries: [{ fileId, size, contentHash: manifest.contentHash, name: "huge.bin" }],
			});
			send.send(page, rinfo.port, rinfo.address);
		} else if (message?.type === "blockRequest") {
			const payload = garbage.subarray(0, Math.min(message.length, garbage.length));
			const header = encodeDataHeader({ type: "data", fileId, offset: message.offset, payload });
			sent += payload.length;
			send.send([header, payload], rinfo.port, rinfo.address);
		}
	});

	const announcer = dgram.createSocket("udp4");
	await new Promise<void>((resolve) => announcer.bind(0, "127.0.0.1", () => resolve()));
	announcer.setBroadcast(true);
	// Signed announces (a fresh timestamp each): an unsigned one would be dropped as forged.
	const identity = Identity.generate(true);
	const announce = () =>
		identity.announce({ basePort, revision: 1, fileCount: 1, interval: 200, name: "hostile" });
	const timer = setInterval(
		() => announcer.send(announce(), discoveryPort, LOOPBACK_BROADCAST),
		200,
	);
	announcer.send(announce(), discoveryPort, LOOPBACK_BROADCAST);
	// The id check the downloader makes: BLAKE3 of the manifest encoding.
	if (!hash(encodeManifest(manifest)).equals(fileId)) throw new Error("manifest id mismatch");
	return {
		manifest,
		fileId,
		sent: () => sent,
		close: async () => {
			clearInterval(timer);
			await Promise.all([
				new Promise<void>((resolve) => send.close(() => resolve())),
				new Promise<void>((resolve) => announcer.close(() => resolve())),
			]);
		},
	};
}
