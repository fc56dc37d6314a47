/*
 * application/pkcs7-mime; smime-type=certs-only (Content-Format 281, RFC 9148 §4.1-4.2): the EST
 * answer of /crts, /sen and /sren. It is a "degenerate" CMS SignedData (RFC 8551 §3.2.2, RFC 5652
 * §5.1) that only carries certificates: no content, no signers.
 *
 *   ContentInfo ::= SEQUENCE { contentType id-signedData, content [0] EXPLICIT SignedData }
 *   SignedData ::= SEQUENCE { version 1, digestAlgorithms SET {}, encapContentInfo SEQUENCE { id-data },
 *                             certificates [0] IMPLICIT SET OF Certificate, crls [1] IMPLICIT ... OPTIONAL,
 *                             signerInfos SET {} }
 *
 * The encoder writes what RFC 9148 Appendix A shows and `openssl crl2pkcs7 -nocrl` writes, an empty
 * crls field included, so that its output matches the RFC's examples byte for byte. The decoder takes
 * untrusted bytes: strict DER, and every failure is a Pkcs7Error.
 */

import {
	DerError,
	DerReader,
	Tag,
	TagClass,
	derExplicit,
	derImplicit,
	derImplicitSet,
	derOid,
	derSequence,
	derSet,
	derSmallInteger,
	parseDer,
	tlvEncoding,
} from "../asn1/der.js";

/** Not a certs-only SignedData this decoder accepts. */
export class Pkcs7Error extends Error {
	override readonly name = "Pkcs7Error";
}

/** RFC 5652 §3 (id-data) and §5.1 (id-signedData). */
const ID_DATA = "1.2.840.113549.1.7.1";
const ID_SIGNED_DATA = "1.2.840.113549.1.7.2";
/** SignedData version when there are no attribute certificates and the content is id-data (RFC 5652 §5.1). */
const SIGNED_DATA_VERSION = 1;

/** A certs-only message carrying `certificates` (each the DER of one certificate). */
export function encodeCertsOnly(certificates: readonly Uint8Array[]): Uint8Array {
	for (const c of certificates) {
		try {
			const t = parseDer(c);
			if (t.tagClass !== TagClass.UNIVERSAL || t.tagNumber !== Tag.SEQUENCE || !t.constructed) throw new DerError("not a SEQUENCE");
		} catch (e) {
			throw new Pkcs7Error(`not a DER certificate: ${(e as Error).message}`);
		}
	}
	const signedData = derSequence(
		derSmallInteger(SIGNED_DATA_VERSION),
		derSet(),
		derSequence(derOid(ID_DATA)),
		derImplicitSet(0, ...certificates), // CertificateSet: a SET OF, in DER order (X.690 §11.6)
		derImplicit(1, new Uint8Array(0), true),
		derSet(),
	);
	return derSequence(derOid(ID_SIGNED_DATA), derExplicit(0, signedData));
}

/** The certificates of a certs-only message, in encoding order, as DER views of `der`. */
export function decodeCertsOnly(der: Uint8Array): Uint8Array[] {
	try {
		return decode(der);
	} catch (e) {
		if (e instanceof DerError) throw new Pkcs7Error(`malformed certs-only message: ${e.message}`, { cause: e });
		throw e;
	}
}

function decode(der: Uint8Array): Uint8Array[] {
	const top = new DerReader(der);
	const contentInfo = top.sequence();
	top.finish("ContentInfo");
	if (contentInfo.oid() !== ID_SIGNED_DATA) throw new Pkcs7Error("content type is not signed-data");
	const explicit = contentInfo.explicit(0);
	contentInfo.finish("ContentInfo");
	const signedData = explicit.sequence();
	explicit.finish("content");

	const version = signedData.smallInteger();
	if (version !== SIGNED_DATA_VERSION) throw new Pkcs7Error(`SignedData version ${version} is not a certs-only message`);
	signedData.set(); // digestAlgorithms: meaningless without signers, so whatever it lists is ignored
	const encap = signedData.sequence();
	if (encap.oid() !== ID_DATA) throw new Pkcs7Error("encapsulated content type is not data");
	if (!encap.done) throw new Pkcs7Error("certs-only message with content"); // RFC 8551 §3.2.2: eContent absent
	const certificates: Uint8Array[] = [];
	const certs = signedData.optional(TagClass.CONTEXT, 0, true);
	if (certs !== undefined) {
		const r = signedData.enter(certs);
		while (!r.done) {
			const c = r.next();
			// CertificateChoices: only a plain Certificate; [0]-[3] are obsolete or other formats.
			if (c.tagClass !== TagClass.UNIVERSAL || c.tagNumber !== Tag.SEQUENCE || !c.constructed) {
				throw new Pkcs7Error("certificate set holds something other than an X.509 certificate");
			}
			certificates.push(tlvEncoding(c));
		}
	}
	signedData.optional(TagClass.CONTEXT, 1, true); // crls: revocation is out of this profile
	const signerInfos = signedData.set();
	if (!signerInfos.done) throw new Pkcs7Error("certs-only message with signers");
	signedData.finish("SignedData");
	return certificates;
}
