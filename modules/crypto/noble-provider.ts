/*
 * The portable CryptoProvider (runs on XS, the pledge): P-256 from @noble/curves, SHA-256 and
 * HMAC from @noble/hashes, AES-CCM from our own modules/crypto/aes-ccm.ts.
 *
 * Randomness: XS has no globalThis.crypto, and noble falls back to it wherever it is not handed an
 * RNG. So every random value here comes from the injected host RNG: private keys are mapped from
 * bytes we draw ourselves, and the ECDSA instance gets the host RNG for its nonce-inversion
 * blinding. Signatures are deterministic (RFC 6979), so signing needs no randomness at all.
 * The one place the host RNG cannot reach is noble's scalar blinding inside p256.Point, which was
 * probed against globalThis.crypto when nist.js was loaded: on XS it finds none and noble uses its
 * unblinded constant-time multiplication instead (blinding is defence in depth, not correctness).
 */

import { p256 } from "@noble/curves/nist.js";
import { ecdsa } from "@noble/curves/abstract/weierstrass.js";
import { hmac } from "@noble/hashes/hmac.js";
import { sha256 } from "@noble/hashes/sha2.js";
import { sha1 } from "@noble/hashes/legacy.js";
import { AesCcm } from "./aes-ccm.js";
import type { CryptoProvider, EcKeyPair } from "./provider.js";

/** SEC 1 §2.3.3: an uncompressed point is 0x04 || X || Y; RFC 8422 §5.4.1 allows only this form. */
const UNCOMPRESSED = 0x04;
const POINT_LENGTH = 65;
const SCALAR_LENGTH = 32;
/**
 * Bytes drawn per private key: noble maps n + n/2 bits onto [1, n-1] (FIPS 186-5 A.2.1, the
 * "extra random bits" method), which leaves a negligible bias; 32 bytes would not.
 */
const KEY_SEED_LENGTH = 48;

/**
 * Sign: plain ECDSA as RFC 6979 and FIPS 186 define it, so s is not normalised into the lower half
 * (TLS has no low-S rule; the output then equals the RFC 6979 vectors byte for byte).
 * Verify: high-S must pass too, since OpenSSL and most TLS stacks produce either.
 */
const SIGN_OPTS = { prehash: true, lowS: false, format: "der" } as const;
const VERIFY_OPTS = { prehash: true, lowS: false, format: "der" } as const;

function isUncompressedPoint(key: Uint8Array): boolean {
	return key.length === POINT_LENGTH && key[0] === UNCOMPRESSED;
}

/** `random` fills the array it is given with cryptographically secure bytes and returns it. */
export function createNobleCrypto(random: (bytes: Uint8Array) => Uint8Array): CryptoProvider {
	// noble's RNG hook signature; its callers check the length of what comes back.
	const randomBytes = (length = SCALAR_LENGTH): Uint8Array => random(new Uint8Array(length));
	// Same curve (and its shared precomputed tables), but with the host RNG instead of WebCrypto.
	const curve = ecdsa(p256.Point, sha256, { randomBytes });

	return {
		name: "noble",

		sha256(data: Uint8Array): Uint8Array {
			return sha256(data);
		},
		sha1(data: Uint8Array): Uint8Array {
			return sha1(data);
		},

		hmacSha256(key: Uint8Array, data: Uint8Array): Uint8Array {
			return hmac(sha256, key, data);
		},

		ecGenerate(): EcKeyPair {
			const privateKey = curve.utils.randomSecretKey(randomBytes(KEY_SEED_LENGTH));
			return { privateKey, publicKey: curve.getPublicKey(privateKey, false) };
		},

		ecdh(privateKey: Uint8Array, peerPublicKey: Uint8Array): Uint8Array {
			if (!curve.utils.isValidSecretKey(privateKey)) throw new RangeError("invalid P-256 private key");
			if (!isUncompressedPoint(peerPublicKey)) throw new RangeError("invalid P-256 public key: not an uncompressed point");
			let shared: Uint8Array;
			try {
				// Decoding the point checks that it is on the curve (SEC 1 §3.2.2.1), which is what
				// stops invalid-curve attacks; the compressed output is 0x02/0x03 || X.
				shared = curve.getSharedSecret(privateKey, peerPublicKey, true);
			} catch {
				throw new RangeError("invalid P-256 public key: not a point on the curve");
			}
			// RFC 8422 §5.10: the premaster secret is the X coordinate alone.
			return shared.slice(1);
		},

		ecdsaSign(privateKey: Uint8Array, message: Uint8Array): Uint8Array {
			if (!curve.utils.isValidSecretKey(privateKey)) throw new RangeError("invalid P-256 private key");
			return curve.sign(message, privateKey, SIGN_OPTS);
		},

		ecdsaVerify(publicKey: Uint8Array, message: Uint8Array, derSignature: Uint8Array): boolean {
			if (!isUncompressedPoint(publicKey)) return false;
			try {
				// noble parses DER strictly (minimal lengths and integers, no trailing bytes), as
				// OpenSSL does, and checks the key is on the curve; whatever it dislikes it throws.
				return curve.verify(derSignature, message, publicKey, VERIFY_OPTS);
			} catch {
				return false;
			}
		},

		aesCcm(key: Uint8Array, tagLength: number, nonceLength: number) {
			return new AesCcm(key, tagLength, nonceLength);
		},
	};
}
