/*
 * AES-CCM (RFC 3610), for DTLS 1.2 TLS_ECDHE_ECDSA_WITH_AES_128_CCM_8 (RFC 7251 over RFC 6655:
 * 12-byte nonce, so L = 3, and an 8-byte tag) and any other M/L the RFC allows.
 *
 * Construction (RFC 3610 §2), with M the tag length and L the size of the length field, the nonce
 * being 15 - L bytes:
 *
 *   Authentication (§2.2): CBC-MAC over the blocks
 *     B_0 = Flags || Nonce || l(m)       Flags = Adata<<6 | ((M-2)/2)<<3 | (L-1), l(m) in L bytes
 *     then, if there is associated data, l(a) encoded as 2 bytes (l(a) < 2^16 - 2^8) or as
 *     0xFFFE || 4 bytes (the 0xFFFF || 8 bytes form, l(a) >= 2^32, is refused: no typed array
 *     this runs on gets that large), followed by a itself, zero-padded to a block boundary,
 *     then the message m, zero-padded to a block boundary;
 *     X_1 = E(B_0), X_{i+1} = E(X_i xor B_i), and T is the first M bytes of the last X.
 *   Encryption (§2.3): CTR mode with A_i = (L-1) || Nonce || i (i in L bytes); the message is
 *     XORed with E(A_1), E(A_2), ... and the tag U = T xor first M bytes of E(A_0).
 *   Decryption (§2.5): decrypt, recompute T, compare with U xor E(A_0); the plaintext must not be
 *   released unless they match.
 *
 * The MAC and the keystream both walk the message in the same 16-byte blocks, so each block is
 * read once: absorbed into the MAC before it is overwritten (seal) or after it is decrypted (open).
 * That gives in-place operation for free and needs only three preallocated scratch blocks, so
 * sealInto/openInto allocate nothing (XS hot paths run a record per datagram).
 */

import { AesBlock } from "./aes.js";

/** RFC 3610 §2: valid M (authentication field size, octets). */
const TAG_LENGTHS: readonly number[] = Object.freeze([4, 6, 8, 10, 12, 14, 16]);
/** RFC 3610 §2: valid L (length field size, octets) is 2..8 (1 is reserved); nonce is 15 - L. */
const MIN_L = 2;
const MAX_L = 8;
const BLOCK = 16;
/** RFC 3610 §2.2: l(a) below 2^16 - 2^8 is encoded in 2 octets. */
const AAD_SHORT_LIMIT = 0xff00;
/** RFC 3610 §2.2: 2^16 - 2^8 <= l(a) < 2^32 is encoded as 0xFF 0xFE then 4 octets. */
const AAD_LONG_LIMIT = 0x1_0000_0000;
/** RFC 3610 §2.2: the Adata bit of the B_0 flags byte. */
const FLAG_ADATA = 0x40;

export class AesCcm {
	readonly tagLength: number;
	readonly nonceLength: number;
	readonly #aes: AesBlock;
	readonly #l: number;
	/** Largest message length l(m) that L octets can encode (RFC 3610 §2: 0 <= l(m) < 2^(8L)). */
	readonly #maxMessage: number;
	/** CBC-MAC state X_i. */
	readonly #x = new Uint8Array(BLOCK);
	/** Counter block A_i. */
	readonly #a = new Uint8Array(BLOCK);
	/** Keystream block E(A_i); also holds the encoded l(a) before the keystream is needed. */
	readonly #s = new Uint8Array(BLOCK);

	/**
	 * `key`: 16, 24 or 32 bytes. `tagLength`: M, one of 4, 6, 8, 10, 12, 14, 16.
	 * `nonceLength`: 15 - L, so 7..13 (13 for RFC 3610's own vectors, 12 for DTLS/TLS CCM).
	 */
	constructor(key: Uint8Array, tagLength: number, nonceLength: number) {
		if (!TAG_LENGTHS.includes(tagLength)) throw new RangeError(`AES-CCM tag length must be one of ${TAG_LENGTHS.join(", ")}`);
		const l = 15 - nonceLength;
		if (!Number.isInteger(nonceLength) || l < MIN_L || l > MAX_L) {
			throw new RangeError(`AES-CCM nonce length must be ${15 - MAX_L}..${15 - MIN_L}`);
		}
		this.tagLength = tagLength;
		this.nonceLength = nonceLength;
		this.#l = l;
		// For L >= 7 the bound exceeds any length a typed array can have.
		this.#maxMessage = l >= 7 ? Number.MAX_SAFE_INTEGER : 2 ** (8 * l) - 1;
		this.#aes = new AesBlock(key);
	}

	/**
	 * Writes ciphertext || tag (plaintext.length + M bytes) into `out` at `outOffset`; returns the
	 * byte count. `out` may be the plaintext's own storage at the same position (in place: the
	 * plaintext's buffer needs M bytes of room after it), or disjoint from it; a partial overlap at
	 * another offset is not supported. `nonce` and `aad` are read before anything is written.
	 * A nonce must never be used twice with one key (RFC 3610 §7).
	 */
	sealInto(nonce: Uint8Array, aad: Uint8Array, plaintext: Uint8Array, out: Uint8Array, outOffset = 0): number {
		this.#check(nonce, aad);
		const n = plaintext.length;
		const m = this.tagLength;
		if (n > this.#maxMessage) throw new RangeError("AES-CCM plaintext too long for the nonce length");
		if (!Number.isInteger(outOffset) || outOffset < 0 || out.length - outOffset < n + m) throw new RangeError("AES-CCM output buffer too small");
		this.#start(nonce, aad, n);
		const x = this.#x;
		const s = this.#s;
		for (let i = 0; i < n; i += BLOCK) {
			this.#nextKeystream();
			const k = Math.min(BLOCK, n - i);
			for (let j = 0; j < k; j++) {
				const p = plaintext[i + j]!;
				x[j] = x[j]! ^ p;
				out[outOffset + i + j] = p ^ s[j]!;
			}
			this.#aes.encrypt(x, 0, x, 0);
		}
		this.#finalKeystream();
		for (let j = 0; j < m; j++) out[outOffset + n + j] = x[j]! ^ s[j]!;
		return n + m;
	}

	/**
	 * Verifies and decrypts `sealed` (ciphertext || tag) into `out` at `outOffset`; returns the
	 * plaintext length, or -1 if `sealed` does not authenticate (or is too short or too long to be a
	 * sealed message), in which case every byte written to `out` has been zeroed again. Never throws
	 * for bad input data. `out` may be `sealed`'s own storage at the same position (in place; the tag
	 * bytes after the ciphertext are left as they were), or disjoint from it.
	 */
	openInto(nonce: Uint8Array, aad: Uint8Array, sealed: Uint8Array, out: Uint8Array, outOffset = 0): number {
		this.#check(nonce, aad);
		const m = this.tagLength;
		const n = sealed.length - m;
		if (n < 0 || n > this.#maxMessage) return -1;
		if (!Number.isInteger(outOffset) || outOffset < 0 || out.length - outOffset < n) throw new RangeError("AES-CCM output buffer too small");
		this.#start(nonce, aad, n);
		const x = this.#x;
		const s = this.#s;
		for (let i = 0; i < n; i += BLOCK) {
			this.#nextKeystream();
			const k = Math.min(BLOCK, n - i);
			for (let j = 0; j < k; j++) {
				const p = sealed[i + j]! ^ s[j]!;
				out[outOffset + i + j] = p;
				x[j] = x[j]! ^ p;
			}
			this.#aes.encrypt(x, 0, x, 0);
		}
		this.#finalKeystream();
		// Constant time in the tag's contents: no early exit on the first differing byte.
		let diff = 0;
		for (let j = 0; j < m; j++) diff |= x[j]! ^ s[j]! ^ sealed[n + j]!;
		if (diff !== 0) {
			out.fill(0, outOffset, outOffset + n);
			return -1;
		}
		return n;
	}

	/** sealInto a new array: ciphertext || tag. */
	seal(nonce: Uint8Array, aad: Uint8Array, plaintext: Uint8Array): Uint8Array {
		const out = new Uint8Array(plaintext.length + this.tagLength);
		this.sealInto(nonce, aad, plaintext, out, 0);
		return out;
	}

	/** openInto a new array; undefined if `sealed` does not authenticate. */
	open(nonce: Uint8Array, aad: Uint8Array, sealed: Uint8Array): Uint8Array | undefined {
		if (sealed.length < this.tagLength) return undefined;
		const out = new Uint8Array(sealed.length - this.tagLength);
		return this.openInto(nonce, aad, sealed, out, 0) < 0 ? undefined : out;
	}

	/** Overwrites the expanded key and the scratch state. */
	destroy(): void {
		this.#aes.destroy();
		this.#x.fill(0);
		this.#a.fill(0);
		this.#s.fill(0);
	}

	/** Wrong nonce or aad sizes are the caller's mistakes, not bad packets: thrown before any work. */
	#check(nonce: Uint8Array, aad: Uint8Array): void {
		if (nonce.length !== this.nonceLength) throw new RangeError(`AES-CCM nonce must be ${this.nonceLength} bytes`);
		if (aad.length >= AAD_LONG_LIMIT) throw new RangeError("AES-CCM associated data too long");
	}

	/**
	 * Runs the CBC-MAC over B_0 and the associated data (RFC 3610 §2.2),
	 * and sets A to A_0 (§2.3). Leaves X ready for the first message block.
	 */
	#start(nonce: Uint8Array, aad: Uint8Array, messageLength: number): void {
		const la = aad.length;
		const l = this.#l;
		const x = this.#x;
		const a = this.#a;
		// B_0 = Flags || Nonce || l(m), then X_1 = E(B_0).
		x[0] = (la > 0 ? FLAG_ADATA : 0) | (((this.tagLength - 2) / 2) << 3) | (l - 1);
		x.set(nonce, 1);
		let len = messageLength;
		for (let k = BLOCK - 1; k >= BLOCK - l; k--) {
			x[k] = len % 256;
			len = Math.floor(len / 256);
		}
		this.#aes.encrypt(x, 0, x, 0);
		// A_0 = (L-1) || Nonce || 0 (§2.3: the flags byte carries only L').
		a.fill(0);
		a[0] = l - 1;
		a.set(nonce, 1);
		if (la === 0) return;
		// l(a) encoding (§2.2), staged in the keystream block, which is not in use yet.
		const s = this.#s;
		let hl: number;
		if (la < AAD_SHORT_LIMIT) {
			s[0] = la >>> 8;
			s[1] = la & 0xff;
			hl = 2;
		} else {
			s[0] = 0xff;
			s[1] = 0xfe;
			s[2] = la >>> 24;
			s[3] = (la >>> 16) & 0xff;
			s[4] = (la >>> 8) & 0xff;
			s[5] = la & 0xff;
			hl = 6;
		}
		const pos = this.#absorb(aad, this.#absorb(s, 0, hl, 0), la, 0);
		// Zero padding to the block boundary XORs nothing in; just finish the block.
		if (pos !== 0) this.#aes.encrypt(x, 0, x, 0);
	}

	/**
	 * CBC-MACs `length` bytes of `src` (from `offset`) into X, continuing a block that already
	 * holds `pos` bytes; returns how many bytes the unfinished block now holds.
	 */
	#absorb(src: Uint8Array, pos: number, length: number, offset: number): number {
		const x = this.#x;
		for (let i = 0; i < length; i++) {
			x[pos] = x[pos]! ^ src[offset + i]!;
			pos++;
			if (pos === BLOCK) {
				this.#aes.encrypt(x, 0, x, 0);
				pos = 0;
			}
		}
		return pos;
	}

	/** Steps A_i to A_{i+1} (big-endian in its last L bytes) and sets S to E(A_{i+1}). */
	#nextKeystream(): void {
		const a = this.#a;
		for (let k = BLOCK - 1; k >= BLOCK - this.#l; k--) {
			a[k] = (a[k]! + 1) & 0xff;
			if (a[k] !== 0) break;
		}
		this.#aes.encrypt(a, 0, this.#s, 0);
	}

	/** Sets S to E(A_0), the block that masks the tag (§2.3). */
	#finalKeystream(): void {
		const a = this.#a;
		a.fill(0, BLOCK - this.#l);
		this.#aes.encrypt(a, 0, this.#s, 0);
	}
}
