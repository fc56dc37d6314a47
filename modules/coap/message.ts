/* CoAP message model and its RFC 7252 §3 binary codec. */

import { CoapParseError } from "./errors.js";
import { utf8Decode, utf8Encode } from "../util/utf8.js";

export interface CoapOption {
	number: number;
	value: Uint8Array;
}

export interface CoapMessage {
	type: number;
	code: number;
	messageId: number;
	token: Uint8Array;
	/** Kept sorted by number (stable for repeated options); encode() sorts a copy if not. */
	options: CoapOption[];
	payload: Uint8Array;
}

const VERSION = 1;
const PAYLOAD_MARKER = 0xff;
const MAX_TOKEN_LENGTH = 8;
const MAX_OPTION_NUMBER = 0xffff;
/** The empty payload, shared: a zero-length array has nothing to write into. */
export const EMPTY_BYTES = new Uint8Array(0);

/** Nibble encoding of option delta/length (RFC 7252 §3.1). */
const EXT8 = 13;
const EXT16 = 14;
const EXT8_BASE = 13;
const EXT16_BASE = 269;

const extSize = (v: number): number => (v < EXT8_BASE ? 0 : v < EXT16_BASE ? 1 : 2);
const nibble = (v: number): number => (v < EXT8_BASE ? v : v < EXT16_BASE ? EXT8 : EXT16);

function sortedOptions(options: CoapOption[]): CoapOption[] {
	for (let i = 1; i < options.length; i++) {
		if (options[i]!.number < options[i - 1]!.number) {
			// Array.prototype.sort is stable (ES2019), so repeated options keep their order.
			return options.slice().sort((a, b) => a.number - b.number);
		}
	}
	return options;
}

/** Number of bytes encode() will produce. */
export function encodedLength(msg: CoapMessage): number {
	let n = 4 + msg.token.length;
	let prev = 0;
	for (const o of sortedOptions(msg.options)) {
		const delta = o.number - prev;
		n += 1 + extSize(delta) + extSize(o.value.length) + o.value.length;
		prev = o.number;
	}
	if (msg.payload.length > 0) n += 1 + msg.payload.length;
	return n;
}

function checkEncodable(msg: CoapMessage): void {
	if (msg.token.length > MAX_TOKEN_LENGTH) throw new RangeError("CoAP token longer than 8 bytes");
	if (!(msg.type >= 0 && msg.type <= 3)) throw new RangeError("CoAP type out of range");
	if (!(msg.code >= 0 && msg.code <= 255)) throw new RangeError("CoAP code out of range");
	if (!(msg.messageId >= 0 && msg.messageId <= 0xffff)) throw new RangeError("CoAP message ID out of range");
	for (const o of msg.options) {
		if (!(o.number >= 0 && o.number <= MAX_OPTION_NUMBER)) throw new RangeError("CoAP option number out of range");
		if (o.value.length > 0xffff + EXT16_BASE) throw new RangeError("CoAP option value too long");
	}
}

/** Encodes into `out` at `offset` (room: encodedLength); returns the end offset. */
export function encodeInto(msg: CoapMessage, out: Uint8Array, offset = 0): number {
	checkEncodable(msg);
	let o = offset;
	out[o++] = (VERSION << 6) | (msg.type << 4) | msg.token.length;
	out[o++] = msg.code;
	out[o++] = msg.messageId >> 8;
	out[o++] = msg.messageId & 0xff;
	out.set(msg.token, o);
	o += msg.token.length;
	let prev = 0;
	for (const opt of sortedOptions(msg.options)) {
		const delta = opt.number - prev;
		const len = opt.value.length;
		out[o++] = (nibble(delta) << 4) | nibble(len);
		o = writeExt(out, o, delta);
		o = writeExt(out, o, len);
		out.set(opt.value, o);
		o += len;
		prev = opt.number;
	}
	if (msg.payload.length > 0) {
		out[o++] = PAYLOAD_MARKER;
		out.set(msg.payload, o);
		o += msg.payload.length;
	}
	return o;
}

function writeExt(out: Uint8Array, o: number, v: number): number {
	if (v >= EXT16_BASE) {
		const e = v - EXT16_BASE;
		out[o++] = e >> 8;
		out[o++] = e & 0xff;
	} else if (v >= EXT8_BASE) {
		out[o++] = v - EXT8_BASE;
	}
	return o;
}

export function encode(msg: CoapMessage): Uint8Array {
	const out = new Uint8Array(encodedLength(msg));
	encodeInto(msg, out, 0);
	return out;
}

/**
 * Decodes one message. Token, option values and payload are views into `data`: copy `data` first if
 * it lives in a reused receive buffer. Every malformation throws CoapParseError and nothing else.
 */
export function decode(data: Uint8Array): CoapMessage {
	if (data.length < 4) throw new CoapParseError("message shorter than the 4-byte header");
	const b0 = data[0]!;
	if (b0 >> 6 !== VERSION) throw new CoapParseError(`unknown CoAP version ${b0 >> 6}`);
	const type = (b0 >> 4) & 3;
	const tkl = b0 & 15;
	const msgCode = data[1]!;
	const messageId = (data[2]! << 8) | data[3]!;
	if (tkl > MAX_TOKEN_LENGTH) throw new CoapParseError(`reserved token length ${tkl}`);
	if (msgCode === 0 && (tkl !== 0 || data.length !== 4)) {
		// RFC 7252 §4.1: an Empty message has no token and nothing after the Message ID.
		throw new CoapParseError("empty message with token, options or payload");
	}
	let o = 4;
	if (o + tkl > data.length) throw new CoapParseError("token runs past the end of the message");
	const token = data.subarray(o, o + tkl);
	o += tkl;
	const options: CoapOption[] = [];
	let number = 0;
	let payload: Uint8Array = EMPTY_BYTES;
	while (o < data.length) {
		const b = data[o++]!;
		if (b === PAYLOAD_MARKER) {
			if (o === data.length) throw new CoapParseError("payload marker followed by an empty payload");
			payload = data.subarray(o);
			break;
		}
		const dn = b >> 4;
		const ln = b & 15;
		if (dn === 15 || ln === 15) throw new CoapParseError("reserved option nibble 15");
		let delta = dn;
		if (dn === EXT8) {
			if (o + 1 > data.length) throw new CoapParseError("truncated option delta");
			delta = data[o++]! + EXT8_BASE;
		} else if (dn === EXT16) {
			if (o + 2 > data.length) throw new CoapParseError("truncated option delta");
			delta = ((data[o]! << 8) | data[o + 1]!) + EXT16_BASE;
			o += 2;
		}
		let len = ln;
		if (ln === EXT8) {
			if (o + 1 > data.length) throw new CoapParseError("truncated option length");
			len = data[o++]! + EXT8_BASE;
		} else if (ln === EXT16) {
			if (o + 2 > data.length) throw new CoapParseError("truncated option length");
			len = ((data[o]! << 8) | data[o + 1]!) + EXT16_BASE;
			o += 2;
		}
		number += delta;
		if (number > MAX_OPTION_NUMBER) throw new CoapParseError("option number above 65535");
		if (o + len > data.length) throw new CoapParseError("option value runs past the end of the message");
		options.push({ number, value: data.subarray(o, o + len) });
		o += len;
	}
	return { type, code: msgCode, messageId, token, options, payload };
}

/* Option value formats (RFC 7252 §3.2). */

/** Minimal big-endian unsigned integer (zero is the empty string). */
export function uintOption(value: number): Uint8Array {
	if (!(value >= 0 && value <= 0xffffffff) || !Number.isInteger(value)) throw new RangeError("uint option out of range");
	const n = value === 0 ? 0 : value < 0x100 ? 1 : value < 0x10000 ? 2 : value < 0x1000000 ? 3 : 4;
	const out = new Uint8Array(n);
	for (let i = n - 1, v = value; i >= 0; i--, v = Math.floor(v / 256)) out[i] = v & 0xff;
	return out;
}

export function readUint(value: Uint8Array): number {
	let v = 0;
	for (let i = 0; i < value.length; i++) v = v * 256 + value[i]!;
	return v;
}

export function option(number: number, value: Uint8Array | string | number): CoapOption {
	return {
		number,
		value: typeof value === "string" ? utf8Encode(value) : typeof value === "number" ? uintOption(value) : value,
	};
}

export function findOption(msg: { options: CoapOption[] }, number: number): CoapOption | undefined {
	for (const o of msg.options) if (o.number === number) return o;
	return undefined;
}

export function uintOptionValue(msg: { options: CoapOption[] }, number: number): number | undefined {
	const o = findOption(msg, number);
	return o === undefined ? undefined : readUint(o.value);
}

export function stringOptions(msg: { options: CoapOption[] }, number: number): string[] {
	const out: string[] = [];
	for (const o of msg.options) if (o.number === number) out.push(utf8Decode(o.value));
	return out;
}

/** Replaces every occurrence of option `number` (none when value is undefined); keeps options sorted. */
export function setOption(options: CoapOption[], number: number, value?: Uint8Array | string | number): void {
	for (let i = options.length - 1; i >= 0; i--) if (options[i]!.number === number) options.splice(i, 1);
	if (value === undefined) return;
	let i = 0;
	while (i < options.length && options[i]!.number <= number) i++;
	options.splice(i, 0, option(number, value));
}
