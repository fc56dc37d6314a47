/*
 * `cjp registrar` as a process on loopback with `cjp pki init`'s PKI, and peers nobody here wrote:
 * coap-client-openssl with a pledge IDevID fetches /.well-known/est/crts (multipart-core and the
 * single DER certificate), and POSTs a CSR made by `openssl req` to /sen, which is refused without a
 * voucher on the association (review F3). Also: --help, a bad configuration (one line, exit
 * 2), and exit within 2 s of SIGTERM.
 */

import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { createSocket } from "node:dgram";
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { ContentFormat } from "../../modules/coap/constants.js";
import { decodeMultipartCore } from "../../modules/est/multipart-core.js";
import { pemToDer } from "../../modules/util/base64.js";
import { initPki } from "../../src/pki/init.js";
import { findBinary, peersUnavailable } from "../node-lib/coap-peers.js";
import { unavailable } from "../node-lib/unavailable.js";

const CJP = fileURLToPath(new URL("../../bin/cjp.js", import.meta.url));
const missing = peersUnavailable([], ["coap-client-openssl", "openssl"]);

async function freeUdpPort(): Promise<number> {
	const s = createSocket("udp6");
	await new Promise<void>((r) => s.bind(0, "::1", r));
	const port = s.address().port;
	s.close();
	return port;
}

describe("cjp registrar with coap-client-openssl and openssl", () => {
	const dir = mkdtempSync(join(tmpdir(), "cjp-registrar-cli-"));
	let child: ChildProcess | undefined;
	let log = "";
	let port = 0;
	let registrarConfig = "";

	before(async () => {
		const pki = await initPki({ dir, pledges: 1 });
		registrarConfig = pki.registrarConfig;
		const json = JSON.parse(readFileSync(registrarConfig, "utf8"));
		port = await freeUdpPort();
		json.coaps = { address: "::1", port };
		json.jpy = { address: "::1", port: await freeUdpPort() };
		writeFileSync(registrarConfig, JSON.stringify(json));
		child = spawn(process.execPath, [CJP, "registrar", "--config", registrarConfig, "--log-level", "info"], { stdio: ["ignore", "pipe", "pipe"] });
		child.stderr!.on("data", (d: Buffer) => (log += d.toString()));
		const deadline = Date.now() + 20_000;
		while (!/registrar: CoAPS port/.test(log)) {
			if (child.exitCode !== null || Date.now() > deadline) throw new Error(`cjp registrar did not start:\n${log}`);
			await new Promise((r) => setTimeout(r, 50));
		}
	});

	after(() => {
		if (child !== undefined && child.exitCode === null) child.kill("SIGKILL");
		rmSync(dir, { recursive: true, force: true });
	});

	const pledge = () => join(dir, "pledges", "PLEDGE-0001");
	const domainCa = () => join(dir, "registrar", "domain-ca.pem");
	function coapClient(args: string[]): { body: Buffer | undefined; out: string } {
		const out = join(dir, `out-${Math.random().toString(36).slice(2)}`);
		const r = spawnSync(findBinary("coap-client-openssl")!, ["-B", "20", "-o", out, "-c", join(pledge(), "idevid.pem"), "-j", join(pledge(), "idevid.key"), "-C", domainCa(), ...args], { encoding: "utf8", timeout: 30_000 });
		return { body: existsSync(out) ? readFileSync(out) : undefined, out: `${r.stdout}${r.stderr}` };
	}

	it("coap-client-openssl with the pledge's IDevID fetches /crts (62 and 287)", (t) => {
		if (unavailable(t, missing)) return;
		const ca = pemToDer(readFileSync(domainCa(), "utf8"))[0]!;
		const mp = coapClient(["-A", String(ContentFormat.MultipartCore), "-b", "256", `coaps://[::1]:${port}/.well-known/est/crts`]);
		assert.ok(mp.body !== undefined, mp.out);
		const parts = decodeMultipartCore(new Uint8Array(mp.body));
		assert.deepEqual(parts.map((p) => p.contentFormat), [ContentFormat.PkixCert]);
		assert.deepEqual(parts[0]!.body, ca);
		const one = coapClient(["-A", String(ContentFormat.PkixCert), `coaps://[::1]:${port}/.well-known/est/crts`]);
		assert.deepEqual(new Uint8Array(one.body ?? []), ca, one.out);
	});

	// Review F3: enrollment follows a voucher on the same DTLS association, which a one-shot
	// coap-client cannot have: its /sen is refused and logged. (The LDevID path itself, and `openssl
	// verify` of the result, are in test/registrar.test.ts.)
	it("a CSR from `openssl req` POSTed to /sen by coap-client without a voucher: 4.03, logged", async (t) => {
		if (unavailable(t, missing)) return;
		const csr = join(dir, "csr.der");
		const r = spawnSync("openssl", ["req", "-new", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-keyout", join(dir, "ldevid.key"), "-subj", "/O=cjp manufacturer/CN=cjp pledge PLEDGE-0001/serialNumber=PLEDGE-0001", "-outform", "DER", "-out", csr], { encoding: "utf8" });
		assert.equal(r.status, 0, r.stderr);
		const refused = coapClient(["-m", "post", "-t", String(ContentFormat.Pkcs10), "-A", String(ContentFormat.PkixCert), "-b", "256", "-f", csr, `coaps://[::1]:${port}/.well-known/est/sen`]);
		assert.match(refused.out, /4\.03/);
		// spawnSync held our event loop: let the Registrar's stderr arrive.
		const refusal = /\/sen refused for IDevID PLEDGE-0001 via .*: 4\.03 no voucher for this device on this association/;
		for (let i = 0; i < 100 && !refusal.test(log); i++) await new Promise((r) => setTimeout(r, 20));
		assert.match(log, refusal);
	});

	it("--help, a bad configuration (one line, exit 2), and SIGTERM ends it within 2 s", async () => {
		const help = spawnSync(process.execPath, [CJP, "registrar", "--help"], { encoding: "utf8" });
		assert.equal(help.status, 0);
		assert.match(help.stdout, /--discovery-iface/);
		const bad = join(dir, "bad.json");
		writeFileSync(bad, JSON.stringify({ kind: "cjp-registrar", version: 1 }));
		const r = spawnSync(process.execPath, [CJP, "registrar", "--config", bad], { encoding: "utf8" });
		assert.equal(r.status, 2);
		assert.equal(r.stderr.trim().split("\n")[0], `cjp registrar: ${bad}: domainCa: must be an object`);
		const started = Date.now();
		child!.kill("SIGTERM");
		const code = await new Promise<number | null>((res) => child!.once("exit", (c) => res(c)));
		assert.equal(code, 0);
		assert.ok(Date.now() - started < 2000, `exited after ${Date.now() - started} ms`);
	});
});
