/*
 * ECDSA verification remembered across a simulated network: every pledge checks the same Registrar
 * and voucher-signer chains, and a retried handshake checks the same IDevID again, so one run
 * repeats the same P-256 verifications thousands of times. Verification is a pure function of
 * (key, message, signature), so the answer is looked up instead of recomputed: the simulation's
 * bytes and timing are unchanged (simulated CPU time is charged by `chargedCrypto`, outside this).
 */

import type { CryptoProvider } from "../../modules/crypto/provider.js";
import { toHex } from "../../modules/util/hex.js";

/** Entries kept; the oldest goes first, so memory stays bounded on long runs. */
const DEFAULT_ENTRIES = 4096;

export class VerifyCache {
	readonly #answers = new Map<string, boolean>();
	readonly #limit: number;
	hits = 0;
	misses = 0;

	constructor(o: { entries?: number } = {}) {
		this.#limit = o.entries ?? DEFAULT_ENTRIES;
	}

	/** `provider` with its ecdsaVerify answered from this cache when the same check was made before. */
	wrap(provider: CryptoProvider): CryptoProvider {
		return {
			name: provider.name,
			sha256: (d) => provider.sha256(d),
			sha1: (d) => provider.sha1(d),
			hmacSha256: (k, d) => provider.hmacSha256(k, d),
			ecGenerate: () => provider.ecGenerate(),
			ecdh: (k, p) => provider.ecdh(k, p),
			ecdsaSign: (k, m) => provider.ecdsaSign(k, m),
			ecdsaVerify: (k, m, s) => {
				const key = `${toHex(k)}/${toHex(s)}/${toHex(provider.sha256(m))}/${m.length}`;
				const known = this.#answers.get(key);
				if (known !== undefined) {
					this.hits++;
					return known;
				}
				this.misses++;
				const ok = provider.ecdsaVerify(k, m, s);
				if (this.#answers.size >= this.#limit) this.#answers.delete(this.#answers.keys().next().value!);
				this.#answers.set(key, ok);
				return ok;
			},
			aesCcm: (k, t, n) => provider.aesCcm(k, t, n),
		};
	}
}
