/*
 * Certificate policies for DtlsConnection: normal validation against trust anchors, and the
 * cBRSKI pledge's provisional mode, which accepts the Registrar's chain for now but records it so
 * the voucher can later confirm (pinned-domain-cert) or refute it (RFC 8995 §5.1, cBRSKI §…).
 */

import type { CryptoProvider } from "../crypto/provider.js";
import type { PeerVerifier } from "./connection.js";
import { parseCertificate, CertificateError, type Certificate } from "../x509/certificate.js";
import { verifyChain } from "../x509/chain.js";

export interface AnchoredVerifierOptions {
	/** Trust anchors, DER. */
	anchors: Uint8Array[];
	crypto: Pick<CryptoProvider, "ecdsaVerify">;
	/** Wall-clock ms for validity checks; omit where there is no trustworthy clock (a new pledge). */
	now?: () => number;
}

/** The peer's certificates parsed, or why one is not a certificate (a PeerVerifier's reason). */
export function parsePeerChain(chain: readonly Uint8Array[]): Certificate[] | string {
	try {
		return chain.map((d) => parseCertificate(d));
	} catch (e) {
		if (e instanceof CertificateError) return `unparsable certificate: ${e.message}`;
		throw e;
	}
}

export function anchoredVerifier(options: AnchoredVerifierOptions): PeerVerifier {
	const anchors: Certificate[] = options.anchors.map((d) => parseCertificate(d));
	return (chain) => {
		const certs = parsePeerChain(chain);
		if (typeof certs === "string") return certs;
		const now = options.now?.();
		const r = verifyChain(certs, anchors, { crypto: options.crypto, ...(now !== undefined ? { now } : {}) });
		return r.ok ? undefined : r.reason;
	};
}

/** Accepts any parsable chain and hands it to `record` (the pledge checks it against the voucher later). */
export function provisionalVerifier(record: (chain: Uint8Array[]) => void): PeerVerifier {
	return (chain) => {
		const certs = parsePeerChain(chain);
		if (typeof certs === "string") return certs;
		record(chain.map((d) => d.slice()));
		return undefined;
	};
}
