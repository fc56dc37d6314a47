/*
 * `cjp pki init` (src/pki): every certificate passes `openssl x509 -text` and `openssl verify`, and
 * our own parser and chain check; the config loaders; CSRs both ways between us and `openssl req`;
 * LDevID issuing checked by `openssl verify`; our PKCS#7 certs-only read by `openssl pkcs7`.
 */

import { after, before, describe, it, type TestContext } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { p256 } from "@noble/curves/nist.js";
import { unavailable } from "./node-lib/unavailable.js";
import { createNodeCrypto } from "../hosts/node/crypto.js";
import { derToPem, pemToDer } from "../modules/util/base64.js";
import { nameValue, parseCertificate, type Certificate } from "../modules/x509/certificate.js";
import { verifyChain } from "../modules/x509/chain.js";
import { parseEcPrivateKey } from "../modules/x509/private-key.js";
import { CsrError, createCsr, parseCsr, parseVerifiedCsr } from "../modules/x509/csr.js";
import { decodeCertsOnly, encodeCertsOnly } from "../modules/est/pkcs7.js";
import { ConfigError, loadMasaConfig, loadPledgeConfig, loadRegistrarConfig } from "../src/pki/config.js";
import { issueLdevid, loadKeyedCertificate } from "../src/pki/ca.js";

const CJP = fileURLToPath(new URL("../bin/cjp.js", import.meta.url));
const crypto = createNodeCrypto();

function cjp(...args: string[]) {
	return spawnSync(process.execPath, [CJP, ...args], { encoding: "utf8", timeout: 60_000 });
}

function openssl(args: string[], input?: string | Uint8Array) {
	return spawnSync("openssl", args, { encoding: "utf8", timeout: 20_000, ...(input !== undefined ? { input } : {}) });
}

const opensslMissing = ((): string | undefined => {
	const r = spawnSync("openssl", ["version"], { encoding: "utf8" });
	return r.status === 0 ? undefined : "no openssl CLI";
})();

function cert(path: string): Certificate {
	return parseCertificate(pemToDer(readFileSync(path, "utf8"), "CERTIFICATE")[0]!);
}

const SERIALS = ["PLEDGE-0001", "PLEDGE-0002"];

describe("cjp pki init", () => {
	let dir: string;
	let pki: string;
	before(() => {
		dir = mkdtempSync(join(tmpdir(), "cjp-pki-test-"));
		pki = join(dir, "pki");
		const r = cjp("pki", "init", pki, "--pledges", "2", "--masa-url", "[::1]:9443");
		assert.equal(r.status, 0, r.stderr);
		assert.match(r.stdout, /PLEDGE-0001 PLEDGE-0002/);
	});
	after(() => rmSync(dir, { recursive: true, force: true }));

	const p = (...parts: string[]): string => join(pki, ...parts);
	const idevid = (s: string): string => p("pledges", s, "idevid.pem");

	it("openssl x509 -text shows serialNumber, the MASA URL, no expiry and the Registrar's EKUs", (t: TestContext) => {
		if (unavailable(t, opensslMissing)) return;
		for (const s of SERIALS) {
			const r = openssl(["x509", "-in", idevid(s), "-text", "-noout"]);
			assert.equal(r.status, 0, r.stderr);
			assert.match(r.stdout, new RegExp(`Subject: .*serialNumber = ${s}`));
			assert.match(r.stdout, /1\.3\.6\.1\.5\.5\.7\.1\.32:\s*\n\s*\.\n?\[::1\]:9443/);
			assert.match(r.stdout, /Not After : Dec 31 23:59:59 9999 GMT/);
			assert.match(r.stdout, /Key Usage: critical\s*\n\s*Digital Signature/);
		}
		const reg = openssl(["x509", "-in", p("registrar", "cert.pem"), "-text", "-noout"]);
		assert.match(reg.stdout, /CMC Registration Authority, TLS Web Server Authentication, TLS Web Client Authentication/);
		const tls = openssl(["x509", "-in", p("masa", "tls.pem"), "-text", "-noout"]);
		assert.match(tls.stdout, /DNS:masa\.example.*IP Address:0:0:0:0:0:0:0:1/);
		for (const f of [p("masa", "ca.pem"), p("masa", "voucher-signer.pem"), p("registrar", "domain-ca.pem")]) {
			assert.equal(openssl(["x509", "-in", f, "-text", "-noout"]).status, 0, f);
		}
	});

	it("openssl verify accepts every chain", (t: TestContext) => {
		if (unavailable(t, opensslMissing)) return;
		const chains: [string, string][] = [
			...SERIALS.map((s): [string, string] => [p("masa", "ca.pem"), idevid(s)]),
			...SERIALS.map((s): [string, string] => [p("pledges", s, "masa-voucher-ca.pem"), p("pledges", s, "voucher-signer.pem")]),
			[p("masa", "voucher-ca.pem"), p("masa", "voucher-signer.pem")],
			[p("registrar", "masa-anchors", "voucher-ca.pem"), p("masa", "voucher-signer.pem")],
			[p("masa", "ca.pem"), p("masa", "tls.pem")],
			[p("registrar", "masa-anchors", "manufacturer-ca.pem"), p("masa", "tls.pem")],
			[p("registrar", "domain-ca.pem"), p("registrar", "cert.pem")],
			[p("masa", "registrar-anchors", "domain-ca.pem"), p("registrar", "cert.pem")],
		];
		for (const [ca, leaf] of chains) {
			const r = openssl(["verify", "-CAfile", ca, leaf]);
			assert.equal(r.status, 0, `${leaf}: ${r.stdout}${r.stderr}`);
		}
		// The purposes the roles use them for.
		assert.equal(openssl(["verify", "-purpose", "sslserver", "-CAfile", p("masa", "ca.pem"), p("masa", "tls.pem")]).status, 0);
		assert.equal(openssl(["verify", "-purpose", "sslclient", "-CAfile", p("registrar", "domain-ca.pem"), p("registrar", "cert.pem")]).status, 0);
		assert.equal(openssl(["verify", "-purpose", "sslserver", "-CAfile", p("registrar", "domain-ca.pem"), p("registrar", "cert.pem")]).status, 0);
		// And not across: an IDevID does not chain to the domain CA, nor to the pledges' voucher anchor (review F2).
		assert.notEqual(openssl(["verify", "-CAfile", p("registrar", "domain-ca.pem"), idevid(SERIALS[0]!)]).status, 0);
		assert.notEqual(openssl(["verify", "-CAfile", p("pledges", SERIALS[0]!, "masa-voucher-ca.pem"), idevid(SERIALS[1]!)]).status, 0);
		assert.notEqual(openssl(["verify", "-CAfile", p("registrar", "masa-anchors", "voucher-ca.pem"), idevid(SERIALS[0]!)]).status, 0);
		assert.notEqual(openssl(["verify", "-CAfile", p("masa", "ca.pem"), p("masa", "voucher-signer.pem")]).status, 0);
	});

	it("our parser and chain check read them all", () => {
		const now = Date.now();
		const manufacturer = cert(p("masa", "ca.pem"));
		const domain = cert(p("registrar", "domain-ca.pem"));
		for (const s of SERIALS) {
			const c = cert(idevid(s));
			assert.equal(nameValue(c.subject, "serialNumber"), s);
			assert.equal(c.masaUrl, "[::1]:9443");
			assert.equal(c.notAfter, Date.UTC(9999, 11, 31, 23, 59, 59));
			assert.equal(c.subjectKeyIdentifier, undefined, "802.1AR: no SKI");
			assert.deepEqual(c.authorityKeyIdentifier, manufacturer.subjectKeyIdentifier);
			assert.deepEqual(verifyChain([c], [manufacturer], { crypto, now }), { ok: true, anchor: manufacturer });
			assert.equal(verifyChain([c], [domain], { crypto, now }).ok, false);
		}
		const registrar = cert(p("registrar", "cert.pem"));
		assert.deepEqual(registrar.extendedKeyUsage, ["1.3.6.1.5.5.7.3.28", "1.3.6.1.5.5.7.3.1", "1.3.6.1.5.5.7.3.2"]);
		assert.equal(registrar.basicConstraints?.cA, false);
		assert.equal(domain.basicConstraints?.cA, true);
		assert.equal(verifyChain([registrar], [domain], { crypto, now }).ok, true);
		assert.equal(verifyChain([cert(p("masa", "tls.pem"))], [manufacturer], { crypto, now }).ok, true);
		assert.equal(verifyChain([cert(p("masa", "voucher-signer.pem"))], [cert(p("masa", "voucher-ca.pem"))], { crypto, now }).ok, true);
		assert.equal(verifyChain([cert(p("masa", "voucher-signer.pem"))], [manufacturer], { crypto, now }).ok, false, "the voucher signer is not under the IDevID issuer");
	});

	it("keys are private (0600), P-256, and belong to their certificates", () => {
		const pairs: [string, string][] = [
			[p("masa", "ca.key"), p("masa", "ca.pem")],
			[p("masa", "voucher-ca.key"), p("masa", "voucher-ca.pem")],
			[p("masa", "voucher-signer.key"), p("masa", "voucher-signer.pem")],
			[p("masa", "tls.key"), p("masa", "tls.pem")],
			[p("registrar", "domain-ca.key"), p("registrar", "domain-ca.pem")],
			[p("registrar", "key.pem"), p("registrar", "cert.pem")],
			...SERIALS.map((s): [string, string] => [p("pledges", s, "idevid.key"), idevid(s)]),
		];
		for (const [key, certFile] of pairs) {
			assert.equal(statSync(key).mode & 0o777, 0o600, key);
			const d = parseEcPrivateKey(pemToDer(readFileSync(key, "utf8"), "PRIVATE KEY")[0]!);
			assert.deepEqual(p256.getPublicKey(d, false), cert(certFile).publicKey.bytes, key);
		}
	});

	it("the config loaders read what init wrote; paths are absolute and exist", () => {
		const masa = loadMasaConfig(p("masa", "config.json"));
		assert.equal(masa.listen.port, 9443);
		assert.equal(masa.authority, "[::1]:9443");
		assert.deepEqual(masa.serials, SERIALS);
		assert.equal(masa.voucherSigner.chain.length, 2);
		const registrar = loadRegistrarConfig(p("registrar"));
		assert.equal(registrar.coaps.port, 5684);
		assert.equal(registrar.jpy.port, 7634);
		assert.deepEqual(registrar.manufacturers[0]!.serials, SERIALS);
		assert.equal(registrar.manufacturers[0]!.masaUrl, null);
		assert.equal(registrar.database, p("registrar", "registrar.db"));
		const pledge = loadPledgeConfig(p("pledges", "PLEDGE-0002"));
		assert.equal(pledge.serialNumber, "PLEDGE-0002");
		assert.equal(pledge.storage, p("pledges", "PLEDGE-0002", "state"));
		const files = [masa.tls.cert, masa.tls.key, ...masa.tls.clientAnchors, masa.voucherSigner.cert, masa.voucherSigner.key, masa.manufacturerCa,
			registrar.cert, registrar.key, ...registrar.chain, registrar.domainCa.cert, registrar.domainCa.key, registrar.manufacturers[0]!.anchor,
			...registrar.manufacturers[0]!.voucherAnchors, pledge.idevid.cert, pledge.idevid.key, pledge.masaTrustAnchor, pledge.voucherSigner];
		for (const f of files) assert.ok(statSync(f).isFile(), f);
		// The pledge's voucher signer is the MASA's, and chains to the pledge's MASA trust anchor.
		assert.equal(verifyChain([cert(pledge.voucherSigner)], [cert(pledge.masaTrustAnchor)], { crypto }).ok, true);
		// Separate roles (review F2): the pledge's MASA anchor and the Registrar's voucher anchor are the
		// voucher CA, which issued no IDevID; the IDevID anchor is the manufacturer CA.
		assert.equal(verifyChain([cert(pledge.idevid.cert)], [cert(pledge.masaTrustAnchor)], { crypto }).ok, false);
		assert.deepEqual(cert(registrar.manufacturers[0]!.voucherAnchors[0]!).der, cert(pledge.masaTrustAnchor).der);
		assert.equal(verifyChain([cert(pledge.idevid.cert)], [cert(registrar.manufacturers[0]!.anchor)], { crypto }).ok, true);
	});

	it("config errors are one clear ConfigError: wrong kind, unknown key, bad port, missing file", () => {
		const bad = join(dir, "bad.json");
		const registrar = JSON.parse(readFileSync(p("registrar", "config.json"), "utf8"));
		const cases: [object | string, RegExp][] = [
			[registrar, /kind: must be "cjp-masa"/],
			[{ ...JSON.parse(readFileSync(p("masa", "config.json"), "utf8")), colour: 1 }, /colour: unknown key/],
			[{ ...JSON.parse(readFileSync(p("masa", "config.json"), "utf8")), listen: { address: "::", port: 0 } }, /listen\.port: must be an integer/],
			["{not json", /not JSON/],
		];
		for (const [content, message] of cases) {
			writeFileSync(bad, typeof content === "string" ? content : JSON.stringify(content));
			assert.throws(() => loadMasaConfig(bad), (e: unknown) => e instanceof ConfigError && message.test(e.message) && e.message.startsWith(bad));
		}
		assert.throws(() => loadPledgeConfig(join(dir, "nowhere")), ConfigError);
		writeFileSync(bad, JSON.stringify({ ...registrar, manufacturers: [{ ...registrar.manufacturers[0], serials: "all" }] }));
		assert.throws(() => loadRegistrarConfig(bad), /manufacturers\[0\]\.serials: must be an array/);
	});

	it("refuses an existing DIR without --force, replaces it with --force; usage errors exit 2", () => {
		const before = readFileSync(p("masa", "ca.pem"), "utf8");
		const r = cjp("pki", "init", pki);
		assert.equal(r.status, 1);
		assert.match(r.stderr, /not empty.*--force/);
		assert.equal(readFileSync(p("masa", "ca.pem"), "utf8"), before);
		const other = join(dir, "other");
		assert.equal(cjp("pki", "init", other, "--pledges", "1").status, 0);
		const again = cjp("pki", "init", other, "--pledges", "1", "--force");
		assert.equal(again.status, 0, again.stderr);
		for (const args of [["pki"], ["pki", "init"], ["pki", "make", other], ["pki", "init", other, "--pledges", "0"], ["pki", "init", other, "--masa-url", "a b"], ["pki", "init", other, "--bogus"]]) {
			const u = cjp(...args);
			assert.equal(u.status, 2, args.join(" "));
			assert.match(u.stderr, /^cjp pki: .+\n/, args.join(" "));
		}
		const help = cjp("pki", "--help");
		assert.equal(help.status, 0);
		assert.match(help.stdout, /cjp pki init DIR/);
	});

	/* ------------------------------------------------------------------------- CSR and LDevID */

	it("openssl req -verify accepts our CSR; we verify CSRs made by openssl req -new", (t: TestContext) => {
		if (unavailable(t, opensslMissing)) return;
		const pair = crypto.ecGenerate();
		const subject = cert(idevid("PLEDGE-0001")).subject;
		const csr = createCsr({ crypto, ...pair, subject: subject.der });
		const r = openssl(["req", "-verify", "-noout", "-subject"], derToPem(csr, "CERTIFICATE REQUEST"));
		assert.equal(r.status, 0, r.stderr);
		assert.match(r.stdout + r.stderr, /serialNumber ?= ?PLEDGE-0001/);

		const key = join(dir, "openssl.key");
		for (const extra of [[], ["-addext", "subjectAltName=DNS:pledge.example"]]) {
			const made = spawnSync("openssl", ["req", "-new", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-keyout", key,
				"-subj", "/CN=openssl pledge/serialNumber=OSSL-1", "-outform", "DER", ...extra], { timeout: 20_000 });
			assert.equal(made.status, 0, String(made.stderr));
			const parsed = parseVerifiedCsr(new Uint8Array(made.stdout), crypto);
			assert.equal(nameValue(parsed.subject, "serialNumber"), "OSSL-1");
			assert.equal(parsed.extensions?.length, extra.length === 0 ? undefined : 1);
		}
	});

	it("issueLdevid: openssl verify accepts the LDevID against the domain CA; wrong device or forged CSR refused", async (t: TestContext) => {
		if (unavailable(t, opensslMissing)) return;
		const ca = await loadKeyedCertificate(p("registrar", "domain-ca.pem"), p("registrar", "domain-ca.key"));
		const pair = crypto.ecGenerate();
		const subject = cert(idevid("PLEDGE-0002")).subject;
		const csr = createCsr({ crypto, ...pair, subject: subject.der });
		const now = new Date();
		const issued = await issueLdevid({ ca, csr, validityDays: 30, now, expectedSubject: subject.der });
		const file = join(dir, "ldevid.pem");
		writeFileSync(file, issued.pem);
		const r = openssl(["verify", "-purpose", "sslclient", "-CAfile", p("registrar", "domain-ca.pem"), file]);
		assert.equal(r.status, 0, r.stdout + r.stderr);
		// Review F4: an LDevID is a client certificate only.
		assert.notEqual(openssl(["verify", "-purpose", "sslserver", "-CAfile", p("registrar", "domain-ca.pem"), file]).status, 0);
		const c = parseCertificate(issued.der);
		assert.deepEqual(c.extendedKeyUsage, ["1.3.6.1.5.5.7.3.2"]);
		assert.deepEqual(c.subject.der, subject.der);
		assert.deepEqual(c.publicKey.bytes, pair.publicKey);
		assert.equal(issued.deviceSerialNumber, "PLEDGE-0002");
		assert.equal(Math.round((c.notAfter - now.getTime()) / 86_400_000), 30);
		assert.equal(verifyChain([c], [cert(p("registrar", "domain-ca.pem"))], { crypto, now: now.getTime() }).ok, true);

		const serials = new Set([issued.serialNumber]);
		for (let i = 0; i < 4; i++) serials.add((await issueLdevid({ ca, csr })).serialNumber);
		assert.equal(serials.size, 5, "serial numbers are unique");

		await assert.rejects(issueLdevid({ ca, csr, expectedSubject: cert(idevid("PLEDGE-0001")).subject.der }), CsrError);
		const forged = createCsr({ crypto, privateKey: crypto.ecGenerate().privateKey, publicKey: pair.publicKey, subject: subject.der });
		await assert.rejects(issueLdevid({ ca, csr: forged }), CsrError);
		await assert.rejects(issueLdevid({ ca, csr: csr.subarray(0, 40) }), CsrError);
		assert.ok(parseCsr(csr));

		// The /sen answer (CF 281) with the LDevID and the domain CA, as OpenSSL reads it.
		const p7 = encodeCertsOnly([issued.der, pemToDer(readFileSync(p("registrar", "domain-ca.pem"), "utf8"), "CERTIFICATE")[0]!]);
		const printed = openssl(["pkcs7", "-inform", "DER", "-print_certs", "-noout"], p7);
		assert.equal(printed.status, 0, printed.stderr);
		assert.match(printed.stdout, /serialNumber ?= ?PLEDGE-0002/);
		assert.match(printed.stdout, /CN ?= ?cjp Domain CA/);
		assert.equal(decodeCertsOnly(p7).length, 2);
	});
});
