import { suite } from "../lib/harness.js";
import { deepEqual, equal, ok } from "../lib/assert.js";
import { ascii, derSignature, providerCases, RFC6979_P256, RFC6979_P256_SHA256 } from "../lib/dtls-crypto-vectors.js";
import { SeededRandom } from "../../hosts/xs/seeded-random.js";
import { createNobleCrypto } from "../../modules/crypto/noble-provider.js";
import { fromHex, toHex } from "../../modules/util/hex.js";

/*
 * The noble CryptoProvider (the pledge's, on XS) against the shared vectors, plus what only it
 * promises: RFC 6979 signatures byte for byte, and keys drawn from the injected RNG. In the XS lane
 * this also shows that nothing on these paths needs globalThis.crypto, which XS lacks.
 * Each P-256 operation costs milliseconds in XS, so the suite keeps to a few dozen.
 */

const noble = (seed = 1) => {
	const rng = new SeededRandom(seed);
	return createNobleCrypto((bytes) => rng.fill(bytes));
};

export default suite("dtls crypto (noble)", (test) => {
	for (const c of providerCases(() => noble())) test(c.name, c.body);

	test("ECDSA: signs deterministically as RFC 6979 A.2.5 (P-256, SHA-256), high s unnormalised", () => {
		const c = noble();
		const d = fromHex(RFC6979_P256.privateKey);
		for (const v of RFC6979_P256_SHA256) {
			deepEqual(c.ecdsaSign(d, ascii(v.message)), derSignature(fromHex(v.r), fromHex(v.s)), v.message);
		}
	});

	test("key pairs come from the injected RNG: 48 bytes each, same seed same keys", () => {
		let drawn = 0;
		const rng = new SeededRandom(7);
		const c = createNobleCrypto((bytes) => {
			drawn += bytes.length;
			return rng.fill(bytes);
		});
		const before = drawn;
		const a = c.ecGenerate();
		equal(drawn - before, 48, "bytes drawn for one key");
		const b = noble(9).ecGenerate();
		const b2 = noble(9).ecGenerate();
		equal(toHex(b.privateKey), toHex(b2.privateKey), "same seed, same private key");
		deepEqual(b.publicKey, b2.publicKey, "same seed, same public key");
		ok(toHex(a.privateKey) !== toHex(b.privateKey), "different seeds, different keys");
	});
});
