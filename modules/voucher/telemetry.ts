/*
 * Status telemetry (RFC 8995 §5.7 voucher status, §5.9.4 enrollment status; cBRSKI App. B): the
 * same CBOR map (Content-Format 60) for POST /vs and /es, with text keys:
 * {"version": uint, "status": bool, ?"reason": tstr, ?"reason-context": {* any => any}}.
 */

import { CborError, decodeCbor, encodeCbor } from "../cbor/cbor.js";
import { VoucherError } from "./yang-cbor.js";

/** RFC 8995 §5.7: the version this code writes. */
export const STATUS_TELEMETRY_VERSION = 1;

const KEY_VERSION = "version";
const KEY_STATUS = "status";
const KEY_REASON = "reason";
const KEY_REASON_CONTEXT = "reason-context";

export interface StatusTelemetry {
	version: number;
	/** true: voucher accepted / enrollment succeeded. */
	status: boolean;
	/** Human-readable; SHOULD be present when status is false. */
	reason?: string;
	/** Free-form (decoded CBOR map). */
	reasonContext?: Map<unknown, unknown>;
}

function fail(message: string): never {
	throw new VoucherError(`status telemetry: ${message}`);
}

export function encodeStatusTelemetry(t: StatusTelemetry): Uint8Array {
	if (!Number.isInteger(t.version) || t.version < 0) fail("version must be an unsigned integer");
	const map = new Map<string, unknown>([
		[KEY_VERSION, t.version],
		[KEY_STATUS, t.status],
	]);
	if (t.reason !== undefined) map.set(KEY_REASON, t.reason);
	if (t.reasonContext !== undefined) map.set(KEY_REASON_CONTEXT, t.reasonContext);
	return encodeCbor(map);
}

/** Throws VoucherError for anything but the map above; unknown keys are ignored. */
export function decodeStatusTelemetry(bytes: Uint8Array): StatusTelemetry {
	let value: unknown;
	try {
		value = decodeCbor(bytes);
	} catch (e) {
		if (e instanceof CborError) fail(e.message);
		throw e;
	}
	if (!(value instanceof Map)) fail("not a map");
	const version = value.get(KEY_VERSION);
	const status = value.get(KEY_STATUS);
	const reason = value.get(KEY_REASON);
	const reasonContext = value.get(KEY_REASON_CONTEXT);
	if (typeof version !== "number" || !Number.isInteger(version) || version < 0) fail("version must be an unsigned integer");
	if (typeof status !== "boolean") fail("status must be a boolean");
	const out: StatusTelemetry = { version, status };
	if (reason !== undefined) {
		if (typeof reason !== "string") fail("reason must be a text string");
		out.reason = reason;
	}
	if (reasonContext !== undefined) {
		if (!(reasonContext instanceof Map)) fail("reason-context must be a map");
		out.reasonContext = reasonContext;
	}
	return out;
}
