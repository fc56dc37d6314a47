/*
 * The simulation's PKI, the same shape as `cjp pki init` (src/pki/init.ts) but in memory and
 * deterministic: every key from the seeded source, every signature RFC 6979 (noble), every serial
 * number from the seed (modules/x509/issue.ts). One manufacturer (CA, voucher signer), one domain
 * (CA, Registrar with cmcRA), and an IDevID per pledge with the MASA URL extension.
 */

import type { CryptoProvider } from "../../modules/crypto/provider.js";
import { Oid } from "../../modules/x509/certificate.js";
import { encodeName } from "../../modules/x509/csr.js";
import { certificateIssuer, issueCertificate, serialFrom, type CertificateProfile } from "../../modules/x509/issue.js";

/** RFC 8995 §2.2 / IEEE 802.1AR: an IDevID has no well-defined expiry. */
const NO_EXPIRY = Date.UTC(9999, 11, 31, 23, 59, 59);
const YEAR_MS = 365 * 86_400_000;
/** notBefore this far back, as src/pki does, so that a peer a little behind accepts fresh certificates. */
export const CLOCK_SKEW_MS = 3_600_000;

export interface Keyed {
	cert: Uint8Array;
	key: Uint8Array;
}

export interface SimPki {
	manufacturerCa: Keyed;
	/** Issues the voucher signer only (cBRSKI R27: the Registrar's configured voucher root; the pledges' MASA anchor). */
	voucherCa: Keyed;
	voucherSigner: Keyed;
	domainCa: Keyed;
	registrar: Keyed;
	/** The MASA URL in every IDevID (only an authority, RFC 8995 §2.3.2). */
	masaUrl: string;
	/** An IDevID for `serial`, issued on demand (deterministic: same serial and seed, same bytes). */
	idevid(serial: string): Keyed;
}

export interface SimPkiOptions {
	crypto: CryptoProvider;
	random: (bytes: Uint8Array) => Uint8Array;
	/** Wall-clock ms at the start of the run. */
	now: number;
	masaUrl?: string;
}

export function buildSimPki(o: SimPkiOptions): SimPki {
	const from = o.now - CLOCK_SKEW_MS;
	const masaUrl = o.masaUrl ?? "masa.example";
	const make = (entries: [string, string][], profile: CertificateProfile, issuer: Keyed | undefined, notAfter: number): Keyed => {
		const k = o.crypto.ecGenerate();
		const cert = issueCertificate({
			crypto: o.crypto,
			serialNumber: serialFrom(o.random),
			subject: encodeName(entries.map(([type, value]) => ({ type, value }))),
			publicKey: k.publicKey,
			...(issuer !== undefined ? { issuer: certificateIssuer(issuer.cert, issuer.key) } : { selfKey: k.privateKey }),
			notBefore: from,
			notAfter,
			profile,
		});
		return { cert, key: k.privateKey };
	};
	const ca = (entries: [string, string][]): Keyed => make(entries, { kind: "ca", pathLength: 0 }, undefined, o.now + 20 * YEAR_MS);
	const manufacturerCa = ca([[Oid.ORGANIZATION, "cjp manufacturer"], [Oid.COMMON_NAME, "cjp Manufacturer CA"]]);
	// Vouchers chain to a CA of their own, never to the IDevID issuer: no device key can sign a voucher.
	const voucherCa = ca([[Oid.ORGANIZATION, "cjp manufacturer"], [Oid.COMMON_NAME, "cjp MASA Voucher CA"]]);
	const voucherSigner = make([[Oid.ORGANIZATION, "cjp manufacturer"], [Oid.COMMON_NAME, "cjp MASA voucher signer"]], { kind: "end-entity" }, voucherCa, o.now + 20 * YEAR_MS);
	const domainCa = ca([[Oid.ORGANIZATION, "cjp domain"], [Oid.COMMON_NAME, "cjp Domain CA"]]);
	const registrar = make(
		[[Oid.ORGANIZATION, "cjp domain"], [Oid.COMMON_NAME, "cjp Registrar"]],
		{ kind: "end-entity", extendedKeyUsages: [Oid.KP_CMC_RA, Oid.KP_SERVER_AUTH, Oid.KP_CLIENT_AUTH] },
		domainCa,
		o.now + 5 * YEAR_MS,
	);
	return {
		manufacturerCa,
		voucherCa,
		voucherSigner,
		domainCa,
		registrar,
		masaUrl,
		idevid: (serial) =>
			make(
				[[Oid.ORGANIZATION, "cjp manufacturer"], [Oid.COMMON_NAME, `cjp pledge ${serial}`], [Oid.SERIAL_NUMBER, serial]],
				{ kind: "end-entity", omitSubjectKeyIdentifier: true, masaUrl },
				manufacturerCa,
				NO_EXPIRY,
			),
	};
}

