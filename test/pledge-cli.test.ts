/*
 * `cjp pledge` as a process: onboards over loopback to the test Registrar (test/lib, run here on the
 * Node host), prints one line per step and a JSON summary; a refused voucher exits 1; a bad
 * configuration exits 2 with one line. The real Registrar and MASA end to end come with them.
 */

import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { mkdtempSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { createNodeHost } from "../hosts/node/index.js";
import { installFixtures } from "./lib/fixtures.js";
import { readVectors } from "./node-lib/vectors.js";
import { TestRegistrar } from "./lib/test-registrar.js";

const CJP = fileURLToPath(new URL("../bin/cjp.js", import.meta.url));
const VECTORS = fileURLToPath(new URL("./vectors/cbrski/", import.meta.url));

function cjp(...args: string[]): Promise<{ status: number | null; stdout: string; stderr: string }> {
	const child = spawn(process.execPath, [CJP, ...args], { stdio: ["ignore", "pipe", "pipe"] });
	let stdout = "";
	let stderr = "";
	child.stdout.on("data", (d) => (stdout += d));
	child.stderr.on("data", (d) => (stderr += d));
	return new Promise((resolve) => child.on("close", (status) => resolve({ status, stdout, stderr })));
}

describe("cjp pledge", () => {
	let dir: string;
	let good: TestRegistrar;
	let bad: TestRegistrar;

	before(async () => {
		installFixtures(readVectors());
		dir = mkdtempSync(join(tmpdir(), "cjp-pledge-"));
		// The draft's pledge identity, whose MASA CA signs the test Registrar's vouchers.
		writeFileSync(
			join(dir, "config.json"),
			JSON.stringify({
				kind: "cjp-pledge",
				version: 1,
				serialNumber: "JADA123456789",
				idevid: { cert: join(VECTORS, "cert-pledge.pem"), key: join(VECTORS, "key-pledge.pem") },
				masaTrustAnchor: join(VECTORS, "cert-masa_ca.pem"),
				voucherSigner: join(VECTORS, "cert-masa_ca.pem"),
				masaUrl: "masa.stok.nl",
				storage: "state",
			}),
		);
		good = await TestRegistrar.start({ host: createNodeHost({ logLevel: "error" }), coapsPort: 0, jpyPort: 0 });
		bad = await TestRegistrar.start({ host: createNodeHost({ logLevel: "error" }), coapsPort: 0, jpyPort: 0, wrongSignerFor: () => true });
	});

	after(() => {
		good.close();
		bad.close();
		rmSync(dir, { recursive: true, force: true });
	});

	it("onboards through a static proxy: one line per step, JSON summary with datagrams and bytes, credentials stored", async () => {
		const r = await cjp("pledge", "--identity", dir, "--proxy", `[::1]:${good.ports.coaps}`, "--json");
		assert.equal(r.status, 0, r.stderr);
		const lines = r.stdout.trim().split("\n");
		for (const step of ["connecting", "requesting-voucher", "validating-voucher", "voucher-status", "fetching-ca-certs", "enrolling", "storing", "enroll-status", "enrolled"]) {
			assert.ok(lines.some((l) => l.startsWith(`${step}:`)), `a line for ${step}`);
		}
		const summary = JSON.parse(lines.at(-1)!);
		assert.equal(summary.outcome, "enrolled");
		assert.equal(summary.enrollStatusReported, true);
		assert.ok(summary.traffic.datagramsSent > 5 && summary.traffic.bytesReceived > 1000, JSON.stringify(summary.traffic));
		assert.equal(summary.attempts.length, 1);
		assert.ok(readdirSync(join(dir, "state")).includes("cbrski.enrolled"));
		assert.equal(good.issued.length, 1);

		const again = await cjp("pledge", "--identity", dir, "--proxy", `[::1]:${good.ports.coaps}`, "--json");
		assert.equal(again.status, 0);
		assert.equal(JSON.parse(again.stdout.trim().split("\n").at(-1)!).outcome, "already-enrolled");
		assert.equal(good.issued.length, 1, "no second enrollment without --force");
	});

	it("a voucher that does not verify exits 1 with the reason; --state-dir keeps it apart", async () => {
		const state = join(dir, "other-state");
		const r = await cjp("pledge", "--identity", dir, "--proxy", `[::1]:${bad.ports.coaps}`, "--max-attempts", "1", "--state-dir", state, "--crypto", "noble");
		assert.equal(r.status, 1);
		assert.match(r.stderr, /onboarding failed: voucher: voucher signature does not verify/);
		assert.deepEqual(readdirSync(state), []);
	});

	it("a bad configuration gets one line and exit 2", async () => {
		const r = await cjp("pledge", "--identity", join(dir, "missing"), "--proxy", "[::1]:5684");
		assert.equal(r.status, 2);
		assert.equal(r.stderr.trim().split("\n").length, 1);
		assert.match(r.stderr, /no such file/);
		const usage = await cjp("pledge", "--identity", dir);
		assert.equal(usage.status, 2);
		assert.match(usage.stderr, /--iface/);
	});
});
