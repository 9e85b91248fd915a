/**
 * The stateful fuzzer: a live peer on loopback (real sockets, 127.0.0.1 only) fed
 * sequences of valid and invalid messages on all five of its ports, each sequence decoded
 * from fuzz bytes. After each sequence it checks the peer still serves correctly (a list
 * request gets the right list, a block request the right bytes), that nothing threw or
 * rejected unhandled, that a never-validated address got back at most 3 times the bytes
 * it sent, and now and then that memory stays bounded. Meanwhile the peer downloads from
 * an honest seeder (slowed by an upload cap), so pushes, interest and data land in a live
 * download, which must still finish with the right bytes; and a hostile "sink" peer it
 * discovers answers its requests with lies (a million-entry list, a 4 GiB manifest,
 * corrupt blocks).
 */
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import dgram from "node:dgram";
import fs from "node:fs";
import path from "node:path";
import v8 from "node:v8";
import { runInNewContext } from "node:vm";
import { MAX_PEERS } from "../source/discovery/table.js";
import type { Peer } from "../source/peer/peer.js";
import { Identity } from "../source/protocol/identity.js";
import {
	type Announce,
	type BlockRequest,
	DATA_OVERHEAD,
	decodeMessage,
	encodeMessage,
	folderEntry,
	type ListEntry,
	type Message,
} from "../source/protocol/messages.js";
import { freeBase, waitFor } from "../test/helpers/net.js";
import { Swarm } from "../test/helpers/swarm.js";
import { check, FuzzBug } from "./oracle.js";

/** Operations a sequence is made of (one byte each, then their parameters). */
export const Op = {
	announce: 0,
	leave: 1,
	listRequest: 2,
	listDeltaRequest: 3,
	manifestRequest: 4,
	blockRequest: 5,
	push: 6,
	interest: 7,
	data: 8,
	retry: 9,
	error: 10,
	reply: 11,
	garbage: 12,
	truncated: 13,
	replay: 14,
	flipped: 15,
	fetchFromSink: 16,
} as const;
const OP_COUNT = 17;
/** The strangers' identities, from fixed seeds (Ed25519 signs deterministically). */
const STRANGERS = Array.from({ length: 8 }, (_, i) =>
	Identity.fromSeed(new Uint8Array(32).fill(0x40 + i)),
);
/** Operations per sequence at most. */
const MAX_OPS = 48;

/** How the sink (a hostile peer the target discovers) answers. */
const SinkMode = { silent: 0, liar: 1, million: 2, garbage: 3, tinyChunks: 4 } as const;

/** Reads fuzz bytes as parameters; past the end every read gives zeros. */
class Params {
	private at = 0;
	constructor(private readonly data: Uint8Array) {}
	get done(): boolean {
		return this.at >= this.data.length;
	}
	u8(): number {
		const at = this.at++;
		return at < this.data.length ? this.data[at] : 0;
	}
	u16(): number {
		return (this.u8() << 8) | this.u8();
	}
	u32(): number {
		return this.u16() * 65_536 + this.u16();
	}
	bytes(n: number): Buffer {
		const out = Buffer.alloc(n);
		for (let i = 0; i < n; i++) out[i] = this.u8();
		return out;
	}
	pick<T>(items: readonly T[]): T {
		return items[this.u8() % items.length];
	}
	/** A number for an offset, length or count: often an edge, else raw bytes. */
	wild(max = 2 ** 53 - 1): number {
		const kind = this.u8() % 4;
		const edges = [
			0,
			1,
			255,
			256,
			61_440,
			61_441,
			65_535,
			2 ** 31,
			2 ** 32 - 1,
			2 ** 50,
			2 ** 53 - 1,
		];
		const v =
			kind === 0
				? this.pick(edges)
				: kind === 1
					? this.u8()
					: kind === 2
						? this.u32()
						: this.u32() * 2 ** 21 + (this.u32() % 2 ** 21);
		return Math.min(max, v);
	}
}

/** A UDP socket on 127.0.0.1 that keeps what it receives and counts bytes both ways. */
class Socket {
	sent = 0;
	received = 0;
	private waiters: { match: (m: Message) => boolean; resolve: (m: Message) => void }[] = [];
	/** Last Retry token per sender port. */
	readonly tokens = new Map<number, Buffer>();
	onMessage: ((message: Message | null, bytes: Buffer, port: number) => void) | undefined;

	private constructor(readonly socket: dgram.Socket) {
		socket.on("message", (bytes, from) => {
			this.received += bytes.length;
			const message = decodeMessage(bytes);
			if (message?.type === "retry") this.tokens.set(from.port, Buffer.from(message.token));
			if (message) {
				const i = this.waiters.findIndex((w) => w.match(message));
				if (i >= 0) this.waiters.splice(i, 1)[0].resolve(message);
			}
			this.onMessage?.(message, bytes, from.port);
		});
		socket.on("error", () => {});
	}

	static async open(port = 0): Promise<Socket> {
		const socket = dgram.createSocket("udp4");
		await new Promise<void>((resolve, reject) => {
			socket.once("error", reject);
			socket.bind(port, "127.0.0.1", () => resolve());
		});
		return new Socket(socket);
	}

	get port(): number {
		return this.socket.address().port;
	}

	send(bytes: Uint8Array, port: number): void {
		this.sent += bytes.length;
		this.socket.send(bytes, port, "127.0.0.1");
	}

	/** Waits up to `ms` for a message that matches. */
	next(match: (m: Message) => boolean, ms: number): Promise<Message | null> {
		return new Promise((resolve) => {
			const waiter = { match, resolve: (m: Message | null) => resolve(m) };
			this.waiters.push(waiter as (typeof this.waiters)[number]);
			setTimeout(() => {
				const i = this.waiters.indexOf(waiter as (typeof this.waiters)[number]);
				if (i >= 0) {
					this.waiters.splice(i, 1);
					resolve(null);
				}
			}, ms).unref();
		});
	}

	close(): Promise<void> {
		return new Promise((resolve) => this.socket.close(() => resolve()));
	}
}

/** Options of {@link PeerFuzzer.start}. */
export interface PeerFuzzerOptions {
	/** Size of each file the target downloads from the seeder, in bytes. */
	downloadSize?: number;
	/** The seeder's upload cap in bytes per second (keeps a download under way). */
	seederRate?: number;
	/** Start a new download when one completes (the long run), default true. */
	keepDownloading?: boolean;
	/**
	 * The sink lies with data too (default true): it lists the file under download, so the
	 * target takes it as a source, and it answers block requests (its own, or those it gets
	 * as a partial seeder through a forged interest) with corrupt blocks. False keeps it
	 * silent on block requests. Until blocks are blamed on the peer that sent them (smart
	 * ban, issue 6), the honest seeder shares the blame for the liar's blocks of a piece
	 * both served, is banned after three, and the download fails: this finds that.
	 */
	liars?: boolean;
}

/** Counters of a fuzzing session. */
export interface PeerFuzzerStats {
	sequences: number;
	datagrams: number;
	/** Downloads that completed with the right bytes meanwhile. */
	downloadsVerified: number;
	/** Downloads that failed (each also reported as a finding). */
	downloadsFailed: number;
	/** Live checks (list and block answered right). */
	checks: number;
	/** Heap growth after a full collection since the start, in bytes (last measured). */
	heapGrowth: number;
	/** Datagrams the sink received from the target. */
	sinkRequests: number;
}

/** Heap growth after a full collection above which memory is taken as unbounded. */
const HEAP_BOUND = 96 * 1024 * 1024;

/** A live peer under fuzzing. */
export class PeerFuzzer {
	readonly stats: PeerFuzzerStats = {
		sequences: 0,
		datagrams: 0,
		downloadsVerified: 0,
		downloadsFailed: 0,
		checks: 0,
		heapGrowth: 0,
		sinkRequests: 0,
	};
	/** Uncaught exceptions and unhandled rejections seen while fuzzing. */
	readonly unhandled: string[] = [];
	private baseline = 0;
	private history: { bytes: Buffer; port: number }[] = [];
	private sinkMode: number = SinkMode.silent;
	private download: { id: string; file: string; promise: Promise<unknown> } | undefined;
	private downloadFailure: string | undefined;
	private unhandledReported = 0;
	private fileCounter = 0;
	private closed = false;
	private readonly onUncaught = (error: unknown) => {
		this.unhandled.push(`uncaught: ${error instanceof Error ? error.stack : String(error)}`);
	};
	private readonly onRejection = (error: unknown) => {
		this.unhandled.push(
			`unhandled rejection: ${error instanceof Error ? error.stack : String(error)}`,
		);
	};

	private constructor(
		private readonly swarm: Swarm,
		readonly target: Peer,
		private readonly seeder: Peer,
		/** Asks with valid tokens, and checks the answers. */
		private readonly client: Socket,
		/** Never echoes a token: must never get more than 3 times what it sent. */
		private readonly stranger: Socket,
		/** The hostile peer's four ports (receive, send, distribute, distributee). */
		private readonly sink: Socket[],
		private readonly options: Required<PeerFuzzerOptions>,
		private readonly expected: { entries: ListEntry[]; revision: number },
		private readonly small: { id: Buffer; bytes: Buffer },
	) {}

	/** Starts the seeder, the target and the sink, and the first download. */
	static async start(options: PeerFuzzerOptions = {}): Promise<PeerFuzzer> {
		const full: Required<PeerFuzzerOptions> = {
			downloadSize: options.downloadSize ?? 1024 * 1024,
			seederRate: options.seederRate ?? 256 * 1024,
			keepDownloading: options.keepDownloading ?? true,
			liars: options.liars ?? true,
		};
		const swarm = await Swarm.create();
		const seedShare = path.join(swarm.root, "seeder-share");
		fs.mkdirSync(seedShare, { recursive: true });
		const targetShare = path.join(swarm.root, "target-share");
		fs.mkdirSync(path.join(targetShare, "sub"), { recursive: true });
		fs.mkdirSync(path.join(targetShare, "empty"), { recursive: true });
		const small = randomBytes(3000);
		fs.writeFileSync(path.join(targetShare, "hello.bin"), small);
		fs.writeFileSync(path.join(targetShare, "sub", "deep.txt"), "deep\n");
		const seeder = await swarm.add("seeder", seedShare, { maxUploadRate: full.seederRate });
		const target = await swarm.add("target", targetShare);
		const client = await Socket.open();
		const stranger = await Socket.open();
		const sinkBase = await freeBase();
		const sink: Socket[] = [];
		for (let i = 0; i < 4; i++) sink.push(await Socket.open(sinkBase + i));
		const shared = target.sharedFiles();
		const hello = shared.find((f) => f.name === "hello.bin");
		assert.ok(hello, "target shares hello.bin");
		const entries: ListEntry[] = [
			...shared.map((f) => ({
				fileId: Buffer.from(f.id, "hex"),
				size: f.size,
				contentHash: Buffer.from(f.contentHash, "hex"),
				name: f.name,
			})),
			folderEntry("empty"),
		].sort((a, b) => (a.name < b.name ? -1 : 1));
		const fuzzer = new PeerFuzzer(
			swarm,
			target,
			seeder,
			client,
			stranger,
			sink,
			full,
			{ entries, revision: 0 },
			{ id: Buffer.from(hello.id, "hex"), bytes: small },
		);
		sink[1].onMessage = (message, _bytes, port) => fuzzer.answerAsSink(message, port);
		// The honest list, as the target answers it before any fuzzing.
		const page = await fuzzer.ask(
			(token, requestId) => encodeMessage({ type: "listRequest", token, requestId, index: 0 }),
			(m) => m.type === "listPage",
		);
		assert.ok(page?.type === "listPage", "the target answers a list request");
		fuzzer.expected.revision = page.revision;
		fuzzer.checkList(page);
		process.on("uncaughtException", fuzzer.onUncaught);
		process.on("unhandledRejection", fuzzer.onRejection);
		await fuzzer.nextDownload();
		fuzzer.baseline = heapAfterGc();
		return fuzzer;
	}

	private get ports() {
		const self = this.target.self();
		return {
			discovery: this.target.options.discoveryPort,
			receive: self.ports.receive,
			send: self.ports.send,
			distribute: self.ports.distribute,
			distributee: self.ports.distributee,
		};
	}

	/** Writes a new file into the seeder's share and has the target download it. */
	private async nextDownload(): Promise<void> {
		const name = `big-${this.fileCounter++}.bin`;
		const bytes = randomBytes(this.options.downloadSize);
		fs.writeFileSync(path.join(this.seeder.options.shareDir, name), bytes);
		const file = await waitFor(
			() => this.target.files().find((f) => f.name === name && f.peers.length > 0),
			`the target to list ${name}`,
			20_000,
		);
		const target = path.join(this.target.options.downloadsDir, name);
		const promise = this.target.download(file.id).then(
			() => {
				if (!fs.readFileSync(target).equals(bytes))
					this.downloadFailure = `${name} differs from its source`;
				else this.stats.downloadsVerified++;
				this.download = undefined;
				if (this.options.keepDownloading && !this.closed)
					void this.nextDownload().catch((error) => {
						this.downloadFailure ??= `next download: ${String(error)}`;
					});
			},
			(error) => {
				this.downloadFailure = `${name} failed: ${String(error)}`;
				this.stats.downloadsFailed++;
				this.download = undefined;
				// Reported once by the next check; the long run goes on with a new download.
				if (this.options.keepDownloading && !this.closed)
					void this.nextDownload().catch((e) => {
						this.downloadFailure ??= `next download: ${String(e)}`;
					});
			},
		);
		this.download = { id: file.id, file: target, promise };
	}

	/** Waits for the download under way to finish (with the right bytes). */
	async finishDownload(timeoutMs = 60_000): Promise<void> {
		const current = this.download;
		if (current) {
			let timer: NodeJS.Timeout | undefined;
			await Promise.race([
				current.promise,
				new Promise((resolve) => {
					timer = setTimeout(resolve, timeoutMs);
				}),
			]);
			clearTimeout(timer);
		}
		if (this.downloadFailure) throw new FuzzBug(this.downloadFailure);
		check(!this.download || this.download !== current, "the download did not finish in time");
	}

	/** Sends a request from the client with its token (getting one first), waits for the answer. */
	private async ask(
		build: (token: Uint8Array, requestId: number) => Buffer,
		match: (m: Message) => boolean,
	): Promise<Message | null> {
		const port = this.ports.send;
		for (let attempt = 0; attempt < 8; attempt++) {
			const token = this.client.tokens.get(port) ?? Buffer.alloc(16);
			const requestId = (1 + Math.random() * 0xfffffff) | 0;
			const answer = this.client.next(
				(m) =>
					m.type === "retry" || (match(m) && ("requestId" in m ? m.requestId === requestId : true)),
				500,
			);
			this.client.send(build(token, requestId), port);
			const m = await answer;
			if (m && m.type !== "retry") return m;
		}
		return null;
	}

	private checkList(page: Message): void {
		check(page.type === "listPage", "a list request got no list page");
		check(page.revision === this.expected.revision, `revision ${page.revision}`);
		check(page.total === this.expected.entries.length && page.index === 0, "list total or index");
		const got = page.entries.map(describeEntry);
		const want = this.expected.entries.map(describeEntry);
		check(JSON.stringify(got) === JSON.stringify(want), `list ${JSON.stringify(got)}`);
	}

	/** The live checks: the target still answers a list and a block right; nothing leaked. */
	async verify(): Promise<void> {
		const page = await this.ask(
			(token, requestId) => encodeMessage({ type: "listRequest", token, requestId, index: 0 }),
			(m) => m.type === "listPage",
		);
		check(page, "the target stopped answering list requests");
		this.checkList(page);
		const length = this.small.bytes.length;
		const data = await this.ask(
			(token) =>
				encodeMessage({ type: "blockRequest", token, fileId: this.small.id, offset: 0, length }),
			(m) => m.type === "data" && m.offset === 0 && Buffer.from(m.fileId).equals(this.small.id),
		);
		check(data?.type === "data", "the target stopped answering block requests");
		check(Buffer.from(data.payload).equals(this.small.bytes), "a block came back wrong");
		const { sent, received } = this.stranger;
		if (received > 3 * sent) {
			this.stranger.sent = 0;
			this.stranger.received = 0;
			throw new FuzzBug(`an unvalidated address got ${received} bytes for ${sent}`);
		}
		// Each failure is reported once, so a long run goes on checking the rest.
		if (this.unhandled.length > this.unhandledReported) {
			const first = this.unhandled[this.unhandledReported];
			this.unhandledReported = this.unhandled.length;
			throw new FuzzBug(first);
		}
		const failure = this.downloadFailure;
		this.downloadFailure = undefined;
		if (failure) throw new FuzzBug(failure);
		check(this.target.peers().length <= MAX_PEERS + 1, `${this.target.peers().length} peers held`);
		this.stats.checks++;
	}

	/** Measures the heap after a full collection; fails past the bound. */
	checkMemory(): void {
		this.stats.heapGrowth = heapAfterGc() - this.baseline;
		check(
			this.stats.heapGrowth < HEAP_BOUND,
			`heap grew by ${(this.stats.heapGrowth / 1048576).toFixed(1)} MiB`,
		);
	}

	/**
	 * Plays one sequence decoded from `data` against the target, then verifies it.
	 * @throws FuzzBug when the target misbehaved
	 */
	async sequence(data: Uint8Array): Promise<void> {
		const p = new Params(data);
		this.sinkMode = p.u8() % 5;
		this.history = [];
		for (let n = 0; n < MAX_OPS && !p.done; n++) this.play(p);
		this.stats.sequences++;
		await this.verify();
		if (this.stats.sequences % 50 === 0) this.checkMemory();
	}

	private send(from: Socket, bytes: Uint8Array, port: number): void {
		this.stats.datagrams++;
		from.send(bytes, port);
		if (this.history.length < 64) this.history.push({ bytes: Buffer.from(bytes), port });
	}

	private fileId(p: Params): Buffer {
		const choice = p.u8() % 4;
		if (choice === 0) return this.small.id;
		if (choice === 1 && this.download) return Buffer.from(this.download.id, "hex");
		if (choice === 2) return Buffer.alloc(32);
		return p.bytes(32);
	}

	/**
	 * Who signs and which peer id it claims: a stranger's own id, the target's (which it
	 * must ignore) or a random one (forged: not the key's). Never the seeder's: nobody here
	 * can sign for it (test/unit/discovery.test.ts shows such forgeries dropped).
	 */
	private signer(p: Params): { identity: Identity; peerId: Buffer } {
		const choice = p.u8() % 16;
		const identity = STRANGERS[p.u8() % STRANGERS.length];
		// The target's id, which it must ignore (and which nobody else can sign for).
		if (choice === 0) return { identity, peerId: this.target.peerId };
		// A few fixed identities, signing for themselves, so leaves meet the announces before them.
		if (choice < 8) return { identity, peerId: identity.peerId };
		// Someone else's id: not the key's, dropped as forged.
		return { identity, peerId: p.bytes(16) };
	}

	/** A signed discovery message from one of the strangers' identities. */
	private signed(
		p: Params,
		body: { type: "leave" } | Omit<Announce, "peerId" | "publicKey" | "timestamp" | "signature">,
	): Buffer {
		const { identity, peerId } = this.signer(p);
		const timestamp = identity.nextTimestamp();
		return identity.sign({ ...body, peerId, publicKey: identity.publicKey, timestamp });
	}

	/** A requester and its token: the client with a good one, or the stranger with none. */
	private asker(p: Params): { socket: Socket; token: Buffer } {
		const good = p.u8() % 3 !== 0;
		if (good)
			return { socket: this.client, token: this.client.tokens.get(this.ports.send) ?? p.bytes(16) };
		return { socket: this.stranger, token: p.u8() % 2 === 0 ? Buffer.alloc(16) : p.bytes(16) };
	}

	/** A valid message of a random kind, for truncation and bit flips. */
	private anyMessage(p: Params): { bytes: Buffer; port: number } {
		const ports = this.ports;
		const token = this.client.tokens.get(ports.send) ?? Buffer.alloc(16);
		switch (p.u8() % 6) {
			case 0:
				return { bytes: this.announce(p), port: ports.discovery };
			case 1:
				return {
					bytes: encodeMessage({ type: "listRequest", token, requestId: p.u32(), index: p.u8() }),
					port: ports.send,
				};
			case 2:
				return { bytes: this.blockRequest(p, token), port: ports.send };
			case 3:
				return { bytes: this.interest(p), port: ports.distribute };
			case 4:
				return { bytes: this.push(p, "push"), port: ports.distributee };
			default:
				return {
					bytes: encodeMessage({
						type: "manifestRequest",
						token,
						requestId: p.u32(),
						fileId: this.fileId(p),
						offset: p.wild(0xffffffff),
					}),
					port: ports.send,
				};
		}
	}

	private announce(p: Params): Buffer {
		return this.signed(p, {
			type: "announce",
			// Always our sink: a forged peer must not send the target's requests anywhere else.
			basePort: this.sink[0].port,
			revision: p.u32(),
			fileCount: p.wild(0xffffffff),
			interval: Math.max(10, p.wild(0xffffffff)),
			name: p.pick(["sink", "\u001b[2J\u001b]0;pwned\u0007", "\u202eevil", "", "x".repeat(64)]),
		});
	}

	private blockRequest(p: Params, token: Uint8Array): Buffer {
		const message: BlockRequest = {
			type: "blockRequest",
			token,
			fileId: this.fileId(p),
			offset: p.wild(),
			length: Math.max(1, p.wild(61_440)),
		};
		return encodeMessage(message);
	}

	private push(p: Params, type: "push" | "data"): Buffer {
		const piece = 256 * 1024;
		const offset = p.u8() % 2 === 0 ? (p.u8() % 8) * piece + p.u8() * 1024 : p.wild();
		const payload = p.bytes(1 + (p.u16() % 1400));
		return encodeMessage({ type, fileId: this.fileId(p), offset, payload });
	}

	private interest(p: Params): Buffer {
		const pieces = Math.ceil(this.options.downloadSize / (256 * 1024));
		const pieceCount = p.u8() % 2 === 0 ? pieces : p.wild(0xffffffff);
		const mapBytes = Math.ceil(pieceCount / 8);
		const first = Math.min(mapBytes, p.u8() % 4);
		const have = p.bytes(Math.min(1024, Math.max(0, mapBytes - first), p.u8() % 8));
		// Sometimes the token the distribute port gave the stranger, else a forged one.
		const token =
			p.u8() % 2 === 0
				? (this.stranger.tokens.get(this.ports.distribute) ?? Buffer.alloc(16))
				: Buffer.from(p.bytes(16));
		return encodeMessage({
			type: "interest",
			token,
			peerId: this.signer(p).peerId,
			fileId: this.fileId(p),
			pieceCount,
			done: p.u8() % 4 === 0,
			firstPiece: first * 8,
			have,
		});
	}

	private play(p: Params): void {
		const ports = this.ports;
		const op = p.u8() % OP_COUNT;
		switch (op) {
			case Op.announce:
				this.send(this.stranger, this.announce(p), ports.discovery);
				return;
			case Op.leave:
				this.send(this.stranger, this.signed(p, { type: "leave" }), ports.discovery);
				return;
			case Op.listRequest: {
				const { socket, token } = this.asker(p);
				const index = p.wild(0xffffffff);
				this.send(
					socket,
					encodeMessage({ type: "listRequest", token, requestId: p.u32(), index }),
					ports.send,
				);
				return;
			}
			case Op.listDeltaRequest: {
				const { socket, token } = this.asker(p);
				const m = {
					type: "listDeltaRequest" as const,
					token,
					requestId: p.u32(),
					since: p.wild(0xffffffff),
				};
				this.send(socket, encodeMessage({ ...m, index: p.wild(0xffffffff) }), ports.send);
				return;
			}
			case Op.manifestRequest: {
				const { socket, token } = this.asker(p);
				const m = {
					type: "manifestRequest" as const,
					token,
					requestId: p.u32(),
					fileId: this.fileId(p),
				};
				this.send(socket, encodeMessage({ ...m, offset: p.wild(0xffffffff) }), ports.send);
				return;
			}
			case Op.blockRequest: {
				const { socket, token } = this.asker(p);
				this.send(socket, this.blockRequest(p, token), ports.send);
				return;
			}
			case Op.push:
				this.send(this.stranger, this.push(p, "push"), ports.distributee);
				return;
			case Op.interest:
				this.send(this.stranger, this.interest(p), ports.distribute);
				return;
			case Op.data:
				this.send(this.stranger, this.push(p, "data"), ports.receive);
				return;
			case Op.retry:
				this.send(
					this.stranger,
					encodeMessage({ type: "retry", requestId: p.wild(0xffffffff), token: p.bytes(16) }),
					ports.receive,
				);
				return;
			case Op.error: {
				const m = {
					type: "error" as const,
					code: p.u8() % 4,
					fileId: this.fileId(p),
					ref: p.wild(),
				};
				this.send(this.stranger, encodeMessage(m), ports.receive);
				return;
			}
			case Op.reply:
				// Answers nobody asked of us, with guessable request ids.
				this.send(this.stranger, this.hostileReply(p, p.u8() % 16), ports.receive);
				return;
			case Op.garbage:
				this.send(
					this.stranger,
					p.bytes(p.u8() % 2 === 0 ? p.u8() : p.u16() % 2048),
					p.pick(Object.values(ports)),
				);
				return;
			case Op.truncated: {
				const { bytes, port } = this.anyMessage(p);
				this.send(this.stranger, bytes.subarray(0, p.u16() % bytes.length), port);
				return;
			}
			case Op.replay: {
				if (this.history.length === 0) return;
				const { bytes, port } = p.pick(this.history);
				this.send(p.u8() % 2 === 0 ? this.client : this.stranger, bytes, port);
				return;
			}
			case Op.flipped: {
				const { bytes, port } = this.anyMessage(p);
				const out = Buffer.from(bytes);
				for (let k = 1 + (p.u8() % 4); k > 0; k--) out[p.u16() % out.length] ^= 1 << (p.u8() % 8);
				this.send(this.stranger, out, port);
				return;
			}
			case Op.fetchFromSink: {
				// Have the target fetch a file only the sink lists: its manifest comes from a liar.
				const running = this.download?.id;
				const sinkFile = this.target
					.files()
					.find((f) => f.name.startsWith("sink-") && f.id !== running);
				if (sinkFile) void this.target.download(sinkFile.id).catch(() => {});
				return;
			}
		}
	}

	/** A reply as the sink sends it (lies per the mode), or as a forged unsolicited one. */
	private hostileReply(p: Params | undefined, requestId: number, asked?: Message): Buffer {
		const pick = (n: number) => (p ? p.u8() % n : Math.floor(Math.random() * n));
		const fileId = asked && "fileId" in asked ? asked.fileId : new Uint8Array(32).fill(9);
		const download =
			this.download && this.options.liars ? Buffer.from(this.download.id, "hex") : randomBytes(32);
		const entries: ListEntry[] = [
			{
				fileId: randomBytes(32),
				size: 2 ** 50,
				contentHash: randomBytes(32),
				name: "sink-pebibyte.iso",
			},
			{
				fileId: download,
				size: this.options.downloadSize,
				contentHash: randomBytes(32),
				name: "sink-copy.bin",
			},
			{ fileId: randomBytes(32), size: 1, contentHash: randomBytes(32), name: "../../escape.txt" },
			{
				fileId: randomBytes(32),
				size: 1,
				contentHash: randomBytes(32),
				name: "\u001b[31mred\u001b[0m",
			},
		];
		switch (asked?.type ?? ["listPage", "listDelta", "manifestChunk", "data"][pick(4)]) {
			case "listRequest":
			case "listPage": {
				const million = this.sinkMode === SinkMode.million;
				const index = asked?.type === "listRequest" ? Math.min(asked.index, entries.length) : 0;
				return encodeMessage({
					type: "listPage",
					requestId,
					revision: 7,
					total: million ? 1_000_000 : entries.length,
					index,
					entries: million ? [] : entries.slice(index),
				});
			}
			case "listDeltaRequest":
			case "listDelta":
				return encodeMessage({
					type: "listDelta",
					requestId,
					status: 0,
					since: asked?.type === "listDeltaRequest" ? asked.since : 1,
					revision: 8,
					total: 1_000_000,
					index: 0,
					changes: [{ removed: false, entry: entries[0] }],
				});
			case "manifestRequest":
			case "manifestChunk": {
				const offset = asked?.type === "manifestRequest" ? asked.offset : 0;
				const chunk = encodeMessage({
					type: "manifestChunk",
					requestId,
					fileId,
					total: 2_097_201,
					offset,
					bytes: randomBytes(this.sinkMode === SinkMode.tinyChunks ? 1 : 1000),
				});
				// Claim 4 GiB: the decoder must drop it.
				if (pick(2) === 0) chunk.writeUInt32BE(0xffffffff, 40);
				return chunk;
			}
			default: {
				const offset = asked?.type === "blockRequest" ? asked.offset : pick(8) * 256 * 1024;
				const length = asked?.type === "blockRequest" ? asked.length : 1 + pick(1400);
				// Corrupt blocks of the asked length (sometimes one byte short).
				const payload = randomBytes(Math.max(1, length - pick(2)));
				return encodeMessage({ type: "data", fileId, offset, payload });
			}
		}
	}

	/** The sink's send port: answers the target's requests with lies. */
	private answerAsSink(message: Message | null, port: number): void {
		this.stats.sinkRequests++;
		if (!message || this.sinkMode === SinkMode.silent || this.closed) return;
		const sendPort = this.sink[1];
		if (this.sinkMode === SinkMode.garbage) {
			sendPort.send(randomBytes(1 + Math.floor(Math.random() * 200)), port);
			return;
		}
		const requestId = "requestId" in message ? message.requestId : 0;
		if (message.type === "blockRequest" && !this.options.liars) return;
		if (message.type === "blockRequest" && message.length + DATA_OVERHEAD > 65_000) return;
		if (
			message.type === "listRequest" ||
			message.type === "listDeltaRequest" ||
			message.type === "manifestRequest" ||
			message.type === "blockRequest"
		)
			sendPort.send(this.hostileReply(undefined, requestId, message), port);
	}

	/** Stops everything; the peers' folders are removed. */
	async close(): Promise<void> {
		if (this.closed) return;
		this.closed = true;
		process.off("uncaughtException", this.onUncaught);
		process.off("unhandledRejection", this.onRejection);
		await Promise.all([this.client, this.stranger, ...this.sink].map((s) => s.close()));
		await this.swarm.close();
	}
}

function describeEntry(e: ListEntry): string {
	return `${Buffer.from(e.fileId).toString("hex")}:${e.size}:${Buffer.from(e.contentHash).toString("hex")}:${e.name}`;
}

let gc: (() => void) | undefined;
/** Used heap and buffers after a full collection, in bytes. */
function heapAfterGc(): number {
	if (!gc) {
		v8.setFlagsFromString("--expose-gc");
		gc = runInNewContext("gc") as () => void;
	}
	gc();
	gc();
	const h = v8.getHeapStatistics();
	return h.used_heap_size + h.external_memory;
}

/** Seeds for the peer target: a few hand-written sequences, one per sink mode and theme. */
export function sequenceSeeds(): Record<string, Buffer> {
	const seq = (mode: number, ...ops: number[][]) => Buffer.from([mode, ...ops.flat()]);
	const wild = [0, 0xff, 0xff, 0xff, 0xff];
	return {
		"announce-then-leave": seq(
			SinkMode.liar,
			[Op.announce, 2, 5, 0, 0, 0, 9, 0, 0],
			[Op.leave, 2, 5],
		),
		"million-list": seq(SinkMode.million, [Op.announce, 2, 6, 0, 0, 0, 1, 0, 0]),
		"tiny-manifest-chunks": seq(
			SinkMode.tinyChunks,
			[Op.announce, 2, 7, 0, 0, 0, 1, 0, 0],
			[Op.fetchFromSink],
		),
		"wild-blocks": seq(
			SinkMode.silent,
			[Op.blockRequest, 1, 0, ...wild, 0, 9],
			[Op.blockRequest, 0, 1, ...wild, 3],
		),
		"pushes-and-interest": seq(
			SinkMode.silent,
			[Op.push, 0, 3, 7, 0, 10, 1],
			[Op.interest, 0, 0, 1, 0, 0, 0, 0, 1],
			[Op.interest, 1, 0xff, 0xff, 0xff, 0xff, 0xff, 0, 3],
		),
		"garbage-everywhere": seq(
			SinkMode.garbage,
			[Op.garbage, 0, 40, 1, 2, 3],
			[Op.garbage, 1, 4, 0, 9],
		),
		"truncated-and-flipped": seq(
			SinkMode.liar,
			[Op.truncated, 2, 0, 1, 0, 0, 5],
			[Op.flipped, 3, 0, 2, 0, 17, 3],
		),
		replays: seq(
			SinkMode.liar,
			[Op.listRequest, 1, 1, 0, 0, 0, 0, 1],
			[Op.replay, 0, 0],
			[Op.replay, 0, 1],
		),
		"forged-replies": seq(
			SinkMode.silent,
			[Op.reply, 0, 1],
			[Op.reply, 1, 2],
			[Op.error, 1, 1, 0, 0],
			[Op.retry, 0, 1],
		),
	};
}
