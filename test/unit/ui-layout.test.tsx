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
	transferStatusText,
} from "../../source/ui/rows.js";

const ports = { receive: 45460, send: 45461, distribute: 45462, distributee: 45463 };

const peer: PeerRecord = {
	id: "a".repeat(32),
	name: "bob-with-a-rather-long-machine-name",
	address: "192.168.100.200",
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
	for (const width of [20, 24, 40, 78, 120]) {
		it(`fits every row to ${width} columns`, () => {
			const lines = [
				...peerLines(peer, 1_003_000, width, true),
				fileHeader(width),
				fileRow(file, width, false),
				transferHeader(width),
				transferRow(transfer({}), width, true),
				transferRow(transfer({ status: "failed", error: "x".repeat(200) }), width, false),
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
		assert.match(row, /movie\.mkv\s+\[####------\]\s+47%\s+1\.2 MB\/s\s+2 peers\s*$/);
	});

	it("shows a full bar and done for a complete download", () => {
		const row = transferRow(transfer({ status: "complete", bytesDone: 1000 }), 78, false);
		assert.match(row, /\[##########\]\s+100%\s+2 peers done/);
		assert.doesNotMatch(row, /MB\/s/);
	});
});

describe("transferStatusText", () => {
	it("names every status but downloading", () => {
		assert.equal(transferStatusText(transfer({ status: "downloading" })), "");
		assert.equal(transferStatusText(transfer({ status: "starting" })), "starting");
		assert.equal(transferStatusText(transfer({ status: "waiting" })), "waiting for peers");
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
			name: "alice",
			shareDir: "/srv/share",
			downloadsDir: "/srv/dl",
			ports,
			discoveryPort: 45459,
			sharedFiles: 0,
		},
		peers: [],
		files: [],
		transfers: [],
	};

	it("shows name, folders and keys in exactly the width", () => {
		const { info, keys } = statusLineText(snapshot, 100);
		assert.equal(displayWidth(info) + displayWidth(keys), 100);
		assert.match(info, /^alice · share \/srv\/share · downloads \/srv\/dl\s*$/);
		assert.equal(keys.trim(), "Tab pane  ↑↓/jk move  Enter download  q quit");
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
