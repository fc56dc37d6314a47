/*
 * Known-answer vectors and the checks every CryptoProvider must pass, shared by the noble provider's
 * suite (test/suites/dtls-crypto.suite.ts, Node and XS) and the node:crypto provider's test
 * (test/dtls-crypto-node.test.ts), so that both run the very same tables.
 * XS-bound: ES2022 and test/lib only.
 */

import { deepEqual, equal, ok, throws } from "./assert.js";
import type { TestCase } from "./harness.js";
import type { CryptoProvider } from "../../modules/crypto/provider.js";
import { extendedMasterSecret, KEY_BLOCK_LENGTH_CCM8, keyBlock, keyMaterialCcm8, masterSecret, prf, verifyData } from "../../modules/dtls/prf.js";
import { fromHex, toHex } from "../../modules/util/hex.js";

/** ASCII text as bytes (vectors only; no TextEncoder on XS). */
export function ascii(text: string): Uint8Array {
	const out = new Uint8Array(text.length);
	for (let i = 0; i < text.length; i++) out[i] = text.charCodeAt(i);
	return out;
}

function filled(length: number, value: number): Uint8Array {
	return new Uint8Array(length).fill(value);
}

/** FIPS 180-2 Appendix B.1 ("abc") and B.2 (two blocks), plus the empty message. */
export const SHA256_VECTORS: readonly { name: string; message: Uint8Array; digest: string }[] = [
	{ name: "FIPS 180-2 B.1 \"abc\"", message: ascii("abc"), digest: "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad" },
	{
		name: "FIPS 180-2 B.2 (448 bits)",
		message: ascii("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq"),
		digest: "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1",
	},
	{ name: "empty message", message: new Uint8Array(0), digest: "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855" },
];

/** RFC 4231 §4.2-§4.5, §4.7, §4.8 (test cases 1-4, 6, 7; case 5 is a truncated output), HMAC-SHA-256. */
/** FIPS 180-2 Appendix A (SHA-1): only for method-1 key identifiers (idevid-issuer without an AKI). */
export const SHA1_VECTORS: readonly { name: string; message: Uint8Array; digest: string }[] = [
	{ name: "FIPS 180-2 A.1 \"abc\"", message: ascii("abc"), digest: "a9993e364706816aba3e25717850c26c9cd0d89d" },
	{ name: "FIPS 180-2 A.2 (448 bits)", message: ascii("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq"), digest: "84983e441c3bd26ebaae4aa1f95129e5e54670f1" },
	{ name: "empty message", message: new Uint8Array(0), digest: "da39a3ee5e6b4b0d3255bfef95601890afd80709" },
];

export const HMAC_VECTORS: readonly { name: string; key: Uint8Array; data: Uint8Array; mac: string }[] = [
	{ name: "RFC 4231 case 1", key: filled(20, 0x0b), data: ascii("Hi There"), mac: "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7" },
	{ name: "RFC 4231 case 2", key: ascii("Jefe"), data: ascii("what do ya want for nothing?"), mac: "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843" },
	{ name: "RFC 4231 case 3", key: filled(20, 0xaa), data: filled(50, 0xdd), mac: "773ea91e36800e46854db8ebd09181a72959098b3ef8c122d9635514ced565fe" },
	{
		name: "RFC 4231 case 4",
		key: fromHex("0102030405060708090a0b0c0d0e0f10111213141516171819"),
		data: filled(50, 0xcd),
		mac: "82558a389a443c0ea4cc819899f2083a85f0faa3e578f8077a2e3ff46729665b",
	},
	{
		name: "RFC 4231 case 6 (key longer than a block)",
		key: filled(131, 0xaa),
		data: ascii("Test Using Larger Than Block-Size Key - Hash Key First"),
		mac: "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54",
	},
	{
		name: "RFC 4231 case 7 (key and data longer than a block)",
		key: filled(131, 0xaa),
		data: ascii(
			"This is a test using a larger than block-size key and a larger than block-size data. The key needs to be hashed before being used by the HMAC algorithm.",
		),
		mac: "9b09ffa71b942fcb27635fbcd5b0e944bfdc63644f0713938a7f51535c3a35e2",
	},
];

/**
 * The TLS 1.2 PRF (P_SHA256) vector posted to the IETF TLS WG list (msg03416, 2009) and carried by
 * many TLS test suites since; OpenSSL 3's `openssl kdf ... TLS1-PRF` gives the same 100 bytes.
 */
export const PRF_VECTOR = {
	secret: "9bbe436ba940f017b17652849a71db35",
	label: "test label",
	seed: "a0ba9f936cda311827a6f796ffd5198c",
	output:
		"e3f229ba727be17b8d122620557cd453c2aab21d07c3d495329b52d4e61edb5a6b301791e90d35c9c9a46b4e14baf9af0fa022f7077def17abfd3797c0564bab" +
		"4fbc91666e9def9b97fce34f796789baa48082d122ee42c5a72e5a5110fff70187347b66",
} as const;

/**
 * The key schedule on counting-pattern inputs. The outputs come from an independent PRF (OpenSSL
 * 3.0's TLS1-PRF KDF), fed with labels and seeds written out from the RFCs, e.g.
 *   openssl kdf -keylen 48 -kdfopt digest:SHA256 -kdfopt hexsecret:<preMaster>
 *     -kdfopt seed:"master secret" -kdfopt hexseed:<clientRandom><serverRandom> TLS1-PRF
 * so they check the labels and the order of the randoms, not just P_SHA256.
 */
export const KEY_SCHEDULE_VECTOR = {
	clientRandom: "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f",
	serverRandom: "202122232425262728292a2b2c2d2e2f303132333435363738393a3b3c3d3e3f",
	preMaster: "404142434445464748494a4b4c4d4e4f505152535455565758595a5b5c5d5e5f",
	sessionHash: "606162636465666768696a6b6c6d6e6f707172737475767778797a7b7c7d7e7f",
	handshakeHash: "808182838485868788898a8b8c8d8e8f909192939495969798999a9b9c9d9e9f",
	/** RFC 5246 §8.1: seed client_random + server_random. */
	master: "7f120db9691e336abdd12b84c1c3c3368b415ba996f7033a04c122047a9b8d6139f9e72f941a498099e4c21e80583a62",
	/** RFC 7627 §4: seed session_hash. */
	extendedMaster: "5eb2a3bceb2d052634c67912f0b7bc29b77de5a6f8e2a2aab4e30e7bd3853152b4009fae90f4de6b71ff3636e394d525",
	/** RFC 5246 §6.3, from `master`: seed server_random + client_random, 40 bytes. */
	keyBlock: "99275041d6912ff7850a71d192f419dbd2f5a24b46b1d3a667f734d2c947c4865cd45cc92a42c090",
	/** RFC 5246 §7.4.9, from `master` and `handshakeHash`. */
	clientFinished: "2ebb2b588eafa7d99f398deb",
	serverFinished: "b81f0a774e49f5c637b1f095",
} as const;

/** RFC 6979 A.2.5: the P-256 key pair (x; U = xG as Ux, Uy). */
export const RFC6979_P256 = {
	privateKey: "c9afa9d845ba75166b5c215767b1d6934e50c3db36e89b127b8a622b120f6721",
	publicKey:
		"04" + "60fed4ba255a9d31c961eb74c6356d68c049b8923b61fa6ce669622e60f29fb6" + "7903fe1008b8bc99a41ae9e95628bc64f2f1b20c2d7e9f5177a3c294d4462299",
} as const;

/** RFC 6979 A.2.5, "With SHA-256": deterministic signatures; "sample" has a high s (s > n/2). */
export const RFC6979_P256_SHA256: readonly { message: string; r: string; s: string }[] = [
	{
		message: "sample",
		r: "efd48b2aacb6a8fd1140dd9cd45e81d69d2c877b56aaf991c34d0ea84eaf3716",
		s: "f7cb1c942d657c41d436c7a1b6e29f65f3e900dbb9aff4064dc4ab2f843acda8",
	},
	{
		message: "test",
		r: "f1abb023518351cd71d881567b1ea663ed3efcf6c5132b354f28d3b0b7d38367",
		s: "019f4113742a2b14bd25926b49c649155f267e60d3814b4c0cc84250e46f0083",
	},
];

/** RFC 3610 §8 packet vector #1 (M = 8, 13-byte nonce): sealed is the packet minus its 8-byte header. */
export const CCM_VECTOR = {
	key: "c0c1c2c3c4c5c6c7c8c9cacbcccdcecf",
	nonce: "00000003020100a0a1a2a3a4a5",
	aad: "0001020304050607",
	plaintext: "08090a0b0c0d0e0f101112131415161718191a1b1c1d1e",
	sealed: "588c979a61c663d2f066d0c2c0f989806d5f6b61dac38417e8d12cfdf926e0",
} as const;

/** DER INTEGER content: big-endian, no superfluous leading zeros, 0x00 in front of a set top bit. */
function derInteger(value: Uint8Array): Uint8Array {
	let i = 0;
	while (i < value.length - 1 && value[i] === 0) i++;
	const body = value.subarray(i);
	const pad = body[0]! >= 0x80 ? 1 : 0;
	const out = new Uint8Array(2 + pad + body.length);
	out[0] = 0x02;
	out[1] = pad + body.length;
	out.set(body, 2 + pad);
	return out;
}

/** ECDSA-Sig-Value ::= SEQUENCE { r INTEGER, s INTEGER } (RFC 8422 §5.4); short-form lengths suffice for P-256. */
export function derSignature(r: Uint8Array, s: Uint8Array): Uint8Array {
	const ri = derInteger(r);
	const si = derInteger(s);
	const out = new Uint8Array(2 + ri.length + si.length);
	out[0] = 0x30;
	out[1] = ri.length + si.length;
	out.set(ri, 2);
	out.set(si, 2 + ri.length);
	return out;
}

/** The same bytes with one bit flipped. */
export function flipBit(bytes: Uint8Array, index: number, bit = 0): Uint8Array {
	const out = bytes.slice();
	out[index] = out[index]! ^ (1 << bit);
	return out;
}

/** Signature encodings that must verify false (never throw), for a valid DER signature `der`. */
export function malformedSignatures(der: Uint8Array): { name: string; sig: Uint8Array }[] {
	const rLength = der[3]!;
	const withZero = new Uint8Array(der.length + 1);
	// A superfluous leading zero on s: BER would accept it, DER (and both providers) must not.
	withZero.set(der.subarray(0, 4 + rLength), 0);
	withZero[1] = der[1]! + 1;
	withZero[4 + rLength] = 0x02;
	withZero[5 + rLength] = der[5 + rLength]! + 1;
	withZero[6 + rLength] = 0x00;
	withZero.set(der.subarray(6 + rLength), 7 + rLength);
	const trailing = new Uint8Array(der.length + 1);
	trailing.set(der);
	return [
		{ name: "empty", sig: new Uint8Array(0) },
		{ name: "truncated", sig: der.subarray(0, der.length - 1) },
		{ name: "trailing byte", sig: trailing },
		{ name: "non-minimal integer", sig: withZero },
		{ name: "wrong outer tag", sig: flipBit(der, 0, 0) },
		{ name: "wrong outer length", sig: flipBit(der, 1, 6) },
		{ name: "raw r || s instead of DER", sig: new Uint8Array(64).fill(0x42) },
		{ name: "garbage", sig: ascii("this is not a DER signature at all, just text of 70 bytes or so......") },
	];
}

const hex = (b: Uint8Array): string => toHex(b);

/** The checks every provider must pass. `make` is called once per test. */
export function providerCases(make: () => CryptoProvider): TestCase[] {
	const cases: TestCase[] = [];
	const test = (name: string, body: () => void): void => {
		cases.push({ name, body });
	};

	test("SHA-256: FIPS 180-2 vectors", () => {
		const c = make();
		for (const v of SHA256_VECTORS) equal(hex(c.sha256(v.message)), v.digest, v.name);
	});

	test("SHA-1: FIPS 180-2 vectors", () => {
		const c = make();
		for (const v of SHA1_VECTORS) equal(hex(c.sha1(v.message)), v.digest, v.name);
	});

	test("HMAC-SHA-256: RFC 4231 cases 1-4, 6, 7", () => {
		const c = make();
		for (const v of HMAC_VECTORS) equal(hex(c.hmacSha256(v.key, v.data)), v.mac, v.name);
	});

	test("TLS 1.2 PRF (P_SHA256): the 100-byte test-label vector, and shorter outputs are its prefixes", () => {
		const c = make();
		const out = prf(c, fromHex(PRF_VECTOR.secret), PRF_VECTOR.label, fromHex(PRF_VECTOR.seed), 100);
		equal(hex(out), PRF_VECTOR.output);
		for (const n of [0, 1, 12, 32, 33, 64, 99]) {
			equal(hex(prf(c, fromHex(PRF_VECTOR.secret), PRF_VECTOR.label, fromHex(PRF_VECTOR.seed), n)), PRF_VECTOR.output.slice(0, 2 * n), `length ${n}`);
		}
	});

	test("key schedule: master secret, extended master secret, key block, verify_data, CCM_8 split", () => {
		const c = make();
		const v = KEY_SCHEDULE_VECTOR;
		const master = masterSecret(c, fromHex(v.preMaster), fromHex(v.clientRandom), fromHex(v.serverRandom));
		equal(hex(master), v.master, "master secret");
		equal(hex(extendedMasterSecret(c, fromHex(v.preMaster), fromHex(v.sessionHash))), v.extendedMaster, "extended master secret");
		const block = keyBlock(c, master, fromHex(v.serverRandom), fromHex(v.clientRandom), KEY_BLOCK_LENGTH_CCM8);
		equal(hex(block), v.keyBlock, "key block");
		equal(hex(verifyData(c, master, "client finished", fromHex(v.handshakeHash))), v.clientFinished, "client verify_data");
		equal(hex(verifyData(c, master, "server finished", fromHex(v.handshakeHash))), v.serverFinished, "server verify_data");
		const keys = keyMaterialCcm8(block);
		equal(hex(keys.clientWriteKey), v.keyBlock.slice(0, 32), "client_write_key");
		equal(hex(keys.serverWriteKey), v.keyBlock.slice(32, 64), "server_write_key");
		equal(hex(keys.clientWriteIv), v.keyBlock.slice(64, 72), "client_write_IV");
		equal(hex(keys.serverWriteIv), v.keyBlock.slice(72, 80), "server_write_IV");
		block.fill(0);
		equal(hex(keys.clientWriteKey), v.keyBlock.slice(0, 32), "the split copies");
		throws(() => keyMaterialCcm8(block.subarray(0, KEY_BLOCK_LENGTH_CCM8 - 1)), RangeError, "short key block");
		throws(() => masterSecret(c, fromHex(v.preMaster), fromHex(v.clientRandom).subarray(1), fromHex(v.serverRandom)), RangeError, "short random");
	});

	test("ECDH: two generated pairs agree on a 32-byte secret", () => {
		const c = make();
		const a = c.ecGenerate();
		const b = c.ecGenerate();
		equal(a.privateKey.length, 32);
		equal(a.publicKey.length, 65);
		equal(a.publicKey[0], 0x04, "uncompressed point");
		ok(hex(a.privateKey) !== hex(b.privateKey), "fresh keys");
		const ab = c.ecdh(a.privateKey, b.publicKey);
		equal(ab.length, 32);
		deepEqual(ab, c.ecdh(b.privateKey, a.publicKey));
	});

	test("ECDH: throws RangeError for invalid points and private keys", () => {
		const c = make();
		const d = fromHex(RFC6979_P256.privateKey);
		const u = fromHex(RFC6979_P256.publicKey);
		const compressed = new Uint8Array(33);
		compressed[0] = 0x02 | (u[64]! & 1);
		compressed.set(u.subarray(1, 33), 1);
		const xTooBig = new Uint8Array(65).fill(0xff);
		xTooBig[0] = 0x04;
		const origin = new Uint8Array(65);
		origin[0] = 0x04;
		const bad: [string, Uint8Array][] = [
			["not on the curve (Y changed)", flipBit(u, 64)],
			["not on the curve (X changed)", flipBit(u, 10)],
			["coordinates >= p", xTooBig],
			["(0, 0)", origin],
			["compressed form (RFC 8422 §5.4.1: uncompressed only)", compressed],
			["hybrid prefix 0x06", flipBit(u, 0, 1)],
			["X || Y without prefix", u.subarray(1)],
			["point at infinity encoding", new Uint8Array([0])],
			["empty", new Uint8Array(0)],
		];
		for (const [name, point] of bad) throws(() => c.ecdh(d, point), RangeError, name);
		const n = fromHex("ffffffff00000000ffffffffffffffffbce6faada7179e84f3b9cac2fc632551");
		for (const [name, key] of [
			["zero", new Uint8Array(32)],
			["n", n],
			["31 bytes", d.subarray(1)],
		] as [string, Uint8Array][]) {
			throws(() => c.ecdh(key, u), RangeError, `private key ${name}`);
		}
	});

	test("ECDSA: verifies the RFC 6979 A.2.5 P-256/SHA-256 signatures (high and low s)", () => {
		const c = make();
		const u = fromHex(RFC6979_P256.publicKey);
		for (const v of RFC6979_P256_SHA256) {
			const der = derSignature(fromHex(v.r), fromHex(v.s));
			equal(c.ecdsaVerify(u, ascii(v.message), der), true, v.message);
			equal(c.ecdsaVerify(u, ascii(v.message === "sample" ? "test" : "sample"), der), false, `${v.message} against the other message`);
		}
	});

	test("ECDSA: sign/verify round trip with a generated key", () => {
		const c = make();
		const k = c.ecGenerate();
		const message = ascii("ServerKeyExchange params: client_random + server_random + ECParameters + ECPoint");
		const der = c.ecdsaSign(k.privateKey, message);
		equal(der[0], 0x30, "DER SEQUENCE");
		equal(c.ecdsaVerify(k.publicKey, message, der), true);
	});

	test("ECDSA: false (never a throw) for a flipped bit, another key or message, malformed DER or keys", () => {
		const c = make();
		const u = fromHex(RFC6979_P256.publicKey);
		const v = RFC6979_P256_SHA256[1]!;
		const message = ascii(v.message);
		const der = derSignature(fromHex(v.r), fromHex(v.s));
		const rEnd = 3 + der[3]!;
		equal(c.ecdsaVerify(u, message, flipBit(der, rEnd)), false, "bit flipped in r");
		equal(c.ecdsaVerify(u, message, flipBit(der, der.length - 1, 7)), false, "bit flipped in s");
		equal(c.ecdsaVerify(u, flipBit(message, 0), der), false, "bit flipped in the message");
		const other = c.ecGenerate();
		equal(c.ecdsaVerify(other.publicKey, message, der), false, "another key");
		for (const m of malformedSignatures(der)) equal(c.ecdsaVerify(u, message, m.sig), false, m.name);
		const compressed = new Uint8Array(33);
		compressed[0] = 0x02 | (u[64]! & 1);
		compressed.set(u.subarray(1, 33), 1);
		for (const [name, key] of [
			["key not on the curve", flipBit(u, 64)],
			["compressed key", compressed],
			["key without prefix", u.subarray(1)],
			["empty key", new Uint8Array(0)],
		] as [string, Uint8Array][]) {
			equal(c.ecdsaVerify(key, message, der), false, name);
		}
		throws(() => c.ecdsaSign(new Uint8Array(32), message), RangeError, "zero private key");
	});

	test("AES-CCM: RFC 3610 packet vector #1, and a CCM_8 (12-byte nonce) round trip", () => {
		const c = make();
		const v = CCM_VECTOR;
		const ccm = c.aesCcm(fromHex(v.key), 8, 13);
		equal(hex(ccm.seal(fromHex(v.nonce), fromHex(v.aad), fromHex(v.plaintext))), v.sealed, "seal");
		equal(hex(ccm.open(fromHex(v.nonce), fromHex(v.aad), fromHex(v.sealed)) ?? new Uint8Array(0)), v.plaintext, "open");
		const tls = c.aesCcm(fromHex("000102030405060708090a0b0c0d0e0f"), 8, 12);
		const nonce = fromHex("a0a1a2a3" + "0001000000000001"); // client_write_IV + epoch/sequence (RFC 6655 §3)
		const aad = fromHex("0000000000000001" + "17" + "fefd" + "0005"); // seq_num + type + version + length (RFC 5246 §6.2.3.3)
		for (const length of [0, 1, 16, 17, 100]) {
			const plaintext = new Uint8Array(length).map((_, i) => i * 7);
			const sealed = tls.seal(nonce, aad, plaintext);
			equal(sealed.length, length + 8, `length ${length}`);
			deepEqual(tls.open(nonce, aad, sealed), plaintext, `open, length ${length}`);
			equal(tls.open(nonce, aad, flipBit(sealed, sealed.length - 1)), undefined, `tag flipped, length ${length}`);
			equal(tls.open(nonce, flipBit(aad, 8), sealed), undefined, `aad changed, length ${length}`);
		}
		equal(tls.open(nonce, aad, new Uint8Array(7)), undefined, "shorter than the tag");
		throws(() => tls.seal(nonce.subarray(1), aad, new Uint8Array(1)), RangeError, "wrong nonce length");
		throws(() => c.aesCcm(new Uint8Array(16), 7, 12), RangeError, "odd tag length");
	});

	return cases;
}
