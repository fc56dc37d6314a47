/* The Registrar's JPY endpoint (src/registrar/jpy-endpoint.ts): draft vectors, session demux, bad input. */

import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { ManualClock, MemoryNetwork, createXsHost } from "../hosts/xs/index.js";
import type { UdpArrival } from "../hosts/host.js";
import { JpyEndpoint, type JpySession } from "../src/registrar/jpy-endpoint.js";
import { decodeJpy } from "../modules/jpy/message.js";
import { fromHex, toHex } from "../modules/util/hex.js";
import { runFor } from "./lib/drive.js";
import { VECTORS_DIR } from "./node-lib/vectors.js";

const vector = (name: string): Uint8Array => fromHex(readFileSync(join(VECTORS_DIR, "cbrski", name), "utf8"));
const REQUEST = vector("jpy-clienthello-from-joinproxy.cbor.hex");
const REPLY = vector("jpy-helloverifyrequest-from-registrar.cbor.hex");

async function setup(options: { idleTimeoutMs?: number } = {}) {
	const clock = new ManualClock();
	const net = new MemoryNetwork({ clock });
	const registrar = createXsHost({ network: net, name: "registrar", interfaces: [{ name: "eth0", link: "lan", addresses: ["2001:db8::2"] }] });
	const proxy = createXsHost({ network: net, name: "proxy", interfaces: [{ name: "eth0", link: "lan", addresses: ["2001:db8::1"] }] });
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
	return { clock, endpoint, sessions, received, sock, to: { address: "2001:db8::2", port: 7634, zone: "" } };
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
});
