/*
 * DTLS 1.2 handshake messages (modules/dtls/handshake.ts) and fragmentation (fragments.ts), on real
 * bytes: the ClientHello and HelloVerifyRequest of the constrained-join-proxy draft's JPY example,
 * and one OpenSSL 3.0 handshake (test/vectors/openssl/README.md tells how it was captured).
 */

import { suite } from "../lib/harness.js";
import { deepEqual, equal, ok, throws } from "../lib/assert.js";
import { fixtureHex } from "../lib/fixtures.js";
import { SeededRandom } from "../../hosts/xs/seeded-random.js";
import { bytesEqual, fromHex, toHex } from "../../modules/util/hex.js";
import {
	AlertDescription,
	CipherSuite,
	CLIENT_CERTIFICATE_TYPE_ECDSA_SIGN,
	COMPRESSION_NULL,
	decodeCertificate,
	decodeCertificateRequest,
	decodeCertificateVerify,
	decodeClientHello,
	decodeClientKeyExchange,
	decodeFinished,
	decodeHandshakeMessage,
	decodeHelloVerifyRequest,
	decodeServerHello,
	decodeServerHelloDone,
	decodeServerKeyExchange,
	DTLS_1_0,
	DTLS_1_2,
	ECDSA_SHA256,
	ecPointFormatsExtension,
	encodeCertificate,
	encodeCertificateRequest,
	encodeCertificateVerify,
	encodeClientHello,
	encodeClientKeyExchange,
	encodeFinished,
	encodeHandshakeMessage,
	encodeHelloVerifyRequest,
	encodeServerHello,
	encodeServerHelloDone,
	encodeServerKeyExchange,
	ExtensionType,
	extendedMasterSecretExtension,
	HandshakeError,
	HandshakeType,
	maxFragmentLengthBytes,
	maxFragmentLengthExtension,
	NAMED_CURVE_SECP256R1,
	parseExtensions,
	readHandshakeHeader,
	renegotiationInfoExtension,
	serverKeyExchangeSignedData,
	signatureAlgorithmsExtension,
	supportedGroupsExtension,
	type ClientHello,
} from "../../modules/dtls/handshake.js";
import { fragment, readFragments, Reassembler, type HandshakeFragment } from "../../modules/dtls/fragments.js";
import { concatBytes } from "../../modules/util/hex.js";

/* ------------------------------------------------------------------------------------------- */
/* Helpers: the record header is parsed by hand here (RFC 6347 §4.1), independent of record.ts.  */

interface Record13 {
	type: number;
	version: number;
	epoch: number;
	length: number;
	payload: Uint8Array;
}

/** All records in a datagram: type(1) version(2) epoch(2) sequence_number(6) length(2) fragment. */
function records(datagram: Uint8Array): Record13[] {
	const out: Record13[] = [];
	let at = 0;
	while (at < datagram.length) {
		ok(at + 13 <= datagram.length, "record header fits");
		const length = (datagram[at + 11]! << 8) | datagram[at + 12]!;
		ok(at + 13 + length <= datagram.length, "record fits");
		out.push({
			type: datagram[at]!,
			version: (datagram[at + 1]! << 8) | datagram[at + 2]!,
			epoch: (datagram[at + 3]! << 8) | datagram[at + 4]!,
			length,
			payload: datagram.subarray(at + 13, at + 13 + length),
		});
		at += 13 + length;
	}
	return out;
}

const RECORD_HANDSHAKE = 22;

const OPENSSL = [
	"01-clienthello-initial",
	"02-helloverifyrequest",
	"03-clienthello-with-cookie",
	"04-serverhello",
	"05-certificate-server",
	"06-serverkeyexchange",
	"07-certificaterequest",
	"08-serverhellodone",
	"09-certificate-client",
	"10-clientkeyexchange",
	"11-certificateverify",
	"12-finished-client",
] as const;
type OpensslName = (typeof OPENSSL)[number];
const openssl = (name: OpensslName): Uint8Array => fixtureHex(`openssl/dtls12-${name}.hex`);

const hex = (s: string): Uint8Array => fromHex(s);

/** Decodes a body by msg_type and re-encodes it: the codec must be exact both ways. */
function roundTrip(msgType: number, body: Uint8Array): Uint8Array | undefined {
	switch (msgType) {
		case HandshakeType.clientHello:
			return encodeClientHello(decodeClientHello(body));
		case HandshakeType.serverHello:
			return encodeServerHello(decodeServerHello(body));
		case HandshakeType.helloVerifyRequest:
			return encodeHelloVerifyRequest(decodeHelloVerifyRequest(body));
		case HandshakeType.certificate:
			return encodeCertificate(decodeCertificate(body));
		case HandshakeType.serverKeyExchange:
			return encodeServerKeyExchange(decodeServerKeyExchange(body));
		case HandshakeType.certificateRequest:
			return encodeCertificateRequest(decodeCertificateRequest(body));
		case HandshakeType.serverHelloDone:
			decodeServerHelloDone(body);
			return encodeServerHelloDone();
		case HandshakeType.certificateVerify:
			return encodeCertificateVerify(decodeCertificateVerify(body));
		case HandshakeType.clientKeyExchange:
			return encodeClientKeyExchange(decodeClientKeyExchange(body));
		case HandshakeType.finished:
			return encodeFinished(decodeFinished(body));
		default:
			return undefined;
	}
}

function shuffle<T>(r: SeededRandom, a: T[]): T[] {
	for (let i = a.length - 1; i > 0; i--) {
		const j = r.int(i + 1);
		const t = a[i]!;
		a[i] = a[j]!;
		a[j] = t;
	}
	return a;
}

/** A fragment of `message` covering body bytes [start, end). */
function piece(message: Uint8Array, start: number, end: number): HandshakeFragment {
	const h = readHandshakeHeader(message, 0);
	return { ...h, fragmentOffset: start, fragmentLength: end - start, data: message.subarray(12 + start, 12 + end) };
}

function reassembleAll(r: Reassembler, fragments: readonly HandshakeFragment[]): Uint8Array[] {
	const out: Uint8Array[] = [];
	for (const f of fragments) {
		r.add(f);
		for (let m = r.pop(); m !== undefined; m = r.pop()) out.push(m);
	}
	return out;
}

function randomMessage(r: SeededRandom, seq: number, length: number): Uint8Array {
	return encodeHandshakeMessage(1 + r.int(20), seq, r.bytes(length));
}

const alertOf = (fn: () => unknown): number => (throws(fn, HandshakeError) as HandshakeError).alert;

/* ------------------------------------------------------------------------------------------- */

export default suite("dtls handshake messages", (test) => {
	test("JPY vector: the Join Proxy's ClientHello parses, keeps the EC-JPAKE extension raw, re-encodes byte for byte", () => {
		const record = fixtureHex("cbrski/jpy-clienthello-from-joinproxy.cbor.hex").subarray(21);
		equal(record.length, 427);
		const [rec, ...more] = records(record);
		equal(more.length, 0);
		deepEqual([rec!.type, rec!.version, rec!.epoch, rec!.length], [RECORD_HANDSHAKE, DTLS_1_2, 0, 414]);
		const frags = readFragments(rec!.payload);
		equal(frags.length, 1);
		deepEqual([frags[0]!.msgType, frags[0]!.length, frags[0]!.messageSeq, frags[0]!.fragmentOffset, frags[0]!.fragmentLength], [1, 402, 0, 0, 402]);
		const msg = decodeHandshakeMessage(rec!.payload);
		const ch = decodeClientHello(msg.body);
		equal(ch.clientVersion, DTLS_1_2);
		equal(toHex(ch.random), "e5f1be51956dfe42297b29ff9718390220c9cf85836bb97aa9393d4e6de4a458");
		deepEqual([ch.sessionId.length, ch.cookie.length], [0, 0]);
		deepEqual(ch.cipherSuites, [0xc0ff, 0x00ff], "EC-JPAKE suite and the renegotiation SCSV");
		deepEqual(ch.compressionMethods, [COMPRESSION_NULL]);
		deepEqual(
			ch.extensions!.map((e) => [e.type, e.data.length]),
			[[10, 4], [13, 4], [11, 2], [0x0100, 330]],
		);
		const x = parseExtensions(ch.extensions!);
		deepEqual(x.supportedGroups, [NAMED_CURVE_SECP256R1]);
		deepEqual(x.signatureAlgorithms, [ECDSA_SHA256]);
		deepEqual(x.ecPointFormats, [0]);
		equal(x.extendedMasterSecret, false);
		deepEqual(x.unknown.map((e) => e.type), [0x0100], "ecjpake_key_kp_pair passes through");
		equal(toHex(x.unknown[0]!.data.subarray(0, 4)), "41040011");
		ok(bytesEqual(encodeClientHello(ch), msg.body), "body re-encodes");
		ok(bytesEqual(encodeHandshakeMessage(msg.msgType, msg.messageSeq, encodeClientHello(ch)), rec!.payload), "message re-encodes");
	});

	test("JPY vector: the Registrar's HelloVerifyRequest gives its 32-byte cookie", () => {
		const record = fixtureHex("cbrski/jpy-helloverifyrequest-from-registrar.cbor.hex").subarray(20);
		const [rec] = records(record);
		deepEqual([rec!.type, rec!.version, rec!.length], [RECORD_HANDSHAKE, DTLS_1_2, 47]);
		const msg = decodeHandshakeMessage(rec!.payload);
		deepEqual([msg.msgType, msg.messageSeq], [HandshakeType.helloVerifyRequest, 0]);
		const hvr = decodeHelloVerifyRequest(msg.body);
		equal(hvr.serverVersion, DTLS_1_2);
		equal(toHex(hvr.cookie), "00000000277c7678d82fde80c1f4400beb7fd390c40b49f6f2b460e21d2766c1");
		ok(bytesEqual(encodeHelloVerifyRequest(hvr), msg.body));
	});

	test("OpenSSL vectors: every message decodes as expected and re-encodes byte for byte", () => {
		const seqs = [0, 0, 1, 1, 2, 3, 4, 5, 2, 3, 4, 5];
		for (let i = 0; i < OPENSSL.length; i++) {
			const bytes = openssl(OPENSSL[i]!);
			const msg = decodeHandshakeMessage(bytes);
			equal(msg.messageSeq, seqs[i], OPENSSL[i]);
			const again = roundTrip(msg.msgType, msg.body);
			ok(again !== undefined && bytesEqual(encodeHandshakeMessage(msg.msgType, msg.messageSeq, again), bytes), `${OPENSSL[i]} re-encodes`);
		}

		const ch1 = decodeClientHello(decodeHandshakeMessage(openssl("01-clienthello-initial")).body);
		equal(ch1.clientVersion, DTLS_1_2);
		equal(toHex(ch1.random), "8d88464f26a904409da1f21b351feb27269412659948b0443ba6aa8631fe64ba");
		deepEqual([ch1.sessionId.length, ch1.cookie.length], [0, 0]);
		deepEqual(ch1.cipherSuites, [CipherSuite.ecdheEcdsaWithAes128Ccm8, CipherSuite.emptyRenegotiationInfoScsv]);
		deepEqual(ch1.compressionMethods, [0]);
		deepEqual(ch1.extensions!.map((e) => e.type), [11, 10, 35, 22, 23, 13]);
		const x1 = parseExtensions(ch1.extensions!);
		deepEqual(x1.ecPointFormats, [0, 1, 2]);
		deepEqual(x1.supportedGroups, [0x1d, 23, 0x1e, 0x19, 0x18]);
		equal(x1.extendedMasterSecret, true);
		equal(x1.signatureAlgorithms!.length, 20);
		equal(x1.signatureAlgorithms![0], ECDSA_SHA256);
		deepEqual(x1.unknown.map((e) => [e.type, e.data.length]), [[35, 0], [22, 0]], "session_ticket, encrypt_then_mac");

		const hvr = decodeHelloVerifyRequest(decodeHandshakeMessage(openssl("02-helloverifyrequest")).body);
		equal(hvr.serverVersion, DTLS_1_0, "RFC 6347 §4.2.1: DTLS 1.0 in HelloVerifyRequest");
		equal(toHex(hvr.cookie), "cf652bd460cfbc02752fb915d14abd02530bfc3c");

		const ch2 = decodeClientHello(decodeHandshakeMessage(openssl("03-clienthello-with-cookie")).body);
		ok(bytesEqual(ch2.cookie, hvr.cookie), "second ClientHello echoes the cookie");
		ok(bytesEqual(ch2.random, ch1.random));
		deepEqual(ch2.extensions, ch1.extensions);

		const sh = decodeServerHello(decodeHandshakeMessage(openssl("04-serverhello")).body);
		equal(sh.serverVersion, DTLS_1_2);
		equal(toHex(sh.random), "67c1d00d7e03909654edba6909a5ab0c7cc4ad5cd5e1aca364f1e36584b8eb94");
		equal(sh.sessionId.length, 0);
		equal(sh.cipherSuite, CipherSuite.ecdheEcdsaWithAes128Ccm8);
		equal(sh.compressionMethod, 0);
		deepEqual(sh.extensions!.map((e) => e.type), [ExtensionType.renegotiationInfo, 11, 35, 23]);
		const xs = parseExtensions(sh.extensions!);
		equal(xs.renegotiationInfo!.length, 0, "initial handshake: empty renegotiated_connection");
		deepEqual(xs.ecPointFormats, [0, 1, 2]);
		equal(xs.extendedMasterSecret, true);

		const certs = decodeCertificate(decodeHandshakeMessage(openssl("05-certificate-server")).body);
		deepEqual(certs.map((c) => c.length), [403]);
		equal(toHex(certs[0]!.subarray(0, 4)), "3082018f");

		const ske = decodeServerKeyExchange(decodeHandshakeMessage(openssl("06-serverkeyexchange")).body);
		equal(ske.namedCurve, NAMED_CURVE_SECP256R1);
		equal(ske.publicKey.length, 65);
		equal(toHex(ske.publicKey.subarray(0, 5)), "0401a3819e");
		equal(ske.signatureAlgorithm, ECDSA_SHA256);
		equal(ske.signature.length, 71);
		equal(toHex(ske.signature.subarray(0, 2)), "3045");
		// OpenSSL's signature verifies over exactly these bytes (see test/vectors/openssl/README.md).
		ok(bytesEqual(serverKeyExchangeSignedData(ch2.random, sh.random, ske), fixtureHex("openssl/dtls12-serverkeyexchange-signed-params.derived.hex")));

		const cr = decodeCertificateRequest(decodeHandshakeMessage(openssl("07-certificaterequest")).body);
		deepEqual(cr.certificateTypes, [1, 2, CLIENT_CERTIFICATE_TYPE_ECDSA_SIGN]);
		deepEqual(cr.signatureAlgorithms, x1.signatureAlgorithms);
		deepEqual(cr.certificateAuthorities.map(toHex), ["301d311b301906035504030c1264746c732d766563746f722d636c69656e74"]);

		const shd = decodeHandshakeMessage(openssl("08-serverhellodone"));
		deepEqual([shd.msgType, shd.body.length], [HandshakeType.serverHelloDone, 0]);

		const ccerts = decodeCertificate(decodeHandshakeMessage(openssl("09-certificate-client")).body);
		deepEqual(ccerts.map((c) => c.length), [402]);
		const cke = decodeClientKeyExchange(decodeHandshakeMessage(openssl("10-clientkeyexchange")).body);
		deepEqual([cke.length, cke[0]], [65, 4]);
		const cv = decodeCertificateVerify(decodeHandshakeMessage(openssl("11-certificateverify")).body);
		deepEqual([cv.signatureAlgorithm, cv.signature.length], [ECDSA_SHA256, 72]);
		equal(toHex(decodeFinished(decodeHandshakeMessage(openssl("12-finished-client")).body)), "be0ece147cf994f5b3a48df3");
	});

	test("OpenSSL's fragmented server flight reassembles into the messages OpenSSL itself reported", () => {
		const frags: HandshakeFragment[] = [];
		for (let d = 1; d <= 4; d++) {
			for (const rec of records(fixtureHex(`openssl/dtls12-server-flight-datagram-${d}.hex`))) {
				deepEqual([rec.type, rec.epoch], [RECORD_HANDSHAKE, 0]);
				frags.push(...readFragments(rec.payload));
			}
		}
		deepEqual(
			frags.map((f) => [f.msgType, f.messageSeq, f.fragmentOffset, f.fragmentLength]),
			[[2, 1, 0, 61], [11, 2, 0, 117], [11, 2, 117, 203], [11, 2, 320, 89], [12, 3, 0, 89], [12, 3, 89, 55], [13, 4, 0, 81], [14, 5, 0, 0]],
		);
		const want = (["04-serverhello", "05-certificate-server", "06-serverkeyexchange", "07-certificaterequest", "08-serverhellodone"] as const).map(openssl);
		const got = reassembleAll(new Reassembler({ nextSeq: 1 }), frags);
		deepEqual(got, want);
		const r = new SeededRandom(7);
		for (let round = 0; round < 20; round++) {
			deepEqual(reassembleAll(new Reassembler({ nextSeq: 1 }), shuffle(r, [...frags, ...frags])), want, `shuffled round ${round}`);
		}
	});

	test("our profile's hello messages build from the extension helpers and round-trip", () => {
		const r = new SeededRandom(11);
		const ch: ClientHello = {
			clientVersion: DTLS_1_2,
			random: r.bytes(32),
			sessionId: new Uint8Array(0),
			cookie: r.bytes(255),
			cipherSuites: [CipherSuite.ecdheEcdsaWithAes128Ccm8],
			compressionMethods: [COMPRESSION_NULL],
			extensions: [
				supportedGroupsExtension([NAMED_CURVE_SECP256R1]),
				ecPointFormatsExtension(),
				signatureAlgorithmsExtension([ECDSA_SHA256]),
				extendedMasterSecretExtension(),
				maxFragmentLengthExtension(2),
				renegotiationInfoExtension(),
				{ type: 0x1234, data: hex("c0ffee") },
			],
		};
		const body = encodeClientHello(ch);
		deepEqual(decodeClientHello(body), ch);
		const x = parseExtensions(ch.extensions!);
		deepEqual(x, {
			extendedMasterSecret: true,
			supportedGroups: [23],
			ecPointFormats: [0],
			signatureAlgorithms: [0x0403],
			maxFragmentLength: 2,
			renegotiationInfo: new Uint8Array(0),
			unknown: [{ type: 0x1234, data: hex("c0ffee") }],
		});
		equal(toHex(renegotiationInfoExtension().data), "00");
		deepEqual([maxFragmentLengthBytes(1), maxFragmentLengthBytes(2), maxFragmentLengthBytes(4)], [512, 1024, 4096]);
		// No extensions block at all and an empty one are different bytes; both survive.
		const { extensions: _all, ...bare } = ch;
		const bareBody = encodeClientHello(bare);
		ok(!("extensions" in decodeClientHello(bareBody)));
		deepEqual(decodeClientHello(encodeClientHello({ ...ch, extensions: [] })).extensions, []);
		equal(encodeClientHello({ ...ch, extensions: [] }).length, bareBody.length + 2);

		const sh = { serverVersion: DTLS_1_2, random: r.bytes(32), sessionId: r.bytes(32), cipherSuite: 0xc0ae, compressionMethod: 0, extensions: [renegotiationInfoExtension(), extendedMasterSecretExtension()] };
		deepEqual(decodeServerHello(encodeServerHello(sh)), sh);
		const cr = { certificateTypes: [CLIENT_CERTIFICATE_TYPE_ECDSA_SIGN], signatureAlgorithms: [ECDSA_SHA256], certificateAuthorities: [] };
		equal(toHex(encodeCertificateRequest(cr)), "014000020403" + "0000");
		deepEqual(decodeCertificate(encodeCertificate([])), []);
		equal(toHex(encodeClientKeyExchange(hex("04aabb"))), "0304aabb");
	});

	test("strict decoding: trailing bytes, bad lengths, duplicates and bad values are HandshakeErrors with the right alert", () => {
		const body = (name: OpensslName): Uint8Array => decodeHandshakeMessage(openssl(name)).body;
		const plus = (b: Uint8Array, ...extra: number[]): Uint8Array => concatBytes([b, Uint8Array.from(extra)]);
		const decodeError = AlertDescription.decodeError;
		equal(alertOf(() => decodeClientHello(plus(body("03-clienthello-with-cookie"), 0))), decodeError);
		equal(alertOf(() => decodeServerHello(plus(body("04-serverhello"), 0))), decodeError);
		equal(alertOf(() => decodeHelloVerifyRequest(plus(body("02-helloverifyrequest"), 0))), decodeError);
		equal(alertOf(() => decodeCertificate(plus(body("05-certificate-server"), 0))), decodeError);
		equal(alertOf(() => decodeServerKeyExchange(plus(body("06-serverkeyexchange"), 0))), decodeError);
		equal(alertOf(() => decodeCertificateRequest(plus(body("07-certificaterequest"), 0))), decodeError);
		equal(alertOf(() => decodeServerHelloDone(Uint8Array.of(0))), decodeError);
		equal(alertOf(() => decodeClientKeyExchange(plus(body("10-clientkeyexchange"), 0))), decodeError);
		equal(alertOf(() => decodeCertificateVerify(plus(body("11-certificateverify"), 0))), decodeError);
		equal(alertOf(() => decodeFinished(plus(body("12-finished-client"), 0))), decodeError);
		equal(alertOf(() => decodeFinished(new Uint8Array(11))), decodeError);
		// Truncation anywhere.
		for (const name of OPENSSL) {
			const b = body(name);
			const msgType = decodeHandshakeMessage(openssl(name)).msgType;
			// Hellos may legally end before their extensions block (RFC 5246 §7.4.1.2): only there.
			const hello = msgType === HandshakeType.clientHello ? decodeClientHello(b) : msgType === HandshakeType.serverHello ? decodeServerHello(b) : undefined;
			const bare = hello?.extensions === undefined ? -1 : b.length - 2 - hello.extensions.reduce((n, e) => n + 4 + e.data.length, 0);
			for (let n = 0; n < b.length; n++) {
				if (n === bare) ok(bytesEqual(roundTrip(msgType, b.subarray(0, n))!, b.subarray(0, n)), `${name} without extensions`);
				else throws(() => roundTrip(msgType, b.subarray(0, n)), HandshakeError, `${name} cut at ${n}`);
			}
		}
		// Whole-message framing.
		const m = openssl("04-serverhello");
		equal(alertOf(() => decodeHandshakeMessage(plus(m, 0))), decodeError);
		equal(alertOf(() => decodeHandshakeMessage(m.subarray(0, 11))), decodeError);
		equal(alertOf(() => decodeHandshakeMessage(fragment(m, 30)[0]!)), decodeError);
		equal(alertOf(() => readHandshakeHeader(hex("0b000010000000000008000009"))), decodeError, "fragment past the length");
		// Vector bounds.
		const ch = decodeClientHello(body("03-clienthello-with-cookie"));
		const enc = encodeClientHello(ch);
		const withSessionId = (n: number): Uint8Array => concatBytes([enc.subarray(0, 34), Uint8Array.of(n), new Uint8Array(n), enc.subarray(35)]);
		decodeClientHello(withSessionId(32));
		equal(alertOf(() => decodeClientHello(withSessionId(33))), decodeError, "session_id<0..32>");
		const noSuites = { ...ch, cipherSuites: [] as number[] };
		throws(() => encodeClientHello(noSuites), RangeError);
		throws(() => encodeClientHello({ ...ch, random: new Uint8Array(31) }), RangeError);
		throws(() => encodeHelloVerifyRequest({ serverVersion: DTLS_1_2, cookie: new Uint8Array(256) }), RangeError);
		const suitesAt = 2 + 32 + 1 + 1 + ch.cookie.length;
		const oddSuites = enc.slice();
		oddSuites[suitesAt + 1] = 3;
		equal(alertOf(() => decodeClientHello(oddSuites)), decodeError, "odd cipher_suites length");
		// Extensions: duplicates, values, and the empty-data rule of extended_master_secret.
		const withExt = (...extensions: { type: number; data: Uint8Array }[]): Uint8Array => encodeClientHello({ ...ch, extensions });
		equal(alertOf(() => decodeClientHello(withExt(extendedMasterSecretExtension(), extendedMasterSecretExtension()))), AlertDescription.illegalParameter);
		equal(alertOf(() => decodeClientHello(withExt({ type: 0x1234, data: hex("") }, { type: 0x1234, data: hex("00") }))), AlertDescription.illegalParameter);
		equal(alertOf(() => decodeClientHello(withExt({ type: ExtensionType.maxFragmentLength, data: hex("05") }))), AlertDescription.illegalParameter);
		equal(alertOf(() => decodeClientHello(withExt({ type: ExtensionType.maxFragmentLength, data: hex("0101") }))), decodeError);
		equal(alertOf(() => decodeClientHello(withExt({ type: ExtensionType.extendedMasterSecret, data: hex("00") }))), decodeError);
		equal(alertOf(() => decodeClientHello(withExt({ type: ExtensionType.supportedGroups, data: hex("00030017") }))), decodeError);
		equal(alertOf(() => decodeClientHello(withExt({ type: ExtensionType.supportedGroups, data: hex("0000") }))), decodeError);
		equal(alertOf(() => decodeClientHello(withExt({ type: ExtensionType.signatureAlgorithms, data: hex("000204") }))), decodeError);
		equal(alertOf(() => decodeClientHello(withExt({ type: ExtensionType.ecPointFormats, data: hex("00") }))), decodeError);
		equal(alertOf(() => decodeClientHello(withExt({ type: ExtensionType.renegotiationInfo, data: hex("0200") }))), decodeError);
		equal(alertOf(() => decodeClientHello(withExt({ type: ExtensionType.renegotiationInfo, data: hex("") }))), decodeError);
		// ECParameters other than named_curve.
		const ske = body("06-serverkeyexchange").slice();
		ske[0] = 1;
		equal(alertOf(() => decodeServerKeyExchange(ske)), AlertDescription.illegalParameter);
		// Empty certificate and empty DN are not allowed inside their lists.
		equal(alertOf(() => decodeCertificate(hex("000003000000"))), decodeError);
		equal(alertOf(() => decodeCertificateRequest(hex("0140000000020000"))), decodeError);
		equal(alertOf(() => decodeClientKeyExchange(hex("00"))), decodeError);
	});

	test("fragment() and readFragments() round-trip messages of 0..3000 bytes at fragment sizes 1..1024", () => {
		const r = new SeededRandom(21);
		const cases: [number, number][] = [[0, 64], [1, 64], [64, 64], [65, 64], [3000, 1024], [3000, 64], [1024, 1024], [1025, 1024], [5, 1]];
		for (let i = 0; i < 60; i++) cases.push([1 + r.int(3000), 64 + r.int(961)]);
		for (const [length, max] of cases) {
			const msg = randomMessage(r, r.int(0x10000), length);
			const frags = fragment(msg, max);
			equal(frags.length, Math.max(1, Math.ceil(length / max)), `${length}/${max}`);
			let covered = 0;
			for (const f of frags) {
				ok(f.length - 12 <= max);
				const h = readHandshakeHeader(f);
				equal(h.fragmentOffset, covered);
				covered += h.fragmentLength;
			}
			equal(covered, length);
			// Several fragments in one record, as a sender packing a flight would.
			const parsed = readFragments(concatBytes(frags));
			equal(parsed.length, frags.length);
			const seq = readHandshakeHeader(msg).messageSeq;
			const out = reassembleAll(new Reassembler({ nextSeq: seq }), parsed);
			deepEqual(out, [msg], `${length}/${max}`);
		}
		throws(() => fragment(new Uint8Array(5), 64), RangeError);
		throws(() => fragment(fragment(randomMessage(r, 0, 100), 10)[1]!, 64), RangeError);
		throws(() => fragment(randomMessage(r, 0, 10), 0), RangeError);
		equal(alertOf(() => readFragments(new Uint8Array(0))), AlertDescription.decodeError);
		equal(alertOf(() => readFragments(fragment(randomMessage(r, 0, 100), 50)[0]!.subarray(0, 40))), AlertDescription.decodeError);
	});

	test("Reassembler: shuffled, duplicated and overlapping fragments of several messages come out whole and in order", () => {
		const r = new SeededRandom(31);
		for (let round = 0; round < 25; round++) {
			const first = r.int(4);
			const msgs: Uint8Array[] = [];
			for (let k = 0; k < 1 + r.int(5); k++) msgs.push(randomMessage(r, first + k, r.int(1500)));
			const frags: HandshakeFragment[] = [];
			for (const m of msgs) {
				const length = m.length - 12;
				// A cover of [0, length) from overlapping pieces, plus random extra overlapping pieces.
				let at = 0;
				do {
					// Odd rounds use tiny pieces, so that many start and end inside a bitmap byte.
					const end = Math.min(length, at + 1 + r.int(round % 2 === 1 ? 12 : 300));
					const start = Math.max(0, at - r.int(40));
					frags.push(piece(m, start, end));
					at = end;
				} while (at < length);
				for (let e = 0; e < r.int(6); e++) {
					const s = r.int(length + 1);
					frags.push(piece(m, s, s + r.int(length - s + 1)));
				}
			}
			const dup = frags.length;
			for (let d = 0; d < dup / 3; d++) frags.push(frags[r.int(dup)]!);
			shuffle(r, frags);
			const re = new Reassembler({ nextSeq: first });
			const out = reassembleAll(re, frags);
			deepEqual(out, msgs, `round ${round}`);
			equal(re.nextSeq, first + msgs.length);
			equal(re.bufferedBytes, 0);
			// The peer resending any of it now is a retransmission of its last flight (RFC 6347 §4.2.4).
			for (const f of frags) equal(re.add(f), "retransmission");
		}
	});

	test("Reassembler: inconsistent fragments are HandshakeErrors; size, window and buffer bounds hold", () => {
		const r = new SeededRandom(41);
		const m = randomMessage(r, 0, 200);
		const t = new Reassembler();
		equal(t.add(piece(m, 0, 100)), "accepted");
		equal(alertOf(() => t.add({ ...piece(m, 100, 200), msgType: (m[0]! + 1) & 0xff })), AlertDescription.illegalParameter, "other msg_type");
		equal(alertOf(() => t.add({ ...piece(m, 150, 200), length: 201 })), AlertDescription.illegalParameter, "other length");
		const changed = m.slice();
		changed[12 + 50] = changed[12 + 50]! ^ 1;
		equal(alertOf(() => t.add(piece(changed, 40, 120))), AlertDescription.illegalParameter, "overlap disagrees");
		equal(t.pop(), undefined);
		equal(t.add(piece(m, 100, 200)), "accepted", "the rejected fragments left no trace");
		deepEqual(t.pop(), m);
		throws(() => t.add({ ...piece(m, 0, 10), fragmentLength: 11 }), HandshakeError);

		const small = new Reassembler({ maxMessageLength: 1000, window: 3 });
		equal(alertOf(() => small.add(piece(randomMessage(r, 0, 1001), 0, 10))), AlertDescription.illegalParameter, "too large");
		equal(small.add(piece(randomMessage(r, 3, 10), 0, 10)), "ignored", "beyond the window");
		// Buffer: a future message only gets free room; the next expected one always fits.
		const m1 = randomMessage(r, 1, 600);
		const m2 = randomMessage(r, 2, 500);
		const m0 = randomMessage(r, 0, 700);
		equal(small.add(piece(m1, 0, 600)), "accepted");
		equal(small.add(piece(m2, 0, 10)), "ignored", "no room for a second future message");
		equal(small.bufferedBytes, 600);
		equal(small.add(piece(m0, 0, 700)), "accepted", "seq 0 evicts seq 1");
		equal(small.bufferedBytes, 700);
		deepEqual(small.pop(), m0);
		equal(small.pop(), undefined, "seq 1 must come again");
		equal(small.add(piece(m1, 0, 600)), "accepted");
		deepEqual(small.pop(), m1);
		equal(small.add(piece(m0, 0, 1)), "retransmission");
		// A zero-length message (ServerHelloDone) completes from its one empty fragment.
		const done = new Reassembler({ nextSeq: 5 });
		deepEqual(reassembleAll(done, readFragments(openssl("08-serverhellodone"))), [openssl("08-serverhellodone")]);
		throws(() => new Reassembler({ maxMessageLength: 2000, maxBufferedBytes: 1000 }), RangeError);
	});

	test("property: 5000 random and mutated messages decode or throw HandshakeError, and what decodes re-encodes exactly", () => {
		const r = new SeededRandom(51);
		const bases: Uint8Array[] = OPENSSL.map(openssl);
		bases.push(fixtureHex("cbrski/jpy-clienthello-from-joinproxy.cbor.hex").subarray(21 + 13));
		bases.push(fixtureHex("cbrski/jpy-helloverifyrequest-from-registrar.cbor.hex").subarray(20 + 13));
		const types = [1, 2, 3, 11, 12, 13, 14, 15, 16, 20];
		let decoded = 0;
		let rejected = 0;
		for (let i = 0; i < 5000; i++) {
			const base = bases[r.int(bases.length)]!;
			const body = base.slice(12);
			let msgType = base[0]!;
			let out: Uint8Array;
			const kind = r.int(8);
			if (kind === 0) {
				out = r.bytes(r.int(64));
				msgType = types[r.int(types.length)]!;
			} else {
				let b: Uint8Array = body;
				for (let k = 1 + r.int(3); k > 0; k--) {
					const op = r.int(5);
					if (op === 0 && b.length > 0) {
						const at = r.int(b.length);
						b[at] = b[at]! ^ (1 << r.int(8));
					} else if (op === 1 && b.length > 0) b[r.int(b.length)] = r.int(256);
					else if (op === 2) b = b.slice(0, r.int(b.length + 1));
					else if (op === 3) b = concatBytes([b, r.bytes(1 + r.int(4))]);
					else if (b.length > 2) {
						// Nudge what may be a length field by a little.
						const at = r.int(b.length - 1);
						b[at + 1] = (b[at + 1]! + r.int(5) - 2) & 0xff;
					}
				}
				out = b;
				if (kind === 1) msgType = types[r.int(types.length)]!;
			}
			let msg = encodeHandshakeMessage(msgType, r.int(8), out);
			if (kind === 2) msg = msg.slice(0, r.int(msg.length + 1));
			try {
				const m = decodeHandshakeMessage(msg);
				const again = roundTrip(m.msgType, m.body);
				// (The message is built only on failure: hex of every case would dominate the run on XS.)
				if (again !== undefined && !bytesEqual(again, m.body)) ok(false, `case ${i}: re-encodes to ${toHex(again)} from ${toHex(m.body)}`);
				decoded++;
			} catch (e) {
				if (!(e instanceof HandshakeError)) throw e;
				ok(e.alert === AlertDescription.decodeError || e.alert === AlertDescription.illegalParameter, `alert ${e.alert}`);
				rejected++;
			}
			// The same bytes as a record's payload, fed to a reassembler.
			try {
				const re = new Reassembler({ maxMessageLength: 4096 });
				for (const f of readFragments(msg)) re.add(f);
				re.pop();
			} catch (e) {
				if (!(e instanceof HandshakeError)) throw e;
			}
		}
		ok(decoded > 300 && rejected > 2000, `decoded ${decoded}, rejected ${rejected}: both paths exercised`);
	});
});
