/*
 * The simulator's figures for `npm run bench -- --only sim` (run.ts spawns this file; the last line
 * is one JSON object):
 *   sim.onboarded, sim.failed, sim.p50OnboardingSeconds        the default scenario (npm start's)
 *   sim.{stateful,stateless}.framesPerOnboarding               802.15.4 frames on air per onboarding
 *   sim.{stateful,stateless}.bytesOnAirPerOnboarding           PSDU bytes on air per onboarding
 *   sim.wallSecondsPer1000Pledges                              wall time of the stateless one-proxy run at 5 % loss, per 1,000 pledges
 *   sim.loss{5,10,30}.*                                        one stateless proxy at 5, 10 and 30 % frame loss: onboarded, failed
 * --sim-pledges N sets the pledges of the one-proxy runs (default 100; the scale run is
 * 1000: `npm run bench -- --only sim --sim-pledges 1000`), with the heap before and after.
 */

import { runScenario } from "../sim/scenario.js";
import { SIM_DEFAULTS } from "../cli/sim.js";

const at = process.argv.indexOf("--sim-pledges");
const pledges = at < 0 ? 100 : Number(process.argv[at + 1]);
if (!Number.isInteger(pledges) || pledges < 1) {
	console.error("--sim-pledges takes a positive integer");
	process.exit(2);
}
const results: Record<string, number | null> = {};
const say = (line: string): void => void process.stderr.write(`${line}\n`);
const heapMb = (): number => {
	(globalThis as { gc?: () => void }).gc?.();
	return Math.round(process.memoryUsage().heapUsed / 1e5) / 10;
};

const d = await runScenario({ ...SIM_DEFAULTS, pcap: false });
results["sim.onboarded"] = d.onboarded;
results["sim.failed"] = d.failed;
results["sim.p50OnboardingSeconds"] = d.p50OnboardingSeconds;
results["sim.p95OnboardingSeconds"] = d.p95OnboardingSeconds;
for (const m of ["stateful", "stateless"] as const) {
	results[`sim.${m}.framesPerOnboarding`] = d.modes[m].framesPerOnboarding;
	results[`sim.${m}.bytesOnAirPerOnboarding`] = d.modes[m].bytesOnAirPerOnboarding;
	results[`sim.${m}.airtimeMsPerOnboarding`] = d.modes[m].airtimeMsPerOnboarding;
	results[`sim.${m}.onboarded`] = d.modes[m].onboarded;
}
say(`sim default (${SIM_DEFAULTS.pledges} pledges, ${SIM_DEFAULTS.topology}, mixed): ${d.onboarded} onboarded, ${d.failed} failed, p50 ${d.p50OnboardingSeconds} s; stateful ${d.modes.stateful.framesPerOnboarding} frames / ${d.modes.stateful.bytesOnAirPerOnboarding} B, stateless ${d.modes.stateless.framesPerOnboarding} frames / ${d.modes.stateless.bytesOnAirPerOnboarding} B per onboarding`);

for (const loss of [0.05, 0.1, 0.3]) {
	const key = `sim.loss${Math.round(loss * 100)}`;
	const before = heapMb();
	const started = process.hrtime.bigint();
	const r = await runScenario({ pledges, proxies: 1, mode: "stateless", topology: "star", loss, seed: 1, pcap: false });
	const wall = Number(process.hrtime.bigint() - started) / 1e9;
	const afterHeap = heapMb();
	Object.assign(results, {
		[`${key}.pledges`]: pledges,
		[`${key}.onboarded`]: r.onboarded,
		[`${key}.failed`]: r.failed,
		[`${key}.wallSeconds`]: Math.round(wall * 10) / 10,
		[`${key}.simulatedSeconds`]: r.simulatedSeconds,
		[`${key}.framesPerOnboarding`]: r.modes.stateless.framesPerOnboarding,
		[`${key}.p50OnboardingSeconds`]: r.p50OnboardingSeconds,
		[`${key}.heapMbBefore`]: before,
		[`${key}.heapMbAfter`]: afterHeap,
		[`${key}.proxyDrops`]: r.modes.stateless.drops,
	});
	if (loss === 0.05) results["sim.wallSecondsPer1000Pledges"] = Math.round((wall / pledges) * 1000 * 10) / 10;
	say(`sim one stateless proxy, ${pledges} pledges, ${loss * 100} % loss: ${r.onboarded} onboarded, ${r.failed} failed in ${wall.toFixed(1)} s wall (${r.simulatedSeconds} s simulated); ${r.modes.stateless.framesPerOnboarding} frames per onboarding; heap ${before} → ${afterHeap} MB; proxy drops ${r.modes.stateless.drops}`);
}
console.log(JSON.stringify(results));
process.exit(0);
