/*
 * DTLS 1.2 server side: a listener that answers ClientHellos without a valid cookie with a
 * HelloVerifyRequest and keeps no state for them (RFC 6347 §4.2.1), and a bounded table of
 * associations keyed by a peer identity the transport supplies. The same server thus runs on a UDP
 * socket (peer = address and port) and behind the stateless Join Proxy's JPY endpoint (peer = proxy
 * address, port and JPY header).
 */

import type { Clock, Timer } from "../../hosts/host.js";
import type { CryptoProvider } from "../crypto/provider.js";
import { DtlsConnection, type DtlsIdentity, type PeerVerifier } from "./connection.js";
import { readFragments } from "./fragments.js";
import { decodeClientHello, DTLS_1_0, encodeHandshakeMessage, encodeHelloVerifyRequest, HandshakeError, HandshakeType } from "./handshake.js";
import { CONTENT_HANDSHAKE, parseDatagram, recordLength, writeRecord } from "./record.js";
import { utf8Encode } from "../util/utf8.js";
import { leastRecent } from "../util/peer.js";
import { bytesEqualConstantTime } from "../crypto/constant-time.js";

/** Cookie length: 16 bytes of HMAC-SHA256 (RFC 6347 §4.2.1 leaves the format to the server). */
const COOKIE_BYTES = 16;

export interface DtlsServerOptions {
	crypto: CryptoProvider;
	clock: Clock;
	random: (bytes: Uint8Array) => Uint8Array;
	identity: DtlsIdentity;
	verifyPeer: PeerVerifier;
	/** A new association passed the cookie check; return its event handlers. */
	onAccept(peer: string, connection: DtlsConnection): void;
	/** Most associations at once; the least recently active one is dropped beyond (default 64). */
	maxSessions?: number;
	/** Associations idle this long are closed (default 120 s). */
	idleTimeoutMs?: number;
	mtu?: number;
	retransmitInitialMs?: number;
	handshakeTimeoutMs?: number;
	/** Handlers for every association's events. */
	onData?(peer: string, data: Uint8Array, connection: DtlsConnection): void;
	onConnected?(peer: string, connection: DtlsConnection): void;
	onClose?(peer: string, error: Error | undefined): void;
}

interface Session {
	connection: DtlsConnection;
	lastActivity: number;
}

export interface DtlsServerStats {
	helloVerifyRequests: number;
	accepted: number;
	badCookies: number;
	dropped: number;
	active: number;
	evicted: number;
}

export class DtlsServer {
	readonly #o: DtlsServerOptions;
	readonly #secret: Uint8Array;
	readonly #sessions = new Map<string, Session>();
	readonly #sweeper: Timer;
	readonly #stats: DtlsServerStats = { helloVerifyRequests: 0, accepted: 0, badCookies: 0, dropped: 0, active: 0, evicted: 0 };
	#closed = false;

	constructor(options: DtlsServerOptions) {
		this.#o = options;
		this.#secret = options.random(new Uint8Array(32));
		this.#sweeper = options.clock.timer(() => this.#sweep());
	}

	stats(): DtlsServerStats {
		return { ...this.#stats, active: this.#sessions.size };
	}

	/** A datagram from `peer`; `reply` sends one datagram back to it. */
	receive(datagram: Uint8Array, peer: string, reply: (datagram: Uint8Array) => void): void {
		if (this.#closed) return;
		const s = this.#sessions.get(peer);
		if (s !== undefined) {
			s.lastActivity = this.#o.clock.now();
			s.connection.receive(datagram);
			return;
		}
		this.#listen(datagram, peer, reply);
	}

	/** No session yet: only a ClientHello counts, and only one with our cookie creates state. */
	#listen(datagram: Uint8Array, peer: string, reply: (datagram: Uint8Array) => void): void {
		const first = parseDatagram(datagram).records[0];
		if (first === undefined || first.type !== CONTENT_HANDSHAKE || first.epoch !== 0) {
			this.#stats.dropped++;
			return;
		}
		let hello;
		let message;
		try {
			const f = readFragments(datagram.subarray(first.offset, first.offset + first.length))[0];
			// A fragmented first ClientHello is not reassembled statelessly (RFC 6347 §4.2.1 allows any policy here).
			if (f === undefined || f.msgType !== HandshakeType.clientHello || f.fragmentOffset !== 0 || f.fragmentLength !== f.length) throw new HandshakeError("not a whole ClientHello");
			hello = decodeClientHello(f.data);
			message = encodeHandshakeMessage(f.msgType, f.messageSeq, f.data);
			if (!this.#cookieValid(peer, hello.random, hello.cookie)) {
				if (hello.cookie.length > 0) this.#stats.badCookies++;
				this.#helloVerify(peer, hello.random, f.messageSeq, first.sequence, reply);
				return;
			}
		} catch (e) {
			if (!(e instanceof HandshakeError) && !(e instanceof RangeError)) throw e;
			this.#stats.dropped++;
			return;
		}
		this.#accept(peer, hello, message, first.sequence, reply);
	}

	#accept(peer: string, hello: ReturnType<typeof decodeClientHello>, message: Uint8Array, recordSequence: number, reply: (d: Uint8Array) => void): void {
		const max = this.#o.maxSessions ?? 64;
		if (this.#sessions.size >= max) {
			const oldest = leastRecent(this.#sessions);
			if (oldest !== undefined) {
				this.#stats.evicted++;
				this.#sessions.get(oldest)?.connection.close();
				this.#sessions.delete(oldest);
			}
		}
		this.#stats.accepted++;
		let connection: DtlsConnection;
		connection = new DtlsConnection(
			{
				role: "server",
				crypto: this.#o.crypto,
				clock: this.#o.clock,
				random: this.#o.random,
				send: reply,
				identity: this.#o.identity,
				verifyPeer: this.#o.verifyPeer,
				onConnected: () => this.#o.onConnected?.(peer, connection),
				onData: (d) => this.#o.onData?.(peer, d, connection),
				onClose: (e) => {
					if (this.#sessions.get(peer)?.connection === connection) this.#sessions.delete(peer);
					this.#o.onClose?.(peer, e);
				},
				...(this.#o.mtu !== undefined ? { mtu: this.#o.mtu } : {}),
				...(this.#o.retransmitInitialMs !== undefined ? { retransmitInitialMs: this.#o.retransmitInitialMs } : {}),
				...(this.#o.handshakeTimeoutMs !== undefined ? { handshakeTimeoutMs: this.#o.handshakeTimeoutMs } : {}),
			},
			{ message, hello, recordSequence },
		);
		if (connection.state === "closed") return;
		this.#sessions.set(peer, { connection, lastActivity: this.#o.clock.now() });
		this.#o.onAccept(peer, connection);
		if (!this.#sweeper.armed) this.#sweeper.arm(5_000);
	}

	/** RFC 6347 §4.2.1: HMAC(secret, client identity, client parameters); here the peer and its random. */
	#cookie(peer: string, clientRandom: Uint8Array): Uint8Array {
		const id = utf8Encode(peer);
		const input = new Uint8Array(id.length + clientRandom.length);
		input.set(id);
		input.set(clientRandom, id.length);
		return this.#o.crypto.hmacSha256(this.#secret, input).subarray(0, COOKIE_BYTES);
	}

	#cookieValid(peer: string, clientRandom: Uint8Array, cookie: Uint8Array): boolean {
		if (cookie.length !== COOKIE_BYTES) return false;
		return bytesEqualConstantTime(this.#cookie(peer, clientRandom), cookie);
	}

	#helloVerify(peer: string, clientRandom: Uint8Array, messageSeq: number, recordSequence: number, reply: (d: Uint8Array) => void): void {
		// RFC 6347 §4.2.1: server_version DTLS 1.0 in HVR for compatibility; record sequence copied from the ClientHello.
		const body = encodeHelloVerifyRequest({ serverVersion: DTLS_1_0, cookie: this.#cookie(peer, clientRandom) });
		const msg = encodeHandshakeMessage(HandshakeType.helloVerifyRequest, messageSeq, body);
		const out = new Uint8Array(recordLength(msg.length));
		writeRecord(out, 0, CONTENT_HANDSHAKE, DTLS_1_0, 0, recordSequence, msg);
		this.#stats.helloVerifyRequests++;
		reply(out);
	}

	#sweep(): void {
		const now = this.#o.clock.now();
		const idle = this.#o.idleTimeoutMs ?? 120_000;
		for (const [peer, s] of [...this.#sessions]) {
			if (now - s.lastActivity >= idle) {
				this.#sessions.delete(peer);
				s.connection.close();
			}
		}
		if (this.#sessions.size > 0 && !this.#closed) this.#sweeper.arm(5_000);
	}

	/** Idempotent: close_notify to every association. */
	close(): void {
		if (this.#closed) return;
		this.#closed = true;
		this.#sweeper.cancel();
		for (const s of [...this.#sessions.values()]) s.connection.close();
		this.#sessions.clear();
	}
}
