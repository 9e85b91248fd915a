/**
 * The Files pane as a tree: folders (from the snapshot's folders and the files' paths)
 * with their files under them, folders first, each level sorted by name. Pure data: the
 * nodes point into the snapshot's arrays by index, so sizes and peer counts are read from
 * the current snapshot while the tree itself is rebuilt only when names change.
 */

import type { NetworkFile, NetworkFolder, Snapshot } from "../peer/types.js";
import type { FuzzyMatch } from "../search/fuzzy.js";
import { formatBytes } from "./format.js";
import type { FileListEntry } from "./rows.js";

/** A folder of the tree. */
export interface TreeFolder {
	kind: "folder";
	/** Path with `/` separators, no trailing `/` (as in {@link NetworkFolder}). */
	path: string;
	/** Last segment of the path. */
	name: string;
	/** 0 for top-level nodes. */
	depth: number;
	parent: TreeFolder | undefined;
	/** Subfolders first, then files, each sorted by name. */
	children: TreeNode[];
	/** Index of the folder in the snapshot's `folders`, or -1 when only file paths imply it. */
	folderIndex: number;
	/** Stats of a folder only implied by file paths (`folderIndex` -1), counted at build. */
	implied: { files: number; size: number; peers: Set<string> };
}

/** A file of the tree. */
export interface TreeFile {
	kind: "file";
	/** The file's full name (path) as listed. */
	path: string;
	/** Last segment of the path. */
	name: string;
	depth: number;
	parent: TreeFolder | undefined;
	/** Index of the file in the snapshot's `files`. */
	fileIndex: number;
	/** Another file (different id) has the same path: show something to tell them apart. */
	duplicate: boolean;
}

/** A row of the tree. */
export type TreeNode = TreeFolder | TreeFile;

/** The tree of every file and folder on the network. */
export interface FileTree {
	/** Top-level nodes, folders first. */
	roots: TreeNode[];
	/** Every node, depth first in display order (what a search runs over). */
	nodes: TreeNode[];
}

const collator = new Intl.Collator();

/** Folders first, then by name, then (equal names) by the snapshot's order. */
function compareNodes(a: TreeNode, b: TreeNode): number {
	if (a.kind !== b.kind) return a.kind === "folder" ? -1 : 1;
	const byName = collator.compare(a.name, b.name);
	if (byName !== 0) return byName;
	return a.kind === "file" && b.kind === "file" ? a.fileIndex - b.fileIndex : 0;
}

/** A path without empty segments (`"/a//b/"` is `"a/b"`); most paths are returned as is. */
function normalized(path: string): string {
	return path.startsWith("/") || path.endsWith("/") || path.includes("//")
		? path
				.split("/")
				.filter((segment) => segment !== "")
				.join("/")
		: path;
}

/**
 * Builds the tree of the network's files and folders. Folders come from `folders` (empty
 * ones included) and from the files' paths; a folder missing from `folders` gets its
 * stats counted from the files under it.
 *
 * @param files - the snapshot's files (their `name` is a `/`-separated path)
 * @param folders - the snapshot's folders
 * @returns the roots and every node in display order
 */
export function buildFileTree(
	files: readonly NetworkFile[],
	folders: readonly NetworkFolder[],
): FileTree {
	const roots: TreeNode[] = [];
	const byPath = new Map<string, TreeFolder>();
	// One map lookup per file; a folder not seen yet is made with its missing ancestors.
	const folderAt = (path: string): TreeFolder | undefined => {
		if (path === "") return undefined;
		let folder = byPath.get(path);
		if (folder) return folder;
		const cut = path.lastIndexOf("/");
		const parent = folderAt(cut >= 0 ? path.slice(0, cut) : "");
		folder = {
			kind: "folder",
			path,
			name: path.slice(cut + 1),
			depth: parent ? parent.depth + 1 : 0,
			parent,
			children: [],
			folderIndex: -1,
			implied: { files: 0, size: 0, peers: new Set() },
		};
		byPath.set(path, folder);
		(parent ? parent.children : roots).push(folder);
		return folder;
	};
	folders.forEach((folder, index) => {
		const node = folderAt(normalized(folder.path));
		if (node) node.folderIndex = index;
	});
	const seen = new Map<string, TreeFile>();
	files.forEach((file, fileIndex) => {
		const path = normalized(file.name);
		const cut = path.lastIndexOf("/");
		const parent = folderAt(cut >= 0 ? path.slice(0, cut) : "");
		const node: TreeFile = {
			kind: "file",
			path: file.name,
			name: path.slice(cut + 1) || file.name,
			depth: parent ? parent.depth + 1 : 0,
			parent,
			fileIndex,
			duplicate: false,
		};
		const twin = seen.get(file.name);
		if (twin) {
			twin.duplicate = true;
			node.duplicate = true;
		} else {
			seen.set(file.name, node);
		}
		(parent ? parent.children : roots).push(node);
		for (let folder = parent; folder; folder = folder.parent) {
			if (folder.folderIndex >= 0) continue;
			folder.implied.files += 1;
			folder.implied.size += file.size;
			for (const peer of file.peers) folder.implied.peers.add(peer);
		}
	});
	const nodes: TreeNode[] = [];
	const walk = (level: TreeNode[]) => {
		level.sort(compareNodes);
		for (const node of level) {
			nodes.push(node);
			if (node.kind === "folder") walk(node.children);
		}
	};
	walk(roots);
	return { roots, nodes };
}

/**
 * The rows of the tree as shown: every top-level node, and the children of each expanded
 * folder (recursively), in display order.
 *
 * @param tree - the tree
 * @param expanded - paths of the expanded folders
 * @returns the visible nodes
 */
export function visibleNodes(tree: FileTree, expanded: ReadonlySet<string>): TreeNode[] {
	const rows: TreeNode[] = [];
	const walk = (level: TreeNode[]) => {
		for (const node of level) {
			rows.push(node);
			if (node.kind === "folder" && expanded.has(node.path)) walk(node.children);
		}
	};
	walk(tree.roots);
	return rows;
}

/**
 * Whether two file lists have the same ids and names at the same positions (sizes and
 * peers may differ): then a tree built from one is valid for the other.
 */
export function sameFileNames(a: readonly NetworkFile[], b: readonly NetworkFile[]): boolean {
	if (a === b) return true;
	if (a.length !== b.length) return false;
	for (let index = 0; index < a.length; index++) {
		if (a[index].id !== b[index].id || a[index].name !== b[index].name) return false;
	}
	return true;
}

/** Whether two folder lists have the same paths at the same positions. */
export function sameFolderPaths(a: readonly NetworkFolder[], b: readonly NetworkFolder[]): boolean {
	if (a === b) return true;
	if (a.length !== b.length) return false;
	for (let index = 0; index < a.length; index++) {
		if (a[index].path !== b[index].path) return false;
	}
	return true;
}

/** Stats of a folder node, from the snapshot when it lists the folder. */
export function folderStats(
	folder: TreeFolder,
	snapshot: Snapshot,
): { files: number; size: number; peers: number } {
	const listed = folder.folderIndex >= 0 ? snapshot.folders[folder.folderIndex] : undefined;
	if (listed) return { files: listed.files, size: listed.size, peers: listed.peers.length };
	return {
		files: folder.implied.files,
		size: folder.implied.size,
		peers: folder.implied.peers.size,
	};
}

/** Columns of indentation per tree level. */
export const INDENT = 2;

/**
 * What a Files pane row shows for a node: in the tree (`match` undefined) its name,
 * indented by depth, folders with `▸`/`▾`; as a search result its full path with the
 * matched characters. Folders end with `/` and say how many files they hold (or "empty");
 * a file whose path another file shares gets its short id.
 *
 * @param node - the node
 * @param snapshot - the snapshot the tree was built for (same file ids and folder paths)
 * @param expanded - paths of the expanded folders
 * @param match - the search match, when the pane shows search results
 * @returns the row's contents, see {@link FileListEntry}
 */
export function nodeEntry(
	node: TreeNode,
	snapshot: Snapshot,
	expanded: ReadonlySet<string>,
	match?: FuzzyMatch<TreeNode>,
): FileListEntry {
	const label = match ? node.path : node.name;
	const indent = match ? 0 : node.depth * INDENT;
	const ranges = match?.ranges ?? [];
	if (node.kind === "folder") {
		const stats = folderStats(node, snapshot);
		return {
			kind: "folder",
			label: `${label}/`,
			ranges,
			indent,
			glyph: match ? "" : expanded.has(node.path) ? "▾ " : "▸ ",
			info: stats.files === 0 ? "empty" : `${stats.files} file${stats.files === 1 ? "" : "s"}`,
			size: stats.files === 0 ? "" : formatBytes(stats.size),
			peers: stats.peers,
		};
	}
	const file = snapshot.files[node.fileIndex];
	return {
		kind: "file",
		label,
		ranges,
		indent,
		glyph: "",
		info: node.duplicate && file ? `#${file.id.slice(0, 8)}` : "",
		size: formatBytes(file?.size ?? 0),
		peers: file?.peers.length ?? 0,
	};
}
