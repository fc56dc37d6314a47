/* tshark, when installed: its version line (tests that dissect the simulator's captures skip without it), and a check for malformed packets. */

import { execFileSync } from "node:child_process";

export function tsharkVersion(): string | undefined {
	try {
		return execFileSync("tshark", ["--version"], { encoding: "utf8" }).split("\n")[0];
	} catch {
		return undefined;
	}
}

/** Wireshark's expert-info error severity and Malformed group (epan/proto.h: PI_ERROR, PI_MALFORMED). */
const EXPERT_ERROR = 0x00800000;
const EXPERT_MALFORMED = 0x07000000;

/**
 * The frames of a capture that tshark finds malformed, or flags with an expert info of the Malformed
 * group or of error severity, one "frame protocol info" line each (none for a clean capture). Warnings
 * are left out: an IDevID's MASA URL extension (RFC 8995 §2.3.2) is "Warning/Undecoded" to tshark.
 * UDP `dtlsPorts` are decoded as DTLS, `plainPorts` as bare data (e.g. JPY, which tshark does not know).
 */
export function tsharkProblems(file: string, dtlsPorts: number[], plainPorts: number[] = []): string[] {
	const decodeAs = [...dtlsPorts.map((p) => `udp.port==${p},dtls`), ...plainPorts.map((p) => `udp.port==${p},data`)].flatMap((d) => ["-d", d]);
	const filter = `_ws.malformed || _ws.expert.group == ${EXPERT_MALFORMED} || _ws.expert.severity >= ${EXPERT_ERROR}`;
	const text = execFileSync("tshark", ["-r", file, ...decodeAs, "-Y", filter, "-T", "fields", "-E", "separator= ", "-e", "frame.number", "-e", "_ws.col.Protocol", "-e", "_ws.col.Info"], {
		encoding: "utf8",
		stdio: ["ignore", "pipe", "ignore"],
		timeout: 30_000,
	});
	return text.split("\n").filter((l) => l.trim() !== "");
}
