/*
 * hosts/node: UDP over ::1, re-armable timers, durable storage; and, in network namespaces, sends
 * toward a link-local neighbour that never answers neighbour discovery: bounded, counted, warned
 * about once, not in the way of a live peer, and no obstacle to close().
 */

import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { createNodeHost, DirectoryStorage, splitZone, type NodeUdpSocket } from "../hosts/node/index.js";
import type { UdpArrival } from "../hosts/host.js";
import { Namespaces, netnsUnavailable } from "./node-lib/netns.js";
import { unavailable } from "./node-lib/unavailable.js";
import type { FloodPlan, FloodResult } from "./node-lib/send-flood.js";

describe("node host", () => {
	it("sends and receives datagrams with source address and port; close is idempotent", async () => {
		const host = createNodeHost();
		const got: { data: string; from: UdpArrival }[] = [];
		let arrived: () => void = () => {};
		const wait = new Promise<void>((r) => (arrived = r));
		const a = await host.udp.bind({
			address: "::1",
			onDatagram: (data, from) => {
				got.push({ data: new TextDecoder().decode(data), from: { ...from } });
				arrived();
			},
		});
		const b = await host.udp.bind({ address: "::1", onDatagram: () => {} });
		b.send(new TextEncoder().encode("ping"), { address: "::1", port: a.port, zone: "" });
		await wait;
		assert.deepEqual(got, [{ data: "ping", from: { address: "::1", port: b.port, zone: "", multicast: false } }]);
		a.close();
		a.close();
		b.close();
		assert.throws(() => b.send(new Uint8Array(1), { address: "::1", port: 9, zone: "" }), /closed/);
	});

	it("a datagram sent just before close() still leaves", async () => {
		const host = createNodeHost();
		let got = "";
		let arrived: () => void = () => {};
		const wait = new Promise<void>((r) => (arrived = r));
		const a = await host.udp.bind({ address: "::1", onDatagram: (d) => ((got = new TextDecoder().decode(d)), arrived()) });
		const b = await host.udp.bind({ address: "::1", onDatagram: () => {} });
		b.send(new TextEncoder().encode("last words"), { address: "::1", port: a.port, zone: "" });
		b.close();
		await wait;
		assert.equal(got, "last words");
		a.close();
	});

	it("bind rejects a port in use with an Error", async () => {
		const host = createNodeHost();
		const a = await host.udp.bind({ address: "::1", onDatagram: () => {} });
		await assert.rejects(host.udp.bind({ address: "::1", port: a.port, onDatagram: () => {} }), /EADDRINUSE/);
		a.close();
	});

	it("timers re-arm (the later arm wins) and cancel", async () => {
		const { clock } = createNodeHost();
		let fired = 0;
		const t = clock.timer(() => fired++);
		t.arm(10_000);
		t.arm(5);
		assert.equal(t.armed, true);
		await new Promise((r) => setTimeout(r, 50));
		assert.equal(fired, 1);
		assert.equal(t.armed, false);
		t.arm(5);
		t.cancel();
		await new Promise((r) => setTimeout(r, 30));
		assert.equal(fired, 1);
		assert.ok(clock.now() > 0 && Math.abs(clock.wallTime() - Date.now()) < 1000);
	});

	it("directory storage survives a new instance; keys with slashes are safe", () => {
		const dir = mkdtempSync(join(tmpdir(), "cjp-storage-"));
		try {
			const s = new DirectoryStorage(dir);
			s.set("ldevid/cert", new Uint8Array([1, 2, 3]));
			s.set("../escape", new Uint8Array([4]));
			const again = new DirectoryStorage(dir);
			assert.deepEqual(again.get("ldevid/cert"), new Uint8Array([1, 2, 3]));
			assert.deepEqual(again.keys().sort(), ["../escape", "ldevid/cert"]);
			again.delete("ldevid/cert");
			assert.equal(again.get("ldevid/cert"), undefined);
		} finally {
			rmSync(dir, { recursive: true, force: true });
		}
	});

	it("splits zones off addresses", () => {
		assert.deepEqual(splitZone("fe80::1%eth0"), ["fe80::1", "eth0"]);
		assert.deepEqual(splitZone("::1"), ["::1", ""]);
	});

	it("close() with sends pending on loopback finishes, and the datagram still leaves; counters add up", async () => {
		const host = createNodeHost({ udp: { maxPendingSends: 8 } });
		let got = 0;
		const a = await host.udp.bind({ address: "::1", onDatagram: () => got++ });
		const b = (await host.udp.bind({ address: "::1", onDatagram: () => {} })) as NodeUdpSocket;
		const to = { address: "::1", port: a.port, zone: "" };
		const buf = new Uint8Array(100);
		for (let i = 0; i < 20; i++) b.send(buf, to); // one turn of the event loop: 8 admitted, 12 dropped
		assert.deepEqual({ ...b.stats(), peakPending: 8 }, { sent: 0, dropped: 12, errors: 0, abandoned: 0, pending: 8, peakPending: 8 });
		b.close();
		await new Promise((r) => setTimeout(r, 50));
		assert.equal(got, 8);
		assert.deepEqual(host.udp.stats(), { sent: 8, dropped: 12, errors: 0, abandoned: 0, pending: 0, peakPending: 0 });
		a.close();
	});

	it("the sent bytes are copied: the caller may reuse its buffer at once", async () => {
		const host = createNodeHost();
		const got: number[] = [];
		let arrived: () => void = () => {};
		const wait = new Promise<void>((r) => (arrived = r));
		const a = await host.udp.bind({ address: "::1", onDatagram: (d) => (got.push(d[0]!), got.length === 3 && arrived()) });
		const b = await host.udp.bind({ address: "::1", onDatagram: () => {} });
		const buf = new Uint8Array(1);
		for (const v of [1, 2, 3]) {
			buf[0] = v;
			b.send(buf, { address: "::1", port: a.port, zone: "" });
		}
		await wait;
		assert.deepEqual(got, [1, 2, 3]);
		a.close();
		b.close();
	});
});

const FLOOD = fileURLToPath(new URL("./node-lib/send-flood.ts", import.meta.url));
const ECHO = `const s=require("node:dgram").createSocket("udp6");s.on("message",(m,r)=>s.send(m,r.port,r.address));s.bind(7000,"::",()=>console.log("ready"))`;

describe("node host sends toward a neighbour that never answers (network namespaces)", { timeout: 120_000 }, () => {
	const why = netnsUnavailable();
	const net = new Namespaces("nh");

	async function flood(plan: Omit<FloodPlan, "zone" | "dead" | "live" | "livePort">): Promise<{ result: FloodResult; log: string[]; exitMs: number }> {
		const a = net.add(`a${plan.maxPendingSends}`); // one pair of namespaces per case
		const b = net.add(`b${plan.maxPendingSends}`);
		net.link(a, "fl0", "fe80::a", b, "fl1", "fe80::b");
		const echo = net.spawn(b, process.execPath, ["-e", ECHO]);
		await new Promise<void>((resolve) => echo.stdout!.once("data", () => resolve()));
		const full: FloodPlan = { ...plan, zone: "fl0", dead: "fe80::dead:0", live: "fe80::b", livePort: 7000 };
		const child = net.spawn(a, process.execPath, ["--expose-gc", "--import", "tsx", FLOOD, JSON.stringify(full)]);
		let out = "";
		let err = "";
		let resultAt = 0;
		child.stdout!.on("data", (d: Buffer) => ((out += d.toString()), (resultAt = performance.now())));
		child.stderr!.on("data", (d: Buffer) => (err += d.toString()));
		const code = await new Promise<number | null>((resolve) => child.once("exit", resolve));
		assert.equal(code, 0, err);
		return { result: JSON.parse(out) as FloodResult, log: err.split("\n").filter((l) => / (warn|info) udp /.test(l)), exitMs: performance.now() - resultAt };
	}

	it("a full kernel send buffer: at most maxPendingSends wait, the rest are dropped and counted, memory stays flat, one warning per episode, the live peer gets through, close() within its grace period", async (t) => {
		if (unavailable(t, why)) return;
		// A 16 KiB send buffer is full after a few datagrams (the neighbour's queue holds them for ~3 s),
		// so the socket blocks as it would under a flood toward many unanswered neighbours.
		const { result, log, exitMs } = await flood({ count: 20_000, size: 1200, maxPendingSends: 16, sendBufferBytes: 16_384, liveWaitMs: 30_000, closeGraceMs: 500 });
		const s = result.stats;
		assert.equal(s.peakPending, 16);
		assert.ok(s.dropped >= 2 * 20_000 - 200, `dropped ${s.dropped}`);
		assert.ok(result.rssAfterMB - result.rssBeforeMB < 20, `RSS ${result.rssBeforeMB} → ${result.rssAfterMB} MB`);
		assert.ok(result.liveMs >= 0, "the live peer's echo came back");
		assert.ok(result.pendingAtClose > 0 && s.abandoned > 0, "close() found sends pending and abandoned them");
		assert.ok(result.closeMs < 1_500, `close took ${result.closeMs} ms`);
		assert.ok(exitMs < 2_000, `the process exited ${Math.round(exitMs)} ms after close`);
		assert.ok(log.length >= 1 && log.length <= 2 + result.liveMs / 500, `log lines, not one per datagram:\n${log.join("\n")}`);
		assert.match(log[0]!, /warn udp .*dropping sends/);
	});

	it("the default send buffer outlasts one dead neighbour's queue: a live peer's datagram goes straight through during the flood", async (t) => {
		if (unavailable(t, why)) return;
		const { result } = await flood({ count: 20_000, size: 1200, maxPendingSends: 256, liveWaitMs: 10_000, closeGraceMs: 500 });
		assert.ok(result.liveMs >= 0 && result.liveTries === 1, `live peer after ${result.liveMs} ms, ${result.liveTries} tries`);
		assert.ok(result.stats.peakPending <= 256);
		assert.ok(result.closeMs < 1_500);
	});

	it("cleans up", () => net.close());
});
