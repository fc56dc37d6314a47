/*
 * The pledge app on Moddable's runtime (`npm run test:moddable`): builds apps/pledge with Moddable's
 * own tools (`mcconfig -i -m -p lin -t build`: a release build with instrumentation, never -d),
 * checks what the build reports (no xsl warning for our modules, our modules in the generated
 * preload list), provisions the pledge as a factory would (its IDevID, key, MASA anchor and voucher
 * signer in Preference, which on lin is a JSON file), runs it headless in a namespace with only a
 * link-local address, and onboards it through `cjp joinproxy` (stateful; stateless with JPY) to
 * `cjp registrar` and `cjp masa` from `cjp pki init`, as test/xs-pledge.test.ts does for the xsnap
 * pledge. The LDevID the app stored through the Host's storage must pass `openssl verify` against
 * the domain CA. The app runs in ESP32-H2's default fixed heaps (its manifest's creation); its heap
 * figures are printed for the report.
 *
 *   pledge ns (Moddable app) pl0 fe80::b ── jp0 fe80::a  proxy ns  jr0 2001:db8:1::1 ── rg0 2001:db8:1::2  registrar ns
 *
 * Needs MODDABLE pointing at a Moddable SDK with its host tools built; without it every test is
 * skipped and says why.
 */

import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { derToPem, pemToDer } from "../../modules/util/base64.js";
import { loadRegistrarConfig } from "../../src/pki/config.js";
import { initPki, type InitPkiResult } from "../../src/pki/init.js";
import { Namespaces, netnsUnavailable } from "../node-lib/netns.js";
import { joinProxyTopology, stopChild, type JoinProxyTopology } from "../node-lib/coap-peers.js";
import { startCjp, type CjpProcess } from "../node-lib/cjp-process.js";
import { pkiUnavailable } from "../node-lib/pki.js";
import { unavailable } from "../node-lib/unavailable.js";
import { buildApp, buildLauncher, CBOR_X_STATE, ourWarnings, preloads, root, runUntil, sdkUnavailable, warnings, type Build } from "./lin-build.js";
import { loadPledgeConfig } from "../../src/pki/config.js";

const APP = join(root, "apps", "pledge");
const APP_NAME = "cjp-pledge";
/** Where the lin build's Preference module keeps its file (config.file.root of $MODULES/files/file). */
const PREFERENCES = "/tmp/modpreferences.json";
const JOIN = { stateful: 5684, stateless: 7684 } as const;
/** sizeof(txSlot) on 64-bit lin (16 on a 32-bit MCU); the instrumentation reports bytes. */
const LIN_SLOT_BYTES = 32;
/** ESP32-H2's default fixed heaps, the app manifest's creation. */
const H2_SLOTS = 4928;
const H2_CHUNK_BYTES = 78848;

/** A Preference byte value as the lin Preference module writes it. */
const prefBytes = (der: Uint8Array): { buffer: string } => ({ buffer: Array.from(der).join(",") });
const pemFile = (path: string): Uint8Array[] => pemToDer(readFileSync(path, "utf8"));

describe("pledge app on Moddable's lin runtime", { timeout: 900_000 }, () => {
	const why = sdkUnavailable() ?? netnsUnavailable() ?? pkiUnavailable();
	const net = new Namespaces("mp");
	let build: Build;
	let launcher: string;
	let t: JoinProxyTopology;
	let dir: string;
	let pki: InitPkiResult;
	const children: CjpProcess[] = [];

	before(async () => {
		if (why !== undefined) return;
		const sdk = process.env["MODDABLE"]!;
		build = buildApp(sdk, APP, APP_NAME, true);
		dir = mkdtempSync(join(tmpdir(), "cjp-moddable-pledge-"));
		launcher = buildLauncher(sdk, dir);
		pki = await initPki({ dir: join(dir, "pki"), pledges: 2 });
		t = joinProxyTopology(net);
		const reg = t.registrar.routable;
		children.push(await startCjp(net, t.registrar.ns, ["masa", "--config", pki.masaConfig], "masa: listening", 30_000));
		children.push(await startCjp(net, t.registrar.ns, ["registrar", "--config", pki.registrarConfig], "registrar: database", 30_000));
		children.push(await startCjp(net, t.proxy.ns, ["joinproxy", "--pledge-iface", t.proxy.pledgeIf, "--registrar", `coaps://[${reg}]:5684`, "--join-port", String(JOIN.stateful)], "relay to", 30_000));
		children.push(
			await startCjp(net, t.proxy.ns, ["joinproxy", "--pledge-iface", t.proxy.pledgeIf, "--no-discovery-answers", "--registrar", `jpy://[${reg}]:7634`, "--join-port", String(JOIN.stateless)], "relay to", 30_000),
		);
	});

	after(async () => {
		for (const c of children) await stopChild(c.child);
		net.close();
		if (dir !== undefined) rmSync(dir, { recursive: true, force: true });
	});

	it("builds with mcconfig -i -t build: no xsl warning for our modules, the pledge preloaded", (tc) => {
		if (unavailable(tc, why)) return;
		assert.deepEqual(ourWarnings(build), [], "xsl warnings for our modules");
		const preloaded = preloads(build);
		for (const m of ["src/pledge/pledge", "modules/dtls/connection", "modules/x509/chain", "modules/cbor/cbor", "cbor-x/decode", "hosts/moddable/crypto/native-provider", "hosts/moddable/builtin-names"]) {
			assert.ok(preloaded.includes(m), `${m} in the build's preload list (${preloaded.length} preloads)`);
		}
		assert.ok(!preloaded.includes("apps/pledge/main"), "main is loaded at run time on lin (it imports preference)");
		tc.diagnostic(`${preloaded.length} modules preloaded; ${warnings(build).filter((l) => CBOR_X_STATE.test(l) || l.startsWith("### warning: cbor-x/")).length} xsl warnings are cbor-x's own module state`);
	});

	for (const mode of ["stateful", "stateless"] as const) {
		it(`${mode}: the Moddable pledge enrolls through cjp joinproxy; its stored LDevID passes openssl verify against the domain CA`, async (tc) => {
			if (unavailable(tc, why)) return;
			const pledgeDir = pki.pledgeDirs[mode === "stateful" ? 0 : 1]!;
			const config = loadPledgeConfig(pledgeDir);
			const proxy = `[${t.proxy.linkLocal}%${t.pledge.ifname}]:${JOIN[mode]}`;
			writeFileSync(
				PREFERENCES,
				JSON.stringify({
					"cjp-id": {
						idevid0: prefBytes(pemFile(config.idevid.cert)[0]!),
						idevidKey: prefBytes(pemFile(config.idevid.key)[0]!),
						masaTa0: prefBytes(pemFile(config.masaTrustAnchor)[0]!),
						signer0: prefBytes(pemFile(config.voucherSigner)[0]!),
					},
					"cjp-pl": { proxies: proxy, maxAttempts: "2", memoryMs: "20" },
				}),
			);
			// The result line comes first, then (instrumented, memoryMs set) the heap peaks.
			const app = await runUntil(() => net.spawn(t.pledge.ns, launcher, [build.library]), "\nresult ", 300_000);
			try {
				const deadline = Date.now() + 5000;
				while (!/^memory /m.test(app.log()) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
			} finally {
				await stopChild(app.child);
			}
			const log = app.log();
			const line = (prefix: string): Record<string, any> => JSON.parse(log.split("\n").find((l) => l.startsWith(prefix))!.slice(prefix.length));
			const result = line("result ");
			assert.equal(result["outcome"], "enrolled", log);
			assert.equal(result["proxy"], proxy);
			assert.ok(result["enrollStatusReported"], "the Registrar acknowledged the success /es");
			for (const state of ["connecting", "requesting-voucher", "validating-voucher", "fetching-ca-certs", "enrolling", "storing", "enrolled"]) {
				assert.match(log, new RegExp(`^info: pledge \\S+: ${state}`, "m"), `state ${state} traced`);
			}
			assert.doesNotMatch(log, /failed in fixed size heap/);

			// What the app stored through the Host's storage (Preference domain "cjp" on lin's JSON file).
			const stored = JSON.parse(readFileSync(PREFERENCES, "utf8"))["cjp"] as Record<string, { buffer: string }>;
			assert.ok(stored["cbrski.enrolled"] !== undefined && stored["cbrski.key"] !== undefined && stored["cbrski.ta0"] !== undefined, Object.keys(stored).join(" "));
			const ldevid = Uint8Array.from(stored["cbrski.ldevid"]!.buffer.split(",").map(Number));
			assert.equal(ldevid.length, result["ldevidBytes"]);
			const pem = join(dir, `ldevid-${mode}.pem`);
			writeFileSync(pem, derToPem(ldevid, "CERTIFICATE"));
			const v = net.run(t.pledge.ns, "openssl", ["verify", "-CAfile", loadRegistrarConfig(pki.registrarConfig).domainCa.cert, pem]);
			assert.equal(v.status, 0, v.stderr);
			assert.match(v.stdout, /: OK/);

			const memory = line("memory ");
			tc.diagnostic(
				`${mode}: onboarding in ${Math.round(result["durationMs"])} ms; heap peaks (sampled every 20 ms, garbage included until collected): ` +
					`slots ${memory["slotBytes"] / LIN_SLOT_BYTES} of ${H2_SLOTS}, chunks ${memory["chunkBytes"]} of ${H2_CHUNK_BYTES} B, keys ${memory["keys"]}, stack ${memory["stackBytes"] / LIN_SLOT_BYTES} of 1024 slots, ` +
					`${memory["gc"]} garbage collections; ${result["traffic"]["datagramsSent"]} datagrams sent, ${result["traffic"]["bytesReceived"]} bytes received`,
			);
		});
	}
});
