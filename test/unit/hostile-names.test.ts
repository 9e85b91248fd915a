/**
 * A hostile seeder on loopback lists names of the adversarial corpus (and calls itself by an
 * escape sequence): the leecher downloads each file through the real Peer download path, and
 * nothing is written outside its downloads folder; the CLI prints the lists with no control,
 * escape or bidirectional character. Links already in the downloads folder are never written
 * through. (test/e2e/hostile-names.test.ts does the whole corpus, with CLI processes.)
 */
import assert from "node:assert/strict";
import fs from "node:fs";
import path from "node:path";
import { after, before, describe, it } from "node:test";
import { list, type Output, peers } from "../../source/cli/commands.js";
import type { OperationError } from "../../source/errors.js";
import { prepareTarget } from "../../source/library/confine.js";
import { adversarialNames } from "../helpers/adversarial-names.js";
import {
	DANGEROUS_IN_LINES,
	downloadAll,
	type HostileSeeder,
	startHostileSeeder,
	wire,
	wireNames,
} from "../helpers/hostile-seeder.js";
import { freeBase, LOOPBACK_BROADCAST, tempDir } from "../helpers/net.js";
import { Swarm } from "../helpers/swarm.js";

describe("a hostile seeder listing adversarial names (every 6th of the corpus)", () => {
	const names = wireNames(adversarialNames().map((entry) => entry.name)).filter(
		(_, i) => i % 6 === 0,
	);
	let swarm: Swarm;
	let seeder: HostileSeeder;

	before(async () => {
		swarm = await Swarm.create();
		seeder = await startHostileSeeder(swarm, names);
	});
	after(() => swarm.close());

	it("every file is refused or lands inside the downloads folder, under distinct names, and nothing is written outside", async () => {
		const leecher = await swarm.add("leecher");
		await swarm.waitForFiles(leecher, names.length);
		const downloads = path.join(swarm.root, "leecher", "downloads");
		const outcomes = await downloadAll(leecher, downloads, seeder, swarm.root);
		assert.equal(outcomes.saved + outcomes.refused + outcomes.inTheWay, names.length);
		assert.ok(outcomes.saved > names.length / 2, JSON.stringify(outcomes));
		assert.ok(outcomes.refused > 10, JSON.stringify(outcomes));
	});

	it("the CLI's list and peers print no control, escape or bidi character, and --json keeps the names exact", async (t) => {
		const scratch = tempDir();
		t.after(() => fs.rmSync(scratch, { recursive: true, force: true }));
		const lines: string[] = [];
		const io: Output = { out: (line) => lines.push(line), err: (line) => lines.push(line) };
		const options = async (name: string) => ({
			name,
			shareDir: path.join(scratch, name, "share"),
			downloadsDir: path.join(scratch, name, "downloads"),
			basePort: await freeBase(),
			discoveryPort: swarm.discoveryPort,
			broadcast: [LOOPBACK_BROADCAST],
			interval: 200,
		});
		await list(await options("cli-list"), 600, false, io);
		const fileLines = lines.filter((line) => line.startsWith("p2p:"));
		assert.equal(fileLines.length, names.length);
		await peers(await options("cli-peers"), 600, false, io);
		assert.ok(lines.some((line) => line.includes("evil")));
		for (const line of lines) assert.ok(!DANGEROUS_IN_LINES.test(line), JSON.stringify(line));
		// Columns stay columns: no name adds a tab or a line.
		for (const line of fileLines) assert.equal(line.split("\t").length, 4, JSON.stringify(line));

		const json: string[] = [];
		await list(await options("cli-json"), 600, true, {
			out: (line) => json.push(line),
			err: (line) => json.push(line),
		});
		assert.equal(json.length, 1);
		assert.ok(!DANGEROUS_IN_LINES.test(json[0]));
		const listed = JSON.parse(json[0]) as { name: string }[];
		assert.deepEqual(listed.map((f) => f.name).sort(), names.map(wire).sort());
	});
});

describe("links in the downloads folder", () => {
	const root = tempDir();
	after(() => fs.rmSync(root, { recursive: true, force: true }));

	it("are never written through: a linked folder, a deeper one, a link at the file or its partial file", async () => {
		const downloads = path.join(root, "dl");
		const outside = path.join(root, "outside");
		fs.mkdirSync(path.join(downloads, "a"), { recursive: true });
		fs.mkdirSync(outside);
		fs.writeFileSync(path.join(outside, "victim"), "keep");
		fs.symlinkSync(outside, path.join(downloads, "sub"));
		fs.symlinkSync(outside, path.join(downloads, "a", "b"));
		fs.symlinkSync(path.join(outside, "victim"), path.join(downloads, "x.txt"));
		fs.symlinkSync(path.join(outside, "victim"), path.join(downloads, "y.txt.p2p-part"));
		fs.symlinkSync(path.join(outside, "victim"), path.join(downloads, "z.txt.p2p-resume.tmp"));
		for (const rel of ["sub/x.txt", "sub/new/x.txt", "a/b/c/x.txt", "x.txt", "y.txt", "z.txt"]) {
			await assert.rejects(
				prepareTarget(downloads, path.join(downloads, rel)),
				(error: OperationError) => error.code === "UNSAFE_PATH",
				rel,
			);
		}
		assert.deepEqual(fs.readdirSync(outside), ["victim"]);
		assert.equal(fs.readFileSync(path.join(outside, "victim"), "utf8"), "keep");
		// A file in the way is the error mkdir gives; a path outside is refused.
		fs.writeFileSync(path.join(downloads, "file"), "");
		await assert.rejects(prepareTarget(downloads, path.join(downloads, "file", "x")), {
			code: "ENOTDIR",
		});
		await assert.rejects(prepareTarget(downloads, path.join(root, "x")), { code: "UNSAFE_PATH" });
		await assert.rejects(prepareTarget(downloads, downloads), { code: "UNSAFE_PATH" });
		// The downloads folder itself may be a link (the user chose it); new folders are made.
		fs.symlinkSync(downloads, path.join(root, "dl-link"));
		const folder = await prepareTarget(
			path.join(root, "dl-link"),
			path.join(root, "dl-link", "new", "deeper", "x.txt"),
		);
		assert.equal(folder, path.join(fs.realpathSync(downloads), "new", "deeper"));
		assert.ok(fs.statSync(folder).isDirectory());
	});

	it("a download into a linked folder is refused by the peer, and works once the link is gone", async (t) => {
		const swarm = await Swarm.create();
		t.after(() => swarm.close());
		const share = path.join(swarm.root, "share");
		fs.mkdirSync(path.join(share, "sub"), { recursive: true });
		fs.writeFileSync(path.join(share, "sub", "x.txt"), "inside x");
		fs.writeFileSync(path.join(share, "sub", "y.txt"), "inside y");
		await swarm.add("seeder", share);
		const leecher = await swarm.add("leecher");
		await swarm.waitForFiles(leecher, 2);
		const downloads = path.join(swarm.root, "leecher", "downloads");
		const outside = path.join(swarm.root, "outside");
		fs.mkdirSync(outside);
		fs.symlinkSync(outside, path.join(downloads, "sub"));
		const x = leecher.files().find((f) => f.name === "sub/x.txt");
		assert.ok(x);
		await assert.rejects(leecher.download(x.id), { code: "UNSAFE_PATH" });
		// The folder download: its top folder is the link.
		await assert.rejects(leecher.downloadFolder("sub"), { code: "FAILED" });
		assert.deepEqual(fs.readdirSync(outside), []);
		fs.unlinkSync(path.join(downloads, "sub"));
		const state = await leecher.download(x.id);
		assert.equal(state.path, path.join(downloads, "sub", "x.txt"));
		assert.equal(fs.readFileSync(path.join(downloads, "sub", "x.txt"), "utf8"), "inside x");
		assert.deepEqual(fs.readdirSync(outside), []);
	});

	it("a folder download numbers files whose safe names collide (case, normalisation, rewritten characters)", async (t) => {
		const swarm = await Swarm.create();
		t.after(() => swarm.close());
		const share = path.join(swarm.root, "share");
		fs.mkdirSync(path.join(share, "dir"), { recursive: true });
		const names = ["A.txt", "a.txt", "Café.txt", "Cafe\u0301.txt", "x\u0001.txt", "x\u0002.txt"];
		for (const [i, name] of names.entries())
			fs.writeFileSync(path.join(share, "dir", name), `c${i}`);
		await swarm.add("seeder", share);
		const leecher = await swarm.add("leecher");
		await swarm.waitForFiles(leecher, names.length);
		const done = await leecher.downloadFolder("dir");
		assert.equal(done.status, "complete");
		const downloads = path.join(swarm.root, "leecher", "downloads", "dir");
		const landed = fs.readdirSync(downloads).sort();
		assert.equal(landed.length, names.length, landed.join(", "));
		// Every content once, whatever the file system's case rules.
		const contents = landed.map((f) => fs.readFileSync(path.join(downloads, f), "utf8")).sort();
		assert.deepEqual(contents, names.map((_, i) => `c${i}`).sort());
		for (const name of ["A.txt", "a (1).txt", "Café.txt", "Café (1).txt", "x_.txt", "x_ (1).txt"])
			assert.ok(landed.includes(name), `${name} in ${landed.join(", ")}`);
	});
});
