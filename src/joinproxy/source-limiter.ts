/*
 * Per-source rate limits on the join-port (draft §6: rate limiting is the Join Proxy's main defence
 * against a neighbour flooding it): token buckets for new flows and, when set, for datagrams, kept
 * per pledge address in a small hashed table of one Float64Array allocated at start. Nothing is
 * allocated per datagram, and memory does not grow with the number of sources: sources that hash
 * to the same bucket share it, so a flood from ever-changing spoofed addresses degrades into an
 * aggregate limit (buckets × rate) instead of unbounded state.
 */

import { fillTokens, takeToken } from "../../modules/util/token-bucket.js";

export interface SourceRateOptions {
	/** Sustained new flows per second per source (default 1). */
	flowsPerSecond?: number;
	/** New flows a quiet source may open at once (default 10: a DTLS handshake and its retries need 1–3). */
	flowBurst?: number;
	/** Sustained datagrams per second per source; 0 (default): no datagram limit. */
	datagramsPerSecond?: number;
	/** Datagrams a quiet source may send at once (default 2 s worth of datagramsPerSecond). */
	datagramBurst?: number;
	/** Buckets, a power of two (default 64: 2 KiB). */
	buckets?: number;
}

export const DEFAULT_FLOWS_PER_SECOND = 1;
export const DEFAULT_FLOW_BURST = 10;
const DEFAULT_BUCKETS = 64;
/* Per bucket: flow tokens, time of their last refill, datagram tokens, time of their last refill. */
const FIELDS = 4;

export class SourceLimiter {
	readonly #state: Float64Array;
	readonly #mask: number;
	readonly #flowRate: number;
	readonly #flowBurst: number;
	readonly #dgRate: number;
	readonly #dgBurst: number;

	constructor(options: SourceRateOptions, now: number) {
		const buckets = options.buckets ?? DEFAULT_BUCKETS;
		if (!(buckets >= 1 && buckets <= 65536 && (buckets & (buckets - 1)) === 0)) throw new RangeError("rate-limit buckets must be a power of two in 1..65536");
		this.#flowRate = options.flowsPerSecond ?? DEFAULT_FLOWS_PER_SECOND;
		this.#flowBurst = options.flowBurst ?? DEFAULT_FLOW_BURST;
		this.#dgRate = options.datagramsPerSecond ?? 0;
		this.#dgBurst = options.datagramBurst ?? 2 * this.#dgRate;
		for (const v of [this.#flowRate, this.#flowBurst, this.#dgRate, this.#dgBurst]) if (!(v >= 0 && v < Infinity)) throw new RangeError("rates and bursts must be finite and non-negative");
		if (this.#flowBurst < 1 || (this.#dgRate > 0 && this.#dgBurst < 1)) throw new RangeError("a burst below 1 would refuse every source");
		this.#mask = buckets - 1;
		this.#state = new Float64Array(buckets * FIELDS);
		for (let b = 0; b < buckets; b++) {
			fillTokens(this.#state, b * FIELDS, this.#flowBurst, now);
			fillTokens(this.#state, b * FIELDS + 2, this.#dgBurst, now);
		}
	}

	/** Whether `address` (host text) on interface `ifindex` may open another flow now; takes a token if so. */
	allowFlow(ifindex: number, address: string, now: number): boolean {
		return takeToken(this.#state, this.#bucket(ifindex, address) * FIELDS, this.#flowRate, this.#flowBurst, now);
	}

	/** Whether the source may send another datagram now (always, without a datagram limit). */
	allowDatagram(ifindex: number, address: string, now: number): boolean {
		if (this.#dgRate === 0) return true;
		return takeToken(this.#state, this.#bucket(ifindex, address) * FIELDS + 2, this.#dgRate, this.#dgBurst, now);
	}

	/** FNV-1a over the interface index and the address text: no parse, no allocation. */
	#bucket(ifindex: number, address: string): number {
		let h = Math.imul(2166136261 ^ ifindex, 16777619);
		for (let i = 0; i < address.length; i++) h = Math.imul(h ^ address.charCodeAt(i), 16777619);
		return (h ^ (h >>> 15)) & this.#mask;
	}
}
