/**
 * The commands: each a function of the headless core. Output goes to the given streams;
 * errors are thrown as UsageError / OperationError for the entry point to print.
 */
import path from "node:path";
import envPaths from "env-paths";
import { OperationError } from "../errors.js";
import { Peer, type PeerOptions } from "../peer/peer.js";
import type { IndexProgress, NetworkFile, PeerRecord } from "../peer/types.js";
import { printable } from "../ui/format.js";
import type { RunFlags } from "./args.js";
import type { Settings } from "./settings.js";

/** Where a command writes. */
export interface Output {
	out: (line: string) => void;
	err: (line: string) => void;
}

/** Peer options from settings and flags. */
export function peerOptions(settings: Settings, flags: RunFlags): PeerOptions {
	return {
		name: settings.name,
		shareDir: settings.shareDir,
		downloadsDir: settings.downloadsDir,
		basePort: settings.basePort || undefined,
		discoveryPort: settings.discoveryPort,
		broadcast: settings.broadcast,
		interval: settings.interval,
		maxUploadRate: flags.maxUp ? flags.maxUp * 1000 : undefined,
		dataDir: dataDir(flags),
	};
}

/**
 * The app's data folder (where the index cache lives): the `--config-dir` folder when one is
 * given (each instance keeps its own), else the platform's data folder for `p2p-tui`
 * (env-paths: `~/.local/share/p2p-tui` on Linux, `~/Library/Application Support/p2p-tui` on
 * macOS, `%LOCALAPPDATA%\p2p-tui\Data` on Windows).
 */
export function dataDir(flags: Pick<RunFlags, "configDir">): string {
	return flags.configDir ? path.resolve(flags.configDir) : envPaths("p2p-tui", { suffix: "" }).data;
}

/** How often `serve` prints indexing progress, in ms (plus once when it is done). */
const INDEX_PROGRESS_MS = 1_000;

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** The JSON shape of a peer in `peers --json`. */
function peerJson(p: PeerRecord) {
	return { id: p.id, name: p.name, address: p.address, ports: p.ports, files: p.files };
}

/** The JSON shape of a file in `list --json`. */
function fileJson(f: NetworkFile) {
	return {
		id: f.id,
		name: f.name,
		size: f.size,
		contentHash: f.contentHash,
		peers: f.peers.length,
	};
}

/**
 * `serve`: shares, serves and prints events until SIGINT/SIGTERM, then says goodbye; the
 * last event, `stopped`, carries `uploaded`, the payload bytes uploaded in this run.
 * @returns when the peer has stopped
 */
export async function serve(options: PeerOptions, json: boolean, io: Output): Promise<void> {
	const peer = await Peer.start(options);
	const emit = (event: string, fields: Record<string, unknown>, text: string) =>
		io.out(json ? JSON.stringify({ event, ...fields }) : printable(text));
	const self = peer.self();
	emit(
		"ready",
		{
			peer: self.id,
			name: self.name,
			ports: self.ports,
			shareDir: self.shareDir,
			files: self.sharedFiles,
		},
		`serving ${self.sharedFiles} files from ${self.shareDir} as ${self.name} (ports ${self.ports.receive}-${self.ports.distributee})`,
	);
	peer.on("peer-joined", (p) =>
		emit(
			"peer-joined",
			{ peer: p.id, name: p.name, address: p.address, ports: p.ports },
			`peer joined: ${p.name} ${p.address}`,
		),
	);
	peer.on("peer-left", (p, reason) =>
		emit("peer-left", { peer: p.id, name: p.name, reason }, `peer left: ${p.name} (${reason})`),
	);
	peer.on("library-changed", (files) =>
		emit("library-changed", { files }, `shared list changed: ${files} files`),
	);
	let lastProgress = 0;
	const indexProgress = (p: IndexProgress) => {
		if (!p.done && Date.now() - lastProgress < INDEX_PROGRESS_MS) return;
		lastProgress = Date.now();
		emit(
			"index-progress",
			{ ...p },
			p.done
				? `indexed ${p.filesDone} files (${p.bytesDone} bytes)`
				: `indexing: ${p.filesDone}/${p.filesTotal} files, ${p.bytesDone}/${p.bytesTotal} bytes`,
		);
	};
	peer.on("index-progress", indexProgress);
	indexProgress(peer.indexProgress());
	peer.on("download-complete", (t) =>
		emit(
			"download-complete",
			{ id: t.fileId, name: t.name, path: t.path, size: t.size },
			`download complete: ${t.path}`,
		),
	);
	peer.on("download-failed", (t) =>
		emit(
			"download-failed",
			{ id: t.fileId, name: t.name, error: t.error },
			`download failed: ${t.name}: ${t.error}`,
		),
	);
	await new Promise<void>((resolve) => {
		const stop = () => resolve();
		process.once("SIGINT", stop);
		process.once("SIGTERM", stop);
	});
	await peer.stop();
	const uploaded = peer.uploaded;
	emit("stopped", { peer: self.id, uploaded }, `stopped (uploaded ${uploaded} bytes)`);
}

/** Starts a peer, listens for `wait` ms and for the lists to arrive, runs `body`, stops. */
async function withPeer<T>(
	options: PeerOptions,
	wait: number,
	body: (peer: Peer) => Promise<T> | T,
): Promise<T> {
	const peer = await Peer.start(options);
	try {
		await sleep(wait);
		await Promise.race([peer.settled(), sleep(5_000)]);
		return await body(peer);
	} finally {
		await peer.stop();
	}
}

/** `peers`: the peers heard within `wait` ms. */
export async function peers(
	options: PeerOptions,
	wait: number,
	json: boolean,
	io: Output,
): Promise<void> {
	const list = await withPeer(options, wait, (peer) => peer.peers());
	if (json) io.out(JSON.stringify(list.map(peerJson)));
	else if (list.length === 0) io.out("no peers heard");
	else
		for (const p of list)
			io.out(`${printable(p.name)}\t${p.address}:${p.ports.receive}\t${p.files} files\t${p.id}`);
}

/** `list`: the files on the network. */
export async function list(
	options: PeerOptions,
	wait: number,
	json: boolean,
	io: Output,
): Promise<void> {
	const files = await withPeer(options, wait, (peer) => peer.files());
	if (json) io.out(JSON.stringify(files.map(fileJson)));
	else if (files.length === 0) io.out("no files on the network");
	else
		for (const f of files)
			io.out(`${f.id.slice(0, 16)}\t${f.size}\t${f.peers.length} peers\t${printable(f.name)}`);
}

/**
 * `get`: waits up to `wait` ms for a peer that shares the file, then downloads it. With
 * `json`, one object: the file (`id`, `name`, `path`, `size`, `contentHash`), `seconds`
 * of the download (from the manifest request to the verified file, without start-up and
 * discovery), `uploaded` payload bytes (pieces served to other leechers meanwhile),
 * where the bytes came from (`fromSeeders`, `fromDistribution`, `resumedBytes` already on
 * disk from an earlier run), `hashFailures`, the engine's counters (`engine`) and
 * `maxRss`, this process's peak resident set size in bytes.
 * @throws OperationError `NOT_FOUND` when no peer shares it in time, or the download's error
 */
export async function get(
	options: PeerOptions,
	query: string,
	wait: number,
	json: boolean,
	io: Output,
): Promise<void> {
	const peer = await Peer.start(options);
	try {
		const deadline = Date.now() + wait;
		let file = peer.findFile(query);
		while (!file && Date.now() < deadline) {
			await sleep(50);
			file = peer.findFile(query);
		}
		if (!file)
			throw new OperationError(
				`no peer shares ${JSON.stringify(query)} (waited ${wait} ms)`,
				"NOT_FOUND",
			);
		const started = Date.now();
		const result = await peer.download(file.id);
		const seconds = (Date.now() - started) / 1000;
		if (json) {
			const { name, path, size } = result;
			io.out(
				JSON.stringify({
					id: file.id,
					name,
					path,
					size,
					contentHash: file.contentHash,
					seconds,
					uploaded: peer.uploaded,
					fromSeeders: result.fromSeeders,
					fromDistribution: result.fromDistribution,
					resumedBytes: result.resumedBytes,
					hashFailures: result.hashFailures,
					engine: peer.transferStats(),
					maxRss: process.resourceUsage().maxRSS * 1024,
				}),
			);
		} else
			io.out(printable(`saved ${result.path} (${result.size} bytes in ${seconds.toFixed(2)} s)`));
	} finally {
		await peer.stop();
	}
}
