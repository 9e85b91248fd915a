/**
 * The built program in a real terminal emulator (tmux), at 80x24 and at 200x60: startup,
 * peers and files appearing, navigation, search, a download to 100%, a resize, and `q`.
 * Two `serve` peers on loopback share the files; every assertion reads the screen as tmux
 * rendered it.
 */
import assert from "node:assert/strict";
import fs from "node:fs";
import path from "node:path";
import { after, before, describe, it } from "node:test";
import { fixturesDir, freePort, tempDir, waitFor } from "../helpers/net.js";
import { CLI, loopbackNet, peerFolders, ServeProcess } from "../helpers/process.js";
import {
	assertCleanFrame,
	boldRuns,
	paneRows,
	selectedRow,
	Terminal,
	TmuxServer,
} from "../helpers/tmux.js";

/** The names listed in a list pane's rows: header dropped, marker and indent cut, up to the first gap. */
function listed(rows: readonly string[]): string[] {
	return rows
		.slice(1)
		.filter((row) => row.trim() !== "")
		.map(
			(row) =>
				row
					.slice(2)
					.trimStart()
					.split(/\s{2,}/)[0],
		);
}

/** The pane whose title is bold: the focused one (`"Files"`, `"Peers"`, `"Transfers"`). */
function focusedPane(term: Terminal): string | undefined {
	const titles = boldRuns(term.styledLines().join("\n"));
	return ["Peers", "Files", "Transfers"].find((name) => titles.some((run) => run.startsWith(name)));
}

describe("the built program in a real terminal (tmux)", () => {
	const server = new TmuxServer();
	const root = tempDir();
	const fixtures = fixturesDir();
	const secondShare = path.join(root, "second-share");
	const peers: ServeProcess[] = [];
	let net: string[];

	/** Starts the TUI as peer `name` in a new terminal. */
	const launch = (name: string, columns: number, rows: number): Terminal =>
		Terminal.open(server, name, [process.execPath, CLI, ...net, ...peerFolders(root, name)], {
			columns,
			rows,
		});

	before(async () => {
		net = loopbackNet(await freePort());
		fs.mkdirSync(secondShare, { recursive: true });
		// The second seeder has its own file and a copy of one of the first one's.
		fs.copyFileSync(
			path.join(fixtures, "random-3MiB.bin"),
			path.join(secondShare, "random-3MiB.bin"),
		);
		fs.writeFileSync(path.join(secondShare, "second.txt"), "only the second seeder has this\n");
		peers.push(
			new ServeProcess([...net, ...peerFolders(root, "tmux-seeder", fixtures)]),
			new ServeProcess([...net, ...peerFolders(root, "tmux-second", secondShare)]),
		);
		await waitFor(() => peers.every((p) => p.event("ready")), "the seeders ready");
	});

	after(async () => {
		await Promise.all(peers.map((p) => p.stop()));
		server.kill();
		fs.rmSync(root, { recursive: true, force: true });
	});

	for (const [columns, rows] of [
		[80, 24],
		[200, 60],
	]) {
		describe(`at ${columns}x${rows}`, () => {
			const name = `tui-${columns}x${rows}`;
			let term: Terminal;
			/** The names in the Files pane of a clean frame. */
			const files = (lines: string[]) => listed(paneRows(lines, columns, rows, "Files"));
			/** Waits for a clean frame whose selected row is `row`. */
			const expectSelected = (row: string, what: string) =>
				term.frame((lines) => selectedRow(lines.join("\n")) === row, `${what}: ${row} selected`);
			const expectFocus = (pane: string, what: string) =>
				waitFor(() => focusedPane(term) === pane, `${what}: ${pane} focused`);

			before(() => {
				term = launch(name, columns, rows);
			});
			after(() => term.close());

			it("starts with three panes in a clean frame, then lists both peers and their files", async () => {
				const bands = assertCleanFrame(await term.frame(), columns, rows);
				assert.deepEqual(
					bands.map((band) => band.panes.map((pane) => pane.title.replace(/ \(\d+\)$/, ""))),
					[["Peers", "Files"], ["Transfers"]],
				);
				assert.deepEqual(
					term.modes(),
					{ alternateScreen: true, cursorVisible: false },
					"the TUI runs on the alternate screen with the cursor hidden",
				);

				await term.frame(
					(lines) => /tmux-seeder/.test(lines.join("\n")) && /tmux-second/.test(lines.join("\n")),
					"both seeders in the Peers pane",
					15_000,
				);
				const lines = await term.frame(
					(lines) =>
						files(lines).includes("random-3MiB.bin") && files(lines).includes("second.txt"),
					"both seeders' files in the Files pane",
				);
				assert.deepEqual(files(lines), [
					"▸ docs/",
					"adversarial-names.json",
					"Café – résumé ü.txt",
					"empty.txt",
					"gradient.png",
					"hello.txt",
					"random-3MiB.bin",
					"second.txt",
				]);
				const screen = lines.join("\n");
				assert.match(screen, /Peers \(2\)/);
				// Sizes right-aligned with units; a file both seeders share counts 2 peers.
				assert.match(screen, /random-3MiB\.bin\s+3\.0 MiB\s+2[│┃]/);
				assert.match(screen, /second\.txt\s+32 B\s+1[│┃]/);
				assert.match(screen, /No downloads/);
				assert.equal(selectedRow(screen), "▸ docs/");
				await expectFocus("Files", "at start");
			});

			it("moves the selection with j/k, the arrow keys, g/G, and the focus with Tab and Shift-Tab", async () => {
				const names = files(await term.frame());
				term.keys("j");
				await expectSelected(names[1], "j");
				term.keys("j", "j");
				await expectSelected(names[3], "j j");
				term.keys("k");
				await expectSelected(names[2], "k");
				term.keys("Down");
				await expectSelected(names[3], "Down");
				term.keys("Up", "Up", "Up");
				await expectSelected(names[0], "Up Up Up");
				term.keys("G");
				await expectSelected(names.at(-1) ?? "", "G");
				term.keys("g");
				await expectSelected("▸ docs/", "g");

				// → opens the folder, its entries appear under it; ← closes it again.
				term.keys("Right");
				const open = await term.frame((lines) => files(lines)[0] === "▾ docs/", "docs/ open");
				assert.deepEqual(files(open).slice(0, 3), ["▾ docs/", "▸ nested/", "guide.md"]);
				assert.equal(selectedRow(open.join("\n")), "▾ docs/");
				term.keys("Left");
				const closed = await term.frame((lines) => files(lines)[0] === "▸ docs/", "docs/ closed");
				assert.deepEqual(files(closed), names);

				// Tab: Files → Transfers (empty: nothing selected) → Peers.
				term.keys("Tab");
				await expectFocus("Transfers", "Tab");
				assert.equal(selectedRow((await term.frame()).join("\n")), undefined);
				term.keys("Tab");
				await expectFocus("Peers", "Tab Tab");
				const peerRows = paneRows(await term.frame(), columns, rows, "Peers");
				const peerNames = listed(["", ...peerRows]).filter((row) => row.startsWith("tmux-"));
				assert.deepEqual([...peerNames].sort(), ["tmux-second", "tmux-seeder"]);
				await expectSelected(peerNames[0], "Tab to Peers");
				term.keys("j");
				await expectSelected(peerNames[1], "j in Peers");
				term.keys("k");
				await expectSelected(peerNames[0], "k in Peers");
				// Shift-Tab goes back: Peers → Transfers → Files, whose selection was kept.
				term.keys("BTab");
				await expectFocus("Transfers", "Shift-Tab");
				term.keys("BTab");
				await expectFocus("Files", "Shift-Tab Shift-Tab");
				await expectSelected("▸ docs/", "back in Files");
			});

			it("filters the Files pane with / and a misspelled query; Esc restores the full list", async () => {
				const names = files(await term.frame());
				term.keys("/");
				await term.frame((lines) => lines.join("\n").includes("type to search"), "the search box");
				term.type("gradiant");
				const filtered = (
					await term.frame(
						(lines) => /\/ gradiant\s+1 match/.test(lines.join("\n")),
						"one match for gradiant",
					)
				).join("\n");
				assert.equal(selectedRow(filtered), "gradient.png");
				for (const hidden of ["hello.txt", "random-3MiB.bin", "docs/", "second.txt"]) {
					assert.ok(!filtered.includes(hidden), `${hidden} filtered out:\n${filtered}`);
				}
				// The status line's key help is that of the search box.
				assert.match(filtered, /Enter download .*Esc clear/);

				term.keys("Escape");
				const full = await term.frame(
					(lines) => !lines.join("\n").includes("gradiant") && files(lines).length === names.length,
					"the full list back",
				);
				assert.deepEqual(files(full), names);
				assert.equal(selectedRow(full.join("\n")), "▸ docs/");
			});

			it("downloads a file with Enter: progress to 100%, the file byte-identical", async () => {
				const names = files(await term.frame());
				const target = names.indexOf("random-3MiB.bin");
				assert.ok(target > 0);
				for (let i = 1; i <= target; i++) {
					term.keys("j");
					await expectSelected(names[i], `j × ${i}`);
				}
				term.keys("Enter");
				await term.frame(
					(lines) => /Transfers \(1\)/.test(lines.join("\n")),
					"the download listed",
				);
				const done = await term.frame(
					(lines) => lines.some((line) => /random-3MiB\.bin.*\s100%/.test(line)),
					"100% on screen",
					30_000,
				);
				const file = path.join(root, name, "dl", "random-3MiB.bin");
				await waitFor(
					() => fs.existsSync(file),
					`the download in place (100% shown:\n${done.join("\n")})`,
				);
				assert.ok(
					fs.readFileSync(file).equals(fs.readFileSync(path.join(fixtures, "random-3MiB.bin"))),
					"the download is byte-identical",
				);
			});

			it("quits with q: exit code 0, the terminal restored, the peers hear goodbye", async () => {
				term.keys("q");
				assert.equal(await term.waitForExit(), 0);
				assert.deepEqual(term.modes(), { alternateScreen: false, cursorVisible: true });
				// Back on the normal screen: the TUI's frame is gone.
				assert.doesNotMatch(term.screen(), /Transfers|[╭┏]/);
				await waitFor(
					() =>
						peers.every((p) =>
							p.events.some(
								(e) => e.event === "peer-left" && e.name === name && e.reason === "bye",
							),
						),
					"both serve peers reporting peer-left with reason bye",
				);
			});
		});
	}

	it("follows resizes at once: 80x24 → 200x60 → 120x40 → 80x24, a clean frame at each size", async (t) => {
		const term = launch("tui-resize", 80, 24);
		try {
			await term.frame((lines) => lines.join("\n").includes("second.txt"), "the files", 15_000);
			// docs/, adversarial-names.json, Café…, empty.txt
			term.keys("j", "j", "j");
			await term.frame(
				(lines) => selectedRow(lines.join("\n")) === "empty.txt",
				"empty.txt selected",
			);
			for (const [columns, rows] of [
				[200, 60],
				[120, 40],
				[80, 24],
			]) {
				const started = performance.now();
				term.resize(columns, rows);
				assert.deepEqual(term.size(), { columns, rows });
				const lines = await term.frame(undefined, "the frame at the new size", 3_000);
				t.diagnostic(
					`${columns}x${rows}: a clean frame after ${Math.round(performance.now() - started)} ms`,
				);
				// The new width is used: the top band spans it, the Transfers pane is as wide.
				const [top, bottom] = assertCleanFrame(lines, columns, rows);
				assert.equal(top.panes.at(-1)?.right, columns - 1);
				assert.deepEqual(
					bottom.panes.map((pane) => [pane.left, pane.right]),
					[[0, columns - 1]],
				);
				assert.equal(selectedRow(lines.join("\n")), "empty.txt", "the selection survives");
				assert.ok(listed(paneRows(lines, columns, rows, "Files")).includes("second.txt"));
			}
			term.keys("q");
			assert.equal(await term.waitForExit(), 0);
			assert.deepEqual(term.modes(), { alternateScreen: false, cursorVisible: true });
		} finally {
			term.close();
		}
	});
});
