/**
 * Fuzz target: the `.p2p` file (source/protocol/manifest-file.ts), as opened by
 * `p2p-tui get <file.p2p>`. Each input is tried as it is and with its BLAKE3 check made
 * right, so mutations reach the fields behind the check (Jazzer.js convention: `fuzz`
 * throws only on a real bug).
 */
import { decodeManifest, manifestId } from "../../source/protocol/manifest.js";
import {
	decodeManifestFile,
	encodeManifestFile,
	isManifestFileName,
} from "../../source/protocol/manifest-file.js";
import { check, type Field, sameBytes, withCheck } from "../oracle.js";

/** The name length, the manifest length behind the name, and the manifest's own fields. */
export function fields(data: Uint8Array): Field[] {
	if (data.length < 39) return [];
	const manifestAt = 39 + ((data[37] << 8) | data[38]) + 4;
	return [
		{ offset: 37, size: 2 },
		{ offset: manifestAt - 4, size: 4 },
		{ offset: manifestAt + 1, size: 8 },
		{ offset: manifestAt + 9, size: 4 },
		{ offset: manifestAt + 45, size: 4 },
	];
}

function one(data: Uint8Array): void {
	const file = decodeManifestFile(data);
	if (!file) return;
	check(isManifestFileName(file.name), `unsafe name ${JSON.stringify(file.name)}`);
	check(decodeManifest(file.manifestBytes) !== null, "manifest does not decode");
	check(manifestId(file.manifestBytes).equals(file.idBytes), "id is not the manifest's hash");
	check(sameBytes(encodeManifestFile(file.name, file.manifest), data), "does not re-encode");
}

export function fuzz(data: Buffer): void {
	one(data);
	one(withCheck(data));
}
