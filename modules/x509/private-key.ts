/*
 * P-256 private keys from DER: SEC1 ECPrivateKey ("EC PRIVATE KEY", RFC 5915 §3) and PKCS#8
 * PrivateKeyInfo ("PRIVATE KEY", RFC 5958 §2) wrapping one. Only the 32-byte scalar is kept.
 */

import { DerError, DerReader, Tag, TagClass, decodeOid, decodeSmallInteger, parseDer, tlvValue } from "../asn1/der.js";
import { Oid } from "./certificate.js";

const P256_SCALAR_BYTES = 32;

/** The private scalar of a P-256 key in SEC1 or PKCS#8 DER; throws DerError for anything else. */
export function parseEcPrivateKey(der: Uint8Array): Uint8Array {
	const top = parseDer(der);
	const r = new DerReader(top.bytes, top.valueStart, top.end, 1);
	const version = decodeSmallInteger(tlvValue(r.expect(TagClass.UNIVERSAL, Tag.INTEGER, false, "version")));
	if (version === 0) {
		// PKCS#8: AlgorithmIdentifier { id-ecPublicKey, namedCurve } then the ECPrivateKey in an OCTET STRING.
		const alg = r.expect(TagClass.UNIVERSAL, Tag.SEQUENCE, true, "AlgorithmIdentifier");
		const a = new DerReader(alg.bytes, alg.valueStart, alg.end, 2);
		if (decodeOid(tlvValue(a.expect(TagClass.UNIVERSAL, Tag.OID, false, "algorithm"))) !== Oid.EC_PUBLIC_KEY) throw new DerError("not an EC key");
		if (decodeOid(tlvValue(a.expect(TagClass.UNIVERSAL, Tag.OID, false, "namedCurve"))) !== Oid.P256) throw new DerError("not a P-256 key");
		return parseEcPrivateKey(tlvValue(r.expect(TagClass.UNIVERSAL, Tag.OCTET_STRING, false, "privateKey")).slice());
	}
	if (version !== 1) throw new DerError(`unknown private key version ${version}`);
	const d = tlvValue(r.expect(TagClass.UNIVERSAL, Tag.OCTET_STRING, false, "privateKey"));
	if (d.length !== P256_SCALAR_BYTES) throw new DerError("not a 32-byte P-256 private key");
	return d.slice();
}
