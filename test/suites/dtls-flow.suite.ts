import { suite } from "../lib/harness.js";
import { deepEqual, equal, ok } from "../lib/assert.js";
import { runFor } from "../lib/drive.js";
import { fixture } from "../lib/fixtures.js";
import { ManualClock, MemoryNetwork, SeededRandom, createXsHost, type InFlight } from "../../hosts/xs/index.js";
import type { UdpPeer } from "../../hosts/host.js";
import { createNobleCrypto } from "../../modules/crypto/noble-provider.js";
import { DtlsConnection, DtlsAlertError, type DtlsConnectionOptions } from "../../modules/dtls/connection.js";
import { DtlsServer } from "../../modules/dtls/server.js";
import { anchoredVerifier } from "../../modules/dtls/peer-verifier.js";
import { parseEcPrivateKey } from "../../modules/x509/private-key.js";
import { pemToDer } from "../../modules/util/base64.js";
import { utf8Decode, utf8Encode } from "../../modules/util/utf8.js";
import { parseDatagram } from "../../modules/dtls/record.js";
import { peerKey } from "../../modules/util/peer.js";

const pem = (name: string): Uint8Array => pemToDer(fixture(`cbrski/${name}`))[0]!;

interface Outcome {
	clientConnected: boolean;
	/** Clock time at which the pledge's handshake completed. */
	connectedAt: number;
	serverConnected: boolean;
	clientError: Error | undefined;
	serverError: Error | undefined;
	serverGot: string[];
	clientGot: string[];
}

/** A pledge (IDevID from the draft) and a Registrar (draft certificates) over the memory network. */
async function handshake(options: { filter?: (d: InFlight) => boolean; clientAnchor?: string; clientNow?: number; serverKey?: string; client?: Partial<DtlsConnectionOptions>; afterConnect?: (c: DtlsConnection) => void; seed?: number } = {}) {
	const clock = new ManualClock();
	const trace: InFlight[] = [];
	const net = new MemoryNetwork({ clock, filter: (d) => (trace.push(d), options.filter === undefined ? true : options.filter(d)) });
	const pledgeHost = createXsHost({ network: net, name: "pledge", interfaces: [{ name: "wpan0", link: "mesh", addresses: ["fe80::2"] }], seed: options.seed ?? 1 });
	const registrarHost = createXsHost({ network: net, name: "registrar", interfaces: [{ name: "wpan0", link: "mesh", addresses: ["fe80::1"] }], seed: (options.seed ?? 1) + 1 });
	const pledgeCrypto = createNobleCrypto((b) => pledgeHost.random(b));
	const registrarCrypto = createNobleCrypto((b) => registrarHost.random(b));
	const out: Outcome = { connectedAt: -1, clientConnected: false, serverConnected: false, clientError: undefined, serverError: undefined, serverGot: [], clientGot: [] };
	const server = new DtlsServer({
		crypto: registrarCrypto,
		clock,
		random: (b) => registrarHost.random(b),
		identity: { certificates: [pem("cert-registrar.pem")], privateKey: parseEcPrivateKey(pem(options.serverKey ?? "key-registrar.pem")) },
		handshakeTimeoutMs: 30_000,
		verifyPeer: anchoredVerifier({ anchors: [pem("cert-masa_ca.pem")], crypto: registrarCrypto }),
		onAccept: () => {},
		onConnected: () => (out.serverConnected = true),
		onData: (_peer, data, c) => {
			out.serverGot.push(utf8Decode(data));
			c.send(utf8Encode(`echo:${utf8Decode(data)}`));
		},
		onClose: (_peer, e) => (out.serverError = e),
	});
	const serverSocket = await registrarHost.udp.bind({
		port: 5684,
		onDatagram: (data, from) => {
			const to: UdpPeer = { address: from.address, port: from.port, zone: from.zone };
			server.receive(data.slice(), peerKey(from), (d) => serverSocket.send(d, to));
		},
	});
	let client: DtlsConnection | undefined;
	const clientSocket = await pledgeHost.udp.bind({ port: 40000, onDatagram: (d) => client!.receive(d.slice()) });
	client = new DtlsConnection({
		role: "client",
		crypto: pledgeCrypto,
		clock,
		random: (b) => pledgeHost.random(b),
		send: (d) => clientSocket.send(d, { address: "fe80::1", port: 5684, zone: "wpan0" }),
		identity: { certificates: [pem("cert-pledge.pem")], privateKey: parseEcPrivateKey(pem("key-pledge.pem")) },
		verifyPeer: anchoredVerifier({ anchors: [pem(options.clientAnchor ?? "cert-domain_ca.pem")], crypto: pledgeCrypto, ...(options.clientNow !== undefined ? { now: () => options.clientNow! } : {}) }),
		handshakeTimeoutMs: 30_000,
		onConnected: () => {
			out.clientConnected = true;
			out.connectedAt = clock.now();
			options.afterConnect?.(client!);
		},
		onData: (d) => out.clientGot.push(utf8Decode(d)),
		onClose: (e) => (out.clientError = e),
		...options.client,
	});
	client.start();
	await runFor(clock, 120_000);
	return { out, client, server, trace, clock, close: () => (client!.close(), server.close(), clientSocket.close(), serverSocket.close()) };
}

export default suite("dtls handshake flow", (test) => {
	test("pledge and Registrar (draft certificates) complete a mutually authenticated handshake and exchange data", async () => {
		const h = await handshake({ afterConnect: (c) => c.send(utf8Encode("hello registrar")) });
		ok(h.out.clientConnected && h.out.serverConnected, `connected (client error: ${h.out.clientError?.message}, server error: ${h.out.serverError?.message})`);
		deepEqual(h.out.serverGot, ["hello registrar"]);
		deepEqual(h.out.clientGot, ["echo:hello registrar"]);
		equal(h.server.stats().helloVerifyRequests, 1, "a cookie exchange came first");
		// Without loss, no flight waits for a retransmission timer (CCS and Finished in one datagram work).
		ok(h.out.connectedAt >= 0 && h.out.connectedAt < 100, `connected after ${h.out.connectedAt} ms of clock time`);
		ok(h.client.peerCertificates.length === 1);
		// Every datagram fits the 1024-byte default MTU, and the handshake used CCM_8 records after CCS.
		ok(h.trace.every((d) => d.data.length <= 1024), "datagrams within the MTU");
		h.client.close();
		await runFor(h.clock, 100);
		equal(h.server.stats().active, 0, "close_notify ended the server's association");
		h.close();
	});

	test("20% datagram loss: the handshake still completes through flight retransmission", async () => {
		for (const seed of [2020, 2021, 2022]) {
			const r = new SeededRandom(seed);
			let dropped = 0;
			const h = await handshake({ filter: () => r.float() >= 0.2 || (dropped++, false), afterConnect: (c) => c.send(utf8Encode("lossy")), seed });
			ok(h.out.clientConnected && h.out.serverConnected, `seed ${seed}: connected under loss (${h.out.clientError?.message ?? ""})`);
			ok(dropped > 0, `seed ${seed}: datagrams were lost (${dropped})`);
			h.close();
		}
	});

	test("max_fragment_length 2^9: every record's plaintext fits 512 bytes", async () => {
		const h = await handshake({ client: { maxFragmentLength: 512, mtu: 600 } });
		ok(h.out.clientConnected && h.out.serverConnected);
		for (const d of h.trace) {
			// The pledge's own MTU bounds its datagrams; the Registrar may pack several small records in one.
			if (d.from.address === "fe80::2") ok(d.data.length <= 600, `pledge datagram of ${d.data.length} bytes`);
			for (const rec of parseDatagram(d.data).records) ok(rec.length <= 512 + 16, `record of ${rec.length} bytes`);
		}
		h.close();
	});

	test("a Registrar chain the pledge does not trust: bad_certificate, no association", async () => {
		const h = await handshake({ clientAnchor: "cert-masa_ca.pem" });
		equal(h.out.clientConnected, false);
		ok(h.out.clientError instanceof DtlsAlertError && h.out.clientError.alert === 42, `client: ${h.out.clientError?.message}`);
		ok(h.out.serverError instanceof DtlsAlertError && (h.out.serverError as DtlsAlertError).received, `server: ${h.out.serverError?.message}`);
		h.close();
	});

	test("an expired Registrar certificate is refused when the pledge has a clock", async () => {
		const h = await handshake({ clientNow: Date.UTC(2026, 5, 1) });
		equal(h.out.clientConnected, false);
		ok(h.out.clientError instanceof DtlsAlertError && h.out.clientError.alert === 42 && /expired/.test(h.out.clientError.message), `client: ${h.out.clientError?.message}`);
		h.close();
	});

	test("a ServerKeyExchange signed with another key (bad signature): decrypt_error", async () => {
		const h = await handshake({ serverKey: "key-pledge.pem" });
		equal(h.out.clientConnected, false);
		ok(h.out.clientError instanceof DtlsAlertError && h.out.clientError.alert === 51, `client: ${h.out.clientError?.message}`);
		h.close();
	});

	test("cookie mismatch: a ClientHello with a forged cookie creates no association", async () => {
		// Flip a cookie byte in the HelloVerifyRequest on its way to the pledge.
		const h = await handshake({
			filter: (d) => {
				const b = d.data;
				if (d.from.port === 5684 && b.length > 27 && b[0] === 22 && b[13] === 3) b[b.length - 1] = b[b.length - 1]! ^ 0xff;
				return true;
			},
		});
		equal(h.out.serverConnected, false);
		equal(h.server.stats().accepted, 0);
		ok(h.server.stats().badCookies >= 1, "the forged cookie was noticed");
		ok(h.out.clientError !== undefined, "the pledge gave up with an error");
		h.close();
	});

	test("tampered records after ChangeCipherSpec are dropped: no association, a clear timeout, no crash", async () => {
		const h = await handshake({
			filter: (d) => {
				// Every encrypted handshake record from the pledge (its Finished): flip its last byte (the tag).
				if (d.to.port === 5684) for (const rec of parseDatagram(d.data).records) if (rec.type === 22 && rec.epoch === 1) d.data[rec.offset + rec.length - 1] = d.data[rec.offset + rec.length - 1]! ^ 1;
				return true;
			},
		});
		equal(h.out.clientConnected, false);
		equal(h.out.serverConnected, false);
		ok(h.out.clientError?.name === "DtlsTimeoutError", `client: ${h.out.clientError?.name} ${h.out.clientError?.message}`);
		ok(h.trace.length < 40, `retransmissions stay bounded, no echo storm (${h.trace.length} datagrams)`);
		h.close();
	});
});
