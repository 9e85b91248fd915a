/**
 * Fuzzy search over names, as fast as typing over 100,000 of them: our own exact tiers
 * (exact, prefix, word start, substring, every word) found by a plain scan of the
 * lowercased names, then typo-tolerant matches from uFuzzy (`@leeoniya/ufuzzy`: one error
 * per word, an insertion, deletion, substitution or swap, so "slicon valey" finds "Silicon
 * Valley"), ranked below them by uFuzzy's own ranking. Shared by the TUI's `/` search and
 * the `search` command; pure, no I/O.
 *
 * {@link FuzzyIndex} keeps the names (and their lowercase forms) between searches and can
 * search in steps, one chunk of items at a time, so a UI stays responsive over 1,000,000
 * names.
 */
import uFuzzy from "@leeoniya/ufuzzy";

/** One ranked match. */
export interface FuzzyMatch<T> {
	item: T;
	/**
	 * 0 is a perfect match, 1 no match at all: 0 for the exact tiers; a typo-tolerant match
	 * 0.1 and more, by the share of the query's length it is off (never less than a better
	 * ranked match's; see {@link FuzzyIndex}).
	 */
	score: number;
	/** Matched ranges of the name as `[start, end]` pairs (inclusive, UTF-16 indices), sorted. */
	ranges: [number, number][];
}

/** Items per step of {@link FuzzyIndex.steps} (about 1-3 ms each). */
export const DEFAULT_CHUNK_SIZE = 8192;

/**
 * Typo-tolerant matches ranked by uFuzzy's ranking (and highlighted) when there are at most
 * this many; past it (a short query matching loosely everywhere) they follow in list order,
 * unhighlighted: ranking them would cost more than typing allows, and the exact tiers fill
 * the screen above them anyway.
 */
export const FUZZY_RANKED_MAX = 1_000;

/**
 * The typo-tolerant matcher: uFuzzy in single-error mode (per word of the query, one
 * inserted, deleted, substituted or swapped letter; words of 3-4 letters a swap, or one
 * insertion at 4; shorter ones exactly), letters of any script.
 */
const matcher = new uFuzzy({
	intraMode: 1,
	intraIns: 1,
	intraSub: 1,
	intraTrn: 1,
	intraDel: 1,
	unicode: true,
	interSplit: "[^\\p{L}\\d']+",
	intraSplit: "\\p{Ll}\\p{Lu}",
	intraBound: "\\p{Ll}\\p{Lu}",
	intraChars: "[\\p{L}\\d']",
	intraContr: "'\\p{L}{1,2}\\b",
});

/**
 * How a name matched, best first: what people mean comes before typo-tolerant matches.
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
	/** Only uFuzzy's typo-tolerant match. */
	Fuzzy: 5,
} as const;
type Tier = (typeof Tier)[keyof typeof Tier];

/**
 * The exact-tier matches of one tier before sorting, in list order: each one's index in
 * the list, where the query starts in its name, and (for {@link Tier.AllWords}) its ranges.
 */
interface TierHits {
	index: number[];
	ranges: [number, number][][];
}

/** Characters after which a word starts. */
const WORD_BREAK = /[\s/\\_\-.,;:()[\]{}+&@#]/;
/** {@link WORD_BREAK} for ASCII, by character code (1: a word starts after it). */
const BREAK_CODES = Uint8Array.from({ length: 128 }, (_, code) =>
	WORD_BREAK.test(String.fromCharCode(code)) ? 1 : 0,
);

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
	const code = name.charCodeAt(at - 1);
	if (code < 128) {
		if (BREAK_CODES[code] === 1) return true;
		// camelCase: a capital after a lowercase letter (ASCII: no string made).
		if (code < 97 || code > 122) return false;
		const next = name.charCodeAt(at);
		if (next < 128) return next >= 65 && next <= 90;
		const current = name[at];
		return current !== current.toLowerCase();
	}
	const before = name[at - 1];
	if (WORD_BREAK.test(before)) return true;
	const current = name[at];
	return before !== before.toUpperCase() && current !== current.toLowerCase();
}

/** Where {@link exactTier}'s last match starts (tiers 0-3: the query's length long). */
let hitStart = 0;
/** The ranges of {@link exactTier}'s last {@link Tier.AllWords} match. */
let hitRanges: [number, number][] = [];

/**
 * The tier of an exact (case-insensitive) match of `query` in `name`, or -1 when the query
 * is not a substring (or, for several words, not all present). The match is left in
 * `hitStart` (or `hitRanges` for {@link Tier.AllWords}): this runs for every name holding
 * the query (most of 100,000, for one letter), so it makes no object and cuts no string.
 */
function exactTier(name: string, lower: string, query: Query): Tier | -1 {
	const q = query.text;
	const length = q.length;
	const first = lower.indexOf(q);
	if (first < 0) {
		// Not inside: only every word of a several-word query, in any order, is left.
		if (query.words.length < 2) return -1;
		const ranges: [number, number][] = [];
		for (const word of query.words) {
			const at = lower.indexOf(word);
			if (at < 0) return -1;
			ranges.push([at, at + word.length - 1]);
		}
		hitRanges = mergeRanges(ranges);
		return Tier.AllWords;
	}
	const end = lower.endsWith("/") ? lower.length - 1 : lower.length;
	const baseStart = lower.lastIndexOf("/", end - 1) + 1;
	if (lower.length === length) {
		hitStart = 0;
		return Tier.Exact;
	}
	if (lower.startsWith(q, baseStart)) {
		hitStart = baseStart;
		const dot = lower.lastIndexOf(".", end - 1);
		const stemEnd = dot > baseStart ? dot : end;
		return end - baseStart === length || stemEnd - baseStart === length ? Tier.Exact : Tier.Prefix;
	}
	if (first === 0) {
		hitStart = 0;
		return Tier.Prefix;
	}
	for (let at = first; at >= 0; at = lower.indexOf(q, at + 1)) {
		if (startsWord(name, at)) {
			hitStart = at;
			return Tier.WordStart;
		}
	}
	hitStart = first;
	return Tier.Substring;
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

/** One slice of the items. */
interface Chunk<T> {
	start: number;
	items: readonly T[];
	names: string[];
}

/**
 * The query as uFuzzy gets it, or undefined when it is too short for a typo (fewer than
 * three letters match exactly or not at all). `-` and `"` are uFuzzy's operators (a word
 * to leave out, a quoted exact phrase), not something typed into a file name search: they
 * separate words like any other punctuation.
 */
function typoText(query: Query): string | undefined {
	if (query.text.replace(/\s/g, "").length < 3) return undefined;
	return query.text.replace(/["-]/g, " ");
}

/**
 * Whether every name uFuzzy matches for `after` is matched for `before` too, so a search
 * for `after` may look only at what `before` matched: `after` extends `before` with the
 * same words, the last one longer (or new words after it). A word of five letters or more
 * allows one error of any kind, one of 3-4 letters fewer kinds, one of 1-2 letters (or a
 * number) none: so the last word of `before` must have five letters or more, or both it
 * and its longer form be matched exactly.
 */
function narrows(before: string, after: string): boolean {
	const b = typoText(parseQuery(before));
	const a = typoText(parseQuery(after));
	if (b === undefined || a === undefined || !after.startsWith(before)) return false;
	const was = matcher.split(b);
	const now = matcher.split(a);
	if (was.length === 0 || now.length < was.length) return false;
	const end = was.length - 1;
	for (let at = 0; at < end; at++) if (was[at] !== now[at]) return false;
	const word = was[end];
	const longer = now[end];
	if (!longer.startsWith(word)) return false;
	// The same words and more after them: a match of all of them in order matches these.
	if (longer === word && now.length > was.length) return true;
	// Words of one or two letters, and numbers, match exactly: a longer exact word narrows.
	const exactly = (w: string) => w.length <= 2 || !/\D/.test(w);
	if (exactly(word) && exactly(longer)) return true;
	return word.length >= 5 && /\D/.test(word);
}

/**
 * Letters every typo-tolerant match of one word of the query holds: uFuzzy keeps a word's
 * first letter and, for words of 1-4 letters, all of them (exact, or one swap or
 * insertion); a longer word may lose one letter (substituted or deleted).
 */
interface LetterNeed {
	/** The word's letters a-z, as bits 0-25. */
	mask: number;
	/** How many of them a match may lack. */
	missing: number;
}

/** The letters a-z of `text` (case-insensitively, as uFuzzy matches them) as bits 0-25. */
function letterMask(text: string): number {
	let mask = 0;
	for (let at = 0; at < text.length; at++) {
		let code = text.charCodeAt(at);
		if (code >= 65 && code <= 90) code += 32;
		if (code >= 97 && code <= 122) mask |= 1 << (code - 97);
		// Case-insensitive Unicode matching folds the Kelvin sign to k and the long s to s.
		else if (code === 0x212a) mask |= 1 << 10;
		else if (code === 0x17f) mask |= 1 << 18;
	}
	return mask;
}

/** What {@link LetterNeed}s the words of a typo-tolerant query (as uFuzzy splits it) make. */
function letterNeeds(fuzzy: string): LetterNeed[] {
	return matcher
		.split(fuzzy)
		.map((word) => ({ mask: letterMask(word), missing: word.length >= 5 ? 1 : 0 }));
}

/** Number of bits set in a 32-bit integer. */
function popcount(bits: number): number {
	let n = bits - ((bits >>> 1) & 0x55555555);
	n = (n & 0x33333333) + ((n >>> 2) & 0x33333333);
	return (((n + (n >>> 4)) & 0x0f0f0f0f) * 0x01010101) >>> 24;
}

/** What a finished search matched (see `FuzzyIndex.recent`). */
interface Remembered {
	text: string;
	matched: Uint8Array;
	candidates: Uint32Array;
}

/** Finished searches kept for the next keystrokes (each up to 5 bytes per item). */
const REMEMBERED = 6;

/** What a search gathers, chunk by chunk, before ranking. */
interface Found {
	/**
	 * By item: its exact tier (0-3: {@link Tier.Exact} to {@link Tier.Substring}), or
	 * {@link NO_TIER}. Typed arrays, not objects per hit: a one-letter query hits most of
	 * 100,000 names, and every object made there is garbage by the next keystroke.
	 */
	tierOf: Uint8Array;
	/** By item in tiers 0-3: where the query starts in its name. */
	startOf: Int32Array;
	/** Hits of {@link Tier.AllWords}, in list order, with their ranges. */
	allWords: TierHits;
	/** Indices (in the whole list) of the typo-tolerant matches not in an exact tier. */
	fuzzy: number[];
}

/** {@link Found.tierOf} of an item in no tier 0-3. */
const NO_TIER = 255;

/**
 * A searchable list of items, built once: the names (and, on the first search, their
 * lowercase forms) are kept, so searching again after a keystroke costs only the search.
 * Rebuild it when the list of names changes.
 *
 * Ranking, best first: the name (its last path segment, or that segment without its
 * extension) equals the query; it starts with the query; the query starts a word of it;
 * the query is inside it; every word of the query is inside it (ties: shorter names, then
 * list order); then uFuzzy's typo-tolerant matches, by uFuzzy's ranking (most letters in a
 * row, fewest inserted, word starts, then earliest) while at most
 * {@link FUZZY_RANKED_MAX}. Matching is case-insensitive.
 *
 * @typeParam T - the items (files, folders, anything with a name)
 */
export class FuzzyIndex<T> {
	private readonly chunks: Chunk<T>[] = [];
	/** Every name, in list order (uFuzzy ranks over the whole list). */
	private readonly names: string[] = [];
	/** The names lowercased, each made the first time a search looks at it. */
	private readonly lower: (string | undefined)[] = [];
	private readonly chunkSize: number;
	/**
	 * The last few searches that ran to their end: each one's query, which items it matched
	 * (exact or typo-tolerant), as a mask and in list order. The next keystroke usually
	 * extends a query, and then looks at the fewest of these items it may: the last query's
	 * (see `narrows`), or, when a word of 3-4 letters grows (its typos are not a subset), an
	 * earlier query of the words before it ("alpha" for "alpha arch").
	 */
	private recent: Remembered[] = [];
	/** By item: its name's length (at most 65,535), read in order when ranking. */
	private readonly lengths: Uint16Array;
	/** The longest name's {@link FuzzyIndex.lengths}. */
	private longest = 0;
	/** By item: the letters a-z its name holds, as bits 0-25 (see {@link letterMask}). */
	private letters: Int32Array | undefined;

	/**
	 * @param items - what to search; the array is not copied, do not change it afterwards
	 * @param name - the text of an item to match against (e.g. a file's path)
	 * @param chunkSize - items per step of {@link FuzzyIndex.steps} (default 8192, at least 1)
	 */
	constructor(
		readonly items: readonly T[],
		name: (item: T) => string,
		chunkSize = DEFAULT_CHUNK_SIZE,
	) {
		const size = Math.max(1, Math.floor(chunkSize));
		this.chunkSize = size;
		for (const item of items) this.names.push(name(item));
		this.lengths = new Uint16Array(this.names.length);
		for (let index = 0; index < this.names.length; index++) {
			this.lengths[index] = Math.min(0xffff, this.names[index].length);
			this.longest = Math.max(this.longest, this.lengths[index]);
		}
		for (let start = 0; start < items.length; start += size) {
			this.chunks.push({
				start,
				items: items.slice(start, start + size),
				names: this.names.slice(start, start + size),
			});
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
		return this.ranked(query).toArray();
	}

	/**
	 * {@link FuzzyIndex.search} with the matches made only when asked for.
	 *
	 * @param query - what the user typed
	 * @returns the ranked matches
	 */
	ranked(query: string): RankedMatches<T> {
		const steps = this.steps(query);
		for (;;) {
			const next = steps.next();
			if (next.done) return next.value;
		}
	}

	/**
	 * {@link FuzzyIndex.search} in steps: each `next()` searches one chunk of items (8192 by
	 * default) and yields how many items are done; the generator returns the ranked
	 * matches, as a {@link RankedMatches} that makes each match only when asked for (a UI
	 * draws a screenful of 100,000). Drop the generator to cancel a search whose query is
	 * outdated.
	 *
	 * @param query - what the user typed
	 * @returns a generator yielding items searched so far, returning the ranked matches
	 */
	*steps(query: string): Generator<number, RankedMatches<T>, void> {
		const parsed = parseQuery(query);
		if (parsed.text === "") {
			return new RankedMatches(
				this.items,
				Uint32Array.from(this.items.keys()),
				undefined,
				-1,
				[],
				[],
			);
		}
		const n = this.items.length;
		const found: Found = {
			tierOf: new Uint8Array(n).fill(NO_TIER),
			startOf: new Int32Array(n),
			allWords: { index: [], ranges: [] },
			fuzzy: [],
		};
		const matched = new Uint8Array(n);
		const fuzzy = typoText(parsed);
		// Typing on: what the longer query matches, a shorter one matched (see `narrows`).
		let last: Remembered | undefined;
		for (const earlier of this.recent)
			if (
				parsed.text.startsWith(earlier.text) &&
				(fuzzy === undefined || narrows(earlier.text, parsed.text)) &&
				(last === undefined || earlier.candidates.length < last.candidates.length)
			)
				last = earlier;
		const previous = this.recent.at(-1);
		const exactScope =
			last?.matched ??
			(previous && parsed.text.startsWith(previous.text) ? previous.matched : undefined);
		const needs = fuzzy === undefined ? [] : letterNeeds(fuzzy);
		if (last) {
			const size = this.chunkSize;
			const candidates = last.candidates;
			for (let from = 0; from < candidates.length; from += size) {
				const indices = candidates.subarray(from, from + size);
				for (let k = 0; k < indices.length; k++) this.exact(indices[k], parsed, found, matched);
				if (fuzzy !== undefined)
					this.typos(indices, 0, indices.length, fuzzy, needs, found, matched);
				yield from + indices.length;
			}
		} else {
			for (const chunk of this.chunks) {
				const end = chunk.start + chunk.items.length;
				this.exactRange(chunk.start, end, exactScope, parsed, found, matched);
				if (fuzzy !== undefined)
					this.typos(undefined, chunk.start, end, fuzzy, needs, found, matched);
				yield end;
			}
		}
		this.remember(parsed.text, matched, found.fuzzy);
		return this.rank(found, parsed, fuzzy ?? "");
	}

	/**
	 * Adds the typo-tolerant matches among items `from` to `to` (excluded) of `indices` (or
	 * of the whole list) that matched no exact tier: uFuzzy's regular expression runs only
	 * on the names holding the letters every match must hold (see {@link letterNeeds}).
	 */
	private typos(
		indices: Uint32Array | undefined,
		from: number,
		to: number,
		fuzzy: string,
		needs: readonly LetterNeed[],
		found: Found,
		matched: Uint8Array,
	): void {
		const letters = this.letterMasks();
		const pass: number[] = [];
		for (let k = from; k < to; k++) {
			const index = indices === undefined ? k : indices[k];
			if (matched[index] === 1) continue;
			const has = letters[index];
			let ok = true;
			for (const need of needs)
				if (popcount(need.mask & ~has) > need.missing) {
					ok = false;
					break;
				}
			if (ok) pass.push(index);
		}
		if (pass.length === 0) return;
		for (const index of matcher.filter(this.names, fuzzy, pass) ?? []) found.fuzzy.push(index);
	}

	/** {@link FuzzyIndex.letters}, made on first use. */
	private letterMasks(): Int32Array {
		if (this.letters === undefined) {
			const letters = new Int32Array(this.names.length);
			for (let index = 0; index < letters.length; index++)
				letters[index] = letterMask(this.names[index]);
			this.letters = letters;
		}
		return this.letters;
	}

	/** Keeps what a finished search matched for the next keystroke (see `recent`). */
	private remember(text: string, matched: Uint8Array, fuzzy: readonly number[]): void {
		for (const index of fuzzy) matched[index] = 1;
		let count = 0;
		for (let index = 0; index < matched.length; index++) count += matched[index];
		const candidates = new Uint32Array(count);
		for (let index = 0, at = 0; index < matched.length; index++)
			if (matched[index] === 1) candidates[at++] = index;
		this.recent = this.recent.filter((earlier) => earlier.text !== text);
		this.recent.push({ text, matched, candidates });
		if (this.recent.length > REMEMBERED) this.recent.shift();
	}

	/** Looks at items `start` to `end` (excluded) for exact-tier matches (within `scope`). */
	private exactRange(
		start: number,
		end: number,
		scope: Uint8Array | undefined,
		query: Query,
		found: Found,
		matched: Uint8Array,
	): void {
		for (let index = start; index < end; index++)
			if (scope === undefined || scope[index] === 1) this.exact(index, query, found, matched);
	}

	/** Looks for an exact-tier match of item `index`, adding it to `found` and `matched`. */
	private exact(index: number, query: Query, found: Found, matched: Uint8Array): void {
		let lower = this.lower[index];
		if (lower === undefined) {
			lower = this.names[index].toLowerCase();
			this.lower[index] = lower;
		}
		const tier = exactTier(this.names[index], lower, query);
		if (tier < 0) return;
		matched[index] = 1;
		if (tier === Tier.AllWords) {
			found.allWords.index.push(index);
			found.allWords.ranges.push(hitRanges);
		} else {
			found.tierOf[index] = tier;
			found.startOf[index] = hitStart;
		}
	}

	/** Orders what a search found: the exact tiers, then the typo-tolerant matches. */
	private rank(found: Found, query: Query, fuzzyText: string): RankedMatches<T> {
		const spans = byTierAndLength(found.tierOf, this.lengths, this.longest);
		const starts = new Int32Array(spans.length);
		for (let k = 0; k < spans.length; k++) starts[k] = found.startOf[spans[k]];
		const objects: FuzzyMatch<T>[] = [];
		const words = found.allWords;
		for (const at of byLength(words.index, this.names))
			objects.push({ item: this.items[words.index[at]], score: 0, ranges: words.ranges[at] });
		const fuzzy = found.fuzzy;
		const span = query.text.length - 1;
		if (fuzzy.length > FUZZY_RANKED_MAX) {
			return new RankedMatches(this.items, spans, starts, span, objects, fuzzy);
		}
		if (fuzzy.length === 0) return new RankedMatches(this.items, spans, starts, span, objects, []);
		const info = matcher.info(fuzzy, this.names, fuzzyText);
		const letters = Math.max(1, query.text.replace(/\s/g, "").length);
		// Scores never fall along the ranking: best first, whatever uFuzzy weighed.
		let floor = 0.01;
		for (const order of matcher.sort(info, this.names, fuzzyText)) {
			const index = info.idx[order];
			// A typo costs 0.1; letters more or fewer than the query's, and letters inserted
			// between the query's, cost their share of its length.
			const ranges = info.ranges[order] ?? [];
			let covered = 0;
			for (let i = 0; i + 1 < ranges.length; i += 2) covered += ranges[i + 1] - ranges[i];
			const off = Math.abs(letters - covered) + (info.intraIns[order] ?? 0);
			floor = Math.min(0.99, Math.max(floor, 0.1 + off / letters));
			objects.push({
				item: this.items[index],
				score: floor,
				ranges: toRanges(info.ranges[order]),
			});
		}
		return new RankedMatches(this.items, spans, starts, span, objects, []);
	}
}

/**
 * Ranked matches, best first, made one at a time when asked for: a one-letter query
 * matches most of 100,000 names, and a UI draws only a screenful of them. Holds the item
 * indices of the exact tiers 0-3 (with where the query starts in each) in typed arrays,
 * then the every-word and ranked typo-tolerant matches as objects, then the unranked
 * typo-tolerant ones (past {@link FUZZY_RANKED_MAX}: score 0.5, no ranges) as indices.
 *
 * @typeParam T - the items
 */
export class RankedMatches<T> {
	/** Number of matches. */
	readonly length: number;

	/**
	 * @param items - the indexed items
	 * @param spans - item indices of the first matches, each matching the query at one place
	 * @param starts - by position in `spans`: where the query starts in the name; undefined
	 *   for no ranges at all (a blank query)
	 * @param span - the query's length minus one (a range's end minus its start)
	 * @param objects - the matches after `spans`
	 * @param loose - item indices of the last matches (score 0.5, no ranges)
	 */
	constructor(
		private readonly items: readonly T[],
		private readonly spans: Uint32Array,
		private readonly starts: Int32Array | undefined,
		private readonly span: number,
		private readonly objects: readonly FuzzyMatch<T>[],
		private readonly loose: readonly number[],
	) {
		this.length = spans.length + objects.length + loose.length;
	}

	/**
	 * The match at position `at` (0 is the best), made now; undefined past the end.
	 * @param at - a position, 0 to `length - 1`
	 */
	at(at: number): FuzzyMatch<T> | undefined {
		if (!Number.isInteger(at) || at < 0 || at >= this.length) return undefined;
		const spans = this.spans.length;
		if (at < spans) {
			const item = this.items[this.spans[at]];
			if (this.starts === undefined) return { item, score: 0, ranges: [] };
			const start = this.starts[at];
			return { item, score: 0, ranges: [[start, start + this.span]] };
		}
		const objects = this.objects.length;
		if (at < spans + objects) return this.objects[at - spans];
		return { item: this.items[this.loose[at - spans - objects]], score: 0.5, ranges: [] };
	}

	/** No matches. */
	static empty<T>(): RankedMatches<T> {
		return new RankedMatches<T>([], new Uint32Array(0), undefined, -1, [], []);
	}

	/** Every match, made now, best first. */
	toArray(): FuzzyMatch<T>[] {
		const out: FuzzyMatch<T>[] = new Array(this.length);
		for (let at = 0; at < this.length; at++) out[at] = this.at(at) as FuzzyMatch<T>;
		return out;
	}
}

/**
 * Item indices of the exact tiers 0-3 in rank order: by tier, then by the length of their
 * names (shorter first), list order among equals. A stable counting sort over `tierOf`
 * (names are short), so the 95,000 hits of a one-letter query cost no comparison sort.
 * @param tierOf - by item, its tier or {@link NO_TIER}
 * @param lengths - by item, its name's length
 * @param longest - the largest of `lengths`
 */
function byTierAndLength(tierOf: Uint8Array, lengths: Uint16Array, longest: number): Uint32Array {
	const stride = longest + 1;
	const counts = new Uint32Array(Tier.AllWords * stride + 1);
	for (let index = 0; index < tierOf.length; index++) {
		const tier = tierOf[index];
		if (tier !== NO_TIER) counts[tier * stride + lengths[index] + 1]++;
	}
	for (let n = 1; n < counts.length; n++) counts[n] += counts[n - 1];
	const order = new Uint32Array(counts[counts.length - 1]);
	for (let index = 0; index < tierOf.length; index++) {
		const tier = tierOf[index];
		if (tier !== NO_TIER) order[counts[tier * stride + lengths[index]]++] = index;
	}
	return order;
}

/**
 * Positions in `indices` ordered by the length of their names, shorter first, list order
 * among equal lengths: a stable counting sort (names are short), so the 60,000 hits of a
 * one-letter query cost no comparison sort.
 * @param indices - indices into `names`, in list order
 */
function byLength(indices: readonly number[], names: readonly string[]): Uint32Array {
	let longest = 0;
	for (const index of indices) longest = Math.max(longest, names[index].length);
	const counts = new Uint32Array(longest + 2);
	for (const index of indices) counts[names[index].length + 1]++;
	for (let n = 1; n < counts.length; n++) counts[n] += counts[n - 1];
	const order = new Uint32Array(indices.length);
	indices.forEach((index, at) => {
		order[counts[names[index].length]++] = at;
	});
	return order;
}

/** uFuzzy's flat `[start, end)` ranges as inclusive pairs, single letters dropped when wider ones exist. */
function toRanges(flat: number[] | undefined): [number, number][] {
	const ranges: [number, number][] = [];
	for (let i = 0; flat && i + 1 < flat.length; i += 2) ranges.push([flat[i], flat[i + 1] - 1]);
	// Single letters scattered over the name are noise when highlighted.
	const wide = ranges.filter(([a, b]) => b > a);
	return mergeRanges(wide.length > 0 ? wide : ranges);
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
