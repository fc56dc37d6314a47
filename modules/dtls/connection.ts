/*
 * One DTLS 1.2 association (RFC 6347), client or server, for TLS_ECDHE_ECDSA_WITH_AES_128_CCM_8
 * (RFC 7251) on P-256 with certificates both ways (RFC 7925 §4.4, cBRSKI): the handshake state
 * machine with flights and their retransmission (RFC 6347 §4.2.4), the extended master secret
 * (RFC 7627), max_fragment_length (RFC 6066 §4), then application data, alerts and close_notify.
 * The server side starts here only after its listener (server.ts) has checked the cookie.
 */

import type { Clock, Timer } from "../../hosts/host.js";
import type { CryptoProvider, EcKeyPair } from "../crypto/provider.js";
import { fragment, FragmentConflictError, readFragments, Reassembler } from "./fragments.js";
import {
	AlertDescription,
	CipherSuite,
	CLIENT_CERTIFICATE_TYPE_ECDSA_SIGN,
	COMPRESSION_NULL,
	decodeCertificate,
	decodeCertificateRequest,
	decodeCertificateVerify,
	decodeClientKeyExchange,
	decodeFinished,
	decodeHandshakeMessage,
	decodeHelloVerifyRequest,
	decodeServerHello,
	decodeServerHelloDone,
	decodeServerKeyExchange,
	DTLS_1_2,
	ECDSA_SHA256,
	encodeCertificate,
	encodeCertificateRequest,
	encodeCertificateVerify,
	encodeClientHello,
	encodeClientKeyExchange,
	encodeFinished,
	encodeHandshakeMessage,
	encodeServerHello,
	encodeServerHelloDone,
	encodeServerKeyExchange,
	ecPointFormatsExtension,
	extendedMasterSecretExtension,
	HandshakeError,
	HandshakeType,
	maxFragmentLengthBytes,
	maxFragmentLengthExtension,
	NAMED_CURVE_SECP256R1,
	parseExtensions,
	renegotiationInfoExtension,
	serverKeyExchangeSignedData,
	signatureAlgorithmsExtension,
	supportedGroupsExtension,
	type ClientHello,
	type Extension,
} from "./handshake.js";
import { extendedMasterSecret, KEY_BLOCK_LENGTH_CCM8, keyBlock, keyMaterialCcm8, verifyData } from "./prf.js";
import { Oid, parseCertificate } from "../x509/certificate.js";
import {
	CONTENT_ALERT,
	CONTENT_APPLICATION_DATA,
	CONTENT_CHANGE_CIPHER_SPEC,
	CONTENT_HANDSHAKE,
	MAX_PLAINTEXT,
	RecordLayer,
	RecordLayerClosedError,
	RecordProtection,
	SequenceExhaustedError,
	type UnprotectedRecord,
} from "./record.js";
import { bytesEqual, concatBytes } from "../util/hex.js";
import { bytesEqualConstantTime } from "../crypto/constant-time.js";

/** Our certificate chain (DER, leaf first) and the leaf's P-256 private key. */
export interface DtlsIdentity {
	certificates: Uint8Array[];
	privateKey: Uint8Array;
}

/** Checks the peer's chain (DER, leaf first): undefined to accept, or why not (sent as bad_certificate). */
export type PeerVerifier = (chain: Uint8Array[]) => string | undefined;

export interface DtlsConnectionOptions {
	role: "client" | "server";
	crypto: CryptoProvider;
	clock: Clock;
	random: (bytes: Uint8Array) => Uint8Array;
	/** Sends one datagram to the peer. */
	send(datagram: Uint8Array): void;
	identity: DtlsIdentity;
	verifyPeer: PeerVerifier;
	onConnected?(): void;
	onData?(data: Uint8Array): void;
	/** The association ended: close_notify (no error), a fatal alert either way, or a timeout. */
	onClose?(error?: Error): void;
	/** Client: ask for max_fragment_length 512 or 1024 (RFC 6066; cBRSKI §… requires 2^9 or 2^10). */
	maxFragmentLength?: 512 | 1024;
	/** Largest datagram we send (default 1024: the PMTU cBRSKI recommends). */
	mtu?: number;
	/** Flight retransmission: first timeout and cap (RFC 6347 §4.2.4.1: 1 s, doubling, 60 s). */
	retransmitInitialMs?: number;
	retransmitMaxMs?: number;
	/** Give up the handshake after this long (default 60 s). */
	handshakeTimeoutMs?: number;
	/**
	 * Server: how long after the handshake epoch 0 is kept to answer a retransmitted client final
	 * flight with our last one (default FINAL_FLIGHT_RETENTION_MS); then it is discarded.
	 */
	finalFlightRetentionMs?: number;
	maxAuthFailures?: number;
}

/** Server side only: the ClientHello the listener accepted with a valid cookie. */
export interface AcceptedHello {
	message: Uint8Array;
	hello: ClientHello;
	recordSequence: number;
}

export class DtlsAlertError extends Error {
	override readonly name = "DtlsAlertError";
	readonly alert: number;
	/** True when the peer sent the alert, false when we did. */
	readonly received: boolean;

	constructor(message: string, alert: number, received: boolean) {
		super(message);
		this.alert = alert;
		this.received = received;
	}
}

export class DtlsTimeoutError extends Error {
	override readonly name = "DtlsTimeoutError";
}

const ALERT_WARNING = 1;
const ALERT_FATAL = 2;
const CLOSE_NOTIFY = 0;
const BAD_CERTIFICATE = 42;
const DECRYPT_ERROR = 51;
const NO_RENEGOTIATION = 100;
const SUITE = CipherSuite.ecdheEcdsaWithAes128Ccm8;
/**
 * RFC 6347 §4.2.4: the side that sent the last flight answers a retransmission of the peer's last
 * flight "for at least twice the default MSL defined for [TCP]" (RFC 793: MSL of 2 minutes).
 */
export const FINAL_FLIGHT_RETENTION_MS = 2 * 120_000;
const DEFAULT_MTU = 1024;
const CCS_PAYLOAD = new Uint8Array([1]);
const EMPTY: Uint8Array = new Uint8Array(0);
/** Stands for "nothing of the peer's flight yet" in the order tables below. */
const FLIGHT_START = -1;
/**
 * Distinct ServerKeyExchanges a client sets aside as possibly stale (see #staleKeyExchange) before a
 * failing one is fatal: a bound on what a flood of forged flights can make it remember.
 */
const MAX_SET_ASIDE_KEY_EXCHANGES = 4;
/**
 * The order of the messages of the flight we wait for: each type with the types it may directly
 * follow (RFC 5246 §7.3 and §7.4; RFC 6347 §4.2.4). Any other type, a repeat included, is an
 * unexpected_message. The server flight's CertificateRequest is optional (RFC 5246 §7.4.4); the
 * client's CertificateVerify is not, since the server always asks for and requires a certificate
 * (RFC 5246 §7.4.8: sent after any client certificate with signing capability).
 */
const SERVER_FLIGHT_ORDER: Readonly<Record<number, readonly number[]>> = Object.freeze({
	[HandshakeType.serverHello]: Object.freeze([FLIGHT_START]),
	[HandshakeType.certificate]: Object.freeze([HandshakeType.serverHello]),
	[HandshakeType.serverKeyExchange]: Object.freeze([HandshakeType.certificate]),
	[HandshakeType.certificateRequest]: Object.freeze([HandshakeType.serverKeyExchange]),
	[HandshakeType.serverHelloDone]: Object.freeze([HandshakeType.serverKeyExchange, HandshakeType.certificateRequest]),
});
const CLIENT_FLIGHT_ORDER: Readonly<Record<number, readonly number[]>> = Object.freeze({
	[HandshakeType.certificate]: Object.freeze([FLIGHT_START]),
	[HandshakeType.clientKeyExchange]: Object.freeze([HandshakeType.certificate]),
	[HandshakeType.certificateVerify]: Object.freeze([HandshakeType.clientKeyExchange]),
	[HandshakeType.finished]: Object.freeze([HandshakeType.certificateVerify]),
});

type State = "start" | "wait-server-flight" | "wait-client-flight" | "wait-finished" | "connected" | "closed";

interface FlightRecord {
	epoch: number;
	type: number;
	payload: Uint8Array;
}

export class DtlsConnection {
	readonly #o: DtlsConnectionOptions;
	readonly #records: RecordLayer;
	readonly #crypto: CryptoProvider;
	#reassembler = new Reassembler();
	#state: State = "start";
	#sendSeq = 0;
	/** Handshake messages in the transcript (RFC 6347 §4.2.6: from the ClientHello with the cookie on). */
	readonly #transcript: Uint8Array[] = [];
	#flight: FlightRecord[] = [];
	readonly #retransmit: Timer;
	readonly #deadline: Timer;
	/** Ends the final-flight retention: epoch 0 is discarded both ways. */
	readonly #retire: Timer;
	#timeout: number;
	/** A record of the datagram being read repeats the flight our current one answers. */
	#peerRetransmitted = false;
	#clientRandom: Uint8Array = EMPTY;
	#serverRandom: Uint8Array = EMPTY;
	#ecdhe: EcKeyPair | undefined;
	#peerEcdhe: Uint8Array | undefined;
	#peerChain: Uint8Array[] = [];
	#peerKey: Uint8Array | undefined;
	#master: Uint8Array | undefined;
	/** Keys derived but not in use yet: ours until we send ChangeCipherSpec, the peer's until it does. */
	#pendingWrite: RecordProtection | undefined;
	#pendingRead: RecordProtection | undefined;
	#maxFragment = 0;
	/** message_seq of the first message of the peer flight our current flight waits for. */
	#awaitingFrom = 0;
	/** Client: one HelloVerifyRequest is answered; a second one is unexpected. */
	#cookieReceived = false;
	#ems = false;
	/** Type of the last message of the peer's current flight we acted on (FLIGHT_START before its first). */
	#peerLast = FLIGHT_START;
	/** Client: the server sent a CertificateRequest, so our flight carries Certificate and CertificateVerify. */
	#certificateRequested = false;
	/** Fragment size: our MTU less record and handshake headers and AEAD overhead. */
	#fragmentBody: number;
	/** Times our current handshake flight went out (first sending and every retransmission). */
	#flightSends = 0;
	/** Client: ServerKeyExchanges that did not verify and were discarded, with #flightSends then. */
	readonly #setAsideKeyExchanges: { bytes: Uint8Array; sends: number }[] = [];

	constructor(options: DtlsConnectionOptions, accepted?: AcceptedHello) {
		this.#o = options;
		this.#crypto = options.crypto;
		this.#timeout = options.retransmitInitialMs ?? 1000;
		this.#records = new RecordLayer({
			...(accepted !== undefined ? { initialWriteSequence: accepted.recordSequence } : {}),
			...(options.maxAuthFailures !== undefined ? { maxAuthFailures: options.maxAuthFailures } : {}),
		});
		this.#fragmentBody = (options.mtu ?? DEFAULT_MTU) - 13 - 16 - 12;
		this.#retransmit = options.clock.timer(() => this.#onRetransmitTimer());
		this.#deadline = options.clock.timer(() => this.#fail(new DtlsTimeoutError("DTLS handshake timed out"), undefined));
		this.#deadline.arm(options.handshakeTimeoutMs ?? 60_000);
		this.#retire = options.clock.timer(() => this.#retirePreviousEpoch());
		if (options.role === "server") {
			if (accepted === undefined) throw new RangeError("a server connection starts from an accepted ClientHello");
			this.#sendSeq = decodeHandshakeMessage(accepted.message).messageSeq;
			this.#reassembler = new Reassembler({ nextSeq: this.#sendSeq + 1 });
			this.#serverFirstFlight(accepted);
		}
	}

	get state(): string {
		return this.#state;
	}

	/** The peer's certificate chain (DER, leaf first), once the handshake has checked it. */
	get peerCertificates(): Uint8Array[] {
		return this.#peerChain;
	}

	/** Client: sends the first ClientHello. */
	start(): void {
		if (this.#o.role !== "client" || this.#state !== "start") return;
		this.#clientRandom = this.#random(32);
		this.#sendClientHello(EMPTY);
		this.#state = "wait-server-flight";
	}

	/** Most plaintext bytes one record carries: the negotiated max_fragment_length (RFC 6066 §4), else 2^14. */
	get maxPlaintext(): number {
		return this.#maxFragment > 0 ? this.#maxFragment : MAX_PLAINTEXT;
	}

	/** Application data to the peer (one record per call; keep it within maxPlaintext). */
	send(data: Uint8Array): void {
		if (this.#state !== "connected") throw new Error("DTLS connection not established");
		const limit = this.maxPlaintext;
		if (data.length > limit) throw new RangeError(`application data over the record limit of ${limit} bytes`);
		this.#o.send(this.#records.protect(CONTENT_APPLICATION_DATA, data));
	}

	/** Sends close_notify and ends the association. Idempotent. */
	close(): void {
		if (this.#state === "closed") return;
		if (this.#state === "connected") this.#sendAlert(ALERT_WARNING, CLOSE_NOTIFY);
		this.#end(undefined);
	}

	/**
	 * Every datagram from the peer goes here. True when a record of it was taken as the peer's:
	 * records that fail a check, replays and records of an earlier epoch are no sign of life, so a
	 * server must not keep the association alive for them.
	 */
	receive(datagram: Uint8Array): boolean {
		if (this.#state === "closed") return false;
		let accepted = false;
		this.#peerRetransmitted = false;
		try {
			this.#records.unprotectEach(datagram, (r) => {
				// An earlier record may have closed the association.
				if ((this.#state as State) !== "closed" && this.#onRecord(r)) accepted = true;
			});
			// Once per datagram, however many of its records were repeats.
			if (this.#peerRetransmitted && this.#flight.length > 0 && (this.#state as State) !== "closed") this.#sendFlight();
		} catch (e) {
			if (e instanceof HandshakeError) this.#fail(new DtlsAlertError(e.message, e.alert, false), e.alert);
			else if (e instanceof DtlsAlertError) this.#fail(e, e.received ? undefined : e.alert);
			else if (e instanceof RecordLayerClosedError || e instanceof SequenceExhaustedError) this.#fail(e, undefined);
			else throw e;
			return accepted;
		}
		if (this.#records.failed) this.#fail(new DtlsAlertError("too many records failed authentication", DECRYPT_ERROR, false), undefined);
		return accepted;
	}

	/** Acts on one record; false when it belongs to an earlier epoch than the one we read. */
	#onRecord(r: UnprotectedRecord): boolean {
		if (r.epoch < this.#records.readEpoch) {
			// RFC 6347 §4.1: records of an earlier epoch are not acted on. Epoch 0 is plaintext, so an
			// alert there could come from anyone; only a repeat of the peer's last handshake flight
			// still matters (our last flight was lost, RFC 6347 §4.2.4).
			if (r.type === CONTENT_HANDSHAKE) this.#onStaleHandshake(r.plaintext);
			return false;
		}
		switch (r.type) {
			case CONTENT_HANDSHAKE:
				this.#onHandshakeRecord(r.plaintext);
				break;
			case CONTENT_CHANGE_CIPHER_SPEC:
				if (this.#pendingRead === undefined || r.plaintext.length !== 1 || r.plaintext[0] !== 1) break; // early, late or repeated CCS: drop (RFC 6347 §4.1)
				this.#records.setReadProtection(this.#records.readEpoch + 1, this.#pendingRead);
				this.#pendingRead = undefined;
				break;
			case CONTENT_ALERT:
				this.#onAlert(r.plaintext);
				break;
			case CONTENT_APPLICATION_DATA:
				if (this.#state === "connected" && r.epoch > 0) this.#o.onData?.(r.plaintext);
				break;
		}
		return true;
	}

	#onAlert(p: Uint8Array): void {
		if (p.length !== 2) return;
		if (p[1] === CLOSE_NOTIFY) {
			this.#end(undefined);
			return;
		}
		if (p[0] === ALERT_FATAL) throw new DtlsAlertError(`peer sent fatal alert ${p[1]}`, p[1]!, true);
	}

	#onHandshakeRecord(payload: Uint8Array): void {
		const fragments = readFragments(payload);
		try {
			for (const f of fragments) {
				// Only a repeat of the flight our current one answers means ours was lost (RFC 6347 §4.2.4);
				// a repeat of the flight we are still waiting for must not trigger ours, or both sides echo
				// each other's retransmissions for ever.
				if (this.#reassembler.add(f) === "retransmission" && f.messageSeq < this.#awaitingFrom && this.#state !== "start") this.#peerRetransmitted = true;
			}
		} catch (e) {
			if (!(e instanceof FragmentConflictError && this.#awaitingServerFlight())) throw e;
			// RFC 6347 §4.1.2.7: an invalid record may be dropped. Two server flights are mixing (see
			// #discardServerFlight); which one is current cannot be told yet, so both start over.
			this.#discardServerFlight();
			return;
		}
		for (let m = this.#reassembler.pop(); m !== undefined; m = this.#reassembler.pop()) this.#onMessage(m);
	}

	/** Client, between its ClientHello and its second flight: the server flight is being assembled. */
	#awaitingServerFlight(): boolean {
		return this.#o.role === "client" && this.#state === "wait-server-flight";
	}

	/**
	 * A client restarted on the same address and port (RFC 6347 §4.2.8) can still receive the
	 * previous association's server flight, late: the same message_seq values as the current one,
	 * but another server_random and ECDHE key. Mixed with the current flight it shows as conflicting
	 * fragments or a ServerKeyExchange that does not verify. What we have of the server flight is
	 * dropped; the server's retransmission (our timer resends the ClientHello) brings it whole.
	 */
	#discardServerFlight(): void {
		this.#reassembler = new Reassembler({ nextSeq: this.#awaitingFrom });
		this.#peerLast = FLIGHT_START;
		this.#serverRandom = EMPTY;
		this.#ems = false;
		this.#peerChain = [];
		this.#peerKey = undefined;
		this.#peerEcdhe = undefined;
		this.#certificateRequested = false;
		// The transcript keeps only our ClientHello (RFC 6347 §4.2.6).
		this.#transcript.length = 1;
	}

	/**
	 * A ServerKeyExchange that does not verify is set aside as possibly stale (#discardServerFlight),
	 * unless the very same one comes again after our flight went out again: then it is the server's
	 * answer to our current ClientHello, and the failure is real.
	 */
	#staleKeyExchange(bytes: Uint8Array): boolean {
		const prior = this.#setAsideKeyExchanges.find((k) => bytesEqual(k.bytes, bytes));
		if (prior !== undefined) return prior.sends === this.#flightSends;
		if (this.#setAsideKeyExchanges.length >= MAX_SET_ASIDE_KEY_EXCHANGES) return false;
		this.#setAsideKeyExchanges.push({ bytes: bytes.slice(), sends: this.#flightSends });
		return true;
	}

	/**
	 * A handshake record of an earlier epoch: only looked at for repeats of messages already
	 * delivered. Nothing in it is stored, and a malformed one is dropped like any bad record, since
	 * anyone can write plaintext.
	 */
	#onStaleHandshake(payload: Uint8Array): void {
		try {
			for (const f of readFragments(payload)) {
				if (f.messageSeq < this.#awaitingFrom) this.#peerRetransmitted = true;
			}
		} catch (e) {
			if (!(e instanceof HandshakeError)) throw e;
		}
	}

	#onMessage(bytes: Uint8Array): void {
		const m = decodeHandshakeMessage(bytes);
		const unexpected = (): never => {
			throw new HandshakeError(`unexpected handshake message ${m.msgType} in state ${this.#state}`, AlertDescription.unexpectedMessage);
		};
		if (this.#o.role === "client") {
			switch (this.#state) {
				case "wait-server-flight":
					if (m.msgType === HandshakeType.helloVerifyRequest && !this.#cookieReceived && this.#serverRandom.length === 0) {
						this.#cookieReceived = true;
						const hvr = decodeHelloVerifyRequest(m.body);
						this.#reassembler = new Reassembler({ nextSeq: m.messageSeq + 1 });
						this.#sendClientHello(hvr.cookie);
						return;
					}
					this.#inOrder(m.msgType, SERVER_FLIGHT_ORDER);
					return this.#clientOnServerFlight(m.msgType, bytes, m.body);
				case "wait-finished":
					if (m.msgType !== HandshakeType.finished) return unexpected();
					this.#checkFinished(m.body, "server finished");
					this.#transcript.push(bytes);
					return this.#connected();
				case "connected":
					// A server's HelloRequest asks for renegotiation, which we refuse (RFC 5746 not offered).
					if (m.msgType === HandshakeType.helloRequest) this.#sendAlert(ALERT_WARNING, NO_RENEGOTIATION);
					return;
				default:
					return unexpected();
			}
		}
		switch (this.#state) {
			case "wait-client-flight":
				this.#inOrder(m.msgType, CLIENT_FLIGHT_ORDER);
				return this.#serverOnClientFlight(m.msgType, bytes, m.body);
			case "connected":
				if (m.msgType === HandshakeType.clientHello) this.#sendAlert(ALERT_WARNING, NO_RENEGOTIATION);
				return;
			default:
				return unexpected();
		}
	}

	/** A message out of its flight's order (`order`), or a repeat, ends the handshake: unexpected_message. */
	#inOrder(type: number, order: Readonly<Record<number, readonly number[]>>): void {
		const after = order[type];
		if (after === undefined || !after.includes(this.#peerLast)) {
			throw new HandshakeError(`handshake message ${type} out of order (after ${this.#peerLast}) in state ${this.#state}`, AlertDescription.unexpectedMessage);
		}
		this.#peerLast = type;
	}

	/* ------------------------------------------------------------------ client */

	#sendClientHello(cookie: Uint8Array): void {
		const extensions: Extension[] = [
			supportedGroupsExtension([NAMED_CURVE_SECP256R1]),
			ecPointFormatsExtension(),
			signatureAlgorithmsExtension([ECDSA_SHA256]),
			extendedMasterSecretExtension(),
			renegotiationInfoExtension(),
		];
		if (this.#o.maxFragmentLength !== undefined) extensions.push(maxFragmentLengthExtension(this.#o.maxFragmentLength === 512 ? 1 : 2));
		const body = encodeClientHello({
			clientVersion: DTLS_1_2,
			random: this.#clientRandom,
			sessionId: EMPTY,
			cookie,
			cipherSuites: [SUITE],
			compressionMethods: [COMPRESSION_NULL],
			extensions,
		});
		const message = encodeHandshakeMessage(HandshakeType.clientHello, this.#sendSeq++, body);
		// RFC 6347 §4.2.6: the transcript starts with the ClientHello that carries the cookie (or the first, without HVR).
		this.#transcript.length = 0;
		this.#transcript.push(message);
		this.#newFlight([{ epoch: 0, type: CONTENT_HANDSHAKE, payload: message }]);
	}

	#clientOnServerFlight(type: number, bytes: Uint8Array, body: Uint8Array): void {
		switch (type) {
			case HandshakeType.serverHello: {
				const sh = decodeServerHello(body);
				if (sh.serverVersion !== DTLS_1_2 || sh.cipherSuite !== SUITE || sh.compressionMethod !== COMPRESSION_NULL) {
					throw new HandshakeError("server chose a version or suite we did not offer", AlertDescription.illegalParameter);
				}
				const ext = parseExtensions(sh.extensions ?? []);
				this.#ems = ext.extendedMasterSecret;
				if (!this.#ems) throw new HandshakeError("server did not agree to extended_master_secret (RFC 7627)", AlertDescription.handshakeFailure);
				if (ext.maxFragmentLength !== undefined) this.#setMaxFragment(maxFragmentLengthBytes(ext.maxFragmentLength));
				this.#serverRandom = sh.random;
				break;
			}
			case HandshakeType.certificate:
				this.#peerChain = decodeCertificate(body);
				this.#checkPeerChain();
				break;
			case HandshakeType.serverKeyExchange: {
				const ske = decodeServerKeyExchange(body);
				if (ske.namedCurve !== NAMED_CURVE_SECP256R1 || ske.signatureAlgorithm !== ECDSA_SHA256) throw new HandshakeError("unsupported ServerKeyExchange", AlertDescription.illegalParameter);
				const signed = serverKeyExchangeSignedData(this.#clientRandom, this.#serverRandom, ske);
				if (this.#peerKey === undefined || !this.#crypto.ecdsaVerify(this.#peerKey, signed, ske.signature)) {
					if (this.#staleKeyExchange(bytes)) return this.#discardServerFlight();
					throw new DtlsAlertError("ServerKeyExchange signature does not verify", DECRYPT_ERROR, false);
				}
				this.#peerEcdhe = ske.publicKey;
				break;
			}
			case HandshakeType.certificateRequest: {
				const cr = decodeCertificateRequest(body);
				if (!cr.certificateTypes.includes(CLIENT_CERTIFICATE_TYPE_ECDSA_SIGN)) throw new HandshakeError("server wants a certificate type we lack", AlertDescription.handshakeFailure);
				// RFC 5246 §7.4.8: our CertificateVerify must use an algorithm the server listed.
				if (!cr.signatureAlgorithms.includes(ECDSA_SHA256)) throw new HandshakeError("server accepts no ecdsa_secp256r1_sha256 signature", AlertDescription.handshakeFailure);
				this.#certificateRequested = true;
				break;
			}
			case HandshakeType.serverHelloDone:
				decodeServerHelloDone(body);
				this.#transcript.push(bytes);
				return this.#clientSecondFlight();
		}
		this.#transcript.push(bytes);
	}

	/** RFC 5246 §7.4.6-§7.4.8: Certificate and CertificateVerify only when the server asked for them. */
	#clientSecondFlight(): void {
		this.#ecdhe = this.#crypto.ecGenerate();
		const messages: Uint8Array[] = [];
		const add = (type: number, body: Uint8Array): void => this.#ourMessage(messages, type, body);
		if (this.#certificateRequested) add(HandshakeType.certificate, encodeCertificate(this.#o.identity.certificates));
		add(HandshakeType.clientKeyExchange, encodeClientKeyExchange(this.#ecdhe.publicKey));
		this.#deriveKeys(this.#crypto.ecdh(this.#ecdhe.privateKey, this.#peerEcdhe!));
		if (this.#certificateRequested) {
			const signature = this.#crypto.ecdsaSign(this.#o.identity.privateKey, concatBytes(this.#transcript));
			add(HandshakeType.certificateVerify, encodeCertificateVerify({ signatureAlgorithm: ECDSA_SHA256, signature }));
		}
		const fin = this.#finishedMessage("client finished");
		this.#switchWriteEpoch();
		this.#newFlight([
			...messages.map((payload) => ({ epoch: 0, type: CONTENT_HANDSHAKE, payload })),
			{ epoch: 0, type: CONTENT_CHANGE_CIPHER_SPEC, payload: CCS_PAYLOAD },
			{ epoch: 1, type: CONTENT_HANDSHAKE, payload: fin },
		]);
		this.#state = "wait-finished";
	}

	/* ------------------------------------------------------------------ server */

	#serverFirstFlight(accepted: AcceptedHello): void {
		const ch = accepted.hello;
		if (!ch.cipherSuites.includes(SUITE) || !ch.compressionMethods.includes(COMPRESSION_NULL)) {
			this.#fail(new DtlsAlertError("client offers no suite we support", AlertDescription.handshakeFailure, false), AlertDescription.handshakeFailure);
			return;
		}
		const ext = parseExtensions(ch.extensions ?? []);
		if (!ext.extendedMasterSecret) {
			this.#fail(new DtlsAlertError("client does not offer extended_master_secret (RFC 7627)", AlertDescription.handshakeFailure, false), AlertDescription.handshakeFailure);
			return;
		}
		if (ext.supportedGroups !== undefined && !ext.supportedGroups.includes(NAMED_CURVE_SECP256R1)) {
			this.#fail(new DtlsAlertError("client offers no P-256", AlertDescription.handshakeFailure, false), AlertDescription.handshakeFailure);
			return;
		}
		this.#ems = true;
		this.#clientRandom = ch.random;
		this.#serverRandom = this.#random(32);
		this.#transcript.push(accepted.message);
		const extensions: Extension[] = [extendedMasterSecretExtension(), renegotiationInfoExtension(), ecPointFormatsExtension()];
		if (ext.maxFragmentLength !== undefined) {
			this.#setMaxFragment(maxFragmentLengthBytes(ext.maxFragmentLength));
			extensions.push(maxFragmentLengthExtension(ext.maxFragmentLength));
		}
		const messages: Uint8Array[] = [];
		const add = (type: number, body: Uint8Array): void => this.#ourMessage(messages, type, body);
		add(HandshakeType.serverHello, encodeServerHello({ serverVersion: DTLS_1_2, random: this.#serverRandom, sessionId: EMPTY, cipherSuite: SUITE, compressionMethod: COMPRESSION_NULL, extensions }));
		add(HandshakeType.certificate, encodeCertificate(this.#o.identity.certificates));
		this.#ecdhe = this.#crypto.ecGenerate();
		const ske = { namedCurve: NAMED_CURVE_SECP256R1, publicKey: this.#ecdhe.publicKey, signatureAlgorithm: ECDSA_SHA256, signature: EMPTY };
		ske.signature = this.#crypto.ecdsaSign(this.#o.identity.privateKey, serverKeyExchangeSignedData(this.#clientRandom, this.#serverRandom, ske));
		add(HandshakeType.serverKeyExchange, encodeServerKeyExchange(ske));
		add(HandshakeType.certificateRequest, encodeCertificateRequest({ certificateTypes: [CLIENT_CERTIFICATE_TYPE_ECDSA_SIGN], signatureAlgorithms: [ECDSA_SHA256], certificateAuthorities: [] }));
		add(HandshakeType.serverHelloDone, encodeServerHelloDone());
		this.#newFlight(messages.map((payload) => ({ epoch: 0, type: CONTENT_HANDSHAKE, payload })));
		this.#state = "wait-client-flight";
	}

	#serverOnClientFlight(type: number, bytes: Uint8Array, body: Uint8Array): void {
		switch (type) {
			case HandshakeType.certificate:
				this.#peerChain = decodeCertificate(body);
				if (this.#peerChain.length === 0) throw new DtlsAlertError("the pledge sent no certificate", AlertDescription.handshakeFailure, false);
				this.#checkPeerChain();
				break;
			case HandshakeType.clientKeyExchange: {
				const point = decodeClientKeyExchange(body);
				this.#transcript.push(bytes);
				let shared: Uint8Array;
				try {
					shared = this.#crypto.ecdh(this.#ecdhe!.privateKey, point);
				} catch {
					throw new HandshakeError("invalid ECDH public key", AlertDescription.illegalParameter);
				}
				this.#deriveKeys(shared);
				return;
			}
			case HandshakeType.certificateVerify: {
				const cv = decodeCertificateVerify(body);
				if (cv.signatureAlgorithm !== ECDSA_SHA256 || !this.#crypto.ecdsaVerify(this.#peerKey!, concatBytes(this.#transcript), cv.signature)) {
					throw new DtlsAlertError("CertificateVerify signature does not verify", DECRYPT_ERROR, false);
				}
				break;
			}
			case HandshakeType.finished: {
				if (this.#records.readEpoch === 0) throw new HandshakeError("Finished before ChangeCipherSpec", AlertDescription.unexpectedMessage);
				this.#checkFinished(body, "client finished");
				this.#transcript.push(bytes);
				const fin = this.#finishedMessage("server finished");
				this.#switchWriteEpoch();
				this.#newFlight([
					{ epoch: 0, type: CONTENT_CHANGE_CIPHER_SPEC, payload: CCS_PAYLOAD },
					{ epoch: 1, type: CONTENT_HANDSHAKE, payload: fin },
				]);
				// The last flight is only resent when the client repeats its own (RFC 6347 §4.2.4).
				this.#retransmit.cancel();
				return this.#connected();
			}
		}
		this.#transcript.push(bytes);
	}

	/* ------------------------------------------------------------------ shared */

	#checkPeerChain(): void {
		const reason = this.#peerChain.length === 0 ? "no certificate" : this.#o.verifyPeer(this.#peerChain);
		if (reason !== undefined) throw new DtlsAlertError(`peer certificate rejected: ${reason}`, BAD_CERTIFICATE, false);
		this.#peerKey = leafPublicKey(this.#peerChain[0]!);
		if (this.#peerKey === undefined) throw new DtlsAlertError("peer certificate has no P-256 key", BAD_CERTIFICATE, false);
	}

	/** RFC 7627 §4: master secret from the session hash (transcript through ClientKeyExchange). */
	#deriveKeys(preMaster: Uint8Array): void {
		const sessionHash = this.#crypto.sha256(concatBytes(this.#transcript));
		this.#master = extendedMasterSecret(this.#crypto, preMaster, sessionHash);
		preMaster.fill(0);
		const keys = keyMaterialCcm8(keyBlock(this.#crypto, this.#master, this.#serverRandom, this.#clientRandom, KEY_BLOCK_LENGTH_CCM8));
		const client = new RecordProtection({ key: keys.clientWriteKey, salt: keys.clientWriteIv });
		const server = new RecordProtection({ key: keys.serverWriteKey, salt: keys.serverWriteIv });
		const [mine, theirs] = this.#o.role === "client" ? [client, server] : [server, client];
		this.#pendingWrite = mine;
		this.#pendingRead = theirs;
	}

	#switchWriteEpoch(): void {
		this.#records.setWriteProtection(1, this.#pendingWrite!);
		this.#pendingWrite = undefined;
	}

	#finishedMessage(label: "client finished" | "server finished"): Uint8Array {
		const vd = verifyData(this.#crypto, this.#master!, label, this.#crypto.sha256(concatBytes(this.#transcript)));
		const m = encodeHandshakeMessage(HandshakeType.finished, this.#sendSeq++, encodeFinished(vd));
		this.#transcript.push(m);
		return m;
	}

	#checkFinished(body: Uint8Array, label: "client finished" | "server finished"): void {
		const expected = verifyData(this.#crypto, this.#master!, label, this.#crypto.sha256(concatBytes(this.#transcript)));
		const got = decodeFinished(body);
		if (!bytesEqualConstantTime(expected, got)) throw new DtlsAlertError("Finished does not verify", DECRYPT_ERROR, false);
	}

	/** Encodes our next handshake message into `flight` and the transcript. */
	#ourMessage(flight: Uint8Array[], type: number, body: Uint8Array): void {
		const m = encodeHandshakeMessage(type, this.#sendSeq++, body);
		this.#transcript.push(m);
		flight.push(m);
	}

	#setMaxFragment(bytes: number): void {
		this.#maxFragment = bytes;
		this.#records.maxRecordSize = bytes;
		this.#fragmentBody = Math.min(this.#fragmentBody, bytes - 12);
	}

	#connected(): void {
		this.#state = "connected";
		this.#deadline.cancel();
		// The client's flight was the one answered; the server sent the last flight and keeps epoch 0
		// a while in case the client did not get it (RFC 6347 §4.2.4).
		if (this.#o.role === "client") this.#retirePreviousEpoch();
		else this.#retire.arm(this.#o.finalFlightRetentionMs ?? FINAL_FLIGHT_RETENTION_MS);
		this.#o.onConnected?.();
	}

	/** The handshake is over for good: no flight is kept, and epoch 0 is gone both ways. */
	#retirePreviousEpoch(): void {
		this.#retransmit.cancel();
		this.#flight = [];
		this.#records.discardPreviousReadEpoch();
		this.#records.discardPreviousWriteEpoch();
	}

	#newFlight(records: FlightRecord[]): void {
		this.#flight = records;
		this.#awaitingFrom = this.#reassembler.nextSeq;
		this.#timeout = this.#o.retransmitInitialMs ?? 1000;
		this.#sendFlight();
		this.#retransmit.arm(this.#timeout);
	}

	/** Packs the flight's records (handshake messages fragmented to fit) into datagrams of at most the MTU. */
	#sendFlight(): void {
		this.#flightSends++;
		const mtu = this.#o.mtu ?? DEFAULT_MTU;
		let datagram: Uint8Array[] = [];
		let size = 0;
		const flush = (): void => {
			if (datagram.length > 0) this.#o.send(concatBytes(datagram));
			datagram = [];
			size = 0;
		};
		for (const r of this.#flight) {
			const pieces = r.type === CONTENT_HANDSHAKE ? fragment(r.payload, this.#fragmentBody) : [r.payload];
			for (const p of pieces) {
				const record = this.#records.protectEpoch(r.epoch, r.type, p);
				if (size + record.length > mtu) flush();
				datagram.push(record);
				size += record.length;
			}
		}
		flush();
	}

	#onRetransmitTimer(): void {
		if (this.#state === "closed" || this.#state === "connected" || this.#flight.length === 0) return;
		this.#timeout = Math.min(this.#timeout * 2, this.#o.retransmitMaxMs ?? 60_000);
		try {
			this.#sendFlight();
		} catch (e) {
			if (e instanceof RecordLayerClosedError || e instanceof SequenceExhaustedError) return this.#fail(e, undefined);
			throw e;
		}
		this.#retransmit.arm(this.#timeout);
	}

	#sendAlert(level: number, description: number): void {
		try {
			this.#o.send(this.#records.protect(CONTENT_ALERT, new Uint8Array([level, description])));
		} catch {
			/* the layer may be unusable (failed, exhausted): nothing more to say */
		}
	}

	#fail(error: Error, alert: number | undefined): void {
		if (this.#state === "closed") return;
		if (alert !== undefined) this.#sendAlert(ALERT_FATAL, alert);
		this.#end(error);
	}

	#end(error: Error | undefined): void {
		this.#state = "closed";
		this.#retransmit.cancel();
		this.#deadline.cancel();
		this.#retire.cancel();
		this.#flight = [];
		this.#master?.fill(0);
		this.#o.onClose?.(error);
	}

	#random(n: number): Uint8Array {
		return this.#o.random(new Uint8Array(n));
	}
}

/** The leaf's P-256 public point, or undefined for another kind of key. */
function leafPublicKey(der: Uint8Array): Uint8Array | undefined {
	try {
		const c = parseCertificate(der);
		return c.publicKey.algorithm === Oid.EC_PUBLIC_KEY && c.publicKey.curve === Oid.P256 && c.publicKey.bytes.length === 65 ? c.publicKey.bytes : undefined;
	} catch {
		return undefined;
	}
}
