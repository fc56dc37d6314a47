/*
 * modules/jpy/message.ts against an independent CBOR implementation (cbor-x), in both directions:
 * our encoding of [header, content] is byte-identical to cbor-x's, cbor-x reads ours back as the
 * same two byte strings, and we accept what cbor-x writes, extension elements included. Node-only
 * (cbor-x is not part of the XS build); test/suites/jpy-message.suite.ts carries the rest into XS.
 */

import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { Encoder } from "cbor-x";
import { SeededRandom } from "../hosts/xs/seeded-random.js";
import { decodeJpy, encodeJpyInto, jpyEncodedLength } from "../modules/jpy/message.js";

// Under Node cbor-x marks every plain Uint8Array with tag 64 (RFC 8746 "uint8 typed array") unless
// told not to; a JPY element is an untagged byte string (draft §4.5.2).
const cbor = new Encoder({ tagUint8Array: false });

const BOUNDARIES = [0, 1, 23, 24, 255, 256, 65535, 65536, 70000];

function randomLength(r: SeededRandom, max: number): number {
	return r.int(5) === 0 ? BOUNDARIES[r.int(BOUNDARIES.length)]! : r.int(max);
}

function ours(header: Uint8Array, content: Uint8Array): Uint8Array {
	const out = new Uint8Array(jpyEncodedLength(header.length, content.length));
	assert.equal(encodeJpyInto(header, content, out), out.length);
	return out;
}

function hex(bytes: Uint8Array): string {
	return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString("hex");
}

describe("jpy message vs cbor-x", () => {
	it("1000 random messages: our bytes equal cbor-x's, and cbor-x decodes ours to the same byte strings", () => {
		const r = new SeededRandom(0xc0b0);
		for (let i = 0; i < 1000; i++) {
			const header = r.bytes(r.int(4) === 0 ? BOUNDARIES[r.int(4)]! : r.int(40));
			const content = r.bytes(randomLength(r, 1500));
			const mine = ours(header, content);
			const theirs: Uint8Array = cbor.encode([header, content]);
			assert.equal(hex(mine), hex(theirs), `case ${i}: ${header.length}/${content.length}`);
			const back = cbor.decode(mine) as unknown[];
			assert.ok(Array.isArray(back) && back.length === 2, `case ${i}: two elements`);
			assert.ok(back[0] instanceof Uint8Array && back[1] instanceof Uint8Array, `case ${i}: byte strings`);
			assert.deepEqual(new Uint8Array(back[0]), header, `case ${i}: header`);
			assert.deepEqual(new Uint8Array(back[1]), content, `case ${i}: content`);
		}
	});

	it("accepts cbor-x arrays with extension elements of many kinds and finds the same header and content", () => {
		const r = new SeededRandom(0xe7);
		const extras: unknown[] = [
			0, 23, 24, 65536, 2 ** 40, -1, -25, -(2 ** 40), 1.5, -0.0, NaN, Infinity, 3.4028234663852886e38, 1e300,
			"", "jpy", "é".repeat(30), true, false, null, undefined, [], [1, [2, [3, [4]]]],
			new Map<unknown, unknown>([[1, "a"], ["b", new Uint8Array([1, 2])]]), { k: [1, 2], v: { w: null } },
			new Date(0), 2n ** 70n, -(2n ** 70n), new Uint8Array([9, 9]),
		];
		for (let i = 0; i < 300; i++) {
			const header = r.bytes(r.int(33));
			const content = r.bytes(randomLength(r, 600));
			const value: unknown[] = [header, content];
			const n = r.int(5);
			for (let k = 0; k < n; k++) value.push(extras[r.int(extras.length)]);
			// cbor-x hands back a Buffer; compare plain Uint8Arrays.
			const data: Uint8Array = cbor.encode(value);
			const v = decodeJpy(data);
			assert.equal(v.elements, 2 + n, `case ${i}: elements of ${hex(data.subarray(0, 40))}`);
			assert.deepEqual(new Uint8Array(data.subarray(v.headerStart, v.headerStart + v.headerLength)), header, `case ${i}: header`);
			assert.deepEqual(new Uint8Array(data.subarray(v.contentStart, v.contentStart + v.contentLength)), content, `case ${i}: content`);
		}
	});
});
