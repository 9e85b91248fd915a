/**
 * Large pieces assembled on disk: what keeps a download's memory bounded whatever piece size a
 * (valid) manifest names.
 *
 * A manifest may say that pieces are 1 GiB (§4 of docs/protocol.md allows 16 KiB to 1 GiB), and
 * a piece can only be checked once all of it is in. Pieces up to {@link SPILL_PIECE_BYTES} are
 * assembled in memory, as before; larger ones are written to their place in the partial file
 * as their blocks arrive (unverified: the resume record never names them until they pass), and
 * hashed back from the file when complete. Blocks are gathered in aligned chunks of
 * {@link SPILL_CHUNK_BYTES} so the disk sees large writes; at most {@link MAX_STAGED_BYTES} are
 * held in chunks not yet full (past that the oldest is written as it stands), and the download
 * stops asking while more than {@link MAX_SPILL_BACKLOG} bytes wait for the disk.
 *
 * Owns: the staged chunks, their writes, and the BLAKE3 of a range of the partial file.
 */
import type fs from "node:fs/promises";
import { createHasher } from "../protocol/hash.js";

/** Pieces larger than this (bytes) are assembled in the partial file instead of memory. */
export const SPILL_PIECE_BYTES = 1024 * 1024;
/** Size and alignment of a staged chunk, in bytes (divides every spilled piece size). */
export const SPILL_CHUNK_BYTES = 256 * 1024;
/** Most bytes held in chunks not yet full, per download. */
export const MAX_STAGED_BYTES = 4 * 1024 * 1024;
/** Most bytes written but not yet on disk before the download stops asking for more. */
export const MAX_SPILL_BACKLOG = 8 * 1024 * 1024;
/** Read size when hashing a range back from the file, in bytes. */
const HASH_READ_BYTES = 1024 * 1024;

interface Chunk {
	piece: number;
	/** Absolute file offset of the chunk's first byte. */
	start: number;
	buffer: Buffer;
	/** Bytes of the chunk this piece covers (the last chunk of a file may be short). */
	length: number;
	got: number;
	/** Received ranges, relative to `start`: [at, length] pairs. */
	ranges: number[];
}

/** The chunks and writes of the spilled pieces of one download. */
export class PieceSpill {
	private readonly chunks = new Map<number, Chunk>();
	private readonly writes = new Map<number, Set<Promise<void>>>();
	private readonly failures = new Map<number, unknown>();
	private staged = 0;
	private writing = 0;

	/**
	 * @param handle - the partial file being written (undefined once closed: writes are skipped)
	 * @param drained - called when the write backlog falls back under {@link MAX_SPILL_BACKLOG}
	 */
	constructor(
		private readonly handle: () => fs.FileHandle | undefined,
		private readonly drained: () => void,
	) {}

	/** Bytes staged in memory and waiting for the disk. */
	get backlog(): number {
		return this.staged + this.writing;
	}

	/** Bytes held in chunks not yet full (at most {@link MAX_STAGED_BYTES} after each `put`). */
	get stagedBytes(): number {
		return this.staged;
	}

	/** True when the download should ask for nothing more until writes finish. */
	get full(): boolean {
		return this.writing > MAX_SPILL_BACKLOG;
	}

	/**
	 * Takes one received block of piece `piece` (each block exactly once).
	 * @param offset - absolute file offset of `payload`
	 * @param pieceEnd - absolute file offset just past the piece
	 */
	put(piece: number, offset: number, payload: Uint8Array, pieceEnd: number): void {
		let at = 0;
		while (at < payload.length) {
			const position = offset + at;
			const start = position - (position % SPILL_CHUNK_BYTES);
			let chunk = this.chunks.get(start);
			if (!chunk) {
				const length = Math.min(SPILL_CHUNK_BYTES, pieceEnd - start);
				chunk = { piece, start, buffer: Buffer.allocUnsafe(length), length, got: 0, ranges: [] };
				this.chunks.set(start, chunk);
				this.staged += length;
			}
			const take = Math.min(payload.length - at, chunk.start + chunk.length - position);
			chunk.buffer.set(payload.subarray(at, at + take), position - chunk.start);
			chunk.ranges.push(position - chunk.start, take);
			chunk.got += take;
			at += take;
			if (chunk.got >= chunk.length) this.writeChunk(chunk);
		}
		// Too much held in chunks that are not full (blocks lost or reordered): write the oldest
		// as it stands, its received ranges only; later blocks start a new chunk there.
		while (this.staged > MAX_STAGED_BYTES) {
			const oldest = this.chunks.values().next().value;
			if (!oldest) break;
			this.writeChunk(oldest);
		}
	}

	/**
	 * Writes whatever of piece `piece` is staged and resolves once every write of it is done.
	 * @throws (rejects) the fs error of a failed write of the piece
	 */
	async flush(piece: number): Promise<void> {
		for (const chunk of [...this.chunks.values()])
			if (chunk.piece === piece) this.writeChunk(chunk);
		const pending = this.writes.get(piece);
		if (pending) await Promise.all(pending);
		this.writes.delete(piece);
		const failure = this.failures.get(piece);
		this.failures.delete(piece);
		if (failure !== undefined) throw failure;
	}

	/** Forgets the staged chunks of piece `piece` (its fetch was given up); writes under way end. */
	drop(piece: number): void {
		for (const [start, chunk] of this.chunks) {
			if (chunk.piece !== piece) continue;
			this.chunks.delete(start);
			this.staged -= chunk.length;
		}
		this.failures.delete(piece);
	}

	/** Forgets everything staged (the download ended). */
	clear(): void {
		this.chunks.clear();
		this.staged = 0;
		this.failures.clear();
	}

	private writeChunk(chunk: Chunk): void {
		this.chunks.delete(chunk.start);
		this.staged -= chunk.length;
		const handle = this.handle();
		if (!handle) return;
		const runs = chunk.got >= chunk.length ? [0, chunk.length] : mergeRanges(chunk.ranges);
		const bytes = chunk.got;
		this.writing += bytes;
		const job = (async () => {
			for (let i = 0; i < runs.length; i += 2) {
				const [at, length] = [runs[i], runs[i + 1]];
				let done = 0;
				while (done < length) {
					const { bytesWritten } = await handle.write(
						chunk.buffer,
						at + done,
						length - done,
						chunk.start + at + done,
					);
					done += bytesWritten;
				}
			}
		})().catch((error: unknown) => {
			if (!this.failures.has(chunk.piece)) this.failures.set(chunk.piece, error);
		});
		let pending = this.writes.get(chunk.piece);
		if (!pending) {
			pending = new Set();
			this.writes.set(chunk.piece, pending);
		}
		const set = pending;
		set.add(job);
		void job.finally(() => {
			set.delete(job);
			const wasFull = this.full;
			this.writing -= bytes;
			if (wasFull && !this.full) this.drained();
		});
	}
}

/** Sorted, merged [at, length] runs of a list of [at, length] pairs. */
function mergeRanges(ranges: number[]): number[] {
	const pairs: [number, number][] = [];
	for (let i = 0; i < ranges.length; i += 2) pairs.push([ranges[i], ranges[i + 1]]);
	pairs.sort((a, b) => a[0] - b[0]);
	const out: number[] = [];
	for (const [at, length] of pairs) {
		const last = out.length - 2;
		if (last >= 0 && out[last] + out[last + 1] >= at)
			out[last + 1] = Math.max(out[last + 1], at + length - out[last]);
		else out.push(at, length);
	}
	return out;
}

/**
 * BLAKE3 of `length` bytes of an open file from `position`, read {@link HASH_READ_BYTES} at a
 * time (so a 1 GiB piece costs 1 MiB of memory to check).
 * @throws (rejects) the fs error of a failed read, or an Error when the file ends early
 */
export async function hashRange(
	handle: fs.FileHandle,
	position: number,
	length: number,
): Promise<Buffer> {
	const hasher = createHasher();
	const chunk = Buffer.allocUnsafe(Math.min(HASH_READ_BYTES, Math.max(length, 1)));
	let done = 0;
	while (done < length) {
		const want = Math.min(chunk.length, length - done);
		const { bytesRead } = await handle.read(chunk, 0, want, position + done);
		if (bytesRead === 0) throw new Error("file ends early");
		hasher.update(chunk.subarray(0, bytesRead));
		done += bytesRead;
	}
	return hasher.digest();
}
