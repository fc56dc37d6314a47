/* The drafts' cBRSKI COSE vectors (test/vectors/cbrski) as the COSE and voucher suites use them. */

import { fixture, fixtureHex } from "./fixtures.js";
import { pemToDer } from "../../modules/util/base64.js";
import { parseCertificate } from "../../modules/x509/certificate.js";
import { parseEcPrivateKey } from "../../modules/x509/private-key.js";

export interface CoseVector {
	file: string;
	/** Certificate whose key signed it (cert-masa_ca: the example MASA signs with its CA key). */
	signer: string;
	payload: string;
	sigStructure: string;
	/** Unprotected x5bag, as PEM files of the certificates in order. */
	x5bag: string[];
}

export const COSE_VECTORS: readonly CoseVector[] = Object.freeze([
	{ file: "cbrski-pvr.cose.hex", signer: "cert-pledge.pem", payload: "cbrski-pvr-payload.cbor.hex", sigStructure: "cbrski-pvr-sig_structure.derived.hex", x5bag: [] },
	{
		file: "cbrski-rvr.cose.hex",
		signer: "cert-registrar.pem",
		payload: "cbrski-rvr-payload.cbor.hex",
		sigStructure: "cbrski-rvr-sig_structure.derived.hex",
		x5bag: ["cert-registrar-2022-12-06-from-rvr-x5bag.pem", "cert-domain_ca-2022-12-06-pinned-in-voucher.pem"],
	},
	{
		file: "cbrski-voucher-from-masa-with-x5bag.cose.hex",
		signer: "cert-masa_ca.pem",
		payload: "cbrski-voucher-payload.cbor.hex",
		sigStructure: "cbrski-voucher-sig_structure.derived.hex",
		x5bag: ["cert-masa_ca.pem"],
	},
	{ file: "cbrski-voucher-to-pledge.cose.hex", signer: "cert-masa_ca.pem", payload: "cbrski-voucher-payload.cbor.hex", sigStructure: "cbrski-voucher-sig_structure.derived.hex", x5bag: [] },
]);

export const cbrskiHex = (file: string): Uint8Array => fixtureHex(`cbrski/${file}`);
export const certDer = (file: string): Uint8Array => pemToDer(fixture(`cbrski/${file}`))[0]!;
/** The 65-byte uncompressed P-256 point of a vector certificate. */
export const certKey = (file: string): Uint8Array => parseCertificate(certDer(file)).publicKey.bytes;
/** The 32-byte scalar of a vector private key (key-pledge.pem, key-registrar.pem, key-masa_ca.pem, ...). */
export const privateKey = (file: string): Uint8Array => parseEcPrivateKey(pemToDer(fixture(`cbrski/${file}`))[0]!);
