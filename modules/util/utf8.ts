/*
 * UTF-8 without TextEncoder/TextDecoder: device XS has neither unless a module provides them, and
 * CoAP option strings (Uri-Path, Uri-Query, link-format) are UTF-8 (RFC 7252 §3.2).
 */

const REPLACEMENT = 0xfffd;

export function utf8Length(text: string): number {
	let n = 0;
	for (let i = 0; i < text.length; i++) {
		const c = text.charCodeAt(i);
		if (c < 0x80) n += 1;
		else if (c < 0x800) n += 2;
		else if (c >= 0xd800 && c <= 0xdbff && i + 1 < text.length && (text.charCodeAt(i + 1) & 0xfc00) === 0xdc00) {
			n += 4;
			i++;
		} else n += 3;
	}
	return n;
}

/** Writes `text` at `offset` in `out` (which must have room, see utf8Length); returns the end offset. */
export function utf8EncodeInto(text: string, out: Uint8Array, offset: number): number {
	let o = offset;
	for (let i = 0; i < text.length; i++) {
		let c = text.charCodeAt(i);
		if (c >= 0xd800 && c <= 0xdbff && i + 1 < text.length && (text.charCodeAt(i + 1) & 0xfc00) === 0xdc00) {
			c = 0x10000 + ((c - 0xd800) << 10) + (text.charCodeAt(++i) - 0xdc00);
		} else if (c >= 0xd800 && c <= 0xdfff) {
			c = REPLACEMENT; // lone surrogate: not encodable
		}
		if (c < 0x80) out[o++] = c;
		else if (c < 0x800) {
			out[o++] = 0xc0 | (c >> 6);
			out[o++] = 0x80 | (c & 0x3f);
		} else if (c < 0x10000) {
			out[o++] = 0xe0 | (c >> 12);
			out[o++] = 0x80 | ((c >> 6) & 0x3f);
			out[o++] = 0x80 | (c & 0x3f);
		} else {
			out[o++] = 0xf0 | (c >> 18);
			out[o++] = 0x80 | ((c >> 12) & 0x3f);
			out[o++] = 0x80 | ((c >> 6) & 0x3f);
			out[o++] = 0x80 | (c & 0x3f);
		}
	}
	return o;
}

export function utf8Encode(text: string): Uint8Array {
	const out = new Uint8Array(utf8Length(text));
	utf8EncodeInto(text, out, 0);
	return out;
}

/** Decodes UTF-8; malformed sequences become U+FFFD (WHATWG "replacement" behaviour). */
export function utf8Decode(bytes: Uint8Array, start = 0, end = bytes.length): string {
	let s = "";
	let i = start;
	while (i < end) {
		const b = bytes[i]!;
		let c = REPLACEMENT;
		let need = 0;
		let min = 0;
		if (b < 0x80) {
			c = b;
		} else if (b >= 0xc2 && b <= 0xdf) {
			c = b & 0x1f; need = 1; min = 0x80;
		} else if (b >= 0xe0 && b <= 0xef) {
			c = b & 0x0f; need = 2; min = 0x800;
		} else if (b >= 0xf0 && b <= 0xf4) {
			c = b & 0x07; need = 3; min = 0x10000;
		}
		i++;
		if (need > 0) {
			let k = 0;
			while (k < need && i < end && (bytes[i]! & 0xc0) === 0x80) {
				c = (c << 6) | (bytes[i]! & 0x3f);
				i++;
				k++;
			}
			if (k < need || c < min || c > 0x10ffff || (c >= 0xd800 && c <= 0xdfff)) c = REPLACEMENT;
		}
		s += String.fromCodePoint(c);
	}
	return s;
}
