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
	decodeMessage,
	ErrorCode,
	encodeDataHeader,
	encodeMessage,
	LIST_PAGE_OVERHEAD,
	type ListEntry,
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
}

/** Answers requests on the send port. */
export class SendService {
	readonly stats: ServeStats = { malformed: 0, retries: 0, uploaded: 0 };

	constructor(
		private readonly library: Pick<Library, "files" | "get" | "read" | "revision">,
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
				message.type !== "manifestRequest" &&
				message.type !== "blockRequest")
		) {
			this.stats.malformed++;
			return;
		}
		if (!this.tokens.check(message.token, from.address, from.port)) {
			this.stats.retries++;
			const requestId = message.type === "blockRequest" ? 0 : message.requestId;
			const token = this.tokens.issue(from.address, from.port);
			this.send(encodeMessage({ type: "retry", requestId, token }), from);
			return;
		}
		this.answer(message, from);
	}

	private answer(message: Message, from: Endpoint): void {
		const budget = maxDatagramFor(from.address);
		if (message.type === "listRequest") {
			const files = this.library.files();
			const entries: ListEntry[] = [];
			let size = LIST_PAGE_OVERHEAD;
			for (let i = message.index; i < files.length; i++) {
				const f = files[i];
				const entry = {
					fileId: f.idBytes,
					size: f.size,
					contentHash: f.manifest.contentHash,
					name: f.name,
				};
				const entrySize = listEntrySize(entry);
				if (size + entrySize > budget) break;
				size += entrySize;
				entries.push(entry);
			}
			const index = Math.min(message.index, files.length);
			this.send(
				encodeMessage({
					type: "listPage",
					requestId: message.requestId,
					revision: this.library.revision,
					total: files.length,
					index,
					entries,
				}),
				from,
			);
		} else if (message.type === "manifestRequest") {
			const file = this.library.get(toHex(message.fileId));
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
		} else if (message.type === "blockRequest") {
			if (message.length + DATA_OVERHEAD > budget) {
				this.sendError(message.fileId, message.offset, ErrorCode.badRange, from);
				return;
			}
			const fileId = Buffer.from(message.fileId);
			const id = toHex(fileId);
			void this.read(id, message.offset, message.length).then((payload) => {
				if (!payload) {
					const code = this.library.get(id) ? ErrorCode.badRange : ErrorCode.notFound;
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

	/** Reads from the library, then from downloads in progress. */
	private async read(id: string, offset: number, length: number): Promise<Buffer | null> {
		const shared = await this.library.read(id, offset, length);
		if (shared || !this.partial) return shared;
		return this.partial(id, offset, length);
	}

	private sendError(fileId: Uint8Array, ref: number, code: number, to: Endpoint): void {
		this.send(encodeMessage({ type: "error", code, fileId, ref }), to);
	}
}
