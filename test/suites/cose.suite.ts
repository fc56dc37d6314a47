import { suite } from "../lib/harness.js";
import { deepEqual, equal, ok, throws } from "../lib/assert.js";
import { countCodeCompilation } from "../lib/no-eval.js";
import { COSE_VECTORS, cbrskiHex, certDer, certKey, privateKey } from "../lib/cbrski-vectors.js";
import { SeededRandom } from "../../hosts/xs/seeded-random.js";
import { createNobleCrypto } from "../../modules/crypto/noble-provider.js";
import {
	COSE_ALG_ES256,
	CoseError,
	CoseHeader,
	coseAlgorithm,
	coseCertificates,
	decodeCoseSign1,
	encodeCoseSign1,
	sigStructure,
	signCoseSign1,
	stripUnprotected,
	verifyCoseSign1,
} from "../../modules/cose/sign1.js";
import { encodeCbor, Tag } from "../../modules/cbor/cbor.js";
import { fromHex, toHex } from "../../modules/util/hex.js";

const rng = new SeededRandom(0xc05e);
const crypto = createNobleCrypto((b) => rng.fill(b));

function flipped(bytes: Uint8Array, index: number): Uint8Array {
	const out = bytes.slice();
	out[index]! ^= 0x01;
	return out;
}

export default suite("cose (COSE_Sign1 ES256)", (test) => {
	for (const v of COSE_VECTORS) {
		test(`${v.file}: decodes, verifies with ${v.signer}, re-encodes byte for byte; payload and Sig_structure match`, () => {
			const bytes = cbrskiHex(v.file);
			const calls = countCodeCompilation(() => {
				const m = decodeCoseSign1(bytes);
				ok(m.tagged, "tag 18");
				equal(toHex(m.protectedBytes), "a10126");
				equal(coseAlgorithm(m), COSE_ALG_ES256);
				equal(m.signature.length, 64);
				equal(toHex(m.payload), toHex(cbrskiHex(v.payload)), "payload");
				equal(toHex(sigStructure(m.protectedBytes, m.payload)), toHex(cbrskiHex(v.sigStructure)), "Sig_structure");
				ok(verifyCoseSign1(crypto, certKey(v.signer), m), "signature verifies");
				equal(toHex(encodeCoseSign1(m)), toHex(bytes), "re-encoded");
				deepEqual(coseCertificates(m).map(toHex), v.x5bag.map((f) => toHex(certDer(f))), "x5bag");
			});
			equal(calls, 0, "no code compiled");
		});
	}

	test("a wrong key, or one flipped bit in payload or signature, fails verification (false, no throw)", () => {
		const m = decodeCoseSign1(cbrskiHex("cbrski-pvr.cose.hex"));
		equal(verifyCoseSign1(crypto, certKey("cert-registrar.pem"), m), false, "wrong key");
		equal(verifyCoseSign1(crypto, certKey("cert-pledge.pem"), { ...m, payload: flipped(m.payload, 10) }), false, "payload");
		equal(verifyCoseSign1(crypto, certKey("cert-pledge.pem"), { ...m, signature: flipped(m.signature, 40) }), false, "signature");
		equal(verifyCoseSign1(crypto, certKey("cert-pledge.pem"), { ...m, signature: m.signature.subarray(1) }), false, "63-byte signature");
		equal(verifyCoseSign1(crypto, certKey("cert-pledge.pem"), m, fromHex("00")), false, "other external_aad");
		equal(verifyCoseSign1(crypto, new Uint8Array(65), m), false, "not a point");
	});

	test("stripping the x5bag from the MASA's voucher gives the voucher the pledge receives, byte for byte", () => {
		const fromMasa = decodeCoseSign1(cbrskiHex("cbrski-voucher-from-masa-with-x5bag.cose.hex"));
		const stripped = stripUnprotected(fromMasa);
		equal(toHex(encodeCoseSign1(stripped)), toHex(cbrskiHex("cbrski-voucher-to-pledge.cose.hex")));
		equal(fromMasa.unprotected.size, 1, "the original is untouched");
		ok(verifyCoseSign1(crypto, certKey("cert-masa_ca.pem"), stripped));
	});

	test("our ES256 signatures round-trip: sign, encode, decode, verify; x5bag of one is a byte string, of two an array", () => {
		const payload = cbrskiHex("cbrski-pvr-payload.cbor.hex");
		const plain = signCoseSign1(crypto, privateKey("key-pledge.pem"), payload);
		const plainBytes = encodeCoseSign1(plain);
		equal(toHex(plainBytes.subarray(0, 6)), "d28443a10126", "tag 18, protected {1: -7}");
		equal(plainBytes[6], 0xa0, "empty unprotected map");
		equal(plainBytes.length, cbrskiHex("cbrski-pvr.cose.hex").length, "same size as the draft's PVR");
		ok(verifyCoseSign1(crypto, certKey("cert-pledge.pem"), decodeCoseSign1(plainBytes)));
		equal(toHex(sigStructure(plain.protectedBytes, payload)), toHex(cbrskiHex("cbrski-pvr-sig_structure.derived.hex")));

		const one = decodeCoseSign1(encodeCoseSign1(signCoseSign1(crypto, privateKey("key-masa_ca.pem"), payload, { x5bag: [certDer("cert-masa_ca.pem")] })));
		ok(one.unprotected.get(CoseHeader.x5bag) instanceof Uint8Array, "RFC 9360: one certificate is a bstr");
		deepEqual(coseCertificates(one), [certDer("cert-masa_ca.pem")]);
		ok(verifyCoseSign1(crypto, certKey("cert-masa_ca.pem"), one));

		const two = [certDer("cert-registrar.pem"), certDer("cert-domain_ca.pem")];
		const rvr = decodeCoseSign1(encodeCoseSign1(signCoseSign1(crypto, privateKey("key-registrar.pem"), payload, { x5bag: two, x5chain: two.slice(0, 1) })));
		ok(Array.isArray(rvr.unprotected.get(CoseHeader.x5bag)));
		deepEqual(coseCertificates(rvr), two);
		deepEqual(coseCertificates(rvr, CoseHeader.x5chain), two.slice(0, 1));
		ok(verifyCoseSign1(crypto, certKey("cert-registrar.pem"), rvr));

		const untagged = encodeCoseSign1(signCoseSign1(crypto, privateKey("key-pledge.pem"), payload, { untagged: true, unprotected: new Map([[CoseHeader.kid, fromHex("01")]]) }));
		equal(untagged[0], 0x84);
		const u = decodeCoseSign1(untagged);
		equal(u.tagged, false);
		ok(verifyCoseSign1(crypto, certKey("cert-pledge.pem"), u));
		throws(() => signCoseSign1(crypto, privateKey("key-pledge.pem"), payload, { x5bag: [] }), CoseError);
		throws(() => signCoseSign1(crypto, privateKey("key-pledge.pem"), payload, { unprotected: new Map([[1, -7]]) }), CoseError);
	});

	test("malformed COSE_Sign1 structures are refused with CoseError", () => {
		const sig = new Uint8Array(64);
		const p = fromHex("A10126");
		const enc = (v: unknown): Uint8Array => encodeCbor(v);
		const bad: [Uint8Array, string][] = [
			[enc(new Tag([p, new Map(), fromHex("00"), sig], 17)), "tag 17"],
			[enc([p, new Map(), fromHex("00")]), "three elements"],
			[enc(new Tag([p, new Map(), null, sig], 18)), "detached payload"],
			[enc(new Tag([p, new Map(), "x", sig], 18)), "text payload"],
			[enc(new Tag([new Map([[1, -7]]), new Map(), fromHex("00"), sig], 18)), "protected not a bstr"],
			[enc(new Tag([p, [], fromHex("00"), sig], 18)), "unprotected not a map"],
			[enc(new Tag([p, new Map([[true, 1]]), fromHex("00"), sig], 18)), "boolean label"],
			[enc(new Tag([new Uint8Array(0), new Map([[1, -7]]), fromHex("00"), sig], 18)), "alg unprotected"],
			[enc(new Tag([fromHex("A0"), new Map(), fromHex("00"), sig], 18)), "no alg"],
			[enc(new Tag([fromHex("A10126"), new Map([[1, -7]]), fromHex("00"), sig], 18)), "alg twice"],
			[enc(new Tag([fromHex("A2012602810F"), new Map(), fromHex("00"), sig], 18)), "crit"],
			[enc(new Tag([fromHex("A101"), new Map(), fromHex("00"), sig], 18)), "truncated protected"],
			[enc(new Tag([fromHex("A101F5"), new Map(), fromHex("00"), sig], 18)), "alg a boolean"],
			[enc(new Tag([p, new Map(), fromHex("00"), "sig"], 18)), "text signature"],
			[enc(new Tag(new Tag([p, new Map(), fromHex("00"), sig], 18), 18)), "tag 18 twice"],
			[fromHex("D2"), "tag alone"],
			[enc(42), "not an array"],
		];
		for (const [bytes, what] of bad) throws(() => decodeCoseSign1(bytes), CoseError, what);
		const x5 = decodeCoseSign1(enc(new Tag([p, new Map([[33, "cert"]]), fromHex("00"), sig], 18)));
		throws(() => coseCertificates(x5, CoseHeader.x5chain), CoseError, "x5chain of text");
		const es384 = decodeCoseSign1(enc(new Tag([fromHex("A1013822"), new Map(), fromHex("00"), sig], 18)));
		throws(() => verifyCoseSign1(crypto, certKey("cert-pledge.pem"), es384), CoseError, "ES384 is not supported");
	});

	test("seeded fuzz: truncated, bit-flipped and random inputs end as a message or CoseError; no mutated message verifies", () => {
		const r = new SeededRandom(0xf022);
		const seeds = COSE_VECTORS.map((v) => ({ bytes: cbrskiHex(v.file), key: certKey(v.signer) }));
		let decoded = 0;
		let verified = 0;
		for (let i = 0; i < 1200; i++) {
			const s = seeds[r.int(seeds.length)]!;
			let data: Uint8Array;
			switch (i % 4) {
				case 0:
					data = s.bytes.subarray(0, r.int(s.bytes.length));
					break;
				case 1:
					data = s.bytes.slice();
					for (let f = 1 + r.int(3); f > 0; f--) data[r.int(data.length)]! ^= 1 << r.int(8);
					break;
				case 2:
					data = r.bytes(r.int(80));
					break;
				default: {
					// a valid prefix, then random bytes
					const cut = r.int(s.bytes.length);
					data = new Uint8Array(cut + r.int(40));
					data.set(s.bytes.subarray(0, cut));
					data.set(r.bytes(data.length - cut), cut);
				}
			}
			let m;
			try {
				m = decodeCoseSign1(data);
			} catch (e) {
				if (e instanceof CoseError) continue;
				throw new Error(`case ${i}: ${String(e)}`);
			}
			decoded++;
			// Verifying is slow under XS: check a sample of the mutants that still parse.
			if (decoded % 8 !== 1) continue;
			try {
				if (verifyCoseSign1(crypto, s.key, m) && toHex(encodeCoseSign1(stripUnprotected(m))) !== toHex(encodeCoseSign1(stripUnprotected(decodeCoseSign1(s.bytes))))) verified++;
			} catch (e) {
				if (!(e instanceof CoseError)) throw new Error(`case ${i} verify: ${String(e)}`);
			}
		}
		ok(decoded > 0, "some mutants still parse");
		equal(verified, 0, "a mutated signed part verified");
	});
});
