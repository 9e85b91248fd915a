/**
 * Fuzzy search over names (Fuse.js, a Bitap matcher that tolerates typos: "slicon valey"
 * finds "Silicon Valley"), re-ranked so exact, prefix and whole-word matches come before
 * scattered ones. Shared by the TUI's `/` search and the `search` command; pure, no I/O.
 *
 * {@link FuzzyIndex} keeps Fuse's index between searches (build it once per list of names,
 * search it on every keystroke) and can search in steps, one chunk of items at a time, so
 * a UI can stay responsive over 100,000 names.
 */
import Fuse, { type FuseResult } from "fuse.js";

/** One ranked match. */
export interface FuzzyMatch<T> {
	item: T;
	/** 0 is a perfect match, 1 no match at all (Fuse's score; see the ranking in {@link FuzzyIndex}). */
	score: number;
	/** Matched ranges of the name as `[start, end]` pairs (inclusive, UTF-16 indices), sorted. */
	ranges: [number, number][];
}

/**
 * How far a match may stray: Fuse's threshold (0 exact … 1 anything). 0.4 lets two
 * typos through in a dozen letters without matching unrelated names.
 */
const THRESHOLD = 0.4;

/** Items per Fuse collection: one step of {@link FuzzyIndex.steps} (about 5-15 ms). */
export const DEFAULT_CHUNK_SIZE = 512;

/**
 * How a name matched, best first. Fuse alone ranks an exact substring anywhere like a
 * prefix; these tiers put what people mean first.
 */
const Tier = {
	/** The whole name, its last segment, or that segment without extension equals the query. */
	Exact: 0,
	/** The last segment (or the whole path) starts with the query. */
	Prefix: 1,
	/** The query starts a word (after `/`, space, `_`, `-`, `.`, or at a lower→upper change). */
	WordStart: 2,
	/** The query is somewhere inside the name. */
	Substring: 3,
	/** Every word of the query is somewhere inside the name, in any order. */
	AllWords: 4,
	/** Only Fuse's typo-tolerant match. */
	Fuzzy: 5,
} as const;
type Tier = (typeof Tier)[keyof typeof Tier];

/** A match before sorting: its tier, Fuse score and position in the item list. */
interface Ranked<T> extends FuzzyMatch<T> {
	tier: Tier;
	index: number;
	length: number;
}

/** Characters after which a word starts. */
const WORD_BREAK = /[\s/\\_\-.,;:()[\]{}+&@#]/;

/** The query, trimmed and lowercased, plus its words. */
interface Query {
	text: string;
	words: string[];
}

function parseQuery(query: string): Query {
	const text = query.trim().toLowerCase();
	return { text, words: text.split(/\s+/).filter((word) => word !== "") };
}

/** Whether position `at` of `name` starts a word. */
function startsWord(name: string, at: number): boolean {
	if (at === 0) return true;
	const before = name[at - 1];
	if (WORD_BREAK.test(before)) return true;
	const current = name[at];
	// camelCase: a capital after a lowercase letter.
	return before !== before.toUpperCase() && current !== current.toLowerCase();
}

/**
 * The tier of an exact (case-insensitive) match of `query` in `name`, and its range;
 * undefined when the query is not a substring (or, for several words, not all present).
 */
function exactTier(
	name: string,
	lower: string,
	query: Query,
): { tier: Tier; ranges: [number, number][] } | undefined {
	const q = query.text;
	const length = q.length;
	const baseStart = lower.lastIndexOf("/", lower.length - 2) + 1;
	const base = lower.slice(baseStart).replace(/\/$/, "");
	const dot = base.lastIndexOf(".");
	const stem = dot > 0 ? base.slice(0, dot) : base;
	const whole = (at: number): [number, number][] => [[at, at + length - 1]];
	if (lower === q || base === q || stem === q) {
		return { tier: Tier.Exact, ranges: whole(lower === q ? 0 : baseStart) };
	}
	if (base.startsWith(q)) return { tier: Tier.Prefix, ranges: whole(baseStart) };
	if (lower.startsWith(q)) return { tier: Tier.Prefix, ranges: whole(0) };
	let first = -1;
	for (let at = lower.indexOf(q); at >= 0; at = lower.indexOf(q, at + 1)) {
		if (first < 0) first = at;
		if (startsWord(name, at)) return { tier: Tier.WordStart, ranges: whole(at) };
	}
	if (first >= 0) return { tier: Tier.Substring, ranges: whole(first) };
	if (query.words.length > 1) {
		const ranges: [number, number][] = [];
		for (const word of query.words) {
			const at = lower.indexOf(word);
			if (at < 0) return undefined;
			ranges.push([at, at + word.length - 1]);
		}
		return { tier: Tier.AllWords, ranges: mergeRanges(ranges) };
	}
	return undefined;
}

/** Sorts and merges overlapping or touching ranges. */
function mergeRanges(ranges: [number, number][]): [number, number][] {
	const sorted = [...ranges].sort((a, b) => a[0] - b[0]);
	const merged: [number, number][] = [];
	for (const [start, end] of sorted) {
		const last = merged.at(-1);
		if (last && start <= last[1] + 1) last[1] = Math.max(last[1], end);
		else merged.push([start, end]);
	}
	return merged;
}

/** Best first: tier, then (for fuzzy tiers) score, then shorter names, then list order. */
function compareRanked<T>(a: Ranked<T>, b: Ranked<T>): number {
	if (a.tier !== b.tier) return a.tier - b.tier;
	if (a.tier >= Tier.AllWords && a.score !== b.score) return a.score - b.score;
	return a.length - b.length || a.index - b.index;
}

/** One slice of the items with its own (lazily built) Fuse index. */
interface Chunk<T> {
	start: number;
	items: readonly T[];
	names: string[];
	/** The names lowercased, made on the first search. */
	lower?: string[];
	fuse?: Fuse<string>;
}

/**
 * A searchable list of items, built once: Fuse's index is made per chunk of items on the
 * first search that needs it and reused by every later search, so searching again after a
 * keystroke costs only the search. Rebuild the index when the list of names changes.
 *
 * Ranking, best first: the name (its last path segment, or that segment without its
 * extension) equals the query; it starts with the query; the query starts a word of it;
 * the query is inside it; every word of the query is inside it; then Fuse's typo-tolerant
 * matches by score. Ties go to the shorter name, then to the earlier item. Matching is
 * case-insensitive.
 *
 * @typeParam T - the items (files, folders, anything with a name)
 */
export class FuzzyIndex<T> {
	private readonly chunks: Chunk<T>[] = [];

	/**
	 * @param items - what to search; the array is not copied, do not change it afterwards
	 * @param name - the text of an item to match against (e.g. a file's path)
	 * @param chunkSize - items per step of {@link FuzzyIndex.steps} (default 512, at least 1)
	 */
	constructor(
		readonly items: readonly T[],
		name: (item: T) => string,
		chunkSize = DEFAULT_CHUNK_SIZE,
	) {
		const size = Math.max(1, Math.floor(chunkSize));
		for (let start = 0; start < items.length; start += size) {
			const slice = items.slice(start, start + size);
			this.chunks.push({ start, items: slice, names: slice.map(name) });
		}
	}

	/** Number of items indexed. */
	get size(): number {
		return this.items.length;
	}

	/** Number of steps a non-empty search takes: one per chunk of items. */
	get chunkCount(): number {
		return this.chunks.length;
	}

	/**
	 * Ranks the items by how well their names match `query`, best first; items that do not
	 * match are left out. An empty or blank query matches every item, in list order, with
	 * score 0 and no ranges.
	 *
	 * @param query - what the user typed
	 * @returns the matches with their scores and the ranges to highlight
	 */
	search(query: string): FuzzyMatch<T>[] {
		const steps = this.steps(query);
		for (;;) {
			const next = steps.next();
			if (next.done) return next.value;
		}
	}

	/**
	 * {@link FuzzyIndex.search} in steps: each `next()` searches one chunk of items (about
	 * 512) and yields how many items are done; the generator returns the ranked matches.
	 * Drop the generator to cancel a search whose query is outdated.
	 *
	 * @param query - what the user typed
	 * @returns a generator yielding items searched so far, returning the ranked matches
	 */
	*steps(query: string): Generator<number, FuzzyMatch<T>[], void> {
		const parsed = parseQuery(query);
		if (parsed.text === "") {
			return this.items.map((item) => ({ item, score: 0, ranges: [] }));
		}
		const found: Ranked<T>[] = [];
		for (const chunk of this.chunks) {
			this.searchChunk(chunk, parsed, found);
			yield chunk.start + chunk.items.length;
		}
		found.sort(compareRanked);
		return found.map(({ item, score, ranges }) => ({ item, score, ranges }));
	}

	/** Adds the matches of one chunk to `found`. */
	private searchChunk(chunk: Chunk<T>, query: Query, found: Ranked<T>[]): void {
		const fuzzy = new Map<number, { score: number; ranges: [number, number][] }>();
		// Fuse allows errors/length <= THRESHOLD: a query too short for one error matches
		// exactly what the substring tiers find, so Fuse's pass (the costly one) is skipped.
		let results: FuseResult<string>[] = [];
		if (query.text.length * THRESHOLD >= 1) {
			chunk.fuse ??= new Fuse(chunk.names, {
				includeScore: true,
				includeMatches: true,
				ignoreLocation: true,
				threshold: THRESHOLD,
			});
			results = chunk.fuse.search(query.text);
		}
		for (const result of results) {
			const ranges = (result.matches?.[0]?.indices ?? []).map(
				([a, b]) => [a, b] as [number, number],
			);
			// Single letters scattered over the name are noise when highlighted.
			const wide = ranges.filter(([a, b]) => b > a);
			fuzzy.set(result.refIndex, {
				score: result.score ?? 1,
				ranges: wide.length > 0 ? wide : ranges,
			});
		}
		chunk.lower ??= chunk.names.map((name) => name.toLowerCase());
		for (let at = 0; at < chunk.names.length; at++) {
			const name = chunk.names[at];
			const fuse = fuzzy.get(at);
			const exact = exactTier(name, chunk.lower[at], query);
			if (!exact && !fuse) continue;
			found.push({
				item: chunk.items[at],
				score: fuse?.score ?? (exact ? 0 : 1),
				ranges: exact?.ranges ?? fuse?.ranges ?? [],
				tier: exact?.tier ?? Tier.Fuzzy,
				index: chunk.start + at,
				length: name.length,
			});
		}
	}
}

/**
 * Ranks `items` by how well `name(item)` matches `query`, best first; items that do not
 * match are left out. An empty or blank query matches every item, in the given order.
 * Builds a throwaway {@link FuzzyIndex}: to search the same items again, keep one instead.
 *
 * @param query - what the user typed
 * @param items - what to search
 * @param name - the text of an item to match against (e.g. a file's path)
 * @returns the matches with their scores and the ranges to highlight
 */
export function fuzzySearch<T>(
	query: string,
	items: readonly T[],
	name: (item: T) => string,
): FuzzyMatch<T>[] {
	return new FuzzyIndex(items, name).search(query);
}
