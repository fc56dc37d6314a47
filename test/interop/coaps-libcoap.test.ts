/*
 * CoAPS (our CoAP over our DTLS 1.2) against libcoap 4.3.1's OpenSSL and GnuTLS builds in PKI mode,
 * on ::1: our client → coap-server-{openssl,gnutls} (Block1 PUT, then GET and a block-wise GET),
 * and coap-client-{openssl,gnutls} → our CoAPS server (GET, Block2 GET, Block1 POST). GnuTLS
 * peers are restricted to TLS_ECDHE_ECDSA_WITH_AES_128_CCM_8; our side offers nothing else anyway.
 */

import { after, describe, it } from "node:test";
import assert from "node:assert/strict";
import { spawn, type ChildProcess } from "node:child_process";
import { randomBytes } from "node:crypto";
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { createNodeHost } from "../../hosts/node/index.js";
import { createNodeCrypto } from "../../hosts/node/crypto.js";
import { createNobleCrypto } from "../../modules/crypto/noble-provider.js";
import { openCoapsClient, CoapsServer } from "../../modules/dtls/coaps.js";
import { anchoredVerifier } from "../../modules/dtls/peer-verifier.js";
import { pemToDer } from "../../modules/util/base64.js";
import { CoapRouter } from "../../modules/coap/router.js";
import { Code, GET, PUT } from "../../modules/coap/constants.js";
import { pkiUnavailable, testPki } from "../node-lib/pki.js";
import { findBinary, gnutlsCcm8OnlyEnv, peersUnavailable, scratchFile } from "../node-lib/coap-peers.js";
import { unavailable } from "../node-lib/unavailable.js";
import { freeUdpPort, lossyUdp, pemIdentity } from "../node-lib/local.js";

const LIBS = ["openssl", "gnutls"] as const;
const BIG = randomBytes(5000);
const why = peersUnavailable([...LIBS]) ?? pkiUnavailable();

const children: ChildProcess[] = [];
const env = (lib: string) => (lib === "gnutls" ? { ...process.env, ...gnutlsCcm8OnlyEnv() } : process.env);

describe("CoAPS interop with libcoap (PKI, DTLS 1.2)", { timeout: 240_000 }, () => {
	after(() => {
		for (const c of children) if (c.exitCode === null) c.kill("SIGKILL");
	});

	for (const loss of [0, 0.2])
	for (const lib of LIBS) {
		const label = loss === 0 ? "" : `, ${loss * 100}% of datagrams dropped (seeded)`;
		const clientWork = loss === 0 ? "a GET, a Block1 PUT of 5000 bytes and a 64-byte-block GET" : "handshake and a GET";
		const serverWork = loss === 0 ? "GET, Block2 GET (64-byte blocks) and Block1 POST" : "handshake and a GET";
		it(`our CoAPS client → coap-server-${lib}: ${clientWork}${label}`, async (t) => {
			if (unavailable(t, why)) return;
			const pki = testPki();
			const port = await freeUdpPort();
			const server = spawn(findBinary(`coap-server-${lib}`)!, ["-A", "::1", "-p", String(port), "-d", "16", "-v", "4", "-c", pki.serverCert, "-j", pki.serverKey, "-C", pki.caCert], { env: env(lib), stdio: "ignore" });
			children.push(server);
			await new Promise((r) => setTimeout(r, 400));
			const node = createNodeHost({ logLevel: "error" });
			const host = { ...node, udp: lossyUdp(node.udp, loss, 31) };
			const crypto = createNobleCrypto((b) => host.random(b));
			const client = await openCoapsClient({
				host,
				crypto,
				server: { address: "::1", port: port + 1, zone: "" },
				identity: pemIdentity(pki.clientCert, pki.clientKey),
				verifyPeer: anchoredVerifier({ anchors: pemToDer(readFileSync(pki.caCert, "utf8")), crypto, now: () => Date.now() }),
				dtls: { maxFragmentLength: 1024, retransmitInitialMs: 300 },
				coap: { blockSzx: 4, ...(loss > 0 ? { ackTimeoutMs: 500, maxRetransmit: 8 } : {}) },
			});
			const banner = await client.endpoint.request({ peer: { address: "::1", port: port + 1, zone: "" }, method: GET, path: "" });
			assert.equal(banner.code, Code.Content);
			assert.match(new TextDecoder().decode(banner.payload), /libcoap/i);
			if (loss > 0) {
				// Under loss the point is the handshake (and a first exchange); bulk transfers are covered above.
				client.close();
				server.kill("SIGTERM");
				return;
			}
			const put = await client.endpoint.request({ peer: { address: "::1", port: port + 1, zone: "" }, method: PUT, path: "big", payload: BIG, contentFormat: 42 });
			assert.equal(put.code, Code.Created);
			const big = await client.endpoint.request({ peer: { address: "::1", port: port + 1, zone: "" }, method: GET, path: "big", blockSzx: 2 });
			assert.equal(big.code, Code.Content);
			assert.ok(Buffer.from(big.payload).equals(BIG), "5000 bytes back, byte for byte");
			client.close();
			server.kill("SIGTERM");
		});

		it(`coap-client-${lib} → our CoAPS server: ${serverWork}${label}`, async (t) => {
			if (unavailable(t, why)) return;
			const pki = testPki();
			const node = createNodeHost({ logLevel: "error" });
			const host = { ...node, udp: lossyUdp(node.udp, loss, 32) };
			const crypto = createNodeCrypto();
			let posted: Uint8Array | undefined;
			const router = new CoapRouter()
				.add("/hello", { get: () => ({ code: Code.Content, payload: new TextEncoder().encode("hello over DTLS") }) })
				.add("/big", { get: () => ({ code: Code.Content, payload: BIG }) })
				.add("/upload", { post: (req) => ((posted = req.payload), { code: Code.Changed, payload: new TextEncoder().encode(`got ${req.payload.length}`) }) });
			const server = new CoapsServer({
				crypto,
				clock: host.clock,
				random: (b) => host.random(b),
				identity: pemIdentity(pki.serverCert, pki.serverKey),
				verifyPeer: anchoredVerifier({ anchors: pemToDer(readFileSync(pki.caCert, "utf8")), crypto, now: () => Date.now() }),
				handler: router.handler,
			});
			const socket = await CoapsServer.onUdp(host, server, { address: "::1" });
			const run = async (args: string[]): Promise<{ body: Buffer | undefined; out: string }> => {
				const out = scratchFile("coaps.out");
				const child = spawn(findBinary(`coap-client-${lib}`)!, ["-B", "30", "-o", out, "-c", pki.clientCert, "-j", pki.clientKey, "-C", pki.caCert, ...args], { env: env(lib) });
				children.push(child);
				let log = "";
				child.stdout!.on("data", (d: Buffer) => (log += d));
				child.stderr!.on("data", (d: Buffer) => (log += d));
				await new Promise((r) => child.once("close", r));
				return { body: existsSync(out) ? readFileSync(out) : undefined, out: log };
			};
			const base = `coaps://[::1]:${socket.port}`;
			const hello = await run([`${base}/hello`]);
			assert.equal(hello.body?.toString(), "hello over DTLS", hello.out);
			if (loss > 0) {
				server.close();
				socket.close();
				return;
			}
			const big = await run(["-b", "64", `${base}/big`]);
			assert.ok(big.body?.equals(BIG), `block-wise GET: ${big.out}`);
			const file = scratchFile("upload.bin");
			const upload = randomBytes(2500);
			writeFileSync(file, upload);
			const post = await run(["-m", "post", "-b", "256", "-f", file, `${base}/upload`]);
			assert.equal(post.body?.toString(), "got 2500", post.out);
			assert.ok(posted !== undefined && Buffer.from(posted).equals(upload));
			assert.ok(server.dtls.stats().accepted >= 3);
			server.close();
			socket.close();
		});
	}
});

