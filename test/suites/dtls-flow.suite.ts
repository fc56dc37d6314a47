import { suite } from "../lib/harness.js";
import { deepEqual, equal, ok } from "../lib/assert.js";
import { runFor } from "../lib/drive.js";
import { fixture } from "../lib/fixtures.js";
import { ManualClock, MemoryNetwork, SeededRandom, createXsHost, type InFlight } from "../../hosts/xs/index.js";
import type { UdpPeer } from "../../hosts/host.js";
import { createNobleCrypto } from "../../modules/crypto/noble-provider.js";
import { DtlsConnection, DtlsAlertError, type DtlsConnectionOptions } from "../../modules/dtls/connection.js";
import { DtlsServer, type DtlsServerOptions } from "../../modules/dtls/server.js";
import { pledgeCredentials, registrarCredentials } from "../lib/draft-dtls.js";
import { pemToDer } from "../../modules/util/base64.js";
import { utf8Decode, utf8Encode } from "../../modules/util/utf8.js";
import { CONTENT_ALERT, CONTENT_CHANGE_CIPHER_SPEC, CONTENT_HANDSHAKE, DTLS_1_2, parseDatagram, RECORD_HEADER_BYTES, recordLength, writeRecord } from "../../modules/dtls/record.js";
import {
	CipherSuite,
	CLIENT_CERTIFICATE_TYPE_ECDSA_SIGN,
	decodeHandshakeMessage,
	decodeHelloVerifyRequest,
	encodeCertificateRequest,
	encodeClientHello,
	encodeHandshakeMessage,
	extendedMasterSecretExtension,
	HandshakeType,
	type HandshakeMessage,
} from "../../modules/dtls/handshake.js";
import { concatBytes } from "../../modules/util/hex.js";
import { peerKey } from "../../modules/util/peer.js";

const pem = (name: string): Uint8Array => pemToDer(fixture(`cbrski/${name}`))[0]!;

interface Outcome {
	clientConnected: boolean;
	/** Clock time at which the pledge's handshake completed. */
	connectedAt: number;
	serverConnected: boolean;
	clientError: Error | undefined;
	serverError: Error | undefined;
	/** Every association the server saw end, in order. */
	serverCloses: number;
	serverGot: string[];
	clientGot: string[];
}

const newOutcome = (): Outcome => ({ connectedAt: -1, clientConnected: false, serverConnected: false, clientError: undefined, serverError: undefined, serverCloses: 0, serverGot: [], clientGot: [] });

const REGISTRAR: UdpPeer = { address: "fe80::1", port: 5684, zone: "wpan0" };
/** The server's key for the pledge's socket (fe80::2 port 40000, as it arrives on wpan0). */
const PLEDGE_KEY = peerKey({ address: "fe80::2", port: 40000, zone: "wpan0" });

interface WorldOptions {
	filter?: (d: InFlight) => boolean;
	serverKey?: string;
	server?: Partial<DtlsServerOptions>;
	seed?: number;
}

/** A Registrar's DTLS server (draft certificates) on a memory network, and the pledge's host beside it. */
async function world(options: WorldOptions = {}) {
	const clock = new ManualClock();
	const trace: InFlight[] = [];
	const net = new MemoryNetwork({ clock, filter: (d) => (trace.push(d), options.filter === undefined ? true : options.filter(d)) });
	const pledgeHost = createXsHost({ network: net, name: "pledge", interfaces: [{ name: "wpan0", link: "mesh", addresses: ["fe80::2"] }], seed: options.seed ?? 1 });
	const registrarHost = createXsHost({ network: net, name: "registrar", interfaces: [{ name: "wpan0", link: "mesh", addresses: ["fe80::1"] }], seed: (options.seed ?? 1) + 1 });
	const registrarCrypto = createNobleCrypto((b) => registrarHost.random(b));
	const out = newOutcome();
	const server = new DtlsServer({
		crypto: registrarCrypto,
		clock,
		random: (b) => registrarHost.random(b),
		...registrarCredentials(pem, registrarCrypto, options.serverKey),
		handshakeTimeoutMs: 30_000,
		onAccept: () => {},
		onConnected: () => (out.serverConnected = true),
		onData: (_peer, data, c) => {
			out.serverGot.push(utf8Decode(data));
			c.send(utf8Encode(`echo:${utf8Decode(data)}`));
		},
		onClose: (_peer, e) => {
			out.serverError = e;
			out.serverCloses++;
		},
		...options.server,
	});
	const serverSocket = await registrarHost.udp.bind({
		port: REGISTRAR.port,
		onDatagram: (data, from) => {
			const to: UdpPeer = { address: from.address, port: from.port, zone: from.zone };
			server.receive(data.slice(), peerKey(from), (d) => serverSocket.send(d, to));
		},
	});
	return { clock, net, trace, pledgeHost, server, serverSocket, out };
}

type World = Awaited<ReturnType<typeof world>>;

interface PledgeOptions {
	clientAnchor?: string;
	clientNow?: number;
	client?: Partial<DtlsConnectionOptions>;
	afterConnect?: (c: DtlsConnection) => void;
	/** Where the pledge's events go (default: the world's outcome). */
	out?: Outcome;
}

/** A pledge (IDevID from the draft) on UDP port 40000, its handshake started. */
async function pledge(w: World, options: PledgeOptions = {}) {
	const out = options.out ?? w.out;
	const pledgeCrypto = createNobleCrypto((b) => w.pledgeHost.random(b));
	let client: DtlsConnection | undefined;
	const socket = await w.pledgeHost.udp.bind({ port: 40000, onDatagram: (d) => client!.receive(d.slice()) });
	client = new DtlsConnection({
		role: "client",
		crypto: pledgeCrypto,
		clock: w.clock,
		random: (b) => w.pledgeHost.random(b),
		send: (d) => socket.send(d, REGISTRAR),
		...pledgeCredentials(pem, pledgeCrypto, { ...(options.clientAnchor !== undefined ? { anchor: options.clientAnchor } : {}), ...(options.clientNow !== undefined ? { now: () => options.clientNow! } : {}) }),
		handshakeTimeoutMs: 30_000,
		onConnected: () => {
			out.clientConnected = true;
			out.connectedAt = w.clock.now();
			options.afterConnect?.(client!);
		},
		onData: (d) => out.clientGot.push(utf8Decode(d)),
		onClose: (e) => (out.clientError = e),
		...options.client,
	});
	client.start();
	return { client, socket };
}

/** A pledge and a Registrar over the memory network, after `runMs` (default 120 s) of clock time. */
async function handshake(options: WorldOptions & PledgeOptions & { runMs?: number } = {}) {
	const w = await world(options);
	const p = await pledge(w, options);
	await runFor(w.clock, options.runMs ?? 120_000);
	return { ...w, client: p.client, close: () => (p.client.close(), w.server.close(), p.socket.close(), w.serverSocket.close()) };
}

/** One plaintext (epoch 0) record, as anyone on the link can write it. */
function plaintextRecord(type: number, sequence: number, fragment: Uint8Array): Uint8Array {
	const out = new Uint8Array(recordLength(fragment.length));
	writeRecord(out, 0, type, DTLS_1_2, 0, sequence, fragment);
	return out;
}

/** A whole ClientHello from the pledge's address in an epoch-0 record. */
function clientHelloRecord(random: Uint8Array, cookie: Uint8Array): Uint8Array {
	const body = encodeClientHello({
		clientVersion: DTLS_1_2,
		random,
		sessionId: new Uint8Array(0),
		cookie,
		cipherSuites: [CipherSuite.ecdheEcdsaWithAes128Ccm8],
		compressionMethods: [0],
		extensions: [extendedMasterSecretExtension()],
	});
	return plaintextRecord(CONTENT_HANDSHAKE, 0, encodeHandshakeMessage(HandshakeType.clientHello, 0, body));
}

/**
 * A filter that rewrites the Registrar's first flight (one whole plaintext message per record) with
 * `edit`, renumbering message_seq so that the pledge reassembles what the edit left.
 */
function editServerFlight(edit: (messages: HandshakeMessage[]) => HandshakeMessage[]): (d: InFlight) => boolean {
	return (d) => {
		const records = parseDatagram(d.data).records;
		const first = records[0];
		if (d.from.port !== REGISTRAR.port || first === undefined || first.epoch !== 0 || first.type !== CONTENT_HANDSHAKE) return true;
		const messages = records.map((r) => decodeHandshakeMessage(d.data.slice(r.offset, r.offset + r.length)));
		if (messages[0]!.msgType !== HandshakeType.serverHello) return true;
		const seq = messages[0]!.messageSeq;
		d.data = concatBytes(edit(messages).map((m, i) => plaintextRecord(CONTENT_HANDSHAKE, first.sequence + i, encodeHandshakeMessage(m.msgType, seq + i, m.body))));
		return true;
	};
}

/** A datagram of only those records of `datagram` whose first handshake message is of type `msgType`. */
function recordsOf(datagram: Uint8Array, msgType: number): Uint8Array {
	const records = parseDatagram(datagram).records.filter((r) => r.type === CONTENT_HANDSHAKE && datagram[r.offset] === msgType);
	return concatBytes(records.map((r) => datagram.slice(r.offset - RECORD_HEADER_BYTES, r.offset + r.length)));
}

/** Sends "ping" from the pledge and reports whether the Registrar's echo came back. */
async function echoes(h: { client: DtlsConnection; clock: ManualClock; out: Outcome }, text = "ping"): Promise<boolean> {
	const before = h.out.clientGot.length;
	h.client.send(utf8Encode(text));
	await runFor(h.clock, 100);
	return h.out.clientGot.length === before + 1 && h.out.clientGot[before] === `echo:${text}`;
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

	test("a server flight out of order: no ServerKeyExchange, ServerKeyExchange before Certificate, ServerHello or Certificate twice: unexpected_message", async () => {
		const edits: [string, (m: HandshakeMessage[]) => HandshakeMessage[]][] = [
			["no ServerKeyExchange", (m) => m.filter((x) => x.msgType !== HandshakeType.serverKeyExchange)],
			["ServerKeyExchange first", (m) => [m[0]!, m[2]!, m[1]!, ...m.slice(3)]],
			["ServerHello twice", (m) => [m[0]!, ...m]],
			["Certificate twice", (m) => [m[0]!, m[1]!, ...m.slice(1)]],
		];
		for (const [what, edit] of edits) {
			const h = await handshake({ filter: editServerFlight(edit) });
			equal(h.out.clientConnected, false, what);
			ok(h.out.clientError instanceof DtlsAlertError && h.out.clientError.alert === 10 && !h.out.clientError.received, `${what}: client ${h.out.clientError?.message}`);
			equal(h.out.serverConnected, false, what);
			h.close();
		}
	});

	test("a CertificateRequest without ecdsa_secp256r1_sha256: handshake_failure (RFC 5246 §7.4.8)", async () => {
		const body = encodeCertificateRequest({ certificateTypes: [CLIENT_CERTIFICATE_TYPE_ECDSA_SIGN], signatureAlgorithms: [0x0401], certificateAuthorities: [] });
		const h = await handshake({ filter: editServerFlight((m) => m.map((x) => (x.msgType === HandshakeType.certificateRequest ? { ...x, body } : x))) });
		equal(h.out.clientConnected, false);
		ok(h.out.clientError instanceof DtlsAlertError && h.out.clientError.alert === 40, `client: ${h.out.clientError?.message}`);
		h.close();
	});

	test("a server that asks for no certificate gets neither Certificate nor CertificateVerify (and the Registrar, which requires one, refuses)", async () => {
		const h = await handshake({ filter: editServerFlight((m) => m.filter((x) => x.msgType !== HandshakeType.certificateRequest)) });
		const pledgeSent = h.trace.filter((d) => d.from.port === 40000).flatMap((d) => parseDatagram(d.data).records.filter((r) => r.type === CONTENT_HANDSHAKE && r.epoch === 0).map((r) => d.data[r.offset]!));
		ok(pledgeSent.includes(HandshakeType.clientKeyExchange), `the pledge sent its flight (${pledgeSent.join(",")})`);
		ok(!pledgeSent.includes(HandshakeType.certificate) && !pledgeSent.includes(HandshakeType.certificateVerify), `no Certificate or CertificateVerify (${pledgeSent.join(",")})`);
		equal(h.out.serverConnected, false);
		ok(h.out.serverError instanceof DtlsAlertError && h.out.serverError.alert === 10, `server: ${h.out.serverError?.message}`);
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

	test("spoofed plaintext alerts of every kind, and epoch-0 garbage, end neither side of an established association", async () => {
		const h = await handshake();
		ok(h.out.clientConnected && h.out.serverConnected);
		const replies: Uint8Array[] = [];
		const taken: boolean[] = [];
		let sequence = 1_000;
		for (const level of [1, 2]) {
			for (let description = 0; description < 256; description++) {
				const alert = plaintextRecord(CONTENT_ALERT, sequence++, new Uint8Array([level, description]));
				h.server.receive(alert, PLEDGE_KEY, (d) => replies.push(d));
				taken.push(h.client.receive(alert));
			}
		}
		// Handshake records in the clear that do not parse, or contradict themselves, are dropped too.
		const garbage = [new Uint8Array([1, 2, 3]), new Uint8Array([20, 0, 0, 9, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]), new Uint8Array([20, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 2])];
		for (const g of garbage) {
			const record = plaintextRecord(CONTENT_HANDSHAKE, sequence++, g);
			h.server.receive(record, PLEDGE_KEY, (d) => replies.push(d));
			h.client.receive(record);
		}
		await runFor(h.clock, 100);
		equal(h.client.state, "connected", `client: ${h.out.clientError?.message}`);
		equal(h.server.stats().active, 1, `server: ${h.out.serverError?.message}`);
		equal(h.out.serverCloses, 0);
		equal(replies.length, 0, "nothing answered");
		ok(!taken.includes(true), "the client took no alert as the server's");
		ok(await echoes(h), "the association still carries data");
		h.close();
	});

	test("a lost final flight: the pledge's retransmission brings it again, and epoch 0 is dropped after the retention time", async () => {
		let lost = 0;
		const h = await handshake({
			// The Registrar's first datagram with ChangeCipherSpec (CCS + Finished) never arrives.
			filter: (d) => !(d.from.port === 5684 && lost === 0 && parseDatagram(d.data).records.some((r) => r.type === CONTENT_CHANGE_CIPHER_SPEC) && ++lost > 0),
			server: { idleTimeoutMs: 600_000, finalFlightRetentionMs: 200_000 },
		});
		equal(lost, 1);
		ok(h.out.clientConnected && h.out.serverConnected, `connected (${h.out.clientError?.message ?? ""})`);
		ok(h.out.connectedAt >= 1_000, `through the pledge's retransmission timer (${h.out.connectedAt} ms)`);
		// A repeat of the pledge's Certificate in the clear still makes the Registrar resend its last flight...
		const certificateFragment = new Uint8Array([11, 0, 0, 9, 0, 1, 0, 0, 0, 0, 0, 1, 0]);
		const sent = (): number => h.trace.filter((d) => d.from.port === 5684).length;
		let before = sent();
		h.server.receive(plaintextRecord(CONTENT_HANDSHAKE, 5_000, certificateFragment), PLEDGE_KEY, (d) => h.serverSocket.send(d, { address: "fe80::2", port: 40000, zone: "wpan0" }));
		equal(sent(), before + 1, "the final flight is resent once");
		// ...until the retention time is over: then epoch 0 is gone.
		await runFor(h.clock, 200_000);
		before = sent();
		h.server.receive(plaintextRecord(CONTENT_HANDSHAKE, 5_001, certificateFragment), PLEDGE_KEY, (d) => h.serverSocket.send(d, { address: "fe80::2", port: 40000, zone: "wpan0" }));
		equal(sent(), before, "no resend after the retention time");
		ok(await echoes(h), "the association still carries data");
		h.close();
	});

	test("a pledge that restarts on the same address and port gets a new association at once; the old one is reported closed", async () => {
		const w = await world();
		const first = await pledge(w);
		await runFor(w.clock, 1_000);
		ok(w.out.clientConnected, "first association up");
		// The pledge reboots: its state is gone, no close_notify is sent.
		first.socket.close();
		const again = newOutcome();
		const second = await pledge(w, { out: again });
		const restartedAt = w.clock.now();
		await runFor(w.clock, 3_000);
		ok(again.clientConnected, `the restarted pledge connected (${again.clientError?.message ?? "no error"})`);
		ok(again.connectedAt - restartedAt < 100, `promptly (${again.connectedAt - restartedAt} ms)`);
		const stats = w.server.stats();
		equal(stats.replaced, 1);
		equal(stats.active, 1);
		equal(w.out.serverCloses, 1, "the old association's end was reported");
		ok(await echoes({ client: second.client, clock: w.clock, out: again }), "the new association carries data");
		second.client.close();
		w.server.close();
		second.socket.close();
		w.serverSocket.close();
	});

	test("a pledge restarted on the same port (max_fragment_length 2^9) ignores late datagrams of the previous server flight", async () => {
		// The first association's server flights never reach the pledge; they arrive late, after it
		// restarted: before the new flight (a whole stale flight: its ServerKeyExchange does not verify
		// for the new client random), as a lone ServerKeyExchange buffered ahead of the new one (it
		// conflicts with the new one's bytes), or after the new flight (stale epoch-0 record numbers).
		const cases = ["whole flight first", "ServerKeyExchange ahead", "after the new flight"] as const;
		for (const mode of cases) {
			const stale: Uint8Array[] = [];
			let second: DtlsConnection | undefined;
			let newFlights = 0;
			const w = await world({
				filter: (d) => {
					if (d.from.port !== REGISTRAR.port || parseDatagram(d.data).records[0]?.type !== CONTENT_HANDSHAKE || d.data[13] === HandshakeType.helloVerifyRequest) return true;
					if (second === undefined) return stale.push(d.data.slice()), false;
					if (newFlights++ === 0) {
						if (mode === "whole flight first") for (const o of stale) second.receive(o);
						if (mode === "ServerKeyExchange ahead") for (const o of stale) second.receive(recordsOf(o, HandshakeType.serverKeyExchange));
					}
					// The new Certificate's second fragment is lost once, so that the stale ServerKeyExchange
					// is still waiting for it when the new one comes.
					return !(mode === "ServerKeyExchange ahead" && newFlights === 2);
				},
				// Datagrams of at most one 512-byte record each way, as over 6LoWPAN.
				server: { mtu: 541 },
			});
			const client = { maxFragmentLength: 512, mtu: 541 } as const;
			const first = await pledge(w, { client });
			await runFor(w.clock, 3_500);
			first.client.close();
			first.socket.close();
			ok(stale.length > 1, `${mode}: the first association's server flight was sent and resent (${stale.length})`);
			const again = newOutcome();
			second = (await pledge(w, { out: again, client })).client;
			if (mode === "after the new flight") {
				await runFor(w.clock, 5);
				for (const o of stale) second.receive(o);
			}
			await runFor(w.clock, 30_000);
			ok(again.clientConnected, `${mode}: the restarted pledge connected (${again.clientError?.message ?? "no error"})`);
			ok(await echoes({ client: second, clock: w.clock, out: again }), `${mode}: the new association carries data`);
			second.close();
			w.server.close();
		}
	});

	test("a spoofed ClientHello from the pledge's address gets a stateless HelloVerifyRequest and leaves the association alone", async () => {
		const h = await handshake();
		ok(h.out.clientConnected && h.out.serverConnected);
		for (const cookie of [new Uint8Array(0), new Uint8Array(16).fill(7)]) {
			const replies: Uint8Array[] = [];
			h.server.receive(clientHelloRecord(new Uint8Array(32).fill(cookie.length + 1), cookie), PLEDGE_KEY, (d) => replies.push(d));
			equal(replies.length, 1, "one reply");
			const record = parseDatagram(replies[0]!).records[0]!;
			equal(record.type, CONTENT_HANDSHAKE);
			equal(replies[0]![record.offset], HandshakeType.helloVerifyRequest, "a HelloVerifyRequest");
		}
		const stats = h.server.stats();
		deepEqual([stats.active, stats.accepted, stats.replaced, stats.badCookies], [1, 1, 0, 1]);
		equal(h.out.serverCloses, 0);
		ok(await echoes(h), "the association still carries data");
		h.close();
	});

	test("a full table makes room from associations still in their handshake, not from an established one", async () => {
		const h = await handshake({ server: { maxSessions: 2 }, runMs: 1_000 });
		ok(h.out.clientConnected && h.out.serverConnected);
		// Three other peers pass the cookie exchange and leave their handshakes hanging.
		for (let i = 0; i < 3; i++) {
			const peer = peerKey({ address: `fe80::${10 + i}`, port: 40000, zone: "wpan0" });
			const random = new Uint8Array(32).fill(10 + i);
			const hvr: Uint8Array[] = [];
			h.server.receive(clientHelloRecord(random, new Uint8Array(0)), peer, (d) => hvr.push(d));
			const cookie = decodeHelloVerifyRequest(hvr[0]!.subarray(13 + 12)).cookie;
			h.server.receive(clientHelloRecord(random, cookie), peer, () => {});
			await runFor(h.clock, 100);
		}
		const stats = h.server.stats();
		deepEqual([stats.accepted, stats.evicted, stats.active], [4, 2, 2]);
		equal(h.out.serverCloses, 2);
		ok(await echoes(h), "the established association was kept");
		h.close();
	});

	test("garbage from the pledge's address does not keep an idle association alive; its real traffic does", async () => {
		for (const live of [false, true]) {
			const h = await handshake({ server: { idleTimeoutMs: 10_000 }, runMs: 1_000 });
			ok(h.out.clientConnected && h.out.serverConnected);
			const appData = h.trace.find((d) => d.from.port === 40000 && parseDatagram(d.data).records.some((r) => r.epoch === 1)); // the pledge's Finished: a replay
			let sequence = 10;
			for (let second = 0; second < 30; second++) {
				if (live) h.client.send(utf8Encode("alive"));
				else {
					const forged = new Uint8Array(40).fill(second);
					forged.set([23, 0xfe, 0xfd, 0, 1, 0, 0, 0, 0, 0, sequence++, 0, 27]); // epoch 1, fails authentication
					h.server.receive(forged, PLEDGE_KEY, () => {});
					h.server.receive(plaintextRecord(CONTENT_ALERT, sequence++, new Uint8Array([1, 100])), PLEDGE_KEY, () => {}); // a warning, not close_notify
					h.server.receive(new Uint8Array([second, 1, 2, 3]), PLEDGE_KEY, () => {});
					h.server.receive(appData!.data, PLEDGE_KEY, () => {});
				}
				await runFor(h.clock, 1_000);
			}
			equal(h.server.stats().active, live ? 1 : 0, live ? "kept by its traffic" : "swept as idle despite the garbage");
			h.close();
		}
	});

	test("a recorded ClientHello with its cookie, replayed minutes later, does not replace the association of the restarted pledge", async () => {
		const w = await world();
		const first = await pledge(w);
		await runFor(w.clock, 1_000);
		ok(w.out.clientConnected);
		// The first pledge's second ClientHello carries the cookie; someone on the link records it.
		const hellos = w.trace.filter((d) => d.from.port === 40000 && d.data[0] === CONTENT_HANDSHAKE && d.data[13] === HandshakeType.clientHello);
		equal(hellos.length, 2);
		const recorded = hellos[1]!.data.slice();
		first.socket.close();
		const again = newOutcome();
		const second = await pledge(w, { out: again });
		await runFor(w.clock, 1_000);
		ok(again.clientConnected);
		const session = { client: second.client, clock: w.clock, out: again };
		for (let i = 0; i < 3; i++) {
			await runFor(w.clock, 50_000);
			ok(await echoes(session), "kept alive");
		}
		const replies: Uint8Array[] = [];
		w.server.receive(recorded, PLEDGE_KEY, (d) => replies.push(d));
		equal(replies.length, 1);
		equal(replies[0]![13], HandshakeType.helloVerifyRequest, "an expired cookie gets a new HelloVerifyRequest");
		deepEqual([w.server.stats().accepted, w.server.stats().replaced, w.out.serverCloses], [2, 1, 1]);
		ok(await echoes(session), "the association still carries data");
		second.client.close();
		w.server.close();
		second.socket.close();
		w.serverSocket.close();
	});
});
