/**
 * A malicious peer for tests: a real peer on loopback (its own four UDP ports) that
 * - serves corrupt bytes under the honest manifest (its index cache is poisoned, as a
 *   tampered cache or a tampered client would do): one byte flipped every `corruptEvery`
 *   bytes of its copy, so some blocks of its answers are wrong;
 * - lies about the file's size in its list (1 PiB);
 * - pushes, from its own distribute port, corrupt whole pieces of the file and pieces of a
 *   file nobody asked for to the victim's distributee port, without being asked.
 */
import { randomBytes } from "node:crypto";
import type dgram from "node:dgram";
import fs from "node:fs";
import path from "node:path";
import { identityOf } from "../../source/library/identity.js";
import { IndexCache } from "../../source/library/index-cache.js";
import { hashFile, type Library } from "../../source/library/library.js";
import type { Peer } from "../../source/peer/peer.js";
import { encodeDataHeader } from "../../source/protocol/messages.js";
import type { Swarm } from "./swarm.js";

/** The size the malicious peer claims in its list: 1 PiB. */
export const LIED_SIZE = 2 ** 50;

/** A running malicious peer. */
export interface MaliciousPeer {
	peer: Peer;
	/** Push datagrams sent (corrupt pieces and pieces of another file). */
	pushesSent: number;
	/**
	 * Starts pushing to `victim`'s distributee port every `everyMs`: a corrupt copy of the
	 * next piece of the file, and a piece of a file no one fetches.
	 */
	startPushing(victim: Peer, everyMs?: number): void;
	stop(): void;
}

/**
 * Starts the malicious peer in `swarm`, sharing `content` as `name` (corrupted on its disk)
 * under the honest manifest.
 * @param corruptEvery - distance in bytes between flipped bytes of its copy
 */
export async function startMaliciousPeer(
	swarm: Swarm,
	peerName: string,
	name: string,
	content: Buffer,
	corruptEvery: number,
): Promise<MaliciousPeer> {
	const share = path.join(swarm.root, `${peerName}-share`);
	fs.mkdirSync(share);
	const file = path.join(share, name);
	fs.writeFileSync(file, content);
	const honest = await hashFile(file);
	const real = fs.realpathSync(file);
	const fd = fs.openSync(real, "r+");
	for (let offset = corruptEvery >> 1; offset < content.length; offset += corruptEvery)
		fs.writeSync(fd, Buffer.from([content[offset] ^ 0xff]), 0, 1, offset);
	fs.closeSync(fd);
	// The cache keeps the honest manifest for the corrupt file: it serves wrong bytes under it.
	const dataDir = path.join(swarm.root, `${peerName}-data`);
	const poisoned = await IndexCache.load(dataDir);
	const identity = identityOf(fs.statSync(real, { bigint: true }));
	poisoned.remember(real, identity, honest.manifestBytes, identity.ctimeNs + 10_000_000_000n);
	if (!(await poisoned.save())) throw new Error("cannot poison the index cache");
	const peer = await swarm.add(peerName, share, { dataDir });
	const library = (peer as unknown as { library: Library }).library;
	const files = library.files.bind(library);
	library.files = () => files().map((f) => ({ ...f, size: LIED_SIZE }));

	const socket = (
		peer as unknown as { engine: { sockets: { distribute: { socket: dgram.Socket } } } }
	).engine.sockets.distribute.socket;
	const fileId = honest.idBytes;
	const otherId = randomBytes(32);
	const { pieceSize } = honest.manifest;
	const pieces = Math.ceil(content.length / pieceSize);
	let timer: NodeJS.Timeout | undefined;
	const self: MaliciousPeer = {
		peer,
		pushesSent: 0,
		startPushing(victim, everyMs = 10) {
			const port = victim.self().ports.distributee;
			let next = 0;
			const push = (id: Buffer, offset: number, payload: Buffer) => {
				socket.send(
					Buffer.concat([encodeDataHeader({ type: "push", fileId: id, offset, payload }), payload]),
					port,
					"127.0.0.1",
				);
				self.pushesSent++;
			};
			timer = setInterval(() => {
				const index = next++ % pieces;
				const start = index * pieceSize;
				const piece = Buffer.from(content.subarray(start, start + pieceSize));
				piece[piece.length >> 1] ^= 0x55;
				for (let o = 0; o < piece.length; o += 1024) {
					push(fileId, start + o, piece.subarray(o, o + 1024));
					push(otherId, start + o, piece.subarray(o, o + 1024));
				}
			}, everyMs);
		},
		stop() {
			clearInterval(timer);
		},
	};
	return self;
}
