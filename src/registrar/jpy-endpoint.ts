/*
 * The Registrar's JPY endpoint (draft-ietf-anima-constrained-join-proxy-20 §4.5.7): one UDP port
 * receiving [header, content] from stateless Join Proxies. Each pledge session is told apart by
 * (proxy address, proxy port, header), the header being opaque; the content goes to that session's
 * virtual datagram transport, and everything the session sends back is wrapped with the identical
 * header (§4.5.7 MUST) and returned to the proxy it came from. Node only (the Registrar).
 */

import type { Host, UdpArrival, UdpPeer, UdpSocket } from "../../hosts/host.js";
import { decodeJpy, encodeJpyInto, jpyEncodedLength, JpyError } from "../../modules/jpy/message.js";
import { toHex } from "../../modules/util/hex.js";
import { peerKey } from "../../modules/util/peer.js";
import { SessionTable, type SessionEnd } from "../../modules/util/session-table.js";
import { TokenBucket } from "../../modules/util/token-bucket.js";

/**
 * Longest jpy_header accepted, in bytes of the bstr's content. The draft says the header SHOULD be
 * at most 32 bytes of state data (§4.5.2); twice that leaves room for a proxy that frames its state
 * (a CBOR array, a tag) while a flood of long headers cannot make sessions expensive to keep.
 */
export const MAX_JPY_HEADER = 64;
/** Longest pledge datagram carried: IPv6 minimum MTU 1280 − 40 − 8 (RFC 8200 §5; draft §4.5.2 MTU rule). */
export const MAX_JPY_CONTENT = 1232;
/** Longest JPY datagram accepted: the two limits above with the longest CBOR heads (checked before decoding). */
export const MAX_JPY_DATAGRAM = jpyEncodedLength(MAX_JPY_HEADER, MAX_JPY_CONTENT);

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
	/** Sessions idle (nothing accepted from the proxy) this long are closed (default 120 s). */
	idleTimeoutMs?: number;
	/** Most simultaneous sessions (default 1000); see the eviction rule at JpyEndpoint. */
	maxSessions?: number;
	/** Most simultaneous sessions through one proxy address (default: half of maxSessions). */
	maxSessionsPerProxy?: number;
	/** New sessions per second one proxy address may open, sustained (default 50) ... */
	newSessionsPerSecond?: number;
	/** ... and in a burst (default 100). */
	newSessionsBurst?: number;
}

export interface JpyEndpointStats {
	datagramsIn: number;
	datagramsOut: number;
	badJpy: number;
	/** Refused for size: datagram, header or content over MAX_JPY_*. */
	tooLarge: number;
	sessionsOpened: number;
	sessionsActive: number;
	/** Ended to make room (overall or per-proxy cap). */
	sessionsEvicted: number;
	/** New sessions refused: the proxy's rate was exceeded, or its cap was full of answered sessions. */
	sessionsRefused: number;
}

/** Per proxy address: its sessions and its new-session rate. */
interface Proxy {
	key: string;
	sessions: number;
	bucket: TokenBucket;
}

interface Entry {
	session: JpySession;
	handler: JpySessionHandler;
	proxy: Proxy;
	/** We have sent on this session. */
	sent: boolean;
	/** A datagram arrived after we had sent: the proxy's side answered, a round trip happened. */
	answered: boolean;
}

/**
 * Sessions live in a SessionTable. When it is full, or a proxy has its share, the least recently
 * active session that never answered (no datagram after one of ours) makes room before any that
 * did: a flood of fresh headers, each one ClientHello, displaces its own kind, and an established
 * pledge keeps its session. The trade-off: a new legitimate pledge competes with the flood until
 * its first round trip (the per-proxy rate limit bounds how fast the flood turns over), and a
 * flood that completes round trips (answers our HelloVerifyRequests) counts as established; that
 * takes a live pledge per session, which is what a DTLS cookie exchange asks for anyway.
 */
export class JpyEndpoint {
	readonly #o: JpyEndpointOptions;
	readonly #sessions: SessionTable<string, Entry>;
	readonly #proxies = new Map<string, Proxy>();
	readonly #maxPerProxy: number;
	readonly #maxProxies: number;
	readonly #stats: JpyEndpointStats = { datagramsIn: 0, datagramsOut: 0, badJpy: 0, tooLarge: 0, sessionsOpened: 0, sessionsActive: 0, sessionsEvicted: 0, sessionsRefused: 0 };
	#socket: UdpSocket | undefined;
	#closed = false;

	private constructor(options: JpyEndpointOptions) {
		this.#o = options;
		const max = options.maxSessions ?? 1000;
		this.#maxPerProxy = options.maxSessionsPerProxy ?? Math.max(1, Math.floor(max / 2));
		// Proxy entries outlive their sessions only while their bucket refills; bound them too.
		this.#maxProxies = max;
		this.#sessions = new SessionTable({
			clock: options.host.clock,
			maxSessions: max,
			idleTimeoutMs: options.idleTimeoutMs ?? 120_000,
			evictFirst: (e) => !e.answered,
			onEnd: (_id, e, reason) => this.#ended(e, reason),
		});
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
		if (data.length > MAX_JPY_DATAGRAM) {
			this.#stats.tooLarge++;
			return;
		}
		let v;
		try {
			v = decodeJpy(data);
		} catch (e) {
			if (!(e instanceof JpyError)) throw e;
			this.#stats.badJpy++; // §7: a Registrar must cope with anything a proxy relays
			return;
		}
		if (v.headerLength > MAX_JPY_HEADER || v.contentLength > MAX_JPY_CONTENT) {
			this.#stats.tooLarge++;
			return;
		}
		const header = data.subarray(v.headerStart, v.headerStart + v.headerLength);
		const id = `${peerKey(from)}#${toHex(header)}`;
		let entry = this.#sessions.get(id);
		if (entry === undefined) {
			entry = this.#open(id, from, header);
			if (entry === undefined) return;
		} else {
			if (entry.sent) entry.answered = true;
			this.#sessions.touch(id);
		}
		this.#stats.datagramsIn++;
		entry.handler.datagram(data.slice(v.contentStart, v.contentStart + v.contentLength));
	}

	/** The proxy's entry, or undefined when there are too many proxies to track another. */
	#proxy(from: Readonly<UdpArrival>, now: number): Proxy | undefined {
		const key = `${from.address.toLowerCase()}%${from.zone}`;
		let p = this.#proxies.get(key);
		if (p !== undefined) return p;
		if (this.#proxies.size >= this.#maxProxies) {
			for (const [k, q] of this.#proxies) if (q.sessions === 0 && q.bucket.full(now)) this.#proxies.delete(k);
			if (this.#proxies.size >= this.#maxProxies) return undefined;
		}
		p = { key, sessions: 0, bucket: new TokenBucket({ ratePerSecond: this.#o.newSessionsPerSecond ?? 50, burst: this.#o.newSessionsBurst ?? 100 }, now) };
		this.#proxies.set(key, p);
		return p;
	}

	#open(id: string, from: Readonly<UdpArrival>, header: Uint8Array): Entry | undefined {
		const now = this.#o.host.clock.now();
		const proxy = this.#proxy(from, now);
		if (proxy === undefined || !proxy.bucket.take(now) || !this.#roomFor(proxy)) {
			this.#stats.sessionsRefused++;
			return undefined;
		}
		const peer: UdpPeer = { address: from.address, port: from.port, zone: from.zone };
		const kept = header.slice();
		const session: JpySession = {
			id,
			proxy: peer,
			header: kept,
			send: (content) => {
				if (this.#closed || this.#socket === undefined) return;
				const out = new Uint8Array(jpyEncodedLength(kept.length, content.length));
				encodeJpyInto(kept, content, out, 0);
				this.#stats.datagramsOut++;
				this.#socket.send(out, peer);
				const e = this.#sessions.get(id);
				if (e !== undefined) e.sent = true;
			},
			close: () => {
				const e = this.#sessions.get(id);
				if (e !== undefined && this.#sessions.delete(id)) this.#ended(e, "closed");
			},
		};
		const entry: Entry = { session, handler: { datagram: () => {} }, proxy, sent: false, answered: false };
		proxy.sessions++;
		this.#sessions.set(id, entry);
		this.#stats.sessionsOpened++;
		entry.handler = this.#o.onSession(session);
		return entry;
	}

	/** Makes room under the proxy's cap (its oldest unanswered session goes), or says there is none. */
	#roomFor(proxy: Proxy): boolean {
		if (proxy.sessions < this.#maxPerProxy) return true;
		for (const e of this.#sessions.values()) {
			// values() lists sessions in the order they opened: the first unanswered one is the oldest.
			if (e.proxy !== proxy || e.answered) continue;
			this.#sessions.delete(e.session.id);
			this.#ended(e, "evicted");
			return true;
		}
		return false;
	}

	#ended(e: Entry, reason: SessionEnd): void {
		if (reason === "evicted") this.#stats.sessionsEvicted++;
		e.proxy.sessions--;
		e.handler.closed?.();
	}

	/** Idempotent: ends every session, closes the socket. */
	close(): void {
		if (this.#closed) return;
		this.#closed = true;
		this.#sessions.close();
		this.#proxies.clear();
		this.#socket?.close();
	}
}
