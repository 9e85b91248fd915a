/**
 * The control socket: a running peer (TUI or `serve`) listens on a Unix domain socket in its
 * settings folder (a named pipe on Windows) so that `get`, `list`, `search` and `peers` ask it
 * instead of starting a peer of their own (docs/protocol.md §17).
 *
 * Owns: the socket's path, its mode (0600) and the folder check, stale-socket removal, the
 * framing (newline-delimited JSON, versioned, one request per connection) and the handlers of
 * the built-in request types. Other commands add theirs with `ControlServer.handle`.
 * Nothing here prints: the server emits `request` and `error` events for reporters.
 */
import { createHash } from "node:crypto";
import { EventEmitter } from "node:events";
import fs from "node:fs";
import net from "node:net";
import path from "node:path";
import { OperationError, UsageError } from "../errors.js";
import { decodeManifestFile } from "../protocol/manifest-file.js";
import { fuzzySearch } from "../search/fuzzy.js";
import type { Peer } from "./peer.js";
import type { NetworkFile, TransferState } from "./types.js";

/** Version of the control protocol; a request of another version is answered with an error. */
export const CONTROL_VERSION = 1;

/** File name of the socket in the settings folder (Unix). */
export const CONTROL_SOCKET_NAME = "control.sock";

/** Longest request line, in bytes (a `.p2p` file in base64 fits). */
export const MAX_REQUEST_BYTES = 8 * 1024 * 1024;

/** Least time between two `progress` messages of one download, in ms. */
const PROGRESS_MS = 200;

/**
 * The socket path for a settings folder: `<dir>/control.sock` on Unix, a named pipe
 * `\\.\pipe\p2p-tui-<16 hex digits of SHA-256 of the folder>` on Windows (pipes live in
 * their own namespace, so the folder's path is hashed into the name).
 * @param dir - the settings folder
 * @param platform - the platform to choose for (default this one's)
 */
export function controlSocketPath(dir: string, platform: NodeJS.Platform = process.platform) {
	if (platform === "win32") {
		const key = path.win32.resolve(dir).toLowerCase();
		const digest = createHash("sha256").update(key).digest("hex").slice(0, 16);
		return `\\\\.\\pipe\\p2p-tui-${digest}`;
	}
	return path.join(path.resolve(dir), CONTROL_SOCKET_NAME);
}

/**
 * The peer-shaping settings a command expects the running peer to have (from its own flags);
 * a request whose `expect` differs is refused with `MISMATCH` and the command runs standalone.
 */
export interface ControlExpect {
	shareDir?: string;
	downloadsDir?: string;
	name?: string;
	/** The transfer base port (the receive port). */
	basePort?: number;
	discoveryPort?: number;
	broadcast?: string[];
	interval?: number;
}

/** A request: one JSON object on one line. `type` picks the handler. */
export interface ControlRequest {
	v: number;
	type: string;
	expect?: ControlExpect;
	[field: string]: unknown;
}

/** One message of an answer; the last one has `type` `result` or `error`. */
export interface ControlMessage {
	type: string;
	[field: string]: unknown;
}

/** What a handler gets to answer with besides its result. */
export interface ControlReply {
	/** Sends an intermediate message (progress...); dropped once the client is gone. */
	send(message: ControlMessage): void;
	/** True once the client closed the connection. */
	readonly closed: boolean;
}

/**
 * Answers one request type. Resolves with the `result` message's fields; throws
 * UsageError / OperationError for an `error` answer (their `code` and message).
 */
export type ControlHandler = (
	request: ControlRequest,
	reply: ControlReply,
) => Promise<Record<string, unknown>> | Record<string, unknown>;

/** Events of a control server. */
export interface ControlEvents {
	/** A well-formed request arrived (before it is answered). */
	request: [type: string];
	/** A request was refused (`code`), malformed or failed. */
	refused: [code: string, message: string];
}

/** True when the socket file at `file` answers a connection. */
function probe(file: string): Promise<"live" | "stale" | "absent"> {
	return new Promise((resolve) => {
		const socket = net.connect(file);
		socket.once("connect", () => {
			socket.destroy();
			resolve("live");
		});
		socket.once("error", (error: NodeJS.ErrnoException) => {
			resolve(error.code === "ECONNREFUSED" ? "stale" : "absent");
		});
	});
}

/**
 * Removes a stale socket (one no process listens on: connecting fails with ECONNREFUSED),
 * only when it is a socket and ours.
 * @returns true when it was removed
 */
export function removeStale(file: string): boolean {
	try {
		const st = fs.lstatSync(file);
		if (!st.isSocket()) return false;
		if (process.getuid && st.uid !== process.getuid()) return false;
		fs.unlinkSync(file);
		return true;
	} catch {
		return false;
	}
}

/**
 * Checks the settings folder before a socket is put there or trusted: it must be ours and
 * not writable by everyone (else another user could swap the socket).
 * @throws UsageError `CONTROL_FOLDER` with the reason
 */
export function checkControlFolder(dir: string): void {
	if (process.platform === "win32") return;
	const st = fs.statSync(dir);
	if (process.getuid && st.uid !== process.getuid())
		throw new UsageError(`${dir} belongs to another user`, "CONTROL_FOLDER");
	if (st.mode & 0o002) throw new UsageError(`${dir} is writable by every user`, "CONTROL_FOLDER");
}

/** A control server for one peer. Create with `ControlServer.listen`. */
export class ControlServer extends EventEmitter<ControlEvents> {
	private readonly handlers = new Map<string, ControlHandler>();
	private readonly sockets = new Set<net.Socket>();

	private constructor(
		readonly peer: Peer,
		/** Where it listens. */
		readonly path: string,
		private readonly server: net.Server,
	) {
		super();
		registerBuiltins(this);
		server.on("connection", (socket) => this.accept(socket));
	}

	/**
	 * Listens for `peer` in the settings folder `dir`: removes a stale socket first; does not
	 * listen when another live peer answers there.
	 * @returns the server, or undefined when another peer holds the folder's socket
	 * @throws UsageError `CONTROL_FOLDER` (folder not ours), or the listen error
	 */
	static async listen(peer: Peer, dir: string): Promise<ControlServer | undefined> {
		const file = controlSocketPath(dir);
		if (process.platform !== "win32") {
			fs.mkdirSync(dir, { recursive: true });
			checkControlFolder(dir);
			const state = await probe(file);
			if (state === "live") return undefined;
			if (state === "stale") removeStale(file);
		}
		const server = net.createServer();
		await new Promise<void>((resolve, reject) => {
			server.once("error", reject);
			// The socket is created with mode 0600 (bind happens inside `listen`, under this umask),
			// then chmod'ed again in case the platform ignores the umask for sockets.
			const old = process.platform === "win32" ? undefined : process.umask(0o177);
			try {
				server.listen(file, () => {
					server.off("error", reject);
					resolve();
				});
			} finally {
				if (old !== undefined) process.umask(old);
			}
		});
		if (process.platform !== "win32") fs.chmodSync(file, 0o600);
		return new ControlServer(peer, file, server);
	}

	/**
	 * Adds (or replaces) the handler of a request type, e.g. `send` for offers.
	 * @param type - the request's `type`
	 */
	handle(type: string, handler: ControlHandler): void {
		this.handlers.set(type, handler);
	}

	/** Stops listening, ends open connections and removes the socket. */
	async close(): Promise<void> {
		for (const s of this.sockets) s.destroy();
		await new Promise<void>((resolve) => this.server.close(() => resolve()));
		// Node removes a Unix socket on close; this is for a server that died half-way.
		if (process.platform !== "win32") removeStale(this.path);
	}

	private accept(socket: net.Socket): void {
		this.sockets.add(socket);
		socket.on("close", () => this.sockets.delete(socket));
		socket.on("error", () => {});
		let buffered = "";
		let taken = false;
		socket.setEncoding("utf8");
		socket.on("data", (chunk: string) => {
			if (taken) return;
			buffered += chunk;
			const end = buffered.indexOf("\n");
			if (end < 0) {
				if (buffered.length > MAX_REQUEST_BYTES) {
					taken = true;
					this.answerError(socket, "TOO_LARGE", "request line too long");
				}
				return;
			}
			taken = true;
			void this.serve(socket, buffered.slice(0, end));
		});
	}

	private answerError(socket: net.Socket, code: string, message: string): void {
		this.emit("refused", code, message);
		write(socket, { type: "error", code, message });
		socket.end();
	}

	private async serve(socket: net.Socket, line: string): Promise<void> {
		let request: ControlRequest;
		try {
			const parsed: unknown = JSON.parse(line);
			if (!parsed || typeof parsed !== "object" || Array.isArray(parsed))
				throw new Error("not an object");
			request = parsed as ControlRequest;
		} catch {
			this.answerError(socket, "BAD_REQUEST", "a request is one JSON object on one line");
			return;
		}
		if (request.v !== CONTROL_VERSION) {
			this.answerError(
				socket,
				"VERSION",
				`control protocol version ${JSON.stringify(request.v)} not supported (this peer speaks ${CONTROL_VERSION})`,
			);
			return;
		}
		const handler = typeof request.type === "string" ? this.handlers.get(request.type) : undefined;
		if (!handler) {
			this.answerError(
				socket,
				"UNKNOWN_TYPE",
				`unknown request type ${JSON.stringify(request.type)}`,
			);
			return;
		}
		const mismatch = this.mismatch(request.expect);
		if (mismatch) {
			this.answerError(socket, "MISMATCH", `the running peer has another ${mismatch}`);
			return;
		}
		this.emit("request", request.type);
		const reply: ControlReply = {
			send: (message) => {
				if (!socket.destroyed) write(socket, message);
			},
			get closed() {
				return socket.destroyed;
			},
		};
		try {
			const result = await handler(request, reply);
			if (!socket.destroyed) write(socket, { ...result, type: "result" });
			socket.end();
		} catch (error) {
			const ours = error instanceof OperationError || error instanceof UsageError;
			const code = ours ? error.code : "FAILED";
			const exit = ours ? error.exitCode : 1;
			const message = error instanceof Error ? error.message : String(error);
			this.emit("refused", code, message);
			if (!socket.destroyed) write(socket, { type: "error", code, exit, message });
			socket.end();
		}
	}

	/** The first expected setting that differs from the peer's, or undefined. */
	private mismatch(expect: unknown): string | undefined {
		if (expect === undefined) return undefined;
		if (!expect || typeof expect !== "object") return "setting (bad expect)";
		const e = expect as ControlExpect;
		const o = this.peer.options;
		const self = this.peer.self();
		if (
			e.shareDir !== undefined &&
			path.resolve(String(e.shareDir)) !== path.resolve(self.shareDir)
		)
			return "shared folder";
		if (
			e.downloadsDir !== undefined &&
			path.resolve(String(e.downloadsDir)) !== path.resolve(self.downloadsDir)
		)
			return "downloads folder";
		if (e.name !== undefined && e.name !== self.name) return "name";
		if (e.basePort !== undefined && e.basePort !== self.ports.receive) return "port";
		if (e.discoveryPort !== undefined && e.discoveryPort !== o.discoveryPort)
			return "discovery port";
		if (e.interval !== undefined && e.interval !== o.interval) return "interval";
		if (e.broadcast !== undefined) {
			const a = [...(Array.isArray(e.broadcast) ? e.broadcast : [])].map(String).sort();
			const b = [...o.broadcast].sort();
			if (a.length !== b.length || a.some((x, i) => x !== b[i])) return "broadcast";
		}
		return undefined;
	}
}

function write(socket: net.Socket, message: ControlMessage): void {
	socket.write(`${JSON.stringify({ v: CONTROL_VERSION, ...message })}\n`);
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** A whole number from a request field, within bounds, or the default. */
function intField(value: unknown, min: number, max: number, fallback: number): number {
	return typeof value === "number" && Number.isInteger(value) && value >= min && value <= max
		? value
		: fallback;
}

/** The request types every running peer answers: peers, list, search, get. */
function registerBuiltins(server: ControlServer): void {
	const peer = server.peer;
	server.handle("peers", () => ({ peers: peer.peers() }));
	server.handle("list", () => ({ files: peer.files() }));
	server.handle("search", (request) => {
		if (typeof request.query !== "string")
			throw new UsageError("search needs a query string", "BAD_REQUEST");
		const files = peer.files();
		const matches = fuzzySearch(request.query, files, (f) => f.name);
		return { total: files.length, matches: matches.map((m) => ({ file: m.item, score: m.score })) };
	});
	server.handle("get", (request, reply) => getHandler(peer, request, reply));
}

/**
 * `get`: finds the file (or folder) within `wait` ms, downloads it in the peer (which seeds it
 * afterwards), sends `started`, `progress` (and `piece` with `sequential`) messages, then the
 * result. The download goes on when the client leaves.
 */
async function getHandler(
	peer: Peer,
	request: ControlRequest,
	reply: ControlReply,
): Promise<Record<string, unknown>> {
	const wait = intField(request.wait, 0, 86_400_000, 3_000);
	const deadline = Date.now() + wait;
	const sequential = request.sequential === true;
	let file: Pick<NetworkFile, "id" | "name" | "size" | "contentHash"> | undefined;
	let run: () => Promise<TransferState>;
	if (typeof request.manifest === "string") {
		const decoded = decodeManifestFile(Buffer.from(request.manifest, "base64"));
		if (!decoded) throw new UsageError("not a valid .p2p file", "BAD_P2P_FILE");
		const listed = () => peer.files().find((f) => f.id === decoded.id);
		while (!listed() && Date.now() < deadline) await sleep(50);
		if (!listed())
			throw new OperationError(
				`no peer shares ${decoded.name} (p2p:${decoded.id}) (waited ${wait} ms)`,
				"NOT_FOUND",
			);
		file = {
			id: decoded.id,
			name: decoded.name,
			size: decoded.manifest.size,
			contentHash: Buffer.from(decoded.manifest.contentHash).toString("hex"),
		};
		run = () => peer.downloadManifest(decoded.manifest, decoded.name);
	} else {
		if (typeof request.query !== "string" || request.query === "")
			throw new UsageError("get needs a query string", "BAD_REQUEST");
		const query = request.query;
		const folderPath = query.replace(/\/+$/, "");
		const folderNamed = () => peer.folders().some((f) => f.path === folderPath);
		let found = peer.findFile(query);
		let folder = !found && folderNamed();
		while (!found && !folder && Date.now() < deadline) {
			await sleep(50);
			found = peer.findFile(query);
			folder = !found && folderNamed();
		}
		if (!found && folder) {
			if (sequential) throw new UsageError("a folder cannot be streamed", "USAGE");
			return getFolder(peer, folderPath, reply);
		}
		if (!found)
			throw new OperationError(
				`no peer shares ${JSON.stringify(query)} (waited ${wait} ms)`,
				"NOT_FOUND",
			);
		const { id, name } = found;
		file = found;
		run = () => peer.download(id, { name });
	}
	const wanted = file;
	let sentAt = 0;
	let lastStatus = "";
	const onProgress = (t: TransferState) => {
		if (t.fileId !== wanted.id || reply.closed) return;
		const now = Date.now();
		if (now - sentAt < PROGRESS_MS && t.status === lastStatus) return;
		sentAt = now;
		lastStatus = t.status;
		const download = sequential ? peer.downloadOf(wanted.id) : undefined;
		reply.send({
			type: "progress",
			transfer: t,
			// In order: the have-map too, so pieces resumed from disk are read at once.
			...(download ? { have: Buffer.from(download.have).toString("base64") } : {}),
		});
	};
	const onStarted = (t: TransferState) => {
		if (t.fileId !== wanted.id) return;
		if (sequential) startSequential(peer, wanted.id, reply);
		reply.send({ type: "started", transfer: t });
	};
	peer.on("download-started", onStarted);
	peer.on("download-progress", onProgress);
	const started = Date.now();
	try {
		const promise = run();
		// A download resumed or joined (already running) emits no `download-started`.
		const running = peer.downloadOf(wanted.id);
		if (sequential && running) startSequential(peer, wanted.id, reply);
		const result = await promise;
		const seconds = (Date.now() - started) / 1000;
		return {
			kind: "file",
			transfer: result,
			contentHash: wanted.contentHash,
			seconds,
			uploaded: peer.uploaded,
			engine: peer.transferStats(),
			...(peer.keyed ? { seal: peer.sealStats() } : {}),
			maxRss: process.resourceUsage().maxRSS * 1024,
		};
	} finally {
		peer.off("download-started", onStarted);
		peer.off("download-progress", onProgress);
	}
}

/** Replies that already get `piece` messages. */
const streamed = new WeakSet<ControlReply>();

/** Streams `piece` messages (index) of a download in order mode; the client reads the file. */
function startSequential(peer: Peer, fileId: string, reply: ControlReply): void {
	const download = peer.downloadOf(fileId);
	if (!download || streamed.has(reply)) return;
	streamed.add(reply);
	if (download.prioritized === undefined) download.prioritize(0);
	// Pieces on disk already (resumed): the client reads them at once.
	reply.send({ type: "have", bits: Buffer.from(download.have).toString("base64") });
	const onPiece = (index: number) => {
		if (reply.closed) {
			download.off("piece", onPiece);
			return;
		}
		reply.send({ type: "piece", index });
	};
	download.on("piece", onPiece);
	download.once("complete", () => download.off("piece", onPiece));
	download.once("failed", () => download.off("piece", onPiece));
}

/** A folder `get` in the peer: `saved` for each file, `folder-progress`, then the result. */
async function getFolder(
	peer: Peer,
	folderPath: string,
	reply: ControlReply,
): Promise<Record<string, unknown>> {
	const started = Date.now();
	const onComplete = (t: TransferState) => {
		if (t.folder === folderPath && t.path)
			reply.send({ type: "saved", path: t.path, size: t.size });
	};
	let sentAt = 0;
	const onFolder = (f: { path: string }) => {
		if (f.path !== folderPath || Date.now() - sentAt < PROGRESS_MS) return;
		sentAt = Date.now();
		reply.send({ type: "folder-progress", folder: f, rate: peer.rates().down });
	};
	peer.on("download-complete", onComplete);
	peer.on("folder-progress", onFolder);
	try {
		const result = await peer.downloadFolder(folderPath);
		return { kind: "folder", folder: result, seconds: (Date.now() - started) / 1000 };
	} finally {
		peer.off("download-complete", onComplete);
		peer.off("folder-progress", onFolder);
	}
}
