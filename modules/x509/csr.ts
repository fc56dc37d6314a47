/*
 * PKCS#10 certification requests (RFC 2986), the body of EST-coaps /sen and /sren (RFC 9148 §4.2,
 * Content-Format 286): the pledge makes one for its new P-256 key (cBRSKI §6.7: subject = the IDevID
 * subject, signed with the new key as proof of possession), and the Registrar parses and verifies it
 * before issuing an LDevID.
 *
 * Parsing takes untrusted bytes: strict DER (modules/asn1/der.ts), and every failure is a CsrError.
 * Byte fields are views of the input, which must not change afterwards.
 */

import {
	DerError,
	DerReader,
	Tag,
	TagClass,
	derBitString,
	derOid,
	derPrintableString,
	derSequence,
	derSet,
	derSmallInteger,
	derUtf8String,
	derImplicitSet,
	tlvEncoding,
} from "../asn1/der.js";
import type { CryptoProvider } from "../crypto/provider.js";
import { CertificateError, Oid, isP256Key, readExtensions, readName, readPublicKeyInfo, type Extension, type Name, type PublicKeyInfo } from "./certificate.js";
import { bytesEqual } from "../util/hex.js";

/** Not a well-formed PKCS#10 request, or one whose signature does not verify. */
export class CsrError extends Error {
	override readonly name = "CsrError";
}

/** PKCS#9 attribute types a CSR carries (RFC 2985 §5.4.1, §5.4.2). */
export const CsrOid = Object.freeze({
	CHALLENGE_PASSWORD: "1.2.840.113549.1.9.7",
	EXTENSION_REQUEST: "1.2.840.113549.1.9.14",
});

/** CertificationRequestInfo version (RFC 2986 §4.1): v1(0) is the only one. */
const CSR_VERSION = 0;

/** Attribute ::= SEQUENCE { type OBJECT IDENTIFIER, values SET SIZE(1..MAX) OF ANY } (RFC 2986 §4.1). */
export interface CsrAttribute {
	type: string;
	/** The DER of each value. */
	values: Uint8Array[];
}

export interface NameEntry {
	/** Attribute type OID, e.g. Oid.SERIAL_NUMBER. */
	type: string;
	value: string;
}

/**
 * A Name with one RDN per entry, in order. X520SerialNumber and countryName are PrintableString
 * (RFC 5280 Appendix A.1), every other type UTF8String (RFC 5280 §4.1.2.6).
 */
export function encodeName(entries: readonly NameEntry[]): Uint8Array {
	const rdns: Uint8Array[] = [];
	for (const e of entries) {
		const printable = e.type === Oid.SERIAL_NUMBER || e.type === Oid.COUNTRY;
		rdns.push(derSet(derSequence(derOid(e.type), printable ? derPrintableString(e.value) : derUtf8String(e.value))));
	}
	return derSequence(...rdns);
}

export interface CreateCsrOptions {
	/** Signs with the new key: ecdsaSign returns a DER Ecdsa-Sig-Value over SHA-256. */
	crypto: Pick<CryptoProvider, "ecdsaSign">;
	/** The new key pair: 32-byte scalar and 65-byte uncompressed point. */
	privateKey: Uint8Array;
	publicKey: Uint8Array;
	/** DER Name: an IDevID's `subject.der` unchanged (cBRSKI §6.7), or encodeName(...). */
	subject: Uint8Array;
	/** Extra attributes (challengePassword, extensionRequest...); none by default. */
	attributes?: readonly CsrAttribute[];
}

/** id-ecPublicKey with the secp256r1 namedCurve parameter (RFC 5480 §2.1.1). */
function p256Spki(point: Uint8Array): Uint8Array {
	return derSequence(derSequence(derOid(Oid.EC_PUBLIC_KEY), derOid(Oid.P256)), derBitString(point));
}

/** A DER CertificationRequest signed with ecdsa-with-SHA256 (RFC 5758 §3.2: parameters absent). */
export function createCsr(options: CreateCsrOptions): Uint8Array {
	const { publicKey } = options;
	if (publicKey.length !== 65 || publicKey[0] !== 0x04) throw new CsrError("public key is not an uncompressed P-256 point");
	const attributes: Uint8Array[] = [];
	for (const a of options.attributes ?? []) attributes.push(derSequence(derOid(a.type), derSet(...a.values)));
	const info = derSequence(derSmallInteger(CSR_VERSION), options.subject, p256Spki(publicKey), derImplicitSet(0, ...attributes));
	const signature = options.crypto.ecdsaSign(options.privateKey, info);
	return derSequence(info, derSequence(derOid(Oid.ECDSA_WITH_SHA256)), derBitString(signature));
}

export interface CertificationRequest {
	/** The whole request. */
	der: Uint8Array;
	/** The DER of CertificationRequestInfo: the bytes the signature covers. */
	info: Uint8Array;
	subject: Name;
	publicKey: PublicKeyInfo;
	/** Every attribute, in order. */
	attributes: CsrAttribute[];
	/** The extensionRequest attribute's extensions, if any. */
	extensions: Extension[] | undefined;
	/** The challengePassword attribute (RFC 9148 §3: optional tls-unique binding), if any. */
	challengePassword: string | undefined;
	signatureAlgorithm: string;
	/** The signature bits: for ECDSA a DER Ecdsa-Sig-Value. */
	signature: Uint8Array;
}

/** Parses one DER CertificationRequest (nothing may follow it); does not check the signature. */
export function parseCsr(der: Uint8Array): CertificationRequest {
	try {
		return parse(der);
	} catch (e) {
		if (e instanceof DerError || e instanceof CertificateError) throw new CsrError(`malformed certification request: ${e.message}`, { cause: e });
		throw e;
	}
}

/**
 * True when the request is signed with ecdsa-with-SHA256 by the P-256 key it carries (proof of
 * possession, RFC 2986 §3); false for any other algorithm or key.
 */
export function verifyCsr(csr: CertificationRequest, crypto: Pick<CryptoProvider, "ecdsaVerify">): boolean {
	if (csr.signatureAlgorithm !== Oid.ECDSA_WITH_SHA256 || !isP256Key(csr.publicKey)) return false;
	return crypto.ecdsaVerify(csr.publicKey.bytes, csr.info, csr.signature);
}

/** parseCsr then verifyCsr: what the Registrar's /sen does before issuing. Throws CsrError. */
export function parseVerifiedCsr(der: Uint8Array, crypto: Pick<CryptoProvider, "ecdsaVerify">): CertificationRequest {
	const csr = parseCsr(der);
	if (csr.signatureAlgorithm !== Oid.ECDSA_WITH_SHA256) throw new CsrError(`unsupported CSR signature algorithm ${csr.signatureAlgorithm}`);
	if (!isP256Key(csr.publicKey)) throw new CsrError("CSR key is not an uncompressed P-256 key");
	if (!verifyCsr(csr, crypto)) throw new CsrError("CSR signature does not verify");
	return csr;
}

/**
 * A verified CSR for an LDevID of an authenticated device: a non-empty subject (cBRSKI §6.7) equal,
 * byte for byte, to `expectedSubject` (the IDevID's or current LDevID's subject, so a device cannot
 * ask for another's name). Both LDevID issuers (Registrar on Node, simulator) go through here.
 */
export function parseLdevidCsr(der: Uint8Array, crypto: Pick<CryptoProvider, "ecdsaVerify">, expectedSubject?: Uint8Array): CertificationRequest {
	const csr = parseVerifiedCsr(der, crypto);
	if (csr.subject.attributes.length === 0) throw new CsrError("CSR subject is empty");
	if (expectedSubject !== undefined && !bytesEqual(csr.subject.der, expectedSubject)) throw new CsrError("CSR subject is not the device's certificate subject");
	return csr;
}

function parse(der: Uint8Array): CertificationRequest {
	const top = new DerReader(der);
	const request = top.sequence();
	top.finish("certification request");
	const infoTlv = request.expect(TagClass.UNIVERSAL, Tag.SEQUENCE, true, "CertificationRequestInfo");
	const algorithm = request.sequence();
	const signatureAlgorithm = algorithm.oid();
	if (!algorithm.done) algorithm.next(); // parameters: absent for ECDSA, NULL for RSA
	algorithm.finish("AlgorithmIdentifier");
	const signatureBits = request.bitString();
	request.finish("certification request");
	if (signatureBits.unusedBits !== 0) throw new CsrError("signature is not a whole number of octets");

	const info = request.enter(infoTlv);
	const version = info.smallInteger();
	if (version !== CSR_VERSION) throw new CsrError(`unknown certification request version ${version}`);
	const subject = readName(info);
	const publicKey = readPublicKeyInfo(info);
	const attributes: CsrAttribute[] = [];
	let extensions: Extension[] | undefined;
	let challengePassword: string | undefined;
	// RFC 2986 makes [0] mandatory; some encoders leave an empty one out, which costs nothing to accept.
	const attributeReader = info.optionalExplicit(0);
	info.finish("CertificationRequestInfo");
	while (attributeReader !== undefined && !attributeReader.done) {
		const a = attributeReader.sequence();
		const type = a.oid();
		const set = a.set();
		a.finish("Attribute");
		const values: Uint8Array[] = [];
		while (!set.done) values.push(tlvEncoding(set.next()));
		if (values.length === 0) throw new CsrError(`attribute ${type} has no value`); // SIZE(1..MAX)
		for (const x of attributes) if (x.type === type) throw new CsrError(`duplicate attribute ${type}`);
		attributes.push({ type, values });
		if (type === CsrOid.EXTENSION_REQUEST || type === CsrOid.CHALLENGE_PASSWORD) {
			if (values.length !== 1) throw new CsrError(`attribute ${type} must have one value`); // RFC 2985 SINGLE VALUE
			const r = new DerReader(values[0]!);
			if (type === CsrOid.EXTENSION_REQUEST) extensions = readExtensions(r);
			else challengePassword = r.string();
			r.finish("attribute value");
		}
	}
	return {
		der,
		info: tlvEncoding(infoTlv),
		subject,
		publicKey,
		attributes,
		extensions,
		challengePassword,
		signatureAlgorithm,
		signature: signatureBits.bytes,
	};
}
