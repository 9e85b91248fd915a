import assert from "node:assert/strict";
import fs from "node:fs";
import path from "node:path";
import { after, describe, it } from "node:test";
import { parseCommandLine } from "../../source/cli/args.js";
import { config, followSettings, type Output, setFolder } from "../../source/cli/commands.js";
import {
	defaultSettings,
	loadSettings,
	type Settings,
	settingsFile,
	storedSettings,
	storeFolder,
	watchSettings,
} from "../../source/cli/settings.js";
import { UsageError } from "../../source/errors.js";
import { tempDir, waitFor } from "../helpers/net.js";
import { Swarm } from "../helpers/swarm.js";

describe("settings (conf) and flags", () => {
	const root = tempDir();
	after(() => fs.rmSync(root, { recursive: true, force: true }));

	const flags = (argv: string[]) => {
		const parsed = parseCommandLine(argv);
		assert.equal(parsed.kind, "run");
		return parsed.kind === "run" ? parsed.flags : assert.fail();
	};

	it("writes defaults on first use, and a flag overrides a setting for one run only", () => {
		const dir = path.join(root, "one");
		const first = loadSettings(flags(["list", "--config-dir", dir]));
		const file = path.join(dir, "config.json");
		assert.ok(fs.existsSync(file), "settings persisted");
		const stored = JSON.parse(fs.readFileSync(file, "utf8")) as {
			shareDir: string;
			discoveryPort: number;
		};
		assert.equal(stored.shareDir, first.shareDir);
		assert.equal(stored.discoveryPort, 45454);

		const overridden = loadSettings(
			flags(["list", "--config-dir", dir, "--discovery-port", "50000", "--name", "zed"]),
		);
		assert.equal(overridden.discoveryPort, 50000);
		assert.equal(overridden.name, "zed");
		assert.equal(
			loadSettings(flags(["list", "--config-dir", dir])).discoveryPort,
			45454,
			"the flag did not persist",
		);

		// Edited settings are read back.
		fs.writeFileSync(
			file,
			JSON.stringify({ ...stored, discoveryPort: 46000, broadcast: ["127.255.255.255"] }),
		);
		const edited = loadSettings(flags(["list", "--config-dir", dir]));
		assert.equal(edited.discoveryPort, 46000);
		assert.deepEqual(edited.broadcast, ["127.255.255.255"]);
	});

	it("keeps two instances' settings apart with --config-dir", () => {
		const a = path.join(root, "a");
		const b = path.join(root, "b");
		loadSettings(flags(["list", "--config-dir", a]));
		loadSettings(flags(["list", "--config-dir", b]));
		fs.writeFileSync(path.join(a, "config.json"), JSON.stringify({ name: "alpha" }));
		assert.equal(loadSettings(flags(["list", "--config-dir", a])).name, "alpha");
		assert.notEqual(loadSettings(flags(["list", "--config-dir", b])).name, "alpha");
	});

	it("announces on every interface by default, also for the old stored default", () => {
		const dir = tempDir();
		assert.deepEqual(loadSettings(flags(["list", "--config-dir", dir])).broadcast, []);
		fs.writeFileSync(
			path.join(dir, "config.json"),
			JSON.stringify({ broadcast: ["255.255.255.255"] }),
		);
		assert.deepEqual(loadSettings(flags(["list", "--config-dir", dir])).broadcast, []);
		fs.writeFileSync(
			path.join(dir, "config.json"),
			JSON.stringify({ broadcast: ["255.255.255.255", "10.0.0.255"] }),
		);
		assert.deepEqual(loadSettings(flags(["list", "--config-dir", dir])).broadcast, [
			"255.255.255.255",
			"10.0.0.255",
		]);
		fs.rmSync(dir, { recursive: true, force: true });
	});

	it("parses repeatable --broadcast and rejects what is not an address", () => {
		assert.deepEqual(
			flags(["serve", "--broadcast", "127.255.255.255", "--broadcast", "127.0.0.1"]).broadcast,
			["127.255.255.255", "127.0.0.1"],
		);
		// IPv6 too (a multicast group with its scope), but not a name.
		assert.deepEqual(
			flags(["serve", "--broadcast", "ff12::7032:7074%eth0", "--broadcast", "::1"]).broadcast,
			["ff12::7032:7074%eth0", "::1"],
		);
		assert.throws(
			() => parseCommandLine(["serve", "--broadcast", "lan.local"]),
			/an IPv4 or IPv6 address/,
		);
		assert.throws(
			() => parseCommandLine(["serve", "--interval", "5"]),
			/--interval to be a whole number from 100/,
		);
	});
});

describe("folder settings: share, download-to, config, and a running peer that follows them", () => {
	const root = tempDir();
	after(() => fs.rmSync(root, { recursive: true, force: true }));

	/** Captures what a command prints. */
	function capture(): Output & { lines: string[] } {
		const lines: string[] = [];
		return { lines, out: (line) => lines.push(line), err: (line) => lines.push(line) };
	}

	const stored = (cfg: string) =>
		JSON.parse(fs.readFileSync(path.join(cfg, "config.json"), "utf8")) as Settings;

	/** Asserts `fn` throws a UsageError (exit code 2) with `code`. */
	function refusedWith(fn: () => unknown, code: string): void {
		assert.throws(fn, (error: unknown) => {
			assert.ok(error instanceof UsageError, String(error));
			assert.equal(error.exitCode, 2);
			assert.equal(error.code, code, error.message);
			assert.ok(!error.message.includes("\n"), "one line");
			return true;
		});
	}

	it("stores absolute folders, created when missing; config shows them and the file", () => {
		const cfg = path.join(root, "cfg1");
		const share = path.join(root, "one", "shared");
		const downloads = path.join(root, "one", "downloads");
		const shared = storeFolder("shareDir", path.relative(process.cwd(), share), cfg);
		assert.equal(shared.folder, share);
		assert.equal(shared.file, path.join(cfg, "config.json"));
		assert.ok(fs.statSync(share).isDirectory(), "created");
		storeFolder("downloadsDir", downloads, cfg);
		assert.ok(fs.statSync(downloads).isDirectory(), "created");
		assert.equal(stored(cfg).shareDir, share);
		assert.equal(stored(cfg).downloadsDir, downloads);
		assert.equal(settingsFile(cfg), path.join(cfg, "config.json"));

		const json = capture();
		config(cfg, true, json);
		const shown = JSON.parse(json.lines.join("")) as { file: string; settings: Settings };
		assert.equal(shown.file, path.join(cfg, "config.json"));
		assert.deepEqual(shown.settings, {
			...defaultSettings(),
			shareDir: share,
			downloadsDir: downloads,
		});

		const text = capture();
		config(cfg, false, text);
		assert.equal(text.lines[0], `settings file     ${shown.file}`);
		// No peer ran with this folder yet: no identity.
		assert.equal((shown as { identity?: unknown }).identity, null);
		assert.equal(text.lines[1], "identity          none yet (made on the first run of a peer)");
		assert.ok(text.lines.some((l) => l === `shared folder     ${share}`));
		assert.ok(text.lines.some((l) => l === `downloads folder  ${downloads}`));
		for (const label of ["name", "base port", "discovery port", "broadcast", "interval"])
			assert.ok(
				text.lines.some((l) => l.startsWith(label)),
				label,
			);

		const said = capture();
		setFolder("shareDir", share, cfg, said);
		assert.match(
			said.lines[0],
			/^sharing .*shared \(saved in .*config\.json; a running peer re-indexes it\)$/,
		);
	});

	it("refuses the same or nested folders, and unusable ones, storing nothing", () => {
		const cfg = path.join(root, "cfg2");
		const base = path.join(root, "two");
		storeFolder("shareDir", path.join(base, "shared"), cfg);
		storeFolder("downloadsDir", path.join(base, "downloads"), cfg);
		const before = fs.readFileSync(path.join(cfg, "config.json"), "utf8");
		refusedWith(() => storeFolder("shareDir", path.join(base, "downloads"), cfg), "FOLDERS_NESTED");
		refusedWith(
			() => storeFolder("shareDir", path.join(base, "downloads", "inner"), cfg),
			"FOLDERS_NESTED",
		);
		refusedWith(() => storeFolder("shareDir", base, cfg), "FOLDERS_NESTED");
		refusedWith(
			() => storeFolder("downloadsDir", path.join(base, "shared", "dl"), cfg),
			"FOLDERS_NESTED",
		);
		assert.ok(!fs.existsSync(path.join(base, "downloads", "inner")), "no folder made");
		assert.ok(!fs.existsSync(path.join(base, "shared", "dl")), "no folder made");
		// Through a symlink: the real folders nest.
		fs.symlinkSync(path.join(base, "shared"), path.join(base, "link"));
		refusedWith(
			() => storeFolder("downloadsDir", path.join(base, "link", "dl"), cfg),
			"FOLDERS_NESTED",
		);
		// A file is not a folder.
		fs.writeFileSync(path.join(base, "file"), "x");
		refusedWith(() => storeFolder("downloadsDir", path.join(base, "file"), cfg), "FOLDER_UNUSABLE");
		refusedWith(
			() => storeFolder("shareDir", path.join(base, "file", "sub"), cfg),
			"FOLDER_UNUSABLE",
		);
		assert.equal(fs.readFileSync(path.join(cfg, "config.json"), "utf8"), before, "nothing stored");
	});

	it("watchSettings reports a change made by another writer", async () => {
		const cfg = path.join(root, "cfg3");
		storeFolder("shareDir", path.join(root, "three", "a"), cfg);
		const seen: Settings[] = [];
		const stop = watchSettings(cfg, (s) => seen.push(s));
		try {
			storeFolder("shareDir", path.join(root, "three", "b"), cfg);
			await waitFor(() => seen.at(-1)?.shareDir === path.join(root, "three", "b"), "the change");
			storeFolder("downloadsDir", path.join(root, "three", "dl"), cfg);
			await waitFor(() => seen.at(-1)?.downloadsDir === path.join(root, "three", "dl"), "the 2nd");
		} finally {
			stop();
		}
	});

	it("a running peer follows share and download-to; another peer sees the new files", async () => {
		const swarm = await Swarm.create();
		const stops: (() => void)[] = [];
		try {
			const cfg = path.join(swarm.root, "cfg");
			const first = path.join(swarm.root, "first");
			const second = path.join(swarm.root, "second");
			const fromB = path.join(swarm.root, "b-share");
			for (const dir of [first, path.join(second, "sub"), fromB])
				fs.mkdirSync(dir, { recursive: true });
			fs.writeFileSync(path.join(first, "old.txt"), "old");
			fs.writeFileSync(path.join(second, "new one.txt"), "new file");
			fs.writeFileSync(path.join(second, "sub", "deep.txt"), "deep");
			fs.writeFileSync(path.join(fromB, "from-b.txt"), "b's file");
			storeFolder("shareDir", first, cfg);
			storeFolder("downloadsDir", path.join(swarm.root, "dl1"), cfg);
			const start = storedSettings(cfg);
			const a = await swarm.add("a", start.shareDir, { downloadsDir: start.downloadsDir });
			const b = await swarm.add("b", fromB);
			await swarm.waitForFiles(b, 1);
			const revision = b.peers().find((p) => p.id === a.id)?.revision;
			const events: string[] = [];
			a.on("folders-changed", (f) => events.push(`${f.shareDir} ${f.downloadsDir}`));
			const errors: string[] = [];
			const flags = { json: false, demo: false, configDir: cfg };
			stops.push(followSettings(a, flags, (e) => errors.push(e)));

			storeFolder("shareDir", second, cfg);
			await waitFor(
				() =>
					b
						.files()
						.map((f) => f.name)
						.join() === "new one.txt,sub/deep.txt",
				"b to see a's new folder",
			);
			assert.notEqual(b.peers().find((p) => p.id === a.id)?.revision, revision);
			assert.equal(a.self().shareDir, fs.realpathSync(second));
			assert.deepEqual(
				a.sharedFiles().map((f) => f.name),
				["new one.txt", "sub/deep.txt"],
			);
			assert.deepEqual(events, [`${fs.realpathSync(second)} ${path.join(swarm.root, "dl1")}`]);

			// New downloads land in the new downloads folder.
			storeFolder("downloadsDir", path.join(swarm.root, "dl2"), cfg);
			await waitFor(() => a.self().downloadsDir === path.join(swarm.root, "dl2"), "new downloads");
			const file = await waitFor(() => a.files().find((f) => f.name === "from-b.txt"), "b's file");
			const done = await a.download(file.id);
			assert.equal(done.path, path.join(swarm.root, "dl2", "from-b.txt"));
			assert.equal(fs.readFileSync(done.path, "utf8"), "b's file");

			// A nested change is refused by the running peer: it keeps its folders.
			const settings = path.join(cfg, "config.json");
			fs.writeFileSync(
				settings,
				JSON.stringify({ ...storedSettings(cfg), downloadsDir: path.join(second, "inside") }),
			);
			await waitFor(() => errors.length > 0, "the refusal");
			assert.match(errors[0], /must not be the same or nested/);
			assert.equal(a.self().downloadsDir, path.join(swarm.root, "dl2"));
			assert.equal(a.self().shareDir, fs.realpathSync(second));
			assert.equal(errors.length, 1);
		} finally {
			for (const stop of stops) stop();
			await swarm.close();
		}
	});

	it("a folder given by a flag for this run is not followed; the other one is", async () => {
		const swarm = await Swarm.create();
		const stops: (() => void)[] = [];
		try {
			const cfg = path.join(swarm.root, "cfg");
			const pinned = path.join(swarm.root, "pinned");
			const other = path.join(swarm.root, "other");
			fs.mkdirSync(pinned, { recursive: true });
			storeFolder("downloadsDir", path.join(swarm.root, "dl1"), cfg);
			const a = await swarm.add("a", pinned, { downloadsDir: path.join(swarm.root, "dl1") });
			const flags = { json: false, demo: false, configDir: cfg, share: pinned };
			const errors: string[] = [];
			stops.push(followSettings(a, flags, (e) => errors.push(e)));
			// Both folders change in one write; only the downloads folder is followed.
			fs.writeFileSync(
				path.join(cfg, "config.json"),
				JSON.stringify({
					...storedSettings(cfg),
					shareDir: other,
					downloadsDir: path.join(swarm.root, "dl2"),
				}),
			);
			await waitFor(() => a.self().downloadsDir === path.join(swarm.root, "dl2"), "downloads");
			assert.equal(a.self().shareDir, fs.realpathSync(pinned));
			assert.ok(!fs.existsSync(other), "the settings' shared folder was not opened");
			assert.deepEqual(errors, []);
		} finally {
			for (const stop of stops) stop();
			await swarm.close();
		}
	});
});
