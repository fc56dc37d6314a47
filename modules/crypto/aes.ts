/*
 * AES block encryption on @noble/ciphers' round function, for code that encrypts a block per
 * datagram (JPY headers, CCM): the key is expanded once, and blocks are processed in place with
 * no per-block views or buffers (noble's own modes allocate per call, which XS hot paths avoid).
 */

import { unsafe } from "@noble/ciphers/aes.js";

export class AesBlock {
	readonly #xk: Uint32Array;

	/** `key`: 16, 24 or 32 bytes. */
	constructor(key: Uint8Array) {
		this.#xk = unsafe.expandKeyLE(key.slice());
	}

	/** Encrypts the 16 bytes of `src` at `srcOffset` into `dst` at `dstOffset` (may be the same place). */
	encrypt(src: Uint8Array, srcOffset: number, dst: Uint8Array, dstOffset: number): void {
		const r = unsafe.encrypt(this.#xk, word(src, srcOffset), word(src, srcOffset + 4), word(src, srcOffset + 8), word(src, srcOffset + 12));
		put(dst, dstOffset, r.s0);
		put(dst, dstOffset + 4, r.s1);
		put(dst, dstOffset + 8, r.s2);
		put(dst, dstOffset + 12, r.s3);
	}

	/** Overwrites the expanded key. */
	destroy(): void {
		this.#xk.fill(0);
	}
}

/* noble's round function works on little-endian words. */
function word(b: Uint8Array, o: number): number {
	return (b[o]! | (b[o + 1]! << 8) | (b[o + 2]! << 16) | (b[o + 3]! << 24)) >>> 0;
}

function put(b: Uint8Array, o: number, w: number): void {
	b[o] = w & 0xff;
	b[o + 1] = (w >>> 8) & 0xff;
	b[o + 2] = (w >>> 16) & 0xff;
	b[o + 3] = (w >>> 24) & 0xff;
}
