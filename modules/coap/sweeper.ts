/*
 * One timer that drops expired per-peer state (duplicate-detection entries, block-wise transfers)
 * every few seconds while any is kept, and stays idle otherwise.
 */

import type { Clock, Timer } from "../../hosts/host.js";

export interface ExpiringTable {
	/** Drops the entries that have expired by `now`. */
	sweep(now: number): void;
	readonly size: number;
}

/** Drops the entries of `map` whose `expires` is at or before `now`. */
export function dropExpired(map: Map<unknown, { expires: number }>, now: number): void {
	for (const [k, v] of map) if (v.expires <= now) map.delete(k);
}

export class Sweeper {
	readonly #clock: Clock;
	readonly #intervalMs: number;
	readonly #tables: ExpiringTable[] = [];
	readonly #timer: Timer;
	#closed = false;

	constructor(clock: Clock, intervalMs: number) {
		this.#clock = clock;
		this.#intervalMs = intervalMs;
		this.#timer = clock.timer(() => this.#sweep());
	}

	watch(table: ExpiringTable): void {
		this.#tables.push(table);
	}

	/** Call after adding an entry: makes sure a sweep is coming. */
	keep(): void {
		if (!this.#timer.armed && !this.#closed) this.#timer.arm(this.#intervalMs);
	}

	/** Idempotent. */
	close(): void {
		this.#closed = true;
		this.#timer.cancel();
	}

	#sweep(): void {
		const now = this.#clock.now();
		let left = 0;
		for (const t of this.#tables) {
			t.sweep(now);
			left += t.size;
		}
		if (left > 0) this.keep();
	}
}
