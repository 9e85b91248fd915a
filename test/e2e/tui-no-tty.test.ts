import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import { after, describe, it } from "node:test";
import { freePort, LOOPBACK_BROADCAST, tempDir, waitFor } from "../helpers/net.js";
import { CLI, runCli } from "../helpers/process.js";

const tmux = (...args: string[]) => execFileSync("tmux", args, { encoding: "utf8" });

/** The one line the TUI prints outside a terminal, naming the stream and the headless commands. */
function assertRefusal(stderr: string, stream: "stdout" | "stdin"): void {
	const lines = stderr.trim().split("\n");
	assert.equal(lines.length, 1, stderr);
	assert.match(
		lines[0],
		new RegExp(
			`^p2p-tui: the TUI needs a terminal \\(${stream} is not one\\); use \`p2p-tui serve\`, \`list\` or \`get\` in scripts$`,
		),
	);
}

describe("p2p-tui with no subcommand outside a terminal", () => {
	const root = tempDir();
	after(() => fs.rmSync(root, { recursive: true, force: true }));

	const net = async () => [
		"--broadcast",
		LOOPBACK_BROADCAST,
		"--discovery-port",
		String(await freePort()),
	];

	it("with stdout and stdin piped: one line on stderr, exit 2, at once", async () => {
		const started = performance.now();
		const result = await runCli([...(await net()), "--config-dir", path.join(root, "cfg")], 10_000);
		const elapsed = performance.now() - started;
		assert.equal(result.code, 2, result.stderr);
		assert.equal(result.stdout, "");
		assertRefusal(result.stderr, "stdout");
		// It never starts a peer: well under the time a peer takes to announce and leave.
		assert.ok(elapsed < 5_000, `took ${elapsed} ms`);
	});

	it("says so before reading any settings (a broken settings folder does not matter)", async () => {
		const file = path.join(root, "not-a-folder");
		fs.writeFileSync(file, "x");
		const result = await runCli([...(await net()), "--config-dir", path.join(file, "cfg")], 10_000);
		assert.equal(result.code, 2, result.stderr);
		assertRefusal(result.stderr, "stdout");
	});

	it("in a terminal with stdout redirected, or stdin from /dev/null, it exits instead of hanging", async () => {
		const session = `p2p-tui-notty-${process.pid}`;
		const out = (name: string) => path.join(root, name);
		const args = [process.execPath, CLI, ...(await net()), "--config-dir", out("cfg2")]
			.map((arg) => `'${arg}'`)
			.join(" ");
		// stdin is the tmux terminal in the first run, stdout in the second.
		const script = [
			`${args} > '${out("a.out")}' 2> '${out("a.err")}'; echo $? > '${out("a.code")}'`,
			`${args} < /dev/null 2> '${out("b.err")}'; echo $? > '${out("b.code")}'`,
			"sleep 60",
		].join("; ");
		tmux("new-session", "-d", "-s", session, "-x", "80", "-y", "24", script);
		try {
			await waitFor(() => fs.existsSync(out("b.code")), "both runs to exit", 15_000);
			const code = (name: string) => fs.readFileSync(out(name), "utf8").trim();
			assert.equal(code("a.code"), "2");
			assert.equal(fs.readFileSync(out("a.out"), "utf8"), "");
			assertRefusal(fs.readFileSync(out("a.err"), "utf8"), "stdout");
			assert.equal(code("b.code"), "2");
			assertRefusal(fs.readFileSync(out("b.err"), "utf8"), "stdin");
		} finally {
			tmux("kill-session", "-t", session);
		}
	});
});
