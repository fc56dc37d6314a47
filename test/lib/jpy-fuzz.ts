/*
 * Fuzzing of what a stateless proxy does with a datagram from the Registrar side: JPY decoding and
 * the header check. Random, truncated, bit-flipped, spliced and forged inputs must end as a JpyError
 * or a header that fails to open — never another exception, and never a forged header accepted.
 * A bounded run is in the join proxy suite; `npm run bench -- --fuzz` runs 10^6 cases.
 */

import { SeededRandom } from "../../hosts/xs/seeded-random.js";
import { HEADER_BYTES, JpyHeaderCodec, type PledgeFlow } from "../../modules/jpy/header.js";
import { decodeJpy, encodeJpyInto, jpyEncodedLength, JpyError, type JpyView } from "../../modules/jpy/message.js";

export interface FuzzResult {
	cases: number;
	/** Inputs that decoded as JPY. */
	accepted: number;
	/** Decoded inputs whose header opened although it was not one the proxy sealed: must be 0. */
	forgedHeadersAccepted: number;
}

export function fuzzJpy(cases: number, seed: number): FuzzResult {
	const r = new SeededRandom(seed);
	const codec = new JpyHeaderCodec({ random: (b) => r.fill(b) });
	const authentic = new Set<string>();
	const sealed: Uint8Array[] = [];
	for (let i = 0; i < 16; i++) {
		const h = new Uint8Array(HEADER_BYTES);
		codec.seal(r.int(4), r.int(65536), r.bytes(8), 0, h, 0);
		sealed.push(h);
		authentic.add(key(h, 0, HEADER_BYTES));
	}
	const view: JpyView = { headerStart: 0, headerLength: 0, contentStart: 0, contentLength: 0, elements: 0 };
	const flow: PledgeFlow = { ifindex: 0, port: 0, iid: new Uint8Array(8) };
	const out: FuzzResult = { cases, accepted: 0, forgedHeadersAccepted: 0 };
	for (let i = 0; i < cases; i++) {
		const data = mutate(r, sealed[r.int(sealed.length)]!);
		try {
			decodeJpy(data, data.length, view);
		} catch (e) {
			if (e instanceof JpyError) continue;
			throw e;
		}
		out.accepted++;
		if (codec.open(data, view.headerStart, view.headerLength, flow) && !authentic.has(key(data, view.headerStart, view.headerLength))) out.forgedHeadersAccepted++;
	}
	return out;
}

function key(b: Uint8Array, start: number, length: number): string {
	let s = "";
	for (let i = 0; i < length; i++) s += String.fromCharCode(b[start + i]!);
	return s;
}

function mutate(r: SeededRandom, header: Uint8Array): Uint8Array {
	const content = r.bytes(r.int(300));
	const valid = new Uint8Array(jpyEncodedLength(header.length, content.length));
	encodeJpyInto(header, content, valid, 0);
	switch (r.int(6)) {
		case 0:
			return r.bytes(r.int(64));
		case 1:
			return valid.subarray(0, r.int(valid.length));
		case 2: {
			const flips = 1 + r.int(4);
			for (let k = 0; k < flips; k++) {
				const at = r.int(valid.length);
				valid[at] = valid[at]! ^ (1 << r.int(8));
			}
			return valid;
		}
		case 3: {
			// Forged header: random bytes of the right length in a well-formed message.
			const forged = new Uint8Array(jpyEncodedLength(HEADER_BYTES, content.length));
			encodeJpyInto(r.bytes(HEADER_BYTES), content, forged, 0);
			return forged;
		}
		case 4: {
			// Header bit flips only, the JPY framing intact.
			const at = 2 + r.int(HEADER_BYTES);
			valid[at] = valid[at]! ^ (1 << r.int(8));
			return valid;
		}
		default: {
			const extra = r.bytes(1 + r.int(8));
			const spliced = new Uint8Array(valid.length + extra.length);
			const at = r.int(valid.length + 1);
			spliced.set(valid.subarray(0, at));
			spliced.set(extra, at);
			spliced.set(valid.subarray(at), at + extra.length);
			return spliced;
		}
	}
}
