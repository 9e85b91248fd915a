/**
 * `p2p-tui doctor`: why do peers not see each other? Announces for about two intervals
 * on every interface (or the `--broadcast` addresses) and reports, on one screen or as
 * JSON: per interface its addresses, where announces go and whether our own announce came
 * back on it; which ports are bound (discovery over IPv4 and IPv6, the four transfer
 * ports); the peers heard and by which interface; whether the settings, shared and
 * downloads folders are usable; and, when nothing is heard, the usual causes in plain words.
 */
import fs from "node:fs";
import path from "node:path";
import { Discovery } from "../discovery/discovery.js";
import {
	type InterfaceSource,
	interfaceOf,
	LIMITED_BROADCAST,
	type NetInterface,
	readInterfaces,
	SYSTEM_INTERFACES,
} from "../discovery/interfaces.js";
import { formatEndpoint } from "../protocol/address.js";
import { Identity } from "../protocol/identity.js";
import { jsonText, printable } from "../protocol/names.js";
import { NetworkGuard } from "../protocol/seal.js";
import { DualSocket } from "../transfer/dual-socket.js";
import { DEFAULT_BASE_PORT } from "../transfer/engine.js";
import type { Output } from "./commands.js";
import type { Settings } from "./settings.js";

/** One interface in the report. */
export interface DoctorInterface {
	name: string;
	/** `up`, or why it is not used (`down`, `no carrier`...: Linux's operstate). */
	state: string;
	/** Its addresses with prefix length (`10.0.0.2/24`, `fe80::1/64`). */
	addresses: string[];
	/** Where our announces go on it (broadcast address, multicast group with scope). */
	targets: string[];
	/** Whether our own IPv4 announce came back from it (undefined: none sent there). */
	v4Back: boolean | undefined;
	/** Whether our own IPv6 announce came back from it (undefined: none sent there). */
	v6Back: boolean | undefined;
}

/** One port in the report. */
export interface DoctorPort {
	role: "discovery" | "receive" | "send" | "distribute" | "distributee";
	port: number;
	/** True: bound here (discovery) or free to bind (transfer); false: taken or refused. */
	v4: boolean;
	v6: boolean;
}

/** A folder check. */
export interface DoctorFolder {
	role: "settings" | "shared" | "downloads";
	path: string;
	ok: boolean;
	/** Why not, in words. */
	problem?: string;
}

/** What `doctor` found. */
export interface DoctorReport {
	discoveryPort: number;
	/** `every interface`, or the `--broadcast` addresses. */
	mode: string;
	/** How long it listened, in ms. */
	listened: number;
	interfaces: DoctorInterface[];
	/** Announce targets not on one interface (`255.255.255.255`: the default route decides). */
	routed: string[];
	ports: DoctorPort[];
	peers: { id: string; name: string; endpoint: string; iface: string | undefined }[];
	folders: DoctorFolder[];
	/** The interface of the IPv4 default route, when known. */
	defaultRoute: string | undefined;
	/** Plain-words causes when nothing was heard, or a problem was seen. */
	causes: string[];
}

/** Options of a doctor run. */
export interface DoctorOptions {
	settings: Settings;
	/** The settings file's path. */
	settingsFile: string;
	networkKey: string | Uint8Array | undefined;
	/** How long to listen in ms (default: two announce intervals and a bit). */
	wait?: number;
	/** Interfaces (tests inject a list). */
	interfaces?: InterfaceSource;
}

/**
 * Runs the checks (listening for about two announce intervals).
 * @throws UsageError `PORT_IN_USE` when the discovery port cannot be bound at all
 */
export async function diagnose(options: DoctorOptions): Promise<DoctorReport> {
	const { settings } = options;
	const source = options.interfaces ?? SYSTEM_INTERFACES;
	const wait = options.wait ?? 2 * settings.interval + 300;
	const back = new Set<string>();
	const discovery = await Discovery.start({
		// An identity of its own: doctor runs beside a TUI or serve on the same settings folder.
		identity: Identity.generate(true),
		port: settings.discoveryPort,
		broadcast: settings.broadcast,
		interval: settings.interval,
		interfaces: source,
		seal: new NetworkGuard(options.networkKey),
		describe: () => ({
			name: `${settings.name} (doctor)`.slice(0, 64),
			basePort: settings.basePort || DEFAULT_BASE_PORT,
			revision: 0,
			fileCount: 0,
		}),
	});
	const up = readInterfaces(source);
	discovery.on("self-heard", (from) => {
		const iface = interfaceOf(from, up);
		if (iface) back.add(`${iface}/${from.includes(":") ? 6 : 4}`);
	});
	await new Promise((resolve) => setTimeout(resolve, wait));
	const heard = discovery.peers();
	// A --broadcast address names no interface: the one whose broadcast address it is, if any.
	const targets = discovery.targets().map((t) => ({
		address: t.address,
		iface: t.iface ?? up.find((i) => i.v4.some((a) => a.broadcast === t.address))?.name,
	}));
	const bound = discovery.bound;
	await discovery.close();

	const interfaces: DoctorInterface[] = [];
	for (const iface of up) {
		const mine = targets.filter((t) => t.iface === iface.name).map((t) => t.address);
		const has4 = mine.some((t) => !t.includes(":"));
		const has6 = mine.some((t) => t.includes(":"));
		interfaces.push({
			name: iface.name,
			state: "up",
			addresses: addressesOf(iface),
			targets: mine,
			v4Back: has4 ? back.has(`${iface.name}/4`) : undefined,
			v6Back: has6 ? back.has(`${iface.name}/6`) : undefined,
		});
	}
	for (const [name, state] of downInterfaces(up))
		interfaces.push({ name, state, addresses: [], targets: [], v4Back: false, v6Back: false });
	const routed = targets.filter((t) => t.iface === undefined).map((t) => t.address);

	const ports: DoctorPort[] = [
		{ role: "discovery", port: settings.discoveryPort, v4: bound.v4, v6: bound.v6 },
		...(await transferPorts(settings.basePort || DEFAULT_BASE_PORT)),
	];
	const folders = checkFolders(settings, options.settingsFile);
	const peers = heard.map((p) => ({
		id: p.id,
		name: p.name,
		endpoint: formatEndpoint(p.address, p.ports.receive),
		iface: interfaceOf(p.address, up),
	}));
	const defaultRoute = defaultRouteInterface();
	const report: DoctorReport = {
		discoveryPort: settings.discoveryPort,
		mode: settings.broadcast.length ? settings.broadcast.join(", ") : "every interface",
		listened: wait,
		interfaces,
		routed,
		ports,
		peers,
		folders,
		defaultRoute,
		causes: [],
	};
	report.causes = causesOf(report, settings);
	return report;
}

function addressesOf(iface: NetInterface): string[] {
	const v4 = iface.v4.map((a) => `${a.address}/${maskBits(a.netmask)}`);
	const v6 = iface.v6.map((a) => `${a.address}/${a.prefix}`);
	return [...v4, ...v6];
}

function maskBits(netmask: string): number {
	return netmask
		.split(".")
		.reduce((n, part) => n + (Number(part) >>> 0).toString(2).split("1").length - 1, 0);
}

/** Interfaces Linux knows that are not up and running (with their operstate). */
function downInterfaces(up: NetInterface[]): [string, string][] {
	let names: string[];
	try {
		names = fs.readdirSync("/sys/class/net");
	} catch {
		return [];
	}
	const listed = new Set(up.map((i) => i.name));
	const down: [string, string][] = [];
	for (const name of names.sort()) {
		if (listed.has(name)) continue;
		let state = "down";
		try {
			const oper = fs.readFileSync(`/sys/class/net/${name}/operstate`, "utf8").trim();
			const carrier = fs.readFileSync(`/sys/class/net/${name}/carrier`, "utf8").trim();
			state = oper === "up" ? "up, no address" : carrier === "0" ? "no carrier" : oper;
		} catch {
			// Not readable while down: "down" it is.
		}
		down.push([name, state]);
	}
	return down;
}

/** Whether each of the four transfer ports from `base` can be bound now, on each family. */
async function transferPorts(base: number): Promise<DoctorPort[]> {
	const roles = ["receive", "send", "distribute", "distributee"] as const;
	const result: DoctorPort[] = [];
	for (const [i, role] of roles.entries()) {
		const socket = await DualSocket.bind(base + i, "0.0.0.0");
		result.push({ role, port: base + i, v4: socket !== undefined, v6: socket?.v6 !== undefined });
		await socket?.close();
	}
	return result;
}

function checkFolders(settings: Settings, settingsFile: string): DoctorFolder[] {
	const check = (
		role: DoctorFolder["role"],
		dir: string,
		mode: number,
		missing: "create" | "fail",
	): DoctorFolder => {
		try {
			if (!fs.statSync(dir).isDirectory())
				return { role, path: dir, ok: false, problem: "not a folder" };
			fs.accessSync(dir, mode);
			return { role, path: dir, ok: true };
		} catch (error) {
			const code = (error as { code?: string }).code;
			if (code === "ENOENT" && missing === "create") {
				// Made on first use: usable when its nearest existing parent is writable.
				let parent = path.dirname(dir);
				while (!fs.existsSync(parent) && parent !== path.dirname(parent))
					parent = path.dirname(parent);
				try {
					fs.accessSync(parent, fs.constants.W_OK);
					return { role, path: dir, ok: true, problem: "missing; made on first use" };
				} catch {
					return { role, path: dir, ok: false, problem: `missing, and ${parent} is not writable` };
				}
			}
			const words: Record<string, string> = {
				ENOENT: "missing",
				EACCES: "no permission",
				EPERM: "no permission",
				ENOTDIR: "a file is in the way",
				EROFS: "on a read-only file system",
			};
			const why = words[code ?? ""] ?? code ?? "unusable";
			return { role, path: dir, ok: false, problem: why };
		}
	};
	const rw = fs.constants.R_OK | fs.constants.W_OK;
	return [
		check("settings", path.dirname(settingsFile), rw, "fail"),
		check("shared", settings.shareDir, fs.constants.R_OK | fs.constants.X_OK, "create"),
		check("downloads", settings.downloadsDir, rw, "create"),
	];
}

/** The interface of the IPv4 default route (Linux's `/proc/net/route`), when known. */
function defaultRouteInterface(): string | undefined {
	try {
		for (const line of fs.readFileSync("/proc/net/route", "utf8").split("\n").slice(1)) {
			const [iface, destination, , , , , , mask] = line.trim().split(/\s+/);
			if (destination === "00000000" && mask === "00000000") return iface;
		}
	} catch {
		// Not Linux.
	}
	return undefined;
}

/** Names VPN interfaces usually carry (WireGuard, OpenVPN, PPP, macOS's utun...). */
const VPN_NAME = /^(tun|tap|wg|ppp|utun|ipsec|vpn|tailscale|zt|nordlynx|proton)/i;

/** The plain-words causes for what the report shows. */
function causesOf(report: DoctorReport, settings: Settings): string[] {
	const causes: string[] = [];
	const port = settings.discoveryPort;
	const lan = report.interfaces.filter((i) => i.state === "up" && !i.name.startsWith("lo"));
	if (!lan.some((i) => i.addresses.length > 0))
		causes.push(
			"No network interface is up besides loopback: connect to the LAN (cable or Wi-Fi).",
		);
	for (const i of report.interfaces) {
		if (i.state !== "up") continue;
		const lost = [i.v4Back === false ? "IPv4" : "", i.v6Back === false ? "IPv6" : ""].filter(
			Boolean,
		);
		if (lost.length)
			causes.push(
				`Our own ${lost.join(" and ")} announce did not come back on ${i.name}: a firewall on this host (iptables, nftables, ufw) drops UDP port ${port} going out there, or the interface is not really up.`,
			);
	}
	if (report.ports.some((p) => p.role === "discovery" && !p.v6))
		causes.push("IPv6 is off on this host: peers on IPv6-only links cannot be heard.");
	if (report.peers.length > 0) return causes;
	if (report.defaultRoute && VPN_NAME.test(report.defaultRoute))
		causes.push(
			`The default route goes through ${report.defaultRoute}, which looks like a VPN: announces to ${LIMITED_BROADCAST} leave by it, not the LAN. Directed broadcasts and IPv6 multicast still go on each interface above; if the VPN blocks the LAN ("kill switch", "block local network"), allow local network access.`,
		);
	causes.push(
		`Nobody answered in ${report.listened} ms. The usual causes: a firewall on the other machines (or this one) that drops UDP port ${port} coming in (allow it, and the transfer ports); Wi-Fi client isolation (guest networks, some access points and phones' hotspots stop devices on one Wi-Fi from reaching each other: use another network or turn isolation off); the other peers using another --discovery-port or network key; or no peer running on this network.`,
	);
	return causes;
}

/** `doctor`: runs the checks and prints one screen (or one JSON object). */
export async function doctor(options: DoctorOptions, json: boolean, io: Output): Promise<void> {
	const report = await diagnose(options);
	if (json) {
		io.out(jsonText(report));
		return;
	}
	const yes = (b: boolean | undefined) =>
		b === undefined ? "" : b ? "came back" : "did NOT come back";
	io.out(
		`discovery on UDP ${report.discoveryPort}, announcing to ${report.mode}; listened ${report.listened} ms`,
	);
	io.out("interfaces:");
	for (const i of report.interfaces) {
		if (i.state !== "up") {
			io.out(printable(`  ${i.name.padEnd(10)} ${i.state}`));
			continue;
		}
		io.out(printable(`  ${i.name.padEnd(10)} ${i.addresses.join(" ") || "(no address)"}`));
		const v4 = i.targets.filter((t) => !t.includes(":"));
		const v6 = i.targets.filter((t) => t.includes(":"));
		if (v4.length) io.out(printable(`  ${"".padEnd(10)} → ${v4.join(", ")}: ${yes(i.v4Back)}`));
		if (v6.length) io.out(printable(`  ${"".padEnd(10)} → ${v6.join(", ")}: ${yes(i.v6Back)}`));
	}
	if (report.routed.length)
		io.out(
			`  ${"".padEnd(10)} → ${report.routed.join(", ")} by the default route (${report.defaultRoute ?? "none"})`,
		);
	const fam = (p: DoctorPort) =>
		[p.v4 ? "IPv4" : "", p.v6 ? "IPv6" : ""].filter(Boolean).join("+") || "not bound";
	const discovery = report.ports.filter((p) => p.role === "discovery");
	const transfer = report.ports.filter((p) => p.role !== "discovery");
	io.out(`ports: discovery ${discovery.map((p) => `${p.port} ${fam(p)}`).join(", ")}`);
	io.out(
		`       transfer ${transfer.map((p) => `${p.port} ${p.v4 ? `free ${fam(p)}` : "in use"}`).join(", ")}${transfer.some((p) => !p.v4) ? " (in use: another p2p-tui? a peer takes the next free block)" : ""}`,
	);
	io.out(`peers heard: ${report.peers.length}`);
	for (const p of report.peers)
		io.out(printable(`  ${p.name} ${p.endpoint} via ${p.iface ?? "the default route"}`));
	io.out("folders:");
	for (const f of report.folders)
		io.out(
			printable(
				`  ${f.role.padEnd(10)} ${f.ok ? "ok" : "NOT usable"}${f.problem ? ` (${f.problem})` : ""}  ${f.path}`,
			),
		);
	if (report.causes.length) {
		io.out("what may be wrong:");
		for (const c of report.causes) io.out(`  - ${c}`);
	}
}
