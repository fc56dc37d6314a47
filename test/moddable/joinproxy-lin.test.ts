/*
 * The join proxy app on Moddable's runtime (`npm run test:moddable`): builds apps/joinproxy with
 * Moddable's own tools (`mcconfig -m -p lin -t build`, never -d: the debug build opens the GUI
 * simulator), checks what the build itself reports (no `### warning` from xsl for our modules, our
 * modules in the generated preload list), runs the built lin app headless through
 * tools/moddable/launch.c, and relays a coap-client-gnutls pledge (DTLS 1.2, CCM-8) to a
 * coap-server-gnutls "Registrar" in network namespaces, statefully and statelessly (JPY to
 * `cjp jpy-bridge`), like test/interop/joinproxy-dtls.test.ts does for the Node proxy.
 *
 *   pledge ns  pl0 fe80::b ── jp0 fe80::a  proxy ns (Moddable app)  jr0 2001:db8:1::1 ── rg0 2001:db8:1::2  registrar ns
 *
 * Needs MODDABLE pointing at a Moddable SDK with its host tools built (see the README); without it
 * every test is skipped and says why.
 */

import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import type { ChildProcess } from "node:child_process";
import { existsSync, mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Namespaces, netnsUnavailable } from "../node-lib/netns.js";
import { unavailable } from "../node-lib/unavailable.js";
import { pkiUnavailable } from "../node-lib/pki.js";
import {
	block2Count,
	coapsUri,
	joinProxyTopology,
	peersUnavailable,
	putResource,
	runCoapClient,
	startCoapServer,
	stopChild,
	type CoapServer,
	type JoinProxyTopology,
} from "../node-lib/coap-peers.js";
import { buildApp, buildLauncher, ourWarnings, preloads, root, runUntil, sdkUnavailable, type App, type Build } from "./lin-build.js";

const APP = join(root, "apps", "joinproxy");
const APP_NAME = "cjp-joinproxy";
const CJP = join(root, "bin", "cjp.js");
/** Where the lin build's Preference module keeps its file (config.file.root of $MODULES/files/file). */
const PREFERENCES = "/tmp/modpreferences.json";
const SMALL = Buffer.from("cBRSKI says hello through the Moddable join proxy\n");
const BIG = randomBytes(5000);
const JOIN = { stateful: 5684, stateless: 7684 } as const;
/** Concurrent pledges in the budget tests (issue item 8: 10 stateful flows). */
const FLOWS = 10;
/** sizeof(txSlot) on 64-bit lin (16 on a 32-bit MCU); the instrumentation reports bytes. */
const LIN_SLOT_BYTES = 32;
/** ESP32-H2's default fixed heaps, the app manifest's creation. */
const H2_SLOTS = 4928;
const H2_CHUNK_BYTES = 78848;

async function launch(net: Namespaces, ns: string, launcher: string, library: string, settings: Record<string, string>, ready: string): Promise<App> {
	writeFileSync(PREFERENCES, JSON.stringify({ "cjp-jp": settings }));
	return runUntil(() => net.spawn(ns, launcher, [library]), ready);
}

describe("join proxy app on Moddable's lin runtime", { timeout: 900_000 }, () => {
	const why = sdkUnavailable() ?? netnsUnavailable() ?? peersUnavailable(["gnutls"]) ?? pkiUnavailable();
	const net = new Namespaces("md");
	let build: Build;
	let instrumented: Build;
	let launcher: string;
	let t: JoinProxyTopology;
	let server: CoapServer;
	let localPort = 43000;
	/** Link-local addresses of the budget tests' concurrent pledges. */
	const pledgeAddresses = Array.from({ length: FLOWS }, (_, i) => `fe80::c${i}`);

	before(async () => {
		if (why !== undefined) return;
		const sdk = process.env["MODDABLE"]!;
		build = buildApp(sdk, APP, APP_NAME);
		instrumented = buildApp(sdk, APP, APP_NAME, true);
		launcher = buildLauncher(sdk, mkdtempSync(join(tmpdir(), "cjp-moddable-")));
		t = joinProxyTopology(net);
		server = await startCoapServer(net, { lib: "gnutls", ns: t.registrar.ns, address: t.registrar.routable, port: 5683, ccm8Only: true });
		await putResource(net, server, "small", SMALL);
		await putResource(net, server, "big", BIG);
		for (const a of pledgeAddresses) net.run(t.pledge.ns, "ip", ["address", "add", `${a}/64`, "dev", t.pledge.ifname, "nodad"]);
	});

	after(async () => {
		await server?.stop();
		net.close();
	});

	/** The Registrar URI for `mode`; stateless starts `cjp jpy-bridge` in front of the server (pushed onto `children`). */
	async function registrarFor(mode: "stateful" | "stateless", children: ChildProcess[]): Promise<string> {
		const reg = t.registrar.routable;
		if (mode === "stateful") return `coaps://[${reg}]:${server.dtlsPort}`;
		const child = net.spawn(t.registrar.ns, process.execPath, [CJP, "jpy-bridge", "--port", "7634", "--bind", reg, "--to", `[${reg}]:${server.dtlsPort}`]);
		children.push(child);
		let err = "";
		child.stderr!.on("data", (d: Buffer) => (err += d.toString()));
		const deadline = Date.now() + 20_000;
		while (!err.includes("JPY on port 7634")) {
			if (child.exitCode !== null || Date.now() > deadline) throw new Error(`jpy-bridge did not start:\n${err}`);
			await new Promise((r) => setTimeout(r, 50));
		}
		return `jpy://[${reg}]:7634`;
	}

	it("builds with mcconfig -t build: no xsl warning for our modules, our modules preloaded", (tc) => {
		if (unavailable(tc, why)) return;
		assert.deepEqual(ourWarnings(build), [], "xsl warnings for our modules");
		const preloaded = preloads(build);
		for (const m of ["src/joinproxy/join-proxy", "modules/jpy/message", "modules/coap/endpoint", "modules/crypto/aes", "hosts/moddable/udp"]) {
			assert.ok(preloaded.includes(m), `${m} in the build's preload list (${preloaded.length} preloads)`);
		}
		assert.ok(existsSync(build.library), `${build.library} built`);
	});

	for (const mode of ["stateful", "stateless"] as const) {
		it(`${mode}: coap-client-gnutls → Moddable join proxy → coap-server-gnutls: CoAPS GET and a 5000-byte block-wise GET`, async (tc) => {
			if (unavailable(tc, why)) return;
			const reg = t.registrar.routable;
			const bridge: ChildProcess[] = [];
			const registrar = await registrarFor(mode, bridge);
			const app = await launch(net, t.proxy.ns, launcher, build.library, {
				pledgeIface: t.proxy.pledgeIf,
				pledgeAddr: t.proxy.linkLocal,
				registrars: registrar,
				joinPorts: String(JOIN[mode]),
				mode,
				statsMs: "200",
			}, `on join-port ${JOIN[mode]}`);
			try {
				const common = { lib: "gnutls", ns: t.pledge.ns, bind: t.pledge.bind, ccm8Only: true } as const;
				const small = await runCoapClient(net, { ...common, uri: coapsUri(t.proxy.linkLocal, JOIN[mode], "small"), localPort: ++localPort });
				assert.ok(small.ok, `small GET failed: ${small.stderr}${small.stdout}\n--- app log:\n${app.log()}`);
				assert.deepEqual(small.body, SMALL);
				const big = await runCoapClient(net, { ...common, uri: coapsUri(t.proxy.linkLocal, JOIN[mode], "big"), blockSize: 64, verbosity: 7, localPort: ++localPort });
				assert.ok(big.ok, `block-wise GET failed: ${big.stderr}\n--- app log:\n${app.log()}`);
				assert.ok(big.body!.equals(BIG), "5000 bytes, byte for byte");
				assert.equal(block2Count(big), Math.ceil(BIG.length / 64));
				// The app's own counters: every block crossed it both ways.
				const statsLines = (): string[] => app.log().split("\n").filter((l) => l.startsWith("stats "));
				const seen = statsLines().length;
				while (statsLines().length < seen + 2) await new Promise((r) => setTimeout(r, 50));
				const stats = JSON.parse(statsLines().pop()!.slice(6));
				assert.equal(stats.mode, mode);
				assert.ok(stats.toRegistrar.datagrams >= block2Count(big) && stats.toPledge.datagrams >= block2Count(big), JSON.stringify(stats));
			} finally {
				await stopChild(app.child);
				for (const b of bridge) await stopChild(b);
			}
			assert.match(app.log(), new RegExp(`${mode} relay to \\[${reg.replace(/:/g, ":")}\\]`));
		});
	}

	/*
	 * Device budget (issue item 8) on the instrumented build (mcconfig -i: the same release build
	 * plus Moddable's instrumentation). The app's creation is ESP32-H2's: chunk 78,848 B, 4,928
	 * slots, incremental 0, and the lin runtime enforces it (xsMemory.c: a zero incremental size
	 * makes growth fail with "failed in fixed size heap"), so relaying at all under this load is the
	 * proof that it fits; the figures are printed for the report. lin is 64-bit: a slot is 32 bytes
	 * (16 on the ESP32), and chunks hold 8-byte pointers, so lin's chunk use is an upper bound.
	 */
	for (const mode of ["stateful", "stateless"] as const) {
		it(`budget, ${mode}: ${FLOWS} concurrent pledge flows inside ESP32-H2's fixed heaps, instrumented`, async (tc) => {
			if (unavailable(tc, why)) return;
			assert.deepEqual(ourWarnings(instrumented), [], "xsl warnings for our modules");
			const extra: ChildProcess[] = [];
			const registrar = await registrarFor(mode, extra);
			const app = await launch(net, t.proxy.ns, launcher, instrumented.library, {
				pledgeIface: t.proxy.pledgeIf,
				pledgeAddr: t.proxy.linkLocal,
				registrars: registrar,
				joinPorts: String(JOIN[mode]),
				mode,
				statsMs: "100",
			}, `on join-port ${JOIN[mode]}`);
			try {
				const lines = (prefix: string): Record<string, number>[] => app.log().split("\n").filter((l) => l.startsWith(prefix)).map((l) => JSON.parse(l.slice(prefix.length)));
				while (lines("memory ").length === 0) await new Promise((r) => setTimeout(r, 50));
				const idle = lines("memory ").pop()!;
				const seen = lines("memory ").length;
				const common = { lib: "gnutls", ns: t.pledge.ns, ccm8Only: true, blockSize: 64, timeoutS: 60 } as const;
				// One pledge address per flow: the proxy limits new flows per pledge address.
				const results = await Promise.all(
					pledgeAddresses.map((a) => runCoapClient(net, { ...common, bind: `${a}%${t.pledge.ifname}`, uri: coapsUri(t.proxy.linkLocal, JOIN[mode], "big"), localPort: ++localPort })),
				);
				for (const r of results) assert.ok(r.ok && r.body!.equals(BIG), `a flow failed: ${r.stderr}\n--- app log:\n${app.log().slice(-3000)}`);
				while (lines("memory ").length < seen + 2) await new Promise((r) => setTimeout(r, 50));
				const during = lines("memory ").slice(seen);
				const peak = (k: string): number => Math.max(...during.map((m) => m[k]!));
				const maxSlots = Math.max(...lines("stats ").map((st) => st["slotsInUse"]!));
				if (mode === "stateful") assert.ok(maxSlots >= FLOWS, `${maxSlots} relay slots in use at most; ${FLOWS} flows ran`);
				tc.diagnostic(
					`${mode}: idle slots ${idle["slotBytes"]! / LIN_SLOT_BYTES} chunks ${idle["chunkBytes"]} B; ` +
						`under ${FLOWS} flows peak slots ${peak("slotBytes") / LIN_SLOT_BYTES} chunks ${peak("chunkBytes")} B, keys ${peak("keys")}, ` +
						`GCs ${during[during.length - 1]!["gc"]! - idle["gc"]!}, relay slots in use ≤ ${maxSlots} (budget: ${H2_SLOTS} slots, ${H2_CHUNK_BYTES} B chunks)`,
				);
				assert.doesNotMatch(app.log(), /failed in fixed size heap/);
			} finally {
				await stopChild(app.child);
				for (const b of extra) await stopChild(b);
			}
		});
	}
});
