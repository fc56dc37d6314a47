/*
 * The idevid-issuer leaf (draft-ietf-anima-rfc8366bis §5.3, cbrski-digest §4.3): the IDevID's whole
 * AuthorityKeyIdentifier extnValue, OCTET STRING header included (`04 len 30 ...`). Without an AKI,
 * the same structure around the SHA-1 of the IDevID's public key (RFC 5280 §4.2.1.2 method 1). The
 * pledge checks a voucher's value against it, the Registrar puts it in its RVR and the MASA checks
 * the RVR's: one function, so that the three agree for every IDevID.
 */

import { derOctetString, derTlv } from "../asn1/der.js";
import { Oid, type Certificate } from "../x509/certificate.js";
import type { CryptoProvider } from "../crypto/provider.js";

const SEQUENCE = 0x30;
/** AuthorityKeyIdentifier keyIdentifier [0] IMPLICIT OCTET STRING (RFC 5280 §4.2.1.1). */
const KEY_IDENTIFIER_TAG = 0x80;

export function idevidIssuerOf(idevid: Certificate, crypto: Pick<CryptoProvider, "sha1">): Uint8Array {
	const aki = idevid.extensions.find((x) => x.oid === Oid.AUTHORITY_KEY_IDENTIFIER);
	// Method 1 hashes the subjectPublicKey BIT STRING's value (the EC point), not the whole SPKI.
	return derOctetString(aki !== undefined ? aki.value : derTlv(SEQUENCE, derTlv(KEY_IDENTIFIER_TAG, crypto.sha1(idevid.publicKey.bytes))));
}
