/*
 * The YANG-CBOR (RFC 9254) shape shared by vouchers and voucher requests: a map with one entry,
 * the container (absolute SID or module-qualified name), holding a map of leaves keyed by SID delta
 * (RFC 9254 §3.2), by bare name, or by absolute SID under tag 47 (RFC 9254 §3.3). Keys may be mixed
 * (cBRSKI: application/voucher+cose has no id= parameter). Unknown leaves are skipped (RFC 8995
 * §5.6.1: a pledge ignores what it does not recognise). Encoding writes SID deltas in SID order,
 * as the drafts' examples do.
 */

import { CborError, Tag, decodeCbor, encodeCbor } from "../cbor/cbor.js";

export class VoucherError extends Error {
	override name = "VoucherError";
}

/** RFC 9254 §3.3: tag of an absolute SID used as a key inside a delta-encoded container. */
export const SID_TAG = 47;

export type LeafType = "enum" | "date-and-time" | "boolean" | "binary" | "string" | "extensions";

export interface Leaf {
	/** Property of the typed object, e.g. "serialNumber". */
	property: string;
	/** YANG leaf name, e.g. "serial-number". */
	name: string;
	sid: number;
	type: LeafType;
	/** Byte-length bounds of a binary leaf. */
	minBytes?: number;
	maxBytes?: number;
}

export interface Container {
	sid: number;
	/** Module-qualified name of the container, e.g. "ietf-voucher:voucher". */
	name: string;
	/** Ordered by SID. */
	leaves: readonly Leaf[];
}

/** RFC 9254 §6.6: enumerations are integers; 8366bis `assertion` has 0..3. */
const MAX_ASSERTION = 3;
/** RFC 3339 date-time (yang:date-and-time), the shape only; callers parse it when they have a clock. */
const DATE_AND_TIME = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$/;

function fail(message: string): never {
	throw new VoucherError(message);
}

function checkLeaf(leaf: Leaf, value: unknown): unknown {
	const where = `${leaf.name} (SID ${leaf.sid})`;
	switch (leaf.type) {
		case "enum":
			if (typeof value !== "number" || !Number.isInteger(value) || value < 0 || value > MAX_ASSERTION) fail(`${where} must be an enumeration value 0..${MAX_ASSERTION}`);
			return value;
		case "boolean":
			if (typeof value !== "boolean") fail(`${where} must be a boolean`);
			return value;
		case "string":
			if (typeof value !== "string") fail(`${where} must be a text string`);
			return value;
		case "date-and-time":
			if (typeof value !== "string" || !DATE_AND_TIME.test(value)) fail(`${where} must be an RFC 3339 date-and-time`);
			return value;
		case "binary":
			if (!(value instanceof Uint8Array)) fail(`${where} must be a byte string`);
			if ((leaf.minBytes !== undefined && value.length < leaf.minBytes) || (leaf.maxBytes !== undefined && value.length > leaf.maxBytes)) {
				fail(`${where} must be ${leaf.minBytes === leaf.maxBytes ? leaf.minBytes : `${leaf.minBytes ?? 0}..${leaf.maxBytes}`} bytes, not ${value.length}`);
			}
			return value;
		case "extensions":
			if (!Array.isArray(value) || !value.every((x) => typeof x === "string" || (typeof x === "number" && Number.isInteger(x) && x >= 0))) {
				fail(`${where} must be an array of SIDs and names`);
			}
			return [...(value as (number | string)[])];
	}
}

function leafFor(container: Container, key: unknown): Leaf | undefined {
	if (typeof key === "number") return container.leaves.find((l) => l.sid === container.sid + key);
	if (typeof key === "string") return container.leaves.find((l) => l.name === key);
	if (key instanceof Tag && key.tag === SID_TAG && typeof key.value === "number") return container.leaves.find((l) => l.sid === key.value);
	return undefined;
}

/** Typed object (properties named by `Leaf.property`) from the container's CBOR. Throws VoucherError. */
export function decodeContainer(container: Container, bytes: Uint8Array): Record<string, unknown> {
	let top: unknown;
	try {
		top = decodeCbor(bytes, { tags: [SID_TAG] });
	} catch (e) {
		if (e instanceof CborError) fail(`${container.name}: ${e.message}`);
		throw e;
	}
	if (!(top instanceof Map) || top.size !== 1) fail(`${container.name} must be a map with exactly one entry`);
	const [key, inner] = [...top.entries()][0]!;
	if (key !== container.sid && key !== container.name) fail(`expected ${container.name} (SID ${container.sid}), found key ${key instanceof Tag ? `tag ${key.tag}` : String(key)}`);
	if (!(inner instanceof Map)) fail(`${container.name} content must be a map`);
	const out: Record<string, unknown> = {};
	for (const [k, v] of inner) {
		const leaf = leafFor(container, k);
		if (leaf === undefined) continue;
		if (leaf.property in out) fail(`${container.name}: ${leaf.name} appears twice`);
		out[leaf.property] = checkLeaf(leaf, v);
	}
	return out;
}

/** The container's CBOR from a typed object; undefined properties are left out. Throws VoucherError. */
export function encodeContainer(container: Container, value: Readonly<Record<string, unknown>>): Uint8Array {
	const inner = new Map<number, unknown>();
	for (const leaf of container.leaves) {
		const v = value[leaf.property];
		if (v !== undefined) inner.set(leaf.sid - container.sid, checkLeaf(leaf, v));
	}
	return encodeCbor(new Map([[container.sid, inner]]));
}
