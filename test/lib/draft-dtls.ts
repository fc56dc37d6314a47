/*
 * The cBRSKI draft's certificates (test/vectors/cbrski) as DTLS credentials: the Registrar shows its
 * certificate and trusts the MASA CA that issued the pledge's IDevID; the pledge shows its IDevID and
 * trusts the domain CA. `pem` reads one vector file's first certificate or key (DER).
 */

import type { CryptoProvider } from "../../modules/crypto/provider.js";
import type { DtlsIdentity, PeerVerifier } from "../../modules/dtls/connection.js";
import { anchoredVerifier } from "../../modules/dtls/peer-verifier.js";
import { parseEcPrivateKey } from "../../modules/x509/private-key.js";

export type PemReader = (name: string) => Uint8Array;

export interface DtlsCredentials {
	identity: DtlsIdentity;
	verifyPeer: PeerVerifier;
}

/** `key` lets a test sign with the wrong key. */
export function registrarCredentials(pem: PemReader, crypto: CryptoProvider, key = "key-registrar.pem"): DtlsCredentials {
	return {
		identity: { certificates: [pem("cert-registrar.pem")], privateKey: parseEcPrivateKey(pem(key)) },
		verifyPeer: anchoredVerifier({ anchors: [pem("cert-masa_ca.pem")], crypto }),
	};
}

/** `anchor` lets a test trust the wrong CA; `now` gives the pledge a clock for validity checks. */
export function pledgeCredentials(pem: PemReader, crypto: CryptoProvider, options: { anchor?: string; now?: () => number } = {}): DtlsCredentials {
	return {
		identity: { certificates: [pem("cert-pledge.pem")], privateKey: parseEcPrivateKey(pem("key-pledge.pem")) },
		verifyPeer: anchoredVerifier({ anchors: [pem(options.anchor ?? "cert-domain_ca.pem")], crypto, ...(options.now !== undefined ? { now: options.now } : {}) }),
	};
}
