/**
 * In-process swarms of real peers on loopback for tests: each peer has its own folders,
 * its own transfer ports and a shared random discovery port.
 */
import fs from "node:fs";
import path from "node:path";
import { Peer, type PeerOptions } from "../../source/peer/peer.js";
import { freeBase, freePort, LOOPBACK_BROADCAST, tempDir, waitFor } from "./net.js";

/** A swarm under construction; `close()` stops every peer and removes the folders. */
export class Swarm {
	readonly root = tempDir();
	readonly peers: Peer[] = [];
	private constructor(readonly discoveryPort: number) {}

	static async create(): Promise<Swarm> {
		return new Swarm(await freePort());
	}

	/**
	 * Starts a peer and waits until its shared folder is indexed.
	 * @param name - its name (also its folder name)
	 * @param share - folder to share; a new empty one when absent
	 */
	async add(name: string, share?: string, extra: Partial<PeerOptions> = {}): Promise<Peer> {
		const dir = path.join(this.root, name);
		const shareDir = share ?? path.join(dir, "share");
		fs.mkdirSync(shareDir, { recursive: true });
		const peer = await Peer.start({
			name,
			shareDir,
			downloadsDir: path.join(dir, "downloads"),
			basePort: await freeBase(),
			discoveryPort: this.discoveryPort,
			broadcast: [LOOPBACK_BROADCAST],
			interval: 200,
			...extra,
		});
		this.peers.push(peer);
		// Peer.start serves files as they are indexed; tests start from a fully indexed folder.
		await peer.indexed();
		return peer;
	}

	/** Waits until `peer` lists `count` files from `sources` peers each. */
	async waitForFiles(peer: Peer, count: number, sources = 1): Promise<void> {
		await waitFor(
			() => peer.files().length === count && peer.files().every((f) => f.peers.length >= sources),
			`${count} files from ${sources} peers`,
		);
	}

	async close(): Promise<void> {
		await Promise.all(this.peers.map((p) => p.stop()));
		fs.rmSync(this.root, { recursive: true, force: true });
	}
}
