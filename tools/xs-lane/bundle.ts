/* Bundles an XS entry point into one es2020 script (xsnap evaluates scripts, not modules). */

import { build } from "esbuild";
import { readVectors } from "../../test/node-lib/vectors.js";

export async function buildXsBundle(entry: string, options: { fixtures?: boolean } = {}): Promise<string> {
	const result = await build({
		entryPoints: [entry],
		bundle: true,
		write: false,
		format: "iife",
		target: "es2020",
		platform: "neutral",
		mainFields: ["module", "main"],
		define: { __FIXTURES__: options.fixtures === false ? "{}" : JSON.stringify(readVectors()) },
		logLevel: "silent",
	});
	return result.outputFiles[0]!.text;
}
