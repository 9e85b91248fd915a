/**
 * The bench's baseline: a plain TCP copy of a file between two Node processes on
 * loopback (127.0.0.1 only).
 *
 *   node dist/bench/tcp-copy.js server FILE       prints {"event":"ready","port":N}, streams
 *                                                 FILE to the first client, then exits
 *   node dist/bench/tcp-copy.js client PORT OUT   writes what 127.0.0.1:PORT sends to OUT,
 *                                                 then prints {"bytes","seconds","maxRss"}
 *
 * `seconds` is from connecting to the last byte on disk; `maxRss` is this process's peak
 * resident set size in bytes.
 */
import fs from "node:fs";
import net from "node:net";
import { pipeline } from "node:stream/promises";

const LOOPBACK = "127.0.0.1";

/** Serves `file` to one client, then closes. */
async function server(file: string): Promise<void> {
	const srv = net.createServer((socket) => {
		srv.close();
		pipeline(fs.createReadStream(file), socket).catch((error: Error) => {
			console.error(`tcp-copy server: ${error.message}`);
			process.exitCode = 1;
		});
	});
	await new Promise<void>((resolve) => srv.listen(0, LOOPBACK, resolve));
	const address = srv.address();
	if (!address || typeof address === "string") throw new Error("no TCP port");
	console.log(JSON.stringify({ event: "ready", port: address.port }));
}

/** Copies what the server sends into `out`. */
async function client(port: number, out: string): Promise<void> {
	const started = process.hrtime.bigint();
	const socket = net.connect(port, LOOPBACK);
	await pipeline(socket, fs.createWriteStream(out));
	const seconds = Number(process.hrtime.bigint() - started) / 1e9;
	const bytes = fs.statSync(out).size;
	const maxRss = process.resourceUsage().maxRSS * 1024;
	console.log(JSON.stringify({ bytes, seconds, maxRss }));
}

const [mode, a, b] = process.argv.slice(2);
const run =
	mode === "server" && a
		? server(a)
		: mode === "client" && a && b
			? client(Number(a), b)
			: Promise.reject(new Error("usage: tcp-copy server FILE | client PORT OUT"));
run.catch((error: Error) => {
	console.error(`tcp-copy: ${error.message}`);
	process.exitCode = 1;
});
