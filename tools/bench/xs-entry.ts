/* Loaded into xsnap by tools/bench/run.ts: the relay harness behind two global entry points. */

import { relayHarness, type RelayHarness } from "./relay-harness.js";

declare const globalThis: { __bench?: unknown };

let harness: RelayHarness | undefined;
let error = "";

globalThis.__bench = {
	setup(mode: "stateful" | "stateless"): void {
		harness = undefined;
		relayHarness(mode).then(
			(h) => (harness = h),
			(e: unknown) => (error = String(e)),
		);
	},
	run(count: number): number {
		if (harness === undefined) throw new Error(`relay harness not ready ${error}`);
		return harness.run(count);
	},
};
