/**
 * Test helpers: free loopback ports, temporary folders, condition polling. Every address
 * here is loopback: tests never send beyond this machine.
 */
import assert from "node:assert/strict";
import dgram from "node:dgram";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";

/** Loopback broadcast: the only broadcast address tests use. */
export const LOOPBACK_BROADCAST = "127.255.255.255";

/** A UDP port that was free a moment ago. */
export async function freePort(): Promise<number> {
	const socket = dgram.createSocket("udp4");
	await new Promise<void>((resolve) => socket.bind(0, "127.0.0.1", resolve));
	const { port } = socket.address();
	await new Promise<void>((resolve) => socket.close(() => resolve()));
	return port;
}

/** A base port whose block of four was free a moment ago, away from the default range. */
export async function freeBase(): Promise<number> {
	for (;;) {
		const base = 20_000 + 4 * Math.floor(Math.random() * 5_000);
		const sockets: dgram.Socket[] = [];
		let ok = true;
		for (let i = 0; i < 4 && ok; i++) {
			const s = dgram.createSocket("udp4");
			ok = await new Promise<boolean>((resolve) => {
				s.once("error", () => resolve(false));
				s.bind(base + i, "0.0.0.0", () => resolve(true));
			});
			sockets.push(s);
		}
		await Promise.all(sockets.map((s) => new Promise<void>((resolve) => s.close(() => resolve()))));
		if (ok) return base;
	}
}

/** A new temporary folder, removed by `cleanup`. */
export function tempDir(prefix = "p2p-tui-test-"): string {
	return fs.mkdtempSync(path.join(os.tmpdir(), prefix));
}

/**
 * Polls `condition` every 20 ms until it is truthy.
 * @throws Error naming `what` after `timeoutMs`
 */
export async function waitFor<T>(
	condition: () => T | Promise<T>,
	what: string,
	timeoutMs = 10_000,
): Promise<NonNullable<T>> {
	const deadline = Date.now() + timeoutMs;
	for (;;) {
		const value = await condition();
		if (value) return value as NonNullable<T>;
		if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
		await new Promise((resolve) => setTimeout(resolve, 20));
	}
}

/** Absolute path of the repo's fixtures/ (tests run from dist/test/...). */
export function fixturesDir(): string {
	// dist/test/helpers/net.js -> repo root
	return path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..", "..", "..", "fixtures");
}

/** Every file and folder under `dir` (folders end in `/`), sorted. */
export function tree(dir: string): string[] {
	const out: string[] = [];
	const walk = (rel: string) => {
		for (const e of fs.readdirSync(path.join(dir, rel), { withFileTypes: true })) {
			const r = rel ? `${rel}/${e.name}` : e.name;
			if (e.isDirectory()) {
				out.push(`${r}/`);
				walk(r);
			} else out.push(r);
		}
	};
	walk("");
	return out.sort();
}

/** Asserts the trees under `actual` and `expected` match and every file has the same bytes. */
export function assertSameTree(actual: string, expected: string): void {
	assert.deepEqual(tree(actual), tree(expected));
	for (const rel of tree(expected)) {
		if (rel.endsWith("/")) continue;
		const a = fs.readFileSync(path.join(actual, rel));
		assert.ok(a.equals(fs.readFileSync(path.join(expected, rel))), `${rel} differs`);
	}
}

/** Every regular file under `dir`, as `/`-separated relative paths. */
export function listFiles(dir: string): string[] {
	const out: string[] = [];
	const walk = (rel: string) => {
		for (const e of fs.readdirSync(path.join(dir, rel), { withFileTypes: true })) {
			const r = rel ? `${rel}/${e.name}` : e.name;
			if (e.isDirectory()) walk(r);
			else if (e.isFile()) out.push(r);
		}
	};
	walk("");
	return out.sort();
}
