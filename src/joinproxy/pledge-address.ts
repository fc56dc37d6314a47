/*
 * Pledge addresses on the join-port: only unicast fe80::/64 sources with a non-zero interface ID
 * are relayed (draft §4.3 creates state only for link-local sources; the stateless header keeps just
 * the 64-bit IID, §4.5.6), and never the proxy's own addresses: a datagram "from" the join-port
 * itself would have the proxy relay the Registrar's answers to itself, round and round (issue 7
 * item 4). fe80:: with IID 0 is the Subnet-Router anycast address (RFC 4291 §2.6.1), never a source.
 */

import { parseIPv6Into, formatIPv6 } from "../../modules/util/ipv6.js";

/** Why a source was refused; 0 means acceptable. */
export const SourceVerdict = Object.freeze({
	Ok: 0,
	NotLinkLocal: 1,
	OwnAddress: 2,
});

/** Parses `address` into out[0..16) and returns true when it is in fe80::/64. Allocates nothing. */
export function parseLinkLocal(address: string, out: Uint8Array): boolean {
	if (!parseIPv6Into(address, out, 0)) return false;
	if (out[0] !== 0xfe || out[1] !== 0x80) return false;
	for (let i = 2; i < 8; i++) if (out[i] !== 0) return false;
	return true;
}

/** "fe80::…" text of the link-local address with the IID at iid[offset..+8]. */
export function linkLocalText(iid: Uint8Array, offset: number, scratch: Uint8Array): string {
	scratch.fill(0, 0, 8);
	scratch[0] = 0xfe;
	scratch[1] = 0x80;
	for (let i = 0; i < 8; i++) scratch[8 + i] = iid[offset + i]!;
	return formatIPv6(scratch, 0);
}

/** The source check of new pledge flows; the proxy's own addresses are parsed once, at construction. */
export class PledgeSources {
	readonly #own: Uint8Array;
	readonly #count: number;

	/** `own`: the proxy's addresses (each join-port's link-local address, and any others); bad text is a RangeError. */
	constructor(own: readonly string[]) {
		this.#own = new Uint8Array(16 * own.length);
		this.#count = own.length;
		own.forEach((a, i) => {
			if (!parseIPv6Into(a, this.#own, 16 * i)) throw new RangeError(`not an IPv6 address: "${a}"`);
		});
	}

	/** Parses `address` into out[0..16) and returns a SourceVerdict. Allocates nothing. */
	check(address: string, out: Uint8Array): number {
		if (!parseLinkLocal(address, out)) return SourceVerdict.NotLinkLocal;
		let zero = true;
		for (let i = 8; i < 16 && zero; i++) zero = out[i] === 0;
		if (zero) return SourceVerdict.NotLinkLocal;
		const own = this.#own;
		for (let k = 0, o = 0; k < this.#count; k++, o += 16) {
			let same = true;
			for (let i = 0; i < 16 && same; i++) same = own[o + i] === out[i];
			if (same) return SourceVerdict.OwnAddress;
		}
		return SourceVerdict.Ok;
	}
}
