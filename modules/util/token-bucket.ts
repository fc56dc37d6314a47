/*
 * Token buckets (rate limits with bursts): `ratePerSecond` tokens accrue up to `burst`, each event
 * takes one. A bucket is two numbers, tokens and the time of the last refill, so tables of them
 * (one per source on the join-port) live packed in one Float64Array; TokenBucket is the single
 * bucket. Time comes from the caller (a Host clock's monotonic milliseconds).
 */

export interface TokenBucketOptions {
	ratePerSecond: number;
	burst: number;
}

/** Adds the tokens accrued since the last refill of the bucket at state[o] (tokens), state[o + 1] (ms). */
export function refillTokens(state: Float64Array, o: number, ratePerSecond: number, burst: number, now: number): void {
	const last = state[o + 1]!;
	if (now <= last) return; // time that went backwards is not counted twice
	state[o] = Math.min(burst, state[o]! + ((now - last) * ratePerSecond) / 1000);
	state[o + 1] = now;
}

/** Takes a token from the bucket at state[o] if there is one. */
export function takeToken(state: Float64Array, o: number, ratePerSecond: number, burst: number, now: number): boolean {
	refillTokens(state, o, ratePerSecond, burst, now);
	if (state[o]! < 1) return false;
	state[o]! -= 1;
	return true;
}

/** Sets the bucket at state[o] full as of `now`. */
export function fillTokens(state: Float64Array, o: number, burst: number, now: number): void {
	state[o] = burst;
	state[o + 1] = now;
}

export class TokenBucket {
	readonly #rate: number;
	readonly #burst: number;
	readonly #state = new Float64Array(2);

	constructor(options: TokenBucketOptions, now: number) {
		if (!(options.ratePerSecond > 0) || !(options.burst >= 1)) throw new RangeError("a token bucket needs a positive rate and a burst of at least 1");
		this.#rate = options.ratePerSecond;
		this.#burst = options.burst;
		fillTokens(this.#state, 0, this.#burst, now);
	}

	/** Takes a token if there is one. */
	take(now: number): boolean {
		return takeToken(this.#state, 0, this.#rate, this.#burst, now);
	}

	/** True when the bucket has refilled completely (its state no longer matters). */
	full(now: number): boolean {
		refillTokens(this.#state, 0, this.#rate, this.#burst, now);
		return this.#state[0]! >= this.#burst;
	}
}
