/**
 * Keeps ink's per-line work from one frame to the next.
 *
 * Ink (6.x) turns every frame into text from scratch: its `Output` class makes a grid of
 * `width × height` styled cells, writes every line of every text node into it, then turns
 * each row of cells back into a string. It caches the tokenized line and its width, but a
 * new `Output`, with empty caches, is made for every frame. A full 200x60 screen then costs
 * about 10 ms (and 24,000 short-lived objects for the garbage collector) per key press,
 * although only the rows the selection left and entered changed.
 *
 * Two things are kept across frames here:
 *   - ink's own line caches (tokenized lines, widths), one bounded set shared by every
 *     `Output`;
 *   - each finished row: a row's text depends only on the lines written into it (their
 *     column and text, in order, after clipping and transforms), so those writes are the
 *     row's key, and an unchanged row is a map lookup instead of a grid row of cells.
 *     A changed row is made by ink's own code (its `get` on a one-row `Output`).
 *
 * This reaches into ink's build (`build/output.js`, found next to the resolved entry point)
 * and checks its shape first; with any other shape it does nothing, and ink renders as it
 * always did. Frames are identical either way (a unit test draws random writes, clips and
 * wide characters both ways and compares).
 * @module
 */

/** Entries kept across frames before the caches start afresh (a few screens' worth). */
const MAX_ENTRIES = 20_000;
/** Finished rows kept across frames before that cache starts afresh. */
const MAX_ROWS = 4_000;

interface OutputCaches {
	widths: Map<string, number>;
	blockWidths: Map<string, number>;
	styledChars: Map<string, unknown>;
}

/** A rectangle writes are clipped to; a missing pair of edges does not clip that way. */
interface Clip {
	x1?: number;
	x2?: number;
	y1?: number;
	y2?: number;
}

/** One of the operations ink's `Output` records while the tree is drawn. */
type OutputOperation =
	| { type: "write"; x: number; y: number; text: string; transformers: Transformer[] }
	| { type: "clip"; clip: Clip }
	| { type: "unclip" };

/** A text node's transform (e.g. its colours), applied to each of its lines. */
type Transformer = (line: string, index: number) => string;

/** One line to write into a row: its column and its final text (clipped, transformed). */
interface RowWrite {
	type: "write";
	x: number;
	y: 0;
	text: string;
	transformers: Transformer[];
}

interface OutputInstance {
	width: number;
	height: number;
	operations: OutputOperation[];
	caches?: OutputCaches;
}

interface OutputClass {
	new (options: { width: number; height: number }): OutputInstance;
	prototype: {
		get: (this: OutputInstance) => { output: string; height: number };
	};
}

/** ink's own `Output.prototype.get`, kept to compare with in tests; undefined when not patched. */
export let inkOriginalGet:
	| ((this: OutputInstance) => { output: string; height: number })
	| undefined;

/** How many rows were made by ink's grid since start (the others came from the cache). */
export const inkRowStats = { made: 0 };

/** Whether the caches are shared (ink's build had the expected shape). */
export const inkFrameCacheActive: boolean = await shareCaches();

async function shareCaches(): Promise<boolean> {
	try {
		const entry = import.meta.resolve("ink");
		const module = (await import(new URL("./output.js", entry).href)) as { default?: unknown };
		const Output = module.default as OutputClass | undefined;
		if (typeof Output !== "function" || typeof Output.prototype.get !== "function") return false;
		const probe = new Output({ width: 1, height: 1 });
		const caches = probe.caches;
		if (
			!caches ||
			!(caches.widths instanceof Map) ||
			!(caches.blockWidths instanceof Map) ||
			!(caches.styledChars instanceof Map) ||
			!Array.isArray(probe.operations) ||
			typeof probe.width !== "number" ||
			typeof probe.height !== "number"
		)
			return false;
		const Caches = caches.constructor as new () => OutputCaches;
		let shared = new Caches();
		const sharedCaches = (): OutputCaches => {
			const size = shared.styledChars.size + shared.widths.size + shared.blockWidths.size;
			if (size > MAX_ENTRIES) shared = new Caches();
			return shared;
		};
		const get = Output.prototype.get;
		inkOriginalGet = get;
		/** Finished rows by their writes, for one frame width. */
		let rows = new Map<string, string>();
		let rowsWidth = -1;
		/** One row made by ink: its writes on a one-row `Output`. */
		const makeRow = (width: number, writes: RowWrite[]): string => {
			const single = new Output({ width, height: 1 });
			single.operations = writes;
			single.caches = sharedCaches();
			return get.call(single).output;
		};
		Output.prototype.get = function (this: OutputInstance) {
			this.caches = sharedCaches();
			if (this.width !== rowsWidth || rows.size > MAX_ROWS) {
				rows = new Map();
				rowsWidth = this.width;
			}
			const perRow = rowWrites(this);
			// Anything the rows cannot stand for (a horizontal clip): ink draws the frame.
			if (!perRow) return get.call(this);
			const lines: string[] = [];
			for (const writes of perRow) {
				if (writes.length === 0) {
					lines.push("");
					continue;
				}
				// Column and length before each text: no two lists of writes share a key.
				let key = "";
				for (const write of writes) key += `${write.x},${write.text.length}:${write.text}`;
				let line = rows.get(key);
				if (line === undefined) {
					line = makeRow(this.width, writes);
					inkRowStats.made++;
					rows.set(key, line);
				}
				lines.push(line);
			}
			return { output: lines.join("\n"), height: perRow.length };
		};
		return true;
	} catch {
		return false;
	}
}

/**
 * The lines each row of a frame gets, in the order ink writes them: ink's own clipping
 * (skipping writes outside the clip, cutting off lines above and below it) and transforms
 * (per line, with the line's index after clipping) applied, exactly as its `Output.get`
 * does before it puts the lines into the grid.
 * @param output - the frame's `Output`, after the tree was drawn into it
 * @returns per row of the frame, its writes; undefined when a write is clipped
 *   horizontally or a transform makes a line break (ink's grid is needed then)
 */
function rowWrites(output: OutputInstance): RowWrite[][] | undefined {
	const rows: RowWrite[][] = Array.from({ length: output.height }, () => []);
	const clips: Clip[] = [];
	for (const operation of output.operations) {
		if (operation.type === "clip") {
			clips.push(operation.clip);
			continue;
		}
		if (operation.type === "unclip") {
			clips.pop();
			continue;
		}
		const { text, transformers, x } = operation;
		let { y } = operation;
		let lines = text.split("\n");
		const clip = clips.at(-1);
		if (clip) {
			// Cutting lines to a column range is ink's (slice-ansi's) business: ink draws the frame.
			if (typeof clip.x1 === "number" && typeof clip.x2 === "number") return undefined;
			if (typeof clip.y1 === "number" && typeof clip.y2 === "number") {
				const { y1, y2 } = clip;
				if (y + lines.length < y1 || y > y2) continue;
				const from = y < y1 ? y1 - y : 0;
				const to = y + lines.length > y2 ? y2 - y : lines.length;
				lines = lines.slice(from, to);
				if (y < y1) y = y1;
			}
		}
		let offsetY = 0;
		for (let index = 0; index < lines.length; index++) {
			const row = rows[y + offsetY];
			// As in ink: a line past the grid is dropped without moving on a row.
			if (!row) continue;
			let line = lines[index];
			for (const transformer of transformers) line = transformer(line, index);
			if (line.includes("\n")) return undefined;
			row.push({ type: "write", x, y: 0, text: line, transformers: [] });
			offsetY++;
		}
	}
	return rows;
}
