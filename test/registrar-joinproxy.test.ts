/*
 * The Registrar through our Join Proxy on the in-memory network (hosts/xs), in both modes: the
 * proxy finds the Registrar by its own discovery at ff05::fd (rt=brski.rjp for stateless, rt=brski
 * for stateful, answered by the Registrar), and a pledge built from the existing blocks runs
 * rv → vs → sen → es through it. The MASA is src/masa's, in process; the database in memory.
 * Certificate issuing (WebCrypto) completes in real time, so the clock is advanced in small steps
 * with real I/O turns between them.
 */

import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ManualClock, MemoryNetwork, createXsHost } from "../hosts/xs/index.js";
import { createNodeCrypto } from "../hosts/node/crypto.js";
import { Code, ContentFormat } from "../modules/coap/constants.js";
import { pemToDer } from "../modules/util/base64.js";
import { parseCertificate } from "../modules/x509/certificate.js";
import { parseEcPrivateKey } from "../modules/x509/private-key.js";
import { JoinProxy } from "../src/joinproxy/join-proxy.js";
import { startMasaFromConfig, type RunningMasa } from "../src/masa/from-config.js";
import { loadMasaConfig, loadRegistrarConfig, type RegistrarConfig } from "../src/pki/config.js";
import { initPki } from "../src/pki/init.js";
import { MemoryRegistrarDatabase } from "../src/registrar/database.js";
import { inProcessMasaClient } from "../src/registrar/masa-client.js";
import { domainCaIssuer } from "../src/registrar/node-registrar.js";
import { Registrar } from "../src/registrar/registrar.js";
import { flush } from "./lib/drive.js";
import { connect, loadPledge, makeCsr, makePvr, post, requestVoucher, telemetry } from "./node-lib/test-pledge.js";

const REGISTRAR = "2001:db8::2";
const crypto = createNodeCrypto();
let dir: string;
let config: RegistrarConfig;
let masa: RunningMasa;

/** Runs `clock` until `promise` settles, at most 50 ms of clock time per turn of the real event loop. */
async function drive<T>(clock: ManualClock, promise: Promise<T>, maxMs = 600_000): Promise<T> {
	let settled = false;
	promise.then(() => (settled = true), () => (settled = true));
	const end = clock.now() + maxMs;
	while (!settled) {
		await new Promise((r) => setImmediate(r));
		await flush();
		if (settled) break;
		if (clock.now() >= end) throw new Error(`still pending after ${maxMs} ms of clock time`);
		const due = clock.nextDue();
		clock.advance(due === undefined ? 50 : Math.min(50, Math.max(0, due - clock.now())));
	}
	return promise;
}

before(async () => {
	dir = mkdtempSync(join(tmpdir(), "cjp-registrar-jp-"));
	const pki = await initPki({ dir, pledges: 1 });
	config = loadRegistrarConfig(pki.registrarConfig);
	masa = await startMasaFromConfig({ ...loadMasaConfig(pki.masaConfig), listen: { address: "::1", port: 0 } }, () => {});
});

after(async () => {
	await masa.close();
	rmSync(dir, { recursive: true, force: true });
});

describe("Registrar behind our Join Proxy (in-memory network)", () => {
	for (const mode of ["stateful", "stateless"] as const) {
		it(`${mode}: the proxy discovers the Registrar at ff05::fd; rv → vs → sen → es through it`, async () => {
			const clock = new ManualClock();
			const net = new MemoryNetwork({ clock });
			const proxyHost = createXsHost({ network: net, name: "proxy", interfaces: [{ name: "wpan0", link: "mesh", addresses: ["fe80::1"] }, { name: "eth0", link: "lan", addresses: ["2001:db8::1"] }] });
			const registrarHost = createXsHost({ network: net, name: "registrar", interfaces: [{ name: "eth0", link: "lan", addresses: [REGISTRAR] }] });
			const pledgeHost = createXsHost({ network: net, name: "pledge", interfaces: [{ name: "wpan0", link: "mesh", addresses: ["fe80::2"] }] });
			const chain = config.chain.map((f) => pemToDer(readFileSync(f, "utf8"))[0]!);
			const db = new MemoryRegistrarDatabase();
			const registrar = await drive(
				clock,
				Registrar.start({
					host: registrarHost,
					crypto,
					identity: { chain, privateKey: parseEcPrivateKey(pemToDer(readFileSync(config.key, "utf8"))[0]!) },
					domainCa: pemToDer(readFileSync(config.domainCa.cert, "utf8")),
					issueLdevid: await domainCaIssuer(config),
					masaClient: inProcessMasaClient(masa.service, chain[0]!),
					db,
					manufacturers: [{ name: "m", anchors: pemToDer(readFileSync(config.manufacturers[0]!.anchor, "utf8")), voucherAnchors: config.manufacturers[0]!.voucherAnchors.flatMap((f) => pemToDer(readFileSync(f, "utf8"))), masaTlsAnchors: [], masaUrl: null, serials: "*" }],
					coaps: { port: 5684 },
					jpy: { port: 7634 },
					discovery: { zone: "eth0", address: REGISTRAR, leisureMs: 100 },
				}),
			);
			const proxy = await drive(clock, JoinProxy.start({ host: proxyHost, mode, pledgeInterfaces: [{ name: "wpan0", address: "fe80::1" }], discovery: { zone: "eth0", leisureMs: 500 }, answerDiscovery: false }));
			try {
				assert.deepEqual(proxy.stats().registrars.map((r) => [r.address, r.port, r.mode]), [[REGISTRAR, mode === "stateful" ? 5684 : 7634, mode]]);
				const joinPort = { address: "fe80::1", port: proxy.stats().registrars[0]!.joinPort, zone: "wpan0" };
				const pledge = loadPledge(join(dir, "pledges", "PLEDGE-0001"));
				const s = await drive(clock, connect(pledgeHost, crypto, joinPort, pledge));
				try {
					const sleep = (ms: number) => new Promise<void>((r) => { const t = clock.timer(() => r()); t.arm(ms); });
					const { response } = await drive(clock, requestVoucher(s, makePvr(crypto, pledge, s.registrarChain[0]!), 10, sleep));
					assert.equal(response.code, Code.Changed);
					assert.equal((await drive(clock, post(s, "/.well-known/brski/vs", telemetry(true), ContentFormat.Cbor))).code, Code.Changed);
					const sen = await drive(clock, post(s, "/.well-known/est/sen", makeCsr(crypto, pledge.chain[0]!).csr, ContentFormat.Pkcs10, ContentFormat.PkixCert));
					assert.equal(sen.code, Code.Changed);
					assert.equal(parseCertificate(sen.payload).issuer.der.length > 0, true);
					assert.equal((await drive(clock, post(s, "/.well-known/brski/es", telemetry(true), ContentFormat.Cbor))).code, Code.Changed);
				} finally {
					s.client.close();
				}
				assert.equal(db.device("PLEDGE-0001")?.state, "enroll-confirmed");
				const st = registrar.stats();
				if (mode === "stateless") assert.ok(st.jpy!.sessionsOpened >= 1);
				else assert.equal(st.jpy!.sessionsOpened, 0);
				assert.equal(st.dtls.accepted, 1);
			} finally {
				proxy.close();
				registrar.close();
			}
		});
	}
});
