/**
 * Installable: the project packed from a clean checkout (what git holds at HEAD, nothing
 * built) is a package whose `prepare` builds `dist/`, holding only what the program needs;
 * `npm install -g` of that tarball into a temporary prefix gives a working `p2p-tui` on
 * its PATH. No network beyond the npm registry: the checkout borrows this repository's
 * installed `node_modules` to build, and the install prefers npm's cache.
 */
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import { after, describe, it } from "node:test";
import { fileURLToPath } from "node:url";
import { tempDir } from "../helpers/net.js";

/** The repository this test was built from (dist/test/e2e is three below it). */
const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..", "..", "..");

/** Runs a command to its end; its output when it fails. */
function run(command: string, args: string[], cwd: string, env: NodeJS.ProcessEnv = {}): string {
	try {
		return execFileSync(command, args, {
			cwd,
			encoding: "utf8",
			env: { ...process.env, ...env },
			maxBuffer: 64 * 1024 * 1024,
			stdio: ["ignore", "pipe", "pipe"],
		});
	} catch (error) {
		const e = error as { stdout?: string; stderr?: string; message: string };
		throw new Error(`${command} ${args.join(" ")} failed: ${e.message}\n${e.stdout}\n${e.stderr}`);
	}
}

describe("npm pack and npm install -g", { timeout: 600_000 }, () => {
	const root = tempDir("p2p-tui-pack-");
	after(() => fs.rmSync(root, { recursive: true, force: true }));

	it("packs a clean checkout (built on prepare) and installs a working p2p-tui", () => {
		const checkout = path.join(root, "checkout");
		fs.mkdirSync(checkout);
		// What git holds: no dist/, no node_modules, nothing left over from a build here.
		const archive = path.join(root, "head.tar");
		run("git", ["archive", "--format=tar", "-o", archive, "HEAD"], REPO);
		run("tar", ["-xf", archive, "-C", checkout], root);
		assert.ok(!fs.existsSync(path.join(checkout, "dist")), "nothing built in the checkout");
		fs.symlinkSync(path.join(REPO, "node_modules"), path.join(checkout, "node_modules"));

		const packed = JSON.parse(
			run("npm", ["pack", "--json", "--pack-destination", root], checkout, { CI: "true" }),
		) as { filename: string; files: { path: string }[] }[];
		const files = packed[0].files.map((f) => f.path);
		for (const needed of [
			"package.json",
			"README.md",
			"dist/cli.js",
			"dist/source/peer/peer.js",
			"dist/source/transfer/hash-worker.js",
			"fixtures/hello.txt",
		])
			assert.ok(files.includes(needed), `${needed} packed`);
		for (const file of files)
			assert.match(
				file,
				/^(package\.json|README\.md|LICENSE|dist\/cli\.|dist\/source\/|fixtures\/)/,
				file,
			);
		assert.ok(
			!files.some((f) => f.startsWith("dist/test/") || (f.endsWith(".ts") && !f.endsWith(".d.ts"))),
		);

		const prefix = path.join(root, "prefix");
		run(
			"npm",
			[
				"install",
				"-g",
				"--prefix",
				prefix,
				"--prefer-offline",
				"--no-audit",
				"--no-fund",
				path.join(root, packed[0].filename),
			],
			root,
		);
		const bin = path.join(prefix, "bin", "p2p-tui");
		const help = run(bin, ["--help"], root, {
			PATH: `${path.join(prefix, "bin")}:${process.env.PATH}`,
		});
		assert.match(help, /^Usage:\n {2}p2p-tui \[options\]/);
		const version = run(bin, ["--version"], root).trim();
		const pkg = JSON.parse(fs.readFileSync(path.join(REPO, "package.json"), "utf8")) as {
			version: string;
		};
		assert.equal(version, pkg.version);
		// A command that loads the whole program: a manifest of a fixture it ships.
		const shipped = path.join(prefix, "lib", "node_modules", "p2p-tui", "fixtures", "hello.txt");
		const manifest = JSON.parse(
			run(bin, ["manifest", shipped, "-o", path.join(root, "hello.p2p"), "--json"], root),
		) as { name: string; size: number };
		assert.equal(manifest.name, "hello.txt");
		assert.equal(manifest.size, fs.statSync(shipped).size);
	});
});
