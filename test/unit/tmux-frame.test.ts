/**
 * The e2e tests' clean-frame check (test/helpers/tmux.ts) on made-up screens: it must
 * accept a whole frame and reject the ways a terminal shows a garbled one.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { assertCleanFrame, boldRuns, cells, paneRows, selectedRow } from "../helpers/tmux.js";

/** A box `width` × `height` with `title`, heavy or round, its body rows given. */
function box(width: number, height: number, title: string, heavy = false, body: string[] = []) {
	const [tl, tr, bl, br, side, line] = heavy
		? ["┏", "┓", "┗", "┛", "┃", "━"]
		: ["╭", "╮", "╰", "╯", "│", "─"];
	const rows = [`${tl}${line} ${title} ${line.repeat(width - 5 - title.length)}${tr}`];
	for (let i = 0; i < height - 2; i++)
		rows.push(`${side}${(body[i] ?? "").padEnd(width - 2)}${side}`);
	rows.push(`${bl}${line.repeat(width - 2)}${br}`);
	return rows;
}

/** Peers and Files side by side, Transfers below, a status line: 40 × 12. */
function screen(filesHeavy = false): string[] {
	const peers = box(15, 6, "Peers", false, ["› bob"]);
	const files = box(25, 6, "Files (2)", filesHeavy, ["  Name", "› a.txt  1 B", "  b.txt  2 B"]);
	const top = peers.map((row, i) => row + files[i]);
	return [...top, ...box(40, 5, "Transfers"), "alice · share /srv  q quit"];
}

describe("the clean-frame check of the tmux tests", () => {
	it("finds the bands and panes of a whole frame, round or heavy", () => {
		for (const heavy of [false, true]) {
			const bands = assertCleanFrame(screen(heavy), 40, 12);
			assert.deepEqual(
				bands.map((band) =>
					band.panes.map((pane) => [pane.title, pane.left, pane.right, pane.heavy]),
				),
				[
					[
						["Peers", 0, 14, false],
						["Files (2)", 15, 39, heavy],
					],
					[["Transfers", 0, 39, false]],
				],
			);
		}
		assert.deepEqual(paneRows(screen(), 40, 12, "Files").slice(0, 3), [
			"  Name",
			"› a.txt  1 B",
			"  b.txt  2 B",
		]);
	});

	it("rejects a frame with a row missing, a row cut short, a shifted border, or mixed styles", () => {
		const cases: Array<[string, string[], number, RegExp]> = [
			["a row missing", screen().slice(0, 11), 12, /11 rows instead of 12/],
			[
				"a row half drawn",
				screen().map((row, i) => (i === 3 ? row.slice(0, 20) : row)),
				12,
				/row 3 is 20 cells wide/,
			],
			[
				"a border one column off",
				screen().map((row, i) => (i === 2 ? `${row.slice(0, 13)}│ ${row.slice(15)}` : row)),
				12,
				/row 2: pane "Peers" lacks its │ borders/,
			],
			[
				"a side of the wrong style",
				screen().map((row, i) => (i === 2 ? row.replace(/│$/, "┃") : row)),
				12,
				/row 2: pane "Files \(2\)" lacks its │ borders/,
			],
			[
				"a bottom border lost",
				screen().map((row, i) => (i === 5 ? row.replace("╰", "│").replace("╯", "│") : row)),
				12,
				/row 5: pane "Files \(2\)" lacks its │ borders/,
			],
			["a wrong size", screen(), 13, /12 rows instead of 13/],
		];
		for (const [what, lines, rows, why] of cases) {
			assert.throws(() => assertCleanFrame(lines, 40, rows), why, what);
		}
	});

	it("counts wide characters as two cells and combining marks as none", () => {
		assert.equal(cells("日本").length, 4);
		assert.equal(cells("e\u0301").length, 1);
		assert.equal(cells("Café").length, 4);
	});

	it("reads the selected row and the bold runs", () => {
		assert.equal(selectedRow(screen().join("\n")), "bob");
		assert.equal(selectedRow("│› ▸ docs/      2 files│"), "▸ docs/");
		assert.deepEqual(boldRuns("\u001B[36m╭─ \u001B[1mFiles (2)\u001B[22m ──╮"), ["Files (2)"]);
	});
});
