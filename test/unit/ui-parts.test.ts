// First: ink must not start in CI mode (see the helper).
import "../helpers/as-terminal.js";
import assert from "node:assert/strict";
import fs from "node:fs";
import { describe, it } from "node:test";
import { stripVTControlCharacters } from "node:util";
import fc from "fast-check";
import type { TransferState } from "../../source/peer/types.js";
import { pieceCount, pieceSizeFor } from "../../source/protocol/manifest.js";
import { pauseIntents } from "../../source/ui/app.js";
import { guardConsole, KEPT_LINES } from "../../source/ui/console-guard.js";
import { fileDetails, peerDetails, transferLocation } from "../../source/ui/details.js";
import { displayWidth, formatEta, segmentsText } from "../../source/ui/format.js";
import {
	actionForKey,
	CONFIRM_KEYMAP,
	describeAction,
	formActionForKey,
	helpSections,
	KEY_MODES,
	KEYMAP,
	keyLabel,
	PANEL_KEYMAP,
	splitKeys,
} from "../../source/ui/keymap.js";
import { editLimitsForm, openLimitsForm, parseLimitsForm } from "../../source/ui/limits-form.js";
import {
	detailLines,
	helpLines,
	limitsFormLines,
	wrapText,
} from "../../source/ui/panel-content.js";
import { transferSummary } from "../../source/ui/rows.js";
import { file, folderTransfer, peer, snapshot, transfer, waitUntil } from "../helpers/ui.js";

describe("formatEta", () => {
	it("fits six columns from seconds to days", () => {
		assert.equal(formatEta(0), "0s");
		assert.equal(formatEta(42.2), "43s");
		assert.equal(formatEta(184), "3m04s");
		assert.equal(formatEta(12 * 3600 + 4 * 60), "12h04m");
		assert.equal(formatEta(99 * 3600 + 59 * 60), "99h59m");
		assert.equal(formatEta(5 * 86_400 + 3 * 3600), "5d03h");
		assert.equal(formatEta(200 * 86_400), "99d+");
		assert.equal(formatEta(Number.POSITIVE_INFINITY), "");
		assert.equal(formatEta(-1), "");
		for (const seconds of [1, 59, 60, 3599, 3600, 359_999, 360_000, 8_639_999]) {
			assert.ok(formatEta(seconds).length <= 6, formatEta(seconds));
		}
	});
});

describe("transferSummary", () => {
	const base = snapshot({
		rates: { down: 1_234_567, up: 340_000 },
		limits: { maxDown: 500_000, maxUp: null, maxActive: 3 },
		transfers: [
			transfer("a", { status: "downloading" }),
			transfer("b", { status: "waiting" }),
			transfer("c", { status: "queued" }),
			transfer("d", { status: "paused" }),
			transfer("e", { status: "complete" }),
		],
	});

	it("says total rates, active over the limit, queued, paused and the limits", () => {
		assert.equal(
			transferSummary(base, 200),
			"↓ 1.2 MB/s ↑ 340.0 KB/s · active 2/3 · 1 queued · 1 paused · limits ↓ 500.0 KB/s ↑ unlimited",
		);
	});

	it("keeps the rates, then the limits, when room is short", () => {
		assert.equal(
			transferSummary(base, 60),
			"↓ 1.2 MB/s ↑ 340.0 KB/s · limits ↓ 500.0 KB/s ↑ unlimited",
		);
		assert.equal(transferSummary(base, 40), "↓ 1.2 MB/s ↑ 340.0 KB/s · active 2/3");
		assert.equal(transferSummary(base, 10), "↓ 1.2 MB/…");
		for (const width of [0, 5, 30, 74, 120]) {
			assert.ok(displayWidth(transferSummary(base, width)) <= width);
		}
	});

	it("leaves the limits out when none is set", () => {
		const free = { ...base, limits: { maxDown: null, maxUp: null, maxActive: 5 } };
		assert.equal(
			transferSummary(free, 200),
			"↓ 1.2 MB/s ↑ 340.0 KB/s · active 2/5 · 1 queued · 1 paused",
		);
	});
});

describe("the limits form", () => {
	it("opens with the limits in force, in KB/s, empty for unlimited", () => {
		assert.deepEqual(openLimitsForm({ maxDown: 1_500_000, maxUp: null, maxActive: 4 }), {
			values: ["1500", "", "4", ""],
			field: 0,
		});
		assert.equal(openLimitsForm({ maxDown: 1_250, maxUp: 100, maxActive: 1 }).values[0], "1.3");
	});

	it("edits the field being edited and moves between fields, wrapping around", () => {
		let form = openLimitsForm({ maxDown: null, maxUp: null, maxActive: 3 });
		form = editLimitsForm(form, { type: "type", text: "25" });
		form = editLimitsForm(form, { type: "field", delta: -2 });
		assert.equal(form.field, 2);
		form = editLimitsForm(form, { type: "erase" });
		form = editLimitsForm(form, { type: "type", text: "7" });
		form = editLimitsForm(form, { type: "field", delta: 1 });
		form = editLimitsForm(form, { type: "field", delta: 1 });
		form = editLimitsForm(form, { type: "field", delta: 1 });
		form = editLimitsForm(form, { type: "type", text: "0.5" });
		assert.deepEqual(form.values, ["25", "0.5", "7", ""]);
		form = editLimitsForm(form, { type: "erase-all" });
		assert.deepEqual(form.values, ["25", "", "7", ""]);
		form = editLimitsForm(form, { type: "field", delta: -2 });
		assert.equal(form.field, 3, "wraps to the network key");
		assert.equal(editLimitsForm(form, { type: "quit" }), form);
	});

	it("parses KB/s (1 KB = 1000 bytes), empty as unlimited, and refuses the rest with a reason", () => {
		const parse = (values: [string, string, string]) =>
			parseLimitsForm({ values: [...values, ""], field: 0 });
		assert.deepEqual(parse(["500", "", "3"]), {
			ok: true,
			limits: { maxDown: 500_000, maxUp: null, maxActive: 3 },
		});
		assert.deepEqual(parse([" 0.5", "12.25", "1"]), {
			ok: true,
			limits: { maxDown: 500, maxUp: 12_250, maxActive: 1 },
		});
		assert.deepEqual(parse(["0", "", "3"]), {
			ok: false,
			field: 0,
			error: "max download: a rate above 0 KB/s, or empty for none",
		});
		assert.equal((parse(["", "1.2.3", "3"]) as { field: number }).field, 1);
		for (const active of ["0", "", "1.5", "1001"]) {
			assert.equal((parse(["", "", active]) as { field: number }).field, 2, active);
		}
	});

	it("takes any text as the network key, shows it masked, and parses empty, - and a key", () => {
		let form = openLimitsForm({ maxDown: null, maxUp: null, maxActive: 3 }, false);
		assert.equal(formActionForKey("a", {}), undefined, "a rate field takes digits only");
		assert.deepEqual(formActionForKey("a b", {}, true), { type: "type", text: "a b" });
		assert.equal(formActionForKey("\u001b[", {}, true), undefined);
		form = editLimitsForm(form, { type: "field", delta: 3 });
		form = editLimitsForm(form, { type: "type", text: "our secret" });
		assert.equal(form.keyed, false);
		const lines = limitsFormLines(form, 70).map(segmentsText);
		assert.ok(!lines.join("\n").includes("our secret"), "the key is never drawn");
		assert.ok(
			lines.some((line) => /^› Network key\s+\[•{10} ?\s*\]/.test(line)),
			lines.join("\n"),
		);
		assert.ok(lines.some((line) => line.includes("No network key: an open network")));
		const parsed = (key: string) =>
			parseLimitsForm({ values: ["", "", "3", key], field: 3 }) as { networkKey?: string | null };
		assert.equal(parsed("").networkKey, undefined, "empty leaves the key as it is");
		assert.equal(parsed("-").networkKey, null, "- clears it");
		assert.equal(parsed("our secret").networkKey, "our secret");
		assert.equal((parsed("x".repeat(4097)) as unknown as { field: number }).field, 3);
	});

	it("draws one line per field, the edited one marked, the error shown", () => {
		const form = { ...openLimitsForm({ maxDown: null, maxUp: null, maxActive: 3 }), field: 1 };
		const lines = limitsFormLines({ ...form, error: "max upload: nope" }, 70).map(segmentsText);
		for (const line of lines) assert.equal(displayWidth(line), 70);
		assert.ok(lines.some((line) => /^ {2}Max download/.test(line)));
		assert.ok(lines.some((line) => /^› Max upload/.test(line)));
		assert.ok(lines.some((line) => line.startsWith("max upload: nope")));
	});
});

describe("keymaps and the generated help", () => {
	it("labels keys as people write them", () => {
		assert.equal(keyLabel({ input: "c", ctrl: true }), "Ctrl-C");
		assert.equal(keyLabel({ tab: true, shift: true }), "Shift-Tab");
		assert.equal(keyLabel({ upArrow: true }), "↑");
		assert.equal(keyLabel({ input: "q", ctrl: false, meta: false }), "q");
		assert.equal(keyLabel({ input: " " }), "Space");
		assert.equal(keyLabel({ escape: true }), "Esc");
	});

	it("binds the transfer controls, the help, the details and the limits", () => {
		assert.deepEqual(actionForKey("?", { shift: true }), { type: "help" });
		assert.deepEqual(actionForKey("i", {}), { type: "details" });
		assert.deepEqual(actionForKey("p", {}), { type: "pause" });
		assert.deepEqual(actionForKey("x", {}), { type: "cancel" });
		assert.deepEqual(actionForKey("o", {}), { type: "reveal" });
		assert.deepEqual(actionForKey("L", { shift: true }), { type: "limits" });
		assert.deepEqual(actionForKey("3", {}), { type: "focus", pane: "transfers" });
		assert.deepEqual(actionForKey("k", {}, CONFIRM_KEYMAP), { type: "confirm", keepPartial: true });
		assert.deepEqual(actionForKey("d", {}, CONFIRM_KEYMAP), {
			type: "confirm",
			keepPartial: false,
		});
		assert.deepEqual(actionForKey("", { escape: true, meta: true }, CONFIRM_KEYMAP), {
			type: "close",
		});
		for (const close of ["q", "?"]) {
			assert.ok(actionForKey(close, {}, PANEL_KEYMAP), close);
		}
		assert.deepEqual(formActionForKey("42.5", {}), { type: "type", text: "42.5" });
		assert.equal(formActionForKey("q", {}), undefined);
		assert.deepEqual(formActionForKey("c", { ctrl: true }), { type: "quit" });
	});

	it("splits a chunk of keys sent together into single presses", () => {
		assert.deepEqual(splitKeys("jG\r"), [
			["j", { shift: false }],
			["G", { shift: true }],
			["\r", { return: true }],
		]);
		assert.deepEqual(splitKeys("\t\u007f\u0015"), [
			["", { tab: true }],
			["", { backspace: true }],
			["u", { ctrl: true }],
		]);
		assert.deepEqual(splitKeys("é1"), [
			["é", { shift: false }],
			["1", { shift: false }],
		]);
		for (const [input, flags] of splitKeys("G\r")) assert.ok(actionForKey(input, flags));
	});

	it("covers every binding of every mode, grouped by action, each described", () => {
		const sections = helpSections();
		assert.deepEqual(
			sections.map((section) => section.title),
			KEY_MODES.map((mode) => mode.title),
		);
		KEY_MODES.forEach((mode, index) => {
			const entries = sections[index].entries;
			for (const binding of mode.bindings) {
				const does = binding.does ?? describeAction(binding.action);
				const entry = entries.find((e) => e.does === does);
				assert.ok(entry, `${mode.title}: ${does}`);
				assert.ok(entry.keys.split(" ").includes(keyLabel(binding.pattern)), entry.keys);
			}
		});
		const main = sections[0].entries;
		assert.deepEqual(
			main.find((entry) => entry.does === "quit"),
			{ keys: "Ctrl-C q", does: "quit" },
		);
		assert.deepEqual(
			main.find((entry) => entry.does === "move down"),
			{ keys: "↓ j", does: "move down" },
		);
	});

	it("flows into columns only when that shows everything, every line exactly as wide", () => {
		const sections = helpSections();
		const narrow = helpLines(sections, 76, 21);
		assert.ok(narrow.length > 21, "scrolls in one column at 80x24");
		const wide = helpLines(sections, 194, 55);
		assert.ok(wide.length <= 55, "fits at 200x60");
		for (const [lines, width] of [
			[narrow, 76],
			[wide, 194],
		] as const) {
			for (const line of lines) assert.equal(displayWidth(segmentsText(line)), width);
		}
	});

	it("is what the README's keys section lists", () => {
		const readme = fs.readFileSync(new URL("../../../README.md", import.meta.url), "utf8");
		const keys = readme.slice(
			readme.indexOf("## Keys"),
			readme.indexOf("\n## ", readme.indexOf("## Keys") + 1),
		);
		for (const mode of KEY_MODES) {
			for (const binding of mode.bindings) {
				const label = keyLabel(binding.pattern);
				assert.ok(keys.includes(`\`${label}\``), `README lists \`${label}\` (${mode.title})`);
			}
		}
		for (const binding of KEYMAP) {
			assert.ok(keys.includes(`\`${keyLabel(binding.pattern)}\``));
		}
	});
});

describe("detail views", () => {
	const snap = snapshot({
		peers: [peer("bob", { id: "b".repeat(32) }), peer("eve", { id: "e".repeat(32), banned: true })],
	});

	it("give a file's default piece size and count before its manifest is known", () => {
		const size = 3 * 1024 ** 3;
		const view = fileDetails(
			file("big.iso", { size, peers: ["b".repeat(32), "e".repeat(32), "self"] }),
			undefined,
			snap,
		);
		const value = (label: string) => view.rows.find((row) => row.label === label)?.value;
		assert.equal(value("Pieces"), pieceCount(size, pieceSizeFor(size)).toLocaleString("en-US"));
		assert.match(value("Piece size") ?? "", /\(the default for this size\)$/);
		const peers = view.rows
			.filter((row) => row.label === "Peers" || row.label === "")
			.map((r) => r.value);
		assert.deepEqual(peers, ["bob", "eve (banned)", "alice (you)"]);
	});

	it("list at most 50 of a peer's files, then how many more", () => {
		const files = Array.from({ length: 60 }, (_, index) =>
			file(`f${index}.txt`, { peers: ["b".repeat(32)] }),
		);
		const view = peerDetails(snap.peers[0], { ...snap, files }, Date.now());
		const shared = view.rows.slice(view.rows.findIndex((row) => row.label === "Shared"));
		assert.equal(shared.length, 51);
		assert.equal(shared.at(-1)?.value, "… and 10 more");
	});

	it("lay out every row exactly as wide as the panel, long values wrapped", () => {
		const view = transferLocation(
			transfer("x", { status: "failed", error: "a long reason ".repeat(10), partialPath: "/p" }),
			"/very/long/downloads/folder/that/goes/on/and/on",
		);
		for (const width of [20, 40, 76]) {
			for (const line of detailLines(view, width)) {
				assert.equal(displayWidth(segmentsText(line)), width);
			}
		}
		assert.deepEqual(wrapText("abcdef", 4), ["abcd", "ef"]);
		assert.deepEqual(wrapText("one two three", 8), ["one two", "three"]);
		assert.deepEqual(wrapText("", 5), [""]);
	});
});

describe("pauseIntents", () => {
	it("pauses, resumes, retries or leaves alone by status", () => {
		const item = (status: TransferState["status"]) => ({
			kind: "file" as const,
			transfer: transfer("a.txt", { status }),
		});
		const type = (status: TransferState["status"]) =>
			pauseIntents(item(status)).intents.map((intent) => intent.type);
		for (const status of ["queued", "starting", "downloading", "waiting", "verifying"] as const) {
			assert.deepEqual(type(status), ["pause"], status);
		}
		assert.deepEqual(type("paused"), ["resume"]);
		assert.deepEqual(type("failed"), ["download"]);
		assert.deepEqual(type("cancelled"), ["download"]);
		assert.deepEqual(type("complete"), []);
		const folder = {
			kind: "folder" as const,
			folder: folderTransfer("docs"),
			files: [transfer("docs/a", { status: "complete" })],
		};
		assert.deepEqual(pauseIntents(folder).intents, []);
	});
});

describe("guardConsole", () => {
	it("keeps console and stderr output off the screen until restored, handing it to the sink", () => {
		const writes: string[] = [];
		const stdoutWrite = process.stdout.write;
		process.stdout.write = ((chunk: string) => {
			writes.push(String(chunk));
			return true;
		}) as typeof process.stdout.write;
		const originalLog = console.log;
		const sunk: string[] = [];
		let guard: ReturnType<typeof guardConsole> | undefined;
		try {
			guard = guardConsole((line) => sunk.push(`${line.source}: ${line.text}`));
			console.log("hello %d", 42);
			console.error(new Error("boom").message);
			console.warn("two\nlines");
			process.stderr.write("raw stderr\n");
		} finally {
			guard?.restore();
			process.stdout.write = stdoutWrite;
		}
		assert.deepEqual(writes, []);
		assert.deepEqual(sunk, [
			"log: hello 42",
			"error: boom",
			"warn: two",
			"warn: lines",
			"stderr: raw stderr",
		]);
		assert.deepEqual(
			guard.lines.map((line) => line.text),
			["hello 42", "boom", "two", "lines", "raw stderr"],
		);
		assert.equal(console.log, originalLog);
		guard.restore();
		assert.equal(console.log, originalLog);
	});

	it("keeps only the last lines and survives a failing sink", () => {
		const guard = guardConsole(() => {
			throw new Error("sink down");
		});
		try {
			for (let index = 0; index < KEPT_LINES + 20; index++) console.info(`line ${index}`);
		} finally {
			guard.restore();
		}
		assert.equal(guard.lines.length, KEPT_LINES);
		assert.equal(guard.lines[0].text, "line 20");
	});
});

describe("ink's line caches kept across frames", () => {
	it("apply to the ink in use, and frames stay the same as ink draws them alone", async () => {
		const { inkFrameCacheActive } = await import("../../source/ui/ink-frame-cache.js");
		assert.equal(
			inkFrameCacheActive,
			true,
			"ink's build/output.js no longer has the expected shape",
		);
		const React = (await import("react")).default;
		const { Text, Box } = await import("ink");
		const { render } = await import("ink-testing-library");
		const rows = (marked: number) =>
			React.createElement(
				Box,
				{ flexDirection: "column" },
				...Array.from({ length: 6 }, (_, i) =>
					React.createElement(
						Text,
						{ key: i, inverse: i === marked, color: i % 2 ? "green" : undefined },
						`${i === marked ? ">" : " "} row ${i} ${"·".repeat(i)}`,
					),
				),
			);
		// The same rows drawn again after other frames filled the caches: same text and styles.
		const app = render(rows(0));
		const first = app.lastFrame();
		app.rerender(rows(3));
		const moved = app.lastFrame();
		app.rerender(rows(0));
		assert.equal(app.lastFrame(), first);
		assert.notEqual(moved, first);
		const fresh = render(rows(3));
		assert.equal(fresh.lastFrame(), moved);
		app.unmount();
		fresh.unmount();
	});
});

describe("finished rows kept across frames", () => {
	type Op =
		| {
				type: "write";
				x: number;
				y: number;
				text: string;
				transformers: Array<(line: string, index: number) => string>;
		  }
		| { type: "clip"; clip: { x1?: number; x2?: number; y1?: number; y2?: number } }
		| { type: "unclip" };
	interface Out {
		operations: Op[];
		get(): { output: string; height: number };
	}
	const loadOutput = async () => {
		const { inkOriginalGet } = await import("../../source/ui/ink-frame-cache.js");
		const entry = import.meta.resolve("ink");
		const Output = (await import(new URL("./output.js", entry).href)).default as new (options: {
			width: number;
			height: number;
		}) => Out;
		assert.ok(inkOriginalGet, "ink's Output.get is patched");
		return { Output, original: inkOriginalGet as unknown as (this: Out) => ReturnType<Out["get"]> };
	};
	const bold = (line: string) => `\u001B[1m${line}\u001B[22m`;
	const numbered = (line: string, index: number) => `${index}${line}`;
	const piece = fc.constantFrom(
		"a",
		"row 1",
		" ",
		"漢字",
		"👍",
		"é",
		"…",
		"│",
		"\u001B[32m",
		"\u001B[39m",
		"\u001B[7m",
		"\u001B[27m",
		"\u001B[2m",
		"\u001B[22m",
		"\n",
	);
	const text = fc.array(piece, { minLength: 1, maxLength: 12 }).map((parts) => parts.join(""));
	const write = fc.record({
		type: fc.constant("write" as const),
		x: fc.integer({ min: -2, max: 14 }),
		y: fc.integer({ min: -2, max: 8 }),
		text,
		transformers: fc.subarray([bold, numbered]),
	});
	const clip = fc.oneof(
		fc
			.record({ y1: fc.integer({ min: -1, max: 6 }), rows: fc.integer({ min: 0, max: 6 }) })
			.map(({ y1, rows }) => ({ type: "clip" as const, clip: { y1, y2: y1 + rows } })),
		fc
			.record({ x1: fc.integer({ min: 0, max: 6 }), y1: fc.integer({ min: 0, max: 6 }) })
			.map(({ x1, y1 }) => ({ type: "clip" as const, clip: { x1, x2: x1 + 5, y1, y2: y1 + 3 } })),
	);
	const operations = fc.array(
		fc.oneof(
			{ weight: 6, arbitrary: write },
			{ weight: 1, arbitrary: clip },
			{ weight: 1, arbitrary: fc.constant({ type: "unclip" as const }) },
		),
		{ maxLength: 14 },
	);

	it("make the same frames as ink's own grid: clips, wide characters, styles, transforms", async () => {
		const { Output, original } = await loadOutput();
		fc.assert(
			fc.property(
				fc.integer({ min: 1, max: 12 }),
				fc.integer({ min: 0, max: 7 }),
				operations,
				(width, height, ops) => {
					const frame = (get: (this: Out) => ReturnType<Out["get"]>) => {
						const output = new Output({ width, height });
						output.operations = ops as Op[];
						return get.call(output);
					};
					const expected = frame(original);
					// Twice: the second frame takes its rows from the cache.
					assert.deepEqual(frame(Output.prototype.get), expected);
					assert.deepEqual(frame(Output.prototype.get), expected);
				},
			),
			{ numRuns: 400, seed: 5 },
		);
	});

	it("answer an unchanged row from the cache: one changed row makes one row anew", async () => {
		const { Output } = await loadOutput();
		const frame = (marked: number) => {
			const output = new Output({ width: 30, height: 40 });
			for (let y = 0; y < 40; y++) {
				const line = `${y === marked ? "\u001B[7m" : ""}row ${y} 漢字${y === marked ? "\u001B[27m" : ""}`;
				output.operations.push({ type: "write", x: 1, y, text: line, transformers: [] });
			}
			return output;
		};
		const { inkRowStats } = await import("../../source/ui/ink-frame-cache.js");
		const first = frame(0).get().output;
		const made = inkRowStats.made;
		const moved = frame(1).get().output;
		// Row 0 loses the mark, row 1 gets it: two rows made, the other 38 from the cache.
		assert.equal(inkRowStats.made - made, 2);
		assert.notEqual(moved, first);
		assert.equal(frame(0).get().output, first);
		assert.equal(inkRowStats.made - made, 2, "both frames' rows are cached now");
	});
});

describe("full-screen frames drawn in place", () => {
	it("turns clear-then-draw into home, lines over the old ones, erasing only short ones", async () => {
		const { CLEAR_TERMINAL, drawInPlace } = await import("../../source/ui/steady-frames.js");
		assert.equal(drawInPlace("\u001B[2Kplain", 10), "\u001B[2Kplain");
		const green = "\u001B[32mok\u001B[39m";
		const frame = `${"x".repeat(10)}\n${green}\n${"é".repeat(10)}\nend`;
		const out = drawInPlace(CLEAR_TERMINAL + frame, 10);
		assert.ok(!out.includes("\u001B[2J"), "no clear screen");
		assert.equal(
			out,
			`\u001B[H${"x".repeat(10)}\n${green}\u001B[K\n${"é".repeat(10)}\nend\u001B[K\u001B[J`,
		);
		// The visible text is the frame's, line for line.
		assert.equal(stripAnsi(out), stripAnsi(frame));
		// A last line as wide as the terminal: no erase that would take its last column.
		assert.ok(drawInPlace(`${CLEAR_TERMINAL}ab\n${"y".repeat(10)}`, 10).endsWith("y".repeat(10)));
	});
});

describe("full-screen frames drawn where they changed", () => {
	/** A minimal terminal: plain cells; CUP, home, EL, ED, clear, newline; SGR ignored. */
	class Screen {
		readonly cells: string[][];
		row = 0;
		col = 0;
		constructor(
			readonly columns: number,
			readonly rows: number,
		) {
			this.cells = Array.from({ length: rows }, () => Array(columns).fill(" "));
		}
		write(data: string): void {
			// biome-ignore lint/suspicious/noControlCharactersInRegex: parsing escape sequences is the point
			for (const part of data.split(/(\u001B\[[0-9;?]*[A-Za-z]|\n)/)) {
				if (part === "") continue;
				if (part === "\n") {
					this.row = Math.min(this.rows - 1, this.row + 1);
					this.col = 0;
					continue;
				}
				// biome-ignore lint/suspicious/noControlCharactersInRegex: parsing escape sequences is the point
				const csi = /^\u001B\[([0-9;?]*)([A-Za-z])$/.exec(part);
				if (!csi) {
					for (const char of part) {
						if (this.col >= this.columns) continue;
						this.cells[this.row][this.col++] = char;
					}
					continue;
				}
				const [, args, final] = csi;
				const numbers = args.split(";").map((n) => Number(n || "1"));
				if (final === "H") {
					this.row = (args === "" ? 1 : numbers[0]) - 1;
					this.col = (numbers[1] ?? 1) - 1;
				} else if (final === "K") {
					for (let c = this.col; c < this.columns; c++) this.cells[this.row][c] = " ";
				} else if (final === "J") {
					const from = args === "2" || args === "3" ? 0 : this.row;
					for (let r = from; r < this.rows; r++) {
						const start = r === this.row && from !== 0 ? this.col : 0;
						for (let c = start; c < this.columns; c++) this.cells[r][c] = " ";
					}
				}
			}
		}
		text(): string {
			return this.cells.map((row) => row.join("").trimEnd()).join("\n");
		}
	}
	/** A TTY-like stream that keeps what was written and draws it on a {@link Screen}. */
	const fakeTerminal = (columns: number, rows: number) => {
		const writes: string[] = [];
		const stream = {
			columns,
			rows,
			screen: new Screen(columns, rows),
			write(chunk: string | Uint8Array) {
				const text = typeof chunk === "string" ? chunk : Buffer.from(chunk).toString();
				writes.push(text);
				stream.screen.write(text);
				return true;
			},
		};
		return { stream, writes };
	};
	const frame = (lines: string[]) => lines.join("\n");

	it("writes a changed line only, after a cursor move to its row; nothing for the same frame", async () => {
		const { CLEAR_TERMINAL, steadyFrames } = await import("../../source/ui/steady-frames.js");
		const { stream, writes } = fakeTerminal(12, 4);
		const unsteady = steadyFrames(stream as unknown as NodeJS.WriteStream);
		const first = ["\u001B[1mtitle\u001B[22m", "  row one", "› row two", "status"];
		stream.write(CLEAR_TERMINAL + frame(first));
		assert.ok(writes[0].startsWith("\u001B[H"), "the first frame is drawn whole, in place");
		assert.equal(stream.screen.text(), stripAnsi(frame(first)));
		const second = ["\u001B[1mtitle\u001B[22m", "› row one", "  row two", "status"];
		stream.write("\u001B[?2026h");
		stream.write(CLEAR_TERMINAL + frame(second));
		stream.write("\u001B[?2026l");
		assert.equal(
			writes[2],
			"\u001B[2;1H› row one\u001B[K\u001B[3;1H  row two\u001B[K\u001B[4;7H",
			"rows 2 and 3 only, then the cursor at the end of the frame",
		);
		assert.equal(stream.screen.text(), stripAnsi(frame(second)));
		stream.write(CLEAR_TERMINAL + frame(second));
		assert.equal(writes[4], "", "an unchanged frame writes nothing");
		// A shorter line erases what the longer one left.
		const third = ["\u001B[1mtitle\u001B[22m", "› r", "  row two", "status"];
		stream.write(CLEAR_TERMINAL + frame(third));
		assert.equal(stream.screen.text(), stripAnsi(frame(third)));
		unsteady();
		stream.write(CLEAR_TERMINAL);
		assert.equal(writes.at(-1), CLEAR_TERMINAL, "the original write is back");
	});

	it("draws the next frame whole after another write, a resize or a change of height", async () => {
		const { CLEAR_TERMINAL, steadyFrames } = await import("../../source/ui/steady-frames.js");
		const { stream, writes } = fakeTerminal(10, 3);
		steadyFrames(stream as unknown as NodeJS.WriteStream);
		const a = ["one", "two", "three"];
		const b = ["one", "2", "three"];
		stream.write(CLEAR_TERMINAL + frame(a));
		stream.write("\u001B[2K\u001B[1A");
		stream.write(CLEAR_TERMINAL + frame(b));
		assert.ok(writes.at(-1)?.startsWith("\u001B[H"), "after another write: whole");
		stream.write(CLEAR_TERMINAL + frame(a));
		assert.equal(writes.at(-1), "\u001B[2;1Htwo\u001B[K\u001B[3;6H");
		stream.columns = 9;
		stream.write(CLEAR_TERMINAL + frame(b));
		assert.ok(writes.at(-1)?.startsWith("\u001B[H"), "after a resize: whole");
		stream.write(CLEAR_TERMINAL + frame([...a, "four"]));
		assert.ok(writes.at(-1)?.startsWith("\u001B[H"), "another number of lines: whole");
		stream.write(Buffer.from("x"));
		stream.write(CLEAR_TERMINAL + frame([...a, "four"]));
		assert.ok(writes.at(-1)?.startsWith("\u001B[H"), "after a binary write: whole");
	});

	it("turns the App's key press at 120x40 into a few changed lines", async () => {
		const { EventEmitter } = await import("node:events");
		const React = (await import("react")).default;
		const { render } = await import("ink");
		const { App } = await import("../../source/ui/app.js");
		const { steadyFrames } = await import("../../source/ui/steady-frames.js");
		const { FakeStore } = await import("../helpers/ui.js");
		const stdout = Object.assign(new EventEmitter(), {
			isTTY: true,
			columns: 120,
			rows: 40,
			writes: [] as string[],
			screen: new Screen(120, 40),
			write(chunk: string) {
				stdout.writes.push(chunk);
				stdout.screen.write(chunk);
				return true;
			},
		});
		const stdin = Object.assign(new EventEmitter(), {
			isTTY: true,
			queue: [] as string[],
			read: () => stdin.queue.shift() ?? null,
			setEncoding() {},
			setRawMode() {},
			resume() {},
			pause() {},
			ref() {},
			unref() {},
		});
		const files = Array.from({ length: 200 }, (_, i) =>
			file(`file ${String(i).padStart(3, "0")}.txt`),
		);
		const unsteady = steadyFrames(stdout as unknown as NodeJS.WriteStream);
		const app = render(React.createElement(App, { store: new FakeStore(snapshot({ files })) }), {
			stdout: stdout as unknown as NodeJS.WriteStream,
			stdin: stdin as unknown as NodeJS.ReadStream,
			exitOnCtrlC: false,
			patchConsole: false,
		});
		try {
			const shown = () => stdout.screen.text();
			const wait = (check: () => boolean, what: string) =>
				waitUntil(check, () => `${what}:\n${shown()}`);
			await wait(() => /› file 000\.txt/.test(shown()), "the first file selected");
			// ink draws its first frame with its own log; a full-screen frame comes after it.
			stdin.queue.push("j");
			stdin.emit("readable");
			await wait(() => /› file 001\.txt/.test(shown()), "the second file selected");
			const whole = Math.max(...stdout.writes.map((w) => w.length));
			const count = stdout.writes.length;
			stdin.queue.push("j");
			stdin.emit("readable");
			await wait(() => /› file 002\.txt/.test(shown()), "the third file selected");
			const after = stdout.writes
				.slice(count)
				.filter((w) => w.length > 0 && !w.startsWith("\u001B[?2026"));
			assert.equal(after.length, 1, "one frame for the key");
			assert.ok(after[0].length < whole / 4, `${after[0].length} bytes, the whole frame ${whole}`);
			// biome-ignore lint/suspicious/noControlCharactersInRegex: parsing escape sequences is the point
			const rows = [...after[0].matchAll(/\u001B\[(\d+);1H/g)].map((m) => Number(m[1]));
			assert.equal(rows.length, 2, "the rows the selection left and entered");
			assert.match(shown(), /^\W*file 001\.txt/m, "the old row drawn unselected");
		} finally {
			app.unmount();
			unsteady();
		}
	});

	it("draws a frame whole again once the last whole one is older than repaintMs", async () => {
		const { CLEAR_TERMINAL, steadyFrames } = await import("../../source/ui/steady-frames.js");
		const { stream, writes } = fakeTerminal(10, 3);
		let clock = 0;
		steadyFrames(stream as unknown as NodeJS.WriteStream, { repaintMs: 1000, now: () => clock });
		const a = ["one", "two", "three"];
		const b = ["one", "2", "three"];
		stream.write(CLEAR_TERMINAL + frame(a));
		// Another program writes over the screen; the TUI does not see it.
		stream.screen.write("\u001B[1;1Hwall!");
		clock = 999;
		stream.write(CLEAR_TERMINAL + frame(b));
		assert.equal(
			writes.at(-1),
			"\u001B[2;1H2\u001B[K\u001B[3;6H",
			"within repaintMs: the change only",
		);
		assert.match(stream.screen.text(), /^wall!/);
		clock = 1001;
		stream.write(CLEAR_TERMINAL + frame(b));
		assert.ok(writes.at(-1)?.startsWith("\u001B[H"), "after repaintMs: whole");
		assert.equal(stream.screen.text(), frame(b), "the other program's text is gone");
		clock = 1500;
		stream.write(CLEAR_TERMINAL + frame(a));
		assert.equal(
			writes.at(-1),
			"\u001B[2;1Htwo\u001B[K\u001B[3;6H",
			"counted from the whole frame",
		);
	});

	it("keeps the screen equal to the last frame through random frames", async () => {
		const { CLEAR_TERMINAL, steadyFrames } = await import("../../source/ui/steady-frames.js");
		fc.assert(
			fc.property(
				fc.array(fc.array(fc.stringMatching(/^[a-c ]{0,8}$/), { minLength: 4, maxLength: 4 }), {
					minLength: 1,
					maxLength: 6,
				}),
				(frames) => {
					const { stream } = fakeTerminal(8, 4);
					steadyFrames(stream as unknown as NodeJS.WriteStream);
					for (const lines of frames) {
						stream.write(CLEAR_TERMINAL + frame(lines));
						assert.equal(stream.screen.text(), lines.map((line) => line.trimEnd()).join("\n"));
					}
				},
			),
			{ numRuns: 300, seed: 3 },
		);
	});
});

function stripAnsi(text: string): string {
	return stripVTControlCharacters(text);
}
