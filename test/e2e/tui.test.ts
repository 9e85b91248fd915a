import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import { after, before, describe, it } from "node:test";
import { fixturesDir, freePort, listFiles, tempDir, waitFor } from "../helpers/net.js";
import { CLI, loopbackNet, peerFolders, ServeProcess } from "../helpers/process.js";

const tmux = (...args: string[]) => execFileSync("tmux", args, { encoding: "utf8" });
const screen = (session: string) => tmux("capture-pane", "-p", "-t", session);

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
			const session = `p2p-tui-test-${process.pid}-${columns}`;
			const name = `tui-${columns}`;
			const downloads = path.join(root, name, "dl");
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

				const order = listFiles(fixtures).sort((a, b) => a.localeCompare(b));
				const index = order.indexOf("random-3MiB.bin");
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
});
