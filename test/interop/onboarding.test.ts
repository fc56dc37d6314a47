/*
 * cBRSKI onboarding end to end with real processes in network namespaces (issue 8, items 7a, 7c, 8, 9):
 * `cjp pledge` (link-local only) → `cjp joinproxy` → `cjp registrar` → `cjp masa` over HTTPS with
 * mutual TLS, all from one `cjp pki init`. Two join proxies run side by side, one per mode, each on its
 * own link to the pledges, so that `cjp pledge --iface pl0` onboards statefully and `--iface pl1`
 * statelessly, both by discovery (brski-jp=* at ff02::fd). The stateless proxy's link is a bridge,
 * which ten more pledge namespaces join for the crowd test, each pledge with an address of its own:
 *
 *   pledge ns  pl0 fe80::b ──────── jp0 fe80::a   jp-sf ns (stateful)   jr0 2001:db8:1::1 ── rg0 2001:db8:1::2  registrar ns
 *              pl1 fe80::c ──┐
 *   c1..c10 ns pl0 fe80::1N ─┴─ br0 fe80::a   jp-sl ns (stateless)  jr0 2001:db8:2::1 ── rg1 2001:db8:2::2  (Registrar + MASA)
 *
 * The MASA listens on [::]:9443 in the Registrar's namespace and is reached as https://[::1]:9443, the
 * IDevIDs' MASA URL (cjp pki init's default; its TLS certificate names ::1).
 *
 * Proven here: both modes enroll; the LDevID passes `openssl verify`; libcoap's coap-client-openssl,
 * authenticated with that LDevID, GETs /.well-known/est/crts through each proxy; the pledge's --json
 * traffic summary; the Registrar's enrollment and the MASA's audit rows; 10 pledges at once through the
 * stateless proxy; an unknown serial (4.04, exit 1); the MASA down at first (5.03, then a voucher on the
 * same session); each proxy restarted and the Registrar SIGKILLed and restarted mid-onboarding (the
 * pledge finishes on a second attempt; the database stays consistent); and tshark decodes the captured
 * DTLS 1.2 handshakes on the pledge links, and the Registrar-side traffic, without malformed packets.
 *
 * "Mid-onboarding" is made deterministic by stopping the MASA first: the pledge then sits in its
 * 5.03 Max-Age wait with its DTLS session open (after rv, before the voucher) while the proxy or the
 * Registrar is restarted; its next request on the old session goes unanswered, the attempt times out
 * (CoAP retransmissions, about 30 s) and the next one starts from a new handshake. The proxy and the
 * Registrar restarts share that wait, one after the other, to keep the test's run time down.
 *
 * The stateful proxy gets --max-per-address 4 (default 2): fe80::b is several pledges in turn, each
 * using two flows (the IDevID session, then the LDevID session for /es), and a flow that died in a
 * restart holds its slot for the 30 s idle expiry. The stateless proxy keeps its defaults.
 */

import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { execFileSync, type ChildProcess } from "node:child_process";
import { createECDH, createPrivateKey, createPublicKey, X509Certificate } from "node:crypto";
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import Database from "better-sqlite3";
import { Namespaces, netnsUnavailable } from "../node-lib/netns.js";
import { unavailable } from "../node-lib/unavailable.js";
import { CJP, startCjp, stopTimed, type CjpProcess } from "../node-lib/cjp-process.js";
import { DTLS_1_2, coapsUri, dtlsPackets, peersUnavailable, runCoapClient, startCapture, type Capture } from "../node-lib/coap-peers.js";
import { tsharkProblems } from "../node-lib/tshark.js";

const JOIN_PORT = 5684;
const REGISTRAR_JPY_PORT = 7634;
const SERIAL = {
	stateful: "PLEDGE-0001",
	stateless: "PLEDGE-0002",
	/** PLEDGE-0003 .. PLEDGE-0012, at once. */
	crowd: Array.from({ length: 10 }, (_, i) => `PLEDGE-${String(i + 3).padStart(4, "0")}`),
	/** Removed from the Registrar's policy (the MASA still knows it). */
	unknown: "PLEDGE-0013",
	masaDown: "PLEDGE-0014",
	proxyRestart: { stateful: "PLEDGE-0015", stateless: "PLEDGE-0016" },
	registrarKill: "PLEDGE-0017",
} as const;
const PLEDGES = 17;

type Mode = "stateful" | "stateless";
const MODES = ["stateful", "stateless"] as const;
const PLEDGE_IF: Record<Mode, string> = { stateful: "pl0", stateless: "pl1" };

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

function missingPeers(): string | undefined {
	return netnsUnavailable() ?? peersUnavailable([], ["coap-client-openssl", "openssl", "tshark"]);
}

interface Topology {
	pledge: string;
	/** One namespace per pledge of the crowd, each on the stateless proxy's bridge by its own pl0. */
	crowd: string[];
	proxy: Record<Mode, string>;
	/** Each proxy's pledge-facing interface. */
	proxyIf: Record<Mode, string>;
	registrar: string;
	/** The Registrar's address on each proxy's upstream link. */
	registrarAddress: Record<Mode, string>;
}

function topology(net: Namespaces): Topology {
	const pledge = net.add("pledge");
	const sf = net.add("jp-sf");
	const sl = net.add("jp-sl");
	const registrar = net.add("registrar");
	net.link(pledge, "pl0", "fe80::b", sf, "jp0", "fe80::a");
	net.bridge(sl, "br0", "fe80::a");
	net.linkToBridge(pledge, "pl1", "fe80::c", sl, "br0", "jp0");
	const crowd = SERIAL.crowd.map((_, i) => {
		const ns = net.add(`c${i + 1}`);
		net.linkToBridge(ns, "pl0", `fe80::1${i}`, sl, "br0", `jc${i + 1}`);
		return ns;
	});
	net.link(sf, "jr0", "fe80::1", registrar, "rg0", "fe80::2");
	net.link(sl, "jr0", "fe80::1", registrar, "rg1", "fe80::2");
	net.addAddress(sf, "jr0", "2001:db8:1::1/64");
	net.addAddress(registrar, "rg0", "2001:db8:1::2/64");
	net.addAddress(sl, "jr0", "2001:db8:2::1/64");
	net.addAddress(registrar, "rg1", "2001:db8:2::2/64");
	return { pledge, crowd, proxy: { stateful: sf, stateless: sl }, proxyIf: { stateful: "jp0", stateless: "br0" }, registrar, registrarAddress: { stateful: "2001:db8:1::2", stateless: "2001:db8:2::2" } };
}

/** What `cjp pledge --json` prints last. */
interface Traffic {
	datagramsSent: number;
	bytesSent: number;
	datagramsReceived: number;
	bytesReceived: number;
}
interface Summary {
	outcome: "enrolled" | "already-enrolled" | "failed";
	serialNumber: string;
	enrollStatusReported: boolean;
	error?: string;
	attempts: { proxy: string; outcome: string; lastState: string; delayedRetries: number; error?: string; traffic: Traffic }[];
	traffic: Traffic;
	durationMs: number;
	ldevidBytes: number;
}

interface PledgeRun {
	child: ChildProcess;
	out(): string;
	err(): string;
	/** Resolves when `text` appears on stdout or stderr. */
	waitFor(text: string | RegExp, timeoutMs?: number): Promise<void>;
	done: Promise<{ status: number | null; stdout: string; stderr: string; summary: Summary | undefined }>;
}

describe("cBRSKI onboarding end to end: cjp pledge → cjp joinproxy → cjp registrar → cjp masa", { timeout: 300_000 }, () => {
	const why = missingPeers();
	const net = new Namespaces("ob");
	const dir = mkdtempSync(join(tmpdir(), "cjp-onboarding-"));
	const pki = join(dir, "pki");
	let t: Topology;
	let masa: CjpProcess;
	let registrar: CjpProcess;
	const proxies = {} as Record<Mode, CjpProcess>;

	const pledgeDir = (serial: string): string => join(pki, "pledges", serial);
	const domainCa = (): string => join(pki, "registrar", "domain-ca.pem");

	const startMasa = (): Promise<CjpProcess> => startCjp(net, t.registrar, ["masa", "--config", join(pki, "masa")], "masa: listening on");
	const startRegistrar = (): Promise<CjpProcess> => startCjp(net, t.registrar, ["registrar", "--config", join(pki, "registrar")], "registrar: CoAPS port");
	const proxyArgs: Record<Mode, () => string[]> = {
		stateful: () => ["--mode", "stateful", "--registrar", `coaps://[${t.registrarAddress.stateful}]:5684`, "--max-per-address", "4"],
		stateless: () => ["--registrar", `jpy://[${t.registrarAddress.stateless}]:${REGISTRAR_JPY_PORT}`],
	};
	const startProxy = (mode: Mode): Promise<CjpProcess> =>
		startCjp(net, t.proxy[mode], ["joinproxy", "--pledge-iface", t.proxyIf[mode], "--registrar-iface", "jr0", "--join-port", String(JOIN_PORT), ...proxyArgs[mode]()], `${mode} relay to`);

	/** Starts `cjp pledge` for `serial`, discovering on the link to the `mode` proxy (in the pledge namespace unless `ns` says). */
	function pledge(serial: string, mode: Mode, o: { ns?: string; extra?: string[] } = {}): PledgeRun {
		const [ns, iface] = o.ns === undefined ? [t.pledge, PLEDGE_IF[mode]] : [o.ns, "pl0"];
		const child = net.spawn(ns, process.execPath, [CJP, "pledge", "--identity", pledgeDir(serial), "--iface", iface, "--json", "--log-level", "info", ...(o.extra ?? [])]);
		let out = "";
		let err = "";
		child.stdout!.on("data", (d: Buffer) => (out += d.toString()));
		child.stderr!.on("data", (d: Buffer) => (err += d.toString()));
		const done = new Promise<{ status: number | null; stdout: string; stderr: string; summary: Summary | undefined }>((resolve) =>
			child.once("close", (status) => {
				const last = out.trim().split("\n").at(-1) ?? "";
				resolve({ status, stdout: out, stderr: err, summary: last.startsWith("{") ? (JSON.parse(last) as Summary) : undefined });
			}),
		);
		const waitFor = async (text: string | RegExp, timeoutMs = 30_000): Promise<void> => {
			const deadline = Date.now() + timeoutMs;
			const seen = (): boolean => (typeof text === "string" ? (out + err).includes(text) : text.test(out + err));
			while (!seen()) {
				if (child.exitCode !== null || Date.now() > deadline) throw new Error(`pledge ${serial} never printed ${String(text)}:\n${err}${out}`);
				await sleep(25);
			}
		};
		return { child, out: () => out, err: () => err, waitFor, done };
	}

	function registrarDb<T>(query: (db: Database.Database) => T): T {
		const db = new Database(join(pki, "registrar", "registrar.db"), { readonly: true, fileMustExist: true });
		try {
			return query(db);
		} finally {
			db.close();
		}
	}

	function masaAudit(serial: string): { outcome: string; status: number }[] {
		const db = new Database(join(pki, "masa", "masa.db"), { readonly: true, fileMustExist: true });
		try {
			return db.prepare("SELECT outcome, status FROM audit WHERE serial_number = ? ORDER BY id").all(serial) as { outcome: string; status: number }[];
		} finally {
			db.close();
		}
	}

	/** The LDevID the pledge stored, as PEM, and its key as PKCS#8 PEM (host storage keeps DER and the raw scalar). */
	function ldevidFiles(serial: string): { cert: string; key: string } {
		const state = join(pledgeDir(serial), "state");
		const cert = join(dir, `${serial}-ldevid.pem`);
		const key = join(dir, `${serial}-ldevid.key`);
		writeFileSync(cert, new X509Certificate(readFileSync(join(state, "cbrski.ldevid"))).toString());
		const d = readFileSync(join(state, "cbrski.key"));
		const ecdh = createECDH("prime256v1");
		ecdh.setPrivateKey(d);
		const pub = ecdh.getPublicKey();
		const b64 = (b: Uint8Array): string => Buffer.from(b).toString("base64url");
		const jwk = { kty: "EC", crv: "P-256", d: b64(d), x: b64(pub.subarray(1, 33)), y: b64(pub.subarray(33)) };
		writeFileSync(key, createPrivateKey({ key: jwk, format: "jwk" }).export({ type: "pkcs8", format: "pem" }), { mode: 0o600 });
		return { cert, key };
	}

	function assertEnrolled(serial: string, r: Awaited<PledgeRun["done"]>): Summary {
		assert.equal(r.status, 0, `pledge ${serial}:\n${r.stderr}${r.stdout}`);
		const s = r.summary!;
		assert.equal(s.outcome, "enrolled");
		assert.equal(s.serialNumber, serial);
		assert.equal(s.enrollStatusReported, true, "the /es on the LDevID session was acknowledged");
		const v = execFileSync("openssl", ["verify", "-CAfile", domainCa(), ldevidFiles(serial).cert], { encoding: "utf8" });
		assert.match(v, /: OK\n$/);
		const rows = registrarDb((db) => db.prepare("SELECT certificate FROM enrollments WHERE serial_number = ?").all(serial) as { certificate: Buffer }[]);
		assert.ok(rows.length >= 1, `an enrollment row for ${serial}`);
		const stored = readFileSync(join(pledgeDir(serial), "state", "cbrski.ldevid"));
		assert.ok(rows.some((row) => Buffer.from(row.certificate).equals(stored)), "the Registrar recorded the LDevID the pledge stored");
		assert.ok(masaAudit(serial).some((a) => a.outcome === "issued" && a.status === 200), `the MASA audited a voucher for ${serial}`);
		return s;
	}

	/** Every table of the Registrar agrees: no enrollment without its certificate, no voucher without its request. */
	function assertConsistent(): void {
		const ca = new X509Certificate(readFileSync(domainCa()));
		registrarDb((db) => {
			for (const e of db.prepare("SELECT serial_number, certificate, certificate_serial FROM enrollments").all() as { serial_number: string; certificate: Buffer | null; certificate_serial: string }[]) {
				assert.ok(e.certificate !== null && e.certificate.length > 0, `enrollment of ${e.serial_number} has its certificate`);
				const cert = new X509Certificate(e.certificate);
				assert.ok(cert.checkIssued(ca) && cert.verify(ca.publicKey), `enrollment of ${e.serial_number}: issued by the domain CA`);
				assert.equal(cert.serialNumber.toLowerCase(), e.certificate_serial.toLowerCase());
				assert.match(cert.subject, new RegExp(`serialNumber=${e.serial_number}`));
			}
			const orphans = db.prepare(`SELECT v.id FROM vouchers v LEFT JOIN voucher_requests r ON r.id = v.voucher_request_id
				WHERE r.id IS NULL OR r.serial_number <> v.serial_number OR r.outcome NOT LIKE '2.04%'`).all();
			assert.deepEqual(orphans, [], "every voucher belongs to a voucher request answered 2.04");
			const enrolledWithout = db.prepare(`SELECT d.serial_number FROM devices d WHERE d.state IN ('enrolled', 'enroll-confirmed')
				AND NOT EXISTS (SELECT 1 FROM enrollments e WHERE e.serial_number = d.serial_number)`).all();
			assert.deepEqual(enrolledWithout, [], "every enrolled device has an enrollment");
			const pending = db.prepare("SELECT serial_number FROM voucher_requests WHERE outcome = 'pending'").all();
			assert.deepEqual(pending, [], "no voucher request left pending");
		});
	}

	/** Stops the MASA, runs `during` while it is down, and starts it again. */
	async function withMasaDown(during: () => Promise<void>): Promise<void> {
		await stopTimed(masa);
		try {
			await during();
		} finally {
			masa = await startMasa();
		}
	}

	before(async () => {
		if (why !== undefined) return;
		t = topology(net);
		execFileSync(process.execPath, [CJP, "pki", "init", pki, "--pledges", String(PLEDGES)], { stdio: ["ignore", "ignore", "pipe"] });
		const file = join(pki, "registrar", "config.json");
		const config = JSON.parse(readFileSync(file, "utf8"));
		config.manufacturers[0].serials = config.manufacturers[0].serials.filter((s: string) => s !== SERIAL.unknown);
		writeFileSync(file, JSON.stringify(config, null, "\t"));
		[masa, registrar, proxies.stateful, proxies.stateless] = await Promise.all([startMasa(), startRegistrar(), startProxy("stateful"), startProxy("stateless")]);
	});

	after(() => {
		net.close();
		rmSync(dir, { recursive: true, force: true });
	});

	const captures: Partial<Record<Mode, { pledge: Capture; registrar: Capture }>> = {};

	it("both modes: each pledge discovers its proxy and enrolls; --json counts datagrams and bytes; the databases record it", async (tc) => {
		if (unavailable(tc, why)) return;
		await Promise.all(
			MODES.map(async (mode) => {
				const [pledgeSide, registrarSide] = await Promise.all([
					startCapture(net, t.proxy[mode], t.proxyIf[mode], join(dir, `${mode}-pledge.pcap`)),
					startCapture(net, t.proxy[mode], "jr0", join(dir, `${mode}-registrar.pcap`)),
				]);
				captures[mode] = { pledge: pledgeSide, registrar: registrarSide };
			}),
		);
		const [sf, sl] = await Promise.all([pledge(SERIAL.stateful, "stateful").done, pledge(SERIAL.stateless, "stateless").done]);
		for (const c of Object.values(captures)) await Promise.all([c.pledge.stop(), c.registrar.stop()]);
		for (const [mode, serial, r] of [["stateful", SERIAL.stateful, sf], ["stateless", SERIAL.stateless, sl]] as const) {
			const s = assertEnrolled(serial, r);
			assert.equal(s.attempts.length, 1);
			assert.equal(s.attempts[0]!.proxy, `[fe80::a%${PLEDGE_IF[mode]}]:${JOIN_PORT}`);
			for (const step of ["discovering", "connecting", "requesting-voucher", "validating-voucher", "voucher-status", "fetching-ca-certs", "enrolling", "storing", "enroll-status", "enrolled"]) {
				assert.match(r.stdout, new RegExp(`^${step}:`, "m"), `a line for ${step}`);
			}
			const a = s.attempts[0]!.traffic;
			// One DTLS handshake with certificates both ways, rv/vs/crts/sen, then a second handshake and es: well over 10 datagrams each way.
			assert.ok(a.datagramsSent >= 10 && a.datagramsReceived >= 10 && a.bytesSent > 2000 && a.bytesReceived > 3000, JSON.stringify(a));
			assert.ok(s.traffic.datagramsSent > a.datagramsSent, "the total also counts discovery");
			tc.diagnostic(`${mode}: onboarding ${JSON.stringify(a)}; with discovery ${JSON.stringify(s.traffic)}`);
			const device = registrarDb((db) => db.prepare("SELECT state FROM devices WHERE serial_number = ?").get(serial) as { state: string });
			assert.equal(device.state, "enroll-confirmed", "enrolled, and the /es success recorded");
		}
	});

	it("tshark decodes both DTLS 1.2 handshakes on the pledge links, and the Registrar side, without malformed packets", async (tc) => {
		if (unavailable(tc, why)) return;
		for (const mode of MODES) {
			const c = captures[mode]!;
			const packets = dtlsPackets(c.pledge.file, [JOIN_PORT]);
			const types = new Set(packets.flatMap((p) => p.handshakeTypes));
			// ClientHello, ServerHello, HelloVerifyRequest, Certificate, ServerKeyExchange, CertificateRequest, ServerHelloDone, CertificateVerify, ClientKeyExchange
			for (const type of [1, 2, 3, 11, 12, 13, 14, 15, 16]) assert.ok(types.has(type), `${mode}: handshake type ${type} decoded on the pledge link (saw ${[...types]})`);
			const serverHellos = packets.filter((p) => p.handshakeTypes.includes(2));
			assert.equal(serverHellos.length, 2, `${mode}: two handshakes (IDevID session, LDevID session)`);
			for (const h of serverHellos) assert.equal(h.helloVersions[0], DTLS_1_2);
			assert.ok(packets.some((p) => p.contentTypes.includes(23)), "application data");
			assert.deepEqual(tsharkProblems(c.pledge.file, [JOIN_PORT]), [], `${mode}: pledge link`);
			// Upstream: CoAPS to the Registrar (stateful, decoded as DTLS too), or JPY as plain UDP (stateless).
			if (mode === "stateful") {
				const up = dtlsPackets(c.registrar.file, [5684]);
				assert.ok(up.some((p) => p.handshakeTypes.includes(1)) && up.some((p) => p.handshakeTypes.includes(11)), "the same handshake on the Registrar side");
				assert.deepEqual(tsharkProblems(c.registrar.file, [5684]), []);
			} else {
				assert.deepEqual(tsharkProblems(c.registrar.file, [], [REGISTRAR_JPY_PORT]), []);
			}
		}
	});

	it("libcoap's coap-client-openssl, authenticated with each new LDevID, GETs /.well-known/est/crts through each proxy", async (tc) => {
		if (unavailable(tc, why)) return;
		const ca = new X509Certificate(readFileSync(domainCa())).raw;
		for (const [mode, serial] of [["stateful", SERIAL.stateful], ["stateless", SERIAL.stateless]] as const) {
			const { cert, key } = ldevidFiles(serial);
			const r = await runCoapClient(net, {
				lib: "openssl",
				ns: t.pledge,
				bind: `${mode === "stateful" ? "fe80::b" : "fe80::c"}%${PLEDGE_IF[mode]}`,
				uri: coapsUri("fe80::a", JOIN_PORT, "/.well-known/est/crts"),
				noPki: true,
				extraArgs: ["-c", cert, "-j", key, "-C", domainCa(), "-A", "287"],
			});
			assert.ok(r.ok, `${mode}: ${r.stderr}${r.stdout}`);
			assert.ok(r.body!.equals(ca), `${mode}: the domain CA certificate`);
			assert.match(registrar.err(), new RegExp(`LDevID ${serial}`), "the Registrar saw an LDevID session");
		}
	});

	it("re-enrollment by peers we did not write: a CSR from `openssl req` POSTed to /sren by coap-client-openssl with the LDevID; the new certificate passes openssl verify", async (tc) => {
		if (unavailable(tc, why)) return;
		const serial = SERIAL.stateless;
		const { cert, key } = ldevidFiles(serial);
		const newKey = join(dir, `${serial}-renewed.key`);
		const csr = join(dir, `${serial}-renewed.csr`);
		const renewed = join(dir, `${serial}-renewed.pem`);
		// The CSR subject must be the LDevID's, byte for byte: OpenSSL's "default" string mask keeps PrintableString.
		const config = join(dir, "req.cnf");
		writeFileSync(config, "[req]\ndistinguished_name = dn\nstring_mask = default\n[dn]\n");
		const subject = execFileSync("openssl", ["x509", "-in", cert, "-noout", "-subject", "-nameopt", "compat"], { encoding: "utf8" }).trim().replace(/^subject=/, "");
		execFileSync("openssl", ["ecparam", "-name", "prime256v1", "-genkey", "-noout", "-out", newKey]);
		execFileSync("openssl", ["req", "-new", "-config", config, "-key", newKey, "-subj", subject, "-outform", "DER", "-out", csr]);
		const r = await runCoapClient(net, {
			lib: "openssl",
			ns: t.pledge,
			bind: `fe80::c%${PLEDGE_IF.stateless}`,
			uri: coapsUri("fe80::a", JOIN_PORT, "/.well-known/est/sren"),
			method: "post",
			payloadFile: csr,
			blockSize: 256,
			noPki: true,
			extraArgs: ["-c", cert, "-j", key, "-C", domainCa(), "-t", "286", "-A", "287"],
		});
		assert.ok(r.ok, `${r.stderr}${r.stdout}`);
		const issued = new X509Certificate(r.body!);
		writeFileSync(renewed, issued.toString());
		assert.match(execFileSync("openssl", ["verify", "-CAfile", domainCa(), renewed], { encoding: "utf8" }), /OK/);
		assert.equal(issued.subject, new X509Certificate(readFileSync(cert)).subject);
		assert.ok(issued.publicKey.equals(createPublicKey(readFileSync(newKey))), "the new certificate carries the CSR's new key");
	});

	it("10 pledges at once through the stateless proxy all enroll", async (tc) => {
		if (unavailable(tc, why)) return;
		const started = Date.now();
		const runs = await Promise.all(SERIAL.crowd.map((s, i) => pledge(s, "stateless", { ns: t.crowd[i]! }).done));
		runs.forEach((r, i) => assertEnrolled(SERIAL.crowd[i]!, r));
		tc.diagnostic(`10 pledges: ${Date.now() - started} ms; attempts ${runs.map((r) => r.summary!.attempts.length).join(",")}`);
		tc.diagnostic(`pledge run times (ms, after start-up): ${runs.map((r) => Math.round(r.summary!.durationMs)).join(", ")}`);
		const enrolled = registrarDb((db) => db.prepare(`SELECT COUNT(DISTINCT serial_number) AS n FROM enrollments WHERE serial_number IN (${SERIAL.crowd.map(() => "?").join(",")})`).get(...SERIAL.crowd) as { n: number });
		assert.equal(enrolled.n, 10);
	});

	it("an unknown serial: the Registrar answers 4.04, the pledge exits 1 saying so, nothing is enrolled", async (tc) => {
		if (unavailable(tc, why)) return;
		const r = await pledge(SERIAL.unknown, "stateless", { extra: ["--max-attempts", "1"] }).done;
		assert.equal(r.status, 1, r.stderr);
		assert.match(r.stderr, /onboarding failed: refused: the Registrar answered 4\.04 to the voucher request/);
		assert.equal(r.summary!.outcome, "failed");
		assert.match(registrar.err(), new RegExp(`serial ${SERIAL.unknown} is not accepted`));
		assert.equal(existsSync(join(pledgeDir(SERIAL.unknown), "state", "cbrski.enrolled")), false);
		registrarDb((db) => {
			assert.deepEqual(db.prepare("SELECT outcome FROM voucher_requests WHERE serial_number = ?").all(SERIAL.unknown), [{ outcome: "4.04" }]);
			assert.deepEqual(db.prepare("SELECT id FROM enrollments WHERE serial_number = ?").all(SERIAL.unknown), []);
			assert.deepEqual(db.prepare("SELECT state FROM devices WHERE serial_number = ?").get(SERIAL.unknown), { state: "refused" });
		});
		assert.deepEqual(masaAudit(SERIAL.unknown), [], "the MASA was never asked");
	});

	it("the MASA down at first: 5.03 with Max-Age, then the voucher on the same session once it is back", async (tc) => {
		if (unavailable(tc, why)) return;
		let run: PledgeRun | undefined;
		await withMasaDown(async () => {
			run = pledge(SERIAL.masaDown, "stateless");
			await run.waitFor(/5\.03 Service Unavailable, Max-Age \d+ s/);
			await sleep(2000);
		});
		const r = await run!.done;
		const s = assertEnrolled(SERIAL.masaDown, r);
		assert.equal(s.attempts.length, 1, "no new attempt: the same request again after Max-Age");
		assert.ok(s.attempts[0]!.delayedRetries >= 1);
		const outcomes = registrarDb((db) => (db.prepare("SELECT outcome FROM voucher_requests WHERE serial_number = ? ORDER BY id").all(SERIAL.masaDown) as { outcome: string }[]).map((o) => o.outcome));
		assert.equal(outcomes.at(-1), "2.04");
		assert.ok(outcomes.slice(0, -1).length >= 1 && outcomes.slice(0, -1).every((o) => o === "5.03"), outcomes.join(","));
		assertConsistent();
	});

	it("restarts mid-onboarding: each join proxy, then the Registrar (SIGKILL each); every pledge finishes on a second attempt, the database stays consistent", async (tc) => {
		if (unavailable(tc, why)) return;
		const viaProxy = {} as Record<Mode, PledgeRun>;
		let viaRegistrar: PledgeRun | undefined;
		const kill = async (p: CjpProcess): Promise<void> => {
			const exited = new Promise((r) => p.child.once("exit", r));
			p.child.kill("SIGKILL");
			await exited;
		};
		await withMasaDown(async () => {
			for (const mode of MODES) viaProxy[mode] = pledge(SERIAL.proxyRestart[mode], mode);
			for (const mode of MODES) await viaProxy[mode].waitFor(/5\.03 Service Unavailable/);
			await Promise.all(MODES.map(async (mode) => {
				await kill(proxies[mode]);
				proxies[mode] = await startProxy(mode);
			}));
			// Those two sessions died with their proxies. Now one through a proxy that stays up, and the Registrar goes.
			viaRegistrar = pledge(SERIAL.registrarKill, "stateless");
			await viaRegistrar.waitFor(/5\.03 Service Unavailable/);
			await kill(registrar);
			registrar = await startRegistrar();
		});
		const runs: [string, PledgeRun][] = [...MODES.map((m): [string, PledgeRun] => [SERIAL.proxyRestart[m], viaProxy[m]]), [SERIAL.registrarKill, viaRegistrar!]];
		for (const [serial, run] of runs) {
			const s = assertEnrolled(serial, await run.done);
			assert.equal(s.attempts.length, 2, `${serial}: ${JSON.stringify(s.attempts)}`);
			assert.equal(s.attempts[0]!.outcome, "coap", `${serial}: the old session's request went unanswered`);
			assert.equal(s.attempts[0]!.lastState, "requesting-voucher");
		}
		assertConsistent();
		// Everything enrolled before the kill is still there (one of them since re-enrolled by coap-client), and nothing else.
		const serials = [SERIAL.stateful, SERIAL.stateless, ...SERIAL.crowd, SERIAL.masaDown, ...Object.values(SERIAL.proxyRestart), SERIAL.registrarKill];
		const enrolled = registrarDb((db) => (db.prepare("SELECT serial_number FROM devices WHERE state IN ('enrolled', 'enroll-confirmed') ORDER BY serial_number").all() as { serial_number: string }[]).map((d) => d.serial_number));
		assert.deepEqual(enrolled, [...serials].sort());
	});
});
