import assert from "node:assert/strict";
import { describe, it } from "node:test";
import {
	displayWidth,
	fit,
	formatAge,
	formatBytes,
	formatBytesCompact,
	formatRate,
	percent,
	printable,
	progressBar,
	truncateEnd,
	truncateMiddle,
	truncateProse,
} from "../../source/ui/format.js";

describe("formatBytes", () => {
	it("shows whole bytes below 1 KiB", () => {
		assert.equal(formatBytes(0), "0 B");
		assert.equal(formatBytes(512), "512 B");
		assert.equal(formatBytes(1023), "1023 B");
	});

	it("uses binary units with one decimal", () => {
		assert.equal(formatBytes(1024), "1.0 KiB");
		assert.equal(formatBytes(1536), "1.5 KiB");
		assert.equal(formatBytes(5 * 1024 ** 2), "5.0 MiB");
		assert.equal(formatBytes(1.5 * 1024 ** 3), "1.5 GiB");
	});

	it("promotes a value that would round up to 1024", () => {
		assert.equal(formatBytes(1024 ** 2 - 1), "1.0 MiB");
		assert.equal(formatBytes(1024 ** 3 - 1), "1.0 GiB");
	});

	it("stops at GiB", () => {
		assert.equal(formatBytes(5000 * 1024 ** 3), "5000.0 GiB");
	});

	it("treats negative and non-finite sizes as 0", () => {
		assert.equal(formatBytes(-5), "0 B");
		assert.equal(formatBytes(Number.NaN), "0 B");
	});
});

describe("formatBytesCompact", () => {
	it("uses one-letter binary units, one decimal below 10", () => {
		assert.equal(formatBytesCompact(0), "0");
		assert.equal(formatBytesCompact(512), "512B");
		assert.equal(formatBytesCompact(1536), "1.5K");
		assert.equal(formatBytesCompact(120 * 1024 ** 2), "120M");
		assert.equal(formatBytesCompact(3 * 1024 ** 3), "3.0G");
	});

	it("promotes a value that would show as 1000 or more and stays within five columns", () => {
		assert.equal(formatBytesCompact(1000 * 1024 ** 2), "1.0G");
		assert.equal(formatBytesCompact(999 * 1024), "999K");
		for (const bytes of [1023, 1024, 9.99 * 1024, 999.6 * 1024, 5e9, 2e15, -1, Number.NaN]) {
			assert.ok(formatBytesCompact(bytes).length <= 5, `${bytes}: ${formatBytesCompact(bytes)}`);
		}
	});
});

describe("formatRate", () => {
	it("uses decimal units per second", () => {
		assert.equal(formatRate(0), "0 B/s");
		assert.equal(formatRate(999), "999 B/s");
		assert.equal(formatRate(1200), "1.2 KB/s");
		assert.equal(formatRate(1_234_567), "1.2 MB/s");
		assert.equal(formatRate(2.5e9), "2.5 GB/s");
	});

	it("promotes a rate that would round up to 1000", () => {
		assert.equal(formatRate(999.6), "1.0 KB/s");
		assert.equal(formatRate(999_960), "1.0 MB/s");
	});
});

describe("progressBar", () => {
	it("fills cells in proportion", () => {
		assert.equal(progressBar(0.5, 10), "[#####-----]");
		assert.equal(progressBar(0, 10), "[----------]");
		assert.equal(progressBar(1, 10), "[##########]");
		assert.equal(progressBar(0.3, 4), "[#---]");
	});

	it("is full only when complete", () => {
		assert.equal(progressBar(0.999, 10), "[#########-]");
	});

	it("clamps out-of-range fractions", () => {
		assert.equal(progressBar(2, 5), "[#####]");
		assert.equal(progressBar(-1, 5), "[-----]");
		assert.equal(progressBar(Number.NaN, 5), "[-----]");
		assert.equal(progressBar(0.5, 0), "[]");
	});
});

describe("percent", () => {
	it("rounds down so 100 means done", () => {
		assert.equal(percent(47, 100), 47);
		assert.equal(percent(999, 1000), 99);
		assert.equal(percent(1000, 1000), 100);
		assert.equal(percent(5, 0), 0);
		assert.equal(percent(2000, 1000), 100);
	});
});

describe("formatAge", () => {
	it("shows whole seconds since a moment", () => {
		assert.equal(formatAge(10_000, 13_999), "3s");
		assert.equal(formatAge(10_000, 10_000), "0s");
		assert.equal(formatAge(10_000, 9_000), "0s");
	});
});

describe("displayWidth", () => {
	it("counts wide and zero-width characters", () => {
		assert.equal(displayWidth("abc"), 3);
		assert.equal(displayWidth("日本"), 4);
		assert.equal(displayWidth("e\u0301"), 1);
	});
});

describe("truncateMiddle", () => {
	it("returns text that fits unchanged", () => {
		assert.equal(truncateMiddle("notes.txt", 9), "notes.txt");
		assert.equal(truncateMiddle("notes.txt", 20), "notes.txt");
	});

	it("cuts the middle, marks it and keeps the extension", () => {
		const out = truncateMiddle("holiday-photos-2024-summer.jpeg", 16);
		assert.equal(displayWidth(out), 16);
		assert.ok(out.includes("…"));
		assert.ok(out.startsWith("holiday"), out);
		assert.ok(out.endsWith(".jpeg"), out);
	});

	it("keeps a long extension when it leaves room for the start", () => {
		assert.equal(truncateMiddle("abcdefghijklmnop.verylongext", 15), "ab….verylongext");
	});

	it("falls back to a plain middle cut when the extension cannot fit", () => {
		const out = truncateMiddle("abcdefghij.extension", 8);
		assert.equal(displayWidth(out), 8);
		assert.equal(out, "abcd…ion");
	});

	it("handles tiny widths", () => {
		assert.equal(truncateMiddle("abcdef.txt", 1), "…");
		assert.equal(truncateMiddle("abcdef.txt", 0), "");
	});

	it("never splits a wide character past the width", () => {
		const out = truncateMiddle("日本語のファイル名.txt", 9);
		assert.ok(displayWidth(out) <= 9, out);
		assert.ok(out.endsWith(".txt"), out);
	});
});

describe("truncateProse", () => {
	const error =
		"failed: disk full writing /home/alice/Downloads/movie.mkv; the partial download is kept, retry to resume";

	it("returns text that fits unchanged", () => {
		assert.equal(truncateProse("failed: hash mismatch", 30), "failed: hash mismatch");
	});

	it("keeps the start and the end, cut at word boundaries", () => {
		assert.equal(truncateProse(error, 38), "failed: disk full … retry to resume");
		for (const width of [1, 2, 5, 20, 38, 60, 100]) {
			const out = truncateProse(error, width);
			assert.ok(displayWidth(out) <= width, `${width}: ${out}`);
			assert.ok(out.includes("…"), out);
		}
		assert.equal(truncateProse(error, 0), "");
	});
});

describe("truncateEnd and fit", () => {
	it("cuts the end with an ellipsis", () => {
		assert.equal(truncateEnd("abcdef", 4), "abc…");
		assert.equal(truncateEnd("abc", 4), "abc");
		assert.equal(truncateEnd("abc", 0), "");
	});

	it("pads to an exact width on either side", () => {
		assert.equal(fit("ab", 5), "ab   ");
		assert.equal(fit("ab", 5, "right"), "   ab");
		assert.equal(fit("abcdefgh", 5), "abcd…");
		assert.equal(fit("abcdefgh.txt", 9, "left", "middle"), "abcd….txt");
		assert.equal(fit("ab", 0), "");
	});
});

describe("printable", () => {
	it("turns escape sequences, C1 controls and bidi overrides from the network into U+FFFD", () => {
		assert.equal(printable("a\u001B[2Jb"), "a\uFFFD[2Jb");
		assert.equal(printable("x\u009By\u202Ez\u0007"), "x\uFFFDy\uFFFDz\uFFFD");
		assert.equal(printable("Café – résumé ü.txt"), "Café – résumé ü.txt");
		const shown = fit("evil\u001B]0;pwned\u0007name", 40);
		assert.ok(!shown.includes("\u001B") && !shown.includes("\u0007"), shown);
	});
});
