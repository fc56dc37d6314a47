/* Peer identity for per-peer state, shared by CoAP, DTLS and the Registrar's JPY endpoint. */

import type { UdpPeer } from "../../hosts/host.js";

/** One text per (address, zone, port), for keying per-peer state. */
export const peerKey = (p: Readonly<UdpPeer>): string => `[${p.address.toLowerCase()}%${p.zone}]:${p.port}`;
