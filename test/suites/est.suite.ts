/*
 * EST-coaps payloads: PKCS#10 requests (modules/x509/csr.ts), PKCS#7 certs-only (modules/est/pkcs7.ts)
 * and multipart-core (modules/est/multipart-core.ts), against RFC 9148 Appendix A and the cBRSKI
 * derived vectors byte for byte, plus seeded mutation tests.
 */

import { suite } from "../lib/harness.js";
import { deepEqual, equal, ok, throws } from "../lib/assert.js";
import { fixture, fixtureHex } from "../lib/fixtures.js";
import { SeededRandom } from "../../hosts/xs/seeded-random.js";
import { createNobleCrypto } from "../../modules/crypto/noble-provider.js";
import { DerError, derPrintableString, derUtf8String } from "../../modules/asn1/der.js";
import { pemToDer } from "../../modules/util/base64.js";
import { toHex } from "../../modules/util/hex.js";
import { Oid, nameToString, nameValue, parseCertificate } from "../../modules/x509/certificate.js";
import { CsrError, CsrOid, createCsr, encodeName, parseCsr, parseVerifiedCsr, verifyCsr } from "../../modules/x509/csr.js";
import { Pkcs7Error, decodeCertsOnly, encodeCertsOnly } from "../../modules/est/pkcs7.js";
import { MultipartError, decodeMultipartCore, encodeMultipartCore } from "../../modules/est/multipart-core.js";
import { ContentFormat } from "../../modules/coap/constants.js";

const A2_CSR = "cbrski/estcoaps-rfc9148-A2-sen-request-csr-cf286.hex";
const A1_CRTS = "cbrski/estcoaps-rfc9148-A1-crts-response-cf281.hex";
const A2_SEN = "cbrski/estcoaps-rfc9148-A2-sen-response-cf281.hex";
const MULTIPART = "cbrski/estcoaps-crts-multipart-core-cf62-single-ca.derived.hex";

function crypto(seed: number): ReturnType<typeof createNobleCrypto> {
	const rnd = new SeededRandom(seed);
	return createNobleCrypto((b) => rnd.fill(b));
}

function pem(file: string): Uint8Array {
	return pemToDer(fixture(`cbrski/${file}`), "CERTIFICATE")[0]!;
}

function flipBit(bytes: Uint8Array, bit: number): Uint8Array {
	const c = bytes.slice();
	c[bit >> 3] = c[bit >> 3]! ^ (0x80 >> (bit & 7));
	return c;
}

/** Mutants of `src`: bit flips, truncation, deleted and inserted bytes, special length octets. */
function mutate(rnd: SeededRandom, src: Uint8Array): Uint8Array {
	let b: Uint8Array = src.slice();
	for (let m = 1 + rnd.int(3); m > 0; m--) {
		const op = rnd.int(5);
		const at = rnd.int(Math.max(1, b.length));
		if (op <= 1 && b.length > 0) b = flipBit(b, rnd.int(b.length * 8));
		else if (op === 2) b = b.slice(0, at);
		else if (op === 3) b = Uint8Array.from([...b.subarray(0, at), ...b.subarray(at + 1)]);
		else if (b.length > 0) b[at] = [0x00, 0x80, 0x81, 0x82, 0x84, 0xff, 0x1f, 0x9f, 0x5b, 0xf6][rnd.int(10)]!;
	}
	return b;
}

/** Runs fn; a result or one of `errors` is fine, anything else fails with the input in the message. */
function attempt<T>(fn: () => T, errors: readonly (new (...a: never[]) => Error)[], input: Uint8Array): T | undefined {
	try {
		return fn();
	} catch (e) {
		if (errors.some((E) => e instanceof E)) return undefined;
		throw new Error(`${toHex(input)}: unexpected ${e instanceof Error ? `${e.name}: ${e.message}` : String(e)}`);
	}
}

export default suite("est", (test) => {
	/* ------------------------------------------------------------------------------- PKCS#10 */

	test("CSR: RFC 9148 A.2 request parses and its signature verifies", () => {
		const der = fixtureHex(A2_CSR);
		const csr = parseVerifiedCsr(der, crypto(1));
		equal(nameValue(csr.subject, "serialNumber"), "Wt1234");
		equal(nameToString(csr.subject), "C=US, ST=CA, L=LA, O=example Inc, OU=IoT, serialNumber=Wt1234");
		equal(csr.publicKey.curve, Oid.P256);
		equal(toHex(csr.publicKey.bytes.subarray(0, 5)), "04c8b421f1");
		deepEqual(csr.attributes.map((a) => a.type), [CsrOid.CHALLENGE_PASSWORD, CsrOid.EXTENSION_REQUEST]);
		ok(csr.challengePassword !== undefined && csr.challengePassword.length > 8);
		equal(csr.extensions?.length, 1);
		equal(csr.extensions?.[0]?.oid, Oid.SUBJECT_ALT_NAME);
		equal(csr.signatureAlgorithm, Oid.ECDSA_WITH_SHA256);
		equal(csr.der, der);
	});

	test("CSR: ours, for an IDevID subject, parses back and verifies; the wrong key does not", () => {
		const c = crypto(2);
		const pair = c.ecGenerate();
		const subject = parseCertificate(pem("cert-pledge.pem")).subject;
		const der = createCsr({ crypto: c, privateKey: pair.privateKey, publicKey: pair.publicKey, subject: subject.der });
		const csr = parseVerifiedCsr(der, c);
		deepEqual(csr.subject.der, subject.der);
		equal(nameValue(csr.subject, "serialNumber"), "JADA123456789");
		deepEqual(csr.publicKey.bytes, pair.publicKey);
		deepEqual(csr.attributes, []);
		equal(csr.extensions, undefined);
		// Proof of possession: the request carries one key but is signed by another.
		const other = c.ecGenerate();
		const forged = parseCsr(createCsr({ crypto: c, privateKey: other.privateKey, publicKey: pair.publicKey, subject: subject.der }));
		equal(verifyCsr(forged, c), false);
		throws(() => parseVerifiedCsr(forged.der, c), CsrError);
	});

	test("CSR: encodeName types (PrintableString serialNumber, UTF8String CN) and attributes in DER order", () => {
		const c = crypto(3);
		const pair = c.ecGenerate();
		const subject = encodeName([{ type: Oid.SERIAL_NUMBER, value: "PLEDGE-0001" }, { type: Oid.COMMON_NAME, value: "pledge ü" }]);
		const der = createCsr({
			crypto: c,
			...pair,
			subject,
			attributes: [
				{ type: CsrOid.EXTENSION_REQUEST, values: [Uint8Array.of(0x30, 0x0b, 0x30, 0x09, 0x06, 0x03, 0x55, 0x1d, 0x13, 0x04, 0x02, 0x30, 0x00)] },
				{ type: CsrOid.CHALLENGE_PASSWORD, values: [derPrintableString("secret")] },
			],
		});
		const csr = parseVerifiedCsr(der, c);
		equal(nameToString(csr.subject), "serialNumber=PLEDGE-0001, CN=pledge ü");
		equal(toHex(subject).includes(toHex(derPrintableString("PLEDGE-0001"))), true);
		equal(toHex(subject).includes(toHex(derUtf8String("pledge ü"))), true);
		// SET OF in DER order: the challengePassword attribute (…09 07) sorts before extensionRequest (…09 0e).
		deepEqual(csr.attributes.map((a) => a.type), [CsrOid.CHALLENGE_PASSWORD, CsrOid.EXTENSION_REQUEST]);
		equal(csr.challengePassword, "secret");
		equal(csr.extensions?.[0]?.oid, Oid.BASIC_CONSTRAINTS);
		throws(() => createCsr({ crypto: c, privateKey: pair.privateKey, publicKey: pair.publicKey.subarray(1), subject }), CsrError);
	});

	test("CSR: no bit flip of the A.2 request verifies (sampled), each ends in CsrError", () => {
		const der = fixtureHex(A2_CSR);
		const c = crypto(4);
		const rnd = new SeededRandom(2986);
		for (let i = 0; i < 48; i++) {
			const bit = rnd.int(der.length * 8);
			throws(() => parseVerifiedCsr(flipBit(der, bit), c), CsrError, `bit ${bit}`);
		}
	});

	test("property: 2000 mutated CSRs parse or give CsrError, never another exception", () => {
		const rnd = new SeededRandom(9148);
		const sources = [fixtureHex(A2_CSR)];
		const c = crypto(5);
		const pair = c.ecGenerate();
		sources.push(createCsr({ crypto: c, ...pair, subject: encodeName([{ type: Oid.SERIAL_NUMBER, value: "X-1" }]) }));
		let parsed = 0;
		for (let i = 0; i < 2000; i++) {
			const b = mutate(rnd, sources[i % sources.length]!);
			if (attempt(() => parseCsr(b), [CsrError], b) !== undefined) parsed++;
		}
		ok(parsed < 1900, `most mutants are refused (${parsed} parsed)`);
	});

	/* -------------------------------------------------------------------- PKCS#7 certs-only */

	test("PKCS#7: RFC 9148 A.1 /crts and A.2 /sen responses decode and re-encode byte for byte", () => {
		for (const [file, cn] of [[A1_CRTS, "Root CA"], [A2_SEN, undefined]] as const) {
			const der = fixtureHex(file);
			const certs = decodeCertsOnly(der);
			equal(certs.length, 1, file);
			const cert = parseCertificate(certs[0]!);
			if (cn !== undefined) equal(nameValue(cert.subject, "CN"), cn);
			deepEqual(encodeCertsOnly(certs), der, file);
		}
		equal(nameValue(parseCertificate(decodeCertsOnly(fixtureHex(A2_SEN))[0]!).subject, "serialNumber"), "Wt1234");
	});

	test("PKCS#7: several certificates in DER SET order, none, and refusals", () => {
		const a = pem("cert-domain_ca.pem");
		const b = pem("cert-registrar.pem");
		const two = decodeCertsOnly(encodeCertsOnly([a, b]));
		equal(two.length, 2);
		// DER SET OF sorts the encodings as octet strings (X.690 §11.6), whatever order they came in.
		deepEqual(decodeCertsOnly(encodeCertsOnly([b, a])), two);
		deepEqual(decodeCertsOnly(encodeCertsOnly([])), []);
		throws(() => encodeCertsOnly([Uint8Array.of(0x04, 0x00)]), Pkcs7Error);
		throws(() => encodeCertsOnly([Uint8Array.of(0x30, 0x05)]), Pkcs7Error);
		throws(() => decodeCertsOnly(fixtureHex(A2_CSR)), Pkcs7Error);
	});

	test("property: 2000 mutated certs-only messages decode or give Pkcs7Error", () => {
		const rnd = new SeededRandom(8551);
		const sources = [fixtureHex(A1_CRTS), fixtureHex(A2_SEN), encodeCertsOnly([pem("cert-domain_ca.pem"), pem("cert-pledge.pem")])];
		let decoded = 0;
		for (let i = 0; i < 2000; i++) {
			const b = mutate(rnd, sources[i % sources.length]!);
			if (attempt(() => decodeCertsOnly(b), [Pkcs7Error, DerError], b) !== undefined) decoded++;
		}
		ok(decoded < 1900, `most mutants are refused (${decoded} decoded)`);
	});

	/* ---------------------------------------------------------------------- multipart-core */

	test("multipart-core: the single-CA /crts body decodes and re-encodes byte for byte", () => {
		const body = fixtureHex(MULTIPART);
		const parts = decodeMultipartCore(body);
		equal(parts.length, 1);
		equal(parts[0]!.contentFormat, ContentFormat.PkixCert);
		deepEqual(parts[0]!.body, pem("cert-domain_ca-2022-12-06-pinned-in-voucher.pem"));
		deepEqual(encodeMultipartCore(parts), body);
	});

	test("multipart-core: RFC 8710 shapes (null part, short and long heads) and strictness", () => {
		const parts = [
			{ contentFormat: ContentFormat.PkixCert, body: new Uint8Array(300) },
			{ contentFormat: 0, body: null },
			{ contentFormat: ContentFormat.Cbor, body: Uint8Array.of(0xa0) },
			{ contentFormat: 65535, body: new Uint8Array(23) },
		];
		const enc = encodeMultipartCore(parts);
		equal(toHex(enc.subarray(0, 7)), "8819011f59012c");
		deepEqual(decodeMultipartCore(enc), parts);
		deepEqual(decodeMultipartCore(Uint8Array.of(0x80)), []);
		const bad: [string, string][] = [
			["", "empty"],
			["81 00", "odd length"],
			["82 00", "missing part"],
			["82 18 00 40", "non-shortest uint"],
			["82 00 59 00 01 00", "non-shortest bstr length"],
			["82 1a 00 01 00 00 40", "Content-Format beyond 2 bytes"],
			["9f 00 40 ff", "indefinite array"],
			["82 00 5f 40 ff", "indefinite bstr"],
			["82 00 60", "text string"],
			["82 00 42 01", "truncated"],
			["82 00 40 00", "trailing"],
			["9b 00 00 00 00 00 00 00 02 00 40", "8-byte length"],
			["9a 7f ff ff fe", "huge count"],
		];
		for (const [hex, what] of bad) throws(() => decodeMultipartCore(Uint8Array.from(hex.split(" ").filter((x) => x).map((x) => parseInt(x, 16)))), MultipartError, what);
		throws(() => encodeMultipartCore([{ contentFormat: 70000, body: null }]), MultipartError);
	});

	test("property: 3000 mutated multipart-core bodies decode or give MultipartError", () => {
		const rnd = new SeededRandom(8710);
		const sources = [fixtureHex(MULTIPART), encodeMultipartCore([{ contentFormat: 281, body: rnd.bytes(40) }, { contentFormat: 0, body: null }])];
		for (let i = 0; i < 3000; i++) {
			const b = i % 3 === 2 ? rnd.bytes(rnd.int(40)) : mutate(rnd, sources[i % 2]!);
			const parts = attempt(() => decodeMultipartCore(b), [MultipartError], b);
			if (parts !== undefined) deepEqual(encodeMultipartCore(parts), b, "what decodes re-encodes to the same bytes");
		}
	});
});
