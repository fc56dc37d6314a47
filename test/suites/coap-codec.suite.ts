import { suite } from "../lib/harness.js";
import { deepEqual, equal, ok, throws } from "../lib/assert.js";
import { fixtureHex } from "../lib/fixtures.js";
import { SeededRandom } from "../../hosts/xs/seeded-random.js";
import { ACK, CON, Code, ContentFormat, NON, Opt, POST, RST } from "../../modules/coap/constants.js";
import { CoapParseError } from "../../modules/coap/errors.js";
import { decode, encode, encodedLength, option, readUint, setOption, stringOptions, uintOption, type CoapMessage } from "../../modules/coap/message.js";
import { decodeBlock, encodeBlock, szxOf } from "../../modules/coap/block.js";
import { toHex, fromHex } from "../../modules/util/hex.js";
import { utf8Decode, utf8Encode } from "../../modules/util/utf8.js";

const EMPTY = new Uint8Array(0);

function msg(partial: Partial<CoapMessage>): CoapMessage {
	return { type: CON, code: 1, messageId: 0x1234, token: EMPTY, options: [], payload: EMPTY, ...partial };
}

function randomMessage(r: SeededRandom): CoapMessage {
	const options = [];
	const count = r.int(8);
	let number = 0;
	for (let i = 0; i < count; i++) {
		// Mix small deltas with ones needing the 1- and 2-byte extensions (RFC 7252 §3.1).
		const kind = r.int(4);
		number += kind === 0 ? 0 : kind === 1 ? r.int(13) : kind === 2 ? 13 + r.int(256) : 269 + r.int(3000);
		if (number > 0xffff) break;
		const lenKind = r.int(4);
		const len = lenKind < 2 ? r.int(13) : lenKind === 2 ? 13 + r.int(256) : 269 + r.int(400);
		options.push({ number, value: r.bytes(len) });
	}
	return {
		type: r.int(4),
		code: 1 + r.int(255),
		messageId: r.int(0x10000),
		token: r.bytes(r.int(9)),
		options,
		payload: r.int(3) === 0 ? EMPTY : r.bytes(1 + r.int(300)),
	};
}

export default suite("coap codec", (test) => {
	test("draft vector: CON POST /b/es with CBOR payload decodes and re-encodes byte for byte", () => {
		const bytes = fixtureHex("cbrski/coap-post-b-es-request.derived.hex");
		const m = decode(bytes);
		equal(m.type, CON);
		equal(m.code, POST);
		equal(m.messageId, 0xab0f);
		deepEqual(m.token, new Uint8Array([0x4d]));
		deepEqual(stringOptions(m, Opt.UriPath), ["b", "es"]);
		equal(readUint(m.options.find((o) => o.number === Opt.ContentFormat)!.value), ContentFormat.Cbor);
		equal(m.payload.length, 18);
		deepEqual(encode(m), bytes);
	});

	test("draft vector: piggybacked 2.04 ACK", () => {
		const bytes = fixtureHex("cbrski/coap-2.04-ack-response.derived.hex");
		const m = decode(bytes);
		equal(m.type, ACK);
		equal(m.code, Code.Changed);
		equal(m.messageId, 0xab0f);
		deepEqual(encode(m), bytes);
	});

	test("builds the /b/es request from parts, identical to the vector", () => {
		const req = msg({
			code: POST,
			messageId: 0xab0f,
			token: new Uint8Array([0x4d]),
			options: [option(Opt.UriPath, "b"), option(Opt.UriPath, "es"), option(Opt.ContentFormat, ContentFormat.Cbor)],
			payload: fromHex("A26776657273696F6E0166737461747573F5"),
		});
		equal(toHex(encode(req)).toUpperCase(), "4102AB0F4DB162026573113CFFA26776657273696F6E0166737461747573F5");
	});

	test("option delta and length extensions at every boundary", () => {
		for (const n of [0, 1, 12, 13, 14, 268, 269, 270, 65535]) {
			for (const len of [0, 12, 13, 268, 269, 1000]) {
				const m = msg({ options: [{ number: n, value: new Uint8Array(len).fill(7) }] });
				const bytes = encode(m);
				equal(bytes.length, encodedLength(m));
				const back = decode(bytes);
				equal(back.options.length, 1, `option ${n}/${len}`);
				equal(back.options[0]!.number, n);
				equal(back.options[0]!.value.length, len);
			}
		}
	});

	test("repeated options keep their order; unsorted input is sorted stably", () => {
		const m = msg({ options: [option(Opt.UriQuery, "b=2"), option(Opt.UriPath, "x"), option(Opt.UriQuery, "a=1"), option(Opt.UriPath, "y")] });
		const back = decode(encode(m));
		deepEqual(stringOptions(back, Opt.UriPath), ["x", "y"]);
		deepEqual(stringOptions(back, Opt.UriQuery), ["b=2", "a=1"]);
	});

	test("tokens of 0..8 bytes; RST and empty messages", () => {
		for (let n = 0; n <= 8; n++) {
			const t = new Uint8Array(n).fill(n);
			deepEqual(decode(encode(msg({ token: t }))).token, t);
		}
		throws(() => encode(msg({ token: new Uint8Array(9) })), RangeError);
		const rst = decode(new Uint8Array([0x70, 0x00, 0x12, 0x34]));
		equal(rst.type, RST);
		equal(rst.code, 0);
	});

	test("strict errors: each malformation is a CoapParseError", () => {
		const bad: [string, string][] = [
			["", "empty"],
			["4001", "short header"],
			["80010000", "version 2"],
			["49010000", "token length 9"],
			["42010000aa", "token past end"],
			["400100", "3 bytes"],
			["40000000ff", "empty message with payload"],
			["41000000aa", "empty message with token"],
			["40010000ff", "payload marker without payload"],
			["40010000f1", "delta nibble 15"],
			["400100001f", "length nibble 15"],
			["40010000d0", "truncated 1-byte delta"],
			["40010000e000", "truncated 2-byte delta"],
			["400100000d", "truncated 1-byte length"],
			["40010000b3aa", "value past end"],
			["40010000e0fef2e0fef2", "option number > 65535"],
		];
		for (const [hex, why] of bad) throws(() => decode(fromHex(hex)), CoapParseError, why);
	});

	test("uint options are minimal; Block values round-trip (RFC 7959 §2.2)", () => {
		equal(uintOption(0).length, 0);
		deepEqual(uintOption(60), new Uint8Array([60]));
		deepEqual(uintOption(0x10000), new Uint8Array([1, 0, 0]));
		equal(readUint(uintOption(0xfffffffe)), 0xfffffffe);
		for (const b of [{ num: 0, more: false, szx: 0 }, { num: 5, more: true, szx: 6 }, { num: 0xfffff, more: true, szx: 2 }]) {
			deepEqual(decodeBlock(encodeBlock(b)), b);
		}
		equal(decodeBlock(new Uint8Array([0x07])), undefined, "SZX 7 is BERT, not UDP");
		equal(decodeBlock(new Uint8Array(4)), undefined);
		equal(szxOf(16), 0);
		equal(szxOf(1024), 6);
		throws(() => szxOf(100), RangeError);
	});

	test("setOption replaces and keeps order", () => {
		const opts = [option(Opt.UriPath, "a"), option(Opt.Block2, 1)];
		setOption(opts, Opt.ContentFormat, 60);
		setOption(opts, Opt.Block2, 2);
		deepEqual(opts.map((o) => o.number), [Opt.UriPath, Opt.ContentFormat, Opt.Block2]);
		setOption(opts, Opt.Block2);
		equal(opts.length, 2);
	});

	test("UTF-8 option strings", () => {
		const s = "grüße/✓/😀";
		equal(utf8Decode(utf8Encode(s)), s);
		equal(utf8Decode(new Uint8Array([0xc3])), "\ufffd");
		equal(utf8Decode(new Uint8Array([0xed, 0xa0, 0x80])), "\ufffd", "encoded surrogate");
	});

	test("property: 3000 random messages round-trip exactly", () => {
		const r = new SeededRandom(7252);
		for (let i = 0; i < 3000; i++) {
			const m = randomMessage(r);
			if (m.code === 0) continue;
			const bytes = encode(m);
			const back = decode(bytes);
			deepEqual(back, m, `message ${i}`);
			deepEqual(encode(back), bytes);
		}
	});

	test("property: random and mutated datagrams give a message or CoapParseError, nothing else", () => {
		const r = new SeededRandom(0xc0a9);
		let parsed = 0;
		let rejected = 0;
		for (let i = 0; i < 20000; i++) {
			let bytes: Uint8Array;
			if (i % 2 === 0) {
				bytes = r.bytes(r.int(64));
			} else {
				bytes = encode(randomMessage(r)).slice();
				const mutations = 1 + r.int(4);
				for (let k = 0; k < mutations && bytes.length > 0; k++) {
					const what = r.int(3);
					const at = r.int(bytes.length);
					if (what === 0) bytes[at] = bytes[at]! ^ (1 << r.int(8));
					else if (what === 1) bytes = bytes.subarray(0, r.int(bytes.length));
					else bytes[at] = r.int(256);
				}
			}
			try {
				const m = decode(bytes);
				parsed++;
				// Whatever parses re-encodes to a message that parses the same way.
				if (m.code !== 0) deepEqual(decode(encode(m)), m);
			} catch (e) {
				if (!(e instanceof CoapParseError)) throw e;
				rejected++;
			}
		}
		ok(parsed > 1000 && rejected > 1000, `both outcomes exercised (${parsed} parsed, ${rejected} rejected)`);
	});

	test("NON type and 4-bit type field", () => {
		const m = decode(encode(msg({ type: NON })));
		equal(m.type, NON);
	});
});
