/*
 * The one size limit of relayed datagrams, both directions, both modes: the pledge link is only
 * promised the IPv6 minimum MTU (RFC 8200 §5), 1280 − 40 (IPv6 header) − 8 (UDP header) = 1232 bytes
 * of UDP payload, and a pledge-side datagram is never fragmented by us. Pledge → Registrar, the
 * content is at most this (stateless: the JPY message adds its header and CBOR framing on the
 * Registrar-facing link, which has a larger MTU in every deployment the draft considers);
 * Registrar → pledge, content over this would not fit the pledge link and is dropped and counted.
 */

/** Largest UDP payload (content) relayed to or from a pledge. */
export const MAX_DATAGRAM = 1232;
