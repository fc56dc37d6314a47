/*
 * Runs inside the XS engine (xsnap): every shared suite, each test isolated, results sent back to
 * the Node side as one JSON command. An uncaught exception would end the worker, so nothing escapes.
 */

import { installFixtures } from "../../test/lib/fixtures.js";
import { suites } from "../../test/suites/index.js";
import { utf8Encode } from "../../modules/util/utf8.js";
import type { SuiteResult } from "./report.js";

declare const __FIXTURES__: Record<string, string>;
declare function issueCommand(message: ArrayBuffer): unknown;

async function runAll(): Promise<SuiteResult[]> {
	installFixtures(__FIXTURES__);
	const results: SuiteResult[] = [];
	for (const s of suites) {
		const r: SuiteResult = { name: s.name, passed: 0, failed: [], ms: 0, slowest: "" };
		let slowest = -1;
		for (const t of s.tests) {
			const start = Date.now();
			try {
				await t.body();
				r.passed++;
			} catch (e) {
				const err = e instanceof Error ? `${e.name}: ${e.message}\n${e.stack ?? ""}` : String(e);
				r.failed.push({ test: t.name, error: err });
			}
			const ms = Date.now() - start;
			r.ms += ms;
			if (ms > slowest) {
				slowest = ms;
				r.slowest = `${t.name} (${ms} ms)`;
			}
		}
		results.push(r);
	}
	return results;
}

function send(value: unknown): void {
	const bytes = utf8Encode(JSON.stringify(value));
	issueCommand(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength) as ArrayBuffer);
}

runAll().then(
	(results) => send({ results }),
	(e) => send({ fatal: String(e) }),
);
