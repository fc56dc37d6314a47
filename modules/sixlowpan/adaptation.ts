/*
 * The 6LoWPAN adaptation layer (RFC 4944 §5): an IPv6 packet becomes one frame payload (IPHC,
 * RFC 6282) or FRAG1 + FRAGN fragments (RFC 4944 §5.3) whose sizes and offsets count uncompressed
 * bytes (RFC 6282 §2). Reassembly keys fragments by link source, destination, size and tag and drops
 * a datagram whole when it is not complete within the timeout (60 s, RFC 4944 §5.3).
 */

import type { Clock, Timer } from "../../hosts/host.js";
import { toHex } from "../util/hex.js";
import { IPV6_HEADER_BYTES, setChecksum } from "./ipv6-packet.js";
import { compressHeader, decompressHeader, IPHC_DISPATCH, IPHC_DISPATCH_MASK, LowpanError, type LinkAddresses } from "./iphc.js";

/** RFC 4944 §5.3 dispatch values (first 5 bits) and header sizes. */
export const FRAG1_DISPATCH = 0xc0;
export const FRAGN_DISPATCH = 0xe0;
const FRAG_DISPATCH_MASK = 0xf8;
export const FRAG1_HEADER_BYTES = 4;
export const FRAGN_HEADER_BYTES = 5;
/** RFC 4944 §5.1: an uncompressed IPv6 header follows. */
export const IPV6_DISPATCH = 0x41;
/** RFC 4944 §5.3: 11 bits of datagram_size. */
export const MAX_DATAGRAM_SIZE = 2047;
/** RFC 4944 §5.3: reassembly gives up after at most 60 seconds. */
export const DEFAULT_REASSEMBLY_TIMEOUT_MS = 60_000;

export interface FragmentInfo {
	first: boolean;
	size: number;
	tag: number;
	/** Byte offset in the uncompressed datagram (0 for FRAG1). */
	offset: number;
	headerBytes: number;
}

/** Parses a FRAG1/FRAGN header, or undefined when the payload is not a fragment. */
export function readFragmentHeader(p: Uint8Array): FragmentInfo | undefined {
	const d = p[0]! & FRAG_DISPATCH_MASK;
	if (d !== FRAG1_DISPATCH && d !== FRAGN_DISPATCH) return undefined;
	const first = d === FRAG1_DISPATCH;
	const hb = first ? FRAG1_HEADER_BYTES : FRAGN_HEADER_BYTES;
	if (p.length <= hb) throw new LowpanError("fragment header truncated or empty fragment");
	return { first, size: ((p[0]! & 7) << 8) | p[1]!, tag: (p[2]! << 8) | p[3]!, offset: first ? 0 : p[4]! * 8, headerBytes: hb };
}

/**
 * The frame payloads carrying `packet` (a whole IPv6 packet): one if it fits in `maxPayload`, else
 * fragments with datagram tag `tag`.
 */
export function encodeDatagram(packet: Uint8Array, link: LinkAddresses, contexts: readonly Uint8Array[], maxPayload: number, tag: number): Uint8Array[] {
	const { header, consumed } = compressHeader(packet, link, contexts);
	const rest = packet.length - consumed;
	if (header.length + rest <= maxPayload) {
		const out = new Uint8Array(header.length + rest);
		out.set(header);
		out.set(packet.subarray(consumed), header.length);
		return [out];
	}
	const size = packet.length;
	if (size > MAX_DATAGRAM_SIZE) throw new LowpanError(`datagram of ${size} bytes exceeds the fragment header's ${MAX_DATAGRAM_SIZE}`);
	const frames: Uint8Array[] = [];
	// FRAG1: the compressed header and as much payload as keeps the next offset a multiple of 8.
	const firstEnd = Math.floor((maxPayload - FRAG1_HEADER_BYTES - header.length + consumed) / 8) * 8;
	if (firstEnd <= consumed) throw new LowpanError("frame payload too small for the compressed header");
	const first = new Uint8Array(FRAG1_HEADER_BYTES + header.length + firstEnd - consumed);
	first[0] = FRAG1_DISPATCH | (size >> 8);
	first[1] = size & 0xff;
	first[2] = tag >> 8;
	first[3] = tag & 0xff;
	first.set(header, FRAG1_HEADER_BYTES);
	first.set(packet.subarray(consumed, firstEnd), FRAG1_HEADER_BYTES + header.length);
	frames.push(first);
	const step = Math.floor((maxPayload - FRAGN_HEADER_BYTES) / 8) * 8;
	for (let at = firstEnd; at < size; at += step) {
		const n = Math.min(step, size - at);
		const f = new Uint8Array(FRAGN_HEADER_BYTES + n);
		f[0] = FRAGN_DISPATCH | (size >> 8);
		f[1] = size & 0xff;
		f[2] = tag >> 8;
		f[3] = tag & 0xff;
		f[4] = at / 8;
		f.set(packet.subarray(at, at + n), FRAGN_HEADER_BYTES);
		frames.push(f);
	}
	return frames;
}

/** Decodes one unfragmented frame payload (IPHC or uncompressed IPv6) into an IPv6 packet. */
export function decodeUnfragmented(payload: Uint8Array, link: LinkAddresses, contexts: readonly Uint8Array[]): Uint8Array {
	if (payload.length === 0) throw new LowpanError("empty payload");
	if (payload[0] === IPV6_DISPATCH) {
		if (payload.length < 1 + IPV6_HEADER_BYTES || payload[1]! >> 4 !== 6) throw new LowpanError("uncompressed IPv6 dispatch without an IPv6 header");
		return payload.slice(1);
	}
	if ((payload[0]! & IPHC_DISPATCH_MASK) !== IPHC_DISPATCH) throw new LowpanError(`dispatch 0x${payload[0]!.toString(16)} is not supported`);
	const d = decompressHeader(payload, link, contexts);
	const packet = new Uint8Array(d.header.length + payload.length - d.consumed);
	packet.set(d.header);
	packet.set(payload.subarray(d.consumed), d.header.length);
	if (d.checksumElided) setChecksum(packet);
	return packet;
}

interface Pending {
	key: string;
	buffer: Uint8Array;
	/** One flag per 8-byte unit received. */
	units: Uint8Array;
	missing: number;
	checksumElided: boolean;
	expires: number;
}

export interface ReassemblerOptions {
	clock: Clock;
	contexts?: readonly Uint8Array[];
	timeoutMs?: number;
	/** Datagrams reassembled at once; fragments of further ones are dropped. */
	maxPending?: number;
}

export interface ReassemblyCounters {
	completed: number;
	timedOut: number;
	/** Fragments dropped: malformed, inconsistent, out of bounds, or no room. */
	dropped: number;
}

export class Reassembler {
	readonly counters: ReassemblyCounters = { completed: 0, timedOut: 0, dropped: 0 };
	readonly #clock: Clock;
	readonly #contexts: readonly Uint8Array[];
	readonly #timeoutMs: number;
	readonly #max: number;
	readonly #pending = new Map<string, Pending>();
	readonly #timer: Timer;

	constructor(o: ReassemblerOptions) {
		this.#clock = o.clock;
		this.#contexts = o.contexts ?? [];
		this.#timeoutMs = o.timeoutMs ?? DEFAULT_REASSEMBLY_TIMEOUT_MS;
		this.#max = o.maxPending ?? 16;
		this.#timer = o.clock.timer(() => this.#expire());
	}

	get pending(): number {
		return this.#pending.size;
	}

	/**
	 * Takes one frame payload; returns the IPv6 packet it completes, or undefined (a fragment kept, or
	 * dropped and counted). Throws LowpanError for an unfragmented payload that does not decode.
	 */
	accept(payload: Uint8Array, link: LinkAddresses): Uint8Array | undefined {
		let f: FragmentInfo | undefined;
		try {
			f = readFragmentHeader(payload);
		} catch {
			this.counters.dropped++;
			return undefined;
		}
		if (f === undefined) return decodeUnfragmented(payload, link, this.#contexts);
		const key = `${toHex(link.src)}>${toHex(link.dst)}/${f.size}/${f.tag}`;
		let p = this.#pending.get(key);
		if (p === undefined) {
			if (this.#pending.size >= this.#max || f.size < IPV6_HEADER_BYTES) {
				this.counters.dropped++;
				return undefined;
			}
			const unitCount = Math.ceil(f.size / 8);
			p = { key, buffer: new Uint8Array(f.size), units: new Uint8Array(unitCount), missing: unitCount, checksumElided: false, expires: this.#clock.now() + this.#timeoutMs };
			this.#pending.set(key, p);
			if (!this.#timer.armed) this.#timer.arm(this.#timeoutMs);
		}
		let start: number;
		let data: Uint8Array;
		if (f.first) {
			let d;
			try {
				d = decompressHeader(payload, link, this.#contexts, f.headerBytes, payload.length, f.size);
			} catch {
				this.counters.dropped++;
				return undefined;
			}
			const body = payload.subarray(f.headerBytes + d.consumed);
			data = new Uint8Array(d.header.length + body.length);
			data.set(d.header);
			data.set(body, d.header.length);
			p.checksumElided = d.checksumElided;
			start = 0;
		} else {
			start = f.offset;
			data = payload.subarray(f.headerBytes);
		}
		const end = start + data.length;
		// Every fragment but the last covers whole 8-byte units (RFC 4944 §5.3).
		if (end > f.size || (end !== f.size && data.length % 8 !== 0)) {
			this.counters.dropped++;
			return undefined;
		}
		p.buffer.set(data, start);
		for (let u = start / 8; u < Math.ceil(end / 8); u++) {
			if (p.units[u] === 0) {
				p.units[u] = 1;
				p.missing--;
			}
		}
		if (p.missing > 0) return undefined;
		this.#pending.delete(key);
		this.counters.completed++;
		if (p.checksumElided) setChecksum(p.buffer);
		return p.buffer;
	}

	#expire(): void {
		const now = this.#clock.now();
		let next = Infinity;
		for (const [key, p] of this.#pending) {
			if (p.expires <= now) {
				this.#pending.delete(key);
				this.counters.timedOut++;
			} else next = Math.min(next, p.expires);
		}
		if (next !== Infinity) this.#timer.arm(next - now);
	}

	/** Idempotent. */
	close(): void {
		this.#timer.cancel();
		this.#pending.clear();
	}
}
