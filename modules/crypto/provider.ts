/*
 * The one crypto interface of the DTLS stack, certificate checks and COSE: a portable provider on
 * @noble/* for XS (the pledge), a node:crypto provider for the Registrar's speed. Both must give
 * identical results; the same vectors test both.
 */

/** P-256 key pair: 32-byte private scalar, 65-byte uncompressed public point (0x04 || X || Y). */
export interface EcKeyPair {
	privateKey: Uint8Array;
	publicKey: Uint8Array;
}

/** AES-CCM with a fixed key, tag and nonce length (TLS_ECDHE_ECDSA_WITH_AES_128_CCM_8: 16, 8, 12). */
export interface Aead {
	/** Returns ciphertext || tag. */
	seal(nonce: Uint8Array, aad: Uint8Array, plaintext: Uint8Array): Uint8Array;
	/** Returns the plaintext, or undefined when authentication fails. */
	open(nonce: Uint8Array, aad: Uint8Array, sealed: Uint8Array): Uint8Array | undefined;
}

export interface CryptoProvider {
	readonly name: string;
	sha256(data: Uint8Array): Uint8Array;
	/** SHA-1: only for RFC 5280 §4.2.1.2 method-1 key identifiers (cBRSKI's idevid-issuer without an AKI), never for signatures. */
	sha1(data: Uint8Array): Uint8Array;
	hmacSha256(key: Uint8Array, data: Uint8Array): Uint8Array;
	/** A fresh ephemeral P-256 key pair (ECDHE). */
	ecGenerate(): EcKeyPair;
	/** ECDH shared secret: the 32-byte X coordinate (RFC 8422 §5.10). Throws for an invalid peer point. */
	ecdh(privateKey: Uint8Array, peerPublicKey: Uint8Array): Uint8Array;
	/** ECDSA P-256 signature over SHA-256(message), DER-encoded (RFC 8422 §5.4). */
	ecdsaSign(privateKey: Uint8Array, message: Uint8Array): Uint8Array;
	/** Verifies a DER ECDSA P-256 signature over SHA-256(message); false for anything malformed. */
	ecdsaVerify(publicKey: Uint8Array, message: Uint8Array, derSignature: Uint8Array): boolean;
	aesCcm(key: Uint8Array, tagLength: number, nonceLength: number): Aead;
}
