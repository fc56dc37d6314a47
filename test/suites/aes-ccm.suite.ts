import { suite } from "../lib/harness.js";
import { deepEqual, equal, ok, throws } from "../lib/assert.js";
import { SeededRandom } from "../../hosts/xs/seeded-random.js";
import { AesCcm } from "../../modules/crypto/aes-ccm.js";
import { fromHex, toHex } from "../../modules/util/hex.js";

/*
 * RFC 3610 §8, Packet Vectors #1-#24 (all L = 2, so 13-byte nonces). #1-#12 use key C0..CF,
 * #13-#24 a random key; M = 8 for #1-#6 and #13-#18, M = 10 for #7-#12 and #19-#24; the first
 * three of each six have an 8-byte header (the aad), the rest a 12-byte one. `sealed` is the RFC's
 * output packet without its header: ciphertext || authentication value U.
 */
interface Vector {
	key: string;
	nonce: string;
	aad: string;
	msg: string;
	sealed: string;
	m: number;
}

const K1 = "c0c1c2c3c4c5c6c7c8c9cacbcccdcecf";
const K2 = "d7828d13b2b0bdc325a76236df93cc6b";
const H8 = "0001020304050607";
const H12 = "000102030405060708090a0b";
const MSG = "08090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f20";
/* Vectors #1-#12 carry on the header's counting pattern: the message starts where the header ends. */
const msg1 = (header: string, len: number): string => MSG.slice(header.length - H8.length, header.length - H8.length + 2 * len);

const RFC3610: Vector[] = [
	{ key: K1, nonce: "00000003020100a0a1a2a3a4a5", aad: H8, msg: msg1(H8, 23), m: 8, sealed: "588c979a61c663d2f066d0c2c0f989806d5f6b61dac38417e8d12cfdf926e0" },
	{ key: K1, nonce: "00000004030201a0a1a2a3a4a5", aad: H8, msg: msg1(H8, 24), m: 8, sealed: "72c91a36e135f8cf291ca894085c87e3cc15c439c9e43a3ba091d56e10400916" },
	{ key: K1, nonce: "00000005040302a0a1a2a3a4a5", aad: H8, msg: msg1(H8, 25), m: 8, sealed: "51b1e5f44a197d1da46b0f8e2d282ae871e838bb64da8596574adaa76fbd9fb0c5" },
	{ key: K1, nonce: "00000006050403a0a1a2a3a4a5", aad: H12, msg: msg1(H12, 19), m: 8, sealed: "a28c6865939a9a79faaa5c4c2a9d4a91cdac8c96c861b9c9e61ef1" },
	{ key: K1, nonce: "00000007060504a0a1a2a3a4a5", aad: H12, msg: msg1(H12, 20), m: 8, sealed: "dcf1fb7b5d9e23fb9d4e131253658ad86ebdca3e51e83f077d9c2d93" },
	{ key: K1, nonce: "00000008070605a0a1a2a3a4a5", aad: H12, msg: msg1(H12, 21), m: 8, sealed: "6fc1b011f006568b5171a42d953d469b2570a4bd87405a0443ac91cb94" },
	{ key: K1, nonce: "00000009080706a0a1a2a3a4a5", aad: H8, msg: msg1(H8, 23), m: 10, sealed: "0135d1b2c95f41d5d1d4fec185d166b8094e999dfed96c048c56602c97acbb7490" },
	{ key: K1, nonce: "0000000a090807a0a1a2a3a4a5", aad: H8, msg: msg1(H8, 24), m: 10, sealed: "7b75399ac0831dd2f0bbd75879a2fd8f6cae6b6cd9b7db24c17b4433f434963f34b4" },
	{ key: K1, nonce: "0000000b0a0908a0a1a2a3a4a5", aad: H8, msg: msg1(H8, 25), m: 10, sealed: "82531a60cc24945a4b8279181ab5c84df21ce7f9b73f42e197ea9c07e56b5eb17e5f4e" },
	{ key: K1, nonce: "0000000c0b0a09a0a1a2a3a4a5", aad: H12, msg: msg1(H12, 19), m: 10, sealed: "07342594157785152b074098330abb141b947b566aa9406b4d999988dd" },
	{ key: K1, nonce: "0000000d0c0b0aa0a1a2a3a4a5", aad: H12, msg: msg1(H12, 20), m: 10, sealed: "676bb20380b0e301e8ab79590a396da78b834934f53aa2e9107a8b6c022c" },
	{ key: K1, nonce: "0000000e0d0c0ba0a1a2a3a4a5", aad: H12, msg: msg1(H12, 21), m: 10, sealed: "c0ffa0d6f05bdb67f24d43a4338d2aa4bed7b20e43cd1aa31662e7ad65d6db" },
	{ key: K2, nonce: "00412b4ea9cdbe3c9696766cfa", aad: "0be1a88bace018b1", msg: "08e8cf97d820ea258460e96ad9cf5289054d895ceac47c", m: 8, sealed: "4cb97f86a2a4689a877947ab8091ef5386a6ffbdd080f8e78cf7cb0cddd7b3" },
	{ key: K2, nonce: "0033568ef7b2633c9696766cfa", aad: "63018f76dc8a1bcb", msg: "9020ea6f91bdd85afa0039ba4baff9bfb79c7028949cd0ec", m: 8, sealed: "4ccb1e7ca981befaa0726c55d378061298c85c92814abc33c52ee81d7d77c08a" },
	{ key: K2, nonce: "00103fe41336713c9696766cfa", aad: "aa6cfa36cae86b40", msg: "b916e0eacc1c00d7dcec68ec0b3bbb1a02de8a2d1aa346132e", m: 8, sealed: "b1d23a2220ddc0ac900d9aa03c61fcf4a559a4417767089708a776796edb723506" },
	{ key: K2, nonce: "00764c63b8058e3c9696766cfa", aad: "d0d0735c531e1becf049c244", msg: "12daac5630efa5396f770ce1a66b21f7b2101c", m: 8, sealed: "14d253c3967b70609b7cbb7c499160283245269a6f49975bcadeaf" },
	{ key: K2, nonce: "00f8b678094e3b3c9696766cfa", aad: "77b60f011c03e1525899bcae", msg: "e88b6a46c78d63e52eb8c546efb5de6f75e9cc0d", m: 8, sealed: "5545ff1a085ee2efbf52b2e04bee1e2336c73e3f762c0c7744fe7e3c" },
	{ key: K2, nonce: "00d560912d3f703c9696766cfa", aad: "cd9044d2b71fdb8120ea60c0", msg: "6435acbafb11a82e2f071d7ca4a5ebd93a803ba87f", m: 8, sealed: "009769ecabdf48625594c59251e6035722675e04c847099e5ae0704551" },
	{ key: K2, nonce: "0042fff8f1951c3c9696766cfa", aad: "d85bc7e69f944fb8", msg: "8a19b950bcf71a018e5e6701c91787659809d67dbedd18", m: 10, sealed: "bc218daa947427b6db386a99ac1aef23ade0b52939cb6a637cf9bec2408897c6ba" },
	{ key: K2, nonce: "00920f40e56cdc3c9696766cfa", aad: "74a0ebc9069f5b37", msg: "1761433c37c5a35fc1f39f406302eb907c6163be38c98437", m: 10, sealed: "5810e6fd25874022e80361a478e3e9cf484ab04f447efff6f0a477cc2fc9bf548944" },
	{ key: K2, nonce: "0027ca0c7120bc3c9696766cfa", aad: "44a3aa3aae6475ca", msg: "a434a8e58500c6e41530538862d686ea9e81301b5ae4226bfa", m: 10, sealed: "f2beed7bc5098e83feb5b31608f8e29c38819a89c8e776f1544d4151a4ed3a8b87b9ce" },
	{ key: K2, nonce: "005b8ccbcd9af83c9696766cfa", aad: "ec46bb63b02520c33c49fd70", msg: "b96b49e21d621741632875db7f6c9243d2d7c2", m: 10, sealed: "31d750a09da3ed7fddd49a2032aabf17ec8ebf7d22c8088c666be5c197" },
	{ key: K2, nonce: "003ebe94044b9a3c9696766cfa", aad: "47a65ac78b3d594227e85e71", msg: "e2fcfbb880442c731bf95167c8ffd7895e337076", m: 10, sealed: "e882f1dbd38ce3eda7c23f04dd65071eb41342acdf7e00dccec7ae52987d" },
	{ key: K2, nonce: "008d493b30ae8b3c9696766cfa", aad: "6e37a6ef546d955d34ab6059", msg: "abf21c0b02feb88f856df4a37381bce3cc128517d4", m: 10, sealed: "f32905b88a641b04b9c9ffb58cc390900f3da12ab16dce9e82efa16da62059" },
];

/* TLS_ECDHE_ECDSA_WITH_AES_128_CCM_8 shape (RFC 6655 §3-4: 12-byte nonce, so L = 3, M = 8). */
const TLS_KEY = fromHex("000102030405060708090a0b0c0d0e0f");
const TLS_NONCE = fromHex("a0a1a2a3a4a5a6a7a8a9aaab");
const tlsMessage = (): Uint8Array => {
	const p = new Uint8Array(20);
	for (let i = 0; i < p.length; i++) p[i] = i;
	return p;
};
const tlsAad = (length: number): Uint8Array => {
	const a = new Uint8Array(length);
	for (let i = 0; i < length; i++) a[i] = (i * 31 + 7) & 0xff;
	return a;
};
/* Computed with Node's aes-128-ccm (OpenSSL); they only differ in the tag, l(a) being in B_1 only. */
const TLS_CIPHERTEXT = "aeb26ad2a13acc86dacf0af6963dd7ec5be63dda";
const LONG_AAD: [number, string][] = [
	[0xfeff, "24f14521f3db2522"], // the largest l(a) with the 2-byte encoding
	[0xff00, "1226f0a722b09dcc"], // the smallest with 0xFFFE || 4 bytes
];

const TAG_LENGTHS = [4, 6, 8, 10, 12, 14, 16];

function flipBit(b: Uint8Array, bit: number): Uint8Array {
	const c = b.slice();
	c[bit >> 3] = c[bit >> 3]! ^ (1 << (bit & 7));
	return c;
}

function allZero(b: Uint8Array): boolean {
	for (let i = 0; i < b.length; i++) if (b[i] !== 0) return false;
	return true;
}

export default suite("aes-ccm", (test) => {
	test("RFC 3610 §8 packet vectors #1-#24: seal and open", () => {
		equal(RFC3610.length, 24);
		for (let i = 0; i < RFC3610.length; i++) {
			const v = RFC3610[i]!;
			const ccm = new AesCcm(fromHex(v.key), v.m, 13);
			const nonce = fromHex(v.nonce);
			const aad = fromHex(v.aad);
			const msg = fromHex(v.msg);
			equal(toHex(ccm.seal(nonce, aad, msg)), v.sealed, `vector #${i + 1} seal`);
			deepEqual(ccm.open(nonce, aad, fromHex(v.sealed)), msg, `vector #${i + 1} open`);
		}
	});

	test("the RFC 3610 vectors also come out right through sealInto/openInto at offsets", () => {
		const out = new Uint8Array(64);
		const back = new Uint8Array(64);
		for (let i = 0; i < RFC3610.length; i++) {
			const v = RFC3610[i]!;
			const ccm = new AesCcm(fromHex(v.key), v.m, 13);
			const msg = fromHex(v.msg);
			const n = ccm.sealInto(fromHex(v.nonce), fromHex(v.aad), msg, out, 5);
			equal(n, msg.length + v.m);
			equal(toHex(out.subarray(5, 5 + n)), v.sealed, `vector #${i + 1}`);
			equal(ccm.openInto(fromHex(v.nonce), fromHex(v.aad), out.subarray(5, 5 + n), back, 3), msg.length);
			deepEqual(back.subarray(3, 3 + msg.length), msg);
		}
	});

	test("DTLS CCM_8 shape (L = 3, M = 8): both l(a) encodings either side of 2^16 - 2^8", () => {
		const ccm = new AesCcm(TLS_KEY, 8, 12);
		for (const [length, tag] of LONG_AAD) {
			const aad = tlsAad(length);
			const sealed = ccm.seal(TLS_NONCE, aad, tlsMessage());
			equal(toHex(sealed), TLS_CIPHERTEXT + tag, `l(a) = ${length}`);
			deepEqual(ccm.open(TLS_NONCE, aad, sealed), tlsMessage());
		}
	});

	test("empty plaintext, empty aad, and both: a tag alone that still authenticates", () => {
		const ccm = new AesCcm(TLS_KEY, 16, 12);
		const empty = new Uint8Array(0);
		const tagOnly = ccm.seal(TLS_NONCE, tlsAad(5), empty);
		equal(tagOnly.length, 16);
		deepEqual(ccm.open(TLS_NONCE, tlsAad(5), tagOnly), empty);
		equal(ccm.open(TLS_NONCE, empty, tagOnly), undefined, "the aad is bound even with no message");
		const both = ccm.seal(TLS_NONCE, empty, empty);
		deepEqual(ccm.open(TLS_NONCE, empty, both), empty);
		ok(toHex(both) !== toHex(tagOnly));
		const noAad = ccm.seal(TLS_NONCE, empty, tlsMessage());
		deepEqual(ccm.open(TLS_NONCE, empty, noAad), tlsMessage());
	});

	test("tampered tag, ciphertext, aad or nonce: open fails and nothing is released", () => {
		const v = RFC3610[0]!;
		const ccm = new AesCcm(fromHex(v.key), v.m, 13);
		const nonce = fromHex(v.nonce);
		const aad = fromHex(v.aad);
		const sealed = fromHex(v.sealed);
		const out = new Uint8Array(sealed.length);
		const rejects = (n: Uint8Array, a: Uint8Array, s: Uint8Array, what: string): void => {
			equal(ccm.open(n, a, s), undefined, what);
			out.fill(0);
			equal(ccm.openInto(n, a, s, out, 0), -1, what);
			ok(allZero(out), `${what}: no plaintext left in out`);
		};
		for (let i = 0; i < sealed.length; i++) {
			const what = i < sealed.length - v.m ? `ciphertext byte ${i}` : `tag byte ${i - sealed.length + v.m}`;
			rejects(nonce, aad, flipBit(sealed, i * 8 + (i % 8)), what);
		}
		for (let i = 0; i < aad.length; i++) rejects(nonce, flipBit(aad, i * 8), sealed, `aad byte ${i}`);
		for (let i = 0; i < nonce.length; i++) rejects(flipBit(nonce, i * 8 + 7), aad, sealed, `nonce byte ${i}`);
		rejects(nonce, new Uint8Array(0), sealed, "aad dropped");
		rejects(nonce, fromHex(v.aad + "00"), sealed, "aad extended");
		rejects(nonce, aad, sealed.subarray(0, sealed.length - 1), "truncated");
		rejects(nonce, aad, fromHex(v.sealed + "00"), "extended");
		// Still the same instance: a failure leaves nothing behind that spoils the next call.
		deepEqual(ccm.open(nonce, aad, sealed), fromHex(v.msg));
	});

	test("too short to hold a tag, or longer than L allows: -1 / undefined, not an exception", () => {
		const ccm = new AesCcm(TLS_KEY, 8, 13);
		const out = new Uint8Array(8);
		const nonce = new Uint8Array(13);
		equal(ccm.open(nonce, new Uint8Array(0), new Uint8Array(7)), undefined);
		equal(ccm.openInto(nonce, new Uint8Array(0), new Uint8Array(0), out, 0), -1);
		// L = 2: at most 2^16 - 1 message bytes, so 2^16 + M sealed bytes cannot be genuine.
		equal(ccm.openInto(nonce, new Uint8Array(0), new Uint8Array(0x10000 + 8), new Uint8Array(0x10000), 0), -1);
	});

	test("in place: seal over the plaintext and open over the ciphertext, inside a larger buffer", () => {
		const ccm = new AesCcm(TLS_KEY, 8, 12);
		const aad = tlsAad(13);
		const msg = tlsMessage();
		const buf = new Uint8Array(3 + msg.length + 8 + 4);
		buf.set(msg, 3);
		const region = buf.subarray(3, 3 + msg.length);
		equal(ccm.sealInto(TLS_NONCE, aad, region, buf, 3), msg.length + 8);
		deepEqual(buf.subarray(3, 3 + msg.length + 8), ccm.seal(TLS_NONCE, aad, msg));
		const sealed = buf.subarray(3, 3 + msg.length + 8);
		equal(ccm.openInto(TLS_NONCE, aad, sealed, buf, 3), msg.length);
		deepEqual(buf.subarray(3, 3 + msg.length), msg);
		equal(buf[0], 0);
		equal(buf[buf.length - 1], 0);
		// A failed in-place open wipes the region rather than leave unauthenticated plaintext.
		const again = ccm.seal(TLS_NONCE, aad, msg);
		again[0] = again[0]! ^ 1;
		equal(ccm.openInto(TLS_NONCE, aad, again, again, 0), -1);
		ok(allZero(again.subarray(0, msg.length)));
	});

	test("programming errors throw RangeError", () => {
		const key = new Uint8Array(16);
		for (const m of [0, 2, 3, 5, 9, 17, 18, 8.5]) throws(() => new AesCcm(key, m, 13), RangeError, `M = ${m}`);
		for (const n of [0, 6, 14, 15, 12.5]) throws(() => new AesCcm(key, 8, n), RangeError, `nonce length ${n}`);
		for (const m of TAG_LENGTHS) for (let n = 7; n <= 13; n++) new AesCcm(key, m, n);
		const ccm = new AesCcm(key, 8, 13);
		const empty = new Uint8Array(0);
		throws(() => ccm.seal(new Uint8Array(12), empty, empty), RangeError, "short nonce on seal");
		throws(() => ccm.open(new Uint8Array(14), empty, new Uint8Array(8)), RangeError, "long nonce on open");
		throws(() => ccm.openInto(new Uint8Array(12), empty, new Uint8Array(0), new Uint8Array(0)), RangeError, "nonce checked first");
		throws(() => ccm.sealInto(new Uint8Array(13), empty, new Uint8Array(4), new Uint8Array(11)), RangeError, "seal output too small");
		throws(() => ccm.sealInto(new Uint8Array(13), empty, new Uint8Array(4), new Uint8Array(12), 1), RangeError, "seal output offset");
		throws(() => ccm.openInto(new Uint8Array(13), empty, new Uint8Array(12), new Uint8Array(3)), RangeError, "open output too small");
		throws(() => ccm.seal(new Uint8Array(13), empty, new Uint8Array(0x10000)), RangeError, "L = 2 caps the message at 2^16 - 1");
	});

	test("property: 300 random keys, M, L, aad and messages round-trip; any one bit flip fails", () => {
		const r = new SeededRandom(3610);
		const lengths = [0, 1, 15, 16, 17, 31, 32, 33, 47];
		for (let i = 0; i < 300; i++) {
			const key = r.bytes([16, 24, 32][r.int(3)]!);
			const m = TAG_LENGTHS[r.int(TAG_LENGTHS.length)]!;
			const nonceLength = 7 + r.int(7);
			const nonce = r.bytes(nonceLength);
			// Half the time a block-boundary length, otherwise anything up to three blocks.
			const aad = r.bytes(r.int(2) === 0 ? lengths[r.int(lengths.length)]! : r.int(49));
			const msg = r.bytes(r.int(2) === 0 ? lengths[r.int(lengths.length)]! : r.int(49));
			const sender = new AesCcm(key, m, nonceLength);
			const receiver = new AesCcm(key, m, nonceLength);
			const sealed = sender.seal(nonce, aad, msg);
			equal(sealed.length, msg.length + m);
			deepEqual(receiver.open(nonce, aad, sealed), msg, `case ${i}`);
			// One random bit anywhere in what the receiver authenticates: sealed, aad or nonce.
			const bit = r.int((sealed.length + aad.length + nonce.length) * 8);
			const sb = sealed.length * 8;
			const ab = aad.length * 8;
			const opened =
				bit < sb
					? receiver.open(nonce, aad, flipBit(sealed, bit))
					: bit < sb + ab
						? receiver.open(nonce, flipBit(aad, bit - sb), sealed)
						: receiver.open(flipBit(nonce, bit - sb - ab), aad, sealed);
			equal(opened, undefined, `case ${i}: bit ${bit} flipped`);
		}
	});
});
