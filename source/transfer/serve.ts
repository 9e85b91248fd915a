/**
 * The send port's service: answers list, manifest and block requests from the library.
 * No sockets here: datagrams come in through `recv` and go out through the injected
 * `send`. A request without a valid address-validation token is answered only with a
 * Retry (24 bytes, less than any request), so an address that has not proved it receives
 * can never get more bytes from us than it sent (RFC 9000 section 8's amplification rule,
 * with a factor under 1 where QUIC allows 3).
 */

import type { Library } from "../library/library.js";
import { toHex } from "../protocol/hash.js";
import {
	DATA_OVERHEAD,
	DeltaStatus,
	decodeMessage,
	ErrorCode,
	encodeDataHeader,
	encodeMessage,
	folderEntry,
	LIST_DELTA_OVERHEAD,
	LIST_PAGE_OVERHEAD,
	type ListChange,
	type ListEntry,
	listChangeSize,
	listEntrySize,
	MANIFEST_CHUNK_OVERHEAD,
	type Message,
} from "../protocol/messages.js";
import { maxDatagramFor } from "./path-mtu.js";
import type { TokenIssuer } from "./tokens.js";

/** A UDP endpoint. */
export interface Endpoint {
	address: string;
	port: number;
}

/** Counters of the send service. */
export interface ServeStats {
	/** Datagrams dropped because they did not decode or were not requests. */
	malformed: number;
	/** Retry messages sent to unvalidated addresses. */
	retries: number;
	/** Payload bytes of file data sent. */
	uploaded: number;
	/** List pages sent (answers to list requests). */
	listPages: number;
	/** List entries sent in those pages. */
	listEntries: number;
	/** List delta pages sent with changes (status ok). */
	deltaPages: number;
	/** Changes sent in those delta pages. */
	deltaChanges: number;
	/** Delta requests answered "fetch the whole list" (revision unknown, too old, or delta too large). */
	deltaFallbacks: number;
	/** Block requests dropped because the reads under way held {@link MAX_READ_BYTES}. */
	busy?: number;
}

/**
 * Bytes the block reads under way may hold at once. The library reads a piece whole to
 * answer a block of it, so a 64-byte request for a piece not being read costs a whole
 * piece of memory until the disk answers: without a bound, a flood of requests for
 * distinct pieces held one piece each (150 MiB for 16,000 requests on loopback, without
 * limit on a slow disk). A request past the bound is dropped, as if lost; the asker resends.
 */
export const MAX_READ_BYTES = 64 * 1024 * 1024;

/** Revisions of our list whose changes are kept, so peers holding one can fetch a delta. */
export const DELTA_HISTORY_REVISIONS = 64;
/** Most changes kept over that history (older revisions are forgotten first). */
export const DELTA_HISTORY_CHANGES = 65_536;

/** Our shared list as of one revision: every file, then empty folders, sorted by name. */
interface ListSnapshot {
	revision: number;
	entries: ListEntry[];
	/** Entries by key (file id and name), for diffing revisions. */
	byKey: Map<string, ListEntry>;
}

/** The changes from one revision to the next one we saw. */
interface HistoryStep {
	from: number;
	to: number;
	changes: ListChange[];
}

/**
 * A file served outside the library: one offered to one receiver (docs/protocol.md §16),
 * answered only to the addresses the lookup accepts.
 */
export interface OfferedFile {
	/** The manifest's encoding (its BLAKE3 is the file id). */
	manifestBytes: Buffer;
	/** Size in bytes. */
	size: number;
	/** Piece size in bytes (blocks never cross a piece). */
	pieceSize: number;
	/** Reads `length` bytes at `offset`; null when the file changed or cannot be read. */
	read(offset: number, length: number): Promise<Buffer | null>;
}

/** The library surface the send service needs. */
export type ServedLibrary = Pick<Library, "files" | "get" | "read" | "revision" | "directories">;

/** Answers requests on the send port. */
export class SendService {
	readonly stats: ServeStats = {
		malformed: 0,
		retries: 0,
		uploaded: 0,
		listPages: 0,
		listEntries: 0,
		deltaPages: 0,
		deltaChanges: 0,
		deltaFallbacks: 0,
		busy: 0,
	};
	/** Block reads under way: requests waiting per piece (or per partial read). */
	private readonly reading = new Map<string, number>();
	/** Bytes those reads hold (a piece each, or a block for a partial download's). */
	private readingBytes = 0;
	private readSeq = 0;
	private snapshot: ListSnapshot | undefined;
	/** Changes between the revisions we handed out, oldest first (bounded). */
	private history: HistoryStep[] = [];
	/** The last delta composed, for the pages after its first. */
	private lastDelta: { since: number; revision: number; changes: ListChange[] } | undefined;

	constructor(
		private readonly library: ServedLibrary,
		private readonly tokens: TokenIssuer,
		/**
		 * Sends one datagram (or its parts, sent as one) to `to`; must not throw. Returns
		 * false when it dropped the datagram instead (an upload cap's full queue).
		 */
		private readonly send: (
			datagram: Buffer | Buffer[],
			to: Endpoint,
			/** Names a data answer (asker, file, offset), so a queue can drop a repeat. */
			key?: string,
		) => unknown,
		/**
		 * Reads a block of a file we do not share but are fetching (partial seeding): resolves
		 * null unless the block lies in a verified piece on disk.
		 */
		private readonly partial?: (
			id: string,
			offset: number,
			length: number,
		) => Promise<Buffer | null>,
		/** Told of every request that carried a valid token (its address is validated). */
		private readonly validated?: (from: Endpoint) => void,
		/** Bytes an envelope adds to every answer (a network key's seal); 0 when absent. */
		private readonly overhead: () => number = () => 0,
		/**
		 * Files offered to the asker (§16): looked up only when the library does not have the
		 * id, and only for the asker's address (`from`).
		 */
		private readonly offered?: (id: string, from: Endpoint) => OfferedFile | undefined,
		/**
		 * Sends a range answer's datagrams (each its parts) to `to` in one go (GSO); returns
		 * false when they must go one by one through `send` instead (an upload cap).
		 */
		private readonly sendMany?: (datagrams: Buffer[][], to: Endpoint) => boolean,
	) {}

	/**
	 * Handles one datagram that arrived on the send port.
	 * @param bytes - untrusted datagram
	 * @param from - its source address and port
	 */
	recv(bytes: Uint8Array, from: Endpoint): void {
		const message = decodeMessage(bytes);
		if (
			!message ||
			(message.type !== "listRequest" &&
				message.type !== "listDeltaRequest" &&
				message.type !== "manifestRequest" &&
				message.type !== "blockRequest" &&
				message.type !== "rangeRequest")
		) {
			this.stats.malformed++;
			return;
		}
		if (!this.tokens.check(message.token, from.address, from.port)) {
			this.stats.retries++;
			const requestId =
				message.type === "blockRequest" || message.type === "rangeRequest" ? 0 : message.requestId;
			const token = this.tokens.issue(from.address, from.port);
			this.send(encodeMessage({ type: "retry", requestId, token }), from);
			return;
		}
		this.validated?.(from);
		this.answer(message, from);
	}

	private answer(message: Message, from: Endpoint): void {
		const budget = maxDatagramFor(from.address, this.overhead());
		if (message.type === "listRequest") {
			const list = this.current();
			const entries: ListEntry[] = [];
			let size = LIST_PAGE_OVERHEAD;
			for (let i = message.index; i < list.entries.length; i++) {
				const entry = list.entries[i];
				const entrySize = listEntrySize(entry);
				if (size + entrySize > budget) break;
				size += entrySize;
				entries.push(entry);
			}
			const index = Math.min(message.index, list.entries.length);
			this.stats.listPages++;
			this.stats.listEntries += entries.length;
			this.send(
				encodeMessage({
					type: "listPage",
					requestId: message.requestId,
					revision: list.revision,
					total: list.entries.length,
					index,
					entries,
				}),
				from,
			);
		} else if (message.type === "listDeltaRequest") {
			const list = this.current();
			const changes = this.delta(message.since, list);
			if (!changes) {
				this.stats.deltaFallbacks++;
				this.send(
					encodeMessage({
						type: "listDelta",
						requestId: message.requestId,
						status: DeltaStatus.fullList,
						since: message.since,
						revision: list.revision,
						total: 0,
						index: 0,
						changes: [],
					}),
					from,
				);
				return;
			}
			const page: ListChange[] = [];
			let size = LIST_DELTA_OVERHEAD;
			for (let i = message.index; i < changes.length; i++) {
				const changeSize = listChangeSize(changes[i]);
				if (size + changeSize > budget) break;
				size += changeSize;
				page.push(changes[i]);
			}
			this.stats.deltaPages++;
			this.stats.deltaChanges += page.length;
			this.send(
				encodeMessage({
					type: "listDelta",
					requestId: message.requestId,
					status: DeltaStatus.ok,
					since: message.since,
					revision: list.revision,
					total: changes.length,
					index: Math.min(message.index, changes.length),
					changes: page,
				}),
				from,
			);
		} else if (message.type === "manifestRequest") {
			const id = toHex(message.fileId);
			const file = this.library.get(id) ?? this.offered?.(id, from);
			if (!file || message.offset > file.manifestBytes.length) {
				this.sendError(
					message.fileId,
					message.requestId,
					file ? ErrorCode.badRange : ErrorCode.notFound,
					from,
				);
				return;
			}
			const bytes = file.manifestBytes.subarray(
				message.offset,
				message.offset + budget - MANIFEST_CHUNK_OVERHEAD,
			);
			this.send(
				encodeMessage({
					type: "manifestChunk",
					requestId: message.requestId,
					fileId: message.fileId,
					total: file.manifestBytes.length,
					offset: message.offset,
					bytes,
				}),
				from,
			);
		} else if (message.type === "rangeRequest") {
			this.answerRange(message.fileId, message.offset, message.length, message.blockSize, from);
		} else if (message.type === "blockRequest") {
			if (message.length + DATA_OVERHEAD > budget) {
				this.sendError(message.fileId, message.offset, ErrorCode.badRange, from);
				return;
			}
			const fileId = Buffer.from(message.fileId);
			const id = toHex(fileId);
			const release = this.reserveRead(id, message.offset, message.length);
			if (!release) {
				this.stats.busy = (this.stats.busy ?? 0) + 1;
				return;
			}
			// A failed read is answered as one that found nothing (and gives its bytes back).
			const reading = this.read(id, message.offset, message.length, from).catch(() => null);
			void reading.then((payload) => {
				release();
				if (!payload) {
					const code =
						this.library.get(id) || this.offered?.(id, from)
							? ErrorCode.badRange
							: ErrorCode.notFound;
					this.sendError(fileId, message.offset, code, from);
					return;
				}
				const data = { type: "data" as const, fileId, offset: message.offset, payload };
				const key = `${from.address}:${from.port}:${id}:${message.offset}`;
				if (this.send([encodeDataHeader(data), payload], from, key) !== false)
					this.stats.uploaded += payload.length;
			});
		}
	}

	/**
	 * Answers a range request (revision 3): one read of the whole range, then one `data`
	 * datagram per block of `blockSize` bytes, sent back to back. Refused (badRange, `ref` the
	 * offset) when a block would not fit our ceiling towards the asker, or the range is not
	 * inside the file and one piece; notFound when the file is not shared.
	 */
	private answerRange(
		fileIdBytes: Uint8Array,
		offset: number,
		length: number,
		blockSize: number,
		from: Endpoint,
	): void {
		const fileId = Buffer.from(fileIdBytes);
		if (blockSize + DATA_OVERHEAD > maxDatagramFor(from.address, this.overhead())) {
			this.sendError(fileId, offset, ErrorCode.badRange, from);
			return;
		}
		const id = toHex(fileId);
		const release = this.reserveRead(id, offset, length);
		if (!release) {
			this.stats.busy = (this.stats.busy ?? 0) + 1;
			return;
		}
		const reading = this.read(id, offset, length, from).catch(() => null);
		void reading.then((range) => {
			release();
			if (!range) {
				const code =
					this.library.get(id) || this.offered?.(id, from)
						? ErrorCode.badRange
						: ErrorCode.notFound;
				this.sendError(fileId, offset, code, from);
				return;
			}
			const datagrams: Buffer[][] = [];
			for (let at = 0; at < range.length; at += blockSize) {
				const payload = range.subarray(at, Math.min(range.length, at + blockSize));
				const data = { type: "data" as const, fileId, offset: offset + at, payload };
				datagrams.push([encodeDataHeader(data), payload]);
			}
			if (this.sendMany?.(datagrams, from)) {
				this.stats.uploaded += range.length;
				return;
			}
			for (const datagram of datagrams) {
				const at = datagram[0].readBigUInt64BE(datagram[0].length - 8);
				const key = `${from.address}:${from.port}:${id}:${at}`;
				if (this.send(datagram, from, key) !== false) this.stats.uploaded += datagram[1].length;
			}
		});
	}

	/**
	 * Our list as of the library's current revision, built once per revision. A revision
	 * not seen before is diffed against the last one seen and the changes kept in the
	 * history: every revision a peer can hold was handed out by this method, so the
	 * history has a step from each of them (until it is forgotten).
	 */
	private current(): ListSnapshot {
		const revision = this.library.revision;
		if (this.snapshot?.revision === revision) return this.snapshot;
		const entries: ListEntry[] = [];
		const byKey = new Map<string, ListEntry>();
		const add = (entry: ListEntry) => {
			const key = keyOf(entry);
			if (byKey.has(key)) return;
			byKey.set(key, entry);
			entries.push(entry);
		};
		const files = this.library.files();
		for (const f of files) {
			add({ fileId: f.idBytes, size: f.size, contentHash: f.manifest.contentHash, name: f.name });
		}
		// Only folders no shared file lies under: the others are implied by the files' paths.
		const full = new Set<string>();
		for (const f of files) {
			for (let at = f.name.indexOf("/"); at > 0; at = f.name.indexOf("/", at + 1))
				full.add(f.name.slice(0, at));
		}
		for (const dir of this.library.directories()) {
			if (!full.has(dir) && dir.length > 0 && Buffer.byteLength(dir) <= 1024) add(folderEntry(dir));
		}
		entries.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
		const next: ListSnapshot = { revision, entries, byKey };
		if (this.snapshot) this.remember(this.snapshot, next);
		this.snapshot = next;
		return next;
	}

	/** Keeps the changes from `before` to `after`, forgetting the oldest past the bounds. */
	private remember(before: ListSnapshot, after: ListSnapshot): void {
		const changes: ListChange[] = [];
		for (const [key, entry] of before.byKey)
			if (!after.byKey.has(key)) changes.push({ removed: true, entry });
		for (const [key, entry] of after.byKey)
			if (!before.byKey.has(key)) changes.push({ removed: false, entry });
		this.history.push({ from: before.revision, to: after.revision, changes });
		let kept = this.history.reduce((n, step) => n + step.changes.length, 0);
		while (
			this.history.length > DELTA_HISTORY_REVISIONS ||
			(kept > DELTA_HISTORY_CHANGES && this.history.length > 0)
		) {
			kept -= this.history[0].changes.length;
			this.history.shift();
		}
		this.lastDelta = undefined;
	}

	/**
	 * The net changes from revision `since` to `list`, or null when there is no delta
	 * from it: a revision we never handed out or have forgotten, or a delta longer than
	 * the whole list (then the list is cheaper).
	 */
	private delta(since: number, list: ListSnapshot): ListChange[] | null {
		if (since === list.revision) return [];
		if (this.lastDelta?.since === since && this.lastDelta.revision === list.revision)
			return this.lastDelta.changes;
		// The latest step from that revision (a wrapped counter could repeat an old number).
		let start = this.history.length - 1;
		while (start >= 0 && this.history[start].from !== since) start--;
		if (start < 0) return null;
		// Net effect per key: an entry added then removed (or removed then added back) cancels.
		const net = new Map<string, ListChange>();
		for (const step of this.history.slice(start)) {
			for (const change of step.changes) {
				const key = keyOf(change.entry);
				const earlier = net.get(key);
				if (earlier && earlier.removed !== change.removed) net.delete(key);
				else net.set(key, change);
			}
		}
		if (net.size > list.entries.length) return null;
		const changes = [...net.values()].sort(
			(a, b) =>
				Number(b.removed) - Number(a.removed) ||
				(a.entry.name < b.entry.name ? -1 : a.entry.name > b.entry.name ? 1 : 0),
		);
		this.lastDelta = { since, revision: list.revision, changes };
		return changes;
	}

	/**
	 * Counts a block read against {@link MAX_READ_BYTES}: a piece of a shared file costs a
	 * whole piece unless a read of it is already under way; a block of a partial download
	 * costs its length. One read always goes ahead, however large its piece.
	 * @returns the function that gives the bytes back once the read is done, or undefined
	 *   when the read would pass the bound
	 */
	private reserveRead(id: string, offset: number, length: number): (() => void) | undefined {
		const pieceSize = this.library.get(id)?.manifest.pieceSize;
		const key =
			pieceSize === undefined
				? `partial:${++this.readSeq}`
				: `${id}:${Math.floor(offset / pieceSize)}`;
		const cost = pieceSize ?? length;
		const waiting = this.reading.get(key) ?? 0;
		if (waiting === 0) {
			if (this.readingBytes > 0 && this.readingBytes + cost > MAX_READ_BYTES) return undefined;
			this.readingBytes += cost;
		}
		this.reading.set(key, waiting + 1);
		return () => {
			const left = (this.reading.get(key) ?? 1) - 1;
			if (left > 0) this.reading.set(key, left);
			else {
				this.reading.delete(key);
				this.readingBytes -= cost;
			}
		};
	}

	/** Reads from the library, then from downloads in progress. */
	private async read(
		id: string,
		offset: number,
		length: number,
		from: Endpoint,
	): Promise<Buffer | null> {
		const shared = await this.library.read(id, offset, length);
		if (shared) return shared;
		const offered = this.offered?.(id, from);
		if (offered) {
			const pieceSize = offered.pieceSize;
			// Inside the file and inside one piece, as a shared file's blocks.
			if (
				length <= 0 ||
				offset + length > offered.size ||
				Math.floor(offset / pieceSize) !== Math.floor((offset + length - 1) / pieceSize)
			)
				return null;
			return offered.read(offset, length);
		}
		if (!this.partial) return null;
		return this.partial(id, offset, length);
	}

	private sendError(fileId: Uint8Array, ref: number, code: number, to: Endpoint): void {
		this.send(encodeMessage({ type: "error", code, fileId, ref }), to);
	}
}

/** Identity of a list entry: its file id and its name (one file may be at two paths). */
function keyOf(entry: ListEntry): string {
	return `${toHex(entry.fileId)}/${entry.name}`;
}
