/*
 * 6LoWPAN IPv6 header compression (RFC 6282 §3) and UDP next-header compression (RFC 6282 §4.3),
 * for IEEE 802.15.4 links. Link-local addresses and addresses under a shared context (a /64 prefix,
 * RFC 6282 §3.1.1 CID) compress down to nothing when the interface identifier is the one derived
 * from the link-layer address (RFC 4944 §6, RFC 6282 §3.2.2). The encoder keeps the UDP checksum
 * inline; the decoder also accepts an elided one (C = 1) and tells the caller to recompute it.
 */

import { IPV6_HEADER_BYTES, NEXT_HEADER_UDP, UDP_HEADER_BYTES } from "./ipv6-packet.js";

/** RFC 6282 §3.1: the IPHC dispatch is 011xxxxx. */
export const IPHC_DISPATCH = 0x60;
export const IPHC_DISPATCH_MASK = 0xe0;
/** RFC 6282 §4.3.3: UDP NHC 11110CPP. */
const NHC_UDP = 0xf0;
const NHC_UDP_MASK = 0xf8;
/** RFC 6282 §4.3.3 port ranges compressible to 4 and 8 bits. */
const PORT_4BIT_BASE = 0xf0b0;
const PORT_8BIT_BASE = 0xf000;

export class LowpanError extends Error {
	override name = "LowpanError";
}

/** Link-layer source and destination (8-byte extended or 2-byte short, most significant byte first). */
export interface LinkAddresses {
	src: Uint8Array;
	dst: Uint8Array;
}

export interface DecompressedHeader {
	/** The uncompressed IPv6 header, plus the UDP header when it was compressed. */
	header: Uint8Array;
	/** Compressed bytes consumed from the input. */
	consumed: number;
	/** The UDP checksum was elided (RFC 6282 §4.3.2): the caller must compute it over the whole packet. */
	checksumElided: boolean;
}

/** The interface identifier derived from a link-layer address (RFC 4944 §6; RFC 6282 §3.2.2 for short addresses). */
export function iidFromLinkAddress(mac: Uint8Array, out: Uint8Array, offset: number): void {
	if (mac.length === 8) {
		out.set(mac, offset);
		out[offset] = mac[0]! ^ 0x02; // the universal/local bit is inverted (RFC 4291 Appendix A)
	} else {
		out.set([0, 0, 0, 0xff, 0xfe, 0, mac[0]!, mac[1]!], offset);
	}
}

/** The link-layer address an interface identifier was derived from, if it was (inverse of iidFromLinkAddress). */
export function linkAddressFromIid(address: Uint8Array, offset = 8): Uint8Array {
	if (address[offset] === 0 && address[offset + 1] === 0 && address[offset + 2] === 0 && address[offset + 3] === 0xff && address[offset + 4] === 0xfe && address[offset + 5] === 0) {
		return address.slice(offset + 6, offset + 8);
	}
	const mac = address.slice(offset, offset + 8);
	mac[0] = mac[0]! ^ 0x02;
	return mac;
}

function isLinkLocalPrefix(a: Uint8Array): boolean {
	return a[0] === 0xfe && a[1] === 0x80 && a[2] === 0 && a[3] === 0 && a[4] === 0 && a[5] === 0 && a[6] === 0 && a[7] === 0;
}

function zeros(a: Uint8Array, from: number, to: number): boolean {
	for (let i = from; i < to; i++) if (a[i] !== 0) return false;
	return true;
}

function prefixEqual(a: Uint8Array, prefix: Uint8Array): boolean {
	for (let i = 0; i < 8; i++) if (a[i] !== prefix[i]) return false;
	return true;
}

/** Address mode for the IID of `a` (bytes 8..16): 3 derived from `mac`, 2 16-bit form, 1 inline 64 bits. */
function iidMode(a: Uint8Array, mac: Uint8Array): number {
	const derived = new Uint8Array(8);
	iidFromLinkAddress(mac, derived, 0);
	let same = true;
	for (let i = 0; i < 8; i++) if (a[8 + i] !== derived[i]) same = false;
	if (same) return 3;
	if (zeros(a, 8, 11) && a[11] === 0xff && a[12] === 0xfe && a[13] === 0) return 2;
	return 1;
}

class Writer {
	readonly bytes = new Uint8Array(IPV6_HEADER_BYTES + UDP_HEADER_BYTES + 3);
	length = 0;
	byte(b: number): void {
		this.bytes[this.length++] = b & 0xff;
	}
	copy(src: Uint8Array, from: number, to: number): void {
		for (let i = from; i < to; i++) this.bytes[this.length++] = src[i]!;
	}
}

/** Inline bytes of an IID in mode 1..3. */
function writeIid(w: Writer, a: Uint8Array, mode: number): void {
	if (mode === 1) w.copy(a, 8, 16);
	else if (mode === 2) w.copy(a, 14, 16);
}

/**
 * Compresses the IPv6 header of `packet` (and its UDP header, when UDP) for a frame between the given
 * link addresses. Returns the compressed header and how many bytes of `packet` it stands for: the
 * 6LoWPAN datagram is `header` followed by packet[consumed..].
 */
export function compressHeader(packet: Uint8Array, link: LinkAddresses, contexts: readonly Uint8Array[] = []): { header: Uint8Array; consumed: number } {
	if (packet.length < IPV6_HEADER_BYTES || packet[0]! >> 4 !== 6) throw new LowpanError("not an IPv6 packet");
	const w = new Writer();
	w.length = 2;
	const tc = ((packet[0]! & 0x0f) << 4) | (packet[1]! >> 4);
	const flow = ((packet[1]! & 0x0f) << 16) | (packet[2]! << 8) | packet[3]!;
	const ecn = tc & 3;
	const dscp = tc >> 2;
	let tf: number;
	// RFC 6282 §3.1.1: inline traffic class is ECN then DSCP.
	if (tc === 0 && flow === 0) tf = 3;
	else if (flow === 0) {
		tf = 2;
		w.byte((ecn << 6) | dscp);
	} else if (dscp === 0) {
		tf = 1;
		w.byte((ecn << 6) | (flow >> 16));
		w.byte(flow >> 8);
		w.byte(flow);
	} else {
		tf = 0;
		w.byte((ecn << 6) | dscp);
		w.byte(flow >> 16);
		w.byte(flow >> 8);
		w.byte(flow);
	}
	const nextHeader = packet[6]!;
	const udp = nextHeader === NEXT_HEADER_UDP && packet.length >= IPV6_HEADER_BYTES + UDP_HEADER_BYTES;
	if (!udp) w.byte(nextHeader);
	const hop = packet[7]!;
	const hlim = hop === 1 ? 1 : hop === 64 ? 2 : hop === 255 ? 3 : 0;
	if (hlim === 0) w.byte(hop);

	const src = packet.subarray(8, 24);
	const dst = packet.subarray(24, 40);
	let cid = 0;
	let sac = 0;
	let sam = 0;
	if (zeros(src, 0, 16)) {
		sac = 1; // the unspecified address (RFC 6282 §3.1.1, SAC=1 SAM=00)
	} else if (isLinkLocalPrefix(src)) {
		sam = iidMode(src, link.src);
		writeIid(w, src, sam);
	} else {
		const ci = contexts.findIndex((p) => prefixEqual(src, p));
		if (ci >= 0) {
			sac = 1;
			cid |= ci << 4;
			sam = iidMode(src, link.src);
			writeIid(w, src, sam);
		} else w.copy(src, 0, 16);
	}
	let m = 0;
	let dac = 0;
	let dam = 0;
	if (dst[0] === 0xff) {
		m = 1;
		if (dst[1] === 0x02 && zeros(dst, 2, 15)) {
			dam = 3;
			w.byte(dst[15]!);
		} else if (zeros(dst, 2, 13)) {
			dam = 2;
			w.byte(dst[1]!);
			w.copy(dst, 13, 16);
		} else if (zeros(dst, 2, 11)) {
			dam = 1;
			w.byte(dst[1]!);
			w.copy(dst, 11, 16);
		} else w.copy(dst, 0, 16);
	} else if (isLinkLocalPrefix(dst)) {
		dam = iidMode(dst, link.dst);
		writeIid(w, dst, dam);
	} else {
		const ci = contexts.findIndex((p) => prefixEqual(dst, p));
		if (ci >= 0) {
			dac = 1;
			cid |= ci;
			dam = iidMode(dst, link.dst);
			writeIid(w, dst, dam);
		} else w.copy(dst, 0, 16);
	}
	let consumed = IPV6_HEADER_BYTES;
	if (udp) {
		const u = IPV6_HEADER_BYTES;
		const sp = (packet[u]! << 8) | packet[u + 1]!;
		const dp = (packet[u + 2]! << 8) | packet[u + 3]!;
		if ((sp & 0xfff0) === PORT_4BIT_BASE && (dp & 0xfff0) === PORT_4BIT_BASE) {
			w.byte(NHC_UDP | 3);
			w.byte(((sp & 0xf) << 4) | (dp & 0xf));
		} else if ((dp & 0xff00) === PORT_8BIT_BASE) {
			w.byte(NHC_UDP | 1);
			w.copy(packet, u, u + 2);
			w.byte(dp);
		} else if ((sp & 0xff00) === PORT_8BIT_BASE) {
			w.byte(NHC_UDP | 2);
			w.byte(sp);
			w.copy(packet, u + 2, u + 4);
		} else {
			w.byte(NHC_UDP);
			w.copy(packet, u, u + 4);
		}
		w.copy(packet, u + 6, u + 8); // checksum inline (C = 0)
		consumed += UDP_HEADER_BYTES;
	}
	const contextByte = cid !== 0;
	w.bytes[0] = IPHC_DISPATCH | (tf << 3) | (udp ? 4 : 0) | hlim;
	w.bytes[1] = (contextByte ? 0x80 : 0) | (sac << 6) | (sam << 4) | (m << 3) | (dac << 2) | dam;
	let header: Uint8Array;
	if (contextByte) {
		header = new Uint8Array(w.length + 1);
		header[0] = w.bytes[0]!;
		header[1] = w.bytes[1]!;
		header[2] = cid;
		header.set(w.bytes.subarray(2, w.length), 3);
	} else header = w.bytes.slice(0, w.length);
	return { header, consumed };
}

class Reader {
	readonly #d: Uint8Array;
	p: number;
	readonly #end: number;
	constructor(d: Uint8Array, start: number, end: number) {
		this.#d = d;
		this.p = start;
		this.#end = end;
	}
	byte(): number {
		if (this.p >= this.#end) throw new LowpanError("compressed header truncated");
		return this.#d[this.p++]!;
	}
	into(out: Uint8Array, at: number, n: number): void {
		if (this.p + n > this.#end) throw new LowpanError("compressed header truncated");
		for (let i = 0; i < n; i++) out[at + i] = this.#d[this.p++]!;
	}
}

function readUnicast(r: Reader, out: Uint8Array, at: number, mode: number, prefix: Uint8Array, mac: Uint8Array): void {
	if (mode === 0) {
		r.into(out, at, 16);
		return;
	}
	out.set(prefix, at);
	if (mode === 1) r.into(out, at + 8, 8);
	else if (mode === 2) {
		out.set([0, 0, 0, 0xff, 0xfe, 0], at + 8);
		r.into(out, at + 14, 2);
	} else iidFromLinkAddress(mac, out, at + 8);
}

const LINK_LOCAL_PREFIX = [0xfe, 0x80, 0, 0, 0, 0, 0, 0] as const;

function context(contexts: readonly Uint8Array[], index: number): Uint8Array {
	const c = contexts[index];
	if (c === undefined) throw new LowpanError(`unknown context ${index}`);
	return c;
}

/**
 * Decompresses an IPHC header at data[start..end). `datagramSize` is the uncompressed packet size
 * when known (from a FRAG1 header); otherwise the rest of data[start..end) is the payload.
 */
export function decompressHeader(data: Uint8Array, link: LinkAddresses, contexts: readonly Uint8Array[] = [], start = 0, end = data.length, datagramSize?: number): DecompressedHeader {
	const r = new Reader(data, start, end);
	const b0 = r.byte();
	const b1 = r.byte();
	if ((b0 & IPHC_DISPATCH_MASK) !== IPHC_DISPATCH) throw new LowpanError("not an IPHC header");
	const tf = (b0 >> 3) & 3;
	const nh = (b0 >> 2) & 1;
	const hlim = b0 & 3;
	const sac = (b1 >> 6) & 1;
	const sam = (b1 >> 4) & 3;
	const m = (b1 >> 3) & 1;
	const dac = (b1 >> 2) & 1;
	const dam = b1 & 3;
	let sci = 0;
	let dci = 0;
	if (b1 & 0x80) {
		const c = r.byte();
		sci = c >> 4;
		dci = c & 0xf;
	}
	const h = new Uint8Array(IPV6_HEADER_BYTES + UDP_HEADER_BYTES);
	let ecn = 0;
	let dscp = 0;
	let flow = 0;
	if (tf === 0) {
		const a = r.byte();
		ecn = a >> 6;
		dscp = a & 0x3f;
		flow = ((r.byte() & 0x0f) << 16) | (r.byte() << 8) | r.byte();
	} else if (tf === 1) {
		const a = r.byte();
		ecn = a >> 6;
		flow = ((a & 0x0f) << 16) | (r.byte() << 8) | r.byte();
	} else if (tf === 2) {
		const a = r.byte();
		ecn = a >> 6;
		dscp = a & 0x3f;
	}
	const tc = (dscp << 2) | ecn;
	h[0] = 0x60 | (tc >> 4);
	h[1] = ((tc & 0x0f) << 4) | (flow >> 16);
	h[2] = (flow >> 8) & 0xff;
	h[3] = flow & 0xff;
	if (!nh) h[6] = r.byte();
	h[7] = hlim === 0 ? r.byte() : hlim === 1 ? 1 : hlim === 2 ? 64 : 255;
	if (sac === 1 && sam === 0) {
		// the unspecified address: h[8..24) stays zero
	} else readUnicast(r, h, 8, sam, sac ? context(contexts, sci) : Uint8Array.from(LINK_LOCAL_PREFIX), link.src);
	if (m === 1) {
		if (dac === 1) throw new LowpanError("unicast-prefix-based multicast compression (DAC=1, M=1) is not supported");
		h[24] = 0xff;
		if (dam === 0) r.into(h, 24, 16);
		else if (dam === 1) {
			h[25] = r.byte();
			r.into(h, 35, 5);
		} else if (dam === 2) {
			h[25] = r.byte();
			r.into(h, 37, 3);
		} else {
			h[25] = 0x02;
			h[39] = r.byte();
		}
	} else {
		if (dac === 1 && dam === 0) throw new LowpanError("reserved destination mode (DAC=1, DAM=00)");
		readUnicast(r, h, 24, dam, dac ? context(contexts, dci) : Uint8Array.from(LINK_LOCAL_PREFIX), link.dst);
	}
	let headerLength = IPV6_HEADER_BYTES;
	let checksumElided = false;
	if (nh) {
		const nhc = r.byte();
		if ((nhc & NHC_UDP_MASK) !== NHC_UDP) throw new LowpanError(`next header compression 0x${nhc.toString(16)} is not supported`);
		h[6] = NEXT_HEADER_UDP;
		const u = IPV6_HEADER_BYTES;
		const p = nhc & 3;
		if (p === 0) r.into(h, u, 4);
		else if (p === 1) {
			r.into(h, u, 2);
			h[u + 2] = 0xf0;
			h[u + 3] = r.byte();
		} else if (p === 2) {
			h[u] = 0xf0;
			h[u + 1] = r.byte();
			r.into(h, u + 2, 2);
		} else {
			const ports = r.byte();
			h[u] = 0xf0;
			h[u + 1] = 0xb0 | (ports >> 4);
			h[u + 2] = 0xf0;
			h[u + 3] = 0xb0 | (ports & 0xf);
		}
		if (nhc & 4) checksumElided = true;
		else r.into(h, u + 6, 2);
		headerLength += UDP_HEADER_BYTES;
	}
	const size = datagramSize ?? headerLength + (end - r.p);
	if (size < headerLength || size > 0xffff + IPV6_HEADER_BYTES) throw new LowpanError(`datagram size ${size} is impossible for its header`);
	const payloadLength = size - IPV6_HEADER_BYTES;
	h[4] = payloadLength >> 8;
	h[5] = payloadLength & 0xff;
	if (nh) {
		h[IPV6_HEADER_BYTES + 4] = payloadLength >> 8; // RFC 6282 §4.3.3: the UDP length is inferred
		h[IPV6_HEADER_BYTES + 5] = payloadLength & 0xff;
	}
	return { header: h.slice(0, headerLength), consumed: r.p - start, checksumElided };
}
