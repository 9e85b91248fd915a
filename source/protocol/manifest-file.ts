/**
 * The `.p2p` file: a shareable manifest. It carries a file's name and its whole manifest
 * (size, piece size, piece hashes, content BLAKE3), so `p2p-tui get <file.p2p>` can fetch
 * the file from any peer that lists its id and check every piece against hashes that came
 * from the person who shared the `.p2p` file, not from the peer serving it (as a
 * BitTorrent `.torrent` file, BEP 3). Pure codec, no I/O.
 *
 * Layout (big-endian), documented byte by byte in docs/protocol.md, section ".p2p file":
 * magic "P2PM" (4), version u8 = 1, file id (32), name length u16, name (UTF-8),
 * manifest length u32, manifest (the §4 encoding), then the BLAKE3 of everything before
 * it (32), so a damaged file is refused whole.
 */
import { safeSegments } from "../library/paths.js";
import { hash, toHex } from "./hash.js";
import { decodeManifest, encodeManifest, type Manifest, manifestId } from "./manifest.js";
import { HASH_SIZE } from "./messages.js";
import { Reader, Writer } from "./wire.js";

/** The four bytes a `.p2p` file starts with. */
export const MANIFEST_FILE_MAGIC = Buffer.from("P2PM", "latin1");
export const MANIFEST_FILE_VERSION = 1;
/** Longest name in bytes of UTF-8 (one path segment, as file systems allow). */
export const MAX_MANIFEST_FILE_NAME = 255;
/** Largest manifest encoding: 49 + 32 × 65,536 bytes (docs/protocol.md §4). */
export const MAX_EMBEDDED_MANIFEST = 49 + HASH_SIZE * 65_536;
/** Smallest manifest encoding (an empty file: no piece hashes). */
const MIN_EMBEDDED_MANIFEST = 49;
/** Fixed bytes around the name and the manifest: magic, version, id, lengths, check. */
const OVERHEAD = 4 + 1 + HASH_SIZE + 2 + 4 + HASH_SIZE;
/** Largest `.p2p` file in bytes: readers refuse anything longer before reading it. */
export const MAX_MANIFEST_FILE_SIZE = OVERHEAD + MAX_MANIFEST_FILE_NAME + MAX_EMBEDDED_MANIFEST;

/** What a `.p2p` file says. */
export interface ManifestFile {
	/** The file's name: one path segment, 1 to 255 bytes of UTF-8. */
	name: string;
	manifest: Manifest;
	/** The manifest's encoding (docs/protocol.md §4); its BLAKE3 is the file id. */
	manifestBytes: Buffer;
	/** Raw 32-byte file id. */
	idBytes: Buffer;
	/** Hex file id (64 lowercase digits). */
	id: string;
}

/** True when `name` may be the name in a `.p2p` file: one safe segment of 1..255 bytes. */
export function isManifestFileName(name: string): boolean {
	const segments = safeSegments(name);
	return segments !== null && segments.length === 1;
}

/**
 * Encodes a `.p2p` file.
 * @param name - the file's base name (one path segment, 1..255 bytes, no control characters)
 * @param manifest - the file's manifest
 * @returns the file's bytes
 * @throws RangeError when the name is not one safe segment or the manifest is inconsistent
 */
export function encodeManifestFile(name: string, manifest: Manifest): Buffer {
	if (!isManifestFileName(name)) throw new RangeError(`unusable name ${JSON.stringify(name)}`);
	const nameBytes = Buffer.from(name, "utf8");
	const manifestBytes = encodeManifest(manifest);
	const body = OVERHEAD - HASH_SIZE + nameBytes.length + manifestBytes.length;
	const w = new Writer(body + HASH_SIZE);
	w.bytes(MANIFEST_FILE_MAGIC).u8(MANIFEST_FILE_VERSION).bytes(manifestId(manifestBytes));
	w.u16(nameBytes.length).bytes(nameBytes);
	w.u32(manifestBytes.length).bytes(manifestBytes);
	w.bytes(hash(w.buffer.subarray(0, body)));
	return w.finish();
}

/**
 * Decodes an untrusted `.p2p` file.
 * @returns the name, manifest and file id, or null when the bytes are not an intact
 *   version-1 `.p2p` file: wrong magic, version, check or lengths, a name that is not one
 *   safe segment, a manifest that does not decode, or an id that is not its hash
 */
export function decodeManifestFile(bytes: Uint8Array): ManifestFile | null {
	if (bytes.length < OVERHEAD || bytes.length > MAX_MANIFEST_FILE_SIZE) return null;
	const body = bytes.subarray(0, bytes.length - HASH_SIZE);
	if (!hash(body).equals(bytes.subarray(body.length))) return null;
	const r = new Reader(body);
	const magic = r.bytes(4);
	const version = r.u8();
	const id = r.bytes(HASH_SIZE);
	const nameLength = r.u16();
	if (!r.ok || !Buffer.from(magic).equals(MANIFEST_FILE_MAGIC)) return null;
	if (version !== MANIFEST_FILE_VERSION) return null;
	if (nameLength === 0 || nameLength > MAX_MANIFEST_FILE_NAME) return null;
	const name = r.utf8(nameLength);
	const manifestLength = r.u32();
	if (manifestLength < MIN_EMBEDDED_MANIFEST || manifestLength > MAX_EMBEDDED_MANIFEST) return null;
	const manifestBytes = Buffer.from(r.bytes(manifestLength));
	if (!r.done || !isManifestFileName(name)) return null;
	const manifest = decodeManifest(manifestBytes);
	if (!manifest) return null;
	const idBytes = manifestId(manifestBytes);
	if (!idBytes.equals(id)) return null;
	return { name, manifest, manifestBytes, idBytes, id: toHex(idBytes) };
}

/** True when `bytes` start with the `.p2p` magic (a cheap sniff before a full decode). */
export function looksLikeManifestFile(bytes: Uint8Array): boolean {
	return (
		bytes.length >= MANIFEST_FILE_MAGIC.length &&
		Buffer.from(bytes.subarray(0, MANIFEST_FILE_MAGIC.length)).equals(MANIFEST_FILE_MAGIC)
	);
}

/** The short link form of a file id: `p2p:` and the hex id (or a prefix of it). */
export function fileLink(id: string): string {
	return `p2p:${id}`;
}
