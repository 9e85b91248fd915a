import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { FuzzyIndex, fuzzySearch } from "../../source/search/fuzzy.js";

const same = (name: string) => name;

/** The text a match's ranges cover, joined by "|". */
function highlighted(name: string, ranges: [number, number][]): string {
	return ranges.map(([start, end]) => name.slice(start, end + 1)).join("|");
}

const DECOYS = [
	"silicone valve.txt",
	"slice of valencia.png",
	"Sillycon Vale.doc",
	"tv/The Valley.mkv",
	"silicon-wafer-datasheet.pdf",
	"various all eyes.txt",
	"music/Valley Girl.mp3",
];

describe("fuzzySearch", () => {
	it('finds "Silicon Valley" first for the misspelled "slicon valey", among decoys', () => {
		const names = [...DECOYS.slice(0, 4), "tv/Silicon Valley S01E01.mkv", ...DECOYS.slice(4)];
		const matches = fuzzySearch("slicon valey", names, same);
		assert.equal(matches[0]?.item, "tv/Silicon Valley S01E01.mkv");
		assert.ok(matches.length < names.length, "unrelated names are left out");
		assert.ok(!matches.some((m) => m.item === "music/Valley Girl.mp3"));
		assert.ok(!matches.some((m) => m.item === "silicon-wafer-datasheet.pdf"));
		// The highlight covers the words it matched, not stray letters.
		const top = matches[0];
		assert.ok(top);
		assert.match(highlighted(top.item, top.ranges), /Silicon.*Valley/);
	});

	it("ranks exact, then prefix, then word-start and substring matches before scattered ones", () => {
		const names = [
			"v_a_l_l_e_y.txt",
			"my-valleys.zip",
			"thevalleyfiles.txt",
			"valley-photos.zip",
			"valley.txt",
			"vally.txt",
			"valley",
		];
		const order = fuzzySearch("valley", names, same).map((m) => m.item);
		assert.deepEqual(order.slice(0, 5), [
			"valley",
			"valley.txt",
			"valley-photos.zip",
			"my-valleys.zip",
			"thevalleyfiles.txt",
		]);
		// The misspelled one still matches, after every exact one.
		assert.equal(order[5], "vally.txt");
	});

	it("ranks a prefix of the last path segment like a prefix of the name", () => {
		const names = ["archive/old-report.pdf", "docs/report-2024.pdf", "reports-archive/a.txt"];
		const order = fuzzySearch("report", names, same).map((m) => m.item);
		assert.deepEqual(order, [
			"docs/report-2024.pdf",
			"reports-archive/a.txt",
			"archive/old-report.pdf",
		]);
	});

	it("matches case-insensitively and points the ranges at the matched characters", () => {
		const [match] = fuzzySearch("GUIDE", ["docs/Guide.md"], same);
		assert.ok(match);
		assert.deepEqual(match.ranges, [[5, 9]]);
		assert.equal(highlighted(match.item, match.ranges), "Guide");
		const [inside] = fuzzySearch("nested/deep", ["docs/nested/deep notes.txt"], same);
		assert.deepEqual(inside?.ranges, [[5, 15]]);
	});

	it("matches every word of the query in any order, each highlighted", () => {
		const names = ["docs/nested/deep notes.txt", "docs/guide.md", "deep/other.txt"];
		const matches = fuzzySearch("notes docs", names, same);
		assert.equal(matches[0]?.item, "docs/nested/deep notes.txt");
		const top = matches[0];
		assert.ok(top);
		assert.equal(highlighted(top.item, top.ranges), "docs|notes");
	});

	it("keeps every item, in order, for an empty or blank query", () => {
		const names = ["b.txt", "a.txt", "c/d.txt"];
		for (const query of ["", "   "]) {
			const matches = fuzzySearch(query, names, same);
			assert.deepEqual(
				matches.map((m) => m.item),
				names,
			);
			assert.ok(matches.every((m) => m.score === 0 && m.ranges.length === 0));
		}
	});

	it("returns nothing when nothing is close", () => {
		assert.deepEqual(fuzzySearch("zzqxj", ["alpha.txt", "beta.bin"], same), []);
	});

	it("searches objects through the name function", () => {
		const files = [
			{ id: 1, path: "a/holiday.jpg" },
			{ id: 2, path: "b/work.txt" },
		];
		const [match] = fuzzySearch("holidy", files, (f) => f.path);
		assert.equal(match?.item.id, 1);
	});
});

describe("FuzzyIndex", () => {
	it("searches 100,000 names, finding the misspelled one first", () => {
		const words = ["alpha", "beta", "photos", "music", "report", "summer", "backup", "notes"];
		const names = Array.from(
			{ length: 100_000 },
			(_, i) =>
				`${words[i % 8]}/${words[(i >> 3) % 8]}-${words[(i >> 6) % 8]}/file_${i}.${i % 2 ? "txt" : "bin"}`,
		);
		names[73_251] = "tv/Silicon Valley S02E03.mkv";
		const index = new FuzzyIndex(names, same);
		assert.equal(index.size, 100_000);
		const matches = index.search("slicon valey");
		assert.equal(matches[0]?.item, "tv/Silicon Valley S02E03.mkv");
		// The same index serves the next keystroke, and exact searches find every hit.
		const exact = index.search("file_9999.");
		assert.equal(exact[0]?.item, names[9999]);
		assert.equal(index.search("").length, 100_000);
	});

	it("searches in steps, one chunk at a time, with the same result as one search", () => {
		const names = Array.from({ length: 50 }, (_, i) => `folder-${i}/valley-${i}.txt`);
		names.push("Silicon Valley.mkv");
		const index = new FuzzyIndex(names, same, 16);
		assert.equal(index.chunkCount, 4);
		const steps = index.steps("slicon valey");
		const done: number[] = [];
		let next = steps.next();
		while (!next.done) {
			done.push(next.value);
			next = steps.next();
		}
		assert.deepEqual(done, [16, 32, 48, 51]);
		assert.deepEqual(next.value.toArray(), index.search("slicon valey"));
		assert.equal(next.value.at(0)?.item, "Silicon Valley.mkv");
	});

	it("ranks lazily: each match made when asked for equals the one search() makes", () => {
		const words = ["alpha", "archive", "beta", "arch", "notes", "apple"];
		const names = Array.from(
			{ length: 3000 },
			(_, i) => `${words[i % 6]}-${words[(i >> 2) % 6]} ${words[(i >> 4) % 6]} ${i}.txt`,
		);
		const index = new FuzzyIndex(names, same, 256);
		const ranked = index.ranked("a");
		const all = index.search("a");
		assert.equal(ranked.length, all.length);
		assert.ok(all.length > 2000);
		for (const at of [0, 1, 500, all.length - 1]) assert.deepEqual(ranked.at(at), all[at]);
		assert.equal(ranked.at(all.length), undefined);
		assert.equal(ranked.at(-1), undefined);
	});

	it("typing on, narrowed from earlier queries, finds what a fresh search finds", () => {
		const words = ["alpha", "archive", "beta", "arch", "notes", "apple", "alhpa", "acrh"];
		const names = Array.from(
			{ length: 5000 },
			(_, i) => `${words[i % 8]}-${words[(i >> 3) % 8]} ${words[(i >> 6) % 8]} ${i}.txt`,
		);
		names.push("tv/Silicon Valley S02E03.mkv", "ſilicon ᴋ.txt");
		const typed = new FuzzyIndex(names, same, 512);
		for (const query of ["alpha arch", "slicon valey", "alp aplh", "beta arhc"]) {
			for (let end = 1; end <= query.length; end++) {
				const text = query.slice(0, end);
				assert.deepEqual(typed.search(text), new FuzzyIndex(names, same).search(text), text);
			}
		}
		assert.equal(typed.search("slicon valey")[0]?.item, "tv/Silicon Valley S02E03.mkv");
	});
});
