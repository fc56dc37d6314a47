/*
 * Issuing X.509 v3 certificates (RFC 5280) with our own DER writer and CryptoProvider: ES256 only
 * (RFC 5758 §3.2), the CA and end-entity profiles of the project's PKI, and LDevIDs from a verified
 * PKCS#10 request (cBRSKI §6.7). With a provider whose ECDSA is RFC 6979 (noble) and serial
 * numbers from a seeded source, the same inputs give the same certificate byte for byte, which
 * the simulator needs; src/pki (WebCrypto, randomized signatures) is the files-on-disk issuer.
 */

import { derBitString, derBoolean, derExplicit, derImplicit, derInteger, derOctetString, derOid, derSequence, derSmallInteger, derTlv } from "../asn1/der.js";
import type { CryptoProvider } from "../crypto/provider.js";
import { Oid, nameValue, parseCertificate } from "./certificate.js";
import { parseLdevidCsr } from "./csr.js";

/** TBSCertificate version v3 is INTEGER 2 (RFC 5280 §4.1.2.1). */
const VERSION_V3 = 2;
/** RFC 7093 §2 method 1: the key identifier is the leftmost 160 bits of SHA-256 of subjectPublicKey. */
const KEY_ID_BYTES = 20;
/** RFC 5280 §4.1.2.5: UTCTime through 2049, GeneralizedTime from 2050. */
const UTC_TIME_LAST_YEAR = 2049;
const UTC_TIME_FIRST_YEAR = 1950;
const TAG_UTC_TIME = 0x17;
const TAG_GENERALIZED_TIME = 0x18;
const TAG_IA5_STRING = 0x16;
/** KeyUsage named bits (RFC 5280 §4.2.1.3): bit 0 is the first (most significant) bit of the string. */
const KU_DIGITAL_SIGNATURE = 0;
const KU_KEY_CERT_SIGN = 5;
const KU_CRL_SIGN = 6;

export type CertificateProfile =
	/** basicConstraints cA (critical), keyUsage digitalSignature + keyCertSign + cRLSign (critical), SKI. */
	| { kind: "ca"; pathLength?: number }
	/** basicConstraints cA false, keyUsage digitalSignature (critical), optional EKUs, SKI unless omitted, optional MASA URL. */
	| {
			kind: "end-entity";
			extendedKeyUsages?: readonly string[];
			/** IDevIDs: IEEE 802.1AR leaves the SKI out (cbrski-digest §7.1). */
			omitSubjectKeyIdentifier?: boolean;
			/** id-pe-masa-url (RFC 8995 §2.3.2), for IDevIDs. */
			masaUrl?: string;
	  };

export interface CertificateIssuer {
	/** DER Name of the issuer (the CA certificate's subject). */
	name: Uint8Array;
	/** The issuer's 65-byte public point: the authorityKeyIdentifier. */
	publicKey: Uint8Array;
	privateKey: Uint8Array;
}

export interface IssueCertificateOptions {
	crypto: Pick<CryptoProvider, "ecdsaSign" | "sha256">;
	/** Positive serial number, unsigned big-endian (RFC 5280 §4.1.2.2: at most 20 octets). */
	serialNumber: Uint8Array;
	/** DER Name. */
	subject: Uint8Array;
	/** 65-byte uncompressed P-256 point. */
	publicKey: Uint8Array;
	/** The signing CA; omit for a self-signed certificate signed by `selfKey`. */
	issuer?: CertificateIssuer;
	selfKey?: Uint8Array;
	/** Milliseconds since the epoch. */
	notBefore: number;
	notAfter: number;
	profile: CertificateProfile;
}

/** id-ecPublicKey with the secp256r1 namedCurve parameter (RFC 5480 §2.1.1). */
export function p256Spki(point: Uint8Array): Uint8Array {
	return derSequence(derSequence(derOid(Oid.EC_PUBLIC_KEY), derOid(Oid.P256)), derBitString(point));
}

/** RFC 7093 §2 method 1 key identifier of a public point. */
export function keyIdentifier(crypto: Pick<CryptoProvider, "sha256">, point: Uint8Array): Uint8Array {
	return crypto.sha256(point).slice(0, KEY_ID_BYTES);
}

/** UTCTime or GeneralizedTime of a whole second, "Z" (RFC 5280 §4.1.2.5.1, §4.1.2.5.2). */
export function derTime(ms: number): Uint8Array {
	const d = new Date(Math.floor(ms / 1000) * 1000);
	const year = d.getUTCFullYear();
	if (year < 0 || year > 9999) throw new RangeError(`year ${year} cannot be encoded`);
	const two = (n: number): string => String(n).padStart(2, "0");
	const rest = `${two(d.getUTCMonth() + 1)}${two(d.getUTCDate())}${two(d.getUTCHours())}${two(d.getUTCMinutes())}${two(d.getUTCSeconds())}Z`;
	const utc = year >= UTC_TIME_FIRST_YEAR && year <= UTC_TIME_LAST_YEAR;
	const text = utc ? `${two(year % 100)}${rest}` : `${String(year).padStart(4, "0")}${rest}`;
	const bytes = new Uint8Array(text.length);
	for (let i = 0; i < text.length; i++) bytes[i] = text.charCodeAt(i);
	return derTlv(utc ? TAG_UTC_TIME : TAG_GENERALIZED_TIME, bytes);
}

/** A DER named BIT STRING with trailing zero bits removed (X.690 §11.2.2). */
function namedBits(bits: readonly number[]): Uint8Array {
	const last = Math.max(...bits);
	const bytes = new Uint8Array((last >> 3) + 1);
	for (const b of bits) bytes[b >> 3] = bytes[b >> 3]! | (0x80 >> (b & 7));
	return derBitString(bytes, 7 - (last & 7));
}

function extension(oid: string, critical: boolean, value: Uint8Array): Uint8Array {
	// DEFAULT FALSE is left out in DER (X.690 §11.5).
	return critical ? derSequence(derOid(oid), derBoolean(true), derOctetString(value)) : derSequence(derOid(oid), derOctetString(value));
}

function ia5(text: string): Uint8Array {
	const bytes = new Uint8Array(text.length);
	for (let i = 0; i < text.length; i++) {
		const c = text.charCodeAt(i);
		if (c < 0x21 || c > 0x7e) throw new RangeError(`"${text}" is not printable IA5 text`);
		bytes[i] = c;
	}
	return derTlv(TAG_IA5_STRING, bytes);
}

/** One ES256 certificate in DER. */
export function issueCertificate(o: IssueCertificateOptions): Uint8Array {
	if (o.publicKey.length !== 65 || o.publicKey[0] !== 0x04) throw new RangeError("the public key is not an uncompressed P-256 point");
	if (o.serialNumber.length === 0 || o.serialNumber.length > 20) throw new RangeError("a serial number has 1..20 octets");
	if (!(o.notBefore <= o.notAfter)) throw new RangeError("notBefore is after notAfter");
	const signingKey = o.issuer?.privateKey ?? o.selfKey;
	if (signingKey === undefined) throw new RangeError("a self-signed certificate needs selfKey");
	const p = o.profile;
	const ext: Uint8Array[] = [];
	if (p.kind === "ca") {
		const bc = p.pathLength === undefined ? derSequence(derBoolean(true)) : derSequence(derBoolean(true), derSmallInteger(p.pathLength));
		ext.push(extension(Oid.BASIC_CONSTRAINTS, true, bc));
		ext.push(extension(Oid.KEY_USAGE, true, namedBits([KU_DIGITAL_SIGNATURE, KU_KEY_CERT_SIGN, KU_CRL_SIGN])));
	} else {
		ext.push(extension(Oid.BASIC_CONSTRAINTS, false, derSequence()));
		ext.push(extension(Oid.KEY_USAGE, true, namedBits([KU_DIGITAL_SIGNATURE])));
		if (p.extendedKeyUsages !== undefined && p.extendedKeyUsages.length > 0) ext.push(extension(Oid.EXTENDED_KEY_USAGE, false, derSequence(...p.extendedKeyUsages.map((k) => derOid(k)))));
		if (p.masaUrl !== undefined) ext.push(extension(Oid.MASA_URL, false, ia5(p.masaUrl)));
	}
	if (p.kind === "ca" || p.omitSubjectKeyIdentifier !== true) ext.push(extension(Oid.SUBJECT_KEY_IDENTIFIER, false, derOctetString(keyIdentifier(o.crypto, o.publicKey))));
	if (o.issuer !== undefined) ext.push(extension(Oid.AUTHORITY_KEY_IDENTIFIER, false, derSequence(derImplicit(0, keyIdentifier(o.crypto, o.issuer.publicKey), false))));
	const algorithm = derSequence(derOid(Oid.ECDSA_WITH_SHA256)); // parameters absent (RFC 5758 §3.2)
	const tbs = derSequence(
		derExplicit(0, derSmallInteger(VERSION_V3)),
		derInteger(o.serialNumber),
		algorithm,
		o.issuer?.name ?? o.subject,
		derSequence(derTime(o.notBefore), derTime(o.notAfter)),
		o.subject,
		p256Spki(o.publicKey),
		derExplicit(3, derSequence(...ext)),
	);
	return derSequence(tbs, algorithm, derBitString(o.crypto.ecdsaSign(signingKey, tbs)));
}

/** The issuing side of a CA certificate and its key. */
export function certificateIssuer(caDer: Uint8Array, privateKey: Uint8Array): CertificateIssuer {
	const ca = parseCertificate(caDer);
	return { name: ca.subject.der, publicKey: ca.publicKey.bytes, privateKey };
}

export interface IssueLdevidOptions {
	crypto: Pick<CryptoProvider, "ecdsaSign" | "ecdsaVerify" | "sha256">;
	issuer: CertificateIssuer;
	/** DER PKCS#10 request; parsed and its proof of possession verified here. */
	csr: Uint8Array;
	/** The authenticated device certificate's subject (DER): the CSR subject must equal it. */
	expectedSubject?: Uint8Array;
	serialNumber: Uint8Array;
	notBefore: number;
	notAfter: number;
}

/**
 * An LDevID for the key in `csr`, the CSR subject unchanged (cBRSKI §6.7.1), clientAuth EKU. Throws CsrError for a malformed request, a bad signature or another device.
 */
export function issueLdevid(o: IssueLdevidOptions): Uint8Array {
	const csr = parseLdevidCsr(o.csr, o.crypto, o.expectedSubject);
	return issueCertificate({
		crypto: o.crypto,
		serialNumber: o.serialNumber,
		subject: csr.subject.der,
		publicKey: csr.publicKey.bytes,
		issuer: o.issuer,
		notBefore: o.notBefore,
		notAfter: o.notAfter,
		profile: { kind: "end-entity", extendedKeyUsages: [Oid.KP_CLIENT_AUTH] }, // an LDevID authenticates a device; it serves nothing
	});
}

/** Serial-number octets from a random source: positive, no leading zero octet (RFC 5280 §4.1.2.2). */
export function serialFrom(random: (bytes: Uint8Array) => Uint8Array | void, octets = 16): Uint8Array {
	const b = new Uint8Array(octets);
	random(b);
	b[0] = (b[0]! & 0x7f) | 0x40;
	return b;
}
