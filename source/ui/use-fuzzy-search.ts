/**
 * Runs a fuzzy search for the UI: the index is built once per list of items and reused
 * for every keystroke; a small list is searched at once while rendering, a large one one
 * chunk at a time between input events (so typing stays responsive over 100,000 names),
 * an outdated search being dropped as soon as the query changes.
 */

import { useEffect, useMemo, useRef, useState } from "react";
import { FuzzyIndex, RankedMatches } from "../search/fuzzy.js";

/** What {@link useFuzzySearch} returns. */
export interface SearchResults<T> {
	/**
	 * Ranked matches: of `query` when not `pending`, else of an earlier query (or none);
	 * each made when asked for with `at`, so only the rows drawn cost anything.
	 */
	matches: RankedMatches<T>;
	/** A search of a large list is still running for the current query. */
	pending: boolean;
}

/** Time one slice of a stepped search may take before it yields to input, in ms. */
const SLICE_MS = 6;

const NONE: RankedMatches<never> = RankedMatches.empty();

/**
 * Searches `items` for `query` (see {@link FuzzyIndex} for the ranking). Lists of one
 * chunk (512 items) are searched synchronously; larger ones in steps run from
 * `setImmediate`, a few chunks per step.
 *
 * @param items - what to search; keep the same array while its names do not change, the
 *   index is rebuilt when its identity changes
 * @param name - the text of an item to match (read once per item when the index is built)
 * @param query - the query; blank means no search (no matches, not pending)
 * @returns the matches and whether a search is still running
 */
export function useFuzzySearch<T>(
	items: readonly T[],
	name: (item: T) => string,
	query: string,
): SearchResults<T> {
	const active = query.trim() !== "";
	// Built on the first search of a list, kept while the list (identity) stays the same.
	const cache = useRef<{ items: readonly T[]; index: FuzzyIndex<T> } | undefined>(undefined);
	if (active && cache.current?.items !== items) {
		cache.current = { items, index: new FuzzyIndex(items, name) };
	}
	const index = active ? cache.current?.index : undefined;
	const stepped = index !== undefined && index.chunkCount > 1;
	const direct = useMemo(
		() => (index && !stepped ? index.ranked(query) : undefined),
		[index, stepped, query],
	);
	const [finished, setFinished] = useState<{
		index: FuzzyIndex<T>;
		query: string;
		matches: RankedMatches<T>;
	}>();
	useEffect(() => {
		if (!index || !stepped) {
			return;
		}
		const steps = index.steps(query);
		let handle: NodeJS.Immediate | undefined;
		const slice = () => {
			const deadline = performance.now() + SLICE_MS;
			for (;;) {
				const next = steps.next();
				if (next.done) {
					setFinished({ index, query, matches: next.value });
					return;
				}
				if (performance.now() >= deadline) break;
			}
			handle = setImmediate(slice);
		};
		handle = setImmediate(slice);
		return () => clearImmediate(handle);
	}, [index, stepped, query]);

	if (!index) {
		return { matches: NONE, pending: false };
	}
	if (direct) {
		return { matches: direct, pending: false };
	}
	if (finished?.index === index && finished.query === query) {
		return { matches: finished.matches, pending: false };
	}
	// Matches of an earlier query over the same items stay on screen until the new ones come.
	return { matches: finished?.index === index ? finished.matches : NONE, pending: true };
}
