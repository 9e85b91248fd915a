/**
 * Offers and texts between real processes on loopback (issue 16): `send` to a headless
 * `serve --accept-all` (a file and a folder, byte for byte), `--accept-from` and the stored
 * trusted list (`trust`) accepting their senders while another is declined (exit 1, nothing
 * written), a text shown as a `serve --json` event (also from stdin), and bad usage (exit 2).
 */
import assert from "node:assert/strict";
import { execFileSync, spawn } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import { after, before, describe, it } from "node:test";
import { assertSameTree, freePort, tempDir, waitFor } from "../helpers/net.js";
import { CLI, loopbackNet, peerFolders, runCli, ServeProcess } from "../helpers/process.js";

/** The peer id of a settings folder's lasting identity: a serve run prints it. */
async function idOf(net: string[], root: string, name: string): Promise<string> {
	const probe = new ServeProcess([...net, ...peerFolders(root, name)]);
	const ready = await waitFor(() => probe.event("ready"), `${name} ready`);
	await probe.stop();
	return String(ready.peer);
}

describe("offers and texts, headless", () => {
	const root = tempDir();
	const src = path.join(root, "src");
	let net: string[];
	let discoveryPort = 0;

	before(async () => {
		discoveryPort = await freePort();
		net = loopbackNet(discoveryPort);
		fs.mkdirSync(path.join(src, "album", "disc 2"), { recursive: true });
		fs.mkdirSync(path.join(src, "album", "empty"), { recursive: true });
		fs.writeFileSync(path.join(src, "big.bin"), Buffer.alloc(2_500_000, 7).fill(9, 1_000_000));
		fs.writeFileSync(path.join(src, "album", "a.txt"), "first\n");
		fs.writeFileSync(path.join(src, "album", "disc 2", "b.txt"), "second\n");
	});

	after(() => fs.rmSync(root, { recursive: true, force: true }));

	it("serve --accept-all takes a file and a folder; send exits 0 once they are verified", async () => {
		const receiver = new ServeProcess([
			...net,
			...peerFolders(root, "all", path.join(root, "all-share")),
			"--accept-all",
		]);
		try {
			await waitFor(() => receiver.event("ready"), "receiver ready");
			const sent = await runCli([
				"send",
				path.join(src, "big.bin"),
				path.join(src, "album"),
				"--to",
				"all",
				"--message",
				"for you",
				...net,
				...peerFolders(root, "sender1"),
			]);
			assert.equal(sent.code, 0, sent.stderr);
			assert.match(sent.stdout, /all verified 3 files \(2500013 bytes\)/);
			assert.match(sent.stderr, /accepted/);
			const dl = path.join(root, "all", "dl");
			assert.ok(
				fs
					.readFileSync(path.join(dl, "big.bin"))
					.equals(fs.readFileSync(path.join(src, "big.bin"))),
			);
			assertSameTree(path.join(dl, "album"), path.join(src, "album"));
			const offer = receiver.event("offer");
			assert.equal(offer?.name, "sender1");
			assert.equal(offer?.note, "for you");
			assert.equal(offer?.size, 2_500_013);
			assert.equal(offer?.files, 3);
			await waitFor(() => receiver.event("offer-complete"), "offer-complete event");
		} finally {
			await receiver.stop();
		}
	});

	it("--accept-from and trusted ids are accepted; an untrusted sender is declined (exit 1, nothing written)", async () => {
		const fromId = await idOf(net, root, "friend");
		const trustedId = await idOf(net, root, "trusted");
		const trusted = await runCli([
			"trust",
			trustedId,
			"--config-dir",
			path.join(root, "picky", "cfg"),
		]);
		assert.equal(trusted.code, 0, trusted.stderr);
		const config = await runCli([
			"config",
			"--json",
			"--config-dir",
			path.join(root, "picky", "cfg"),
		]);
		assert.deepEqual(JSON.parse(config.stdout).settings.trusted, [trustedId]);
		const receiver = new ServeProcess([
			...net,
			...peerFolders(root, "picky"),
			"--accept-from",
			fromId,
		]);
		try {
			await waitFor(() => receiver.event("ready"), "receiver ready");
			const file = path.join(src, "album", "a.txt");
			const ok = await runCli([
				"send",
				file,
				"--to",
				"picky",
				...net,
				...peerFolders(root, "friend"),
			]);
			assert.equal(ok.code, 0, ok.stderr);
			const ok2 = await runCli([
				"send",
				path.join(src, "big.bin"),
				"--to",
				"picky",
				...net,
				...peerFolders(root, "trusted"),
			]);
			assert.equal(ok2.code, 0, ok2.stderr);
			const dl = path.join(root, "picky", "dl");
			assert.deepEqual(fs.readdirSync(dl).sort(), ["a.txt", "big.bin"]);
			const stranger = await runCli([
				"send",
				path.join(src, "album"),
				"--to",
				"picky",
				...net,
				...peerFolders(root, "stranger"),
			]);
			assert.equal(stranger.code, 1, stranger.stderr);
			assert.match(stranger.stderr, /declined: not accepted from you/);
			assert.deepEqual(fs.readdirSync(dl).sort(), ["a.txt", "big.bin"]);
			const declined = await waitFor(
				() => receiver.event("offer-declined"),
				"offer-declined event",
			);
			assert.equal(declined.name, "stranger");
		} finally {
			await receiver.stop();
		}
	});

	it("a text arrives as a serve --json event, from --text and from stdin", async () => {
		const receiver = new ServeProcess([...net, ...peerFolders(root, "inbox")]);
		try {
			const ready = await waitFor(() => receiver.event("ready"), "receiver ready");
			const text = "the wifi password is: «ünïcødé» 🔑\nsecond line";
			const sent = await runCli([
				"send",
				"--text",
				text,
				"--to",
				String(ready.peer).slice(0, 8),
				...net,
				...peerFolders(root, "texter"),
			]);
			assert.equal(sent.code, 0, sent.stderr);
			assert.match(sent.stdout, /delivered to inbox/);
			const event = await waitFor(() => receiver.event("text"), "text event");
			assert.equal(event.text, text);
			assert.equal(event.name, "texter");
			// The receiver named by address (HOST:PORT, its discovery port), the one peer there.
			const byAddress = await runCli([
				"send",
				"--text",
				"by address",
				"--to",
				`127.0.0.1:${discoveryPort}`,
				...net,
				...peerFolders(root, "texter"),
			]);
			assert.equal(byAddress.code, 0, byAddress.stderr);
			await waitFor(
				() => receiver.events.find((e) => e.event === "text" && e.text === "by address"),
				"the text sent by address",
			);
			const long = "x".repeat(64 * 1024);
			const piped = await new Promise<number | null>((resolve) => {
				const child = spawn(process.execPath, [
					CLI,
					"send",
					"--text",
					"-",
					"--to",
					"inbox",
					...net,
					...peerFolders(root, "texter"),
				]);
				child.on("exit", (code) => resolve(code));
				child.stdin.end(long);
			});
			assert.equal(piped, 0);
			await waitFor(
				() => receiver.events.find((e) => e.event === "text" && e.text === long),
				"the 64 KiB text",
			);
		} finally {
			await receiver.stop();
		}
	});

	it("under a network key: offers and texts go sealed; a peer without the key reaches nothing", async () => {
		const key = ["--network-key", "offers-e2e-secret"];
		const receiver = new ServeProcess([
			...net,
			...peerFolders(root, "sealed"),
			"--accept-all",
			...key,
		]);
		try {
			await waitFor(() => receiver.event("ready"), "receiver ready");
			const file = path.join(src, "album", "a.txt");
			const ok = await runCli([
				"send",
				file,
				"--to",
				"sealed",
				...net,
				...key,
				...peerFolders(root, "keyed"),
			]);
			assert.equal(ok.code, 0, ok.stderr);
			assert.equal(fs.readFileSync(path.join(root, "sealed", "dl", "a.txt"), "utf8"), "first\n");
			const text = await runCli([
				"send",
				"--text",
				"sealed hello",
				"--to",
				"sealed",
				...net,
				...key,
				...peerFolders(root, "keyed"),
			]);
			assert.equal(text.code, 0, text.stderr);
			await waitFor(() => receiver.event("text"), "the text event");
			const stranger = await runCli([
				"send",
				"--text",
				"hi",
				"--to",
				"sealed",
				"--wait",
				"1500",
				...net,
				"--network-key",
				"another-key",
				...peerFolders(root, "outsider"),
			]);
			assert.equal(stranger.code, 1);
			assert.equal(receiver.events.filter((e) => e.event === "text").length, 1);
		} finally {
			await receiver.stop();
		}
	});

	it("an offer larger than the receiver's free space is refused with the reason, nothing written", async () => {
		const downloads = path.join(root, "small", "dl");
		fs.mkdirSync(downloads, { recursive: true });
		// A 1 MiB file system as the downloads folder (the suite runs as root, as the engine's).
		execFileSync("mount", ["-t", "tmpfs", "-o", "size=1m", "tmpfs", downloads], { stdio: "pipe" });
		const receiver = new ServeProcess([...net, ...peerFolders(root, "small"), "--accept-all"]);
		try {
			await waitFor(() => receiver.event("ready"), "receiver ready");
			const sent = await runCli([
				"send",
				path.join(src, "big.bin"),
				"--to",
				"small",
				...net,
				...peerFolders(root, "sender1"),
			]);
			assert.equal(sent.code, 1, sent.stderr);
			assert.match(sent.stderr, /refused: not enough space: 2500000 bytes offered, \d+ bytes free/);
			assert.deepEqual(fs.readdirSync(downloads), []);
			const refused = await waitFor(() => receiver.event("offer-refused"), "offer-refused event");
			assert.match(String(refused.reason), /not enough space/);
		} finally {
			await receiver.stop();
			execFileSync("umount", ["-l", downloads], { stdio: "pipe" });
		}
	});

	it("bad usage exits 2; an unknown peer exits 1", async () => {
		const noTo = await runCli(["send", path.join(src, "big.bin"), ...net]);
		assert.equal(noTo.code, 2);
		assert.match(noTo.stderr, /send needs --to PEER/);
		const both = await runCli(["send", "x", "--text", "hi", "--to", "a", ...net]);
		assert.equal(both.code, 2);
		const tooLong = await runCli(["send", "--text", "y".repeat(65_537), "--to", "a", ...net]);
		assert.equal(tooLong.code, 2);
		const missing = await runCli([
			"send",
			path.join(src, "nope"),
			"--to",
			"a",
			"--wait",
			"1500",
			...net,
			...peerFolders(root, "lost"),
		]);
		assert.equal(missing.code, 1, missing.stderr);
		assert.match(missing.stderr, /no peer "a" heard/);
		const badTrust = await runCli(["trust", "alice", "--config-dir", path.join(root, "x")]);
		assert.equal(badTrust.code, 2);
	});
});

describe("send through the running peer (control socket)", () => {
	const root = tempDir();
	let net: string[];

	before(async () => {
		net = loopbackNet(await freePort());
	});

	after(() => fs.rmSync(root, { recursive: true, force: true }));

	it("goes out under the running serve's lasting identity, which the receiver trusts", async () => {
		const file = path.join(root, "note.txt");
		fs.writeFileSync(file, "from the running peer\n");
		const home = new ServeProcess([...net, ...peerFolders(root, "home")]);
		let receiver: ServeProcess | undefined;
		try {
			const ready = await waitFor(() => home.event("ready"), "home ready");
			await waitFor(() => home.event("control-listening"), "home's control socket");
			receiver = new ServeProcess([
				...net,
				...peerFolders(root, "friend"),
				"--accept-from",
				String(ready.peer),
			]);
			await waitFor(() => receiver?.event("ready"), "friend ready");
			// Only the settings folder and the network: the running peer takes the command.
			const sent = await runCli([
				"send",
				file,
				"--to",
				"friend",
				...net,
				"--config-dir",
				path.join(root, "home", "cfg"),
			]);
			assert.equal(sent.code, 0, sent.stderr);
			assert.match(sent.stdout, /friend verified 1 files/);
			assert.ok(
				home.events.some((e) => e.event === "control-request" && e.type === "send"),
				"home's serve took the send",
			);
			assert.equal(receiver.event("offer")?.peer, ready.peer);
			assert.equal(
				fs.readFileSync(path.join(root, "friend", "dl", "note.txt"), "utf8"),
				"from the running peer\n",
			);
		} finally {
			await receiver?.stop();
			await home.stop();
		}
	});
});
