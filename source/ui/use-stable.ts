/**
 * Keeps one array (or any value) identity while its content stays equal, so memoised work
 * that depends on it (the file tree, the search index) is not redone for every snapshot.
 */

import { useRef } from "react";

/**
 * Returns the value of an earlier render while `equal(earlier, value)` holds, else
 * `value` (which becomes the one kept).
 *
 * @param value - the value of this render (e.g. a fresh array from every snapshot)
 * @param equal - whether two values count as the same for the caller's purposes
 * @returns `value`, or the earlier value equal to it
 */
export function useStable<T>(value: T, equal: (kept: T, value: T) => boolean): T {
	const kept = useRef(value);
	if (kept.current !== value && !equal(kept.current, value)) {
		kept.current = value;
	}
	return kept.current;
}
