/*
 * The Node.js host: dgram udp6 sockets with real link-local scopes and multicast on named
 * interfaces, performance.now() and setTimeout timers, crypto.getRandomValues, and storage in a
 * directory (one file per key) or in memory.
 */

import dgram from "node:dgram";
import { mkdirSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { webcrypto } from "node:crypto";
import { networkInterfaces } from "node:os";
import type { Clock, Host, Storage, Timer, Udp, UdpArrival, UdpBindOptions, UdpPeer, UdpSocket } from "../host.js";
import { MemoryStorage } from "../xs/memory-storage.js";
import { isLinkLocal, isMulticast } from "../../modules/util/ipv6.js";

/** Addresses that need a zone to be sent to: link-local unicast and multicast. */
const isScoped = (address: string): boolean => isLinkLocal(address) || isMulticast(address);

/** The IPv6 link-local address of interface `zone` (without its zone), or undefined. */
export function linkLocalAddressOf(zone: string): string | undefined {
	const found = networkInterfaces()[zone]?.find((a) => a.family === "IPv6" && isLinkLocal(a.address));
	return found?.address.split("%")[0];
}

/** "fe80::1%eth0" → ["fe80::1", "eth0"]. */
export function splitZone(address: string): [string, string] {
	const i = address.indexOf("%");
	return i < 0 ? [address, ""] : [address.slice(0, i), address.slice(i + 1)];
}

function withZone(address: string, zone: string): string {
	return zone !== "" && isScoped(address) && !address.includes("%") ? `${address}%${zone}` : address;
}

class NodeUdpSocket implements UdpSocket {
	readonly #socket: dgram.Socket;
	readonly #zone: string;
	#closed = false;
	/** Sends not yet handed to the kernel: dgram's send is asynchronous, and close() would drop them. */
	#pending = 0;

	constructor(socket: dgram.Socket, zone: string) {
		this.#socket = socket;
		this.#zone = zone;
	}

	get port(): number {
		return this.#socket.address().port;
	}

	send(data: Uint8Array, to: Readonly<UdpPeer>, length = data.length): void {
		if (this.#closed) throw new Error("send on a closed socket");
		this.#pending++;
		this.#socket.send(data, 0, length, to.port, this.#target(to.address, to.zone || this.#zone), this.#sent);
	}

	/** One callback for every send (no closure per datagram on a relay's path). */
	readonly #sent = (): void => {
		if (--this.#pending === 0 && this.#closed) this.#socket.close();
	};

	/* The scoped text of the last destination, kept: a relay sends to the same few peers over and over. */
	#lastAddress = "";
	#lastZone = "";
	#lastTarget = "";

	#target(address: string, zone: string): string {
		if (address !== this.#lastAddress || zone !== this.#lastZone) {
			this.#lastAddress = address;
			this.#lastZone = zone;
			this.#lastTarget = withZone(address, zone);
		}
		return this.#lastTarget;
	}

	joinMulticast(group: string, zone?: string): void {
		const z = zone ?? this.#zone;
		// For IPv6 Node takes the interface as "::%name" (the scope of the membership).
		this.#socket.addMembership(group, z === "" ? undefined : `::%${z}`);
	}

	leaveMulticast(group: string, zone?: string): void {
		const z = zone ?? this.#zone;
		this.#socket.dropMembership(group, z === "" ? undefined : `::%${z}`);
	}

	get closed(): boolean {
		return this.#closed;
	}

	/** Idempotent; what was sent before (a close_notify, say) still leaves. */
	close(): void {
		if (this.#closed) return;
		this.#closed = true;
		if (this.#pending === 0) this.#socket.close();
	}
}

export const nodeUdp: Udp = {
	bind(options: UdpBindOptions): Promise<UdpSocket> {
		return new Promise((resolve, reject) => {
			const socket = dgram.createSocket({ type: "udp6", reuseAddr: options.reuseAddress === true, ipv6Only: true });
			const zone = options.zone ?? "";
			const address = options.address ?? "::";
			const multicast = isMulticast(address);
			const arrival: UdpArrival = { address: "", port: 0, zone: "", multicast };
			let wrapper: NodeUdpSocket | undefined;
			socket.on("message", (msg, rinfo) => {
				if (wrapper?.closed) return; // closing: waiting only for our last sends to leave
				const [addr, scope] = splitZone(rinfo.address);
				arrival.address = addr;
				arrival.port = rinfo.port;
				arrival.zone = scope || zone;
				options.onDatagram(msg, arrival);
			});
			socket.on("error", (err) => {
				if (options.onError) options.onError(err);
			});
			socket.once("error", reject);
			socket.bind({ port: options.port ?? 0, address: withZone(address, zone) }, () => {
				socket.off("error", reject);
				if (zone !== "" && !multicast) {
					// Multicast we send leaves by the bound interface unless the destination names one.
					try {
						socket.setMulticastInterface(`::%${zone}`);
					} catch {
						/* not every interface can send multicast; unicast still works */
					}
				}
				wrapper = new NodeUdpSocket(socket, zone);
				resolve(wrapper);
			});
		});
	},
};

class NodeTimer implements Timer {
	#handle: ReturnType<typeof setTimeout> | undefined;
	readonly #callback: () => void;

	constructor(callback: () => void) {
		this.#callback = callback;
	}

	get armed(): boolean {
		return this.#handle !== undefined;
	}

	arm(delayMs: number): void {
		this.cancel();
		this.#handle = setTimeout(() => {
			this.#handle = undefined;
			this.#callback();
		}, Math.max(0, delayMs));
	}

	cancel(): void {
		if (this.#handle !== undefined) clearTimeout(this.#handle);
		this.#handle = undefined;
	}
}

export const nodeClock: Clock = {
	now: () => performance.now(),
	wallTime: () => Date.now(),
	timer: (callback) => new NodeTimer(callback),
};

/** One file per key in `dir`, written atomically (temp file + rename) so a crash never leaves half a credential. */
export class DirectoryStorage implements Storage {
	readonly #dir: string;

	constructor(dir: string) {
		this.#dir = dir;
		mkdirSync(dir, { recursive: true, mode: 0o700 });
	}

	#path(key: string): string {
		return join(this.#dir, encodeURIComponent(key));
	}

	get(key: string): Uint8Array | undefined {
		try {
			return new Uint8Array(readFileSync(this.#path(key)));
		} catch (e) {
			if ((e as NodeJS.ErrnoException).code === "ENOENT") return undefined;
			throw e;
		}
	}

	set(key: string, value: Uint8Array): void {
		const tmp = `${this.#path(key)}.tmp`;
		writeFileSync(tmp, value, { mode: 0o600 });
		renameSync(tmp, this.#path(key));
	}

	delete(key: string): void {
		rmSync(this.#path(key), { force: true });
	}

	keys(): string[] {
		return readdirSync(this.#dir)
			.filter((f) => !f.endsWith(".tmp"))
			.map((f) => decodeURIComponent(f));
	}
}

export type LogLevel = "debug" | "info" | "warn" | "error";
const LEVELS: Record<LogLevel, number> = { debug: 0, info: 1, warn: 2, error: 3 };

export interface NodeHostOptions {
	/** Directory for persistent storage; in memory when absent. */
	storageDir?: string;
	/** Least severe level written to stderr (default "info"). */
	logLevel?: LogLevel;
}

export function createNodeHost(options: NodeHostOptions = {}): Host {
	const min = LEVELS[options.logLevel ?? "info"];
	return {
		udp: nodeUdp,
		clock: nodeClock,
		random: (bytes) => webcrypto.getRandomValues(bytes),
		storage: options.storageDir === undefined ? new MemoryStorage() : new DirectoryStorage(options.storageDir),
		log: (level, message) => {
			if (LEVELS[level] >= min) process.stderr.write(`${new Date().toISOString()} ${level} ${message}\n`);
		},
	};
}
