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
import { spawnSync, type ChildProcess } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { delimiter, join } from "node:path";
import { fileURLToPath } from "node:url";
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

const root = fileURLToPath(new URL("../..", import.meta.url));
const APP = join(root, "apps", "joinproxy");
const APP_NAME = "cjp-joinproxy";
const CJP = join(root, "bin", "cjp.js");
/** Where the lin build's Preference module keeps its file (config.file.root of $MODULES/files/file). */
const PREFERENCES = "/tmp/modpreferences.json";
const SMALL = Buffer.from("cBRSKI says hello through the Moddable join proxy\n");
const BIG = randomBytes(5000);
const JOIN = { stateful: 5684, stateless: 7684 } as const;
/** Our module prefixes: xsl warnings about these fail the build check. */
const OURS = /^### warning: (modules|src|hosts|apps)\//;

function sdkUnavailable(): string | undefined {
	const sdk = process.env["MODDABLE"];
	if (sdk === undefined || sdk === "") return "MODDABLE is not set: device builds need MODDABLE pointing at a Moddable SDK with its host tools built";
	if (!existsSync(join(sdk, "build", "bin", "lin", "release", "mcconfig"))) return `MODDABLE=${sdk} has no built host tools (build/bin/lin/release/mcconfig)`;
	if (spawnSync("pkg-config", ["--exists", "glib-2.0"]).status !== 0) return "glib-2.0 development files are missing (the headless launcher links glib)";
	return undefined;
}

interface Build {
	output: string;
	library: string;
	tmp: string;
}

function buildApp(sdk: string): Build {
	const env = { ...process.env, PATH: [join(sdk, "build", "bin", "lin", "release"), join(root, "node_modules", ".bin"), process.env["PATH"]].join(delimiter) };
	const r = spawnSync("mcconfig", ["-m", "-p", "lin", "-t", "build"], { cwd: APP, env, encoding: "utf8", maxBuffer: 64 << 20 });
	const output = r.stdout + r.stderr;
	if (r.status !== 0) throw new Error(`mcconfig failed (${r.status}):\n${output}`);
	// mcconfig puts a lin app under build/{bin,tmp}/lin/mc/release/NAME (the "mc" subplatform of lin).
	return {
		output,
		library: join(sdk, "build", "bin", "lin", "mc", "release", APP_NAME, "mc.so"),
		tmp: join(sdk, "build", "tmp", "lin", "mc", "release", APP_NAME),
	};
}

function buildLauncher(sdk: string, dir: string): string {
	const out = join(dir, "launch");
	const flags = spawnSync("pkg-config", ["--cflags", "--libs", "glib-2.0"], { encoding: "utf8" }).stdout.trim().split(/\s+/);
	const r = spawnSync("cc", ["-O2", "-DmxLinux=1", `-I${join(sdk, "build", "simulators", "modules")}`, join(root, "tools", "moddable", "launch.c"), ...flags, "-ldl", "-o", out], { encoding: "utf8" });
	if (r.status !== 0) throw new Error(`launcher did not compile:\n${r.stderr}`);
	return out;
}

interface App {
	child: ChildProcess;
	log(): string;
}

async function launch(net: Namespaces, ns: string, launcher: string, library: string, settings: Record<string, string>, ready: string): Promise<App> {
	writeFileSync(PREFERENCES, JSON.stringify({ "cjp-jp": settings }));
	const child = net.spawn(ns, launcher, [library]);
	let log = "";
	child.stdout!.on("data", (d: Buffer) => (log += d.toString()));
	child.stderr!.on("data", (d: Buffer) => (log += d.toString()));
	const deadline = Date.now() + 20_000;
	while (!log.includes(ready)) {
		if (child.exitCode !== null || Date.now() > deadline) throw new Error(`the Moddable join proxy did not become ready:\n${log}`);
		await new Promise((r) => setTimeout(r, 50));
	}
	return { child, log: () => log };
}

describe("join proxy app on Moddable's lin runtime", { timeout: 900_000 }, () => {
	const why = sdkUnavailable() ?? netnsUnavailable() ?? peersUnavailable(["gnutls"]) ?? pkiUnavailable();
	const net = new Namespaces("md");
	let build: Build;
	let launcher: string;
	let t: JoinProxyTopology;
	let server: CoapServer;
	let localPort = 43000;

	before(async () => {
		if (why !== undefined) return;
		const sdk = process.env["MODDABLE"]!;
		build = buildApp(sdk);
		launcher = buildLauncher(sdk, mkdtempSync(join(tmpdir(), "cjp-moddable-")));
		t = joinProxyTopology(net);
		server = await startCoapServer(net, { lib: "gnutls", ns: t.registrar.ns, address: t.registrar.routable, port: 5683, ccm8Only: true });
		await putResource(net, server, "small", SMALL);
		await putResource(net, server, "big", BIG);
	});

	after(async () => {
		await server?.stop();
		net.close();
	});

	it("builds with mcconfig -t build: no xsl warning for our modules, our modules preloaded", (tc) => {
		if (unavailable(tc, why)) return;
		const ours = build.output.split("\n").filter((l) => OURS.test(l));
		assert.deepEqual(ours, [], "xsl warnings for our modules");
		const makefile = readFileSync(join(build.tmp, "makefile"), "utf8");
		const preloads = [...makefile.matchAll(/-p (\S+)\.xsb/g)].map((m) => m[1]!);
		for (const m of ["src/joinproxy/join-proxy", "modules/jpy/message", "modules/coap/endpoint", "modules/crypto/aes", "hosts/moddable/udp"]) {
			assert.ok(preloads.includes(m), `${m} in the build's preload list (${preloads.length} preloads)`);
		}
		assert.ok(existsSync(build.library), `${build.library} built`);
	});

	for (const mode of ["stateful", "stateless"] as const) {
		it(`${mode}: coap-client-gnutls → Moddable join proxy → coap-server-gnutls: CoAPS GET and a 5000-byte block-wise GET`, async (tc) => {
			if (unavailable(tc, why)) return;
			const reg = t.registrar.routable;
			const bridge: ChildProcess[] = [];
			let registrar = `coaps://[${reg}]:${server.dtlsPort}`;
			if (mode === "stateless") {
				const child = net.spawn(t.registrar.ns, process.execPath, [CJP, "jpy-bridge", "--port", "7634", "--bind", reg, "--to", `[${reg}]:${server.dtlsPort}`]);
				bridge.push(child);
				let err = "";
				child.stderr!.on("data", (d: Buffer) => (err += d.toString()));
				const deadline = Date.now() + 20_000;
				while (!err.includes("JPY on port 7634")) {
					if (child.exitCode !== null || Date.now() > deadline) throw new Error(`jpy-bridge did not start:\n${err}`);
					await new Promise((r) => setTimeout(r, 50));
				}
				registrar = `jpy://[${reg}]:7634`;
			}
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
});
