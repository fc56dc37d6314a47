/*
 * Test vectors for suites that run in both lanes. XS has no file system, so each lane installs the
 * files of test/vectors once (Node reads them, the XS lane embeds them in the bundle) and suites
 * read them by name here.
 */

import { fromHex } from "../../modules/util/hex.js";

const files = new Map<string, string>();

export function installFixtures(contents: Record<string, string>): void {
	for (const [name, text] of Object.entries(contents)) files.set(name, text);
}

/** Text of a file under test/vectors, e.g. "cbrski/coap-2.04-ack-response.derived.hex". */
export function fixture(name: string): string {
	const text = files.get(name);
	if (text === undefined) throw new Error(`fixture ${name} is not installed`);
	return text;
}

export function fixtureHex(name: string): Uint8Array {
	return fromHex(fixture(name));
}
