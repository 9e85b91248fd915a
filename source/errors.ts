/**
 * Error classes that tell the user's mistake apart from a failure of the work itself.
 * The CLI prints `message` as one line and exits with `exitCode`; no stack trace.
 */

/** Bad usage or settings: unknown flag, port in use, unreadable folder. Exit code 2. */
export class UsageError extends Error {
	readonly exitCode = 2;
	constructor(
		message: string,
		/** Machine-readable code, e.g. `PORT_IN_USE`. */
		readonly code = "USAGE",
	) {
		super(message);
		this.name = "UsageError";
	}
}

/** The command could not be done: not found, timed out, no source. Exit code 1. */
export class OperationError extends Error {
	readonly exitCode = 1;
	constructor(
		message: string,
		/** Machine-readable code, e.g. `NOT_FOUND`, `TIMEOUT`, `NO_SOURCE`. */
		readonly code = "FAILED",
	) {
		super(message);
		this.name = "OperationError";
	}
}
