/**
 * The log file: events a user should be able to look up later (downloads started, done or
 * failed, pieces that failed verification, banned peers, peers joining and leaving, the
 * shared folder re-indexed, limits and controls), one JSON line each, written with pino
 * (https://getpino.io) to a file only: never to stdout or stderr, so the TUI's screen
 * gets no stray output. Each line has pino's `level`, `time` (ISO 8601) and `pid`, an
 * `event` name, the event's fields, and `msg`, the same words the status area shows.
 */
import path from "node:path";
import pino from "pino";
import { OperationError } from "../errors.js";
import { reason } from "../library/library.js";
import type { Peer, PeerEvents } from "./peer.js";
import { describeLimits } from "./store.js";
import type { TransferState } from "./types.js";

/** The name of the log file in the app's state folder. */
export const LOG_FILE_NAME = "p2p-tui.log";

/** A log attached to a peer; `close` stops writing. */
export interface PeerLog {
	/** Absolute path of the log file. */
	readonly file: string;
	/**
	 * Writes one line of output that had no place on the screen (e.g. a `console.warn` of a
	 * library while the TUI runs), with where it came from (`"warn"`, `"stderr"`...).
	 */
	note(source: string, text: string): void;
	/** Stops listening to the peer and closes the file; safe to call twice. */
	close(): void;
}

/**
 * Writes a peer's notable events to `file` (appended; the folder is created when missing).
 * Writes are synchronous (a line per event; events are few), so nothing is lost when the
 * process ends.
 * @param peer - the running peer
 * @param file - the log file's path
 * @returns the attached log
 * @throws OperationError `LOG_UNWRITABLE` when the file cannot be opened for appending
 */
export function attachLog(peer: Peer, file: string): PeerLog {
	const absolute = path.resolve(file);
	let destination: ReturnType<typeof pino.destination>;
	try {
		destination = pino.destination({ dest: absolute, mkdir: true, sync: true, append: true });
	} catch (error) {
		throw new OperationError(
			`cannot write the log file ${absolute}: ${reason(error)}`,
			"LOG_UNWRITABLE",
		);
	}
	const logger = pino(
		{ base: { pid: process.pid }, timestamp: pino.stdTimeFunctions.isoTime },
		destination,
	);
	const offs: (() => void)[] = [];
	function on<K extends keyof PeerEvents>(event: K, handler: (...args: PeerEvents[K]) => void) {
		peer.on(event, handler as never);
		offs.push(() => peer.off(event, handler as never));
	}
	const fileFields = (t: TransferState) => ({ id: t.fileId, name: t.name, size: t.size });
	const nameOf = (id: string) => peer.peers().find((p) => p.id === id)?.name ?? id.slice(0, 8);

	on("peer-joined", (p) =>
		logger.info(
			{
				event: "peer-joined",
				peer: p.id,
				name: p.name,
				address: p.address,
				found: p.found ?? "lan",
			},
			`peer joined: ${p.name} (${p.address}${p.found && p.found !== "lan" ? `, ${p.found}` : ""})`,
		),
	);
	on("peer-left", (p, why) =>
		logger.info(
			{ event: "peer-left", peer: p.id, name: p.name, reason: why },
			`peer left: ${p.name} (${why})`,
		),
	);
	on("peer-banned", (id, p) =>
		logger.warn(
			{ event: "peer-banned", peer: id, name: p?.name, address: p?.address },
			`peer banned: ${p?.name ?? id.slice(0, 8)} (served bad pieces)`,
		),
	);
	on("download-started", (t) =>
		logger.info(
			{ event: t.status === "queued" ? "download-queued" : "download-started", ...fileFields(t) },
			t.status === "queued" ? `download queued: ${t.name}` : `download started: ${t.name}`,
		),
	);
	on("download-dequeued", (t) =>
		logger.info(
			{ event: "download-started", ...fileFields(t), queued: true },
			`download started: ${t.name} (its turn in the queue)`,
		),
	);
	on("download-complete", (t) =>
		logger.info(
			{ event: "download-complete", ...fileFields(t), path: t.path, resumedBytes: t.resumedBytes },
			`download complete: ${t.path ?? t.name}`,
		),
	);
	on("download-failed", (t) =>
		logger.error(
			{ event: "download-failed", ...fileFields(t), error: t.error },
			`download failed: ${t.name}: ${t.error ?? "unknown error"}`,
		),
	);
	on("hash-failure", (t, piece, peerIds) =>
		logger.warn(
			{ event: "hash-failure", ...fileFields(t), piece, peers: peerIds },
			`verification failed: ${t.name} piece ${piece} from ${peerIds.map(nameOf).join(", ") || "a push"}, fetching it again`,
		),
	);
	on("download-paused", (t) =>
		logger.info(
			{ event: "download-paused", ...fileFields(t), bytesDone: t.bytesDone },
			`paused ${t.name}`,
		),
	);
	on("download-resumed", (t) =>
		logger.info(
			{ event: "download-resumed", ...fileFields(t), status: t.status },
			`resumed ${t.name}`,
		),
	);
	on("download-cancelled", (t, keepPartial) =>
		logger.info(
			{ event: "download-cancelled", ...fileFields(t), keepPartial, partialPath: t.partialPath },
			`cancelled ${t.name} (${keepPartial ? "partial kept" : "partial deleted"})`,
		),
	);
	on("limits-changed", (limits) =>
		logger.info({ event: "limits-changed", ...limits }, `limits: ${describeLimits(limits)}`),
	);
	on("folders-changed", (f) =>
		logger.info(
			{ event: "folders-changed", shareDir: f.shareDir, downloadsDir: f.downloadsDir },
			`folders changed: sharing ${f.shareDir}, downloads to ${f.downloadsDir}`,
		),
	);
	on("folder-complete", (f) =>
		logger.info(
			{ event: "folder-complete", folder: f.path, target: f.target, files: f.files },
			`folder downloaded: ${f.target}`,
		),
	);
	on("folder-failed", (f) =>
		logger.error(
			{ event: "folder-failed", folder: f.path, target: f.target, error: f.error },
			`folder download failed: ${f.path}: ${f.error ?? "unknown error"}`,
		),
	);
	// The first index is "indexed"; what follows (changes seen, rescans) is a re-index.
	let indexed = peer.indexProgress().done;
	on("index-progress", (p) => {
		if (!p.done || indexed) return;
		indexed = true;
		logger.info(
			{ event: "indexed", files: p.filesDone, bytes: p.bytesDone },
			`shared folder indexed: ${p.filesDone} files`,
		);
	});
	on("library-changed", (files, reindexed) => {
		if (indexed && reindexed)
			logger.info({ event: "re-indexed", files }, `shared folder re-indexed: ${files} files`);
	});

	let closed = false;
	return {
		file: absolute,
		note(source, text) {
			if (!closed) logger.warn({ event: "stray-output", source }, text);
		},
		close() {
			if (closed) return;
			closed = true;
			for (const off of offs) off();
			destination.end();
		},
	};
}
