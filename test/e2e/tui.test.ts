import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import { after, before, describe, it } from "node:test";
import type { NetworkFile } from "../../source/peer/types.js";
import { buildFileTree, visibleNodes } from "../../source/ui/file-tree.js";
import { fixturesDir, freePort, listFiles, tempDir, waitFor } from "../helpers/net.js";
import { CLI, loopbackNet, peerFolders, ServeProcess } from "../helpers/process.js";

const tmux = (...args: string[]) => execFileSync("tmux", args, { encoding: "utf8" });
const screen = (session: string) => tmux("capture-pane", "-p", "-t", session);

/** The Files pane's rows as the TUI lists a shared folder: a tree, folders first, closed. */
function treeRows(dir: string): string[] {
	const files: NetworkFile[] = listFiles(dir).map((name) => ({
		id: name,
		name,
		size: 0,
		contentHash: "",
		peers: [],
	}));
	return visibleNodes(buildFileTree(files, []), new Set()).map((node) => node.path);
}

/** Starts the built program in a detached tmux session; returns the session name. */
function launch(root: string, net: string[], name: string, columns: number, rows: number): string {
	const session = `p2p-tui-test-${process.pid}-${name}`;
	const command = [process.execPath, CLI, ...net, ...peerFolders(root, name)]
		.map((a) => `'${a}'`)
		.join(" ");
	tmux(
		"new-session",
		"-d",
		"-s",
		session,
		"-x",
		String(columns),
		"-y",
		String(rows),
		`${command}; echo P2P_EXITED=$?; sleep 120`,
	);
	return session;
}

describe("the built program in a real terminal (tmux)", () => {
	const root = tempDir();
	const fixtures = fixturesDir();
	let seeder: ServeProcess;
	let net: string[];

	before(async () => {
		net = loopbackNet(await freePort());
		seeder = new ServeProcess([...net, ...peerFolders(root, "tmux-seeder", fixtures)]);
		await waitFor(() => seeder.event("ready"), "the seeder ready");
	});

	after(async () => {
		await seeder.stop();
		fs.rmSync(root, { recursive: true, force: true });
	});

	for (const [columns, rows] of [
		[80, 24],
		[200, 60],
	]) {
		it(`at ${columns}x${rows}: launch, see the peer and files, download with Enter, quit with q`, async () => {
			const name = `tui-${columns}`;
			const session = launch(root, net, name, columns, rows);
			const downloads = path.join(root, name, "dl");
			try {
				await waitFor(
					() => screen(session).includes("tmux-seeder"),
					"the seeder in the Peers pane",
					15_000,
				);
				await waitFor(
					() => screen(session).includes("random-3MiB.bin"),
					"the files in the Files pane",
				);
				assert.match(screen(session), /Peers/);
				assert.match(screen(session), /Transfers/);

				const index = treeRows(fixtures).indexOf("random-3MiB.bin");
				assert.ok(index >= 0);
				for (let i = 0; i < index; i++) tmux("send-keys", "-t", session, "j");
				await waitFor(() => /› random-3MiB\.bin/.test(screen(session)), "random-3MiB.bin selected");
				tmux("send-keys", "-t", session, "Enter");
				const file = path.join(downloads, "random-3MiB.bin");
				await waitFor(() => fs.existsSync(file), "the download on disk");
				assert.ok(
					fs.readFileSync(file).equals(fs.readFileSync(path.join(fixtures, "random-3MiB.bin"))),
				);
				await waitFor(() => /random-3MiB\.bin.*100%/.test(screen(session)), "100% on screen");

				tmux("send-keys", "-t", session, "q");
				await waitFor(() => screen(session).includes("P2P_EXITED=0"), "the program exited 0");
				// Back on the normal screen: the TUI's frame is gone.
				assert.doesNotMatch(screen(session), /Transfers/);
				await waitFor(
					() =>
						seeder.events.some(
							(e) => e.event === "peer-left" && e.name === name && e.reason === "bye",
						),
					"the serve peer reporting peer-left with reason bye",
				);
			} finally {
				tmux("kill-session", "-t", session);
			}
		});
	}

	it("at 80x24: / and a misspelled query filter the Files pane, Esc restores the full list", async () => {
		const session = launch(root, net, "tui-search", 80, 24);
		try {
			await waitFor(
				() => screen(session).includes("random-3MiB.bin"),
				"the files in the Files pane",
				15_000,
			);
			assert.match(screen(session), /▸ docs\//);
			tmux("send-keys", "-t", session, "/");
			await waitFor(() => screen(session).includes("type to search"), "the search box");
			tmux("send-keys", "-t", session, "-l", "gradiant");
			await waitFor(() => /\/ gradiant\s+1 match/.test(screen(session)), "one match");
			const filtered = screen(session);
			assert.match(filtered, /› gradient\.png\s+\d/);
			for (const hidden of ["hello.txt", "random-3MiB.bin", "docs/", "empty.txt"]) {
				assert.ok(!filtered.includes(hidden), `${hidden} filtered out:\n${filtered}`);
			}
			assert.match(filtered, /Enter download {2}Esc clear/);

			tmux("send-keys", "-t", session, "Escape");
			await waitFor(
				() => !screen(session).includes("gradiant") && screen(session).includes("hello.txt"),
				"the full list back",
			);
			const full = screen(session);
			for (const name of treeRows(fixtures)) {
				assert.ok(full.includes(path.basename(name)), `${name} listed:\n${full}`);
			}
			assert.match(full, /› ▸ docs\//);

			tmux("send-keys", "-t", session, "q");
			await waitFor(() => screen(session).includes("P2P_EXITED=0"), "the program exited 0");
		} finally {
			tmux("kill-session", "-t", session);
		}
	});
});
