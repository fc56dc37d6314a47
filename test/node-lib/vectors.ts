/* Reads every file under test/vectors as text, keyed by its path below that folder (Node only). */

import { readdirSync, readFileSync } from "node:fs";
import { join, relative } from "node:path";
import { fileURLToPath } from "node:url";

export const VECTORS_DIR = fileURLToPath(new URL("../vectors", import.meta.url));

export function readVectors(): Record<string, string> {
	const out: Record<string, string> = {};
	const walk = (dir: string): void => {
		for (const e of readdirSync(dir, { withFileTypes: true })) {
			const p = join(dir, e.name);
			if (e.isDirectory()) walk(p);
			else out[relative(VECTORS_DIR, p).split("\\").join("/")] = readFileSync(p, "utf8");
		}
	};
	walk(VECTORS_DIR);
	return out;
}
