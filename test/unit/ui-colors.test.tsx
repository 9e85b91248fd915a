import assert from "node:assert/strict";
import { afterEach, describe, it } from "node:test";
import type { Snapshot } from "../../source/peer/types.js";
import {
	snapshot as baseSnapshot,
	FakeStore,
	file,
	lineWith,
	mountApp,
	peer,
	transfer,
} from "../helpers/ui.js";

// Colours on (as on a colour terminal), set before ink and its chalk are loaded: NO_COLOR
// must win over it.
process.env.FORCE_COLOR = "1";
const { render } = await import("ink-testing-library");
const { App } = await import("../../source/ui/app.js");
const { isErrorMessage } = await import("../../source/ui/status-line.js");
const { noColorRequested } = await import("../../source/ui/theme.js");

// biome-ignore lint/suspicious/noControlCharactersInRegex: matching escape sequences is the point
const SGR = /\u001B\[([0-9;]*)m/g;

/** The SGR parameters of a frame that set or reset a colour (foreground or background). */
function colourCodes(frame: string): string[] {
	const codes: string[] = [];
	for (const match of frame.matchAll(SGR)) {
		for (const code of (match[1] || "0").split(";")) {
			const n = Number(code);
			if ((n >= 30 && n <= 49) || (n >= 90 && n <= 97) || (n >= 100 && n <= 107)) {
				codes.push(code);
			}
		}
	}
	return codes;
}

/** Every SGR parameter of a frame. */
function styleCodes(frame: string): Set<string> {
	const codes = new Set<string>();
	for (const match of frame.matchAll(SGR)) {
		for (const code of (match[1] || "0").split(";")) codes.add(code);
	}
	return codes;
}

/** A screen with every coloured thing: progress, failure, pause, a banned peer, an error message. */
function colourful(): Snapshot {
	return baseSnapshot({
		peers: [peer("bob"), peer("mallory", { banned: true })],
		files: [file("alpha.txt")],
		transfers: [
			transfer("movie.mkv"),
			transfer("paused.iso", { status: "paused" }),
			transfer("broken.zip", { status: "failed", error: "hash mismatch" }),
			transfer("done.txt", { status: "complete", bytesDone: 1000 }),
		],
		message: "download failed: broken.zip: hash mismatch",
	});
}

/** The escape character that starts every SGR sequence. */
const ESC = String.fromCharCode(27);

describe("colours", () => {
	const saved = process.env.NO_COLOR;
	afterEach(() => {
		if (saved === undefined) delete process.env.NO_COLOR;
		else process.env.NO_COLOR = saved;
	});

	it("carry meaning: progress green, failures red, paused yellow, banned peers red, focus cyan", async (t) => {
		delete process.env.NO_COLOR;
		const app = mountApp(t, render, App, new FakeStore(colourful()));
		await app.waitForText("broken.zip");
		// 32 green, 31 red, 33 yellow, 36 cyan (ansi-styles' codes).
		assert.match(app.rawLine("movie.mkv"), new RegExp(`${ESC}\\[32m#####`));
		assert.match(app.rawLine("broken.zip"), new RegExp(`${ESC}\\[31mfailed: hash mismatch`));
		assert.match(app.rawLine("paused.iso"), new RegExp(`${ESC}\\[33mpaused`));
		assert.match(app.rawLine("done.txt"), new RegExp(`${ESC}\\[32mdone`));
		assert.match(app.rawLine("mallory"), new RegExp(`${ESC}\\[31m`));
		assert.doesNotMatch(app.rawLine("bob"), new RegExp(`${ESC}\\[31m`));
		assert.match(app.rawLine("┏━ Files"), new RegExp(`${ESC}\\[36m┏━ `));
		// An error message in the status line is red.
		assert.match(app.rawLine("download failed"), new RegExp(`${ESC}\\[31mdownload failed`));
	});

	it("are not written at all when NO_COLOR is set (bold, dim and inverse stay)", async (t) => {
		process.env.NO_COLOR = "1";
		assert.equal(noColorRequested(), true);
		const app = mountApp(t, render, App, new FakeStore(colourful()));
		await app.waitForText("broken.zip");
		const frames = [app.raw()];
		// Every panel and the prompt too: each key, then what its frame shows.
		const steps: [string, () => Promise<void>][] = [
			["?", () => app.waitForText("Help: every key")],
			["\u001B", () => app.waitForGone("Help: every key")],
			["3", () => app.waitForSelected("movie.mkv")],
			["x", () => app.waitForText("keep partial file?")],
			["\u001B", () => app.waitForGone("keep partial file?")],
			["L", () => app.waitForText("Max download")],
			["\u001B", () => app.waitForGone("Max download")],
			["1", () => app.waitForSelected("bob")],
			["j", () => app.waitForSelected("mallory")],
			["i", () => app.waitForText("Peer mallory")],
		];
		for (const [key, shown] of steps) {
			app.stdin.write(key);
			await shown();
			frames.push(app.raw());
		}
		for (const frame of frames) {
			assert.deepEqual(colourCodes(frame), [], frame);
		}
		const codes = styleCodes(frames.join(""));
		assert.ok(codes.has("1"), "bold still used");
		assert.ok(codes.has("7"), "inverse still marks the selection");
		// The focused pane still shows, by its heavy frame; a failure still stands out (bold).
		assert.match(lineWith(app.frame(), "Peer mallory"), /┏━ Peer mallory/);
		assert.match(app.rawLine("Banned"), new RegExp(`${ESC}\\[1myes, for serving bad pieces`));
	});

	it("are kept when NO_COLOR is empty", async (t) => {
		process.env.NO_COLOR = "";
		assert.equal(noColorRequested(), false);
		const app = mountApp(t, render, App, new FakeStore(colourful()));
		await app.waitForText("broken.zip");
		assert.ok(colourCodes(app.raw()).length > 0);
	});

	it("off by the noColor prop as well", async (t) => {
		delete process.env.NO_COLOR;
		const app = mountApp(t, render, App, new FakeStore(colourful()), { noColor: true });
		await app.waitForText("broken.zip");
		assert.deepEqual(colourCodes(app.raw()), []);
	});

	it("mark error messages red and other messages yellow", () => {
		for (const text of [
			"download failed: a.txt: hash mismatch",
			"peer banned: mallory (bad pieces)",
			"verification failure in b.bin",
			"cannot write /srv/dl",
		]) {
			assert.equal(isErrorMessage(text), true, text);
		}
		for (const text of ["download complete: a.txt", "peer joined: bob", "folder re-indexed"]) {
			assert.equal(isErrorMessage(text), false, text);
		}
	});
});

describe("a pane's frame", () => {
	it("has its title and footer set into the borders: heavy, cyan and bold when focused", async () => {
		const { Text } = await import("ink");
		const { Pane } = await import("../../source/ui/pane.js");
		const draw = (focused: boolean, footer?: string) => {
			const app = render(
				<Pane title="Files (3)" width={24} height={4} focused={focused} footer={footer}>
					<Text>a.txt</Text>
					<Text wrap="truncate-end">b.txt, a name too long for the pane</Text>
				</Pane>,
			);
			const frame = app.lastFrame() ?? "";
			app.unmount();
			return frame;
		};
		const focused = draw(true, "↓ 1.0 MB/s");
		assert.deepEqual(focused.replace(SGR, "").split("\n"), [
			"┏━ Files (3) ━━━━━━━━━━┓",
			"┃a.txt                 ┃",
			"┃b.txt, a name too lon…┃",
			"┗━ ↓ 1.0 MB/s ━━━━━━━━━┛",
		]);
		// The title bold in the focus colour, the border cyan all round.
		// biome-ignore lint/suspicious/noControlCharactersInRegex: matching escape sequences is the point
		assert.match(focused.split("\n")[0], /\u001B\[1mFiles \(3\)\u001B\[22m/);
		assert.ok(focused.split("\n").every((line) => line.startsWith("\u001B[36m")));
		const blurred = draw(false);
		assert.deepEqual(blurred.replace(SGR, "").split("\n"), [
			"╭─ Files (3) ──────────╮",
			"│a.txt                 │",
			"│b.txt, a name too lon…│",
			"╰──────────────────────╯",
		]);
		// biome-ignore lint/suspicious/noControlCharactersInRegex: matching escape sequences is the point
		assert.doesNotMatch(blurred, /\u001B\[1m/, "no bold title without the focus");
	});
});
