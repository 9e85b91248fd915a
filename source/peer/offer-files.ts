/**
 * The files of an offer we make (docs/protocol.md §16): walks the paths given to `send`,
 * hashes each file into its manifest (as the library does for shared files), and gives
 * the served-file handles the send port answers the receiver from. Only these files, by
 * their ids, become reachable, and only while the offer stands.
 */
import { constants as fsConstants } from "node:fs";
import fs from "node:fs/promises";
import path from "node:path";
import { UsageError } from "../errors.js";
import { toHex } from "../protocol/hash.js";
import { decodeManifest } from "../protocol/manifest.js";
import { folderEntry, type ListEntry, MAX_PATH_BYTES } from "../protocol/messages.js";
import { MAX_OFFER_ENTRIES } from "../protocol/offers.js";
import type { HashPool } from "../transfer/hash-pool.js";
import type { OfferedFile } from "../transfer/serve.js";

/** What an offer carries and serves. */
export interface CollectedOffer {
	/** Entries sent in the offer: files, and empty folders. */
	entries: ListEntry[];
	/** The files served to the receiver, by hex file id. */
	files: Map<string, OfferedFile>;
}

/**
 * Walks `paths` (files, or folders walked whole without following links) and hashes every
 * regular file. A file is named by its base name, a folder's files by the folder's base
 * name and their path below it (`photos/2024/a.jpg`).
 * @throws UsageError for a path that cannot be read, a name too long, more than
 *   {@link MAX_OFFER_ENTRIES} entries, or a file that changed while it was hashed
 */
export async function collectOffer(
	paths: string[],
	pool: Pick<HashPool, "hashManifest">,
): Promise<CollectedOffer> {
	const found: { abs: string; name: string; size: number }[] = [];
	const entries: ListEntry[] = [];
	const add = () => {
		if (found.length + entries.length > MAX_OFFER_ENTRIES)
			throw new UsageError(`an offer carries at most ${MAX_OFFER_ENTRIES} files and folders`);
	};
	const walk = async (abs: string, name: string): Promise<void> => {
		if (Buffer.byteLength(name) > MAX_PATH_BYTES)
			throw new UsageError(`name too long to offer: ${name}`);
		let stat: Awaited<ReturnType<typeof fs.lstat>>;
		try {
			stat = await fs.lstat(abs);
		} catch (error) {
			throw new UsageError(`cannot read ${abs}: ${(error as NodeJS.ErrnoException).code ?? error}`);
		}
		if (stat.isFile()) {
			found.push({ abs, name, size: stat.size });
			add();
		} else if (stat.isDirectory()) {
			let names: string[];
			try {
				names = (await fs.readdir(abs)).sort();
			} catch (error) {
				throw new UsageError(
					`cannot read ${abs}: ${(error as NodeJS.ErrnoException).code ?? error}`,
				);
			}
			const before = found.length + entries.length;
			for (const n of names) await walk(path.join(abs, n), `${name}/${n}`);
			if (found.length + entries.length === before) {
				entries.push(folderEntry(name));
				add();
			}
		}
		// Links, sockets, devices: never offered.
	};
	for (const p of paths) {
		const abs = path.resolve(p);
		const base = path.basename(abs);
		if (!base) throw new UsageError(`cannot offer ${p}`);
		await walk(abs, base);
	}
	if (found.length + entries.length === 0)
		throw new UsageError("nothing to offer: no regular file");
	const files = new Map<string, OfferedFile>();
	for (const f of found) {
		const hashed = await pool.hashManifest(f.abs, f.size).catch((error: unknown) => {
			throw new UsageError(
				`cannot read ${f.abs}: ${(error as NodeJS.ErrnoException).code ?? error}`,
			);
		});
		if (hashed.changed) throw new UsageError(`${f.abs} changed while it was hashed`);
		const manifest = decodeManifest(hashed.manifestBytes);
		if (!manifest) throw new UsageError(`cannot hash ${f.abs}`);
		const id = toHex(hashed.id);
		const mtime = hashed.identity.mtimeNs;
		files.set(id, {
			manifestBytes: hashed.manifestBytes,
			size: manifest.size,
			pieceSize: manifest.pieceSize,
			read: (offset, length) => readIfSame(f.abs, manifest.size, mtime, offset, length),
		});
		entries.push({
			fileId: hashed.id,
			size: manifest.size,
			contentHash: manifest.contentHash,
			name: f.name,
		});
	}
	entries.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
	return { entries, files };
}

/**
 * Reads a block of an offered file, never through a link, and only while the file is the
 * one hashed (same size and modification time): a changed file serves nothing.
 */
async function readIfSame(
	abs: string,
	size: number,
	mtimeNs: bigint,
	offset: number,
	length: number,
): Promise<Buffer | null> {
	let handle: fs.FileHandle | undefined;
	try {
		handle = await fs.open(abs, fsConstants.O_RDONLY | fsConstants.O_NOFOLLOW);
		const stat = await handle.stat({ bigint: true });
		if (!stat.isFile() || Number(stat.size) !== size || stat.mtimeNs !== mtimeNs) return null;
		const buffer = Buffer.allocUnsafe(length);
		let got = 0;
		while (got < length) {
			const { bytesRead } = await handle.read(buffer, got, length - got, offset + got);
			if (bytesRead === 0) return null;
			got += bytesRead;
		}
		return buffer;
	} catch {
		return null;
	} finally {
		await handle?.close().catch(() => {});
	}
}
