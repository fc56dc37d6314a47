/*
 * The JPY message (draft-ietf-anima-constrained-join-proxy-20 §4.5.2): one CBOR array
 * `[bstr jpy_header, bstr jpy_content]`, alone in a UDP payload, with no CoAP or DTLS around it.
 *
 * This runs once per relayed datagram on the stateless proxy and the Registrar, so it is a
 * hand-written codec for exactly this shape rather than a CBOR library: encoding writes into the
 * caller's buffer, decoding reports offsets into the datagram, and neither allocates (bar the result
 * object when the caller does not pass one to reuse, and the error object on rejection).
 *
 * Decoding policy (the draft leaves most of this open; see joinproxy-digest §4.4, §4.7, §10):
 * - The datagram is exactly one well-formed CBOR data item (RFC 8949 §1.2, Appendix F); trailing
 *   bytes are rejected, since a second item could only be an attempt to smuggle something past us.
 * - The top-level array is definite-length. The draft's CDDL is a definite array, and its element
 *   count is what lets the Registrar "check that the array has 2 or more elements" (§4.5.7) before
 *   reading it; an indefinite array is rejected.
 * - 2 or more elements (§4.5.7). Elements past the second exist for extensibility and are ignored,
 *   but they must be well-formed CBOR: they are skipped item by item (all major types, tags,
 *   indefinite lengths where RFC 8949 §3.2 allows them), at most MAX_NESTING levels deep, never
 *   reading past the end. Only well-formedness is checked, not validity (§5.3): text is not checked
 *   for UTF-8, map keys not for duplicates, tag content not against the tag.
 * - Elements 1 and 2 are definite-length byte strings. An indefinite (chunked) header could not be
 *   echoed as one contiguous run of bytes, and the header must come back byte-exact (§4.5.7).
 * - Non-minimal heads (e.g. 0x58 0x05 for a 5-byte string) are accepted: RFC 8949 §3 makes them
 *   well-formed, and preferred serialization (§4.1) binds encoders, not decoders. Only the header's
 *   bytes are echoed, not its framing, so accepting them costs nothing.
 * - Every malformation is a JpyError, and decoding is linear in the datagram length: each step
 *   consumes at least one byte, and element counts are checked against the bytes left first.
 *
 * Encoding always uses the shortest heads (deterministic encoding, RFC 8949 §4.2.1), so a message
 * re-encoded from its decoded parts is byte-identical to a deterministically encoded original.
 */

/** A datagram that is not a well-formed JPY message. Callers drop it (digest §4.7). */
export class JpyError extends Error {
	// A field, not `this.name =`: Error.prototype is frozen on a preloaded device (override mistake).
	override readonly name = "JpyError";
}

/** Decoded positions, all relative to the start of the datagram. */
export interface JpyView {
	headerStart: number;
	headerLength: number;
	contentStart: number;
	contentLength: number;
	/** Elements in the array: 2, or more when a sender added extension elements (§4.5.7). */
	elements: number;
}

/* CBOR major types (RFC 8949 §3.1). */
const MAJOR_UINT = 0;
const MAJOR_NINT = 1;
const MAJOR_BSTR = 2;
const MAJOR_TSTR = 3;
const MAJOR_ARRAY = 4;
const MAJOR_MAP = 5;
const MAJOR_TAG = 6;
/* Additional information values (RFC 8949 §3): argument in the next 1, 2, 4 or 8 bytes; 28..30
 * are reserved (not well-formed); 31 means indefinite length (§3.2) or, in major type 7, "break". */
const AI_ONE_BYTE = 24;
const AI_TWO_BYTES = 25;
const AI_FOUR_BYTES = 26;
const AI_EIGHT_BYTES = 27;
const AI_INDEFINITE = 31;
/** The "break" stop code that ends an indefinite-length item (RFC 8949 §3.2.1). */
const BREAK = 0xff;
/** Two-byte simple values below 32 are not well-formed (RFC 8949 §3.3, Appendix F). */
const MIN_TWO_BYTE_SIMPLE = 32;
/** The Registrar MUST check for at least this many elements (draft §4.5.7). */
export const JPY_MIN_ELEMENTS = 2;
/**
 * Nesting levels of arrays, maps and tags a JPY message may have, the top-level array counting as
 * one. The draft defines no nested content; the limit bounds recursion in the extension skipper.
 */
export const MAX_NESTING = 16;
/** 2^32, to combine the halves of an 8-byte argument. */
const TWO_POW_32 = 0x100000000;

/** Bytes of a CBOR head whose argument is n (RFC 8949 §3, shortest form per §4.2.1). */
function headBytes(n: number): number {
	return n < AI_ONE_BYTE ? 1 : n < 0x100 ? 2 : n < 0x10000 ? 3 : n < TWO_POW_32 ? 5 : 9;
}

function checkLength(n: number, what: string): void {
	if (!(Number.isSafeInteger(n) && n >= 0)) throw new RangeError(`${what} must be a non-negative integer`);
}

/** Bytes the encoding of [header, content] takes: array head + bstr heads + lengths. */
export function jpyEncodedLength(headerLength: number, contentLength: number): number {
	checkLength(headerLength, "header length");
	checkLength(contentLength, "content length");
	// The array head is one byte: 0x82, two elements.
	return 1 + headBytes(headerLength) + headerLength + headBytes(contentLength) + contentLength;
}

/** Overhead = encodedLength - contentLength: what the wrapping adds to a pledge datagram (§4.5.2 MTU rule). */
export function jpyOverhead(headerLength: number, contentLength: number): number {
	return jpyEncodedLength(headerLength, contentLength) - contentLength;
}

function writeHead(out: Uint8Array, pos: number, major: number, n: number): number {
	const mt = major << 5;
	if (n < AI_ONE_BYTE) {
		out[pos] = mt | n;
		return pos + 1;
	}
	if (n < 0x100) {
		out[pos] = mt | AI_ONE_BYTE;
		out[pos + 1] = n;
		return pos + 2;
	}
	if (n < 0x10000) {
		out[pos] = mt | AI_TWO_BYTES;
		out[pos + 1] = n >>> 8;
		out[pos + 2] = n & 0xff;
		return pos + 3;
	}
	let hi = 0;
	if (n < TWO_POW_32) {
		out[pos++] = mt | AI_FOUR_BYTES;
	} else {
		// Bit operators are 32-bit: split with arithmetic, exact for any safe integer.
		hi = Math.floor(n / TWO_POW_32);
		n -= hi * TWO_POW_32;
		out[pos] = mt | AI_EIGHT_BYTES;
		out[pos + 1] = hi >>> 24;
		out[pos + 2] = (hi >>> 16) & 0xff;
		out[pos + 3] = (hi >>> 8) & 0xff;
		out[pos + 4] = hi & 0xff;
		pos += 5;
	}
	out[pos] = n >>> 24;
	out[pos + 1] = (n >>> 16) & 0xff;
	out[pos + 2] = (n >>> 8) & 0xff;
	out[pos + 3] = n & 0xff;
	return pos + 4;
}

function checkRange(buf: Uint8Array, start: number, length: number, what: string): void {
	if (!(Number.isSafeInteger(start) && Number.isSafeInteger(length) && start >= 0 && length >= 0 && start + length <= buf.length)) {
		throw new RangeError(`${what} range is outside its buffer`);
	}
}

function copyBytes(src: Uint8Array, start: number, length: number, out: Uint8Array, pos: number): void {
	// A whole array goes through the native copy with no view; a part of one is copied by hand,
	// because a subarray() view per datagram is exactly the allocation this module avoids.
	if (start === 0 && length === src.length) out.set(src, pos);
	else for (let i = 0; i < length; i++) out[pos + i] = src[start + i]!;
}

/**
 * Writes the JPY message [header, content] into out at offset; returns the end offset. Throws
 * RangeError, having written nothing, if out is too small. out must not overlap header or content.
 */
export function encodeJpyInto(header: Uint8Array, content: Uint8Array, out: Uint8Array, offset = 0): number {
	return encodeJpyPartsInto(header, 0, header.length, content, 0, content.length, out, offset);
}

/**
 * Same as encodeJpyInto, with header and content given as (buffer, start, length), so that a proxy
 * can wrap a header kept in a flow table without making a subarray view per datagram.
 */
export function encodeJpyPartsInto(
	hdr: Uint8Array,
	hdrStart: number,
	hdrLen: number,
	content: Uint8Array,
	cStart: number,
	cLen: number,
	out: Uint8Array,
	offset: number,
): number {
	checkRange(hdr, hdrStart, hdrLen, "header");
	checkRange(content, cStart, cLen, "content");
	const end = offset + jpyEncodedLength(hdrLen, cLen);
	if (!(Number.isSafeInteger(offset) && offset >= 0 && end <= out.length)) {
		throw new RangeError(`JPY message needs ${end - offset} bytes at offset ${offset}, buffer has ${out.length}`);
	}
	let pos = writeHead(out, offset, MAJOR_ARRAY, JPY_MIN_ELEMENTS);
	pos = writeHead(out, pos, MAJOR_BSTR, hdrLen);
	copyBytes(hdr, hdrStart, hdrLen, out, pos);
	pos = writeHead(out, pos + hdrLen, MAJOR_BSTR, cLen);
	copyBytes(content, cStart, cLen, out, pos);
	return pos + cLen;
}

/*
 * Heads are read in two steps, headEnd() (checks, returns where the head ends) and headArg() (its
 * argument); the major type and additional information are the initial byte's bits. Nothing is
 * kept between calls: module-level state would be read-only once the module is preloaded on a
 * device, and would cost a RAM alias per variable.
 */

/** Checks the head at pos (pos < end); returns the position after it. */
function headEnd(data: Uint8Array, pos: number, end: number): number {
	const info = data[pos]! & 31;
	pos++;
	if (info < AI_ONE_BYTE || info === AI_INDEFINITE) return pos;
	if (info > AI_EIGHT_BYTES) throw new JpyError(`reserved additional information ${info} at offset ${pos - 1}`);
	const n = 1 << (info - AI_ONE_BYTE);
	if (n > end - pos) throw new JpyError(`truncated head at offset ${pos - 1}`);
	return pos + n;
}

/** The argument of the head at pos (checked by headEnd) as a Number: exact up to 2^53, above that only compared against byte counts. */
function headArg(data: Uint8Array, pos: number): number {
	const info = data[pos]! & 31;
	if (info < AI_ONE_BYTE) return info;
	if (info === AI_INDEFINITE) return 0;
	pos++;
	const n = 1 << (info - AI_ONE_BYTE);
	if (n === 1) return data[pos]!;
	if (n === 2) return (data[pos]! << 8) | data[pos + 1]!;
	const hi = ((data[pos]! << 24) | (data[pos + 1]! << 16) | (data[pos + 2]! << 8) | data[pos + 3]!) >>> 0;
	if (n === 4) return hi;
	const lo = ((data[pos + 4]! << 24) | (data[pos + 5]! << 16) | (data[pos + 6]! << 8) | data[pos + 7]!) >>> 0;
	// Above 2^53 this rounds, but stays far beyond any datagram, which is all it is compared with.
	return hi * TWO_POW_32 + lo;
}

/**
 * Skips one well-formed data item starting at pos, inside `depth` enclosing arrays, maps or tags;
 * returns the position after it.
 */
function skipItem(data: Uint8Array, pos: number, end: number, depth: number): number {
	if (pos >= end) throw new JpyError("truncated: data item expected at end of datagram");
	if (data[pos] === BREAK) throw new JpyError(`unexpected break at offset ${pos}`);
	const start = pos;
	pos = headEnd(data, pos, end);
	const major = data[start]! >> 5;
	const info = data[start]! & 31;
	const indefinite = info === AI_INDEFINITE;
	const arg = headArg(data, start);
	switch (major) {
		case MAJOR_UINT:
		case MAJOR_NINT:
			if (indefinite) throw new JpyError(`indefinite length not allowed for major type ${major} at offset ${start}`);
			return pos;
		case MAJOR_BSTR:
		case MAJOR_TSTR:
			if (!indefinite) {
				if (arg > end - pos) throw new JpyError(`string at offset ${start} runs past the end`);
				return pos + arg;
			}
			// Chunks: definite strings of the same major type, up to a break (RFC 8949 §3.2.3).
			for (;;) {
				if (pos >= end) throw new JpyError(`indefinite string at offset ${start} has no break`);
				const ib = data[pos]!;
				if (ib === BREAK) return pos + 1;
				if (ib >> 5 !== major || (ib & 31) === AI_INDEFINITE) throw new JpyError(`bad chunk in indefinite string at offset ${pos}`);
				const chunk = pos;
				pos = headEnd(data, pos, end);
				const length = headArg(data, chunk);
				if (length > end - pos) throw new JpyError(`chunk at offset ${chunk} runs past the end`);
				pos += length;
			}
		case MAJOR_ARRAY:
		case MAJOR_MAP: {
			if (depth >= MAX_NESTING) throw new JpyError(`nesting deeper than ${MAX_NESTING} at offset ${start}`);
			const perEntry = major === MAJOR_MAP ? 2 : 1;
			if (!indefinite) {
				const items = arg * perEntry;
				// Every item takes at least one byte: a larger count cannot be honest, and checking it
				// first keeps a 64-bit count from turning into a long loop.
				if (items > end - pos) throw new JpyError(`${major === MAJOR_MAP ? "map" : "array"} at offset ${start} claims more items than bytes left`);
				for (let i = 0; i < items; i++) pos = skipItem(data, pos, end, depth + 1);
				return pos;
			}
			for (;;) {
				if (pos >= end) throw new JpyError(`indefinite container at offset ${start} has no break`);
				if (data[pos] === BREAK) return pos + 1;
				pos = skipItem(data, pos, end, depth + 1);
				// A break in place of a map value is caught by skipItem as unexpected.
				if (perEntry === 2) pos = skipItem(data, pos, end, depth + 1);
			}
		}
		case MAJOR_TAG:
			if (indefinite) throw new JpyError(`indefinite tag at offset ${start}`);
			if (depth >= MAX_NESTING) throw new JpyError(`nesting deeper than ${MAX_NESTING} at offset ${start}`);
			return skipItem(data, pos, end, depth + 1);
		default:
			// Major type 7: simple values and floats; the head is the whole item. A lone break was
			// rejected above.
			if (info === AI_ONE_BYTE && arg < MIN_TWO_BYTE_SIMPLE) throw new JpyError(`invalid two-byte simple value at offset ${start}`);
			return pos;
	}
}

/** Checks a definite-length byte string head at pos; returns the position of its first byte (its length: headArg(data, pos)). */
function readBstr(data: Uint8Array, pos: number, end: number, what: string): number {
	if (pos >= end) throw new JpyError(`truncated: ${what} missing`);
	const start = pos;
	pos = headEnd(data, pos, end);
	const major = data[start]! >> 5;
	if (major !== MAJOR_BSTR) throw new JpyError(`${what} is CBOR major type ${major}, not a byte string`);
	if ((data[start]! & 31) === AI_INDEFINITE) throw new JpyError(`${what} is an indefinite-length byte string`);
	if (headArg(data, start) > end - pos) throw new JpyError(`${what} at offset ${start} runs past the end`);
	return pos;
}

/**
 * Decodes the JPY message in data[0, length) into positions (into, when given, is filled and
 * returned, so the hot path allocates nothing). Throws JpyError for anything that is not a JPY
 * message, leaving into untouched; RangeError only for a length outside data.
 */
export function decodeJpy(data: Uint8Array, length: number = data.length, into?: JpyView): JpyView {
	if (!(Number.isSafeInteger(length) && length >= 0 && length <= data.length)) throw new RangeError("length is outside the data");
	if (length === 0) throw new JpyError("empty datagram");
	let pos = headEnd(data, 0, length);
	const major = data[0]! >> 5;
	if (major !== MAJOR_ARRAY) throw new JpyError(`not a CBOR array (major type ${major})`);
	if ((data[0]! & 31) === AI_INDEFINITE) throw new JpyError("indefinite-length array");
	const elements = headArg(data, 0);
	if (elements < JPY_MIN_ELEMENTS) throw new JpyError(`array of ${elements} elements, at least ${JPY_MIN_ELEMENTS} required`);
	if (elements > length - pos) throw new JpyError("array claims more elements than bytes left");
	const headerStart = readBstr(data, pos, length, "jpy_header");
	const headerLength = headArg(data, pos);
	const contentHead = headerStart + headerLength;
	const contentStart = readBstr(data, contentHead, length, "jpy_content");
	const contentLength = headArg(data, contentHead);
	pos = contentStart + contentLength;
	for (let i = JPY_MIN_ELEMENTS; i < elements; i++) pos = skipItem(data, pos, length, 1);
	if (pos !== length) throw new JpyError(`${length - pos} bytes after the JPY message`);
	const v = into ?? { headerStart: 0, headerLength: 0, contentStart: 0, contentLength: 0, elements: 0 };
	v.headerStart = headerStart;
	v.headerLength = headerLength;
	v.contentStart = contentStart;
	v.contentLength = contentLength;
	v.elements = elements;
	return v;
}
