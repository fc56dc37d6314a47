import { suite } from "../lib/harness.js";
import { deepEqual, equal, ok } from "../lib/assert.js";
import { until } from "../lib/drive.js";
import { ManualClock, MemoryNetwork, SeededRandom, createXsHost } from "../../hosts/xs/index.js";
import type { Host, UdpPeer } from "../../hosts/host.js";
import { JoinProxy } from "../../src/joinproxy/join-proxy.js";
import { Pledge, type PledgeOptions, type PledgeResult, type PledgeState } from "../../src/pledge/pledge.js";
import { CredentialStore, StorageKey } from "../../src/pledge/credential-store.js";
import { joinPortsOf } from "../../src/pledge/discovery.js";
import { createNobleCrypto } from "../../modules/crypto/noble-provider.js";
import { Code, ContentFormat, Opt } from "../../modules/coap/constants.js";
import { option } from "../../modules/coap/message.js";
import type { CoapRequest, CoapResponse } from "../../modules/coap/endpoint.js";
import { decodeCoseSign1, encodeCoseSign1, signCoseSign1 } from "../../modules/cose/sign1.js";
import { Assertion, decodeVoucherRequest, encodeVoucher } from "../../modules/voucher/voucher.js";
import { parseCertificate } from "../../modules/x509/certificate.js";
import { verifyChain } from "../../modules/x509/chain.js";
import { bytesEqual } from "../../modules/util/hex.js";
import { utf8Encode } from "../../modules/util/utf8.js";
import { certDer, privateKey } from "../lib/cbrski-vectors.js";
import { REGISTRAR_COAPS_PORT, REGISTRAR_JPY_PORT, TestRegistrar, type TestRegistrarOptions } from "../lib/test-registrar.js";

const REGISTRAR = "2001:db8::2";
type Mode = "stateful" | "stateless";

interface World {
	clock: ManualClock;
	registrar: TestRegistrar;
	proxies: JoinProxy[];
	pledgeHost: Host;
	logs: string[];
	pledge(extra?: Partial<PledgeOptions>): Pledge;
	close(): void;
}

/** Two join proxies (fe80::1, fe80::3) on the pledge's mesh, both relaying to one test Registrar. */
async function world(mode: Mode, registrarOptions: Omit<TestRegistrarOptions, "host"> = {}): Promise<World> {
	const clock = new ManualClock();
	const net = new MemoryNetwork({ clock });
	const logs: string[] = [];
	const registrarHost = createXsHost({ network: net, name: "registrar", interfaces: [{ name: "eth0", link: "backbone", addresses: ["fe80::e2", REGISTRAR] }] });
	const registrar = await until(clock, TestRegistrar.start({ host: registrarHost, ...registrarOptions }));
	const proxies: JoinProxy[] = [];
	for (const n of [1, 3]) {
		const host = createXsHost({
			network: net,
			name: `proxy${n}`,
			interfaces: [
				{ name: "wpan0", link: "mesh", addresses: [`fe80::${n}`] },
				{ name: "eth0", link: "backbone", addresses: [`fe80::e${n}`, `2001:db8::${n}`] },
			],
		});
		const port = mode === "stateful" ? REGISTRAR_COAPS_PORT : REGISTRAR_JPY_PORT;
		proxies.push(await until(clock, JoinProxy.start({ host, pledgeInterfaces: [{ name: "wpan0" }], registrars: [{ address: REGISTRAR, port, mode }], discoveryLeisureMs: 200 })));
	}
	const pledgeHost = createXsHost({ network: net, name: "pledge", interfaces: [{ name: "wpan0", link: "mesh", addresses: ["fe80::101"] }], log: (level, m) => logs.push(`${level} ${m}`) });
	const crypto = createNobleCrypto((b) => pledgeHost.random(b));
	return {
		clock,
		registrar,
		proxies,
		pledgeHost,
		logs,
		pledge: (extra = {}) =>
			new Pledge({
				host: pledgeHost,
				crypto,
				idevid: { certificates: [certDer("cert-pledge.pem")], privateKey: privateKey("key-pledge.pem") },
				masaTrustAnchors: [certDer("cert-masa_ca.pem")],
				interfaces: ["wpan0"],
				timing: { discoveryLeisureMs: 500 },
				maxAttempts: 4,
				...extra,
			}),
		close: () => {
			registrar.close();
			for (const p of proxies) p.close();
		},
	};
}

const JOIN_PORT_1: UdpPeer = { address: "fe80::1", port: 5684, zone: "wpan0" };
const NOBODY: UdpPeer = { address: "fe80::99", port: 5684, zone: "wpan0" };

/** The stored enrollment is whole: the LDevID chains to the stored domain anchor and matches the result. */
function checkStored(w: World, r: PledgeResult): void {
	const stored = new CredentialStore(w.pledgeHost.storage).load();
	ok(stored !== undefined, "enrollment stored");
	ok(r.ldevid !== undefined && bytesEqual(stored.ldevid, r.ldevid), "stored LDevID is the one returned");
	equal(stored.anchors.length, 1);
	ok(bytesEqual(stored.anchors[0]!, certDer("cert-domain_ca.pem")), "the domain CA is the trust anchor");
	const chain = verifyChain([parseCertificate(stored.ldevid)], [parseCertificate(stored.anchors[0]!)], { crypto: createNobleCrypto((b) => w.pledgeHost.random(b)) });
	ok(chain.ok, "LDevID chains to the stored anchor");
	equal(stored.privateKey.length, 32);
}

async function runPledge(w: World, p: Pledge): Promise<PledgeResult> {
	return until(w.clock, p.run(), 3_600_000);
}

/** First attempt fails with `code` (error matching `message`) and /vs false; the second, through the other proxy, enrolls. */
async function failsOverAfter(mode: Mode, options: Omit<TestRegistrarOptions, "host">, message: RegExp): Promise<void> {
	const w = await world(mode, options);
	const r = await runPledge(w, w.pledge());
	equal(r.outcome, "enrolled", r.error);
	equal(r.attempts.length, 2);
	equal(r.attempts[0]!.outcome, "voucher");
	ok(message.test(r.attempts[0]!.error ?? ""), `error: ${r.attempts[0]!.error}`);
	ok(r.attempts[0]!.proxy !== r.attempts[1]!.proxy, "failed over to the other proxy");
	equal(r.proxiesTried, 2);
	deepEqual(w.registrar.telemetry.map((t) => `${t.path}:${t.status}`), ["vs:false", "vs:true", "es:true"]);
	ok(/voucher rejected/.test(w.registrar.telemetry[0]!.reason ?? ""), "failure reason reported");
	ok(!bytesEqual(w.registrar.pvrs[0]!.nonce!, w.registrar.pvrs[1]!.nonce!), "fresh nonce per attempt (P4)");
	checkStored(w, r);
	w.close();
}

export default suite("pledge", (test) => {
	for (const mode of ["stateful", "stateless"] as const) {
		test(`${mode}: discovers both proxies, onboards and stores its LDevID; success /es on an LDevID session`, async () => {
			const w = await world(mode);
			const states: PledgeState[] = [];
			const p = w.pledge({ onState: (s) => states.push(s) });
			const r = await runPledge(w, p);
			equal(r.outcome, "enrolled", r.error);
			equal(p.state, "enrolled");
			equal(r.attempts.length, 1);
			equal(r.serialNumber, "JADA123456789");
			ok(r.enrollStatusReported, "success /es acknowledged");
			deepEqual(
				states.filter((s, i) => states.indexOf(s) === i),
				["discovering", "connecting", "requesting-voucher", "validating-voucher", "voucher-status", "fetching-ca-certs", "enrolling", "storing", "enroll-status", "enrolled"],
			);
			deepEqual(w.registrar.telemetry.map((t) => `${t.path}:${t.status}`), ["vs:true", "es:true"]);
			equal(w.registrar.ldevidHandshakes, 1, "the success /es came on a session authenticated with the LDevID (P34)");
			const pvr = w.registrar.pvrs[0]!;
			equal(pvr.assertion, Assertion.proximity);
			ok(pvr.proximityRegistrarPubk !== undefined && bytesEqual(pvr.proximityRegistrarPubk, parseCertificate(certDer("cert-registrar.pem")).publicKey.spki), "proximity-registrar-pubk is the DTLS server's SPKI");
			ok(r.traffic.datagramsSent > 10 && r.traffic.datagramsReceived > 10 && r.traffic.bytesSent > 2000 && r.traffic.bytesReceived > 2000, JSON.stringify(r.traffic));
			equal(r.attempts[0]!.traffic.datagramsSent <= r.traffic.datagramsSent, true);
			const ldevid = parseCertificate(r.ldevid!);
			ok(bytesEqual(ldevid.subject.der, parseCertificate(certDer("cert-pledge.pem")).subject.der), "CSR subject = IDevID subject");
			checkStored(w, r);
			w.close();
		});
	}

	test("voucher for another nonce: /vs failure, next proxy, fresh nonce", () =>
		failsOverAfter("stateful", { tamperVoucher: (v, n) => (n === 1 ? { ...v, nonce: new Uint8Array(16).fill(7) } : undefined) }, /nonce/));

	test("voucher for another serial-number", () => failsOverAfter("stateless", { tamperVoucher: (v, n) => (n === 1 ? { ...v, serialNumber: "OTHER-1" } : undefined) }, /serial-number/));

	test("voucher signed by the wrong key", () => failsOverAfter("stateful", { wrongSignerFor: (n) => n === 1 }, /signature/));

	// Review F2: any certificate under the MASA anchor (here the draft's IDevID, issued by the MASA CA)
	// signing a voucher and bringing itself in the x5bag is no voucher signer.
	test("voucher signed by another device's IDevID with it in the x5bag", () =>
		failsOverAfter("stateless", { signWith: (n) => (n === 1 ? { key: privateKey("key-pledge.pem"), x5bag: [certDer("cert-pledge.pem")] } : undefined) }, /signature/));

	test("the failure /vs tells the Registrar only that the voucher was rejected; the detail stays in the pledge's log", async () => {
		const w = await world("stateful", { tamperVoucher: (v, n) => (n === 1 ? { ...v, serialNumber: "OTHER-1" } : undefined) });
		const r = await runPledge(w, w.pledge());
		equal(r.outcome, "enrolled", r.error);
		equal(w.registrar.telemetry[0]!.reason, "voucher rejected");
		ok(w.logs.some((l) => l.includes("OTHER-1")), "the detail is logged locally");
		w.close();
	});

	test("success /es: a server chaining to the domain CA without id-kp-cmcRA is not the Registrar", async () => {
		const w = await world("stateful", { withoutCmcRa: true });
		const r = await runPledge(w, w.pledge({ proxies: [JOIN_PORT_1] }));
		equal(r.outcome, "enrolled", r.error);
		equal(r.enrollStatusReported, false);
		equal(w.registrar.ldevidHandshakes, 0, "the LDevID session was refused by the pledge");
		ok(w.logs.some((l) => /cmcRA/.test(l)), "the reason is logged");
		w.close();
	});

	test("a Registrar that is not the pinned domain", () =>
		failsOverAfter("stateless", { tamperVoucher: (v, n) => (n === 1 ? { ...v, pinnedDomainCert: certDer("cert-masa_ca.pem") } : undefined) }, /pinned-domain-cert/));

	test("a voucher pinning nothing, and a pinned-domain-pubk of the Registrar's key", async () => {
		const spki = parseCertificate(certDer("cert-registrar.pem")).publicKey.spki;
		await failsOverAfter(
			"stateful",
			{ tamperVoucher: (v, n) => (n === 1 ? { assertion: v.assertion, serialNumber: v.serialNumber, nonce: v.nonce! } : { assertion: v.assertion, serialNumber: v.serialNumber, nonce: v.nonce!, pinnedDomainPubk: spki }) },
			/pins no domain/,
		);
	});

	test("5.03 with Max-Age, then the voucher: the identical PVR is sent again after Max-Age", async () => {
		const w = await world("stateful", { unavailable: 2, maxAgeS: 5 });
		const r = await runPledge(w, w.pledge({ proxies: [JOIN_PORT_1] }));
		equal(r.outcome, "enrolled", r.error);
		equal(r.attempts.length, 1);
		equal(r.attempts[0]!.delayedRetries, 2);
		equal(w.registrar.rvBodies.length, 3);
		ok(w.registrar.rvBodies.every((b) => bytesEqual(b, w.registrar.rvBodies[0]!)), "same bytes, same nonce (P20)");
		w.close();
	});

	test("a proxy that never answers: the handshake gives up and the next proxy is tried", async () => {
		const w = await world("stateless");
		const r = await runPledge(w, w.pledge({ proxies: [NOBODY, JOIN_PORT_1] }));
		equal(r.outcome, "enrolled", r.error);
		equal(r.attempts.length, 2);
		equal(r.attempts[0]!.outcome, "dtls");
		equal(r.attempts[0]!.proxy, "[fe80::99%wpan0]:5684");
		equal(r.attempts[0]!.traffic.datagramsReceived, 0);
		equal(r.attempts[1]!.proxy, "[fe80::1%wpan0]:5684");
		w.close();
	});

	test("no proxy at all: per-attempt back-off, then a clear failure", async () => {
		const w = await world("stateful");
		const started = w.clock.now();
		const r = await runPledge(w, w.pledge({ proxies: [NOBODY], maxAttempts: 3 }));
		equal(r.outcome, "failed");
		equal(r.attempts.length, 3);
		ok(r.attempts.every((a) => a.outcome === "dtls"));
		// 20 s handshake timeouts plus back-offs of 5 s and 10 s between them.
		ok(w.clock.now() - started >= 3 * 20_000 + 5_000 + 10_000, `took ${w.clock.now() - started} ms`);
		ok(/gave up after 3/.test(w.logs.join("\n")));
		w.close();
	});

	test("restart mid-onboarding: the next run clears the partial state and starts over", async () => {
		const w = await world("stateful");
		let first: Pledge | undefined;
		first = w.pledge({ proxies: [JOIN_PORT_1], onState: (s) => s === "enrolling" && first!.close() });
		const r1 = await runPledge(w, first);
		equal(r1.outcome, "failed");
		equal(r1.error, "stopped");
		// As if power failed half way through writing credentials.
		w.pledgeHost.storage.set(StorageKey.ldevid, utf8Encode("half a certificate"));
		equal(new CredentialStore(w.pledgeHost.storage).enrolled, false);
		let leftAtConnect: string[] | undefined;
		const r2 = await runPledge(w, w.pledge({ proxies: [JOIN_PORT_1], onState: (s) => s === "connecting" && (leftAtConnect ??= w.pledgeHost.storage.keys()) }));
		deepEqual(leftAtConnect, [], "partial state cleared before onboarding starts over");
		equal(r2.outcome, "enrolled", r2.error);
		checkStored(w, r2);
		ok(!bytesEqual(w.registrar.pvrs[0]!.nonce!, w.registrar.pvrs[1]!.nonce!), "a new nonce after the restart");
		w.close();
	});

	test("an enrolled pledge does not onboard again unless forced", async () => {
		const w = await world("stateless");
		const r1 = await runPledge(w, w.pledge({ proxies: [JOIN_PORT_1] }));
		equal(r1.outcome, "enrolled", r1.error);
		const r2 = await runPledge(w, w.pledge({ proxies: [JOIN_PORT_1] }));
		equal(r2.outcome, "already-enrolled");
		equal(r2.traffic.datagramsSent, 0);
		ok(r2.ldevid !== undefined && bytesEqual(r2.ldevid, r1.ldevid!));
		const r3 = await runPledge(w, w.pledge({ proxies: [JOIN_PORT_1], force: true }));
		equal(r3.outcome, "enrolled", r3.error);
		equal(w.registrar.issued.length, 2);
		checkStored(w, r3);
		ok(!bytesEqual(r3.ldevid!, r1.ldevid!), "a new LDevID");
		w.close();
	});

	test("discovery answers: brski-jp ports (several, quoted), rt=brski.jp, source address only; garbage ignored", () => {
		const answer = (text: string, code: number = Code.Content) => ({ code, options: [], payload: utf8Encode(text), peer: { address: "fe80::7", port: 5683, zone: "wpan0" } });
		deepEqual(
			joinPortsOf(answer('<>;brski-jp=8485,<>;brski-jp="63245";var="x",</x>;rt=core'), "wpan0").map((p) => `${p.address}:${p.port}`),
			["fe80::7:8485", "fe80::7:63245"],
		);
		deepEqual(joinPortsOf(answer("<coaps://[fe80::9]:61616>;rt=brski.jp"), "wpan0").map((p) => `${p.address}:${p.port}%${p.zone}`), ["fe80::7:61616%wpan0"]);
		deepEqual(joinPortsOf(answer("<>;brski-jp=99999,<>;brski-jp=x,<<<"), "wpan0"), []);
		deepEqual(joinPortsOf(answer("<>;brski-jp=5684", Code.NotFound), "wpan0"), []);
	});

	test("property: garbage CoAP and voucher replies never crash or hang the pledge (seeded)", async () => {
		const rng = new SeededRandom(0x91ed6e);
		const crypto = createNobleCrypto((b) => rng.fill(b));
		const mutate = (b: Uint8Array): Uint8Array => {
			const out = b.slice(0, rng.int(3) === 0 ? rng.int(b.length + 1) : b.length);
			for (let i = rng.int(4); i > 0 && out.length > 0; i--) {
				const at = rng.int(out.length);
				out[at] = out[at]! ^ (1 << rng.int(8));
			}
			return out;
		};
		const validVoucher = (req: CoapRequest): Uint8Array => {
			const pvr = decodeVoucherRequest(decodeCoseSign1(req.payload).payload);
			const v = { assertion: Assertion.proximity, serialNumber: pvr.serialNumber!, nonce: pvr.nonce!, pinnedDomainCert: certDer("cert-domain_ca.pem") };
			return encodeCoseSign1(signCoseSign1(crypto, privateKey("key-masa_ca.pem"), encodeVoucher(v)));
		};
		const codes = [Code.Changed, Code.Content, Code.Changed, Code.BadRequest, Code.ServiceUnavailable, Code.Continue, Code.NotFound];
		const formats = [ContentFormat.VoucherCoseCbor, ContentFormat.MultipartCore, ContentFormat.Pkcs7CertsOnly, ContentFormat.PkixCert, ContentFormat.Cbor, 9999];
		const garbage = (req: CoapRequest): CoapResponse | undefined => {
			const path = req.path.join("/");
			if (path.endsWith("vs") || path.endsWith("es")) return undefined;
			const roll = rng.int(4);
			let payload: Uint8Array;
			if (path.endsWith("rv") && roll < 3) payload = mutate(validVoucher(req));
			else if (roll === 0) return undefined; // now and then a proper answer, to get further
			else payload = rng.bytes(rng.int(300));
			const code = codes[rng.int(codes.length)]!;
			const options = code === Code.ServiceUnavailable ? [option(Opt.MaxAge, rng.int(100_000))] : [];
			return { code, contentFormat: formats[rng.int(formats.length)]!, options, payload };
		};
		const w = await world("stateful", { garbage });
		const r = await runPledge(w, w.pledge({ proxies: [JOIN_PORT_1], maxAttempts: 10, timing: { maxDelayedRetries: 2 } }));
		equal(r.attempts.length, r.outcome === "enrolled" ? r.attempts.length : 10);
		const codesSeen = new Set(r.attempts.map((a) => a.outcome));
		ok([...codesSeen].every((c) => ["enrolled", "voucher", "refused", "ca-certs", "enroll", "coap"].includes(c)), [...codesSeen].join(","));
		ok(r.attempts.some((a) => a.outcome === "voucher"), "mutated vouchers are refused");
		w.close();
	});
});
