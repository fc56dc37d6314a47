/* Byte helpers: hex text <-> bytes (vectors, logs, configuration; XS has no Node byte helpers), equality, concatenation. */

const DIGITS = "0123456789abcdef";

export function toHex(bytes: Uint8Array): string {
	let s = "";
	for (let i = 0; i < bytes.length; i++) s += DIGITS[bytes[i]! >> 4]! + DIGITS[bytes[i]! & 15]!;
	return s;
}

/** Accepts whitespace between digits (vector files wrap lines); throws RangeError on anything else. */
export function fromHex(text: string): Uint8Array {
	const clean = text.replace(/\s+/g, "");
	if (clean.length % 2 !== 0 || /[^0-9a-fA-F]/.test(clean)) throw new RangeError("invalid hex string");
	const out = new Uint8Array(clean.length / 2);
	for (let i = 0; i < out.length; i++) out[i] = parseInt(clean.substr(i * 2, 2), 16);
	return out;
}

export function bytesEqual(a: Uint8Array, b: Uint8Array): boolean {
	if (a.length !== b.length) return false;
	for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
	return true;
}

export function concatBytes(parts: readonly Uint8Array[]): Uint8Array {
	let n = 0;
	for (const p of parts) n += p.length;
	const out = new Uint8Array(n);
	let o = 0;
	for (const p of parts) {
		out.set(p, o);
		o += p.length;
	}
	return out;
}
