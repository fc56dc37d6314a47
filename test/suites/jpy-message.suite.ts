/*
 * The JPY message codec (modules/jpy/message.ts): draft Appendix A vectors, every head-size
 * boundary, the decoding policy for extensions and malformations, and seeded property tests against
 * an independent reference checker written after RFC 8949 Appendix C.
 */

import { suite } from "../lib/harness.js";
import { equal, ok, throws } from "../lib/assert.js";
import { fixtureHex } from "../lib/fixtures.js";
import { SeededRandom } from "../../hosts/xs/seeded-random.js";
import {
	decodeJpy,
	encodeJpyInto,
	encodeJpyPartsInto,
	JpyError,
	jpyEncodedLength,
	jpyOverhead,
	type JpyView,
	MAX_NESTING,
} from "../../modules/jpy/message.js";
import { bytesEqual, fromHex, toHex } from "../../modules/util/hex.js";

const CLIENT_HELLO = "cbrski/jpy-clienthello-from-joinproxy.cbor.hex";
const HELLO_VERIFY = "cbrski/jpy-helloverifyrequest-from-registrar.cbor.hex";
const VECTOR_HEADER = "d01914bcc376a88ffecc50ca6017b0c1";

function view(): JpyView {
	return { headerStart: -1, headerLength: -1, contentStart: -1, contentLength: -1, elements: -1 };
}

/** Equal bytes without a subarray per comparison (cheap on XS). */
function rangeEqual(a: Uint8Array, aStart: number, b: Uint8Array, bStart: number, length: number): boolean {
	for (let i = 0; i < length; i++) if (a[aStart + i] !== b[bStart + i]) return false;
	return true;
}

function encode(header: Uint8Array, content: Uint8Array): Uint8Array {
	const out = new Uint8Array(jpyEncodedLength(header.length, content.length));
	equal(encodeJpyInto(header, content, out), out.length, "end offset");
	return out;
}

/** The shortest head (RFC 8949 §4.2.1) for a byte string of n bytes, as hex. */
function bstrHead(n: number): string {
	const hex = (v: number, digits: number) => v.toString(16).padStart(digits, "0");
	return n < 24 ? hex(0x40 + n, 2) : n < 0x100 ? "58" + hex(n, 2) : n < 0x10000 ? "59" + hex(n, 4) : "5a" + hex(n, 8);
}

/** A JPY array head for `count` elements (count < 256). */
function arrayHead(count: number): string {
	return count < 24 ? (0x80 + count).toString(16) : "98" + count.toString(16).padStart(2, "0");
}

function rejects(hex: string, why: string): void {
	const data = fromHex(hex);
	const v = view();
	throws(() => decodeJpy(data, data.length, v), JpyError, `${why} (${hex.length > 60 ? hex.slice(0, 60) + "…" : hex})`);
	equal(v.elements, -1, `${why}: the result object is untouched on error`);
}

/* Well-formed extension items, one or more per major type and encoding form. */
const EXTRAS = [
	"00", "17", "1818", "190100", "1a00010000", "1b0000000100000000", "1bffffffffffffffff", // uint
	"20", "37", "3818", "3bffffffffffffffff", // nint
	"60", "6161", "7818" + "61".repeat(24), "7f6161ff", "7fff", "7f6061616162ff", // text, incl. indefinite
	"40", "4101", "5f4101ff", "5fff", "5f40ff", "5f41015801aaff", // bytes, incl. indefinite
	"80", "83010203", "8180", "9f01ff", "9fff", "9f9fffff", "9f5f41aaff7f6162ffff", // arrays
	"a0", "a10102", "a2616101616202", "bf0102ff", "bfff", "bf9fff5fffff", "a1a0a0", // maps
	"c11a5a0b8f00", "d8184100", "d9d9f7a0", "c0c0c0c06161", "c2410a", // tags
	"e0", "f4", "f5", "f6", "f7", "f820", "f8ff", "f93c00", "fa47c35000", "fb3ff199999999999a", // simple, float
];

/* Malformed extension items (each is the third element of a message that is otherwise fine). */
const BAD_EXTRAS: [string, string][] = [
	["ff", "break where an item is expected"],
	["1c", "reserved additional information 28"],
	["5d", "reserved additional information 29 on a byte string"],
	["fe", "reserved additional information 30 in major type 7"],
	["1f", "indefinite unsigned integer"],
	["3f", "indefinite negative integer"],
	["df00", "indefinite tag"],
	["f800", "two-byte simple value 0"],
	["f81f", "two-byte simple value 31"],
	["5f6161ff", "text chunk in an indefinite byte string"],
	["7f4161ff", "byte chunk in an indefinite text string"],
	["5f5f41aaffff", "indefinite chunk in an indefinite byte string"],
	["5f5fff", "empty indefinite chunk in an indefinite byte string"],
	["7f7fff", "empty indefinite chunk in an indefinite text string"],
	["5f00ff", "integer chunk in an indefinite byte string"],
	["5f41aa", "indefinite byte string without break"],
	["5f42aa", "chunk past the end"],
	["9f01", "indefinite array without break"],
	["bf01ff", "break in place of a map value"],
	["bf01", "indefinite map without break"],
	["a101", "map missing a value"],
	["a2010203", "map missing its last value"],
	["83", "array missing all items"],
	["820102ff", "break after a definite array"],
	["c1", "tag without content"],
	["d8", "truncated tag number"],
	["f9", "truncated half float"],
	["fa0000", "truncated single float"],
	["fb00000000000000", "truncated double float"],
	["1b00000000", "truncated 8-byte integer"],
	["6261", "text past the end"],
	["5bffffffffffffffff", "64-bit byte string length"],
	["9bffffffffffffffff", "64-bit array count"],
	["bb8000000000000000", "64-bit map count"],
	["9a00010000", "array count beyond the bytes left"],
];

/* ------------------------------------------------------------------------------------------------ */
/* Reference checker, written from the RFC 8949 Appendix C pseudocode (a different shape from the
 * module's skipper on purpose: recursion over a cursor object, chunk types checked by return value).
 * Returns the positions it found, or undefined if the datagram is not a JPY message. */

class NotWellFormed extends Error {}

interface Cursor {
	d: Uint8Array;
	p: number;
	end: number;
}

function take(c: Cursor, n: number): number {
	if (n > c.end - c.p) throw new NotWellFormed();
	const at = c.p;
	c.p += n;
	return at;
}

function uint(c: Cursor, n: number): number {
	const at = take(c, n);
	let v = 0;
	for (let i = 0; i < n; i++) v = v * 256 + c.d[at + i]!;
	return v;
}

/** Returns the major type of a definite item, 99 for an indefinite one, -1 for a break (when breakable). */
function wellFormed(c: Cursor, level: number, breakable: boolean): number {
	const ib = uint(c, 1);
	const mt = ib >> 5;
	const ai = ib & 0x1f;
	let val = ai;
	if (ai === 24) val = uint(c, 1);
	else if (ai === 25) val = uint(c, 2);
	else if (ai === 26) val = uint(c, 4);
	else if (ai === 27) val = uint(c, 8);
	else if (ai >= 28 && ai <= 30) throw new NotWellFormed();
	else if (ai === 31) return wellFormedIndefinite(c, mt, level, breakable);
	if (mt >= 4 && mt <= 6 && level + 1 > MAX_NESTING) throw new NotWellFormed();
	if (mt === 2 || mt === 3) take(c, val);
	else if (mt === 4) for (let i = 0; i < val; i++) wellFormed(c, level + 1, false);
	else if (mt === 5) for (let i = 0; i < val * 2; i++) wellFormed(c, level + 1, false);
	else if (mt === 6) wellFormed(c, level + 1, false);
	else if (mt === 7 && ai === 24 && val < 32) throw new NotWellFormed();
	return mt;
}

function wellFormedIndefinite(c: Cursor, mt: number, level: number, breakable: boolean): number {
	if (mt === 2 || mt === 3) {
		for (let it; (it = wellFormed(c, level, true)) !== -1; ) if (it !== mt) throw new NotWellFormed();
	} else if (mt === 4 || mt === 5) {
		if (level + 1 > MAX_NESTING) throw new NotWellFormed();
		while (wellFormed(c, level + 1, true) !== -1) if (mt === 5) wellFormed(c, level + 1, false);
	} else if (mt === 7 && breakable) return -1;
	else throw new NotWellFormed();
	return 99;
}

function referenceDecode(d: Uint8Array, length: number): JpyView | undefined {
	const c: Cursor = { d, p: 0, end: length };
	try {
		// The JPY array itself: definite length only (ai 0..27), at least two elements.
		const ib = uint(c, 1);
		const ai = ib & 0x1f;
		if (ib >> 5 !== 4 || ai > 27) return undefined;
		const count = ai < 24 ? ai : uint(c, 1 << (ai - 24));
		if (count < 2) return undefined;
		const pos: number[] = [];
		for (let i = 0; i < count; i++) {
			const before = c.p;
			const mt = wellFormed(c, 1, false);
			if (i < 2) {
				if (mt !== 2) return undefined;
				// Where the string's bytes start: the head is the first byte plus its argument bytes.
				const sai = d[before]! & 0x1f;
				pos.push(before + 1 + (sai < 24 ? 0 : 1 << (sai - 24)), c.p);
			}
		}
		if (c.p !== length) return undefined;
		return { headerStart: pos[0]!, headerLength: pos[1]! - pos[0]!, contentStart: pos[2]!, contentLength: pos[3]! - pos[2]!, elements: count };
	} catch (e) {
		if (e instanceof NotWellFormed) return undefined;
		throw e;
	}
}

/* ------------------------------------------------------------------------------------------------ */

export default suite("jpy message", (test) => {
	test("draft A.1: the ClientHello request decodes to a 16-byte header and 427 bytes of DTLS", () => {
		const msg = fixtureHex(CLIENT_HELLO);
		equal(msg.length, 448);
		const v = decodeJpy(msg);
		equal(v.elements, 2);
		equal(toHex(msg.subarray(v.headerStart, v.headerStart + v.headerLength)), VECTOR_HEADER);
		equal(v.contentLength, 427);
		equal(v.contentStart + v.contentLength, 448);
		equal(toHex(msg.subarray(v.contentStart, v.contentStart + 3)), "16fefd");
		equal(jpyOverhead(16, 427), 21, "overhead stated in the draft");
		equal(jpyEncodedLength(16, 427), 448);
	});

	test("draft A.2: the HelloVerifyRequest response has the same header and 60 bytes of DTLS", () => {
		const msg = fixtureHex(HELLO_VERIFY);
		equal(msg.length, 80);
		const v = decodeJpy(msg);
		equal(v.elements, 2);
		equal(toHex(msg.subarray(v.headerStart, v.headerStart + v.headerLength)), VECTOR_HEADER);
		equal(v.contentLength, 60);
		equal(toHex(msg.subarray(v.contentStart, v.contentStart + 3)), "16fefd");
		equal(jpyOverhead(16, 60), 20, "overhead stated in the draft");
	});

	test("re-encoding the draft vectors reproduces them byte for byte, in both API forms", () => {
		for (const name of [CLIENT_HELLO, HELLO_VERIFY]) {
			const msg = fixtureHex(name);
			const v = decodeJpy(msg);
			const header = msg.slice(v.headerStart, v.headerStart + v.headerLength);
			const content = msg.slice(v.contentStart, v.contentStart + v.contentLength);
			equal(toHex(encode(header, content)), toHex(msg), name);
			// Straight from the received datagram into a larger transmit buffer at an offset.
			const out = new Uint8Array(msg.length + 10).fill(0xee);
			const end = encodeJpyPartsInto(msg, v.headerStart, v.headerLength, msg, v.contentStart, v.contentLength, out, 7);
			equal(end, 7 + msg.length);
			equal(toHex(out.subarray(7, end)), toHex(msg), `${name} via parts`);
			equal(out[6], 0xee, "nothing written before the offset");
			equal(out[end], 0xee, "nothing written after the end");
		}
	});

	test("head boundaries: header 0..32 by content 0, 1, 23, 24, 255, 256, 65535, 65536 bytes", () => {
		const big = new Uint8Array(65536 + 200);
		for (let i = 0; i < big.length; i++) big[i] = (i * 7 + 3) & 0xff;
		const out = new Uint8Array(jpyEncodedLength(32, 65536) + 1);
		const v = view();
		for (const cLen of [0, 1, 23, 24, 255, 256, 65535, 65536]) {
			const cHead = bstrHead(cLen);
			const content = big.subarray(7, 7 + cLen);
			for (let hLen = 0; hLen <= 32; hLen++) {
				const expected = 1 + (hLen < 24 ? 1 : 2) + hLen + (cLen < 24 ? 1 : cLen < 256 ? 2 : cLen < 65536 ? 3 : 5) + cLen;
				equal(jpyEncodedLength(hLen, cLen), expected, `length ${hLen}/${cLen}`);
				equal(jpyOverhead(hLen, cLen), expected - cLen, `overhead ${hLen}/${cLen}`);
				// Both API forms; the parts form copies partial ranges byte by byte, which is slow on XS,
				// so it does the long contents for one header length only.
				const end =
					cLen <= 256 || hLen === 19
						? encodeJpyPartsInto(big, 100 + hLen, hLen, big, 7, cLen, out, 1) - 1
						: encodeJpyInto(big.subarray(100 + hLen, 100 + 2 * hLen), content, out, 1) - 1;
				equal(end, expected);
				const msg = out.subarray(1);
				const heads = "82" + bstrHead(hLen);
				const hs = heads.length / 2;
				equal(toHex(msg.subarray(0, hs)), heads, `heads ${hLen}/${cLen}`);
				equal(toHex(msg.subarray(hs + hLen, hs + hLen + cHead.length / 2)), cHead, `content head ${cLen}`);
				decodeJpy(msg, end, v);
				equal(`${v.headerStart},${v.headerLength},${v.contentStart},${v.contentLength},${v.elements}`, `${hs},${hLen},${hs + hLen + cHead.length / 2},${cLen},2`);
				ok(rangeEqual(msg, v.headerStart, big, 100 + hLen, hLen), "header bytes");
				// The last bytes of the content: a copy that stopped short would show there.
				const tail = Math.min(cLen, 16);
				ok(rangeEqual(msg, end - tail, big, 7 + cLen - tail, tail), "content bytes");
				if (hLen === 19) ok(rangeEqual(msg, v.contentStart, big, 7, cLen), `all ${cLen} content bytes`);
			}
		}
	});

	test("overhead values: the draft's 38-byte maximum, this proxy's 19-byte header, head sizes up to 2^32", () => {
		equal(jpyOverhead(32, 1024), 38, "§4.5.2: 32-byte header, 1024-byte payload");
		equal(jpyOverhead(32, 65535), 38, "largest content with a 3-byte head");
		equal(jpyOverhead(19, 1024), 24);
		equal(jpyOverhead(0, 0), 3, "smallest message: 82 40 40");
		equal(jpyOverhead(23, 23), 26);
		equal(jpyOverhead(24, 24), 29);
		equal(jpyEncodedLength(0, 0xffffffff) - 0xffffffff, 1 + 1 + 5, "4-byte length head");
		equal(jpyEncodedLength(0, 0x100000000) - 0x100000000, 1 + 1 + 9, "8-byte length head");
		for (const bad of [-1, 1.5, NaN, Infinity, 2 ** 53]) {
			throws(() => jpyEncodedLength(bad, 0), RangeError, `header length ${bad}`);
			throws(() => jpyOverhead(0, bad), RangeError, `content length ${bad}`);
		}
	});

	test("encoding checks its buffers and writes nothing when out is too small", () => {
		const h = fromHex("0102");
		const c = fromHex("aabbcc");
		const exact = new Uint8Array(8);
		equal(encodeJpyInto(h, c, exact), 8);
		equal(toHex(exact), "8242010243aabbcc");
		const short = new Uint8Array(7).fill(0xee);
		throws(() => encodeJpyInto(h, c, short), RangeError, "one byte short");
		throws(() => encodeJpyInto(h, c, short, 100), RangeError, "offset past the end");
		equal(toHex(short), "ee".repeat(7), "untouched");
		const wide = new Uint8Array(20).fill(0xee);
		throws(() => encodeJpyInto(h, c, wide, 13), RangeError, "offset leaves one byte short");
		equal(toHex(wide), "ee".repeat(20), "untouched");
		equal(encodeJpyInto(h, c, wide, 12), 20);
		equal(toHex(wide), "ee".repeat(12) + "8242010243aabbcc");
		throws(() => encodeJpyInto(h, c, wide, -1), RangeError, "negative offset");
		throws(() => encodeJpyInto(h, c, wide, 0.5), RangeError, "fractional offset");
		throws(() => encodeJpyPartsInto(h, 1, 2, c, 0, 3, wide, 0), RangeError, "header range past its buffer");
		throws(() => encodeJpyPartsInto(h, 0, 2, c, 2, 2, wide, 0), RangeError, "content range past its buffer");
		throws(() => encodeJpyPartsInto(h, -1, 1, c, 0, 3, wide, 0), RangeError, "negative start");
		throws(() => encodeJpyPartsInto(h, 0, 0.5, c, 0, 3, wide, 0), RangeError, "fractional length");
	});

	test("decoding honours length, reuses the result object, and rejects a length outside the data", () => {
		const msg = fixtureHex(HELLO_VERIFY);
		const padded = new Uint8Array(200).fill(0xff);
		padded.set(msg);
		const v = view();
		equal(decodeJpy(padded, msg.length, v), v, "the object passed in is returned");
		equal(v.contentLength, 60);
		throws(() => decodeJpy(padded, msg.length + 1), JpyError, "one byte of trailing garbage");
		throws(() => decodeJpy(msg, msg.length + 1), RangeError);
		throws(() => decodeJpy(msg, -1), RangeError);
	});

	test("extension elements of every major type are accepted and counted", () => {
		const base = "82" + "4401020304" + "43aabbcc";
		const v = view();
		for (const item of EXTRAS) {
			const data = fromHex("83" + base.slice(2) + item);
			decodeJpy(data, data.length, v);
			equal(v.elements, 3, item);
			equal(v.headerStart, 2);
			equal(v.headerLength, 4);
			equal(v.contentStart, 7);
			equal(v.contentLength, 3);
		}
		const all = fromHex(arrayHead(2 + EXTRAS.length) + base.slice(2) + EXTRAS.join(""));
		decodeJpy(all, all.length, v);
		equal(v.elements, 2 + EXTRAS.length, "all extras at once");
		equal(v.headerStart, 3, "two-byte array head");
		// Extras are ignored: re-encoding keeps just [header, content].
		equal(toHex(encode(all.slice(3, 7), all.slice(8, 11))), base);
	});

	test("non-minimal heads are accepted (well-formed per RFC 8949 §3), re-encoding makes them minimal", () => {
		const cases: [string, number, number, number, number][] = [
			// hex, headerStart, headerLength, contentStart, contentLength
			["825805aabbccddee4101", 3, 5, 9, 1],
			["82590002aabb5a00000001cc", 4, 2, 11, 1],
			["825b0000000000000001aa5b0000000000000000", 10, 1, 20, 0],
			["98024140590000", 3, 1, 7, 0],
			["9b00000000000000024140590000", 10, 1, 14, 0],
		];
		for (const [hex, hs, hl, cs, cl] of cases) {
			const d = fromHex(hex);
			const v = decodeJpy(d);
			equal(`${v.headerStart},${v.headerLength},${v.contentStart},${v.contentLength},${v.elements}`, `${hs},${hl},${cs},${cl},2`, hex);
			const again = encode(d.slice(hs, hs + hl), d.slice(cs, cs + cl));
			equal(toHex(again), "82" + bstrHead(hl) + hex.slice(hs * 2, (hs + hl) * 2) + bstrHead(cl) + hex.slice(cs * 2, (cs + cl) * 2));
		}
	});

	test("rejects: not an array, fewer than 2 elements, indefinite array, wrong element types", () => {
		rejects("", "empty datagram");
		for (const hex of ["40", "00", "20", "60", "a0", "a2404040", "c24140", "f6", "ff", "f4"]) rejects(hex, "not an array");
		rejects("80", "array of 0");
		rejects("8140", "array of 1");
		rejects("814040", "array of 1 followed by a second item");
		rejects("9f4040ff", "indefinite-length array");
		rejects("9f40ff", "indefinite-length array");
		rejects("9c4040", "reserved additional information in the array head");
		rejects("825c4040", "reserved additional information in the header head");
		rejects("826040", "text header");
		rejects("824060", "text content");
		rejects("820040", "integer header");
		rejects("8240a0", "map content");
		rejects("828040", "array header");
		rejects("82c24040", "tagged header");
		rejects("8240f6", "null content");
		rejects("825f40ff40", "indefinite-length header");
		rejects("825f4101ff40", "indefinite-length header with a chunk");
		rejects("82405f40ff", "indefinite-length content");
		rejects("82405fff", "indefinite-length content, no chunks");
		// Not even read as empty strings with the rest following: "5f" alone is no definite string.
		rejects("825f40", "indefinite-length header head, then a string");
		rejects("82405f", "indefinite-length content head at the end");
		rejects("82ff40", "break as the header");
	});

	test("rejects: truncation anywhere, lengths past the end, 64-bit lengths, trailing bytes", () => {
		for (const name of [CLIENT_HELLO, HELLO_VERIFY]) {
			const msg = fixtureHex(name);
			for (let n = 0; n < msg.length; n++) throws(() => decodeJpy(msg, n), JpyError, `${name} cut to ${n} bytes`);
		}
		for (const hex of ["82", "8241", "8242aa", "8240", "824058", "82405801", "8259", "825900", "82405a000000", "82405b00000000000000", "8258", "98", "9802", "9b00000000000000"]) {
			rejects(hex, "truncated");
		}
		rejects("825bffffffffffffffff", "2^64-1 byte header");
		rejects("82405b0000000100000000", "2^32 byte content");
		rejects("82405b0020000000000000", "2^53 byte content");
		rejects("82405b001fffffffffffff", "2^53-1 byte content");
		rejects("82405affffffff", "2^32-1 byte content");
		rejects("9bffffffffffffffff4040", "2^64-1 elements");
		rejects("9b00000000000000034040", "3 elements, 2 present");
		rejects("834040", "3 elements, 2 present");
		rejects("824040" + "00", "trailing byte");
		rejects("824040" + "824040", "a second JPY message");
		rejects("824040" + "ff", "trailing break");
		const msg = fixtureHex(CLIENT_HELLO);
		rejects(toHex(msg) + "00", "vector with a trailing byte");
	});

	test("rejects malformed extension elements", () => {
		for (const [item, why] of BAD_EXTRAS) rejects("83" + "4140" + "4141" + item, why);
		// A good extra followed by a bad one, and the count one beyond what is there.
		rejects("84" + "4040" + "a10102" + "f800", "second extra malformed");
		rejects("84" + "4040" + "a10102", "missing extra");
	});

	test(`nesting: ${MAX_NESTING} levels including the JPY array are accepted, one more is not`, () => {
		// k levels of one kind of container, innermost empty (or a tagged 0).
		const NESTS: [string, (k: number) => string][] = [
			["definite arrays", (k) => "81".repeat(k - 1) + "80"],
			["indefinite arrays", (k) => "9f".repeat(k) + "ff".repeat(k)],
			["definite maps", (k) => "a100".repeat(k - 1) + "a0"],
			["indefinite maps", (k) => "bf00".repeat(k - 1) + "bfff" + "ff".repeat(k - 1)],
			["tags", (k) => "c1".repeat(k) + "00"],
			["mixed", (k) => "d818".repeat(k >> 1) + "9f".repeat(k - (k >> 1)) + "ff".repeat(k - (k >> 1))],
		];
		const room = MAX_NESTING - 1; // the JPY array is the first level
		for (const [what, nest] of NESTS) {
			equal(decodeJpy(fromHex("834040" + nest(room))).elements, 3, `${room} levels of ${what}`);
			rejects("834040" + nest(room + 1), `${room + 1} levels of ${what}`);
		}
		// Far deeper than any stack would like: rejected at the limit, not by a stack overflow.
		for (const open of [0x81, 0x9f, 0xc1, 0xbf]) {
			const deep = new Uint8Array(3 + 100000 + 1).fill(open);
			deep.set([0x83, 0x40, 0x40]);
			deep[deep.length - 1] = 0;
			throws(() => decodeJpy(deep), JpyError, `100000 levels of ${open.toString(16)}`);
		}
	});

	test("property: 2000 random [header, content] round-trip exactly through both encoders", () => {
		const r = new SeededRandom(0x4a5059);
		const pool = r.bytes(4096);
		const out = new Uint8Array(3000);
		const v = view();
		const LENGTHS = [0, 1, 22, 23, 24, 25, 254, 255, 256, 257];
		for (let i = 0; i < 2000; i++) {
			const hLen = r.int(4) === 0 ? LENGTHS[r.int(LENGTHS.length)]! : r.int(41);
			const cLen = r.int(4) === 0 ? LENGTHS[r.int(LENGTHS.length)]! : r.int(8) === 0 ? r.int(1500) : r.int(200);
			const hAt = r.int(pool.length - hLen + 1);
			const cAt = r.int(pool.length - cLen + 1);
			const offset = r.int(16);
			const end = encodeJpyPartsInto(pool, hAt, hLen, pool, cAt, cLen, out, offset);
			equal(end - offset, jpyEncodedLength(hLen, cLen), "length");
			const msg = offset === 0 ? out : out.subarray(offset);
			decodeJpy(msg, end - offset, v);
			if (!(v.elements === 2 && v.headerLength === hLen && v.contentLength === cLen && v.contentStart + cLen === end - offset)) ok(false, `positions, case ${i}`);
			if (!(rangeEqual(msg, v.headerStart, pool, hAt, hLen) && rangeEqual(msg, v.contentStart, pool, cAt, cLen))) ok(false, `bytes, case ${i}`);
			if (i % 20 === 0) {
				// The whole-array encoder gives the same bytes.
				const again = encode(pool.slice(hAt, hAt + hLen), pool.slice(cAt, cAt + cLen));
				if (!(again.length === end - offset && rangeEqual(again, 0, msg, 0, again.length))) ok(false, `encoders agree, case ${i}`);
			}
		}
	});

	test("property: random and mutated datagrams decode consistently with the RFC 8949 reference, or throw JpyError", () => {
		const r = new SeededRandom(0x6a7079);
		const buf = new Uint8Array(600);
		// Random bytes come from windows of one pool: generating them per case would cost XS more than
		// the decoding under test.
		const pool = r.bytes(2048);
		const randomInto = (at: number, length: number) => {
			const from = r.int(pool.length - length + 1);
			buf.set(pool.subarray(from, from + length), at);
		};
		const re = new Uint8Array(700);
		const v = view();
		const v2 = view();
		const INTERESTING = [0x00, 0x17, 0x18, 0x19, 0x1a, 0x1b, 0x1c, 0x1f, 0x40, 0x57, 0x58, 0x5b, 0x5f, 0x80, 0x82, 0x83, 0x98, 0x9b, 0x9f, 0xa1, 0xbf, 0xc1, 0xd8, 0xf8, 0xf9, 0xfb, 0xff];
		const extras = EXTRAS.map(fromHex);
		const badExtras = BAD_EXTRAS.map(([h]) => fromHex(h));
		let accepted = 0;
		let rejected = 0;
		// 12000 keeps the suite near a second on XS (20-50 times slower than Node here); the corpus of
		// extension items and "interesting" bytes makes up for the smaller count.
		const CASES = 12000;
		for (let i = 0; i < CASES; i++) {
			let n = 0;
			const put = (b: Uint8Array) => {
				buf.set(b, n);
				n += b.length;
			};
			const kind = r.int(8);
			if (kind === 0) {
				// Random bytes, half of them behind a plausible array head.
				n = r.int(48);
				randomInto(0, n);
				if (n > 0 && r.int(2) === 0) buf[0] = 0x80 | r.int(32);
			} else {
				// A valid message, sometimes with extras, then mutated.
				const nExtras = r.int(3) === 0 ? 1 + r.int(4) : 0;
				buf[n++] = 0x80 + 2 + nExtras;
				const hLen = r.int(30);
				const cLen = r.int(4) === 0 ? r.int(300) : r.int(30);
				buf[n++] = hLen < 24 ? 0x40 + hLen : 0x58;
				if (hLen >= 24) buf[n++] = hLen;
				randomInto(n, hLen);
				n += hLen;
				n = encodeHead(buf, n, cLen);
				randomInto(n, cLen);
				n += cLen;
				for (let k = 0; k < nExtras; k++) put(r.int(6) === 0 ? badExtras[r.int(badExtras.length)]! : extras[r.int(extras.length)]!);
				const mutations = kind === 1 ? 0 : 1 + r.int(3);
				for (let m = 0; m < mutations; m++) {
					const op = r.int(6);
					if (op === 0 && n > 0) {
						const at = r.int(n);
						buf[at] = buf[at]! ^ (1 << r.int(8)); // bit flip
					} else if (op === 1 && n > 0) {
						n = r.int(n); // truncation
					} else if (op === 2 && n < 500) {
						const at = r.int(n + 1);
						buf.copyWithin(at + 1, at, n); // insertion
						buf[at] = r.int(4) === 0 ? r.int(256) : INTERESTING[r.int(INTERESTING.length)]!;
						n++;
					} else if (op === 3) {
						buf[0] = r.int(2) === 0 ? 0x80 | r.int(32) : INTERESTING[r.int(INTERESTING.length)]!; // random array head
					} else if (op === 4 && n > 0) {
						buf[r.int(n)] = INTERESTING[r.int(INTERESTING.length)]!;
					} else if (n < 500) {
						buf[n++] = r.int(256); // trailing byte
					}
				}
			}
			const ref = referenceDecode(buf, n);
			let threw = false;
			try {
				decodeJpy(buf, n, v);
			} catch (e) {
				if (!(e instanceof JpyError)) throw new Error(`case ${i}: ${String(e)} for ${toHex(buf.subarray(0, n))}`);
				threw = true;
			}
			if (threw) {
				rejected++;
				// Messages only on failure: hex-dumping every case would cost XS more than the test itself.
				if (ref !== undefined) ok(false, `case ${i}: rejected a message the reference accepts: ${toHex(buf.subarray(0, n))}`);
				continue;
			}
			accepted++;
			if (ref === undefined) ok(false, `case ${i}: accepted a message the reference rejects: ${toHex(buf.subarray(0, n))}`);
			if (!(v.headerStart === ref.headerStart && v.headerLength === ref.headerLength && v.contentStart === ref.contentStart && v.contentLength === ref.contentLength && v.elements === ref.elements)) {
				ok(false, `case ${i}: positions differ from the reference`);
			}
			if (!(v.headerStart >= 2 && v.headerStart + v.headerLength <= v.contentStart && v.contentStart + v.contentLength <= n && v.elements >= 2)) ok(false, `case ${i}: positions out of bounds`);
			const end = encodeJpyPartsInto(buf, v.headerStart, v.headerLength, buf, v.contentStart, v.contentLength, re, 0);
			decodeJpy(re, end, v2);
			if (!(v2.elements === 2 && v2.headerLength === v.headerLength && v2.contentLength === v.contentLength && v2.contentStart + v2.contentLength === end)) ok(false, `case ${i}: re-encoding`);
			if (!(rangeEqual(re, v2.headerStart, buf, v.headerStart, v.headerLength) && rangeEqual(re, v2.contentStart, buf, v.contentStart, v.contentLength))) ok(false, `case ${i}: re-encoded bytes`);
		}
		// Both outcomes must be well represented, or the generator has gone stale.
		ok(accepted > CASES / 10 && rejected > CASES / 4, `accepted ${accepted}, rejected ${rejected}`);
	});
});

/** A minimal byte-string head for n < 65536 (test-side, independent of the module's writer). */
function encodeHead(buf: Uint8Array, n: number, len: number): number {
	if (len < 24) buf[n++] = 0x40 + len;
	else if (len < 256) {
		buf[n++] = 0x58;
		buf[n++] = len;
	} else {
		buf[n++] = 0x59;
		buf[n++] = len >> 8;
		buf[n++] = len & 0xff;
	}
	return n;
}
