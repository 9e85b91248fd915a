/**
 * The commands of issue 4 as separate programs: `manifest` writes a `.p2p` file and
 * `get file.p2p` fetches the file it describes; `search` ranks the network's files
 * fuzzily; `get p2p:<id>`; and `share` / `download-to` run while `serve` is running make
 * the serving peer switch folders, which a third process sees with `list --json`.
 */
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import { after, before, describe, it } from "node:test";
import { fixturesDir, freeBase, freePort, tempDir, waitFor } from "../helpers/net.js";
import {
	CLI,
	loopbackNet,
	peerFolders,
	type RunResult,
	runCli,
	ServeProcess,
} from "../helpers/process.js";

/** Runs the CLI in `cwd` (for output written to the current folder). */
function runIn(cwd: string, args: string[]): Promise<RunResult> {
	return new Promise((resolve) => {
		execFile(
			process.execPath,
			[CLI, ...args],
			{ cwd, timeout: 60_000 },
			(error, stdout, stderr) => {
				const code: unknown = error ? (error as { code?: unknown }).code : 0;
				resolve({ code: typeof code === "number" ? code : null, stdout, stderr });
			},
		);
	});
}

/** Asserts a failure: exit `code`, one line on stderr, no stack trace. */
function failedWith(result: RunResult, code: number, pattern: RegExp): void {
	assert.equal(result.code, code, `${result.stdout}${result.stderr}`);
	const lines = result.stderr.trim().split("\n");
	assert.equal(lines.length, 1, result.stderr);
	assert.match(lines[0], pattern);
	assert.doesNotMatch(result.stderr, /\n\s+at /);
}

interface ListedFile {
	id: string;
	name: string;
	size: number;
	contentHash: string;
	peers: number;
}

describe("manifest, get file.p2p, search, p2p: links, and folder settings followed live", () => {
	const root = tempDir();
	const fixtures = fixturesDir();
	let net: string[];
	const servers: ServeProcess[] = [];

	before(async () => {
		net = loopbackNet(await freePort());
		const alice = new ServeProcess([
			...net,
			...peerFolders(root, "alice", fixtures),
			"--port",
			String(await freeBase()),
		]);
		servers.push(alice);
		await waitFor(() => alice.event("ready"), "alice ready");
	});

	after(async () => {
		await Promise.all(servers.map((s) => s.stop()));
		fs.rmSync(root, { recursive: true, force: true });
	});

	const client = (name: string) => [...net, ...peerFolders(root, name)];

	async function listJson(name: string): Promise<ListedFile[]> {
		const result = await runCli(["list", ...client(name), "--wait", "800", "--json"]);
		assert.equal(result.code, 0, result.stderr);
		return JSON.parse(result.stdout) as ListedFile[];
	}

	it("manifest writes <name>.p2p in the current folder, prints the id and link, never overwrites", async () => {
		const cwd = path.join(root, "cwd");
		fs.mkdirSync(cwd);
		const source = path.join(fixtures, "random-3MiB.bin");
		const made = await runIn(cwd, ["manifest", source]);
		assert.equal(made.code, 0, made.stderr);
		const out = path.join(cwd, "random-3MiB.bin.p2p");
		assert.ok(fs.existsSync(out));
		const id = /^id +([0-9a-f]{64})$/m.exec(made.stdout)?.[1];
		assert.ok(id, made.stdout);
		assert.match(made.stdout, new RegExp(`^link +p2p:${id}$`, "m"));
		// The id is the one the sharing peer lists for the file.
		const listed = (await listJson("looker")).find((f) => f.name === "random-3MiB.bin");
		assert.equal(listed?.id, id);

		const before = fs.readFileSync(out);
		failedWith(await runIn(cwd, ["manifest", source]), 2, /already exists/);
		assert.ok(fs.readFileSync(out).equals(before), "not overwritten");

		const json = await runIn(cwd, [
			"manifest",
			source,
			"-o",
			path.join(root, "other.p2p"),
			"--json",
		]);
		assert.equal(json.code, 0, json.stderr);
		const shown = JSON.parse(json.stdout) as Record<string, unknown>;
		assert.equal(shown.id, id);
		assert.equal(shown.link, `p2p:${id}`);
		assert.equal(shown.name, "random-3MiB.bin");
		assert.equal(shown.size, fs.statSync(source).size);
		assert.equal(shown.contentHash, listed?.contentHash);
		assert.ok(fs.readFileSync(path.join(root, "other.p2p")).equals(before));

		failedWith(await runIn(cwd, ["manifest", path.join(root, "nope")]), 2, /cannot read/);
		failedWith(await runIn(cwd, ["manifest", fixtures]), 2, /not a regular file/);
	});

	it("get file.p2p downloads a byte-identical file checked against the .p2p manifest", async () => {
		const p2p = path.join(root, "gradient.p2p");
		const made = await runCli(["manifest", path.join(fixtures, "gradient.png"), "-o", p2p]);
		assert.equal(made.code, 0, made.stderr);
		const got = await runCli(["get", p2p, ...client("p2pgetter"), "--wait", "5000", "--json"]);
		assert.equal(got.code, 0, got.stderr);
		const out = JSON.parse(got.stdout) as { id: string; name: string; path: string; size: number };
		assert.equal(out.name, "gradient.png");
		assert.equal(out.path, path.join(root, "p2pgetter", "dl", "gradient.png"));
		assert.ok(
			fs.readFileSync(out.path).equals(fs.readFileSync(path.join(fixtures, "gradient.png"))),
		);
		assert.match(made.stdout, new RegExp(`p2p:${out.id}`));
	});

	it("a damaged, truncated or foreign .p2p file is one line and exit 2; an unshared one exit 1", async () => {
		const good = path.join(root, "hello.p2p");
		assert.equal(
			(await runCli(["manifest", path.join(fixtures, "hello.txt"), "-o", good])).code,
			0,
		);
		const bytes = fs.readFileSync(good);
		const flipped = Buffer.from(bytes);
		flipped[60] ^= 0xff;
		const cases: [string, Buffer][] = [
			["flipped.p2p", flipped],
			["truncated.p2p", bytes.subarray(0, bytes.length - 5)],
			["empty.p2p", Buffer.alloc(0)],
			["text.p2p", Buffer.from("not a manifest\n")],
		];
		for (const [name, content] of cases) {
			const file = path.join(root, name);
			fs.writeFileSync(file, content);
			failedWith(
				await runCli(["get", file, ...client("bad"), "--wait", "200"]),
				2,
				/not a valid \.p2p file/,
			);
		}
		// A file of the right format with a magic but no .p2p suffix is recognised too.
		const renamed = path.join(root, "hello-manifest.bin");
		fs.writeFileSync(renamed, bytes);
		const byMagic = await runCli(["get", renamed, ...client("magic"), "--wait", "5000"]);
		assert.equal(byMagic.code, 0, byMagic.stderr);
		assert.ok(fs.existsSync(path.join(root, "magic", "dl", "hello.txt")));

		// Nobody shares this one.
		const lonely = path.join(root, "lonely.txt");
		fs.writeFileSync(lonely, "shared by no one");
		const p2p = path.join(root, "lonely.p2p");
		assert.equal((await runCli(["manifest", lonely, "-o", p2p])).code, 0);
		failedWith(await runCli(["get", p2p, ...client("bad"), "--wait", "500"]), 1, /no peer shares/);
	});

	it("search ranks a misspelled query's file first; no match is said and exits 0", async () => {
		const json = await runCli([
			"search",
			"gradeint",
			...client("searcher"),
			"--wait",
			"800",
			"--json",
		]);
		assert.equal(json.code, 0, json.stderr);
		const matches = JSON.parse(json.stdout) as (ListedFile & { score: number })[];
		assert.ok(matches.length >= 1);
		assert.equal(matches[0].name, "gradient.png");
		assert.match(matches[0].id, /^[0-9a-f]{64}$/);
		assert.equal(matches[0].peers, 1);
		assert.ok(matches[0].score >= 0 && matches[0].score < 1);
		for (let i = 1; i < matches.length; i++) assert.ok(matches[i].score >= matches[i - 1].score);

		const words = await runCli(["search", "deep", "notse", ...client("searcher"), "--wait", "800"]);
		assert.equal(words.code, 0, words.stderr);
		const first = words.stdout.trim().split("\n")[0];
		assert.match(first, /^p2p:[0-9a-f]{16}\t\d+\t1 peers\tdocs\/nested\/deep notes\.txt$/);

		const none = await runCli(["search", "zqxjvw", ...client("searcher"), "--wait", "500"]);
		assert.equal(none.code, 0, none.stderr);
		assert.match(none.stdout, /^no match for "zqxjvw" among \d+ files on the network$/m);
		const noneJson = await runCli([
			"search",
			"zqxjvw",
			...client("searcher"),
			"--wait",
			"500",
			"--json",
		]);
		assert.deepEqual(JSON.parse(noneJson.stdout), []);
	});

	it("get p2p:<id> and get p2p:<prefix> (as list prints it) download the file", async () => {
		const hello = (await listJson("looker")).find((f) => f.name === "hello.txt");
		assert.ok(hello);
		const full = await runCli(["get", `p2p:${hello.id}`, ...client("linkfull"), "--wait", "3000"]);
		assert.equal(full.code, 0, full.stderr);
		const plain = await runCli(["list", ...client("looker"), "--wait", "800"]);
		const line = plain.stdout.split("\n").find((l) => l.endsWith("\thello.txt"));
		const link = line?.split("\t")[0];
		assert.equal(link, `p2p:${hello.id.slice(0, 16)}`);
		const short = await runCli(["get", link ?? "", ...client("linkshort"), "--wait", "3000"]);
		assert.equal(short.code, 0, short.stderr);
		for (const who of ["linkfull", "linkshort"])
			assert.ok(
				fs
					.readFileSync(path.join(root, who, "dl", "hello.txt"))
					.equals(fs.readFileSync(path.join(fixtures, "hello.txt"))),
			);
	});

	it("share and download-to run while serve is running switch its folders; list sees the new files", async () => {
		const base = path.join(root, "carol");
		const cfg = path.join(base, "cfg");
		const x = path.join(base, "x");
		const y = path.join(base, "y");
		fs.mkdirSync(path.join(y, "inner"), { recursive: true });
		fs.mkdirSync(x, { recursive: true });
		fs.writeFileSync(path.join(x, "only-in-x.txt"), "x");
		fs.writeFileSync(path.join(y, "only-in-y.txt"), "y");
		fs.writeFileSync(path.join(y, "inner", "also-in-y.txt"), "yy");
		const settings = (cmd: string, dir: string) =>
			runCli([cmd, dir, "--config-dir", cfg]).then((r) => assert.equal(r.code, 0, r.stderr));
		await settings("share", x);
		await settings("download-to", path.join(base, "dl1"));
		const carol = new ServeProcess([
			...net,
			"--name",
			"carol",
			"--config-dir",
			cfg,
			"--port",
			String(await freeBase()),
		]);
		servers.push(carol);
		const ready = await waitFor(() => carol.event("ready"), "carol ready");
		assert.equal(ready.shareDir, fs.realpathSync(x));
		const carolsFiles = async () =>
			(await listJson("third"))
				.filter((f) => f.name.includes("-in-"))
				.map((f) => f.name)
				.sort();
		assert.deepEqual(await carolsFiles(), ["only-in-x.txt"]);

		// Refused while running too: nested folders store nothing.
		failedWith(
			await runCli(["share", path.join(base, "dl1", "sub"), "--config-dir", cfg]),
			2,
			/nested/,
		);

		await settings("share", y);
		const changed = await waitFor(
			() => carol.events.find((e) => e.event === "folders-changed"),
			"carol's folders-changed event",
		);
		assert.equal(changed.shareDir, fs.realpathSync(y));
		assert.equal(changed.downloadsDir, path.join(base, "dl1"));
		await waitFor(
			() => carol.events.some((e) => e.event === "library-changed" && e.files === 2),
			"carol re-indexed",
		);
		assert.deepEqual(await carolsFiles(), ["inner/also-in-y.txt", "only-in-y.txt"]);

		await settings("download-to", path.join(base, "dl2"));
		await waitFor(
			() =>
				carol.events.some(
					(e) => e.event === "folders-changed" && e.downloadsDir === path.join(base, "dl2"),
				),
			"carol's new downloads folder",
		);
		const shown = await runCli(["config", "--config-dir", cfg, "--json"]);
		const config = JSON.parse(shown.stdout) as { file: string; settings: Record<string, unknown> };
		assert.equal(config.file, path.join(cfg, "config.json"));
		assert.equal(config.settings.shareDir, y);
		assert.equal(config.settings.downloadsDir, path.join(base, "dl2"));
		assert.equal(carol.events.filter((e) => e.event === "settings-error").length, 0);
	});
});
