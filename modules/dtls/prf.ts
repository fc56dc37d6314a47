/*
 * The TLS 1.2 key schedule for TLS_ECDHE_ECDSA_WITH_AES_128_CCM_8 (DTLS 1.2 takes it from TLS 1.2, RFC
 * 6347 §4): the PRF with P_SHA256 (RFC 5246 §5: the PRF of every TLS 1.2 suite that names no other;
 * the CCM suites of RFC 6655 and RFC 7251 name none), the master secret (RFC 5246 §8.1) or extended
 * master secret (RFC 7627 §4), the key block (RFC 5246 §6.3) and Finished's verify_data (§7.4.9).
 * Runs once per handshake, so it allocates freely; HMAC comes from the CryptoProvider.
 */

import type { CryptoProvider } from "../crypto/provider.js";
import { concatBytes } from "../util/hex.js";

/** RFC 5246 §8.1: "the master secret is always exactly 48 bytes in length". */
export const MASTER_SECRET_LENGTH = 48;
/** RFC 5246 §7.4.9: verify_data_length is 12 unless the cipher suite says otherwise (CCM does not). */
export const VERIFY_DATA_LENGTH = 12;
/** RFC 5246 §7.4.1.2: ClientHello.random and ServerHello.random are 32 bytes each. */
export const RANDOM_LENGTH = 32;
/** The PRF hash's output: SHA-256, so session_hash (RFC 7627 §3) and the Finished hash are 32 bytes. */
export const HASH_LENGTH = 32;

/* RFC 6655 §3 with RFC 5246 §6.3 and RFC 5288 §3: an AEAD suite has no MAC keys (mac_key_length 0);
 * AES_128_CCM_8 has enc_key_length 16 and fixed_iv_length 4 (the implicit "salt" of the nonce). */
export const CCM8_KEY_LENGTH = 16;
export const CCM8_FIXED_IV_LENGTH = 4;
/** Bytes of key_block that AES_128_CCM_8 consumes: two keys and two fixed IVs. */
export const KEY_BLOCK_LENGTH_CCM8 = 2 * CCM8_KEY_LENGTH + 2 * CCM8_FIXED_IV_LENGTH;

/** RFC 5246 §7.4.9 finished_label values. */
export type FinishedLabel = "client finished" | "server finished";

/** Key material for one connection (RFC 5246 §6.3), client and server directions. */
export interface KeyMaterialCcm8 {
	clientWriteKey: Uint8Array;
	serverWriteKey: Uint8Array;
	clientWriteIv: Uint8Array;
	serverWriteIv: Uint8Array;
}

/** RFC 5246 §5: labels are ASCII strings, used without a length byte or trailing NUL. */
function ascii(label: string): Uint8Array {
	const out = new Uint8Array(label.length);
	for (let i = 0; i < label.length; i++) {
		const c = label.charCodeAt(i);
		if (c > 0x7e || c < 0x20) throw new RangeError("PRF label must be printable ASCII");
		out[i] = c;
	}
	return out;
}

function expectLength(what: string, value: Uint8Array, length: number): void {
	if (value.length !== length) throw new RangeError(`${what} must be ${length} bytes, got ${value.length}`);
}

/**
 * PRF(secret, label, seed) = P_SHA256(secret, label + seed), first `length` bytes (RFC 5246 §5):
 *   P_hash(secret, seed) = HMAC(secret, A(1) + seed) + HMAC(secret, A(2) + seed) + ...
 *   A(0) = seed, A(i) = HMAC(secret, A(i-1)).
 */
export function prf(crypto: CryptoProvider, secret: Uint8Array, label: string, seed: Uint8Array, length: number): Uint8Array {
	if (!Number.isInteger(length) || length < 0) throw new RangeError("PRF length must be a non-negative integer");
	const labelSeed = concatBytes([ascii(label), seed]);
	const out = new Uint8Array(length);
	let a = labelSeed;
	for (let pos = 0; pos < length; ) {
		a = crypto.hmacSha256(secret, a);
		const block = crypto.hmacSha256(secret, concatBytes([a, labelSeed]));
		const n = Math.min(block.length, length - pos);
		out.set(n === block.length ? block : block.subarray(0, n), pos);
		pos += n;
	}
	return out;
}

/** RFC 5246 §8.1: PRF(pre_master_secret, "master secret", ClientHello.random + ServerHello.random)[0..47]. */
export function masterSecret(crypto: CryptoProvider, preMaster: Uint8Array, clientRandom: Uint8Array, serverRandom: Uint8Array): Uint8Array {
	expectLength("client random", clientRandom, RANDOM_LENGTH);
	expectLength("server random", serverRandom, RANDOM_LENGTH);
	return prf(crypto, preMaster, "master secret", concatBytes([clientRandom, serverRandom]), MASTER_SECRET_LENGTH);
}

/**
 * RFC 7627 §4: PRF(pre_master_secret, "extended master secret", session_hash)[0..47], where
 * session_hash is the hash of the handshake messages up to and including ClientKeyExchange (§3).
 */
export function extendedMasterSecret(crypto: CryptoProvider, preMaster: Uint8Array, sessionHash: Uint8Array): Uint8Array {
	expectLength("session hash", sessionHash, HASH_LENGTH);
	return prf(crypto, preMaster, "extended master secret", sessionHash, MASTER_SECRET_LENGTH);
}

/**
 * RFC 5246 §6.3: PRF(master_secret, "key expansion", server_random + client_random). Note the order:
 * server first here, client first in the master secret.
 */
export function keyBlock(crypto: CryptoProvider, master: Uint8Array, serverRandom: Uint8Array, clientRandom: Uint8Array, length: number): Uint8Array {
	expectLength("master secret", master, MASTER_SECRET_LENGTH);
	expectLength("server random", serverRandom, RANDOM_LENGTH);
	expectLength("client random", clientRandom, RANDOM_LENGTH);
	return prf(crypto, master, "key expansion", concatBytes([serverRandom, clientRandom]), length);
}

/**
 * RFC 5246 §7.4.9: PRF(master_secret, finished_label, Hash(handshake_messages))[0..11]; the caller
 * passes the SHA-256 of the handshake messages (for DTLS with RFC 6347 §4.2.6's rules).
 */
export function verifyData(crypto: CryptoProvider, master: Uint8Array, label: FinishedLabel, handshakeHash: Uint8Array): Uint8Array {
	expectLength("master secret", master, MASTER_SECRET_LENGTH);
	expectLength("handshake hash", handshakeHash, HASH_LENGTH);
	return prf(crypto, master, label, handshakeHash, VERIFY_DATA_LENGTH);
}

/**
 * Splits a key_block (at least KEY_BLOCK_LENGTH_CCM8 bytes) in RFC 5246 §6.3's order, with the
 * MAC keys empty for this AEAD suite: client_write_key, server_write_key, client_write_IV,
 * server_write_IV. The IVs are the 4-byte implicit nonce part (RFC 6655 §3, RFC 5288 §3).
 * Copies, so that the caller can wipe the key block.
 */
export function keyMaterialCcm8(block: Uint8Array): KeyMaterialCcm8 {
	if (block.length < KEY_BLOCK_LENGTH_CCM8) throw new RangeError(`key block must be at least ${KEY_BLOCK_LENGTH_CCM8} bytes`);
	let o = 0;
	const take = (n: number): Uint8Array => block.slice(o, (o += n));
	const clientWriteKey = take(CCM8_KEY_LENGTH);
	const serverWriteKey = take(CCM8_KEY_LENGTH);
	const clientWriteIv = take(CCM8_FIXED_IV_LENGTH);
	const serverWriteIv = take(CCM8_FIXED_IV_LENGTH);
	return { clientWriteKey, serverWriteKey, clientWriteIv, serverWriteIv };
}
