/*
 * A clock that moves only when told to: tests and the simulator advance it explicitly, so
 * retransmission and expiry timing is exact and repeatable.
 */

import type { Clock, Timer } from "../host.js";
import { BinaryHeap } from "./binary-heap.js";

class ManualTimer implements Timer {
	due = 0;
	seq = 0;
	/** Position in the clock's heap; -1 when not armed. */
	index = -1;
	readonly #clock: ManualClock;
	readonly callback: () => void;

	constructor(clock: ManualClock, callback: () => void) {
		this.#clock = clock;
		this.callback = callback;
	}

	get armed(): boolean {
		return this.index >= 0;
	}

	arm(delayMs: number): void {
		this.#clock.schedule(this, Math.max(0, delayMs));
	}

	cancel(): void {
		this.#clock.unschedule(this);
	}
}

function before(a: ManualTimer, b: ManualTimer): boolean {
	return a.due < b.due || (a.due === b.due && a.seq < b.seq);
}

export class ManualClock implements Clock {
	#now: number;
	#wallOffset: number;
	#seq = 0;
	/**
	 * Armed timers by (due, arming order), each timer knowing its index, so arming, cancelling and
	 * finding the next expiry stay logarithmic with thousands of timers (the mesh simulator arms one
	 * or more per node and per session).
	 */
	readonly #heap = new BinaryHeap<ManualTimer>(before, (t, i) => {
		t.index = i;
	});

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

	/** Timers armed now. */
	get pending(): number {
		return this.#heap.size;
	}

	/** @internal used by ManualTimer */
	schedule(t: ManualTimer, delayMs: number): void {
		t.due = this.#now + delayMs;
		t.seq = this.#seq++;
		if (t.index < 0) this.#heap.push(t);
		else this.#heap.reorder(t.index); // re-armed: it may move either way
	}

	/** @internal used by ManualTimer */
	unschedule(t: ManualTimer): void {
		if (t.index < 0) return;
		this.#heap.removeAt(t.index);
		t.index = -1;
	}

	/** The earliest pending expiry, or undefined when no timer is armed. */
	nextDue(): number | undefined {
		return this.#heap.peek()?.due;
	}

	/** Fires, in due order, every timer due within `ms` from now (including ones armed meanwhile). */
	advance(ms: number): void {
		const target = this.#now + ms;
		for (;;) {
			const next = this.#heap.peek();
			if (next === undefined || next.due > target) break;
			this.unschedule(next);
			if (next.due > this.#now) this.#now = next.due;
			next.callback();
		}
		this.#now = target;
	}
}
