/*
 * `cjp masa` as a real process on loopback, with the PKI `cjp pki init` writes: a Registrar with its
 * TLS client certificate gets a voucher for a request built as a cBRSKI Registrar builds it; HTTP
 * mistakes get their status; no client certificate, no TLS; SIGTERM ends it within 2 s; the audit
 * log survives in SQLite.
 */

import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { spawn, type ChildProcess } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { request as httpsRequest } from "node:https";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import Database from "better-sqlite3";
import { createNodeCrypto } from "../hosts/node/crypto.js";
import { initPki } from "../src/pki/init.js";
import { loadMasaConfig, loadPledgeConfig, loadRegistrarConfig } from "../src/pki/config.js";
import { decodeCoseSign1, encodeCoseSign1, signCoseSign1, verifyCoseSign1 } from "../modules/cose/sign1.js";
import { Assertion, decodeVoucher, encodeVoucherRequest } from "../modules/voucher/voucher.js";
import { idevidIssuerOf } from "../modules/voucher/idevid-issuer.js";
import { parseCertificate } from "../modules/x509/certificate.js";
import { parseEcPrivateKey } from "../modules/x509/private-key.js";
import { pemToDer } from "../modules/util/base64.js";
import { REQUEST_VOUCHER_PATH, startMasaHttps } from "../src/masa/https-server.js";
import type { MasaService } from "../src/masa/service.js";

const CJP = fileURLToPath(new URL("../bin/cjp.js", import.meta.url));
const crypto = createNodeCrypto();
const ders = (file: string): Uint8Array[] => pemToDer(readFileSync(file, "utf8"));
const key = (file: string): Uint8Array => parseEcPrivateKey(ders(file)[0]!);

interface Reply {
	status: number;
	type: string;
	body: Uint8Array;
}

describe("cjp masa over HTTPS with mutual TLS", () => {
	const dir = mkdtempSync(join(tmpdir(), "cjp-masa-"));
	let masa: ChildProcess;
	let port = 0;
	let log = "";
	let registrar: ReturnType<typeof loadRegistrarConfig>;
	let pledge: ReturnType<typeof loadPledgeConfig>;
	/** A device the manufacturer made but the MASA's ownership policy does not cover. */
	let unsold: ReturnType<typeof loadPledgeConfig>;
	let manufacturerCa = "";

	before(async () => {
		const pki = await initPki({ dir, pledges: 2 });
		registrar = loadRegistrarConfig(pki.registrarConfig);
		pledge = loadPledgeConfig(pki.pledgeDirs[0]!);
		unsold = loadPledgeConfig(pki.pledgeDirs[1]!);
		const masaJson = JSON.parse(readFileSync(pki.masaConfig, "utf8"));
		masaJson.serials = [pledge.serialNumber];
		writeFileSync(pki.masaConfig, JSON.stringify(masaJson));
		manufacturerCa = readFileSync(loadMasaConfig(pki.masaConfig).manufacturerCa, "utf8");
		masa = spawn(process.execPath, [CJP, "masa", "--config", pki.masaConfig, "--port", "0"], { stdio: ["ignore", "pipe", "pipe"] });
		masa.stderr!.on("data", (d: Buffer) => (log += d.toString()));
		const deadline = Date.now() + 20_000;
		while (!/listening on https:\/\/\[[^\]]*\]:(\d+)/.test(log)) {
			if (masa.exitCode !== null || Date.now() > deadline) throw new Error(`cjp masa did not start:\n${log}`);
			await new Promise((r) => setTimeout(r, 50));
		}
		port = Number(/listening on https:\/\/\[[^\]]*\]:(\d+)/.exec(log)![1]);
	});

	after(() => {
		if (masa.exitCode === null) masa.kill("SIGKILL");
		rmSync(dir, { recursive: true, force: true });
	});

	/** A PVR signed by the pledge's IDevID inside an RVR signed by the Registrar, x5bag as cBRSKI -30 says. */
	function rvr(device = pledge): Uint8Array {
		const serial = device.serialNumber;
		const nonce = crypto.sha256(new TextEncoder().encode(serial)).subarray(0, 16);
		const registrarCert = parseCertificate(ders(registrar.cert)[0]!);
		const idevid = parseCertificate(ders(device.idevid.cert)[0]!);
		const pvr = signCoseSign1(crypto, key(device.idevid.key), encodeVoucherRequest({ assertion: Assertion.proximity, nonce, proximityRegistrarPubk: registrarCert.publicKey.spki, serialNumber: serial }));
		const payload = encodeVoucherRequest({
			assertion: Assertion.proximity,
			createdOn: new Date().toISOString(),
			idevidIssuer: idevidIssuerOf(idevid, crypto),
			nonce,
			priorSignedVoucherRequest: encodeCoseSign1(pvr),
			serialNumber: serial,
		});
		return encodeCoseSign1(signCoseSign1(crypto, key(registrar.key), payload, { x5bag: [...registrar.chain.flatMap(ders), idevid.der] }));
	}

	function post(body: Uint8Array, headers: Record<string, string> = {}, clientCert = true, method = "POST"): Promise<Reply> {
		return new Promise((resolve, reject) => {
			const req = httpsRequest(
				{
					host: "::1",
					port,
					method,
					path: REQUEST_VOUCHER_PATH,
					ca: manufacturerCa,
					...(clientCert ? { cert: readFileSync(registrar.cert), key: readFileSync(registrar.key) } : {}),
					headers: { "content-type": "application/voucher+cose", accept: "application/voucher+cose", ...headers },
				},
				(res) => {
					const parts: Buffer[] = [];
					res.on("data", (c: Buffer) => parts.push(c));
					res.on("end", () => resolve({ status: res.statusCode!, type: String(res.headers["content-type"]), body: new Uint8Array(Buffer.concat(parts)) }));
				},
			);
			req.on("error", reject);
			req.end(method === "POST" ? body : undefined);
		});
	}

	it("a Registrar gets a voucher that pins its domain CA, signed by the voucher signer", async () => {
		const res = await post(rvr());
		assert.equal(res.status, 200, new TextDecoder().decode(res.body));
		assert.equal(res.type, "application/voucher+cose");
		const cose = decodeCoseSign1(res.body);
		const signer = parseCertificate(ders(pledge.voucherSigner)[0]!);
		assert.ok(verifyCoseSign1(crypto, signer.publicKey.bytes, cose));
		const v = decodeVoucher(cose.payload);
		assert.equal(v.serialNumber, pledge.serialNumber);
		assert.deepEqual(v.pinnedDomainCert, ders(registrar.domainCa.cert)[0]);
	});

	it("a device the MASA did not sell: 404", async () => {
		const res = await post(rvr(unsold));
		assert.equal(res.status, 404);
	});

	it("HTTP mistakes: 415 media type, 406 Accept, 413 size, 405 method", async () => {
		assert.equal((await post(rvr(), { "content-type": "application/json" })).status, 415);
		assert.equal((await post(rvr(), { accept: "text/html" })).status, 406);
		assert.equal((await post(new Uint8Array(40_000))).status, 413);
		assert.equal((await post(new Uint8Array(0), {}, true, "GET")).status, 405);
	});

	// Review F8: whatever fails inside a request is a 500, and the server lives on.
	it("a request whose handling throws gets 500 and the server keeps serving", async () => {
		const mc = loadMasaConfig(join(dir, "masa"));
		let calls = 0;
		const failing = { requestVoucher: () => (++calls === 1 ? Promise.reject(new Error("disk I/O error")) : Promise.resolve({ status: 404, contentType: "text/plain", body: new Uint8Array(0) })) };
		const server = await startMasaHttps({
			service: failing as unknown as MasaService,
			address: "::1",
			port: 0,
			cert: readFileSync(mc.tls.cert, "utf8"),
			key: readFileSync(mc.tls.key, "utf8"),
			clientAnchors: mc.tls.clientAnchors.map((f) => readFileSync(f, "utf8")),
			log: () => {},
		});
		const saved = port;
		port = server.port;
		try {
			assert.equal((await post(rvr())).status, 500);
			assert.equal((await post(rvr())).status, 404);
		} finally {
			port = saved;
			await server.close();
		}
	});

	it("without a client certificate there is no TLS session", async () => {
		await assert.rejects(post(rvr(), {}, false));
	});

	it("SIGTERM ends it within 2 s with exit 0, and the audit log is in SQLite", async () => {
		const t0 = Date.now();
		const exited = new Promise<number | null>((resolve) => masa.once("exit", (code) => resolve(code)));
		masa.kill("SIGTERM");
		assert.equal(await exited, 0);
		assert.ok(Date.now() - t0 < 2000, `exit took ${Date.now() - t0} ms`);
		const db = new Database(loadMasaConfig(join(dir, "masa")).database, { readonly: true });
		const rows = db.prepare("SELECT outcome, status, serial_number FROM audit ORDER BY id").all() as { outcome: string; status: number; serial_number: string }[];
		db.close();
		assert.deepEqual(rows.map((r) => [r.outcome, r.status, r.serial_number]), [
			["issued", 200, pledge.serialNumber],
			["refused", 404, unsold.serialNumber],
		]);
	});

	it("a bad configuration: one line, exit 2", async () => {
		const child = spawn(process.execPath, [CJP, "masa", "--config", join(dir, "nowhere")], { stdio: ["ignore", "pipe", "pipe"] });
		let err = "";
		child.stderr!.on("data", (d: Buffer) => (err += d.toString()));
		const code = await new Promise<number | null>((resolve) => child.once("exit", resolve));
		assert.equal(code, 2);
		assert.match(err.split("\n")[0]!, /no such file or folder/);
	});
});
