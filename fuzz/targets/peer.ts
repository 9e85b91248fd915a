/**
 * Fuzz target: the stateful fuzzer (fuzz/stateful.ts). Each input is a sequence of
 * messages played against one live peer on loopback, which must go on answering lists and
 * blocks right, download its file right, and keep its memory bounded. Async (Jazzer.js
 * awaits a returned promise); the peer starts on the first input.
 */
import fc from "fast-check";
import { PeerFuzzer } from "../stateful.js";

/** A sequence is checked by round trips, not by the decoders' 10 ms. */
export const timeLimitMs = 10_000;
/** Sequences are short: the first 48 operations count. */
export const maxLength = 1024;
/** The peer's download allocates as it goes: memory is checked after full collections instead. */
export const checkMemory = false;

/** Fresh sequences mixed into the run: a few dozen operations each. */
export const generator = fc
	.uint8Array({ minLength: 40, maxLength: 400, size: "max" })
	.map(Buffer.from);

let fuzzer: Promise<PeerFuzzer> | undefined;

export async function fuzz(data: Buffer): Promise<void> {
	fuzzer ??= PeerFuzzer.start({
		downloadSize: 4 * 1024 * 1024,
		seederRate: 1024 * 1024,
		// P2P_FUZZ_LIARS=0 keeps the hostile peer from serving corrupt blocks (see `liars`).
		liars: process.env.P2P_FUZZ_LIARS !== "0",
	});
	await (await fuzzer).sequence(data);
}

/** Final checks (memory, the download under way finishes right), then stops the peers. */
export async function close(): Promise<void> {
	if (!fuzzer) return;
	const f = await fuzzer;
	try {
		f.checkMemory();
		// Within the runner's hang watchdog (20 s without progress).
		await f.finishDownload(8_000);
	} finally {
		await f.close();
	}
}

/** One line on what the session did. */
export async function report(): Promise<string> {
	if (!fuzzer) return "";
	const s = (await fuzzer).stats;
	return `${s.sequences} sequences, ${s.datagrams} datagrams, ${s.checks} live checks passed, downloads ${s.downloadsVerified} verified / ${s.downloadsFailed} failed, sink asked ${s.sinkRequests} times, heap +${(s.heapGrowth / 1048576).toFixed(1)} MiB`;
}
