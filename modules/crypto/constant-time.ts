/*
 * Equality of secret-dependent bytes (MACs, tags, cookies, sealed headers) in time that depends
 * only on the length: an early exit would tell an attacker how much of a forgery matched.
 * Offsets let relays compare inside their receive buffers without a subarray view per datagram.
 */

/** a[aOffset..aOffset+length) equals b[bOffset..bOffset+length); bytes past either end count as unequal. */
export function equalConstantTime(a: Uint8Array, aOffset: number, b: Uint8Array, bOffset: number, length: number): boolean {
	let diff = aOffset + length > a.length || bOffset + length > b.length ? 1 : 0;
	for (let i = 0; i < length; i++) diff |= (a[aOffset + i] ?? 0) ^ (b[bOffset + i] ?? 0);
	return diff === 0;
}

/** Whole-array form; arrays of different lengths are unequal (the length is not secret). */
export function bytesEqualConstantTime(a: Uint8Array, b: Uint8Array): boolean {
	return a.length === b.length && equalConstantTime(a, 0, b, 0, a.length);
}
