/**
 * A real LAN on one machine: three hosts in network namespaces joined by a bridge over
 * 1500-byte MTU veth links, each peer announcing to the LAN's directed broadcast address.
 * A leecher finds both seeders, lists their files and downloads one byte for byte in
 * 1,472-byte datagrams. Traffic stays inside the namespaces the test made.
 */
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import { after, before, describe, it } from "node:test";
import { fixturesDir, tempDir, waitFor } from "../helpers/net.js";
import { type LanHost, NetLab } from "../helpers/netns.js";
import { peerFolders, runCli, ServeProcess } from "../helpers/process.js";

describe("a LAN of namespaces (bridge, 1500-byte MTU)", () => {
	const lab = new NetLab("lan");
	const root = tempDir();
	const servers: ServeProcess[] = [];
	let hosts: LanHost[];
	const net = ["--broadcast", "10.77.1.255", "--interval", "300"];

	before(async () => {
		hosts = lab.lan("sw", ["a", "b", "c"]);
		for (const [i, name] of ["alice", "bob"].entries()) {
			const server = new ServeProcess([...net, ...peerFolders(root, name, fixturesDir())], {
				netns: hosts[i].ns,
			});
			servers.push(server);
			await waitFor(() => server.event("ready"), `${name} ready`);
		}
	});

	after(async () => {
		await Promise.all(servers.map((s) => s.stop()));
		lab.cleanup();
		fs.rmSync(root, { recursive: true, force: true });
	});

	it("finds both seeders by their LAN addresses and downloads from them", async () => {
		const peers = await runCli(
			["peers", ...net, ...peerFolders(root, "carol"), "--wait", "1500", "--json"],
			30_000,
			{ netns: hosts[2].ns },
		);
		assert.equal(peers.code, 0, peers.stderr);
		const listed = (JSON.parse(peers.stdout) as { name: string; address: string }[])
			.map((p) => `${p.name}@${p.address}`)
			.sort();
		assert.deepEqual(listed, [`alice@${hosts[0].address}`, `bob@${hosts[1].address}`]);

		const got = await runCli(
			["get", "random-3MiB.bin", ...net, ...peerFolders(root, "carol"), "--wait", "1500"],
			60_000,
			{ netns: hosts[2].ns },
		);
		assert.equal(got.code, 0, got.stderr);
		const file = path.join(root, "carol", "dl", "random-3MiB.bin");
		await waitFor(() => fs.existsSync(file), "downloaded file");
		const b3 = (f: string) => execFileSync("b3sum", ["--no-names", f], { encoding: "utf8" });
		assert.equal(b3(file), b3(path.join(fixturesDir(), "random-3MiB.bin")));
	});
});
