/**
 * A clock for components that show elapsed times.
 */

import { useEffect, useState } from "react";

/**
 * The current wall-clock time, refreshed by an interval timer that is cleared on unmount.
 *
 * @param intervalMs - refresh period, in ms (default 1000)
 * @returns `Date.now()` as of the last tick, in ms since the epoch
 */
export function useNow(intervalMs = 1000): number {
	const [now, setNow] = useState(() => Date.now());
	useEffect(() => {
		const timer = setInterval(() => setNow(Date.now()), intervalMs);
		return () => clearInterval(timer);
	}, [intervalMs]);
	return now;
}
