/*
 * Certificate issuing on Node (@peculiar/x509 over WebCrypto; no hand-written DER): P-256 keys,
 * CA and end-entity profiles, and the Registrar's LDevID issuance from a verified PKCS#10 request
 * (cBRSKI §6.7, RFC 9148 §4.2 /sen and /sren). `cjp pki init` (init.ts) builds its PKI with the
 * same functions.
 */

import { randomBytes } from "node:crypto";
import { readFileSync } from "node:fs";
import * as asn1js from "asn1js";
import { x509, webcrypto, type BufferSource, type CryptoKey, type CryptoKeyPair } from "./x509.js";
import { createNodeCrypto } from "../../hosts/node/crypto.js";
import type { CryptoProvider } from "../../modules/crypto/provider.js";
import { nameValue } from "../../modules/x509/certificate.js";
import { parseLdevidCsr } from "../../modules/x509/csr.js";

/** ECDSA P-256 with SHA-256 for keys and signatures (RFC 5758 §3.2), the only profile here. */
export const ES256 = Object.freeze({ name: "ECDSA", namedCurve: "P-256", hash: "SHA-256" });

/** Serial numbers: 16 random octets, positive and minimal (RFC 5280 §4.1.2.2 allows up to 20). */
const SERIAL_OCTETS = 16;
/** RFC 8995 §2.2 / IEEE 802.1AR: an IDevID has no well-defined expiry, GeneralizedTime 99991231235959Z. */
export const NO_EXPIRY = new Date(Date.UTC(9999, 11, 31, 23, 59, 59));
/** notBefore is set this far back so that a peer whose clock is a little behind accepts a fresh certificate. */
const CLOCK_SKEW_MS = 60 * 60 * 1000;
const DAY_MS = 86_400_000;

/** id-pe-masa-url (RFC 8995 §2.3.2), id-kp-cmcRA (RFC 6402 §2.10). */
export const OID_MASA_URL = "1.3.6.1.5.5.7.1.32";
export const OID_KP_CMC_RA = "1.3.6.1.5.5.7.3.28";

/** A certificate with its signing key: a CA, or an end entity that signs (Registrar, voucher signer). */
export interface KeyedCertificate {
	cert: x509.X509Certificate;
	key: CryptoKey;
}

export async function generateKeyPair(): Promise<CryptoKeyPair> {
	return (await webcrypto.subtle.generateKey(ES256, true, ["sign", "verify"])) as CryptoKeyPair;
}

/** PKCS#8 "PRIVATE KEY" PEM (RFC 5958, RFC 7468 §10): what OpenSSL, Node and modules/x509/private-key.ts read. */
export async function privateKeyPem(key: CryptoKey): Promise<string> {
	return x509.PemConverter.encode(await webcrypto.subtle.exportKey("pkcs8", key), "PRIVATE KEY");
}

/** A PKCS#8 P-256 private key from PEM text, usable for signing certificates. */
export async function importPrivateKeyPem(pem: string): Promise<CryptoKey> {
	return webcrypto.subtle.importKey("pkcs8", x509.PemConverter.decodeFirst(pem), ES256, false, ["sign"]);
}

/** A CA or signing end entity from its PEM certificate and PKCS#8 key files. */
export async function loadKeyedCertificate(certFile: string, keyFile: string): Promise<KeyedCertificate> {
	return {
		cert: new x509.X509Certificate(readFileSync(certFile, "utf8")),
		key: await importPrivateKeyPem(readFileSync(keyFile, "utf8")),
	};
}

export function randomSerialHex(): string {
	const b = randomBytes(SERIAL_OCTETS);
	b[0] = (b[0]! & 0x7f) | 0x40; // positive, and no leading zero octet to strip
	return b.toString("hex");
}

export type Profile =
	/** A CA: basicConstraints cA (critical), keyUsage keyCertSign + cRLSign (+ digitalSignature), SKI. */
	| { kind: "ca"; pathLength?: number }
	/** An end entity: basicConstraints cA false, keyUsage digitalSignature (critical), optional EKUs and SANs. */
	| {
			kind: "end-entity";
			extendedKeyUsages?: string[];
			dnsNames?: string[];
			ipAddresses?: string[];
			/** IDevIDs: IEEE 802.1AR leaves the SKI out (cbrski-digest §7.1); everyone else has one. */
			omitSubjectKeyIdentifier?: boolean;
			/** The MASA URL extension (RFC 8995 §2.3.2), for IDevIDs. */
			masaUrl?: string;
	  };

export interface IssueOptions {
	subject: x509.Name;
	publicKey: CryptoKey | BufferSource;
	/** Signing CA; omit for a self-signed certificate (then `signingKey` signs). */
	issuer?: KeyedCertificate;
	signingKey?: CryptoKey;
	profile: Profile;
	notBefore: Date;
	notAfter: Date;
}

/** One certificate, ES256, random serial, the profile's extensions and an AKI when a CA issues it. */
export async function issueCertificate(o: IssueOptions): Promise<x509.X509Certificate> {
	const p = o.profile;
	const extensions: x509.Extension[] = [];
	if (p.kind === "ca") {
		extensions.push(new x509.BasicConstraintsExtension(true, p.pathLength, true));
		extensions.push(new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign | x509.KeyUsageFlags.digitalSignature, true));
	} else {
		extensions.push(new x509.BasicConstraintsExtension(false, undefined, false));
		extensions.push(new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature, true));
		if (p.extendedKeyUsages !== undefined) extensions.push(new x509.ExtendedKeyUsageExtension(p.extendedKeyUsages, false));
		const names = [...(p.dnsNames ?? []).map((value) => ({ type: "dns" as const, value })), ...(p.ipAddresses ?? []).map((value) => ({ type: "ip" as const, value }))];
		if (names.length > 0) extensions.push(new x509.SubjectAlternativeNameExtension(names, false));
		if (p.masaUrl !== undefined) extensions.push(masaUrlExtension(p.masaUrl));
	}
	if (p.kind === "ca" || p.omitSubjectKeyIdentifier !== true) extensions.push(await x509.SubjectKeyIdentifierExtension.create(o.publicKey));
	if (o.issuer !== undefined) extensions.push(await x509.AuthorityKeyIdentifierExtension.create(o.issuer.cert.publicKey));
	const signingKey = o.issuer?.key ?? o.signingKey;
	if (signingKey === undefined) throw new Error("a self-signed certificate needs its signing key");
	return x509.X509CertificateGenerator.create({
		serialNumber: randomSerialHex(),
		subject: o.subject,
		issuer: o.issuer?.cert.subjectName ?? o.subject,
		notBefore: o.notBefore,
		notAfter: o.notAfter,
		publicKey: o.publicKey,
		signingKey,
		signingAlgorithm: ES256,
		extensions,
	});
}

/**
 * MASAURLSyntax ::= IA5String (RFC 8995 §2.3.2), non-critical; extnValue holds the IA5String's DER.
 * asn1js is @peculiar/x509's own ASN.1 library.
 */
function masaUrlExtension(url: string): x509.Extension {
	if (!/^[\x21-\x7e]+$/.test(url)) throw new Error(`MASA URL "${url}" is not printable IA5 text`);
	return new x509.Extension(OID_MASA_URL, false, new asn1js.IA5String({ value: url }).toBER(false));
}

/** The start of a validity period: now, less some clock skew. */
export function validFrom(now: Date): Date {
	return new Date(now.getTime() - CLOCK_SKEW_MS);
}

export function daysAfter(now: Date, days: number): Date {
	return new Date(now.getTime() + days * DAY_MS);
}

/* ---------------------------------------------------------------------------- LDevID issuing */

export interface IssueLdevidOptions {
	/** The domain CA (registrar/domain-ca.pem and .key). */
	ca: KeyedCertificate;
	/** The DER PKCS#10 request from /sen or /sren; parsed and its signature verified here. */
	csr: Uint8Array;
	/** Validity in days from `now`; default DEFAULT_LDEVID_DAYS. */
	validityDays?: number;
	now?: Date;
	/** When given (the authenticated certificate's subject, DER), the CSR subject must equal it byte for byte. */
	expectedSubject?: Uint8Array;
	/** EKUs of the LDevID; default clientAuth only (an LDevID authenticates a device, it serves nothing). */
	extendedKeyUsages?: string[];
	/** Verifies the CSR signature; default node:crypto. */
	crypto?: Pick<CryptoProvider, "ecdsaVerify">;
}

export interface IssuedCertificate {
	der: Uint8Array;
	pem: string;
	/** Certificate serial number, lower-case hex: unique per issuance (128 random bits). */
	serialNumber: string;
	/** The subject serialNumber (2.5.4.5) copied from the CSR, if it has one. */
	deviceSerialNumber: string | undefined;
	notBefore: Date;
	notAfter: Date;
}

export const DEFAULT_LDEVID_DAYS = 365;

/**
 * An LDevID for the key in `csr`, subject copied from the CSR (cBRSKI §6.7.1: the pledge repeats its
 * IDevID subject, which `expectedSubject` enforces), clientAuth EKU, signed by the domain CA. Throws
 * CsrError for a request that is malformed, not signed by its key, or for another subject.
 */
export async function issueLdevid(o: IssueLdevidOptions): Promise<IssuedCertificate> {
	const csr = parseLdevidCsr(o.csr, o.crypto ?? createNodeCrypto(), o.expectedSubject);
	const deviceSerialNumber = nameValue(csr.subject, "serialNumber");
	const days = o.validityDays ?? DEFAULT_LDEVID_DAYS;
	if (!(days > 0)) throw new RangeError("validityDays must be positive");
	const now = o.now ?? new Date();
	const cert = await issueCertificate({
		subject: new x509.Name(csr.subject.der),
		publicKey: csr.publicKey.spki,
		issuer: o.ca,
		profile: { kind: "end-entity", extendedKeyUsages: o.extendedKeyUsages ?? [x509.ExtendedKeyUsage.clientAuth] },
		notBefore: validFrom(now),
		notAfter: daysAfter(now, days),
	});
	return {
		der: new Uint8Array(cert.rawData),
		pem: cert.toString("pem") + "\n",
		serialNumber: cert.serialNumber.toLowerCase(),
		deviceSerialNumber,
		notBefore: cert.notBefore,
		notAfter: cert.notAfter,
	};
}
