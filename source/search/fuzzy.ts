/**
 * Fuzzy search over names (Fuse.js, a Bitap matcher that tolerates typos: "slicon valey"
 * finds "Silicon Valley"). Shared by the TUI's `/` search and the `search` command; pure,
 * no I/O.
 */
import Fuse from "fuse.js";

/** One ranked match. */
export interface FuzzyMatch<T> {
	item: T;
	/** 0 is a perfect match, 1 no match at all; results are sorted by it, best first. */
	score: number;
	/** Matched ranges of the name as `[start, end]` pairs (inclusive, UTF-16 indices). */
	ranges: [number, number][];
}

/**
 * How far a match may stray: Fuse's threshold (0 exact … 1 anything). 0.4 lets two
 * typos through in a dozen letters without matching unrelated names.
 */
const THRESHOLD = 0.4;

/**
 * Ranks `items` by how well `name(item)` matches `query`, best first; items that do not
 * match are left out. An empty or blank query matches every item, in the given order.
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
	const q = query.trim();
	if (q === "") return items.map((item) => ({ item, score: 0, ranges: [] }));
	const fuse = new Fuse(items, {
		getFn: (item) => name(item),
		keys: ["name"],
		includeScore: true,
		includeMatches: true,
		ignoreLocation: true,
		threshold: THRESHOLD,
		// Ranges of one letter are noise when highlighted.
		minMatchCharLength: 2,
	});
	return fuse.search(q).map((result) => ({
		item: result.item,
		score: result.score ?? 1,
		ranges: (result.matches?.[0]?.indices ?? []).map(([a, b]) => [a, b] as [number, number]),
	}));
}
