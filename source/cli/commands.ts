/**
 * The commands: each a function of the headless core. Output goes to the given streams;
 * errors are thrown as UsageError / OperationError for the entry point to print.
 */
import fs from "node:fs";
import path from "node:path";
import envPaths from "env-paths";
import { formatPeerAddress, parsePeerAddress } from "../discovery/peer-address.js";
import { OperationError, UsageError } from "../errors.js";
import { identityOf } from "../library/identity.js";
import { IndexCache } from "../library/index-cache.js";
import { hashFile, reason } from "../library/library.js";
import { ControlServer } from "../peer/control.js";
import { attachLog, LOG_FILE_NAME, type PeerLog } from "../peer/log.js";
import { type OfferPolicy, Peer, type PeerOptions } from "../peer/peer.js";
import type {
	IndexProgress,
	Limits,
	NetworkFile,
	PeerRecord,
	TransferState,
} from "../peer/types.js";
import { formatEndpoint } from "../protocol/address.js";
import { toHex } from "../protocol/hash.js";
import { decodeManifest, type Manifest, manifestId } from "../protocol/manifest.js";
import {
	decodeManifestFile,
	encodeManifestFile,
	fileLink,
	isManifestFileName,
	looksLikeManifestFile,
	MAX_MANIFEST_FILE_SIZE,
	type ManifestFile,
} from "../protocol/manifest-file.js";
import { jsonText, printable } from "../protocol/names.js";
import { waitingReason } from "../ui/waiting.js";
import type { RunFlags } from "./args.js";
import { IDENTITY_FILE, loadIdentity, peekIdentity } from "./identity-file.js";
import { handleSend, reportOffers } from "./offers.js";
import type { ProgressReport } from "./progress.js";
import {
	checkNetworkKey,
	type FolderSetting,
	limitsOf,
	readKeyFile,
	type Settings,
	settingsDir,
	settingsFile,
	storedSettings,
	storeFolder,
	storeLimits,
	storeNetworkKey,
	storePeer,
	watchSettings,
} from "./settings.js";
import { PieceStream, READ_CHUNK, StreamClosed } from "./stream.js";

/** Where a command writes. */
export interface Output {
	out: (line: string) => void;
	err: (line: string) => void;
	/**
	 * A terminal that `err` writes to, when it is one: `get` draws its progress bar there
	 * (else it writes plain progress lines with `err`).
	 */
	tty?: NodeJS.WritableStream;
}

/** Peer options from settings (with this run's flags applied) and flags. */
export function peerOptions(settings: Settings, flags: RunFlags): PeerOptions {
	const limits = limitsOf(settings);
	return {
		name: settings.name,
		shareDir: settings.shareDir,
		downloadsDir: settings.downloadsDir,
		basePort: settings.basePort || undefined,
		discoveryPort: settings.discoveryPort,
		broadcast: settings.broadcast,
		interval: settings.interval,
		maxUploadRate: limits.maxUp ?? undefined,
		maxDownloadRate: limits.maxDown ?? undefined,
		maxActive: limits.maxActive,
		dataDir: dataDir(flags),
		networkKey: networkKeyOf(settings, flags),
		identity: loadIdentity(settingsDir(flags.configDir)),
		seed: settings.seed,
		peers: settings.peers.map((p) => parsePeerAddress(p, settings.discoveryPort)),
	};
}

/**
 * The network key in force for a run: `--network-key-file` (read now), else `--network-key`
 * or the stored one (already merged into `settings` by `loadSettings`), else none.
 * @throws UsageError `BAD_NETWORK_KEY` for an unreadable, empty or too large key file
 */
export function networkKeyOf(
	settings: Pick<Settings, "networkKey">,
	flags: Pick<RunFlags, "networkKeyFile">,
): string | Buffer | undefined {
	if (flags.networkKeyFile !== undefined) return readKeyFile(flags.networkKeyFile);
	return settings.networkKey ? checkNetworkKey(settings.networkKey) : undefined;
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

/**
 * The log file: `--log FILE` when given; else `p2p-tui.log` in the `--config-dir` folder
 * when one is given (each instance keeps its own), else in the platform's state folder for
 * `p2p-tui` (env-paths: `~/.local/state/p2p-tui` on Linux, `~/Library/Logs/p2p-tui` on
 * macOS, `%LOCALAPPDATA%\p2p-tui\Log` on Windows).
 */
export function logFile(flags: Pick<RunFlags, "configDir" | "log">): string {
	if (flags.log) return path.resolve(flags.log);
	const dir = flags.configDir
		? path.resolve(flags.configDir)
		: envPaths("p2p-tui", { suffix: "" }).log;
	return path.join(dir, LOG_FILE_NAME);
}

/**
 * Writes the peer's notable events to `file` (see `attachLog`).
 * @returns a function that stops writing, with the attached `log` as a property; a no-op
 *   without `log`, after `onError` with a one-line reason, when the file cannot be written
 *   (the peer runs on without a log)
 */
export function startLog(
	peer: Peer,
	file: string | undefined,
	onError: (message: string) => void,
): (() => void) & { log?: PeerLog } {
	if (!file) return () => {};
	try {
		const log = attachLog(peer, file);
		return Object.assign(() => log.close(), { log });
	} catch (error) {
		onError(error instanceof Error ? error.message : String(error));
		return () => {};
	}
}

/**
 * Keeps the limits and the network key set in the TUI (`set-limits`, `set-network-key`) in
 * the settings: each `limits-changed` of the peer is stored with `storeLimits`, each
 * `network-key-changed` with `storeNetworkKey`.
 * @returns a function that stops
 */
export function keepLimits(
	peer: Peer,
	configDir: string | undefined,
	onError: (message: string) => void,
): () => void {
	const store = (limits: Limits) => {
		try {
			storeLimits(limits, configDir);
		} catch (error) {
			onError(error instanceof Error ? error.message : String(error));
		}
	};
	const storeKey = (secret: Buffer | undefined) => {
		try {
			storeNetworkKey(secret === undefined ? null : secret.toString("utf8"), configDir);
		} catch (error) {
			onError(error instanceof Error ? error.message : String(error));
		}
	};
	const storeNamed = (address: string) => {
		try {
			storePeer(address, false, configDir);
		} catch (error) {
			onError(error instanceof Error ? error.message : String(error));
		}
	};
	peer.on("limits-changed", store);
	peer.on("network-key-changed", storeKey);
	peer.on("peer-named", storeNamed);
	return () => {
		peer.off("limits-changed", store);
		peer.off("network-key-changed", storeKey);
		peer.off("peer-named", storeNamed);
	};
}

/** How often `serve` prints indexing progress, in ms (plus once when it is done). */
const INDEX_PROGRESS_MS = 1_000;

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** The JSON shape of a peer in `peers --json`. */
function peerJson(p: PeerRecord) {
	return {
		id: p.id,
		name: p.name,
		address: p.address,
		addresses: p.addresses,
		found: p.found,
		ports: p.ports,
		files: p.files,
	};
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
 * last event, `stopped`, carries `uploaded`, the payload bytes uploaded in this run, and
 * `engine`, the transfer engine's counters (rate limits, bans, amplification drops...).
 * @returns when the peer has stopped
 */
export async function serve(
	options: PeerOptions,
	json: boolean,
	io: Output,
	follow?: RunFlags,
	log?: string,
	offers?: OfferPolicy,
): Promise<void> {
	const peer = await Peer.start(options);
	if (offers) peer.setOfferPolicy(offers);
	const emit = (event: string, fields: Record<string, unknown>, text: string) =>
		io.out(json ? jsonText({ event, ...fields }) : printable(text));
	reportOffers(peer, emit);
	const stopLog = startLog(peer, log, (error) =>
		emit("log-error", { error }, `log not written: ${error}`),
	);
	const self = peer.self();
	emit(
		"ready",
		{
			peer: self.id,
			fingerprint: self.fingerprint,
			identity: self.ephemeral ? "ephemeral" : "lasting",
			name: self.name,
			ports: self.ports,
			shareDir: self.shareDir,
			files: self.sharedFiles,
		},
		`serving ${self.sharedFiles} files from ${self.shareDir} as ${self.name} (ports ${self.ports.receive}-${self.ports.distributee}; identity ${self.fingerprint}${self.ephemeral ? ", ephemeral: another instance holds this settings folder's" : ""})`,
	);
	peer.on("peer-joined", (p) =>
		emit(
			"peer-joined",
			{ peer: p.id, name: p.name, address: p.address, found: p.found, ports: p.ports },
			`peer joined: ${p.name} ${p.address}${p.found !== "lan" ? ` (${p.found})` : ""}`,
		),
	);
	peer.on("peer-left", (p, reason) =>
		emit("peer-left", { peer: p.id, name: p.name, reason }, `peer left: ${p.name} (${reason})`),
	);
	peer.on("library-changed", (files) =>
		emit("library-changed", { files }, `shared list changed: ${files} files`),
	);
	peer.on("folders-changed", (f) =>
		emit(
			"folders-changed",
			{ shareDir: f.shareDir, downloadsDir: f.downloadsDir },
			`folders changed: sharing ${f.shareDir}, downloads to ${f.downloadsDir}`,
		),
	);
	const stopControl = follow
		? await startControl(peer, follow.configDir, {
				listening: (file) =>
					emit("control-listening", { path: file }, `commands reach this peer at ${file}`),
				request: (type) => emit("control-request", { type }, `a command asked: ${type}`),
				error: (error) => emit("control-error", { error }, `no control socket: ${error}`),
			})
		: undefined;
	const unfollow = follow
		? followSettings(peer, follow, (error) =>
				emit("settings-error", { error }, `settings not applied: ${error}`),
			)
		: undefined;
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
	unfollow?.();
	await stopControl?.();
	await peer.stop();
	stopLog();
	const uploaded = peer.uploaded;
	const engine = peer.transferStats();
	const discovery = peer.discoveryStats();
	// With a network key: what did not open (strangers, alterations) and the replays.
	const seal = peer.keyed ? peer.sealStats() : undefined;
	const sealText = seal
		? `; ${seal.forged} datagrams that did not open, ${seal.replayed} replays dropped`
		: "";
	emit(
		"stopped",
		{ peer: self.id, uploaded, engine, discovery, ...(seal ? { seal } : {}) },
		`stopped (uploaded ${uploaded} bytes; ${engine.bans} bans, ${engine.rateLimited + engine.bannedDrops} datagrams dropped by rate limits, ${engine.amplificationDrops} by the amplification limit, ${discovery.forged} forged and ${discovery.stale} stale announces or leaves${sealText})`,
	);
}

/** What `startControl` reports. */
export interface ControlReport {
	/** Listening on this socket path. */
	listening?: (file: string) => void;
	/** A command's request arrived (its type). */
	request?: (type: string) => void;
	/** No socket (another peer holds it, the folder is not ours...), with the reason. */
	error?: (message: string) => void;
}

/**
 * Lets the commands drive this running peer: listens on the control socket of the settings
 * folder (see `ControlServer`). Failing to listen leaves the peer running without it.
 * @returns a function that closes the socket
 */
export async function startControl(
	peer: Peer,
	configDir: string | undefined,
	report: ControlReport = {},
): Promise<() => Promise<void>> {
	let server: ControlServer | undefined;
	try {
		server = await ControlServer.listen(peer, settingsDir(configDir));
	} catch (error) {
		report.error?.(error instanceof Error ? error.message : String(error));
		return async () => {};
	}
	if (!server) {
		report.error?.("another running peer answers commands for this settings folder");
		return async () => {};
	}
	const s = server;
	handleSend(s);
	report.listening?.(s.path);
	if (report.request) s.on("request", report.request);
	return () => s.close();
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
		// Unref'd: once the lists are in, this timer must not keep the process alive 5 s more.
		await Promise.race([
			peer.settled(),
			new Promise((resolve) => setTimeout(resolve, 5_000).unref()),
		]);
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
	printPeers(await withPeer(options, wait, (peer) => peer.peers()), json, io);
}

/** Prints `peers` output: one line a peer, or a JSON array with `json`. */
export function printPeers(list: PeerRecord[], json: boolean, io: Output): void {
	if (json) io.out(jsonText(list.map(peerJson)));
	else if (list.length === 0) io.out("no peers heard");
	else
		for (const p of list)
			io.out(
				`${printable(p.name)}\t${formatEndpoint(p.address, p.ports.receive)}\t${p.files} files\t${p.id}\t${p.found}`,
			);
}

/** `list`: the files on the network. */
export async function list(
	options: PeerOptions,
	wait: number,
	json: boolean,
	io: Output,
): Promise<void> {
	printFiles(await withPeer(options, wait, (peer) => peer.files()), json, io);
}

/** Prints `list` output: one line a file, or a JSON array with `json`. */
export function printFiles(files: NetworkFile[], json: boolean, io: Output): void {
	if (json) io.out(jsonText(files.map(fileJson)));
	else if (files.length === 0) io.out("no files on the network");
	else for (const f of files) io.out(fileLine(f));
}

/**
 * One file in plain `list` and `search` output: its short link (`p2p:` and the first 16
 * hex digits of the id, which `get` accepts), size in bytes, peer count and name.
 */
function fileLine(f: NetworkFile): string {
	return `${fileLink(f.id.slice(0, 16))}\t${f.size}\t${f.peers.length} peers\t${printable(f.name)}`;
}

/**
 * `get`: waits up to `wait` ms for a peer that shares the file, then downloads it. With
 * `json`, one object: the file (`id`, `name`, `path`, `size`, `contentHash`), `seconds`
 * of the download (from the manifest request to the verified file, without start-up and
 * discovery), `uploaded` payload bytes (pieces served to other leechers meanwhile),
 * where the bytes came from (`fromSeeders`, `fromDistribution`, `resumedBytes` already on
 * disk from an earlier run), `hashFailures`, the engine's counters (`engine`) and
 * `maxRss`, this process's peak resident set size in bytes.
 *
 * When the query names no file but a folder of the network (`a/b`, a trailing `/`
 * allowed), downloads the whole folder into `<downloads>/b` (see `Peer.downloadFolder`):
 * one line per file done, then a summary; with `json` one object: `folder` (its network
 * path), `target` (where it landed), `files`, `bytes`, `seconds`.
 * @throws OperationError `NOT_FOUND` when no peer shares it in time, `AMBIGUOUS` when
 *   several files have that name, or the download's error
 */
export async function get(
	options: PeerOptions,
	query: string,
	wait: number,
	json: boolean,
	io: Output,
	log?: string,
): Promise<void> {
	const p2pFile = manifestFileTarget(query);
	if (p2pFile) return getManifestFile(options, p2pFile, wait, json, io, log);
	const peer = await Peer.start(options);
	const stopLog = startLog(peer, log, (error) => io.err(`p2p-tui: log not written: ${error}`));
	try {
		const deadline = Date.now() + wait;
		const folderPath = query.replace(/\/+$/, "");
		const folderNamed = () => peer.folders().some((f) => f.path === folderPath);
		let file = peer.findFile(query);
		let folder = !file && folderNamed();
		while (!file && !folder && Date.now() < deadline) {
			await sleep(50);
			file = peer.findFile(query);
			folder = !file && folderNamed();
		}
		if (!file && folder) {
			// Every peer's list, so the folder is the union of what they all share under it. The
			// timer is cleared: a pending one would keep the process alive after the work.
			let timer: NodeJS.Timeout | undefined;
			await Promise.race([
				peer.settled(),
				new Promise((resolve) => {
					timer = setTimeout(resolve, 5_000);
				}),
			]);
			clearTimeout(timer);
			await getFolder(peer, folderPath, json, io);
			return;
		}
		if (!file)
			throw new OperationError(
				`no peer shares ${jsonText(query)} (waited ${wait} ms)`,
				"NOT_FOUND",
			);
		const started = Date.now();
		const result = await withProgress(peer, file.id, file.name, file.size, json, io, () =>
			peer.download(file.id, { name: file.name }),
		);
		const seconds = (Date.now() - started) / 1000;
		if (json) io.out(jsonText(downloadJson(peer, file.contentHash, result, seconds)));
		else
			io.out(printable(`saved ${result.path} (${result.size} bytes in ${seconds.toFixed(2)} s)`));
	} finally {
		await peer.stop();
		stopLog();
	}
}

/**
 * `get --stdout`: downloads a file in order (see `Download.prioritize`) and writes its bytes
 * to `out` as the pieces are verified, each read back from the partial file; progress goes
 * to `io.err`. The reader closing `out` (EPIPE) ends it quietly, with the download stopped.
 * @throws OperationError `NOT_FOUND`, `AMBIGUOUS`, or `FAILED` when the download fails
 *   (the stream stops where it was)
 */
export async function getStream(
	options: PeerOptions,
	query: string,
	wait: number,
	out: NodeJS.WritableStream,
	io: Output,
	log?: string,
): Promise<void> {
	const peer = await Peer.start(options);
	const stopLog = startLog(peer, log, (error) => io.err(`p2p-tui: log not written: ${error}`));
	try {
		const deadline = Date.now() + wait;
		let file = peer.findFile(query);
		while (!file && Date.now() < deadline) {
			await sleep(50);
			file = peer.findFile(query);
		}
		if (!file)
			throw new OperationError(
				`no peer shares ${jsonText(query)} (waited ${wait} ms)`,
				"NOT_FOUND",
			);
		const wanted = file;
		// The reader gone (EPIPE): stop downloading at once rather than finishing unread.
		let readerGone: () => void = () => {};
		const closed = new Promise<"closed">((resolve) => {
			readerGone = () => resolve("closed");
		});
		let stream: PieceStream | undefined;
		let finalPath: string | undefined;
		const attach = () => {
			const download = peer.downloadOf(wanted.id);
			if (stream || !download) return;
			download.prioritize(0);
			const state = download.state();
			stream = new PieceStream(
				out,
				{
					size: wanted.size,
					pieceSize: state.pieceSize ?? READ_CHUNK,
					has: (i) => (download.have[i >> 3] & (0x80 >> (i & 7))) !== 0,
					paths: () => [state.partialPath, download.finalPath ?? finalPath],
				},
				(next) => download.prioritize(next),
			);
			download.on("progress", () => stream?.poke());
			stream.done.catch((error: unknown) => {
				if (error instanceof StreamClosed) readerGone();
			});
			stream.poke();
		};
		const onStarted = (t: TransferState) => {
			if (t.fileId === wanted.id) attach();
		};
		peer.on("download-started", onStarted);
		let result: TransferState;
		try {
			const running = withProgress(peer, wanted.id, wanted.name, wanted.size, false, io, () =>
				peer.download(wanted.id),
			);
			attach();
			const first = await Promise.race([running, closed]);
			if (first === "closed") {
				running.catch(() => {});
				return;
			}
			result = first;
		} finally {
			peer.off("download-started", onStarted);
		}
		finalPath = result.path;
		if (!stream) {
			// Already in place (an identical file): the whole file is one read.
			stream = new PieceStream(out, {
				size: wanted.size,
				pieceSize: READ_CHUNK,
				has: () => true,
				paths: () => [finalPath],
			});
		}
		stream.poke();
		try {
			await stream.done;
		} catch (error) {
			if (error instanceof StreamClosed) return;
			throw new OperationError(`stream stopped: ${reason(error)}`, "FAILED");
		}
		io.err(printable(streamedLine(result)));
	} finally {
		await peer.stop();
		stopLog();
	}
}

/**
 * The last line of `get --stdout` (on stderr): where the file is kept, its size, and how
 * many pieces failed verification and were fetched again before the stream passed them.
 */
export function streamedLine(t: Pick<TransferState, "path" | "size" | "hashFailures">): string {
	const refetched =
		t.hashFailures > 0
			? `; ${t.hashFailures} ${t.hashFailures === 1 ? "piece" : "pieces"} failed verification and were fetched again`
			: "";
	return `streamed ${t.path} (${t.size} bytes${refetched})`;
}

/**
 * Runs a download while showing its progress (see `ProgressReport`): a bar on `io.tty`, or
 * plain lines with `io.err`; nothing with `json`. Progress comes from the download's events
 * and, when they pause (a stall), once a second.
 */
async function withProgress(
	peer: Peer,
	fileId: string,
	name: string,
	size: number,
	json: boolean,
	io: Output,
	run: () => Promise<TransferState>,
): Promise<TransferState> {
	if (json) return run();
	// Loaded here: a peer that never shows progress (`serve`) does not hold cli-progress.
	const { ProgressReport } = await import("./progress.js");
	const report = new ProgressReport(name, size, { tty: io.tty, line: io.err });
	// A download that does not move says why: queued, waiting for peers, for disk space.
	const reasonOf = (t: TransferState) => waitingReason(t, peer.limits().maxActive);
	const onProgress = (t: TransferState) => {
		if (t.fileId === fileId) report.update(t.bytesDone, t.speed, reasonOf(t));
	};
	peer.on("download-progress", onProgress);
	const timer = setInterval(() => {
		const t = peer.transfers().find((s) => s.fileId === fileId);
		if (t) report.update(t.bytesDone, t.speed, reasonOf(t));
	}, 1_000);
	try {
		const result = await run();
		report.end(true);
		return result;
	} catch (error) {
		report.end(false);
		throw error;
	} finally {
		clearInterval(timer);
		peer.off("download-progress", onProgress);
	}
}

/** The `get --json` object of a finished download (see `get`). */
function downloadJson(peer: Peer, contentHash: string, result: TransferState, seconds: number) {
	return {
		id: result.fileId,
		name: result.name,
		path: result.path,
		size: result.size,
		contentHash,
		seconds,
		uploaded: peer.uploaded,
		fromSeeders: result.fromSeeders,
		fromDistribution: result.fromDistribution,
		resumedBytes: result.resumedBytes,
		hashFailures: result.hashFailures,
		engine: peer.transferStats(),
		...(peer.keyed ? { seal: peer.sealStats() } : {}),
		maxRss: process.resourceUsage().maxRSS * 1024,
	};
}

/**
 * Whether `get`'s argument names a local `.p2p` file rather than a network file: an
 * existing regular file whose name ends in `.p2p` or whose bytes start with the `.p2p`
 * magic. A local file wins over a network file of the same name.
 * @returns the path to read, or undefined
 */
export function manifestFileTarget(query: string): string | undefined {
	try {
		if (!fs.statSync(query).isFile()) return undefined;
		if (query.toLowerCase().endsWith(".p2p")) return query;
		const head = Buffer.alloc(4);
		const fd = fs.openSync(query, "r");
		try {
			fs.readSync(fd, head, 0, head.length, 0);
		} finally {
			fs.closeSync(fd);
		}
		return looksLikeManifestFile(head) ? query : undefined;
	} catch {
		return undefined;
	}
}

/**
 * Reads and checks a `.p2p` file.
 * @throws UsageError `BAD_P2P_FILE` when it cannot be read, is too large or does not decode
 */
export function readManifestFile(file: string): ManifestFile {
	let bytes: Buffer;
	try {
		const size = fs.statSync(file).size;
		if (size > MAX_MANIFEST_FILE_SIZE)
			throw new UsageError(`${file} is not a .p2p file (too large)`, "BAD_P2P_FILE");
		bytes = fs.readFileSync(file);
	} catch (error) {
		if (error instanceof UsageError) throw error;
		throw new UsageError(`cannot read ${file}: ${reason(error)}`, "BAD_P2P_FILE");
	}
	const decoded = decodeManifestFile(bytes);
	if (!decoded)
		throw new UsageError(`${file} is not a valid .p2p file (damaged or not one)`, "BAD_P2P_FILE");
	return decoded;
}

/**
 * `get <file.p2p>`: waits up to `wait` ms for a peer that lists the file id of the `.p2p`
 * file, then downloads the file under the name it gives, every piece and the whole
 * content checked against its manifest (no manifest is fetched). Output as `get`.
 * @throws UsageError `BAD_P2P_FILE`; OperationError `NOT_FOUND` when no peer lists the id
 *   in time, or the download's error
 */
export async function getManifestFile(
	options: PeerOptions,
	file: string,
	wait: number,
	json: boolean,
	io: Output,
	log?: string,
): Promise<void> {
	const wanted = readManifestFile(file);
	const peer = await Peer.start(options);
	const stopLog = startLog(peer, log, (error) => io.err(`p2p-tui: log not written: ${error}`));
	try {
		const deadline = Date.now() + wait;
		const listed = () => peer.files().some((f) => f.id === wanted.id);
		while (!listed() && Date.now() < deadline) await sleep(50);
		if (!listed())
			throw new OperationError(
				`no peer shares ${printable(wanted.name)} (${fileLink(wanted.id)}) (waited ${wait} ms)`,
				"NOT_FOUND",
			);
		const started = Date.now();
		const result = await withProgress(
			peer,
			wanted.id,
			wanted.name,
			wanted.manifest.size,
			json,
			io,
			() => peer.downloadManifest(wanted.manifest, wanted.name),
		);
		const seconds = (Date.now() - started) / 1000;
		const contentHash = toHex(wanted.manifest.contentHash);
		if (json) io.out(jsonText(downloadJson(peer, contentHash, result, seconds)));
		else
			io.out(printable(`saved ${result.path} (${result.size} bytes in ${seconds.toFixed(2)} s)`));
	} finally {
		await peer.stop();
		stopLog();
	}
}

/**
 * `manifest <file> [-o out]`: hashes a local file and writes its `.p2p` file (name, size,
 * piece size, piece hashes, content BLAKE3; docs/protocol.md ".p2p file"). The output is
 * `<name>.p2p` in the current folder by default, or in `output` when that is a folder;
 * an existing file is never overwritten. Prints the file id and its `p2p:` link; with
 * `json`, one object `{path, id, link, name, size, pieceSize, pieces, contentHash}`.
 * A file a peer shares, unchanged since it was indexed, is not hashed again: its manifest
 * comes from the index cache of `data` (the `--config-dir` folder, else the app's data
 * folder), found by path and identity exactly as the library finds it.
 * @param data - the app's data folder whose index cache to read (never written)
 * @throws UsageError `NOT_A_FILE` (missing or not a regular file), `UNSAFE_NAME`,
 *   `OUTPUT_EXISTS`, `OUTPUT_UNWRITABLE`
 */
export async function manifest(
	file: string,
	output: string | undefined,
	json: boolean,
	io: Output,
	data?: string,
): Promise<void> {
	const source = path.resolve(file);
	let isFile = false;
	try {
		isFile = fs.statSync(source).isFile();
	} catch (error) {
		throw new UsageError(`cannot read ${source}: ${reason(error)}`, "NOT_A_FILE");
	}
	if (!isFile) throw new UsageError(`${source} is not a regular file`, "NOT_A_FILE");
	const name = path.basename(source);
	if (!isManifestFileName(name))
		throw new UsageError(`cannot describe a file named ${jsonText(name)}`, "UNSAFE_NAME");
	let target = path.resolve(output ?? `${name}.p2p`);
	if (output !== undefined && isDirectory(target)) target = path.join(target, `${name}.p2p`);
	const exists = () =>
		new UsageError(
			`${target} already exists; remove it or choose another with -o`,
			"OUTPUT_EXISTS",
		);
	if (fs.existsSync(target)) throw exists();
	let hashed: Pick<Awaited<ReturnType<typeof hashFile>>, "manifest" | "idBytes">;
	try {
		hashed = (await cachedManifest(source, data)) ?? (await hashFile(source));
	} catch (error) {
		throw new UsageError(`cannot read ${source}: ${reason(error)}`, "NOT_A_FILE");
	}
	const bytes = encodeManifestFile(name, hashed.manifest);
	try {
		// `wx`: never overwrite, even a file that appeared while hashing.
		fs.writeFileSync(target, bytes, { flag: "wx" });
	} catch (error) {
		if ((error as NodeJS.ErrnoException).code === "EEXIST") throw exists();
		throw new UsageError(`cannot write ${target}: ${reason(error)}`, "OUTPUT_UNWRITABLE");
	}
	const id = toHex(hashed.idBytes);
	const { size, pieceSize, pieceHashes, contentHash } = hashed.manifest;
	if (json) {
		io.out(
			jsonText({
				path: target,
				id,
				link: fileLink(id),
				name,
				size,
				pieceSize,
				pieces: pieceHashes.length,
				contentHash: toHex(contentHash),
			}),
		);
		return;
	}
	io.out(
		printable(
			`wrote ${target} (${name}: ${size} bytes, ${pieceHashes.length} ${pieceHashes.length === 1 ? "piece" : "pieces"} of ${pieceSize} bytes)`,
		),
	);
	io.out(`id    ${id}`);
	io.out(`link  ${fileLink(id)}`);
}

/**
 * The manifest of a file from the index cache of a data folder, when the cache holds one
 * for the file as it is now (same path, size, times and inode; see `IndexCache.lookup`).
 * @returns undefined when there is none (or no data folder, or no readable cache)
 */
async function cachedManifest(
	file: string,
	data: string | undefined,
): Promise<{ manifest: Manifest; idBytes: Buffer } | undefined> {
	if (!data) return undefined;
	const real = await fs.promises.realpath(file);
	const identity = identityOf(await fs.promises.stat(real, { bigint: true }));
	const cache = await IndexCache.load(data);
	// Keyed as the library found it: under the shared folder's path, or a link's target.
	const bytes = cache.lookup(file, identity) ?? cache.lookup(real, identity);
	const manifest = bytes ? decodeManifest(bytes) : null;
	if (!bytes || !manifest || manifest.size !== identity.size) return undefined;
	return { manifest, idBytes: Buffer.from(manifestId(bytes)) };
}

function isDirectory(p: string): boolean {
	try {
		return fs.statSync(p).isDirectory();
	} catch {
		return false;
	}
}

/** The JSON shape of a match in `search --json`. */
function matchJson(f: NetworkFile, score: number) {
	return { ...fileJson(f), score };
}

/**
 * `search <query>`: listens `wait` ms like `list`, then prints the network's files that
 * match `query` fuzzily (typos allowed), best first: `p2p:` link, size, peer count and
 * name a line; with `json` an array of `{id, name, size, contentHash, peers, score}` (score
 * 0 is a perfect match, 1 none). No match prints so (or `[]`) and is not an error.
 */
export async function search(
	options: PeerOptions,
	query: string,
	wait: number,
	json: boolean,
	io: Output,
): Promise<void> {
	const files = await withPeer(options, wait, (peer) => peer.files());
	const { fuzzySearch } = await import("../search/fuzzy.js");
	const matches = fuzzySearch(query, files, (f) => f.name);
	printMatches(query, matches, files.length, json, io);
}

/** Prints `search` output: best match first, or a JSON array with `json`. */
export function printMatches(
	query: string,
	matches: { item: NetworkFile; score: number }[],
	total: number,
	json: boolean,
	io: Output,
): void {
	if (json) io.out(jsonText(matches.map((m) => matchJson(m.item, m.score))));
	else if (matches.length === 0)
		io.out(printable(`no match for ${jsonText(query)} among ${total} files on the network`));
	else for (const m of matches) io.out(fileLine(m.item));
}

/**
 * `share <dir>` and `download-to <dir>`: stores the folder in the settings (see
 * `storeFolder`); a running peer that follows the settings switches to it.
 * @throws UsageError `FOLDERS_NESTED`, `FOLDER_UNUSABLE`, `SETTINGS`
 */
export function setFolder(
	key: FolderSetting,
	dir: string,
	configDir: string | undefined,
	io: Output,
): void {
	const { folder, file } = storeFolder(key, dir, configDir);
	io.out(
		printable(
			key === "shareDir"
				? `sharing ${folder} (saved in ${file}; a running peer re-indexes it)`
				: `downloads go to ${folder} (saved in ${file}; a running peer follows)`,
		),
	);
}

/**
 * `config`: every stored setting and the settings file's path; with `json`, one object
 * `{file, settings: {name, shareDir, downloadsDir, basePort, discoveryPort, broadcast,
 * interval, maxDown, maxUp, maxActive, networkKey, seed}}` (rates in KB/s, 0 for none; the network
 * key is never shown: `"(set)"` or `""`).
 * @throws UsageError `SETTINGS`
 */
export function config(configDir: string | undefined, json: boolean, io: Output): void {
	const file = settingsFile(configDir);
	const s = storedSettings(configDir);
	const settings: Settings = {
		name: s.name,
		shareDir: s.shareDir,
		downloadsDir: s.downloadsDir,
		basePort: s.basePort,
		discoveryPort: s.discoveryPort,
		broadcast: s.broadcast,
		interval: s.interval,
		maxDown: s.maxDown,
		maxUp: s.maxUp,
		maxActive: s.maxActive,
		// Never shown: only whether one is set.
		networkKey: s.networkKey ? "(set)" : "",
		seed: s.seed !== false,
		trusted: Array.isArray(s.trusted) ? s.trusted : [],
		peers: Array.isArray(s.peers) ? s.peers : [],
	};
	const keyFile = path.join(path.dirname(file), IDENTITY_FILE);
	const identity = peekIdentity(path.dirname(file));
	if (json) {
		const id = identity
			? { file: keyFile, id: identity.id, fingerprint: identity.fingerprint }
			: null;
		io.out(jsonText({ file, settings, identity: id }));
		return;
	}
	const rows: [string, string][] = [
		["settings file", file],
		[
			"identity",
			identity
				? `${identity.fingerprint} (peer id ${identity.id}, key ${keyFile})`
				: "none yet (made on the first run of a peer)",
		],
		["name", settings.name],
		["shared folder", settings.shareDir],
		["downloads folder", settings.downloadsDir],
		["base port", settings.basePort ? String(settings.basePort) : "0 (first free block)"],
		["discovery port", String(settings.discoveryPort)],
		[
			"broadcast",
			settings.broadcast.length ? settings.broadcast.join(", ") : "every interface (IPv4 and IPv6)",
		],
		["interval", `${settings.interval} ms`],
		["max down", settings.maxDown ? `${settings.maxDown} KB/s` : "0 (unlimited)"],
		["max up", settings.maxUp ? `${settings.maxUp} KB/s` : "0 (unlimited)"],
		["max active", String(settings.maxActive)],
		["network key", settings.networkKey ? "set (hidden)" : "none (open network)"],
		["seed", settings.seed ? "yes (downloads are served while running)" : "no"],
		["trusted peers", settings.trusted.length ? settings.trusted.join(", ") : "none"],
		["named peers", settings.peers.length > 0 ? settings.peers.join(", ") : "none"],
	];
	for (const [label, value] of rows) io.out(printable(`${label.padEnd(17)} ${value}`));
}

/**
 * `add-peer HOST[:PORT]` and `remove-peer HOST[:PORT]`: stores or forgets a peer named by
 * address (see `storePeer`). A running TUI or `serve` that follows the settings says hello
 * to an added one at once, and no more hello to a removed one (unless its `--peer` names it).
 * @throws UsageError for a bad address, `SETTINGS`
 */
export function peerCommand(
	text: string,
	remove: boolean,
	configDir: string | undefined,
	io: Output,
): void {
	const { address, changed, file } = storePeer(text, remove, configDir);
	if (remove)
		io.out(
			printable(
				changed ? `forgot peer ${address} (saved in ${file})` : `${address} was not a named peer`,
			),
		);
	else
		io.out(
			printable(
				changed
					? `named peer ${address} (saved in ${file}; a running peer says hello at once)`
					: `${address} is named already`,
			),
		);
}

/**
 * `network-key`: stores the network key given (or read from `--network-key-file`), clears it
 * (`--clear`), or with neither says whether one is set. The key itself is never printed.
 * A running peer that follows the settings takes the change up at once.
 * @throws UsageError `BAD_NETWORK_KEY` or `SETTINGS`
 */
export function networkKeyCommand(
	secret: string | undefined,
	flags: Pick<RunFlags, "configDir" | "networkKeyFile" | "clear">,
	io: Output,
): void {
	if (flags.clear) {
		const file = storeNetworkKey(null, flags.configDir);
		io.out(printable(`network key cleared (saved in ${file}): an open network`));
		return;
	}
	let key = secret;
	if (flags.networkKeyFile !== undefined) {
		const bytes = readKeyFile(flags.networkKeyFile);
		key = bytes.toString("utf8");
		// The settings file is JSON text: a key file that is no UTF-8 goes by path on each run.
		if (!Buffer.from(key, "utf8").equals(bytes))
			throw new UsageError(
				"the network key file is not UTF-8 text: pass it with --network-key-file on each run instead",
				"BAD_NETWORK_KEY",
			);
	}
	if (key === undefined) {
		const stored = storedSettings(flags.configDir).networkKey;
		io.out(stored ? "a network key is set (hidden)" : "no network key: an open network");
		return;
	}
	const file = storeNetworkKey(key, flags.configDir);
	io.out(printable(`network key stored in ${file} (mode 0600): only peers with it see us`));
}

/**
 * Makes a running peer follow the stored folders and limits: each time the settings change
 * (a `p2p-tui share` or `download-to` in another terminal, limits set in another TUI), the
 * shared and downloads folders are applied with `Peer.changeFolders`, one change at a
 * time, and the limits with `Peer.setLimits`. A folder or limit given by a flag for this
 * run (`--share`, `--downloads`, `--max-down`, `--max-up`, `--max-active`) wins: its
 * setting is not followed.
 * @param peer - the running peer
 * @param flags - this run's flags (`configDir`, and which folders are pinned)
 * @param onError - called with a one-line reason when a change cannot be applied
 * @returns a function that stops following (a no-op, after `onError`, when the settings
 *   folder cannot be watched)
 */
export function followSettings(
	peer: Peer,
	flags: RunFlags,
	onError: (message: string) => void,
): () => void {
	let applying = Promise.resolve();
	const apply = (stored: Settings) => {
		const folder = (value: unknown, pinned: string | undefined) =>
			pinned === undefined && typeof value === "string" && value !== ""
				? path.resolve(value)
				: undefined;
		const folders = {
			shareDir: folder(stored.shareDir, flags.share),
			downloadsDir: folder(stored.downloadsDir, flags.downloads),
		};
		const storedLimits = limitsOf(stored);
		const limits: Partial<Limits> = {};
		if (flags.maxDown === undefined) limits.maxDown = storedLimits.maxDown;
		if (flags.maxUp === undefined) limits.maxUp = storedLimits.maxUp;
		if (flags.maxActive === undefined) limits.maxActive = storedLimits.maxActive;
		// The stored network key, unless this run's flags pinned one.
		if (flags.networkKey === undefined && flags.networkKeyFile === undefined) {
			const key = typeof stored.networkKey === "string" ? stored.networkKey : "";
			try {
				// A no-op when the peer holds this key already (the TUI that stored it).
				peer.setNetworkKey(key === "" ? undefined : key);
			} catch (error) {
				onError(error instanceof Error ? error.message : String(error));
			}
		}
		// Peers named since (another terminal's `add-peer`): said hello to now; those removed
		// (`remove-peer`), unless this run's `--peer` names them: no more hellos.
		const port = peer.self().discoveryPort;
		const canonical = (text: unknown): string | undefined => {
			try {
				return typeof text === "string"
					? formatPeerAddress(parsePeerAddress(text, port))
					: undefined;
			} catch {
				return undefined; // A hand-edited entry that does not parse: skipped.
			}
		};
		const keep = new Set(
			[...(Array.isArray(stored.peers) ? stored.peers : []), ...(flags.peer ?? [])]
				.map(canonical)
				.filter((p): p is string => p !== undefined),
		);
		for (const named of keep) peer.addPeer(named);
		for (const named of peer.namedPeers()) if (!keep.has(named)) peer.removePeer(named);
		applying = applying
			.then(() => peer.setLimits(limits))
			.then(() => peer.changeFolders(folders))
			.catch((error: unknown) => onError(error instanceof Error ? error.message : String(error)));
	};
	try {
		return watchSettings(flags.configDir, apply);
	} catch (error) {
		// The peer runs on with the folders it has; it just does not follow the settings.
		onError(error instanceof Error ? error.message : String(error));
		return () => {};
	}
}

/**
 * `get <folder>`: downloads a network folder, reporting each file and a summary; when `err`
 * is no terminal, also plain progress lines over every file's bytes (at the total download
 * rate), as `get` of a file writes.
 */
async function getFolder(peer: Peer, folderPath: string, json: boolean, io: Output) {
	const started = Date.now();
	let report: ProgressReport | undefined;
	const { ProgressReport } = await import("./progress.js");
	if (!json) {
		peer.on("download-complete", (t) => {
			if (t.folder === folderPath && t.path) io.out(printable(`saved ${t.path} (${t.size} bytes)`));
		});
		// On a terminal the `saved` lines are the progress: a bar between them would garble.
		if (!io.tty)
			peer.on("folder-progress", (f) => {
				if (f.path !== folderPath) return;
				report ??= new ProgressReport(`${f.path}/`, f.size, { line: io.err });
				const rate = peer.rates().down;
				// Nothing arriving: why the first waiting file of the folder waits.
				const waiting =
					rate > 0
						? undefined
						: peer
								.transfers()
								.find((t) => t.folder === folderPath && waitingReason(t) !== undefined);
				report.update(
					f.bytesDone,
					rate,
					waiting && `${waiting.name}: ${waitingReason(waiting, peer.limits().maxActive)}`,
				);
			});
	}
	let result: Awaited<ReturnType<Peer["downloadFolder"]>>;
	try {
		result = await peer.downloadFolder(folderPath);
		report?.end(true);
	} catch (error) {
		report?.end(false);
		throw error;
	}
	const seconds = (Date.now() - started) / 1000;
	if (json)
		io.out(
			jsonText({
				folder: result.path,
				target: result.target,
				files: result.files,
				bytes: result.size,
				seconds,
			}),
		);
	else
		io.out(
			printable(
				`saved folder ${result.target} (${result.files} files, ${result.size} bytes in ${seconds.toFixed(2)} s)`,
			),
		);
}
