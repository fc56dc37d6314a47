import { suite } from "../lib/harness.js";
import { deepEqual, equal, ok, rejects } from "../lib/assert.js";
import { runFor, until } from "../lib/drive.js";
import { ManualClock, MemoryNetwork, SeededRandom, createXsHost, type InFlight } from "../../hosts/xs/index.js";
import type { Host, UdpPeer } from "../../hosts/host.js";
import { ACK, ALL_COAP_NODES_LINK_LOCAL, CON, Code, NON, Opt, POST, PUT, RST } from "../../modules/coap/constants.js";
import { CoapClosedError, CoapResetError, CoapTimeoutError } from "../../modules/coap/errors.js";
import { decode, encode, findOption, option, uintOptionValue } from "../../modules/coap/message.js";
import { CoapEndpoint } from "../../modules/coap/endpoint.js";
import { decodeBlock } from "../../modules/coap/block.js";
import type { CoapHandler, CoapRequest } from "../../modules/coap/endpoint.js";
import { openUdpCoap, type UdpCoapOptions } from "../../modules/coap/udp-endpoint.js";
import { utf8Decode, utf8Encode } from "../../modules/util/utf8.js";

interface World {
	clock: ManualClock;
	net: MemoryNetwork;
	trace: InFlight[];
	host(name: string, address: string): Host;
}

function world(filter?: (d: InFlight) => boolean): World {
	const clock = new ManualClock();
	const trace: InFlight[] = [];
	const net = new MemoryNetwork({
		clock,
		filter: (d) => {
			trace.push(d);
			return filter === undefined ? true : filter(d);
		},
	});
	return {
		clock,
		net,
		trace,
		host: (name, address) => createXsHost({ network: net, name, interfaces: [{ name: "wpan0", link: "mesh", addresses: [address] }] }),
	};
}

const SERVER: UdpPeer = { address: "fe80::1", port: 5683, zone: "wpan0" };

function pattern(n: number): Uint8Array {
	const b = new Uint8Array(n);
	for (let i = 0; i < n; i++) b[i] = (i * 7 + (i >> 8)) & 0xff;
	return b;
}

async function pair(w: World, handler: CoapHandler, serverOptions: UdpCoapOptions = {}, clientOptions: UdpCoapOptions = {}) {
	const server = await openUdpCoap(w.host("server", "fe80::1"), { port: 5683, handler, ...serverOptions });
	const client = await openUdpCoap(w.host("client", "fe80::2"), clientOptions);
	return { server, client };
}

const hello: CoapHandler = (req) => ({ code: Code.Content, payload: utf8Encode(`hello ${req.path.join("/")}`) });

export default suite("coap endpoint", (test) => {
	test("a transport that refuses a reply, or a reply that does not encode, costs only that message: counted, logged, a 5.00 instead", async () => {
		const clock = new ManualClock();
		const random = new SeededRandom(11);
		const sent: Uint8Array[] = [];
		const logs: string[] = [];
		let refuse = false;
		const endpoint = new CoapEndpoint({
			clock,
			random: (b) => random.fill(b),
			log: (_level, message) => logs.push(message),
			transport: {
				send: (d) => {
					if (refuse) throw new RangeError("application data over the record limit of 512 bytes");
					sent.push(d);
				},
			},
			handler: (req) => {
				if (req.path[0] === "bad") return { code: Code.Content, options: [option(70_000, "")] };
				const res = { code: Code.Content, payload: pattern(100) };
				return req.path[0] === "slow" ? new Promise((resolve) => clock.timer(() => resolve(res)).arm(10)) : res;
			},
		});
		const from = { address: "fe80::2", port: 40000, zone: "wpan0", multicast: false };
		const get = (mid: number, path: string): Uint8Array => encode({ type: CON, code: 1, messageId: mid, token: new Uint8Array([mid]), options: [option(Opt.UriPath, path)], payload: new Uint8Array(0) });
		refuse = true;
		// From the socket callback (synchronous handler) and from a promise continuation (slow one).
		endpoint.receive(get(1, "fast"), from);
		endpoint.receive(get(2, "slow"), from);
		await runFor(clock, 100);
		equal(endpoint.stats().sendErrors, 2);
		equal(logs.length, 2);
		ok(logs.every((l) => /not sent: application data over the record limit/.test(l)), logs.join("; "));
		refuse = false;
		endpoint.receive(get(3, "bad"), from);
		const reply = decode(sent[0]!);
		deepEqual([reply.type, reply.code, reply.messageId], [ACK, Code.InternalServerError, 3]);
		equal(endpoint.stats().sendErrors, 3);
		endpoint.close();
	});

	test("CON GET gets a piggybacked response over link-local addresses", async () => {
		const w = world();
		let seen: CoapRequest | undefined;
		const { server, client } = await pair(w, (req) => {
			seen = req;
			return hello(req);
		});
		const res = await until(w.clock, client.endpoint.request({ peer: SERVER, path: "/a/b", query: ["x=1"] }));
		equal(res.code, Code.Content);
		equal(utf8Decode(res.payload), "hello a/b");
		equal(seen!.peer.address, "fe80::2");
		equal(seen!.peer.zone, "wpan0");
		deepEqual(seen!.query, ["x=1"]);
		equal(w.trace.length, 2, "request and piggybacked ACK only");
		equal(decode(w.trace[1]!.data).type, ACK);
		server.close();
		client.close();
	});

	test("a lost request is retransmitted after ACK_TIMEOUT..ACK_TIMEOUT*1.5", async () => {
		let dropped = 0;
		let sentAt = -1;
		let retransmittedAt = -1;
		const w = world((d) => {
			if (d.to.port !== 5683) return true;
			if (sentAt < 0) sentAt = w.clock.now();
			else if (retransmittedAt < 0) retransmittedAt = w.clock.now();
			return dropped++ > 0;
		});
		const { server, client } = await pair(w, hello);
		const res = await until(w.clock, client.endpoint.request({ peer: SERVER, path: "r" }));
		equal(res.code, Code.Content);
		equal(client.endpoint.stats().retransmissions, 1);
		const gap = retransmittedAt - sentAt;
		ok(gap >= 2000 && gap <= 3000, `retransmission after ${gap} ms`);
		server.close();
		client.close();
	});

	test("gives up after MAX_RETRANSMIT with exponential back-off", async () => {
		const w = world((d) => d.to.port !== 5683);
		const { server, client } = await pair(w, hello);
		const start = w.clock.now();
		await rejects(until(w.clock, client.endpoint.request({ peer: SERVER })), CoapTimeoutError);
		const span = w.clock.now() - start;
		equal(w.trace.length, 5, "1 transmission + 4 retransmissions");
		ok(span >= 62_000 && span <= 93_000, `gave up after ${span} ms (31 * initial timeout)`);
		server.close();
		client.close();
	});

	test("retransmission parameters are configurable", async () => {
		const w = world((d) => d.to.port !== 5683);
		const { server, client } = await pair(w, hello, {}, { ackTimeoutMs: 100, ackRandomFactor: 1, maxRetransmit: 2 });
		const start = w.clock.now();
		await rejects(until(w.clock, client.endpoint.request({ peer: SERVER })), CoapTimeoutError);
		equal(w.clock.now() - start, 700);
		equal(w.trace.length, 3);
		server.close();
		client.close();
	});

	test("the back-off interval can be capped (a pledge behind a stateful join proxy)", async () => {
		const w = world((d) => d.to.port !== 5683);
		const { server, client } = await pair(w, hello, {}, { ackTimeoutMs: 500, ackRandomFactor: 1, maxRetransmit: 4, maxRetransmitIntervalMs: 1000 });
		const start = w.clock.now();
		await rejects(until(w.clock, client.endpoint.request({ peer: SERVER })), CoapTimeoutError);
		equal(w.clock.now() - start, 500 + 1000 + 1000 + 1000 + 1000);
		server.close();
		client.close();
	});

	test("duplicate CON after a lost ACK: handler runs once, the same response is resent", async () => {
		let acks = 0;
		const w = world((d) => !(d.from.port === 5683 && acks++ === 0));
		let calls = 0;
		const { server, client } = await pair(w, (req) => {
			calls++;
			return hello(req);
		});
		const res = await until(w.clock, client.endpoint.request({ peer: SERVER, path: "once" }));
		equal(utf8Decode(res.payload), "hello once");
		equal(calls, 1);
		equal(server.endpoint.stats().duplicates, 1);
		server.close();
		client.close();
	});

	test("slow handler: empty ACK, then a confirmable separate response that the client acknowledges", async () => {
		const w = world();
		const { server, client } = await pair(w, () => new Promise((resolve) => {
			const t = w.clock.timer(() => resolve({ code: Code.Changed, payload: utf8Encode("late") }));
			t.arm(3000);
		}));
		const res = await until(w.clock, client.endpoint.request({ peer: SERVER, method: PUT, payload: utf8Encode("x") }));
		equal(res.code, Code.Changed);
		equal(utf8Decode(res.payload), "late");
		const kinds = w.trace.map((d) => {
			const m = decode(d.data);
			return `${m.type}:${m.code}`;
		});
		deepEqual(kinds, [`${CON}:${PUT}`, `${ACK}:0`, `${CON}:${Code.Changed}`, `${ACK}:0`]);
		await runFor(w.clock, 100_000);
		equal(server.endpoint.stats().retransmissions, 0, "the separate response was acknowledged");
		server.close();
		client.close();
	});

	test("NON request gets a NON response", async () => {
		const w = world();
		const { server, client } = await pair(w, hello);
		const res = await until(w.clock, client.endpoint.request({ peer: SERVER, confirmable: false, path: "n" }));
		equal(utf8Decode(res.payload), "hello n");
		equal(decode(w.trace[1]!.data).type, NON);
		server.close();
		client.close();
	});

	test("an endpoint without a handler resets requests: CoapResetError", async () => {
		const w = world();
		const server = await openUdpCoap(w.host("server", "fe80::1"), { port: 5683 });
		const client = await openUdpCoap(w.host("client", "fe80::2"));
		await rejects(until(w.clock, client.endpoint.request({ peer: SERVER })), CoapResetError);
		equal(decode(w.trace[1]!.data).type, RST);
		server.close();
		client.close();
	});

	test("malformed CON is answered with RST; malformed NON and stray responses are handled per RFC 7252", async () => {
		const w = world();
		const server = await openUdpCoap(w.host("server", "fe80::1"), { port: 5683, handler: hello });
		const raw = await w.host("raw", "fe80::3").udp.bind({ port: 40000, onDatagram: () => {} });
		raw.send(new Uint8Array([0x40, 0x01, 0x00, 0x07, 0xff]), SERVER); // CON, payload marker, no payload
		raw.send(new Uint8Array([0x50, 0x01, 0x00, 0x08, 0xf0]), SERVER); // NON, reserved nibble
		raw.send(new Uint8Array([0x41, 0x45, 0x00, 0x09, 0x99]), SERVER); // CON 2.05 with an unknown token
		raw.send(new Uint8Array([0x40, 0x00, 0x00, 0x0a]), SERVER); // CoAP ping
		await runFor(w.clock, 100);
		const replies = w.trace.filter((d) => d.from.port === 5683).map((d) => decode(d.data));
		deepEqual(replies.map((m) => [m.type, m.messageId]), [[RST, 7], [RST, 9], [RST, 10]]);
		equal(server.endpoint.stats().parseErrors, 2);
		raw.close();
		server.close();
	});

	test("unknown critical option gets 4.02; unknown elective option is ignored", async () => {
		const w = world();
		const { server, client } = await pair(w, hello);
		const bad = await until(w.clock, client.endpoint.request({ peer: SERVER, options: [option(2049, "x")] }));
		equal(bad.code, Code.BadOption);
		const fine = await until(w.clock, client.endpoint.request({ peer: SERVER, options: [option(2048, "x")] }));
		equal(fine.code, Code.Content);
		server.close();
		client.close();
	});

	test("Uri-Path-Abbrev (option 13) stands for its well-known path; unknown, repeated or with Uri-Path: 4.02, never 4.04", async () => {
		const w = world();
		const seen: string[] = [];
		const { server, client } = await pair(w, (req) => {
			seen.push(req.path.join("/"));
			return { code: Code.Changed };
		});
		const ask = (options: ReturnType<typeof option>[]) => until(w.clock, client.endpoint.request({ peer: SERVER, method: POST, options }));
		equal((await ask([option(Opt.UriPathAbbrev, 402)])).code, Code.Changed);
		equal((await ask([option(Opt.UriPathAbbrev, 302)])).code, Code.Changed);
		deepEqual(seen, [".well-known/brski/rv", ".well-known/est/sen"]);
		for (const bad of [[option(Opt.UriPathAbbrev, 999)], [option(Opt.UriPathAbbrev, 402), option(Opt.UriPathAbbrev, 403)], [option(Opt.UriPath, "b"), option(Opt.UriPathAbbrev, 402)]]) {
			equal((await ask(bad)).code, Code.BadOption);
		}
		equal(seen.length, 2);
		server.close();
		client.close();
	});

	test("Block2: a 5000-byte representation in 16-byte blocks, with Size2", async () => {
		const w = world();
		const body = pattern(5000);
		let calls = 0;
		const { server, client } = await pair(w, () => {
			calls++;
			return { code: Code.Content, payload: body };
		});
		const res = await until(w.clock, client.endpoint.request({ peer: SERVER, path: "big", blockSzx: 0 }));
		deepEqual(res.payload, body);
		equal(calls, 1, "later blocks are served from the kept representation");
		equal(w.trace.length, 2 * Math.ceil(5000 / 16));
		const first = decode(w.trace[1]!.data);
		equal(uintOptionValue(first, Opt.Size2), 5000);
		server.close();
		client.close();
	});

	test("Block1: a 3000-byte POST is reassembled for the handler (2.31 Continue between blocks)", async () => {
		const w = world();
		const body = pattern(3000);
		let got: Uint8Array | undefined;
		const { server, client } = await pair(w, (req) => {
			got = req.payload;
			return { code: Code.Changed, payload: utf8Encode(String(req.payload.length)) };
		});
		const res = await until(w.clock, client.endpoint.request({ peer: SERVER, method: POST, path: "up", payload: body, blockSzx: 2 }));
		equal(res.code, Code.Changed);
		deepEqual(got, body);
		const continues = w.trace.filter((d) => d.from.port === 5683 && decode(d.data).code === Code.Continue).length;
		equal(continues, Math.ceil(3000 / 64) - 1);
		const firstReq = decode(w.trace[0]!.data);
		equal(uintOptionValue(firstReq, Opt.Size1), 3000);
		server.close();
		client.close();
	});

	test("Block1 and Block2 together: POST 2000 bytes, 3000-byte response (the EST pattern)", async () => {
		const w = world();
		const reply = pattern(3000);
		const { server, client } = await pair(w, (req) => ({ code: Code.Changed, payload: req.payload.length === 2000 ? reply : new Uint8Array(1) }));
		const res = await until(w.clock, client.endpoint.request({ peer: SERVER, method: POST, path: "sen", payload: pattern(2000), blockSzx: 3 }));
		equal(res.code, Code.Changed);
		deepEqual(res.payload, reply);
		server.close();
		client.close();
	});

	test("server with smaller blocks renegotiates the client's Block1 size (RFC 7959 §2.5)", async () => {
		const w = world();
		const body = pattern(4100);
		let got = 0;
		const { server, client } = await pair(w, (req) => {
			got = req.payload.length;
			return { code: Code.Changed };
		}, { blockSzx: 4 });
		const res = await until(w.clock, client.endpoint.request({ peer: SERVER, method: PUT, payload: body }));
		equal(res.code, Code.Changed);
		equal(got, 4100);
		const sizes = w.trace.filter((d) => d.to.port === 5683).map((d) => decodeBlock(findOption(decode(d.data), Opt.Block1)!.value)!.szx);
		equal(sizes[0], 6);
		ok(sizes.slice(1).every((s) => s === 4), "later blocks use the server's size");
		server.close();
		client.close();
	});

	test("a body over the server's limit gets 4.13 with Size1", async () => {
		const w = world();
		const { server, client } = await pair(w, () => ({ code: Code.Changed }), { maxBodyBytes: 1000 });
		const res = await until(w.clock, client.endpoint.request({ peer: SERVER, method: POST, payload: pattern(5000), blockSzx: 2 }));
		equal(res.code, Code.RequestEntityTooLarge);
		equal(uintOptionValue(res, Opt.Size1), 1000);
		server.close();
		client.close();
	});

	test("multicast request collects every useful response in the leisure window; errors are suppressed", async () => {
		const w = world();
		const servers = [];
		for (let i = 1; i <= 4; i++) {
			servers.push(
				await openUdpCoap(w.host(`s${i}`, `fe80::${i}`), {
					port: 5683,
					zone: "wpan0",
					groups: [ALL_COAP_NODES_LINK_LOCAL],
					multicastLeisureMs: 1000,
					handler: (req) => (i === 4 ? { code: Code.NotFound } : { code: Code.Content, payload: utf8Encode(`s${i}:${req.multicast}`) }),
				}),
			);
		}
		const client = await openUdpCoap(w.host("client", "fe80::99"));
		const responses = await until(w.clock, client.endpoint.multicastRequest({ peer: { address: ALL_COAP_NODES_LINK_LOCAL, port: 5683, zone: "wpan0" }, path: "x", leisureMs: 2000 }));
		deepEqual(responses.map((r) => utf8Decode(r.payload)).sort(), ["s1:true", "s2:true", "s3:true"]);
		ok(responses.every((r) => r.peer.address.startsWith("fe80::")), "responses come from unicast addresses");
		for (const s of servers) s.close();
		client.close();
	});

	test("close() fails pending exchanges with CoapClosedError and leaves no timer armed", async () => {
		const w = world((d) => d.to.port !== 5683);
		const { server, client } = await pair(w, hello);
		const p = client.endpoint.request({ peer: SERVER });
		await runFor(w.clock, 10);
		client.close();
		client.close();
		await rejects(p, CoapClosedError);
		server.close();
		equal(w.clock.nextDue(), undefined);
	});

	test("close() also fails a NON request and one waiting for its separate response: no promise is left hanging", async () => {
		const w = world();
		const { server, client } = await pair(w, () => new Promise(() => {}));
		const separate = client.endpoint.request({ peer: SERVER, method: PUT });
		await runFor(w.clock, 1000); // the server has sent its empty ACK by now
		ok(w.trace.some((d) => d.from.port === 5683 && decode(d.data).type === ACK), "empty ACK seen");
		const non = client.endpoint.request({ peer: SERVER, confirmable: false });
		await runFor(w.clock, 10);
		ok(w.trace.some((d) => d.to.port === 5683 && decode(d.data).type === NON), "NON request sent");
		client.close();
		await rejects(until(w.clock, non, 1000), CoapClosedError);
		await rejects(until(w.clock, separate, 1000), CoapClosedError);
		server.close();
		equal(w.clock.nextDue(), undefined);
	});

	test("NSTART 1 (RFC 7252 §4.7): requests to one server go one at a time, in order; another server is not held up", async () => {
		const w = world();
		const order: string[] = [];
		const { server, client } = await pair(w, (req) => new Promise((resolve) => {
			order.push(req.path.join("/"));
			const t = w.clock.timer(() => resolve(hello(req)));
			t.arm(300);
		}));
		const other = await openUdpCoap(w.host("other", "fe80::5"), { port: 5683, handler: hello });
		const results = ["a", "b", "c"].map((path) => client.endpoint.request({ peer: SERVER, path }));
		const elsewhere = client.endpoint.request({ peer: { address: "fe80::5", port: 5683, zone: "wpan0" }, path: "x" });
		equal(w.trace.filter((d) => d.to.address === "fe80::1").length, 1, "only the first request to the busy server left at once");
		equal(w.trace.filter((d) => d.to.address === "fe80::5").length, 1, "the other server's request did not wait");
		const bodies = await until(w.clock, Promise.all(results));
		deepEqual(bodies.map((r) => utf8Decode(r.payload)), ["hello a", "hello b", "hello c"]);
		deepEqual(order, ["a", "b", "c"]);
		equal(utf8Decode((await until(w.clock, elsewhere)).payload), "hello x");
		const kinds = w.trace.filter((d) => d.to.address === "fe80::1" || d.from.address === "fe80::1").map((d) => (d.to.address === "fe80::1" ? "req" : "res"));
		deepEqual(kinds, ["req", "res", "req", "res", "req", "res"]);
		ok(w.clock.now() >= 900, "three 300 ms handlers one after another");
		other.close();
		server.close();
		client.close();
	});

	test("NSTART: an empty ACK ends the interaction, so the next request goes before the separate response", async () => {
		const w = world();
		const { server, client } = await pair(w, (req) => new Promise((resolve) => {
			const t = w.clock.timer(() => resolve(hello(req)));
			t.arm(req.path[0] === "slow" ? 5000 : 0);
		}));
		const slow = client.endpoint.request({ peer: SERVER, path: "slow" });
		const quick = client.endpoint.request({ peer: SERVER, path: "quick" });
		const res = await until(w.clock, quick);
		equal(utf8Decode(res.payload), "hello quick");
		ok(w.clock.now() < 1000, `the second request went after the empty ACK (done at ${w.clock.now()} ms)`);
		equal(utf8Decode((await until(w.clock, slow)).payload), "hello slow");
		server.close();
		client.close();
	});

	test("NSTART: a request given up on frees the server for the next; nstart is configurable", async () => {
		const w = world((d) => !(d.to.port === 5683 && decode(d.data).code === PUT));
		const { server, client } = await pair(w, hello, {}, { ackTimeoutMs: 100, ackRandomFactor: 1, maxRetransmit: 1 });
		const lost = client.endpoint.request({ peer: SERVER, method: PUT });
		const next = client.endpoint.request({ peer: SERVER, path: "next" });
		await rejects(until(w.clock, lost), CoapTimeoutError);
		equal(utf8Decode((await until(w.clock, next)).payload), "hello next");
		server.close();
		client.close();

		const w2 = world();
		const slowly: CoapHandler = (req) => new Promise((resolve) => {
			const t = w2.clock.timer(() => resolve(hello(req)));
			t.arm(300);
		});
		const two = await pair(w2, slowly, {}, { nstart: 2 });
		const three = [1, 2, 3].map((i) => two.client.endpoint.request({ peer: SERVER, path: `p${i}` }));
		equal(w2.trace.length, 2, "two requests at once with nstart 2");
		await until(w2.clock, Promise.all(three));
		two.server.close();
		two.client.close();
		await rejects(Promise.resolve().then(() => openUdpCoap(w2.host("bad", "fe80::9"), { nstart: 0 })), RangeError);
	});

	test("NSTART: a queued request that cannot be encoded fails alone; close() fails the ones still queued", async () => {
		const w = world();
		const { server, client } = await pair(w, (req) => new Promise((resolve) => {
			const t = w.clock.timer(() => resolve(hello(req)));
			t.arm(300);
		}));
		const first = client.endpoint.request({ peer: SERVER, path: "1" });
		const broken = client.endpoint.request({ peer: SERVER, options: [{ number: 70000, value: new Uint8Array(0) }] });
		const after = client.endpoint.request({ peer: SERVER, path: "3" });
		await rejects(until(w.clock, broken), RangeError);
		equal(utf8Decode((await until(w.clock, first)).payload), "hello 1");
		equal(utf8Decode((await until(w.clock, after)).payload), "hello 3");
		const busy = client.endpoint.request({ peer: SERVER, path: "4" });
		const queued = client.endpoint.request({ peer: SERVER, path: "5" });
		client.close();
		await rejects(busy, CoapClosedError);
		await rejects(queued, CoapClosedError);
		server.close();
		await runFor(w.clock, 1000); // the handler's own timer
		equal(w.clock.nextDue(), undefined);
	});

	test("20% random loss: 20 block-wise exchanges complete with MAX_RETRANSMIT raised to 8", async () => {
		const r = new SeededRandom(20);
		const w = world(() => r.float() >= 0.2);
		const body = pattern(700);
		const { server, client } = await pair(w, (req) => ({ code: Code.Changed, payload: req.payload }), { maxRetransmit: 8 }, { blockSzx: 2, maxRetransmit: 8 });
		for (let i = 0; i < 20; i++) {
			const res = await until(w.clock, client.endpoint.request({ peer: SERVER, method: POST, path: `r${i}`, payload: body }));
			deepEqual(res.payload, body, `exchange ${i}`);
		}
		ok(client.endpoint.stats().retransmissions > 0);
		server.close();
		client.close();
	});
});
