import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import fs from "node:fs";
import path from "node:path";
import { afterEach, describe, it, type TestContext } from "node:test";
import { OperationError } from "../../source/errors.js";
import type { Peer } from "../../source/peer/peer.js";
import type { TransferState } from "../../source/peer/types.js";
import { hash, toHex } from "../../source/protocol/hash.js";
import { MessageType } from "../../source/protocol/messages.js";
import { type FaultOptions, FaultPlan, FaultRelay, relayStream } from "../helpers/fault-relay.js";
import { freePort, waitFor } from "../helpers/net.js";
import { Swarm } from "../helpers/swarm.js";

/** Generous: a lossy download is slow, but a stuck one should still fail, not hang. */
const WAIT_MS = 60_000;

/**
 * A seeder on one discovery port and a leecher on another, which never hear each other:
 * everything between them goes through a fault relay.
 */
class RelayedPair {
	private readonly closers: (() => Promise<void>)[] = [];
	relay!: FaultRelay;
	seeder!: Peer;
	leecher!: Peer;
	content!: Buffer;

	/** Starts the relay, a seeder sharing `size` random bytes, and a leecher. */
	async start(faults: FaultOptions, size: number): Promise<this> {
		const swarm = await Swarm.create();
		this.closers.push(() => swarm.close());
		const upstream = swarm.discoveryPort;
		let downstream = await freePort();
		while (downstream === upstream) downstream = await freePort();
		this.relay = await FaultRelay.start({
			upstreamDiscoveryPort: upstream,
			downstreamDiscoveryPort: downstream,
			faults,
			signers: () => (this.seeder ? [this.seeder.identity] : []),
		});
		this.closers.push(() => this.relay.close());
		const share = path.join(swarm.root, "share");
		fs.mkdirSync(share);
		this.content = randomBytes(size);
		fs.writeFileSync(path.join(share, "data.bin"), this.content);
		this.seeder = await swarm.add("seeder", share);
		this.leecher = await swarm.add("leecher", undefined, { discoveryPort: downstream });
		return this;
	}

	/**
	 * The leecher waits for the seeder's file (heard through the relay) and downloads it.
	 * A manifest fetch that lost all its attempts (`NO_SOURCE`) is tried again, as a user
	 * would; any other failure fails the test.
	 */
	async download(t: TestContext): Promise<TransferState> {
		await waitFor(() => this.leecher.files().length === 1, "the file through the relay", WAIT_MS);
		const [file] = this.leecher.files();
		const seederPeer = this.leecher.peers().find((p) => p.name === "seeder");
		assert.ok(seederPeer);
		assert.equal(seederPeer.ports.receive, await this.relay.basePortOf(this.seeder.id));
		assert.notEqual(seederPeer.ports.receive, this.seeder.self().ports.receive);
		const started = Date.now();
		for (let attempt = 1; ; attempt++) {
			try {
				const result = await this.leecher.download(file.id);
				t.diagnostic(
					`${Date.now() - started} ms, relay ${JSON.stringify(this.relay.stats)}, ` +
						`hashFailures ${result.hashFailures}`,
				);
				return result;
			} catch (error) {
				if (!(error instanceof OperationError && error.code === "NO_SOURCE") || attempt >= 5) {
					const state = this.leecher.downloadOf(file.id)?.state();
					t.diagnostic(
						`failed: ${JSON.stringify(state)} relay ${JSON.stringify(this.relay.stats)}`,
					);
					throw error;
				}
			}
		}
	}

	/** Asserts the download is complete and identical to the seeder's file. */
	check(result: TransferState): void {
		assert.equal(result.status, "complete");
		const got = fs.readFileSync(result.path ?? "");
		assert.equal(got.length, this.content.length);
		assert.ok(got.equals(this.content), "identical bytes");
		assert.equal(toHex(hash(got)), toHex(hash(this.content)));
	}

	/** Stops the peers and the relay, removes the folders; safe after a partial start. */
	async close(): Promise<void> {
		for (const close of this.closers.splice(0).reverse()) await close().catch(() => {});
	}
}

describe("downloads through a faulty network", () => {
	let pair: RelayedPair | undefined;
	afterEach(async () => {
		await pair?.close();
		pair = undefined;
	});

	it("5% loss with 5% reordering, 5% duplication and jitter", {
		timeout: 2 * WAIT_MS,
	}, async (t) => {
		pair = new RelayedPair();
		await pair.start(
			{ seed: 11, loss: 0.05, reorder: 0.05, duplicate: 0.05, jitterMs: 2 },
			3 * 1024 * 1024 + 12_345,
		);
		pair.check(await pair.download(t));
		const { stats } = pair.relay;
		assert.ok(stats.dropped > 0 && stats.duplicated > 0 && stats.reordered > 0);
	});

	it("corrupted data datagrams fail their piece hash and are fetched again", {
		timeout: 2 * WAIT_MS,
	}, async (t) => {
		// 2% of the seeder's data datagrams, at most one in all: a peer with BAN_BAD_PIECES (2)
		// bad pieces is banned (a path that corrupts past the UDP checksum cannot be told from
		// a liar), and this seeder is the only source.
		const faults: FaultOptions = {
			seed: 15,
			corrupt: 0.02,
			direction: "downstream",
			types: [MessageType.data],
			maxCorrupted: 1,
		};
		// With this seed the data flow is hit early (datagram 19), long before the 69th: a
		// 4 MiB file takes at least 69 data datagrams, so the hit happens.
		const plan = new FaultPlan(faults, relayStream(0, 1, "downstream"));
		const hits: number[] = [];
		for (let i = 0; hits.length < 1; i++) if (plan.decide(61_484).corruptAt >= 0) hits.push(i);
		assert.ok(hits[0] < 69, `the seed corrupts data datagrams ${hits}`);

		pair = new RelayedPair();
		await pair.start(faults, 4 * 1024 * 1024);
		const result = await pair.download(t);
		pair.check(result);
		assert.equal(pair.relay.stats.corrupted, 1);
		assert.ok(result.hashFailures >= 1, "a corrupted block failed its piece's hash");
		assert.deepEqual(result.bannedPeers, [], "one bad piece is forgiven");
	});

	it("30% loss both ways still completes", { timeout: 4 * WAIT_MS }, async (t) => {
		pair = new RelayedPair();
		await pair.start({ seed: 5, loss: 0.3 }, 1024 * 1024 + 99);
		pair.check(await pair.download(t));
		assert.ok(pair.relay.stats.dropped > 0);
	});
});
