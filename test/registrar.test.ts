/*
 * The Registrar on Node, on loopback: a pledge built from the existing blocks (test-pledge.ts) with
 * a `cjp pki init` identity runs rv → vs → crts → sen → es, then /es again on a session with its
 * new LDevID; the LDevID passes `openssl verify` against the domain CA. Negative cases end in the
 * digest's CoAP codes with database rows; a slow or unreachable MASA gives 5.03 and then the voucher
 * on the identical resend; the SQLite records survive a restart. The MASA is src/masa's, reached in
 * process (wrapped to take it down or slow it) and over its HTTPS server with mutual TLS.
 */

import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createNodeHost } from "../hosts/node/index.js";
import { createNodeCrypto } from "../hosts/node/crypto.js";
import { Code, ContentFormat, Opt } from "../modules/coap/constants.js";
import { findOption, option, uintOptionValue } from "../modules/coap/message.js";
import { decodeCoseSign1, encodeCoseSign1, signCoseSign1 } from "../modules/cose/sign1.js";
import { parseEcPrivateKey } from "../modules/x509/private-key.js";
import { decodeMultipartCore } from "../modules/est/multipart-core.js";
import { decodeCertsOnly } from "../modules/est/pkcs7.js";
import { derToPem, pemToDer } from "../modules/util/base64.js";
import { decodeVoucher } from "../modules/voucher/voucher.js";
import { Oid, parseCertificate } from "../modules/x509/certificate.js";
import { encodeName } from "../modules/x509/csr.js";
import { initPki } from "../src/pki/init.js";
import { loadRegistrarConfig, type RegistrarConfig } from "../src/pki/config.js";
import { BAD_GATEWAY, inProcessMasaClient } from "../src/registrar/masa-client.js";
import { HttpsMasaClient } from "../src/registrar/https-masa-client.js";
import { startNodeRegistrar, type NodeRegistrar } from "../src/registrar/node-registrar.js";
import { SqliteRegistrarDatabase } from "../src/registrar/sqlite-database.js";
import { FlakyMasa } from "./node-lib/flaky-masa.js";
import { startMasaFromConfig, type RunningMasa } from "../src/masa/from-config.js";
import { loadMasaConfig } from "../src/pki/config.js";
import { requestVoucherUrl } from "../src/registrar/masa-client.js";
import { connect, loadPledge, makeCsr, makePvr, post, requestVoucher, telemetry, type Session } from "./node-lib/test-pledge.js";

const crypto = createNodeCrypto();
const host = createNodeHost({ logLevel: "error" });
let dir: string;
let config: RegistrarConfig;
let masa: FlakyMasa;
let realMasa: RunningMasa;
let nr: NodeRegistrar;
const server = () => ({ address: "::1", port: nr.registrar.coapsPort!, zone: "" });

async function start(overrides: Parameters<typeof startNodeRegistrar>[2] = {}): Promise<NodeRegistrar> {
	const domainCa = pemToDer(readFileSync(config.cert, "utf8"))[0]!;
	return startNodeRegistrar(config, host, { masaClient: inProcessMasaClient(masa, domainCa), coapsPort: 0, jpyPort: 0, masaWaitMs: 400, retryAfterSeconds: 1, ...overrides });
}

before(async () => {
	dir = mkdtempSync(join(tmpdir(), "cjp-registrar-"));
	await initPki({ dir, pledges: 3 });
	// Policy: the third pledge is not one of ours.
	const file = join(dir, "registrar", "config.json");
	const json = JSON.parse(readFileSync(file, "utf8"));
	json.manufacturers[0].serials = ["PLEDGE-0001", "PLEDGE-0002"];
	writeFileSync(file, JSON.stringify(json));
	config = loadRegistrarConfig(file);
	const mc = loadMasaConfig(join(dir, "masa"));
	realMasa = await startMasaFromConfig({ ...mc, listen: { address: "::1", port: 0 } }, () => {});
	masa = new FlakyMasa(realMasa.service);
	nr = await start();
});

after(async () => {
	nr.close();
	await realMasa.close();
	rmSync(dir, { recursive: true, force: true });
});

const pledgeDir = (serial: string) => join(dir, "pledges", serial);

async function session(serial: string): Promise<{ s: Session; pledge: ReturnType<typeof loadPledge> }> {
	const pledge = loadPledge(pledgeDir(serial));
	return { s: await connect(host, crypto, server(), pledge), pledge };
}

describe("Registrar on loopback", () => {
	it("rv → vs → crts → sen → es, then /es on a session with the new LDevID; openssl verifies the LDevID", async () => {
		const { s, pledge } = await session("PLEDGE-0001");
		try {
			const pvr = makePvr(crypto, pledge, s.registrarChain[0]!);
			const { response: rv } = await requestVoucher(s, pvr);
			assert.equal(rv.code, Code.Changed);
			assert.equal(uintOptionValue(rv, Opt.ContentFormat), ContentFormat.VoucherCoseCbor);
			const cose = decodeCoseSign1(rv.payload);
			assert.equal(cose.unprotected.size, 0, "x5bag stripped");
			const voucher = decodeVoucher(cose.payload);
			assert.equal(voucher.serialNumber, "PLEDGE-0001");
			assert.deepEqual(voucher.pinnedDomainCert, pemToDer(readFileSync(config.domainCa.cert, "utf8"))[0]);
			assert.equal((await post(s, "/.well-known/brski/vs", telemetry(true), ContentFormat.Cbor)).code, Code.Changed);

			const crts = await s.client.endpoint.request({ peer: s.server, path: "/.well-known/est/crts", accept: ContentFormat.MultipartCore });
			assert.equal(crts.code, Code.Content);
			const parts = decodeMultipartCore(crts.payload);
			assert.equal(parts.length, 1);
			assert.equal(parts[0]!.contentFormat, ContentFormat.PkixCert);
			const etag = findOption(crts, Opt.ETag)!.value;
			const again = await s.client.endpoint.request({ peer: s.server, path: "/.well-known/est/crts", accept: ContentFormat.MultipartCore, options: [option(Opt.ETag, etag)] });
			assert.equal(again.code, Code.Valid);
			const p7 = await s.client.endpoint.request({ peer: s.server, path: "/.well-known/est/crts", accept: ContentFormat.Pkcs7CertsOnly });
			assert.deepEqual(decodeCertsOnly(p7.payload), [parts[0]!.body]);
			assert.equal((await s.client.endpoint.request({ peer: s.server, path: "/.well-known/est/crts", accept: ContentFormat.Json })).code, Code.NotAcceptable);

			const { csr, privateKey } = makeCsr(crypto, pledge.chain[0]!);
			const sen = await post(s, "/.well-known/est/sen", csr, ContentFormat.Pkcs10, ContentFormat.PkixCert);
			assert.equal(sen.code, Code.Changed);
			assert.equal(uintOptionValue(sen, Opt.ContentFormat), ContentFormat.PkixCert);
			const ldevid = sen.payload;
			assert.equal(parseCertificate(ldevid).subject.attributes.find((a) => a.shortName === "serialNumber")?.value, "PLEDGE-0001");
			const ldevidFile = join(dir, "ldevid.pem");
			writeFileSync(ldevidFile, derToPem(ldevid, "CERTIFICATE"));
			execFileSync("openssl", ["verify", "-CAfile", config.domainCa.cert, ldevidFile], { stdio: "pipe" });
			// No Accept: PKCS#7 (RFC 9148 §4.3).
			const sen281 = await post(s, "/.well-known/est/sen", makeCsr(crypto, pledge.chain[0]!).csr, ContentFormat.Pkcs10);
			assert.equal(uintOptionValue(sen281, Opt.ContentFormat), ContentFormat.Pkcs7CertsOnly);
			assert.equal(decodeCertsOnly(sen281.payload).length, 1);

			// The success /es on a new session authenticated with the LDevID (RFC 8995 §5.9.4), and /sren there.
			s.client.close();
			const s2 = await connect(host, crypto, server(), { chain: [ldevid], privateKey });
			try {
				assert.equal((await post(s2, "/.well-known/brski/es", telemetry(true), ContentFormat.Cbor)).code, Code.Changed);
				assert.equal((await post(s2, "/.well-known/brski/rv", pvr, ContentFormat.VoucherCoseCbor)).code, Code.Forbidden, "no vouchers for LDevIDs");
				const sren = await post(s2, "/.well-known/est/sren", makeCsr(crypto, pledge.chain[0]!).csr, ContentFormat.Pkcs10, ContentFormat.PkixCert);
				assert.equal(sren.code, Code.Changed);
			} finally {
				s2.client.close();
			}
			const db = nr.db;
			assert.equal(db.device("PLEDGE-0001")?.state, "enrolled"); // sren came after the /es
			assert.equal(db.vouchers("PLEDGE-0001").length, 1);
			assert.deepEqual(db.enrollments("PLEDGE-0001").map((e) => e.kind), ["sen", "sen", "sren"]);
			const es = db.auditLog("PLEDGE-0001").find((a) => a.event === "es");
			assert.match(es!.detail, /new LDevID/);
		} finally {
			s.client.close();
		}
	});

	it("unknown serial: 4.04 and a refused row; tampered PVR: 4.03; proximity mismatch: 4.01; wrong formats: 4.15/4.06; a CSR for another serial: 4.03", async () => {
		const { s: s3, pledge: p3 } = await session("PLEDGE-0003");
		try {
			const r = await post(s3, "/.well-known/brski/rv", makePvr(crypto, p3, s3.registrarChain[0]!), ContentFormat.VoucherCoseCbor);
			assert.equal(r.code, Code.NotFound);
			assert.equal(nr.db.device("PLEDGE-0003")?.state, "refused");
			assert.equal(nr.db.voucherRequests("PLEDGE-0003")[0]?.outcome, "4.04");
			assert.equal((await post(s3, "/.well-known/est/sen", makeCsr(crypto, p3.chain[0]!).csr, ContentFormat.Pkcs10)).code, Code.Forbidden);
		} finally {
			s3.client.close();
		}
		const { s, pledge } = await session("PLEDGE-0002");
		const before = nr.db.voucherRequests("PLEDGE-0002").length;
		try {
			const pvr = makePvr(crypto, pledge, s.registrarChain[0]!);
			const tampered = pvr.slice();
			tampered[tampered.length - 1]! ^= 1;
			assert.equal((await post(s, "/.well-known/brski/rv", tampered, ContentFormat.VoucherCoseCbor)).code, Code.Forbidden);
			assert.equal((await post(s, "/.well-known/brski/rv", makePvr(crypto, pledge, s.registrarChain[0]!, { serial: "PLEDGE-0001" }), ContentFormat.VoucherCoseCbor)).code, Code.Forbidden);
			assert.equal((await post(s, "/.well-known/brski/rv", new Uint8Array([0xa0]), ContentFormat.VoucherCoseCbor)).code, Code.BadRequest);
			assert.equal((await post(s, "/.well-known/brski/rv", pvr, ContentFormat.Cbor)).code, Code.UnsupportedContentFormat);
			assert.equal((await post(s, "/.well-known/brski/rv", pvr, ContentFormat.VoucherCoseCbor, ContentFormat.Json)).code, Code.NotAcceptable);
			assert.equal((await post(s, "/.well-known/brski/vs", new Uint8Array([1]), ContentFormat.Cbor)).code, Code.BadRequest);
			assert.ok(nr.db.voucherRequests("PLEDGE-0002").slice(before).every((v) => v.outcome.startsWith("4.")));
			// Review F3: no voucher on this association yet, so no enrollment.
			assert.equal((await post(s, "/.well-known/est/sen", makeCsr(crypto, pledge.chain[0]!).csr, ContentFormat.Pkcs10)).code, Code.Forbidden);
			assert.equal((await requestVoucher(s, pvr)).response.code, Code.Changed);
			assert.equal((await post(s, "/.well-known/est/sen", new Uint8Array([0x30, 0]), ContentFormat.Pkcs10)).code, Code.BadRequest);
			assert.equal((await post(s, "/.well-known/est/sen", makeCsr(crypto, pledge.chain[0]!).csr, ContentFormat.Pkcs10, ContentFormat.Json)).code, Code.NotAcceptable);
			const other = parseCertificate(loadPledge(pledgeDir("PLEDGE-0001")).chain[0]!).subject.der;
			assert.equal((await post(s, "/.well-known/est/sen", makeCsr(crypto, pledge.chain[0]!, other).csr, ContentFormat.Pkcs10)).code, Code.Forbidden);
			// Review F4: the reviewer's CSR: our serialNumber first, then a Registrar-like name and another serialNumber.
			const crafted = encodeName([{ type: Oid.SERIAL_NUMBER, value: "PLEDGE-0002" }, { type: "2.5.4.10", value: "cjp domain" }, { type: "2.5.4.3", value: "cjp Registrar" }, { type: Oid.SERIAL_NUMBER, value: "PLEDGE-0001" }]);
			assert.equal((await post(s, "/.well-known/est/sen", makeCsr(crypto, pledge.chain[0]!, crafted).csr, ContentFormat.Pkcs10)).code, Code.Forbidden);
			// Review F3: after /vs false the voucher no longer counts.
			assert.equal((await post(s, "/.well-known/brski/vs", telemetry(false, "voucher rejected"), ContentFormat.Cbor)).code, Code.Changed);
			assert.equal((await post(s, "/.well-known/est/sen", makeCsr(crypto, pledge.chain[0]!).csr, ContentFormat.Pkcs10)).code, Code.Forbidden);
			assert.equal(nr.db.enrollments("PLEDGE-0002").length, 0);
			// R18: a PVR naming another Registrar: 4.01, and the association is done (4.01 for anything after).
			const otherKey = parseCertificate(pemToDer(readFileSync(config.domainCa.cert, "utf8"))[0]!).publicKey.spki;
			assert.equal((await post(s, "/.well-known/brski/rv", makePvr(crypto, pledge, s.registrarChain[0]!, { proximityPubk: otherKey }), ContentFormat.VoucherCoseCbor)).code, Code.Unauthorized);
			assert.equal((await post(s, "/.well-known/brski/rv", pvr, ContentFormat.VoucherCoseCbor)).code, Code.Unauthorized);
			assert.equal((await s.client.endpoint.request({ peer: s.server, path: "/.well-known/est/crts" })).code, Code.Unauthorized);
		} finally {
			s.client.close();
		}
	});

	it("a device the MASA refuses (404) gets no LDevID: /sen 4.03 (review F3)", async () => {
		const { s, pledge } = await session("PLEDGE-0001");
		try {
			masa.refuse = 404;
			assert.equal((await post(s, "/.well-known/brski/rv", makePvr(crypto, pledge, s.registrarChain[0]!), ContentFormat.VoucherCoseCbor)).code, Code.NotFound);
			const enrolled = nr.db.enrollments("PLEDGE-0001").length;
			assert.equal((await post(s, "/.well-known/est/sen", makeCsr(crypto, pledge.chain[0]!).csr, ContentFormat.Pkcs10, ContentFormat.PkixCert)).code, Code.Forbidden);
			assert.equal(nr.db.enrollments("PLEDGE-0001").length, enrolled);
		} finally {
			masa.refuse = undefined;
			s.client.close();
		}
	});

	it("MASA down: 5.03 with Max-Age, then the voucher on the identical resend once it is back; a slow MASA is called once", async () => {
		const { s, pledge } = await session("PLEDGE-0002");
		const before = nr.db.voucherRequests("PLEDGE-0002").length;
		try {
			masa.down = true;
			const pvr = makePvr(crypto, pledge, s.registrarChain[0]!);
			const first = await post(s, "/.well-known/brski/rv", pvr, ContentFormat.VoucherCoseCbor);
			assert.equal(first.code, Code.ServiceUnavailable);
			assert.equal(uintOptionValue(first, Opt.MaxAge), 1);
			masa.down = false;
			const { response } = await requestVoucher(s, pvr);
			assert.equal(response.code, Code.Changed);

			masa.delayMs = 1500;
			const calls = masa.calls;
			const { response: slow, unavailable } = await requestVoucher(s, makePvr(crypto, pledge, s.registrarChain[0]!));
			masa.delayMs = 0;
			assert.equal(slow.code, Code.Changed);
			assert.ok(unavailable >= 1, "at least one 5.03 while the MASA was slow");
			assert.equal(masa.calls - calls, 1, "the resend was answered from the first call");
			const outcomes = nr.db.voucherRequests("PLEDGE-0002").slice(before).map((v) => v.outcome);
			assert.ok(outcomes.includes("5.03") && outcomes.filter((o) => o === "2.04").length === 2, outcomes.join());
		} finally {
			s.client.close();
		}
	});

	// Review F2 / R27: the Registrar's own voucher check uses the configured voucher anchors, not the
	// IDevID anchor, and finds the signer in the (unordered) x5bag by verifying.
	it("voucher check: an IDevID-signed voucher is 5.02; the MASA's chain in any x5bag order passes", async () => {
		const signer = pemToDer(readFileSync(join(dir, "masa", "voucher-signer.pem"), "utf8"))[0]!;
		const signerKey = parseEcPrivateKey(pemToDer(readFileSync(join(dir, "masa", "voucher-signer.key"), "utf8"))[0]!);
		const voucherCa = pemToDer(readFileSync(join(dir, "masa", "voucher-ca.pem"), "utf8"))[0]!;
		const other = loadPledge(pledgeDir("PLEDGE-0001"));
		const resign = (key: Uint8Array, x5bag: Uint8Array[]) => (body: Uint8Array) => encodeCoseSign1(signCoseSign1(crypto, key, decodeCoseSign1(body).payload, { x5bag }));
		const { s, pledge } = await session("PLEDGE-0002");
		try {
			masa.rewrite = resign(other.privateKey, [other.chain[0]!]);
			assert.equal((await post(s, "/.well-known/brski/rv", makePvr(crypto, pledge, s.registrarChain[0]!), ContentFormat.VoucherCoseCbor)).code, BAD_GATEWAY);
			masa.rewrite = resign(signerKey, [voucherCa, signer]);
			const { response } = await requestVoucher(s, makePvr(crypto, pledge, s.registrarChain[0]!));
			assert.equal(response.code, Code.Changed);
		} finally {
			masa.rewrite = undefined;
			s.client.close();
		}
	});

	it("restart: the SQLite records survive", async () => {
		const before = { devices: nr.db.devices(), enrollments: nr.db.enrollments("PLEDGE-0001"), audit: nr.db.auditLog().length };
		nr.close();
		const db = new SqliteRegistrarDatabase(config.database);
		try {
			assert.deepEqual(db.devices(), before.devices);
			assert.deepEqual(db.enrollments("PLEDGE-0001"), before.enrollments);
			assert.equal(db.auditLog().length, before.audit);
		} finally {
			db.close();
		}
		nr = await start();
		assert.equal(nr.db.enrollments("PLEDGE-0001").length, before.enrollments.length);
	});

	it("over HTTPS with mutual TLS to a MASA whose certificate chains to the manufacturer's MASA TLS anchor", async () => {
		const port = realMasa.https.port;
		const chain = config.chain.map((f) => pemToDer(readFileSync(f, "utf8"))[0]!);
		const client = new HttpsMasaClient({ clientChain: chain, clientKeyPem: readFileSync(config.key, "utf8"), timeoutMs: 5000 });
		// The IDevIDs name [::1]:9443; point the manufacturer at the test server instead (policy override).
		nr.close();
		const overridden: RegistrarConfig = { ...config, manufacturers: [{ ...config.manufacturers[0]!, masaUrl: `https://[::1]:${port}` }] };
		nr = await startNodeRegistrar(overridden, host, { masaClient: client, coapsPort: 0, jpyPort: 0 });
		try {
			const { s, pledge } = await session("PLEDGE-0002");
			try {
				const { response } = await requestVoucher(s, makePvr(crypto, pledge, s.registrarChain[0]!));
				assert.equal(response.code, Code.Changed);
			} finally {
				s.client.close();
			}
			// A MASA certificate not under the anchors is refused: the pledge gets 5.03 (unreachable).
			const wrong = await client.requestVoucher({ url: `https://[::1]:${port}/.well-known/brski/requestvoucher`, tlsAnchors: [chain[1]!], rvr: new Uint8Array(1) }).then(() => "answered", (e: Error) => e.name);
			assert.equal(wrong, "MasaUnreachableError");
		} finally {
			nr.close();
			nr = await start();
		}
	});

	it("MASA URL: an authority gets https:// and the well-known path; full https URLs are taken as the base; others are refused", () => {
		assert.equal(requestVoucherUrl("[::1]:9443"), "https://[::1]:9443/.well-known/brski/requestvoucher");
		assert.equal(requestVoucherUrl("masa.example"), "https://masa.example/.well-known/brski/requestvoucher");
		assert.equal(requestVoucherUrl("https://masa.example/.well-known/brski/"), "https://masa.example/.well-known/brski/requestvoucher");
		assert.equal(requestVoucherUrl("https://masa.example:8443/.well-known/brski/requestvoucher"), "https://masa.example:8443/.well-known/brski/requestvoucher");
		assert.equal(requestVoucherUrl("http://masa.example/x"), undefined);
		assert.equal(requestVoucherUrl("https://"), undefined);
	});
});
