/* Node lane of the host-independent suites; tools/xs-lane runs the very same suites inside XS. */

import { describe, it } from "node:test";
import { installFixtures } from "./lib/fixtures.js";
import { readVectors } from "./node-lib/vectors.js";
import { suites } from "./suites/index.js";

installFixtures(readVectors());

for (const s of suites) {
	describe(s.name, () => {
		for (const t of s.tests) it(t.name, t.body);
	});
}
