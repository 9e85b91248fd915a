/**
 * Command-line parsing of the commands of issue 4 (search, manifest, share, download-to,
 * config) and their usage errors.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { type ParsedCommand, parseCommandLine, USAGE } from "../../source/cli/args.js";
import { UsageError } from "../../source/errors.js";

function run(argv: string[]): Extract<ParsedCommand, { kind: "run" }> {
	const parsed = parseCommandLine(argv);
	assert.equal(parsed.kind, "run");
	return parsed as Extract<ParsedCommand, { kind: "run" }>;
}

/** Asserts `argv` is a usage error (exit code 2) whose message matches `pattern`. */
function refused(argv: string[], pattern: RegExp): void {
	assert.throws(
		() => parseCommandLine(argv),
		(error: unknown) =>
			error instanceof UsageError && error.exitCode === 2 && pattern.test(error.message),
		argv.join(" "),
	);
}

describe("command line: search, manifest, share, download-to, config", () => {
	it("search takes the words of the query, --wait and --json", () => {
		const one = run(["search", "slicon valey", "--wait", "500", "--json"]);
		assert.equal(one.command, "search");
		assert.equal(one.target, "slicon valey");
		assert.equal(one.flags.wait, 500);
		assert.equal(one.flags.json, true);
		// Unquoted words are one query.
		assert.equal(run(["search", "slicon", "valey"]).target, "slicon valey");
		refused(["search"], /search takes a query/);
		refused(["search", "  "], /search takes a query/);
	});

	it("manifest takes one file and -o / --output", () => {
		const plain = run(["manifest", "film.mkv"]);
		assert.equal(plain.command, "manifest");
		assert.equal(plain.target, "film.mkv");
		assert.equal(plain.flags.output, undefined);
		assert.equal(run(["manifest", "film.mkv", "-o", "out.p2p"]).flags.output, "out.p2p");
		assert.equal(run(["manifest", "film.mkv", "--output", "x.p2p", "--json"]).flags.json, true);
		refused(["manifest"], /manifest takes one file/);
		refused(["manifest", "a", "b"], /manifest takes one file/);
		refused(["manifest", "a", "-o"], /argument missing|-o/);
		refused(["manifest", "a", "--port", "3000"], /--port does not go with manifest/);
		// A global flag: every command takes it (a shell alias may add it anywhere).
		assert.equal(run(["manifest", "a", "--config-dir", "c"]).flags.configDir, "c");
		refused(["manifest", "a", "--log", "x.log"], /--log does not go with manifest/);
		refused(["list", "-o", "x.p2p"], /--output goes with manifest only/);
	});

	it("share and download-to take one folder and --config-dir", () => {
		const share = run(["share", "some dir", "--config-dir", "cfg"]);
		assert.equal(share.command, "share");
		assert.equal(share.target, "some dir");
		assert.equal(share.flags.configDir, "cfg");
		const to = run(["download-to", "dl"]);
		assert.equal(to.command, "download-to");
		assert.equal(to.target, "dl");
		refused(["share"], /share takes one folder/);
		refused(["share", "a", "b"], /share takes one folder/);
		refused(["download-to"], /download-to takes one folder/);
		refused(["share", "a", "--share", "b"], /--share does not go with share/);
		refused(["download-to", "a", "--json"], /--json does not go with download-to/);
	});

	it("config takes --config-dir and --json, nothing else", () => {
		const config = run(["config", "--json", "--config-dir", "c"]);
		assert.equal(config.command, "config");
		assert.equal(config.target, undefined);
		assert.equal(config.flags.json, true);
		refused(["config", "extra"], /unexpected argument "extra"/);
		refused(["config", "--wait", "5"], /--wait does not go with config/);
	});

	it("get names a .p2p file, a p2p: link or an id; the old commands are unchanged", () => {
		assert.equal(run(["get", "film.p2p"]).target, "film.p2p");
		assert.equal(run(["get", "p2p:0123abcd"]).target, "p2p:0123abcd");
		refused(["get"], /get takes one file id, name or folder/);
		refused(["get", ""], /get takes one file id, name or folder/);
		assert.equal(run(["serve", "--share", "s", "--json"]).flags.share, "s");
		assert.equal(run([]).command, "tui");
		refused(["frobnicate"], /unknown command "frobnicate"/);
	});

	it("--help lists every new command", () => {
		assert.deepEqual(parseCommandLine(["--help"]), { kind: "help" });
		for (const word of ["search <query>", "manifest <file>", "share <dir>", "download-to <dir>"])
			assert.ok(USAGE.includes(word), word);
		assert.match(USAGE, /p2p-tui config/);
		assert.match(USAGE, /file\.p2p/);
	});
});

describe("command line: doctor", () => {
	it("takes the peer flags, --wait and --json; refuses what transfers or logs", () => {
		const d = run([
			"doctor",
			"--json",
			"--wait",
			"700",
			"--broadcast",
			"ff12::7032:7074%eth0",
			"--discovery-port",
			"46000",
			"--config-dir",
			"/tmp/x",
		]);
		assert.equal(d.command, "doctor");
		assert.equal(d.flags.json, true);
		assert.equal(d.flags.wait, 700);
		assert.deepEqual(d.flags.broadcast, ["ff12::7032:7074%eth0"]);
		assert.equal(d.flags.discoveryPort, 46000);
		assert.match(USAGE, /p2p-tui doctor/);
		refused(["doctor", "--max-up", "5"], /--max-up does not go with doctor/);
		refused(["doctor", "--log", "f"], /--log goes with the TUI, serve and get/);
		refused(["doctor", "extra"], /unexpected argument "extra"/);
	});
});
