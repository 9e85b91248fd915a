/**
 * The whole adversarial corpus from a hostile seeder on loopback: an in-process leecher
 * downloads every file (nothing lands outside its downloads folder), and the built CLI's
 * `peers`, `list` and `get` print no control, escape or bidirectional character on stdout
 * or stderr, whatever the names (the last guard is cli.tsx's output).
 */
import assert from "node:assert/strict";
import fs from "node:fs";
import path from "node:path";
import { after, before, describe, it } from "node:test";
import { sanitizeName } from "../../source/protocol/names.js";
import { adversarialNames } from "../helpers/adversarial-names.js";
import {
	DANGEROUS_IN_LINES,
	downloadAll,
	type HostileSeeder,
	startHostileSeeder,
	strictlyInside,
	wireNames,
} from "../helpers/hostile-seeder.js";
import { loopbackNet, peerFolders, runCli } from "../helpers/process.js";
import { Swarm } from "../helpers/swarm.js";

describe("a hostile seeder listing the whole adversarial corpus", () => {
	const names = wireNames(adversarialNames().map((entry) => entry.name));
	let swarm: Swarm;
	let seeder: HostileSeeder;

	before(async () => {
		swarm = await Swarm.create();
		seeder = await startHostileSeeder(swarm, names);
	});
	after(() => swarm.close());

	it("every file is refused or lands inside the downloads folder, and nothing is written outside", async () => {
		const leecher = await swarm.add("leecher");
		await swarm.waitForFiles(leecher, names.length);
		const downloads = path.join(swarm.root, "leecher", "downloads");
		const outcomes = await downloadAll(leecher, downloads, seeder, swarm.root, 16);
		assert.equal(outcomes.saved + outcomes.refused + outcomes.inTheWay, names.length);
		assert.ok(outcomes.saved > 500, JSON.stringify(outcomes));
		assert.ok(outcomes.refused > 100, JSON.stringify(outcomes));
	});

	it("the CLI prints no control, escape or bidi character on stdout or stderr", async () => {
		const net = loopbackNet(swarm.discoveryPort, 200);
		const cli = (name: string, ...args: string[]) =>
			runCli([...args, ...net, ...peerFolders(swarm.root, name), "--wait", "800"]);
		const clean = (what: string, text: string) => {
			const at = text.search(DANGEROUS_IN_LINES);
			assert.equal(at, -1, `${what}: ${JSON.stringify(text.slice(Math.max(0, at - 40), at + 40))}`);
		};

		const peers = await cli("cli-peers", "peers");
		assert.equal(peers.code, 0, peers.stderr);
		assert.ok(peers.stdout.includes("evil"), peers.stdout);
		clean("peers", peers.stdout + peers.stderr);

		const list = await cli("cli-list", "list");
		assert.equal(list.code, 0, list.stderr);
		clean("list", list.stdout + list.stderr);
		const rows = list.stdout.trimEnd().split("\n");
		assert.equal(rows.length, names.length);
		for (const row of rows) assert.equal(row.split("\t").length, 4, JSON.stringify(row));

		const json = await cli("cli-json", "list", "--json");
		assert.equal(json.code, 0, json.stderr);
		clean("list --json", json.stdout + json.stderr);
		const listed = JSON.parse(json.stdout) as { id: string; name: string }[];
		assert.equal(listed.length, names.length);

		// `get` of a name full of escapes: saved, and the line saying so is clean.
		const escaped = listed.find((f) => f.name === "\u001b]0;owned\u0007");
		assert.ok(escaped);
		const got = await cli("cli-get", "get", `p2p:${escaped.id}`);
		assert.equal(got.code, 0, got.stderr);
		clean("get", got.stdout + got.stderr);
		const saved = path.join(swarm.root, "cli-get", "dl", "_]0;owned_");
		assert.ok(fs.existsSync(saved), got.stdout);
		assert.ok(strictlyInside(fs.realpathSync(path.join(swarm.root, "cli-get", "dl")), saved));

		// `get` of a refused name quoting bidi controls: a clean one-line error, exit 1.
		const refused = listed.find((f) => f.name === "\u202e/..");
		assert.ok(refused);
		assert.equal(sanitizeName(refused.name).ok, false);
		const bad = await cli("cli-bad", "get", `p2p:${refused.id}`);
		assert.equal(bad.code, 1, bad.stderr);
		assert.match(bad.stderr, /refusing unsafe file name/);
		clean("get (refused)", bad.stdout + bad.stderr);
	});
});
