/*
 * The Join Proxy end to end, with peers nobody on the team wrote: pledges are libcoap's
 * coap-client-{openssl,gnutls} (DTLS 1.2, certificates both ways) on a link-local-only veth; the
 * "Registrar" is coap-server-{openssl,gnutls} two namespaces away. `cjp joinproxy` runs in the middle
 * namespace, statefully (straight to the DTLS servers) and statelessly (JPY to `cjp jpy-bridge`, which
 * gives each session its own UDP flow to the DTLS server). A CoAPS GET and a block-wise GET of 5000
 * bytes must come back byte for byte; the GnuTLS pairs are restricted to TLS_ECDHE_ECDSA_WITH_AES_128_CCM_8,
 * checked on the wire with tshark on the pledge link.
 *
 *   pledge ns  pl0 fe80::b ── jp0 fe80::a  proxy ns  jr0 2001:db8:1::1 ── rg0 2001:db8:1::2  registrar ns
 */

import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { fileURLToPath } from "node:url";
import type { ChildProcess } from "node:child_process";
import { Namespaces, netnsUnavailable } from "../node-lib/netns.js";
import { unavailable } from "../node-lib/unavailable.js";
import { pkiUnavailable } from "../node-lib/pki.js";
import {
	CCM8,
	DTLS_1_2,
	block2Count,
	coapsUri,
	dtlsPackets,
	joinProxyTopology,
	peersUnavailable,
	putResource,
	runCoapClient,
	scratchFile,
	startCapture,
	startCoapServer,
	stopChild,
	summarizeHandshake,
	type CoapServer,
	type JoinProxyTopology,
	type TlsLib,
} from "../node-lib/coap-peers.js";

const CJP = fileURLToPath(new URL("../../bin/cjp.js", import.meta.url));
const SMALL = Buffer.from("cBRSKI says hello through the join proxy\n");
const BIG = randomBytes(5000);

/** join-ports: stateful and stateless proxy, one per DTLS server (openssl, gnutls). */
const JOIN = {
	stateful: { openssl: 5684, gnutls: 6684 },
	stateless: { openssl: 7684, gnutls: 8684 },
	discovered: 9684,
} as const;

function missingPeers(): string | undefined {
	return netnsUnavailable() ?? peersUnavailable(["openssl", "gnutls"], ["tshark"]) ?? pkiUnavailable();
}

interface Cjp {
	child: ChildProcess;
	out(): string;
	err(): string;
}

/** Starts a cjp subcommand in `ns` and waits for `ready` in its log. */
async function cjp(net: Namespaces, ns: string, args: string[], ready: string): Promise<Cjp> {
	const child = net.spawn(ns, process.execPath, [CJP, ...args]);
	let out = "";
	let err = "";
	child.stdout!.on("data", (d: Buffer) => (out += d.toString()));
	child.stderr!.on("data", (d: Buffer) => (err += d.toString()));
	const deadline = Date.now() + 20_000;
	while (!err.includes(ready)) {
		if (child.exitCode !== null || Date.now() > deadline) throw new Error(`cjp ${args.join(" ")} did not become ready:\n${err}${out}`);
		await new Promise((r) => setTimeout(r, 50));
	}
	return { child, out: () => out, err: () => err };
}

/** The proxy's stats() as printed on SIGUSR1. */
async function stats(p: Cjp): Promise<Record<string, any>> {
	const before = p.out().split("\n").filter((l) => l.startsWith("{")).length;
	p.child.kill("SIGUSR1");
	const deadline = Date.now() + 5000;
	for (;;) {
		const lines = p.out().split("\n").filter((l) => l.startsWith("{"));
		if (lines.length > before) return JSON.parse(lines[lines.length - 1]!);
		if (Date.now() > deadline) throw new Error("no stats line after SIGUSR1");
		await new Promise((r) => setTimeout(r, 50));
	}
}

describe("join proxy end to end with libcoap DTLS pledges and servers", { timeout: 240_000 }, () => {
	const why = missingPeers();
	const net = new Namespaces("jp");
	let t: JoinProxyTopology;
	const servers: Partial<Record<TlsLib, CoapServer>> = {};
	let stateful: Cjp;
	let stateless: Cjp;
	let localPort = 42000;

	before(async () => {
		if (why !== undefined) return;
		t = joinProxyTopology(net);
		const reg = t.registrar.routable;
		servers.openssl = await startCoapServer(net, { lib: "openssl", ns: t.registrar.ns, address: reg, port: 5683 });
		servers.gnutls = await startCoapServer(net, { lib: "gnutls", ns: t.registrar.ns, address: reg, port: 6683, ccm8Only: true });
		for (const s of Object.values(servers)) {
			await putResource(net, s, "small", SMALL);
			await putResource(net, s, "big", BIG);
		}
		stateful = await cjp(
			net,
			t.proxy.ns,
			["joinproxy", "--pledge-iface", t.proxy.pledgeIf, "--mode", "stateful",
				"--registrar", `coaps://[${reg}]:5684`, "--join-port", String(JOIN.stateful.openssl),
				"--registrar", `coaps://[${reg}]:6684`, "--join-port", String(JOIN.stateful.gnutls)],
			`on join-port ${JOIN.stateful.gnutls}`,
		);
		await cjp(net, t.registrar.ns, ["jpy-bridge", "--port", "7634", "--bind", reg, "--to", `[${reg}]:5684`], "JPY on port 7634");
		await cjp(net, t.registrar.ns, ["jpy-bridge", "--port", "7635", "--bind", reg, "--to", `[${reg}]:6684`], "JPY on port 7635");
		stateless = await cjp(
			net,
			t.proxy.ns,
			["joinproxy", "--pledge-iface", t.proxy.pledgeIf, "--no-discovery-answers",
				"--registrar", `jpy://[${reg}]:7634`, "--join-port", String(JOIN.stateless.openssl),
				"--registrar", `jpy://[${reg}]:7635`, "--join-port", String(JOIN.stateless.gnutls)],
			`on join-port ${JOIN.stateless.gnutls}`,
		);
	});

	after(async () => {
		for (const s of Object.values(servers)) await s.stop();
		net.close();
	});

	for (const mode of ["stateful", "stateless"] as const) {
		for (const lib of ["openssl", "gnutls"] as const) {
			it(`${mode}: coap-client-${lib} → our proxy → coap-server-${lib}: CoAPS GET and a 5000-byte block-wise GET`, async (tc) => {
				if (unavailable(tc, why)) return;
				const join = JOIN[mode][lib];
				const capture = lib === "gnutls" ? await startCapture(net, t.proxy.ns, t.proxy.pledgeIf, scratchFile(`${mode}.pcap`)) : undefined;
				const common = { lib, ns: t.pledge.ns, bind: t.pledge.bind, ccm8Only: lib === "gnutls" } as const;
				const small = await runCoapClient(net, { ...common, uri: coapsUri(t.proxy.linkLocal, join, "small"), localPort: ++localPort });
				assert.ok(small.ok, `small GET failed: ${small.stderr}${small.stdout}`);
				assert.deepEqual(small.body, SMALL);
				const smallPort = localPort;
				const big = await runCoapClient(net, { ...common, uri: coapsUri(t.proxy.linkLocal, join, "big"), blockSize: 64, verbosity: 7, localPort: ++localPort });
				assert.ok(big.ok, `block-wise GET failed: ${big.stderr}`);
				assert.equal(big.body!.length, BIG.length);
				assert.ok(big.body!.equals(BIG), "5000 bytes, byte for byte");
				assert.equal(block2Count(big), Math.ceil(BIG.length / 64));
				if (capture !== undefined) {
					await capture.stop();
					const h = summarizeHandshake(dtlsPackets(capture.file, [join]), smallPort);
					assert.equal(h.serverVersion, DTLS_1_2);
					assert.equal(h.cipherSuite, CCM8, "TLS_ECDHE_ECDSA_WITH_AES_128_CCM_8 through the proxy");
					assert.ok(h.helloVerifyRequests >= 1 && h.clientCertificates >= 1 && h.applicationDataRecords >= 2);
				}
			});
		}
	}

	it("stats(): both proxies relayed both ways; the stateful one used one slot per pledge flow", async (tc) => {
		if (unavailable(tc, why)) return;
		const sf = await stats(stateful);
		const sl = await stats(stateless);
		assert.equal(sf.mode, "stateful");
		assert.equal(sl.mode, "stateless");
		for (const s of [sf, sl]) {
			assert.ok(s.toRegistrar.datagrams >= 20 && s.toPledge.datagrams >= 20, JSON.stringify(s));
			assert.equal(s.drops.notLinkLocal + s.drops.badHeader + s.drops.notFromRegistrar, 0);
		}
		assert.ok(sf.slotsInUse >= 2 && sf.slotsInUse <= 4, `slots in use: ${sf.slotsInUse}`);
		assert.equal(sf.bytesPerSlot, 16);
	});

	it("pledge discovery: GET coap://[ff02::fd]/.well-known/core?brski-jp=* lists the join-ports", async (tc) => {
		if (unavailable(tc, why)) return;
		const r = net.run(t.pledge.ns, process.execPath, [CJP, "coap", "get", `coap://[ff02::fd%${t.pledge.ifname}]/.well-known/core?brski-jp=*`, "--leisure", "6000"]);
		assert.equal(r.status, 0, r.stderr);
		assert.equal(r.stdout.trim(), `[${t.proxy.linkLocal}%${t.pledge.ifname}]:5683 <>;brski-jp=${JOIN.stateful.openssl},<>;brski-jp=${JOIN.stateful.gnutls}`);
	});

	it("Registrar discovery: a brski.rjp Registrar at ff05::fd makes the proxy stateless, and pledges get through", async (tc) => {
		if (unavailable(tc, why)) return;
		const reg = t.registrar.routable;
		await cjp(net, t.registrar.ns, ["coap", "serve", "--bind", reg, "--port", "5683", "--zone", t.registrar.ifname, "--group", "ff05::fd", "--leisure", "200", "--link", `<jpy://[${reg}]:7634>;rt=brski.rjp`], "serving on");
		const found = await cjp(net, t.proxy.ns, ["joinproxy", "--pledge-iface", t.proxy.pledgeIf, "--no-discovery-answers", "--discover", t.proxy.registrarIf, "--join-port", String(JOIN.discovered)], "relay to");
		assert.match(found.err(), new RegExp(`stateless relay to \\[${reg.replace(/:/g, ":")}\\]:7634 \\(from discovery\\)`));
		const r = await runCoapClient(net, { lib: "openssl", ns: t.pledge.ns, bind: t.pledge.bind, uri: coapsUri(t.proxy.linkLocal, JOIN.discovered, "small"), localPort: ++localPort });
		assert.ok(r.ok, r.stderr);
		assert.deepEqual(r.body, SMALL);
		await stopChild(found.child);
		assert.equal(found.child.exitCode, 0, "SIGTERM ends cjp joinproxy cleanly");
		assert.equal(JSON.parse(found.out().trim().split("\n").pop()!).mode, "stateless", "with its final stats");
	});
});
