/*
 * The bridge's frames between XS and Node, both ways: a 2-byte big-endian length, that many bytes of
 * JSON (what happened or what to do), then the binary payload (a datagram, random bytes) as is.
 * Runs on both sides, so ES2022 only.
 */

import { utf8Decode, utf8Encode } from "../../modules/util/utf8.js";

export interface Frame<T> {
	head: T;
	payload: Uint8Array;
}

export function encodeFrame(head: object, payload: Uint8Array = new Uint8Array(0)): Uint8Array {
	const json = utf8Encode(JSON.stringify(head));
	if (json.length > 0xffff) throw new RangeError("bridge frame head over 65535 bytes");
	const out = new Uint8Array(2 + json.length + payload.length);
	out[0] = json.length >> 8;
	out[1] = json.length & 0xff;
	out.set(json, 2);
	out.set(payload, 2 + json.length);
	return out;
}

export function decodeFrame<T>(bytes: Uint8Array): Frame<T> {
	if (bytes.length < 2) throw new RangeError("bridge frame shorter than its length field");
	const n = (bytes[0]! << 8) | bytes[1]!;
	if (bytes.length < 2 + n) throw new RangeError("bridge frame shorter than its head");
	return { head: JSON.parse(utf8Decode(bytes, 2, 2 + n)) as T, payload: bytes.subarray(2 + n) };
}
