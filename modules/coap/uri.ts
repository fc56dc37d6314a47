/*
 * coap:// and coaps:// URIs (RFC 7252 §6) to request parts and back. IPv6 literals may carry a zone
 * written "%25zone" (RFC 6874) or, as people type it, "%zone".
 */

import { COAPS_PORT, COAP_PORT } from "./constants.js";

export interface CoapUri {
	scheme: "coap" | "coaps";
	/** Host without brackets or zone. */
	host: string;
	zone: string;
	port: number;
	path: string[];
	query: string[];
}

export class CoapUriError extends Error {
	override readonly name = "CoapUriError";
}

/** "/a//b/" or ["a", "b"] to ["a", "b"]: empty segments are dropped. */
export function pathSegments(path: string | string[] | undefined): string[] {
	if (path === undefined) return [];
	if (Array.isArray(path)) return path;
	return path.split("/").filter((s) => s.length > 0);
}

function pctDecode(s: string): string {
	try {
		return decodeURIComponent(s);
	} catch {
		throw new CoapUriError(`bad percent-encoding in "${s}"`);
	}
}

export function parseCoapUri(text: string): CoapUri {
	const m = /^(coaps?):\/\/(\[[^\]]*\]|[^/?#:[\]]*)(?::(\d+))?([^?#]*)(?:\?([^#]*))?$/i.exec(text);
	if (m === null) throw new CoapUriError(`not a coap:// or coaps:// URI: ${text}`);
	const scheme = m[1]!.toLowerCase() as "coap" | "coaps";
	let host = m[2]!;
	let zone = "";
	if (host.startsWith("[")) {
		host = host.slice(1, -1);
		const z = host.indexOf("%");
		if (z >= 0) {
			zone = pctDecode(host.slice(z).replace(/^%25/, "%").slice(1));
			host = host.slice(0, z);
		}
	}
	if (host === "") throw new CoapUriError(`URI without a host: ${text}`);
	const port = m[3] === undefined ? (scheme === "coaps" ? COAPS_PORT : COAP_PORT) : Number(m[3]);
	if (!(port > 0 && port < 65536)) throw new CoapUriError(`bad port in ${text}`);
	const path = pathSegments(m[4]).map(pctDecode);
	const query = m[5] === undefined || m[5] === "" ? [] : m[5].split("&").map(pctDecode);
	return { scheme, host, zone, port, path, query };
}
