/*
 * Certificates out of EST-coaps responses (RFC 9148 §4.1-4.2, cBRSKI §6.7): /crts as
 * multipart-core (CF 62) of pkix-cert parts, a PKCS#7 certs-only bag (CF 281) or one pkix-cert
 * (CF 287); /sen as CF 287 or 281. Untrusted bytes: every malformation is a PledgeError.
 */

import type { ReceivedResponse } from "../../modules/coap/endpoint.js";
import { ContentFormat, Opt } from "../../modules/coap/constants.js";
import { uintOptionValue } from "../../modules/coap/message.js";
import { decodeMultipartCore, MultipartError } from "../../modules/est/multipart-core.js";
import { decodeCertsOnly, Pkcs7Error } from "../../modules/est/pkcs7.js";
import { PledgeError, type PledgeErrorCode } from "./errors.js";

/** The DER certificates a response carries, by its Content-Format. */
export function responseCertificates(r: ReceivedResponse, code: PledgeErrorCode): Uint8Array[] {
	const cf = uintOptionValue(r, Opt.ContentFormat);
	try {
		switch (cf) {
			case ContentFormat.PkixCert:
				return [r.payload];
			case ContentFormat.Pkcs7CertsOnly:
				return decodeCertsOnly(r.payload);
			case ContentFormat.MultipartCore: {
				const out: Uint8Array[] = [];
				for (const part of decodeMultipartCore(r.payload)) {
					if (part.body === null) continue;
					if (part.contentFormat === ContentFormat.PkixCert) out.push(part.body);
					else if (part.contentFormat === ContentFormat.Pkcs7CertsOnly) out.push(...decodeCertsOnly(part.body));
				}
				return out;
			}
			default:
				throw new PledgeError(code, `unexpected Content-Format ${cf ?? "(none)"} for certificates`);
		}
	} catch (e) {
		if (e instanceof MultipartError || e instanceof Pkcs7Error) throw new PledgeError(code, e.message);
		throw e;
	}
}
