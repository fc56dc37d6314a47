/*
 * IEEE 802.15.4 MAC frames (IEEE Std 802.15.4-2006 §7.2): data frames with PAN ID compression and
 * 64-bit (extended) or 16-bit (short) addresses, and acknowledgement frames, with the 16-bit FCS.
 * Addresses are given most significant byte first (as EUI-64s are written) and sent least
 * significant byte first, as the standard transmits every multi-octet field.
 */

/** aMaxPHYPacketSize (§6.4.1): the largest PSDU, MAC header and FCS included. */
export const MAX_FRAME_BYTES = 127;
/** Preamble (4) + SFD (1) + PHR (1) of the 2.4 GHz O-QPSK PHY (§6.3.1). */
export const PHY_HEADER_BYTES = 6;
/** 250 kbit/s: 32 µs per octet (§6.5.3.2, 62.5 ksymbol/s, 2 symbols per octet). */
export const MICROSECONDS_PER_BYTE = 32;
export const FCS_BYTES = 2;
/** The broadcast short address (§7.2.1.1.6 / §7.5.6.2). */
export const BROADCAST_SHORT = 0xffff;

const FRAME_TYPE_DATA = 1;
const FRAME_TYPE_ACK = 2;
const ADDR_NONE = 0;
const ADDR_SHORT = 2;
const ADDR_EXTENDED = 3;

export class FrameError extends Error {
	override name = "FrameError";
}

export interface DataFrame {
	kind: "data";
	seq: number;
	ackRequest: boolean;
	panId: number;
	/** 8 bytes (extended) or 2 bytes (short, 0xffff broadcast), most significant byte first. */
	dst: Uint8Array;
	/** 8 bytes (extended) or 2 bytes (short). */
	src: Uint8Array;
	payload: Uint8Array;
}

export interface AckFrame {
	kind: "ack";
	seq: number;
}

export type MacFrame = DataFrame | AckFrame;

/** Airtime of a PSDU of `bytes` octets, PHY header included. */
export function airtimeUs(bytes: number): number {
	return (PHY_HEADER_BYTES + bytes) * MICROSECONDS_PER_BYTE;
}

/** MAC header bytes of a data frame with PAN ID compression. */
export function dataHeaderBytes(dstLength: number, srcLength: number): number {
	return 2 + 1 + 2 + dstLength + srcLength;
}

/** Largest payload of a data frame with these address lengths. */
export function maxPayload(dstLength: number, srcLength: number): number {
	return MAX_FRAME_BYTES - dataHeaderBytes(dstLength, srcLength) - FCS_BYTES;
}

function addrMode(a: Uint8Array): number {
	if (a.length === 8) return ADDR_EXTENDED;
	if (a.length === 2) return ADDR_SHORT;
	throw new FrameError(`an 802.15.4 address is 2 or 8 bytes, not ${a.length}`);
}

/** CRC-16/ITU-T as the FCS (§7.2.1.9): x^16 + x^12 + x^5 + 1, reflected, initial value 0. */
export function fcs16(bytes: Uint8Array, start = 0, end = bytes.length): number {
	let crc = 0;
	for (let i = start; i < end; i++) {
		crc ^= bytes[i]!;
		for (let k = 0; k < 8; k++) crc = crc & 1 ? (crc >>> 1) ^ 0x8408 : crc >>> 1;
	}
	return crc;
}

export function encodeFrame(f: MacFrame): Uint8Array {
	if (f.kind === "ack") {
		const out = new Uint8Array(5);
		out[0] = FRAME_TYPE_ACK;
		out[2] = f.seq & 0xff;
		return withFcs(out);
	}
	const dm = addrMode(f.dst);
	const sm = addrMode(f.src);
	const header = dataHeaderBytes(f.dst.length, f.src.length);
	const length = header + f.payload.length + FCS_BYTES;
	if (length > MAX_FRAME_BYTES) throw new FrameError(`frame of ${length} bytes exceeds ${MAX_FRAME_BYTES}`);
	const out = new Uint8Array(length);
	// Frame control: data, no security, no frame pending, AR, PAN ID compression, 2003 frame version.
	const fcf = FRAME_TYPE_DATA | (f.ackRequest ? 1 << 5 : 0) | (1 << 6) | (dm << 10) | (sm << 14);
	out[0] = fcf & 0xff;
	out[1] = fcf >> 8;
	out[2] = f.seq & 0xff;
	out[3] = f.panId & 0xff;
	out[4] = (f.panId >> 8) & 0xff;
	let p = 5;
	for (let i = f.dst.length - 1; i >= 0; i--) out[p++] = f.dst[i]!;
	for (let i = f.src.length - 1; i >= 0; i--) out[p++] = f.src[i]!;
	out.set(f.payload, p);
	return withFcs(out);
}

function withFcs(out: Uint8Array): Uint8Array {
	const crc = fcs16(out, 0, out.length - 2);
	out[out.length - 2] = crc & 0xff;
	out[out.length - 1] = crc >> 8;
	return out;
}

/** Decodes a PSDU with its FCS; throws FrameError for a bad FCS or a frame this model does not send. */
export function decodeFrame(bytes: Uint8Array): MacFrame {
	if (bytes.length < 5 || bytes.length > MAX_FRAME_BYTES) throw new FrameError(`frame length ${bytes.length}`);
	const crc = bytes[bytes.length - 2]! | (bytes[bytes.length - 1]! << 8);
	if (crc !== fcs16(bytes, 0, bytes.length - 2)) throw new FrameError("bad FCS");
	const fcf = bytes[0]! | (bytes[1]! << 8);
	const type = fcf & 7;
	if (type === FRAME_TYPE_ACK) {
		if (bytes.length !== 5) throw new FrameError("acknowledgement frame length");
		return { kind: "ack", seq: bytes[2]! };
	}
	if (type !== FRAME_TYPE_DATA) throw new FrameError(`frame type ${type}`);
	if (fcf & (1 << 3)) throw new FrameError("secured frames are not modelled");
	const dm = (fcf >> 10) & 3;
	const sm = (fcf >> 14) & 3;
	if (dm === ADDR_NONE || sm === ADDR_NONE || dm === 1 || sm === 1 || !(fcf & (1 << 6))) throw new FrameError("only PAN-ID-compressed frames with both addresses");
	const dl = dm === ADDR_EXTENDED ? 8 : 2;
	const sl = sm === ADDR_EXTENDED ? 8 : 2;
	const header = dataHeaderBytes(dl, sl);
	if (bytes.length < header + FCS_BYTES) throw new FrameError("truncated header");
	const dst = new Uint8Array(dl);
	const src = new Uint8Array(sl);
	let p = 5;
	for (let i = dl - 1; i >= 0; i--) dst[i] = bytes[p++]!;
	for (let i = sl - 1; i >= 0; i--) src[i] = bytes[p++]!;
	return {
		kind: "data",
		seq: bytes[2]!,
		ackRequest: (fcf & (1 << 5)) !== 0,
		panId: bytes[3]! | (bytes[4]! << 8),
		dst,
		src,
		payload: bytes.slice(header, bytes.length - FCS_BYTES),
	};
}
