/* Join Proxy counters: one preallocated object, updated in place on the relay paths. */

export interface DirectionCounters {
	datagrams: number;
	bytes: number;
}

export interface JoinProxyCounters {
	toRegistrar: DirectionCounters;
	toPledge: DirectionCounters;
	/** Datagrams dropped, by reason. */
	drops: {
		/** Pledge-side source not a unicast fe80::/64 address with a non-zero IID (draft §4.3). */
		notLinkLocal: number;
		/** Pledge-side source that is one of the proxy's own addresses (a relay loop, issue 7 item 4). */
		ownAddress: number;
		/** Pledge-side datagram not sent to the join-port's own link-local unicast address (multicast). */
		notToJoinPort: number;
		/** New pledge flows over the per-source rate (draft §6: rate limiting). */
		flowRateLimited: number;
		/** Pledge datagrams over the per-source datagram rate, when one is set. */
		datagramRateLimited: number;
		/** Registrar-side datagram from another address or port than the Registrar's. */
		notFromRegistrar: number;
		/** Registrar-side datagram for a slot that has expired (stateful). */
		noSlot: number;
		/** Not a JPY message (stateless, draft §4.5.2). */
		badJpy: number;
		/** JPY header that fails authentication (stateless, draft §4.5.5 MUST: silently). */
		badHeader: number;
		/** Content larger than MAX_DATAGRAM, either direction. */
		tooLarge: number;
		/** New pledge flows refused for want of a slot (stateful, draft §4.3). */
		refused: number;
	};
	/** Refusals by cause (stateful). */
	refusals: { tableFull: number; perAddress: number; perInterface: number };
	/** ICMPv6 errors to pledges: our refusals, Registrar-side errors relayed (draft §4.3); `unsupported`: counted, not sent (host without ICMPv6). */
	icmp: { refusalsSent: number; relayed: number; rateLimited: number; unsupported: number };
}

export function newCounters(): JoinProxyCounters {
	return {
		toRegistrar: { datagrams: 0, bytes: 0 },
		toPledge: { datagrams: 0, bytes: 0 },
		drops: { notLinkLocal: 0, ownAddress: 0, notToJoinPort: 0, flowRateLimited: 0, datagramRateLimited: 0, notFromRegistrar: 0, noSlot: 0, badJpy: 0, badHeader: 0, tooLarge: 0, refused: 0 },
		refusals: { tableFull: 0, perAddress: 0, perInterface: 0 },
		icmp: { refusalsSent: 0, relayed: 0, rateLimited: 0, unsupported: 0 },
	};
}

/** Every drop so far (refusals are counted among drops as `refused`). */
export function totalDrops(c: JoinProxyCounters): number {
	const d = c.drops;
	return d.notLinkLocal + d.ownAddress + d.notToJoinPort + d.flowRateLimited + d.datagramRateLimited + d.notFromRegistrar + d.noSlot + d.badJpy + d.badHeader + d.tooLarge + d.refused;
}
