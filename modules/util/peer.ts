/* Small helpers about peers and per-peer tables, shared by CoAP, DTLS and the Registrar's JPY endpoint. */

import type { UdpPeer } from "../../hosts/host.js";

/** One text per (address, zone, port), for keying per-peer state. */
export const peerKey = (p: Readonly<UdpPeer>): string => `[${p.address.toLowerCase()}%${p.zone}]:${p.port}`;

/** The key of the entry with the oldest `lastActivity`: the one a bounded table evicts. */
export function leastRecent<K>(table: ReadonlyMap<K, { lastActivity: number }>): K | undefined {
	let oldest: K | undefined;
	let t = Infinity;
	for (const [k, v] of table) {
		if (v.lastActivity < t) {
			oldest = k;
			t = v.lastActivity;
		}
	}
	return oldest;
}
