/*
 * Our COSE_Sign1 against an implementation nobody here wrote: the npm package cose-js (its own
 * CBOR library and elliptic's ECDSA). cose-js verifies a PVR, an RVR (with its x5bag) and a voucher
 * signed by our code, with the noble provider (the pledge's) and the node:crypto one (the
 * Registrar's and MASA's); our code verifies what cose-js signs. Node-only: cose-js is a Node package.
 */

import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { createRequire } from "node:module";
import { randomFillSync } from "node:crypto";
import { installFixtures } from "./lib/fixtures.js";
import { readVectors } from "./node-lib/vectors.js";
import { cbrskiHex, certDer, certKey, privateKey } from "./lib/cbrski-vectors.js";
import { createNobleCrypto } from "../modules/crypto/noble-provider.js";
import { createNodeCrypto } from "../hosts/node/crypto.js";
import type { CryptoProvider } from "../modules/crypto/provider.js";
import { decodeCoseSign1, encodeCoseSign1, signCoseSign1, verifyCoseSign1 } from "../modules/cose/sign1.js";
import { Assertion, decodeVoucher, decodeVoucherRequest, encodeVoucher, encodeVoucherRequest } from "../modules/voucher/voucher.js";
import { parseCertificate } from "../modules/x509/certificate.js";

installFixtures(readVectors());

interface CoseJs {
	sign: {
		verifySync(message: Buffer, verifier: { key: { x: Buffer; y: Buffer } }): Buffer;
		create(headers: { p: Record<string, unknown>; u: Record<string, unknown> }, payload: Buffer, signer: { key: { d: Buffer } }): Promise<Buffer>;
	};
}
const cose = createRequire(import.meta.url)("cose-js") as CoseJs;

/** cose-js wants the public point as x and y. */
function verifier(certFile: string): { key: { x: Buffer; y: Buffer } } {
	const point = certKey(certFile);
	return { key: { x: Buffer.from(point.subarray(1, 33)), y: Buffer.from(point.subarray(33, 65)) } };
}

const providers: [string, CryptoProvider][] = [
	["noble", createNobleCrypto((b) => randomFillSync(b))],
	["node:crypto", createNodeCrypto()],
];

for (const [name, crypto] of providers) {
	describe(`cose-js verifies what our code signs (${name} provider)`, () => {
		it("a PVR signed with the pledge's IDevID key", () => {
			const payload = encodeVoucherRequest({
				assertion: Assertion.proximity,
				nonce: crypto.sha256(new Uint8Array([1])).subarray(0, 8),
				proximityRegistrarPubk: parseCertificate(certDer("cert-registrar.pem")).publicKey.spki,
				serialNumber: "JADA123456789",
			});
			const pvr = encodeCoseSign1(signCoseSign1(crypto, privateKey("key-pledge.pem"), payload));
			assert.deepEqual(new Uint8Array(cose.sign.verifySync(Buffer.from(pvr), verifier("cert-pledge.pem"))), payload);
			assert.throws(() => cose.sign.verifySync(Buffer.from(pvr), verifier("cert-registrar.pem")), /missmatch|mismatch/i, "and refuses another key");
		});

		it("an RVR signed with the Registrar key, x5bag of two certificates, the draft's PVR inside", () => {
			const payload = encodeVoucherRequest({
				assertion: Assertion.proximity,
				createdOn: "2026-05-01T10:00:00.000Z",
				idevidIssuer: decodeVoucherRequest(cbrskiHex("cbrski-rvr-payload.cbor.hex")).idevidIssuer!,
				nonce: decodeVoucherRequest(cbrskiHex("cbrski-pvr-payload.cbor.hex")).nonce!,
				priorSignedVoucherRequest: cbrskiHex("cbrski-pvr.cose.hex"),
				serialNumber: "JADA123456789",
			});
			const x5bag = [certDer("cert-registrar.pem"), certDer("cert-domain_ca.pem")];
			const rvr = encodeCoseSign1(signCoseSign1(crypto, privateKey("key-registrar.pem"), payload, { x5bag }));
			assert.deepEqual(new Uint8Array(cose.sign.verifySync(Buffer.from(rvr), verifier("cert-registrar.pem"))), payload);
		});

		it("a voucher signed with the MASA CA key, x5bag of one certificate", () => {
			const payload = encodeVoucher({
				assertion: Assertion.proximity,
				createdOn: "2026-05-01T10:00:01.000Z",
				nonce: new Uint8Array(8).fill(0x5a),
				pinnedDomainCert: certDer("cert-domain_ca.pem"),
				serialNumber: "JADA123456789",
			});
			const voucher = signCoseSign1(crypto, privateKey("key-masa_ca.pem"), payload, { x5bag: [certDer("cert-masa_ca.pem")] });
			const bytes = encodeCoseSign1(voucher);
			assert.deepEqual(new Uint8Array(cose.sign.verifySync(Buffer.from(bytes), verifier("cert-masa_ca.pem"))), payload);
			assert.ok(verifyCoseSign1(crypto, certKey("cert-masa_ca.pem"), decodeCoseSign1(bytes)));
		});

		it("our code verifies a voucher cose-js signed", async () => {
			const payload = encodeVoucher({ assertion: Assertion.proximity, nonce: new Uint8Array(16).fill(3), pinnedDomainCert: certDer("cert-domain_ca.pem"), serialNumber: "JADA123456789" });
			const signed = await cose.sign.create({ p: { alg: "ES256" }, u: {} }, Buffer.from(payload), { key: { d: Buffer.from(privateKey("key-masa_ca.pem")) } });
			const m = decodeCoseSign1(new Uint8Array(signed));
			assert.ok(m.tagged);
			assert.ok(verifyCoseSign1(crypto, certKey("cert-masa_ca.pem"), m));
			assert.equal(verifyCoseSign1(crypto, certKey("cert-pledge.pem"), m), false);
			assert.equal(decodeVoucher(m.payload).serialNumber, "JADA123456789");
			assert.deepEqual(encodeCoseSign1(m), new Uint8Array(signed), "re-encoded byte for byte");
		});
	});
}

describe("cose-js verifies the drafts' vectors too (the same yardstick)", () => {
	it("PVR, RVR, and both forms of the voucher", () => {
		for (const [file, cert] of [
			["cbrski-pvr.cose.hex", "cert-pledge.pem"],
			["cbrski-rvr.cose.hex", "cert-registrar.pem"],
			["cbrski-voucher-from-masa-with-x5bag.cose.hex", "cert-masa_ca.pem"],
			["cbrski-voucher-to-pledge.cose.hex", "cert-masa_ca.pem"],
		] as const) {
			assert.ok(cose.sign.verifySync(Buffer.from(cbrskiHex(file)), verifier(cert)).length > 0, file);
		}
	});
});
