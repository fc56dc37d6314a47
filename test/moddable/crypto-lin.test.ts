/*
 * The native CryptoProvider (hosts/moddable/crypto/native-provider.ts) on Moddable's runtime
 * (`npm run test:moddable`): builds test/moddable/crypto-app for lin with Moddable's tools, runs it
 * headless, and reads what it prints: one line per provider vector (the very checks the noble and
 * node:crypto providers pass, test/lib/dtls-crypto-vectors.ts), a cross-check against noble in the
 * same build, and per-operation timings of both providers (printed for the report, not asserted:
 * speed goals belong in benchmarks). Skipped without MODDABLE.
 */

import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { unavailable } from "../node-lib/unavailable.js";
import { stopChild } from "../node-lib/coap-peers.js";
import { buildApp, buildLauncher, ourWarnings, preloads, root, runUntil, sdkUnavailable, spawnLauncher, type App, type Build } from "./lin-build.js";

const APP = join(root, "test", "moddable", "crypto-app");
const APP_NAME = "cjp-crypto-test";

describe("native crypto provider on Moddable's lin runtime", { timeout: 600_000 }, () => {
	const why = sdkUnavailable();
	let build: Build;
	let app: App;

	before(async () => {
		if (why !== undefined) return;
		const sdk = process.env["MODDABLE"]!;
		build = buildApp(sdk, APP, APP_NAME);
		const launcher = buildLauncher(sdk, mkdtempSync(join(tmpdir(), "cjp-moddable-")));
		app = await runUntil(() => spawnLauncher(launcher, build.library), "done\n", 300_000);
	});

	after(async () => {
		if (app !== undefined) await stopChild(app.child);
	});

	it("builds: no xsl warning for our modules, the provider and its modules preloaded", (tc) => {
		if (unavailable(tc, why)) return;
		assert.deepEqual(ourWarnings(build), [], "xsl warnings for our modules");
		const preloaded = preloads(build);
		for (const m of ["hosts/moddable/crypto/native-provider", "modules/crypto/aes-ccm", "modules/crypto/aes", "modules/asn1/der", "ec", "ecp", "modular"]) {
			assert.ok(preloaded.includes(m), `${m} in the build's preload list`);
		}
	});

	it("passes every provider vector inside the lin build", (tc) => {
		if (unavailable(tc, why)) return;
		const log = app.log();
		const failures = log.split("\n").filter((l) => l.startsWith("FAIL "));
		assert.deepEqual(failures, [], log);
		const summary = /moddable-native: (\d+) passed, (\d+) failed/.exec(log);
		assert.ok(summary, log);
		assert.equal(summary[2], "0");
		assert.ok(Number(summary[1]) >= 10, `${summary[1]} vectors ran`);
	});

	it("agrees with noble in the same build: each verifies the other's signatures, same ECDH secret", (tc) => {
		if (unavailable(tc, why)) return;
		assert.match(app.log(), /^cross: PASS/m);
		const timings = app.log().split("\n").filter((l) => l.startsWith("bench "));
		tc.diagnostic(timings.join("; "));
		assert.equal(timings.length, 8, app.log());
	});
});
