/*
 * CBOR for COSE, vouchers and telemetry: cbor-x, used so that nothing compiles code at run time and
 * nothing an attacker sends can steer cbor-x off its plain paths.
 *
 * cbor-x builds object readers with `new Function` for its "records" (tags 0xE000..0xFFFF defined by
 * tags 105, 0xDFFE, 0xDFFF), and it decodes those record tags from ANY input, whatever the options
 * (decode.js createStructureReader). It also turns other tags into Dates, BigInts, Sets, RegExps,
 * typed arrays and back-references, and concatenates indefinite byte strings with Node's Buffer. So
 * every input first passes `checkWellFormed`, our own walk over the bytes, which accepts only
 * definite lengths, preferred (shortest) heads, no duplicate map keys, only false/true/null as
 * simple values (no floats: nothing here uses them, and cbor-x decodes half floats through a
 * module-level scratch array that is read-only once preloaded on a device), and only the tags the
 * caller names; only then does cbor-x decode it, with maps as
 * `Map` (no runtime property names on a device) and byte strings copied out of the input.
 * A Decoder is made per call: an Encoder instance would keep record structures between calls.
 */

// The two files the device needs (manifest.json: cbor-x/encode, cbor-x/decode); on Node both
// subpaths resolve to the package index.
import { Encoder } from "cbor-x/encode";
import * as decodeModule from "cbor-x/decode";
import type { Tag as CborTag } from "cbor-x";

// decode.js exports Tag, but the package's decode.d.ts, which a device build's type check reads
// (mcconfig maps cbor-x/decode to that file), does not declare it: take its type from the index.
const { Decoder } = decodeModule;
export const Tag = (decodeModule as unknown as { Tag: typeof CborTag }).Tag;
export type Tag = CborTag;

export class CborError extends Error {
	override name = "CborError";
}

/** RFC 8949 §3: major types. */
const MajorType = Object.freeze({ uint: 0, nint: 1, bytes: 2, text: 3, array: 4, map: 5, tag: 6, simple: 7 });
/** RFC 8949 §3.3: simple values false, true, null. */
const SIMPLE_FALSE = 20;
const SIMPLE_NULL = 22;
/** RFC 8949 §3.3: additional information 25..27 of major type 7 are half, single and double floats. */
const FLOAT_16 = 25;
const AI_1BYTE = 24;
const AI_8BYTES = 27;

/** Nesting a voucher needs is 4 (tag, array, map, array); anything deeper than this is refused. */
export const MAX_CBOR_DEPTH = 16;

export interface CborDecodeOptions {
	/** Tag numbers the input may carry (default none). */
	tags?: readonly number[];
	maxDepth?: number;
}

/** Throws CborError unless `bytes` is exactly one well-formed data item within our profile (see top). */
export function checkWellFormed(bytes: Uint8Array, options: CborDecodeOptions = {}): void {
	const tags = options.tags ?? [];
	const maxDepth = options.maxDepth ?? MAX_CBOR_DEPTH;
	let pos = 0;

	// Returns the argument of the head at `pos` and moves past it; `major` is set as a side result.
	let major = 0;
	const head = (): number => {
		if (pos >= bytes.length) throw new CborError("truncated CBOR: missing data item");
		const initial = bytes[pos++]!;
		major = initial >> 5;
		const ai = initial & 0x1f;
		if (ai < AI_1BYTE) return ai;
		if (ai > AI_8BYTES) {
			throw new CborError(ai === 31 ? "indefinite-length CBOR items are not accepted" : `reserved CBOR additional information ${ai}`);
		}
		const size = 1 << (ai - AI_1BYTE);
		if (pos + size > bytes.length) throw new CborError("truncated CBOR: head argument");
		let value = 0;
		for (let i = 0; i < size; i++) value = value * 256 + bytes[pos + i]!;
		pos += size;
		if (major === MajorType.simple) return ai;
		const shortest = ai === AI_1BYTE ? value >= 24 : value >= 2 ** (4 * size);
		if (!shortest) throw new CborError("CBOR head is not in its shortest form");
		return value;
	};

	const item = (depth: number): void => {
		if (depth > maxDepth) throw new CborError(`CBOR nested deeper than ${maxDepth}`);
		const arg = head();
		switch (major) {
			case MajorType.uint:
			case MajorType.nint:
				return;
			case MajorType.bytes:
			case MajorType.text:
				if (arg > bytes.length - pos) throw new CborError("truncated CBOR: string");
				pos += arg;
				return;
			case MajorType.array:
				// Every item takes at least one byte: a count beyond what is left is a truncation.
				if (arg > bytes.length - pos) throw new CborError("truncated CBOR: array");
				for (let i = 0; i < arg; i++) item(depth + 1);
				return;
			case MajorType.map: {
				if (arg > (bytes.length - pos) / 2) throw new CborError("truncated CBOR: map");
				const keys: string[] = [];
				for (let i = 0; i < arg; i++) {
					const start = pos;
					item(depth + 1);
					// Heads are shortest, so equal keys have equal bytes (RFC 8949 §5.6).
					let key = "";
					for (let j = start; j < pos; j++) key += String.fromCharCode(bytes[j]!);
					if (keys.includes(key)) throw new CborError("duplicate CBOR map key");
					keys.push(key);
					item(depth + 1);
				}
				return;
			}
			case MajorType.tag:
				if (!tags.includes(arg)) throw new CborError(`CBOR tag ${arg} is not accepted here`);
				item(depth + 1);
				return;
			default:
				if (arg >= SIMPLE_FALSE && arg <= SIMPLE_NULL) return;
				throw new CborError(arg >= FLOAT_16 ? "CBOR floating-point values are not accepted" : `CBOR simple value ${arg} is not accepted`);
		}
	};

	item(0);
	if (pos !== bytes.length) throw new CborError(`${bytes.length - pos} bytes after the CBOR data item`);
}

/**
 * Decodes one data item: maps become Map, byte strings fresh Uint8Arrays, text strings strings,
 * integers numbers (bigint beyond 2^53), accepted tags cbor-x `Tag` objects ({ tag, value }).
 */
export function decodeCbor(bytes: Uint8Array, options: CborDecodeOptions = {}): unknown {
	checkWellFormed(bytes, options);
	// A view of our own: cbor-x caches a DataView as a property on the array it reads.
	const view = new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength);
	try {
		return new Decoder({ useRecords: false, mapsAsObjects: false, copyBuffers: true }).decode(view);
	} catch (e) {
		throw new CborError(`malformed CBOR: ${e instanceof Error ? e.message : String(e)}`);
	}
}

/**
 * Encodes with shortest heads and definite lengths, Maps in insertion order, Uint8Array as untagged
 * byte strings, `Tag` as a tag. Callers pass only Map, Array, Uint8Array, string, safe integers,
 * booleans, null and Tag; the result is a fresh array of its own.
 */
export function encodeCbor(value: unknown): Uint8Array {
	const encoder = new Encoder({
		useRecords: false,
		mapsAsObjects: false,
		tagUint8Array: false,
		pack: false,
		structuredClone: false,
		bundleStrings: false,
		variableMapSize: true,
	});
	// cbor-x returns a view into a shared 8 KiB buffer (a Node Buffer on Node).
	return new Uint8Array(encoder.encode(value));
}
