/*
 * The MASA's voucher logic (RFC 8995 §5.5, cBRSKI §8, draft-ietf-anima-rfc8366bis), independent
 * of HTTP: it takes a COSE-signed Registrar voucher request (RVR) and answers with what the HTTPS
 * server sends back (status, media type, body). The HTTPS server (https-server.ts) and the
 * simulator's in-process MASA client call the same code.
 *
 * Checks, in order: the RVR is signed by a cmcRA certificate in its x5bag (§5.5.1-§5.5.3); the
 * embedded pledge voucher request (PVR) is signed by the IDevID of the device named in the RVR,
 * which chains to the manufacturer CA (§5.5.5; the IDevID comes from the RVR's x5bag, cBRSKI -30,
 * or from the MASA's own inventory); serial-number, nonce and idevid-issuer agree; the PVR's
 * proximity-registrar-* is the RVR signer's key (§5.5.4: the Registrar the pledge saw is the one
 * asking); and the device is one this MASA sold (ownership policy, §5.5.2). The voucher pins the
 * lowest CA above the Registrar's certificate (cBRSKI §8: nonced vouchers SHOULD pin the
 * lowest-level CA), or the Registrar's certificate itself when it has no CA in the bag.
 */

import type { CryptoProvider } from "../../modules/crypto/provider.js";
import { CoseError, coseCertificates, decodeCoseSign1, encodeCoseSign1, signCoseSign1, verifyCoseSign1, type CoseSign1 } from "../../modules/cose/sign1.js";
import { Assertion, VoucherError, checkPledgeVoucherRequest, checkRegistrarVoucherRequest, decodeVoucherRequest, encodeVoucher, type Voucher, type VoucherRequest } from "../../modules/voucher/voucher.js";
import { idevidIssuerOf } from "../../modules/voucher/idevid-issuer.js";
import { namesRegistrar } from "../../modules/voucher/proximity.js";
import { CertificateError, Oid, isP256Key, nameValue, parseCertificate, type Certificate } from "../../modules/x509/certificate.js";
import { chainFromBag, verifyChain } from "../../modules/x509/chain.js";
import { bytesEqual, toHex } from "../../modules/util/hex.js";
import type { MasaAuditEntry, MasaAuditLog } from "./audit-log.js";

/** RFC 8995 §5.5 / cBRSKI §7: the one media type of requests and vouchers here. */
export const VOUCHER_COSE_MEDIA_TYPE = "application/voucher+cose";

export interface VoucherHttpResponse {
	status: number;
	contentType: string;
	body: Uint8Array;
}

export interface MasaServiceOptions {
	crypto: CryptoProvider;
	/** The voucher signer: its private key (32-byte P-256 scalar) and its chain, signer first (the vouchers' x5bag). */
	signer: { privateKey: Uint8Array; chain: Uint8Array[] };
	/** Anchors IDevIDs must chain to (DER). */
	manufacturerAnchors: Uint8Array[];
	/** Ownership policy: is this a device the MASA will issue vouchers for? */
	owns(serialNumber: string): boolean;
	/** IDevIDs the manufacturer knows, for RVRs that predate cBRSKI -30 and carry no pledge chain (DER). */
	inventory?(serialNumber: string): Uint8Array | undefined;
	audit: MasaAuditLog;
	/** Wall-clock ms: created-on, and the validity of the Registrar's certificate. */
	wallTime(): number;
	/** Check the Registrar certificate's validity period (default true; the drafts' vectors are long expired). */
	checkRegistrarValidity?: boolean;
	log?(level: "info" | "warn", message: string): void;
}

/** A refusal: HTTP status and a reason for the plain-text body (RFC 8995 §5.6: 4xx bodies are text). */
class Refusal extends Error {
	override readonly name = "Refusal";
	constructor(
		readonly status: number,
		message: string,
	) {
		super(message);
	}
}

const refuse = (status: number, reason: string): never => {
	throw new Refusal(status, reason);
};

/** RFC 8995 §5.6 HTTP statuses. */
const Status = { ok: 200, badRequest: 400, forbidden: 403, notFound: 404, internalError: 500 } as const;
const TEXT = "text/plain; charset=utf-8";

/** What the RVR tells once verified. */
interface Verified {
	rvr: VoucherRequest;
	serialNumber: string;
	registrar: Certificate;
	registrarChain: Certificate[];
	nonce: Uint8Array | undefined;
}

export class MasaService {
	readonly #o: MasaServiceOptions;
	readonly #anchors: Certificate[];

	constructor(options: MasaServiceOptions) {
		if (options.signer.chain.length === 0) throw new RangeError("the voucher signer needs its certificate");
		this.#o = options;
		this.#anchors = options.manufacturerAnchors.map((d) => parseCertificate(d));
	}

	/**
	 * POST /.well-known/brski/requestvoucher with a COSE RVR body. Never rejects. RFC 8995 §5.8: no
	 * voucher leaves without its audit entry, so the entry is written first; if it cannot be, the
	 * answer is 500 and the voucher is discarded.
	 */
	async requestVoucher(rvr: Uint8Array): Promise<VoucherHttpResponse> {
		const audit: { serialNumber?: string; registrar?: string; nonce?: string } = {};
		let entry: MasaAuditEntry;
		let answer: VoucherHttpResponse;
		let logLine: () => void;
		try {
			const v = this.#verify(rvr, audit);
			const voucher = this.#issue(v);
			const pinned = toHex(this.#o.crypto.sha256(voucher.pinnedDomainCert!));
			const signed = signCoseSign1(this.#o.crypto, this.#o.signer.privateKey, encodeVoucher(voucher), { x5bag: this.#o.signer.chain });
			entry = { time: this.#o.wallTime(), outcome: "issued", status: Status.ok, ...audit, pinnedDomain: pinned };
			answer = { status: Status.ok, contentType: VOUCHER_COSE_MEDIA_TYPE, body: encodeCoseSign1(signed) };
			logLine = () => this.#o.log?.("info", `masa: voucher issued for ${v.serialNumber} (Registrar ${audit.registrar?.slice(0, 16)}, pinned ${pinned.slice(0, 16)})`);
		} catch (e) {
			const r = e instanceof Refusal ? e : malformed(e);
			if (r === undefined) return this.#internalError("voucher request", e);
			entry = { time: this.#o.wallTime(), outcome: "refused", status: r.status, ...audit, reason: r.message };
			answer = { status: r.status, contentType: TEXT, body: utf8(r.message) };
			logLine = () => this.#o.log?.("warn", `masa: refused ${audit.serialNumber ?? "a request"} (${r.status}): ${r.message}`);
		}
		try {
			this.#o.audit.record(entry);
		} catch (e) {
			return this.#internalError(`audit log (${entry.outcome} for ${entry.serialNumber ?? "a request"})`, e);
		}
		logLine();
		return answer;
	}

	#internalError(what: string, e: unknown): VoucherHttpResponse {
		this.#o.log?.("warn", `masa: ${what} failed, 500: ${e instanceof Error ? e.stack ?? e.message : String(e)}`);
		return { status: Status.internalError, contentType: TEXT, body: utf8("internal error") };
	}

	#verify(bytes: Uint8Array, audit: { serialNumber?: string; registrar?: string; nonce?: string }): Verified {
		const { crypto } = this.#o;
		const rvrCose = decodeCoseSign1(bytes);
		const bag = coseCertificates(rvrCose).map((d) => parseCertificate(d));
		// §5.5.1-5.5.3: the signer is a cmcRA certificate from the bag whose key verifies the RVR.
		const signers = bag.filter((c) => isP256Key(c.publicKey) && verifyCoseSign1(crypto, c.publicKey.bytes, rvrCose));
		if (signers.length === 0) refuse(Status.forbidden, "the RVR signature does not verify with any certificate of its x5bag");
		const registrar = signers.find((c) => c.extendedKeyUsage?.includes(Oid.KP_CMC_RA));
		if (registrar === undefined) return refuse(Status.forbidden, "the RVR signer's certificate lacks id-kp-cmcRA");
		audit.registrar = toHex(crypto.sha256(registrar.der));
		const now = this.#o.wallTime();
		if (this.#o.checkRegistrarValidity !== false && (now < registrar.notBefore || now > registrar.notAfter)) refuse(Status.forbidden, "the Registrar's certificate is not valid now");

		const rvr = decodeVoucherRequest(rvrCose.payload);
		if (rvr.serialNumber !== undefined) audit.serialNumber = rvr.serialNumber;
		if (rvr.nonce !== undefined) audit.nonce = toHex(rvr.nonce);
		checkRegistrarVoucherRequest(rvr);
		const serialNumber = rvr.serialNumber!;

		// §5.5.5: the PVR, signed by the device's IDevID.
		const pvrCose = decodeCoseSign1(rvr.priorSignedVoucherRequest!);
		const idevid = this.#idevid(serialNumber, bag);
		if (!verifyCoseSign1(crypto, idevid.publicKey.bytes, pvrCose)) refuse(Status.forbidden, "the prior-signed-voucher-request is not signed by the device's IDevID");
		const pvr = decodeVoucherRequest(pvrCose.payload);
		checkPledgeVoucherRequest(pvr);
		if (pvr.serialNumber !== serialNumber) refuse(Status.forbidden, `serial-number differs: RVR ${serialNumber}, PVR ${pvr.serialNumber}`);
		if (!sameOptional(pvr.nonce, rvr.nonce)) refuse(Status.forbidden, "the RVR nonce is not the PVR nonce");
		if (rvr.idevidIssuer !== undefined && !bytesEqual(rvr.idevidIssuer, idevidIssuerOf(idevid, crypto))) refuse(Status.forbidden, "idevid-issuer does not match the IDevID");
		if (!namesRegistrar(pvr, registrar, crypto)) refuse(Status.forbidden, "the Registrar the pledge saw (proximity-registrar-*) did not sign the RVR");
		if (!this.#o.owns(serialNumber)) refuse(Status.notFound, `unknown device ${serialNumber}`);
		// The CA the voucher will pin must really be the Registrar's issuer, not just carry its name.
		const registrarChain = chainFromBag(registrar, bag);
		if (registrarChain.length > 1 && !verifyChain(registrarChain, [registrarChain[registrarChain.length - 1]!], { crypto }).ok) refuse(Status.forbidden, "the Registrar's chain in the x5bag does not verify");
		return { rvr, serialNumber, registrar, registrarChain, nonce: rvr.nonce };
	}

	/** The device's IDevID: from the RVR's bag (cBRSKI -30) or the inventory, chaining to the manufacturer. */
	#idevid(serialNumber: string, bag: Certificate[]): Certificate {
		const candidates = bag.filter((c) => nameValue(c.subject, "serialNumber") === serialNumber);
		const known = this.#o.inventory?.(serialNumber);
		if (known !== undefined) candidates.push(parseCertificate(known));
		for (const c of candidates) {
			// IDevIDs are checked without a clock: they are meant to outlive their notAfter (RFC 8995 §2.3.1).
			if (isP256Key(c.publicKey) && verifyChain(chainFromBag(c, bag), this.#anchors, { crypto: this.#o.crypto }).ok) return c;
		}
		return refuse(Status.forbidden, candidates.length === 0 ? `no IDevID for ${serialNumber} in the RVR or the inventory` : `the IDevID of ${serialNumber} does not chain to the manufacturer CA`);
	}

	#issue(v: Verified): Voucher {
		// The lowest CA above the Registrar in its own bag; a Registrar alone is pinned itself.
		const pinned = v.registrarChain.length > 1 ? v.registrarChain[1]! : v.registrar;
		const voucher: Voucher = {
			assertion: Assertion.proximity,
			createdOn: new Date(this.#o.wallTime()).toISOString(),
			domainCertRevocationChecks: false,
			pinnedDomainCert: pinned.der,
			serialNumber: v.serialNumber,
		};
		if (v.nonce !== undefined) voucher.nonce = v.nonce;
		return voucher;
	}
}

function sameOptional(a: Uint8Array | undefined, b: Uint8Array | undefined): boolean {
	return a === undefined || b === undefined ? a === b : bytesEqual(a, b);
}

/** Malformed COSE, CBOR, voucher data or certificates: 400 with the parser's message; undefined for anything else (a bug). */
function malformed(e: unknown): Refusal | undefined {
	if (e instanceof CoseError || e instanceof VoucherError || e instanceof CertificateError) return new Refusal(Status.badRequest, e.message);
	return undefined;
}

function utf8(text: string): Uint8Array {
	return new TextEncoder().encode(text);
}

export type { CoseSign1 };
