/*
 * Our DTLS client (the pledge) and our DTLS server (the Registrar) through our Join Proxy, in both
 * modes, on the in-memory network: stateful (the server sees the proxy's per-pledge port) and
 * stateless (the server's sessions ride on the Registrar's JPY endpoint, keyed by proxy and header).
 * CoAPS GET and a block-wise GET of 3000 bytes end to end.
 */

import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { ManualClock, MemoryNetwork, SeededRandom, createXsHost } from "../hosts/xs/index.js";
import type { Host } from "../hosts/host.js";
import { createNobleCrypto } from "../modules/crypto/noble-provider.js";
import { createNodeCrypto } from "../hosts/node/crypto.js";
import { CoapsServer, openCoapsClient, type CoapsRequest } from "../modules/dtls/coaps.js";
import { pledgeCredentials, registrarCredentials } from "./lib/draft-dtls.js";
import { CoapRouter } from "../modules/coap/router.js";
import { Code } from "../modules/coap/constants.js";
import { JoinProxy } from "../src/joinproxy/join-proxy.js";
import { until } from "./lib/drive.js";
import { openRegistrarFront, pem } from "./node-lib/draft-dtls.js";

const BIG = new Uint8Array(3000).map((_, i) => (i * 13) & 0xff);
const REGISTRAR = "2001:db8::2";

async function onboardThrough(mode: "stateful" | "stateless", loss = 0) {
	const clock = new ManualClock();
	const r = new SeededRandom(99);
	const net = new MemoryNetwork({ clock, filter: () => r.float() >= loss });
	const proxyHost = createXsHost({ network: net, name: "proxy", interfaces: [{ name: "wpan0", link: "mesh", addresses: ["fe80::1"] }, { name: "eth0", link: "lan", addresses: ["2001:db8::1"] }] });
	const registrarHost = createXsHost({ network: net, name: "registrar", interfaces: [{ name: "eth0", link: "lan", addresses: [REGISTRAR] }] });
	const pledgeHost: Host = createXsHost({ network: net, name: "pledge", interfaces: [{ name: "wpan0", link: "mesh", addresses: ["fe80::2"] }] });
	const registrarCrypto = createNodeCrypto();
	const pledgeCrypto = createNobleCrypto((b) => pledgeHost.random(b));
	const peers: string[] = [];
	const clientLeaves: Uint8Array[] = [];
	const server = new CoapsServer({
		crypto: registrarCrypto,
		clock,
		random: (b) => registrarHost.random(b),
		...registrarCredentials(pem, registrarCrypto),
		handler: new CoapRouter()
			.add("/hello", { get: (req) => (peers.push(`${req.peer.address}:${req.peer.port}`), clientLeaves.push((req as CoapsRequest).peerCertificates[0]!), { code: Code.Content, payload: new TextEncoder().encode("hello pledge") }) })
			.add("/big", { get: () => ({ code: Code.Content, payload: BIG }) }).handler,
	});
	const close = await openRegistrarFront(registrarHost, server, mode);
	const proxy = await until(clock, JoinProxy.start({ host: proxyHost, pledgeInterfaces: [{ name: "wpan0" }], registrars: [{ address: REGISTRAR, port: mode === "stateful" ? 5684 : 7634, mode }], answerDiscovery: false }));
	const joinPort = { address: "fe80::1", port: 5684, zone: "wpan0" };
	const client = await until(
		clock,
		openCoapsClient({
			host: pledgeHost,
			crypto: pledgeCrypto,
			server: joinPort,
			...pledgeCredentials(pem, pledgeCrypto),
			dtls: { maxFragmentLength: 1024 },
			// Each exchange crosses four lossy links (a round trip fails 59% of the time at 20% loss), hence
			// the retransmission budget; the cap keeps every wait under the proxy's 30 s slot lifetime and
			// the Registrar's idle timeout. Without the cap this test fails: a late retry finds no slot
			// (stateful) or no DTLS association (stateless) any more.
			coap: { blockSzx: 4, ackTimeoutMs: 500, maxRetransmit: 14, maxRetransmitIntervalMs: 8000 },
		}),
	);
	const hello = await until(clock, client.endpoint.request({ peer: joinPort, path: "hello" }));
	const big = await until(clock, client.endpoint.request({ peer: joinPort, path: "big", blockSzx: 2 }), 3_600_000);
	const stats = proxy.stats();
	client.close();
	proxy.close();
	server.close();
	close();
	return { hello, big, stats, peers, clientLeaves, serverStats: server.dtls.stats() };
}

describe("our DTLS pledge ↔ our Join Proxy ↔ our DTLS Registrar", () => {
	for (const loss of [0, 0.2])
	for (const mode of ["stateful", "stateless"] as const) {
		it(`${mode}: handshake with the draft certificates, CoAPS GET and a 3000-byte block-wise GET${loss > 0 ? ", 20% of datagrams dropped (seeded)" : ""}`, async () => {
			const r = await onboardThrough(mode, loss);
			assert.equal(new TextDecoder().decode(r.hello.payload), "hello pledge");
			assert.deepEqual(r.big.payload, BIG);
			assert.ok(r.serverStats.helloVerifyRequests >= 1);
			assert.equal(r.serverStats.accepted, 1);
			assert.equal(r.stats.mode, mode);
			assert.ok(r.stats.toRegistrar.datagrams >= 3 && r.stats.toPledge.datagrams >= 3);
			// The Registrar sees the proxy, never the pledge's link-local address.
			assert.ok(r.peers.length >= 1);
			assert.ok(r.peers[0]!.startsWith("2001:db8::1:"), r.peers[0]);
			// Handlers see the association's authenticated client chain.
			assert.deepEqual(r.clientLeaves[0], pem("cert-pledge.pem"));
		});
	}
});
