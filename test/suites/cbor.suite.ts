import { suite } from "../lib/harness.js";
import { deepEqual, equal, ok, throws } from "../lib/assert.js";
import { countCodeCompilation } from "../lib/no-eval.js";
import { COSE_VECTORS, cbrskiHex } from "../lib/cbrski-vectors.js";
import { SeededRandom } from "../../hosts/xs/seeded-random.js";
import { CborError, MAX_CBOR_DEPTH, Tag, checkWellFormed, decodeCbor, encodeCbor } from "../../modules/cbor/cbor.js";
import { fromHex, toHex } from "../../modules/util/hex.js";
import { Decoder } from "cbor-x";

/*
 * cbor-x "records": tag 0xDFFF defines a record {a}, four tags 0xE000 use it; from the third use on
 * cbor-x compiles a reader with `new Function`, whatever the decoder options say.
 */
const RECORDS = fromHex("85" + "D9DFFF8319E000816161" + "01" + "D9E0008102".repeat(4));
/** The same through the legacy record tag 105. */
const LEGACY_RECORDS = fromHex("85" + "D8698319E000816161" + "01" + "D9E0008102".repeat(4));

export default suite("cbor (cbor-x profile)", (test) => {
	test("cbor-x itself compiles code from input records even with useRecords: false (why checkWellFormed exists)", () => {
		const calls = countCodeCompilation(() => {
			try {
				new Decoder({ useRecords: false, mapsAsObjects: false }).decode(RECORDS);
			} catch {
				// the refused Function call
			}
		});
		ok(calls > 0, "cbor-x reached new Function");
	});

	test("decodeCbor refuses record tags before cbor-x sees them: no code compiled", () => {
		const calls = countCodeCompilation(() => {
			for (const bytes of [RECORDS, LEGACY_RECORDS]) throws(() => decodeCbor(bytes), CborError);
			throws(() => decodeCbor(RECORDS, { tags: [18, 47] }), CborError);
		});
		equal(calls, 0);
	});

	test("every COSE vector decodes and re-encodes byte for byte with Function and eval disabled", () => {
		const calls = countCodeCompilation(() => {
			for (const v of COSE_VECTORS) {
				const bytes = cbrskiHex(v.file);
				for (let round = 0; round < 5; round++) equal(toHex(encodeCbor(decodeCbor(bytes, { tags: [18] }))), toHex(bytes), v.file);
			}
		});
		equal(calls, 0);
	});

	test("maps decode to Map (integer and text keys), byte strings to fresh Uint8Arrays", () => {
		const input = fromHex("A3 01 42 AABB 6161 F5 20 A0".replace(/ /g, ""));
		const m = decodeCbor(input);
		ok(m instanceof Map);
		deepEqual([...m.keys()], [1, "a", -1]);
		const b = m.get(1) as Uint8Array;
		deepEqual(b, fromHex("AABB"));
		ok(b.buffer !== input.buffer, "copied out of the input");
		ok(m.get(-1) instanceof Map);
	});

	test("encodeCbor: shortest heads, untagged byte strings, Maps in insertion order, plain Uint8Array result", () => {
		const cases: [unknown, string][] = [
			[0, "00"], [23, "17"], [24, "1818"], [255, "18FF"], [256, "190100"], [65536, "1A00010000"], [-1, "20"], [-7, "26"], [-25, "3818"],
			[new Uint8Array(0), "40"], [new Uint8Array(24), "5818" + "00".repeat(24)], ["a".repeat(24), "7818" + "61".repeat(24)],
			[new Map<unknown, unknown>([[2, 1], [1, 2]]), "A202010102"], [[true, false, null], "83F5F4F6"],
			[new Tag([1], 18), "D28101"], [new Tag(5, 47), "D82F05"],
		];
		for (const [value, hex] of cases) {
			const out = encodeCbor(value);
			equal(Object.getPrototypeOf(out), Uint8Array.prototype, "a plain Uint8Array");
			equal(toHex(out), toHex(fromHex(hex)), hex);
		}
	});

	test("checkWellFormed refuses what is outside the profile, each with CborError", () => {
		const bad: [string, string][] = [
			["", "empty"], ["18", "truncated head"], ["1900", "truncated head"], ["42AA", "truncated bytes"], ["82 01", "truncated array"],
			["A1 01", "truncated map"], ["0000", "trailing byte"], ["9F FF", "indefinite array"], ["5F 41AA FF", "indefinite bytes"],
			["7F FF", "indefinite text"], ["BF FF", "indefinite map"], ["1C", "reserved ai"], ["FF", "break"], ["F7", "undefined"],
			["F0", "simple 16"], ["F818", "simple 24"], ["1817", "non-shortest 1-byte"], ["1900FF", "non-shortest 2-byte"],
			["1A0000FFFF", "non-shortest 4-byte"], ["1B00000000FFFFFFFF", "non-shortest 8-byte"], ["5817" + "00".repeat(23), "non-shortest length"],
			["A2 01 01 01 02", "duplicate key"], ["A2 6161 01 6161 02", "duplicate text key"], ["C1 00", "tag 1 (date)"],
			["C2 41 01", "tag 2 (bignum)"], ["D9 0102 80", "tag 258 (set)"], ["D81C 00", "tag 28 (shared ref)"], ["D2 80", "tag 18 unnamed"],
			["5B FFFFFFFFFFFFFFFF", "huge length"], ["9B 0000000100000000", "huge array"],
			["F93C00", "half float"], ["FA3F800000", "single float"], ["FB3FF0000000000000", "double float"],
		];
		for (const [hex, what] of bad) throws(() => checkWellFormed(fromHex(hex.replace(/ /g, ""))), CborError, what);
		checkWellFormed(fromHex("D280"), { tags: [18] });
		checkWellFormed(fromHex("83F4F5F6"));
		let deep = "";
		for (let i = 0; i < MAX_CBOR_DEPTH; i++) deep += "81";
		checkWellFormed(fromHex(deep + "00"));
		throws(() => checkWellFormed(fromHex(deep + "8100")), CborError, "too deep");
	});

	test("seeded fuzz: random bytes and mutated vectors end as a value or CborError, never another error", () => {
		const r = new SeededRandom(0xcb0);
		const seeds = COSE_VECTORS.map((v) => cbrskiHex(v.file));
		let accepted = 0;
		const calls = countCodeCompilation(() => {
			for (let i = 0; i < 1500; i++) {
				let data: Uint8Array;
				const kind = i % 3;
				if (kind === 0) data = r.bytes(r.int(64));
				else {
					data = seeds[r.int(seeds.length)]!.slice();
					if (kind === 1) data = data.subarray(0, r.int(data.length));
					else for (let f = 1 + r.int(4); f > 0; f--) data[r.int(data.length)]! ^= 1 << r.int(8);
				}
				try {
					decodeCbor(data, { tags: [18, 47] });
					accepted++;
				} catch (e) {
					if (!(e instanceof CborError)) throw new Error(`case ${i} (${toHex(data.subarray(0, 16))}…): ${String(e)}`);
				}
			}
		});
		equal(calls, 0);
		ok(accepted > 0, "some mutations still decode");
	});
});
