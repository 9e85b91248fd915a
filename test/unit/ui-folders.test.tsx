import assert from "node:assert/strict";
import { EventEmitter } from "node:events";
import { describe, it, type TestContext } from "node:test";
import { render } from "ink-testing-library";
import type { Peer } from "../../source/peer/peer.js";
import { createPeerStore } from "../../source/peer/store.js";
import type { FolderTransferState, Snapshot } from "../../source/peer/types.js";
import { App } from "../../source/ui/app.js";
import { buildFileTree, visibleNodes } from "../../source/ui/file-tree.js";
import { transferList } from "../../source/ui/transfer-list.js";
import {
	FakeStore,
	file,
	folder,
	folderTransfer,
	KEY,
	lineWith,
	mountApp,
	snapshot,
	transfer,
	waitUntil,
} from "../helpers/ui.js";

const KiB = 1024;
const MiB = 1024 ** 2;

/** docs/ (guide.md, nested/deep notes.txt), an empty folder, photos/ implied by a path. */
function network(overrides: Partial<Snapshot> = {}): Snapshot {
	return snapshot({
		files: [
			file("alpha.txt", { size: 512 }),
			file("docs/guide.md", { size: 4 * KiB }),
			file("docs/nested/deep notes.txt", { size: 8 * KiB, peers: ["peer-bob", "peer-carol"] }),
			file("photos/2024/beach.jpg", { size: 2 * MiB }),
		],
		folders: [
			folder("docs", { files: 2, size: 12 * KiB, peers: ["peer-bob", "peer-carol"] }),
			folder("docs/nested", { files: 1, size: 8 * KiB, peers: ["peer-bob", "peer-carol"] }),
			folder("empty-dir", { files: 0, size: 0 }),
		],
		...overrides,
	});
}

const mount = (t: TestContext, store: FakeStore) => mountApp(t, render, App, store);

describe("folders in the Files pane", () => {
	it("shows folders first, closed, with their file count and size; empty ones say so", async (t) => {
		const app = mount(t, new FakeStore(network()));
		await app.waitForSelected("▸ docs/");
		const frame = app.frame();
		assert.match(lineWith(frame, "docs/"), /› ▸ docs\/\s+2 files\s+12\.0 KiB\s+2┃/);
		assert.match(lineWith(frame, "empty-dir/"), /▸ empty-dir\/\s+empty\s+1┃/);
		// photos/ is only implied by a file's path: its stats come from that file.
		assert.match(lineWith(frame, "photos/"), /▸ photos\/\s+1 file\s+2\.0 MiB\s+1┃/);
		assert.match(lineWith(frame, "alpha.txt"), /┃ {2}alpha\.txt\s+512 B\s+1┃/);
		assert.ok(frame.indexOf("photos/") < frame.indexOf("alpha.txt"), "folders before files");
		assert.doesNotMatch(frame, /guide\.md|deep notes/);
		assert.match(frame, /Files \(4\)/);
	});

	it("opens with → / l, indents the children, and closes with ← / h", async (t) => {
		const app = mount(t, new FakeStore(network()));
		await app.waitForSelected("▸ docs/");
		app.stdin.write(KEY.right);
		await app.waitForSelected("▾ docs/");
		// Children are indented: a file's name under its folder's name, a subfolder's ▸ too.
		assert.match(app.frame(), /┃ {4}▸ nested\/\s+1 file\s+8\.0 KiB\s+2┃/);
		assert.match(app.frame(), /┃ {4}guide\.md\s+4\.0 KiB\s+1┃/);
		// On an open folder, → steps into its first child (the subfolder).
		app.stdin.write("l");
		await app.waitForSelected("▸ nested/");
		app.stdin.write("l");
		await app.waitForSelected("▾ nested/");
		assert.match(app.frame(), /┃ {6}deep notes\.txt\s+8\.0 KiB\s+2┃/);
		app.stdin.write("j");
		await app.waitForSelected("deep notes.txt");
		// On a file, ← goes to its folder; on an open folder, it closes it.
		app.stdin.write(KEY.left);
		await app.waitForSelected("▾ nested/");
		app.stdin.write("h");
		await app.waitForSelected("▸ nested/");
		assert.doesNotMatch(app.frame(), /deep notes/);
		app.stdin.write("h");
		await app.waitForSelected("▾ docs/");
		app.stdin.write("h");
		await app.waitForSelected("▸ docs/");
		assert.doesNotMatch(app.frame(), /guide\.md/);
	});

	it("downloads a folder with Enter, and a file inside one as a file", async (t) => {
		const store = new FakeStore(network());
		const app = mount(t, store);
		await app.waitForSelected("▸ docs/");
		app.stdin.write(KEY.enter);
		await waitUntil(
			() => store.intents.length === 1,
			() => "an intent",
		);
		assert.deepEqual(store.intents, [{ type: "download-folder", path: "docs" }]);
		app.stdin.write("l");
		app.stdin.write("j");
		app.stdin.write("j");
		await app.waitForSelected("guide.md");
		app.stdin.write(KEY.enter);
		app.stdin.write("j");
		await app.waitForSelected("▸ empty-dir/");
		app.stdin.write(KEY.enter);
		await waitUntil(
			() => store.intents.length === 3,
			() => "three intents",
		);
		assert.deepEqual(store.intents.slice(1), [
			{ type: "download", fileId: "id-docs/guide.md", name: "docs/guide.md" },
			{ type: "download-folder", path: "empty-dir" },
		]);
	});

	it("shows two different files with the same name as two rows, told apart", async (t) => {
		const store = new FakeStore(
			snapshot({
				files: [
					file("report.pdf", { id: `${"a".repeat(8)}${"0".repeat(56)}`, size: 1000 }),
					file("report.pdf", {
						id: `${"b".repeat(8)}${"0".repeat(56)}`,
						size: 2 * MiB,
						peers: ["peer-bob", "peer-carol"],
					}),
				],
			}),
		);
		const app = mount(t, store);
		await app.waitForText("#bbbbbbbb");
		assert.match(app.frame(), /report\.pdf\s+#aaaaaaaa\s+1000 B\s+1┃/);
		assert.match(app.frame(), /report\.pdf\s+#bbbbbbbb\s+2\.0 MiB\s+2┃/);
		app.stdin.write("j");
		await app.waitForText(/› report\.pdf\s+#bbbbbbbb/);
		app.stdin.write(KEY.enter);
		await waitUntil(
			() => store.intents.length === 1,
			() => "an intent",
		);
		assert.deepEqual(store.intents, [
			{ type: "download", fileId: `${"b".repeat(8)}${"0".repeat(56)}`, name: "report.pdf" },
		]);
	});

	it("keeps the tree's shape and selection when a snapshot brings the same names", async (t) => {
		const store = new FakeStore(network());
		const app = mount(t, store);
		await app.waitForSelected("▸ docs/");
		app.stdin.write("l");
		await app.waitForSelected("▾ docs/");
		store.set(
			network({
				folders: network().folders.map((f) =>
					f.path === "docs" ? { ...f, peers: ["a", "b", "c"] } : f,
				),
			}),
		);
		await app.waitForText(/▾ docs\/\s+2 files\s+12\.0 KiB\s+3┃/);
		assert.match(app.frame(), /guide\.md/);
	});
});

describe("tree and transfer list data", () => {
	it("sorts folders first, then names, and marks duplicate paths", () => {
		const tree = buildFileTree(
			[file("b.txt"), file("a/z.txt"), file("A.txt"), file("b.txt", { id: "other" })],
			[folder("c")],
		);
		const rows = visibleNodes(tree, new Set(["a"]));
		assert.deepEqual(
			rows.map((node) => `${node.depth}:${node.path}`),
			["0:a", "1:a/z.txt", "0:c", "0:A.txt", "0:b.txt", "0:b.txt"],
		);
		assert.deepEqual(
			rows.filter((n) => n.kind === "file" && n.duplicate).map((n) => n.path),
			["b.txt", "b.txt"],
		);
		assert.equal(tree.nodes.length, 6);
	});

	it("files odd paths under their folders, empty segments dropped", () => {
		const tree = buildFileTree([file("/x//y.txt"), file("x/z/")], [folder("x/", { files: 2 })]);
		const rows = visibleNodes(tree, new Set(["x"]));
		assert.deepEqual(
			rows.map((node) => `${node.kind} ${node.depth} ${node.name}`),
			["folder 0 x", "file 1 y.txt", "file 1 z"],
		);
		assert.equal(rows[0].kind === "folder" && rows[0].folderIndex, 0);
	});

	it("gathers a folder's files under it, unfinished ones only, at the first one's place", () => {
		const folders: FolderTransferState[] = [folderTransfer("docs"), folderTransfer("later")];
		const rows = transferList(
			[
				transfer("solo.bin"),
				transfer("docs/a.txt", { folder: "docs", status: "complete" }),
				transfer("other.bin"),
				transfer("docs/b.txt", { folder: "docs" }),
				transfer("docs/c.txt", { folder: "docs", status: "waiting" }),
			],
			folders,
		);
		assert.deepEqual(
			rows.map((row) =>
				row.kind === "folder"
					? `folder ${row.folder.path} (${row.files.length})`
					: `${row.branch ?? ""}${row.label ?? row.transfer.name}`,
			),
			["solo.bin", "folder docs (3)", "├ b.txt", "└ c.txt", "other.bin", "folder later (0)"],
		);
	});
});

describe("folder downloads in the Transfers pane", () => {
	it("shows one row with the whole folder's progress and its active files under it", async (t) => {
		const store = new FakeStore(
			network({
				transfers: [
					transfer("movie.mkv"),
					transfer("docs/guide.md", { folder: "docs", status: "complete", bytesDone: 1000 }),
					transfer("docs/nested/deep notes.txt", {
						folder: "docs",
						speed: 2_000_000,
						peers: 2,
					}),
					transfer("docs/big.iso", { folder: "docs", status: "waiting", peers: 0 }),
				],
				folderTransfers: [
					folderTransfer("docs", {
						files: 3,
						filesDone: 1,
						size: 4 * MiB,
						bytesDone: 1 * MiB,
					}),
				],
			}),
		);
		const app = mount(t, store);
		await app.waitForText("▾ docs/");
		const frame = app.frame();
		assert.match(frame, /Transfers \(2\)/);
		assert.match(
			lineWith(frame, "▾ docs/"),
			/▾ docs\/\s+\[##--------\]\s+25%\s+2\.0 MB\/s\s+2s\s+2 1\/3 files · 1\.0\/4\.0 MiB/,
		);
		assert.match(
			lineWith(frame, "deep notes"),
			/│ {2}├ nested\/deep notes\.txt\s+\[#####-----\]\s+50%/,
		);
		assert.match(lineWith(frame, "big.iso"), /│ {2}└ big\.iso\s+.*waiting for peers/);
		assert.doesNotMatch(frame, /guide\.md/);
		assert.ok(frame.indexOf("movie.mkv") < frame.indexOf("▾ docs/"));
		// The rows are selectable like any other.
		app.stdin.write(KEY.tab);
		await app.waitForSelected("movie.mkv");
		app.stdin.write("j");
		await app.waitForSelected("▾ docs/");
		app.stdin.write("j");
		await app.waitForSelected("├ nested/deep notes.txt");
	});

	it("says done or failed on the folder's row", async (t) => {
		const store = new FakeStore(
			network({
				folderTransfers: [
					folderTransfer("docs", { status: "complete", filesDone: 3, bytesDone: 3000 }),
					folderTransfer("empty-dir", {
						status: "failed",
						error: "disk full writing /srv/dl/empty-dir/x; retry to resume",
					}),
				],
			}),
		);
		const app = mount(t, store);
		await app.waitForText("▾ docs/");
		await app.resize(120, 24);
		assert.match(lineWith(app.frame(), "▾ docs/"), /\[##########\]\s+100%\s+done · 3 files\s+│$/);
		assert.match(
			lineWith(app.frame(), "▾ empty-dir/"),
			/failed: disk full writing .*retry to resume/,
		);
	});
});

describe("indexing in the status line", () => {
	it("shows files and bytes indexed while indexing, and goes when done", async (t) => {
		const indexing = {
			filesDone: 1234,
			filesTotal: 10_000,
			bytesDone: 1.2 * 1024 ** 3,
			bytesTotal: 9.8 * 1024 ** 3,
			done: false,
		};
		const store = new FakeStore(network({ indexing }));
		const app = mount(t, store);
		await app.waitForText("indexing");
		const status = () => app.frame().split("\n").at(-1) ?? "";
		assert.match(status(), /^indexing 1,234\/10,000 files · 1\.2\/9\.8 GiB · ali/);
		store.set(
			network({
				indexing: { ...indexing, filesDone: 10_000, bytesDone: 9.8 * 1024 ** 3, done: true },
			}),
		);
		await app.waitForGone("indexing");
		assert.match(status(), /^alice · share/);
	});
});

describe("layouts with folders, search and folder downloads", () => {
	for (const [columns, rows] of [
		[80, 24],
		[200, 60],
	]) {
		it(`keeps every line exactly ${columns} columns wide and ${rows} rows high`, async (t) => {
			const store = new FakeStore(
				network({
					files: [
						...network().files,
						file("a/very/deep/folder/structure/with/a/rather-long-file-name-indeed.tar.gz"),
					],
					transfers: [
						transfer("docs/nested/deep notes.txt", { folder: "docs" }),
						transfer("a-very-long-movie-name-of-the-summer-holidays.mkv"),
					],
					folderTransfers: [folderTransfer("docs", { size: 400 * MiB, bytesDone: 100 * MiB })],
					indexing: { filesDone: 1, filesTotal: 2, bytesDone: 1, bytesTotal: 2, done: false },
				}),
			);
			const app = mount(t, store);
			await app.waitForText("▸ docs/");
			await app.resize(columns, rows);
			const check = () => {
				const lines = app.frame().split("\n");
				assert.equal(lines.length, rows);
				for (const line of lines) assert.equal(line.length, columns, line);
			};
			check();
			// Open every folder down the long path (a/very/deep/…), waiting for each to open.
			for (const name of ["a", "very", "deep", "folder", "structure", "with", "a"]) {
				await app.waitForSelected(`▸ ${name}/`);
				app.stdin.write("l");
				await app.waitForSelected(`▾ ${name}/`);
				app.stdin.write("j");
			}
			await app.waitForSelected("rather-lo");
			check();
			app.stdin.write("/");
			app.stdin.write("rather long");
			await app.waitForText(/1 match/);
			await app.waitForSelected("a/very/");
			check();
		});
	}
});

/** A stand-in for a running peer: the store only calls these and listens to events. */
class FakePeer extends EventEmitter {
	self = () => network().self;
	peers = () => [];
	files = () => [];
	folders = () => [];
	transfers = () => [];
	folderTransfers = () => [];
	indexProgress = () => network().indexing;
	rates = () => network().rates;
	limits = () => network().limits;
	pendingOffers = () => [];
	downloadFolder = async (path: string) => {
		throw new Error(`no folder ${path}`);
	};
}

describe("the peer store's messages for folder downloads", () => {
	it("says when a folder download completes or fails", async (t) => {
		const peer = new FakePeer();
		const store = createPeerStore(peer as unknown as Peer, () => {}, 1);
		t.after(() => store.close());
		const done = folderTransfer("docs", { status: "complete", target: "/srv/dl/docs" });
		peer.emit("folder-complete", done);
		await waitUntil(
			() => store.getSnapshot().message === "folder downloaded: /srv/dl/docs",
			() => `the complete message, got ${store.getSnapshot().message}`,
		);
		peer.emit("folder-failed", { ...done, status: "failed", error: "no peer has docs/a.txt" });
		await waitUntil(
			() => store.getSnapshot().message === "folder download failed: docs: no peer has docs/a.txt",
			() => `the failed message, got ${store.getSnapshot().message}`,
		);
		store.dispatch({ type: "download-folder", path: "nope" });
		await waitUntil(
			() => store.getSnapshot().message === "no folder nope",
			() => `the dispatch error, got ${store.getSnapshot().message}`,
		);
	});
});
