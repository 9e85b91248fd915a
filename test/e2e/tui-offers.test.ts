/**
 * Offers and texts in the real TUI (tmux), issue 16: an offer opens a panel naming the
 * sender (name and fingerprint) and the file; `y` accepts it (the file lands byte for byte
 * and `send` exits 0), `n` declines the next one (`send` exits 1, nothing written); a text
 * shows in its panel with the sender, and Esc closes it.
 */
import assert from "node:assert/strict";
import fs from "node:fs";
import path from "node:path";
import { after, before, describe, it } from "node:test";
import { freePort, tempDir, waitFor } from "../helpers/net.js";
import { CLI, loopbackNet, peerFolders, runCli, ServeProcess } from "../helpers/process.js";
import { Terminal, TmuxServer } from "../helpers/tmux.js";

describe("offers and texts in a real terminal (tmux)", () => {
	const server = new TmuxServer(`p2p-tui-offers-${process.pid}`);
	const root = tempDir();
	const src = path.join(root, "src");
	let net: string[];
	let senderFingerprint = "";

	before(async () => {
		net = loopbackNet(await freePort());
		fs.mkdirSync(src, { recursive: true });
		fs.writeFileSync(
			path.join(src, "holiday-photos.zip"),
			Buffer.alloc(1_300_000, 3).fill(5, 700_000),
		);
		fs.writeFileSync(path.join(src, "unwanted.iso"), "not this one\n");
		// The sender's lasting identity, made once: its fingerprint is what the panel shows.
		const probe = new ServeProcess([...net, ...peerFolders(root, "sender")]);
		const ready = await waitFor(() => probe.event("ready"), "the sender's identity");
		senderFingerprint = String(ready.fingerprint);
		await probe.stop();
	});

	after(() => {
		server.kill();
		fs.rmSync(root, { recursive: true, force: true });
	});

	it("y accepts an offer, n declines the next, a text shows in its panel", async () => {
		const argv = [process.execPath, CLI, ...net, ...peerFolders(root, "receiver")];
		const term = Terminal.open(server, "receiver", argv, { columns: 100, rows: 30 });
		const dl = path.join(root, "receiver", "dl");
		try {
			await term.frame((lines) => lines.some((l) => l.includes("Peers")), "the TUI drawn", 15_000);
			// Every byte the TUI writes from now on: the bell, notifications, the clipboard.
			const raw = path.join(root, "receiver.raw");
			server.run("pipe-pane", "-o", "-t", "receiver", `cat > '${raw}'`);
			const written = () => (fs.existsSync(raw) ? fs.readFileSync(raw, "latin1") : "");
			const sending = runCli([
				"send",
				path.join(src, "holiday-photos.zip"),
				"--to",
				"receiver",
				...net,
				...peerFolders(root, "sender"),
			]);
			const panel = await term.frame(
				(lines) =>
					lines.some((l) => l.includes("Offer from sender")) &&
					lines.some((l) => l.includes("holiday-photos.zip")),
				"the offer panel",
				20_000,
			);
			const screen = panel.join("\n");
			assert.match(screen, new RegExp(senderFingerprint));
			assert.match(screen, /1 files, 1\.\d+ MiB \(1300000 bytes\)/);
			// The bell, then OSC 9 and OSC 777 notifications (whether the terminal is in front
			// cannot be told, so they always go).
			await waitFor(
				() => written().includes("\u0007\u001b]9;p2p-tui: offer from sender: 1 files"),
				"the bell and the OSC 9 notification",
			);
			assert.ok(written().includes("\u001b]777;notify;p2p-tui: offer from sender;1 files"));
			term.keys("y");
			const sent = await sending;
			assert.equal(sent.code, 0, sent.stderr);
			assert.ok(
				fs
					.readFileSync(path.join(dl, "holiday-photos.zip"))
					.equals(fs.readFileSync(path.join(src, "holiday-photos.zip"))),
				"the file is byte-identical",
			);
			await term.frame(
				(lines) => !lines.some((l) => l.includes("Offer from sender")),
				"the panel closed",
			);

			const declining = runCli([
				"send",
				path.join(src, "unwanted.iso"),
				"--to",
				"receiver",
				...net,
				...peerFolders(root, "sender"),
			]);
			await term.frame(
				(lines) => lines.some((l) => l.includes("unwanted.iso")),
				"the second offer",
				20_000,
			);
			term.keys("n");
			const declined = await declining;
			assert.equal(declined.code, 1);
			assert.match(declined.stderr, /declined/);
			assert.ok(
				!fs.existsSync(path.join(dl, "unwanted.iso")),
				"nothing written for a declined offer",
			);

			const texting = runCli([
				"send",
				"--text",
				"meet at 5 in room 204",
				"--to",
				"receiver",
				...net,
				...peerFolders(root, "sender"),
			]);
			const text = await term.frame(
				(lines) =>
					lines.some((l) => l.includes("Message from sender")) &&
					lines.some((l) => l.includes("meet at 5 in room 204")),
				"the message panel",
				20_000,
			);
			assert.match(text.join("\n"), /Received\s+\d\d:\d\d:\d\d/);
			const delivered = await texting;
			assert.equal(delivered.code, 0, delivered.stderr);
			term.keys("Escape");
			await term.frame(
				(lines) => !lines.some((l) => l.includes("Message from sender")),
				"the message closed",
			);
			term.keys("q");
			assert.equal(await term.waitForExit(), 0);
		} finally {
			term.close();
		}
	});
});
