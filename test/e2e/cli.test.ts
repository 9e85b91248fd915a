import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import dgram from "node:dgram";
import fs from "node:fs";
import path from "node:path";
import { after, before, describe, it } from "node:test";
import {
	fixturesDir,
	freeBase,
	freePort,
	LOOPBACK_BROADCAST,
	listFiles,
	tempDir,
	waitFor,
} from "../helpers/net.js";
import { loopbackNet, peerFolders, runCli, ServeProcess } from "../helpers/process.js";

function b3sum(file: string): string {
	return execFileSync("b3sum", ["--no-names", file], { encoding: "utf8" }).trim();
}

describe("two serve processes and a get, as separate programs", () => {
	const root = tempDir();
	let discovery: number;
	let net: string[];
	const servers: ServeProcess[] = [];
	const fixtures = fixturesDir();
	const names = listFiles(fixtures);

	before(async () => {
		discovery = await freePort();
		net = loopbackNet(discovery);
		for (const name of ["alice", "bob"]) {
			const port = String(await freeBase());
			servers.push(
				new ServeProcess([...net, ...peerFolders(root, name, fixtures), "--port", port]),
			);
		}
		await waitFor(() => servers.every((s) => s.event("ready")), "both peers ready");
	});

	after(async () => {
		await Promise.all(servers.map((s) => s.stop()));
		fs.rmSync(root, { recursive: true, force: true });
	});

	const client = (name: string) => [...net, ...peerFolders(root, name)];

	it("peers --json lists both serving peers", async () => {
		const result = await runCli(["peers", ...client("looker"), "--wait", "1000", "--json"]);
		assert.equal(result.code, 0, result.stderr);
		const peers = JSON.parse(result.stdout) as {
			name: string;
			address: string;
			ports: Record<string, number>;
			files: number;
		}[];
		assert.deepEqual(peers.map((p) => p.name).sort(), ["alice", "bob"]);
		for (const p of peers) {
			assert.equal(p.address, "127.0.0.1");
			assert.equal(p.files, names.length);
			assert.equal(p.ports.send, p.ports.receive + 1);
		}
	});

	it("list --json shows every fixture once, with b3sum's content hash and two peers", async () => {
		const result = await runCli(["list", ...client("looker"), "--wait", "1000", "--json"]);
		assert.equal(result.code, 0, result.stderr);
		const files = JSON.parse(result.stdout) as {
			id: string;
			name: string;
			size: number;
			contentHash: string;
			peers: number;
		}[];
		assert.deepEqual(files.map((f) => f.name).sort(), names);
		for (const f of files) {
			assert.equal(f.peers, 2);
			assert.equal(f.size, fs.statSync(path.join(fixtures, f.name)).size);
			assert.equal(f.contentHash, b3sum(path.join(fixtures, f.name)), f.name);
			assert.match(f.id, /^[0-9a-f]{64}$/);
		}
	});

	it("get downloads every fixture, and b3sum of each equals the source's", async () => {
		for (const name of names) {
			const result = await runCli(["get", name, ...client("getter"), "--wait", "3000", "--json"]);
			assert.equal(result.code, 0, `${name}: ${result.stderr}`);
			const out = JSON.parse(result.stdout) as {
				id: string;
				name: string;
				path: string;
				size: number;
				contentHash: string;
			};
			assert.equal(out.name, name);
			assert.equal(out.path, path.join(root, "getter", "dl", ...name.split("/")));
			assert.equal(b3sum(out.path), b3sum(path.join(fixtures, name)));
			assert.equal(out.contentHash, b3sum(out.path));
			assert.ok(fs.readFileSync(out.path).equals(fs.readFileSync(path.join(fixtures, name))));
		}
		assert.deepEqual(listFiles(path.join(root, "getter", "dl")), names);
	});

	it("get by id prefix works; an unknown file exits 1 with one line", async () => {
		const listed = await runCli(["list", ...client("looker"), "--wait", "800", "--json"]);
		const hello = (JSON.parse(listed.stdout) as { id: string; name: string }[]).find(
			(f) => f.name === "hello.txt",
		);
		assert.ok(hello);
		const byId = await runCli(["get", hello.id.slice(0, 12), ...client("byid"), "--wait", "3000"]);
		assert.equal(byId.code, 0, byId.stderr);
		assert.ok(fs.existsSync(path.join(root, "byid", "dl", "hello.txt")));

		const missing = await runCli([
			"get",
			"no-such-file.txt",
			...client("missing"),
			"--wait",
			"500",
		]);
		assert.equal(missing.code, 1);
		assert.equal(missing.stderr.trim().split("\n").length, 1);
		assert.match(missing.stderr, /^p2p-tui: no peer shares "no-such-file.txt"/);
	});

	it("the serving peers report the getter's arrival and its goodbye", async () => {
		const alice = servers[0];
		await waitFor(
			() =>
				alice.events.some(
					(e) => e.event === "peer-left" && e.name === "getter" && e.reason === "bye",
				),
			"peer-left bye for the getter",
		);
		assert.ok(alice.events.some((e) => e.event === "peer-joined" && e.name === "getter"));
	});
});

describe("bad input: one line on stderr, exit 2, no stack trace", () => {
	const root = tempDir();
	after(() => fs.rmSync(root, { recursive: true, force: true }));
	// Loopback broadcast even where the command is expected to fail before sending.
	const base = (name: string) => ["--broadcast", LOOPBACK_BROADCAST, ...peerFolders(root, name)];

	const expectUsage = async (args: string[], pattern: RegExp) => {
		const result = await runCli(args);
		assert.equal(result.code, 2, `${args.join(" ")}: ${result.stderr}`);
		const lines = result.stderr.trim().split("\n");
		assert.equal(lines.length, 1, result.stderr);
		assert.match(lines[0], pattern);
		assert.doesNotMatch(result.stderr, /\n\s+at /);
	};

	it("unknown flag, bad number, bad address, unknown command, missing get target", async () => {
		await expectUsage(
			["list", "--frobnicate"],
			/^p2p-tui: unknown option '--frobnicate' \(see --help\)$/,
		);
		await expectUsage(
			["list", "--port", "70000"],
			/--port to be a whole number from 1 to 65532, got "70000"/,
		);
		await expectUsage(
			["list", "--broadcast", "not-an-ip"],
			/--broadcast to be an IPv4 or IPv6 address/,
		);
		await expectUsage(["fetch"], /unknown command "fetch"/);
		await expectUsage(["get"], /get takes one file id, name or folder/);
	});

	it("a transfer port in use names the port", async () => {
		const port = await freeBase();
		const squatter = dgram.createSocket("udp4");
		await new Promise<void>((resolve) => squatter.bind(port + 1, "0.0.0.0", resolve));
		try {
			await expectUsage(
				[
					"list",
					...base("p"),
					"--port",
					String(port),
					"--discovery-port",
					String(await freePort()),
				],
				new RegExp(`port ${port + 1} is in use`),
			);
		} finally {
			squatter.close();
		}
	});

	it("an unwritable downloads folder and an unreadable shared folder name the path", async () => {
		const file = path.join(root, "a-file");
		fs.writeFileSync(file, "x");
		const dp = String(await freePort());
		await expectUsage(
			["list", ...base("w"), "--downloads", path.join(file, "sub"), "--discovery-port", dp],
			/cannot write downloads folder .*a-file\/sub/,
		);
		await expectUsage(
			["list", ...base("r"), "--share", path.join(file, "sub"), "--discovery-port", dp],
			/cannot read shared folder .*a-file\/sub/,
		);
	});

	it("the TUI outside a terminal says so instead of hanging", async () => {
		await expectUsage(
			[...base("t"), "--discovery-port", String(await freePort())],
			/needs a terminal/,
		);
	});
});
