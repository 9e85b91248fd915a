/**
 * Why a download is not moving, in words: shared by the Transfers pane and `get`'s progress
 * lines. Pure, and small on purpose: the headless commands load it without the UI.
 */
import type { TransferState } from "../peer/types.js";

/**
 * Why a transfer is not moving, in a few words, for every waiting state: queued behind the
 * downloads running (`queued (#2 in line, 3 at once)`), waiting for peers (none has the
 * file now), or its own reason (a full disk: `disk full: waiting for space …`), paused.
 *
 * @param transfer - the transfer
 * @param maxActive - downloads running at once, when known (said for a queued one)
 * @returns the reason, or undefined while it starts, downloads or has ended
 */
export function waitingReason(transfer: TransferState, maxActive?: number): string | undefined {
	switch (transfer.status) {
		case "queued": {
			const parts = [
				transfer.queuePosition ? `#${transfer.queuePosition} in line` : "",
				maxActive ? `${maxActive} at once` : "",
			].filter(Boolean);
			return parts.length > 0 ? `queued (${parts.join(", ")})` : "queued";
		}
		case "waiting":
			// A reason other than no peers (a full disk) is the download's own words.
			return transfer.error ?? "waiting for peers";
		case "paused":
			return "paused";
		default:
			return undefined;
	}
}
