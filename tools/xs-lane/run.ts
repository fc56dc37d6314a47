/*
 * `npm run test:xs`: bundles the shared suites for XS and runs them inside the real XS engine of
 * @agoric/xsnap. Prints per-suite counts and ends with "N passed, N failed"; exits non-zero if a
 * test failed or none ran.
 */

import { fileURLToPath } from "node:url";
import { buildXsBundle } from "./bundle.js";
import { startXsWorker } from "./worker.js";
import type { SuiteResult } from "./report.js";

const TIMEOUT_MS = 540_000; // under test/xs-lane.test.ts's 600 s; the lane takes 3 min on a loaded 2-core machine

async function main(): Promise<number> {
	const source = await buildXsBundle(fileURLToPath(new URL("./entry.ts", import.meta.url)));
	const worker = await startXsWorker();
	const started = Date.now();
	try {
		await worker.evaluate(source);
		const outcome = await worker.nextMessage<{ results?: SuiteResult[]; fatal?: string }>(TIMEOUT_MS);
		if (outcome.results === undefined) throw new Error(outcome.fatal ?? "no results");
		let passed = 0;
		let failed = 0;
		for (const s of outcome.results) {
			passed += s.passed;
			failed += s.failed.length;
			console.log(`xs ${s.failed.length === 0 ? "✔" : "✖"} ${s.name}: ${s.passed} passed, ${s.failed.length} failed (${s.ms} ms; slowest: ${s.slowest})`);
			for (const f of s.failed) console.log(`    ✖ ${f.test}\n      ${f.error.split("\n").join("\n      ")}`);
		}
		console.log(`XS lane (xsnap, XS 13.3): ${outcome.results.length} suites in ${Date.now() - started} ms`);
		console.log(`${passed} passed, ${failed} failed`);
		return failed === 0 && passed > 0 ? 0 : 1;
	} finally {
		await worker.close();
	}
}

main().then(
	(code) => process.exit(code),
	(e: unknown) => {
		console.log(`XS lane failed: ${e instanceof Error ? e.message : String(e)}`);
		console.log("0 passed, 1 failed");
		process.exit(1);
	},
);
