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
		/** Pledge-side source not in fe80::/64 (only link-local pledges are relayed, draft §4.3). */
		notLinkLocal: number;
		/** Registrar-side datagram from another address or port than the Registrar's. */
		notFromRegistrar: number;
		/** Registrar-side datagram for a slot that has expired (stateful). */
		noSlot: number;
		/** Not a JPY message (stateless, draft §4.5.2). */
		badJpy: number;
		/** JPY header that fails authentication (stateless, draft §4.5.5 MUST: silently). */
		badHeader: number;
		/** Larger than the relay buffer. */
		tooLarge: number;
		/** New pledge flows refused for want of a slot (stateful, draft §4.3). */
		refused: number;
	};
	/** Refusals by cause (stateful). */
	refusals: { tableFull: number; perAddress: number; perInterface: number };
	/** ICMPv6 errors sent to pledges: our refusals, and Registrar-side errors relayed (draft §4.3). */
	icmp: { refusalsSent: number; relayed: number; rateLimited: number; unsupported: number };
}

export function newCounters(): JoinProxyCounters {
	return {
		toRegistrar: { datagrams: 0, bytes: 0 },
		toPledge: { datagrams: 0, bytes: 0 },
		drops: { notLinkLocal: 0, notFromRegistrar: 0, noSlot: 0, badJpy: 0, badHeader: 0, tooLarge: 0, refused: 0 },
		refusals: { tableFull: 0, perAddress: 0, perInterface: 0 },
		icmp: { refusalsSent: 0, relayed: 0, rateLimited: 0, unsupported: 0 },
	};
}
