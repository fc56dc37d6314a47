/*
 * Base64 (RFC 4648 §4) and PEM (RFC 7468) without atob/btoa, which XS does not have: certificates
 * and keys arrive as PEM text in configuration and test vectors.
 *
 * Decoding is strict (RFC 4648 §3.3, §3.5): only the base64 alphabet, padding required and only at
 * the end, and the unused bits of the last group must be zero, so each byte string has exactly one
 * accepted encoding. Whitespace (space, tab, CR, LF) is skipped anywhere, because PEM wraps lines.
 */

/** Text that is not strict base64. */
export class Base64Error extends Error {
	override readonly name = "Base64Error";
}

/** Text with no (matching) PEM block, or a block that is not well formed (RFC 7468 §2). */
export class PemError extends Error {
	override readonly name = "PemError";
}

const ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
const PAD = 0x3d; // "="
/* Character code -> sextet; INVALID for anything else, SKIP for whitespace. */
const INVALID = 0xff;
const SKIP = 0xfe;
const DECODE = new Uint8Array(128).fill(INVALID);
for (let i = 0; i < ALPHABET.length; i++) DECODE[ALPHABET.charCodeAt(i)] = i;
for (const c of [0x20, 0x09, 0x0d, 0x0a]) DECODE[c] = SKIP;

export function base64Encode(bytes: Uint8Array): string {
	let s = "";
	let i = 0;
	for (; i + 3 <= bytes.length; i += 3) {
		const v = (bytes[i]! << 16) | (bytes[i + 1]! << 8) | bytes[i + 2]!;
		s += ALPHABET[v >> 18]! + ALPHABET[(v >> 12) & 63]! + ALPHABET[(v >> 6) & 63]! + ALPHABET[v & 63]!;
	}
	const rest = bytes.length - i;
	if (rest === 1) {
		const v = bytes[i]! << 16;
		s += ALPHABET[v >> 18]! + ALPHABET[(v >> 12) & 63]! + "==";
	} else if (rest === 2) {
		const v = (bytes[i]! << 16) | (bytes[i + 1]! << 8);
		s += ALPHABET[v >> 18]! + ALPHABET[(v >> 12) & 63]! + ALPHABET[(v >> 6) & 63]! + "=";
	}
	return s;
}

/** Decodes `text.slice(start, end)`; throws Base64Error for anything but canonical, padded base64. */
export function base64Decode(text: string, start = 0, end = text.length): Uint8Array {
	// Sextets first (at most one per character), then pack: no growing arrays.
	const sextets = new Uint8Array(Math.max(0, end - start));
	let n = 0;
	let pad = 0;
	for (let i = start; i < end; i++) {
		const c = text.charCodeAt(i);
		const v = c < 128 ? DECODE[c]! : INVALID;
		if (v === SKIP) continue;
		if (c === PAD) {
			pad++;
			continue;
		}
		if (v === INVALID) throw new Base64Error(`invalid base64 character at offset ${i}`);
		if (pad > 0) throw new Base64Error("base64 data after padding");
		sextets[n++] = v;
	}
	if ((n + pad) % 4 !== 0) throw new Base64Error("base64 length is not a multiple of 4");
	const tail = n % 4; // 0: no padding; 2: "=="; 3: "="
	if (pad > 2 || (tail === 0 && pad !== 0) || tail === 1) throw new Base64Error("invalid base64 padding");
	const out = new Uint8Array((n >> 2) * 3 + (tail === 0 ? 0 : tail - 1));
	let o = 0;
	let i = 0;
	for (; i + 4 <= n; i += 4) {
		const v = (sextets[i]! << 18) | (sextets[i + 1]! << 12) | (sextets[i + 2]! << 6) | sextets[i + 3]!;
		out[o++] = v >> 16;
		out[o++] = (v >> 8) & 0xff;
		out[o++] = v & 0xff;
	}
	if (tail === 2) {
		if ((sextets[i + 1]! & 0x0f) !== 0) throw new Base64Error("non-zero bits in base64 padding"); // §3.5
		out[o] = (sextets[i]! << 2) | (sextets[i + 1]! >> 4);
	} else if (tail === 3) {
		if ((sextets[i + 2]! & 0x03) !== 0) throw new Base64Error("non-zero bits in base64 padding");
		const v = (sextets[i]! << 18) | (sextets[i + 1]! << 12) | (sextets[i + 2]! << 6);
		out[o++] = v >> 16;
		out[o] = (v >> 8) & 0xff;
	}
	return out;
}

/** A PEM block: its label ("CERTIFICATE", "EC PRIVATE KEY", ...) and decoded contents. */
export interface PemBlock {
	label: string;
	der: Uint8Array;
}

const BEGIN = "-----BEGIN ";
const END = "-----END ";
const DASHES = "-----";

/**
 * Every PEM block in `text`, in order (RFC 7468 §2). Text between blocks is ignored (§5.2 allows
 * explanatory text). RFC 1421 headers are not supported: they fail as base64. Throws PemError for a
 * malformed block, or when the text holds no block at all.
 */
export function pemBlocks(text: string): PemBlock[] {
	const blocks: PemBlock[] = [];
	let at = 0;
	for (;;) {
		const begin = text.indexOf(BEGIN, at);
		if (begin < 0) break;
		const labelStart = begin + BEGIN.length;
		const labelEnd = text.indexOf(DASHES, labelStart);
		const eol = text.indexOf("\n", labelStart);
		if (labelEnd < 0 || (eol >= 0 && eol < labelEnd)) throw new PemError("unterminated PEM BEGIN line");
		const label = text.slice(labelStart, labelEnd);
		const bodyStart = labelEnd + DASHES.length;
		const endLine = END + label + DASHES;
		const bodyEnd = text.indexOf(END, bodyStart);
		if (bodyEnd < 0 || !text.startsWith(endLine, bodyEnd)) throw new PemError(`PEM block "${label}" has no matching END line`);
		let der: Uint8Array;
		try {
			der = base64Decode(text, bodyStart, bodyEnd);
		} catch (e) {
			throw new PemError(`PEM block "${label}": ${e instanceof Error ? e.message : String(e)}`, { cause: e });
		}
		blocks.push({ label, der });
		at = bodyEnd + endLine.length;
	}
	if (blocks.length === 0) throw new PemError("no PEM block found");
	return blocks;
}

/**
 * The DER of every PEM block in `text`; with `label` (e.g. "CERTIFICATE"), of every block with that
 * label, others skipped, and a PemError when there is none.
 */
export function pemToDer(text: string, label?: string): Uint8Array[] {
	const out: Uint8Array[] = [];
	for (const b of pemBlocks(text)) if (label === undefined || b.label === label) out.push(b.der);
	if (out.length === 0) throw new PemError(`no PEM block labelled "${label ?? ""}"`);
	return out;
}

/** DER text -> PEM, lines of 64 characters (RFC 7468 §2, the strict generator form). */
export function derToPem(der: Uint8Array, label: string): string {
	const b64 = base64Encode(der);
	let s = `${BEGIN}${label}${DASHES}\n`;
	for (let i = 0; i < b64.length; i += 64) s += b64.slice(i, i + 64) + "\n";
	return s + `${END}${label}${DASHES}\n`;
}
