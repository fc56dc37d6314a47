import { suite } from "../lib/harness.js";
import { deepEqual, equal, throws } from "../lib/assert.js";
import { TokenBucket } from "../../modules/util/token-bucket.js";

export default suite("token bucket", (test) => {
	test("a burst, then the rate; never more than the burst after a long pause", () => {
		const b = new TokenBucket({ ratePerSecond: 10, burst: 3 }, 0);
		deepEqual([b.take(0), b.take(0), b.take(0), b.take(0)], [true, true, true, false]);
		deepEqual([b.take(50), b.take(100), b.take(100)], [false, true, false]);
		equal(b.full(100), false);
		equal(b.full(10_000), true);
		deepEqual([b.take(10_000), b.take(10_000), b.take(10_000), b.take(10_000)], [true, true, true, false]);
	});

	test("a clock that goes backwards adds nothing; bad options are refused", () => {
		const b = new TokenBucket({ ratePerSecond: 1, burst: 1 }, 1000);
		equal(b.take(1000), true);
		equal(b.take(0), false);
		equal(b.take(1500), false, "the backward step is not counted as time");
		equal(b.take(2000), true);
		throws(() => new TokenBucket({ ratePerSecond: 0, burst: 1 }, 0), RangeError);
		throws(() => new TokenBucket({ ratePerSecond: 1, burst: 0 }, 0), RangeError);
	});
});
