/*
 * The Registrar's JPY endpoint (draft-ietf-anima-constrained-join-proxy-20 §4.5.7): one UDP port
 * receiving [header, content] from stateless Join Proxies. Each pledge session is told apart by
 * (proxy address, proxy port, header), the header being opaque; the content goes to that session's
 * virtual datagram transport, and everything the session sends back is wrapped with the identical
 * header (§4.5.7 MUST) and returned to the proxy it came from. Node only (the Registrar).
 */

import type { Host, Timer, UdpArrival, UdpPeer, UdpSocket } from "../../hosts/host.js";
import { decodeJpy, encodeJpyInto, jpyEncodedLength, JpyError } from "../../modules/jpy/message.js";
import { toHex } from "../../modules/util/hex.js";
import { leastRecent, peerKey } from "../../modules/util/peer.js";

/** One pledge's DTLS flow as seen through a stateless proxy. */
export interface JpySession {
	/** (proxy address, proxy port, header): the session's identity (§4.5.4 5-tuple). */
	readonly id: string;
	readonly proxy: UdpPeer;
	readonly header: Uint8Array;
	/** Sends one datagram to the pledge, wrapped with this session's header. */
	send(content: Uint8Array): void;
	/** Ends the session here (its next datagram starts a new one). */
	close(): void;
}

export interface JpySessionHandler {
	/** One datagram from the pledge (a copy: keep it if needed). */
	datagram(content: Uint8Array): void;
	/** The session ended (idle, evicted, or endpoint closed). */
	closed?(): void;
}

export interface JpyEndpointOptions {
	host: Host;
	port?: number;
	address?: string;
	/** A new session appeared; return what handles its datagrams. */
	onSession(session: JpySession): JpySessionHandler;
	/** Sessions idle this long are closed (default 120 s). */
	idleTimeoutMs?: number;
	/** Most simultaneous sessions; the least recently active is evicted beyond it (default 1000). */
	maxSessions?: number;
}

export interface JpyEndpointStats {
	datagramsIn: number;
	datagramsOut: number;
	badJpy: number;
	sessionsOpened: number;
	sessionsActive: number;
	sessionsEvicted: number;
}

interface Entry {
	session: JpySession;
	handler: JpySessionHandler;
	lastActivity: number;
}

const SWEEP_MS = 5_000;

export class JpyEndpoint {
	readonly #o: JpyEndpointOptions;
	readonly #sessions = new Map<string, Entry>();
	readonly #stats: JpyEndpointStats = { datagramsIn: 0, datagramsOut: 0, badJpy: 0, sessionsOpened: 0, sessionsActive: 0, sessionsEvicted: 0 };
	readonly #sweeper: Timer;
	#socket: UdpSocket | undefined;
	#closed = false;

	private constructor(options: JpyEndpointOptions) {
		this.#o = options;
		this.#sweeper = options.host.clock.timer(() => this.#sweep());
	}

	static async open(options: JpyEndpointOptions): Promise<JpyEndpoint> {
		const ep = new JpyEndpoint(options);
		const bind: Parameters<Host["udp"]["bind"]>[0] = { port: options.port ?? 0, onDatagram: (d, from) => ep.#receive(d, from) };
		if (options.address !== undefined) bind.address = options.address;
		ep.#socket = await options.host.udp.bind(bind);
		return ep;
	}

	get port(): number {
		return this.#socket?.port ?? 0;
	}

	stats(): JpyEndpointStats {
		return { ...this.#stats, sessionsActive: this.#sessions.size };
	}

	#receive(data: Uint8Array, from: Readonly<UdpArrival>): void {
		if (this.#closed) return;
		let v;
		try {
			v = decodeJpy(data);
		} catch (e) {
			if (!(e instanceof JpyError)) throw e;
			this.#stats.badJpy++; // §7: a Registrar must cope with anything a proxy relays
			return;
		}
		this.#stats.datagramsIn++;
		const header = data.subarray(v.headerStart, v.headerStart + v.headerLength);
		const id = `${peerKey(from)}#${toHex(header)}`;
		let entry = this.#sessions.get(id);
		if (entry === undefined) entry = this.#open(id, { address: from.address, port: from.port, zone: from.zone }, header.slice());
		entry.lastActivity = this.#o.host.clock.now();
		entry.handler.datagram(data.slice(v.contentStart, v.contentStart + v.contentLength));
	}

	#open(id: string, proxy: UdpPeer, header: Uint8Array): Entry {
		const max = this.#o.maxSessions ?? 1000;
		if (this.#sessions.size >= max) {
			const oldest = leastRecent(this.#sessions);
			if (oldest !== undefined) {
				this.#stats.sessionsEvicted++;
				this.#end(oldest);
			}
		}
		const session: JpySession = {
			id,
			proxy,
			header,
			send: (content) => {
				if (this.#closed || this.#socket === undefined) return;
				const out = new Uint8Array(jpyEncodedLength(header.length, content.length));
				encodeJpyInto(header, content, out, 0);
				this.#stats.datagramsOut++;
				this.#socket.send(out, proxy);
				const e = this.#sessions.get(id);
				if (e !== undefined) e.lastActivity = this.#o.host.clock.now();
			},
			close: () => this.#end(id),
		};
		const entry: Entry = { session, handler: { datagram: () => {} }, lastActivity: this.#o.host.clock.now() };
		this.#sessions.set(id, entry);
		this.#stats.sessionsOpened++;
		entry.handler = this.#o.onSession(session);
		if (!this.#sweeper.armed) this.#sweeper.arm(SWEEP_MS);
		return entry;
	}

	#end(id: string): void {
		const e = this.#sessions.get(id);
		if (e === undefined) return;
		this.#sessions.delete(id);
		e.handler.closed?.();
	}

	#sweep(): void {
		const now = this.#o.host.clock.now();
		const idle = this.#o.idleTimeoutMs ?? 120_000;
		for (const [id, e] of [...this.#sessions]) if (now - e.lastActivity >= idle) this.#end(id);
		if (this.#sessions.size > 0 && !this.#closed) this.#sweeper.arm(SWEEP_MS);
	}

	/** Idempotent: ends every session, closes the socket. */
	close(): void {
		if (this.#closed) return;
		this.#closed = true;
		this.#sweeper.cancel();
		for (const id of [...this.#sessions.keys()]) this.#end(id);
		this.#socket?.close();
	}
}
