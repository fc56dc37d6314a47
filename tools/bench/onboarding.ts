/*
 * One full onboarding of the pledge running inside XS (xsnap, through tools/xs-bridge), on the
 * in-memory network (hosts/xs, a ManualClock): the pledge discovers our join proxy on its mesh link
 * and onboards through it to our Registrar (src/registrar: in-memory database, src/masa's service in
 * process), with an identity from `cjp pki init`. The network, the clock and the pledge's randomness
 * are seeded; the Registrar's and MASA's signatures (node:crypto, WebCrypto) are not, so a DER
 * signature can be a byte longer or shorter from one run to the next.
 *
 * What it measures, all on the pledge's side:
 * - datagrams and UDP payload bytes on the pledge's link, both directions, in total and per step
 *   (a datagram counts towards the step the pledge was in when it was sent or received);
 * - XS compute (xsnap's meter) summed over the pledge's cranks: loading the bundle is excluded, the
 *   bridge's own work (frames, JSON) included;
 * - XS heap slots: with the heap grown beforehand so that no collection runs, the slots allocated
 *   through the onboarding (garbage included); and, in a second run with a collection after every
 *   crank, the most slots live at a crank boundary (the peak inside a crank, e.g. in the middle of
 *   an ECDSA operation, is not visible to the meter).
 */

import type { Host } from "../../hosts/host.js";
import { ManualClock, MemoryNetwork, createXsHost } from "../../hosts/xs/index.js";
import { JoinProxy } from "../../src/joinproxy/join-proxy.js";
import { countingUdp, newTrafficCounters, type TrafficCounters } from "../../src/pledge/traffic.js";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pemToDer } from "../../modules/util/base64.js";
import { startMasaFromConfig, type RunningMasa } from "../../src/masa/from-config.js";
import { loadMasaConfig, loadPledgeConfig, loadRegistrarConfig, type RegistrarConfig } from "../../src/pki/config.js";
import { initPki, type InitPkiResult } from "../../src/pki/init.js";
import { MemoryRegistrarDatabase } from "../../src/registrar/database.js";
import { inProcessMasaClient } from "../../src/registrar/masa-client.js";
import { startNodeRegistrar } from "../../src/registrar/node-registrar.js";
import { flush } from "../../test/lib/drive.js";
import { pledgeIdentity } from "../cli/pledge.js";
import { XsPledgeBridge, xsPledgeConfig, type XsPledgeConfig, type XsPledgeOutcome } from "../xs-bridge/node-bridge.js";
import type { CrankMeter } from "../xs-lane/xsnap-process.js";

export type Mode = "stateful" | "stateless";

/** sizeof(txSlot) in xsnap's 64-bit build (a 32-bit device's XS has 16-byte slots). */
export const XS_SLOT_BYTES = 32;
const REGISTRAR = "2001:db8::2";
const REGISTRAR_COAPS_PORT = 5684;
const REGISTRAR_JPY_PORT = 7634;
/** Grows the XS heap (XS keeps it) so that no collection runs inside the measured cranks. */
const PREGROW = "{ let a = []; for (let i = 0; i < 2000000; i++) a.push({}); a = null; } gc();";

export interface StepTraffic {
	state: string;
	datagrams: number;
	bytes: number;
}

export interface OnboardingRun {
	outcome: XsPledgeOutcome;
	traffic: TrafficCounters;
	steps: StepTraffic[];
	/** Sum over the pledge's cranks. */
	compute: number;
	cranks: number;
	/** Slots allocated through the onboarding (heap grown first; no collection in between). */
	allocatedSlots: number;
	/** With a collection after each crank: the most slots live above the baseline at a crank boundary. */
	peakLiveSlots: number;
	/** Bytes xsnap had reserved before and after. */
	reservedBefore: number;
	reservedAfter: number;
}

interface World {
	clock: ManualClock;
	pledgeHost: Host;
	config: XsPledgeConfig;
	close(): void;
}

/** A PKI from `cjp pki init` and its MASA, in process (HTTPS on loopback, unused: the Registrar calls the service directly). */
export interface Domain {
	pki: InitPkiResult;
	registrar: RegistrarConfig;
	masa: RunningMasa;
	close(): Promise<void>;
}

export async function startDomain(): Promise<Domain> {
	const dir = mkdtempSync(join(tmpdir(), "cjp-bench-onboarding-"));
	const pki = await initPki({ dir, pledges: 1 });
	const masa = await startMasaFromConfig({ ...loadMasaConfig(pki.masaConfig), listen: { address: "::1", port: 0 } }, () => {});
	return {
		pki,
		registrar: loadRegistrarConfig(pki.registrarConfig),
		masa,
		close: async () => {
			await masa.close();
			rmSync(dir, { recursive: true, force: true });
		},
	};
}

/** Our join proxy (fe80::1 on the mesh) in `mode`, relaying to our Registrar (in-memory database, the MASA in process). */
async function world(domain: Domain, mode: Mode, seed: number): Promise<World> {
	const clock = new ManualClock();
	const net = new MemoryNetwork({ clock });
	const registrarHost = createXsHost({ network: net, name: "registrar", seed: seed + 1, interfaces: [{ name: "eth0", link: "backbone", addresses: ["fe80::e2", REGISTRAR] }] });
	const chain = domain.registrar.chain.map((f) => pemToDer(readFileSync(f, "utf8"))[0]!);
	const registrar = await drive(
		clock,
		startNodeRegistrar(domain.registrar, registrarHost, { masaClient: inProcessMasaClient(domain.masa.service, chain[0]!), db: new MemoryRegistrarDatabase(), coapsPort: REGISTRAR_COAPS_PORT, jpyPort: REGISTRAR_JPY_PORT }),
	);
	const proxyHost = createXsHost({
		network: net,
		name: "proxy",
		seed: seed + 2,
		interfaces: [
			{ name: "wpan0", link: "mesh", addresses: ["fe80::1"] },
			{ name: "eth0", link: "backbone", addresses: ["fe80::e1", "2001:db8::1"] },
		],
	});
	const port = mode === "stateful" ? REGISTRAR_COAPS_PORT : REGISTRAR_JPY_PORT;
	const proxy = await drive(clock, JoinProxy.start({ host: proxyHost, pledgeInterfaces: [{ name: "wpan0" }], registrars: [{ address: REGISTRAR, port, mode }], discoveryLeisureMs: 200 }));
	const pledgeHost = createXsHost({ network: net, name: "pledge", seed, interfaces: [{ name: "wpan0", link: "mesh", addresses: ["fe80::101"] }] });
	return {
		clock,
		pledgeHost,
		config: xsPledgeConfig({ ...pledgeIdentity(loadPledgeConfig(domain.pki.pledgeDirs[0]!)), interfaces: ["wpan0"], timing: { discoveryLeisureMs: 500 }, maxAttempts: 1 }),
		close: () => {
			proxy.close();
			registrar.close();
		},
	};
}

/**
 * Runs the clock until `promise` settles: between steps, real event-loop turns let the XS engine's
 * cranks (and any real-time work on the Node side) finish, and the clock moves only when the engine
 * is idle, at most 50 ms at a time.
 */
async function drive<T>(clock: ManualClock, promise: Promise<T>, bridge?: XsPledgeBridge, maxMs = 600_000): Promise<T> {
	let settled = false;
	promise.then(
		() => (settled = true),
		() => (settled = true),
	);
	const end = clock.now() + maxMs;
	while (!settled) {
		await new Promise((r) => setImmediate(r));
		await flush();
		if (bridge !== undefined && bridge.busy > 0) {
			await bridge.idle();
			continue;
		}
		if (settled) break;
		if (clock.now() >= end) throw new Error(`still pending after ${maxMs} ms of clock time`);
		const due = clock.nextDue();
		clock.advance(due === undefined ? 50 : Math.min(50, Math.max(0, due - clock.now())));
	}
	return promise;
}

async function once(domain: Domain, mode: Mode, seed: number, gcEachCrank: boolean): Promise<Omit<OnboardingRun, "peakLiveSlots"> & { liveSlots: number[] }> {
	const w = await world(domain, mode, seed);
	const traffic = newTrafficCounters();
	const steps: StepTraffic[] = [];
	let step: StepTraffic | undefined;
	let mark = newTrafficCounters();
	const closeStep = (): void => {
		if (step === undefined) return;
		step.datagrams += traffic.datagramsSent + traffic.datagramsReceived - mark.datagramsSent - mark.datagramsReceived;
		step.bytes += traffic.bytesSent + traffic.bytesReceived - mark.bytesSent - mark.bytesReceived;
		mark = { ...traffic };
	};
	const meters: CrankMeter[] = [];
	const liveSlots: number[] = [];
	let bridge: XsPledgeBridge | undefined;
	const gcReadings: Promise<void>[] = [];
	bridge = await XsPledgeBridge.start({
		backend: { ...w.pledgeHost, udp: countingUdp(w.pledgeHost.udp, traffic) },
		onState: (state) => {
			closeStep();
			step = steps.find((s) => s.state === state);
			if (step === undefined) steps.push((step = { state, datagrams: 0, bytes: 0 }));
		},
		onCrank: (m) => {
			meters.push(m);
			if (gcEachCrank && bridge !== undefined) gcReadings.push(bridge!.evaluate("gc()").then((g) => void liveSlots.push(g.heapCount)));
		},
	});
	try {
		await bridge.evaluate(PREGROW);
		const base = await bridge.evaluate("gc()");
		meters.length = 0;
		const outcome = await drive(w.clock, bridge.run(w.config), bridge);
		await bridge.idle();
		await Promise.all(gcReadings);
		closeStep();
		const last = meters[meters.length - 1]!;
		if (!gcEachCrank && meters.some((m, i) => i > 0 && m.heapCount < meters[i - 1]!.heapCount)) {
			throw new Error("a collection ran inside the measured onboarding: the slot count is not usable");
		}
		return {
			outcome,
			traffic: { ...traffic },
			steps,
			compute: meters.reduce((sum, m) => sum + m.compute, 0),
			cranks: meters.length,
			allocatedSlots: last.heapCount - base.heapCount,
			liveSlots: liveSlots.map((n) => n - base.heapCount),
			reservedBefore: base.allocate,
			reservedAfter: last.allocate,
		};
	} finally {
		await bridge.close();
		w.close();
	}
}

/** One onboarding measured twice (see the header): counts, compute and slots from the first, the live peak from the second. */
export async function measureOnboarding(domain: Domain, mode: Mode, seed = 1): Promise<OnboardingRun> {
	const a = await once(domain, mode, seed, false);
	if (a.outcome.result.outcome !== "enrolled") throw new Error(`the XS pledge did not enroll: ${a.outcome.result.error}`);
	const b = await once(domain, mode, seed, true);
	if (b.outcome.result.outcome !== "enrolled") throw new Error(`the XS pledge did not enroll (second run): ${b.outcome.result.error}`);
	const { liveSlots: _l, ...rest } = a;
	return { ...rest, peakLiveSlots: Math.max(...b.liveSlots) };
}

/** The figures `npm run bench -- --only onboarding` reports, both proxy modes (XS compute and heap from the stateful run). */
export async function onboardingFigures(say: (line: string) => void): Promise<Record<string, number | Record<string, number>>> {
	const out: Record<string, number | Record<string, number>> = {};
	const domain = await startDomain();
	try {
		for (const mode of ["stateful", "stateless"] as const) await figures(domain, mode, out, say);
	} finally {
		await domain.close();
	}
	return out;
}

async function figures(domain: Domain, mode: Mode, out: Record<string, number | Record<string, number>>, say: (line: string) => void): Promise<void> {
	{
		const r = await measureOnboarding(domain, mode);
		const t = r.traffic;
		out[`onboarding.${mode}.datagrams`] = t.datagramsSent + t.datagramsReceived;
		out[`onboarding.${mode}.bytes`] = t.bytesSent + t.bytesReceived;
		out[`onboarding.${mode}.datagramsPerStep`] = Object.fromEntries(r.steps.map((s) => [s.state, s.datagrams]));
		out[`onboarding.${mode}.bytesPerStep`] = Object.fromEntries(r.steps.map((s) => [s.state, s.bytes]));
		say(
			`onboarding ${mode}: ${out[`onboarding.${mode}.datagrams`]} datagrams (${t.datagramsSent} up, ${t.datagramsReceived} down), ` +
				`${out[`onboarding.${mode}.bytes`]} UDP payload bytes (${t.bytesSent} up, ${t.bytesReceived} down); per step: ` +
				r.steps.filter((s) => s.datagrams > 0).map((s) => `${s.state} ${s.datagrams}/${s.bytes} B`).join(", "),
		);
		if (mode === "stateful") {
			out["pledge.xs.computePerOnboarding"] = r.compute;
			out["pledge.xs.allocatedSlotsPerOnboarding"] = r.allocatedSlots;
			out["pledge.xs.peakLiveSlots"] = r.peakLiveSlots;
			out["pledge.xs.heapBytes"] = r.peakLiveSlots * XS_SLOT_BYTES;
			say(
				`xs pledge: ${r.compute} compute over ${r.cranks} cranks for one onboarding; ${r.allocatedSlots} slots allocated; ` +
					`at most ${r.peakLiveSlots} slots live at a crank boundary (${out["pledge.xs.heapBytes"]} B at ${XS_SLOT_BYTES} B a slot; chunk storage such as typed-array bytes not included)`,
			);
		}
	}
}
