/*
 * modules/x509/issue.ts: certificates from our DER writer pass `openssl verify` (CA → Registrar,
 * CA → IDevID, CA → LDevID from a PKCS#10 request), OpenSSL reads the extensions as meant, our
 * parser reads them back, the same seed gives the same bytes, and a bad CSR is refused.
 */

import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { SeededRandom } from "../hosts/xs/seeded-random.js";
import { createNobleCrypto } from "../modules/crypto/noble-provider.js";
import { derToPem } from "../modules/util/base64.js";
import { Oid, KeyUsage, parseCertificate } from "../modules/x509/certificate.js";
import { createCsr, CsrError } from "../modules/x509/csr.js";
import { certificateIssuer, derTime, issueLdevid, serialFrom } from "../modules/x509/issue.js";
import { verifyChain } from "../modules/x509/chain.js";
import { buildSimPki } from "../tools/sim/pki.js";
import { unavailable } from "./node-lib/unavailable.js";

const NOW = Date.UTC(2026, 0, 1);

function pkiFor(seed: number) {
	const rng = new SeededRandom(seed);
	const random = (b: Uint8Array): Uint8Array => rng.fill(b);
	const crypto = createNobleCrypto(random);
	return { crypto, random, pki: buildSimPki({ crypto, random, now: NOW }) };
}

function openssl(...args: string[]): string {
	return execFileSync("openssl", args, { encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] });
}

describe("modules/x509/issue: deterministic certificates", () => {
	it("times: UTCTime through 2049, GeneralizedTime from 2050 (RFC 5280 §4.1.2.5)", () => {
		assert.equal(new TextDecoder().decode(derTime(Date.UTC(2026, 0, 2, 3, 4, 5, 999)).subarray(2)), "260102030405Z");
		assert.equal(derTime(Date.UTC(2049, 11, 31))[0], 0x17);
		assert.equal(new TextDecoder().decode(derTime(Date.UTC(9999, 11, 31, 23, 59, 59)).subarray(2)), "99991231235959Z");
		assert.equal(derTime(Date.UTC(2050, 0, 1))[0], 0x18);
	});

	it("our parser reads the profiles back; chains verify; the same seed gives the same bytes", () => {
		const a = pkiFor(5);
		const b = pkiFor(5);
		const c = pkiFor(6);
		assert.deepEqual(a.pki.registrar.cert, b.pki.registrar.cert);
		assert.deepEqual(a.pki.idevid("P-1").cert, b.pki.idevid("P-1").cert);
		assert.notDeepEqual(a.pki.registrar.cert, c.pki.registrar.cert);
		const ca = parseCertificate(a.pki.domainCa.cert);
		assert.deepEqual(ca.basicConstraints, { cA: true, pathLen: 0 });
		assert.equal(ca.keyUsage, KeyUsage.digitalSignature | KeyUsage.keyCertSign | KeyUsage.cRLSign);
		const reg = parseCertificate(a.pki.registrar.cert);
		assert.deepEqual(reg.extendedKeyUsage, [Oid.KP_CMC_RA, Oid.KP_SERVER_AUTH, Oid.KP_CLIENT_AUTH]);
		assert.equal(reg.keyUsage, KeyUsage.digitalSignature);
		assert.deepEqual(reg.authorityKeyIdentifier, ca.subjectKeyIdentifier);
		const idevid = parseCertificate(a.pki.idevid("P-1").cert);
		assert.equal(idevid.masaUrl, "masa.example");
		assert.equal(idevid.subjectKeyIdentifier, undefined, "802.1AR IDevIDs have no SKI");
		assert.equal(idevid.notAfter, Date.UTC(9999, 11, 31, 23, 59, 59));
		assert.ok(verifyChain([reg], [ca], { crypto: a.crypto, now: NOW }).ok);
		assert.ok(verifyChain([idevid], [parseCertificate(a.pki.manufacturerCa.cert)], { crypto: a.crypto, now: NOW }).ok);
		assert.ok(!verifyChain([idevid], [ca], { crypto: a.crypto, now: NOW }).ok);
	});

	it("LDevIDs from a verified CSR; another device's CSR and a forged one are refused", () => {
		const { crypto, random, pki } = pkiFor(7);
		const idevid = parseCertificate(pki.idevid("P-7").cert);
		const k = crypto.ecGenerate();
		const csr = createCsr({ crypto, privateKey: k.privateKey, publicKey: k.publicKey, subject: idevid.subject.der });
		const issuer = certificateIssuer(pki.domainCa.cert, pki.domainCa.key);
		const o = { crypto, issuer, csr, serialNumber: serialFrom(random), notBefore: NOW, notAfter: NOW + 86_400_000 };
		const ldevid = parseCertificate(issueLdevid({ ...o, expectedSubject: idevid.subject.der }));
		assert.deepEqual(ldevid.publicKey.bytes, k.publicKey);
		assert.deepEqual(ldevid.subject.der, idevid.subject.der);
		assert.deepEqual(ldevid.extendedKeyUsage, [Oid.KP_CLIENT_AUTH]);
		assert.throws(() => issueLdevid({ ...o, expectedSubject: parseCertificate(pki.idevid("P-8").cert).subject.der }), CsrError);
		const forged = csr.slice();
		forged[forged.length - 3]! ^= 1;
		assert.doesNotThrow(() => issueLdevid(o), "no expected serialNumber: any subject");
		assert.throws(() => issueLdevid({ ...o, csr: forged }), CsrError);
	});

	it("openssl verify accepts the Registrar, an IDevID and an LDevID, and reads the extensions", (t) => {
		let version: string | undefined;
		try {
			version = openssl("version").trim();
		} catch {
			version = undefined;
		}
		if (unavailable(t, version === undefined ? "openssl is not installed" : undefined)) return;
		const { crypto, random, pki } = pkiFor(9);
		const dir = mkdtempSync(join(tmpdir(), "cjp-issue-"));
		try {
			const file = (name: string, der: Uint8Array): string => {
				const f = join(dir, name);
				writeFileSync(f, derToPem(der, "CERTIFICATE"));
				return f;
			};
			const domain = file("domain.pem", pki.domainCa.cert);
			const maker = file("maker.pem", pki.manufacturerCa.cert);
			const k = crypto.ecGenerate();
			const idevid = parseCertificate(pki.idevid("P-9").cert);
			const csr = createCsr({ crypto, privateKey: k.privateKey, publicKey: k.publicKey, subject: idevid.subject.der });
			const ldevid = issueLdevid({ crypto, issuer: certificateIssuer(pki.domainCa.cert, pki.domainCa.key), csr, serialNumber: serialFrom(random), notBefore: NOW, notAfter: NOW + 86_400_000 * 365 });
			const at = String(NOW / 1000 + 60);
			for (const [anchor, leaf] of [[domain, file("registrar.pem", pki.registrar.cert)], [maker, file("idevid.pem", pki.idevid("P-9").cert)], [domain, file("ldevid.pem", ldevid)], [file("voucher-ca.pem", pki.voucherCa.cert), file("signer.pem", pki.voucherSigner.cert)]] as const) {
				assert.match(openssl("verify", "-attime", at, "-x509_strict", "-CAfile", anchor, leaf), /: OK/);
			}
			const text = openssl("x509", "-in", join(dir, "registrar.pem"), "-noout", "-text");
			assert.match(text, /X509v3 Basic Constraints: *\n *CA:FALSE/);
			assert.match(text, /X509v3 Key Usage: critical\n *Digital Signature/);
			assert.match(text, /CMC Registration Authority, TLS Web Server Authentication, TLS Web Client Authentication/);
			assert.match(openssl("x509", "-in", domain, "-noout", "-text"), /CA:TRUE, pathlen:0[\s\S]*Certificate Sign, CRL Sign/);
			t.diagnostic(version!);
		} finally {
			rmSync(dir, { recursive: true, force: true });
		}
	});
});
