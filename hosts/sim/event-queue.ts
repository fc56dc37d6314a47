/*
 * Discrete events on a ManualClock, in integer microseconds, ordered by time, then by scheduling order, so equal-time events run in a fixed order and a seed replays byte for byte.
 * One clock timer stands for the earliest event, so tests drive it like any other timer.
 */

import type { Timer } from "../host.js";
import type { ManualClock } from "../xs/manual-clock.js";
import { BinaryHeap } from "../xs/binary-heap.js";

interface Event {
	t: number;
	seq: number;
	run: () => void;
}

export class EventQueue {
	readonly clock: ManualClock;
	readonly #heap = new BinaryHeap<Event>(before);
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
		this.#heap.push({ t, seq: this.#seq++, run });
		this.#arm();
	}

	get size(): number {
		return this.#heap.size;
	}

	#arm(): void {
		const first = this.#heap.peek();
		if (first === undefined) {
			this.#timer.cancel();
			this.#armedFor = Infinity;
			return;
		}
		if (this.#timer.armed && this.#armedFor === first.t) return;
		this.#armedFor = first.t;
		this.#timer.arm((first.t - this.nowUs()) / 1000);
	}

	#fire(): void {
		this.#armedFor = Infinity;
		const now = this.nowUs();
		for (let e = this.#heap.peek(); e !== undefined && e.t <= now; e = this.#heap.peek()) {
			this.#heap.pop();
			e.run();
		}
		this.#arm();
	}
}

function before(a: Event, b: Event): boolean {
	return a.t < b.t || (a.t === b.t && a.seq < b.seq);
}
