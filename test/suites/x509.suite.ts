import { suite } from "../lib/harness.js";
import { deepEqual, equal, ok, throws } from "../lib/assert.js";
import { fixture } from "../lib/fixtures.js";
import { SeededRandom } from "../../hosts/xs/seeded-random.js";
import { p256 } from "@noble/curves/nist.js";
import { Base64Error, PemError, base64Decode, base64Encode, derToPem, pemBlocks, pemToDer } from "../../modules/util/base64.js";
import {
	DerError,
	DerReader,
	MAX_DEPTH,
	TagClass,
	decodeBitString,
	decodeBoolean,
	decodeInteger,
	decodeOid,
	decodeString,
	decodeTime,
	decodeUnsignedInteger,
	derBitString,
	derBoolean,
	derExplicit,
	derInteger,
	derNull,
	derOctetString,
	derOid,
	derPrintableString,
	derSequence,
	derSet,
	derSmallInteger,
	derUtf8String,
	ecdsaDerToRaw,
	ecdsaRawToDer,
	readTlv,
	tlvValue,
	type Tlv,
} from "../../modules/asn1/der.js";
import { CertificateError, KeyUsage, Oid, nameValue, parseCertificate, type Certificate } from "../../modules/x509/certificate.js";
import { verifyChain, type ChainOptions } from "../../modules/x509/chain.js";
import { fromHex, toHex } from "../../modules/util/hex.js";

/*
 * Until the DTLS crypto provider lands, signatures are checked with @noble/curves directly. The
 * example CAs sign with high-S values (cert-pledge, the 2022-12-06 Registrar), which OpenSSL
 * accepts and noble's default (lowS: true) rejects: hence lowS: false, as for any X.509 verifier.
 */
const crypto: ChainOptions["crypto"] = {
	ecdsaVerify(publicKey, message, derSignature) {
		try {
			return p256.verify(derSignature, message, publicKey, { prehash: true, format: "der", lowS: false });
		} catch {
			return false;
		}
	},
};

const CERT_FILES = [
	"cert-pledge.pem",
	"cert-masa_ca.pem",
	"cert-masa.pem",
	"cert-registrar.pem",
	"cert-registrar-2022-12-06-from-rvr-x5bag.pem",
	"cert-domain_ca.pem",
	"cert-domain_ca-2022-12-06-pinned-in-voucher.pem",
] as const;

function certDer(file: string): Uint8Array {
	const ders = pemToDer(fixture(`cbrski/${file}`), "CERTIFICATE");
	equal(ders.length, 1, file);
	return ders[0]!;
}

const cache = new Map<string, Certificate>();
function cert(file: (typeof CERT_FILES)[number]): Certificate {
	let c = cache.get(file);
	if (c === undefined) {
		c = parseCertificate(certDer(file));
		cache.set(file, c);
	}
	return c;
}

const utc = (y: number, mo: number, d: number, h = 0, mi = 0, s = 0): number => Date.UTC(y, mo - 1, d, h, mi, s);

/** The public key inside a SEC1 (RFC 5915) or PKCS#8 (RFC 5958) EC private key file. */
function publicKeyOfKeyFile(file: string): Uint8Array {
	const [block] = pemBlocks(fixture(`cbrski/${file}`));
	let ecPrivateKey = block!.der;
	if (block!.label === "PRIVATE KEY") {
		const outer = new DerReader(block!.der).sequence();
		equal(outer.smallInteger(), 0, "PKCS#8 version");
		const alg = outer.sequence();
		equal(alg.oid(), Oid.EC_PUBLIC_KEY);
		equal(alg.oid(), Oid.P256);
		ecPrivateKey = outer.octetString();
	} else {
		equal(block!.label, "EC PRIVATE KEY");
	}
	const k = new DerReader(ecPrivateKey).sequence();
	equal(k.smallInteger(), 1, "ECPrivateKey version");
	equal(k.octetString().length, 32);
	k.optionalExplicit(0);
	const pub = k.explicit(1).bitString();
	equal(pub.unusedBits, 0);
	return pub.bytes;
}

function flipBit(bytes: Uint8Array, bit: number): Uint8Array {
	const c = bytes.slice();
	c[bit >> 3] = c[bit >> 3]! ^ (0x80 >> (bit & 7));
	return c;
}

/** `bytes` with `remove` bytes at `at` replaced by `insert` (if given). */
function splice(bytes: Uint8Array, at: number, remove: number, insert?: number): Uint8Array {
	const tail = bytes.subarray(Math.min(bytes.length, at + remove));
	const out = new Uint8Array(at + (insert === undefined ? 0 : 1) + tail.length);
	out.set(bytes.subarray(0, at));
	if (insert !== undefined) out[at] = insert;
	out.set(tail, out.length - tail.length);
	return out;
}

function indexOfBytes(hay: Uint8Array, needle: Uint8Array): number {
	outer: for (let i = 0; i + needle.length <= hay.length; i++) {
		for (let k = 0; k < needle.length; k++) if (hay[i + k] !== needle[k]) continue outer;
		return i;
	}
	return -1;
}

function ascii(text: string): Uint8Array {
	const b = new Uint8Array(text.length);
	for (let i = 0; i < text.length; i++) b[i] = text.charCodeAt(i);
	return b;
}

/** Walks every element, decoding primitives by their universal tag: what a careless consumer might do. */
function walk(r: DerReader): void {
	while (!r.done) {
		const t: Tlv = r.next();
		if (t.constructed) {
			walk(r.enter(t));
			continue;
		}
		if (t.tagClass !== TagClass.UNIVERSAL) continue;
		const v = tlvValue(t);
		switch (t.tagNumber) {
			case 1: decodeBoolean(v); break;
			case 2: decodeInteger(v); break;
			case 3: decodeBitString(v); break;
			case 6: decodeOid(v); break;
			case 23: case 24: decodeTime(t.tagNumber, v); break;
			case 12: case 18: case 19: case 20: case 22: case 26: case 28: case 30: decodeString(t.tagNumber, v); break;
		}
	}
}

/** Runs `fn`; anything thrown must be one of the typed errors (then undefined). */
function attempt<T>(fn: () => T, what: () => string): T | undefined {
	try {
		return fn();
	} catch (e) {
		if (e instanceof CertificateError || e instanceof DerError) return undefined;
		throw new Error(`${what()}: unexpected ${e instanceof Error ? `${e.name}: ${e.message}` : String(e)}`);
	}
}

export default suite("x509", (test) => {
	/* ----------------------------------------------------------------------------- base64, PEM */

	test("base64: RFC 4648 §10 test vectors, both ways", () => {
		const vectors: [string, string][] = [
			["", ""], ["f", "Zg=="], ["fo", "Zm8="], ["foo", "Zm9v"], ["foob", "Zm9vYg=="], ["fooba", "Zm9vYmE="], ["foobar", "Zm9vYmFy"],
		];
		for (const [plain, b64] of vectors) {
			equal(base64Encode(ascii(plain)), b64, plain);
			deepEqual(base64Decode(b64), ascii(plain), b64);
		}
		deepEqual(base64Decode(" Zm9v\r\nYm\tFy \n"), ascii("foobar"), "whitespace is skipped");
		deepEqual(base64Decode("+/+/"), Uint8Array.of(0xfb, 0xff, 0xbf), "the two last alphabet characters");
	});

	test("base64: strict decoding rejects everything non-canonical", () => {
		for (const bad of ["Zg", "Zg=", "Zg===", "Z===", "====", "Zh==", "Zm9=", "Zg==Zg==", "Zm=v", "Zm9v!", "Zm9v\u00e9", "Zm9v-_", "Zm9vY"]) {
			throws(() => base64Decode(bad), Base64Error, JSON.stringify(bad));
		}
	});

	test("base64: random round trips (seeded)", () => {
		const rnd = new SeededRandom(4648);
		for (let n = 0; n < 200; n++) {
			const b = rnd.bytes(rnd.int(70));
			deepEqual(base64Decode(base64Encode(b)), b);
		}
	});

	test("PEM: blocks, labels, round trip and malformations", () => {
		const pledgeText = fixture("cbrski/cert-pledge.pem");
		const keyText = fixture("cbrski/key-pledge.pem");
		const bundle = `explanatory text\n${pledgeText}\n${keyText}${fixture("cbrski/cert-masa_ca.pem")}`;
		deepEqual(pemBlocks(bundle).map((b) => b.label), ["CERTIFICATE", "EC PRIVATE KEY", "CERTIFICATE"]);
		const certs = pemToDer(bundle, "CERTIFICATE");
		equal(certs.length, 2);
		deepEqual(certs[0], certDer("cert-pledge.pem"));
		deepEqual(certs[1], certDer("cert-masa_ca.pem"));
		equal(pemToDer(bundle).length, 3);
		deepEqual(pemToDer(derToPem(certs[0]!, "CERTIFICATE"), "CERTIFICATE"), [certs[0]]);
		throws(() => pemToDer(keyText, "CERTIFICATE"), PemError);
		throws(() => pemToDer("no PEM here"), PemError);
		throws(() => pemToDer(pledgeText.replace("-----END CERTIFICATE-----", "")), PemError);
		throws(() => pemToDer(pledgeText.replace("END CERTIFICATE", "END X509 CRL")), PemError);
		throws(() => pemToDer(pledgeText.replace("MIIB", "MI!B")), PemError);
	});

	/* ------------------------------------------------------------------------------ DER reader */

	test("DER: identifier and length octets, strict", () => {
		const t = readTlv(fromHex("7f81000100"), 0);
		deepEqual([t.tagClass, t.constructed, t.tagNumber, t.valueStart, t.end], [TagClass.APPLICATION, true, 128, 4, 5], "high tag number");
		const long = new Uint8Array(131);
		long.set([0x04, 0x81, 0x80]);
		equal(readTlv(long, 0).end, 131, "long form, 128 bytes");
		const cases: [string, string][] = [
			["", "empty"],
			["1f8001", "non-minimal high tag number"],
			["1f1e00", "high form for a low tag"],
			["1f", "truncated tag"],
			["1fffffffff7f00", "tag number too large"],
			["04", "no length"],
			["04817f" + "00".repeat(127), "long form for a short length"],
			["0482007f" + "00".repeat(127), "leading zero length octet"],
			["3080", "indefinite length"],
			["0485" + "01".repeat(5), "five length octets"],
			["0403aabb", "length beyond the data"],
			["0000", "end-of-contents"],
			["04ff", "127 length octets"],
		];
		for (const [hex, what] of cases) throws(() => readTlv(fromHex(hex), 0), DerError, what);
		throws(() => new DerReader(fromHex("0400")).sequence(), DerError, "wrong tag");
		throws(() => {
			const r = new DerReader(fromHex("300005"));
			r.sequence();
			r.next();
		}, DerError, "truncated sibling");
		const r = new DerReader(fromHex("30000500"));
		r.sequence().finish();
		throws(() => r.finish(), DerError, "trailing element");
	});

	test("DER: primitive values and their DER-only rules", () => {
		const read = (hex: string): DerReader => new DerReader(fromHex(hex));
		deepEqual(read("0201ff").integer(), Uint8Array.of(0xff));
		equal(read("0202ff7f").smallInteger(), -129);
		equal(read("020600ffffffffff").smallInteger(), 2 ** 40 - 1);
		for (const bad of ["0200", "02020001", "0202ff80", "020701000000000000"]) throws(() => read(bad).smallInteger(), DerError, bad);
		equal(read("0101ff").boolean(), true);
		equal(read("010100").boolean(), false);
		for (const bad of ["010101", "0100", "01020000"]) throws(() => read(bad).boolean(), DerError, bad);
		read("0500").null();
		throws(() => read("050100").null(), DerError);
		deepEqual(read("030406aabbc0").bitString(), { unusedBits: 6, bytes: fromHex("aabbc0") });
		for (const bad of ["0300", "030108", "030206ff", "030208aa"]) throws(() => read(bad).bitString(), DerError, bad);
		equal(read("06082a8648ce3d040302").oid(), Oid.ECDSA_WITH_SHA256);
		equal(read("0603883703").oid(), "2.999.3");
		for (const bad of ["0600", "06028001", "060181", "06022a86"]) throws(() => read(bad).oid(), DerError, bad);
		deepEqual(read("0403010203").octetString(), Uint8Array.of(1, 2, 3));
		throws(() => read("2403040101").octetString(), DerError, "constructed OCTET STRING");
	});

	test("DER: UTCTime and GeneralizedTime", () => {
		const time = (tag: number, text: string): number => decodeTime(tag, ascii(text));
		equal(time(23, "221209125047Z"), utc(2022, 12, 9, 12, 50, 47));
		equal(time(23, "491231235959Z"), utc(2049, 12, 31, 23, 59, 59), "YY < 50 is 20YY");
		equal(time(23, "500101000000Z"), utc(1950, 1, 1), "YY >= 50 is 19YY");
		equal(time(24, "99991231125047Z"), utc(9999, 12, 31, 12, 50, 47));
		equal(time(24, "20000229000000Z"), utc(2000, 2, 29), "leap day of a 400-year");
		equal(time(24, "00010101000000Z"), -62135596800000, "year 1, not 1901");
		equal(time(24, "20240101000000.5Z"), utc(2024, 1, 1) + 500);
		equal(time(24, "20240101000000.1239Z"), utc(2024, 1, 1) + 123);
		const bad: [number, string][] = [
			[23, "2212091250Z"], [23, "221209125047"], [23, "221209125047+0100"], [23, "221309125047Z"], [23, "221200125047Z"],
			[23, "221232125047Z"], [23, "221209245047Z"], [23, "221209126047Z"], [23, "221209125060Z"], [23, "2212091250a7Z"],
			[24, "19000229000000Z"], [24, "20240101000000.Z"], [24, "20240101000000.50Z"], [24, "20240101000000,5Z"], [24, "202401010000Z"],
			[4, "221209125047Z"],
		];
		for (const [tag, text] of bad) throws(() => time(tag, text), DerError, text);
	});

	test("DER: character strings", () => {
		equal(decodeString(12, fromHex("4ac3a9e282acf09f9880")), "J\u00e9\u20ac\u{1f600}");
		equal(decodeString(19, ascii("JADA123456789")), "JADA123456789");
		equal(decodeString(19, ascii("*.a&b")), "*.a&b", "tolerated like other verifiers do");
		equal(decodeString(22, ascii("help@custom-er.example.com")), "help@custom-er.example.com");
		equal(decodeString(30, fromHex("004a00e9")), "J\u00e9");
		equal(decodeString(28, fromHex("0001f600")), "\u{1f600}");
		equal(decodeString(20, fromHex("e9")), "\u00e9");
		const bad: [number, string][] = [
			[12, "c080"], [12, "e08080"], [12, "eda080"], [12, "f4908080"], [12, "c3"], [12, "80"], [12, "f5808080"],
			[19, "40"], [19, "21"], [22, "80"], [18, "41"], [26, "7f"], [30, "00"], [28, "00110000"], [28, "0000d800"], [4, "00"],
		];
		for (const [tag, hex] of bad) throws(() => decodeString(tag, fromHex(hex)), DerError, `${tag} ${hex}`);
	});

	test("DER: nesting is limited, deep input fails with DerError", () => {
		let nested: Uint8Array = Uint8Array.of(0x05, 0x00);
		for (let i = 0; i < MAX_DEPTH + 5; i++) nested = derSequence(nested);
		throws(() => walk(new DerReader(nested)), DerError);
		let shallow: Uint8Array = Uint8Array.of(0x05, 0x00);
		for (let i = 0; i < MAX_DEPTH; i++) shallow = derSequence(shallow);
		walk(new DerReader(shallow));
	});

	/* ------------------------------------------------------------------------------ DER writer */

	test("DER writer: fixed encodings", () => {
		equal(toHex(derInteger(new Uint8Array(0))), "020100");
		equal(toHex(derInteger(fromHex("000000"))), "020100");
		equal(toHex(derInteger(fromHex("7f"))), "02017f");
		equal(toHex(derInteger(fromHex("80"))), "02020080");
		equal(toHex(derInteger(fromHex("0000ff01"))), "020300ff01");
		for (const [n, hex] of [[0, "020100"], [127, "02017f"], [128, "02020080"], [256, "02020100"], [-1, "0201ff"], [-128, "020180"], [-129, "0202ff7f"], [-256, "0202ff00"], [-65536, "0203ff0000"],
			[Number.MAX_SAFE_INTEGER, "02071fffffffffffff"], [Number.MIN_SAFE_INTEGER, "0207e0000000000001"]] as const) {
			equal(toHex(derSmallInteger(n)), hex, String(n));
		}
		throws(() => derSmallInteger(2 ** 53), DerError);
		throws(() => derSmallInteger(0.5), DerError);
		equal(toHex(derOid(Oid.P256)), "06082a8648ce3d030107");
		equal(toHex(derOid("2.999.3")), "0603883703");
		for (const bad of ["1", "3.1", "1.40", "0.40", "1..2", "01.2", "1.2.", "1.-2", "a.b", ""]) throws(() => derOid(bad), DerError, bad);
		equal(toHex(derBitString(fromHex("aabbc7"), 6)), "030406aabbc0", "padding bits cleared");
		equal(toHex(derOctetString(new Uint8Array(200))).slice(0, 6), "0481c8");
		equal(toHex(derNull()), "0500");
		equal(toHex(derBoolean(true)), "0101ff");
		equal(toHex(derExplicit(3, derNull())), "a3020500");
		equal(toHex(derSet(derOid("2.5.4.3"), derNull(), derSmallInteger(5))), "310a" + "020105" + "0500" + "0603550403", "SET OF sorted");
		equal(toHex(derUtf8String("J\u00e9")), "0c034ac3a9");
		equal(toHex(derPrintableString("JADA1")), "13054a41444131");
		throws(() => derPrintableString("a@b"), DerError);
		const seq = derSequence(derSmallInteger(1), derOid(Oid.KP_CMC_RA));
		const r = new DerReader(seq).sequence();
		equal(r.smallInteger(), 1);
		equal(r.oid(), Oid.KP_CMC_RA);
		r.finish();
	});

	test("DER writer/reader round trips: INTEGER and OID edge cases (seeded)", () => {
		const rnd = new SeededRandom(690);
		const edges = [0, 1, 127, 128, 255, 256, 32767, 32768, 65535, 65536, 2 ** 31, 2 ** 32, 2 ** 47 - 1];
		for (const n of edges.concat(edges.map((e) => -e - 1))) equal(new DerReader(derSmallInteger(n)).smallInteger(), n, String(n));
		for (let i = 0; i < 300; i++) {
			const n = Math.floor((rnd.float() - 0.5) * 2 ** (1 + rnd.int(48)));
			equal(new DerReader(derSmallInteger(n)).smallInteger(), n, String(n));
			const m = rnd.bytes(rnd.int(40));
			for (let z = rnd.int(3); z > 0 && m.length > 0; z--) m[rnd.int(Math.min(3, m.length))] = 0;
			if (m.length > 0 && rnd.int(2) === 0) m[0] = 0x80 | m[0]!;
			let start = 0;
			while (start < m.length && m[start] === 0) start++;
			const content = new DerReader(derInteger(m)).integer();
			equal(content[0]! & 0x80, 0, "stays positive");
			deepEqual(decodeUnsignedInteger(content), m.subarray(start), toHex(m));
		}
		const fixed = ["0.0", "0.39", "1.0", "1.39", "2.0", "2.39", "2.40", "2.47", "2.48", "2.999", "1.2.840.10045.4.3.2", "2.5.29.37",
			"1.3.6.1.4.1.311.21.20", "2.25.329800735698586629295641978511506172918", "1.2.9007199254740991.9007199254740993.18446744073709551616"];
		for (const oid of fixed) equal(new DerReader(derOid(oid)).oid(), oid, oid);
		for (let i = 0; i < 300; i++) {
			const first = rnd.int(3);
			const arcs = [String(first), String(first < 2 ? rnd.int(40) : rnd.int(2000))];
			for (let k = rnd.int(8); k > 0; k--) {
				const size = rnd.int(4);
				arcs.push(size === 3 ? String(BigInt(rnd.next()) * BigInt(rnd.next()) * BigInt(rnd.next())) : String(rnd.int(size === 0 ? 128 : size === 1 ? 16384 : 2 ** 32)));
			}
			const oid = arcs.join(".");
			equal(decodeOid(tlvValue(readTlv(derOid(oid), 0))), oid, oid);
		}
	});

	test("ECDSA signature DER <-> raw r || s", () => {
		const rnd = new SeededRandom(3279);
		for (let i = 0; i < 200; i++) {
			const raw = rnd.bytes(64);
			if (rnd.int(4) === 0) raw.fill(0, 0, 1 + rnd.int(4));
			if (rnd.int(4) === 0) raw.fill(0, 32, 33 + rnd.int(4));
			if (rnd.int(2) === 0) raw[0] = raw[0]! | 0x80;
			const der = ecdsaRawToDer(raw);
			deepEqual(ecdsaDerToRaw(der), raw);
			ok(der.length <= 72, "at most 72 bytes");
		}
		for (const f of CERT_FILES) {
			const sig = cert(f).signature;
			deepEqual(ecdsaRawToDer(ecdsaDerToRaw(sig)), sig, `${f} signature`);
		}
		deepEqual(ecdsaDerToRaw(fromHex("3006020100020100")), new Uint8Array(64), "zero");
		const bad = [
			"", // nothing
			"300602010102010100", // trailing byte
			"3003020101", // no s
			"3009020101020101020101", // a third INTEGER
			"30060201ff020101", // negative r
			"3006020101040101", // s not an INTEGER
			"3026022101" + "00".repeat(32) + "020101", // r of 33 octets
			"300702020001020101", // non-minimal r
		];
		for (const hex of bad) throws(() => ecdsaDerToRaw(fromHex(hex)), DerError, hex);
		throws(() => ecdsaRawToDer(new Uint8Array(63)), DerError);
		throws(() => ecdsaRawToDer(new Uint8Array(0)), DerError);
	});

	/* ----------------------------------------------------------------------------- certificates */

	test("cert-pledge: IDevID fields", () => {
		const c = cert("cert-pledge.pem");
		equal(c.version, 3);
		equal(toHex(c.serialNumber), "7ead");
		equal(c.signatureAlgorithm, Oid.ECDSA_WITH_SHA256);
		equal(nameValue(c.subject, "serialNumber"), "JADA123456789");
		equal(nameValue(c.subject, Oid.COMMON_NAME), "Stok IoT sensor Y-42");
		deepEqual(c.subject.attributes.map((a) => a.shortName), ["CN", "serialNumber"]);
		deepEqual(c.issuer.attributes.map((a) => `${a.shortName}=${a.value}`), ["CN=masa.stok.nl", "O=vanderstok", "L=Helmond", "C=NL"]);
		equal(c.notBefore, utc(2022, 12, 9, 12, 50, 47));
		equal(c.notAfter, utc(9999, 12, 31, 12, 50, 47), "GeneralizedTime 9999: no well-defined expiration (RFC 5280 §4.1.2.5)");
		equal(c.publicKey.algorithm, Oid.EC_PUBLIC_KEY);
		equal(c.publicKey.curve, Oid.P256);
		equal(c.publicKey.bytes.length, 65);
		equal(c.publicKey.bytes[0], 0x04);
		equal(c.publicKey.spki.length, 91, "the 91-byte SPKI form (as in the PVR's proximity-registrar-pubk)");
		deepEqual(c.publicKey.bytes, publicKeyOfKeyFile("key-pledge.pem"), "matches key-pledge.pem");
		deepEqual(c.basicConstraints, { cA: false, pathLen: undefined });
		equal(c.keyUsage, KeyUsage.digitalSignature | KeyUsage.nonRepudiation | KeyUsage.keyEncipherment | KeyUsage.dataEncipherment);
		equal(c.masaUrl, "masa.stok.nl");
		deepEqual(c.extensions.map((x) => `${x.oid}${x.critical ? "!" : ""}`), ["2.5.29.15!", "2.5.29.19", "2.5.29.35", Oid.MASA_URL]);
		equal(toHex(c.authorityKeyIdentifier!), "cb8d98ca74c51b58dde7acef869a9443a8d666a6");
		deepEqual(c.authorityKeyIdentifier, cert("cert-masa_ca.pem").subjectKeyIdentifier, "AKI = SKI of the MASA CA");
		equal(c.subjectKeyIdentifier, undefined);
		equal(c.extendedKeyUsage, undefined);
		equal(c.subjectAltName, undefined);
		// tbs is the exact slice after the outer SEQUENCE header (30 82 01 ce).
		equal(c.tbs.length, 376);
		equal(c.tbs.byteOffset - c.der.byteOffset, 4);
		deepEqual(c.issuer.der, cert("cert-masa_ca.pem").subject.der);
	});

	test("CA certificates: basicConstraints, keyUsage, SAN", () => {
		const masaCa = cert("cert-masa_ca.pem");
		deepEqual(masaCa.basicConstraints, { cA: true, pathLen: 3 });
		equal(masaCa.keyUsage, KeyUsage.digitalSignature | KeyUsage.keyCertSign | KeyUsage.cRLSign);
		deepEqual(masaCa.subjectAltName?.emails, ["info@masa.stok.nl"]);
		deepEqual(masaCa.issuer.der, masaCa.subject.der, "self-signed");
		deepEqual(masaCa.publicKey.bytes, publicKeyOfKeyFile("key-masa_ca.pem"));
		equal(masaCa.notAfter, utc(2032, 12, 6, 12, 50, 47));
		const dca = cert("cert-domain_ca.pem");
		const dca6 = cert("cert-domain_ca-2022-12-06-pinned-in-voucher.pem");
		for (const c of [dca, dca6]) {
			deepEqual(c.basicConstraints, { cA: true, pathLen: undefined });
			ok(c.extensions.find((x) => x.oid === Oid.BASIC_CONSTRAINTS)!.critical, "critical basicConstraints");
			equal(nameValue(c.subject, "CN"), "Custom-ER Global CA");
			equal(nameValue(c.subject, "O"), "Custom-ER, Inc.");
			deepEqual(c.subjectAltName?.emails, ["help@custom-er.example.com"]);
			deepEqual(c.publicKey.bytes, publicKeyOfKeyFile("key-domain_ca.pem"));
		}
		deepEqual(dca.serialNumber, dca6.serialNumber, "same serial (README quirk)");
		deepEqual(dca.subject.der, dca6.subject.der);
		equal(dca6.notBefore, utc(2022, 12, 6, 11, 37, 59));
		equal(dca.notBefore, utc(2022, 12, 9, 12, 50, 47));
		ok(toHex(dca.der) !== toHex(dca6.der));
	});

	test("Registrar certificates: EKU, both versions share serial and key", () => {
		const reg = cert("cert-registrar.pem");
		const reg6 = cert("cert-registrar-2022-12-06-from-rvr-x5bag.pem");
		for (const c of [reg, reg6]) {
			deepEqual(c.extendedKeyUsage, [Oid.KP_CMC_RA, Oid.KP_SERVER_AUTH, Oid.KP_CLIENT_AUTH]);
			ok(c.extensions.find((x) => x.oid === Oid.EXTENDED_KEY_USAGE)!.critical, "critical EKU");
			deepEqual(c.basicConstraints, { cA: false, pathLen: undefined });
			deepEqual(c.publicKey.bytes, publicKeyOfKeyFile("key-registrar.pem"));
			equal(toHex(c.serialNumber), "00c3f62149b2e30e3e");
			deepEqual(c.issuer.der, cert("cert-domain_ca.pem").subject.der);
			deepEqual(c.authorityKeyIdentifier, cert("cert-domain_ca.pem").subjectKeyIdentifier);
		}
		equal(nameValue(reg.subject, "CN"), "Custom-ER Registrar");
		equal(nameValue(reg6.subject, "CN"), "Custom-ER Commercial Buildings Registrar");
		equal(reg.notAfter, utc(2025, 12, 8, 12, 50, 47));
		equal(reg6.notAfter, utc(2025, 12, 5, 11, 37, 59));
		const masa = cert("cert-masa.pem");
		deepEqual(masa.publicKey.bytes, publicKeyOfKeyFile("key-masa.pem"));
		deepEqual(masa.extendedKeyUsage, [Oid.KP_SERVER_AUTH, Oid.KP_CLIENT_AUTH]);
	});

	test("structural rules: trailing bytes, algorithm mismatch, non-DER", () => {
		const der = certDer("cert-pledge.pem");
		const longer = new Uint8Array(der.length + 1);
		longer.set(der);
		throws(() => parseCertificate(longer), CertificateError, "trailing byte");
		throws(() => parseCertificate(der.subarray(0, der.length - 1)), CertificateError, "truncated");
		// The outer signatureAlgorithm (offset 382: 30 0a 06 08 ...) changed to ecdsa-with-SHA384 (...04 03 03).
		const alg = der.slice();
		equal(toHex(alg.subarray(380, 392)), "300a06082a8648ce3d040302");
		alg[391] = 0x03;
		const e = throws(() => parseCertificate(alg), CertificateError);
		ok(/differ/.test(e.message), e.message);
		throws(() => parseCertificate(new Uint8Array(0)), CertificateError);
	});

	/* ------------------------------------------------------------------------------------ chains */

	test("chains verify: pledge to MASA CA, Registrar to either domain CA version", () => {
		const pledge = cert("cert-pledge.pem");
		const masaCa = cert("cert-masa_ca.pem");
		const r1 = verifyChain([pledge], [cert("cert-domain_ca.pem"), masaCa], { crypto });
		ok(r1.ok, JSON.stringify(r1));
		equal(r1.anchor, masaCa);
		const r2 = verifyChain([pledge, masaCa], [masaCa], { crypto });
		ok(r2.ok && r2.anchor === masaCa, "anchor as the chain's last element");
		const reg = cert("cert-registrar.pem");
		for (const anchor of [cert("cert-domain_ca.pem"), cert("cert-domain_ca-2022-12-06-pinned-in-voucher.pem")]) {
			const r = verifyChain([reg], [anchor], { crypto });
			ok(r.ok && r.anchor === anchor, JSON.stringify(r));
		}
		const r3 = verifyChain([cert("cert-registrar-2022-12-06-from-rvr-x5bag.pem"), cert("cert-domain_ca.pem")], [cert("cert-domain_ca-2022-12-06-pinned-in-voucher.pem")], { crypto });
		ok(r3.ok, "RVR x5bag Registrar, chain ending in the other domain CA version (same name and key)");
		const pinned = verifyChain([reg], [reg], { crypto });
		ok(pinned.ok && pinned.anchor === reg, "an end-entity certificate as its own anchor (a pinned-domain-cert may be one)");
	});

	test("chains fail: wrong anchor, other key, flipped tbs bit, structure", () => {
		const pledge = cert("cert-pledge.pem");
		const reg = cert("cert-registrar.pem");
		const dca = cert("cert-domain_ca.pem");
		const masaCa = cert("cert-masa_ca.pem");
		deepEqual(verifyChain([reg], [masaCa], { crypto }), { ok: false, reason: "no trust anchor issued certificate 0" });
		deepEqual(verifyChain([pledge], [], { crypto }), { ok: false, reason: "no trust anchor issued certificate 0" });
		const impostor: Certificate = { ...dca, publicKey: masaCa.publicKey };
		deepEqual(verifyChain([reg], [impostor], { crypto }), { ok: false, reason: "signature of certificate 0 does not verify" });

		// One bit of the subject CN ("Stok" -> "Rtok"): still parses, no longer verifies.
		const der = certDer("cert-pledge.pem");
		const at = indexOfBytes(der, ascii("Stok IoT"));
		ok(at > 0 && at < 4 + pledge.tbs.length);
		const tampered = parseCertificate(flipBit(der, at * 8 + 7));
		equal(nameValue(tampered.subject, "CN"), "Rtok IoT sensor Y-42");
		deepEqual(verifyChain([tampered], [masaCa], { crypto }), { ok: false, reason: "signature of certificate 0 does not verify" });

		deepEqual(verifyChain([], [masaCa], { crypto }), { ok: false, reason: "empty certificate chain" });
		equal(verifyChain([pledge, pledge], [masaCa], { crypto }).ok, false);
		deepEqual(verifyChain([pledge, pledge], [masaCa], { crypto }), { ok: false, reason: "certificate 1 repeats certificate 0" });
		const nine = [pledge, pledge, pledge, pledge, pledge, pledge, pledge, pledge, pledge];
		deepEqual(verifyChain(nine, [masaCa], { crypto }), { ok: false, reason: "certificate chain longer than 8" });
		deepEqual(verifyChain([reg], [{ ...dca, basicConstraints: { cA: false, pathLen: undefined } }], { crypto }), { ok: false, reason: "trust anchor is not a CA" });
		deepEqual(verifyChain([reg], [{ ...dca, basicConstraints: undefined }], { crypto }), { ok: false, reason: "trust anchor is not a CA" });
		deepEqual(verifyChain([reg], [{ ...dca, keyUsage: KeyUsage.digitalSignature }], { crypto }), {
			ok: false,
			reason: "trust anchor may not sign certificates (keyUsage)",
		});
		deepEqual(verifyChain([reg, pledge], [masaCa], { crypto }), { ok: false, reason: "certificate 0 is not issued by certificate 1 (names differ)" });
		deepEqual(verifyChain([pledge, reg], [dca], { crypto }).ok, false);
		const critical: Certificate = { ...reg, extensions: reg.extensions.concat([{ oid: "1.2.3.4", critical: true, value: new Uint8Array(0) }]) };
		deepEqual(verifyChain([critical], [dca], { crypto }), { ok: false, reason: "certificate 0 has an unsupported critical extension 1.2.3.4" });
		deepEqual(verifyChain([{ ...reg, signatureAlgorithm: "1.2.840.10045.4.3.3" }], [dca], { crypto }), {
			ok: false,
			reason: "certificate 0 has an unsupported signature algorithm 1.2.840.10045.4.3.3",
		});
		deepEqual(verifyChain([reg], [{ ...dca, publicKey: { ...dca.publicKey, curve: "1.3.132.0.34" } }], { crypto }), {
			ok: false,
			reason: "trust anchor does not have an uncompressed P-256 key",
		});
	});

	test("chains: pathLenConstraint counts the intermediates below a CA", () => {
		const reg = cert("cert-registrar.pem");
		const dca = cert("cert-domain_ca.pem");
		const masaCa = cert("cert-masa_ca.pem");
		// The domain CA posing as an intermediate under the MASA CA: the Registrar link is genuine.
		const intermediate: Certificate = { ...dca, issuer: masaCa.subject };
		const limited = (pathLen: number): Certificate => ({ ...masaCa, basicConstraints: { cA: true, pathLen } });
		deepEqual(verifyChain([reg, intermediate], [limited(0)], { crypto }), { ok: false, reason: "trust anchor path length constraint exceeded" });
		deepEqual(verifyChain([reg, intermediate], [limited(1)], { crypto }), { ok: false, reason: "signature of certificate 1 does not verify" });
	});

	test("validity: checked only when `now` is given", () => {
		const reg = cert("cert-registrar.pem");
		const dca = cert("cert-domain_ca.pem");
		deepEqual(verifyChain([reg], [dca], { crypto, now: utc(2026, 1, 1) }), { ok: false, reason: "certificate 0 expired" });
		deepEqual(verifyChain([reg], [dca], { crypto, now: utc(2022, 12, 9, 12, 50, 46) }), { ok: false, reason: "certificate 0 is not yet valid" });
		deepEqual(verifyChain([cert("cert-pledge.pem")], [cert("cert-masa_ca.pem")], { crypto, now: utc(2040, 1, 1) }), {
			ok: false,
			reason: "trust anchor expired",
		});
		ok(verifyChain([reg], [dca], { crypto, now: utc(2024, 6, 1) }).ok, "inside the window");
	});

	/* --------------------------------------------------------------------------------- properties */

	test("property: 3000 random byte strings give a certificate or a typed error", () => {
		const rnd = new SeededRandom(5280);
		const real = CERT_FILES.map(certDer);
		let parsed = 0;
		for (let i = 0; i < 3000; i++) {
			let b: Uint8Array;
			const kind = i % 3;
			if (kind === 0) {
				b = rnd.bytes(rnd.int(300));
			} else if (kind === 1) {
				// A SEQUENCE header that covers random contents: gets past the first check.
				const body = rnd.bytes(rnd.int(250));
				b = derSequence(body);
			} else {
				// A real certificate's first bytes, then noise.
				const src = real[rnd.int(real.length)]!;
				const keep = rnd.int(src.length);
				b = new Uint8Array(keep + rnd.int(60));
				b.set(src.subarray(0, keep));
				b.set(rnd.bytes(b.length - keep), keep);
			}
			if (attempt(() => parseCertificate(b), () => `random #${i} ${toHex(b)}`) !== undefined) parsed++;
			attempt(() => walk(new DerReader(b)), () => `walk random #${i} ${toHex(b)}`);
		}
		equal(parsed, 0, "noise is never a certificate");
	});

	test("property: 3000 mutated certificates give a certificate or a typed error", () => {
		const rnd = new SeededRandom(7925);
		const real = CERT_FILES.map(certDer);
		let parsed = 0;
		for (let i = 0; i < 3000; i++) {
			const src = real[rnd.int(real.length)]!;
			let b: Uint8Array = src.slice();
			for (let m = 1 + rnd.int(3); m > 0; m--) {
				const op = rnd.int(6);
				const at = rnd.int(Math.max(1, b.length));
				if (op <= 1) {
					b = flipBit(b, rnd.int(b.length * 8));
				} else if (op === 2) {
					b = b.subarray(0, at).slice();
				} else if (op === 3) {
					b = splice(b, at, 1);
				} else if (op === 4) {
					b = splice(b, at, 0, rnd.int(256));
				} else if (b.length > 0) {
					b[at] = [0x00, 0x80, 0x81, 0x82, 0xff, 0x7f, 0x1f][rnd.int(7)]!;
				}
			}
			const c = attempt(() => parseCertificate(b), () => `mutant #${i} ${toHex(b)}`);
			if (c !== undefined) {
				parsed++;
				equal(c.der, b);
				equal(c.tbs.buffer, b.buffer);
			}
		}
		ok(parsed > 100 && parsed < 2900, `some mutants parse, most do not (${parsed})`);
	});
});
