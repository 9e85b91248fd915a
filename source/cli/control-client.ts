/**
 * The commands' side of the control socket (docs/protocol.md §17): finds the running peer of
 * a settings folder, sends one request, reads its answer line by line, and runs `peers`,
 * `list`, `search` and `get` (also `get --stdout`) through it with the same output as the
 * standalone commands. No running peer (no socket, a stale one, which is removed, or one that
 * is not ours) or a peer set up otherwise than this run's flags: the caller runs standalone.
 */
import fs from "node:fs";
import net from "node:net";
import { OperationError, UsageError } from "../errors.js";
import {
	CONTROL_VERSION,
	type ControlExpect,
	type ControlMessage,
	controlSocketPath,
	removeStale,
} from "../peer/control.js";
import type { FolderTransferState, NetworkFile, PeerRecord, TransferState } from "../peer/types.js";
import { jsonText, printable } from "../protocol/names.js";
import type { RunFlags } from "./args.js";
import { type Output, printFiles, printMatches, printPeers, streamedLine } from "./commands.js";
import { ProgressReport } from "./progress.js";
import { loadSettings, settingsDir } from "./settings.js";
import { PieceStream, READ_CHUNK, StreamClosed } from "./stream.js";

/** Longest answer line, in bytes. */
const MAX_LINE_BYTES = 64 * 1024 * 1024;

/**
 * Flags that would give this run another peer than the running one and cannot be compared
 * with it: the command runs standalone when one is given.
 */
const STANDALONE_FLAGS = [
	"networkKey",
	"networkKeyFile",
	"maxUp",
	"maxDown",
	"maxActive",
	"log",
] as const;

/**
 * Whether this run may ask a running peer, and what it must expect of it: the peer-shaping
 * flags given (`--share`, `--downloads`, `--name`, `--port`, `--discovery-port`,
 * `--broadcast`, `--interval`) must match the running peer, else it answers `MISMATCH` and
 * the command runs standalone. `--standalone` or a flag in STANDALONE_FLAGS: undefined.
 */
export function routeOf(flags: RunFlags): { dir: string; expect: ControlExpect } | undefined {
	if (flags.standalone) return undefined;
	for (const flag of STANDALONE_FLAGS) if (flags[flag] !== undefined) return undefined;
	const expect: ControlExpect = {};
	if (flags.share !== undefined || flags.downloads !== undefined) {
		// Resolved as the peer resolves them.
		const s = loadSettings(flags);
		if (flags.share !== undefined) expect.shareDir = s.shareDir;
		if (flags.downloads !== undefined) expect.downloadsDir = s.downloadsDir;
	}
	if (flags.name !== undefined) expect.name = flags.name;
	if (flags.port !== undefined) expect.basePort = flags.port;
	if (flags.discoveryPort !== undefined) expect.discoveryPort = flags.discoveryPort;
	if (flags.broadcast !== undefined) expect.broadcast = flags.broadcast;
	if (flags.interval !== undefined) expect.interval = flags.interval;
	return { dir: settingsDir(flags.configDir), expect };
}

/** True when `file` is a socket of ours that nobody else may open (mode 0600 or stricter). */
function trusted(file: string): boolean {
	if (process.platform === "win32") return true;
	try {
		const st = fs.lstatSync(file);
		if (!st.isSocket()) return false;
		if (process.getuid && st.uid !== process.getuid()) return false;
		return (st.mode & 0o077) === 0;
	} catch {
		return false;
	}
}

/**
 * Sends one request to the running peer of settings folder `dir` and reads the answer.
 * @param onMessage - called with each intermediate message (progress, piece...)
 * @returns the `result` message, or undefined when no peer runs there (a stale socket is
 *   removed), the socket is not trustworthy, or the peer answers `MISMATCH`
 * @throws UsageError / OperationError with the `error` answer's message and code; an
 *   OperationError `PEER_GONE` when the peer closes the connection before its answer
 */
export async function ask(
	dir: string,
	request: { type: string; expect?: ControlExpect; [field: string]: unknown },
	onMessage: (message: ControlMessage) => void = () => {},
): Promise<ControlMessage | undefined> {
	const file = controlSocketPath(dir);
	if (process.platform !== "win32" && !fs.existsSync(file)) return undefined;
	if (!trusted(file)) return undefined;
	const socket = net.connect(file);
	const connected = await new Promise<boolean>((resolve) => {
		socket.once("connect", () => resolve(true));
		socket.once("error", (error: NodeJS.ErrnoException) => {
			// A socket file no one listens on: the peer crashed. Remove it for the next one.
			if (error.code === "ECONNREFUSED") removeStale(file);
			resolve(false);
		});
	});
	if (!connected) return undefined;
	socket.write(`${JSON.stringify({ v: CONTROL_VERSION, ...request })}\n`);
	socket.setEncoding("utf8");
	return new Promise<ControlMessage | undefined>((resolve, reject) => {
		let buffered = "";
		let settled = false;
		const settle = (fn: () => void) => {
			if (settled) return;
			settled = true;
			socket.destroy();
			fn();
		};
		const take = (line: string) => {
			let message: ControlMessage;
			try {
				message = JSON.parse(line) as ControlMessage;
			} catch {
				settle(() => reject(new OperationError("the running peer answered garbage", "PEER_GONE")));
				return;
			}
			if (message.type === "result") settle(() => resolve(message));
			else if (message.type === "error") {
				if (message.code === "MISMATCH") {
					settle(() => resolve(undefined));
					return;
				}
				const text = String(message.message ?? "the running peer refused");
				const code = String(message.code ?? "FAILED");
				settle(() =>
					reject(message.exit === 2 ? new UsageError(text, code) : new OperationError(text, code)),
				);
			} else onMessage(message);
		};
		socket.on("data", (chunk: string) => {
			buffered += chunk;
			for (let end = buffered.indexOf("\n"); end >= 0; end = buffered.indexOf("\n")) {
				const line = buffered.slice(0, end);
				buffered = buffered.slice(end + 1);
				take(line);
				if (settled) return;
			}
			if (buffered.length > MAX_LINE_BYTES)
				settle(() =>
					reject(new OperationError("the running peer's answer is too long", "PEER_GONE")),
				);
		});
		socket.on("error", () => {});
		socket.on("close", () =>
			settle(() =>
				reject(new OperationError("the running peer closed the connection", "PEER_GONE")),
			),
		);
	});
}

/** Where a command finds the running peer, and what it expects of it. */
export type Route = NonNullable<ReturnType<typeof routeOf>>;

/** `peers` through the running peer; false when none runs (run standalone). */
export async function peersVia(route: Route, json: boolean, io: Output): Promise<boolean> {
	const answer = await ask(route.dir, { type: "peers", expect: route.expect });
	if (!answer) return false;
	printPeers(answer.peers as PeerRecord[], json, io);
	return true;
}

/** `list` through the running peer; false when none runs. */
export async function listVia(route: Route, json: boolean, io: Output): Promise<boolean> {
	const answer = await ask(route.dir, { type: "list", expect: route.expect });
	if (!answer) return false;
	printFiles(answer.files as NetworkFile[], json, io);
	return true;
}

/** `search` through the running peer; false when none runs. */
export async function searchVia(
	route: Route,
	query: string,
	json: boolean,
	io: Output,
): Promise<boolean> {
	const answer = await ask(route.dir, { type: "search", query, expect: route.expect });
	if (!answer) return false;
	const matches = (answer.matches as { file: NetworkFile; score: number }[]).map((m) => ({
		item: m.file,
		score: m.score,
	}));
	printMatches(query, matches, Number(answer.total), json, io);
	return true;
}

/**
 * `get` through the running peer: the download runs in it (and it seeds the file
 * afterwards); progress is shown here as the standalone `get` shows it. The request carries
 * the query, or the bytes of a local `.p2p` file (`manifest`, base64).
 * @returns false when no peer runs
 * @throws the peer's error (not found, ambiguous, the download failed)
 */
export async function getVia(
	route: Route,
	target: { query: string } | { manifest: Buffer },
	wait: number,
	json: boolean,
	io: Output,
): Promise<boolean> {
	let report: ProgressReport | undefined;
	let folderReport: ProgressReport | undefined;
	const request =
		"query" in target
			? { type: "get", query: target.query, wait, expect: route.expect }
			: { type: "get", manifest: target.manifest.toString("base64"), wait, expect: route.expect };
	let answer: ControlMessage | undefined;
	try {
		answer = await ask(route.dir, request, (m) => {
			if (json) return;
			if (m.type === "progress" || m.type === "started") {
				const t = m.transfer as TransferState;
				report ??= new ProgressReport(t.name, t.size, { tty: io.tty, line: io.err });
				report.update(t.bytesDone, t.speed, t.status === "waiting" ? t.error : undefined);
			} else if (m.type === "saved") {
				io.out(printable(`saved ${String(m.path)} (${Number(m.size)} bytes)`));
			} else if (m.type === "folder-progress" && !io.tty) {
				const f = m.folder as FolderTransferState;
				folderReport ??= new ProgressReport(`${f.path}/`, f.size, { line: io.err });
				folderReport.update(f.bytesDone, Number(m.rate) || 0);
			}
		});
	} catch (error) {
		report?.end(false);
		folderReport?.end(false);
		throw error;
	}
	if (!answer) return false;
	report?.end(true);
	folderReport?.end(true);
	if (answer.kind === "folder") {
		const f = answer.folder as FolderTransferState;
		const seconds = Number(answer.seconds);
		if (json)
			io.out(
				jsonText({ folder: f.path, target: f.target, files: f.files, bytes: f.size, seconds }),
			);
		else
			io.out(
				printable(
					`saved folder ${f.target} (${f.files} files, ${f.size} bytes in ${seconds.toFixed(2)} s)`,
				),
			);
		return true;
	}
	const t = answer.transfer as TransferState;
	const seconds = Number(answer.seconds);
	if (json)
		io.out(
			jsonText({
				id: t.fileId,
				name: t.name,
				path: t.path,
				size: t.size,
				contentHash: answer.contentHash,
				seconds,
				uploaded: answer.uploaded,
				fromSeeders: t.fromSeeders,
				fromDistribution: t.fromDistribution,
				resumedBytes: t.resumedBytes,
				hashFailures: t.hashFailures,
				engine: answer.engine,
				...(answer.seal ? { seal: answer.seal } : {}),
				maxRss: answer.maxRss,
			}),
		);
	else io.out(printable(`saved ${t.path} (${t.size} bytes in ${seconds.toFixed(2)} s)`));
	return true;
}

/**
 * `get --stdout` through the running peer: it downloads the file in order and tells each
 * verified piece (`have`, then `piece` messages); the pieces are read here from its partial
 * file and written to `out` in order.
 * @returns false when no peer runs
 * @throws OperationError when the download fails (the stream stops where it was)
 */
export async function streamVia(
	route: Route,
	query: string,
	wait: number,
	out: NodeJS.WritableStream,
	io: Output,
): Promise<boolean> {
	let stream: PieceStream | undefined;
	let held: Uint8Array | undefined;
	let transfer: TransferState | undefined;
	let finalPath: string | undefined;
	const set = (index: number) => {
		if (held) held[index >> 3] |= 0x80 >> (index & 7);
	};
	const begin = (t: TransferState, last = false) => {
		if (stream || (!t.pieceSize && !last)) return;
		transfer = t;
		// A file already in place completes with no manifest state: one piece, the whole file.
		const pieceSize = t.pieceSize ?? READ_CHUNK;
		held ??= new Uint8Array(Math.ceil(Math.ceil(t.size / pieceSize) / 8));
		const bits = held;
		stream = new PieceStream(out, {
			size: t.size,
			pieceSize,
			has: (i) => (bits[i >> 3] & (0x80 >> (i & 7))) !== 0,
			paths: () => [transfer?.partialPath, finalPath],
		});
	};
	const take = (base64: string) => {
		const bits = Buffer.from(base64, "base64");
		held ??= new Uint8Array(bits.length);
		for (let i = 0; i < Math.min(bits.length, held.length); i++) held[i] |= bits[i];
		stream?.poke();
	};
	let answer: ControlMessage | undefined;
	const asked = ask(
		route.dir,
		{ type: "get", query, wait, sequential: true, expect: route.expect },
		(m) => {
			if (m.type === "started" || m.type === "progress") {
				const t = m.transfer as TransferState;
				if (t.partialPath && transfer) transfer.partialPath = t.partialPath;
				begin(t);
				if (typeof m.have === "string") take(m.have);
			} else if (m.type === "have" && typeof m.bits === "string") take(m.bits);
			else if (m.type === "piece" && typeof m.index === "number") {
				set(m.index);
				stream?.poke();
			}
		},
	);
	try {
		answer = await asked;
	} catch (error) {
		stream?.stop(error instanceof Error ? error : new Error(String(error)));
		throw error;
	}
	if (!answer) return false;
	const t = answer.transfer as TransferState;
	finalPath = t.path;
	begin(t, true);
	if (held) held.fill(0xff);
	const s = stream;
	if (!s) throw new OperationError("the running peer told no piece size", "FAILED");
	s.poke();
	try {
		await s.done;
	} catch (error) {
		if (error instanceof StreamClosed) return true;
		throw new OperationError(
			`stream stopped: ${error instanceof Error ? error.message : String(error)}`,
			"FAILED",
		);
	}
	io.err(printable(streamedLine(t)));
	return true;
}
