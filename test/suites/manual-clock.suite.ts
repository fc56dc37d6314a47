import { suite } from "../lib/harness.js";
import { deepEqual, equal } from "../lib/assert.js";
import { ManualClock } from "../../hosts/xs/manual-clock.js";
import { SeededRandom } from "../../hosts/xs/seeded-random.js";
import type { Timer } from "../../hosts/host.js";

export default suite("manual clock", (test) => {
	test("fires in due order, ties in arming order; re-arming moves a timer; cancelled ones stay silent", () => {
		const clock = new ManualClock();
		const fired: string[] = [];
		const t = (name: string): Timer => clock.timer(() => fired.push(`${name}@${clock.now()}`));
		const a = t("a");
		const b = t("b");
		const c = t("c");
		const d = t("d");
		a.arm(10);
		b.arm(5);
		c.arm(10);
		d.arm(1);
		b.arm(10); // re-armed: now after a and c at 10
		d.cancel();
		equal(clock.nextDue(), 10);
		equal(d.armed, false);
		clock.advance(10);
		deepEqual(fired, ["a@10", "c@10", "b@10"]);
		equal(clock.nextDue(), undefined);
	});

	test("seeded: arm, re-arm, cancel and advance agree with a linear-scan reference clock", () => {
		const run = (clock: Pick<ManualClock, "timer" | "advance" | "now" | "nextDue">): string[] => {
			const rng = new SeededRandom(7);
			const log: string[] = [];
			const n = 40;
			const timers: Timer[] = [];
			for (let i = 0; i < n; i++) {
				const id = i;
				timers.push(
					clock.timer(() => {
						log.push(`${id}@${clock.now()}`);
						if (id % 5 === 0) timers[(id + 1) % n]!.arm(rng.int(3)); // arming from a callback, due now or soon
					}),
				);
			}
			for (let round = 0; round < 400; round++) {
				const op = rng.int(4);
				const i = rng.int(n);
				if (op <= 1) timers[i]!.arm(rng.int(50));
				else if (op === 2) timers[i]!.cancel();
				else clock.advance(rng.int(30));
				log.push(`next ${clock.nextDue()} armed ${timers.filter((t) => t.armed).length}`);
			}
			return log;
		};
		const got = run(new ManualClock());
		const want = run(new ReferenceClock());
		equal(got.length, want.length);
		deepEqual(got, want);
		equal(got.filter((l) => l.includes("@")).length > 100, true, "many timers fired");
	});
});

/** The clock's defining behaviour, the obvious way: a list scanned for the earliest (due, arming order). */
interface ReferenceTimer {
	due: number;
	seq: number;
	callback: () => void;
	armed: boolean;
}

class ReferenceClock {
	#now = 0;
	#seq = 0;
	readonly #armed: ReferenceTimer[] = [];

	now(): number {
		return this.#now;
	}

	timer(callback: () => void): Timer {
		const t: ReferenceTimer = { due: 0, seq: 0, callback, armed: false };
		const list = this.#armed;
		return {
			arm: (ms: number) => {
				if (!t.armed) list.push(t);
				t.armed = true;
				t.due = this.#now + Math.max(0, ms);
				t.seq = this.#seq++;
			},
			cancel: () => {
				if (!t.armed) return;
				t.armed = false;
				list.splice(list.indexOf(t), 1);
			},
			get armed() {
				return t.armed;
			},
		};
	}

	nextDue(): number | undefined {
		let best: number | undefined;
		for (const t of this.#armed) if (best === undefined || t.due < best) best = t.due;
		return best;
	}

	advance(ms: number): void {
		const target = this.#now + ms;
		for (;;) {
			let next: ReferenceTimer | undefined;
			for (const t of this.#armed) if (t.due <= target && (next === undefined || t.due < next.due || (t.due === next.due && t.seq < next.seq))) next = t;
			if (next === undefined) break;
			next.armed = false;
			this.#armed.splice(this.#armed.indexOf(next), 1);
			if (next.due > this.#now) this.#now = next.due;
			next.callback();
		}
		this.#now = target;
	}
}
