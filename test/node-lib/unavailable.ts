/*
 * Tests that need peers (libcoap, OpenSSL, tshark) or network namespaces skip with a printed reason
 * where those are missing, except in CI, where .ci/run sets CJP_REQUIRE_PEERS=1 and they fail instead.
 */

import assert from "node:assert/strict";
import type { TestContext } from "node:test";

/** Skips the test (or fails it when CJP_REQUIRE_PEERS=1) if `why` is set; returns true when the test must stop. */
export function unavailable(t: TestContext, why: string | undefined): boolean {
	if (why === undefined) return false;
	if (process.env.CJP_REQUIRE_PEERS === "1") assert.fail(`${why}; CJP_REQUIRE_PEERS=1 requires it`);
	t.skip(why);
	return true;
}
