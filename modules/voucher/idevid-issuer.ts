/*
 * The idevid-issuer leaf (draft-ietf-anima-rfc8366bis §5.3): the IDevID's whole
 * AuthorityKeyIdentifier extnValue, OCTET STRING header included (`04 len 30 ...`). The Registrar
 * puts it in its voucher request; the MASA checks it against the IDevID it verified.
 */

import { derOctetString } from "../asn1/der.js";
import { Oid, type Certificate } from "../x509/certificate.js";

/** undefined when the IDevID has no AKI (8366bis then derives one from a SHA-1 key hash; our IDevIDs carry AKI). */
export function idevidIssuerOf(idevid: Certificate): Uint8Array | undefined {
	const aki = idevid.extensions.find((x) => x.oid === Oid.AUTHORITY_KEY_IDENTIFIER);
	return aki === undefined ? undefined : derOctetString(aki.value);
}
