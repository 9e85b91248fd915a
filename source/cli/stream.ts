/**
 * `get --stdout`: writes a download's verified pieces to a stream in file order while the
 * download goes on. Owns the read position, the reads from the partial file (verified
 * pieces only: a piece is read once the download's have-map says it is on disk) and the
 * stream's backpressure and EPIPE. Where the have-map comes from (the download itself, or
 * `piece` messages of the control socket) is the caller's.
 */
import fs from "node:fs/promises";

/**
 * Bytes read at a time from a file that is complete already (an identical file was in
 * place, so there is no piece size): any size works when every "piece" is held.
 */
export const READ_CHUNK = 1024 * 1024;

/** The reader's view of a download. */
export interface StreamSource {
	/** Size of the file in bytes. */
	size: number;
	/** Piece size in bytes. */
	pieceSize: number;
	/** True when piece `index` is verified and on disk. */
	has(index: number): boolean;
	/**
	 * Files to read the pieces from, tried in order: the partial file, then the final path
	 * (once the download completed, the partial file was renamed to it).
	 */
	paths(): (string | undefined)[];
}

/** Why a stream ended early: the reader of our output went away (EPIPE). */
export class StreamClosed extends Error {
	constructor() {
		super("the reader closed the stream");
		this.name = "StreamClosed";
	}
}

/**
 * Writes the pieces of a download in order to `out` as they become available. Call `poke`
 * whenever a piece may have been verified; `done` settles when every byte is written, or
 * rejects with `StreamClosed` on EPIPE, or with the error of `stop`.
 */
export class PieceStream {
	/** The next piece to write. */
	next = 0;
	/** Bytes written so far. */
	written = 0;
	readonly done: Promise<void>;
	private readonly count: number;
	private handle: fs.FileHandle | undefined;
	private pumping = false;
	private ended = false;
	private resolve!: () => void;
	private reject!: (error: Error) => void;

	/**
	 * @param out - where the bytes go (stdout)
	 * @param source - the download's pieces
	 * @param onAdvance - told each new read position (to prioritize the pieces near it)
	 */
	constructor(
		private readonly out: NodeJS.WritableStream,
		private readonly source: StreamSource,
		private readonly onAdvance: (next: number) => void = () => {},
	) {
		this.count = Math.ceil(source.size / source.pieceSize);
		this.done = new Promise<void>((resolve, reject) => {
			this.resolve = resolve;
			this.reject = reject;
		});
		// The caller awaits `done` later; an early rejection must not count as unhandled.
		this.done.catch(() => {});
		out.on("error", (error: NodeJS.ErrnoException) =>
			this.end(error.code === "EPIPE" ? new StreamClosed() : error),
		);
		if (this.count === 0) this.end();
	}

	/** Writes whatever is now available in order. */
	poke(): void {
		if (this.pumping || this.ended) return;
		this.pumping = true;
		void this.pump()
			.catch((error: unknown) =>
				this.end(error instanceof Error ? error : new Error(String(error))),
			)
			.finally(() => {
				this.pumping = false;
			});
	}

	/** Ends the stream with `error` (the download failed), or successfully when absent. */
	stop(error?: Error): void {
		this.end(error);
	}

	private end(error?: Error): void {
		if (this.ended) return;
		this.ended = true;
		void this.handle?.close().catch(() => {});
		if (error) this.reject(error);
		else this.resolve();
	}

	private async open(): Promise<fs.FileHandle> {
		if (this.handle) return this.handle;
		let last: unknown;
		for (const file of this.source.paths()) {
			if (!file) continue;
			try {
				// Kept open: on POSIX the renamed file stays readable through it.
				this.handle = await fs.open(file, "r");
				return this.handle;
			} catch (error) {
				last = error;
			}
		}
		throw last instanceof Error ? last : new Error("no file to read the pieces from");
	}

	private async pump(): Promise<void> {
		while (!this.ended && this.next < this.count && this.source.has(this.next)) {
			const handle = await this.open();
			const start = this.next * this.source.pieceSize;
			const length = Math.min(this.source.pieceSize, this.source.size - start);
			const buffer = Buffer.allocUnsafe(length);
			let got = 0;
			while (got < length) {
				const { bytesRead } = await handle.read(buffer, got, length - got, start + got);
				if (bytesRead === 0) throw new Error("the partial file is shorter than its pieces");
				got += bytesRead;
			}
			if (this.ended) return;
			const flushed = this.out.write(buffer);
			this.written += length;
			this.next++;
			this.onAdvance(this.next);
			if (!flushed) await new Promise<void>((resolve) => this.waitDrain(resolve));
		}
		if (this.next >= this.count) {
			// Every byte handed over: done once the stream has taken it.
			await new Promise<void>((resolve) => this.waitDrain(resolve, true));
			this.end();
		}
	}

	/** Resolves on `drain`, or at once when `now` and nothing waits to be written. */
	private waitDrain(resolve: () => void, now = false): void {
		const out = this.out as NodeJS.WritableStream & { writableNeedDrain?: boolean };
		if (now && !out.writableNeedDrain) {
			resolve();
			return;
		}
		const done = () => {
			clearInterval(check);
			resolve();
		};
		out.once("drain", done);
		// The stream may also end by error (EPIPE): stop waiting then.
		const check = setInterval(() => {
			if (this.ended) {
				out.off("drain", done);
				done();
			}
		}, 100);
	}
}
