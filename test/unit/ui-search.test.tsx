import assert from "node:assert/strict";
import { describe, it } from "node:test";
import {
	FakeStore,
	file,
	folder,
	KEY,
	lineWith,
	mountApp,
	peer,
	snapshot,
	underlined,
	waitUntil,
} from "../helpers/ui.js";

// Colours on, so the highlight of matched characters shows in the frames: set before ink
// (and its chalk) is loaded.
process.env.FORCE_COLOR = "1";
const { render } = await import("ink-testing-library");
const { App } = await import("../../source/ui/app.js");

const GiB = 1024 ** 3;

/** A network with nested folders, a show and a few decoys. */
function network() {
	return snapshot({
		files: [
			file("alpha.txt", { size: 512 }),
			file("beta.bin"),
			file("docs/guide.md"),
			file("docs/nested/deep notes.txt"),
			file("music/Valley Girl.mp3"),
			file("tv/Silicon Valley S01E01.mkv", {
				size: 1.2 * GiB,
				peers: ["peer-bob", "peer-carol", "peer-dave"],
			}),
			file("tv/silicone valve.txt"),
		],
		folders: [
			folder("docs", { files: 2, size: 2048 }),
			folder("docs/nested"),
			folder("music"),
			folder("tv", { files: 2, size: 1.2 * GiB + 1024 }),
		],
	});
}

const mount = (t: Parameters<typeof mountApp>[0], store: FakeStore) =>
	mountApp(t, render, App, store);

describe("the search box (/)", () => {
	it("filters the Files pane as you type, fuzzy and ranked, with the matches highlighted", async (t) => {
		const store = new FakeStore(network());
		const app = mount(t, store);
		await app.waitForText("▸ docs/");
		app.stdin.write("/");
		await app.waitForText("type to search");
		assert.match(lineWith(app.frame(), "type to search"), /┃\/ {2,}type to search┃/);
		app.stdin.write("slicon valey");
		await app.waitForText(/\/ slicon valey\s+\d+ match/);
		await app.waitForText("tv/Silicon Valley S01E01.mkv");
		const frame = app.frame();
		assert.match(frame, /┃\/ slicon valey\s+1 match┃/);
		// Best first and selected: the show (one typo a word); nothing unrelated, nor the
		// decoy two typos away ("valve").
		assert.match(lineWith(frame, "Silicon"), /› tv\/Silicon Valley S01E01\.mkv\s+1\.2 GiB\s+3┃/);
		for (const hidden of ["alpha.txt", "Valley Girl", "▸ docs/", "guide.md", "silicone valve"]) {
			assert.ok(!frame.includes(hidden), `${hidden} filtered out:\n${frame}`);
		}
		// The matched characters are underlined (bold, coloured), the rest is not.
		assert.deepEqual(underlined(app.rawLine("Silicon Valley")), ["Silicon", "Valley"]);
		// Rows stay exactly as wide as the terminal.
		for (const line of frame.split("\n")) assert.equal(line.length, 100, line);
		// The status line tells what the keys do now.
		assert.match(frame.split("\n").at(-1) ?? "", /Enter download .*Esc clear$/);
	});

	it("highlights a substring match exactly and counts one match", async (t) => {
		const app = mount(t, new FakeStore(network()));
		await app.waitForText("▸ docs/");
		app.stdin.write("/");
		app.stdin.write("deep");
		await app.waitForText(/\/ deep\s+\d+ match/);
		await app.waitForText("docs/nested/deep notes.txt");
		assert.match(app.frame(), /\/ deep\s+1 match┃/);
		assert.deepEqual(underlined(app.rawLine("deep notes")), ["deep"]);
	});

	it("types j, k, q, h, l and / into the query instead of acting on them", async (t) => {
		const store = new FakeStore(network());
		const app = mount(t, store);
		await app.waitForText("▸ docs/");
		app.stdin.write("/");
		await app.waitForText("type to search");
		for (const key of ["j", "k", "q", "h", "l", "/", "g"]) app.stdin.write(key);
		await app.waitForText("/ jkqhl/g");
		assert.deepEqual(store.intents, []);
		assert.equal(store.listeners.size, 1, "still running");
		assert.match(app.frame(), /No matches/);
	});

	it("Esc clears the search and closes the box, back to the tree where it was", async (t) => {
		const app = mount(t, new FakeStore(network()));
		await app.waitForSelected("▸ docs/");
		app.stdin.write("j");
		await app.waitForSelected("▸ music/");
		app.stdin.write("/");
		app.stdin.write("guide");
		await app.waitForText(/\/ guide\s+\d+ match/);
		await app.waitForText("docs/guide.md");
		await app.waitForSelected("docs/guide.md");
		app.stdin.write(KEY.escape);
		await app.waitForGone("/ guide");
		await app.waitForText("alpha.txt");
		assert.doesNotMatch(app.frame(), /type to search|match/);
		await app.waitForSelected("▸ music/");
		app.stdin.write("j");
		await app.waitForSelected("▸ tv/");
	});

	it("Enter downloads the top result; arrows move; a folder result downloads the folder", async (t) => {
		const store = new FakeStore(network());
		const app = mount(t, store);
		await app.waitForText("▸ docs/");
		app.stdin.write("/");
		app.stdin.write("slicon valey");
		await app.waitForText(/\/ slicon valey\s+\d+ match/);
		await app.waitForText("1 match");
		app.stdin.write(KEY.enter);
		await waitUntil(
			() => store.intents.length === 1,
			() => "the download intent",
		);
		assert.deepEqual(store.intents, [
			{
				type: "download",
				fileId: "id-tv/Silicon Valley S01E01.mkv",
				name: "tv/Silicon Valley S01E01.mkv",
			},
		]);
		// The box stays open: Ctrl-U empties it, a new query starts at its best match.
		app.stdin.write(KEY.ctrlU);
		await app.waitForText("type to search");
		app.stdin.write("nested");
		await app.waitForText(/\/ nested\s+\d+ match/);
		await app.waitForText("docs/nested/deep notes.txt");
		await app.waitForSelected("docs/nested/");
		app.stdin.write(KEY.enter);
		app.stdin.write(KEY.down);
		await app.waitForSelected("docs/nested/deep notes.txt");
		app.stdin.write(KEY.enter);
		await waitUntil(
			() => store.intents.length === 3,
			() => "two more intents",
		);
		assert.deepEqual(store.intents.slice(1), [
			{ type: "download-folder", path: "docs/nested" },
			{
				type: "download",
				fileId: "id-docs/nested/deep notes.txt",
				name: "docs/nested/deep notes.txt",
			},
		]);
	});

	it("Backspace edits the query; Tab keeps the filter, / edits it again", async (t) => {
		const store = new FakeStore(network());
		const app = mount(t, store);
		await app.waitForText("▸ docs/");
		app.stdin.write("/");
		app.stdin.write("guidezz");
		await app.waitForText("/ guidezz");
		app.stdin.write(KEY.backspace);
		app.stdin.write(KEY.backspace);
		await app.waitForText(/\/ guide\s+1 match/);
		// Tab leaves the box (filter kept) and moves the focus to Transfers, whose keys show.
		app.stdin.write(KEY.tab);
		await app.waitForText(/p pause\/resume/);
		assert.match(app.frame(), /\/ guide\s+1 match/);
		app.stdin.write(KEY.shiftTab);
		await app.waitForSelected("docs/guide.md");
		// Keys act again: Enter downloads, / goes back to typing.
		app.stdin.write(KEY.enter);
		await waitUntil(
			() => store.intents.length === 1,
			() => "the download intent",
		);
		assert.deepEqual(store.intents, [
			{ type: "download", fileId: "id-docs/guide.md", name: "docs/guide.md" },
		]);
		app.stdin.write("/");
		app.stdin.write(KEY.backspace);
		await app.waitForText(/\/ guid\s+1 match/);
		app.stdin.write(KEY.escape);
		await app.waitForText("alpha.txt");
	});

	it("opens from another pane, moving the focus to Files", async (t) => {
		const app = mount(t, new FakeStore(network()));
		await app.waitForSelected("▸ docs/");
		app.stdin.write(KEY.shiftTab);
		await app.waitForSelected("bob");
		app.stdin.write("/");
		app.stdin.write("alpha");
		await app.waitForText(/\/ alpha\s+\d+ match/);
		await app.waitForSelected("alpha.txt");
	});

	it("keeps the search over a new snapshot with the same names, showing fresh peer counts", async (t) => {
		const store = new FakeStore(network());
		const app = mount(t, store);
		await app.waitForText("▸ docs/");
		app.stdin.write("/");
		app.stdin.write("valve");
		await app.waitForText(/\/ valve\s+\d+ match/);
		await app.waitForText(/tv\/silicone valve\.txt\s+1\.0 KiB\s+1┃/);
		const next = network();
		next.files = next.files.map((f) =>
			f.name === "tv/silicone valve.txt" ? { ...f, peers: ["a", "b", "c", "d"] } : { ...f },
		);
		next.peers = [peer("bob"), peer("carol")];
		store.set(next);
		await app.waitForText(/tv\/silicone valve\.txt\s+1\.0 KiB\s+4┃/);
		assert.match(app.frame(), /\/ valve\s+3 matches/);
		assert.match(app.frame(), /› tv\/silicone valve\.txt/);
	});

	it("searches 20,000 files in steps and shows only the visible rows", async (t) => {
		const files = Array.from({ length: 20_000 }, (_, i) =>
			file(`dir-${i % 40}/file-${String(i).padStart(5, "0")}.dat`),
		);
		files.push(file("tv/Silicon Valley S01E01.mkv"));
		const app = mount(t, new FakeStore(snapshot({ files })));
		await app.waitForText("▸ dir-0/");
		app.stdin.write("/");
		app.stdin.write("slicon valey");
		await app.waitForText(/\/ slicon valey\s+\d+ match/);
		await app.waitForSelected("tv/Silicon Valley S01E01.mkv");
		assert.match(app.frame(), /\/ slicon valey\s+1 match/);
		app.stdin.write(KEY.ctrlU);
		app.stdin.write("file-1234");
		await app.waitForText(/\/ file-1234\s+[\d,]+ matches/);
		await app.waitForSelected("dir-20/file-12340.dat");
		// 24 rows: only the rows that fit are drawn.
		const rows = app
			.frame()
			.split("\n")
			.filter((line) => line.includes("/file-"));
		assert.ok(rows.length > 1 && rows.length <= 11, rows.join("\n"));
	});
});
