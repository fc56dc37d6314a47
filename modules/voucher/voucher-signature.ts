/*
 * Who may sign a voucher (RFC 8995 §5.6.1, cBRSKI §9.2; digest §5.4, P22, R27). The pledge and the
 * Registrar both use this one check:
 *   - the pledge passes its firmware's MASA trust anchors and its pre-installed voucher signers;
 *   - the Registrar passes the manufacturer's configured voucher anchors and the voucher's x5bag.
 * A voucher verifies when an anchor's own key signed it, or a signer certificate whose key signed
 * it chains (through the other signer certificates, in any order: an x5bag is a set, RFC 9360 §2)
 * to an anchor. The anchors must be the MASA's voucher-signing root and nothing broader: every end
 * entity under them can sign vouchers. The pledge never takes signers from the voucher itself.
 */

import type { CryptoProvider } from "../crypto/provider.js";
import { verifyCoseSign1, type CoseSign1 } from "../cose/sign1.js";
import { isP256Key, type Certificate } from "../x509/certificate.js";
import { chainFromBag, verifyChain } from "../x509/chain.js";

export interface VoucherSigners {
	/** Roots for vouchers (the pledge's MASA trust anchor; the Registrar's configured voucher anchors). */
	anchors: readonly Certificate[];
	/** Candidate signers and their intermediates, in no particular order. */
	signers: readonly Certificate[];
	/** Wall-clock ms, only where the caller's clock is trusted; else validity periods are not checked. */
	now?: number;
}

/** The certificate whose key signed `message` and is trusted for vouchers, or undefined. Throws CoseError for an unsupported algorithm. */
export function verifyVoucherSignature(crypto: CryptoProvider, message: CoseSign1, o: VoucherSigners): Certificate | undefined {
	const signs = (c: Certificate): boolean => isP256Key(c.publicKey) && verifyCoseSign1(crypto, c.publicKey.bytes, message);
	const anchor = o.anchors.find(signs);
	if (anchor !== undefined) return anchor;
	const opts = { crypto, ...(o.now !== undefined ? { now: o.now } : {}) };
	return o.signers.find((c) => signs(c) && verifyChain(chainFromBag(c, o.signers), o.anchors, opts).ok);
}
