/*
 * COSE_Sign1 (RFC 9052 §4.2, §4.4) with ES256, as cBRSKI signs voucher requests and vouchers
 * (draft-ietf-anima-constrained-voucher §9.2). Signatures are checked over the protected bytes and
 * payload exactly as received, never over a re-encoding; `encodeCoseSign1` of a decoded message
 * gives back its bytes (the Registrar strips unprotected certificates and re-encodes).
 */

import { CborError, Tag, decodeCbor, encodeCbor } from "../cbor/cbor.js";
import { P256_SCALAR_BYTES, DerError, ecdsaDerToRaw, ecdsaRawToDer } from "../asn1/der.js";
import type { CryptoProvider } from "../crypto/provider.js";

export class CoseError extends Error {
	override name = "CoseError";
}

/** RFC 9052 §4.2: CBOR tag of COSE_Sign1. */
export const COSE_SIGN1_TAG = 18;

/** Header parameter labels: RFC 9052 §3.1, RFC 9360 §2 (x5bag, x5chain). */
export const CoseHeader = Object.freeze({
	alg: 1,
	crit: 2,
	contentType: 3,
	kid: 4,
	x5bag: 32,
	x5chain: 33,
});

/** RFC 9053 §2.1: ECDSA w/ SHA-256 on P-256. */
export const COSE_ALG_ES256 = -7;

/** RFC 9052 §4.4: context string of a COSE_Sign1 Sig_structure. */
const SIGNATURE1_CONTEXT = "Signature1";

/** ES256 signatures are r || s, 32 octets each (RFC 9053 §2.1), not DER. */
const ES256_SIGNATURE_BYTES = 2 * P256_SCALAR_BYTES;

/** Header labels are integers or text (RFC 9052 §3); values are whatever CBOR carries. */
export type HeaderMap = Map<number | string, unknown>;

export interface CoseSign1 {
	/** The protected header's serialized bytes (the bstr's contents), as received or as signed. */
	protectedBytes: Uint8Array;
	/** `protectedBytes` decoded (empty Map for an empty bstr). */
	protectedHeader: HeaderMap;
	unprotected: HeaderMap;
	payload: Uint8Array;
	/** As carried: for ES256 the raw r || s. */
	signature: Uint8Array;
	/** Whether the message carried tag 18 (it is optional where the context is known, RFC 9052 §2). */
	tagged: boolean;
}

function fail(message: string): never {
	throw new CoseError(message);
}

function headerMap(value: unknown, what: string): HeaderMap {
	if (!(value instanceof Map)) fail(`${what} is not a map`);
	for (const key of value.keys()) {
		if (typeof key !== "string" && !(typeof key === "number" && Number.isInteger(key))) fail(`${what} has a label that is neither an integer nor text`);
	}
	return value as HeaderMap;
}

/** Strict decode of a (tagged or untagged) COSE_Sign1 with an embedded payload. Throws CoseError. */
export function decodeCoseSign1(bytes: Uint8Array): CoseSign1 {
	let value: unknown;
	try {
		value = decodeCbor(bytes, { tags: [COSE_SIGN1_TAG] });
	} catch (e) {
		if (e instanceof CborError) fail(`COSE_Sign1: ${e.message}`);
		throw e;
	}
	let tagged = false;
	if (value instanceof Tag) {
		if (value.tag !== COSE_SIGN1_TAG) fail(`COSE_Sign1: unexpected tag ${value.tag}`);
		tagged = true;
		value = value.value;
	}
	if (!Array.isArray(value) || value.length !== 4) fail("COSE_Sign1 must be an array of four elements");
	const [protectedBytes, unprotectedValue, payload, signature] = value as unknown[];
	if (!(protectedBytes instanceof Uint8Array)) fail("COSE_Sign1 protected header is not a byte string");
	if (payload === null) fail("COSE_Sign1 with a detached payload is not supported");
	if (!(payload instanceof Uint8Array)) fail("COSE_Sign1 payload is not a byte string");
	if (!(signature instanceof Uint8Array)) fail("COSE_Sign1 signature is not a byte string");
	const unprotected = headerMap(unprotectedValue, "COSE_Sign1 unprotected header");

	let protectedHeader: HeaderMap = new Map();
	if (protectedBytes.length > 0) {
		// No tags inside a header: they would only be cbor-x objects nobody here reads.
		try {
			protectedHeader = headerMap(decodeCbor(protectedBytes), "COSE_Sign1 protected header");
		} catch (e) {
			if (e instanceof CborError) fail(`COSE_Sign1 protected header: ${e.message}`);
			throw e;
		}
	}
	for (const label of protectedHeader.keys()) {
		if (unprotected.has(label)) fail(`COSE_Sign1 header label ${String(label)} is both protected and unprotected`);
	}
	const alg = protectedHeader.get(CoseHeader.alg);
	if (alg === undefined) fail("COSE_Sign1 has no protected alg");
	if (typeof alg !== "number" && typeof alg !== "string") fail("COSE_Sign1 alg is neither an integer nor text");
	if (unprotected.has(CoseHeader.alg)) fail("COSE_Sign1 alg must be protected");
	// RFC 9052 §3.1: every label listed in crit must be understood; we act on none beyond alg.
	if (protectedHeader.has(CoseHeader.crit)) fail("COSE_Sign1 critical header parameters are not supported");
	return { protectedBytes, protectedHeader, unprotected, payload, signature, tagged };
}

/** The message's CBOR: byte for byte what it was decoded from, for a decoded message. */
export function encodeCoseSign1(message: CoseSign1): Uint8Array {
	const body = [message.protectedBytes, message.unprotected, message.payload, message.signature];
	return encodeCbor(message.tagged ? new Tag(body, COSE_SIGN1_TAG) : body);
}

/** RFC 9052 §4.4: the bytes ES256 signs, Sig_structure = ["Signature1", protected, external_aad, payload]. */
export function sigStructure(protectedBytes: Uint8Array, payload: Uint8Array, externalAad: Uint8Array = new Uint8Array(0)): Uint8Array {
	return encodeCbor([SIGNATURE1_CONTEXT, protectedBytes, externalAad, payload]);
}

/** The message's alg, as an integer (decode guarantees it is present). */
export function coseAlgorithm(message: CoseSign1): number | string {
	return message.protectedHeader.get(CoseHeader.alg) as number | string;
}

/**
 * RFC 9360 §2: x5bag/x5chain is one certificate as a byte string, or an array of them. Returns the
 * DER certificates under `label` in either header (an empty list when absent); throws CoseError
 * when the value has neither form.
 */
export function coseCertificates(message: CoseSign1, label: number = CoseHeader.x5bag): Uint8Array[] {
	const value = message.protectedHeader.has(label) ? message.protectedHeader.get(label) : message.unprotected.get(label);
	if (value === undefined) return [];
	if (value instanceof Uint8Array) return [value];
	if (Array.isArray(value) && value.length > 0 && value.every((c) => c instanceof Uint8Array)) return value as Uint8Array[];
	return fail(`COSE header ${label} is neither a certificate nor an array of certificates`);
}

export interface SignOptions {
	/** Unprotected header parameters (e.g. kid); x5bag/x5chain below are added to it. */
	unprotected?: HeaderMap;
	/** DER certificates for the unprotected x5bag (RFC 9360: one is a byte string, more an array). */
	x5bag?: readonly Uint8Array[];
	x5chain?: readonly Uint8Array[];
	/** Leave out tag 18 (default: tagged, as every cBRSKI example is). */
	untagged?: boolean;
}

function certificatesValue(certs: readonly Uint8Array[]): Uint8Array | Uint8Array[] {
	if (certs.length === 0) fail("an x5bag/x5chain needs at least one certificate");
	return certs.length === 1 ? certs[0]! : [...certs];
}

/** Signs `payload` with ES256 under the protected header {1: -7}. `privateKey`: the 32-byte P-256 scalar. */
export function signCoseSign1(crypto: CryptoProvider, privateKey: Uint8Array, payload: Uint8Array, options: SignOptions = {}): CoseSign1 {
	const protectedHeader: HeaderMap = new Map([[CoseHeader.alg, COSE_ALG_ES256]]);
	const protectedBytes = encodeCbor(protectedHeader);
	const unprotected: HeaderMap = new Map(options.unprotected ?? []);
	if (options.x5bag !== undefined) unprotected.set(CoseHeader.x5bag, certificatesValue(options.x5bag));
	if (options.x5chain !== undefined) unprotected.set(CoseHeader.x5chain, certificatesValue(options.x5chain));
	if (unprotected.has(CoseHeader.alg)) fail("alg belongs in the protected header");
	const der = crypto.ecdsaSign(privateKey, sigStructure(protectedBytes, payload));
	const signature = ecdsaDerToRaw(der);
	return { protectedBytes, protectedHeader, unprotected, payload: payload.slice(), signature, tagged: options.untagged !== true };
}

/**
 * Verifies an ES256 COSE_Sign1 with a P-256 public key (65-byte uncompressed point, e.g.
 * `parseCertificate(der).publicKey.bytes`). False for a wrong signature or key; throws CoseError for
 * an algorithm other than ES256.
 */
export function verifyCoseSign1(crypto: CryptoProvider, publicKey: Uint8Array, message: CoseSign1, externalAad?: Uint8Array): boolean {
	const alg = coseAlgorithm(message);
	if (alg !== COSE_ALG_ES256) fail(`COSE algorithm ${String(alg)} is not supported (only ES256, -7)`);
	if (message.signature.length !== ES256_SIGNATURE_BYTES) return false;
	let der: Uint8Array;
	try {
		der = ecdsaRawToDer(message.signature);
	} catch (e) {
		if (e instanceof DerError) return false;
		throw e;
	}
	return crypto.ecdsaVerify(publicKey, sigStructure(message.protectedBytes, message.payload, externalAad), der);
}

/**
 * The message without the given unprotected header parameters (default x5bag and x5chain, which
 * the Registrar removes before passing a voucher on, cBRSKI §6.5). The signature stays valid:
 * unprotected parameters are not signed.
 */
export function stripUnprotected(message: CoseSign1, labels: readonly (number | string)[] = [CoseHeader.x5bag, CoseHeader.x5chain]): CoseSign1 {
	const unprotected: HeaderMap = new Map();
	for (const [k, v] of message.unprotected) if (!labels.includes(k)) unprotected.set(k, v);
	return { ...message, unprotected };
}
