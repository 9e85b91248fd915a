/**
 * Keeps ink's per-line caches from one frame to the next.
 *
 * Ink (6.x) turns every line of every frame into styled cells from scratch: its `Output`
 * class caches the tokenized line and its width, but a new `Output`, with empty caches, is
 * made for every frame. A full 200x60 screen then costs about 20 ms of tokenizing per key
 * press although only the two rows the selection left and entered changed. Sharing one
 * bounded set of caches across frames makes an unchanged line a map lookup.
 *
 * This reaches into ink's build (`build/output.js`, found next to the resolved entry point)
 * and checks its shape first; with any other shape it does nothing, and ink renders as it
 * always did. The cached values are the ones ink itself would compute (styled cells are
 * read, never changed, when a frame is assembled), so frames are identical either way.
 * @module
 */

/** Entries kept across frames before the caches start afresh (a few screens' worth). */
const MAX_ENTRIES = 20_000;

interface OutputCaches {
	widths: Map<string, number>;
	blockWidths: Map<string, number>;
	styledChars: Map<string, unknown>;
}

interface OutputClass {
	new (options: { width: number; height: number }): { caches?: OutputCaches };
	prototype: { get: (this: { caches?: OutputCaches }) => unknown };
}

/** Whether the caches are shared (ink's build had the expected shape). */
export const inkFrameCacheActive: boolean = await shareCaches();

async function shareCaches(): Promise<boolean> {
	try {
		const entry = import.meta.resolve("ink");
		const module = (await import(new URL("./output.js", entry).href)) as { default?: unknown };
		const Output = module.default as OutputClass | undefined;
		if (typeof Output !== "function" || typeof Output.prototype.get !== "function") return false;
		const probe = new Output({ width: 1, height: 1 }).caches;
		if (
			!probe ||
			!(probe.widths instanceof Map) ||
			!(probe.blockWidths instanceof Map) ||
			!(probe.styledChars instanceof Map)
		)
			return false;
		const Caches = probe.constructor as new () => OutputCaches;
		let shared = new Caches();
		const get = Output.prototype.get;
		Output.prototype.get = function (this: { caches?: OutputCaches }) {
			const size = shared.styledChars.size + shared.widths.size + shared.blockWidths.size;
			if (size > MAX_ENTRIES) shared = new Caches();
			this.caches = shared;
			return get.call(this);
		};
		return true;
	} catch {
		return false;
	}
}
