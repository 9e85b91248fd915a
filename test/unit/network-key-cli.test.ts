import assert from "node:assert/strict";
import fs from "node:fs";
import path from "node:path";
import { after, afterEach, describe, it } from "node:test";
import { parseCommandLine, type RunFlags } from "../../source/cli/args.js";
import {
	config,
	followSettings,
	get,
	keepLimits,
	networkKeyCommand,
	networkKeyOf,
	type Output,
	peerOptions,
} from "../../source/cli/commands.js";
import {
	loadSettings,
	readKeyFile,
	SETTINGS_FILE_MODE,
	storedSettings,
	storeLimits,
	storeNetworkKey,
} from "../../source/cli/settings.js";
import { UsageError } from "../../source/errors.js";
import { freeBase, LOOPBACK_BROADCAST, tempDir, waitFor } from "../helpers/net.js";
import { Swarm } from "../helpers/swarm.js";

const flags = (argv: string[]): RunFlags => {
	const parsed = parseCommandLine(argv);
	assert.equal(parsed.kind, "run");
	return parsed.kind === "run" ? parsed.flags : assert.fail();
};

/** Asserts `fn` throws a one-line UsageError (exit code 2), with `code` when given. */
function refused(fn: () => unknown, pattern: RegExp, code?: string): void {
	assert.throws(fn, (error: unknown) => {
		assert.ok(error instanceof UsageError, String(error));
		assert.equal(error.exitCode, 2);
		if (code) assert.equal(error.code, code);
		assert.match(error.message, pattern);
		assert.ok(!error.message.includes("\n"), "one line");
		return true;
	});
}

function capture(): Output & { lines: string[] } {
	const lines: string[] = [];
	return { lines, out: (line) => lines.push(line), err: (line) => lines.push(line) };
}

const modeOf = (file: string) => fs.statSync(file).mode & 0o777;

describe("network key on the command line", () => {
	it("parses --network-key and --network-key-file on the TUI, serve, list, peers and get", () => {
		for (const command of [[], ["serve"], ["list"], ["peers"], ["get", "x"]]) {
			assert.equal(flags([...command, "--network-key", "s3cret"]).networkKey, "s3cret");
			assert.equal(flags([...command, "--network-key-file", "k"]).networkKeyFile, "k");
		}
		assert.equal(flags(["network-key", "a passphrase"]).clear, false);
		assert.equal(flags(["network-key", "--clear"]).clear, true);
		const parsed = parseCommandLine(["network-key", "a passphrase"]);
		assert.equal(parsed.kind === "run" && parsed.target, "a passphrase");
	});

	it("refuses bad combinations with a one-line error", () => {
		refused(() => parseCommandLine(["--network-key", ""]), /must not be empty/);
		refused(() => parseCommandLine(["--network-key-file", ""]), /name a file/);
		refused(
			() => parseCommandLine(["serve", "--network-key", "a", "--network-key-file", "b"]),
			/do not go together/,
		);
		refused(() => parseCommandLine(["list", "--clear"]), /--clear goes with network-key/);
		refused(() => parseCommandLine(["network-key", "a", "--clear"]), /one of/);
		refused(() => parseCommandLine(["network-key", "a", "b"]), /one secret/);
		refused(() => parseCommandLine(["network-key", "--network-key", "a"]), /does not go/);
		refused(() => parseCommandLine(["network-key", "--json"]), /does not go/);
	});
});

describe("network key files and settings", () => {
	const root = tempDir();
	after(() => fs.rmSync(root, { recursive: true, force: true }));

	it("reads a key file less one final line break; a bad one is a one-line error (exit 2)", () => {
		const file = path.join(root, "key");
		fs.writeFileSync(file, "secret\n");
		assert.equal(readKeyFile(file).toString(), "secret");
		fs.writeFileSync(file, "secret\r\n");
		assert.equal(readKeyFile(file).toString(), "secret");
		fs.writeFileSync(file, "secret\n\n");
		assert.equal(readKeyFile(file).toString(), "secret\n");
		const binary = Buffer.from([0, 255, 10, 13, 7]);
		fs.writeFileSync(file, binary);
		assert.deepEqual(readKeyFile(file), binary);
		fs.writeFileSync(file, "\n");
		refused(() => readKeyFile(file), /is empty/, "BAD_NETWORK_KEY");
		fs.writeFileSync(file, Buffer.alloc(5000, 0x61));
		refused(() => readKeyFile(file), /at most 4096 bytes/, "BAD_NETWORK_KEY");
		refused(() => readKeyFile(path.join(root, "missing")), /cannot read .*ENOENT/);
		refused(() => readKeyFile(root), /cannot read network key file/, "BAD_NETWORK_KEY");
		// peerOptions reads it before any socket: a bad file stops the run there.
		refused(
			() =>
				peerOptions(loadSettings(flags(["peers", "--config-dir", root])), {
					...flags(["peers", "--config-dir", root, "--network-key-file", path.join(root, "nope")]),
				}),
			/cannot read network key file/,
		);
	});

	it("takes the key from the file, the flag, or the settings, in that order", () => {
		const cfg = path.join(root, "order");
		storeNetworkKey("stored", cfg);
		const file = path.join(root, "keyfile");
		fs.writeFileSync(file, "from file\n");
		const key = (argv: string[]) => {
			const f = flags(["serve", "--config-dir", cfg, ...argv]);
			return networkKeyOf(loadSettings(f), f)?.toString();
		};
		assert.equal(key([]), "stored");
		assert.equal(key(["--network-key", "typed"]), "typed");
		assert.equal(key(["--network-key-file", file]), "from file");
		storeNetworkKey(null, cfg);
		assert.equal(key([]), undefined);
	});

	it("keeps the settings file at mode 0600, even one an older version made 0644", () => {
		const cfg = path.join(root, "mode");
		fs.mkdirSync(cfg);
		const file = path.join(cfg, "config.json");
		fs.writeFileSync(file, "{}", { mode: 0o644 });
		fs.chmodSync(file, 0o644);
		assert.equal(storeNetworkKey("hush", cfg), file);
		assert.equal(modeOf(file), SETTINGS_FILE_MODE);
		assert.equal(storedSettings(cfg).networkKey, "hush");
		// Any later write (limits from the TUI) keeps the mode.
		storeLimits({ maxActive: 5 }, cfg);
		assert.equal(modeOf(file), 0o600);
		// A fresh settings folder gets a 0600 file from its first write.
		const fresh = path.join(root, "fresh");
		storedSettings(fresh);
		assert.equal(modeOf(path.join(fresh, "config.json")), 0o600);
		refused(() => storeNetworkKey("", cfg), /must not be empty/, "BAD_NETWORK_KEY");
	});

	it("network-key stores, reports and clears the key, never printing it; config hides it", () => {
		const cfg = path.join(root, "command");
		const io = capture();
		networkKeyCommand(undefined, { configDir: cfg }, io);
		networkKeyCommand("the key itself", { configDir: cfg }, io);
		networkKeyCommand(undefined, { configDir: cfg }, io);
		config(cfg, false, io);
		config(cfg, true, io);
		const file = path.join(root, "text-key");
		fs.writeFileSync(file, "from a file\n");
		networkKeyCommand(undefined, { configDir: cfg, networkKeyFile: file }, io);
		assert.equal(storedSettings(cfg).networkKey, "from a file");
		fs.writeFileSync(file, Buffer.from([0xff, 0xfe]));
		refused(
			() => networkKeyCommand(undefined, { configDir: cfg, networkKeyFile: file }, io),
			/not UTF-8/,
		);
		networkKeyCommand(undefined, { configDir: cfg, clear: true }, io);
		assert.equal(storedSettings(cfg).networkKey, "");
		const text = io.lines.join("\n");
		assert.ok(!text.includes("the key itself") && !text.includes("from a file"), text);
		assert.match(io.lines[0], /no network key/);
		assert.match(io.lines[1], /stored in .*config\.json \(mode 0600\)/);
		assert.match(io.lines[2], /a network key is set/);
		assert.match(text, /network key {7}set \(hidden\)/);
		assert.match(text, /"networkKey":"\(set\)"/);
		assert.match(io.lines.at(-1) ?? "", /cleared/);
	});
});

describe("a running peer follows the stored network key", () => {
	let swarm: Swarm;
	afterEach(async () => {
		await swarm.close();
	});

	it("joins the network stored by `network-key`, unless a flag pinned the key", async () => {
		swarm = await Swarm.create();
		const cfg = path.join(swarm.root, "cfg");
		storedSettings(cfg);
		const alice = await swarm.add("alice", undefined, { networkKey: "ours" });
		const bob = await swarm.add("bob");
		const pinned = await swarm.add("carol");
		const stopBob = followSettings(bob, flags(["serve", "--config-dir", cfg]), assert.fail);
		const stopCarol = followSettings(
			pinned,
			flags(["serve", "--config-dir", cfg, "--network-key", "pinned"]),
			assert.fail,
		);
		try {
			networkKeyCommand("ours", { configDir: cfg }, capture());
			await waitFor(
				() => bob.keyed && alice.peers().some((p) => p.name === "bob"),
				"bob on alice's network",
			);
			assert.equal(pinned.keyed, false);
			// A key set in the TUI (the store's set-network-key) is kept in the settings.
			const unkeep = keepLimits(bob, cfg, assert.fail);
			bob.setNetworkKey("from the TUI");
			unkeep();
			assert.equal(storedSettings(cfg).networkKey, "from the TUI");
			assert.equal(modeOf(path.join(cfg, "config.json")), 0o600);
			await waitFor(() => alice.peers().length === 0, "bob left alice's network");
		} finally {
			stopBob();
			stopCarol();
		}
	});
});

describe("get on a private network", () => {
	let swarm: Swarm;
	afterEach(async () => {
		await swarm.close();
	});

	it("downloads with --network-key and reports the seal's counters in its JSON", async () => {
		swarm = await Swarm.create();
		const share = path.join(swarm.root, "share");
		fs.mkdirSync(share);
		fs.writeFileSync(path.join(share, "notes.txt"), "for members only\n".repeat(5000));
		await swarm.add("alice", share, { networkKey: "members" });
		const downloads = path.join(swarm.root, "dl");
		fs.mkdirSync(path.join(swarm.root, "empty"));
		const io = capture();
		await get(
			{
				name: "getter",
				shareDir: path.join(swarm.root, "empty"),
				downloadsDir: downloads,
				basePort: await freeBase(),
				discoveryPort: swarm.discoveryPort,
				broadcast: [LOOPBACK_BROADCAST],
				interval: 200,
				networkKey: "members",
			},
			"notes.txt",
			5_000,
			true,
			io,
		);
		const result = JSON.parse(io.lines.join("")) as {
			path: string;
			seal: { sealed: number; opened: number; forged: number; replayed: number };
		};
		assert.equal(fs.readFileSync(result.path, "utf8"), "for members only\n".repeat(5000));
		assert.ok(result.seal.opened > 0 && result.seal.sealed > 0, JSON.stringify(result.seal));
		assert.equal(result.seal.replayed, 0);
	});
});
