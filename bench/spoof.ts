/**
 * Spoofing benchmark (`npm run bench:spoof`): can a peer be used to flood someone else, and
 * does a flooder get banned? Needs root (raw sockets) and python3.
 *
 * Starts two real peers in this process on loopback: a seeder sharing a random file at a
 * capped upload rate, and a target downloading it (so its distribute port has pieces to
 * push and a download to answer interests for). Then bench/spoof.py sends the target
 * `--requests` datagrams (100,000 by default) with forged source addresses spread over
 * 127.0.0.0/8: a broadcast announce from each forged address (a forged peer), then block,
 * list, list-delta and manifest requests without a token, with forged tokens and with a
 * real token issued to another address, interests in the file being fetched, forged
 * Retries, junk data and pushes; and in the middle one address floods token-less block
 * requests. It counts every byte that comes back to each forged address.
 *
 * Reports, per forged (never validated) address, bytes sent back by the peers over bytes
 * received from it: the largest must be at most 3.0 (RFC 9000 section 8's limit), and the
 * flooder must be banned. The honest download must still complete, byte for byte.
 * Writes JSON to bench/results/spoof.json (spoof-<N>.json for another request count).
 *
 * Usage: npm run bench:spoof -- [--requests N] [--addresses N] [--flood N] [--seed N]
 * Exit code 1 when a check fails. Every address is loopback (127.0.0.0/8 and
 * 127.255.255.255).
 */
import { spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import dgram from "node:dgram";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { Peer } from "../source/peer/peer.js";
import { Identity } from "../source/protocol/identity.js";
import { decodeMessage, encodeMessage } from "../source/protocol/messages.js";
import { AMPLIFICATION_FACTOR } from "../source/transfer/guard.js";
import { freeBase, freeUdpPort, machineInfo } from "./process.js";

const here = path.dirname(fileURLToPath(import.meta.url));
/** The raw-socket half, in the source tree (dist/bench/ -> bench/). */
const SPOOF_PY = path.resolve(here, "..", "..", "bench", "spoof.py");
const RESULTS_DIR = path.resolve(here, "..", "..", "bench", "results");
const BROADCAST = "127.255.255.255";

/** What bench/spoof.py is given on stdin. */
export interface SpoofConfig {
	seed: number;
	requests: number;
	addresses: number;
	flood: number;
	discoveryPort: number;
	ports: { receive: number; send: number; distribute: number; distributee: number };
	/** First of four free ports: the forged source ports and the forged peers' base port. */
	countPort: number;
	fileId: string;
	pieceCount: number;
	realToken: string;
	realTokenAddress: string;
	settleSeconds: number;
	/** Datagrams sent per millisecond, but for the flood (sent as one burst). */
	pacePerMs: number;
	/**
	 * One signed announce per forged address (hex), each by an identity of its own with
	 * base port `countPort`: announces are signed, and python has no Ed25519 of its own.
	 */
	announces: string[];
}

/** What bench/spoof.py prints. */
interface SpoofOutput {
	datagrams: number;
	sendSeconds: number;
	flooder: string;
	addresses: Record<string, { sent: number; received: number }>;
	repliesCounted: number;
	counterDrops: number;
}

/** Options of {@link runSpoof}. */
export interface SpoofOptions {
	/** Forged datagrams in all (the flood included). */
	requests: number;
	/** Distinct forged addresses (besides the flooder). */
	addresses: number;
	/** Token-less block requests from the one flooding address. */
	flood: number;
	seed?: number;
	/** Seconds to keep counting after the last datagram (the peers' retries). */
	settleSeconds?: number;
	/** Spread datagrams sent per millisecond (default 20); the flood is one burst. */
	pacePerMs?: number;
}

/** The outcome of a run. */
export interface SpoofResult {
	datagrams: number;
	sendSeconds: number;
	addresses: number;
	/** Largest bytes-back / bytes-sent over the forged addresses. */
	maxRatio: number;
	/** The address with that ratio, and its bytes. */
	worst: { address: string; sent: number; received: number };
	/** Over every forged address: bytes sent back / bytes they sent. */
	totalRatio: number;
	bytesForged: number;
	bytesBack: number;
	flooder: { address: string; sent: number; received: number };
	/** Bans the target gave, and its drops. */
	target: Record<string, number>;
	seeder: Record<string, number>;
	/** The honest download completed with the seeder's bytes. */
	downloadOk: boolean;
	counterDrops: number;
}

/**
 * Runs the harness once.
 * @throws Error when the python half fails (not root, no python3) or the swarm does not start
 */
export async function runSpoof(options: SpoofOptions): Promise<SpoofResult> {
	const root = fs.mkdtempSync(path.join(os.tmpdir(), "p2p-tui-spoof-"));
	const peers: Peer[] = [];
	try {
		const share = path.join(root, "seeder-share");
		fs.mkdirSync(share);
		const content = randomBytes(12 * 1024 * 1024);
		fs.writeFileSync(path.join(share, "payload.bin"), content);
		const discoveryPort = await freeUdpPort();
		const start = async (name: string, shareDir: string, maxUploadRate?: number) => {
			const peer = await Peer.start({
				name,
				shareDir,
				downloadsDir: path.join(root, `${name}-downloads`),
				basePort: await freeBase(),
				discoveryPort,
				broadcast: [BROADCAST],
				interval: 500,
				maxUploadRate,
			});
			peers.push(peer);
			await peer.indexed();
			return peer;
		};
		// Slow enough that the download is still under way during the whole attack.
		const seeder = await start("seeder", share, 1024 * 1024);
		const targetShare = path.join(root, "target-share");
		fs.mkdirSync(targetShare);
		const target = await start("target", targetShare);
		const file = await until(() => target.files().find((f) => f.name === "payload.bin"), 15_000);
		const downloading = target.download(file.id);
		downloading.catch(() => {});
		const download = await until(() => {
			const d = target.downloadOf(file.id);
			return d?.status === "downloading" ? d : undefined;
		}, 15_000);

		const ports = target.self().ports;
		const realToken = await tokenFrom(ports.send);
		const countPort = await freeBase();
		const config: SpoofConfig = {
			seed: options.seed ?? 6,
			requests: options.requests,
			addresses: options.addresses,
			flood: options.flood,
			discoveryPort,
			ports,
			countPort,
			fileId: file.id,
			pieceCount: download.pieceCount,
			realToken: Buffer.from(realToken).toString("hex"),
			realTokenAddress: "127.0.0.1",
			settleSeconds: options.settleSeconds ?? 7,
			pacePerMs: options.pacePerMs ?? 20,
			announces: Array.from({ length: options.addresses }, () =>
				Identity.generate(true)
					.announce({
						basePort: countPort,
						revision: 1,
						fileCount: 1,
						interval: 1000,
						name: "spoof",
					})
					.toString("hex"),
			),
		};
		const out = await runPython(config);
		if (out.counterDrops > 0)
			throw new Error(`the counting sockets dropped ${out.counterDrops} datagrams: not a measure`);

		let maxRatio = 0;
		let worst = { address: "", sent: 0, received: 0 };
		let bytesForged = 0;
		let bytesBack = 0;
		for (const [address, c] of Object.entries(out.addresses)) {
			bytesForged += c.sent;
			bytesBack += c.received;
			// An address that sent nothing and got something would be an infinite ratio.
			const ratio =
				c.sent === 0 ? (c.received === 0 ? 0 : Number.POSITIVE_INFINITY) : c.received / c.sent;
			if (ratio > maxRatio) {
				maxRatio = ratio;
				worst = { address, ...c };
			}
		}
		const flood = out.addresses[out.flooder] ?? { sent: 0, received: 0 };
		const stats = (peer: Peer) => {
			const s = peer.transferStats();
			return {
				bans: s.bans,
				bannedSources: s.bannedSources,
				bannedDrops: s.bannedDrops,
				rateLimited: s.rateLimited,
				badDatagrams: s.badDatagrams,
				amplificationDrops: s.amplificationDrops,
				validated: s.validated,
				retries: s.retries,
				interestRetries: s.interestRetries,
				malformed: peer.malformed,
				pushed: s.pushed,
			};
		};
		const targetStats = stats(target);
		const seederStats = stats(seeder);
		const done = await Promise.race([
			downloading.then((state) => state.path),
			new Promise<undefined>((resolve) => {
				setTimeout(() => resolve(undefined), 60_000).unref();
			}),
		]).catch(() => undefined);
		const downloadOk = done !== undefined && fs.readFileSync(done).equals(content);
		return {
			datagrams: out.datagrams,
			sendSeconds: out.sendSeconds,
			addresses: Object.keys(out.addresses).length,
			maxRatio,
			worst,
			totalRatio: bytesForged === 0 ? 0 : bytesBack / bytesForged,
			bytesForged,
			bytesBack,
			flooder: { address: out.flooder, ...flood },
			target: targetStats,
			seeder: seederStats,
			downloadOk,
			counterDrops: out.counterDrops,
		};
	} finally {
		await Promise.all(peers.map((p) => p.stop()));
		fs.rmSync(root, { recursive: true, force: true });
	}
}

/** Polls until `get` returns something, or throws after `ms`. */
async function until<T>(get: () => T | undefined, ms: number): Promise<T> {
	const deadline = Date.now() + ms;
	for (;;) {
		const value = get();
		if (value !== undefined) return value;
		if (Date.now() > deadline) throw new Error("the swarm did not get ready in time");
		await new Promise((resolve) => setTimeout(resolve, 20));
	}
}

/** A real token from the target's send port, issued to a socket on 127.0.0.1. */
async function tokenFrom(sendPort: number): Promise<Uint8Array> {
	const socket = dgram.createSocket("udp4");
	await new Promise<void>((resolve) => socket.bind(0, "127.0.0.1", resolve));
	try {
		const token = new Promise<Uint8Array>((resolve) =>
			socket.on("message", (m) => {
				const message = decodeMessage(m);
				if (message?.type === "retry") resolve(Buffer.from(message.token));
			}),
		);
		socket.send(
			encodeMessage({ type: "listRequest", token: Buffer.alloc(16), requestId: 7, index: 0 }),
			sendPort,
			"127.0.0.1",
		);
		return await token;
	} finally {
		socket.close();
	}
}

function runPython(config: SpoofConfig): Promise<SpoofOutput> {
	return new Promise((resolve, reject) => {
		const child = spawn("python3", [SPOOF_PY], { stdio: ["pipe", "pipe", "pipe"] });
		let stdout = "";
		let stderr = "";
		child.stdout.on("data", (d) => {
			stdout += d;
		});
		child.stderr.on("data", (d) => {
			stderr += d;
		});
		child.on("error", (error) => reject(new Error(`cannot run python3: ${error.message}`)));
		child.on("close", (code) => {
			if (code !== 0) {
				reject(new Error(`spoof.py exited with ${code}: ${stderr.trim().split("\n").pop()}`));
				return;
			}
			try {
				resolve(JSON.parse(stdout) as SpoofOutput);
			} catch {
				reject(new Error("spoof.py printed no result"));
			}
		});
		child.stdin.end(JSON.stringify(config));
	});
}

/**
 * True when the checks pass: the three-times limit held, no forged address was validated
 * (only 127.0.0.1, the seeder's), the flooder was banned and the download completed.
 */
export function spoofPassed(r: SpoofResult): boolean {
	return (
		r.maxRatio <= AMPLIFICATION_FACTOR &&
		r.target.validated <= 1 &&
		r.target.bans >= 1 &&
		r.downloadOk
	);
}

async function main(): Promise<void> {
	const { values } = parseArgs({
		options: {
			requests: { type: "string", default: "100000" },
			addresses: { type: "string" },
			flood: { type: "string" },
			seed: { type: "string", default: "6" },
		},
		strict: false,
	});
	const number = (name: string, value: unknown, min: number): number => {
		const n = Number(value);
		if (!Number.isSafeInteger(n) || n < min) {
			console.error(`bench:spoof: expected --${name} to be a whole number of at least ${min}`);
			process.exit(2);
		}
		return n;
	};
	const requests = number("requests", values.requests, 100);
	const addresses = number(
		"addresses",
		values.addresses ?? Math.max(50, Math.round(requests / 20)),
		1,
	);
	const flood = number("flood", values.flood ?? Math.max(3_000, Math.round(requests / 10)), 0);
	const load = os.loadavg()[0];
	console.log(
		`spoof: ${requests} forged datagrams from ${addresses} addresses of 127/8 (${flood} of them a flood from one)`,
	);
	let result: SpoofResult;
	try {
		result = await runSpoof({ requests, addresses, flood, seed: number("seed", values.seed, 0) });
	} catch (error) {
		console.error(`bench:spoof: ${(error as Error).message}`);
		process.exit(1);
	}
	const passed = spoofPassed(result);
	console.log(
		`sent ${result.datagrams} datagrams in ${result.sendSeconds.toFixed(2)} s from ${result.addresses} addresses`,
	);
	console.log(
		`bytes back / bytes forged, per unvalidated address: max ${result.maxRatio.toFixed(3)} (${result.worst.address}: ${result.worst.received} / ${result.worst.sent}), limit ${AMPLIFICATION_FACTOR.toFixed(1)}`,
	);
	console.log(
		`total: ${result.bytesBack} / ${result.bytesForged} bytes = ${result.totalRatio.toFixed(3)}`,
	);
	console.log(
		`flooder ${result.flooder.address}: ${result.flooder.received} bytes back for ${result.flooder.sent}; target: ${JSON.stringify(result.target)}`,
	);
	console.log(
		`honest download during the attack: ${result.downloadOk ? "complete, same bytes" : "FAILED"}`,
	);
	console.log(passed ? "PASS" : "FAIL");
	fs.mkdirSync(RESULTS_DIR, { recursive: true });
	const name = requests === 100_000 ? "spoof.json" : `spoof-${requests}.json`;
	const report = {
		date: new Date().toISOString(),
		machine: machineInfo(load),
		options: { requests, addresses, flood },
		passed,
		...result,
	};
	fs.writeFileSync(path.join(RESULTS_DIR, name), `${JSON.stringify(report, null, 2)}\n`);
	process.exitCode = passed ? 0 : 1;
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
	await main();
}
