/*
 * The XS lane inside `npm test`: runs tools/xs-lane in its own process (xsnap needs a SES-locked
 * process) and shows its per-suite counts here.
 */

import { test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { fileURLToPath } from "node:url";

test("shared suites pass inside the XS engine (xsnap)", (t) => {
	const root = fileURLToPath(new URL("..", import.meta.url));
	const run = spawnSync(process.execPath, ["--import", "tsx", "tools/xs-lane/run.ts"], { cwd: root, encoding: "utf8", timeout: 600_000 });
	const lines = `${run.stdout}${run.stderr}`.trim().split("\n");
	for (const line of lines) t.diagnostic(line);
	const summary = /^(\d+) passed, (\d+) failed$/.exec(lines[lines.length - 1] ?? "");
	assert.ok(summary, "the XS lane printed its summary line");
	assert.ok(Number(summary[1]) > 0, "tests ran inside XS");
	assert.equal(Number(summary[2]), 0, "no test failed inside XS");
	assert.equal(run.status, 0);
});
