/**
 * What the detail panels show, as labelled rows: a peer (Enter or `i` in the Peers pane),
 * a file (`i` in the Files pane, or on a transfer), a folder, and where a download is on
 * disk (`o` in the Transfers pane). Pure data from the snapshot; the panel lays it out.
 */

import type {
	FolderTransferState,
	NetworkFile,
	NetworkFolder,
	PeerRecord,
	Snapshot,
	TransferState,
} from "../peer/types.js";
import { fingerprint } from "../protocol/identity.js";
import { pieceCount, pieceSizeFor } from "../protocol/manifest.js";
import {
	formatAge,
	formatBytes,
	formatCount,
	formatRate,
	percent,
	type Segment,
} from "./format.js";
import { transferStatusText } from "./rows.js";

/** One labelled row of a detail panel; a long value wraps under itself. */
export interface DetailRow {
	/** The label column, e.g. `"Address"` (empty for a continuation of a list). */
	label: string;
	value: string;
	/** The tone of the value (e.g. `"error"` for a banned peer). */
	tone?: Segment["style"];
}

/** A detail panel's title and rows. */
export interface DetailView {
	title: string;
	rows: DetailRow[];
}

/** Most names a list row of a panel shows before saying how many more there are. */
export const MAX_LISTED = 50;

/** Rows listing `names` under `label`, one per row, at most {@link MAX_LISTED}. */
function listRows(label: string, names: readonly string[], none: string): DetailRow[] {
	if (names.length === 0) return [{ label, value: none }];
	const shown = names.slice(0, MAX_LISTED);
	const rows = shown.map((value, index) => ({ label: index === 0 ? label : "", value }));
	if (names.length > shown.length) {
		rows.push({ label: "", value: `… and ${formatCount(names.length - shown.length)} more` });
	}
	return rows;
}

/** `"1.5 GiB (1,610,612,736 bytes)"`; bytes alone below 1 KiB. */
function sizeText(bytes: number): string {
	return bytes < 1024
		? `${formatCount(bytes)} B`
		: `${formatBytes(bytes)} (${formatCount(bytes)} bytes)`;
}

/**
 * The names of the peers with the given ids, as the Peers pane knows them; ours is
 * `"you"`, a peer no longer heard is its short id, a banned one says so.
 *
 * @param ids - peer ids (hex)
 * @param snapshot - for the peers and our own id
 * @returns one name per id, in the same order
 */
export function peerNames(
	ids: readonly string[],
	snapshot: Pick<Snapshot, "peers" | "self">,
): string[] {
	const byId = new Map(snapshot.peers.map((peer) => [peer.id, peer]));
	return ids.map((id) => {
		if (id === snapshot.self.id) return `${snapshot.self.name} (you)`;
		const peer = byId.get(id);
		if (!peer) return `${id.slice(0, 8)}… (not heard now)`;
		return peer.banned ? `${peer.name} (banned)` : peer.name;
	});
}

/** How a peer was found, in words. */
const FOUND: Record<PeerRecord["found"], string> = {
	lan: "on the local network (its announces)",
	named: "named by address (↗: --peer, add-peer, a; or it named us)",
	exchange: "told of by another peer (⇄: peer exchange)",
};

/**
 * Everything known about a peer: name, id and its short fingerprint, how it was found, its
 * addresses, its four transfer ports and the discovery port, shared files (count, revision
 * and names), the rates we receive from and send to it, whether it is banned, when it last
 * announced; and our own fingerprint, to compare.
 *
 * @param peer - the peer
 * @param snapshot - for the discovery port and the files it lists
 * @param now - wall-clock time in ms since the epoch (for the last-seen age)
 * @returns the panel's title and rows
 */
export function peerDetails(
	peer: PeerRecord,
	snapshot: Pick<Snapshot, "files" | "self">,
	now: number,
): DetailView {
	const files: string[] = [];
	for (const file of snapshot.files) {
		if (file.peers.includes(peer.id)) files.push(file.name);
	}
	return {
		title: `Peer ${peer.name}`,
		rows: [
			{ label: "Name", value: peer.name },
			{ label: "Id", value: peer.id },
			{ label: "Fingerprint", value: `${fingerprint(peer.id)} (compare it with theirs)` },
			{
				label: "Yours",
				value: `${snapshot.self.fingerprint}${snapshot.self.ephemeral ? " (ephemeral: another instance holds this settings folder's identity)" : ""}`,
			},
			{ label: "Found", value: FOUND[peer.found] },
			{ label: "Address", value: `${peer.address} (preferred)` },
			...listRows(
				"Also at",
				peer.addresses.filter((a) => a !== peer.address),
				"no other address heard",
			),
			{ label: "Receive port", value: `${peer.ports.receive} (data of its own downloads)` },
			{ label: "Send port", value: `${peer.ports.send} (answers list, manifest, block requests)` },
			{ label: "Distribute", value: `${peer.ports.distribute} (pushes verified pieces)` },
			{ label: "Distributee", value: `${peer.ports.distributee} (takes pushed pieces)` },
			{
				label: "Discovery",
				value: `${snapshot.self.discoveryPort} (announces, shared by all peers)`,
			},
			{ label: "Download", value: `${formatRate(peer.downRate ?? 0)} from this peer` },
			{ label: "Upload", value: `${formatRate(peer.upRate ?? 0)} to this peer` },
			peer.banned
				? { label: "Banned", value: "yes, for serving bad pieces", tone: "error" }
				: { label: "Banned", value: "no" },
			{
				label: "Last seen",
				value: `${formatAge(peer.lastSeen, now)} ago (announces every ${formatAge(0, peer.interval)})`,
			},
			{ label: "Files", value: `${formatCount(peer.files)} (list revision ${peer.revision})` },
			...listRows("Shared", files, "none listed yet"),
		],
	};
}

/**
 * Everything known about a file: name, id, content hash, size, piece size and count (the
 * download's when one runs, else the default for its size), which peers have it, and its
 * download when there is one (status, verified pieces, paths).
 *
 * @param file - the network file, or undefined when only a transfer knows it (it left)
 * @param transfer - its download, if any
 * @param snapshot - for peer names
 * @returns the panel's title and rows
 */
export function fileDetails(
	file: NetworkFile | undefined,
	transfer: TransferState | undefined,
	snapshot: Pick<Snapshot, "peers" | "self">,
): DetailView {
	const name = file?.name ?? transfer?.name ?? "";
	const size = file?.size ?? transfer?.size ?? 0;
	const known = transfer?.pieceSize;
	const pieceSize = known ?? pieceSizeFor(size);
	const pieces =
		transfer && transfer.totalPieces > 0 ? transfer.totalPieces : pieceCount(size, pieceSize);
	const rows: DetailRow[] = [
		{ label: "Name", value: name },
		{ label: "Id", value: file?.id ?? transfer?.fileId ?? "" },
		{
			label: "Content hash",
			value: file ? file.contentHash : "unknown (no peer lists it now)",
		},
		{ label: "Size", value: sizeText(size) },
		{
			label: "Piece size",
			value: known
				? formatBytes(pieceSize)
				: `${formatBytes(pieceSize)} (the default for this size)`,
		},
		{ label: "Pieces", value: formatCount(pieces) },
		...listRows("Peers", peerNames(file?.peers ?? [], snapshot), "no peer lists it now"),
	];
	if (transfer) {
		const status = transferStatusText(transfer) || "downloading";
		rows.push(
			{
				label: "Download",
				value: `${status} · ${percent(transfer.bytesDone, transfer.size)}% · ${formatCount(transfer.verifiedPieces)}/${formatCount(transfer.totalPieces)} pieces verified`,
				tone: transfer.status === "failed" ? "error" : undefined,
			},
			...locationRows(transfer),
		);
	}
	return { title: `File ${name}`, rows };
}

/** Where a download is: its final path once complete, else its partial file. */
function locationRows(transfer: TransferState): DetailRow[] {
	if (transfer.path) return [{ label: "Path", value: transfer.path }];
	if (transfer.partialPath) return [{ label: "Partial file", value: transfer.partialPath }];
	return [];
}

/**
 * A folder on the network: path, files, size and which peers share something under it.
 *
 * @param folder - the folder's path and stats
 * @param snapshot - for peer names
 * @returns the panel's title and rows
 */
export function folderDetails(
	folder: Pick<NetworkFolder, "path" | "files" | "size" | "peers">,
	snapshot: Pick<Snapshot, "peers" | "self">,
): DetailView {
	return {
		title: `Folder ${folder.path}/`,
		rows: [
			{ label: "Path", value: `${folder.path}/` },
			{ label: "Files", value: formatCount(folder.files) },
			{ label: "Size", value: sizeText(folder.size) },
			...listRows("Peers", peerNames(folder.peers, snapshot), "no peer lists it now"),
		],
	};
}

/**
 * Where a download is on disk (`o`): the final path of a complete one, else where it will
 * be and its partial file so far.
 *
 * @param transfer - the download
 * @param downloadsDir - the downloads folder (for where an unfinished one will land)
 * @returns the panel's title and rows
 */
export function transferLocation(transfer: TransferState, downloadsDir: string): DetailView {
	const rows: DetailRow[] = [{ label: "Name", value: transfer.name }];
	if (transfer.status === "complete" && transfer.path) {
		rows.push({ label: "Path", value: transfer.path, tone: "ok" });
	} else {
		rows.push({
			label: "Status",
			value: `not finished: ${transferStatusText(transfer) || "downloading"}`,
			tone: transfer.status === "failed" ? "error" : "warn",
		});
		rows.push({ label: "Will be", value: transfer.path ?? joinPath(downloadsDir, transfer.name) });
		rows.push({
			label: "Partial file",
			value: transfer.partialPath ?? "none (not started, or deleted on cancel)",
		});
	}
	return { title: "Location", rows };
}

/**
 * Where a whole-folder download lands (`o` on its row).
 *
 * @param folder - the folder download
 * @returns the panel's title and rows
 */
export function folderLocation(folder: FolderTransferState): DetailView {
	return {
		title: "Location",
		rows: [
			{ label: "Folder", value: `${folder.path}/` },
			{
				label: folder.status === "complete" ? "Path" : "Will be",
				value: folder.target,
				tone: folder.status === "complete" ? "ok" : undefined,
			},
			{
				label: "Files",
				value: `${formatCount(folder.filesDone)}/${formatCount(folder.files)} in place`,
			},
		],
	};
}

/** `dir/name` with one separator (display only; the engine decides the real path). */
function joinPath(dir: string, name: string): string {
	return dir.endsWith("/") ? `${dir}${name}` : `${dir}/${name}`;
}
