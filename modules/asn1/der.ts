/*
 * ASN.1 DER (ITU-T X.690 §8 and §10-11): a strict reader for certificates and a minimal writer for
 * what DTLS and certificate signing requests produce (SEQUENCE, SET, INTEGER, OID, BIT STRING,
 * OCTET STRING, ...), plus the ECDSA signature conversions crypto providers need (RFC 3279 §2.2.3).
 *
 * The reader takes untrusted bytes (a peer's Certificate message): every malformation ends in a
 * DerError, never another exception, a hang or an allocation bigger than the input. It accepts DER
 * only, not BER: definite lengths in their shortest form, low-tag-number form for tags below 31,
 * minimal INTEGERs and OID arcs, BOOLEAN as 00/FF, zero padding bits, primitive strings, UTCTime and
 * GeneralizedTime in their DER forms. Traversal is iterative (a DerReader per constructed element,
 * driven by the caller) and limited to MAX_DEPTH levels.
 *
 * Values are returned as views (subarray) of the input, not copies: the input must not change
 * while they are in use.
 */

import { utf8Encode } from "../util/utf8.js";
import { concatBytes } from "../util/hex.js";

/** Anything that is not well-formed DER, or not the element the caller expected. */
export class DerError extends Error {
	override readonly name = "DerError";
}

/** Tag classes, bits 8-7 of the identifier octet (X.690 §8.1.2.2). */
export const TagClass = Object.freeze({
	UNIVERSAL: 0,
	APPLICATION: 1,
	CONTEXT: 2,
	PRIVATE: 3,
} as const);

/** Universal class tag numbers (X.680 §8.4, Table 1). */
export const Tag = Object.freeze({
	BOOLEAN: 1,
	INTEGER: 2,
	BIT_STRING: 3,
	OCTET_STRING: 4,
	NULL: 5,
	OID: 6,
	UTF8_STRING: 12,
	SEQUENCE: 16,
	SET: 17,
	NUMERIC_STRING: 18,
	PRINTABLE_STRING: 19,
	TELETEX_STRING: 20,
	IA5_STRING: 22,
	UTC_TIME: 23,
	GENERALIZED_TIME: 24,
	VISIBLE_STRING: 26,
	UNIVERSAL_STRING: 28,
	BMP_STRING: 30,
} as const);

/** Nesting limit of DerReader; X.509 certificates need about 8 levels. */
export const MAX_DEPTH = 32;
/** Length octets accepted in the long form (X.690 §8.1.3.5): 4 already allows 4 GiB. */
const MAX_LENGTH_OCTETS = 4;
/** Octets of a high tag number (X.690 §8.1.2.4): 4 give 28 bits, far beyond any real tag. */
const MAX_TAG_OCTETS = 4;
/** Octets of an INTEGER that smallInteger() turns into a number: 6 stay below 2^53. */
const MAX_SMALL_INTEGER_OCTETS = 6;
/** An OID arc is accumulated as a number while below this, then as a BigInt (2.25.<UUID> has 128 bits). */
const SAFE_ARC = 2 ** 45;

/** One element: its tag, and where its encoding and its contents lie in `bytes`. */
export interface Tlv {
	readonly tagClass: number;
	readonly constructed: boolean;
	readonly tagNumber: number;
	/** The buffer the element was read from; the offsets index it. */
	readonly bytes: Uint8Array;
	/** The first identifier octet. */
	readonly start: number;
	/** The first contents octet. */
	readonly valueStart: number;
	/** One past the last contents octet. */
	readonly end: number;
}

/** The contents octets of an element. */
export function tlvValue(t: Tlv): Uint8Array {
	return t.bytes.subarray(t.valueStart, t.end);
}

/** The whole encoding of an element (identifier, length and contents octets). */
export function tlvEncoding(t: Tlv): Uint8Array {
	return t.bytes.subarray(t.start, t.end);
}

/** Reads the element at `offset`, which must end at or before `limit`. */
export function readTlv(bytes: Uint8Array, offset: number, limit = bytes.length): Tlv {
	if (limit > bytes.length) limit = bytes.length;
	let p = offset;
	if (!(p >= 0)) throw new DerError("offset outside the buffer");
	if (p >= limit) throw new DerError("truncated: an element was expected");
	const id = bytes[p++]!;
	const tagClass = id >> 6;
	const constructed = (id & 0x20) !== 0;
	let tagNumber = id & 0x1f;
	if (tagNumber === 0x1f) {
		// High-tag-number form (X.690 §8.1.2.4): base 128, bit 8 set on all but the last octet.
		tagNumber = 0;
		for (let k = 0; ; k++) {
			if (p >= limit) throw new DerError("truncated tag");
			if (k === MAX_TAG_OCTETS) throw new DerError("tag number too large");
			const c = bytes[p++]!;
			if (k === 0 && c === 0x80) throw new DerError("non-minimal tag number"); // §8.1.2.4.2 c)
			tagNumber = tagNumber * 128 + (c & 0x7f);
			if ((c & 0x80) === 0) break;
		}
		if (tagNumber < 0x1f) throw new DerError("high-tag-number form for a low tag number");
	} else if (tagClass === TagClass.UNIVERSAL && tagNumber === 0) {
		throw new DerError("end-of-contents octets in DER"); // only BER's indefinite form has them
	}
	if (p >= limit) throw new DerError("truncated length");
	let length = bytes[p++]!;
	if (length & 0x80) {
		const n = length & 0x7f;
		if (n === 0) throw new DerError("indefinite length is not DER"); // §10.1
		if (n > MAX_LENGTH_OCTETS) throw new DerError("length too large");
		if (limit - p < n) throw new DerError("truncated length");
		if (bytes[p] === 0) throw new DerError("non-minimal length"); // §10.1: fewest octets
		length = 0;
		for (let k = 0; k < n; k++) length = length * 256 + bytes[p++]!;
		if (length < 0x80) throw new DerError("non-minimal length"); // short form was possible
	}
	if (length > limit - p) throw new DerError("length exceeds the available bytes");
	return { tagClass, constructed, tagNumber, bytes, start: offset, valueStart: p, end: p + length };
}

/** The single element that `bytes` must consist of. */
export function parseDer(bytes: Uint8Array): Tlv {
	const t = readTlv(bytes, 0, bytes.length);
	if (t.end !== bytes.length) throw new DerError("trailing bytes after the element");
	return t;
}

/* ---------------------------------------------------------------------------------------------- */
/* Contents decoders: also for IMPLICIT tags, where the caller knows the underlying type.           */

/** INTEGER contents (X.690 §8.3): two's complement, big-endian, in the fewest octets. */
export function decodeInteger(content: Uint8Array): Uint8Array {
	if (content.length === 0) throw new DerError("empty INTEGER");
	if (content.length > 1) {
		const a = content[0]!;
		const b = content[1]! & 0x80;
		if ((a === 0x00 && b === 0) || (a === 0xff && b !== 0)) throw new DerError("non-minimal INTEGER"); // §8.3.2
	}
	return content;
}

/** INTEGER contents as a number; DerError when it needs more than 48 bits. */
export function decodeSmallInteger(content: Uint8Array): number {
	decodeInteger(content);
	if (content.length > MAX_SMALL_INTEGER_OCTETS) throw new DerError("INTEGER too large");
	let v = content[0]! >= 0x80 ? content[0]! - 256 : content[0]!;
	for (let i = 1; i < content.length; i++) v = v * 256 + content[i]!;
	return v;
}

/** The magnitude of a non-negative INTEGER, without the sign octet (for unsigned uses like r and s). */
export function decodeUnsignedInteger(content: Uint8Array): Uint8Array {
	decodeInteger(content);
	if (content[0]! & 0x80) throw new DerError("negative INTEGER");
	return content[0] === 0 ? content.subarray(1) : content;
}

/** BIT STRING contents (X.690 §8.6): the count of unused bits in the last octet, then the octets. */
export interface BitString {
	unusedBits: number;
	bytes: Uint8Array;
}

export function decodeBitString(content: Uint8Array): BitString {
	if (content.length === 0) throw new DerError("empty BIT STRING");
	const unusedBits = content[0]!;
	if (unusedBits > 7) throw new DerError("BIT STRING with more than 7 unused bits");
	if (content.length === 1 && unusedBits !== 0) throw new DerError("empty BIT STRING with unused bits");
	if (unusedBits !== 0 && (content[content.length - 1]! & ((1 << unusedBits) - 1)) !== 0) {
		throw new DerError("BIT STRING padding bits are not zero"); // §11.2.1
	}
	return { unusedBits, bytes: content.subarray(1) };
}

/** OBJECT IDENTIFIER contents (X.690 §8.19) as dotted decimal text. */
export function decodeOid(content: Uint8Array): string {
	if (content.length === 0) throw new DerError("empty OBJECT IDENTIFIER");
	const arcs: string[] = [];
	let v = 0;
	let big: bigint | undefined;
	let first = true;
	let fresh = true;
	for (let i = 0; i < content.length; i++) {
		const b = content[i]!;
		if (fresh && b === 0x80) throw new DerError("non-minimal OID arc"); // §8.19.2
		fresh = false;
		if (big !== undefined) big = big * 128n + BigInt(b & 0x7f);
		else if (v >= SAFE_ARC) big = BigInt(v) * 128n + BigInt(b & 0x7f);
		else v = v * 128 + (b & 0x7f);
		if (b & 0x80) continue;
		if (first) {
			// The first subidentifier packs the first two arcs as 40 * X + Y (§8.19.4).
			first = false;
			if (big !== undefined) arcs.push("2", String(big - 80n));
			else if (v < 40) arcs.push("0", String(v));
			else if (v < 80) arcs.push("1", String(v - 40));
			else arcs.push("2", String(v - 80));
		} else {
			arcs.push(big !== undefined ? String(big) : String(v));
		}
		v = 0;
		big = undefined;
		fresh = true;
	}
	if (!fresh) throw new DerError("truncated OID arc");
	return arcs.join(".");
}

/** BOOLEAN contents: one octet, 00 or FF in DER (§11.1). */
export function decodeBoolean(content: Uint8Array): boolean {
	if (content.length !== 1) throw new DerError("BOOLEAN must have one octet");
	if (content[0] === 0x00) return false;
	if (content[0] === 0xff) return true;
	throw new DerError("BOOLEAN is neither 00 nor FF");
}

const DAY_MS = 86_400_000;

/**
 * UTCTime (X.680 §47, DER form §11.8: YYMMDDHHMMSSZ, years 1950-2049 as RFC 5280 §4.1.2.5.1 reads
 * them) or GeneralizedTime (X.680 §46, DER form §11.7: YYYYMMDDHHMMSS[.fff]Z, no trailing zeros in
 * the fraction) to milliseconds since 1970-01-01T00:00:00Z.
 */
export function decodeTime(tagNumber: number, content: Uint8Array): number {
	let year: number;
	let p: number;
	if (tagNumber === Tag.UTC_TIME) {
		if (content.length !== 13) throw new DerError("UTCTime is not YYMMDDHHMMSSZ");
		const yy = digits(content, 0, 2);
		year = yy >= 50 ? 1900 + yy : 2000 + yy;
		p = 2;
	} else if (tagNumber === Tag.GENERALIZED_TIME) {
		if (content.length < 15) throw new DerError("GeneralizedTime is too short");
		year = digits(content, 0, 4);
		p = 4;
	} else {
		throw new DerError("not a time type");
	}
	const month = digits(content, p, 2);
	const day = digits(content, p + 2, 2);
	const hour = digits(content, p + 4, 2);
	const minute = digits(content, p + 6, 2);
	const second = digits(content, p + 8, 2);
	p += 10;
	let ms = 0;
	if (tagNumber === Tag.GENERALIZED_TIME && content[p] === 0x2e) {
		// Fraction of a second: at least one digit, the last one not zero (§11.7.3).
		const start = ++p;
		while (p < content.length && content[p]! >= 0x30 && content[p]! <= 0x39) p++;
		if (p === start || content[p - 1] === 0x30) throw new DerError("GeneralizedTime fraction is not DER");
		const n = Math.min(p - start, 3);
		ms = digits(content, start, n) * 10 ** (3 - n); // finer than a millisecond is dropped
	}
	if (p !== content.length - 1 || content[p] !== 0x5a) throw new DerError("time does not end in Z");
	if (month < 1 || month > 12 || day < 1 || day > daysInMonth(year, month)) throw new DerError("invalid date");
	if (hour > 23 || minute > 59 || second > 59) throw new DerError("invalid time of day");
	return daysFromCivil(year, month, day) * DAY_MS + ((hour * 60 + minute) * 60 + second) * 1000 + ms;
}

function digits(b: Uint8Array, at: number, n: number): number {
	let v = 0;
	for (let i = at; i < at + n; i++) {
		const c = b[i];
		if (c === undefined || c < 0x30 || c > 0x39) throw new DerError("time field is not a digit");
		v = v * 10 + (c - 0x30);
	}
	return v;
}

function isLeap(y: number): boolean {
	return (y % 4 === 0 && y % 100 !== 0) || y % 400 === 0;
}

function daysInMonth(y: number, m: number): number {
	return m === 2 ? (isLeap(y) ? 29 : 28) : m === 4 || m === 6 || m === 9 || m === 11 ? 30 : 31;
}

/*
 * Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant, "chrono-compatible low-level
 * date algorithms"). Not Date.UTC: it maps years 0-99 to 1900-1999.
 */
function daysFromCivil(y: number, m: number, d: number): number {
	const yy = m <= 2 ? y - 1 : y;
	const era = Math.floor(yy / 400);
	const yoe = yy - era * 400;
	const doy = Math.floor((153 * (m > 2 ? m - 3 : m + 9) + 2) / 5) + d - 1;
	const doe = yoe * 365 + Math.floor(yoe / 4) - Math.floor(yoe / 100) + doy;
	return era * 146097 + doe - 719468;
}

/** PrintableString characters (X.680 §41.4, Table 10): letters, digits, space and '()+,-./:=? */
function isPrintable(c: number): boolean {
	return (
		(c >= 0x41 && c <= 0x5a) || (c >= 0x61 && c <= 0x7a) || (c >= 0x30 && c <= 0x39) ||
		c === 0x20 || c === 0x27 || c === 0x28 || c === 0x29 || c === 0x2b || c === 0x2c ||
		c === 0x2d || c === 0x2e || c === 0x2f || c === 0x3a || c === 0x3d || c === 0x3f
	);
}

/**
 * A character string type's contents as a JS string: UTF8String (strict UTF-8), PrintableString,
 * IA5String, NumericString, VisibleString (checked against their character sets), TeletexString
 * (read as Latin-1, which is what certificates in the wild put there), BMPString (UTF-16BE) and
 * UniversalString (UTF-32BE).
 */
export function decodeString(tagNumber: number, content: Uint8Array): string {
	switch (tagNumber) {
		case Tag.UTF8_STRING:
			return decodeUtf8Strict(content);
		case Tag.PRINTABLE_STRING:
			// '*' and '&' too: CAs put them there, and other verifiers (Go's crypto/x509) accept them.
			return decodeSingleByte(content, (c) => isPrintable(c) || c === 0x2a || c === 0x26, "PrintableString");
		case Tag.IA5_STRING:
			return decodeSingleByte(content, (c) => c < 0x80, "IA5String");
		case Tag.NUMERIC_STRING:
			return decodeSingleByte(content, (c) => c === 0x20 || (c >= 0x30 && c <= 0x39), "NumericString");
		case Tag.VISIBLE_STRING:
			return decodeSingleByte(content, (c) => c >= 0x20 && c < 0x7f, "VisibleString");
		case Tag.TELETEX_STRING:
			return decodeSingleByte(content, () => true, "TeletexString");
		case Tag.BMP_STRING: {
			if (content.length % 2 !== 0) throw new DerError("BMPString of odd length");
			let s = "";
			for (let i = 0; i < content.length; i += 2) s += String.fromCharCode((content[i]! << 8) | content[i + 1]!);
			return s;
		}
		case Tag.UNIVERSAL_STRING: {
			if (content.length % 4 !== 0) throw new DerError("UniversalString length is not a multiple of 4");
			let s = "";
			for (let i = 0; i < content.length; i += 4) {
				const c = ((content[i]! << 24) | (content[i + 1]! << 16) | (content[i + 2]! << 8) | content[i + 3]!) >>> 0;
				if (c > 0x10ffff || (c >= 0xd800 && c <= 0xdfff)) throw new DerError("invalid UniversalString character");
				s += String.fromCodePoint(c);
			}
			return s;
		}
		default:
			throw new DerError(`tag ${tagNumber} is not a character string type`);
	}
}

function decodeSingleByte(content: Uint8Array, allowed: (c: number) => boolean, what: string): string {
	let s = "";
	for (let i = 0; i < content.length; i++) {
		const c = content[i]!;
		if (!allowed(c)) throw new DerError(`invalid ${what} character`);
		s += String.fromCharCode(c);
	}
	return s;
}

/* UTF-8 that rejects what modules/util/utf8.ts would replace: a malformed UTF8String is malformed DER. */
function decodeUtf8Strict(b: Uint8Array): string {
	let s = "";
	let i = 0;
	while (i < b.length) {
		const c0 = b[i++]!;
		if (c0 < 0x80) {
			s += String.fromCharCode(c0);
			continue;
		}
		let need: number;
		let c: number;
		let min: number;
		if (c0 >= 0xc2 && c0 <= 0xdf) { need = 1; c = c0 & 0x1f; min = 0x80; }
		else if (c0 >= 0xe0 && c0 <= 0xef) { need = 2; c = c0 & 0x0f; min = 0x800; }
		else if (c0 >= 0xf0 && c0 <= 0xf4) { need = 3; c = c0 & 0x07; min = 0x10000; }
		else throw new DerError("invalid UTF-8 in UTF8String");
		if (i + need > b.length) throw new DerError("truncated UTF-8 in UTF8String");
		for (let k = 0; k < need; k++) {
			const cn = b[i++]!;
			if ((cn & 0xc0) !== 0x80) throw new DerError("invalid UTF-8 in UTF8String");
			c = (c << 6) | (cn & 0x3f);
		}
		if (c < min || c > 0x10ffff || (c >= 0xd800 && c <= 0xdfff)) throw new DerError("invalid UTF-8 in UTF8String");
		s += String.fromCodePoint(c);
	}
	return s;
}

/* ---------------------------------------------------------------------------------------------- */

/**
 * Reads the elements inside one constructed element (or a whole buffer) in order. Typed reads check
 * the tag and decode the contents; `enter` and its shorthands return a reader for a nested element.
 */
export class DerReader {
	readonly bytes: Uint8Array;
	readonly end: number;
	readonly depth: number;
	#pos: number;

	constructor(bytes: Uint8Array, start = 0, end = bytes.length, depth = 0) {
		if (!(start >= 0 && start <= end && end <= bytes.length)) throw new DerError("reader range outside the buffer");
		if (depth > MAX_DEPTH) throw new DerError("nesting too deep");
		this.bytes = bytes;
		this.end = end;
		this.depth = depth;
		this.#pos = start;
	}

	/** Offset of the next element in `bytes`. */
	get offset(): number {
		return this.#pos;
	}

	get done(): boolean {
		return this.#pos >= this.end;
	}

	/** The next element without consuming it; undefined at the end. */
	peek(): Tlv | undefined {
		return this.done ? undefined : readTlv(this.bytes, this.#pos, this.end);
	}

	/** The next element, whatever its tag. */
	next(): Tlv {
		const t = readTlv(this.bytes, this.#pos, this.end);
		this.#pos = t.end;
		return t;
	}

	/** The next element, which must have this tag. */
	expect(tagClass: number, tagNumber: number, constructed: boolean, what: string): Tlv {
		const t = this.next();
		if (t.tagClass !== tagClass || t.tagNumber !== tagNumber || t.constructed !== constructed) {
			throw new DerError(`expected ${what}`);
		}
		return t;
	}

	/** The next element if it has this tag (OPTIONAL and DEFAULT components), else undefined. */
	optional(tagClass: number, tagNumber: number, constructed: boolean): Tlv | undefined {
		const t = this.peek();
		if (t === undefined || t.tagClass !== tagClass || t.tagNumber !== tagNumber || t.constructed !== constructed) {
			return undefined;
		}
		this.#pos = t.end;
		return t;
	}

	/** A reader for the contents of a constructed element. */
	enter(t: Tlv): DerReader {
		if (!t.constructed) throw new DerError("primitive element where a constructed one was expected");
		return new DerReader(t.bytes, t.valueStart, t.end, this.depth + 1);
	}

	sequence(): DerReader {
		return this.enter(this.expect(TagClass.UNIVERSAL, Tag.SEQUENCE, true, "SEQUENCE"));
	}

	set(): DerReader {
		return this.enter(this.expect(TagClass.UNIVERSAL, Tag.SET, true, "SET"));
	}

	/** [n] EXPLICIT: a reader for the context-specific wrapper's contents. */
	explicit(n: number): DerReader {
		return this.enter(this.expect(TagClass.CONTEXT, n, true, `[${n}]`));
	}

	optionalExplicit(n: number): DerReader | undefined {
		const t = this.optional(TagClass.CONTEXT, n, true);
		return t === undefined ? undefined : this.enter(t);
	}

	/** INTEGER contents in two's complement (see decodeInteger). */
	integer(): Uint8Array {
		return decodeInteger(tlvValue(this.expect(TagClass.UNIVERSAL, Tag.INTEGER, false, "INTEGER")));
	}

	smallInteger(): number {
		return decodeSmallInteger(tlvValue(this.expect(TagClass.UNIVERSAL, Tag.INTEGER, false, "INTEGER")));
	}

	bitString(): BitString {
		return decodeBitString(tlvValue(this.expect(TagClass.UNIVERSAL, Tag.BIT_STRING, false, "BIT STRING")));
	}

	octetString(): Uint8Array {
		return tlvValue(this.expect(TagClass.UNIVERSAL, Tag.OCTET_STRING, false, "OCTET STRING"));
	}

	oid(): string {
		return decodeOid(tlvValue(this.expect(TagClass.UNIVERSAL, Tag.OID, false, "OBJECT IDENTIFIER")));
	}

	boolean(): boolean {
		return decodeBoolean(tlvValue(this.expect(TagClass.UNIVERSAL, Tag.BOOLEAN, false, "BOOLEAN")));
	}

	null(): void {
		const t = this.expect(TagClass.UNIVERSAL, Tag.NULL, false, "NULL");
		if (t.end !== t.valueStart) throw new DerError("NULL with contents");
	}

	/** UTCTime or GeneralizedTime, as milliseconds since the epoch. */
	time(): number {
		const t = this.next();
		if (t.tagClass !== TagClass.UNIVERSAL || t.constructed) throw new DerError("expected a time");
		return decodeTime(t.tagNumber, tlvValue(t));
	}

	/** Any character string type (see decodeString); DER strings are primitive (§10.2). */
	string(): string {
		const t = this.next();
		if (t.tagClass !== TagClass.UNIVERSAL || t.constructed) throw new DerError("expected a character string");
		return decodeString(t.tagNumber, tlvValue(t));
	}

	/** Ends the reading of a constructed element: nothing may follow what the caller understood. */
	finish(what = "element"): void {
		if (!this.done) throw new DerError(`unexpected data at the end of the ${what}`);
	}
}

/* ---------------------------------------------------------------------------------------------- */
/* Writer: DER for structures we build ourselves (CSRs, DTLS signatures); inputs are trusted.       */

function lengthOctets(n: number): number[] {
	if (n < 0x80) return [n];
	const out: number[] = [];
	for (let v = n; v > 0; v = Math.floor(v / 256)) out.unshift(v & 0xff);
	out.unshift(0x80 | out.length);
	return out;
}

/** An element with a single identifier octet (tag numbers below 31, all the writer needs). */
export function derTlv(identifier: number, content: Uint8Array): Uint8Array {
	const len = lengthOctets(content.length);
	const out = new Uint8Array(1 + len.length + content.length);
	out[0] = identifier;
	out.set(len, 1);
	out.set(content, 1 + len.length);
	return out;
}

/** Identifier octet of a tag: class in bits 8-7, constructed in bit 6 (X.690 §8.1.2). */
export function identifier(tagClass: number, tagNumber: number, constructed: boolean): number {
	if (tagNumber < 0 || tagNumber > 30) throw new DerError("the writer handles tag numbers 0-30 only");
	return (tagClass << 6) | (constructed ? 0x20 : 0) | tagNumber;
}

export { concatBytes };

export function derSequence(...items: Uint8Array[]): Uint8Array {
	return derTlv(0x30, concatBytes(items));
}

/** SET OF: DER orders the encodings ascending, as octet strings (X.690 §11.6). */
export function derSet(...items: Uint8Array[]): Uint8Array {
	const sorted = items.slice().sort(compareBytes);
	return derTlv(0x31, concatBytes(sorted));
}

function compareBytes(a: Uint8Array, b: Uint8Array): number {
	const n = Math.min(a.length, b.length);
	for (let i = 0; i < n; i++) if (a[i] !== b[i]) return a[i]! - b[i]!;
	return a.length - b.length; // a shorter prefix sorts first, as if padded with zeros
}

/** [n] IMPLICIT SET OF (PKCS#10 attributes, CMS certificates): the items in DER SET order under a context tag. */
export function derImplicitSet(n: number, ...items: Uint8Array[]): Uint8Array {
	const s = derSet(...items);
	s[0] = identifier(TagClass.CONTEXT, n, true); // same contents and length octets, another identifier
	return s;
}

/** [n] EXPLICIT: the encoded items wrapped in a constructed context-specific element. */
export function derExplicit(n: number, ...items: Uint8Array[]): Uint8Array {
	return derTlv(identifier(TagClass.CONTEXT, n, true), concatBytes(items));
}

/** [n] IMPLICIT: `content` (the contents octets of the underlying type) under a context-specific tag. */
export function derImplicit(n: number, content: Uint8Array, constructed: boolean): Uint8Array {
	return derTlv(identifier(TagClass.CONTEXT, n, constructed), content);
}

/**
 * INTEGER from an unsigned big-endian magnitude (serial numbers, ECDSA r and s): leading zero
 * octets dropped, one 00 added when the top bit is set so that it stays positive (X.690 §8.3.2).
 */
export function derInteger(magnitude: Uint8Array): Uint8Array {
	let i = 0;
	while (i < magnitude.length - 1 && magnitude[i] === 0) i++;
	const m = magnitude.subarray(i);
	if (m.length === 0) return Uint8Array.of(0x02, 0x01, 0x00);
	if (m[0]! & 0x80) {
		const c = new Uint8Array(m.length + 1);
		c.set(m, 1);
		return derTlv(0x02, c);
	}
	return derTlv(0x02, m);
}

/** INTEGER from a safe integer (versions, small counters), negative ones in two's complement. */
export function derSmallInteger(n: number): Uint8Array {
	if (!Number.isSafeInteger(n)) throw new DerError("not a safe integer");
	const out: number[] = [];
	// Numbers, not BigInt: XS 13.3 shifts negative BigInts wrongly (-256n >> 8n is -2n there).
	let v = n;
	for (;;) {
		const b = ((v % 256) + 256) % 256; // low octet of the two's complement
		out.unshift(b);
		v = (v - b) / 256; // exact: floor division
		if ((v === 0 && b < 0x80) || (v === -1 && b >= 0x80)) break;
	}
	return derTlv(0x02, Uint8Array.from(out));
}

/** OBJECT IDENTIFIER from dotted decimal text (X.690 §8.19); DerError for text that is not one. */
export function derOid(dotted: string): Uint8Array {
	const parts = dotted.split(".");
	if (parts.length < 2) throw new DerError(`invalid OID "${dotted}"`);
	const arcs: bigint[] = [];
	for (const p of parts) {
		if (!/^(0|[1-9][0-9]*)$/.test(p)) throw new DerError(`invalid OID "${dotted}"`);
		arcs.push(BigInt(p));
	}
	const first = arcs[0]!;
	const second = arcs[1]!;
	if (first > 2n || (first < 2n && second >= 40n)) throw new DerError(`invalid OID "${dotted}"`);
	const out: number[] = [];
	const subidentifiers = [first * 40n + second, ...arcs.slice(2)];
	for (const s of subidentifiers) {
		const group: number[] = [Number(s & 0x7fn)];
		for (let v = s >> 7n; v > 0n; v >>= 7n) group.unshift(Number(v & 0x7fn) | 0x80);
		for (const g of group) out.push(g);
	}
	return derTlv(0x06, Uint8Array.from(out));
}

export function derBitString(bytes: Uint8Array, unusedBits = 0): Uint8Array {
	if (unusedBits < 0 || unusedBits > 7 || (bytes.length === 0 && unusedBits !== 0)) throw new DerError("invalid unused bit count");
	const content = new Uint8Array(bytes.length + 1);
	content[0] = unusedBits;
	content.set(bytes, 1);
	if (unusedBits > 0) content[bytes.length] = content[bytes.length]! & (0xff << unusedBits) & 0xff; // §11.2.1
	return derTlv(0x03, content);
}

export function derOctetString(bytes: Uint8Array): Uint8Array {
	return derTlv(0x04, bytes);
}

export function derNull(): Uint8Array {
	return Uint8Array.of(0x05, 0x00);
}

export function derBoolean(value: boolean): Uint8Array {
	return Uint8Array.of(0x01, 0x01, value ? 0xff : 0x00);
}

export function derUtf8String(text: string): Uint8Array {
	return derTlv(0x0c, utf8Encode(text));
}

/** PrintableString (X.680 §41.4); DerError for a character outside its set. */
export function derPrintableString(text: string): Uint8Array {
	const b = new Uint8Array(text.length);
	for (let i = 0; i < text.length; i++) {
		const c = text.charCodeAt(i);
		if (!isPrintable(c)) throw new DerError("character not allowed in PrintableString");
		b[i] = c;
	}
	return derTlv(0x13, b);
}

/* ---------------------------------------------------------------------------------------------- */
/* ECDSA signatures: DER Ecdsa-Sig-Value (RFC 3279 §2.2.3; TLS, X.509) <-> raw r || s (COSE, noble). */

/** Octets of a P-256 scalar: raw signatures are 2 * 32 = 64 octets. */
export const P256_SCALAR_BYTES = 32;

/** Ecdsa-Sig-Value ::= SEQUENCE { r INTEGER, s INTEGER } -> r || s, each left-padded to `size` octets. */
export function ecdsaDerToRaw(der: Uint8Array, size = P256_SCALAR_BYTES): Uint8Array {
	const outer = new DerReader(der);
	const seq = outer.sequence();
	outer.finish("signature");
	const r = decodeUnsignedInteger(seq.integer());
	const s = decodeUnsignedInteger(seq.integer());
	seq.finish("Ecdsa-Sig-Value");
	if (r.length > size || s.length > size) throw new DerError("ECDSA signature value too large");
	const raw = new Uint8Array(2 * size);
	raw.set(r, size - r.length);
	raw.set(s, 2 * size - s.length);
	return raw;
}

/** r || s (two equal halves, 64 octets for P-256) -> DER Ecdsa-Sig-Value. */
export function ecdsaRawToDer(raw: Uint8Array): Uint8Array {
	if (raw.length === 0 || raw.length % 2 !== 0) throw new DerError("raw ECDSA signature must be r || s of equal size");
	const half = raw.length / 2;
	return derSequence(derInteger(raw.subarray(0, half)), derInteger(raw.subarray(half)));
}
