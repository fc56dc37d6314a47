/*
 * The proximity binding of a pledge voucher request (RFC 8995 §5.5.4, cBRSKI §9; digest R18, §5.4):
 * its proximity-registrar-cert, -pubk or -pubk-sha256 names the Registrar the pledge saw in DTLS.
 * The Registrar checks that the name is its own certificate; the MASA, that it is the RVR signer's.
 */

import type { CryptoProvider } from "../crypto/provider.js";
import type { Certificate } from "../x509/certificate.js";
import { bytesEqual } from "../util/hex.js";
import type { VoucherRequest } from "./voucher.js";

/** Whether `pvr` names `registrar`: at least one proximity-registrar-* leaf, and every one present matches. */
export function namesRegistrar(pvr: VoucherRequest, registrar: Certificate, crypto: Pick<CryptoProvider, "sha256">): boolean {
	const spki = registrar.publicKey.spki;
	const checks = [
		pvr.proximityRegistrarCert === undefined ? undefined : bytesEqual(pvr.proximityRegistrarCert, registrar.der),
		pvr.proximityRegistrarPubk === undefined ? undefined : bytesEqual(pvr.proximityRegistrarPubk, spki),
		// cbrski-digest §14: SHA-256 over the DER SubjectPublicKeyInfo.
		pvr.proximityRegistrarPubkSha256 === undefined ? undefined : bytesEqual(pvr.proximityRegistrarPubkSha256, crypto.sha256(spki)),
	].filter((c) => c !== undefined);
	return checks.length > 0 && checks.every((c) => c);
}
