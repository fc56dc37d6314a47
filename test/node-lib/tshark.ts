/* tshark, when installed: its version line (tests that dissect the simulator's captures skip without it). */

import { execFileSync } from "node:child_process";

export function tsharkVersion(): string | undefined {
	try {
		return execFileSync("tshark", ["--version"], { encoding: "utf8" }).split("\n")[0];
	} catch {
		return undefined;
	}
}
