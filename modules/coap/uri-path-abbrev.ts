/*
 * The Uri-Path-Abbrev option (draft-ietf-core-uri-path-abbrev §2, provisional option number 13):
 * one small integer instead of a well-known path, so a pledge's request fits one radio frame. The
 * option is critical and excludes Uri-Path; a value the server does not know, or both options
 * together, is a 4.02 Bad Option, never 4.04 (cBRSKI requires the Registrar to support it).
 */

import { Opt } from "./constants.js";
import { readUint, stringOptions, type CoapOption } from "./message.js";

/** draft-ietf-core-uri-path-abbrev §5 registry, as cBRSKI (§6.5) and EST-coaps use it. */
const ABBREVIATIONS: ReadonlyMap<number, readonly string[]> = new Map(
	(
		[
			[0, [".well-known", "core"]],
			[301, [".well-known", "est", "crts"]],
			[302, [".well-known", "est", "sen"]],
			[303, [".well-known", "est", "sren"]],
			[304, [".well-known", "est", "skg"]],
			[305, [".well-known", "est", "skc"]],
			[306, [".well-known", "est", "att"]],
			[401, [".well-known", "brski", "es"]],
			[402, [".well-known", "brski", "rv"]],
			[403, [".well-known", "brski", "vs"]],
		] as const
	).map(([k, v]) => [k, Object.freeze([...v])] as const),
);

/** Most bytes of the option's uint value (draft §2: 0-4). */
const MAX_VALUE_BYTES = 4;

/**
 * The request path from Uri-Path or Uri-Path-Abbrev: the segments, or a reason for 4.02 when the
 * abbreviation is unknown, repeated, too long or combined with Uri-Path.
 */
export function requestPath(msg: { options: CoapOption[] }): { path: string[] } | { badOption: string } {
	const path = stringOptions(msg, Opt.UriPath);
	const abbrevs = msg.options.filter((o) => o.number === Opt.UriPathAbbrev);
	if (abbrevs.length === 0) return { path };
	if (abbrevs.length > 1) return { badOption: "Uri-Path-Abbrev repeated" };
	if (path.length > 0) return { badOption: "Uri-Path-Abbrev together with Uri-Path" };
	const raw = abbrevs[0]!.value;
	if (raw.length > MAX_VALUE_BYTES) return { badOption: "Uri-Path-Abbrev longer than 4 bytes" };
	const value = readUint(raw);
	const expanded = ABBREVIATIONS.get(value);
	return expanded === undefined ? { badOption: `unknown Uri-Path-Abbrev ${value}` } : { path: [...expanded] };
}
