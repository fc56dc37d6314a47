/*
 * Device profiles: simulated CPU time a node spends per public-key and AES operation. A crypto
 * provider wrapped by `chargedCrypto` charges its node; the node's sends and deliveries then wait
 * until the CPU is free (SimNode.busyUntilUs), so a slow pledge shows up as a slow handshake.
 *
 * Figures must come from published measurements. What was found (and only that) is built in:
 * - nRF52840 (64 MHz Cortex-M4), mbedTLS in software: AES-CBC-128 at 1827 ns/byte, i.e. 29.2 µs per
 *   16-byte block (Zephyr PR #12630, "Benchmark on Cortex-M4 (nRF52840 PCA10056)", MBEDTLS_HAVE_ASM
 *   disabled, https://github.com/zephyrproject-rtos/zephyr/pull/12630).
 * No published P-256 ECDSA/ECDH timings for the ESP32 or the nRF52840 (CryptoCell-310 or software)
 * were found in the sources searched, so those entries are absent and must be given by the caller
 * (`overrides`); a profile with a missing figure is refused rather than guessed.
 */

import type { CryptoProvider } from "../../modules/crypto/provider.js";
import type { SimNode } from "./node.js";

export interface DeviceProfile {
	name: string;
	ecdsaSignMs: number;
	ecdsaVerifyMs: number;
	/** One P-256 scalar multiplication: ECDH, and ephemeral key generation. */
	ecdhMs: number;
	aesBlockUs: number;
}

const PUBLISHED: Readonly<Record<string, Readonly<Partial<DeviceProfile>>>> = Object.freeze({
	nrf52840: Object.freeze({ aesBlockUs: 29.2 }),
	esp32: Object.freeze({}),
});

export const DEVICE_NAMES = Object.freeze(["esp32", "nrf52840", "none"] as const);

/** The profile `name` with `overrides`; undefined for "none". Throws when a figure is neither published nor given. */
export function deviceProfile(name: string, overrides: Partial<Omit<DeviceProfile, "name">> = {}): DeviceProfile | undefined {
	if (name === "none") return undefined;
	const base = PUBLISHED[name];
	if (base === undefined) throw new RangeError(`unknown device ${name}: ${DEVICE_NAMES.join(", ")}`);
	const p = { ...base, ...overrides, name };
	const missing = (["ecdsaSignMs", "ecdsaVerifyMs", "ecdhMs", "aesBlockUs"] as const).filter((k) => typeof p[k] !== "number");
	if (missing.length > 0) throw new RangeError(`device ${name}: no published figure for ${missing.join(", ")}; give them explicitly`);
	return p as DeviceProfile;
}

/** `provider`, charging `node`'s simulated CPU per operation. SHA-256/HMAC are not charged. */
export function chargedCrypto(provider: CryptoProvider, node: SimNode, profile: DeviceProfile): CryptoProvider {
	const charge = (us: number): void => {
		const now = node.sim.queue.nowUs();
		node.busyUntilUs = Math.max(now, node.busyUntilUs) + Math.round(us);
	};
	// AES-CCM: CBC-MAC and CTR, one block each per 16 bytes, plus the B0 and A0 blocks.
	const ccmBlocks = (n: number): number => 2 * Math.ceil(n / 16) + 2;
	return {
		name: `${provider.name}@${profile.name}`,
		sha256: (d) => provider.sha256(d),
		sha1: (d) => provider.sha1(d),
		hmacSha256: (k, d) => provider.hmacSha256(k, d),
		ecGenerate: () => (charge(profile.ecdhMs * 1000), provider.ecGenerate()),
		ecdh: (k, p) => (charge(profile.ecdhMs * 1000), provider.ecdh(k, p)),
		ecdsaSign: (k, m) => (charge(profile.ecdsaSignMs * 1000), provider.ecdsaSign(k, m)),
		ecdsaVerify: (k, m, s) => (charge(profile.ecdsaVerifyMs * 1000), provider.ecdsaVerify(k, m, s)),
		aesCcm: (key, tagLength, nonceLength) => {
			const aead = provider.aesCcm(key, tagLength, nonceLength);
			return {
				seal: (n, a, p) => (charge(ccmBlocks(p.length + a.length) * profile.aesBlockUs), aead.seal(n, a, p)),
				open: (n, a, s) => (charge(ccmBlocks(s.length + a.length) * profile.aesBlockUs), aead.open(n, a, s)),
			};
		},
	};
}
