/**
 * The rows of the Transfers pane: single downloads, and whole-folder downloads as one row
 * with the files still under way (or failed) beneath it. Pure data.
 */

import type { FolderTransferState, TransferState } from "../peer/types.js";

/** One row of the Transfers pane. */
export type TransferListItem =
	| {
			kind: "folder";
			folder: FolderTransferState;
			/** Every transfer of the folder's files (complete ones too), for speed and peers. */
			files: TransferState[];
	  }
	| {
			kind: "file";
			transfer: TransferState;
			/** Set for a file of a folder download: the folder's path. */
			folder?: string;
			/** `"├ "`, or `"└ "` for the last file shown under its folder. */
			branch?: string;
			/** The file's path inside its folder. */
			label?: string;
	  };

/** The path of `name` inside `folder`, or `name` when it is not under it. */
function inside(name: string, folder: string): string {
	const prefix = `${folder}/`;
	return name.startsWith(prefix) ? name.slice(prefix.length) : name;
}

/**
 * Orders the Transfers pane: transfers in the snapshot's order, except that the files of a
 * folder download are gathered under the folder's row, placed where the first of them
 * is; folder downloads without file transfers yet come last. Under a folder, only its
 * files not yet complete are listed (the folder's row counts the finished ones).
 *
 * @param transfers - the snapshot's transfers
 * @param folders - the snapshot's folder downloads
 * @returns the rows, in display order
 */
export function transferList(
	transfers: readonly TransferState[],
	folders: readonly FolderTransferState[],
): TransferListItem[] {
	const byPath = new Map(folders.map((folder) => [folder.path, folder]));
	const members = new Map<string, TransferState[]>();
	for (const transfer of transfers) {
		if (transfer.folder !== undefined && byPath.has(transfer.folder)) {
			let list = members.get(transfer.folder);
			if (!list) {
				list = [];
				members.set(transfer.folder, list);
			}
			list.push(transfer);
		}
	}
	const rows: TransferListItem[] = [];
	const placed = new Set<string>();
	const place = (folder: FolderTransferState) => {
		placed.add(folder.path);
		const files = members.get(folder.path) ?? [];
		rows.push({ kind: "folder", folder, files });
		const shown = files.filter((t) => t.status !== "complete");
		shown.forEach((transfer, index) => {
			rows.push({
				kind: "file",
				transfer,
				folder: folder.path,
				branch: index === shown.length - 1 ? "└ " : "├ ",
				label: inside(transfer.name, folder.path),
			});
		});
	};
	for (const transfer of transfers) {
		const folder = transfer.folder !== undefined ? byPath.get(transfer.folder) : undefined;
		if (!folder) {
			rows.push({ kind: "file", transfer });
		} else if (!placed.has(folder.path)) {
			place(folder);
		}
	}
	for (const folder of folders) {
		if (!placed.has(folder.path)) place(folder);
	}
	return rows;
}
