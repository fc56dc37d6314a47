/*
 * A clock that moves only when told to: tests and the simulator advance it explicitly, so
 * retransmission and expiry timing is exact and repeatable.
 */

import type { Clock, Timer } from "../host.js";

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
	 * Armed timers as a binary min-heap by (due, arming order), each timer knowing its index, so
	 * arming, cancelling and finding the next expiry stay logarithmic with thousands of timers (the
	 * mesh simulator arms one or more per node and per session).
	 */
	readonly #heap: ManualTimer[] = [];

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
		return this.#heap.length;
	}

	/** @internal used by ManualTimer */
	schedule(t: ManualTimer, delayMs: number): void {
		const h = this.#heap;
		t.due = this.#now + delayMs;
		t.seq = this.#seq++;
		if (t.index < 0) {
			t.index = h.length;
			h.push(t);
			this.#up(t.index);
		} else {
			// re-armed: it can only move later than some and earlier than others
			this.#up(t.index);
			this.#down(t.index);
		}
	}

	/** @internal used by ManualTimer */
	unschedule(t: ManualTimer): void {
		const i = t.index;
		if (i < 0) return;
		const h = this.#heap;
		const last = h.pop()!;
		t.index = -1;
		if (last === t) return;
		h[i] = last;
		last.index = i;
		this.#up(i);
		this.#down(last.index);
	}

	/** The earliest pending expiry, or undefined when no timer is armed. */
	nextDue(): number | undefined {
		return this.#heap[0]?.due;
	}

	/** Fires, in due order, every timer due within `ms` from now (including ones armed meanwhile). */
	advance(ms: number): void {
		const target = this.#now + ms;
		for (;;) {
			const next = this.#heap[0];
			if (next === undefined || next.due > target) break;
			this.unschedule(next);
			if (next.due > this.#now) this.#now = next.due;
			next.callback();
		}
		this.#now = target;
	}

	#up(i: number): void {
		const h = this.#heap;
		const t = h[i]!;
		while (i > 0) {
			const p = (i - 1) >> 1;
			const parent = h[p]!;
			if (!before(t, parent)) break;
			h[i] = parent;
			parent.index = i;
			i = p;
		}
		h[i] = t;
		t.index = i;
	}

	#down(i: number): void {
		const h = this.#heap;
		const t = h[i]!;
		const n = h.length;
		for (;;) {
			const l = 2 * i + 1;
			if (l >= n) break;
			const r = l + 1;
			const c = r < n && before(h[r]!, h[l]!) ? r : l;
			const child = h[c]!;
			if (!before(child, t)) break;
			h[i] = child;
			child.index = i;
			i = c;
		}
		h[i] = t;
		t.index = i;
	}
}
