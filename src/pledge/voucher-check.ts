/*
 * The pledge's voucher validation (RFC 8995 §5.6.1/§5.6.2, 8366bis, cBRSKI; cbrski-digest §6,
 * P22-P28) and what follows from a valid voucher: the Registrar's provisionally accepted DTLS chain
 * checked against the pinned domain, and the domain CA set from /crts checked against both.
 * Every refusal is a PledgeError("voucher" | "ca-certs") whose message says which rule failed.
 */

import type { CryptoProvider } from "../../modules/crypto/provider.js";
import { CoseError, decodeCoseSign1 } from "../../modules/cose/sign1.js";
import { verifyVoucherSignature } from "../../modules/voucher/voucher-signature.js";
import { Assertion, VoucherError, decodeVoucher, hasPinnedDomain, type Voucher } from "../../modules/voucher/voucher.js";
import { CertificateError, parseCertificate, type Certificate } from "../../modules/x509/certificate.js";
import { verifyChain } from "../../modules/x509/chain.js";
import { bytesEqual } from "../../modules/util/hex.js";
import { PledgeError } from "./errors.js";

export interface VoucherExpectations {
	crypto: CryptoProvider;
	/** The manufacturer's MASA trust anchors (firmware, P22). */
	masaAnchors: readonly Certificate[];
	/**
	 * Pre-installed voucher-signer certificates: the Registrar strips the voucher's x5bag (R26), so a
	 * MASA signing with an end-entity key must be known in advance. Each must chain to an anchor;
	 * the voucher's own x5bag is never used.
	 */
	voucherSigners: readonly Certificate[];
	serialNumber: string;
	/** Our idevid-issuer (modules/voucher/idevid-issuer.ts). */
	idevidIssuer: Uint8Array;
	/** The nonce our PVR carried. */
	nonce: Uint8Array;
	/** Assertions local policy accepts (P25; default proximity). */
	assertions?: readonly number[];
	/** Wall-clock ms, only where the pledge's clock is trusted (P28). */
	now?: number;
}

function refuse(message: string): never {
	throw new PledgeError("voucher", message);
}

function certificates(ders: readonly Uint8Array[], what: string): Certificate[] {
	try {
		return ders.map((d) => parseCertificate(d));
	} catch (e) {
		if (e instanceof CertificateError) refuse(`${what}: ${e.message}`);
		throw e;
	}
}

/** Parses and checks a voucher (COSE_Sign1 bytes, CF 836). Returns its contents; throws PledgeError("voucher"). */
export function checkVoucher(bytes: Uint8Array, x: VoucherExpectations): Voucher {
	let message;
	try {
		message = decodeCoseSign1(bytes);
	} catch (e) {
		if (e instanceof CoseError) refuse(`not a COSE_Sign1 voucher: ${e.message}`);
		throw e;
	}
	// P22: the anchor's own key or a pre-installed signer chaining to it; never a certificate the
	// voucher brings (x5bag), which anyone holding a certificate under the anchor could add.
	let signer;
	try {
		signer = verifyVoucherSignature(x.crypto, message, { anchors: x.masaAnchors, signers: x.voucherSigners, ...(x.now !== undefined ? { now: x.now } : {}) });
	} catch (e) {
		if (e instanceof CoseError) refuse(e.message);
		throw e;
	}
	if (signer === undefined) refuse("voucher signature does not verify with the MASA trust anchor or a pre-installed voucher signer");

	let v: Voucher;
	try {
		v = decodeVoucher(message.payload);
	} catch (e) {
		if (e instanceof VoucherError) refuse(`voucher payload: ${e.message}`);
		throw e;
	}
	if (v.serialNumber !== x.serialNumber) refuse(`voucher is for serial-number "${v.serialNumber}", not ours`);
	if (v.idevidIssuer !== undefined && !bytesEqual(v.idevidIssuer, x.idevidIssuer)) refuse("voucher idevid-issuer does not match our IDevID");
	if (v.nonce === undefined) refuse("voucher has no nonce (nonceless vouchers are not accepted)");
	if (!bytesEqual(v.nonce, x.nonce)) refuse("voucher nonce differs from our voucher request's");
	if (!(x.assertions ?? [Assertion.proximity]).includes(v.assertion)) refuse(`voucher assertion ${v.assertion} is not accepted`);
	if (!hasPinnedDomain(v)) refuse("voucher pins no domain certificate or key");
	if (x.now !== undefined) {
		if (v.createdOn !== undefined && !(Date.parse(v.createdOn) <= x.now)) refuse(`voucher created-on ${v.createdOn} is in the future or unreadable`);
		if (v.expiresOn !== undefined && !(Date.parse(v.expiresOn) >= x.now)) refuse(`voucher expired at ${v.expiresOn}`);
	}
	return v;
}

/**
 * P27: the Registrar's DTLS chain (leaf first, as the handshake recorded it) against the voucher's
 * pin. A pinned certificate may be the Registrar's own or any CA on its chain.
 */
export function checkRegistrarAgainstPin(v: Voucher, registrarChain: readonly Uint8Array[], crypto: CryptoProvider, now?: number): void {
	const chain = certificates(registrarChain, "Registrar certificate");
	if (chain.length === 0) refuse("no Registrar certificate was recorded");
	const spki = chain[0]!.publicKey.spki;
	if (v.pinnedDomainCert !== undefined) {
		const pinned = certificates([v.pinnedDomainCert], "pinned-domain-cert")[0]!;
		const opts = { crypto, ...(now !== undefined ? { now } : {}) };
		let reason = "";
		for (let i = 1; i <= chain.length; i++) {
			const r = verifyChain(chain.slice(0, i), [pinned], opts);
			if (r.ok) return;
			reason = r.reason;
		}
		refuse(`the Registrar's certificate does not chain to the pinned-domain-cert (${reason})`);
	}
	if (v.pinnedDomainPubk !== undefined) {
		if (!bytesEqual(v.pinnedDomainPubk, spki)) refuse("the Registrar's key is not the pinned-domain-pubk");
		return;
	}
	// cbrski-digest §14: SHA-256 over the DER SubjectPublicKeyInfo.
	if (v.pinnedDomainPubkSha256 !== undefined && !bytesEqual(v.pinnedDomainPubkSha256, crypto.sha256(spki))) refuse("the Registrar's key does not hash to the pinned-domain-pubk-sha256");
}

/**
 * The domain trust anchors among the CA certificates /crts returned (cBRSKI §6.7.1, P33): those
 * issued by (or equal to) the pinned-domain-cert, and those that anchor the Registrar's chain,
 * which the voucher has just made trustworthy. Throws PledgeError("ca-certs") when none qualifies.
 */
export function selectDomainAnchors(cas: readonly Uint8Array[], v: Voucher, registrarChain: readonly Uint8Array[], crypto: CryptoProvider, now?: number): Uint8Array[] {
	let parsed: Certificate[];
	let chain: Certificate[];
	try {
		parsed = cas.map((d) => parseCertificate(d));
		chain = registrarChain.map((d) => parseCertificate(d));
	} catch (e) {
		if (e instanceof CertificateError) throw new PledgeError("ca-certs", `unparsable CA certificate: ${e.message}`);
		throw e;
	}
	const opts = { crypto, ...(now !== undefined ? { now } : {}) };
	const pinned = v.pinnedDomainCert !== undefined ? parseCertificate(v.pinnedDomainCert) : undefined;
	const out = parsed.filter((c) => (pinned !== undefined && verifyChain([c], [pinned], opts).ok) || verifyChain(chain, [c], opts).ok).map((c) => c.der);
	if (out.length === 0) throw new PledgeError("ca-certs", "no CA certificate from /crts belongs to the pinned domain");
	return out;
}
