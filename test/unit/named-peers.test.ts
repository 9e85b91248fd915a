/**
 * Peers named by address and peer exchange (docs/protocol.md §15): `--peer` parsing, the
 * stored named peers, the hello and pex codecs, the backoff schedule, which addresses peer
 * exchange may hand out, and real peers on loopback (distinct discovery ports, so no
 * broadcast joins them: only the unicast hellos and peer exchange do).
 */
import assert from "node:assert/strict";
import dgram from "node:dgram";
import fs from "node:fs";
import path from "node:path";
import { after, describe, it } from "node:test";
import { parseCommandLine } from "../../source/cli/args.js";
import {
	config,
	followSettings,
	keepLimits,
	type Output,
	peerCommand,
} from "../../source/cli/commands.js";
import { loadSettings, storedSettings } from "../../source/cli/settings.js";
import {
	Contacts,
	EXCHANGE_TRIES,
	GIVEN_UP_MS,
	retryDelay,
} from "../../source/discovery/contacts.js";
import { Discovery } from "../../source/discovery/discovery.js";
import { formatPeerAddress, parsePeerAddress } from "../../source/discovery/peer-address.js";
import { ExchangeLimiter, exchangeable, exchangeEntries } from "../../source/discovery/pex.js";
import { UsageError } from "../../source/errors.js";
import { Peer } from "../../source/peer/peer.js";
import type { PeerRecord } from "../../source/peer/types.js";
import { Identity } from "../../source/protocol/identity.js";
import {
	decodeMessage,
	encodeMessage,
	HELLO_SIZE,
	MAX_PEX_ENTRIES,
} from "../../source/protocol/messages.js";
import { NetworkGuard } from "../../source/protocol/seal.js";
import { freePort, LOOPBACK_BROADCAST, tempDir, waitFor } from "../helpers/net.js";

const usage = (fn: () => unknown, pattern: RegExp) =>
	assert.throws(
		fn,
		(error) => error instanceof UsageError && error.exitCode === 2 && pattern.test(error.message),
	);

describe("--peer HOST[:PORT]", () => {
	it("parses IPv4, [IPv6]:port, bare IPv6, zones and host names, with the default port", () => {
		assert.deepEqual(parsePeerAddress("192.168.1.20", 45454), {
			host: "192.168.1.20",
			port: 45454,
		});
		assert.deepEqual(parsePeerAddress("10.0.0.2:45455", 1), { host: "10.0.0.2", port: 45455 });
		assert.deepEqual(parsePeerAddress("[::1]:45454", 1), { host: "::1", port: 45454 });
		assert.deepEqual(parsePeerAddress("[FD00::2]", 46000), { host: "fd00::2", port: 46000 });
		assert.deepEqual(parsePeerAddress("fd00::2", 46000), { host: "fd00::2", port: 46000 });
		assert.deepEqual(parsePeerAddress("[fe80::1%eth0]:45460", 1), {
			host: "fe80::1%eth0",
			port: 45460,
		});
		assert.deepEqual(parsePeerAddress("nas.local:45455", 1), { host: "nas.local", port: 45455 });
		assert.deepEqual(parsePeerAddress("localhost", 7), { host: "localhost", port: 7 });
		assert.equal(formatPeerAddress({ host: "fd00::2", port: 1 }), "[fd00::2]:1");
		assert.equal(formatPeerAddress({ host: "nas", port: 2 }), "nas:2");
	});

	it("refuses bad input with one line (exit 2)", () => {
		for (const bad of [
			"",
			"1.2.3.4:0",
			"1.2.3.4:70000",
			"1.2.3.4:",
			"1.2.3.4:x",
			"[::1",
			"[::1]x",
			"[nothost]:1",
			"bad_host!",
			"999.1.1.1",
			"224.0.0.1",
			"0.0.0.0",
			"255.255.255.255",
			"[ff02::1]:45454",
			"[::]:45454",
			"a:b:c",
		]) {
			usage(() => parsePeerAddress(bad, 45454), /expected a peer as HOST\[:PORT\]/);
		}
	});

	it("is taken, repeatable, by every command that starts a peer, and refused by the others", () => {
		for (const command of [[], ["serve"], ["peers"], ["list"], ["search", "x"], ["get", "x"]]) {
			const parsed = parseCommandLine([...command, "--peer", "10.0.0.2", "--peer", "[::1]:5"]);
			assert.ok(parsed.kind === "run");
			assert.deepEqual(parsed.flags.peer, ["10.0.0.2", "[::1]:5"]);
		}
		usage(() => parseCommandLine(["list", "--peer", "10.0.0.2:99999"]), /port out of/);
		usage(() => parseCommandLine(["config", "--peer", "10.0.0.2"]), /does not go with config/);
		usage(() => parseCommandLine(["add-peer"]), /add-peer takes one peer/);
		usage(() => parseCommandLine(["add-peer", "x y"]), /HOST\[:PORT\]/);
		usage(() => parseCommandLine(["remove-peer", "a", "b"]), /remove-peer takes one peer/);
		usage(() => parseCommandLine(["add-peer", "1.2.3.4", "--name", "x"]), /does not go with/);
	});
});

describe("add-peer, remove-peer and config", () => {
	const root = tempDir();
	after(() => fs.rmSync(root, { recursive: true, force: true }));
	const capture = () => {
		const lines: string[] = [];
		const io: Output = { out: (l) => lines.push(l), err: (l) => lines.push(l) };
		return { lines, io };
	};

	it("stores peers in canonical form, once, forgets them, and config shows them", () => {
		const dir = path.join(root, "peers");
		const { lines, io } = capture();
		peerCommand("10.0.0.2", false, dir, io);
		peerCommand("10.0.0.2:45454", false, dir, io);
		peerCommand("[FD00::2]:46000", false, dir, io);
		assert.match(lines[0], /^named peer 10\.0\.0\.2:45454 \(saved in /);
		assert.match(lines[1], /is named already/);
		assert.deepEqual(storedSettings(dir).peers, ["10.0.0.2:45454", "[fd00::2]:46000"]);
		const shown = capture();
		config(dir, false, shown.io);
		assert.ok(
			shown.lines.some((l) => /^named peers\s+10\.0\.0\.2:45454, \[fd00::2\]:46000$/.test(l)),
		);
		const json = capture();
		config(dir, true, json.io);
		assert.deepEqual(JSON.parse(json.lines.join("\n")).settings.peers, [
			"10.0.0.2:45454",
			"[fd00::2]:46000",
		]);
		// --peer adds to the stored ones for one run.
		const parsed = parseCommandLine(["list", "--config-dir", dir, "--peer", "nas:1"]);
		assert.ok(parsed.kind === "run");
		assert.deepEqual(loadSettings(parsed.flags).peers, [
			"10.0.0.2:45454",
			"[fd00::2]:46000",
			"nas:1",
		]);
		peerCommand("10.0.0.2", true, dir, io);
		assert.match(lines.at(-1) ?? "", /^forgot peer 10\.0\.0\.2:45454/);
		peerCommand("10.0.0.2", true, dir, io);
		assert.match(lines.at(-1) ?? "", /was not a named peer/);
		assert.deepEqual(storedSettings(dir).peers, ["[fd00::2]:46000"]);
		usage(() => peerCommand("bad host", false, dir, io), /HOST\[:PORT\]/);
	});
});

describe("a running peer and the stored named peers", () => {
	const root = tempDir();
	after(() => fs.rmSync(root, { recursive: true, force: true }));

	it("follows add-peer from another terminal, and stores a peer named in the TUI", async (t) => {
		const dir = path.join(root, "cfg");
		const parsed = parseCommandLine(["serve", "--config-dir", dir]);
		assert.ok(parsed.kind === "run");
		const peer = await Peer.start({
			name: "runner",
			shareDir: path.join(root, "share"),
			downloadsDir: path.join(root, "dl"),
			discoveryPort: await freePort(),
			broadcast: [LOOPBACK_BROADCAST],
			interval: 200,
			bindAddress: "127.0.0.1",
		});
		t.after(() => peer.stop());
		const unfollow = followSettings(peer, parsed.flags, () => {});
		const unkeep = keepLimits(peer, dir, () => {});
		t.after(() => {
			unfollow();
			unkeep();
		});
		const quiet: Output = { out: () => {}, err: () => {} };
		peerCommand("127.0.0.1:9", false, dir, quiet);
		await waitFor(() => peer.namedPeers().includes("127.0.0.1:9"), "the running peer follows");
		// The TUI's `a`: the core names it, the settings keep it.
		assert.equal(peer.addPeer("127.0.0.2:7"), "127.0.0.2:7");
		assert.deepEqual(storedSettings(dir).peers, ["127.0.0.1:9", "127.0.0.2:7"]);
		assert.throws(() => peer.addPeer("224.0.0.1"), UsageError);
		peerCommand("127.0.0.1:9", true, dir, quiet);
		await waitFor(
			() => peer.namedPeers().join() === "127.0.0.2:7",
			"the running peer drops a removed peer",
		);
	});
});

describe("hello (0x06) and pex (0x05) codecs", () => {
	const identity = Identity.generate(true);
	const fields = { basePort: 45460, revision: 3, fileCount: 2, interval: 2000 };
	const announce = identity.announce({ ...fields, name: "ab" });
	const hello = { type: "hello" as const, via: "exchange" as const, announce };

	it("wraps a whole signed announce, says how it knows the receiver, pads past the longest", () => {
		const bytes = encodeMessage(hello);
		assert.equal(bytes.length, HELLO_SIZE);
		assert.equal(HELLO_SIZE, 208);
		assert.deepEqual([...bytes.subarray(0, 5)], [0x50, 0x32, 1, 0x06, 1]);
		assert.ok(bytes.subarray(5, 5 + announce.length).equals(announce), "the announce, whole");
		assert.deepEqual(decodeMessage(bytes), hello);
		assert.equal(encodeMessage({ ...hello, via: "named" })[4], 0);
		const longest = identity.announce({ ...fields, name: "n".repeat(64) });
		assert.equal(longest.length, 203);
		assert.ok(longest.length < bytes.length, "no announce answer is larger than a hello");
		const dirty = Buffer.from(bytes);
		dirty[HELLO_SIZE - 1] = 1;
		assert.equal(decodeMessage(dirty), null, "padding must be zeros");
		const via = Buffer.from(bytes);
		via[4] = 2;
		assert.equal(decodeMessage(via), null, "an unknown via");
		const inner = Buffer.from(bytes);
		inner[6] ^= 0xff;
		assert.equal(decodeMessage(inner), null, "no valid announce inside");
		assert.equal(decodeMessage(bytes.subarray(0, HELLO_SIZE - 1)), null, "short");
		assert.equal(decodeMessage(Buffer.concat([bytes, Buffer.alloc(1)])), null, "long");
		assert.throws(() => encodeMessage({ ...hello, announce: Buffer.alloc(10) }), RangeError);
	});

	it("encodes pex entries byte for byte, IPv4 and IPv6, and round-trips them", () => {
		const bytes = encodeMessage({
			type: "pex",
			entries: [
				{ address: "10.0.2.3", port: 45454 },
				{ address: "fd00::2", port: 1 },
			],
		});
		assert.equal(
			bytes.toString("hex"),
			`50320105` +
				`02` +
				`04` +
				`0a000203` +
				`b18e` +
				`06` +
				`fd000000000000000000000000000002` +
				`0001`,
		);
		assert.deepEqual(decodeMessage(bytes), {
			type: "pex",
			entries: [
				{ address: "10.0.2.3", port: 45454 },
				{ address: "fd00::2", port: 1 },
			],
		});
	});

	it("bounds pex: at most 32 entries, known families, no port 0, nothing trailing", () => {
		const entries = Array.from({ length: MAX_PEX_ENTRIES }, (_, i) => ({
			address: `2001:db8::${i + 1}`,
			port: 40000 + i,
		}));
		const full = encodeMessage({ type: "pex", entries });
		assert.ok(full.length <= 1200, `one small datagram (${full.length} bytes)`);
		assert.deepEqual(decodeMessage(full), { type: "pex", entries });
		assert.throws(() =>
			encodeMessage({ type: "pex", entries: [...entries, { address: "10.0.0.1", port: 1 }] }),
		);
		assert.throws(() => encodeMessage({ type: "pex", entries: [{ address: "nas", port: 1 }] }));
		const one = encodeMessage({ type: "pex", entries: [{ address: "10.0.0.1", port: 5 }] });
		const count33 = Buffer.from(one);
		count33[4] = 33;
		assert.equal(decodeMessage(count33), null, "a count over 32");
		const family = Buffer.from(one);
		family[5] = 5;
		assert.equal(decodeMessage(family), null, "an unknown family");
		const port0 = Buffer.from(one);
		port0.writeUInt16BE(0, 10);
		assert.equal(decodeMessage(port0), null, "port 0");
		assert.equal(decodeMessage(Buffer.concat([one, Buffer.alloc(1)])), null, "trailing byte");
		assert.equal(decodeMessage(one.subarray(0, one.length - 1)), null, "truncated");
	});
});

describe("backoff of contacts that do not answer", () => {
	it("doubles from 1 s to 60 s (or the interval when longer)", () => {
		assert.deepEqual(
			Array.from({ length: 8 }, (_, i) => retryDelay(i, 2_000)),
			[1_000, 2_000, 4_000, 8_000, 16_000, 32_000, 60_000, 60_000],
		);
		assert.equal(retryDelay(40, 120_000), 120_000);
	});

	it("says hello on that schedule while unanswered, every interval once answered", () => {
		const contacts = new Contacts(2_000);
		contacts.addNamed("10.0.0.2", 45454, 0);
		const [c] = contacts.list();
		c.addresses = ["10.0.0.2"];
		let answering = false;
		const sentAt: number[] = [];
		for (let now = 0; now <= 130_000; now += 100) {
			if (contacts.due(now, () => answering).length > 0) sentAt.push(now);
			if (now === 70_000) answering = true;
		}
		// 0, 1, 3, 7, 15, 31, 63 s unanswered (7 hellos in 63 s), then every 2 s.
		assert.deepEqual(sentAt.slice(0, 7), [0, 1_000, 3_000, 7_000, 15_000, 31_000, 63_000]);
		assert.equal(sentAt[7], 123_000, "the next unanswered wait (60 s) ends before it answers");
		assert.deepEqual(sentAt.slice(8), [125_000, 127_000, 129_000]);
	});

	it("moves a contact that answers to the interval at once", () => {
		const contacts = new Contacts(2_000);
		contacts.addNamed("10.0.0.2", 45454, 0);
		const [c] = contacts.list();
		contacts.due(0, () => false);
		contacts.due(1_000, () => false);
		assert.equal(c.nextAt, 3_000, "waiting out 2 s of backoff");
		assert.ok(contacts.answered(c, 1_100));
		assert.equal(c.nextAt, 3_000, "never later than it was");
		assert.equal(c.attempts, 0);
		contacts.due(3_000, () => false);
		contacts.due(4_000, () => false);
		contacts.due(6_000, () => false);
		assert.equal(c.nextAt, 10_000);
		assert.ok(contacts.answered(c, 6_500));
		assert.equal(c.nextAt, 8_500, "one interval after the answer");
		assert.equal(contacts.answered(c, 6_600), false, "nothing to move");
	});

	it("gives up an exchange contact after its tries, and does not take it again for a while", () => {
		const contacts = new Contacts(2_000);
		assert.ok(contacts.addExchange("10.0.2.3", 45454, "10.0.2.2", 0, 32));
		assert.equal(contacts.addExchange("10.0.2.3", 45454, "10.0.2.2", 0, 32), false, "known");
		let hellos = 0;
		for (let now = 0; now < 200_000; now += 100) hellos += contacts.due(now, () => false).length;
		assert.equal(hellos, EXCHANGE_TRIES);
		assert.equal(contacts.list().length, 0);
		assert.equal(contacts.gaveUp, 1);
		assert.equal(contacts.addExchange("10.0.2.3", 45454, "10.0.2.9", 200_000, 32), false);
		assert.ok(contacts.addExchange("10.0.2.3", 45454, "10.0.2.9", 63_000 + GIVEN_UP_MS + 1, 32));
	});

	it("bounds what one sender can make us contact", () => {
		const contacts = new Contacts(2_000);
		let added = 0;
		for (let i = 0; i < 100; i++)
			if (contacts.addExchange(`10.1.0.${i + 1}`, 45454, "10.0.0.66", 0, MAX_PEX_ENTRIES)) added++;
		assert.equal(added, MAX_PEX_ENTRIES);
	});
});

describe("peer exchange: what is handed out", () => {
	const peer = (id: string, address: string, discoveryPort?: number): PeerRecord => ({
		id,
		name: id,
		address,
		ports: { receive: 1, send: 2, distribute: 3, distributee: 4 },
		files: 0,
		revision: 0,
		lastSeen: 0,
		interval: 2000,
		discoveryPort,
		addresses: [address],
		found: "lan",
	});

	it("never hands out an address that has not proved it receives, nor the recipient's own", () => {
		const recipient = peer("a", "10.0.1.2", 45454);
		const peers = [
			recipient,
			peer("b", "10.0.2.2", 45454),
			peer("c", "10.0.2.3", 45454),
			peer("d", "10.0.2.4"), // no discovery port heard
			peer("e", "224.0.0.5", 45454),
		];
		const proved = new Set(["10.0.2.2", "10.0.1.2", "10.0.2.4", "224.0.0.5"]);
		assert.deepEqual(
			exchangeEntries(recipient, peers, (a) => proved.has(a)),
			[{ address: "10.0.2.2", port: 45454 }],
		);
		assert.deepEqual(
			exchangeEntries(recipient, peers, () => false),
			[],
		);
	});

	it("hands loopback addresses to loopback recipients only, and at most 32 in turns", () => {
		const local = peer("x", "127.0.0.1", 50000);
		const remote = peer("y", "10.0.0.9", 45454);
		const peers = [local, remote, peer("z", "127.0.0.1", 50001)];
		assert.deepEqual(
			exchangeEntries(remote, peers, () => true),
			[],
		);
		assert.deepEqual(
			exchangeEntries(local, peers, () => true),
			[
				{ address: "10.0.0.9", port: 45454 },
				{ address: "127.0.0.1", port: 50001 },
			],
		);
		const many = Array.from({ length: 40 }, (_, i) => peer(`p${i}`, `10.9.0.${i + 1}`, 45454));
		const first = exchangeEntries(remote, many, () => true, 0);
		const second = exchangeEntries(remote, many, () => true, 32);
		assert.equal(first.length, 32);
		assert.equal(second[0].address, "10.9.0.33");
		assert.equal(new Set([...first, ...second].map((e) => e.address)).size, 40);
	});

	it("believes unicast addresses only", () => {
		for (const ok of ["10.0.2.3", "192.168.1.1", "2001:db8::1", "fd00::2"])
			assert.ok(exchangeable(ok, false), ok);
		for (const bad of [
			"0.0.0.0",
			"0.1.2.3",
			"255.255.255.255",
			"240.0.0.1",
			"224.0.0.1",
			"239.255.255.250",
			"::",
			"ff02::1",
			"fe80::1",
			"::ffff:10.0.0.1",
			"127.0.0.1",
			"::1",
			"nas.local",
		])
			assert.equal(exchangeable(bad, false), false, bad);
		assert.ok(exchangeable("127.0.0.1", true));
	});

	it("sends at most one message per interval per peer, again only when changed, early or stale", () => {
		const limiter = new ExchangeLimiter(1_000);
		const e1 = [{ address: "10.0.0.1", port: 1 }];
		const e2 = [...e1, { address: "10.0.0.2", port: 1 }];
		assert.ok(limiter.shouldSend("p", e1, 0));
		assert.equal(limiter.shouldSend("p", e2, 500), false, "within an interval");
		assert.ok(limiter.shouldSend("p", e2, 1_000), "changed");
		assert.ok(limiter.shouldSend("p", e2, 2_000), "unchanged, but the third message");
		assert.equal(limiter.shouldSend("p", e2, 3_000), false, "unchanged");
		assert.equal(limiter.shouldSend("p", e2, 16_999), false, "unchanged");
		assert.ok(limiter.shouldSend("p", e2, 17_000), "refreshed after 15 intervals");
		limiter.forget("p");
		assert.ok(limiter.shouldSend("p", e2, 17_001), "a forgotten recipient is new again");
	});
});

describe("named peers on loopback (distinct discovery ports)", () => {
	const open: { close(): Promise<void> }[] = [];
	const dirs: string[] = [];
	after(async () => {
		await Promise.all(open.map((d) => d.close()));
		for (const d of dirs) fs.rmSync(d, { recursive: true, force: true });
	});

	const discovery = async (
		port: number,
		name: string,
		named: { host: string; port: number }[],
		key?: string,
	) => {
		const d = await Discovery.start({
			identity: Identity.generate(true),
			port,
			broadcast: [LOOPBACK_BROADCAST],
			interval: 200,
			named,
			seal: new NetworkGuard(key),
			describe: () => ({ name, basePort: 30000, revision: 1, fileCount: 0 }),
		});
		open.push(d);
		return d;
	};

	it("a named peer gets unicast hellos and answers; each sees the other, marked named", async () => {
		const portA = await freePort();
		const portB = await freePort();
		const b = await discovery(portB, "bob", []);
		const a = await discovery(portA, "alice", [{ host: "127.0.0.1", port: portB }]);
		const bob = await waitFor(() => a.peers().find((p) => p.name === "bob"), "alice hears bob");
		assert.equal(bob.found, "named");
		assert.equal(bob.discoveryPort, portB);
		const alice = await waitFor(() => b.peers().find((p) => p.name === "alice"), "bob hears alice");
		assert.equal(alice.found, "named", "it named us: it reached us by hello");
		assert.ok(b.contactStats.answers >= 1);
		assert.equal(b.contacts.list().length, 0, "bob did not name alice");
		// Once bob answers, alice says hello every interval: he never expires in between.
		const left: string[] = [];
		a.on("peer-left", (p) => left.push(p.name));
		await new Promise((resolve) => setTimeout(resolve, 1_500));
		assert.deepEqual(left, []);
		assert.ok(a.contactStats.hellos >= 6, `a hello per interval (${a.contactStats.hellos})`);
	});

	it("with a network key, hellos are sealed: a member answers, a stranger does not", async () => {
		const [portA, portB, portC] = [await freePort(), await freePort(), await freePort()];
		const b = await discovery(portB, "bob", [], "our key");
		const c = await discovery(portC, "carol", [], "another key");
		const a = await discovery(
			portA,
			"alice",
			[
				{ host: "127.0.0.1", port: portB },
				{ host: "127.0.0.1", port: portC },
			],
			"our key",
		);
		await waitFor(() => a.peers().some((p) => p.name === "bob"), "alice hears bob");
		await waitFor(() => a.contactStats.hellos >= 4, "alice keeps saying hello to both");
		assert.deepEqual(
			a.peers().map((p) => p.name),
			["bob"],
		);
		assert.deepEqual(c.peers(), [], "carol opens no hello of another network");
		assert.equal(c.contactStats.answers, 0);
		assert.deepEqual(
			b.peers().map((p) => p.name),
			["alice"],
		);
	});

	it("resolves a host name (every family) and says hello to its addresses", async () => {
		const portB = await freePort();
		const b = await discovery(portB, "bob", []);
		const a = await discovery(await freePort(), "alice", [{ host: "localhost", port: portB }]);
		const bob = await waitFor(() => a.peers().find((p) => p.name === "bob"), "alice hears bob");
		assert.equal(bob.found, "named");
		assert.ok(a.contacts.list()[0].addresses.includes("127.0.0.1"));
		await waitFor(() => b.peers().some((p) => p.name === "alice"), "bob hears alice");
	});

	it("takes pex only from a proved, known peer; hands out only proved peers", async () => {
		let proved = false;
		const port = await freePort();
		const a = await Discovery.start({
			identity: Identity.generate(true),
			port,
			broadcast: [LOOPBACK_BROADCAST],
			interval: 100,
			guard: { admit: () => true, bad: () => {}, proved: () => proved },
			describe: () => ({ name: "alice", basePort: 30000, revision: 1, fileCount: 0 }),
		});
		open.push(a);
		// Two raw peers: each announces to alice by unicast, and records what alice sends it.
		const raw = async (name: string) => {
			const socket = dgram.createSocket("udp4");
			await new Promise<void>((resolve) => socket.bind(0, "127.0.0.1", resolve));
			const got: Buffer[] = [];
			socket.on("message", (m) => got.push(m));
			open.push({ close: () => new Promise<void>((resolve) => socket.close(() => resolve())) });
			const announce = Identity.generate(true).announce({
				basePort: 30004,
				revision: 1,
				fileCount: 0,
				interval: 60_000,
				name,
			});
			const send = (m: Buffer) =>
				new Promise<void>((resolve) => socket.send(m, port, "127.0.0.1", () => resolve()));
			await send(announce);
			return { socket, got, send, port: socket.address().port };
		};
		const s1 = await raw("s1");
		const s2 = await raw("s2");
		await waitFor(() => a.peers().length === 2, "alice knows both");
		const pexTo = (r: { got: Buffer[] }) =>
			r.got.map((m) => decodeMessage(m)).filter((m) => m?.type === "pex");
		await new Promise((resolve) => setTimeout(resolve, 350));
		assert.deepEqual(pexTo(s1), [], "nothing handed out while no address is proved");
		const target = dgram.createSocket("udp4");
		await new Promise<void>((resolve) => target.bind(0, "127.0.0.1", resolve));
		const hellos: Buffer[] = [];
		target.on("message", (m) => hellos.push(m));
		open.push({ close: () => new Promise<void>((resolve) => target.close(() => resolve())) });
		const pex = encodeMessage({
			type: "pex",
			entries: [
				{ address: "127.0.0.1", port: target.address().port },
				{ address: "224.0.0.1", port: 45454 },
				{ address: "0.0.0.0", port: 45454 },
			],
		});
		await s1.send(pex);
		await waitFor(() => a.contactStats.pexIgnored === 1, "pex of an unproved sender ignored");
		assert.equal(a.contacts.list().length, 0);
		proved = true;
		await s1.send(pex);
		await waitFor(() => a.contactStats.pexTaken === 1, "pex of a proved sender taken");
		assert.deepEqual(
			a.contacts.list().map((c) => `${c.kind} ${c.host}:${c.port}`),
			[`exchange 127.0.0.1:${target.address().port}`],
			"only the believable entry",
		);
		await waitFor(() => hellos.length > 0, "alice says hello to the exchanged address");
		assert.equal(decodeMessage(hellos[0])?.type, "hello");
		const sent = await waitFor(() => pexTo(s1)[0], "alice hands s1 the proved s2");
		assert.deepEqual(sent, { type: "pex", entries: [{ address: "127.0.0.1", port: s2.port }] });
	});

	it("retries a named peer that never answers with backoff, not a flood", async () => {
		const silent = dgram.createSocket("udp4");
		await new Promise<void>((resolve) => silent.bind(0, "127.0.0.1", resolve));
		const arrivals: { at: number; size: number }[] = [];
		silent.on("message", (m) => arrivals.push({ at: Date.now(), size: m.length }));
		open.push({ close: () => new Promise<void>((resolve) => silent.close(() => resolve())) });
		await discovery(await freePort(), "alice", [
			{ host: "127.0.0.1", port: silent.address().port },
		]);
		await waitFor(() => arrivals.length >= 3, "three hellos", 6_000);
		const gaps = arrivals.slice(1, 3).map((x, i) => x.at - arrivals[i].at);
		assert.ok(gaps[0] >= 900 && gaps[0] < 1_500, `first retry after ~1 s (${gaps[0]} ms)`);
		assert.ok(gaps[1] >= 1_900 && gaps[1] < 2_600, `second after ~2 s (${gaps[1]} ms)`);
		assert.ok(
			arrivals.every((x) => x.size === 208),
			"each a 208-byte hello",
		);
		await new Promise((resolve) => setTimeout(resolve, 300));
		assert.equal(arrivals.length, 3, "nothing more within the next wait of 4 s");
	});

	it("peer exchange: naming one peer finds its neighbour, whose files are listed", async () => {
		const start = async (name: string, port: number, named: number[], file?: string) => {
			const share = tempDir();
			const downloads = tempDir();
			dirs.push(share, downloads);
			if (file) fs.writeFileSync(path.join(share, file), `${name} shares this\n`);
			const p = await Peer.start({
				name,
				shareDir: share,
				downloadsDir: downloads,
				discoveryPort: port,
				broadcast: [LOOPBACK_BROADCAST],
				interval: 200,
				bindAddress: "127.0.0.1",
				peers: named.map((n) => ({ host: "127.0.0.1", port: n })),
			});
			open.push({ close: () => p.stop() });
			await p.indexed();
			return p;
		};
		const [portA, portB, portC] = [await freePort(), await freePort(), await freePort()];
		const b = await start("bob", portB, []);
		// Carol is bob's neighbour: she names him (on a LAN, his broadcast would do).
		const c = await start("carol", portC, [portB], "carol.txt");
		await waitFor(() => b.peers().some((p) => p.name === "carol"), "bob knows carol");
		const a = await start("alice", portA, [portB]);
		const carol = await waitFor(
			() => a.peers().find((p) => p.name === "carol"),
			"alice finds carol by exchange",
		);
		assert.equal(carol.found, "exchange");
		assert.equal(a.peers().find((p) => p.name === "bob")?.found, "named");
		await waitFor(() => a.files().some((f) => f.name === "carol.txt"), "alice lists carol's file");
		assert.ok(a.contactStats().pexTaken >= 1);
		// Bob told carol of alice too: both ends of the link say how it was made.
		const alice = await waitFor(
			() => c.peers().find((p) => p.name === "alice"),
			"carol knows alice",
		);
		assert.equal(alice.found, "exchange");
	});
});
