/* Peer identity for per-peer state, shared by CoAP, DTLS and the Registrar's JPY endpoint. */

import type { UdpPeer } from "../../hosts/host.js";

/** One text per (address, zone, port), for keying per-peer state. */
export const peerKey = (p: Readonly<UdpPeer>): string => `[${p.address.toLowerCase()}%${p.zone}]:${p.port}`;

/** RFC 6874 §2 writes the zone as %25 in URIs; the bare % of RFC 4007 §11 is taken too. */
const PEER_TEXT = /^\[([0-9a-fA-F:.]+)(?:%(?:25)?([^\]%]*))?\]:(\d{1,5})$/;

/**
 * "[fe80::1%wpan0]:5684" (peerKey's form; an empty or absent zone is unscoped) back to a peer; undefined for anything
 * else, for a port outside 1..65535, and for a link-local address without its zone (RFC 4007 §6:
 * meaningless without one).
 */
export function parsePeer(text: string): UdpPeer | undefined {
	const m = PEER_TEXT.exec(text);
	if (m === null) return undefined;
	const port = Number(m[3]);
	if (!(port > 0 && port < 65536)) return undefined;
	const zone = m[2] ?? "";
	if (m[1]!.toLowerCase().startsWith("fe80") && zone === "") return undefined;
	return { address: m[1]!, port, zone };
}
