/*
 * From the pledge's voucher request (PVR) to the Registrar's (RVR): RFC 8995 §5.5, cBRSKI §6.5 and
 * §9 (digest §2 step 2-3, §4.2, §5.3, R17-R23). The PVR is verified with the IDevID key from the
 * DTLS handshake (any x5bag/x5chain/kid in it is ignored), its serial-number must be the IDevID's
 * and its proximity-registrar-* must name this Registrar; the RVR copies the nonce, takes the serial
 * from the IDevID, adds idevid-issuer and the PVR, asserts proximity, and is signed with the
 * Registrar's cmcRA key with an x5bag of the Registrar's chain and the pledge's.
 */

import { Code } from "../../modules/coap/constants.js";
import { CoseError, decodeCoseSign1, encodeCoseSign1, signCoseSign1, verifyCoseSign1 } from "../../modules/cose/sign1.js";
import type { CryptoProvider } from "../../modules/crypto/provider.js";
import { idevidIssuerOf } from "../../modules/voucher/idevid-issuer.js";
import { bytesEqual } from "../../modules/util/hex.js";
import { namesRegistrar } from "../../modules/voucher/proximity.js";
import { Assertion, VoucherError, checkPledgeVoucherRequest, decodeVoucherRequest, encodeVoucherRequest, type VoucherRequest } from "../../modules/voucher/voucher.js";
import type { Certificate } from "../../modules/x509/certificate.js";

/** A refusal: the CoAP code for the pledge and the reason for the log. */
export interface Refusal {
	code: number;
	reason: string;
}

export interface VerifiedPvr {
	bytes: Uint8Array;
	request: VoucherRequest;
}

/**
 * Checks a PVR against the pledge's IDevID and our own certificate. The codes follow the digest:
 * unparsable 4.00, bad signature or serial 4.03 (R17, §2 step 2), not naming us 4.01 (R18).
 */
export function verifyPvr(bytes: Uint8Array, idevid: Certificate, serialNumber: string, ourCertificate: Certificate, crypto: CryptoProvider): VerifiedPvr | Refusal {
	let request: VoucherRequest;
	try {
		const cose = decodeCoseSign1(bytes);
		if (!verifyCoseSign1(crypto, idevid.publicKey.bytes, cose)) return { code: Code.Forbidden, reason: "PVR signature does not verify with the IDevID key" };
		request = decodeVoucherRequest(cose.payload);
		checkPledgeVoucherRequest(request);
	} catch (e) {
		if (e instanceof CoseError) return { code: e.message.includes("not supported") ? Code.NotAcceptable : Code.BadRequest, reason: `PVR: ${e.message}` };
		if (e instanceof VoucherError) return { code: Code.BadRequest, reason: `PVR: ${e.message}` };
		throw e;
	}
	if (request.serialNumber !== serialNumber) return { code: Code.Forbidden, reason: `PVR serial-number ${JSON.stringify(request.serialNumber)} is not the IDevID's ${JSON.stringify(serialNumber)}` };
	if (!namesRegistrar(request, ourCertificate, crypto)) return { code: Code.Unauthorized, reason: "PVR proximity-registrar-* does not match this Registrar's certificate (possible man in the middle)" };
	return { bytes, request };
}

export interface RvrOptions {
	pvr: VerifiedPvr;
	idevid: Certificate;
	serialNumber: string;
	/** The pledge's DTLS chain, leaf first. */
	pledgeChain: readonly Uint8Array[];
	/** Our signing chain (the cmcRA certificate first) and its private scalar. */
	registrarChain: readonly Uint8Array[];
	privateKey: Uint8Array;
	crypto: CryptoProvider;
	/** Wall-clock ms for created-on. */
	now: number;
}

/** The signed RVR (COSE_Sign1 bytes), digest R20-R23. */
export function buildRvr(o: RvrOptions): Uint8Array {
	const rvr: VoucherRequest = {
		assertion: Assertion.proximity,
		createdOn: new Date(o.now).toISOString(),
		idevidIssuer: idevidIssuerOf(o.idevid, o.crypto),
		priorSignedVoucherRequest: o.pvr.bytes,
		serialNumber: o.serialNumber,
	};
	if (o.pvr.request.nonce !== undefined) rvr.nonce = o.pvr.request.nonce;
	// R22 [Δ-30]: our chain and the pledge's whole DTLS chain; a certificate in both is listed once.
	const bag: Uint8Array[] = [...o.registrarChain];
	for (const c of o.pledgeChain) if (!bag.some((b) => bytesEqual(b, c))) bag.push(c);
	return encodeCoseSign1(signCoseSign1(o.crypto, o.privateKey, encodeVoucherRequest(rvr), { x5bag: bag }));
}
