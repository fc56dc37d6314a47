/* Block1/Block2 option values (RFC 7959 §2.2). */

import { uintOption, readUint } from "./message.js";

export interface BlockValue {
	/** Block number (20 bits at most). */
	num: number;
	/** More blocks follow. */
	more: boolean;
	/** Size exponent: blocks are 2^(szx+4) bytes. */
	szx: number;
}

/** SZX 7 is reserved (BERT, RFC 8323 §6) and invalid over UDP/DTLS. */
export const MAX_SZX = 6;
export const MIN_BLOCK_SIZE = 16;
const MAX_BLOCK_NUM = (1 << 20) - 1;

export const blockSize = (szx: number): number => 1 << (szx + 4);

/**
 * Room a block-wise message needs besides its block: header 4, token up to 8, payload marker 1,
 * Block1/Block2 up to 4 each, Size1/Size2 up to 5, Content-Format up to 3, ETag up to 9 (RFC 7252
 * §3, RFC 7959 §2), and some to spare.
 */
export const BLOCK_MESSAGE_OVERHEAD = 64;

/** The largest SZX, at most `szx`, whose blocks fit in a datagram of `limit` bytes with their message. */
export function szxWithin(limit: number, szx: number = MAX_SZX): number {
	let s = szx;
	while (s > 0 && blockSize(s) + BLOCK_MESSAGE_OVERHEAD > limit) s--;
	return s;
}

/** SZX of a block size in 16..1024 that is a power of two. */
export function szxOf(size: number): number {
	for (let szx = 0; szx <= MAX_SZX; szx++) if (blockSize(szx) === size) return szx;
	throw new RangeError(`block size ${size} is not a power of two in 16..1024`);
}

export function encodeBlock(b: BlockValue): Uint8Array {
	if (!(b.szx >= 0 && b.szx <= MAX_SZX) || !(b.num >= 0 && b.num <= MAX_BLOCK_NUM)) throw new RangeError("block value out of range");
	return uintOption(b.num * 16 + (b.more ? 8 : 0) + b.szx);
}

/** Undefined for values that are not a valid Block option over UDP (too long, or SZX 7). */
export function decodeBlock(value: Uint8Array): BlockValue | undefined {
	if (value.length > 3) return undefined;
	const v = readUint(value);
	const szx = v & 7;
	if (szx > MAX_SZX) return undefined;
	return { num: v >>> 4, more: (v & 8) !== 0, szx };
}
