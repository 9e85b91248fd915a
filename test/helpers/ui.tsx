/**
 * Helpers for TUI component tests: an in-memory store, snapshot builders, and a mount
 * that waits for frames. Import ink-testing-library's `render` and pass it in, so a test
 * file can load ink after setting FORCE_COLOR.
 */
import assert from "node:assert/strict";
import type { TestContext } from "node:test";
import type { render as inkRender } from "ink-testing-library";
import type {
	FolderTransferState,
	Intent,
	NetworkFile,
	NetworkFolder,
	PeerRecord,
	Snapshot,
	Store,
	TransferState,
} from "../../source/peer/types.js";
import type { App as AppComponent } from "../../source/ui/app.js";

/** Raw key sequences as a terminal sends them. */
export const KEY = {
	tab: "\t",
	shiftTab: "\u001B[Z",
	enter: "\r",
	escape: "\u001B",
	backspace: "\u007F",
	down: "\u001B[B",
	up: "\u001B[A",
	right: "\u001B[C",
	left: "\u001B[D",
	ctrlC: "\u0003",
	ctrlU: "\u0015",
	pageDown: "\u001B[6~",
	pageUp: "\u001B[5~",
};

/** An in-memory {@link Store}: the test replaces the snapshot and reads the intents. */
export class FakeStore implements Store {
	readonly intents: Intent[] = [];
	readonly listeners = new Set<() => void>();

	constructor(private snapshot: Snapshot) {}

	getSnapshot = (): Snapshot => this.snapshot;

	subscribe = (listener: () => void): (() => void) => {
		this.listeners.add(listener);
		return () => {
			this.listeners.delete(listener);
		};
	};

	dispatch = (intent: Intent): void => {
		this.intents.push(intent);
	};

	/** Replaces the snapshot and notifies the subscribers. */
	set(snapshot: Snapshot): void {
		this.snapshot = snapshot;
		for (const listener of this.listeners) {
			listener();
		}
	}
}

export const ports = (base: number) => ({
	receive: base,
	send: base + 1,
	distribute: base + 2,
	distributee: base + 3,
});

export function peer(name: string, overrides: Partial<PeerRecord> = {}): PeerRecord {
	return {
		id: `peer-${name}`,
		name,
		address: "127.0.0.1",
		addresses: ["127.0.0.1"],
		found: "lan",
		ports: ports(45460),
		files: 2,
		revision: 1,
		lastSeen: Date.now(),
		interval: 2000,
		...overrides,
	};
}

export function file(name: string, overrides: Partial<NetworkFile> = {}): NetworkFile {
	return {
		id: `id-${name}`,
		name,
		size: 1024,
		contentHash: "0".repeat(64),
		peers: ["peer-bob"],
		...overrides,
	};
}

export function folder(path: string, overrides: Partial<NetworkFolder> = {}): NetworkFolder {
	return { path, files: 1, size: 1024, peers: ["peer-bob"], ...overrides };
}

export function transfer(name: string, overrides: Partial<TransferState> = {}): TransferState {
	return {
		fileId: `id-${name}`,
		name,
		size: 1000,
		bytesDone: 500,
		verifiedPieces: 1,
		totalPieces: 2,
		speed: 1_200_000,
		peers: 1,
		fromSeeders: 500,
		fromDistribution: 0,
		resumedBytes: 0,
		bannedPeers: [],
		hashFailures: 0,
		status: "downloading",
		...overrides,
	};
}

export function folderTransfer(
	path: string,
	overrides: Partial<FolderTransferState> = {},
): FolderTransferState {
	return {
		path,
		target: `/srv/dl/${path}`,
		files: 3,
		filesDone: 1,
		size: 3000,
		bytesDone: 1500,
		status: "downloading",
		...overrides,
	};
}

export function snapshot(overrides: Partial<Snapshot> = {}): Snapshot {
	return {
		self: {
			id: "self",
			fingerprint: "5e1f 0000 0000 0000",
			ephemeral: false,
			name: "alice",
			shareDir: "/srv/share",
			downloadsDir: "/srv/dl",
			ports: ports(45470),
			discoveryPort: 45459,
			sharedFiles: 0,
			seededFiles: 0,
		},
		peers: [peer("bob", { files: 3 })],
		files: [],
		folders: [],
		transfers: [],
		folderTransfers: [],
		indexing: { filesDone: 0, filesTotal: 0, bytesDone: 0, bytesTotal: 0, done: true },
		rates: { down: 0, up: 0 },
		limits: { maxDown: null, maxUp: null, maxActive: 3 },
		...overrides,
	};
}

/** Polls `condition` until it holds, or fails after `timeoutMs` with `describe()`. */
export async function waitUntil(
	condition: () => boolean,
	describe: () => string,
	timeoutMs = 3000,
): Promise<void> {
	const deadline = performance.now() + timeoutMs;
	while (!condition()) {
		if (performance.now() > deadline) {
			assert.fail(`timed out waiting for ${describe()}`);
		}
		await new Promise((resolve) => setTimeout(resolve, 5));
	}
}

// biome-ignore lint/suspicious/noControlCharactersInRegex: matching escape sequences is the point
const SGR = /\u001B\[([0-9;]*)m/g;

/** The frame without colour and style escape sequences. */
export function plain(frame: string): string {
	return frame.replace(SGR, "");
}

/**
 * The underlined runs of one line (how the search highlights matched characters), in
 * order, e.g. `["Silicon", "Valley"]`.
 */
export function underlined(line: string): string[] {
	const runs: string[] = [];
	let on = false;
	let run = "";
	let last = 0;
	const flush = () => {
		if (run !== "") runs.push(run);
		run = "";
	};
	for (const match of line.matchAll(SGR)) {
		if (on) run += line.slice(last, match.index);
		last = (match.index ?? 0) + match[0].length;
		for (const code of (match[1] || "0").split(";")) {
			if (code === "4") on = true;
			if (code === "24" || code === "0") {
				if (on) flush();
				on = false;
			}
		}
	}
	if (on) run += line.slice(last);
	flush();
	return runs;
}

/** The line of a (plain) frame that contains `text`. */
export function lineWith(frame: string, text: string): string {
	const line = frame.split("\n").find((candidate) => candidate.includes(text));
	assert.ok(line, `"${text}" in frame:\n${frame}`);
	return line;
}

/** The text after the selection marker: the highlighted row, e.g. `"▸ docs/"` or `"a.txt"`. */
export function selectedRow(frame: string): string | undefined {
	return /› \s*(.+?)\s{2,}/.exec(plain(frame))?.[1];
}

/**
 * Renders the app on a store and unmounts it when the test ends.
 *
 * @param props - more props of the app (e.g. `noColor`)
 * @param render - ink-testing-library's render (imported by the test file)
 * @param App - the app component (imported by the test file)
 */
export function mountApp(
	t: TestContext,
	render: typeof inkRender,
	App: typeof AppComponent,
	store: Store,
	props: Omit<Parameters<typeof AppComponent>[0], "store"> = {},
) {
	const app = render(<App store={store} {...props} />);
	t.after(() => app.unmount());
	const raw = () => app.lastFrame() ?? "";
	const frame = () => plain(raw());
	return {
		...app,
		raw,
		frame,
		/** The raw line (styles kept) of the line whose plain text contains `text`. */
		rawLine: (text: string): string => {
			const index = frame()
				.split("\n")
				.findIndex((line) => line.includes(text));
			assert.ok(index >= 0, `"${text}" in frame:\n${frame()}`);
			return raw().split("\n")[index];
		},
		/** Waits until the plain frame contains `text` (or matches it). */
		waitForText: (text: string | RegExp) =>
			waitUntil(
				() => (typeof text === "string" ? frame().includes(text) : text.test(frame())),
				() => `${String(text)} in frame:\n${frame()}`,
			),
		/** Waits until the plain frame no longer contains `text`. */
		waitForGone: (text: string | RegExp) =>
			waitUntil(
				() => (typeof text === "string" ? !frame().includes(text) : !text.test(frame())),
				() => `${String(text)} gone from frame:\n${frame()}`,
			),
		/** Waits until the selected row starts with `text`. */
		waitForSelected: (text: string) =>
			waitUntil(
				() => selectedRow(raw())?.startsWith(text) === true,
				() => `"${text}" selected, got "${selectedRow(raw())}" in frame:\n${frame()}`,
			),
		/** Resizes the fake terminal and waits for a frame of that size. */
		resize: async (columns: number, rows: number) => {
			Object.defineProperty(app.stdout, "rows", { value: rows, configurable: true });
			Object.defineProperty(app.stdout, "columns", { value: columns, configurable: true });
			app.stdout.emit("resize");
			await waitUntil(
				() => {
					const lines = frame().split("\n");
					return lines.length === rows && Math.max(...lines.map((l) => l.length)) === columns;
				},
				() => `${columns}x${rows}, got:\n${frame()}`,
			);
		},
	};
}
