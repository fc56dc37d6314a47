/*
 * The CryptoProvider on Moddable's native crypto, for the device apps: SHA-256 on crypt's Digest,
 * HMAC built on it (RFC 2104), AES-CCM on our modules/crypto/aes-ccm.ts over crypt's BlockCipher
 * (the manifest maps modules/crypto/aes to hosts/moddable/crypto/aes), and P-256 on the SDK's
 * native EC arithmetic (arith/ec.c: xs_ec2_mul, xs_ec2_mul2; modular.c: the inverse mod n).
 * The SDK's own etc/ecdsa.js and etc/curve.js are not used: they check neither the peer's point
 * nor r and s, draw nonces from the `rng` module (RC4 seeded by c_rand), and parse BER leniently.
 * Here every check the interface promises is done in this file, and all randomness comes from the
 * injected host RNG (the platform's cryptographic RNG).
 *
 * Signatures are randomised ECDSA (FIPS 186-5 §6.4.1 with a fresh k per signature), not RFC 6979:
 * they verify everywhere, but are not byte-equal to the deterministic vectors.
 * The native scalar multiplication is not constant-time (a double-and-add over XS BigInts); that is
 * the SDK's own TLS, and a timing side channel on a pledge's one-shot handshake keys is accepted.
 */

import { Digest } from "crypt";
import EC from "ec";
import ECPoint from "ecp";
import Modular from "modular";
import { ecdsaDerToRaw, ecdsaRawToDer } from "../../../modules/asn1/der.js";
import { AesCcm } from "../../../modules/crypto/aes-ccm.js";
import type { CryptoProvider, EcKeyPair } from "../../../modules/crypto/provider.js";

/** XS's BigInt <-> ArrayBuffer conversions (unsigned, big-endian by default), typed here. */
const XBigInt = BigInt as unknown as { fromArrayBuffer(buffer: ArrayBuffer): bigint };
const XArrayBuffer = ArrayBuffer as unknown as { fromBigInt(value: bigint, minBytes: number): ArrayBuffer };

/** SEC 2 §2.4.2 (FIPS 186-5 D.1.2.3): secp256r1. */
const P = 0xffffffff00000001000000000000000000000000ffffffffffffffffffffffffn;
const A = P - 3n;
const B = 0x5ac635d8aa3a93e7b3ebbd55769886bc651d06b0cc53b0f63bce3c3e27d2604bn;
const GX = 0x6b17d1f2e12c4247f8bce6e563a440f277037d812deb33a0f4a13945d898c296n;
const GY = 0x4fe342e2fe1a7f9b8ee7eb4a7c0f9e162bce33576b315ececbb6406837bf51f5n;
const N = 0xffffffff00000000ffffffffffffffffbce6faada7179e84f3b9cac2fc632551n;

/** SEC 1 §2.3.3: an uncompressed point is 0x04 || X || Y; RFC 8422 §5.4.1 allows only this form. */
const UNCOMPRESSED = 0x04;
const SCALAR_LENGTH = 32;
const POINT_LENGTH = 1 + 2 * SCALAR_LENGTH;
/** FIPS 186-5 A.2.1 ("extra random bits"): n + 64 bits mapped onto [1, n-1], a negligible bias. */
const SEED_LENGTH = SCALAR_LENGTH + 16;
/** RFC 2104 §2: SHA-256's block size B. */
const HMAC_BLOCK = 64;
const IPAD = 0x36;
const OPAD = 0x5c;

interface Point {
	readonly X: bigint;
	readonly Y: bigint;
	isZero(): boolean;
}

function toBigInt(bytes: Uint8Array): bigint {
	return XBigInt.fromArrayBuffer(bytes.slice().buffer);
}

function toBytes(value: bigint): Uint8Array {
	return new Uint8Array(XArrayBuffer.fromBigInt(value, SCALAR_LENGTH));
}

/** The private scalar, or undefined unless it is 32 bytes in [1, n-1] (SEC 1 §3.2.1). */
function scalar(privateKey: Uint8Array): bigint | undefined {
	if (privateKey.length !== SCALAR_LENGTH) return undefined;
	const d = toBigInt(privateKey);
	return d > 0n && d < N ? d : undefined;
}

/**
 * Digest.write reads any byte view natively (xsmcGetBufferReadable takes Uint8Arrays at their
 * offset), though the SDK's typings name only ArrayBuffer: no copy needed.
 */
function write(digest: Digest, bytes: Uint8Array | ArrayBuffer): void {
	digest.write(bytes as ArrayBuffer);
}

function digestOf(algorithm: "SHA1" | "SHA256", data: Uint8Array): Uint8Array {
	const digest = new Digest(algorithm);
	write(digest, data);
	return new Uint8Array(digest.close());
}

const sha256 = (data: Uint8Array): Uint8Array => digestOf("SHA256", data);
const sha1 = (data: Uint8Array): Uint8Array => digestOf("SHA1", data);

/** `random` fills the array it is given with cryptographically secure bytes and returns it. */
export function createNativeCrypto(random: (bytes: Uint8Array) => Uint8Array): CryptoProvider {
	const ec = new EC(A, B, P);
	const G = new ECPoint(GX, GY);
	const modN = new Modular(N);

	/** A uniformly drawn scalar in [1, n-1] (FIPS 186-5 A.2.1). */
	const randomScalar = (): bigint => (toBigInt(random(new Uint8Array(SEED_LENGTH))) % (N - 1n)) + 1n;

	/** SEC 1 §3.2.2.1 for P-256 (cofactor 1): uncompressed, coordinates below p, on the curve. */
	const point = (bytes: Uint8Array): Point | undefined => {
		if (bytes.length !== POINT_LENGTH || bytes[0] !== UNCOMPRESSED) return undefined;
		const x = toBigInt(bytes.subarray(1, 1 + SCALAR_LENGTH));
		const y = toBigInt(bytes.subarray(1 + SCALAR_LENGTH));
		if (x >= P || y >= P) return undefined;
		if ((y * y - ((x * x + A) * x + B)) % P !== 0n) return undefined;
		return new ECPoint(x, y) as Point;
	};

	const encodePoint = (p: Point): Uint8Array => {
		const out = new Uint8Array(POINT_LENGTH);
		out[0] = UNCOMPRESSED;
		out.set(toBytes(p.X), 1);
		out.set(toBytes(p.Y), 1 + SCALAR_LENGTH);
		return out;
	};

	return {
		name: "moddable-native",

		sha256,
		sha1,

		hmacSha256(key: Uint8Array, data: Uint8Array): Uint8Array {
			const pad = new Uint8Array(HMAC_BLOCK);
			pad.set(key.length > HMAC_BLOCK ? sha256(key) : key);
			for (let i = 0; i < HMAC_BLOCK; i++) pad[i] = pad[i]! ^ IPAD;
			const inner = new Digest("SHA256");
			write(inner, pad);
			write(inner, data);
			const innerHash = inner.close();
			for (let i = 0; i < HMAC_BLOCK; i++) pad[i] = pad[i]! ^ IPAD ^ OPAD;
			const outer = new Digest("SHA256");
			write(outer, pad);
			write(outer, innerHash);
			pad.fill(0);
			return new Uint8Array(outer.close());
		},

		ecGenerate(): EcKeyPair {
			const d = randomScalar();
			return { privateKey: toBytes(d), publicKey: encodePoint(ec.mul(G, d) as Point) };
		},

		ecdh(privateKey: Uint8Array, peerPublicKey: Uint8Array): Uint8Array {
			const d = scalar(privateKey);
			if (d === undefined) throw new RangeError("invalid P-256 private key");
			const q = point(peerPublicKey);
			if (q === undefined) throw new RangeError("invalid P-256 public key: not an uncompressed point on the curve");
			const shared = ec.mul(q, d) as Point;
			// Unreachable for a valid point and d in [1, n-1] (prime order), checked all the same.
			if (shared.isZero()) throw new RangeError("invalid P-256 public key: shared point at infinity");
			// RFC 8422 §5.10: the premaster secret is the X coordinate alone.
			return toBytes(shared.X);
		},

		ecdsaSign(privateKey: Uint8Array, message: Uint8Array): Uint8Array {
			const d = scalar(privateKey);
			if (d === undefined) throw new RangeError("invalid P-256 private key");
			// FIPS 186-5 §6.4.1: e is the hash as an integer (256 bits, the size of n: no truncation).
			const e = toBigInt(sha256(message));
			for (;;) {
				const k = randomScalar();
				const r = (ec.mul(G, k) as Point).X % N;
				if (r === 0n) continue;
				const s = (modN.mulinv(k) * ((e + r * d) % N)) % N;
				if (s === 0n) continue;
				const raw = new Uint8Array(2 * SCALAR_LENGTH);
				raw.set(toBytes(r), 0);
				raw.set(toBytes(s), SCALAR_LENGTH);
				return ecdsaRawToDer(raw);
			}
		},

		ecdsaVerify(publicKey: Uint8Array, message: Uint8Array, derSignature: Uint8Array): boolean {
			const q = point(publicKey);
			if (q === undefined) return false;
			let raw: Uint8Array;
			try {
				// Strict DER: minimal lengths and integers, no trailing bytes, as OpenSSL and noble.
				raw = ecdsaDerToRaw(derSignature);
			} catch {
				return false;
			}
			const r = toBigInt(raw.subarray(0, SCALAR_LENGTH));
			const s = toBigInt(raw.subarray(SCALAR_LENGTH));
			// FIPS 186-5 §6.4.2 step 2: r and s in [1, n-1].
			if (r === 0n || r >= N || s === 0n || s >= N) return false;
			const e = toBigInt(sha256(message));
			const w = modN.mulinv(s);
			const R = ec.mul2(G, (e * w) % N, q as ECPoint, (r * w) % N) as Point;
			return !R.isZero() && R.X % N === r;
		},

		aesCcm(key: Uint8Array, tagLength: number, nonceLength: number) {
			return new AesCcm(key, tagLength, nonceLength);
		},
	};
}
