/*
 * CoAPS (modules/dtls/coaps.ts) on the memory network: a pledge that reboots and comes back from
 * the same address and port gets a new DTLS association, and with it a CoAP endpoint of its own;
 * an association's block size fits the record limit it negotiated.
 */

import { suite } from "../lib/harness.js";
import { deepEqual, equal, ok } from "../lib/assert.js";
import { runFor, until } from "../lib/drive.js";
import { fixture } from "../lib/fixtures.js";
import { ManualClock, MemoryNetwork, createXsHost } from "../../hosts/xs/index.js";
import type { UdpPeer } from "../../hosts/host.js";
import { createNobleCrypto } from "../../modules/crypto/noble-provider.js";
import { CoapsServer, openCoapsClient } from "../../modules/dtls/coaps.js";
import { pledgeCredentials, registrarCredentials } from "../lib/draft-dtls.js";
import { pemToDer } from "../../modules/util/base64.js";
import { utf8Decode, utf8Encode } from "../../modules/util/utf8.js";
import { CoapRouter } from "../../modules/coap/router.js";
import { Code, Opt, POST } from "../../modules/coap/constants.js";
import { decodeBlock } from "../../modules/coap/block.js";
import { findOption, option } from "../../modules/coap/message.js";
import { parseDatagram } from "../../modules/dtls/record.js";

const pem = (name: string): Uint8Array => pemToDer(fixture(`cbrski/${name}`))[0]!;
const SERVER: UdpPeer = { address: "fe80::1", port: 5684, zone: "wpan0" };

export default suite("coaps", (test) => {
	test("max_fragment_length 2^9: a server configured for 512-byte blocks serves 256-byte ones on that association, both ways", async () => {
		const clock = new ManualClock();
		const records: number[] = [];
		const net = new MemoryNetwork({ clock, filter: (d) => (records.push(...parseDatagram(d.data).records.map((r) => r.length)), true) });
		const pledgeHost = createXsHost({ network: net, name: "pledge", interfaces: [{ name: "wpan0", link: "mesh", addresses: ["fe80::2"] }], seed: 5 });
		const registrarHost = createXsHost({ network: net, name: "registrar", interfaces: [{ name: "wpan0", link: "mesh", addresses: ["fe80::1"] }], seed: 6 });
		const registrarCrypto = createNobleCrypto((b) => registrarHost.random(b));
		const pledgeCrypto = createNobleCrypto((b) => pledgeHost.random(b));
		const big = new Uint8Array(3000).map((_, i) => i * 13);
		const server = new CoapsServer({
			crypto: registrarCrypto,
			clock,
			random: (b) => registrarHost.random(b),
			...registrarCredentials(pem, registrarCrypto),
			coap: { blockSzx: 5 },
			handler: new CoapRouter().add("/big", { get: () => ({ code: Code.Content, payload: big }), post: (req) => ({ code: Code.Changed, payload: utf8Encode(`${req.payload.length}`) }) }).handler,
		});
		const socket = await CoapsServer.onUdp(registrarHost, server, { port: SERVER.port });
		const client = await until(clock, openCoapsClient({ host: pledgeHost, crypto: pledgeCrypto, server: SERVER, ...pledgeCredentials(pem, pledgeCrypto), dtls: { maxFragmentLength: 512 }, coap: { blockSzx: 5 } }), 10_000);
		// A first request without Block2: the server picks the block size, and it must fit.
		const first = await until(clock, client.endpoint.exchange({ peer: SERVER }, [option(Opt.UriPath, "big")], new Uint8Array(0)));
		const block = decodeBlock(findOption(first, Opt.Block2)!.value)!;
		deepEqual([first.code, block.szx, block.more, first.payload.length], [Code.Content, 4, true, 256]);
		const whole = await until(clock, client.endpoint.request({ peer: SERVER, path: "big" }));
		deepEqual(whole.payload, big);
		const posted = await until(clock, client.endpoint.request({ peer: SERVER, method: POST, path: "big", payload: big }));
		equal(utf8Decode(posted.payload), "3000");
		// Every record's plaintext within 2^9 (CCM_8 adds 16 bytes: explicit nonce and tag).
		ok(records.length > 20 && records.every((n) => n <= 512 + 16), `records up to ${Math.max(...records)} bytes`);
		client.close();
		server.close();
		socket.close();
	});

	test("a pledge that reboots on the same port gets a new association and a fresh CoAP endpoint at once", async () => {
		const clock = new ManualClock();
		let partitioned = false;
		const net = new MemoryNetwork({ clock, filter: (d) => !(partitioned && d.from.address === "fe80::2") });
		const pledgeHost = createXsHost({ network: net, name: "pledge", interfaces: [{ name: "wpan0", link: "mesh", addresses: ["fe80::2"] }], seed: 3 });
		const registrarHost = createXsHost({ network: net, name: "registrar", interfaces: [{ name: "wpan0", link: "mesh", addresses: ["fe80::1"] }], seed: 4 });
		const registrarCrypto = createNobleCrypto((b) => registrarHost.random(b));
		const pledgeCrypto = createNobleCrypto((b) => pledgeHost.random(b));
		const seen: string[] = [];
		const server = new CoapsServer({
			crypto: registrarCrypto,
			clock,
			random: (b) => registrarHost.random(b),
			...registrarCredentials(pem, registrarCrypto),
			handler: new CoapRouter().add("/hello", { get: (req) => (seen.push(`${req.peer.address}:${req.peer.port}`), { code: Code.Content, payload: utf8Encode(`hello ${seen.length}`) }) }).handler,
		});
		const socket = await CoapsServer.onUdp(registrarHost, server, { port: SERVER.port });
		const open = () =>
			until(
				clock,
				openCoapsClient({
					host: pledgeHost,
					crypto: pledgeCrypto,
					server: SERVER,
					port: 40000,
					...pledgeCredentials(pem, pledgeCrypto),
				}),
				10_000,
			);
		const first = await open();
		const one = await until(clock, first.endpoint.request({ peer: SERVER, path: "hello" }));
		equal(utf8Decode(one.payload), "hello 1");
		// The reboot: the pledge's state goes, and its close_notify never reaches the Registrar.
		partitioned = true;
		first.close();
		await runFor(clock, 10);
		partitioned = false;
		const restartedAt = clock.now();
		const second = await open();
		ok(clock.now() - restartedAt < 1_000, `new association after ${clock.now() - restartedAt} ms`);
		const two = await until(clock, second.endpoint.request({ peer: SERVER, path: "hello" }), 1_000);
		equal(utf8Decode(two.payload), "hello 2");
		deepEqual(seen, ["fe80::2:40000", "fe80::2:40000"], "the new endpoint sees the pledge as its peer");
		const stats = server.dtls.stats();
		deepEqual([stats.accepted, stats.replaced, stats.active], [2, 1, 1]);
		second.close();
		server.close();
		socket.close();
	});
});
