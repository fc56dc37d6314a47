/*
 * A clock that moves only when told to: tests and the simulator advance it explicitly, so
 * retransmission and expiry timing is exact and repeatable.
 */

import type { Clock, Timer } from "../host.js";

class ManualTimer implements Timer {
	due = 0;
	seq = 0;
	armed = false;
	readonly #clock: ManualClock;
	readonly callback: () => void;

	constructor(clock: ManualClock, callback: () => void) {
		this.#clock = clock;
		this.callback = callback;
	}

	arm(delayMs: number): void {
		this.#clock.schedule(this, Math.max(0, delayMs));
	}

	cancel(): void {
		this.#clock.unschedule(this);
	}
}

export class ManualClock implements Clock {
	#now: number;
	#wallOffset: number;
	#seq = 0;
	/** Armed timers; small in tests, so a linear scan beats a heap's bookkeeping. */
	#armed: ManualTimer[] = [];

	constructor(options: { start?: number; wallTime?: number } = {}) {
		this.#now = options.start ?? 0;
		this.#wallOffset = (options.wallTime ?? Date.UTC(2026, 0, 1)) - this.#now;
	}

	now(): number {
		return this.#now;
	}

	wallTime(): number {
		return this.#now + this.#wallOffset;
	}

	timer(callback: () => void): Timer {
		return new ManualTimer(this, callback);
	}

	/** @internal used by ManualTimer */
	schedule(t: ManualTimer, delayMs: number): void {
		if (!t.armed) this.#armed.push(t);
		t.armed = true;
		t.due = this.#now + delayMs;
		t.seq = this.#seq++;
	}

	/** @internal used by ManualTimer */
	unschedule(t: ManualTimer): void {
		if (!t.armed) return;
		t.armed = false;
		const i = this.#armed.indexOf(t);
		if (i >= 0) this.#armed.splice(i, 1);
	}

	/** The earliest pending expiry, or undefined when no timer is armed. */
	nextDue(): number | undefined {
		let best: number | undefined;
		for (const t of this.#armed) if (best === undefined || t.due < best) best = t.due;
		return best;
	}

	/** Fires, in due order, every timer due within `ms` from now (including ones armed meanwhile). */
	advance(ms: number): void {
		const target = this.#now + ms;
		for (;;) {
			let next: ManualTimer | undefined;
			for (const t of this.#armed) {
				if (t.due <= target && (next === undefined || t.due < next.due || (t.due === next.due && t.seq < next.seq))) next = t;
			}
			if (next === undefined) break;
			this.unschedule(next);
			if (next.due > this.#now) this.#now = next.due;
			next.callback();
		}
		this.#now = target;
	}
}
