/*
 * DTLS 1.2 server side: a listener that answers ClientHellos without a valid cookie with a
 * HelloVerifyRequest and keeps no state for them (RFC 6347 §4.2.1), and a bounded table of
 * associations keyed by a peer identity the transport supplies. The same server thus runs on a UDP
 * socket (peer = address and port) and behind the stateless Join Proxy's JPY endpoint (peer = proxy
 * address, port and JPY header).
 *
 * A client that lost its state (a rebooted pledge) comes back from the same peer with a fresh
 * ClientHello (RFC 6347 §4.2.8). That hello goes through the same stateless cookie exchange while the
 * old association stays untouched; a valid cookie proves the peer is reachable there, and then the
 * new association replaces the old one.
 */

import type { Clock } from "../../hosts/host.js";
import type { CryptoProvider } from "../crypto/provider.js";
import { DtlsConnection, type DtlsIdentity, type PeerVerifier } from "./connection.js";
import { readFragments } from "./fragments.js";
import { decodeClientHello, DTLS_1_0, encodeHandshakeMessage, encodeHelloVerifyRequest, HandshakeError, HandshakeType, type ClientHello } from "./handshake.js";
import { CONTENT_HANDSHAKE, parseDatagram, RECORD_HEADER_BYTES, recordLength, writeRecord } from "./record.js";
import { utf8Encode } from "../util/utf8.js";
import { bytesEqual } from "../util/hex.js";
import { SessionTable } from "../util/session-table.js";
import { bytesEqualConstantTime } from "../crypto/constant-time.js";

/** Cookie length: 16 bytes of HMAC-SHA256 (RFC 6347 §4.2.1 leaves the format to the server). */
const COOKIE_BYTES = 16;
/**
 * A cookie is bound to the period it was made in and accepted in that period and the next, so one
 * lives 60 to 120 s (RFC 6347 §4.2.1 suggests changing the secret now and then). A recorded
 * ClientHello with its cookie thus cannot later open state, or replace the association of a pledge
 * that since restarted; a real client answers the HelloVerifyRequest within a few retransmissions.
 */
const COOKIE_PERIOD_MS = 60_000;

export interface DtlsServerOptions {
	crypto: CryptoProvider;
	clock: Clock;
	random: (bytes: Uint8Array) => Uint8Array;
	identity: DtlsIdentity;
	verifyPeer: PeerVerifier;
	/** A new association passed the cookie check; return its event handlers. */
	onAccept(peer: string, connection: DtlsConnection): void;
	/**
	 * Most associations at once (default 64). Beyond, the least recently active one still in its
	 * handshake is dropped, so new peers displace their own kind; only then an established one.
	 */
	maxSessions?: number;
	/** Associations idle this long are closed (default 120 s). */
	idleTimeoutMs?: number;
	mtu?: number;
	retransmitInitialMs?: number;
	handshakeTimeoutMs?: number;
	finalFlightRetentionMs?: number;
	/** Handlers for every association's events. */
	onData?(peer: string, data: Uint8Array, connection: DtlsConnection): void;
	onConnected?(peer: string, connection: DtlsConnection): void;
	/** The association ended (closed, failed, idle, evicted, or replaced by a new one from the same peer). */
	onClose?(peer: string, error: Error | undefined, connection: DtlsConnection): void;
}

interface Session {
	connection: DtlsConnection;
	/** The client random of the ClientHello it started from: a repeat of that hello is its own retransmission. */
	clientRandom: Uint8Array;
}

/** A whole ClientHello that opens a datagram. */
interface Hello {
	hello: ClientHello;
	message: Uint8Array;
	messageSeq: number;
	recordSequence: number;
}

export interface DtlsServerStats {
	helloVerifyRequests: number;
	accepted: number;
	badCookies: number;
	dropped: number;
	active: number;
	evicted: number;
	/** Associations replaced by a new one from the same peer (RFC 6347 §4.2.8). */
	replaced: number;
}

export class DtlsServer {
	readonly #o: DtlsServerOptions;
	readonly #secret: Uint8Array;
	readonly #sessions: SessionTable<string, Session>;
	readonly #stats: DtlsServerStats = { helloVerifyRequests: 0, accepted: 0, badCookies: 0, dropped: 0, active: 0, evicted: 0, replaced: 0 };
	#closed = false;

	constructor(options: DtlsServerOptions) {
		this.#o = options;
		this.#secret = options.random(new Uint8Array(32));
		this.#sessions = new SessionTable({
			clock: options.clock,
			maxSessions: options.maxSessions ?? 64,
			idleTimeoutMs: options.idleTimeoutMs ?? 120_000,
			evictFirst: (s) => s.connection.state !== "connected",
			onEnd: (_peer, s, reason) => {
				if (reason === "evicted") this.#stats.evicted++;
				s.connection.close();
			},
		});
	}

	stats(): DtlsServerStats {
		return { ...this.#stats, active: this.#sessions.size };
	}

	/** A datagram from `peer`; `reply` sends one datagram back to it. */
	receive(datagram: Uint8Array, peer: string, reply: (datagram: Uint8Array) => void): void {
		if (this.#closed) return;
		const s = this.#sessions.get(peer);
		if (s !== undefined && !opensWithClientHello(datagram)) return this.#deliver(s, peer, datagram);
		const h = this.#readHello(datagram);
		if (h === undefined) {
			this.#stats.dropped++;
			return;
		}
		// The hello this association started from, again: its flight 4 was lost, the association answers.
		if (s !== undefined && bytesEqual(h.hello.random, s.clientRandom)) return this.#deliver(s, peer, datagram);
		if (!this.#cookieValid(peer, h.hello.random, h.hello.cookie)) {
			if (h.hello.cookie.length > 0) this.#stats.badCookies++;
			this.#helloVerify(peer, h.hello.random, h.messageSeq, h.recordSequence, reply);
			return;
		}
		if (s !== undefined) {
			// RFC 6347 §4.2.8: the cookie shows the peer restarted at this address; the old association is abandoned.
			this.#stats.replaced++;
			this.#sessions.delete(peer);
			s.connection.close();
		}
		this.#accept(peer, h, reply);
	}

	/** Only what the association accepted counts as activity: garbage must not keep it alive. */
	#deliver(s: Session, peer: string, datagram: Uint8Array): void {
		if (s.connection.receive(datagram)) this.#sessions.touch(peer);
	}

	/** The whole, unfragmented ClientHello in the datagram's first record, or undefined. */
	#readHello(datagram: Uint8Array): Hello | undefined {
		const first = parseDatagram(datagram).records[0];
		if (first === undefined || first.type !== CONTENT_HANDSHAKE || first.epoch !== 0) return undefined;
		try {
			const f = readFragments(datagram.subarray(first.offset, first.offset + first.length))[0];
			// A fragmented first ClientHello is not reassembled statelessly (RFC 6347 §4.2.1 allows any policy here).
			if (f === undefined || f.msgType !== HandshakeType.clientHello || f.fragmentOffset !== 0 || f.fragmentLength !== f.length) return undefined;
			return { hello: decodeClientHello(f.data), message: encodeHandshakeMessage(f.msgType, f.messageSeq, f.data), messageSeq: f.messageSeq, recordSequence: first.sequence };
		} catch (e) {
			if (!(e instanceof HandshakeError) && !(e instanceof RangeError)) throw e;
			return undefined;
		}
	}

	#accept(peer: string, h: Hello, reply: (d: Uint8Array) => void): void {
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
					this.#o.onClose?.(peer, e, connection);
				},
				...(this.#o.mtu !== undefined ? { mtu: this.#o.mtu } : {}),
				...(this.#o.retransmitInitialMs !== undefined ? { retransmitInitialMs: this.#o.retransmitInitialMs } : {}),
				...(this.#o.handshakeTimeoutMs !== undefined ? { handshakeTimeoutMs: this.#o.handshakeTimeoutMs } : {}),
				...(this.#o.finalFlightRetentionMs !== undefined ? { finalFlightRetentionMs: this.#o.finalFlightRetentionMs } : {}),
			},
			{ message: h.message, hello: h.hello, recordSequence: h.recordSequence },
		);
		if (connection.state === "closed") return;
		this.#sessions.set(peer, { connection, clientRandom: h.hello.random.slice() });
		this.#o.onAccept(peer, connection);
	}

	/** RFC 6347 §4.2.1: HMAC(secret, client identity, client parameters); here the peer, its random and the period. */
	#cookie(peer: string, clientRandom: Uint8Array, period: number): Uint8Array {
		const id = utf8Encode(peer);
		const input = new Uint8Array(id.length + clientRandom.length + 4);
		input.set(id);
		input.set(clientRandom, id.length);
		new DataView(input.buffer).setUint32(id.length + clientRandom.length, period >>> 0);
		return this.#o.crypto.hmacSha256(this.#secret, input).subarray(0, COOKIE_BYTES);
	}

	#period(): number {
		return Math.floor(this.#o.clock.now() / COOKIE_PERIOD_MS);
	}

	#cookieValid(peer: string, clientRandom: Uint8Array, cookie: Uint8Array): boolean {
		if (cookie.length !== COOKIE_BYTES) return false;
		const now = this.#period();
		return bytesEqualConstantTime(this.#cookie(peer, clientRandom, now), cookie) || bytesEqualConstantTime(this.#cookie(peer, clientRandom, now - 1), cookie);
	}

	#helloVerify(peer: string, clientRandom: Uint8Array, messageSeq: number, recordSequence: number, reply: (d: Uint8Array) => void): void {
		// RFC 6347 §4.2.1: server_version DTLS 1.0 in HVR for compatibility; record sequence copied from the ClientHello.
		const body = encodeHelloVerifyRequest({ serverVersion: DTLS_1_0, cookie: this.#cookie(peer, clientRandom, this.#period()) });
		const msg = encodeHandshakeMessage(HandshakeType.helloVerifyRequest, messageSeq, body);
		const out = new Uint8Array(recordLength(msg.length));
		writeRecord(out, 0, CONTENT_HANDSHAKE, DTLS_1_0, 0, recordSequence, msg);
		this.#stats.helloVerifyRequests++;
		reply(out);
	}

	/** Idempotent: close_notify to every association. */
	close(): void {
		if (this.#closed) return;
		this.#closed = true;
		this.#sessions.close();
	}
}

/**
 * Cheap look at the first record: epoch-0 handshake whose first message is a ClientHello. Records
 * of an association's own traffic fail this at once, so they skip the full parse.
 */
function opensWithClientHello(datagram: Uint8Array): boolean {
	return datagram.length > RECORD_HEADER_BYTES && datagram[0] === CONTENT_HANDSHAKE && datagram[3] === 0 && datagram[4] === 0 && datagram[RECORD_HEADER_BYTES] === HandshakeType.clientHello;
}
