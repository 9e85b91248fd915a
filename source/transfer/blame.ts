/**
 * Who is blamed for a bad piece (docs/protocol.md §6.1): the record of a failed fetch (who
 * sent each block and a 64-bit fingerprint of it, never the bytes) and the smart ban that
 * compares it with the piece once it verifies. `download.ts` gives the strikes these return.
 */
import { hash } from "../protocol/hash.js";
import type { SourceState } from "./source-state.js";

/**
 * Bad pieces traceable to a peer after which it is banned for the session (see `strike`):
 * one is forgiven (a path that corrupts a datagram past its UDP checksum looks the same as
 * a liar), the second is not.
 */
export const BAN_BAD_PIECES = 2;
/** Failed piece fetches whose block fingerprints are kept for the smart ban, at most. */
export const MAX_FAILED_RECORDS = 64;
/** Block fingerprints kept per failed piece, at most (over all its failed fetches). */
export const MAX_RECORD_BLOCKS = 4096;

/** A fetch of a piece as `verified` judges it. */
export interface FetchInfo {
	id: number;
	blockSize: number;
	/** Sender of each block (by block index). */
	senders: (SourceState | undefined)[];
	contributors: SourceState[];
}

/** One block of a failed fetch: where, who sent it, and a fingerprint of what it sent. */
export interface BlockPrint {
	offset: number;
	length: number;
	peerId: string;
	print: bigint;
}

/** The blocks of one failed fetch of a piece. */
export interface FailedFetch {
	fetch: number;
	blocks: BlockPrint[];
}

/** A 64-bit fingerprint of a block: the first 8 bytes of its BLAKE3. */
export function fingerprint(block: Uint8Array): bigint {
	return hash(block).readBigUInt64BE(0);
}

/**
 * Keeps who sent each block of failed fetch `fetch` of piece `index` and a fingerprint of it
 * in `records` (at most MAX_RECORD_BLOCKS per piece, MAX_FAILED_RECORDS pieces).
 * @param data - the failed piece
 * @returns the peers that sent other bytes for a block they sent in an earlier failed fetch
 *   (two contents for one block: a strike for this fetch each)
 */
export function recordFailedFetch(
	records: Map<number, FailedFetch[]>,
	index: number,
	data: Buffer,
	fetch: FetchInfo,
): string[] {
	const strikes: string[] = [];
	const blocks: BlockPrint[] = [];
	for (let block = 0; block < fetch.senders.length; block++) {
		const sender = fetch.senders[block];
		if (!sender) continue;
		const offset = block * fetch.blockSize;
		const length = Math.min(fetch.blockSize, data.length - offset);
		blocks.push({
			offset,
			length,
			peerId: sender.peerId,
			print: fingerprint(data.subarray(offset, offset + length)),
		});
	}
	const pieceRecords = records.get(index) ?? [];
	for (const earlier of pieceRecords) {
		for (const a of earlier.blocks) {
			for (const b of blocks) {
				if (
					a.peerId === b.peerId &&
					a.offset === b.offset &&
					a.length === b.length &&
					a.print !== b.print
				)
					strikes.push(b.peerId);
			}
		}
	}
	pieceRecords.push({ fetch: fetch.id, blocks });
	let kept = 0;
	for (const r of pieceRecords) kept += r.blocks.length;
	while (pieceRecords.length > 1 && kept > MAX_RECORD_BLOCKS)
		kept -= pieceRecords.shift()?.blocks.length ?? 0;
	records.delete(index);
	records.set(index, pieceRecords);
	if (records.size > MAX_FAILED_RECORDS) {
		const oldest = records.keys().next().value;
		if (oldest !== undefined) records.delete(oldest);
	}
	return strikes;
}

/**
 * Smart ban: piece `index` passed its hash (`data` is the verified piece).
 * @returns every (peer, failed fetch) whose block differs from the verified bytes: a strike
 *   each; the records of the piece are dropped
 */
export function judgeFailedFetches(
	records: Map<number, FailedFetch[]>,
	index: number,
	data: Buffer,
): { peerId: string; fetch: number }[] {
	const strikes: { peerId: string; fetch: number }[] = [];
	const kept = records.get(index);
	if (!kept) return strikes;
	records.delete(index);
	for (const record of kept) {
		for (const b of record.blocks) {
			if (b.offset + b.length > data.length) continue;
			if (fingerprint(data.subarray(b.offset, b.offset + b.length)) !== b.print)
				strikes.push({ peerId: b.peerId, fetch: record.fetch });
		}
	}
	return strikes;
}
