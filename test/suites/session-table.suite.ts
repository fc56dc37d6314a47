import { suite } from "../lib/harness.js";
import { deepEqual, equal, throws } from "../lib/assert.js";
import { ManualClock } from "../../hosts/xs/manual-clock.js";
import { SessionTable, type SessionEnd } from "../../modules/util/session-table.js";

function table(max: number, idleMs: number, evictFirst?: (v: number) => boolean) {
	const clock = new ManualClock();
	const ended: [string, SessionEnd][] = [];
	const t = new SessionTable<string, number>({ clock, maxSessions: max, idleTimeoutMs: idleMs, onEnd: (k, _v, why) => ended.push([k, why]), ...(evictFirst ? { evictFirst } : {}) });
	return { clock, t, ended };
}

export default suite("session table", (test) => {
	test("full: the least recently active session makes room", () => {
		const { clock, t, ended } = table(2, 60_000);
		t.set("a", 1);
		clock.advance(10);
		t.set("b", 2);
		clock.advance(10);
		t.touch("a");
		t.set("c", 3);
		deepEqual(ended, [["b", "evicted"]]);
		deepEqual([t.get("a"), t.get("b"), t.get("c"), t.size], [1, undefined, 3, 2]);
		t.set("a", 4); // replacing an existing key evicts nothing
		deepEqual([ended.length, t.get("a")], [1, 4]);
	});

	test("full with evictFirst: the least recent of the preferred sessions goes before older others", () => {
		const { clock, t, ended } = table(3, 60_000, (v) => v < 0); // negative: never answered
		t.set("old", 1);
		clock.advance(10);
		t.set("x", -1);
		clock.advance(10);
		t.set("y", -2);
		clock.advance(10);
		t.touch("x");
		t.set("z", -3);
		deepEqual(ended, [["y", "evicted"]]);
		t.set("w", 4);
		t.set("v", 5);
		deepEqual(ended, [["y", "evicted"], ["x", "evicted"], ["z", "evicted"]]);
		t.set("u", 6); // none preferred left: plain least recent
		deepEqual(ended[3], ["old", "evicted"]);
	});

	test("idle sessions end on the sweep; touched ones stay", () => {
		const { clock, t, ended } = table(10, 1_000);
		t.set("a", 1);
		t.set("b", 2);
		clock.advance(600);
		t.touch("b");
		clock.advance(600);
		deepEqual(ended, [["a", "idle"]]);
		clock.advance(1_000);
		deepEqual(ended, [["a", "idle"], ["b", "idle"]]);
		equal(t.size, 0);
	});

	test("delete ends silently; close ends the rest once and stops the sweeper", () => {
		const { clock, t, ended } = table(10, 1_000);
		t.set("a", 1);
		t.set("b", 2);
		equal(t.delete("a"), true);
		t.close();
		t.close();
		deepEqual(ended, [["b", "closed"]]);
		clock.advance(10_000);
		equal(ended.length, 1);
		throws(() => t.set("c", 3), Error);
	});

	test("bad limits are refused", () => {
		throws(() => table(0, 1_000), RangeError);
		throws(() => table(1, 0), RangeError);
	});
});
