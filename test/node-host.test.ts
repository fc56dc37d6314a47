/* hosts/node: UDP over ::1, re-armable timers, durable storage. */

import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createNodeHost, DirectoryStorage, splitZone } from "../hosts/node/index.js";
import type { UdpArrival } from "../hosts/host.js";

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
});
