/*
 * The pledge code running inside XS (xsnap) onboards through our join proxy to our Registrar, on real
 * interfaces: `cjp pledge --engine xs` runs src/pledge with the noble provider inside the engine and
 * bridges its datagrams, timers and storage to Node's dgram sockets (tools/xs-bridge) in a namespace
 * with only a link-local address. Two `cjp joinproxy` (stateful; stateless with JPY) in the middle,
 * `cjp registrar` and `cjp masa` (HTTPS, mutual TLS) beyond. Each run is given its join-port
 * (discovery is left out: `cjp joinproxy` spreads its answers over RFC 7252's 5 s leisure, longer
 * than the pledge's 3 s window, so a round can miss it); each stores an LDevID that `openssl verify`
 * accepts against the domain CA.
 *
 *   pledge ns  pl0 fe80::b ── jp0 fe80::a  proxy ns  jr0 2001:db8:1::1 ── rg0 2001:db8:1::2  registrar ns
 */

import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import type { ChildProcess } from "node:child_process";
import { DirectoryStorage } from "../hosts/node/index.js";
import { derToPem } from "../modules/util/base64.js";
import { CredentialStore } from "../src/pledge/credential-store.js";
import { loadRegistrarConfig } from "../src/pki/config.js";
import { initPki, type InitPkiResult } from "../src/pki/init.js";
import { Namespaces, netnsUnavailable } from "./node-lib/netns.js";
import { joinProxyTopology, stopChild, type JoinProxyTopology } from "./node-lib/coap-peers.js";
import { pkiUnavailable } from "./node-lib/pki.js";
import { unavailable } from "./node-lib/unavailable.js";

const CJP = fileURLToPath(new URL("../bin/cjp.js", import.meta.url));
const JOIN = { stateful: 5684, stateless: 7684 } as const;

/** Starts a cjp subcommand in `ns` and waits for `ready` in its log. */
async function cjp(net: Namespaces, ns: string, args: string[], ready: string): Promise<{ child: ChildProcess; err(): string }> {
	const child = net.spawn(ns, process.execPath, [CJP, ...args]);
	let err = "";
	child.stdout!.resume();
	child.stderr!.on("data", (d: Buffer) => (err += d.toString()));
	const deadline = Date.now() + 30_000;
	while (!err.includes(ready)) {
		if (child.exitCode !== null || Date.now() > deadline) throw new Error(`cjp ${args.join(" ")} did not become ready:\n${err}`);
		await new Promise((r) => setTimeout(r, 50));
	}
	return { child, err: () => err };
}

describe("the XS pledge (xsnap) onboards through our join proxy to our Registrar", { timeout: 300_000 }, () => {
	const why = netnsUnavailable() ?? pkiUnavailable();
	const net = new Namespaces("xp");
	let t: JoinProxyTopology;
	let dir: string;
	let pki: InitPkiResult;
	const children: ChildProcess[] = [];

	before(async () => {
		if (why !== undefined) return;
		dir = mkdtempSync(join(tmpdir(), "cjp-xs-pledge-"));
		pki = await initPki({ dir, pledges: 2 });
		t = joinProxyTopology(net);
		const reg = t.registrar.routable;
		children.push((await cjp(net, t.registrar.ns, ["masa", "--config", pki.masaConfig], "masa: listening")).child);
		children.push((await cjp(net, t.registrar.ns, ["registrar", "--config", pki.registrarConfig], "registrar: database")).child);
		children.push((await cjp(net, t.proxy.ns, ["joinproxy", "--pledge-iface", t.proxy.pledgeIf, "--registrar", `coaps://[${reg}]:5684`, "--join-port", String(JOIN.stateful)], "relay to")).child);
		children.push(
			(await cjp(net, t.proxy.ns, ["joinproxy", "--pledge-iface", t.proxy.pledgeIf, "--no-discovery-answers", "--registrar", `jpy://[${reg}]:7634`, "--join-port", String(JOIN.stateless)], "relay to")).child,
		);
	});

	after(async () => {
		for (const c of children) await stopChild(c);
		net.close();
		if (dir !== undefined) rmSync(dir, { recursive: true, force: true });
	});

	for (const mode of ["stateful", "stateless"] as const) {
		it(`${mode}: cjp pledge --engine xs enrolls; its LDevID passes openssl verify against the domain CA`, async (tc) => {
			if (unavailable(tc, why)) return;
			const pledgeDir = pki.pledgeDirs[mode === "stateful" ? 0 : 1]!;
			const stateDir = join(dir, `state-${mode}`);
			const how = ["--proxy", `[${t.proxy.linkLocal}%${t.pledge.ifname}]:${JOIN[mode]}`];
			const r = net.run(t.pledge.ns, process.execPath, [CJP, "pledge", "--engine", "xs", "--identity", pledgeDir, "--state-dir", stateDir, "--max-attempts", "2", "--json", ...how], 240_000);
			assert.equal(r.status, 0, `${r.stderr}\n${r.stdout}`);
			const lines = r.stdout.trim().split("\n");
			const summary = JSON.parse(lines.pop()!) as { outcome: string; crypto: string; enrollStatusReported: boolean; proxy: string; traffic: { datagramsSent: number; bytesReceived: number } };
			assert.equal(summary.outcome, "enrolled");
			assert.equal(summary.crypto, "noble (XS)");
			assert.equal(summary.proxy, `[${t.proxy.linkLocal}%${t.pledge.ifname}]:${JOIN[mode]}`);
			assert.ok(summary.enrollStatusReported, "the Registrar acknowledged the success /es");
			assert.ok(lines.some((l) => l.startsWith("requesting-voucher")) && lines.some((l) => l.startsWith("enrolling")), lines.join("\n"));
			assert.ok(summary.traffic.datagramsSent >= 10 && summary.traffic.bytesReceived > 2000, JSON.stringify(summary.traffic));

			// What the XS pledge stored went to the state directory through the bridge.
			const stored = new CredentialStore(new DirectoryStorage(stateDir)).load();
			assert.ok(stored !== undefined, "enrollment stored in the state directory");
			const pem = join(dir, `ldevid-${mode}.pem`);
			writeFileSync(pem, derToPem(stored.ldevid, "CERTIFICATE"));
			const domainCa = loadRegistrarConfig(pki.registrarConfig).domainCa.cert;
			const v = net.run(t.pledge.ns, "openssl", ["verify", "-CAfile", domainCa, pem]);
			assert.equal(v.status, 0, v.stderr);
			assert.match(v.stdout, /: OK/);

			// Enrolled: a second run does not onboard again.
			const again = net.run(t.pledge.ns, process.execPath, [CJP, "pledge", "--engine", "xs", "--identity", pledgeDir, "--state-dir", stateDir, "--json", ...how], 60_000);
			assert.equal(again.status, 0, again.stderr);
			assert.equal(JSON.parse(again.stdout.trim().split("\n").pop()!).outcome, "already-enrolled");
		});
	}
});
