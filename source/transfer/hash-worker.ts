/**
 * The worker thread of `HashPool` (`hash-pool.ts`): answers `hash`, `file` and `manifest` jobs
 * with BLAKE3 digests (and `readdir` jobs with a folder's entries, for the indexer) from `../protocol/hash.ts`, whose backend choice it shares (the pool sets
 * `P2P_TUI_BLAKE3` in this thread's environment to the main thread's choice). A `hash` job's
 * buffer is transferred back with the reply, so the bytes are never copied.
 * @module
 */
import { parentPort } from "node:worker_threads";
import { createHasher, hash, hashBackend } from "../protocol/hash.js";
import {
	advanceStreamSync,
	type HashJobMessage,
	type HashReplyMessage,
	hashFilePrefix,
	hashManifestFileSync,
	readDirSync,
	type StreamState,
	serializeError,
	writeAll,
} from "./hash-pool.js";

if (!parentPort) throw new Error("hash-worker.js runs only as a worker thread of HashPool");
const port = parentPort;

/**
 * A copy of `bytes` with an ArrayBuffer of its own. Small Buffers are views of an 8 KiB
 * shared slab, and postMessage clones a view's whole ArrayBuffer: 32 bytes of digest would
 * cross as 8 KiB, and a library of 10,000 manifests kept 160 MB of slabs alive.
 */
function own(bytes: Uint8Array): Buffer {
	const whole = bytes.byteOffset === 0 && bytes.byteLength === bytes.buffer.byteLength;
	const copy = whole ? bytes : new Uint8Array(bytes);
	return Buffer.from(copy.buffer, copy.byteOffset, copy.byteLength);
}

/** Content streams open on this worker, by id. */
const streams = new Map<number, StreamState>();

/** The content stream `id`, opened on first use. */
function stream(id: number): StreamState {
	let state = streams.get(id);
	if (!state) {
		state = { hasher: createHasher(), position: 0 };
		streams.set(id, state);
	}
	return state;
}

/** Runs one job and posts its reply. */
async function run(job: HashJobMessage): Promise<void> {
	try {
		if (job.op === "hash") {
			const bytes = new Uint8Array(job.buffer, 0, job.byteLength);
			const digest = own(hash(bytes));
			const reply: HashReplyMessage = { type: "done", id: job.id, digest };
			if (job.store && Buffer.from(digest).equals(job.store.expected)) {
				writeAll(job.store.fd, bytes, job.store.position);
				reply.written = true;
				// The piece the file's content stream needs next: feed it while it is in memory.
				const content = job.store.stream === undefined ? undefined : streams.get(job.store.stream);
				if (content && content.position === job.store.position) {
					content.hasher.update(bytes);
					content.position += bytes.length;
				}
			}
			if (job.buffer instanceof ArrayBuffer) {
				reply.buffer = job.buffer;
				port.postMessage(reply, [job.buffer]);
			} else {
				port.postMessage(reply);
			}
		} else if (job.op === "stream" && job.drop) {
			streams.delete(job.stream);
			port.postMessage({
				type: "done",
				id: job.id,
				digest: new Uint8Array(0),
			} satisfies HashReplyMessage);
		} else if (job.op === "stream") {
			const state = stream(job.stream);
			try {
				advanceStreamSync(state, job.fd, job.end);
			} catch (error) {
				streams.delete(job.stream);
				throw error;
			}
			let digest: Uint8Array = new Uint8Array(0);
			if (job.final) {
				streams.delete(job.stream);
				digest = own(state.hasher.digest());
			}
			port.postMessage({ type: "done", id: job.id, digest } satisfies HashReplyMessage);
		} else if (job.op === "readdir") {
			const entries = readDirSync(job.path);
			port.postMessage({
				type: "done",
				id: job.id,
				digest: new Uint8Array(0),
				entries,
			} satisfies HashReplyMessage);
		} else if (job.op === "manifest") {
			// Blocking reads: this thread has nothing else to do meanwhile.
			const hashed = hashManifestFileSync(job.path);
			const manifest = hashed.changed
				? hashed
				: { ...hashed, manifestBytes: own(hashed.manifestBytes), id: own(hashed.id) };
			const digest = manifest.changed ? new Uint8Array(0) : manifest.id;
			port.postMessage({ type: "done", id: job.id, digest, manifest } satisfies HashReplyMessage);
		} else {
			const digest = own(await hashFilePrefix(job.path, job.size));
			port.postMessage({ type: "done", id: job.id, digest } satisfies HashReplyMessage);
		}
	} catch (error) {
		port.postMessage({
			type: "failed",
			id: job.id,
			error: serializeError(error),
		} satisfies HashReplyMessage);
	}
}

port.on("message", (job: HashJobMessage) => {
	void run(job);
});
port.postMessage({ type: "ready", backend: hashBackend } satisfies HashReplyMessage);
