/*
 * Finding Registrars (draft-ietf-anima-constrained-join-proxy-20 §5.1): a multicast GET of
 * /.well-known/core at ff05::fd, first for `rt=brski.rjp` (stateless: `<jpy://[addr]:port>`), then
 * for `rt=brski` (stateful: `<coaps://[addr]:port/path>`, port 5684 when elided). Wildcard queries
 * such as rt=brski* are never sent (§5.1).
 */

import type { UdpPeer } from "../../hosts/host.js";
import { ALL_COAP_NODES_SITE_LOCAL, COAPS_PORT, COAP_PORT, ContentFormat, Opt, codeClass } from "../../modules/coap/constants.js";
import type { CoapEndpoint } from "../../modules/coap/endpoint.js";
import { filterLinks, LinkFormatError, parseLinkFormat } from "../../modules/coap/link-format.js";
import { uintOptionValue } from "../../modules/coap/message.js";
import { utf8Decode } from "../../modules/util/utf8.js";
import { canonicalIPv6, isLinkLocal } from "../../modules/util/ipv6.js";

export type RelayMode = "stateful" | "stateless";

export interface RegistrarEntry {
	mode: RelayMode;
	/** Registrar address; for stateless the JPY port, for stateful the CoAPS (DTLS) port. */
	address: string;
	port: number;
	zone: string;
}

/** rt values (draft §8.1, cBRSKI). */
export const RT_REGISTRAR_JPY = "brski.rjp";
export const RT_REGISTRAR = "brski";

/**
 * `<jpy://[addr]:port>` (port required, path ignored, §4.5.1) or `<coaps://[addr]:port/...>` (port
 * optional). Undefined for anything else, including host names (a join proxy has no DNS).
 */
export function registrarFromTarget(target: string, mode: RelayMode): { address: string; port: number } | undefined {
	const m = /^(jpy|coaps):\/\/\[([0-9a-fA-F:]+)\](?::(\d{1,5}))?(\/.*)?$/.exec(target);
	if (m === null) return undefined;
	if ((mode === "stateless") !== (m[1] === "jpy")) return undefined;
	const address = canonicalIPv6(m[2]!);
	if (address === undefined) return undefined;
	if (m[3] === undefined && mode === "stateless") return undefined; // §4.5.1 MUST: explicit port
	const port = m[3] === undefined ? COAPS_PORT : Number(m[3]);
	if (!(port > 0 && port < 65536)) return undefined;
	return { address, port };
}

export interface DiscoveryOptions {
	endpoint: CoapEndpoint;
	/** Interface to send the multicast query on (Registrar-facing). */
	zone: string;
	group?: string;
	leisureMs?: number;
	/** Which modes to look for, in the draft's order of precedence. */
	modes: RelayMode[];
}

/** Registrars of the first mode (in `modes` order) that any responder offers; [] when none. */
export async function discoverRegistrars(options: DiscoveryOptions): Promise<RegistrarEntry[]> {
	const group: UdpPeer = { address: options.group ?? ALL_COAP_NODES_SITE_LOCAL, port: COAP_PORT, zone: options.zone };
	for (const mode of options.modes) {
		const rt = mode === "stateless" ? RT_REGISTRAR_JPY : RT_REGISTRAR;
		const req: Parameters<CoapEndpoint["multicastRequest"]>[0] = { peer: group, path: ".well-known/core", query: [`rt=${rt}`] };
		if (options.leisureMs !== undefined) req.leisureMs = options.leisureMs;
		const responses = await options.endpoint.multicastRequest(req);
		const found: RegistrarEntry[] = [];
		for (const res of responses) {
			if (codeClass(res.code) !== 2) continue;
			const cf = uintOptionValue(res, Opt.ContentFormat);
			if (cf !== undefined && cf !== ContentFormat.LinkFormat) continue;
			let links;
			try {
				links = filterLinks(parseLinkFormat(utf8Decode(res.payload)), [`rt=${rt}`]);
			} catch (e) {
				if (e instanceof LinkFormatError) continue; // a neighbour's garbage is not our problem
				throw e;
			}
			for (const link of links) {
				const r = registrarFromTarget(link.target, mode);
				if (r === undefined) continue;
				if (found.some((f) => f.address === r.address && f.port === r.port)) continue;
				// A global address needs no zone; a link-local one is reached where the answer came from.
				found.push({ mode, address: r.address, port: r.port, zone: isLinkLocal(r.address) ? res.peer.zone || options.zone : "" });
			}
		}
		if (found.length > 0) return found;
	}
	return [];
}
