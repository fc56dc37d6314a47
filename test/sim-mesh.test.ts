/*
 * hosts/sim end to end: our DTLS pledge ↔ our Join Proxy ↔ our DTLS Registrar over 1–3 hops of the
 * simulated 802.15.4/6LoWPAN mesh in both proxy modes, frames and bytes on air per handshake,
 * byte-for-byte determinism of the capture, a lost fragment losing its datagram, ICMPv6 errors
 * travelling back through the proxy, and tshark dissecting the capture without a malformed packet.
 */

import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { MeshSim, buildTopology, chargedCrypto, deviceProfile, type DeviceProfile, type SimStats } from "../hosts/sim/index.js";
import type { Host, IcmpError } from "../hosts/host.js";
import { createNobleCrypto } from "../modules/crypto/noble-provider.js";
import { CoapsServer, openCoapsClient } from "../modules/dtls/coaps.js";
import { formatIPv6 } from "../modules/util/ipv6.js";
import { CoapRouter } from "../modules/coap/router.js";
import { Code } from "../modules/coap/constants.js";
import { JoinProxy } from "../src/joinproxy/join-proxy.js";
import { runFor, until } from "./lib/drive.js";
import { unavailable } from "./node-lib/unavailable.js";
import { tsharkVersion } from "./node-lib/tshark.js";
import { openRegistrarFront, pem } from "./node-lib/draft-dtls.js";
import { pledgeCredentials, registrarCredentials } from "./lib/draft-dtls.js";

const REGISTRAR = "2001:db8::2";
const JOIN_PORT = 5684;
const JPY_PORT = 7634;

/** Datagram classes: pledge↔proxy on the join-port, proxy↔Registrar relayed DTLS (stateful) or JPY. */
function classify(packet: Uint8Array): string {
	if (packet[6] === 58) return "icmpv6";
	const sp = (packet[40]! << 8) | packet[41]!;
	const dp = (packet[42]! << 8) | packet[43]!;
	const linkLocal = packet[8] === 0xfe && packet[24] === 0xfe;
	if (linkLocal && (sp === JOIN_PORT || dp === JOIN_PORT)) return "join";
	if (sp === JPY_PORT || dp === JPY_PORT) return "jpy";
	if (sp === JOIN_PORT || dp === JOIN_PORT) return "relay";
	return "other";
}

interface Scenario {
	mode: "stateful" | "stateless";
	/** The proxy's distance in radio hops from the border router. */
	hops: number;
	seed?: number;
	loss?: number;
	/** Charges the pledge's crypto to its simulated CPU. */
	device?: DeviceProfile;
}

function mesh(s: Scenario) {
	const sim = new MeshSim({ seed: s.seed ?? 1, classify });
	sim.addBorderRouter("br", { backboneAddress: "2001:db8::1" });
	sim.addBackboneNode("registrar", { address: REGISTRAR });
	const routers = buildTopology(sim, { kind: "line", nodes: s.hops }, { loss: s.loss ?? 0 });
	const proxyName = routers[routers.length - 1]!;
	sim.addMeshNode("pledge", { router: false });
	sim.link(proxyName, "pledge", { loss: s.loss ?? 0 });
	sim.buildRoutes();
	return { sim, proxyNode: sim.node(proxyName) };
}

async function handshakeThrough(s: Scenario) {
	const { sim, proxyNode } = mesh(s);
	const clock = sim.clock;
	const registrarHost = sim.host("registrar");
	const pledgeHost = sim.host("pledge");
	// @noble on both ends: RFC 6979 signatures and seeded key generation keep the run reproducible.
	const registrarCrypto = createNobleCrypto((b) => registrarHost.random(b));
	const nobleForPledge = createNobleCrypto((b) => pledgeHost.random(b));
	const pledgeCrypto = s.device === undefined ? nobleForPledge : chargedCrypto(nobleForPledge, sim.node("pledge"), s.device);
	const peers: string[] = [];
	const server = new CoapsServer({
		crypto: registrarCrypto,
		clock,
		random: (b) => registrarHost.random(b),
		...registrarCredentials(pem, registrarCrypto),
		handler: new CoapRouter().add("/hello", { get: (req) => (peers.push(req.peer.address), { code: Code.Content, payload: new TextEncoder().encode("hello pledge") }) }).handler,
	});
	const closeRegistrar = await openRegistrarFront(registrarHost, server, s.mode, { dtlsPort: JOIN_PORT, jpyPort: JPY_PORT });
	const proxyLinkLocal = formatIPv6(proxyNode.linkLocal!);
	const proxy = await until(clock, JoinProxy.start({ host: proxyNode.host, pledgeInterfaces: [{ name: "wpan0", address: proxyLinkLocal }], registrars: [{ address: REGISTRAR, port: s.mode === "stateful" ? JOIN_PORT : JPY_PORT, mode: s.mode }], answerDiscovery: false }));
	const joinPort = { address: proxyLinkLocal, port: JOIN_PORT, zone: "wpan0" };
	const started = clock.now();
	const client = await until(
		clock,
		openCoapsClient({
			host: pledgeHost,
			crypto: pledgeCrypto,
			server: joinPort,
			...pledgeCredentials(pem, pledgeCrypto),
			dtls: { maxFragmentLength: 1024 },
			coap: { ackTimeoutMs: 2000, maxRetransmit: 8 },
		}),
	);
	const handshakeMs = clock.now() - started;
	const handshake = sim.stats();
	const hello = await until(clock, client.endpoint.request({ peer: joinPort, path: "hello" }));
	client.close();
	proxy.close();
	server.close();
	closeRegistrar();
	return { sim, handshake, handshakeMs, hello, peers, proxyNode, serverStats: server.dtls.stats() };
}

/** Frames and bytes of the classes that make up the onboarding exchange (every hop, ACKs included). */
function onAir(st: SimStats, classes: string[]): { frames: number; bytes: number; airtimeMs: number } {
	let frames = 0;
	let bytes = 0;
	let air = 0;
	for (const c of classes) {
		frames += st.classes[c]?.frames ?? 0;
		bytes += st.classes[c]?.bytes ?? 0;
		air += st.classes[c]?.airtimeUs ?? 0;
	}
	return { frames, bytes, airtimeMs: air / 1000 };
}

describe("hosts/sim: our pledge ↔ our Join Proxy ↔ our Registrar over the simulated 802.15.4 mesh", () => {
	for (const mode of ["stateful", "stateless"] as const)
	for (const hops of [1, 2, 3]) {
		it(`${mode}, proxy ${hops} hop${hops > 1 ? "s" : ""} from the border router: DTLS handshake and a CoAPS GET`, async (t) => {
			const r = await handshakeThrough({ mode, hops });
			assert.equal(new TextDecoder().decode(r.hello.payload), "hello pledge");
			assert.equal(r.serverStats.accepted, 1);
			assert.equal(r.peers[0], formatIPv6(r.proxyNode.meshAddress!), "the Registrar sees the proxy's mesh address");
			const relay = mode === "stateful" ? "relay" : "jpy";
			const join = r.handshake.classes.join!;
			const far = r.handshake.classes[relay]!;
			assert.ok(join.frames > 0 && far.frames > 0);
			// every join-port datagram is relayed across the `hops` radio hops to the border router and back
			assert.equal(far.datagrams, hops * join.datagrams);
			assert.equal(r.sim.stats().air.frames, r.sim.pcap!.frames, "every frame on air is in the capture");
			const total = onAir(r.handshake, ["join", relay]);
			t.diagnostic(`${mode} ${hops} hop(s): handshake ${r.handshakeMs.toFixed(0)} ms simulated; ${total.frames} frames, ${total.bytes} bytes, ${total.airtimeMs.toFixed(1)} ms airtime on air (join leg ${join.frames} frames / ${join.bytes} B, ${relay} leg ${far.frames} frames / ${far.bytes} B; ${join.datagrams} join datagrams)`);
		});
	}

	it("a device profile charges the pledge's ECDSA, ECDH and AES to simulated time; unpublished figures are refused", async () => {
		assert.throws(() => deviceProfile("esp32"), /no published figure/);
		assert.throws(() => deviceProfile("nrf52840"), /ecdsaSignMs/);
		assert.equal(deviceProfile("none"), undefined);
		const fast = await handshakeThrough({ mode: "stateless", hops: 1 });
		// illustrative figures given explicitly (the AES one is the published nRF52840 figure)
		const device = deviceProfile("nrf52840", { ecdsaSignMs: 200, ecdsaVerifyMs: 300, ecdhMs: 150 })!;
		const slow = await handshakeThrough({ mode: "stateless", hops: 1, device });
		// the pledge signs once (CertificateVerify), verifies the Registrar's certificate (one signature: the
		// domain CA is the anchor itself) and the ServerKeyExchange, generates an ephemeral key and computes
		// ECDH: at least 200 + 2·300 + 2·150 ms
		assert.ok(slow.handshakeMs - fast.handshakeMs >= 1100, `${fast.handshakeMs} → ${slow.handshakeMs} ms`);
	});

	it("the same seed gives the same capture byte for byte; another seed does not (10% link loss)", async () => {
		const a = await handshakeThrough({ mode: "stateless", hops: 2, loss: 0.1, seed: 7 });
		const b = await handshakeThrough({ mode: "stateless", hops: 2, loss: 0.1, seed: 7 });
		const c = await handshakeThrough({ mode: "stateless", hops: 2, loss: 0.1, seed: 8 });
		const pa = a.sim.pcap!.bytes();
		assert.ok(a.handshake.nodes.n1!.retries + a.handshake.nodes.n2!.retries + a.handshake.nodes.br!.retries > 0, "loss caused MAC retransmissions");
		assert.deepEqual(pa, b.sim.pcap!.bytes());
		assert.deepEqual(a.handshake, b.handshake);
		assert.notDeepEqual(pa, c.sim.pcap!.bytes());
	});

	it("a fragment lost for good loses its whole datagram: the rest is purged, reassembly times out after 60 s, the next datagram passes", async () => {
		const sim = new MeshSim({ seed: 3 });
		sim.addBorderRouter("br", { backboneAddress: "2001:db8::1" });
		buildTopology(sim, { kind: "line", nodes: 1 });
		sim.buildRoutes();
		const got: number[] = [];
		await sim.host("br").udp.bind({ port: 9000, onDatagram: (d) => got.push(d.length) });
		const s = await sim.host("n1").udp.bind({ onDatagram: () => {} });
		const to = { address: formatIPv6(sim.node("br").meshAddress!), port: 9000, zone: "" };
		const link = sim.node("n1").radio!.neighbours.get(sim.node("br").radio!)!;
		let dataFrames = 0;
		sim.medium.taps.push((tx) => {
			if (tx.from.name !== "n1" || tx.bytes.length === 5) return;
			dataFrames++;
			link.loss = dataFrames >= 2 && dataFrames <= 5 ? 1 : 0; // the second fragment and its 3 retries are lost
		});
		s.send(new Uint8Array(400), to);
		await runFor(sim.clock, 1000);
		assert.deepEqual(got, []);
		assert.equal(dataFrames, 5, "FRAG1, then FRAGN tried 1 + macMaxFrameRetries times; the remaining fragments were purged");
		const st = sim.stats().nodes;
		assert.equal(st.n1!.macFailures, 1);
		assert.equal(st.n1!.noAck, 1);
		assert.equal(sim.node("br").reassembler!.pending, 1);
		await runFor(sim.clock, 60_000);
		assert.equal(sim.node("br").reassembler!.pending, 0);
		assert.equal(sim.node("br").reassembler!.counters.timedOut, 1);
		s.send(new Uint8Array(400), to);
		await runFor(sim.clock, 1000);
		assert.deepEqual(got, [400]);
	});

	it("ICMPv6 errors: port unreachable from the Registrar travels back through the stateful proxy to the pledge; no route gives destination unreachable", async () => {
		const { sim, proxyNode } = mesh({ mode: "stateful", hops: 3 });
		const proxyLinkLocal = formatIPv6(proxyNode.linkLocal!);
		const proxy = await until(sim.clock, JoinProxy.start({ host: proxyNode.host, pledgeInterfaces: [{ name: "wpan0", address: proxyLinkLocal }], registrars: [{ address: REGISTRAR, port: JOIN_PORT, mode: "stateful" }], answerDiscovery: false }));
		const errors: IcmpError[] = [];
		const pledge = await sim.host("pledge").udp.bind({ onDatagram: () => {}, onIcmpError: (e) => errors.push({ ...e, to: { ...e.to } }) });
		// a DTLS ClientHello-shaped record header, nobody listening at the Registrar
		pledge.send(new Uint8Array([22, 0xfe, 0xfd, 0, 0, 0, 0, 0, 0, 0, 0, 0, 4, 1, 0, 0, 0]), { address: proxyLinkLocal, port: JOIN_PORT, zone: "wpan0" });
		await runFor(sim.clock, 2000);
		const st = sim.stats();
		assert.equal(st.nodes.registrar!.noSocket, 1);
		assert.ok((st.classes.icmpv6?.datagrams ?? 0) >= 3, "the Registrar's error crossed the mesh to the proxy");
		assert.equal(errors.length, 1, JSON.stringify(proxy.stats()));
		assert.equal(errors[0]!.type, 1);
		proxy.close();
		const far = await sim.host("n1").udp.bind({ onDatagram: () => {}, onIcmpError: (e) => errors.push({ ...e, to: { ...e.to } }) });
		far.send(new Uint8Array(8), { address: "2001:db8:99::1", port: 1, zone: "" });
		await runFor(sim.clock, 2000);
		assert.equal(errors.length, 2);
		assert.deepEqual([errors[1]!.type, errors[1]!.code, errors[1]!.to.address], [1, 0, "2001:db8:99::1"]);
	});

	it("tshark dissects the capture as 802.15.4 + 6LoWPAN + IPv6 + UDP + DTLS without a malformed packet", async (t) => {
		const version = tsharkVersion();
		if (unavailable(t, version === undefined ? "tshark is not installed" : undefined)) return;
		const r = await handshakeThrough({ mode: "stateful", hops: 2, loss: 0.05, seed: 11 });
		const dir = mkdtempSync(join(tmpdir(), "cjp-sim-"));
		try {
			const file = join(dir, "mesh.pcap");
			writeFileSync(file, r.sim.pcap!.bytes());
			const tshark = (...args: string[]): string => execFileSync("tshark", ["-r", file, "-d", `udp.port==${JOIN_PORT},dtls`, ...args], { encoding: "utf8" });
			const all = tshark("-T", "fields", "-e", "frame.protocols").trim().split("\n");
			assert.equal(all.length, r.sim.pcap!.frames);
			assert.ok(all.some((p) => /wpan:6lowpan:ipv6:udp:dtls/.test(p)), all.slice(0, 5).join("\n"));
			assert.equal(tshark("-Y", "_ws.malformed || _ws.expert.severity >= \"error\"").trim(), "", "no malformed or error-level packets");
			assert.equal(tshark("-Y", "wpan.fcs.bad || wpan.fcs_ok == 0").trim(), "", "every FCS verifies");
			const handshakes = tshark("-Y", "dtls.handshake.type == 1", "-T", "fields", "-e", "ipv6.src").trim().split("\n");
			assert.ok(handshakes.includes(formatIPv6(r.sim.node("pledge").linkLocal!)), `ClientHello from the pledge, decompressed by tshark: ${handshakes.join(",")}`);
			t.diagnostic(`${version}: ${all.length} frames dissected`);
		} finally {
			rmSync(dir, { recursive: true, force: true });
		}
	});
});
