/*
 * The Join Proxy under attack, end to end (issue 7, findings 3-6): `cjp joinproxy` in its own namespace
 * between a libcoap GnuTLS pledge and coap-server-gnutls (stateful), or `cjp jpy-bridge` in front of it
 * (stateless), while a neighbour on the pledge link sends datagrams with sources it does not own
 * (ip_nonlocal_bind, see ../node-lib/attacker.ts): the proxy's own address, fe80:: with interface ID 0,
 * a neighbour that never answers neighbour discovery, the Registrar's address.
 *
 *   pledge ns (pledge + attacker)  pl0 fe80::b ── jp0 fe80::a  proxy ns  jr0 2001:db8:1::1 ── rg0 2001:db8:1::2  registrar ns
 *
 * Datagrams reaching the Registrar are counted in its namespace's /proc/net/snmp6. Every proxy is
 * started for one test and must end within 2 s of SIGTERM with exit code 0.
 */

import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { Namespaces, netnsUnavailable } from "../node-lib/netns.js";
import { unavailable } from "../node-lib/unavailable.js";
import { pkiUnavailable } from "../node-lib/pki.js";
import { coapsUri, joinProxyTopology, peersUnavailable, putResource, runCoapClient, startCoapServer, type CoapServer, type JoinProxyTopology } from "../node-lib/coap-peers.js";
import { allowSpoofing, dtlsClientHello, rssKb, spoof, startUdpPeer, udpArrivals, udpSocketsOf } from "../node-lib/attacker.js";
import { cjpStats, startCjp, stopTimed, type CjpProcess } from "../node-lib/cjp-process.js";

const BODY = Buffer.from("still serving pledges\n");
/** The Registrar's CoAP port; its DTLS port is one above (libcoap). */
const COAP_PORT = 5683;
const DTLS_PORT = 5684;
const JPY_PORT = 7634;
/** cjp joinproxy must end within this long of SIGTERM (issue 7, "done when"). */
const STOP_MS = 2000;
/** A real pledge must finish its CoAPS GET within this long, flood or not (issue 7, finding 3). */
const PLEDGE_BUDGET_S = 20;

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

function missingPeers(): string | undefined {
	return netnsUnavailable() ?? peersUnavailable(["gnutls"]) ?? pkiUnavailable();
}

type Mode = "stateful" | "stateless";

describe("join proxy under attack from the pledge link (spoofed sources)", { timeout: 180_000 }, () => {
	const why = missingPeers();
	const net = new Namespaces("ja");
	let t: JoinProxyTopology;
	let server: CoapServer;
	let bridge: CjpProcess;
	let joinPort = 20000;
	let pledgePort = 43000;

	before(async () => {
		if (why !== undefined) return;
		t = joinProxyTopology(net);
		allowSpoofing(net, t.pledge.ns);
		allowSpoofing(net, t.proxy.ns);
		allowSpoofing(net, t.registrar.ns);
		const reg = t.registrar.routable;
		server = await startCoapServer(net, { lib: "gnutls", ns: t.registrar.ns, address: reg, port: COAP_PORT, ccm8Only: true });
		await putResource(net, server, "small", BODY);
		bridge = await startCjp(net, t.registrar.ns, ["jpy-bridge", "--port", String(JPY_PORT), "--bind", reg, "--to", `[${reg}]:${DTLS_PORT}`], `JPY on port ${JPY_PORT}`);
	});

	after(async () => {
		await server?.stop();
		net.close();
	});

	/** A fresh proxy in `mode` on a join-port of its own; resolves with it and the port. */
	async function proxy(mode: Mode, extra: string[] = []): Promise<{ p: CjpProcess; join: number }> {
		const join = ++joinPort;
		const registrar = mode === "stateful" ? `coaps://[${t.registrar.routable}]:${DTLS_PORT}` : `jpy://[${t.registrar.routable}]:${JPY_PORT}`;
		const p = await startCjp(net, t.proxy.ns, ["joinproxy", "--pledge-iface", t.proxy.pledgeIf, "--mode", mode, "--no-discovery-answers", "--registrar", registrar, "--join-port", String(join), ...extra], `on join-port ${join}`);
		return { p, join };
	}

	/** A real pledge (coap-client-gnutls) GETs /small through the proxy. */
	async function pledgeGet(join: number, localPort = ++pledgePort): Promise<{ ok: boolean; ms: number; detail: string }> {
		const r = await runCoapClient(net, { lib: "gnutls", ns: t.pledge.ns, bind: t.pledge.bind, ccm8Only: true, uri: coapsUri(t.proxy.linkLocal, join, "small"), localPort, timeoutS: PLEDGE_BUDGET_S });
		return { ok: r.ok && r.body !== undefined && r.body.equals(BODY), ms: r.ms, detail: `${r.stderr}${r.stdout}`.slice(-600) };
	}

	/** SIGTERM ends the proxy within STOP_MS with exit code 0. */
	async function assertStops(p: CjpProcess, what: string): Promise<number> {
		const s = await stopTimed(p);
		assert.ok(!s.killed && s.ms <= STOP_MS && s.code === 0, `${what}: SIGTERM → exit took ${s.ms} ms, code ${s.code}, signal ${s.signal}${s.killed ? " (had to SIGKILL)" : ""}`);
		return s.ms;
	}

	/** Datagrams reaching the Registrar's namespace in the windowMs after sending one datagram from `source`. */
	async function registrarArrivals(o: { source: string; sourcePort?: number; target: string; port: number }, windowMs: number): Promise<number> {
		const before = udpArrivals(net, t.registrar.ns);
		const sent = await spoof(net, t.pledge.ns, { source: o.source, ...(o.sourcePort !== undefined ? { sourcePorts: [o.sourcePort] } : {}), target: o.target, targetPorts: [o.port], payload: dtlsClientHello(), count: 1 }).done;
		assert.equal(sent.errors, 0, `spoofed send from ${o.source} to ${o.target}: ${sent.firstError}`);
		await sleep(windowMs);
		return udpArrivals(net, t.registrar.ns) - before;
	}

	for (const mode of ["stateful", "stateless"] as const) {
		it(`finding 4, ${mode}: one datagram from the proxy's own [fe80::a]:join-port is refused, no proxy↔Registrar loop`, async (tc) => {
			if (unavailable(tc, why)) return;
			const { p, join } = await proxy(mode);
			try {
				const own = `${t.proxy.linkLocal}%${t.pledge.ifname}`;
				const windowMs = 2000;
				const n = await registrarArrivals({ source: own, sourcePort: join, target: own, port: join }, windowMs);
				const s = await cjpStats(p);
				const after = await pledgeGet(join);
				assert.equal(n, 0, `${n} datagrams reached the Registrar in ${windowMs} ms after one spoofed datagram (${Math.round((n * 1000) / windowMs)}/s); proxy relayed ${s.toRegistrar.datagrams} to the Registrar, ${s.toPledge.datagrams} to "pledges"`);
				assert.ok(after.ok, `a real pledge afterwards: ${after.detail}`);
			} finally {
				await assertStops(p, `${mode} proxy after the loop attempt`);
			}
		});

		it(`finding 4, ${mode}: fe80:: (interface ID 0) sources, multicast and global destinations are not relayed`, async (tc) => {
			if (unavailable(tc, why)) return;
			const { p, join } = await proxy(mode);
			try {
				const zone = t.pledge.ifname;
				const cases: Record<string, { source: string; sourcePort?: number; target: string; port: number }> = {
					"source fe80:: (IID 0)": { source: `fe80::%${zone}`, sourcePort: 41000, target: `${t.proxy.linkLocal}%${zone}`, port: join },
					"destination ff02::1": { source: `fe80::b%${zone}`, target: `ff02::1%${zone}`, port: join },
					"destination ff02::fd": { source: `fe80::b%${zone}`, target: `ff02::fd%${zone}`, port: join },
					"global destination 2001:db8:1::1 (routed over the pledge link)": { source: `fe80::b%${zone}`, target: t.proxy.routable, port: join },
				};
				net.addRoute(t.pledge.ns, `${t.proxy.routable}/128`, { via: t.proxy.linkLocal, dev: zone });
				const seen: Record<string, number> = {};
				for (const [name, c] of Object.entries(cases)) seen[name] = await registrarArrivals(c, 1000);
				const after = await pledgeGet(join);
				assert.deepEqual(seen, Object.fromEntries(Object.keys(cases).map((k) => [k, 0])), "datagrams that reached the Registrar, per case");
				assert.ok(after.ok, `a real pledge afterwards: ${after.detail}`);
			} finally {
				net.run(t.pledge.ns, "ip", ["route", "del", `${t.proxy.routable}/128`]);
				await assertStops(p, `${mode} proxy`);
			}
		});

		it(`finding 3, ${mode}: 20,000 ClientHellos from a never-answering fe80::dead:0: a real pledge still gets through, RSS bounded, SIGTERM ≤ 2 s`, async (tc) => {
			if (unavailable(tc, why)) return;
			const { p, join } = await proxy(mode);
			const pid = p.child.pid!;
			let stopMs = -1;
			try {
				// One source port for all three GETs, as a pledge that retries: a new port each time would meet
				// the stateful limit of 2 flows per pledge address (draft §4.3), which is not under test here.
				const port = ++pledgePort;
				const warm = await pledgeGet(join, port);
				assert.ok(warm.ok, `before the flood: ${warm.detail}`);
				const rss0 = rssKb(pid)!;
				let rssMax = rss0;
				const sampler = setInterval(() => (rssMax = Math.max(rssMax, rssKb(pid) ?? 0)), 200);
				const before = udpArrivals(net, t.registrar.ns);
				const flood = spoof(net, t.pledge.ns, {
					source: `fe80::dead:0%${t.pledge.ifname}`,
					sourcePorts: [40001, 40002],
					target: `${t.proxy.linkLocal}%${t.pledge.ifname}`,
					targetPorts: [join],
					payload: dtlsClientHello(),
					count: 20_000,
				});
				await sleep(300);
				const during = await pledgeGet(join, port);
				const sent = await flood.done;
				const afterFlood = await pledgeGet(join, port);
				clearInterval(sampler);
				const arrived = udpArrivals(net, t.registrar.ns) - before;
				const rssEnd = rssKb(pid)!;
				tc.diagnostic(`${mode}: flood sent ${sent.sent} (${sent.errors} errors), ${arrived} datagrams reached the Registrar ns; pledge during ${during.ok ? "ok" : "FAILED"} in ${during.ms} ms, after ${afterFlood.ok ? "ok" : "FAILED"} in ${afterFlood.ms} ms; RSS ${rss0} → max ${rssMax} → ${rssEnd} kB`);
				assert.equal(sent.sent, 20_000);
				assert.ok(during.ok && during.ms < PLEDGE_BUDGET_S * 1000, `pledge during the flood: ${during.ok ? "" : "failed "}after ${during.ms} ms: ${during.detail}`);
				assert.ok(afterFlood.ok, `pledge after the flood: ${afterFlood.detail}`);
				// V8 grows its heap in steps of several MB (new-space doubling), so one 20,000-datagram burst may
				// take one or two steps; what must not happen is growth with the flood (with the unbounded send queue
				// the review saw 85 → 108 MB and, over 5 minutes, 244 MB). The soak (npm run soak) shows memory flat.
				assert.ok(rssMax - rss0 < 32 * 1024, `RSS grew ${rssMax - rss0} kB (${rss0} → ${rssMax} kB)`);
			} finally {
				stopMs = await assertStops(p, `${mode} proxy after the flood`);
			}
			tc.diagnostic(`${mode}: SIGTERM → exit ${stopMs} ms`);
		});
	}

	it("finding 5, stateful: the Registrar's address spoofed from the pledge link does not reach another pledge's flow (to fe80::a)", async (tc) => {
		if (unavailable(tc, why)) return;
		await poolInjection(tc, "link-local");
	});

	// Still open (finding 5, residual): Linux accepts a datagram for any local address on any interface
	// (weak host model), and Node's dgram cannot bind a socket to a device (SO_BINDTODEVICE), so a pledge-
	// link neighbour that routes 2001:db8:1::1 via fe80::a reaches the pool sockets bound to it. The proxy's
	// --help names an nftables rule on the pledge interfaces as the fix; this machine has no nft to test it.
	it("finding 5, stateful: … nor when sent to the proxy's Registrar-facing 2001:db8:1::1 routed over the pledge link", { todo: "weak host model: needs SO_BINDTODEVICE or a firewall rule on the pledge interface" }, async (tc) => {
		if (unavailable(tc, why)) return;
		await poolInjection(tc, "global");
	});

	/**
	 * A fake pledge opens a flow (its ClientHello gets the Registrar's HelloVerifyRequest back); then the
	 * attacker, claiming the Registrar's address and DTLS port, sends a marker to every UDP port the
	 * proxy process holds, at its link-local address or at its Registrar-facing address.
	 */
	async function poolInjection(tc: { diagnostic(s: string): void }, target: "link-local" | "global"): Promise<void> {
		// Deployed with defaults: the Registrar-side sockets bind to the address and interface of the route to the Registrar.
		const { p, join } = await proxy("stateful");
		const zone = t.pledge.ifname;
		const victim = await startUdpPeer(net, t.pledge.ns, { bind: t.pledge.bind, port: ++pledgePort, target: `${t.proxy.linkLocal}%${zone}`, targetPort: join, hello: dtlsClientHello() });
		try {
			assert.ok(await victim.waitFor((r) => r.port === join, 5000), "the victim's flow works (HelloVerifyRequest back)");
			const ports = udpSocketsOf(net, t.proxy.ns, p.child.pid!).map((s) => s.port);
			assert.ok(ports.length >= 2, `proxy sockets: ${ports.join(", ")}`);
			if (target === "global") net.addRoute(t.pledge.ns, `${t.proxy.routable}/128`, { via: t.proxy.linkLocal, dev: zone });
			const marker = Buffer.from("INJECTED finding 5: not from the Registrar");
			const sent = await spoof(net, t.pledge.ns, {
				source: t.registrar.routable,
				sourcePorts: [DTLS_PORT],
				target: target === "global" ? t.proxy.routable : `${t.proxy.linkLocal}%${zone}`,
				targetPorts: ports,
				payload: marker,
				count: ports.length * 5,
			}).done;
			const reached = await victim.waitFor((r) => r.data.equals(marker), 1500);
			const n = victim.received().filter((r) => r.data.equals(marker)).length;
			tc.diagnostic(`stateful, ${target}: ${sent.sent} spoofed datagrams to ${ports.length} proxy ports; ${n} reached the victim pledge`);
			assert.ok(!reached, `${n} of ${sent.sent} spoofed "Registrar" datagrams reached the victim pledge's flow`);
		} finally {
			victim.stop();
			if (target === "global") net.run(t.pledge.ns, "ip", ["route", "del", `${t.proxy.routable}/128`]);
			await assertStops(p, "stateful proxy");
		}
	}

	it("finding 6, stateless: datagrams to a jpy-bridge session socket from anyone but the --to server do not reach the pledge", async (tc) => {
		if (unavailable(tc, why)) return;
		const { p, join } = await proxy("stateless");
		const zone = t.pledge.ifname;
		const victim = await startUdpPeer(net, t.pledge.ns, { bind: t.pledge.bind, port: ++pledgePort, target: `${t.proxy.linkLocal}%${zone}`, targetPort: join, hello: dtlsClientHello() });
		try {
			assert.ok(await victim.waitFor((r) => r.port === join, 5000), "the victim's flow works (HelloVerifyRequest back)");
			const sessionPorts = udpSocketsOf(net, t.registrar.ns, bridge.child.pid!).map((s) => s.port).filter((port) => port !== JPY_PORT);
			assert.ok(sessionPorts.length >= 1, "the bridge opened a session socket");
			const marker = Buffer.from("INJECTED finding 6: not from the DTLS server");
			const fromProxyNs = await spoof(net, t.proxy.ns, { source: t.proxy.routable, target: t.registrar.routable, targetPorts: sessionPorts, payload: marker, count: sessionPorts.length * 3 }).done;
			const fromOtherPort = await spoof(net, t.registrar.ns, { source: t.registrar.routable, sourcePorts: [DTLS_PORT + 100], target: t.registrar.routable, targetPorts: sessionPorts, payload: marker, count: sessionPorts.length * 3 }).done;
			const reached = await victim.waitFor((r) => r.data.equals(marker), 1500);
			const n = victim.received().filter((r) => r.data.equals(marker)).length;
			tc.diagnostic(`stateless: ${fromProxyNs.sent + fromOtherPort.sent} injected datagrams to ${sessionPorts.length} bridge session ports; ${n} reached the pledge`);
			assert.ok(!reached, `${n} of ${fromProxyNs.sent + fromOtherPort.sent} injected datagrams reached the pledge with a genuine header`);
		} finally {
			victim.stop();
			await assertStops(p, "stateless proxy");
		}
	});
});
