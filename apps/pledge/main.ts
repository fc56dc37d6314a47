/*
 * The cBRSKI pledge on Moddable's runtime: src/pledge on the Moddable Host (native IPv6 UDP,
 * Preference storage, trace logs) with the native CryptoProvider. Each state goes to trace
 * ("info: pledge SERIAL: STATE: detail"); the LDevID, its key and the domain trust anchors are
 * stored through the Host's storage (Preference domain "cjp", src/pledge/credential-store keys).
 *
 * Identity, Preference domain "cjp-id" (byte values, each ≤ 4000 bytes; written at manufacture):
 *   idevid0..7    the IDevID certificate (DER), then any intermediates
 *   idevidKey     its P-256 private key (SEC1 or PKCS#8 DER)
 *   masaTa0..7    the MASA trust anchors (DER)                  signer0..7  voucher signers (DER)
 * Settings, Preference domain "cjp-pl" over the manifest's `config.pledge` (text):
 *   iface         space-separated pledge interfaces to discover join proxies on
 *   proxies       space-separated join-ports "[fe80::1%wpan0]:5684" instead of discovery
 *   maxAttempts   attempts before giving up (default 16)     force  "true": onboard again
 *   trustedClock  "true": check voucher and certificate times  logLevel  debug | info | warn | error
 *   memoryMs      sample the heap every N ms (instrumented builds) and print the peak at the end
 *
 * Prints "result {JSON}" (the PledgeResult without the LDevID bytes) when the run ends, then
 * "memory {JSON}" (peaks) in an instrumented build with memoryMs set.
 * Not preloaded on lin (it imports `preference`, which reads its file when loaded).
 */

import config from "mc/config";
import Preference from "preference";
import Timer from "timer";
import { createModdableHost, logLevel } from "../../hosts/moddable/index.js";
import { createNativeCrypto } from "../../hosts/moddable/crypto/native-provider.js";
import { sampleMemory, type MemorySample } from "../../hosts/moddable/memory.js";
import { AppSettings } from "../../hosts/moddable/settings.js";
import { parsePeer } from "../../modules/util/peer.js";
import { parseEcPrivateKey } from "../../modules/x509/private-key.js";
import { Pledge, type PledgeOptions } from "../../src/pledge/pledge.js";


function identity(id: AppSettings): Pick<PledgeOptions, "idevid" | "masaTrustAnchors" | "voucherSigners"> {
	const certificates = id.list("idevid");
	const key = id.bytes("idevidKey");
	if (certificates.length === 0 || key === undefined) throw new Error("no IDevID provisioned (Preference cjp-id: idevid0, idevidKey)");
	const masaTrustAnchors = id.list("masaTa");
	if (masaTrustAnchors.length === 0) throw new Error("no MASA trust anchor provisioned (Preference cjp-id: masaTa0)");
	return { idevid: { certificates, privateKey: parseEcPrivateKey(key) }, masaTrustAnchors, voucherSigners: id.list("signer") };
}

function options(host: PledgeOptions["host"], s: AppSettings): PledgeOptions {
	const id = new AppSettings(Preference, "cjp-id", undefined);
	const o: PledgeOptions = { host, crypto: createNativeCrypto((b) => host.random(b)), ...identity(id) };
	const proxies = s.words("proxies").map((text) => {
		const peer = parsePeer(text);
		if (peer === undefined) throw new Error(`proxies must be join-ports like [fe80::1%wpan0]:5684, got "${text}"`);
		return peer;
	});
	if (proxies.length > 0) o.proxies = proxies;
	const interfaces = s.words("iface");
	if (interfaces.length > 0) o.interfaces = interfaces;
	if (proxies.length === 0 && interfaces.length === 0) throw new Error("configure iface (discovery) or proxies");
	const attempts = Number(s.text("maxAttempts"));
	if (s.text("maxAttempts") !== "") {
		if (!(Number.isInteger(attempts) && attempts > 0)) throw new Error(`maxAttempts must be a positive integer, got "${s.text("maxAttempts")}"`);
		o.maxAttempts = attempts;
	}
	o.force = s.text("force") === "true";
	o.trustedClock = s.text("trustedClock") === "true";
	return o;
}

/** Heap peaks over the run, sampled every `every` ms (an instrumented build only). */
function watchMemory(every: number): { stop(): MemorySample | undefined } {
	let peak = sampleMemory();
	const first = peak?.gc ?? 0;
	const timer = peak === undefined || !(every > 0) ? undefined : Timer.repeat(() => {
		const now = sampleMemory()!;
		const p = peak!;
		peak = { slotBytes: Math.max(p.slotBytes, now.slotBytes), chunkBytes: Math.max(p.chunkBytes, now.chunkBytes), keys: Math.max(p.keys, now.keys), gc: now.gc, stackBytes: Math.max(p.stackBytes, now.stackBytes) };
	}, every);
	return {
		stop() {
			if (timer === undefined) return undefined;
			Timer.clear(timer);
			return { ...peak!, gc: peak!.gc - first };
		},
	};
}

export default function main(): void {
	const settings = new AppSettings(Preference, "cjp-pl", config["pledge"] as Record<string, unknown> | undefined);
	const host = createModdableHost({ preference: Preference, logLevel: logLevel(settings.text("logLevel")) });
	let pledge: Pledge;
	try {
		pledge = new Pledge(options(host, settings));
	} catch (e) {
		host.log("error", `pledge: ${String(e)}`);
		trace(`result ${JSON.stringify({ outcome: "failed", error: String(e) })}\n`);
		return;
	}
	const memory = watchMemory(Number(settings.text("memoryMs")));
	pledge.run().then(
		({ ldevid, attempts, ...result }) => {
			trace(`result ${JSON.stringify({ ...result, ldevidBytes: ldevid?.length ?? 0, attempts: attempts.map((a) => `${a.proxy} ${a.outcome}`) })}\n`);
			const peak = memory.stop();
			if (peak !== undefined) trace(`memory ${JSON.stringify(peak)}\n`);
		},
		(e: unknown) => host.log("error", `pledge: ${String(e)}`),
	);
}
