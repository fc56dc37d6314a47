/*
 * Resources by path, with method dispatch and RFC 6690 discovery: GET /.well-known/core lists every
 * resource that has link attributes, plus any extra links (a Join Proxy's `<>;brski-jp=PORT`),
 * filtered by the request's query (RFC 6690 §4.1).
 */

import { Code, ContentFormat, DELETE, FETCH, GET, POST, PUT } from "./constants.js";
import type { CoapHandler, CoapRequest, CoapResponse } from "./types.js";
import { filterLinks, serializeLinkFormat, type Link, type LinkAttribute } from "./link-format.js";
import { pathSegments } from "./uri.js";
import { utf8Encode } from "../util/utf8.js";

export type MethodHandler = (request: CoapRequest) => CoapResponse | null | Promise<CoapResponse | null>;

export interface ResourceOptions {
	get?: MethodHandler;
	post?: MethodHandler;
	put?: MethodHandler;
	delete?: MethodHandler;
	fetch?: MethodHandler;
	/** Link attributes for /.well-known/core; a resource without them is not advertised. */
	link?: LinkAttribute[];
}

export const WELL_KNOWN_CORE = ".well-known/core";

export class CoapRouter {
	readonly #resources = new Map<string, ResourceOptions>();
	readonly #extraLinks: Link[] = [];

	/** `path` like "/sensors/temp". Replaces an earlier resource at the same path. */
	add(path: string, resource: ResourceOptions): this {
		this.#resources.set(normalize(path), resource);
		return this;
	}

	remove(path: string): void {
		this.#resources.delete(normalize(path));
	}

	/** A link advertised as is in /.well-known/core, e.g. `<>;brski-jp=5684`. */
	addLink(link: Link): this {
		this.#extraLinks.push(link);
		return this;
	}

	links(): Link[] {
		const out: Link[] = [];
		for (const [path, r] of this.#resources) if (r.link !== undefined) out.push({ target: `/${path}`, attributes: r.link });
		return out.concat(this.#extraLinks);
	}

	readonly handler: CoapHandler = (req) => {
		const path = req.path.join("/");
		if (path === WELL_KNOWN_CORE && !this.#resources.has(path)) return this.#discovery(req);
		const r = this.#resources.get(path);
		if (r === undefined) return { code: Code.NotFound };
		const h = req.method === GET ? r.get : req.method === POST ? r.post : req.method === PUT ? r.put : req.method === DELETE ? r.delete : req.method === FETCH ? r.fetch : undefined;
		if (h === undefined) return { code: Code.MethodNotAllowed };
		return h(req);
	};

	#discovery(req: CoapRequest): CoapResponse | null {
		if (req.method !== GET) return { code: Code.MethodNotAllowed };
		const links = filterLinks(this.links(), req.query);
		// RFC 6690 §4.1: a multicast query that matches nothing gets no response at all.
		if (links.length === 0 && req.multicast) return null;
		return { code: Code.Content, contentFormat: ContentFormat.LinkFormat, payload: utf8Encode(serializeLinkFormat(links)) };
	}
}

function normalize(path: string): string {
	return pathSegments(path).join("/");
}
