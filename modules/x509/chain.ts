/*
 * Certification path validation, the part of RFC 5280 §6.1 that the DTLS peers (RFC 7925 §4.4.2)
 * and the cBRSKI pledge need: names chain by binary comparison of the DER Names (the profile's
 * CAs encode them identically; RFC 5280 §7.1 permits binary matching), every signature is
 * ecdsa-with-SHA256 over P-256, issuers are CAs (basicConstraints cA, keyCertSign when keyUsage is
 * present, pathLenConstraint), and validity periods are checked only when the caller has a clock:
 * a pledge has none before enrollment (RFC 8995 §2.6.1), so it omits `now`.
 *
 * A trust anchor is trusted for its name and key (RFC 5280 §6.1.1 d), not for its self-signature,
 * which is not checked. It may be the last certificate of the chain (same subject and key as an
 * anchor; an end-entity certificate pinned as an anchor is then accepted as the whole chain) or the
 * issuer of the last certificate. Not covered: policies, name constraints, CRLs/OCSP
 * (the profile has none), and extended key usage, which the caller checks for its role.
 */

import type { CryptoProvider } from "../crypto/provider.js";
import { KeyUsage, Oid, isP256Key, type Certificate } from "./certificate.js";
import { bytesEqual } from "../util/hex.js";

export interface ChainOptions {
	/** Only ecdsaVerify is used. */
	crypto: Pick<CryptoProvider, "ecdsaVerify">;
	/** Current time in ms since the epoch; omit to skip validity checks (of chain and anchor). */
	now?: number;
	/** Most certificates in `chain` (leaf included); default MAX_CHAIN_LENGTH. */
	maxLength?: number;
}

export type ChainResult = { ok: true; anchor: Certificate } | { ok: false; reason: string };

/** Default limit on the chain length: BRSKI chains are 1-3 certificates; a bound stops loops and floods. */
export const MAX_CHAIN_LENGTH = 8;

/* Critical extensions this check processes or the caller is expected to (RFC 5280 §4.2: a
 * certificate with any other critical extension must be rejected). */
const UNDERSTOOD_EXTENSIONS: ReadonlySet<string> = new Set([
	Oid.BASIC_CONSTRAINTS,
	Oid.KEY_USAGE,
	Oid.EXTENDED_KEY_USAGE,
	Oid.SUBJECT_ALT_NAME,
	Oid.SUBJECT_KEY_IDENTIFIER,
	Oid.AUTHORITY_KEY_IDENTIFIER,
	Oid.MASA_URL,
]);

/** Verifies `chain` (leaf first, each certificate issued by the next) up to one of `trustAnchors`. */
export function verifyChain(chain: readonly Certificate[], trustAnchors: readonly Certificate[], options: ChainOptions): ChainResult {
	const maxLength = options.maxLength ?? MAX_CHAIN_LENGTH;
	if (chain.length === 0) return fail("empty certificate chain");
	if (chain.length > maxLength) return fail(`certificate chain longer than ${maxLength}`);
	for (let i = 1; i < chain.length; i++) {
		for (let j = 0; j < i; j++) if (bytesEqual(chain[i]!.der, chain[j]!.der)) return fail(`certificate ${i} repeats certificate ${j}`);
	}

	for (let i = 0; i < chain.length; i++) {
		const problem = checkOwn(chain[i]!, `certificate ${i}`, options.now);
		if (problem !== undefined) return fail(problem);
	}

	// The last certificate may be an anchor itself: then it is trusted as is.
	const last = chain.length - 1;
	const lastAnchor = trustAnchors.find((a) => isSameAnchor(a, chain[last]!));

	for (let i = 0; i < last; i++) {
		const problem = checkIssued(chain, i, chain[i + 1]!, `certificate ${i + 1}`, options);
		if (problem !== undefined) return fail(problem);
	}
	if (lastAnchor !== undefined) return { ok: true, anchor: lastAnchor };

	// Otherwise an anchor must have issued the last certificate; several may share its issuer's name
	// (a regenerated CA, as in the cBRSKI examples), so each is tried.
	let reason = `no trust anchor issued certificate ${last}`;
	for (const anchor of trustAnchors) {
		if (!bytesEqual(anchor.subject.der, chain[last]!.issuer.der)) continue;
		const problem = checkOwn(anchor, "trust anchor", options.now) ?? checkIssued(chain, last, anchor, "trust anchor", options);
		if (problem === undefined) return { ok: true, anchor };
		reason = problem;
	}
	return fail(reason);
}

function fail(reason: string): ChainResult {
	return { ok: false, reason };
}

/** Checks of a certificate on its own: validity and critical extensions. */
function checkOwn(c: Certificate, label: string, now: number | undefined): string | undefined {
	if (now !== undefined) {
		if (now < c.notBefore) return `${label} is not yet valid`;
		if (now > c.notAfter) return `${label} expired`;
	}
	for (const x of c.extensions) {
		if (x.critical && !UNDERSTOOD_EXTENSIONS.has(x.oid)) return `${label} has an unsupported critical extension ${x.oid}`;
	}
	return undefined;
}

/**
 * Checks that `issuer` (labelled `issuerLabel`) issued chain[i]: names, CA status, path length and
 * the signature.
 */
function checkIssued(chain: readonly Certificate[], i: number, issuer: Certificate, issuerLabel: string, options: ChainOptions): string | undefined {
	const subject = chain[i]!;
	if (!bytesEqual(subject.issuer.der, issuer.subject.der)) return `certificate ${i} is not issued by ${issuerLabel} (names differ)`;
	const bc = issuer.basicConstraints;
	if (bc === undefined || !bc.cA) return `${issuerLabel} is not a CA`; // RFC 5280 §6.1.4 (k)
	if (issuer.keyUsage !== undefined && (issuer.keyUsage & KeyUsage.keyCertSign) === 0) {
		return `${issuerLabel} may not sign certificates (keyUsage)`; // §6.1.4 (n)
	}
	if (bc.pathLen !== undefined) {
		// Non-self-issued intermediates between this issuer and the leaf (§4.2.1.9, §6.1.4 (l)-(m)).
		let below = 0;
		for (let j = 1; j <= i; j++) if (!bytesEqual(chain[j]!.subject.der, chain[j]!.issuer.der)) below++;
		if (below > bc.pathLen) return `${issuerLabel} path length constraint exceeded`;
	}
	if (subject.signatureAlgorithm !== Oid.ECDSA_WITH_SHA256) {
		return `certificate ${i} has an unsupported signature algorithm ${subject.signatureAlgorithm}`;
	}
	const key = issuer.publicKey;
	if (!isP256Key(key)) return `${issuerLabel} does not have an uncompressed P-256 key`;
	if (!options.crypto.ecdsaVerify(key.bytes, subject.tbs, subject.signature)) return `signature of certificate ${i} does not verify`;
	return undefined;
}

/** Same subject and same key: the certificate is (a version of) the anchor (RFC 5280 §6.1.1 d). */
function isSameAnchor(anchor: Certificate, c: Certificate): boolean {
	return bytesEqual(anchor.subject.der, c.subject.der) && bytesEqual(anchor.publicKey.spki, c.publicKey.spki);
}

/**
 * Orders `leaf` and the issuers found in an unordered bag (a COSE x5bag, RFC 9360) into a chain,
 * leaf first, by issuer and subject names; stops at a self-issued certificate or when no issuer is
 * found. Only ordering: verifyChain still checks every signature.
 */
export function chainFromBag(leaf: Certificate, bag: readonly Certificate[]): Certificate[] {
	const chain = [leaf];
	for (let c = leaf; chain.length < MAX_CHAIN_LENGTH && !bytesEqual(c.issuer.der, c.subject.der); ) {
		const issuer = bag.find((b) => bytesEqual(b.subject.der, c.issuer.der) && !chain.includes(b));
		if (issuer === undefined) break;
		chain.push(issuer);
		c = issuer;
	}
	return chain;
}
