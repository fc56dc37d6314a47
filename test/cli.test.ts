/* The `cjp` command: help, usage errors, and `cjp coap` client/server over real link-local veths. */

import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { once } from "node:events";
import { fileURLToPath } from "node:url";
import { Namespaces, netnsUnavailable } from "./node-lib/netns.js";
import { unavailable } from "./node-lib/unavailable.js";

const CJP = fileURLToPath(new URL("../bin/cjp.js", import.meta.url));

function cjp(...args: string[]) {
	return spawnSync(process.execPath, [CJP, ...args], { encoding: "utf8", timeout: 30_000 });
}

describe("cjp command line", () => {
	it("--help lists the commands and exits 0", () => {
		const r = cjp("--help");
		assert.equal(r.status, 0);
		assert.match(r.stdout, /coap\s+CoAP client/);
	});

	it("every subcommand has --help", () => {
		const r = cjp("coap", "--help");
		assert.equal(r.status, 0);
		assert.match(r.stdout, /cjp coap serve/);
	});

	it("a bad option, a bad value and an unknown command get one clear line and exit 2", () => {
		const bad = cjp("coap", "get", "coap://[::1]/", "--bogus");
		assert.equal(bad.status, 2);
		assert.match(bad.stderr, /Unknown option '--bogus'/);
		assert.match(bad.stderr, /Try 'cjp coap --help'/);
		const value = cjp("coap", "get", "coap://[::1]/", "--block-size", "100");
		assert.equal(value.status, 2);
		assert.match(value.stderr, /power of two/);
		const uri = cjp("coap", "get", "http://x/");
		assert.equal(uri.status, 2);
		assert.match(uri.stderr, /not a coap/);
		const unknown = cjp("frobnicate");
		assert.equal(unknown.status, 2);
		assert.match(unknown.stderr, /unknown command "frobnicate"/);
	});
});

describe("cjp coap over link-local veths in network namespaces", () => {
	const why = netnsUnavailable();
	const net = new Namespaces("cli");
	let server = "";
	let client = "";

	before(async () => {
		if (why !== undefined) return;
		server = net.add("srv");
		client = net.add("cli");
		net.link(server, "jp0", "fe80::a", client, "pl0", "fe80::b");
		const child = net.spawn(server, process.execPath, [CJP, "coap", "serve", "--zone", "jp0", "--group", "ff02::fd", "--leisure", "300", "--link", "<>;brski-jp=5684"]);
		let log = "";
		child.stderr!.on("data", (d: Buffer) => (log += d.toString()));
		const deadline = Date.now() + 15_000;
		while (!log.includes("serving on")) {
			if (Date.now() > deadline || child.exitCode !== null) throw new Error(`server did not start: ${log}`);
			await Promise.race([once(child.stderr!, "data"), new Promise((r) => setTimeout(r, 200))]);
		}
	});
	after(() => net.close());

	it("unicast GET to a link-local address with its zone", (t) => {
		if (unavailable(t, why)) return;
		const r = net.run(client, process.execPath, [CJP, "coap", "get", "coap://[fe80::a%25pl0]/.well-known/core"]);
		assert.equal(r.status, 0, r.stderr);
		assert.equal(r.stdout, "<>;brski-jp=5684");
	});

	it("multicast discovery at ff02::fd finds the server by its link-local address", (t) => {
		if (unavailable(t, why)) return;
		const r = spawnSync("ip", ["netns", "exec", client, process.execPath, CJP, "coap", "get", "coap://[ff02::fd%pl0]/.well-known/core?brski-jp=*", "--leisure", "1500"], { encoding: "utf8", timeout: 30_000 });
		assert.equal(r.status, 0, r.stderr);
		assert.equal(r.stdout.trim(), "[fe80::a%pl0]:5683 <>;brski-jp=5684");
		assert.match(r.stderr, /1 response/);
	});

	it("a multicast query nobody matches gets no answer (RFC 6690 §4.1)", (t) => {
		if (unavailable(t, why)) return;
		const r = spawnSync("ip", ["netns", "exec", client, process.execPath, CJP, "coap", "get", "coap://[ff02::fd%pl0]/.well-known/core?rt=brski.rjp", "--leisure", "1500"], { encoding: "utf8", timeout: 30_000 });
		assert.equal(r.status, 1);
		assert.match(r.stderr, /0 response/);
	});
});
