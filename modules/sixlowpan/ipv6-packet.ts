/*
 * Whole IPv6 packets (RFC 8200 §3) carrying UDP (RFC 768) or ICMPv6 (RFC 4443), with the
 * upper-layer checksum over the pseudo-header (RFC 8200 §8.1): what a simulated node's stack sends
 * and what the 6LoWPAN codec compresses.
 */

export const IPV6_HEADER_BYTES = 40;
export const UDP_HEADER_BYTES = 8;
export const NEXT_HEADER_UDP = 17;
export const NEXT_HEADER_ICMPV6 = 58;
/** RFC 8200 §5: every link carries packets of this size. */
export const IPV6_MIN_MTU = 1280;

export interface Ipv6Header {
	trafficClass: number;
	flowLabel: number;
	nextHeader: number;
	hopLimit: number;
	/** 16 bytes each. */
	src: Uint8Array;
	dst: Uint8Array;
}

/** Writes the fixed header; payload length from `payloadLength`. */
export function writeIpv6Header(out: Uint8Array, h: Ipv6Header, payloadLength: number): void {
	out[0] = 0x60 | (h.trafficClass >> 4);
	out[1] = ((h.trafficClass & 0x0f) << 4) | ((h.flowLabel >> 16) & 0x0f);
	out[2] = (h.flowLabel >> 8) & 0xff;
	out[3] = h.flowLabel & 0xff;
	out[4] = payloadLength >> 8;
	out[5] = payloadLength & 0xff;
	out[6] = h.nextHeader;
	out[7] = h.hopLimit;
	out.set(h.src, 8);
	out.set(h.dst, 24);
}

/** Reads the fixed header (addresses as views); undefined when `packet` is not a well-formed IPv6 packet. */
export function readIpv6Header(packet: Uint8Array): Ipv6Header | undefined {
	if (packet.length < IPV6_HEADER_BYTES || packet[0]! >> 4 !== 6) return undefined;
	if (((packet[4]! << 8) | packet[5]!) !== packet.length - IPV6_HEADER_BYTES) return undefined;
	return {
		trafficClass: ((packet[0]! & 0x0f) << 4) | (packet[1]! >> 4),
		flowLabel: ((packet[1]! & 0x0f) << 16) | (packet[2]! << 8) | packet[3]!,
		nextHeader: packet[6]!,
		hopLimit: packet[7]!,
		src: packet.subarray(8, 24),
		dst: packet.subarray(24, 40),
	};
}

/** The upper-layer checksum of the packet's payload (checksum field included as it stands). */
export function upperLayerChecksum(packet: Uint8Array): number {
	let sum = 0;
	for (let i = 8; i < 40; i += 2) sum += (packet[i]! << 8) | packet[i + 1]!;
	const length = packet.length - IPV6_HEADER_BYTES;
	sum += length + packet[6]!;
	for (let i = IPV6_HEADER_BYTES; i < packet.length; i += 2) sum += (packet[i]! << 8) | (i + 1 < packet.length ? packet[i + 1]! : 0);
	while (sum > 0xffff) sum = (sum & 0xffff) + Math.floor(sum / 0x10000);
	return ~sum & 0xffff;
}

/** Offset of the checksum field of the upper-layer header, or -1. */
function checksumOffset(nextHeader: number): number {
	return nextHeader === NEXT_HEADER_UDP ? IPV6_HEADER_BYTES + 6 : nextHeader === NEXT_HEADER_ICMPV6 ? IPV6_HEADER_BYTES + 2 : -1;
}

/** Fills in the UDP or ICMPv6 checksum (a computed UDP 0 is sent as 0xffff, RFC 8200 §8.1). */
export function setChecksum(packet: Uint8Array): void {
	const at = checksumOffset(packet[6]!);
	if (at < 0) return;
	packet[at] = 0;
	packet[at + 1] = 0;
	let c = upperLayerChecksum(packet);
	if (c === 0 && packet[6] === NEXT_HEADER_UDP) c = 0xffff;
	packet[at] = c >> 8;
	packet[at + 1] = c & 0xff;
}

/** True when the upper-layer checksum verifies (a zero UDP checksum is invalid over IPv6). */
export function checksumValid(packet: Uint8Array): boolean {
	const at = checksumOffset(packet[6]!);
	if (at < 0) return true;
	if (packet.length < at + 2) return false;
	if (packet[6] === NEXT_HEADER_UDP && packet[at] === 0 && packet[at + 1] === 0) return false;
	return upperLayerChecksum(packet) === 0;
}

/** An IPv6/UDP packet with its checksum. */
export function buildUdpPacket(h: Omit<Ipv6Header, "nextHeader">, srcPort: number, dstPort: number, payload: Uint8Array, payloadLength = payload.length): Uint8Array {
	const udpLength = UDP_HEADER_BYTES + payloadLength;
	const packet = new Uint8Array(IPV6_HEADER_BYTES + udpLength);
	writeIpv6Header(packet, { ...h, nextHeader: NEXT_HEADER_UDP }, udpLength);
	const u = IPV6_HEADER_BYTES;
	packet[u] = srcPort >> 8;
	packet[u + 1] = srcPort & 0xff;
	packet[u + 2] = dstPort >> 8;
	packet[u + 3] = dstPort & 0xff;
	packet[u + 4] = udpLength >> 8;
	packet[u + 5] = udpLength & 0xff;
	packet.set(payloadLength === payload.length ? payload : payload.subarray(0, payloadLength), u + UDP_HEADER_BYTES);
	setChecksum(packet);
	return packet;
}

/**
 * An ICMPv6 error (RFC 4443 §3) quoting as much of `invoking` as fits in the minimum MTU
 * (RFC 4443 §2.4(c)).
 */
export function buildIcmpError(h: Omit<Ipv6Header, "nextHeader">, type: number, code: number, invoking: Uint8Array): Uint8Array {
	const quoted = Math.min(invoking.length, IPV6_MIN_MTU - IPV6_HEADER_BYTES - 8);
	const packet = new Uint8Array(IPV6_HEADER_BYTES + 8 + quoted);
	writeIpv6Header(packet, { ...h, nextHeader: NEXT_HEADER_ICMPV6 }, 8 + quoted);
	packet[IPV6_HEADER_BYTES] = type;
	packet[IPV6_HEADER_BYTES + 1] = code;
	packet.set(invoking.subarray(0, quoted), IPV6_HEADER_BYTES + 8);
	setChecksum(packet);
	return packet;
}
