/* Drive a ManualClock from async tests: advance timer by timer, letting promise jobs run between. */

import type { ManualClock } from "../../hosts/xs/manual-clock.js";

/** Lets pending promise reactions run (chains of a few awaits deep). */
export async function flush(rounds = 20): Promise<void> {
	for (let i = 0; i < rounds; i++) await null;
}

/** Advances the clock by `ms`, firing timers in order and flushing promise jobs after each. */
export async function runFor(clock: ManualClock, ms: number): Promise<void> {
	const end = clock.now() + ms;
	await flush();
	for (;;) {
		const due = clock.nextDue();
		if (due === undefined || due > end) break;
		clock.advance(Math.max(0, due - clock.now()));
		await flush();
	}
	clock.advance(end - clock.now());
	await flush();
}

/** Runs the clock until `promise` settles; throws if it has not settled after `maxMs` of clock time. */
export async function until<T>(clock: ManualClock, promise: Promise<T>, maxMs = 600_000): Promise<T> {
	let settled = false;
	promise.then(
		() => (settled = true),
		() => (settled = true),
	);
	const end = clock.now() + maxMs;
	await flush();
	while (!settled) {
		const due = clock.nextDue();
		if (due === undefined || due > end) throw new Error(`promise still pending after ${maxMs} ms of clock time`);
		clock.advance(Math.max(0, due - clock.now()));
		await flush();
	}
	return promise;
}
