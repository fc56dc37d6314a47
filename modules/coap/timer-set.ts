/* The timers an endpoint has started, so that close() can cancel every one of them at once. */

import type { Clock, Timer } from "../../hosts/host.js";

export class TimerSet {
	readonly #clock: Clock;
	readonly #timers = new Set<Timer>();

	constructor(clock: Clock) {
		this.#clock = clock;
	}

	/** A new (unarmed) timer that clear() cancels until it is released. */
	start(callback: () => void): Timer {
		const t = this.#clock.timer(callback);
		this.#timers.add(t);
		return t;
	}

	/** Cancels `t` (harmless once it has fired) and forgets it. */
	release(t: Timer): void {
		t.cancel();
		this.#timers.delete(t);
	}

	/** How many timers are held: a leak shows here. */
	get size(): number {
		return this.#timers.size;
	}

	clear(): void {
		for (const t of this.#timers) t.cancel();
		this.#timers.clear();
	}
}
