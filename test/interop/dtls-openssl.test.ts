/*
 * Our DTLS 1.2 against OpenSSL 3.0 on ::1, with mutual certificates and only
 * ECDHE-ECDSA-AES128-CCM8: our client ↔ `openssl s_server -Verify 1`, and `openssl s_client`
 * with a client certificate ↔ our server. The pledge side uses the noble provider (what runs on
 * XS), the Registrar side the node:crypto one.
 */

import { after, describe, it } from "node:test";
import assert from "node:assert/strict";
import { spawn, type ChildProcess } from "node:child_process";
import { readFileSync } from "node:fs";
import { createNodeHost } from "../../hosts/node/index.js";
import { createNodeCrypto } from "../../hosts/node/crypto.js";
import { createNobleCrypto } from "../../modules/crypto/noble-provider.js";
import { DtlsConnection } from "../../modules/dtls/connection.js";
import { DtlsServer } from "../../modules/dtls/server.js";
import { anchoredVerifier } from "../../modules/dtls/peer-verifier.js";
import { pemToDer } from "../../modules/util/base64.js";
import { pkiUnavailable, testPki } from "../node-lib/pki.js";
import { findBinary } from "../node-lib/coap-peers.js";
import { unavailable } from "../node-lib/unavailable.js";
import { SeededRandom } from "../../hosts/xs/seeded-random.js";
import { freeUdpPort, pemIdentity } from "../node-lib/local.js";
import { peerKey } from "../../modules/util/peer.js";

const CIPHER = "ECDHE-ECDSA-AES128-CCM8";
const why = findBinary("openssl") === undefined ? "openssl not found (Debian package openssl)" : pkiUnavailable();

const children: ChildProcess[] = [];
function openssl(args: string[]): { child: ChildProcess; out: () => string } {
	const child = spawn("openssl", args, { stdio: ["pipe", "pipe", "pipe"] });
	children.push(child);
	let out = "";
	child.stdout!.on("data", (d: Buffer) => (out += d.toString()));
	child.stderr!.on("data", (d: Buffer) => (out += d.toString()));
	return { child, out: () => out };
}

async function waitFor(what: () => boolean, ms: number, label: string, log: () => string): Promise<void> {
	const deadline = Date.now() + ms;
	while (!what()) {
		if (Date.now() > deadline) throw new Error(`${label} within ${ms} ms:\n${log()}`);
		await new Promise((r) => setTimeout(r, 20));
	}
}

/**
 * Seeded loss on our side of the wire, both directions: OpenSSL sees a lossy network, and both
 * implementations' flight retransmission must carry the handshake through.
 */
function lossy(rate: number, seed: number): () => boolean {
	const r = new SeededRandom(seed);
	return () => r.float() >= rate;
}

describe("DTLS 1.2 interop with OpenSSL 3.0 (ECDHE-ECDSA-AES128-CCM8, certificates both ways)", { timeout: 120_000 }, () => {
	after(() => {
		for (const c of children) if (c.exitCode === null) c.kill("SIGKILL");
	});

	for (const loss of [0, 0.2]) {
	const label = loss === 0 ? "" : ` with ${loss * 100}% of datagrams dropped (seeded)`;

	it(`our client (noble crypto) ↔ openssl s_server -Verify 1: data both ways${label}`, async (t) => {
		const pass = lossy(loss, 11);
		if (unavailable(t, why)) return;
		const pki = testPki();
		const port = await freeUdpPort();
		const server = openssl(["s_server", "-dtls1_2", "-6", "-accept", String(port), "-cipher", CIPHER, "-cert", pki.serverCert, "-key", pki.serverKey, "-CAfile", pki.caCert, "-Verify", "1", "-naccept", "1"]);
		// s_server's "ACCEPT" sits in a pipe buffer; our client's flight retransmission covers a slow start.
		await new Promise((r) => setTimeout(r, 300));
		const host = createNodeHost({ logLevel: "error" });
		const crypto = createNobleCrypto((b) => host.random(b));
		let connected = false;
		let closedWith: Error | undefined;
		const got: string[] = [];
		let client: DtlsConnection | undefined;
		const socket = await host.udp.bind({ address: "::1", onDatagram: (d) => pass() && client!.receive(new Uint8Array(d)) });
		client = new DtlsConnection({
			role: "client",
			crypto,
			clock: host.clock,
			random: (b) => host.random(b),
			send: (d) => pass() && socket.send(d, { address: "::1", port, zone: "" }),
			identity: pemIdentity(pki.clientCert, pki.clientKey),
			verifyPeer: anchoredVerifier({ anchors: pemToDer(readFileSync(pki.caCert, "utf8")), crypto, now: () => Date.now() }),
			maxFragmentLength: 1024,
			onConnected: () => {
				connected = true;
				client!.send(new TextEncoder().encode("hello openssl\n"));
			},
			onData: (d) => got.push(new TextDecoder().decode(d)),
			onClose: (e) => (closedWith = e),
		});
		client.start();
		// s_server prints what it receives and sends what it reads on stdin.
		await waitFor(() => server.out().includes("hello openssl"), 40_000, `s_server got nothing (connected ${connected}, closed ${closedWith?.message})`, server.out);
		server.child.stdin!.write("hello pledge\n");
		await waitFor(() => got.join("").includes("hello pledge"), 20_000, "no data from s_server", server.out);
		assert.ok(connected);
		assert.match(server.out(), /CIPHER is ECDHE-ECDSA-AES128-CCM8/);
		assert.match(server.out(), /Client certificate/);
		client.close();
		socket.close();
	});

	it(`openssl s_client with a client certificate ↔ our server (node:crypto)${label}`, async (t) => {
		const pass = lossy(loss, 12);
		if (unavailable(t, why)) return;
		const pki = testPki();
		const host = createNodeHost({ logLevel: "error" });
		const crypto = createNodeCrypto();
		const accepted: string[] = [];
		const server = new DtlsServer({
			crypto,
			clock: host.clock,
			random: (b) => host.random(b),
			identity: pemIdentity(pki.serverCert, pki.serverKey),
			verifyPeer: anchoredVerifier({ anchors: pemToDer(readFileSync(pki.caCert, "utf8")), crypto, now: () => Date.now() }),
			onAccept: (peer) => accepted.push(peer),
			onData: (_peer, data, c) => c.send(new TextEncoder().encode(`echo:${new TextDecoder().decode(data)}`)),
		});
		const socket = await host.udp.bind({
			address: "::1",
			onDatagram: (d, from) => {
				if (!pass()) return;
				const to = { address: from.address, port: from.port, zone: from.zone };
				server.receive(new Uint8Array(d), peerKey(from), (out) => pass() && socket.send(out, to));
			},
		});
		const client = openssl(["s_client", "-dtls1_2", "-connect", `[::1]:${socket.port}`, "-cipher", CIPHER, "-cert", pki.clientCert, "-key", pki.clientKey, "-CAfile", pki.caCert, "-verify_return_error", "-servername", "registrar"]);
		await waitFor(() => client.out().includes("Verify return code: 0"), 40_000, "s_client did not complete the handshake", client.out);
		client.child.stdin!.write("ping\n");
		await waitFor(() => client.out().includes("echo:ping"), 20_000, "no echo from our server", client.out);
		assert.match(client.out(), /Cipher is ECDHE-ECDSA-AES128-CCM8/);
		assert.match(client.out(), /Protocol {2}: DTLSv1\.2/);
		assert.ok(server.stats().helloVerifyRequests >= 1, "s_client went through our cookie exchange");
		assert.equal(accepted.length, 1);
		client.child.stdin!.end();
		server.close();
		socket.close();
	});
}
});
