/**
 * Issue 16, "commands that use the running peer": `list`, `search`, `peers` and `get` ask a
 * running `serve` of the same settings folder over its control socket (seen in its
 * `control-request` events; the download runs in it), work standalone when none runs or with
 * `--standalone`, and a stale socket left by a crashed peer is removed. Bad requests get an
 * error answer and the peer runs on. All on loopback.
 */
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import fs from "node:fs";
import net from "node:net";
import path from "node:path";
import { after, before, describe, it } from "node:test";
import { CONTROL_VERSION, controlSocketPath } from "../../source/peer/control.js";
import { hash, toHex } from "../../source/protocol/hash.js";
import { freeBase, freePort, tempDir, waitFor } from "../helpers/net.js";
import { loopbackNet, peerFolders, runCli, ServeProcess } from "../helpers/process.js";

/** Sends raw bytes on the control socket and collects the answer lines. */
function rawAsk(file: string, bytes: string): Promise<Record<string, unknown>[]> {
	return new Promise((resolve, reject) => {
		const socket = net.connect(file);
		let text = "";
		socket.setEncoding("utf8");
		socket.on("data", (chunk: string) => {
			text += chunk;
		});
		socket.on("error", reject);
		socket.on("close", () =>
			resolve(
				text
					.split("\n")
					.filter((l) => l.trim())
					.map((l) => JSON.parse(l) as Record<string, unknown>),
			),
		);
		socket.write(bytes);
	});
}

describe("commands drive the running peer over its control socket", () => {
	const root = tempDir();
	let netFlags: string[];
	const servers: ServeProcess[] = [];
	const content = randomBytes(3 * 1024 * 1024 + 4321);
	const seederDir = path.join(root, "seeder");
	const userCfg = path.join(root, "user", "cfg");
	let user: ServeProcess;

	before(async () => {
		netFlags = loopbackNet(await freePort());
		fs.mkdirSync(path.join(seederDir, "share"), { recursive: true });
		fs.writeFileSync(path.join(seederDir, "share", "clip.bin"), content);
		const seeder = new ServeProcess([
			...peerFolders(root, "seeder"),
			"--port",
			String(await freeBase()),
			...netFlags,
		]);
		servers.push(seeder);
		await waitFor(() => seeder.event("ready"), "the seeder ready");
	});

	after(async () => {
		await Promise.all(servers.map((s) => s.stop()));
		fs.rmSync(root, { recursive: true, force: true });
	});

	it("list with no running peer works standalone (no socket in the folder)", async () => {
		const result = await runCli(["list", "--json", "--config-dir", userCfg, ...netFlags]);
		assert.equal(result.code, 0, result.stderr);
		const files = JSON.parse(result.stdout) as { name: string }[];
		assert.deepEqual(
			files.map((f) => f.name),
			["clip.bin"],
		);
		assert.equal(fs.existsSync(controlSocketPath(userCfg)), false);
	});

	it("a running serve listens on a 0600 socket and answers list, search, peers and get", async () => {
		user = new ServeProcess([
			...peerFolders(root, "user"),
			"--port",
			String(await freeBase()),
			...netFlags,
		]);
		servers.push(user);
		const listening = await waitFor(() => user.event("control-listening"), "the control socket");
		const file = controlSocketPath(userCfg);
		assert.equal(listening.path, file);
		const st = fs.lstatSync(file);
		assert.ok(st.isSocket());
		assert.equal(st.mode & 0o777, 0o600);
		await waitFor(() => user.event("peer-joined"), "the seeder heard by the user's peer");
		const requests = () => user.events.filter((e) => e.event === "control-request");

		// `--wait 0`: a routed list answers at once from what the peer knows.
		const started = Date.now();
		const listed = await runCli([
			"list",
			"--json",
			"--wait",
			"0",
			"--config-dir",
			userCfg,
			...netFlags,
		]);
		assert.equal(listed.code, 0, listed.stderr);
		assert.deepEqual(
			(JSON.parse(listed.stdout) as { name: string }[]).map((f) => f.name),
			["clip.bin"],
		);
		assert.ok(Date.now() - started < 3_000, "answered from what the peer knew");
		assert.deepEqual(
			requests().map((e) => e.type),
			["list"],
		);

		// A transposed query: found by the typo-tolerant tier.
		const searched = await runCli(["search", "clpi", "--config-dir", userCfg, ...netFlags]);
		assert.equal(searched.code, 0, searched.stderr);
		assert.match(searched.stdout, /clip\.bin/);
		const peers = await runCli(["peers", "--json", "--config-dir", userCfg, ...netFlags]);
		assert.equal(peers.code, 0, peers.stderr);
		assert.equal((JSON.parse(peers.stdout) as unknown[]).length, 1);

		const got = await runCli(["get", "clip.bin", "--json", "--config-dir", userCfg, ...netFlags]);
		assert.equal(got.code, 0, got.stderr);
		const result = JSON.parse(got.stdout) as { path: string; contentHash: string; size: number };
		// The download ran in the serving peer: into its downloads folder, seen in its events.
		assert.equal(result.path, path.join(root, "user", "dl", "clip.bin"));
		assert.ok(fs.readFileSync(result.path).equals(content));
		assert.equal(result.contentHash, toHex(hash(content)));
		await waitFor(
			() => user.events.find((e) => e.event === "download-complete" && e.name === "clip.bin"),
			"the download complete in the serving peer",
		);
		assert.deepEqual(
			requests().map((e) => e.type),
			["list", "search", "peers", "get"],
		);

		// --standalone, or a flag that gives another peer: not routed.
		const alone = await runCli(["list", "--standalone", "--config-dir", userCfg, ...netFlags]);
		assert.equal(alone.code, 0, alone.stderr);
		assert.match(alone.stdout, /clip\.bin/);
		const other = await runCli([
			"list",
			"--config-dir",
			userCfg,
			...netFlags.map((f) => (f === "300" ? "400" : f)),
		]);
		assert.equal(other.code, 0, other.stderr);
		assert.match(other.stdout, /clip\.bin/);
		assert.equal(requests().length, 4, "neither reached the running peer");
	});

	it("answers bad requests with an error and runs on", async () => {
		const file = controlSocketPath(userCfg);
		const garbage = await rawAsk(file, "this is not json\n");
		assert.equal(garbage.at(-1)?.type, "error");
		assert.equal(garbage.at(-1)?.code, "BAD_REQUEST");
		const version = await rawAsk(file, `${JSON.stringify({ v: 99, type: "list" })}\n`);
		assert.equal(version.at(-1)?.code, "VERSION");
		const unknown = await rawAsk(file, `${JSON.stringify({ v: CONTROL_VERSION, type: "x" })}\n`);
		assert.equal(unknown.at(-1)?.code, "UNKNOWN_TYPE");
		const badGet = await rawAsk(
			file,
			`${JSON.stringify({ v: CONTROL_VERSION, type: "get", query: 42 })}\n`,
		);
		assert.equal(badGet.at(-1)?.code, "BAD_REQUEST");
		const missing = await runCli([
			"get",
			"nothing.bin",
			"--wait",
			"100",
			"--config-dir",
			userCfg,
			...netFlags,
		]);
		assert.equal(missing.code, 1);
		assert.match(missing.stderr.trim(), /^p2p-tui: no peer shares "nothing\.bin"/);
		const still = await runCli(["list", "--config-dir", userCfg, ...netFlags]);
		assert.equal(still.code, 0, still.stderr);
		assert.match(still.stdout, /clip\.bin/);
	});

	it("a stale socket of a crashed peer is removed; commands run standalone", async () => {
		const crashedCfg = path.join(root, "crashed", "cfg");
		const crashed = new ServeProcess([
			...peerFolders(root, "crashed"),
			"--port",
			String(await freeBase()),
			...netFlags,
		]);
		servers.push(crashed);
		await waitFor(() => crashed.event("control-listening"), "the crashed peer's socket");
		crashed.child.kill("SIGKILL");
		await new Promise((resolve) => crashed.child.once("exit", resolve));
		const file = controlSocketPath(crashedCfg);
		assert.ok(fs.existsSync(file), "a crash leaves the socket behind");
		const result = await runCli(["list", "--config-dir", crashedCfg, ...netFlags]);
		assert.equal(result.code, 0, result.stderr);
		assert.match(result.stdout, /clip\.bin/);
		assert.equal(fs.existsSync(file), false, "the stale socket removed");
	});
});
