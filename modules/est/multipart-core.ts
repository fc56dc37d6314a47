/*
 * application/multipart-core (Content-Format 62, RFC 8710 §2): a CBOR array of pairs, each a
 * Content-Format number and that representation's bytes (or null when it is absent):
 *
 *   multipart-core = [* multipart-part]
 *   multipart-part = (type: uint .size 2, part: bytes / null)
 *
 * EST-coaps /crts may answer with it (RFC 9148 §4.1), cBRSKI with one pkix-cert part per CA.
 * The structure is two CBOR major types deep, so it is coded here by hand rather than through a
 * general CBOR library. Decoding is strict (RFC 8949 §4.2.1 preferred serialization: shortest
 * lengths, definite lengths only) and every failure is a MultipartError.
 */

import { concatBytes } from "../util/hex.js";

/** Not a well-formed multipart-core body. */
export class MultipartError extends Error {
	override readonly name = "MultipartError";
}

export interface MultipartPart {
	/** A CoAP Content-Format number (0..65535). */
	contentFormat: number;
	/** The representation; null when the part is absent (RFC 8710 §2). */
	body: Uint8Array | null;
}

/** CBOR major types (RFC 8949 §3.1) and the simple value null (§3.3). */
const MAJOR_UINT = 0;
const MAJOR_BYTES = 2;
const MAJOR_ARRAY = 4;
const NULL = 0xf6;
/** `uint .size 2`: a Content-Format number fits in two bytes. */
const MAX_CONTENT_FORMAT = 0xffff;
/** Additional-information values of the 1-, 2- and 4-byte arguments; 27 (8 bytes) is never needed here. */
const AI_1 = 24;
const AI_2 = 25;
const AI_4 = 26;

/** The CBOR head of major type `major` with argument `n`, in its shortest form (RFC 8949 §4.2.1). */
function head(major: number, n: number): Uint8Array {
	const m = major << 5;
	if (n < AI_1) return Uint8Array.of(m | n);
	if (n <= 0xff) return Uint8Array.of(m | AI_1, n);
	if (n <= 0xffff) return Uint8Array.of(m | AI_2, n >> 8, n & 0xff);
	return Uint8Array.of(m | AI_4, (n >>> 24) & 0xff, (n >> 16) & 0xff, (n >> 8) & 0xff, n & 0xff);
}

export function encodeMultipartCore(parts: readonly MultipartPart[]): Uint8Array {
	const pieces: Uint8Array[] = [head(MAJOR_ARRAY, parts.length * 2)];
	for (const p of parts) {
		if (!Number.isInteger(p.contentFormat) || p.contentFormat < 0 || p.contentFormat > MAX_CONTENT_FORMAT) {
			throw new MultipartError(`invalid Content-Format ${p.contentFormat}`);
		}
		pieces.push(head(MAJOR_UINT, p.contentFormat));
		if (p.body === null) pieces.push(Uint8Array.of(NULL));
		else pieces.push(head(MAJOR_BYTES, p.body.length), p.body);
	}
	return concatBytes(pieces);
}

/** The parts in order; bodies are views of `bytes`, which must not change while they are in use. */
export function decodeMultipartCore(bytes: Uint8Array): MultipartPart[] {
	const reader = { pos: 0 };
	const count = readHead(bytes, reader, MAJOR_ARRAY, "array");
	if (count % 2 !== 0) throw new MultipartError("array length is odd: parts come in pairs");
	// Each pair needs at least 2 bytes: a count beyond that is a lie, refused before any allocation.
	if (count > bytes.length - reader.pos) throw new MultipartError("array longer than the body");
	const parts: MultipartPart[] = [];
	for (let i = 0; i < count; i += 2) {
		const contentFormat = readHead(bytes, reader, MAJOR_UINT, "Content-Format");
		if (contentFormat > MAX_CONTENT_FORMAT) throw new MultipartError(`Content-Format ${contentFormat} does not fit in 2 bytes`);
		if (bytes[reader.pos] === NULL) {
			reader.pos++;
			parts.push({ contentFormat, body: null });
			continue;
		}
		const length = readHead(bytes, reader, MAJOR_BYTES, "byte string or null");
		if (length > bytes.length - reader.pos) throw new MultipartError("truncated byte string");
		parts.push({ contentFormat, body: bytes.subarray(reader.pos, reader.pos + length) });
		reader.pos += length;
	}
	if (reader.pos !== bytes.length) throw new MultipartError("trailing bytes after the array");
	return parts;
}

/** Reads a head of major type `major` and returns its argument; only shortest-form 0..2^32-1 arguments. */
function readHead(b: Uint8Array, r: { pos: number }, major: number, what: string): number {
	if (r.pos >= b.length) throw new MultipartError(`truncated: ${what} expected`);
	const initial = b[r.pos++]!;
	if (initial >> 5 !== major) throw new MultipartError(`${what} expected`);
	const ai = initial & 0x1f;
	if (ai < AI_1) return ai;
	const size = ai === AI_1 ? 1 : ai === AI_2 ? 2 : ai === AI_4 ? 4 : 0;
	if (size === 0) throw new MultipartError(`${what}: unsupported or indefinite length`);
	if (b.length - r.pos < size) throw new MultipartError(`truncated ${what}`);
	let n = 0;
	for (let k = 0; k < size; k++) n = n * 256 + b[r.pos++]!;
	const min = size === 1 ? AI_1 : size === 2 ? 0x100 : 0x10000;
	if (n < min) throw new MultipartError(`${what}: length not in its shortest form`);
	return n;
}
