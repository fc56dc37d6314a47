/*
 * The cBRSKI pledge (draft-ietf-anima-constrained-voucher, RFC 8995; cbrski-digest §2 and P1-P38):
 * finds join proxies, and through one of them reaches the Registrar over DTLS 1.2 with its IDevID,
 * asks for a voucher, validates it, enrolls for an LDevID over EST-coaps and stores it. Runs on XS:
 * everything comes from the injected Host and CryptoProvider.
 *
 * One attempt goes through one join-port with one DTLS session (rv, vs, crts, sen and a failure es);
 * a success es goes on a second session authenticated with the new LDevID (RFC 8995 §5.9.4, P34).
 * Any failure closes the session and the next candidate is tried, each with its own exponential
 * back-off (P5) and a fresh nonce (P4).
 */

import type { Host, Timer, UdpPeer } from "../../hosts/host.js";
import type { CryptoProvider } from "../../modules/crypto/provider.js";
import { openCoapsClient, type CoapsClient } from "../../modules/dtls/coaps.js";
import type { DtlsIdentity, PeerVerifier } from "../../modules/dtls/connection.js";
import { anchoredVerifier, provisionalVerifier } from "../../modules/dtls/peer-verifier.js";
import type { ReceivedResponse, RequestOptions } from "../../modules/coap/endpoint.js";
import { Code, codeClass, codeText, ContentFormat, GET, Opt, POST } from "../../modules/coap/constants.js";
import { uintOptionValue } from "../../modules/coap/message.js";
import { CoapClosedError, CoapParseError, CoapResetError, CoapTimeoutError } from "../../modules/coap/errors.js";
import { encodeCoseSign1, signCoseSign1 } from "../../modules/cose/sign1.js";
import { Assertion, encodeVoucherRequest, type VoucherRequest } from "../../modules/voucher/voucher.js";
import { encodeStatusTelemetry, STATUS_TELEMETRY_VERSION } from "../../modules/voucher/telemetry.js";
import { nameValue, Oid, parseCertificate, type Certificate } from "../../modules/x509/certificate.js";
import { verifyChain } from "../../modules/x509/chain.js";
import { createCsr } from "../../modules/x509/csr.js";
import { idevidIssuerOf } from "../../modules/voucher/idevid-issuer.js";
import { bytesEqual } from "../../modules/util/hex.js";
import { peerKey } from "../../modules/util/peer.js";
import { CredentialStore } from "./credential-store.js";
import { discoverJoinProxies } from "./discovery.js";
import { PledgeError, type PledgeErrorCode } from "./errors.js";
import { responseCertificates } from "./est-responses.js";
import { countingUdp, newTrafficCounters, type TrafficCounters } from "./traffic.js";
import { checkRegistrarAgainstPin, checkVoucher, selectDomainAnchors } from "./voucher-check.js";

/** cBRSKI §6.5 / RFC 9148 §4.1 resource paths (well-known forms, which every Registrar serves). */
export const PledgePath = Object.freeze({
	rv: "/.well-known/brski/rv",
	vs: "/.well-known/brski/vs",
	es: "/.well-known/brski/es",
	crts: "/.well-known/est/crts",
	sen: "/.well-known/est/sen",
});

/** The /vs failure reason an unauthenticated Registrar is told (RFC 8995 §5.7 leaves the text to us). */
const VOUCHER_REJECTED = "voucher rejected";
/** 8366bis: nonce length 8..32 bytes; we use 16. */
const NONCE_BYTES = 16;
/** RFC 7252 §5.10.5: Max-Age when the option is absent. */
const DEFAULT_MAX_AGE_S = 60;

export type PledgeState =
	| "idle"
	| "discovering"
	| "backing-off"
	| "connecting"
	| "requesting-voucher"
	| "validating-voucher"
	| "voucher-status"
	| "fetching-ca-certs"
	| "enrolling"
	| "storing"
	| "enroll-status"
	| "enrolled"
	| "failed";

export interface PledgeTiming {
	/** Discovery answers are collected this long per query (default 3 s). */
	discoveryLeisureMs: number;
	/** A handshake that has not completed by then is abandoned: no progress through this proxy (P5; default 20 s). */
	handshakeTimeoutMs: number;
	/** Per-proxy back-off after a failed attempt: first wait, doubled per failure up to the maximum (P5: up to 1 h). */
	backoffInitialMs: number;
	backoffMaxMs: number;
	/** Least time between two attempts (RFC 8995 §4.1: attempts to different proxies spaced 3-5 s). */
	attemptSpacingMs: number;
	/**
	 * Cap on the CoAP retransmission interval (default 8 s). A stateful join proxy forgets a flow
	 * after 30 s of silence (JP draft §4.1; our proxy's slot expiry), and RFC 7252's doubling would
	 * leave gaps of up to 48 s before the last retransmission, which would then leave the proxy from a
	 * new Registrar-side port unknown to the DTLS session. Capped, no silence lasts more than 8 s.
	 */
	maxRetransmitIntervalMs: number;
	/** CoAP block size exponent (default 5: 512-byte blocks, leaving room for DTLS and JPY overhead under 1280, cbrski-digest §8.6, R33). */
	blockSzx: number;
	/** DTLS max_fragment_length asked for (P10: 2^9 or 2^10; default 1024, which a 512-byte block plus headers fits). */
	maxFragmentLength: 512 | 1024;
	/**
	 * Largest DTLS datagram the pledge sends (default 1024, the PMTU cBRSKI §6.1.4 assumes). Over
	 * 6LoWPAN a smaller one spans fewer 802.15.4 frames, and since the peer keeps the handshake
	 * fragments it got (RFC 6347 §4.2.3), a retransmitted flight only has to fill the holes.
	 */
	dtlsMtu: number;
	/**
	 * First DTLS flight retransmission timeout (default 1 s, RFC 6347 §4.2.4.1). RFC 7925 §11
	 * recommends 9 s for constrained networks, where a flight alone can take seconds on air.
	 */
	dtlsRetransmitInitialMs: number;
	/** Cap on waiting after 5.03 + Max-Age before resending (P20: 60 s). */
	maxDelayMs: number;
	/** Most 5.03 retries of one request before the attempt fails. */
	maxDelayedRetries: number;
}

export const DEFAULT_TIMING: Readonly<PledgeTiming> = Object.freeze({
	discoveryLeisureMs: 3000,
	handshakeTimeoutMs: 20_000,
	backoffInitialMs: 5000,
	backoffMaxMs: 3_600_000,
	attemptSpacingMs: 3000,
	maxRetransmitIntervalMs: 8000,
	blockSzx: 5,
	maxFragmentLength: 1024,
	dtlsMtu: 1024,
	dtlsRetransmitInitialMs: 1000,
	maxDelayMs: 60_000,
	maxDelayedRetries: 20,
});

export interface PledgeOptions {
	host: Host;
	crypto: CryptoProvider;
	/** The IDevID (DER, plus any intermediates, leaf first) and its 32-byte P-256 private key. */
	idevid: DtlsIdentity;
	/** The manufacturer's MASA trust anchors (DER). */
	masaTrustAnchors: Uint8Array[];
	/** Pre-installed voucher-signer certificates (DER), each chaining to an anchor. */
	voucherSigners?: Uint8Array[];
	/** Pledge interfaces (zones) to discover join proxies on. */
	interfaces?: string[];
	/** Join-ports to use instead of discovery (tests, field trials). */
	proxies?: UdpPeer[];
	/** Onboard even when already enrolled (the stored enrollment is cleared first). */
	force?: boolean;
	/** The host's wall clock is trustworthy: check voucher and certificate times (P18, P28). */
	trustedClock?: boolean;
	/** Stop after this many attempts (default 16). */
	maxAttempts?: number;
	timing?: Partial<PledgeTiming>;
	onState?(state: PledgeState, detail: string): void;
}

export interface AttemptReport {
	/** "[fe80::1%wpan0]:5684" */
	proxy: string;
	startedAtMs: number;
	durationMs: number;
	/** "enrolled", or the PledgeError code that ended it. */
	outcome: "enrolled" | PledgeErrorCode;
	error?: string;
	/** The state the attempt was in when it ended. */
	lastState: PledgeState;
	/** 5.03 retries within the attempt. */
	delayedRetries: number;
	traffic: TrafficCounters;
}

export interface PledgeResult {
	outcome: "enrolled" | "already-enrolled" | "failed";
	serialNumber: string;
	/** The join-port that led to enrollment. */
	proxy?: string;
	/** DER LDevID (also in storage). */
	ldevid?: Uint8Array;
	/** Whether the Registrar acknowledged the success /es on the LDevID session. */
	enrollStatusReported: boolean;
	error?: string;
	attempts: AttemptReport[];
	proxiesTried: number;
	durationMs: number;
	traffic: TrafficCounters;
}

interface Candidate {
	peer: UdpPeer;
	key: string;
	failures: number;
	notBefore: number;
}

/** One DTLS session to the Registrar through one join-port. */
interface Session {
	client: CoapsClient;
	peer: UdpPeer;
	close(): void;
}

interface AttemptState {
	report: AttemptReport;
}

export class Pledge {
	readonly #o: PledgeOptions;
	readonly #host: Host;
	readonly #crypto: CryptoProvider;
	readonly #t: PledgeTiming;
	readonly #store: CredentialStore;
	readonly #traffic = newTrafficCounters();
	readonly #udp: Host["udp"];
	readonly #idevid: Certificate;
	readonly #serial: string;
	readonly #idevidIssuer: Uint8Array;
	readonly #masaAnchors: Certificate[];
	readonly #signers: Certificate[];
	readonly #sleeper: Timer;
	#wake: (() => void) | undefined;
	#state: PledgeState = "idle";
	#attempt: AttemptState | undefined;
	#session: CoapsClient | undefined;
	#closed = false;

	constructor(options: PledgeOptions) {
		this.#o = options;
		this.#host = options.host;
		this.#crypto = options.crypto;
		this.#t = { ...DEFAULT_TIMING, ...options.timing };
		this.#store = new CredentialStore(options.host.storage);
		this.#udp = countingUdp(options.host.udp, this.#traffic, () => this.#attempt?.report.traffic);
		const leaf = options.idevid.certificates[0];
		if (leaf === undefined) throw new RangeError("the IDevID certificate is missing");
		this.#idevid = parseCertificate(leaf);
		const serial = nameValue(this.#idevid.subject, Oid.SERIAL_NUMBER);
		if (serial === undefined) throw new RangeError("the IDevID subject has no serialNumber (2.5.4.5), which vouchers name the pledge by");
		this.#serial = serial;
		this.#idevidIssuer = idevidIssuerOf(this.#idevid, options.crypto);
		this.#masaAnchors = options.masaTrustAnchors.map((d) => parseCertificate(d));
		if (this.#masaAnchors.length === 0) throw new RangeError("at least one MASA trust anchor is needed");
		this.#signers = (options.voucherSigners ?? []).map((d) => parseCertificate(d));
		this.#sleeper = options.host.clock.timer(() => this.#wake?.());
	}

	get state(): PledgeState {
		return this.#state;
	}

	get serialNumber(): string {
		return this.#serial;
	}

	/** Stops a run under way (it ends "failed"); idempotent. */
	close(): void {
		if (this.#closed) return;
		this.#closed = true;
		this.#sleeper.cancel();
		this.#wake?.();
		this.#session?.close();
	}

	#enter(state: PledgeState, detail: string): void {
		this.#state = state;
		if (this.#attempt !== undefined) this.#attempt.report.lastState = state;
		this.#host.log(state === "failed" ? "warn" : "info", `pledge ${this.#serial}: ${state}${detail ? ": " + detail : ""}`);
		this.#o.onState?.(state, detail);
	}

	#now(): number {
		return this.#host.clock.now();
	}

	#wallNow(): number | undefined {
		return this.#o.trustedClock === true ? this.#host.clock.wallTime() : undefined;
	}

	async #sleep(ms: number): Promise<void> {
		if (this.#closed || ms <= 0) return;
		await new Promise<void>((resolve) => {
			this.#wake = resolve;
			this.#sleeper.arm(ms);
		});
		this.#wake = undefined;
	}

	/** Onboards (or finds the pledge already enrolled). Never rejects: failures are in the result. */
	async run(): Promise<PledgeResult> {
		const started = this.#now();
		const attempts: AttemptReport[] = [];
		const tried = new Set<string>();
		const result = (outcome: PledgeResult["outcome"], extra: Partial<PledgeResult> = {}): PledgeResult => ({
			outcome,
			serialNumber: this.#serial,
			enrollStatusReported: false,
			attempts,
			proxiesTried: tried.size,
			durationMs: this.#now() - started,
			traffic: { ...this.#traffic },
			...extra,
		});
		// P1: an enrolled pledge does not onboard again unless told to.
		const stored = this.#store.load();
		if (stored !== undefined && this.#o.force !== true) {
			this.#enter("enrolled", "already enrolled; not onboarding again (use force to re-onboard)");
			return result("already-enrolled", { ldevid: stored.ldevid });
		}
		// Whatever an interrupted run left (or the enrollment force replaces) goes: start clean.
		this.#store.clear();

		const candidates = new Map<string, Candidate>();
		const addCandidates = (peers: readonly UdpPeer[]): void => {
			for (const p of peers) {
				const key = peerKey(p);
				if (!candidates.has(key)) candidates.set(key, { peer: { ...p }, key, failures: 0, notBefore: this.#now() });
			}
		};
		const maxAttempts = this.#o.maxAttempts ?? 16;
		let lastError = "";
		let lastAttemptAt = -Infinity;
		while (attempts.length < maxAttempts && !this.#closed) {
			const ready = [...candidates.values()].filter((c) => c.notBefore <= this.#now());
			if (ready.length === 0) {
				if (this.#o.proxies !== undefined) {
					addCandidates(this.#o.proxies);
				} else {
					this.#enter("discovering", `GET coap://[ff02::fd]/.well-known/core?brski-jp=* on ${(this.#o.interfaces ?? []).join(", ") || "no interface"}`);
					const found = await discoverJoinProxies({ host: { ...this.#host, udp: this.#udp }, interfaces: this.#o.interfaces ?? [], leisureMs: this.#t.discoveryLeisureMs });
					this.#host.log("info", `pledge ${this.#serial}: discovered ${found.length} join-port(s): ${found.map((p) => peerKey(p)).join(" ") || "none"}`);
					addCandidates(found);
				}
				if (candidates.size === 0) {
					// Nothing to try: wait as a failed attempt would, and ask again.
					lastError = "no join proxy found";
					attempts.push(this.#emptyAttempt(lastError));
					const wait = this.#backoff(attempts.length);
					this.#enter("backing-off", `no join proxy answered; discovering again in ${Math.round(wait / 1000)} s`);
					await this.#sleep(wait);
					continue;
				}
			}
			// The candidate whose back-off ends first, in discovery order among equals.
			let next: Candidate | undefined;
			for (const c of candidates.values()) if (next === undefined || c.notBefore < next.notBefore) next = c;
			const c = next!;
			const wait = Math.max(c.notBefore - this.#now(), lastAttemptAt + this.#t.attemptSpacingMs - this.#now());
			if (wait > 0) {
				this.#enter("backing-off", `next attempt via ${c.key} in ${Math.round(wait / 1000)} s`);
				await this.#sleep(wait);
				if (this.#closed) break;
			}
			lastAttemptAt = this.#now();
			tried.add(c.key);
			const report: AttemptReport = { proxy: c.key, startedAtMs: this.#now(), durationMs: 0, outcome: "dtls", lastState: "connecting", delayedRetries: 0, traffic: newTrafficCounters() };
			this.#attempt = { report };
			attempts.push(report);
			try {
				const done = await this.#onboardVia(c.peer);
				report.outcome = "enrolled";
				report.durationMs = this.#now() - report.startedAtMs;
				this.#attempt = undefined;
				this.#enter("enrolled", `LDevID stored; enrolled through ${c.key}`);
				return result("enrolled", { proxy: c.key, ldevid: done.ldevid, enrollStatusReported: done.reported });
			} catch (e) {
				const err = e instanceof PledgeError ? e : new PledgeError("coap", e instanceof Error ? `${e.name}: ${e.message}` : String(e));
				report.outcome = err.code;
				report.error = err.message;
				report.durationMs = this.#now() - report.startedAtMs;
				lastError = `${err.code}: ${err.message}`;
				c.failures++;
				c.notBefore = this.#now() + this.#backoff(c.failures);
				this.#attempt = undefined;
				this.#host.log("warn", `pledge ${this.#serial}: attempt via ${c.key} failed in ${report.lastState}: ${lastError}`);
			}
		}
		this.#enter("failed", this.#closed ? "stopped" : `gave up after ${attempts.length} attempt(s): ${lastError}`);
		return result("failed", { error: this.#closed ? "stopped" : lastError });
	}

	#emptyAttempt(error: string): AttemptReport {
		return { proxy: "", startedAtMs: this.#now(), durationMs: 0, outcome: "no-proxy", error, lastState: "discovering", delayedRetries: 0, traffic: newTrafficCounters() };
	}

	#backoff(failures: number): number {
		return Math.min(this.#t.backoffInitialMs * 2 ** Math.max(0, failures - 1), this.#t.backoffMaxMs);
	}

	async #open(peer: UdpPeer, identity: DtlsIdentity, verifyPeer: PeerVerifier): Promise<Session> {
		try {
			const s = await openCoapsClient({
				host: { udp: this.#udp, clock: this.#host.clock, random: (b) => this.#host.random(b) },
				crypto: this.#crypto,
				server: peer,
				...(peer.zone !== "" ? { zone: peer.zone } : {}),
				identity,
				verifyPeer,
				dtls: { maxFragmentLength: this.#t.maxFragmentLength, handshakeTimeoutMs: this.#t.handshakeTimeoutMs, mtu: this.#t.dtlsMtu, retransmitInitialMs: this.#t.dtlsRetransmitInitialMs },
				coap: { maxRetransmitIntervalMs: this.#t.maxRetransmitIntervalMs, blockSzx: this.#t.blockSzx },
			});
			this.#session = s;
			if (this.#closed) s.close();
			return { client: s, peer, close: () => s.close() };
		} catch (e) {
			throw new PledgeError("dtls", `DTLS handshake with ${peerKey(peer)}: ${e instanceof Error ? e.message : String(e)}`);
		}
	}

	/** One CoAP exchange on the session; 5.03 + Max-Age resends the identical request after the hint (P20). */
	async #request(s: Session, req: Omit<RequestOptions, "peer">, what: string): Promise<ReceivedResponse> {
		for (let retry = 0; ; retry++) {
			let r: ReceivedResponse;
			try {
				r = await s.client.endpoint.request({ ...req, peer: s.peer });
			} catch (e) {
				if (e instanceof CoapTimeoutError || e instanceof CoapResetError || e instanceof CoapClosedError || e instanceof CoapParseError) {
					throw new PledgeError("coap", `${what}: ${e.message || e.name}`);
				}
				throw e;
			}
			if (r.code !== Code.ServiceUnavailable) return r;
			if (retry >= this.#t.maxDelayedRetries) throw new PledgeError("refused", `${what}: still 5.03 after ${retry} retries`);
			const maxAge = uintOptionValue(r, Opt.MaxAge) ?? DEFAULT_MAX_AGE_S;
			const wait = Math.min(maxAge * 1000, this.#t.maxDelayMs);
			if (this.#attempt !== undefined) this.#attempt.report.delayedRetries++;
			this.#host.log("info", `pledge ${this.#serial}: ${what}: 5.03 Service Unavailable, Max-Age ${maxAge} s; sending the same request again in ${Math.round(wait / 1000)} s`);
			await this.#sleep(wait);
			if (this.#closed) throw new PledgeError("coap", `${what}: stopped`);
		}
	}

	async #status(s: Session, path: string, status: boolean, reason?: string): Promise<boolean> {
		const body = encodeStatusTelemetry({ version: STATUS_TELEMETRY_VERSION, status, ...(reason !== undefined ? { reason } : {}) });
		try {
			const r = await this.#request(s, { method: POST, path, payload: body, contentFormat: ContentFormat.Cbor }, `POST ${path}`);
			return codeClass(r.code) === 2; // the answer is otherwise ignored (RFC 8995 §5.7)
		} catch (e) {
			if (e instanceof PledgeError) return false;
			throw e;
		}
	}

	async #onboardVia(peer: UdpPeer): Promise<{ ldevid: Uint8Array; reported: boolean }> {
		this.#enter("connecting", `DTLS 1.2 to ${peerKey(peer)} with the IDevID; the Registrar is accepted provisionally`);
		let registrarChain: Uint8Array[] = [];
		const s = await this.#open(peer, this.#o.idevid, provisionalVerifier((chain) => (registrarChain = chain)));
		let phase: "voucher" | "enroll" = "voucher";
		try {
			// P4, P15-P19: a fresh nonce, proximity, the Registrar's DTLS key, our serial; signed with the IDevID key.
			const nonce = this.#host.random(new Uint8Array(NONCE_BYTES));
			const registrar = parseCertificate(registrarChain[0]!);
			const pvr: VoucherRequest = { assertion: Assertion.proximity, nonce, proximityRegistrarPubk: registrar.publicKey.spki, serialNumber: this.#serial };
			const wall = this.#wallNow();
			if (wall !== undefined) pvr.createdOn = new Date(wall).toISOString();
			const signed = encodeCoseSign1(signCoseSign1(this.#crypto, this.#o.idevid.privateKey, encodeVoucherRequest(pvr)));
			this.#enter("requesting-voucher", `POST ${PledgePath.rv} (${signed.length}-byte voucher request)`);
			const rv = await this.#request(s, { method: POST, path: PledgePath.rv, payload: signed, contentFormat: ContentFormat.VoucherCoseCbor, accept: ContentFormat.VoucherCoseCbor }, `POST ${PledgePath.rv}`);
			if (rv.code !== Code.Changed && rv.code !== Code.Content) throw new PledgeError("refused", `the Registrar answered ${codeText(rv.code)} to the voucher request`);

			this.#enter("validating-voucher", `${rv.payload.length}-byte voucher`);
			const now = this.#wallNow();
			let voucher;
			try {
				voucher = checkVoucher(rv.payload, {
					crypto: this.#crypto,
					masaAnchors: this.#masaAnchors,
					voucherSigners: this.#signers,
					serialNumber: this.#serial,
					idevidIssuer: this.#idevidIssuer,
					nonce,
					...(now !== undefined ? { now } : {}),
				});
				checkRegistrarAgainstPin(voucher, registrarChain, this.#crypto, now);
			} catch (e) {
				if (e instanceof PledgeError) {
					// P29 on the same (still provisional) session. The Registrar is not trusted: it learns only
					// that the voucher was rejected; which check failed stays in our own log.
					this.#enter("voucher-status", `reporting failure (${e.message})`);
					await this.#status(s, PledgePath.vs, false, VOUCHER_REJECTED);
				}
				throw e;
			}
			this.#enter("voucher-status", "voucher accepted; the Registrar is trusted now");
			await this.#status(s, PledgePath.vs, true);

			phase = "enroll";
			this.#enter("fetching-ca-certs", `GET ${PledgePath.crts}`);
			const crts = await this.#request(s, { method: GET, path: PledgePath.crts, accept: ContentFormat.MultipartCore }, `GET ${PledgePath.crts}`);
			if (crts.code !== Code.Content) throw new PledgeError("refused", `the Registrar answered ${codeText(crts.code)} to /crts`);
			const anchors = selectDomainAnchors(responseCertificates(crts, "ca-certs"), voucher, registrarChain, this.#crypto, now);

			// P30, P31: a new P-256 key, a CSR with the IDevID subject, Accept 287 for a bare certificate.
			const key = this.#crypto.ecGenerate();
			const csr = createCsr({ crypto: this.#crypto, privateKey: key.privateKey, publicKey: key.publicKey, subject: this.#idevid.subject.der });
			this.#enter("enrolling", `POST ${PledgePath.sen} (${csr.length}-byte CSR)`);
			const sen = await this.#request(s, { method: POST, path: PledgePath.sen, payload: csr, contentFormat: ContentFormat.Pkcs10, accept: ContentFormat.PkixCert }, `POST ${PledgePath.sen}`);
			if (sen.code !== Code.Changed && sen.code !== Code.Content) throw new PledgeError("refused", `the Registrar answered ${codeText(sen.code)} to the enrollment request`);
			const ldevidDer = responseCertificates(sen, "enroll")[0];
			if (ldevidDer === undefined) throw new PledgeError("enroll", "the enrollment response holds no certificate");
			this.#checkLdevid(ldevidDer, key.publicKey, anchors, now);

			this.#enter("storing", `LDevID (${ldevidDer.length} bytes), its key and ${anchors.length} trust anchor(s)`);
			this.#store.save({ ldevid: ldevidDer, privateKey: key.privateKey, anchors });
			s.close();

			// P34 / RFC 8995 §5.9.4: success goes on a new session authenticated with the LDevID, through the same join-port.
			this.#enter("enroll-status", `POST ${PledgePath.es} on a new DTLS session with the LDevID`);
			const reported = await this.#reportSuccess(peer, { certificates: [ldevidDer], privateKey: key.privateKey }, anchors, now);
			return { ldevid: ldevidDer, reported };
		} catch (e) {
			if (phase === "enroll" && e instanceof PledgeError && e.code !== "coap" && e.code !== "storage") {
				this.#enter("enroll-status", "reporting failure on the same session");
				await this.#status(s, PledgePath.es, false, `enrollment failed: ${e.message}`);
			}
			if (e instanceof PledgeError && e.code === "storage") this.#store.clear();
			throw e;
		} finally {
			s.close();
			this.#session = undefined;
		}
	}

	/** P33: the LDevID carries our new key and chains to the domain trust anchors. */
	#checkLdevid(der: Uint8Array, publicKey: Uint8Array, anchors: Uint8Array[], now: number | undefined): void {
		let cert: Certificate;
		try {
			cert = parseCertificate(der);
		} catch (e) {
			throw new PledgeError("enroll", `the LDevID does not parse: ${e instanceof Error ? e.message : String(e)}`);
		}
		if (!bytesEqual(cert.publicKey.bytes, publicKey)) throw new PledgeError("enroll", "the LDevID is not for the key we asked to certify");
		const r = verifyChain([cert], anchors.map((a) => parseCertificate(a)), { crypto: this.#crypto, ...(now !== undefined ? { now } : {}) });
		if (!r.ok) throw new PledgeError("enroll", `the LDevID does not chain to the domain trust anchors: ${r.reason}`);
	}

	async #reportSuccess(peer: UdpPeer, identity: DtlsIdentity, anchors: Uint8Array[], now: number | undefined): Promise<boolean> {
		let s: Session;
		try {
			// Now a normal session: the Registrar must be an RA chaining to the domain trust anchors just stored.
			s = await this.#open(peer, identity, registrarVerifier(anchors, this.#crypto, now));
		} catch (e) {
			this.#host.log("warn", `pledge ${this.#serial}: enrollment status not reported: ${e instanceof Error ? e.message : String(e)}`);
			return false;
		}
		try {
			const ok = await this.#status(s, PledgePath.es, true);
			if (!ok) this.#host.log("warn", `pledge ${this.#serial}: the Registrar did not acknowledge the enrollment status`);
			return ok;
		} finally {
			s.close();
			this.#session = undefined;
		}
	}
}

/**
 * An authenticated session's check of the Registrar (cBRSKI §6.7.4, digest §7.3): it chains to the
 * domain trust anchors and carries id-kp-cmcRA, which no LDevID of a fellow device has (they chain to
 * the same domain CA).
 */
export function registrarVerifier(anchors: readonly Uint8Array[], crypto: CryptoProvider, now: number | undefined): PeerVerifier {
	const anchored = anchoredVerifier({ anchors: [...anchors], crypto, ...(now !== undefined ? { now: () => now } : {}) });
	return (chain) => {
		const problem = anchored(chain);
		if (problem !== undefined) return problem;
		const eku = parseCertificate(chain[0]!).extendedKeyUsage;
		return eku?.includes(Oid.KP_CMC_RA) === true ? undefined : "the server certificate lacks id-kp-cmcRA: not a Registrar";
	};
}
