import { suite } from "../lib/harness.js";
import { deepEqual, equal, ok } from "../lib/assert.js";
import { runFor, until } from "../lib/drive.js";
import { createXsHost } from "../../hosts/xs/index.js";
import type { IcmpError, UdpArrival, UdpSocket } from "../../hosts/host.js";
import { JoinProxy } from "../../src/joinproxy/join-proxy.js";
import { discoverJoinProxies } from "../../src/pledge/discovery.js";
import { HEADER_BYTES } from "../../modules/jpy/header.js";
import { openUdpCoap } from "../../modules/coap/udp-endpoint.js";
import { CoapRouter } from "../../modules/coap/router.js";
import { ALL_COAP_NODES_LINK_LOCAL, ALL_COAP_NODES_SITE_LOCAL } from "../../modules/coap/constants.js";
import { utf8Decode, utf8Encode } from "../../modules/util/utf8.js";
import { fuzzJpy } from "../lib/jpy-fuzz.js";
import { collect, DTLS_PORT, echoRegistrar, JOIN, jpyRegistrar, JPY_PORT, proxyOptions, REGISTRAR, topology, type Received } from "../lib/proxy-net.js";

export default suite("join proxy", (test) => {
	test("stateful: each pledge flow gets its own Registrar-side port; replies come back from the join-port", async () => {
		const n = topology();
		const seen: Received[] = [];
		const reg = await echoRegistrar(n, seen);
		const proxy = await until(n.clock, JoinProxy.start(proxyOptions(n, { registrars: [{ address: REGISTRAR, port: DTLS_PORT, mode: "stateful" }] })));
		const got: Received[][] = [[], [], []];
		const p1 = n.pledge(1);
		const socks = [await collect(p1, 40001, got[0]!), await collect(n.pledge(2), 40002, got[1]!), await collect(p1, 40003, got[2]!)];
		for (let round = 0; round < 2; round++) socks.forEach((s, i) => s.send(utf8Encode(`hello${i}`), JOIN));
		await runFor(n.clock, 50);
		equal(seen.length, 6);
		const ports = seen.map((r) => r.from.port);
		equal(new Set(ports).size, 3, "three flows, three Registrar-side ports");
		deepEqual(ports.slice(0, 3), ports.slice(3), "a flow keeps its port");
		ok(seen.every((r) => r.from.address === "2001:db8::1"), "relayed from the proxy's routable address");
		for (let i = 0; i < 3; i++) {
			deepEqual(got[i]!.map((r) => utf8Decode(r.data)), [`re:hello${i}`, `re:hello${i}`]);
			equal(got[i]![0]!.from.address, "fe80::1");
			equal(got[i]![0]!.from.port, 5684);
		}
		const st = proxy.stats();
		equal(st.mode, "stateful");
		equal(st.slotsInUse, 3);
		equal(st.bytesPerSlot, 16);
		equal(st.toRegistrar.datagrams, 6);
		equal(st.toPledge.datagrams, 6);
		proxy.close();
		reg.close();
	});

	test("stateful: limits of 2 flows per pledge address and 10 per interface, refused with ICMPv6 1/1", async () => {
		const n = topology();
		const reg = await echoRegistrar(n, []);
		const proxy = await until(n.clock, JoinProxy.start(proxyOptions(n, { registrars: [{ address: REGISTRAR, port: DTLS_PORT, mode: "stateful" }], capacity: 16 })));
		const icmp: IcmpError[] = [];
		const one = n.pledge(1);
		const a = [await collect(one, 1, []), await collect(one, 2, []), await collect(one, 3, [], (e) => icmp.push(e))];
		for (const s of a) s.send(utf8Encode("x"), JOIN);
		await runFor(n.clock, 20);
		equal(proxy.stats().slotsInUse, 2);
		equal(proxy.stats().refusals.perAddress, 1);
		deepEqual(icmp.map((e) => [e.type, e.code, e.to.port]), [[1, 1, 5684]], "Destination Unreachable, administratively prohibited");
		for (let k = 2; k <= 12; k++) (await collect(n.pledge(k), 5000, [])).send(utf8Encode("y"), JOIN);
		await runFor(n.clock, 20);
		equal(proxy.stats().slotsInUse, 10);
		equal(proxy.stats().refusals.perInterface, 3);
		equal(proxy.stats().icmp.refusalsSent, 4);
		proxy.close();
		reg.close();
	});

	test("stateful: a slot expires 30 s after the last datagram either way; a late reply is dropped", async () => {
		const n = topology();
		let reply: (() => void) | undefined;
		const regSock: UdpSocket = await n.registrarHost.udp.bind({ port: DTLS_PORT, onDatagram: (d, from) => { const to = { ...from }; reply = () => regSock.send(utf8Encode("late"), to); } });
		const proxy = await until(n.clock, JoinProxy.start(proxyOptions(n, { registrars: [{ address: REGISTRAR, port: DTLS_PORT, mode: "stateful" }] })));
		const got: Received[] = [];
		const p = await collect(n.pledge(1), 41000, got);
		p.send(utf8Encode("a"), JOIN);
		await runFor(n.clock, 20_000);
		reply!(); // Registrar-side activity at 20 s keeps the slot
		await runFor(n.clock, 20_000);
		equal(proxy.stats().slotsInUse, 1, "refreshed by the reply");
		equal(got.length, 1);
		await runFor(n.clock, 11_000);
		equal(proxy.stats().slotsInUse, 0, "expired 30 s after the last datagram");
		reply!();
		await runFor(n.clock, 20);
		equal(proxy.stats().drops.noSlot, 1);
		equal(got.length, 1);
		proxy.close();
		regSock.close();
	});

	test("stateful: non-link-local pledges and strangers on the Registrar side are dropped", async () => {
		const n = topology();
		const seen: Received[] = [];
		const reg = await echoRegistrar(n, seen);
		const proxy = await until(n.clock, JoinProxy.start(proxyOptions(n, { registrars: [{ address: REGISTRAR, port: DTLS_PORT, mode: "stateful" }] })));
		const rogue = createXsHost({ network: n.net, name: "rogue", interfaces: [{ name: "wpan0", link: "mesh", addresses: ["2001:db8:99::5"] }] });
		(await collect(rogue, 1000, [])).send(utf8Encode("x"), { address: "fe80::1", port: 5684, zone: "wpan0" });
		const got: Received[] = [];
		(await collect(n.pledge(1), 1001, got)).send(utf8Encode("y"), JOIN);
		await runFor(n.clock, 20);
		equal(proxy.stats().drops.notLinkLocal, 1);
		const stranger = createXsHost({ network: n.net, name: "stranger", interfaces: [{ name: "eth0", link: "backbone", addresses: ["2001:db8::66"] }] });
		(await collect(stranger, 1002, [])).send(utf8Encode("inject"), { address: "2001:db8::1", port: seen[0]!.from.port, zone: "" });
		await runFor(n.clock, 20);
		equal(proxy.stats().drops.notFromRegistrar, 1);
		deepEqual(got.map((r) => utf8Decode(r.data)), ["re:y"]);
		proxy.close();
		reg.close();
	});

	test("stateful: a Registrar-side ICMPv6 error reaches the pledge with the same type and code", async () => {
		const n = topology();
		const proxy = await until(n.clock, JoinProxy.start(proxyOptions(n, { registrars: [{ address: REGISTRAR, port: DTLS_PORT, mode: "stateful" }] })));
		const icmp: IcmpError[] = [];
		(await collect(n.pledge(1), 1001, [], (e) => icmp.push(e))).send(utf8Encode("nobody home"), JOIN);
		await runFor(n.clock, 20);
		deepEqual(icmp.map((e) => [e.type, e.code]), [[1, 4]], "port unreachable relayed");
		equal(proxy.stats().icmp.relayed, 1);
		proxy.close();
	});

	test("stateless: JPY with a 19-byte header per flow, echoed replies delivered, overhead <= 24 bytes", async () => {
		const n = topology();
		const seen: { header: string; content: string; from: UdpArrival }[] = [];
		const reg = await jpyRegistrar(n, seen);
		const proxy = await until(n.clock, JoinProxy.start(proxyOptions(n, { registrars: [{ address: REGISTRAR, port: JPY_PORT, mode: "stateless" }] })));
		const got: Received[][] = [[], [], []];
		const p1 = n.pledge(1);
		const socks = [await collect(p1, 40001, got[0]!), await collect(n.pledge(2), 40001, got[1]!), await collect(p1, 40002, got[2]!)];
		for (let round = 0; round < 2; round++) socks.forEach((s, i) => s.send(utf8Encode(`m${i}`), JOIN));
		await runFor(n.clock, 50);
		equal(seen.length, 6);
		ok(seen.every((s) => s.header.length === 2 * HEADER_BYTES));
		equal(new Set(seen.map((s) => s.header)).size, 3, "one header per flow");
		deepEqual(seen.slice(0, 3).map((s) => s.header), seen.slice(3).map((s) => s.header), "the same flow always gets the same header");
		equal(new Set(seen.map((s) => s.from.port)).size, 1, "one Registrar-side source port for all pledges");
		for (let i = 0; i < 3; i++) deepEqual(got[i]!.map((r) => utf8Decode(r.data)), [`re:m${i}`, `re:m${i}`]);
		const big = new Uint8Array(1100);
		socks[0]!.send(big, JOIN);
		await runFor(n.clock, 20);
		const jpy = n.trace.filter((d) => d.to.port === JPY_PORT).pop()!;
		ok(jpy.data.length - big.length <= 24, `overhead ${jpy.data.length - big.length} bytes`);
		equal(proxy.stats().jpyOverheadBytes, 24);
		proxy.close();
		reg.close();
	});

	test("stateless: forged, flipped and foreign JPY is dropped silently and counted", async () => {
		const n = topology();
		const seen: { header: string; content: string; from: UdpArrival }[] = [];
		const reg = await jpyRegistrar(n, seen);
		const proxy = await until(n.clock, JoinProxy.start(proxyOptions(n, { registrars: [{ address: REGISTRAR, port: JPY_PORT, mode: "stateless" }] })));
		const got: Received[] = [];
		(await collect(n.pledge(1), 40001, got)).send(utf8Encode("hi"), JOIN);
		await runFor(n.clock, 20);
		equal(got.length, 1);
		const relayPort = n.trace.find((d) => d.to.port === JPY_PORT)!.from.port;
		const to = { address: "2001:db8::1", port: relayPort, zone: "" };
		const valid = n.trace.find((d) => d.to.port === JPY_PORT)!.data;
		const forge = await n.registrarHost.udp.bind({ port: JPY_PORT + 1, onDatagram: () => {} });
		// From the Registrar's address but a wrong port: not the Registrar.
		forge.send(valid, to);
		// Bit flips in every header byte, from the real JPY port.
		for (let i = 2; i < 2 + HEADER_BYTES; i++) {
			const bad = valid.slice();
			bad[i] = bad[i]! ^ 0x01;
			reg.send(bad, to);
		}
		reg.send(new Uint8Array([0x82, 0x41]), to);
		reg.send(utf8Encode("not cbor at all"), to);
		await runFor(n.clock, 20);
		const st = proxy.stats();
		equal(st.drops.notFromRegistrar, 1);
		equal(st.drops.badHeader, HEADER_BYTES);
		equal(st.drops.badJpy, 2);
		equal(got.length, 1, "nothing forged reached the pledge");
		forge.close();
		proxy.close();
		reg.close();
	});

	test("stateless: key rotation keeps running flows on their header through the grace period", async () => {
		const n = topology();
		const seen: { header: string; content: string; from: UdpArrival }[] = [];
		const reg = await jpyRegistrar(n, seen);
		const proxy = await until(n.clock, JoinProxy.start(proxyOptions(n, { registrars: [{ address: REGISTRAR, port: JPY_PORT, mode: "stateless" }], keyRotationMs: 3600_000, keyGraceMs: 600_000 })));
		const got: Received[] = [];
		const old = await collect(n.pledge(1), 40001, got);
		old.send(utf8Encode("a"), JOIN);
		await runFor(n.clock, 3600_000 - 10);
		equal(proxy.stats().keyEpoch, 0);
		await runFor(n.clock, 20);
		equal(proxy.stats().keyEpoch, 1, "rotated on its timer");
		old.send(utf8Encode("b"), JOIN);
		const fresh = await collect(n.pledge(2), 40001, got);
		fresh.send(utf8Encode("c"), JOIN);
		await runFor(n.clock, 20);
		equal(seen[1]!.header, seen[0]!.header, "the running flow keeps its header");
		equal(parseInt(seen[2]!.header.slice(0, 2), 16) >> 7, 0, "through the grace period, new flows too are sealed under the previous key");
		deepEqual(got.map((r) => utf8Decode(r.data)), ["re:a", "re:b", "re:c"]);
		// After the grace period, the old header no longer opens and the flow is resealed.
		await runFor(n.clock, 600_000);
		old.send(utf8Encode("d"), JOIN);
		await runFor(n.clock, 20);
		ok(seen[3]!.header !== seen[0]!.header, "resealed under the new key");
		equal(parseInt(seen[3]!.header.slice(0, 2), 16) >> 7, 1, "with the new epoch's marker");
		deepEqual(got.map((r) => utf8Decode(r.data)), ["re:a", "re:b", "re:c", "re:d"]);
		proxy.close();
		reg.close();
	});

	test("discovery: the proxy answers brski-jp=* at ff02::fd and finds a stateless Registrar at ff05::fd", async () => {
		const n = topology();
		const router = new CoapRouter().addLink({ target: `jpy://[${REGISTRAR}]:${JPY_PORT}`, attributes: [{ name: "rt", value: "brski.rjp" }] }).addLink({ target: `coaps://[${REGISTRAR}]/b`, attributes: [{ name: "rt", value: "brski" }] });
		const regCoap = await openUdpCoap(n.registrarHost, { port: 5683, address: REGISTRAR, zone: "eth0", groups: [ALL_COAP_NODES_SITE_LOCAL], handler: router.handler, multicastLeisureMs: 100 });
		const proxy = await until(n.clock, JoinProxy.start({ host: n.proxyHost, pledgeInterfaces: [{ name: "wpan0", address: "fe80::1" }], joinPorts: [45965], discovery: { zone: "eth0", leisureMs: 500 }, discoveryLeisureMs: 100 }));
		deepEqual(proxy.stats().registrars, [{ address: REGISTRAR, port: JPY_PORT, mode: "stateless", joinPort: 45965 }]);
		ok(n.logs.some((l) => l.includes("stateless relay to [2001:db8::2]:7634 (from discovery)")));
		const pledge = await openUdpCoap(n.pledge(1), {});
		const answers = await until(n.clock, pledge.endpoint.multicastRequest({ peer: { address: ALL_COAP_NODES_LINK_LOCAL, port: 5683, zone: "wpan0" }, path: ".well-known/core", query: ["brski-jp=*"], leisureMs: 500 }));
		deepEqual(answers.map((a) => [utf8Decode(a.payload), a.peer.address]), [["<>;brski-jp=45965", "fe80::1"]]);
		pledge.close();
		proxy.close();
		regCoap.close();
	});

	test("discovery: with both sides' defaults, the proxy answers inside the pledge's listening window", async () => {
		const n = topology();
		const proxy = await until(n.clock, JoinProxy.start(proxyOptions(n, { registrars: [{ address: REGISTRAR, port: DTLS_PORT, mode: "stateful" }], answerDiscovery: true })));
		let found = 0;
		for (let i = 0; i < 10; i++) {
			const pledge = n.pledge(1 + i);
			const peers = await until(n.clock, discoverJoinProxies({ host: pledge, interfaces: ["wpan0"] }));
			if (peers.some((p) => p.address === "fe80::1" && p.port === 5684)) found++;
		}
		equal(found, 10, "every discovery round found the proxy");
		proxy.close();
	});

	test("discovery: rt=brski only gives stateful mode (port 5684 when elided); nothing found: not a proxy", async () => {
		const n = topology();
		const router = new CoapRouter().addLink({ target: `coaps://[${REGISTRAR}]/b`, attributes: [{ name: "rt", value: "brski" }] });
		const regCoap = await openUdpCoap(n.registrarHost, { port: 5683, address: REGISTRAR, zone: "eth0", groups: [ALL_COAP_NODES_SITE_LOCAL], handler: router.handler, multicastLeisureMs: 100 });
		const proxy = await until(n.clock, JoinProxy.start(proxyOptions(n, { discovery: { zone: "eth0", leisureMs: 300 } })));
		deepEqual(proxy.stats().registrars.map((r) => [r.mode, r.port]), [["stateful", 5684]]);
		proxy.close();
		regCoap.close();
		const lonely = topology();
		const idle = await until(lonely.clock, JoinProxy.start(proxyOptions(lonely, { discovery: { zone: "eth0", leisureMs: 300, retryMs: 1000 } })));
		equal(idle.acting, false);
		equal(idle.stats().mode, "none");
		ok(lonely.logs.some((l) => l.includes("not acting as a Join Proxy")));
		const got: Received[] = [];
		(await collect(lonely.pledge(1), 40001, got)).send(utf8Encode("x"), JOIN);
		await runFor(lonely.clock, 20);
		equal(idle.stats().toRegistrar.datagrams, 0, "no join-port while not acting");
		idle.close();
		equal(lonely.clock.nextDue(), undefined, "close() left no timer");
	});

	test("flood: 10,000 pledge addresses keep the table bounded; a legitimate pledge is served once slots expire", async () => {
		const n = topology();
		const reg = await echoRegistrar(n, []);
		const proxy = await until(n.clock, JoinProxy.start(proxyOptions(n, { registrars: [{ address: REGISTRAR, port: DTLS_PORT, mode: "stateful" }] })));
		const attacker = createXsHost({ network: n.net, name: "attacker", interfaces: [{ name: "wpan0", link: "mesh", addresses: ["fe80::bad"] }] });
		// One node posing as many: rewrite the source of each datagram on the wire.
		const sock = await attacker.udp.bind({ port: 1, onDatagram: () => {} });
		let k = 0;
		n.net.filter = (d) => {
			if (d.from.address === "fe80::bad") {
				k++;
				d.from = { address: `fe80::${(k >> 16).toString(16)}:${(k & 0xffff).toString(16)}`, port: 1024 + (k % 50000), zone: d.from.zone };
			}
			return true;
		};
		for (let i = 0; i < 10_000; i++) sock.send(utf8Encode("flood"), JOIN);
		await runFor(n.clock, 100);
		const st = proxy.stats();
		equal(st.slotsInUse, 10);
		equal(st.drops.ownAddress, 1, "one spoofed source (fe80::0:1) is the proxy's own address");
		equal(st.drops.refused + st.drops.flowRateLimited, 9_989, "the rest: refused for want of a slot, or over the (hashed) per-source flow rate");
		equal(st.icmp.refusalsSent + st.icmp.rateLimited, st.drops.refused, "each refusal answered or rate-limited");
		ok(st.icmp.refusalsSent <= 11, "ICMP errors are rate-limited");
		const got: Received[] = [];
		const good = await collect(n.pledge(7), 40007, got);
		good.send(utf8Encode("me"), JOIN);
		await runFor(n.clock, 31_000);
		good.send(utf8Encode("me again"), JOIN);
		await runFor(n.clock, 100);
		deepEqual(got.map((r) => utf8Decode(r.data)), ["re:me again"]);
		sock.close();
		proxy.close();
		reg.close();
	});

	test("fuzz: 20,000 random, truncated, flipped, spliced and forged JPY datagrams: no forged header accepted", () => {
		const r = fuzzJpy(20_000, 0x1a2b);
		equal(r.forgedHeadersAccepted, 0);
		ok(r.accepted > 3000 && r.accepted < 19_000, `both outcomes exercised (${r.accepted} decoded)`);
	});
});
