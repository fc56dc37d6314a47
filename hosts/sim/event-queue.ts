/*
 * Discrete events on a ManualClock, in integer microseconds: a binary heap ordered by time, then by
 * scheduling order, so equal-time events run in a fixed order and a seed replays byte for byte.
 * One clock timer stands for the earliest event, so tests drive it like any other timer.
 */

import type { Timer } from "../host.js";
import type { ManualClock } from "../xs/manual-clock.js";

interface Event {
	t: number;
	seq: number;
	run: () => void;
}

export class EventQueue {
	readonly clock: ManualClock;
	readonly #heap: Event[] = [];
	readonly #timer: Timer;
	#seq = 0;
	#armedFor = Infinity;

	constructor(clock: ManualClock) {
		this.clock = clock;
		this.#timer = clock.timer(() => this.#fire());
	}

	nowUs(): number {
		return Math.round(this.clock.now() * 1000);
	}

	after(delayUs: number, run: () => void): void {
		this.at(this.nowUs() + Math.max(0, Math.round(delayUs)), run);
	}

	at(t: number, run: () => void): void {
		const h = this.#heap;
		h.push({ t, seq: this.#seq++, run });
		let i = h.length - 1;
		while (i > 0) {
			const parent = (i - 1) >> 1;
			if (!before(h[i]!, h[parent]!)) break;
			swap(h, i, parent);
			i = parent;
		}
		this.#arm();
	}

	get size(): number {
		return this.#heap.length;
	}

	#arm(): void {
		const first = this.#heap[0];
		if (first === undefined) {
			this.#timer.cancel();
			this.#armedFor = Infinity;
			return;
		}
		if (this.#timer.armed && this.#armedFor === first.t) return;
		this.#armedFor = first.t;
		this.#timer.arm((first.t - this.nowUs()) / 1000);
	}

	#pop(): Event {
		const h = this.#heap;
		const top = h[0]!;
		const last = h.pop()!;
		if (h.length > 0) {
			h[0] = last;
			let i = 0;
			for (;;) {
				const l = 2 * i + 1;
				const r = l + 1;
				let m = i;
				if (l < h.length && before(h[l]!, h[m]!)) m = l;
				if (r < h.length && before(h[r]!, h[m]!)) m = r;
				if (m === i) break;
				swap(h, i, m);
				i = m;
			}
		}
		return top;
	}

	#fire(): void {
		this.#armedFor = Infinity;
		const now = this.nowUs();
		while (this.#heap.length > 0 && this.#heap[0]!.t <= now) this.#pop().run();
		this.#arm();
	}
}

function before(a: Event, b: Event): boolean {
	return a.t < b.t || (a.t === b.t && a.seq < b.seq);
}

function swap(h: Event[], i: number, j: number): void {
	const t = h[i]!;
	h[i] = h[j]!;
	h[j] = t;
}
