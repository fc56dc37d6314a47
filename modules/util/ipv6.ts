/*
 * IPv6 text <-> 16 bytes (RFC 4291 §2.2 forms, RFC 5952 canonical output). Parsing writes into a
 * caller's buffer and allocates nothing, because a relay parses a source address per datagram.
 * Embedded IPv4 (::ffff:1.2.3.4) is not accepted: nothing here carries IPv4.
 */

const COLON = 0x3a;

function hexValue(c: number): number {
	if (c >= 0x30 && c <= 0x39) return c - 0x30;
	const l = c | 0x20;
	if (l >= 0x61 && l <= 0x66) return l - 0x61 + 10;
	return -1;
}

/** Parses `text` (no zone) into out[offset..offset+16); returns false, leaving out undefined, if it is not IPv6. */
export function parseIPv6Into(text: string, out: Uint8Array, offset = 0): boolean {
	const n = text.length;
	let word = 0; // words written before "::"
	let gap = -1; // word index of "::"
	let i = 0;
	if (n < 2) return false;
	if (text.charCodeAt(0) === COLON) {
		if (text.charCodeAt(1) !== COLON) return false;
		gap = 0;
		i = 2;
		if (i === n) {
			for (let k = 0; k < 16; k++) out[offset + k] = 0;
			return true;
		}
	}
	while (i < n) {
		if (word === 8) return false;
		let v = 0;
		let digits = 0;
		while (i < n) {
			const h = hexValue(text.charCodeAt(i));
			if (h < 0) break;
			v = (v << 4) | h;
			if (++digits > 4) return false;
			i++;
		}
		if (digits === 0) return false;
		out[offset + word * 2] = v >> 8;
		out[offset + word * 2 + 1] = v & 0xff;
		word++;
		if (i === n) break;
		if (text.charCodeAt(i) !== COLON) return false;
		i++;
		if (i < n && text.charCodeAt(i) === COLON) {
			if (gap >= 0) return false;
			gap = word;
			i++;
			if (i === n) break;
		} else if (i === n) {
			return false; // trailing single colon
		}
	}
	if (gap < 0) return word === 8;
	if (word === 8) return false; // "::" must stand for at least one zero word
	// Move the words after the gap to the end, zero the gap.
	const tail = word - gap;
	for (let k = tail - 1; k >= 0; k--) {
		out[offset + (8 - tail + k) * 2] = out[offset + (gap + k) * 2]!;
		out[offset + (8 - tail + k) * 2 + 1] = out[offset + (gap + k) * 2 + 1]!;
	}
	for (let k = gap; k < 8 - tail; k++) {
		out[offset + k * 2] = 0;
		out[offset + k * 2 + 1] = 0;
	}
	return true;
}

/** RFC 5952 text: lowercase, no leading zeros, the longest run (>= 2) of zero words as "::". */
export function formatIPv6(bytes: Uint8Array, offset = 0): string {
	let bestStart = -1;
	let bestLen = 1;
	for (let i = 0; i < 8; ) {
		if (bytes[offset + i * 2] !== 0 || bytes[offset + i * 2 + 1] !== 0) {
			i++;
			continue;
		}
		let j = i;
		while (j < 8 && bytes[offset + j * 2] === 0 && bytes[offset + j * 2 + 1] === 0) j++;
		if (j - i > bestLen) {
			bestStart = i;
			bestLen = j - i;
		}
		i = j;
	}
	let s = "";
	for (let i = 0; i < 8; i++) {
		if (i === bestStart) {
			s += "::";
			i += bestLen - 1;
			continue;
		}
		if (s.length > 0 && !s.endsWith(":")) s += ":";
		s += ((bytes[offset + i * 2]! << 8) | bytes[offset + i * 2 + 1]!).toString(16);
	}
	return s;
}

/** Canonical form of IPv6 text, or undefined when it is not IPv6. */
export function canonicalIPv6(text: string): string | undefined {
	const b = new Uint8Array(16);
	return parseIPv6Into(text, b) ? formatIPv6(b) : undefined;
}

/** fe80::/10 (RFC 4291 §2.5.6). */
export function isLinkLocal(text: string): boolean {
	return /^fe[89ab][0-9a-f]?:/i.test(text);
}

export function isMulticast(text: string): boolean {
	return /^ff[0-9a-f]{0,2}:/i.test(text);
}
