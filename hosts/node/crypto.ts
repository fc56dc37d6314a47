/*
 * The node:crypto CryptoProvider (OpenSSL), for the Registrar's speed. It must behave exactly like
 * modules/crypto/noble-provider.ts (same inputs accepted and refused, same error classes), so both
 * pass the same vectors (test/lib/dtls-crypto-vectors.ts). Differences that remain by nature:
 * OpenSSL signs with a random nonce where noble uses RFC 6979, so signatures differ byte for byte.
 */

import {
	createCipheriv,
	createDecipheriv,
	createECDH,
	createHash,
	createHmac,
	createPrivateKey,
	createPublicKey,
	sign,
	verify,
	type CipherCCMTypes,
	type KeyObject,
} from "node:crypto";
import type { Aead, CryptoProvider, EcKeyPair } from "../../modules/crypto/provider.js";
import { bytesEqualConstantTime } from "../../modules/crypto/constant-time.js";

const CURVE = "prime256v1";
/** SEC 1 §2.3.3: an uncompressed point is 0x04 || X || Y; RFC 8422 §5.4.1 allows only this form. */
const UNCOMPRESSED = 0x04;
const POINT_LENGTH = 65;
const SCALAR_LENGTH = 32;
/** The order n of the P-256 base point (FIPS 186-5 / SEC 2 §2.4.2): private keys are 1..n-1. */
const ORDER = Buffer.from("ffffffff00000000ffffffffffffffffbce6faada7179e84f3b9cac2fc632551", "hex");
/** RFC 5480 §2: SubjectPublicKeyInfo { id-ecPublicKey, secp256r1 }, then the BIT STRING header. */
const SPKI_PREFIX = Buffer.from("3059301306072a8648ce3d020106082a8648ce3d030107034200", "hex");
/** RFC 5915 §3: ECPrivateKey { version 1, privateKey OCTET STRING (32) ... } */
const SEC1_PREFIX = Buffer.from("30310201010420", "hex");
/** ... parameters [0] secp256r1 (the optional publicKey is left out: OpenSSL derives it). */
const SEC1_SUFFIX = Buffer.from("a00a06082a8648ce3d030107", "hex");
/** RFC 3610 §2: M in {4, 6, ..., 16}; nonce 15 - L with L in 2..8. */
const TAG_LENGTHS: readonly number[] = [4, 6, 8, 10, 12, 14, 16];
const MIN_NONCE = 7;
const MAX_NONCE = 13;
/** Public keys kept imported (least recently used dropped first). */
const PUBLIC_KEY_CACHE = 16;
const CIPHERS: Readonly<Record<number, CipherCCMTypes>> = { 16: "aes-128-ccm", 24: "aes-192-ccm", 32: "aes-256-ccm" };

/** A plain Uint8Array copy: Buffers may be views into Node's shared pool. */
const bytes = (b: Uint8Array): Uint8Array => new Uint8Array(b);

function isUncompressedPoint(key: Uint8Array): boolean {
	return key.length === POINT_LENGTH && key[0] === UNCOMPRESSED;
}

/** 1 <= d < n, as 32 big-endian bytes (what noble's isValidSecretKey accepts). */
function isValidPrivateKey(d: Uint8Array): boolean {
	if (d.length !== SCALAR_LENGTH || d.every((b) => b === 0)) return false;
	// Big-endian comparison with n: the first differing byte decides.
	for (let i = 0; i < SCALAR_LENGTH; i++) if (d[i] !== ORDER[i]) return d[i]! < ORDER[i]!;
	return false; // d == n
}

function privateKeyObject(d: Uint8Array): KeyObject {
	if (!isValidPrivateKey(d)) throw new RangeError("invalid P-256 private key");
	return createPrivateKey({ key: Buffer.concat([SEC1_PREFIX, d, SEC1_SUFFIX]), format: "der", type: "sec1" });
}

class NodeCcm implements Aead {
	readonly #cipher: CipherCCMTypes;
	readonly #key: Buffer;
	readonly #tagLength: number;
	readonly #nonceLength: number;

	constructor(key: Uint8Array, tagLength: number, nonceLength: number) {
		const cipher = CIPHERS[key.length];
		if (cipher === undefined) throw new RangeError("AES key must be 16, 24 or 32 bytes");
		if (!TAG_LENGTHS.includes(tagLength)) throw new RangeError(`AES-CCM tag length must be one of ${TAG_LENGTHS.join(", ")}`);
		if (!Number.isInteger(nonceLength) || nonceLength < MIN_NONCE || nonceLength > MAX_NONCE) {
			throw new RangeError(`AES-CCM nonce length must be ${MIN_NONCE}..${MAX_NONCE}`);
		}
		this.#cipher = cipher;
		this.#key = Buffer.from(key);
		this.#tagLength = tagLength;
		this.#nonceLength = nonceLength;
	}

	seal(nonce: Uint8Array, aad: Uint8Array, plaintext: Uint8Array): Uint8Array {
		this.#checkNonce(nonce);
		const c = createCipheriv(this.#cipher, this.#key, nonce, { authTagLength: this.#tagLength });
		// CCM authenticates l(m) in B_0 (RFC 3610 §2.2), so OpenSSL must know it before the aad.
		c.setAAD(aad, { plaintextLength: plaintext.length });
		return bytes(Buffer.concat([c.update(plaintext), c.final(), c.getAuthTag()]));
	}

	open(nonce: Uint8Array, aad: Uint8Array, sealed: Uint8Array): Uint8Array | undefined {
		this.#checkNonce(nonce);
		const n = sealed.length - this.#tagLength;
		if (n < 0) return undefined;
		const d = createDecipheriv(this.#cipher, this.#key, nonce, { authTagLength: this.#tagLength });
		d.setAuthTag(sealed.subarray(n));
		d.setAAD(aad, { plaintextLength: n });
		// For CCM, OpenSSL verifies the tag inside update() and then throws from final().
		const plaintext = d.update(sealed.subarray(0, n));
		try {
			d.final();
		} catch {
			return undefined;
		}
		return bytes(plaintext);
	}

	/** A wrong nonce size is the caller's mistake, not a bad packet (as in AesCcm). */
	#checkNonce(nonce: Uint8Array): void {
		if (nonce.length !== this.#nonceLength) throw new RangeError(`AES-CCM nonce must be ${this.#nonceLength} bytes`);
	}
}

export function createNodeCrypto(): CryptoProvider {
	// Importing a private key costs about five signatures (OpenSSL derives the public key), and the
	// Registrar signs every handshake with the same long-term key: keep the last one imported.
	let lastPrivate: { d: Uint8Array; key: KeyObject } | undefined;
	const signingKey = (d: Uint8Array): KeyObject => {
		if (lastPrivate === undefined || !bytesEqualConstantTime(lastPrivate.d, d)) lastPrivate = { d: d.slice(), key: privateKeyObject(d) };
		return lastPrivate.key;
	};
	// Importing a public key validates the point, the bulk of a verification's cost; certificate
	// chains check against the same few CA keys again and again.
	const publicKeys = new Map<string, KeyObject>();
	const verifyingKey = (point: Uint8Array): KeyObject => {
		const id = Buffer.from(point).toString("hex");
		let key = publicKeys.get(id);
		if (key === undefined) {
			key = createPublicKey({ key: Buffer.concat([SPKI_PREFIX, point]), format: "der", type: "spki" });
			if (publicKeys.size >= PUBLIC_KEY_CACHE) publicKeys.delete(publicKeys.keys().next().value!);
		} else publicKeys.delete(id); // re-inserted below: most recently used last
		publicKeys.set(id, key);
		return key;
	};

	return {
		name: "node",

		sha256(data: Uint8Array): Uint8Array {
			return bytes(createHash("sha256").update(data).digest());
		},
		sha1(data: Uint8Array): Uint8Array {
			return bytes(createHash("sha1").update(data).digest());
		},

		hmacSha256(key: Uint8Array, data: Uint8Array): Uint8Array {
			return bytes(createHmac("sha256", key).update(data).digest());
		},

		ecGenerate(): EcKeyPair {
			const ecdh = createECDH(CURVE);
			ecdh.generateKeys();
			// getPrivateKey() drops leading zero bytes (1 key in 256): pad back to 32.
			const raw = ecdh.getPrivateKey();
			const privateKey = new Uint8Array(SCALAR_LENGTH);
			privateKey.set(raw, SCALAR_LENGTH - raw.length);
			return { privateKey, publicKey: bytes(ecdh.getPublicKey()) };
		},

		ecdh(privateKey: Uint8Array, peerPublicKey: Uint8Array): Uint8Array {
			if (!isValidPrivateKey(privateKey)) throw new RangeError("invalid P-256 private key");
			if (!isUncompressedPoint(peerPublicKey)) throw new RangeError("invalid P-256 public key: not an uncompressed point");
			const ecdh = createECDH(CURVE);
			ecdh.setPrivateKey(privateKey);
			try {
				// OpenSSL checks the point is on the curve; the secret is X (RFC 8422 §5.10).
				return bytes(ecdh.computeSecret(peerPublicKey));
			} catch {
				throw new RangeError("invalid P-256 public key: not a point on the curve");
			}
		},

		ecdsaSign(privateKey: Uint8Array, message: Uint8Array): Uint8Array {
			// dsaEncoding "der" is the default: ECDSA-Sig-Value (RFC 8422 §5.4).
			return bytes(sign("sha256", message, signingKey(privateKey)));
		},

		ecdsaVerify(publicKey: Uint8Array, message: Uint8Array, derSignature: Uint8Array): boolean {
			if (!isUncompressedPoint(publicKey)) return false;
			try {
				const key = verifyingKey(publicKey);
				// OpenSSL re-encodes the parsed signature and rejects it unless that gives the same
				// bytes, so it is as strict about DER as noble.
				return verify("sha256", message, key, derSignature);
			} catch {
				return false;
			}
		},

		aesCcm(key: Uint8Array, tagLength: number, nonceLength: number): Aead {
			return new NodeCcm(key, tagLength, nonceLength);
		},
	};
}
