/*
 * X.509 v3 certificates (RFC 5280 §4) as the DTLS handshake (RFC 7925 profile) and cBRSKI use
 * them: the fields a chain check needs, the extensions the BRSKI roles look at, and the exact
 * TBSCertificate bytes that the signature covers.
 *
 * Input comes from the network, so parsing is strict DER (modules/asn1/der.ts) and every failure is
 * a CertificateError. Known extensions are parsed (a malformed one fails the whole certificate);
 * the others are kept raw. Byte fields are views of the input, which must not change afterwards.
 */

import {
	DerError,
	DerReader,
	Tag,
	TagClass,
	decodeOid,
	decodeString,
	tlvEncoding,
	tlvValue,
	type Tlv,
} from "../asn1/der.js";
import { bytesEqual } from "../util/hex.js";

/** Not an X.509 certificate (malformed DER, or DER that breaks RFC 5280's structure). */
export class CertificateError extends Error {
	override readonly name = "CertificateError";
}

/** Object identifiers used here and by the chain check. */
export const Oid = Object.freeze({
	/** RFC 5480 §2.1.1 */
	EC_PUBLIC_KEY: "1.2.840.10045.2.1",
	/** secp256r1 / prime256v1, RFC 5480 §2.1.1.1 */
	P256: "1.2.840.10045.3.1.7",
	/** RFC 5758 §3.2 */
	ECDSA_WITH_SHA256: "1.2.840.10045.4.3.2",
	/** RFC 5280 §4.2.1.2 */
	SUBJECT_KEY_IDENTIFIER: "2.5.29.14",
	/** RFC 5280 §4.2.1.3 */
	KEY_USAGE: "2.5.29.15",
	/** RFC 5280 §4.2.1.6 */
	SUBJECT_ALT_NAME: "2.5.29.17",
	/** RFC 5280 §4.2.1.9 */
	BASIC_CONSTRAINTS: "2.5.29.19",
	/** RFC 5280 §4.2.1.1 */
	AUTHORITY_KEY_IDENTIFIER: "2.5.29.35",
	/** RFC 5280 §4.2.1.12 */
	EXTENDED_KEY_USAGE: "2.5.29.37",
	/** id-pe-masa-url, RFC 8995 §2.3.2 */
	MASA_URL: "1.3.6.1.5.5.7.1.32",
	/** id-kp-serverAuth, id-kp-clientAuth, RFC 5280 §4.2.1.12 */
	KP_SERVER_AUTH: "1.3.6.1.5.5.7.3.1",
	KP_CLIENT_AUTH: "1.3.6.1.5.5.7.3.2",
	/** id-kp-cmcRA, RFC 6402 §2.10: marks the Registrar's certificate in BRSKI (RFC 8995) */
	KP_CMC_RA: "1.3.6.1.5.5.7.3.28",
	/** Attribute types, RFC 5280 Appendix A.1 (X.520) */
	COMMON_NAME: "2.5.4.3",
	SERIAL_NUMBER: "2.5.4.5",
	COUNTRY: "2.5.4.6",
	LOCALITY: "2.5.4.7",
	STATE: "2.5.4.8",
	ORGANIZATION: "2.5.4.10",
	ORGANIZATIONAL_UNIT: "2.5.4.11",
} as const);

/** Short names of attribute types (RFC 4514 §3, plus serialNumber and emailAddress as OpenSSL prints them). */
const ATTRIBUTE_NAMES: Readonly<Record<string, string>> = Object.freeze({
	"2.5.4.3": "CN",
	"2.5.4.4": "SN",
	"2.5.4.5": "serialNumber",
	"2.5.4.6": "C",
	"2.5.4.7": "L",
	"2.5.4.8": "ST",
	"2.5.4.9": "STREET",
	"2.5.4.10": "O",
	"2.5.4.11": "OU",
	"2.5.4.12": "title",
	"2.5.4.42": "GN",
	"2.5.4.46": "dnQualifier",
	"2.5.4.65": "pseudonym",
	"0.9.2342.19200300.100.1.1": "UID",
	"0.9.2342.19200300.100.1.25": "DC",
	"1.2.840.113549.1.9.1": "emailAddress",
});

/** KeyUsage bits (RFC 5280 §4.2.1.3) as masks of Certificate.keyUsage. */
export const KeyUsage = Object.freeze({
	digitalSignature: 1 << 0,
	nonRepudiation: 1 << 1,
	keyEncipherment: 1 << 2,
	dataEncipherment: 1 << 3,
	keyAgreement: 1 << 4,
	keyCertSign: 1 << 5,
	cRLSign: 1 << 6,
	encipherOnly: 1 << 7,
	decipherOnly: 1 << 8,
} as const);

export interface NameAttribute {
	/** Attribute type OID. */
	type: string;
	/** "CN", "O", "serialNumber"...; undefined for types without a known short name. */
	shortName: string | undefined;
	/** The value as text; a value that is not a character string is "#" + hex of its DER (RFC 4514 §2.4). */
	value: string;
}

export interface Name {
	/** The Name's DER encoding: what issuer/subject chaining compares (RFC 5280 §7.1, binary match). */
	der: Uint8Array;
	/** Every attribute of every RDN, in encoding order (most significant RDN first). */
	attributes: NameAttribute[];
}

export interface PublicKeyInfo {
	/** The whole SubjectPublicKeyInfo (what the cBRSKI voucher-request field proximity-registrar-pubk carries). */
	spki: Uint8Array;
	/** AlgorithmIdentifier OID (EC_PUBLIC_KEY for ECDSA keys). */
	algorithm: string;
	/** The namedCurve OID when the parameters are one (RFC 5480 §2.1.1), else undefined. */
	curve: string | undefined;
	/** The subjectPublicKey bits: for EC keys the point, 65 bytes 04 || X || Y for uncompressed P-256. */
	bytes: Uint8Array;
}

export interface Extension {
	oid: string;
	critical: boolean;
	/** Contents of extnValue: the DER of the extension's own value. */
	value: Uint8Array;
}

export interface BasicConstraints {
	cA: boolean;
	/** pathLenConstraint; undefined means no limit. */
	pathLen: number | undefined;
}

export interface OtherName {
	typeId: string;
	/** DER of the value inside [0] EXPLICIT. */
	value: Uint8Array;
}

/** GeneralNames of subjectAltName (RFC 5280 §4.2.1.6), by kind; x400Address and ediPartyName are skipped. */
export interface SubjectAltName {
	dnsNames: string[];
	/** 4 (IPv4) or 16 (IPv6) bytes each. */
	ipAddresses: Uint8Array[];
	emails: string[];
	uris: string[];
	otherNames: OtherName[];
	/** DER of each directoryName. */
	directoryNames: Uint8Array[];
	registeredIds: string[];
}

export interface Certificate {
	/** The whole certificate. */
	der: Uint8Array;
	/** The DER of TBSCertificate: exactly the bytes the signature covers. */
	tbs: Uint8Array;
	/** 1, 2 or 3. */
	version: number;
	/** The serialNumber INTEGER's contents as encoded (two's complement, no leading zero stripped). */
	serialNumber: Uint8Array;
	/** Signature algorithm OID (the TBSCertificate's and the outer one, which must be equal). */
	signatureAlgorithm: string;
	issuer: Name;
	subject: Name;
	/** Validity, milliseconds since the epoch. */
	notBefore: number;
	notAfter: number;
	publicKey: PublicKeyInfo;
	/** Every extension, in order. */
	extensions: Extension[];
	basicConstraints: BasicConstraints | undefined;
	/** Mask of KeyUsage bits; undefined without the extension (then every use is allowed). */
	keyUsage: number | undefined;
	extendedKeyUsage: string[] | undefined;
	subjectAltName: SubjectAltName | undefined;
	subjectKeyIdentifier: Uint8Array | undefined;
	/** keyIdentifier of authorityKeyIdentifier. */
	authorityKeyIdentifier: Uint8Array | undefined;
	/** The MASA URI of a pledge IDevID (RFC 8995 §2.3.2). */
	masaUrl: string | undefined;
	/** The signatureValue bits: for ECDSA the DER Ecdsa-Sig-Value (RFC 5480 §2.2). */
	signature: Uint8Array;
}

/** P-256 uncompressed point: 04 || X || Y (SEC 1 §2.3.3), what ecdsaVerify takes. */
const P256_POINT_BYTES = 65;

/** An id-ecPublicKey on secp256r1 as an uncompressed point: the only key this profile verifies with. */
export function isP256Key(key: PublicKeyInfo): boolean {
	return key.algorithm === Oid.EC_PUBLIC_KEY && key.curve === Oid.P256 && key.bytes.length === P256_POINT_BYTES && key.bytes[0] === 0x04;
}

/** Parses one DER certificate (nothing may follow it). Throws CertificateError. */
export function parseCertificate(der: Uint8Array): Certificate {
	try {
		return parse(der);
	} catch (e) {
		if (e instanceof DerError) throw new CertificateError(`malformed certificate: ${e.message}`, { cause: e });
		throw e;
	}
}

/** The first value of an attribute (by OID or short name), e.g. nameValue(cert.subject, "serialNumber"). */
export function nameValue(name: Name, type: string): string | undefined {
	for (const a of name.attributes) if (a.type === type || a.shortName === type) return a.value;
	return undefined;
}

/** For messages and logs: "CN=x, O=y" in encoding order (not an RFC 4514 string: no escaping). */
export function nameToString(name: Name): string {
	return name.attributes.map((a) => `${a.shortName ?? a.type}=${a.value}`).join(", ");
}

function parse(der: Uint8Array): Certificate {
	const top = new DerReader(der);
	const cert = top.sequence();
	top.finish("certificate");

	const tbsTlv = cert.expect(TagClass.UNIVERSAL, Tag.SEQUENCE, true, "TBSCertificate");
	const outerAlgorithm = cert.expect(TagClass.UNIVERSAL, Tag.SEQUENCE, true, "signatureAlgorithm");
	const signatureBits = cert.bitString();
	cert.finish("certificate");
	if (signatureBits.unusedBits !== 0) throw new CertificateError("signature is not a whole number of octets");

	const tbs = cert.enter(tbsTlv);
	const versionReader = tbs.optionalExplicit(0); // DEFAULT v1 (RFC 5280 §4.1.2.1)
	let version = 1;
	if (versionReader !== undefined) {
		version = versionReader.smallInteger() + 1;
		versionReader.finish("version");
		if (version < 1 || version > 3) throw new CertificateError(`unknown certificate version ${version}`);
	}
	const serialNumber = tbs.integer();
	const innerAlgorithm = tbs.expect(TagClass.UNIVERSAL, Tag.SEQUENCE, true, "signature AlgorithmIdentifier");
	if (!bytesEqual(tlvEncoding(innerAlgorithm), tlvEncoding(outerAlgorithm))) {
		throw new CertificateError("signature algorithms of TBSCertificate and Certificate differ"); // §4.1.1.2
	}
	const algorithm = tbs.enter(innerAlgorithm);
	const signatureAlgorithm = algorithm.oid();
	if (!algorithm.done) algorithm.next(); // parameters: absent for ECDSA (RFC 5758 §3.2), NULL for RSA
	algorithm.finish("AlgorithmIdentifier");

	const issuer = readName(tbs);
	const validity = tbs.sequence();
	const notBefore = validity.time();
	const notAfter = validity.time();
	validity.finish("validity");
	const subject = readName(tbs);
	const publicKey = readPublicKeyInfo(tbs);

	// Unique identifiers (v2 and v3 only): obsolete, skipped (RFC 5280 §4.1.2.8).
	for (const n of [1, 2]) {
		if (tbs.optional(TagClass.CONTEXT, n, false) !== undefined && version < 2) {
			throw new CertificateError("unique identifier in a v1 certificate");
		}
	}
	let extensions: Extension[] = [];
	const extensionsReader = tbs.optionalExplicit(3);
	if (extensionsReader !== undefined) {
		if (version !== 3) throw new CertificateError("extensions in a certificate that is not v3"); // §4.1.2.9
		extensions = readExtensions(extensionsReader);
		extensionsReader.finish("extensions");
	}
	tbs.finish("TBSCertificate");

	const c: Certificate = {
		der,
		tbs: tlvEncoding(tbsTlv),
		version,
		serialNumber,
		signatureAlgorithm,
		issuer,
		subject,
		notBefore,
		notAfter,
		publicKey,
		extensions,
		basicConstraints: undefined,
		keyUsage: undefined,
		extendedKeyUsage: undefined,
		subjectAltName: undefined,
		subjectKeyIdentifier: undefined,
		authorityKeyIdentifier: undefined,
		masaUrl: undefined,
		signature: signatureBits.bytes,
	};
	for (const x of extensions) parseKnownExtension(c, x);
	return c;
}

/**
 * Extensions ::= SEQUENCE SIZE (1..MAX) OF Extension (RFC 5280 §4.1): the next element of `r`.
 * Also the value of a PKCS#10 extensionRequest attribute (RFC 2985 §5.4.2).
 */
export function readExtensions(r: DerReader): Extension[] {
	const list = r.sequence();
	if (list.done) throw new CertificateError("empty extensions"); // SIZE (1..MAX)
	const extensions: Extension[] = [];
	while (!list.done) {
		const e = list.sequence();
		const oid = e.oid();
		const criticalTlv = e.optional(TagClass.UNIVERSAL, Tag.BOOLEAN, false);
		const critical = criticalTlv !== undefined && booleanOf(criticalTlv);
		const value = e.octetString();
		e.finish("extension");
		for (const x of extensions) if (x.oid === oid) throw new CertificateError(`duplicate extension ${oid}`); // §4.2
		extensions.push({ oid, critical, value });
	}
	return extensions;
}

function booleanOf(t: Tlv): boolean {
	const r = new DerReader(t.bytes, t.start, t.end);
	return r.boolean();
}

const HEX = "0123456789abcdef";

/** Name ::= SEQUENCE OF RelativeDistinguishedName; RDN ::= SET SIZE (1..MAX) OF AttributeTypeAndValue (also PKCS#10's subject). */
export function readName(r: DerReader): Name {
	const t = r.expect(TagClass.UNIVERSAL, Tag.SEQUENCE, true, "Name");
	const rdns = r.enter(t);
	const attributes: NameAttribute[] = [];
	while (!rdns.done) {
		const rdn = rdns.set();
		if (rdn.done) throw new CertificateError("empty RelativeDistinguishedName");
		while (!rdn.done) {
			const atv = rdn.sequence();
			const type = atv.oid();
			const v = atv.next();
			atv.finish("AttributeTypeAndValue");
			let value: string;
			if (v.tagClass === TagClass.UNIVERSAL && !v.constructed && isStringTag(v.tagNumber)) {
				value = decodeString(v.tagNumber, tlvValue(v));
			} else {
				value = "#";
				const enc = tlvEncoding(v);
				for (let i = 0; i < enc.length; i++) value += HEX[enc[i]! >> 4]! + HEX[enc[i]! & 15]!;
			}
			attributes.push({ type, shortName: ATTRIBUTE_NAMES[type], value });
		}
	}
	return { der: tlvEncoding(t), attributes };
}

function isStringTag(n: number): boolean {
	return (
		n === Tag.UTF8_STRING || n === Tag.PRINTABLE_STRING || n === Tag.IA5_STRING || n === Tag.NUMERIC_STRING ||
		n === Tag.VISIBLE_STRING || n === Tag.TELETEX_STRING || n === Tag.BMP_STRING || n === Tag.UNIVERSAL_STRING
	);
}

/** SubjectPublicKeyInfo ::= SEQUENCE { algorithm AlgorithmIdentifier, subjectPublicKey BIT STRING } (also in PKCS#10). */
export function readPublicKeyInfo(r: DerReader): PublicKeyInfo {
	const t = r.expect(TagClass.UNIVERSAL, Tag.SEQUENCE, true, "SubjectPublicKeyInfo");
	const spki = r.enter(t);
	const alg = spki.sequence();
	const algorithm = alg.oid();
	let curve: string | undefined;
	if (!alg.done) {
		const p = alg.next();
		if (p.tagClass === TagClass.UNIVERSAL && p.tagNumber === Tag.OID && !p.constructed) curve = decodeOid(tlvValue(p));
	}
	alg.finish("AlgorithmIdentifier");
	const key = spki.bitString();
	spki.finish("SubjectPublicKeyInfo");
	if (key.unusedBits !== 0) throw new CertificateError("public key is not a whole number of octets");
	if (algorithm === Oid.EC_PUBLIC_KEY && curve === undefined) throw new CertificateError("EC key without a named curve"); // RFC 5480 §2.1.1
	return { spki: tlvEncoding(t), algorithm, curve, bytes: key.bytes };
}

/** Fills the parsed form of an extension this module knows. */
function parseKnownExtension(c: Certificate, x: Extension): void {
	switch (x.oid) {
		case Oid.BASIC_CONSTRAINTS: {
			// SEQUENCE { cA BOOLEAN DEFAULT FALSE, pathLenConstraint INTEGER (0..MAX) OPTIONAL }
			const r = wrapped(x.value);
			const ca = r.optional(TagClass.UNIVERSAL, Tag.BOOLEAN, false);
			const cA = ca !== undefined && booleanOf(ca);
			let pathLen: number | undefined;
			if (!r.done) {
				pathLen = r.smallInteger();
				if (pathLen < 0) throw new CertificateError("negative pathLenConstraint");
			}
			r.finish("basicConstraints");
			c.basicConstraints = { cA, pathLen };
			return;
		}
		case Oid.KEY_USAGE: {
			const top = new DerReader(x.value);
			const bits = top.bitString();
			top.finish("keyUsage");
			let mask = 0;
			// Bit 0 is the most significant bit of the first octet (X.690 §8.6.2); 16 bits cover all 9.
			for (let i = 0; i < bits.bytes.length * 8 && i < 16; i++) {
				if (bits.bytes[i >> 3]! & (0x80 >> (i & 7))) mask |= 1 << i;
			}
			c.keyUsage = mask;
			return;
		}
		case Oid.EXTENDED_KEY_USAGE: {
			const r = wrapped(x.value);
			const oids: string[] = [];
			while (!r.done) oids.push(r.oid());
			if (oids.length === 0) throw new CertificateError("empty extendedKeyUsage");
			c.extendedKeyUsage = oids;
			return;
		}
		case Oid.SUBJECT_ALT_NAME:
			c.subjectAltName = parseGeneralNames(wrapped(x.value));
			return;
		case Oid.SUBJECT_KEY_IDENTIFIER: {
			const top = new DerReader(x.value);
			c.subjectKeyIdentifier = top.octetString();
			top.finish("subjectKeyIdentifier");
			return;
		}
		case Oid.AUTHORITY_KEY_IDENTIFIER: {
			// SEQUENCE { keyIdentifier [0] IMPLICIT OCTET STRING OPTIONAL, authorityCertIssuer [1] IMPLICIT
			// GeneralNames OPTIONAL, authorityCertSerialNumber [2] IMPLICIT INTEGER OPTIONAL }
			const r = wrapped(x.value);
			const keyId = r.optional(TagClass.CONTEXT, 0, false);
			r.optional(TagClass.CONTEXT, 1, true);
			r.optional(TagClass.CONTEXT, 2, false);
			r.finish("authorityKeyIdentifier");
			c.authorityKeyIdentifier = keyId === undefined ? undefined : tlvValue(keyId);
			return;
		}
		case Oid.MASA_URL: {
			const top = new DerReader(x.value);
			const t = top.expect(TagClass.UNIVERSAL, Tag.IA5_STRING, false, "MASA URL IA5String");
			top.finish("MASA URL");
			c.masaUrl = decodeString(Tag.IA5_STRING, tlvValue(t));
			return;
		}
	}
}

/** A reader for the contents of the SEQUENCE that `value` must consist of. */
function wrapped(value: Uint8Array): DerReader {
	const top = new DerReader(value);
	const seq = top.sequence();
	top.finish("extension value");
	return seq;
}

/** GeneralNames ::= SEQUENCE SIZE (1..MAX) OF GeneralName (RFC 5280 §4.2.1.6), all tags IMPLICIT but directoryName. */
function parseGeneralNames(r: DerReader): SubjectAltName {
	const san: SubjectAltName = { dnsNames: [], ipAddresses: [], emails: [], uris: [], otherNames: [], directoryNames: [], registeredIds: [] };
	if (r.done) throw new CertificateError("empty GeneralNames");
	while (!r.done) {
		const t = r.next();
		if (t.tagClass !== TagClass.CONTEXT) throw new CertificateError("GeneralName is not context-tagged");
		const content = tlvValue(t);
		const wantConstructed = t.tagNumber === 0 || t.tagNumber === 3 || t.tagNumber === 4 || t.tagNumber === 5;
		if (t.constructed !== wantConstructed) throw new CertificateError(`GeneralName [${t.tagNumber}] has the wrong form`);
		switch (t.tagNumber) {
			case 0: {
				// OtherName ::= SEQUENCE { type-id OBJECT IDENTIFIER, value [0] EXPLICIT ANY }
				const o = r.enter(t);
				const typeId = o.oid();
				const v = o.explicit(0);
				const inner = v.next();
				v.finish("otherName value");
				o.finish("otherName");
				san.otherNames.push({ typeId, value: tlvEncoding(inner) });
				break;
			}
			case 1:
				san.emails.push(decodeString(Tag.IA5_STRING, content));
				break;
			case 2:
				san.dnsNames.push(decodeString(Tag.IA5_STRING, content));
				break;
			case 4: {
				const d = r.enter(t);
				const name = readName(d);
				d.finish("directoryName");
				san.directoryNames.push(name.der);
				break;
			}
			case 6:
				san.uris.push(decodeString(Tag.IA5_STRING, content));
				break;
			case 7:
				if (content.length !== 4 && content.length !== 16) throw new CertificateError("iPAddress is neither 4 nor 16 bytes");
				san.ipAddresses.push(content);
				break;
			case 8:
				san.registeredIds.push(decodeOid(content));
				break;
			case 3:
			case 5:
				break; // x400Address, ediPartyName: unused in this profile
			default:
				throw new CertificateError(`unknown GeneralName [${t.tagNumber}]`);
		}
	}
	return san;
}
