/*
 * Pledge addresses on the join-port: only fe80::/64 sources are relayed (draft §4.3 creates state
 * only for link-local sources; the stateless header keeps just the 64-bit IID, §4.5.6).
 */

import { parseIPv6Into, formatIPv6 } from "../../modules/util/ipv6.js";

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
