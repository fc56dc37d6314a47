/*
 * `npm run bench [-- --json] [-- --fuzz] [-- --only relay,dtls,xs,onboarding]`: the Join Proxy's size, speed and
 * memory figures. With --json the last line is one JSON object of every figure; --only runs just the
 * parts named (sizes are always given). Ratios, not absolute times, are the figures to compare
 * (absolute times on shared machines are noisy).
 *
 *   jpy.headerBytes, jpy.overheadBytes   stateless header and JPY overhead for a 1024-byte datagram
 *   stateful.slotBytes                   slot table bytes per pledge flow
 *   relay.node.*Ratio                    (relay) datagrams/s our proxy can relay ÷ a bare dgram
 *                                        forwarder's, per CPU-second of each, same namespace path,
 *                                        same windows: the median over rounds (node-relay.ts says how)
 *   relay.node.*RatioSpread              {q1, q3, min, max} of those rounds
 *   relay.node.nullRatio(Spread)         the same for a second bare forwarder: 1 ± the method's noise
 *   relay.node.*WallRatio                median wall-clock rate ratio, as a check
 *   relay.xs.*PerDatagram                (xs) XS (xsnap) compute and heap slots allocated per relayed datagram
 *   dtls.serverHandshakeRatioVsOpenssl   (dtls) full handshakes/s of our server ÷ openssl s_server's, same client load
 *   dtls.xs.computePerHandshake          (xs) XS compute of one full handshake on the pledge (client) side
 *   onboarding.*, pledge.xs.*            (onboarding) the XS pledge through our proxy, in memory: onboarding.ts says how
 *   fuzz.jpy.*                           with --fuzz: 10^6 random/mutated JPY messages and headers
 *   sim.*                                (sim) the mesh simulator's onboarding figures (tools/bench/sim.ts;
 *                                        --sim-pledges 1000 for the 1,000-pledge runs)
 */

import { execFileSync, spawnSync } from "node:child_process";
import { fileURLToPath } from "node:url";
import { HEADER_BYTES } from "../../modules/jpy/header.js";
import { jpyOverhead } from "../../modules/jpy/message.js";
import { SLOT_BYTES } from "../../src/joinproxy/slot-table.js";
import { buildXsBundle } from "../xs-lane/bundle.js";
import { startXsWorker } from "../xs-lane/worker.js";
import { fuzzJpy } from "../../test/lib/jpy-fuzz.js";
import type { Spread } from "./node-relay.js";
import { onboardingFigures } from "./onboarding.js";

const json = process.argv.includes("--json");
const onlyAt = process.argv.indexOf("--only");
const only = onlyAt < 0 ? undefined : (process.argv[onlyAt + 1] ?? "").split(",");
const PARTS = Object.freeze(["relay", "dtls", "xs", "onboarding", "sim"]);
if (only !== undefined && (only.length === 0 || only.some((p) => !PARTS.includes(p)))) {
	console.error(`--only takes a comma-separated list of: ${PARTS.join(", ")}`);
	process.exit(2);
}
const wants = (part: string): boolean => only === undefined || only.includes(part);
const results: Record<string, number | string | boolean | null | Record<string, number>> = {};
const say = (line: string): void => void (json ? process.stderr : process.stdout).write(`${line}\n`);

results["jpy.headerBytes"] = HEADER_BYTES;
results["jpy.overheadBytes"] = jpyOverhead(HEADER_BYTES, 1024);
results["stateful.slotBytes"] = SLOT_BYTES;
say(`stateless header ${HEADER_BYTES} B, JPY overhead ${results["jpy.overheadBytes"]} B per 1024-byte datagram; stateful slot ${SLOT_BYTES} B`);

if (process.argv.includes("--fuzz")) {
	const f = fuzzJpy(1_000_000, 1);
	Object.assign(results, { "fuzz.jpy.cases": f.cases, "fuzz.jpy.accepted": f.accepted, "fuzz.jpy.forgedHeadersAccepted": f.forgedHeadersAccepted });
	say(`fuzz: ${f.cases} JPY cases, ${f.accepted} well-formed, ${f.forgedHeadersAccepted} forged headers accepted`);
}

/* Node: our proxy against a bare forwarder, inside a namespace with link-local addresses. */
const RELAY_KINDS = Object.freeze(["stateful", "stateless", "null"]);
const ns = `cjp-bench-${process.pid}`;
if (wants("relay")) {
	try {
		const ip = (...a: string[]): void => void execFileSync("ip", a, { stdio: "ignore" });
		ip("netns", "add", ns);
		try {
			ip("-n", ns, "link", "set", "lo", "up");
			// A veth pair inside the namespace: both ends are local, so traffic between them takes the same
			// local path for the bare forwarders and for our proxy. One join address per relay (node-relay.ts).
			ip("-n", ns, "link", "add", "d0", "type", "veth", "peer", "name", "d1");
			for (const dev of ["d0", "d1"]) ip("-n", ns, "link", "set", dev, "up");
			for (const a of ["fe80::1/64", "fe80::2/64", "fe80::3/64", "fe80::4/64", "fe80::5/64", "2001:db8::1/64", "2001:db8::2/64"]) ip("-n", ns, "addr", "add", a, "dev", "d0", "nodad");
			// Its own session, so that raising its priority (node-relay.ts) touches nothing else.
			const argv = ["ip", "netns", "exec", ns, process.execPath, "--import", "tsx", fileURLToPath(new URL("./node-relay.ts", import.meta.url))];
			let out = spawnSync("setsid", argv, { encoding: "utf8", timeout: 150_000 });
			if ((out.error as NodeJS.ErrnoException | undefined)?.code === "ENOENT") out = spawnSync(argv[0]!, argv.slice(1), { encoding: "utf8", timeout: 150_000 });
			if (out.status !== 0) throw new Error(out.stderr || `node-relay.ts ended with ${out.status ?? out.signal}`);
			const r = JSON.parse(out.stdout.trim().split("\n").pop()!) as Record<string, Spread> & { rounds: number; windowMs: number; pinned: boolean; raisedPriority: boolean; bareDatagramsPerCpuSecond: number };
			const parts: string[] = [];
			for (const kind of RELAY_KINDS) {
				const { median, ...rest } = r[`${kind}Ratio`]!;
				results[`relay.node.${kind}Ratio`] = median;
				results[`relay.node.${kind}RatioSpread`] = rest;
				results[`relay.node.${kind}WallRatio`] = r[`${kind}WallRatio`]!.median;
				parts.push(`${kind === "null" ? "null check (bare vs bare)" : kind} ×${median.toFixed(3)} (IQR ${rest.q1.toFixed(3)}–${rest.q3.toFixed(3)}, range ${rest.min.toFixed(3)}–${rest.max.toFixed(3)}; wall clock ×${r[`${kind}WallRatio`]!.median.toFixed(3)})`);
			}
			Object.assign(results, { "relay.node.bareDatagramsPerCpuSecond": r.bareDatagramsPerCpuSecond, "relay.node.rounds": r.rounds, "relay.node.pinned": r.pinned, "relay.node.raisedPriority": r.raisedPriority });
			const how = `${r.rounds} rounds of ${r.windowMs} ms, ${r.pinned ? "pinned" : "not pinned"}, ${r.raisedPriority ? "priority raised" : "normal priority"}`;
			say(`node relay (${how}): bare ${r.bareDatagramsPerCpuSecond} datagrams per CPU-second; ${parts.join("; ")}`);
		} finally {
			ip("netns", "del", ns);
		}
	} catch (e) {
		for (const kind of RELAY_KINDS) results[`relay.node.${kind}Ratio`] = null;
		say(`node relay: not measured (${String((e as Error).message).split("\n")[0]})`);
	}
}

/* DTLS: full handshakes per second, our server against openssl s_server, one client load. */
if (wants("dtls")) {
	try {
		const out = spawnSync(process.execPath, ["--import", "tsx", fileURLToPath(new URL("./dtls-load.ts", import.meta.url))], { encoding: "utf8", timeout: 120_000 });
		if (out.status !== 0) throw new Error(out.stderr);
		const r = JSON.parse(out.stdout.trim().split("\n").pop()!) as { oursHandshakesPerSecond: number; opensslHandshakesPerSecond: number; ratio: number | null };
		results["dtls.serverHandshakeRatioVsOpenssl"] = r.ratio === null ? null : Number(r.ratio.toFixed(3));
		results["dtls.serverHandshakesPerSecond"] = r.oursHandshakesPerSecond;
		results["dtls.opensslHandshakesPerSecond"] = r.opensslHandshakesPerSecond;
		say(`dtls server: ${r.oursHandshakesPerSecond} handshakes/s against openssl s_server's ${r.opensslHandshakesPerSecond} (×${results["dtls.serverHandshakeRatioVsOpenssl"]})`);
	} catch (e) {
		results["dtls.serverHandshakeRatioVsOpenssl"] = null;
		say(`dtls server: not measured (${String((e as Error).message).split("\n")[0]})`);
	}
}

/* Registrar: onboardings per second on loopback with the MASA in process (tools/bench/registrar-load.ts). */
try {
	const out = spawnSync(process.execPath, ["--import", "tsx", fileURLToPath(new URL("./registrar-load.ts", import.meta.url))], { encoding: "utf8", timeout: 120_000 });
	if (out.status !== 0) throw new Error(out.stderr);
	const r = JSON.parse(out.stdout.trim().split("\n").pop()!) as { onboardingsPerSecond: number; clients: number };
	results["registrar.onboardingsPerSecond"] = r.onboardingsPerSecond;
	say(`registrar: ${r.onboardingsPerSecond} onboardings/s (rv, vs, sen, es on a new DTLS session each; ${r.clients} concurrent pledges in the same process)`);
} catch (e) {
	results["registrar.onboardingsPerSecond"] = null;
	say(`registrar: not measured (${String((e as Error).message).split("\n")[0]})`);
}

/*
 * XS: xsnap's meter gives the compute of a crank and the slots in use after it. A crank that runs
 * the relay 10,000 round trips (20,000 datagrams) right after a collection, compared with an empty
 * run, shows the slots the relay allocated per datagram (garbage included, since no collection runs
 * in between unless the heap fills, which the reserved-bytes reading would show).
 */
if (wants("xs")) {
	const ROUND_TRIPS = 10_000;
	const worker = await startXsWorker();
	try {
		await worker.evaluate(await buildXsBundle(fileURLToPath(new URL("./xs-entry.ts", import.meta.url))));
		// Grow the heap first (XS keeps it), so that no collection runs inside a measured crank.
		await worker.evaluate("{ let a = []; for (let i = 0; i < 2000000; i++) a.push({}); a = null; } gc();");
		for (const mode of ["stateful", "stateless"] as const) {
			await worker.evaluate(`__bench.setup(${JSON.stringify(mode)})`);
			await worker.evaluate("__bench.run(1000)");
			await worker.evaluate("gc()");
			const idle = await worker.evaluate("__bench.run(0)");
			await worker.evaluate("gc()");
			const before = await worker.evaluate("__bench.run(0)");
			const m = await worker.evaluate(`__bench.run(${ROUND_TRIPS})`);
			const datagrams = 2 * ROUND_TRIPS;
			const slots = m.heapCount - before.heapCount - (idle.heapCount - before.heapCount);
			if (slots < 0) throw new Error("a collection ran inside the measured crank: the slot count is not usable");
			const grew = m.allocate - before.allocate;
			results[`relay.xs.${mode}.allocatePerDatagram`] = Number((slots / datagrams).toFixed(3));
			results[`relay.xs.${mode}.computePerDatagram`] = Math.round((m.compute - idle.compute) / datagrams);
			results[`relay.xs.${mode}.reservedBytesGrowth`] = grew;
			say(`xs relay ${mode}: ${results[`relay.xs.${mode}.computePerDatagram`]} compute and ${results[`relay.xs.${mode}.allocatePerDatagram`]} slots allocated per datagram (heap reservation grew ${grew} B over ${datagrams} datagrams)`);
		}
		// DTLS: one warm-up handshake, then a measured one with both ends, then the pledge's side alone.
		await worker.evaluate("__bench.handshake()");
		const both = await worker.evaluate("__bench.handshake()");
		const clientOnly = await worker.evaluate("__bench.clientOnly()");
		results["dtls.xs.computePerHandshake"] = clientOnly.compute;
		results["dtls.xs.computePerHandshakeBothEnds"] = both.compute;
		say(`xs dtls: a full handshake costs ${clientOnly.compute} compute on the pledge side (${both.compute} with the Registrar side too)`);
		results["relay.xs.allocatePerDatagram"] = Math.max(results["relay.xs.stateful.allocatePerDatagram"] as number, results["relay.xs.stateless.allocatePerDatagram"] as number);
		results["relay.xs.computePerDatagram"] = Math.max(results["relay.xs.stateful.computePerDatagram"] as number, results["relay.xs.stateless.computePerDatagram"] as number);
	} finally {
		await worker.close();
	}
}

if (wants("onboarding")) Object.assign(results, await onboardingFigures(say));

/* The mesh simulator: frames and bytes on air per onboarding, and the scale runs (tools/bench/sim.ts). */
if (wants("sim")) {
	const at = process.argv.indexOf("--sim-pledges");
	const extra = at < 0 ? [] : ["--sim-pledges", process.argv[at + 1] ?? ""];
	const out = spawnSync(process.execPath, ["--expose-gc", "--import", "tsx", fileURLToPath(new URL("./sim.ts", import.meta.url)), ...extra], { encoding: "utf8", timeout: 3_600_000, stdio: ["ignore", "pipe", "inherit"] });
	if (out.status === 0) Object.assign(results, JSON.parse(out.stdout.trim().split("\n").pop()!));
	else say(`sim: not measured (${out.status ?? out.signal})`);
}

if (json) console.log(JSON.stringify(results));
process.exit(0);
