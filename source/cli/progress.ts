/**
 * Progress of a headless download (`get`): a bar drawn with cli-progress on a terminal, or
 * plain lines where no one watches a terminal (a pipe, a log, CI), one every second or
 * every tenth of the way, e.g. `a.bin 45% 120.3 MB/s ETA 3s`.
 */
import cliProgress from "cli-progress";
import { formatRate, printable } from "../ui/format.js";

/** Where progress goes. */
export interface ProgressTarget {
	/** A terminal to draw the bar on; when absent, plain lines go to `line`. */
	tty?: NodeJS.WritableStream;
	/** Writes one plain line. */
	line: (text: string) => void;
}

/** Least time between two plain lines, in ms, unless a tenth of the way is crossed. */
const LINE_INTERVAL_MS = 1_000;
/** While a download waits for the same reason, a line saying so at most this often, in ms. */
export const WAIT_LINE_MS = 10_000;

/**
 * Seconds as a short duration: `3s`, `2m05s`, `1h02m`.
 * @param seconds - a duration; not finite or negative gives `--`
 */
export function formatEta(seconds: number): string {
	if (!Number.isFinite(seconds) || seconds < 0) return "--";
	const s = Math.ceil(seconds);
	if (s < 60) return `${s}s`;
	if (s < 3600) return `${Math.floor(s / 60)}m${String(s % 60).padStart(2, "0")}s`;
	return `${Math.floor(s / 3600)}h${String(Math.floor((s % 3600) / 60)).padStart(2, "0")}m`;
}

/**
 * One plain progress line: name, whole percent (rounded down), then rate and time left,
 * or why the download waits.
 * @param name - what is downloaded (control characters are made visible)
 * @param done - bytes done
 * @param total - bytes in all
 * @param rate - bytes per second now
 * @param reason - why it waits (queued, no peer, a full disk), shown instead of rate and ETA
 * @returns e.g. `a.bin 45% 120.3 MB/s ETA 3s` (`ETA --` while the rate is 0), or
 *   `a.bin 62% waiting for peers`
 */
export function progressLine(
	name: string,
	done: number,
	total: number,
	rate: number,
	reason?: string,
): string {
	const pct = total > 0 ? Math.floor((done * 100) / total) : 100;
	if (reason !== undefined && done < total)
		return `${printable(name)} ${pct}% ${printable(reason)}`;
	const eta = rate > 0 ? (total - done) / rate : Number.NaN;
	return `${printable(name)} ${pct}% ${formatRate(rate)} ETA ${done >= total ? "0s" : formatEta(eta)}`;
}

/** The progress of one download, shown as a bar or as lines (see the module comment). */
export class ProgressReport {
	private readonly bar: cliProgress.SingleBar | undefined;
	private lastLineAt = Number.NEGATIVE_INFINITY;
	private lastTenth = -1;
	private lastPct = -1;
	private done = 0;
	private rate = 0;
	private ended = false;
	/** Why the download waits (a full disk), shown instead of the rate; undefined when not. */
	private reason: string | undefined;

	/**
	 * @param name - what is downloaded
	 * @param total - its size in bytes
	 * @param target - where the bar or the lines go
	 * @param now - clock in ms (default `Date.now`)
	 */
	constructor(
		private readonly name: string,
		private readonly total: number,
		private readonly target: ProgressTarget,
		private readonly now: () => number = Date.now,
	) {
		if (target.tty) {
			this.bar = new cliProgress.SingleBar({
				stream: target.tty,
				// `{eta}` is cli-progress's own (whole seconds): ours is `{left}`, as the plain lines say it.
				format: "{name} [{bar}] {percentage}% | {rate} | ETA {left}",
				barsize: 30,
				hideCursor: true,
				fps: 5,
			});
			this.bar.start(Math.max(1, total), 0, this.payload());
		}
	}

	private payload() {
		const left = this.rate > 0 ? (this.total - this.done) / this.rate : Number.NaN;
		return {
			name: printable(this.name),
			rate: this.reason === undefined ? formatRate(this.rate) : printable(this.reason),
			left: this.done >= this.total ? "0s" : formatEta(left),
		};
	}

	/**
	 * Shows new progress: the bar moves; a plain line is written when a second passed
	 * since the last one or a new tenth of the way is reached.
	 * @param done - bytes done (resumed bytes included)
	 * @param rate - bytes per second now
	 * @param reason - why the download waits (`queued (#2 in line, 3 at once)`, `waiting for
	 *   peers`, `disk full: waiting for space …`): the bar shows it instead of the rate; as
	 *   plain lines it replaces rate and ETA, in a line written when the reason appears or
	 *   changes and then at most every {@link WAIT_LINE_MS} while it stays
	 */
	update(done: number, rate: number, reason?: string): void {
		if (this.ended) return;
		this.done = Math.min(done, this.total);
		this.rate = rate;
		const newReason = reason !== undefined && reason !== this.reason;
		this.reason = reason;
		if (this.bar) {
			this.bar.update(this.done, this.payload());
			return;
		}
		const pct = this.total > 0 ? Math.floor((this.done * 100) / this.total) : 100;
		const tenth = Math.floor(pct / 10);
		const at = this.now();
		if (reason !== undefined) {
			// Nothing moves: say why, not `0 B/s ETA --` every second.
			if (newReason || at - this.lastLineAt >= WAIT_LINE_MS) {
				this.lastLineAt = at;
				this.lastPct = pct;
				this.lastTenth = Math.max(this.lastTenth, tenth);
				this.target.line(progressLine(this.name, this.done, this.total, rate, reason));
			}
			return;
		}
		if (tenth > this.lastTenth || (at - this.lastLineAt >= LINE_INTERVAL_MS && pct < 100)) {
			this.lastTenth = tenth;
			this.lastLineAt = at;
			this.lastPct = pct;
			this.target.line(progressLine(this.name, this.done, this.total, rate));
		}
	}

	/**
	 * Ends the report. A finished download shows 100% (a last line if none said so yet);
	 * a failed one leaves the bar where it stopped.
	 * @param complete - true when the download completed
	 */
	end(complete: boolean): void {
		if (this.ended) return;
		if (complete) {
			this.done = this.total;
			if (this.bar) this.bar.update(this.total, this.payload());
			else if (this.lastPct < 100)
				this.target.line(progressLine(this.name, this.total, this.total, this.rate));
		}
		this.ended = true;
		this.bar?.stop();
	}
}
