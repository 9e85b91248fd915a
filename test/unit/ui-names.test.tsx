/**
 * The TUI draws every untrusted name through the display sanitiser: a frame showing peers,
 * files, transfers and a message named with escape sequences and bidi controls carries no
 * escape sequence but its own colours, and no control or bidi character.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { render } from "ink-testing-library";
import { App } from "../../source/ui/app.js";
import {
	FakeStore,
	file,
	folder,
	folderTransfer,
	peer,
	plain,
	snapshot,
	transfer,
	waitUntil,
} from "../helpers/ui.js";

const DANGEROUS =
	// biome-ignore lint/suspicious/noControlCharactersInRegex: finding control characters is the point
	/[\u0000-\u0009\u000b-\u001f\u007f-\u009f\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069]/;

const NASTY = [
	"\u001b[2J\u001b[Hwiped",
	"\u001b]0;owned\u0007title",
	"\u001b]8;;http://evil.example/\u001b\\link\u001b]8;;\u001b\\",
	"\u009b31mred\u009b0m",
	"invoice\u202efdp.exe",
	"\u2067isolated\u2069\u200f",
	"new\nline\rreturn\ttab",
	"bell\u0007\u0008back",
];

describe("TUI: hostile names", () => {
	it("a frame full of escape sequences and bidi controls in names shows none of them", async (t) => {
		const store = new FakeStore(
			snapshot({
				self: { ...snapshot().self, name: NASTY[0] },
				message: `saved ${NASTY[1]}`,
				peers: NASTY.map((name, i) => peer(name, { id: `p${i}` })),
				files: NASTY.map((name, i) => file(`${name}.txt`, { id: `f${i}` })),
				folders: [folder(NASTY[4])],
				transfers: NASTY.map((name, i) => transfer(name, { fileId: `t${i}` })),
				folderTransfers: [folderTransfer(NASTY[5])],
			}),
		);
		const app = render(<App store={store} />);
		t.after(() => app.unmount());
		await waitUntil(
			() => plain(app.lastFrame() ?? "").includes("wiped"),
			() => app.lastFrame() ?? "",
		);
		const frame = plain(app.lastFrame() ?? "");
		const at = frame.search(DANGEROUS);
		assert.equal(at, -1, JSON.stringify(frame.slice(Math.max(0, at - 30), at + 30)));
		assert.ok(!frame.includes("\u001b"), "an escape sequence other than colour");
		assert.ok(frame.includes("\ufffd[2J\ufffd[Hwiped"));
		assert.ok(frame.includes("invoice\ufffdfdp.exe"));
	});
});
