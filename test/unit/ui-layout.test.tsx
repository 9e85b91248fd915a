import assert from "node:assert/strict";
import { describe, it } from "node:test";
import type { NetworkFile, PeerRecord, Snapshot, TransferState } from "../../source/peer/types.js";
import { displayWidth } from "../../source/ui/format.js";
import { computeLayout } from "../../source/ui/layout.js";
import {
	fileHeader,
	fileRow,
	peerLines,
	statusLineText,
	transferHeader,
	transferRow,
	transferSources,
	transferStatusText,
} from "../../source/ui/rows.js";

const ports = { receive: 45460, send: 45461, distribute: 45462, distributee: 45463 };

const peer: PeerRecord = {
	id: "a".repeat(32),
	name: "bob-with-a-rather-long-machine-name",
	address: "192.168.100.200",
	addresses: ["192.168.100.200"],
	found: "lan",
	ports,
	files: 12,
	revision: 3,
	lastSeen: 1_000_000,
	interval: 2000,
};

const file: NetworkFile = {
	id: "f".repeat(64),
	name: "holiday-photos-2024-summer-with-family.tar.gz",
	size: 1.5 * 1024 ** 3,
	contentHash: "c".repeat(64),
	peers: ["p1", "p2"],
};

function transfer(overrides: Partial<TransferState>): TransferState {
	return {
		fileId: "f".repeat(64),
		name: "movie.mkv",
		size: 1000,
		bytesDone: 470,
		verifiedPieces: 1,
		totalPieces: 2,
		speed: 1_234_567,
		peers: 2,
		fromSeeders: 0,
		fromDistribution: 0,
		resumedBytes: 0,
		bannedPeers: [],
		hashFailures: 0,
		status: "downloading",
		...overrides,
	};
}

const MiB = 1024 ** 2;
const DISK_FULL =
	"disk full writing /home/alice/Downloads/movie.mkv; the partial download is kept, retry to resume";

describe("computeLayout", () => {
	it("fills an 80x24 terminal exactly", () => {
		const layout = computeLayout(80, 24);
		assert.equal(layout.peers.width + layout.files.width, 80);
		assert.equal(layout.transfers.width, 80);
		assert.equal(layout.peers.height, layout.files.height);
		assert.equal(layout.peers.height + layout.transfers.height + 1, 24);
		assert.equal(layout.peers.width, Math.floor(80 / 3));
	});

	it("counts the list items that fit in each pane", () => {
		const layout = computeLayout(80, 24);
		const topBody = layout.peers.height - 2;
		assert.equal(layout.peerItems, Math.floor(topBody / 2));
		assert.equal(layout.fileItems, topBody - 1);
		assert.equal(layout.transferItems, layout.transfers.height - 3);
		assert.ok(layout.transferItems >= 3);
	});

	it("keeps every pane usable on a tiny terminal", () => {
		const layout = computeLayout(10, 3);
		assert.ok(layout.peers.width >= 16 && layout.files.width >= 16);
		assert.ok(layout.fileItems >= 1 && layout.transferItems >= 1 && layout.peerItems >= 1);
	});
});

describe("row text", () => {
	for (const width of [20, 24, 40, 78, 98, 110, 111, 120, 198]) {
		it(`fits every row to ${width} columns`, () => {
			const lines = [
				...peerLines(peer, 1_003_000, width, true),
				...peerLines({ ...peer, banned: true }, 1_003_000, width, false),
				fileHeader(width),
				fileRow(file, width, false),
				transferHeader(width),
				transferRow(transfer({}), width, true),
				transferRow(transfer({ status: "failed", error: "x".repeat(200) }), width, false),
				transferRow(transfer({ status: "failed", error: DISK_FULL }), width, false),
				transferRow(transfer({ status: "waiting", fromSeeders: 1e12 }), width, false),
				transferRow(
					transfer({ fromSeeders: 1023.99 * MiB, fromDistribution: 5e12, resumedBytes: 9e11 }),
					width,
					false,
				),
			];
			for (const line of lines) {
				assert.equal(displayWidth(line), width, JSON.stringify(line));
			}
		});
	}

	it("shows the peer's files, address with receive port and age", () => {
		const [first, second] = peerLines({ ...peer, name: "bob" }, 1_003_000, 30, false);
		assert.match(first, /^ {2}bob\s+12 files$/);
		assert.match(second, /^ {2}192\.168\.100\.200:45460\s+3s$/);
	});

	it("says a banned peer is banned, beside its file count when there is room", () => {
		const banned = { ...peer, name: "mallory", banned: true };
		assert.match(peerLines(banned, 1_003_000, 40, false)[0], /^ {2}mallory\s+banned · 12 files$/);
		// The Peers pane of an 80-column terminal: 24 columns inside.
		assert.match(peerLines(banned, 1_003_000, 24, false)[0], /^ {2}mallory\s+banned$/);
		assert.doesNotMatch(peerLines(peer, 1_003_000, 40, false)[0], /banned/);
	});

	it("marks the highlighted row", () => {
		assert.ok(fileRow(file, 60, true).startsWith("› "));
		assert.ok(fileRow(file, 60, false).startsWith("  "));
	});

	it("right-aligns the size and counts the peers of a file", () => {
		const row = fileRow({ ...file, name: "a.txt", size: 512 }, 40, false);
		assert.match(row, /^ {2}a\.txt\s+512 B\s+2$/);
		assert.equal(row.indexOf("512 B") + 5, fileHeader(40).indexOf("Size") + 4);
	});

	it("shows bar, percent, speed and peers of a download", () => {
		const row = transferRow(transfer({}), 78, false);
		// 530 bytes left at 1.2 MB/s: 1 s; 2 peers; pieces in the status cell at 78 columns.
		assert.match(row, /movie\.mkv\s+\[####------\]\s+47%\s+1\.2 MB\/s\s+1s\s+2 1\/2 pcs\s*$/);
		assert.match(transferHeader(78), /Name\s+Progress\s+Done\s+Speed\s+ETA\s+Peers\s+Status/);
	});

	it("shows where the bytes came from in their own column when the pane is wide", () => {
		const moving = transfer({ fromSeeders: 120 * MiB, fromDistribution: 80 * MiB });
		assert.equal(transferSources(moving), "S 120.0 MiB · D 80.0 MiB");
		assert.equal(transferSources(transfer({})), "");
		const header = transferHeader(198);
		const row = transferRow(moving, 198, false);
		assert.match(header, /ETA Peers\s+Pieces S seeders · D distribution\s+Status/);
		assert.match(row, /\s2\s+1\/2 S 120\.0 MiB · D 80\.0 MiB\s*$/);
		assert.equal(row.indexOf("1/2") + 3, header.indexOf("Pieces") + 6);
		assert.equal(row.indexOf("S 120.0"), header.indexOf("S seeders"));
		const done = transferRow({ ...moving, status: "complete", bytesDone: 1000 }, 198, false);
		assert.match(done, /S 120\.0 MiB · D 80\.0 MiB\s+done\s*$/);
	});

	it("shows compact sources in the status cell of a narrow pane, or nothing", () => {
		const moving = transfer({ fromSeeders: 120 * MiB, fromDistribution: 80 * MiB });
		assert.doesNotMatch(transferHeader(78), /seeders/);
		// At 78 columns the pieces take the status cell; at 90 the sources fit beside them.
		assert.match(transferRow(moving, 78, false), /\s2 1\/2 pcs\s*$/);
		assert.match(transferRow(moving, 90, false), /\s2 1\/2 pcs · S 120M D 80M\s*$/);
		const resumed = transferRow({ ...moving, resumedBytes: 40 * MiB }, 90, false);
		assert.match(resumed, /\s2 1\/2 pcs · S 120M D 80M\s*$/);
		const wide = transferRow({ ...moving, resumedBytes: 40 * MiB }, 198, false);
		assert.match(wide, /D 80\.0 MiB\s+resumed 40\.0 MiB\s*$/);
		// Too little room for the sources: the row keeps its width and shows none.
		assert.match(transferRow(moving, 60, false), /\s2 1\/2 pcs$/);
	});

	it("spans a failure's message over speed, peers and status, cut in the middle", () => {
		const failed = transfer({ status: "failed", fromSeeders: 70 * MiB, error: DISK_FULL });
		const narrow = transferRow(failed, 78, false);
		assert.match(narrow, /47% failed: disk full … retry to resume\s*$/);
		const wide = transferRow(failed, 198, false);
		assert.match(
			wide,
			/47% failed: disk full writing \/home\/alice\/Downloads\/movie\.mkv; the partial/,
		);
		assert.match(wide, /retry to resume\s*$/);
	});

	it("keeps waiting for peers whole at 80 columns", () => {
		const row = transferRow(transfer({ status: "waiting", peers: 0, speed: 0 }), 78, false);
		assert.match(row, /\s0 waiting for peers\s*$/);
	});

	it("shows a full bar and done for a complete download", () => {
		const row = transferRow(transfer({ status: "complete", bytesDone: 1000 }), 78, false);
		assert.match(row, /\[##########\]\s+100%\s+done/);
		assert.doesNotMatch(row, /MB\/s/);
	});
});

describe("transferStatusText", () => {
	it("names every status but downloading", () => {
		assert.equal(transferStatusText(transfer({ status: "downloading" })), "");
		assert.equal(
			transferStatusText(transfer({ status: "downloading", resumedBytes: 40 * MiB })),
			"resumed 40.0 MiB",
		);
		assert.equal(
			transferStatusText(transfer({ status: "starting", resumedBytes: 40 * MiB })),
			"resuming 40.0 MiB",
		);
		assert.equal(transferStatusText(transfer({ status: "starting" })), "starting");
		assert.equal(transferStatusText(transfer({ status: "waiting" })), "waiting for peers");
		assert.equal(
			transferStatusText(transfer({ status: "waiting", error: "disk full: waiting for space" })),
			"disk full: waiting for space",
		);
		assert.equal(transferStatusText(transfer({ status: "verifying" })), "verifying");
		assert.equal(transferStatusText(transfer({ status: "complete" })), "done");
		assert.equal(
			transferStatusText(transfer({ status: "failed", error: "hash mismatch" })),
			"failed: hash mismatch",
		);
	});
});

describe("statusLineText", () => {
	const snapshot: Snapshot = {
		self: {
			id: "s",
			fingerprint: "0000 0000 0000 0000",
			ephemeral: false,
			name: "alice",
			shareDir: "/srv/share",
			downloadsDir: "/srv/dl",
			ports,
			discoveryPort: 45459,
			sharedFiles: 0,
			seededFiles: 0,
		},
		peers: [],
		files: [],
		folders: [],
		transfers: [],
		folderTransfers: [],
		indexing: { filesDone: 0, filesTotal: 0, bytesDone: 0, bytesTotal: 0, done: true },
		rates: { down: 0, up: 0 },
		limits: { maxDown: null, maxUp: null, maxActive: 3 },
	};

	it("shows name, folders and keys in exactly the width", () => {
		const { info, keys } = statusLineText(snapshot, 100);
		assert.equal(displayWidth(info) + displayWidth(keys), 100);
		assert.match(info, /^alice · share \/srv\/share · downloads \/srv\/dl\s*$/);
		assert.equal(keys.trim(), "Tab pane  Enter download  / search  ? help  q quit");
	});

	it("shows every key at 200 columns and the essential ones at 80", () => {
		assert.equal(
			statusLineText(snapshot, 200).keys.trim(),
			"Tab pane  ↑↓/jk move  →←/lh open/close  Enter download  / search  i info  ? help  q quit",
		);
		assert.equal(statusLineText(snapshot, 80).keys.trim(), "Enter download  / search  ? help");
	});

	it("shows indexing progress first while the shared folder is indexed", () => {
		const indexing = {
			...snapshot,
			message: "peer joined: bob",
			indexing: {
				filesDone: 1234,
				filesTotal: 10_000,
				bytesDone: 1.2 * 1024 ** 3,
				bytesTotal: 9.8 * 1024 ** 3,
				done: false,
			},
		};
		for (const width of [80, 120, 200]) {
			const { info, keys } = statusLineText(indexing, width);
			assert.equal(displayWidth(info) + displayWidth(keys), width);
			assert.ok(info.startsWith("indexing 1,234/10,000 files · 1.2/9.8 GiB"), info);
			if (width >= 200) assert.ok(info.includes("GiB · peer joined: bob · alice"), info);
		}
		const done = statusLineText(
			{ ...indexing, indexing: { ...indexing.indexing, done: true } },
			120,
		);
		assert.doesNotMatch(done.info, /indexing/);
	});

	it("puts the message first", () => {
		const { info } = statusLineText({ ...snapshot, message: "download complete: a.txt" }, 120);
		assert.ok(info.startsWith("download complete: a.txt · alice"), info);
	});

	it("truncates at 80 columns instead of wrapping", () => {
		const long = { ...snapshot, message: "m".repeat(100) };
		const { info, keys } = statusLineText(long, 80);
		assert.equal(displayWidth(info) + displayWidth(keys), 80);
		assert.ok(info.trimEnd().endsWith("…"));
	});
});
