/*
 * hosts/node/crypto.ts (OpenSSL) against the same vectors as the noble provider
 * (test/lib/dtls-crypto-vectors.ts), and the two providers against each other: signatures either
 * way (high and low s), ECDH between their key pairs, identical AES-CCM output.
 * Node-only (node:crypto).
 */

import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { randomFillSync } from "node:crypto";
import { createNodeCrypto } from "../hosts/node/crypto.js";
import { SeededRandom } from "../hosts/xs/seeded-random.js";
import { createNobleCrypto } from "../modules/crypto/noble-provider.js";
import type { CryptoProvider } from "../modules/crypto/provider.js";
import { providerCases } from "./lib/dtls-crypto-vectors.js";

const node = createNodeCrypto();
const seeded = new SeededRandom(2024);
const noble = createNobleCrypto((bytes) => seeded.fill(bytes));
/** noble on the platform RNG, as a Node-hosted pledge would run it. */
const nobleRandom = createNobleCrypto((bytes) => randomFillSync(bytes));

/** n/2 for P-256: s above it is "high". */
const HALF_ORDER = BigInt("0xffffffff00000000ffffffffffffffffbce6faada7179e84f3b9cac2fc632551") >> 1n;

/** s of a DER ECDSA-Sig-Value (short-form lengths, as P-256 signatures have). */
function sOf(der: Uint8Array): bigint {
	const rLength = der[3]!;
	const sLength = der[5 + rLength]!;
	return BigInt("0x" + Buffer.from(der.subarray(6 + rLength, 6 + rLength + sLength)).toString("hex"));
}

const message = (i: number): Uint8Array => new TextEncoder().encode(`handshake transcript #${i}`);

describe("dtls crypto (node:crypto)", () => {
	for (const c of providerCases(() => node)) it(c.name, c.body);

	it("returns plain Uint8Arrays, not Buffers", () => {
		const k = node.ecGenerate();
		for (const b of [node.sha256(new Uint8Array(1)), node.hmacSha256(new Uint8Array(1), new Uint8Array(1)), k.privateKey, k.publicKey]) {
			assert.equal(Object.getPrototypeOf(b), Uint8Array.prototype);
		}
	});
});

describe("dtls crypto: node:crypto and noble interoperate", () => {
	const pairs: [string, CryptoProvider, CryptoProvider][] = [
		["node signs, noble verifies", node, noble],
		["noble signs, node verifies", noble, node],
		["noble (platform RNG) signs, node verifies", nobleRandom, node],
	];
	for (const [name, signer, verifier] of pairs) {
		it(`${name}, with high and low s`, () => {
			let high = 0;
			let low = 0;
			// Each signature has a high s with probability 1/2: stop once both kinds have passed.
			for (let i = 0; i < 64 && (high < 2 || low < 2); i++) {
				const k = signer.ecGenerate();
				const der = signer.ecdsaSign(k.privateKey, message(i));
				assert.equal(verifier.ecdsaVerify(k.publicKey, message(i), der), true, `signature ${i}`);
				assert.equal(verifier.ecdsaVerify(k.publicKey, message(i + 1), der), false, `signature ${i}, other message`);
				if (sOf(der) > HALF_ORDER) high++;
				else low++;
			}
			assert.ok(high >= 2 && low >= 2, `high s: ${high}, low s: ${low}`);
		});
	}

	it("a key pair from one provider signs for the other", () => {
		for (const [a, b] of [
			[node, noble],
			[noble, node],
		] as const) {
			const k = a.ecGenerate();
			const der = b.ecdsaSign(k.privateKey, message(0));
			assert.equal(a.ecdsaVerify(k.publicKey, message(0), der), true, `${a.name} key, ${b.name} signs`);
		}
	});

	it("ECDH between a node:crypto pair and a noble pair gives the same secret on both sides", () => {
		for (let i = 0; i < 8; i++) {
			const n = node.ecGenerate();
			const m = noble.ecGenerate();
			const expected = node.ecdh(n.privateKey, m.publicKey);
			assert.deepEqual(noble.ecdh(m.privateKey, n.publicKey), expected);
			// Each provider on the other's keys, too.
			assert.deepEqual(noble.ecdh(n.privateKey, m.publicKey), expected);
			assert.deepEqual(node.ecdh(m.privateKey, n.publicKey), expected);
		}
	});

	it("a private key with leading zero bytes works in both", () => {
		const d = new Uint8Array(32);
		d[30] = 0x01;
		d[31] = 0x05;
		const peer = noble.ecGenerate();
		assert.deepEqual(node.ecdh(d, peer.publicKey), noble.ecdh(d, peer.publicKey));
	});

	it("AES-CCM_8: identical ciphertexts, each opens the other's", () => {
		const rng = new SeededRandom(99);
		for (const length of [0, 1, 15, 16, 17, 255, 1024]) {
			const key = rng.bytes(16);
			const nonce = rng.bytes(12);
			const aad = rng.bytes(13);
			const plaintext = rng.bytes(length);
			const a = node.aesCcm(key, 8, 12);
			const b = noble.aesCcm(key, 8, 12);
			const sealed = a.seal(nonce, aad, plaintext);
			assert.deepEqual(b.seal(nonce, aad, plaintext), sealed, `seal, length ${length}`);
			assert.deepEqual(b.open(nonce, aad, sealed), plaintext, `noble opens node's, length ${length}`);
			assert.deepEqual(a.open(nonce, aad, b.seal(nonce, aad, plaintext)), plaintext, `node opens noble's, length ${length}`);
			const forged = sealed.slice();
			forged[0] = forged[0]! ^ 1;
			if (length > 0) {
				assert.equal(a.open(nonce, aad, forged), undefined, `node refuses, length ${length}`);
				assert.equal(b.open(nonce, aad, forged), undefined, `noble refuses, length ${length}`);
			}
		}
	});
});
