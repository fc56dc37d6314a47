/* The Registrar's JPY endpoint (src/registrar/jpy-endpoint.ts): draft vectors, session demux, bad input. */

import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { ManualClock, MemoryNetwork, createXsHost } from "../hosts/xs/index.js";
import type { UdpArrival } from "../hosts/host.js";
import { JpyEndpoint, MAX_JPY_CONTENT, MAX_JPY_DATAGRAM, MAX_JPY_HEADER, type JpyEndpointOptions, type JpySession } from "../src/registrar/jpy-endpoint.js";
import { openJpyUdpBridge } from "../src/registrar/udp-bridge.js";
import { decodeJpy, encodeJpyInto, jpyEncodedLength } from "../modules/jpy/message.js";
import { fromHex, toHex } from "../modules/util/hex.js";
import { runFor } from "./lib/drive.js";
import { VECTORS_DIR } from "./node-lib/vectors.js";

const vector = (name: string): Uint8Array => fromHex(readFileSync(join(VECTORS_DIR, "cbrski", name), "utf8"));
const REQUEST = vector("jpy-clienthello-from-joinproxy.cbor.hex");
const REPLY = vector("jpy-helloverifyrequest-from-registrar.cbor.hex");

type Limits = Omit<JpyEndpointOptions, "host" | "onSession" | "port" | "address">;

/** [header, content] as a JPY datagram. */
function jpy(header: Uint8Array, content: Uint8Array): Uint8Array {
	const out = new Uint8Array(jpyEncodedLength(header.length, content.length));
	encodeJpyInto(header, content, out, 0);
	return out;
}

/** A distinct 16-byte header per n, like a proxy's encrypted state. */
const headerOf = (n: number): Uint8Array => Uint8Array.from({ length: 16 }, (_, i) => (n >> (8 * (i % 4))) & 0xff ^ i);

async function setup(options: Limits = {}) {
	const clock = new ManualClock();
	const net = new MemoryNetwork({ clock, maxDatagram: 65_507 });
	const registrar = createXsHost({ network: net, name: "registrar", interfaces: [{ name: "eth0", link: "lan", addresses: ["2001:db8::2"] }] });
	const proxy = createXsHost({ network: net, name: "proxy", interfaces: [{ name: "eth0", link: "lan", addresses: ["2001:db8::1"] }] });
	const other = createXsHost({ network: net, name: "other", interfaces: [{ name: "eth0", link: "lan", addresses: ["2001:db8::3"] }] });
	const sessions: { session: JpySession; contents: Uint8Array[]; closed: boolean }[] = [];
	const endpoint = await JpyEndpoint.open({
		host: registrar,
		port: 7634,
		...options,
		onSession: (session) => {
			const s = { session, contents: [] as Uint8Array[], closed: false };
			sessions.push(s);
			return { datagram: (c) => s.contents.push(c), closed: () => (s.closed = true) };
		},
	});
	const received: { data: Uint8Array; from: UdpArrival }[] = [];
	const sock = (port: number) => proxy.udp.bind({ port, onDatagram: (data, from) => received.push({ data: data.slice(), from: { ...from } }) });
	const otherSock = (port: number) => other.udp.bind({ port, onDatagram: () => {} });
	return { clock, endpoint, sessions, received, sock, otherSock, to: { address: "2001:db8::2", port: 7634, zone: "" } };
}

describe("Registrar JPY endpoint", () => {
	it("draft Appendix A: reads the 448-byte request, echoes its 16-byte header, reproduces the 80-byte reply", async () => {
		const t = await setup();
		const v = decodeJpy(REQUEST);
		assert.equal(REQUEST.length, 448);
		assert.equal(v.headerLength, 16);
		assert.equal(v.contentLength, 427);
		const proxy = await t.sock(50000);
		proxy.send(REQUEST, t.to);
		await runFor(t.clock, 10);
		assert.equal(t.sessions.length, 1);
		const s = t.sessions[0]!;
		assert.equal(toHex(s.session.header), "d01914bcc376a88ffecc50ca6017b0c1");
		assert.deepEqual(s.contents, [REQUEST.slice(v.contentStart)]);
		const hvr = decodeJpy(REPLY);
		s.session.send(REPLY.slice(hvr.contentStart, hvr.contentStart + hvr.contentLength));
		await runFor(t.clock, 10);
		assert.equal(t.received.length, 1);
		assert.equal(toHex(t.received[0]!.data), toHex(REPLY), "byte for byte the draft's reply");
		t.endpoint.close();
	});

	it("tells sessions apart by (proxy address, port, header); accepts extra array elements", async () => {
		const t = await setup();
		const a = await t.sock(50000);
		const b = await t.sock(50001);
		const msg = (h: number, c: number, extra = false) => new Uint8Array([extra ? 0x83 : 0x82, 0x41, h, 0x41, c, ...(extra ? [0xf6] : [])]);
		a.send(msg(1, 10), t.to);
		a.send(msg(2, 20), t.to);
		a.send(msg(1, 11, true), t.to);
		b.send(msg(1, 30), t.to);
		await runFor(t.clock, 10);
		assert.deepEqual(
			t.sessions.map((s) => [s.session.proxy.port, toHex(s.session.header), s.contents.map((c) => c[0])]),
			[[50000, "01", [10, 11]], [50000, "02", [20]], [50001, "01", [30]]],
		);
		for (const s of t.sessions) s.session.send(new Uint8Array([0xee]));
		await runFor(t.clock, 10);
		assert.deepEqual(t.received.map((r) => [r.from.port === 7634, toHex(r.data)]), [[true, "824101" + "41ee"], [true, "824102" + "41ee"], [true, "824101" + "41ee"]]);
		t.endpoint.close();
	});

	it("drops what is not JPY (short arrays, non-bstr, trailing bytes) without a session", async () => {
		const t = await setup();
		const a = await t.sock(50000);
		for (const hex of ["81414101", "8241014101ff", "82010203", "a0", "", "8241"]) a.send(fromHex(hex), t.to);
		await runFor(t.clock, 10);
		assert.equal(t.sessions.length, 0);
		assert.equal(t.endpoint.stats().badJpy, 6);
		t.endpoint.close();
	});

	it("closes idle sessions, and all of them on close()", async () => {
		const t = await setup({ idleTimeoutMs: 10_000 });
		const a = await t.sock(50000);
		a.send(REQUEST, t.to);
		await runFor(t.clock, 20_000);
		assert.equal(t.sessions[0]!.closed, true);
		assert.equal(t.endpoint.stats().sessionsActive, 0);
		a.send(REQUEST, t.to);
		await runFor(t.clock, 10);
		assert.equal(t.sessions.length, 2, "the next datagram opens a new session");
		t.endpoint.close();
		t.endpoint.close();
		assert.equal(t.sessions[1]!.closed, true);
		assert.equal(t.clock.nextDue(), undefined);
	});

	it("refuses headers over MAX_JPY_HEADER, contents over MAX_JPY_CONTENT and datagrams over MAX_JPY_DATAGRAM: a 60 KB-header flood opens nothing", async () => {
		const t = await setup();
		const a = await t.sock(50000);
		assert.equal(MAX_JPY_HEADER, 64);
		assert.equal(MAX_JPY_DATAGRAM, 1 + 2 + 64 + 3 + 1232);
		const big = new Uint8Array(60_000);
		for (let i = 0; i < 1000; i++) {
			big[0] = i & 0xff;
			big[1] = i >> 8;
			a.send(jpy(big, new Uint8Array([0x16])), t.to);
			if (i % 100 === 99) await runFor(t.clock, 1);
		}
		a.send(jpy(new Uint8Array(MAX_JPY_HEADER + 1), new Uint8Array(1)), t.to); // short datagram, long header
		a.send(jpy(new Uint8Array(1), new Uint8Array(MAX_JPY_CONTENT + 1)), t.to); // long content
		await runFor(t.clock, 10);
		assert.equal(t.sessions.length, 0);
		assert.deepEqual([t.endpoint.stats().tooLarge, t.endpoint.stats().sessionsActive, t.endpoint.stats().datagramsIn], [1002, 0, 0]);
		a.send(jpy(new Uint8Array(MAX_JPY_HEADER).fill(7), new Uint8Array(MAX_JPY_CONTENT)), t.to); // both at their limit
		await runFor(t.clock, 10);
		assert.equal(t.sessions.length, 1);
		assert.equal(t.sessions[0]!.contents[0]!.length, MAX_JPY_CONTENT);
		t.endpoint.close();
	});

	it("limits new sessions per proxy address with a token bucket; other proxies are not affected", async () => {
		const t = await setup({ newSessionsPerSecond: 10, newSessionsBurst: 20 });
		const a = await t.sock(50000);
		const a2 = await t.sock(50001); // same proxy address, another port: the same bucket
		const b = await t.otherSock(50000);
		for (let i = 0; i < 60; i++) (i % 2 === 0 ? a : a2).send(jpy(headerOf(i), new Uint8Array([1])), t.to);
		for (let i = 0; i < 5; i++) b.send(jpy(headerOf(i), new Uint8Array([1])), t.to);
		await runFor(t.clock, 10);
		assert.deepEqual([t.endpoint.stats().sessionsOpened, t.endpoint.stats().sessionsRefused], [25, 40]);
		await runFor(t.clock, 1000); // 10 more tokens
		for (let i = 100; i < 130; i++) a.send(jpy(headerOf(i), new Uint8Array([1])), t.to);
		await runFor(t.clock, 10);
		assert.deepEqual([t.endpoint.stats().sessionsOpened, t.endpoint.stats().sessionsRefused], [35, 60]);
		// Datagrams of sessions already open pass whatever the bucket holds.
		a.send(jpy(headerOf(0), new Uint8Array([2])), t.to);
		await runFor(t.clock, 10);
		assert.deepEqual(t.sessions[0]!.contents.map((c) => c[0]), [1, 2]);
		t.endpoint.close();
	});

	it("established sessions survive a flood of fresh headers, from their own proxy and from another; sessions stay within the caps", async () => {
		const t = await setup({ maxSessions: 40, maxSessionsPerProxy: 30, newSessionsPerSecond: 100, newSessionsBurst: 100 });
		const a = await t.sock(50000);
		const b = await t.otherSock(50000);
		// Five pledges complete a round trip: datagram in, our reply out, their next datagram in.
		for (let i = 0; i < 5; i++) a.send(jpy(headerOf(i), new Uint8Array([1])), t.to);
		await runFor(t.clock, 10);
		for (const s of t.sessions) s.session.send(new Uint8Array([0xee]));
		for (let i = 0; i < 5; i++) a.send(jpy(headerOf(i), new Uint8Array([2])), t.to);
		await runFor(t.clock, 10);
		const established = t.sessions.slice(0, 5);
		// The flood: 3000 fresh headers over 60 s of clock from the same proxy, then from another one.
		for (const [sock, base] of [[a, 1000], [b, 10_000]] as const) {
			for (let i = 0; i < 1500; i++) {
				sock.send(jpy(headerOf(base + i), new Uint8Array([0x16])), t.to);
				if (i % 50 === 49) await runFor(t.clock, 1000);
				assert.ok(t.endpoint.stats().sessionsActive <= 40);
			}
		}
		// The established pledges, still here (they talk now and then, as a handshake in progress does).
		for (let i = 0; i < 5; i++) a.send(jpy(headerOf(i), new Uint8Array([3])), t.to);
		await runFor(t.clock, 10);
		assert.deepEqual(established.map((s) => [s.closed, s.contents.map((c) => c[0])]), Array(5).fill([false, [1, 2, 3]]));
		const st = t.endpoint.stats();
		assert.ok(st.sessionsEvicted > 2000, `evicted ${st.sessionsEvicted}`);
		assert.ok(st.sessionsActive <= 40);
		t.endpoint.close();
	});

	it("only accepted traffic keeps a session alive: refused datagrams and our own sends do not", async () => {
		const t = await setup({ idleTimeoutMs: 10_000 });
		const a = await t.sock(50000);
		const h = headerOf(1);
		a.send(jpy(h, new Uint8Array([1])), t.to);
		await runFor(t.clock, 10);
		const s = t.sessions[0]!;
		for (let i = 0; i < 6; i++) {
			s.session.send(new Uint8Array([0xee])); // a DTLS server retransmitting to a pledge that is gone
			a.send(jpy(h, new Uint8Array(MAX_JPY_CONTENT + 1)), t.to); // refused: too large
			await runFor(t.clock, 3000);
		}
		assert.equal(s.closed, true);
		t.endpoint.close();
	});
});

describe("JPY UDP bridge (cjp jpy-bridge)", () => {
	it("session sockets take datagrams from the --to server only; others are dropped and counted", async () => {
		const clock = new ManualClock();
		const net = new MemoryNetwork({ clock });
		const iface = (a: string) => [{ name: "eth0", link: "lan", addresses: [a] }];
		const registrar = createXsHost({ network: net, name: "registrar", interfaces: iface("2001:db8::2") });
		const proxy = createXsHost({ network: net, name: "proxy", interfaces: iface("2001:db8::1") });
		const attacker = createXsHost({ network: net, name: "attacker", interfaces: iface("2001:db8::3") });
		const bridge = await openJpyUdpBridge({ host: registrar, port: 7634, server: { address: "2001:0db8::2", port: 5684, zone: "" } });
		const seen: UdpArrival[] = [];
		const server = await registrar.udp.bind({ port: 5684, onDatagram: (_d, from) => void seen.push({ ...from }) });
		const got: string[] = [];
		const p = await proxy.udp.bind({ port: 50000, onDatagram: (d) => void got.push(toHex(d)) });
		p.send(jpy(headerOf(1), new Uint8Array([0x16])), { address: "2001:db8::2", port: 7634, zone: "" });
		await runFor(clock, 10);
		assert.equal(seen.length, 1);
		const session = { address: "2001:db8::2", port: seen[0]!.port, zone: "" };
		server.send(new Uint8Array([0xaa]), session);
		await runFor(clock, 10);
		// Six from another node, two from the server's own address but another port.
		const spoof = await attacker.udp.bind({ port: 5684, onDatagram: () => {} });
		const sameHost = await registrar.udp.bind({ port: 5685, onDatagram: () => {} });
		for (let i = 0; i < 6; i++) spoof.send(new Uint8Array([0xbb]), session);
		for (let i = 0; i < 2; i++) sameHost.send(new Uint8Array([0xbb]), session);
		await runFor(clock, 10);
		server.send(new Uint8Array([0xcc]), session);
		await runFor(clock, 10);
		const h = toHex(headerOf(1));
		assert.deepEqual(got, [`8250${h}41aa`, `8250${h}41cc`]);
		assert.equal(bridge.stats().foreignDatagrams, 8);
		bridge.close();
	});
});
