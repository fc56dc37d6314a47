/*
 * `npm run soak -- [--minutes 5] [--mode stateful|stateless|both] [--json]`: the Join Proxy under a
 * sustained attack from the pledge link (issue 7, "done when"), in network namespaces:
 *
 *   pledge ns (libcoap pledge + attackers)  pl0 ── jp0  proxy ns (cjp joinproxy)  jr0 ── rg0  registrar ns
 *                                                                        (coap-server-gnutls, cjp jpy-bridge)
 *
 * For each mode, for --minutes: --garbage-rate random datagrams/s (1..200 bytes) from a spoofed neighbour
 * that never answers neighbour discovery, and --hello-rate DTLS ClientHellos/s from another one (the
 * Registrar answers those, so the proxy's replies go to a neighbour that never resolves), both to the
 * join-port; meanwhile a libcoap pledge (coap-client-gnutls) does one CoAPS GET after another through the
 * proxy. Reported: % of GETs that succeeded (goal ≥ 95 %), the proxy's RSS every 10 s (goal: flat), and
 * how long `cjp joinproxy` took to exit after SIGTERM (goal ≤ 2 s). Needs root, iproute2, libcoap3-bin.
 * Not part of `npm test`: it runs for minutes.
 */

import { parseArgs } from "node:util";
import { Namespaces, netnsUnavailable } from "../../test/node-lib/netns.js";
import { pkiUnavailable } from "../../test/node-lib/pki.js";
import { coapsUri, joinProxyTopology, peersUnavailable, putResource, runCoapClient, startCoapServer } from "../../test/node-lib/coap-peers.js";
import { allowSpoofing, dtlsClientHello, rssKb, spoof } from "../../test/node-lib/attacker.js";
import { cjpStats, startCjp, stopTimed } from "../../test/node-lib/cjp-process.js";

const { values } = parseArgs({
	options: {
		minutes: { type: "string", default: "5" },
		mode: { type: "string", default: "both" },
		"garbage-rate": { type: "string", default: "1000" },
		"hello-rate": { type: "string", default: "100" },
		"rss-every": { type: "string", default: "10" },
		json: { type: "boolean", default: false },
	},
});
const minutes = Number(values.minutes);
const garbageRate = Number(values["garbage-rate"]);
const helloRate = Number(values["hello-rate"]);
const rssEveryMs = Number(values["rss-every"]) * 1000;
if (!(minutes > 0) || !(garbageRate >= 0) || !(helloRate >= 0) || !(rssEveryMs > 0)) {
	process.stderr.write("soak: --minutes, --garbage-rate, --hello-rate and --rss-every must be numbers\n");
	process.exit(2);
}
const modes = values.mode === "both" ? (["stateful", "stateless"] as const) : values.mode === "stateful" || values.mode === "stateless" ? [values.mode] : undefined;
if (modes === undefined) {
	process.stderr.write("soak: --mode must be stateful, stateless or both\n");
	process.exit(2);
}
const why = netnsUnavailable() ?? peersUnavailable(["gnutls"]) ?? pkiUnavailable();
if (why !== undefined) {
	process.stderr.write(`soak: ${why}\n`);
	process.exit(1);
}

const say = (line: string): void => void (values.json ? process.stderr : process.stdout).write(`${line}\n`);
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
const BODY = Buffer.from("soak\n");
const DTLS_PORT = 5684;
const JPY_PORT = 7634;
const JOIN_PORT = 5684;
/* One source port for every GET, as a pledge that retries: new ports would meet the stateful proxy's
   limit of 2 flows per pledge address (draft §4.3) for 30 s each, which is not what this measures. */
const PLEDGE_PORT = 42000;

interface ModeResult {
	mode: string;
	minutes: number;
	requests: number;
	succeeded: number;
	successPercent: number;
	medianMs: number;
	p95Ms: number;
	rssKb: number[];
	rssGrowthKb: number;
	garbageSent: number;
	helloSent: number;
	sigtermExitMs: number;
	exitCode: number | null;
	killed: boolean;
	proxyStats: Record<string, unknown>;
	/** Seconds into the run at which GETs failed (clusters point at a state that went bad). */
	failedAtS: number[];
	/** Stateless: `cjp jpy-bridge`'s final stats line. */
	bridgeStats?: Record<string, unknown>;
}

const quantile = (xs: number[], q: number): number => {
	if (xs.length === 0) return 0;
	const s = [...xs].sort((a, b) => a - b);
	return s[Math.min(s.length - 1, Math.floor(q * s.length))]!;
};

async function soak(mode: "stateful" | "stateless"): Promise<ModeResult> {
	const net = new Namespaces("sk");
	try {
		const t = joinProxyTopology(net);
		allowSpoofing(net, t.pledge.ns);
		const reg = t.registrar.routable;
		const server = await startCoapServer(net, { lib: "gnutls", ns: t.registrar.ns, address: reg, port: DTLS_PORT - 1, ccm8Only: true });
		await putResource(net, server, "small", BODY);
		let registrar = `coaps://[${reg}]:${DTLS_PORT}`;
		let bridge: Awaited<ReturnType<typeof startCjp>> | undefined;
		if (mode === "stateless") {
			bridge = await startCjp(net, t.registrar.ns, ["jpy-bridge", "--port", String(JPY_PORT), "--bind", reg, "--to", `[${reg}]:${DTLS_PORT}`], `JPY on port ${JPY_PORT}`);
			registrar = `jpy://[${reg}]:${JPY_PORT}`;
		}
		const proxy = await startCjp(net, t.proxy.ns, ["joinproxy", "--pledge-iface", t.proxy.pledgeIf, "--mode", mode, "--no-discovery-answers", "--registrar", registrar, "--join-port", String(JOIN_PORT)], `on join-port ${JOIN_PORT}`);
		const pid = proxy.child.pid!;
		const durationMs = minutes * 60_000;
		const target = `${t.proxy.linkLocal}%${t.pledge.ifname}`;
		const garbage = spoof(net, t.pledge.ns, { source: `fe80::dead:1%${t.pledge.ifname}`, sourcePorts: Array.from({ length: 16 }, (_, i) => 40100 + i), target, targetPorts: [JOIN_PORT], payload: "garbage", rate: garbageRate, durationMs });
		const hellos = spoof(net, t.pledge.ns, { source: `fe80::dead:0%${t.pledge.ifname}`, sourcePorts: [40001, 40002], target, targetPorts: [JOIN_PORT], payload: dtlsClientHello(), rate: helloRate, durationMs });
		const rss: number[] = [rssKb(pid) ?? 0];
		say(`${mode}: ${minutes} min, ${garbageRate} garbage/s from fe80::dead:1 and ${helloRate} ClientHellos/s from fe80::dead:0 (neither answers ND); RSS ${rss[0]} kB`);
		const sampler = setInterval(() => {
			rss.push(rssKb(pid) ?? 0);
			say(`${mode}: RSS ${rss.at(-1)} kB`);
		}, rssEveryMs);
		const started = Date.now();
		const times: number[] = [];
		let requests = 0;
		let succeeded = 0;
		const failedAtS: number[] = [];
		while (Date.now() - started < durationMs) {
			const r = await runCoapClient(net, { lib: "gnutls", ns: t.pledge.ns, bind: t.pledge.bind, ccm8Only: true, uri: coapsUri(t.proxy.linkLocal, JOIN_PORT, "small"), localPort: PLEDGE_PORT, timeoutS: 10 });
			requests++;
			if (r.ok && r.body?.equals(BODY) === true) {
				succeeded++;
				times.push(r.ms);
			} else {
				failedAtS.push(Math.round((Date.now() - started) / 1000));
			}
			if (requests % 30 === 0) say(`${mode}: ${succeeded}/${requests} GETs ok`);
			await sleep(200);
		}
		clearInterval(sampler);
		const [g, h] = await Promise.all([garbage.done, hellos.done]);
		const proxyStats = await cjpStats(proxy);
		const stopped = await stopTimed(proxy);
		let bridgeStats: Record<string, unknown> | undefined;
		if (bridge !== undefined) {
			await stopTimed(bridge);
			const last = bridge.out().trim().split("\n").pop();
			if (last?.startsWith("{") === true) bridgeStats = JSON.parse(last) as Record<string, unknown>;
		}
		await server.stop();
		const successPercent = requests === 0 ? 0 : Math.round((succeeded / requests) * 1000) / 10;
		return {
			mode,
			minutes,
			requests,
			succeeded,
			successPercent,
			medianMs: quantile(times, 0.5),
			p95Ms: quantile(times, 0.95),
			rssKb: rss,
			rssGrowthKb: rss.at(-1)! - rss[0]!,
			garbageSent: g.sent,
			helloSent: h.sent,
			sigtermExitMs: stopped.ms,
			exitCode: stopped.code,
			killed: stopped.killed,
			proxyStats,
			failedAtS,
			...(bridgeStats !== undefined ? { bridgeStats } : {}),
		};
	} finally {
		net.close();
	}
}

const results: ModeResult[] = [];
for (const mode of modes as readonly ("stateful" | "stateless")[]) results.push(await soak(mode));
say("");
for (const r of results) {
	say(
		`${r.mode}: ${r.succeeded}/${r.requests} CoAPS GETs ok (${r.successPercent} %, goal ≥ 95), median ${r.medianMs} ms, p95 ${r.p95Ms} ms; ` +
			`RSS ${r.rssKb[0]} → ${r.rssKb.at(-1)} kB (max ${Math.max(...r.rssKb)}, growth ${r.rssGrowthKb} kB); ` +
			`SIGTERM → exit ${r.sigtermExitMs} ms, code ${r.exitCode}${r.killed ? " (SIGKILLed)" : ""} (goal ≤ 2000 ms, 0); sent ${r.garbageSent} garbage, ${r.helloSent} ClientHellos` +
			(r.failedAtS.length > 0 ? `; failures at ${r.failedAtS.join(", ")} s` : ""),
	);
}
if (values.json) process.stdout.write(`${JSON.stringify({ garbageRate, helloRate, results })}\n`);
const ok = results.every((r) => r.successPercent >= 95 && r.sigtermExitMs <= 2000 && r.exitCode === 0);
process.exitCode = ok ? 0 : 1;
