/*
 * The CryptoProvider vectors (test/lib/dtls-crypto-vectors.ts, the same checks the noble and
 * node:crypto providers pass) against hosts/moddable's native provider on Moddable's runtime, then
 * per-operation timings of P-256 sign, verify and ECDH for the native and the noble providers in
 * the same build. Prints one line per test, "N passed, N failed", the timings and "done";
 * test/moddable/crypto-lin.test.ts reads them.
 */

import "./globals.js";
import Time from "time";
import { providerCases } from "../../lib/dtls-crypto-vectors.js";
import { createNativeCrypto } from "../../../hosts/moddable/crypto/native-provider.js";
import { fillRandom } from "../../../hosts/moddable/platform.js";
import { createNobleCrypto } from "../../../modules/crypto/noble-provider.js";
import type { CryptoProvider } from "../../../modules/crypto/provider.js";

const random = (bytes: Uint8Array): Uint8Array => {
	fillRandom(bytes);
	return bytes;
};

async function runVectors(provider: () => CryptoProvider): Promise<void> {
	let passed = 0;
	let failed = 0;
	for (const c of providerCases(provider)) {
		try {
			await c.body();
			passed++;
			trace(`PASS ${c.name}\n`);
		} catch (e) {
			failed++;
			trace(`FAIL ${c.name}: ${String(e)}\n`);
		}
	}
	trace(`${provider().name}: ${passed} passed, ${failed} failed\n`);
}

/** Milliseconds per call of `op`, over `count` calls. */
function perOp(count: number, op: () => void): number {
	const start = Time.ticks;
	for (let i = 0; i < count; i++) op();
	return (Time.ticks - start) / count;
}

function bench(c: CryptoProvider, count: number): void {
	const a = c.ecGenerate();
	const b = c.ecGenerate();
	const message = new Uint8Array(200).fill(0x5a);
	const signature = c.ecdsaSign(a.privateKey, message);
	const results = {
		ecdh: perOp(count, () => c.ecdh(a.privateKey, b.publicKey)),
		sign: perOp(count, () => c.ecdsaSign(a.privateKey, message)),
		verify: perOp(count, () => {
			if (!c.ecdsaVerify(a.publicKey, message, signature)) throw new Error("verify failed");
		}),
		generate: perOp(count, () => c.ecGenerate()),
	};
	for (const [op, ms] of Object.entries(results)) trace(`bench ${c.name} ${op} ${ms.toFixed(1)} ms/op (${count} ops)\n`);
}

export default async function main(): Promise<void> {
	const native = createNativeCrypto(random);
	const noble = createNobleCrypto(random);
	await runVectors(() => createNativeCrypto(random));
	// Each provider verifies the other's signatures and agrees on ECDH secrets.
	const k = native.ecGenerate();
	const m = new Uint8Array(64).fill(7);
	const crossSign = noble.ecdsaVerify(k.publicKey, m, native.ecdsaSign(k.privateKey, m)) && native.ecdsaVerify(k.publicKey, m, noble.ecdsaSign(k.privateKey, m));
	const other = noble.ecGenerate();
	const x1 = native.ecdh(k.privateKey, other.publicKey);
	const x2 = noble.ecdh(other.privateKey, k.publicKey);
	const crossEcdh = x1.length === 32 && x1.every((v, i) => v === x2[i]);
	trace(`cross: ${crossSign && crossEcdh ? "PASS" : "FAIL"} (native and noble verify each other's signatures, agree on ECDH)\n`);
	bench(native, 50);
	bench(noble, 10);
	trace("done\n");
}
