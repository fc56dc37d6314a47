/*
 * A token bucket (rate limit with bursts): `ratePerSecond` tokens accrue up to `burst`, each event
 * takes one. Time comes from the caller (a Host clock's monotonic milliseconds), so it runs anywhere.
 */

export interface TokenBucketOptions {
	ratePerSecond: number;
	burst: number;
}

export class TokenBucket {
	readonly #rate: number;
	readonly #burst: number;
	#tokens: number;
	#last: number;

	constructor(options: TokenBucketOptions, now: number) {
		if (!(options.ratePerSecond > 0) || !(options.burst >= 1)) throw new RangeError("a token bucket needs a positive rate and a burst of at least 1");
		this.#rate = options.ratePerSecond / 1000;
		this.#burst = options.burst;
		this.#tokens = options.burst;
		this.#last = now;
	}

	#refill(now: number): void {
		if (now <= this.#last) return; // time that went backwards is not counted twice
		this.#tokens = Math.min(this.#burst, this.#tokens + (now - this.#last) * this.#rate);
		this.#last = now;
	}

	/** Takes a token if there is one. */
	take(now: number): boolean {
		this.#refill(now);
		if (this.#tokens < 1) return false;
		this.#tokens -= 1;
		return true;
	}

	/** True when the bucket has refilled completely (its state no longer matters). */
	full(now: number): boolean {
		this.#refill(now);
		return this.#tokens >= this.#burst;
	}
}
