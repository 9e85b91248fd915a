/**
 * The commands of issue 16: `send` (offer files or a text to one peer), `trust` and
 * `untrust` (the stored list of peers whose offers are accepted without asking), and the
 * offer and text events `serve` prints.
 */
import dns from "node:dns/promises";
import { isIP } from "node:net";
import path from "node:path";
import { parsePeerAddress } from "../discovery/peer-address.js";
import { OperationError, UsageError } from "../errors.js";
import type { ControlServer } from "../peer/control.js";
import type { IncomingOffer, TextMessage } from "../peer/offers.js";
import { type OfferPolicy, Peer, type PeerOptions } from "../peer/peer.js";
import type { PeerRecord } from "../peer/types.js";
import { printable } from "../protocol/names.js";
import type { Output } from "./commands.js";
import { ask, type Route } from "./control-client.js";
import { storedSettings, storeTrust } from "./settings.js";

/** Default `--wait` of `send`: how long an offer waits for an answer, in ms. */
export const SEND_WAIT_MS = 120_000;
/** Longest `send` waits for the receiver to be heard on the network, in ms. */
const FIND_MS = 15_000;

/** What `send` is asked to do. */
export interface SendRequest {
	to: string;
	/** Paths to offer, or none with `text`. */
	paths: string[];
	/** A text instead of files (`-`: read standard input). */
	text?: string;
	/** The offer's note. */
	message?: string;
	/** ms to wait for an answer (default {@link SEND_WAIT_MS}). */
	wait?: number;
	json: boolean;
}

async function readStdin(): Promise<string> {
	const chunks: Buffer[] = [];
	let size = 0;
	for await (const chunk of process.stdin) {
		const b = Buffer.from(chunk as Buffer);
		size += b.length;
		if (size > 64 * 1024) throw new UsageError("a text is at most 64 KiB");
		chunks.push(b);
	}
	return Buffer.concat(chunks).toString("utf8");
}

/**
 * The IP addresses `--to` names when it is `HOST[:PORT]` (an IP literal, or a name with a
 * dot or a port): that host is named as a peer (a hello goes to it) and a peer heard from
 * one of these addresses is the receiver. Undefined for a peer name or id.
 */
async function addressesOf(peer: Peer, query: string): Promise<Set<string> | undefined> {
	if (!/[.:[]/.test(query)) return undefined;
	let host: string;
	try {
		host = parsePeerAddress(query, peer.self().discoveryPort).host;
	} catch {
		return undefined;
	}
	try {
		peer.addPeer(query);
		const found = isIP(host) ? [{ address: host }] : await dns.lookup(host, { all: true });
		return new Set(found.map((a) => a.address));
	} catch {
		return undefined;
	}
}

/** Waits until discovery hears the peer named `query` (name, id, id prefix, HOST[:PORT]). */
async function findReceiver(peer: Peer, query: string, wait: number): Promise<PeerRecord> {
	const deadline = Date.now() + Math.min(wait, FIND_MS);
	const addresses = await addressesOf(peer, query);
	for (;;) {
		const found = peer.findPeer(query);
		if (found) return found;
		if (addresses) {
			const at = peer
				.peers()
				.filter((p) => p.addresses.some((a) => addresses.has(a.split("%")[0])));
			if (at.length > 1)
				throw new OperationError(
					`${at.length} peers at ${query}: ${at.map((p) => p.id.slice(0, 16)).join(", ")}; give an id`,
					"AMBIGUOUS",
				);
			if (at.length === 1) return at[0];
		}
		if (Date.now() >= deadline)
			throw new OperationError(
				`no peer ${JSON.stringify(query)} heard on the network`,
				"NOT_FOUND",
			);
		await new Promise((resolve) => setTimeout(resolve, 50));
	}
}

/**
 * `send`: offers files and folders to one peer and follows the receiver's download to the
 * end (progress on stderr; one line, or one JSON object, on stdout), or sends a text and
 * waits for its acknowledgement.
 * @throws OperationError (exit 1) when declined, refused, unanswered or failed;
 *   UsageError (exit 2) for paths that cannot be offered
 */
export async function send(options: PeerOptions, request: SendRequest, io: Output): Promise<void> {
	const peer = await Peer.start(options);
	try {
		await sendOn(peer, request, io);
	} finally {
		await peer.stop();
	}
}

/**
 * The request with its text read: standard input for `--text -` (read once, before the
 * command picks the running peer or a peer of its own).
 * @throws UsageError when standard input holds over 64 KiB
 */
export async function withText(request: SendRequest): Promise<SendRequest> {
	return request.text === "-" ? { ...request, text: await readStdin() } : request;
}

/**
 * `send` through the running peer of the settings folder (see `ControlServer`): the offer
 * goes out under its lasting identity, its lines come back here. Paths are made absolute
 * first (the peer has another working folder).
 * @returns false when no peer runs there (run standalone)
 */
export async function sendVia(route: Route, request: SendRequest, io: Output): Promise<boolean> {
	const answer = await ask(
		route.dir,
		{
			type: "send",
			expect: route.expect,
			to: request.to,
			paths: request.paths.map((p) => path.resolve(p)),
			text: request.text,
			message: request.message,
			wait: request.wait,
			json: request.json,
		},
		(m) => {
			if (typeof m.text !== "string") return;
			if (m.type === "out") io.out(m.text);
			else if (m.type === "err") io.err(m.text);
		},
	);
	return answer !== undefined;
}

/** Lets commands `send` through this running peer: the control socket's `send` request. */
export function handleSend(server: ControlServer): void {
	server.handle("send", async (request, reply) => {
		const strings = (v: unknown) =>
			Array.isArray(v) && v.every((x) => typeof x === "string") ? (v as string[]) : undefined;
		const paths = strings(request.paths);
		const optional = (v: unknown) => (typeof v === "string" ? v : undefined);
		if (typeof request.to !== "string" || !paths || (request.text === undefined && !paths.length))
			throw new UsageError("send needs to and paths or text", "BAD_REQUEST");
		await sendOn(
			server.peer,
			{
				to: request.to,
				paths,
				text: optional(request.text),
				message: optional(request.message),
				wait: typeof request.wait === "number" ? request.wait : undefined,
				json: request.json === true,
			},
			{
				out: (text) => reply.send({ type: "out", text }),
				err: (text) => reply.send({ type: "err", text }),
			},
		);
		return {};
	});
}

/** `send` on a running peer: finds the receiver, offers (or sends the text), follows it. */
async function sendOn(peer: Peer, request: SendRequest, io: Output): Promise<void> {
	const wait = request.wait ?? SEND_WAIT_MS;
	const text = request.text;
	const receiver = await findReceiver(peer, request.to, wait);
	const who = printable(receiver.name);
	if (text !== undefined) {
		await peer.sendText(receiver.id, text, wait);
		if (request.json)
			io.out(
				JSON.stringify({ event: "delivered", peer: receiver.id, bytes: Buffer.byteLength(text) }),
			);
		else io.out(`delivered to ${who} (${Buffer.byteLength(text)} bytes)`);
		return;
	}
	if (!request.json)
		io.err(`offering to ${who} (${receiver.id.slice(0, 16)}); waiting for an answer`);
	let lastLine = 0;
	const started = Date.now();
	const result = await peer.sendOffer(receiver.id, request.paths, {
		note: request.message,
		wait,
		onUpdate: (u) => {
			if (request.json) return;
			if (u.kind === "answer") {
				if (u.status === 0) io.err(`${who} has the offer; waiting for a decision`);
				else if (u.status === 1) io.err(`${who} accepted`);
				return;
			}
			if (Date.now() - lastLine < 500 && u.state === 0) return;
			lastLine = Date.now();
			const pct = u.bytesTotal ? Math.floor((u.bytesDone / u.bytesTotal) * 100) : 100;
			io.err(
				`${who}: ${u.bytesDone}/${u.bytesTotal} bytes verified (${pct}%), ${u.filesDone} files`,
			);
		},
	});
	const seconds = (Date.now() - started) / 1000;
	if (request.json)
		io.out(
			JSON.stringify({
				event: "complete",
				peer: receiver.id,
				files: result.files,
				bytes: result.bytes,
				seconds,
			}),
		);
	else
		io.out(
			`${who} verified ${result.files} files (${result.bytes} bytes) in ${seconds.toFixed(2)} s`,
		);
}

/** `trust ID` / `untrust ID`: changes the stored list of trusted peer ids. */
export function trust(id: string, add: boolean, configDir: string | undefined, io: Output): void {
	const now = storeTrust(id, add, configDir);
	const clean = id.toLowerCase().replace(/\s+/g, "");
	io.out(
		add
			? `trusted ${clean}: its offers are accepted without asking (${now.length} trusted)`
			: `no longer trusted: ${clean} (${now.length} trusted)`,
	);
}

/**
 * The offer policy of a run: `--accept-all`, `--accept-from` and the stored trusted ids;
 * headless (`serve`) declines the rest, the TUI asks.
 */
export function offerPolicy(
	flags: { acceptAll?: boolean; acceptFrom?: string[]; configDir?: string },
	headless: boolean,
): OfferPolicy {
	const trusted = storedSettings(flags.configDir).trusted ?? [];
	return {
		acceptAll: flags.acceptAll ?? false,
		acceptFrom: [...(flags.acceptFrom ?? []).map((id) => id.toLowerCase()), ...trusted],
		declineOthers: headless,
	};
}

/** The JSON fields of an offer event. */
function offerFields(offer: IncomingOffer): Record<string, unknown> {
	return {
		offer: offer.key,
		peer: offer.from,
		name: offer.fromName,
		fingerprint: offer.fingerprint,
		status: offer.status,
		files: offer.files,
		size: offer.totalSize,
		entries: offer.entries.map((e) => ({ name: e.name, size: e.size, folder: e.folder })),
		...(offer.note ? { note: offer.note } : {}),
		...(offer.reason ? { reason: offer.reason } : {}),
	};
}

/**
 * Prints a peer's offer and text events through `emit` (`serve`): `offer` when one
 * arrives, `offer-<status>` as it moves on, `text` for a message.
 */
export function reportOffers(
	peer: Peer,
	emit: (event: string, fields: Record<string, unknown>, text: string) => void,
): void {
	peer.on("offer-received", (o) =>
		emit(
			"offer",
			offerFields(o),
			`offer from ${o.fromName} (${o.fingerprint}): ${o.files} files, ${o.totalSize} bytes${o.note ? `: ${o.note}` : ""}`,
		),
	);
	peer.on("offer-updated", (o) =>
		emit(
			`offer-${o.status}`,
			offerFields(o),
			`offer from ${o.fromName} ${o.status}${o.reason ? `: ${o.reason}` : ""}`,
		),
	);
	peer.on("text-received", (m: TextMessage) =>
		emit(
			"text",
			{
				peer: m.from,
				name: m.fromName,
				fingerprint: m.fingerprint,
				text: m.text,
				at: m.receivedAt,
			},
			`text from ${m.fromName} (${m.fingerprint}): ${m.text}`,
		),
	);
}
