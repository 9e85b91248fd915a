import assert from "node:assert/strict";
import fs from "node:fs";
import path from "node:path";
import { after, describe, it } from "node:test";
import { parseCommandLine } from "../../source/cli/args.js";
import { loadSettings } from "../../source/cli/settings.js";
import { tempDir } from "../helpers/net.js";

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

	it("parses repeatable --broadcast and rejects what is not an address", () => {
		assert.deepEqual(
			flags(["serve", "--broadcast", "127.255.255.255", "--broadcast", "127.0.0.1"]).broadcast,
			["127.255.255.255", "127.0.0.1"],
		);
		assert.throws(() => parseCommandLine(["serve", "--broadcast", "::1"]), /IPv4/);
		assert.throws(
			() => parseCommandLine(["serve", "--interval", "5"]),
			/--interval to be a whole number from 100/,
		);
	});
});
