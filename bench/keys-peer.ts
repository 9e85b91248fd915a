/**
 * A peer that lists many files without having them: it announces on loopback and answers
 * list requests from the real send service (SendService) over a synthetic library of
 * `--listed` names (the key bench's names). Nothing can be downloaded from it. Used by
 * the key bench's tmux cross-check, so the real TUI lists 100,000 files without 100,000
 * files on disk. Prints `{"ready":true}` once it announces; stops on SIGTERM (leave sent).
 *
 * Usage: node dist/bench/keys-peer.js --listed N --seed N --discovery-port P --base B
 *   [--interval MS]. Every address is loopback: it binds 127.0.0.1 and broadcasts to
 *   127.255.255.255.
 */
import dgram from "node:dgram";
import { parseArgs } from "node:util";
import { Discovery } from "../source/discovery/discovery.js";
import type { SharedFile } from "../source/library/library.js";
import { fromHex } from "../source/protocol/hash.js";
import { Identity } from "../source/protocol/identity.js";
import { SendService, type ServedLibrary } from "../source/transfer/serve.js";
import { TokenIssuer } from "../source/transfer/tokens.js";
import { manyFiles } from "./names.js";

const { values: flags } = parseArgs({
	options: {
		listed: { type: "string", default: "100000" },
		seed: { type: "string", default: "1" },
		"discovery-port": { type: "string" },
		base: { type: "string" },
		interval: { type: "string", default: "1000" },
		name: { type: "string", default: "bench-100k" },
	},
});

const BROADCAST = "127.255.255.255";

async function main(): Promise<void> {
	const listed = Number(flags.listed);
	const base = Number(flags.base);
	const discoveryPort = Number(flags["discovery-port"]);
	const identity = Identity.generate(true);
	const files = manyFiles(listed, Number(flags.seed), [identity.id]);
	// Only what the send service reads of a shared file: id, name, size, content hash.
	const shared = files
		.map(
			(file) =>
				({
					id: file.id,
					idBytes: fromHex(file.id, 32),
					name: file.name,
					size: file.size,
					manifest: { contentHash: fromHex(file.contentHash, 32) },
				}) as unknown as SharedFile,
		)
		.sort((a, b) => (a.name < b.name ? -1 : 1));
	const byId = new Map(shared.map((file) => [file.id, file]));
	const library: ServedLibrary = {
		files: () => shared,
		get: (id: string) => byId.get(id),
		read: async () => null as never,
		revision: 1,
		directories: () => [],
	};

	const socket = dgram.createSocket("udp4");
	await new Promise<void>((resolve, reject) => {
		socket.once("error", reject);
		socket.bind(base + 1, "127.0.0.1", () => resolve());
	});
	const service = new SendService(library, new TokenIssuer(), (datagram, to) => {
		socket.send(Array.isArray(datagram) ? Buffer.concat(datagram) : datagram, to.port, to.address);
	});
	socket.on("message", (message, from) =>
		service.recv(message, { address: from.address, port: from.port }),
	);

	const discovery = await Discovery.start({
		identity,
		port: discoveryPort,
		broadcast: [BROADCAST],
		interval: Number(flags.interval),
		describe: () => ({
			name: flags.name ?? "bench-100k",
			basePort: base,
			revision: 1,
			fileCount: listed,
		}),
	});
	process.stdout.write(`${JSON.stringify({ ready: true, listed })}\n`);
	process.once("SIGTERM", () => {
		void discovery.close().finally(() => {
			socket.close();
			process.exit(0);
		});
	});
}

main().catch((error: Error) => {
	console.error(error.stack ?? error.message);
	process.exit(1);
});
