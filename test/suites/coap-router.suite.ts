import { suite } from "../lib/harness.js";
import { deepEqual, equal, throws } from "../lib/assert.js";
import { Code, ContentFormat, GET, POST } from "../../modules/coap/constants.js";
import type { CoapRequest } from "../../modules/coap/endpoint.js";
import { parseLinkFormat } from "../../modules/coap/link-format.js";
import { CoapRouter } from "../../modules/coap/router.js";
import { CoapUriError, parseCoapUri } from "../../modules/coap/uri.js";
import { utf8Decode } from "../../modules/util/utf8.js";

function req(method: number, path: string, query: string[] = [], multicast = false): CoapRequest {
	return {
		method,
		path: path.split("/").filter((s) => s),
		query,
		options: [],
		payload: new Uint8Array(0),
		peer: { address: "fe80::2", port: 1000, zone: "wpan0" },
		multicast,
		confirmable: !multicast,
	};
}

function router(): CoapRouter {
	return new CoapRouter()
		.add("/sensors/temp", { get: () => ({ code: Code.Content }), link: [{ name: "rt", value: "temperature-c" }, { name: "if", value: "sensor" }] })
		.add("/hidden", { post: () => ({ code: Code.Changed }) })
		.addLink({ target: "", attributes: [{ name: "brski-jp", value: "5684" }] });
}

export default suite("coap router and URIs", (test) => {
	test("dispatches by path and method: 4.04, 4.05", () => {
		const r = router();
		equal((r.handler(req(GET, "/sensors/temp")) as { code: number }).code, Code.Content);
		equal((r.handler(req(GET, "/nope")) as { code: number }).code, Code.NotFound);
		equal((r.handler(req(GET, "/hidden")) as { code: number }).code, Code.MethodNotAllowed);
		equal((r.handler(req(POST, "/hidden")) as { code: number }).code, Code.Changed);
	});

	test("/.well-known/core lists advertised resources and extra links, filtered by query", () => {
		const r = router();
		const all = r.handler(req(GET, "/.well-known/core")) as { code: number; payload: Uint8Array; contentFormat: number };
		equal(all.contentFormat, ContentFormat.LinkFormat);
		deepEqual(parseLinkFormat(utf8Decode(all.payload)).map((l) => l.target), ["/sensors/temp", ""]);
		const jp = r.handler(req(GET, "/.well-known/core", ["brski-jp=*"])) as { payload: Uint8Array };
		equal(utf8Decode(jp.payload), "<>;brski-jp=5684");
		const none = r.handler(req(GET, "/.well-known/core", ["rt=brski.rjp"])) as { code: number; payload: Uint8Array };
		equal(none.code, Code.Content);
		equal(none.payload.length, 0);
		equal(r.handler(req(GET, "/.well-known/core", ["rt=brski.rjp"], true)), null, "no answer to an unmatched multicast query");
	});

	test("coap URIs: IPv6 literals with zones, ports, percent-decoded path and query", () => {
		deepEqual(parseCoapUri("coap://[fe80::1%25wpan0]:5683/.well-known/core?rt=brski*"), {
			scheme: "coap",
			host: "fe80::1",
			zone: "wpan0",
			port: 5683,
			path: [".well-known", "core"],
			query: ["rt=brski*"],
		});
		const u = parseCoapUri("coaps://[2001:db8::1]/a%20b/c?x=1&y=%C3%A4");
		equal(u.port, 5684);
		deepEqual(u.path, ["a b", "c"]);
		deepEqual(u.query, ["x=1", "y=ä"]);
		equal(parseCoapUri("coap://[fe80::1%eth0]").zone, "eth0");
		equal(parseCoapUri("coap://localhost:1234").port, 1234);
		for (const bad of ["http://x/", "coap://", "coap://[::1]:0/", "coap://[::1]:70000/", "coap://[::1]/%zz", "coap://[::1"]) {
			throws(() => parseCoapUri(bad), CoapUriError, bad);
		}
	});
});
