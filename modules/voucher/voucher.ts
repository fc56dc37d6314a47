/*
 * Vouchers and voucher requests (draft-ietf-anima-rfc8366bis, YANG revision 2025-12-18) as the
 * SID-keyed CBOR cBRSKI signs: the voucher (ietf-voucher, SID 2451) and the voucher request
 * (ietf-voucher-request, SID 2501) that both the pledge (PVR) and the Registrar (RVR) send.
 * The SIDs are the draft's normative tables; note 2512 = proximity-registrar-pubk-sha256 and
 * 2513 = proximity-registrar-pubk (not alphabetical).
 */

import { VoucherError, decodeContainer, encodeContainer, type Container, type Leaf } from "./yang-cbor.js";

export { VoucherError };

/** 8366bis: the assertion enumeration. */
export const Assertion = Object.freeze({ verified: 0, logged: 1, proximity: 2, agentProximity: 3 });

export const VOUCHER_SID = 2451;
export const VOUCHER_REQUEST_SID = 2501;

/** 8366bis: a nonce is 8..32 bytes. */
const NONCE = { minBytes: 8, maxBytes: 32 } as const;
const SHA256 = { minBytes: 32, maxBytes: 32 } as const;

const leaf = (property: string, name: string, sid: number, type: Leaf["type"], bounds: Partial<Pick<Leaf, "minBytes" | "maxBytes">> = {}): Leaf =>
	Object.freeze({ property, name, sid, type, ...bounds });

/** ietf-voucher (module 2450). */
const VOUCHER: Container = Object.freeze({
	sid: VOUCHER_SID,
	name: "ietf-voucher:voucher",
	leaves: Object.freeze([
		leaf("assertion", "assertion", 2452, "enum"),
		leaf("createdOn", "created-on", 2453, "date-and-time"),
		leaf("domainCertRevocationChecks", "domain-cert-revocation-checks", 2454, "boolean"),
		leaf("expiresOn", "expires-on", 2455, "date-and-time"),
		leaf("idevidIssuer", "idevid-issuer", 2456, "binary"),
		leaf("lastRenewalDate", "last-renewal-date", 2457, "date-and-time"),
		leaf("nonce", "nonce", 2458, "binary", NONCE),
		leaf("pinnedDomainCert", "pinned-domain-cert", 2459, "binary"),
		leaf("pinnedDomainPubk", "pinned-domain-pubk", 2460, "binary"),
		leaf("pinnedDomainPubkSha256", "pinned-domain-pubk-sha256", 2461, "binary", SHA256),
		leaf("serialNumber", "serial-number", 2462, "string"),
		leaf("additionalConfigurationUrl", "additional-configuration-url", 2463, "string"),
		leaf("estDomain", "est-domain", 2464, "string"),
		leaf("manufacturerProprietary", "manufacturer-proprietary", 2465, "binary"),
		leaf("extensions", "extensions", 2466, "extensions"),
	]),
});

/** ietf-voucher-request (module 2500). */
const VOUCHER_REQUEST: Container = Object.freeze({
	sid: VOUCHER_REQUEST_SID,
	name: "ietf-voucher-request:voucher",
	leaves: Object.freeze([
		leaf("assertion", "assertion", 2502, "enum"),
		leaf("createdOn", "created-on", 2503, "date-and-time"),
		leaf("domainCertRevocationChecks", "domain-cert-revocation-checks", 2504, "boolean"),
		leaf("expiresOn", "expires-on", 2505, "date-and-time"),
		leaf("idevidIssuer", "idevid-issuer", 2506, "binary"),
		leaf("lastRenewalDate", "last-renewal-date", 2507, "date-and-time"),
		leaf("nonce", "nonce", 2508, "binary", NONCE),
		leaf("pinnedDomainCert", "pinned-domain-cert", 2509, "binary"),
		leaf("priorSignedVoucherRequest", "prior-signed-voucher-request", 2510, "binary"),
		leaf("proximityRegistrarCert", "proximity-registrar-cert", 2511, "binary"),
		leaf("proximityRegistrarPubkSha256", "proximity-registrar-pubk-sha256", 2512, "binary", SHA256),
		leaf("proximityRegistrarPubk", "proximity-registrar-pubk", 2513, "binary"),
		leaf("serialNumber", "serial-number", 2514, "string"),
		leaf("agentProvidedProximityRegistrarCert", "agent-provided-proximity-registrar-cert", 2515, "binary"),
		leaf("agentSignCert", "agent-sign-cert", 2516, "binary"),
		leaf("agentSignedData", "agent-signed-data", 2517, "binary"),
		leaf("pinnedDomainPubk", "pinned-domain-pubk", 2518, "binary"),
		leaf("pinnedDomainPubkSha256", "pinned-domain-pubk-sha256", 2519, "binary", SHA256),
		leaf("additionalConfigurationUrl", "additional-configuration-url", 2520, "string"),
		leaf("estDomain", "est-domain", 2521, "string"),
		leaf("extensions", "extensions", 2522, "extensions"),
		leaf("manufacturerProprietary", "manufacturer-proprietary", 2523, "binary"),
	]),
});

/** The leaves both modules share. Dates are RFC 3339 text; binaries are DER where they hold keys or certificates. */
interface CommonLeaves {
	createdOn?: string;
	domainCertRevocationChecks?: boolean;
	expiresOn?: string;
	/** The IDevID's whole AKI extnValue OCTET STRING, `04 len` included (8366bis §5.3). */
	idevidIssuer?: Uint8Array;
	lastRenewalDate?: string;
	nonce?: Uint8Array;
	pinnedDomainCert?: Uint8Array;
	/** DER SubjectPublicKeyInfo. */
	pinnedDomainPubk?: Uint8Array;
	pinnedDomainPubkSha256?: Uint8Array;
	additionalConfigurationUrl?: string;
	estDomain?: string;
	/** Any CBOR, wrapped. */
	manufacturerProprietary?: Uint8Array;
	/** SIDs (uint) or names of extension modules. */
	extensions?: (number | string)[];
}

export interface Voucher extends CommonLeaves {
	assertion: number;
	serialNumber: string;
}

export interface VoucherRequest extends CommonLeaves {
	assertion?: number;
	serialNumber?: string;
	/** The complete signed PVR (COSE_Sign1 bytes), in an RVR. */
	priorSignedVoucherRequest?: Uint8Array;
	proximityRegistrarCert?: Uint8Array;
	proximityRegistrarPubkSha256?: Uint8Array;
	/** DER SubjectPublicKeyInfo of the Registrar's DTLS certificate. */
	proximityRegistrarPubk?: Uint8Array;
	agentProvidedProximityRegistrarCert?: Uint8Array;
	agentSignCert?: Uint8Array;
	agentSignedData?: Uint8Array;
}

function fail(message: string): never {
	throw new VoucherError(message);
}

/** Voucher payload (SID-keyed CBOR) -> Voucher; assertion and serial-number are mandatory. Throws VoucherError. */
export function decodeVoucher(bytes: Uint8Array): Voucher {
	const v = decodeContainer(VOUCHER, bytes) as Partial<Voucher>;
	if (v.assertion === undefined) fail("voucher has no assertion");
	if (v.serialNumber === undefined) fail("voucher has no serial-number");
	return v as Voucher;
}

export function encodeVoucher(voucher: Voucher): Uint8Array {
	return encodeContainer(VOUCHER, voucher as unknown as Record<string, unknown>);
}

/** Voucher-request payload -> VoucherRequest, types checked; see checkPledgeVoucherRequest / checkRegistrarVoucherRequest for the role rules. */
export function decodeVoucherRequest(bytes: Uint8Array): VoucherRequest {
	return decodeContainer(VOUCHER_REQUEST, bytes) as VoucherRequest;
}

export function encodeVoucherRequest(request: VoucherRequest): Uint8Array {
	return encodeContainer(VOUCHER_REQUEST, request as unknown as Record<string, unknown>);
}

function proximityFields(r: VoucherRequest): number {
	return [r.proximityRegistrarCert, r.proximityRegistrarPubk, r.proximityRegistrarPubkSha256].filter((x) => x !== undefined).length;
}

/**
 * cBRSKI §4.1/§9.1 (digest §4.1, §4.2): a PVR has a nonce, a serial-number, assertion proximity and
 * exactly one proximity-registrar-cert/-pubk/-pubk-sha256. Throws VoucherError naming the rule.
 */
export function checkPledgeVoucherRequest(r: VoucherRequest): void {
	if (r.nonce === undefined) fail("pledge voucher request has no nonce");
	if (r.serialNumber === undefined) fail("pledge voucher request has no serial-number");
	if (r.assertion !== Assertion.proximity) fail("pledge voucher request must assert proximity (2)");
	if (proximityFields(r) !== 1) fail("pledge voucher request needs exactly one proximity-registrar-cert/-pubk/-pubk-sha256");
}

/**
 * RFC 8995 §5.5 / cBRSKI (digest §4.1, §4.2): an RVR has a serial-number, idevid-issuer and the
 * prior-signed-voucher-request, and no proximity-registrar-* leaf. Throws VoucherError.
 */
export function checkRegistrarVoucherRequest(r: VoucherRequest): void {
	if (r.serialNumber === undefined) fail("registrar voucher request has no serial-number");
	if (r.idevidIssuer === undefined) fail("registrar voucher request has no idevid-issuer");
	if (r.priorSignedVoucherRequest === undefined) fail("registrar voucher request has no prior-signed-voucher-request");
	if (proximityFields(r) !== 0) fail("registrar voucher request must not carry proximity-registrar-*");
}

/** RFC 8995 §5.6.1 / 8366bis: a voucher that pins nothing is no use (digest §6 step 5). */
export function hasPinnedDomain(v: Voucher): boolean {
	return v.pinnedDomainCert !== undefined || v.pinnedDomainPubk !== undefined || v.pinnedDomainPubkSha256 !== undefined;
}
