/*
 * Join Proxy discovery by a pledge (draft-ietf-anima-constrained-join-proxy §5.2, cBRSKI §10.1.1;
 * cbrski-digest §2 step 0, P2, P3, P38): a multicast GET coap://[ff02::fd]/.well-known/core?brski-jp=*
 * on each pledge interface; every answer gives the proxy (the datagram's link-local source
 * address, never an address written in the link) and one join-port per brski-jp link. Proxies of
 * cBRSKI -29 and older answer `?rt=brski.jp` with `<coaps://[...]:port>;rt=brski.jp` instead, so a
 * silent interface is asked that way too.
 */

import type { Host, UdpPeer } from "../../hosts/host.js";
import { openUdpCoap } from "../../modules/coap/udp-endpoint.js";
import { ALL_COAP_NODES_LINK_LOCAL, COAP_PORT, Code } from "../../modules/coap/constants.js";
import { attribute, LinkFormatError, parseLinkFormat } from "../../modules/coap/link-format.js";
import type { ReceivedResponse } from "../../modules/coap/endpoint.js";
import { CoapUriError, parseCoapUri } from "../../modules/coap/uri.js";
import { utf8Decode } from "../../modules/util/utf8.js";
import { peerKey } from "../../modules/util/peer.js";

/** JP draft §5.2 (cBRSKI -31): the target attribute naming a join-port. */
const QUERY_BRSKI_JP = "brski-jp=*";
/** cBRSKI -29 §10.1.1: the older resource type. */
const QUERY_RT_BRSKI_JP = "rt=brski.jp";
const RT_BRSKI_JP = "brski.jp";
const WELL_KNOWN_CORE = "/.well-known/core";

export interface DiscoveryOptions {
	host: Pick<Host, "udp" | "clock" | "random" | "log">;
	/** Pledge interfaces (zones) to ask on. */
	interfaces: readonly string[];
	/** How long answers are collected per query (RFC 7252 §8.2 leisure; default 3 s). */
	leisureMs?: number;
}

/** Join-port candidates, in answer order, without duplicates. */
export async function discoverJoinProxies(options: DiscoveryOptions): Promise<UdpPeer[]> {
	const found = new Map<string, UdpPeer>();
	for (const zone of options.interfaces) {
		const client = await openUdpCoap(options.host, { zone });
		try {
			for (const query of [QUERY_BRSKI_JP, QUERY_RT_BRSKI_JP]) {
				const answers = await client.endpoint.multicastRequest({
					peer: { address: ALL_COAP_NODES_LINK_LOCAL, port: COAP_PORT, zone },
					path: WELL_KNOWN_CORE,
					query: [query],
					confirmable: false,
					leisureMs: options.leisureMs ?? 3000,
				});
				const before = found.size;
				for (const a of answers) for (const p of joinPortsOf(a, zone)) found.set(peerKey(p), p);
				if (found.size > before) break; // the current syntax answered: no need for the old one
			}
		} finally {
			client.close();
		}
	}
	return [...found.values()];
}

/** The join-ports one discovery answer offers; anything malformed is skipped (a neighbour can send anything). */
export function joinPortsOf(answer: ReceivedResponse, zone: string): UdpPeer[] {
	if (answer.code !== Code.Content) return [];
	let links;
	try {
		links = parseLinkFormat(utf8Decode(answer.payload));
	} catch (e) {
		if (e instanceof LinkFormatError || e instanceof RangeError) return [];
		throw e;
	}
	const out: UdpPeer[] = [];
	const add = (port: number): void => {
		if (Number.isInteger(port) && port > 0 && port < 65536) out.push({ address: answer.peer.address, port, zone: answer.peer.zone || zone });
	};
	for (const link of links) {
		const jp = attribute(link, "brski-jp");
		if (typeof jp === "string" && /^[0-9]{1,5}$/.test(jp)) {
			add(Number(jp));
			continue;
		}
		const rt = attribute(link, "rt");
		if (typeof rt === "string" && rt.split(" ").includes(RT_BRSKI_JP)) {
			try {
				add(parseCoapUri(link.target).port);
			} catch (e) {
				if (!(e instanceof CoapUriError)) throw e;
			}
		}
	}
	return out;
}
