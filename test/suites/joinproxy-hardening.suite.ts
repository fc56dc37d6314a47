/* The Join Proxy under attack (issue 7): each test here failed before its fix. */

import { suite } from "../lib/harness.js";
import { deepEqual, equal, ok } from "../lib/assert.js";
import { runFor, until } from "../lib/drive.js";
import { createXsHost } from "../../hosts/xs/index.js";
import type { Host, UdpArrival, UdpBindOptions, UdpSocket } from "../../hosts/host.js";
import { JoinProxy } from "../../src/joinproxy/join-proxy.js";
import { MAX_DATAGRAM } from "../../src/joinproxy/datagram-limit.js";
import { HEADER_BYTES } from "../../modules/jpy/header.js";
import { decodeJpy, encodeJpyInto, jpyEncodedLength } from "../../modules/jpy/message.js";
import { utf8Decode, utf8Encode } from "../../modules/util/utf8.js";
import { toHex } from "../../modules/util/hex.js";
import { collect, DTLS_PORT, echoRegistrar, JOIN, jpyRegistrar, JPY_PORT, proxyOptions, REGISTRAR, topology, type Received } from "../lib/proxy-net.js";

const STATEFUL = [{ address: REGISTRAR, port: DTLS_PORT, mode: "stateful" as const }];
const STATELESS = [{ address: REGISTRAR, port: JPY_PORT, mode: "stateless" as const }];
type Seen = { header: string; content: string; from: UdpArrival }[];

/** The proxy host with its binds recorded (to reach a join-port's handler directly) and a switch that makes sends throw. */
function tapped(host: Host): { host: Host; binds: UdpBindOptions[]; failSends: { on: boolean } } {
	const binds: UdpBindOptions[] = [];
	const failSends = { on: false };
	const udp = {
		bind: async (o: UdpBindOptions): Promise<UdpSocket> => {
			binds.push(o);
			const s = await host.udp.bind(o);
			return {
				get port() {
					return s.port;
				},
				send: (d, to, length) => {
					if (failSends.on) throw new Error("network down");
					s.send(d, to, length);
				},
				joinMulticast: (g, z) => s.joinMulticast(g, z),
				leaveMulticast: (g, z) => s.leaveMulticast(g, z),
				close: () => s.close(),
			};
		},
	};
	return { host: { ...host, udp }, binds, failSends };
}

export default suite("join proxy hardening", (test) => {
	test("stateful: a freed slot's Registrar-side port is the last one reused (item 2)", async () => {
		const n = topology();
		const seen: Received[] = [];
		const reg = await echoRegistrar(n, seen);
		const proxy = await until(n.clock, JoinProxy.start(proxyOptions(n, { registrars: STATEFUL, capacity: 4 })));
		const ports: number[] = [];
		for (let k = 1; k <= 6; k++) {
			(await collect(n.pledge(k), 40000 + k, [])).send(utf8Encode("hello"), JOIN);
			await runFor(n.clock, 31_000); // each flow expires before the next pledge arrives
			ports.push(seen[seen.length - 1]!.from.port);
		}
		equal(proxy.stats().slotsInUse, 0);
		equal(new Set(ports.slice(0, 4)).size, 4, `four slots, four ports before any is reused: ${ports.join(",")}`);
		deepEqual(ports.slice(4), ports.slice(0, 2), "then the least recently freed first");
		// The same flow coming back after its slot expired gets its own old port (its Registrar session), not the oldest.
		(await collect(n.pledge(3), 40003, [])).send(utf8Encode("back"), JOIN);
		await runFor(n.clock, 20);
		equal(seen[seen.length - 1]!.from.port, ports[2]);
		proxy.close();
		reg.close();
	});

	for (const [mode, registrars] of [["stateful", STATEFUL], ["stateless", STATELESS]] as const) {
		test(`${mode}: new flows are rate-limited per pledge address; other pledges are not affected (item 3)`, async () => {
			const n = topology();
			const reg = mode === "stateful" ? await echoRegistrar(n, []) : await jpyRegistrar(n, []);
			// Configured Registrars: start needs no clock (and binds more sockets than until() flushes for).
			const proxy = await JoinProxy.start(proxyOptions(n, { registrars, maxPerAddress: 100, maxPerInterface: 100, capacity: 100, flowCacheSize: 100, rateLimit: { flowsPerSecond: 1, flowBurst: 5 } }));
			const flooder = n.pledge(1);
			for (let port = 1000; port < 1020; port++) (await collect(flooder, port, [])).send(utf8Encode("ClientHello"), JOIN);
			const got: Received[] = [];
			(await collect(n.pledge(2), 2000, got)).send(utf8Encode("me"), JOIN);
			await runFor(n.clock, 20);
			let st = proxy.stats();
			equal(st.drops.flowRateLimited, 15, "a burst of 5 new flows, then none");
			equal(st.toRegistrar.datagrams, 6);
			equal(got.length, 1, "another pledge still gets through");
			await runFor(n.clock, 2000);
			(await collect(flooder, 1100, [])).send(utf8Encode("later"), JOIN);
			await runFor(n.clock, 20);
			st = proxy.stats();
			equal(st.toRegistrar.datagrams, 7, "tokens come back at the sustained rate");
			proxy.close();
			reg.close();
		});

		test(`${mode}: with a datagram rate set, one flow flooding is cut to it (item 3)`, async () => {
			const n = topology();
			const reg = mode === "stateful" ? await echoRegistrar(n, []) : await jpyRegistrar(n, []);
			const proxy = await until(n.clock, JoinProxy.start(proxyOptions(n, { registrars, rateLimit: { datagramsPerSecond: 10, datagramBurst: 20 } })));
			const got: Received[] = [];
			const s = await collect(n.pledge(1), 3000, got);
			for (let i = 0; i < 50; i++) s.send(utf8Encode(`ch${i}`), JOIN);
			await runFor(n.clock, 20);
			equal(proxy.stats().drops.datagramRateLimited, 30);
			equal(got.length, 20);
			proxy.close();
			reg.close();
		});

		test(`${mode}: the proxy's own addresses, fe80:: and multicast arrivals are refused, no loop (item 4)`, async () => {
			const n = topology();
			const t = tapped(n.proxyHost);
			const seen: Received[] = [];
			const reg = mode === "stateful" ? await echoRegistrar(n, seen) : await jpyRegistrar(n, seen as unknown as Seen);
			const proxy = await JoinProxy.start({ ...proxyOptions(n, { registrars, ownAddresses: ["fe80::e1"] }), host: t.host });
			// One node on the mesh posing as the join-port itself, as fe80::, and as our other interface.
			const spoofer = createXsHost({ network: n.net, name: "spoofer", interfaces: [{ name: "wpan0", link: "mesh", addresses: ["fe80::66"] }] });
			const sock = await spoofer.udp.bind({ port: 5684, onDatagram: () => {} });
			const sources = ["fe80::1", "fe80::", "fe80::e1"];
			let k = 0;
			n.net.filter = (d) => {
				if (d.from.address === "fe80::66") d.from = { ...d.from, address: sources[k++]! };
				return true;
			};
			for (let i = 0; i < sources.length; i++) sock.send(utf8Encode("loop?"), JOIN);
			// To the proxy's global address on the mesh: the join-port is bound to its link-local address only.
			sock.send(utf8Encode("global"), { address: "2001:db8::1", port: 5684, zone: "" });
			await runFor(n.clock, 50);
			// A datagram to a group reaching the join-port (the Node host reports it as multicast).
			const join = t.binds.find((b) => b.port === 5684)!;
			join.onDatagram(utf8Encode("to ff02::1"), { address: "fe80::77", port: 1234, zone: "wpan0", multicast: true });
			await runFor(n.clock, 50);
			const st = proxy.stats();
			equal(st.drops.ownAddress, 2, "fe80::1 and fe80::e1");
			equal(st.drops.notLinkLocal, 1, "fe80:: (IID 0)");
			equal(st.drops.notToJoinPort, 1);
			equal(st.toRegistrar.datagrams, 0);
			equal(seen.length, 0, "nothing reached the Registrar");
			sock.close();
			proxy.close();
			reg.close();
		});

		test(`${mode}: Registrar-side sockets bound to the Registrar-facing address are not reachable from the pledge link (item 5)`, async () => {
			const n = topology();
			const seen: Received[] = [];
			const reg = mode === "stateful" ? await echoRegistrar(n, seen) : await jpyRegistrar(n, seen as unknown as Seen);
			const proxy = await until(n.clock, JoinProxy.start(proxyOptions(n, { registrars, registrarSide: { address: "2001:db8::1", zone: "eth0" } })));
			const got: Received[] = [];
			(await collect(n.pledge(1), 4000, got)).send(utf8Encode("hi"), JOIN);
			await runFor(n.clock, 20);
			equal(got.length, 1);
			const relayPort = n.trace.find((d) => d.to.address === REGISTRAR)!.from.port;
			const reply = n.trace.filter((d) => d.from.address === REGISTRAR).pop()!.data;
			// A node on the mesh sends the Registrar's own reply, "from" the Registrar, to a proxy address on the mesh.
			const spoofer = createXsHost({ network: n.net, name: "spoofer", interfaces: [{ name: "wpan0", link: "mesh", addresses: ["fe80::66"] }] });
			const sock = await spoofer.udp.bind({ port: 1, onDatagram: () => {} });
			n.net.filter = (d) => {
				if (d.from.address === "fe80::66") d.from = { address: REGISTRAR, port: registrars[0]!.port, zone: d.from.zone };
				n.trace.push(d);
				return true;
			};
			sock.send(reply, { address: "fe80::1", port: relayPort, zone: "wpan0" });
			await runFor(n.clock, 20);
			equal(got.length, 1, "the injected datagram never reached the pledge");
			equal(proxy.stats().toPledge.datagrams, 1);
			sock.close();
			proxy.close();
			reg.close();
		});

		test(`${mode}: at most ${MAX_DATAGRAM} bytes of content either way; larger is dropped and counted (item 8)`, async () => {
			const n = topology({ maxDatagram: 4000 });
			const seen: Received[] = [];
			const reg = mode === "stateful" ? await echoRegistrar(n, seen) : await jpyRegistrar(n, seen as unknown as Seen);
			const proxy = await until(n.clock, JoinProxy.start(proxyOptions(n, { registrars })));
			const got: Received[] = [];
			const p = await collect(n.pledge(1), 5000, got);
			p.send(new Uint8Array(MAX_DATAGRAM).fill(0x41), JOIN);
			await runFor(n.clock, 20);
			equal(seen.length, 1, "exactly 1232 bytes pass");
			const toReg = n.trace.filter((d) => d.to.port === registrars[0]!.port).pop()!;
			equal(toReg.data.length, mode === "stateful" ? MAX_DATAGRAM : jpyEncodedLength(HEADER_BYTES, MAX_DATAGRAM));
			equal(got.length, 0, "the echo (3 bytes longer) is too large for the pledge link");
			p.send(new Uint8Array(MAX_DATAGRAM + 1), JOIN);
			await runFor(n.clock, 20);
			equal(seen.length, 1, "1233 bytes do not");
			const st = proxy.stats();
			equal(st.drops.tooLarge, 2);
			equal(st.toRegistrar.datagrams, 1);
			equal(st.toPledge.datagrams, 0);
			proxy.close();
			reg.close();
		});
	}

	test("stateless: a flow evicted from the cache mid-grace keeps its header (item 9)", async () => {
		const n = topology();
		const seen: Seen = [];
		const reg = await jpyRegistrar(n, seen);
		const proxy = await until(n.clock, JoinProxy.start(proxyOptions(n, { registrars: STATELESS, flowCacheSize: 2, keyRotationMs: 3600_000, keyGraceMs: 600_000 })));
		const a = await collect(n.pledge(1), 6000, []);
		a.send(utf8Encode("ClientHello"), JOIN);
		await runFor(n.clock, 20);
		proxy.rotateKey();
		for (let k = 2; k <= 4; k++) (await collect(n.pledge(k), 6000, [])).send(utf8Encode("push a out"), JOIN);
		await runFor(n.clock, 20);
		a.send(utf8Encode("Finished"), JOIN);
		await runFor(n.clock, 20);
		equal(seen[seen.length - 1]!.content, "Finished");
		equal(seen[seen.length - 1]!.header, seen[0]!.header, "the Registrar sees the same session");
		proxy.close();
		reg.close();
	});

	test("stateless: a header made for one relay does not open at another (item 9)", async () => {
		const n = topology();
		const seenA: Seen = [];
		const regA = await jpyRegistrar(n, seenA);
		const regB = await n.registrarHost.udp.bind({ port: JPY_PORT + 1, onDatagram: () => {} });
		const proxy = await until(n.clock, JoinProxy.start(proxyOptions(n, { registrars: [...STATELESS, { address: REGISTRAR, port: JPY_PORT + 1, mode: "stateless" }], joinPorts: [5684, 5685] })));
		(await collect(n.pledge(1), 7000, [])).send(utf8Encode("hi"), JOIN);
		const got: Received[] = [];
		(await collect(n.pledge(2), 7000, got)).send(utf8Encode("hi"), { ...JOIN, port: 5685 });
		await runFor(n.clock, 20);
		const relayB = n.trace.find((d) => d.to.port === JPY_PORT + 1)!.from.port;
		const msg = n.trace.find((d) => d.to.port === JPY_PORT)!.data;
		const v = decodeJpy(msg);
		const header = msg.slice(v.headerStart, v.headerStart + v.headerLength);
		const out = new Uint8Array(jpyEncodedLength(header.length, 5));
		encodeJpyInto(header, utf8Encode("stray"), out, 0);
		regB.send(out, { address: "2001:db8::1", port: relayB, zone: "" });
		await runFor(n.clock, 20);
		equal(proxy.stats().drops.badHeader, 1);
		equal(got.length, 0);
		regB.close();
		regA.close();
		proxy.close();
	});

	test("key grace must be shorter than the rotation (item 9)", async () => {
		const n = topology();
		let error: unknown;
		await JoinProxy.start(proxyOptions(n, { registrars: STATELESS, keyRotationMs: 1000, keyGraceMs: 1000 })).catch((e: unknown) => (error = e));
		ok(error instanceof RangeError && error.message.includes("shorter"), String(error));
	});

	test("a discovery retry that throws is logged and re-armed, not an unhandled rejection (item 9)", async () => {
		const n = topology();
		const t = tapped(n.proxyHost);
		const proxy = await until(n.clock, JoinProxy.start({ ...proxyOptions(n, { discovery: { zone: "eth0", leisureMs: 300, retryMs: 1000 } }), host: t.host }));
		equal(proxy.acting, false);
		t.failSends.on = true;
		await runFor(n.clock, 1000);
		ok(n.logs.some((l) => l.startsWith("error") && l.includes("discovery failed") && l.includes("network down")), n.logs.join("\n"));
		ok(n.clock.nextDue() !== undefined, "retry re-armed");
		proxy.close();
		equal(n.clock.nextDue(), undefined);
	});

	test("drops are logged when they start, at most once a period while they go on, and once when they stop (item 11)", async () => {
		const n = topology();
		const reg = await echoRegistrar(n, []);
		const proxy = await until(n.clock, JoinProxy.start(proxyOptions(n, { registrars: STATEFUL, dropLogPeriodMs: 10_000 })));
		const rogue = createXsHost({ network: n.net, name: "rogue", interfaces: [{ name: "wpan0", link: "mesh", addresses: ["2001:db8:99::5"] }] });
		const s = await rogue.udp.bind({ port: 1, onDatagram: () => {} });
		const warnings = (): string[] => n.logs.filter((l) => l.startsWith("warn"));
		for (let second = 0; second < 25; second++) {
			for (let i = 0; i < 100; i++) s.send(utf8Encode("x"), JOIN);
			await runFor(n.clock, 1000);
		}
		equal(proxy.stats().drops.notLinkLocal, 2500);
		equal(warnings().length, 3, warnings().join("\n"));
		ok(warnings()[0]!.includes("dropping") && warnings()[0]!.includes('"notLinkLocal":1'), "the first drop, with the counters");
		ok(warnings()[1]!.includes("still dropping"));
		await runFor(n.clock, 30_000);
		equal(warnings().length, 5, "the last period's drops, then quiet");
		ok(warnings()[4]!.includes("drops stopped: 2500"), warnings()[4]);
		s.close();
		proxy.close();
		reg.close();
	});
});
