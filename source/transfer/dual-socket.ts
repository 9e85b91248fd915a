/**
 * One transfer port on both IP families: a udp4 socket and, where the host has IPv6, a
 * udp6 socket (IPv6 only) bound to the same port number. Received datagrams from either
 * reach the same listener; a datagram is sent from the socket of the destination's family.
 * The engine sees one socket per port (`DualSocket.socket`), so IPv6 costs it no branch.
 */
import type { RemoteInfo } from "node:dgram";
import DgramAsPromised, { type SocketAsPromised } from "dgram-as-promised";
import { enableGro, GsoSender, type GsoStats, type OutDatagram } from "./gso.js";

/** The part of a dgram socket the engine uses, over both families. */
export interface PortSocket {
	/** Listens for datagrams from either family (`rinfo.address` IPv6 with its `%scope`). */
	on(event: "message", listener: (msg: Buffer, rinfo: RemoteInfo) => void): void;
	/** Sends from the socket of `address`'s family (IPv6 when it holds a `:`). */
	send(
		msg: Buffer | Buffer[],
		port: number,
		address: string,
		callback?: (error: Error | null, bytes: number) => void,
	): void;
	/**
	 * Sends datagrams to one destination, as few `sendmsg` calls as GSO allows (after
	 * `enableGso`; one send per datagram otherwise). Each must be a complete datagram.
	 */
	sendMany(datagrams: OutDatagram[], port: number, address: string): void;
	/** Datagrams queued for sending, over both sockets. */
	getSendQueueSize(): number;
}

/** A transfer port bound on IPv4 and (where possible) IPv6. */
export class DualSocket {
	readonly socket: PortSocket;
	/** The GSO senders of both sockets, once `enableGso` was called. */
	private gso: { v4: GsoSender; v6: GsoSender | undefined } | undefined;

	private constructor(
		readonly v4: SocketAsPromised,
		readonly v6: SocketAsPromised | undefined,
	) {
		const s4 = v4.socket;
		const s6 = v6?.socket;
		this.socket = {
			on: (event, listener) => {
				s4.on(event, listener);
				s6?.on(event, listener);
			},
			send: (msg, port, address, callback) => {
				const v6 = s6 !== undefined && address.includes(":");
				const gso = this.gso && (v6 ? this.gso.v6 : this.gso.v4);
				if (gso && !callback) {
					gso.send(msg, port, address);
					return;
				}
				const s = v6 ? (s6 as typeof s4) : s4;
				if (callback) s.send(msg, port, address, callback);
				else s.send(msg, port, address);
			},
			sendMany: (datagrams, port, address) => {
				const v6 = s6 !== undefined && address.includes(":");
				const gso = this.gso && (v6 ? this.gso.v6 : this.gso.v4);
				if (gso) gso.sendMany(datagrams, port, address);
				else {
					const s = v6 ? (s6 as typeof s4) : s4;
					for (const d of datagrams) s.send(d.parts, port, address);
				}
			},
			getSendQueueSize: () => s4.getSendQueueSize() + (s6?.getSendQueueSize() ?? 0),
		};
	}

	/**
	 * Binds `port` on `address` (udp4) and, when `address` is the wildcard `0.0.0.0`, on `::`
	 * (udp6, IPv6 only). A host without IPv6 gets the udp4 socket alone.
	 * @returns the socket, or undefined when the port is taken on either family
	 */
	static async bind(port: number, address: string): Promise<DualSocket | undefined> {
		const v4 = DgramAsPromised.createSocket({ type: "udp4" });
		try {
			await v4.bind(port, address);
		} catch {
			v4.destroy();
			return undefined;
		}
		if (address !== "0.0.0.0") return new DualSocket(v4, undefined);
		const v6 = DgramAsPromised.createSocket({ type: "udp6", ipv6Only: true });
		try {
			await v6.bind(port, "::");
			return new DualSocket(v4, v6);
		} catch (error) {
			v6.destroy();
			if ((error as { code?: string }).code === "EADDRINUSE") {
				await v4.close().catch(() => {});
				return undefined;
			}
			// No IPv6 on this host (EAFNOSUPPORT, EADDRNOTAVAIL): IPv4 alone.
			return new DualSocket(v4, undefined);
		}
	}

	/**
	 * Routes this port's sends through GSO senders (UDP_SEGMENT, see gso.ts); every later
	 * send must go through `socket`. @param allow - false for the plain path (one send each)
	 * @returns whether GSO is on (the kernel took the option)
	 */
	enableGso(allow = true): boolean {
		this.gso = {
			v4: new GsoSender(this.v4.socket, allow),
			v6: this.v6 ? new GsoSender(this.v6.socket, allow) : undefined,
		};
		return this.gso.v4.enabled;
	}

	/**
	 * Switches UDP GRO on for both sockets (see gso.ts): a receive may then hold a coalesced
	 * run of datagrams. @returns whether a socket took it (then split every receive: a
	 *   buffer holding one datagram splits into itself)
	 */
	enableGro(): boolean {
		const v4 = enableGro(this.v4.socket);
		const v6 = this.v6 ? enableGro(this.v6.socket) : false;
		return v4 || v6;
	}

	/** GSO counters over both sockets (zeros without `enableGso`). */
	gsoStats(): GsoStats & { enabled: boolean } {
		const a = this.gso?.v4.stats;
		const b = this.gso?.v6?.stats;
		return {
			enabled: this.gso?.v4.enabled ?? false,
			batches: (a?.batches ?? 0) + (b?.batches ?? 0),
			segments: (a?.segments ?? 0) + (b?.segments ?? 0),
			failed: (a?.failed ?? 0) + (b?.failed ?? 0),
		};
	}

	/** Adds an error listener to both sockets (send errors must not crash the peer). */
	onError(listener: (error: Error) => void): void {
		this.v4.socket.on("error", listener);
		this.v6?.socket.on("error", listener);
	}

	/** The udp4 socket's receive buffer size in bytes (as the kernel reports it). */
	getRecvBufferSize(): number {
		return this.v4.getRecvBufferSize();
	}

	/** Asks for receive buffers of `bytes` on both sockets. @throws when the kernel refuses */
	setRecvBufferSize(bytes: number): void {
		this.v4.setRecvBufferSize(bytes);
		this.v6?.setRecvBufferSize(bytes);
	}

	/** Asks for send buffers of `bytes` on both sockets. @throws when the kernel refuses */
	setSendBufferSize(bytes: number): void {
		this.v4.setSendBufferSize(bytes);
		this.v6?.setSendBufferSize(bytes);
	}

	/** Closes both sockets. */
	async close(): Promise<void> {
		await Promise.all([this.v4.close(), this.v6?.close()]);
	}
}
