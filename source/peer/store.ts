/**
 * The store a view reads: snapshots of a `Peer`, rebuilt when the peer emits and handed
 * out at most every `throttleMs` (so a burst of piece events costs a few renders, not
 * thousands). Intents from the view are turned into calls on the peer.
 */
import type { TextMessage } from "./offers.js";
import type { Peer, PeerEvents } from "./peer.js";
import type { Intent, Limits, Snapshot, Store } from "./types.js";

/** A store bound to a running peer; `close()` stops listening. */
export interface PeerStore extends Store {
	close(): void;
}

/**
 * Creates the store of a peer.
 * @param peer - the running peer
 * @param onQuit - called once on the `quit` intent (the caller stops the peer)
 * @param throttleMs - least time between two snapshots, in ms (default 100)
 */
export function createPeerStore(peer: Peer, onQuit: () => void, throttleMs = 100): PeerStore {
	const listeners = new Set<() => void>();
	let message: string | undefined;
	/** Texts received and not dismissed yet (at most 32 kept: the oldest go first). */
	let texts: TextMessage[] = [];
	let snapshot = build();
	let timer: NodeJS.Timeout | undefined;
	let quitting = false;

	function build(): Snapshot {
		return {
			self: peer.self(),
			peers: peer.peers(),
			files: peer.files(),
			folders: peer.folders(),
			transfers: peer.transfers(),
			folderTransfers: peer.folderTransfers(),
			indexing: peer.indexProgress(),
			message,
			rates: peer.rates(),
			limits: peer.limits(),
			networkKey: peer.keyed,
			offers: peer.pendingOffers(),
			texts,
		};
	}

	function changed(): void {
		if (timer) return;
		timer = setTimeout(() => {
			timer = undefined;
			snapshot = build();
			for (const l of listeners) l();
		}, throttleMs);
	}

	const say = (text: string) => {
		message = text;
		changed();
	};
	const offs: (() => void)[] = [];
	function listen<K extends keyof PeerEvents>(event: K, handler: (...args: PeerEvents[K]) => void) {
		peer.on(event, handler as never);
		offs.push(() => peer.off(event, handler as never));
	}
	listen("peer-joined", (p) => say(`peer joined: ${p.name}`));
	listen("peer-left", (p, why) => say(`peer left: ${p.name} (${why})`));
	listen("peer-updated", changed);
	listen("files-changed", changed);
	// The first index's publications are no news; later ones are a re-index of the folder.
	let indexedOnce = peer.indexProgress().done;
	listen("library-changed", (files, reindexed) => {
		if (indexedOnce && reindexed) say(`shared folder re-indexed: ${files} files`);
		else changed();
	});
	listen("download-started", (t) =>
		say(t.status === "queued" ? `queued ${t.name}` : `downloading ${t.name}`),
	);
	listen("download-dequeued", (t) => say(`downloading ${t.name}`));
	listen("download-paused", (t) => say(`paused ${t.name}`));
	listen("download-resumed", (t) =>
		say(t.status === "queued" ? `resumed ${t.name} (queued)` : `resumed ${t.name}`),
	);
	listen("download-cancelled", (t, keep) =>
		say(`cancelled ${t.name} (${keep ? "partial kept" : "partial deleted"})`),
	);
	listen("hash-failure", (t, piece) =>
		say(`verification failed: ${t.name} piece ${piece}, fetching it again`),
	);
	listen("peer-banned", (id, p) => say(`peer banned: ${p?.name ?? id.slice(0, 8)} (bad pieces)`));
	listen("limits-changed", (limits) => say(`limits: ${describeLimits(limits)}`));
	listen("download-progress", changed);
	listen("download-complete", (t) => say(`download complete: ${t.path ?? t.name}`));
	listen("download-failed", (t) => say(`download failed: ${t.name}: ${t.error}`));
	listen("index-progress", (progress) => {
		if (progress.done) indexedOnce = true;
		changed();
	});
	listen("offer-received", (o) =>
		say(`offer from ${o.fromName}: ${o.files} files, ${o.totalSize} bytes (y accept, n decline)`),
	);
	listen("offer-updated", (o) =>
		say(`offer from ${o.fromName}: ${o.status}${o.reason ? ` (${o.reason})` : ""}`),
	);
	listen("text-received", (m) => {
		texts = [...texts, m].slice(-32);
		say(`message from ${m.fromName}`);
	});
	listen("folder-progress", changed);
	listen("folder-complete", (f) => say(`folder downloaded: ${f.target}`));
	listen("folder-failed", (f) =>
		say(`folder download failed: ${f.path}: ${f.error ?? "unknown error"}`),
	);
	/** Runs a synchronous call on the peer; its error becomes the message. */
	const attempt = (call: () => unknown) => {
		try {
			call();
		} catch (error) {
			say(error instanceof Error ? error.message : String(error));
		}
	};
	// Ages in the peers pane and rates move with time even when nothing else does.
	const clock = setInterval(changed, 1_000);
	clock.unref();

	return {
		getSnapshot: () => snapshot,
		subscribe(listener) {
			listeners.add(listener);
			return () => listeners.delete(listener);
		},
		dispatch(intent: Intent) {
			if (intent.type === "download") {
				peer
					.download(intent.fileId, { name: intent.name, inOrder: intent.inOrder })
					.catch((error: Error & { code?: string }) => {
						// A cancel says so itself (with what became of the partial file).
						if (error.code !== "CANCELLED") say(error.message);
					});
			} else if (intent.type === "download-folder") {
				peer.downloadFolder(intent.path).catch((error: Error) => say(error.message));
			} else if (intent.type === "pause") {
				peer.pause(intent.fileId).catch((error: Error) => say(error.message));
			} else if (intent.type === "resume") {
				attempt(() => peer.resume(intent.fileId));
			} else if (intent.type === "cancel") {
				peer
					.cancel(intent.fileId, { keepPartial: intent.keepPartial })
					.catch((error: Error) => say(error.message));
			} else if (intent.type === "set-limits") {
				attempt(() => peer.setLimits(intent.limits));
			} else if (intent.type === "set-network-key") {
				attempt(() => peer.setNetworkKey(intent.secret ?? undefined));
			} else if (intent.type === "accept-offer") {
				peer.acceptOffer(intent.key).catch((error: Error) => say(error.message));
				changed();
			} else if (intent.type === "decline-offer") {
				attempt(() => peer.declineOffer(intent.key));
				changed();
			} else if (intent.type === "dismiss-text") {
				texts = texts.filter((t) => t.key !== intent.key);
				changed();
			} else if (intent.type === "add-peer") {
				attempt(() => say(`peer named: ${peer.addPeer(intent.address)}`));
			} else if (intent.type === "quit" && !quitting) {
				quitting = true;
				onQuit();
			}
		},
		close() {
			clearInterval(clock);
			clearTimeout(timer);
			for (const off of offs) off();
			listeners.clear();
		},
	};
}

/** Limits in a few words, rates in KB/s as the command line takes them. */
export function describeLimits(limits: Limits): string {
	const rate = (bps: number | null) =>
		bps === null ? "unlimited" : `${Math.round(bps / 1000)} KB/s`;
	return `down ${rate(limits.maxDown)}, up ${rate(limits.maxUp)}, ${limits.maxActive} active at once`;
}
