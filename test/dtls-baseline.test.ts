/*
 * Baseline for the Join Proxy end-to-end tests, WITHOUT a proxy: Debian's libcoap 4.3.1 as pledge
 * (coap-client-{openssl,gnutls}) and Registrar (coap-server-{openssl,gnutls}), DTLS 1.2 with certificates
 * (test PKI), over one link-local veth between two network namespaces; a tshark capture checks the
 * handshakes on the wire. Then the three-namespace topology for the proxy tests is checked with UDP echoes.
 * Without namespaces or binaries the tests skip, or fail when CJP_REQUIRE_PEERS=1.
 */

import { after, before, describe, it, type TestContext } from "node:test";
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import type { ChildProcess } from "node:child_process";
import { Namespaces, netnsUnavailable } from "./node-lib/netns.js";
import { pkiUnavailable } from "./node-lib/pki.js";
import {
	CCM8,
	DTLS_1_2,
	block2Count,
	coapsUri,
	commandLine,
	dtlsPackets,
	hex4,
	joinProxyTopology,
	peersUnavailable,
	putResource,
	runCoapClient,
	scratchFile,
	startCapture,
	startCoapServer,
	startUdpEcho,
	stopChild,
	summarizeHandshake,
	udpPing,
	type Capture,
	type CoapClientOptions,
	type CoapClientResult,
	type CoapServer,
	type JoinProxyTopology,
	type TlsLib,
} from "./node-lib/coap-peers.js";
import { unavailable } from "./node-lib/unavailable.js";

const T = { timeout: 20_000 };

const why = netnsUnavailable() ?? peersUnavailable(["openssl", "gnutls"], ["tshark", "openssl"]) ?? pkiUnavailable();

const SMALL = "hello pledge, this is the registrar\n";
const BIG = randomBytes(5000); // > 2 KB, binary: byte-exactness matters

describe("DTLS baseline without proxy: libcoap pledge → libcoap Registrar over a link-local veth", () => {
	const net = new Namespaces("dtls");
	let pledge = "";
	let registrar = "";
	const servers: Partial<Record<TlsLib, CoapServer>> = {};
	let capture: Capture | undefined;
	/** Client runs whose handshake the capture must show. */
	const runs: { label: string; port: number; client: TlsLib; ccm8: boolean }[] = [];
	let nextPort = 41000;

	before(async () => {
		if (why !== undefined) return;
		pledge = net.add("pledge");
		registrar = net.add("registrar");
		net.link(pledge, "pl0", "fe80::b", registrar, "rg0", "fe80::a");
		capture = await startCapture(net, registrar, "rg0", scratchFile("baseline.pcapng"), 50);
		// The OpenSSL Registrar cannot be restricted; the GnuTLS one accepts only CCM_8.
		servers.openssl = await startCoapServer(net, { lib: "openssl", ns: registrar, address: "fe80::a%rg0", port: 5683 });
		servers.gnutls = await startCoapServer(net, { lib: "gnutls", ns: registrar, address: "fe80::a%rg0", port: 6683, ccm8Only: true });
		for (const s of Object.values(servers)) {
			await putResource(net, s, "/small", Buffer.from(SMALL));
			await putResource(net, s, "/big", BIG);
		}
	}, { timeout: 30_000 });

	after(async () => {
		await capture?.stop();
		for (const s of Object.values(servers)) await s.stop();
		net.close();
	});

	/** The pledge GETs `path` from `server` over coaps with its link-local address bound with zone. */
	async function get(client: TlsLib, server: TlsLib, path: string, extra: Partial<CoapClientOptions> = {}): Promise<CoapClientResult> {
		const s = servers[server]!;
		const port = nextPort++;
		const ccm8 = client === "gnutls";
		const r = await runCoapClient(net, { lib: client, ns: pledge, bind: "fe80::b%pl0", uri: coapsUri(s.address, s.dtlsPort, path), localPort: port, ccm8Only: ccm8, timeoutS: 8, ...extra });
		runs.push({ label: `${client} → ${server} ${path}`, port, client, ccm8 });
		console.log(`# ${r.ms} ms: ${commandLine(r)}`);
		return r;
	}

	function assertBody(r: CoapClientResult, want: Buffer): void {
		assert.ok(r.ok, `no response: ${r.responseError ?? ""} ${r.stderr.slice(-2000)}`);
		assert.equal(r.body!.length, want.length);
		assert.ok(r.body!.equals(want), "body differs");
	}

	const pairs: [TlsLib, TlsLib, number][] = [
		["openssl", "openssl", 64],
		["gnutls", "gnutls", 256],
		["gnutls", "openssl", 128],
	];
	for (const [client, server, block] of pairs) {
		it(`coap-client-${client} → coap-server-${server}: CoAPS GET of a small resource`, T, async (t) => {
			if (unavailable(t, why)) return;
			assertBody(await get(client, server, "/small"), Buffer.from(SMALL));
			const banner = await get(client, server, "/");
			assert.ok(banner.ok, banner.stderr);
			assert.match(banner.body!.toString(), /This is a test server made with libcoap/);
		});

		it(`coap-client-${client} → coap-server-${server}: block-wise GET of 5000 bytes in ${block}-byte blocks is byte-exact`, T, async (t) => {
			if (unavailable(t, why)) return;
			const r = await get(client, server, "/big", { blockSize: block, verbosity: 7 });
			assertBody(r, BIG);
			assert.equal(block2Count(r), Math.ceil(BIG.length / block), "every Block2 of the response");
		});
	}

	it("a wrong path gets 4.04 (and coap-client still exits 0: judge by body and stderr)", T, async (t) => {
		if (unavailable(t, why)) return;
		const r = await get("openssl", "openssl", "/nothing-here");
		assert.equal(r.ok, false);
		assert.equal(r.responseError, "4.04 Not Found");
		assert.equal(r.status, 0);
	});

	it("tshark on the Registrar's veth: every handshake is DTLS 1.2 with certificates; GnuTLS pledges get TLS_ECDHE_ECDSA_WITH_AES_128_CCM_8", { timeout: 30_000 }, async (t) => {
		if (unavailable(t, why)) return;
		await capture!.stop();
		const packets = dtlsPackets(capture!.file, [servers.openssl!.dtlsPort, servers.gnutls!.dtlsPort]);
		assert.ok(runs.length > 0, "no client runs to check");
		for (const run of runs) {
			const h = summarizeHandshake(packets, run.port);
			console.log(`# ${run.label}: ${h.clientHellos} ClientHello, ${h.helloVerifyRequests} HelloVerifyRequest, offered ${h.offered.length} suites, ServerHello ${hex4(h.serverVersion)} ${hex4(h.cipherSuite)}, records ${h.recordVersions.map(hex4).join(",")}, ${h.applicationDataRecords} application data, certificates server ${h.serverCertificates} client ${h.clientCertificates}`);
			assert.equal(h.helloVerifyRequests, 1, `${run.label}: one cookie exchange`);
			assert.equal(h.clientHellos, 2, `${run.label}: ClientHello without and with cookie`);
			assert.equal(h.serverVersion, DTLS_1_2, `${run.label}: ServerHello version`);
			assert.deepEqual([h.serverCertificates, h.certificateRequests, h.clientCertificates], [1, 1, 1], `${run.label}: certificates both ways (mutual PKI)`);
			assert.deepEqual(h.recordVersions, [DTLS_1_2], `${run.label}: record versions`);
			assert.ok(h.applicationDataRecords >= 2, `${run.label}: request and response as application data`);
			assert.ok(h.cipherSuite !== undefined && h.offered.includes(h.cipherSuite), `${run.label}: suite chosen from the offer`);
			if (run.ccm8) {
				assert.deepEqual(h.offered, [CCM8], `${run.label}: a ccm8Only GnuTLS client offers only CCM_8`);
				assert.equal(h.cipherSuite, CCM8, run.label);
			} else {
				assert.ok(h.offered.includes(CCM8), `${run.label}: OpenSSL offers CCM_8 among others`);
			}
		}
	});
});

describe("three-namespace Join Proxy topology: pledge —link-local— proxy —2001:db8:1::/64— Registrar", () => {
	const net = new Namespaces("jpt");
	let topo: JoinProxyTopology | undefined;
	const echoes: ChildProcess[] = [];
	let registrarServer: CoapServer | undefined;
	const ECHO_PORT = 7000;

	before(async () => {
		if (why !== undefined) return;
		topo = joinProxyTopology(net);
		echoes.push(await startUdpEcho(net, topo.proxy.ns, `${topo.proxy.linkLocal}%${topo.proxy.pledgeIf}`, ECHO_PORT));
		echoes.push(await startUdpEcho(net, topo.registrar.ns, topo.registrar.routable, ECHO_PORT));
	}, { timeout: 20_000 });

	after(async () => {
		for (const e of echoes) await stopChild(e);
		await registrarServer?.stop();
		net.close();
	});

	it("pledge → proxy over link-local (zone pl0) echoes", T, async (t) => {
		if (unavailable(t, why)) return;
		const r = await udpPing(net, topo!.pledge.ns, topo!.pledge.bind, `${topo!.proxy.linkLocal}%${topo!.pledge.ifname}`, ECHO_PORT, "pledge-hello");
		assert.deepEqual(r, { ok: true, reply: "pledge-hello", from: "fe80::a%pl0" });
	});

	it("proxy → Registrar over the routable prefix echoes", T, async (t) => {
		if (unavailable(t, why)) return;
		const r = await udpPing(net, topo!.proxy.ns, topo!.proxy.routable, topo!.registrar.routable, ECHO_PORT, "proxy-hello");
		assert.deepEqual(r, { ok: true, reply: "proxy-hello", from: "2001:db8:1::2" });
	});

	it("the pledge has no route to the Registrar and the proxy does not forward", T, async (t) => {
		if (unavailable(t, why)) return;
		const r = await udpPing(net, topo!.pledge.ns, "::", topo!.registrar.routable, ECHO_PORT, "direct", 1000);
		assert.equal(r.ok, false);
		assert.match(r.error ?? "", /ENETUNREACH/);
		const fwd = net.run(topo!.proxy.ns, "sysctl", ["-n", "net.ipv6.conf.all.forwarding"]);
		assert.equal(fwd.stdout.trim(), "0");
	});

	it("a libcoap Registrar on 2001:db8:1::2 answers a CoAPS GET from the proxy's routable address", T, async (t) => {
		if (unavailable(t, why)) return;
		registrarServer = await startCoapServer(net, { lib: "gnutls", ns: topo!.registrar.ns, address: topo!.registrar.routable, ccm8Only: true });
		await putResource(net, registrarServer, "/small", Buffer.from(SMALL));
		const r = await runCoapClient(net, { lib: "openssl", ns: topo!.proxy.ns, bind: topo!.proxy.routable, uri: coapsUri(topo!.registrar.routable, registrarServer.dtlsPort, "/small"), timeoutS: 8 });
		console.log(`# ${r.ms} ms: ${commandLine(r)}`);
		assert.ok(r.ok, r.stderr);
		assert.equal(r.body!.toString(), SMALL);
	});
});
