/*
 * modules/crypto/aes-ccm.ts against Node's OpenSSL AES-CCM, byte for byte in both directions:
 * whatever we seal OpenSSL opens to the same plaintext, and whatever OpenSSL seals we open.
 * Node-only (node:crypto); the shared suite (test/suites/aes-ccm.suite.ts) carries the RFC 3610
 * vectors into XS.
 */

import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { createCipheriv, createDecipheriv, type CipherCCMTypes } from "node:crypto";
import { SeededRandom } from "../hosts/xs/seeded-random.js";
import { AesCcm } from "../modules/crypto/aes-ccm.js";

/* What OpenSSL accepts, and RFC 3610 §2 allows: M even in 4..16, nonce 7..13 (L = 2..8). */
const TAG_LENGTHS = [4, 6, 8, 10, 12, 14, 16];
const CIPHERS: Record<number, CipherCCMTypes> = { 16: "aes-128-ccm", 24: "aes-192-ccm", 32: "aes-256-ccm" };

function nodeSeal(key: Uint8Array, m: number, nonce: Uint8Array, aad: Uint8Array, pt: Uint8Array): Uint8Array {
	const c = createCipheriv(CIPHERS[key.length]!, key, nonce, { authTagLength: m });
	c.setAAD(aad, { plaintextLength: pt.length });
	return Buffer.concat([c.update(pt), c.final(), c.getAuthTag()]);
}

function nodeOpen(key: Uint8Array, m: number, nonce: Uint8Array, aad: Uint8Array, sealed: Uint8Array): Uint8Array | undefined {
	const n = sealed.length - m;
	const d = createDecipheriv(CIPHERS[key.length]!, key, nonce, { authTagLength: m });
	d.setAuthTag(sealed.subarray(n));
	d.setAAD(aad, { plaintextLength: n });
	const pt = d.update(sealed.subarray(0, n));
	try {
		d.final();
	} catch {
		return undefined;
	}
	return pt;
}

/* Compares as plain Uint8Arrays, whatever Node handed back (Buffer). */
const bytes = (b: Uint8Array | undefined): Uint8Array | undefined => (b === undefined ? undefined : new Uint8Array(b));

function crossCheck(key: Uint8Array, m: number, nonce: Uint8Array, aad: Uint8Array, pt: Uint8Array, what: string): void {
	const ccm = new AesCcm(key, m, nonce.length);
	const ours = ccm.seal(nonce, aad, pt);
	const theirs = nodeSeal(key, m, nonce, aad, pt);
	assert.deepEqual(ours, bytes(theirs), `${what}: seal`);
	assert.deepEqual(bytes(nodeOpen(key, m, nonce, aad, ours)), pt, `${what}: OpenSSL opens ours`);
	assert.deepEqual(ccm.open(nonce, aad, theirs), pt, `${what}: we open OpenSSL's`);
}

describe("AES-CCM against node:crypto", () => {
	it("500 random cases: all M, nonce lengths 7..13, key sizes 16/24/32, lengths 0..100", () => {
		const r = new SeededRandom(6655);
		for (let i = 0; i < 500; i++) {
			const key = r.bytes([16, 16, 24, 32][r.int(4)]!);
			// Weighted toward the DTLS shape (M = 8 and 16 with 12-byte nonces) without neglecting the rest.
			const m = r.int(3) === 0 ? [8, 16][r.int(2)]! : TAG_LENGTHS[r.int(TAG_LENGTHS.length)]!;
			const nonce = r.bytes(r.int(3) === 0 ? 12 : 7 + r.int(7));
			const aad = r.bytes(r.int(4) === 0 ? 0 : r.int(70));
			const pt = r.bytes(r.int(5) === 0 ? 16 * r.int(4) : r.int(101));
			crossCheck(key, m, nonce, aad, pt, `case ${i} (M=${m}, nonce ${nonce.length}, aad ${aad.length}, pt ${pt.length})`);
		}
	});

	it("l(a) at the 2-byte / 0xFFFE boundary and long messages that carry the counter", () => {
		const r = new SeededRandom(3610);
		const key = r.bytes(16);
		for (const la of [0xfeff, 0xff00, 0xff01, 0x10000, 0x12345]) {
			crossCheck(key, 8, r.bytes(12), r.bytes(la), r.bytes(37), `l(a) = ${la}`);
		}
		// 4096 bytes = 256 blocks: the counter's low byte wraps; 70000 needs L >= 3.
		for (const [n, nonceLength] of [
			[4095, 13],
			[4096, 13],
			[4113, 13],
			[65535, 13],
			[70000, 12],
			[70000, 7],
		] as const) {
			crossCheck(key, 16, r.bytes(nonceLength), r.bytes(5), r.bytes(n), `${n}-byte message, nonce ${nonceLength}`);
		}
	});

	it("OpenSSL's sealed records with a bit flipped are refused by us, ours by OpenSSL", () => {
		const r = new SeededRandom(7251);
		for (let i = 0; i < 100; i++) {
			const key = r.bytes(16);
			const nonce = r.bytes(12);
			const aad = r.bytes(13);
			const pt = r.bytes(r.int(60));
			const ccm = new AesCcm(key, 8, 12);
			const theirs = nodeSeal(key, 8, nonce, aad, pt);
			const bit = r.int(theirs.length * 8);
			const flipped = Uint8Array.from(theirs);
			flipped[bit >> 3] = flipped[bit >> 3]! ^ (1 << (bit & 7));
			assert.equal(ccm.open(nonce, aad, flipped), undefined, `case ${i}: we refuse`);
			const ours = ccm.seal(nonce, aad, pt);
			ours[bit >> 3] = ours[bit >> 3]! ^ (1 << (bit & 7));
			assert.equal(nodeOpen(key, 8, nonce, aad, ours), undefined, `case ${i}: OpenSSL refuses`);
		}
	});
});
