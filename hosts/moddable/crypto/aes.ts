/*
 * AesBlock on Moddable's native AES (crypt's BlockCipher), standing in on the device for
 * modules/crypto/aes.ts (noble's AES in JS): the manifest maps specifier "modules/crypto/aes" here.
 * Same class, same contract; one 16-byte scratch buffer per instance, so a block costs no
 * allocation (BlockCipher works on ArrayBuffers only, not views).
 */

import * as crypt from "crypt";

/** crypt's AES (the SDK's typings/crypt.d.ts declares only Digest, so the class is typed here). */
interface BlockCipher {
	encrypt(data: ArrayBuffer, result?: ArrayBuffer): ArrayBuffer;
}
const { BlockCipher } = crypt as unknown as { BlockCipher: new (cipher: "AES", key: ArrayBuffer) => BlockCipher };

export class AesBlock {
	#cipher: BlockCipher | undefined;
	readonly #block: ArrayBuffer;
	readonly #bytes: Uint8Array;

	/** `key`: 16, 24 or 32 bytes. */
	constructor(key: Uint8Array) {
		if (key.length !== 16 && key.length !== 24 && key.length !== 32) throw new RangeError("AES key must be 16, 24 or 32 bytes");
		this.#cipher = new BlockCipher("AES", key.slice().buffer);
		this.#block = new ArrayBuffer(16);
		this.#bytes = new Uint8Array(this.#block);
	}

	/** Encrypts the 16 bytes of `src` at `srcOffset` into `dst` at `dstOffset` (may be the same place). */
	encrypt(src: Uint8Array, srcOffset: number, dst: Uint8Array, dstOffset: number): void {
		const cipher = this.#cipher;
		if (cipher === undefined) throw new Error("AesBlock destroyed");
		const b = this.#bytes;
		for (let i = 0; i < 16; i++) b[i] = src[srcOffset + i]!;
		cipher.encrypt(this.#block, this.#block);
		for (let i = 0; i < 16; i++) dst[dstOffset + i] = b[i]!;
	}

	/** Drops the expanded key (the native cipher frees it when collected). */
	destroy(): void {
		this.#bytes.fill(0);
		this.#cipher = undefined;
	}
}
Object.freeze(AesBlock.prototype);
