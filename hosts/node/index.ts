/*
 * The Node.js host: dgram udp6 sockets with real link-local scopes and multicast on named
 * interfaces, performance.now() and setTimeout timers, crypto.getRandomValues, and storage in a
 * directory (one file per key) or in memory.
 *
 * No ICMPv6: Node.js has no raw sockets, and this project adds no native module for them, so the
 * Host here has no `icmp` and a join proxy on Node sends no ICMPv6 errors (it counts the refusals
 * it could not signal as `icmp.unsupported`). Hosts with raw sockets (the XS lane's memory network,
 * a device) provide `icmp`.
 *
 * Sends are bounded. When the kernel's send buffer is full (replies queued behind a neighbour that
 * never answers neighbour discovery, say), dgram keeps every further send in a queue inside the
 * process; so each socket admits at most `maxPendingSends` datagrams not yet handed to the kernel
 * (a memory bound of that many datagrams' copies), drops (and counts) beyond that, counts send errors instead of
 * throwing, warns about both through the host's log at most once per episode, and close() gives
 * pending sends `closeGraceMs` to leave before it closes the socket regardless.
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

/** Per-socket send counters (cumulative, except `pending`). */
export interface NodeUdpSendStats {
	sent: number;
	/** Refused because `maxPendingSends` sends were already waiting for the kernel. */
	dropped: number;
	/** Sends the kernel refused (EHOSTUNREACH, ENOBUFS, ...). */
	errors: number;
	/** Still waiting for the kernel when close() gave up on them. */
	abandoned: number;
	/** Sends not yet completed, now. */
	pending: number;
	/** Most sends ever pending at once. */
	peakPending: number;
}

export interface NodeUdpOptions {
	/** Most datagrams waiting for the kernel per socket; further sends are dropped (default 256). */
	maxPendingSends?: number;
	/** How long close() lets pending sends leave before closing the socket anyway (default 500 ms). */
	closeGraceMs?: number;
	/**
	 * SO_SNDBUF to ask for (default 1 MiB; Linux grants at most twice net.core.wmem_max). Linux
	 * holds datagrams for an unresolved neighbour in a queue of its own (unres_qlen_bytes, 208 KiB by
	 * default) and drops from it when full; a send buffer larger than that queue keeps one neighbour
	 * that never answers from blocking the whole socket.
	 */
	sendBufferBytes?: number;
	/** Shortest time between two warnings about one socket's drops or errors (default 5 s). */
	warnIntervalMs?: number;
	/** Where drop and error warnings go (the host's log). */
	log?: Host["log"];
}

const DEFAULT_MAX_PENDING_SENDS = 256;
const DEFAULT_CLOSE_GRACE_MS = 500;
const DEFAULT_SEND_BUFFER_BYTES = 1 << 20;
const DEFAULT_WARN_INTERVAL_MS = 5_000;
/** While an episode lasts, a reminder at most this often (start and end lines are the rule). */
const STILL_DROPPING_EVERY = 12;

const emptySendStats = (): NodeUdpSendStats => ({ sent: 0, dropped: 0, errors: 0, abandoned: 0, pending: 0, peakPending: 0 });

/**
 * Tells the log when a socket starts dropping sends or seeing send errors, and sums the episode
 * up once a whole interval passes without either: lines at the edges of an episode (and a reminder
 * every STILL_DROPPING_EVERY intervals while it lasts), never one per datagram.
 */
class SendTrouble {
	readonly #name: string;
	readonly #stats: NodeUdpSendStats;
	readonly #intervalMs: number;
	readonly #log: Host["log"];
	#timer: ReturnType<typeof setTimeout> | undefined;
	#started = 0;
	#intervals = 0;
	#lastError = "";
	/** Counters just before the episode began, and at the start of the current interval. */
	#before = { dropped: 0, errors: 0 };
	#interval = { dropped: 0, errors: 0 };

	constructor(name: string, stats: NodeUdpSendStats, intervalMs: number, log: Host["log"]) {
		this.#name = name;
		this.#stats = stats;
		this.#intervalMs = intervalMs;
		this.#log = log;
	}

	/** After a drop (no error) or a send error has been counted. */
	noted(error?: Error): void {
		if (error !== undefined) this.#lastError = (error as NodeJS.ErrnoException).code ?? error.message;
		if (this.#timer !== undefined) return;
		const s = this.#stats;
		this.#started = performance.now();
		this.#intervals = 0;
		this.#before = error === undefined ? { dropped: s.dropped - 1, errors: s.errors } : { dropped: s.dropped, errors: s.errors - 1 };
		this.#interval = { dropped: s.dropped, errors: s.errors };
		const what = error === undefined ? "send queue full, dropping sends" : `send failed (${this.#lastError})`;
		this.#log("warn", `udp ${this.#name}: ${what}; ${this.#counters()}`);
		this.#arm();
	}

	#arm(): void {
		this.#timer = setTimeout(this.#tick, this.#intervalMs);
		this.#timer.unref();
	}

	readonly #tick = (): void => {
		this.#timer = undefined;
		const s = this.#stats;
		const quiet = s.dropped === this.#interval.dropped && s.errors === this.#interval.errors;
		this.#interval = { dropped: s.dropped, errors: s.errors };
		const seconds = Math.round((performance.now() - this.#started) / 1000);
		const episode = `${s.dropped - this.#before.dropped} dropped, ${s.errors - this.#before.errors} failed${s.errors > this.#before.errors ? ` (last: ${this.#lastError})` : ""}`;
		if (quiet) {
			this.#log("info", `udp ${this.#name}: no drops or send errors for ${this.#intervalMs / 1000} s; the episode lasted ${seconds} s: ${episode}; ${this.#counters()}`);
			return;
		}
		if (++this.#intervals % STILL_DROPPING_EVERY === 0) this.#log("warn", `udp ${this.#name}: still dropping or failing sends after ${seconds} s: ${episode}; ${this.#counters()}`);
		this.#arm();
	};

	#counters(): string {
		const s = this.#stats;
		return `totals: sent ${s.sent}, dropped ${s.dropped}, errors ${s.errors}, pending ${s.pending}`;
	}

	/** Idempotent: no more lines about this socket. */
	stop(): void {
		if (this.#timer !== undefined) clearTimeout(this.#timer);
		this.#timer = undefined;
	}
}

export class NodeUdpSocket implements UdpSocket {
	readonly #socket: dgram.Socket;
	readonly #zone: string;
	readonly #maxPending: number;
	readonly #graceMs: number;
	readonly #stats = emptySendStats();
	readonly #trouble: SendTrouble;
	readonly #onClosed: (stats: NodeUdpSendStats) => void;
	#closed = false;
	#socketClosed = false;
	#graceTimer: ReturnType<typeof setTimeout> | undefined;

	constructor(socket: dgram.Socket, zone: string, options: NodeUdpOptions, onClosed: (stats: NodeUdpSendStats) => void) {
		this.#socket = socket;
		this.#zone = zone;
		this.#maxPending = options.maxPendingSends ?? DEFAULT_MAX_PENDING_SENDS;
		this.#graceMs = options.closeGraceMs ?? DEFAULT_CLOSE_GRACE_MS;
		this.#onClosed = onClosed;
		const local = socket.address();
		this.#trouble = new SendTrouble(`[${withZone(local.address, zone)}]:${local.port}`, this.#stats, options.warnIntervalMs ?? DEFAULT_WARN_INTERVAL_MS, options.log ?? (() => {}));
	}

	get port(): number {
		return this.#socket.address().port;
	}

	/** This socket's send counters (a copy). */
	stats(): NodeUdpSendStats {
		return { ...this.#stats };
	}

	send(data: Uint8Array, to: Readonly<UdpPeer>, length = data.length): void {
		if (this.#closed) throw new Error("send on a closed socket");
		const s = this.#stats;
		if (s.pending >= this.#maxPending) {
			s.dropped++;
			this.#trouble.noted();
			return;
		}
		// dgram keeps a reference to the bytes until the kernel has them, which under back-pressure is
		// long after send() returns; callers may reuse their buffer at once (a relay's transmit buffer
		// does), so the datagram is copied. Small copies come from Node's shared pool: one view object.
		const copy = Buffer.allocUnsafe(length);
		copy.set(length === data.length ? data : data.subarray(0, length));
		s.pending++;
		if (s.pending > s.peakPending) s.peakPending = s.pending;
		this.#socket.send(copy, 0, length, to.port, this.#target(to.address, to.zone || this.#zone), this.#sent);
	}

	/** One callback for every send (no closure per datagram on a relay's path). */
	readonly #sent = (error: Error | null): void => {
		if (this.#socketClosed) return; // abandoned by close(): already counted
		const s = this.#stats;
		s.pending--;
		if (error === null) s.sent++;
		else {
			s.errors++;
			this.#trouble.noted(error);
		}
		if (s.pending === 0 && this.#closed) this.#closeSocket();
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

	/**
	 * Idempotent. What was sent before (a close_notify, say) still leaves if the kernel takes it
	 * within the grace period; after it the socket closes regardless and the rest is abandoned.
	 */
	close(): void {
		if (this.#closed) return;
		this.#closed = true;
		if (this.#stats.pending === 0) this.#closeSocket();
		else this.#graceTimer = setTimeout(() => this.#closeSocket(), this.#graceMs);
	}

	#closeSocket(): void {
		if (this.#socketClosed) return;
		this.#socketClosed = true;
		if (this.#graceTimer !== undefined) clearTimeout(this.#graceTimer);
		this.#trouble.stop();
		const s = this.#stats;
		s.abandoned += s.pending;
		s.pending = 0;
		this.#socket.close();
		this.#onClosed(s);
	}
}

/** dgram sockets with bounded sends; `stats()` sums the counters of every socket it has bound. */
export class NodeUdp implements Udp {
	readonly #o: NodeUdpOptions;
	readonly #open = new Set<NodeUdpSocket>();
	/** Counters of sockets already closed. */
	readonly #closed = emptySendStats();

	constructor(options: NodeUdpOptions = {}) {
		this.#o = options;
	}

	/** Send counters over all sockets, open and closed (`pending` and `peakPending`: open ones, now). */
	stats(): NodeUdpSendStats {
		const t = { ...this.#closed, pending: 0, peakPending: 0 };
		for (const socket of this.#open) {
			const s = socket.stats();
			t.sent += s.sent;
			t.dropped += s.dropped;
			t.errors += s.errors;
			t.abandoned += s.abandoned;
			t.pending += s.pending;
			t.peakPending = Math.max(t.peakPending, s.peakPending);
		}
		return t;
	}

	#retire(socket: NodeUdpSocket, s: NodeUdpSendStats): void {
		this.#open.delete(socket);
		this.#closed.sent += s.sent;
		this.#closed.dropped += s.dropped;
		this.#closed.errors += s.errors;
		this.#closed.abandoned += s.abandoned;
	}

	bind(options: UdpBindOptions): Promise<UdpSocket> {
		return new Promise((resolve, reject) => {
			const socket = dgram.createSocket({
				type: "udp6",
				reuseAddr: options.reuseAddress === true,
				ipv6Only: true,
				sendBufferSize: this.#o.sendBufferBytes ?? DEFAULT_SEND_BUFFER_BYTES,
			});
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
				// A throw here would end the process: one bad datagram must cost only itself.
				try {
					options.onDatagram(msg, arrival);
				} catch (e) {
					this.#o.log?.("error", `udp [${withZone(address, zone)}]:${options.port ?? 0}: a datagram from [${rinfo.address}]:${rinfo.port} failed: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}`);
				}
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
				const w = new NodeUdpSocket(socket, zone, this.#o, (s) => this.#retire(w, s));
				wrapper = w;
				this.#open.add(w);
				resolve(w);
			});
		});
	}
}

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
	/** Send bounds and warnings of the UDP sockets (their log is the host's). */
	udp?: Omit<NodeUdpOptions, "log">;
}

/** A Host whose `udp` also reports send counters (drops, errors) over all its sockets. */
export interface NodeHost extends Host {
	udp: NodeUdp;
}

export function createNodeHost(options: NodeHostOptions = {}): NodeHost {
	const min = LEVELS[options.logLevel ?? "info"];
	const log: Host["log"] = (level, message) => {
		if (LEVELS[level] >= min) process.stderr.write(`${new Date().toISOString()} ${level} ${message}\n`);
	};
	return {
		udp: new NodeUdp({ ...options.udp, log }),
		clock: nodeClock,
		random: (bytes) => webcrypto.getRandomValues(bytes),
		storage: options.storageDir === undefined ? new MemoryStorage() : new DirectoryStorage(options.storageDir),
		log,
	};
}
