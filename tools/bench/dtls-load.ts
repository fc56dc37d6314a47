/*
 * Full DTLS handshakes per second completed by a server, driven by one client load (our client on
 * node:crypto, handshakes back to back, each from a new port, ended by close_notify): our server
 * against `openssl s_server`, same machine, same run. Prints one JSON line.
 */

import { spawn, type ChildProcess } from "node:child_process";
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { createNodeHost } from "../../hosts/node/index.js";
import { createNodeCrypto } from "../../hosts/node/crypto.js";
import { DtlsConnection } from "../../modules/dtls/connection.js";
import { anchoredVerifier } from "../../modules/dtls/peer-verifier.js";
import { parseEcPrivateKey } from "../../modules/x509/private-key.js";
import { pemToDer } from "../../modules/util/base64.js";
import { testPki } from "../../test/node-lib/pki.js";

const SECONDS = 3;
const pki = testPki();
const host = createNodeHost({ logLevel: "error" });
const crypto = createNodeCrypto();
const identity = { certificates: pemToDer(readFileSync(pki.clientCert, "utf8"), "CERTIFICATE"), privateKey: parseEcPrivateKey(pemToDer(readFileSync(pki.clientKey, "utf8"))[0]!) };
const verifyPeer = anchoredVerifier({ anchors: pemToDer(readFileSync(pki.caCert, "utf8")), crypto, now: () => Date.now() });

async function oneHandshake(port: number): Promise<boolean> {
	let conn: DtlsConnection | undefined;
	const socket = await host.udp.bind({ address: "::1", onDatagram: (d) => conn?.receive(new Uint8Array(d)) });
	const ok = await new Promise<boolean>((resolve) => {
		conn = new DtlsConnection({
			role: "client",
			crypto,
			clock: host.clock,
			random: (b) => host.random(b),
			send: (d) => socket.send(d, { address: "::1", port, zone: "" }),
			identity,
			verifyPeer,
			retransmitInitialMs: 200,
			handshakeTimeoutMs: 5000,
			onConnected: () => resolve(true),
			onClose: () => resolve(false),
		});
		conn.start();
	});
	conn!.close();
	socket.close();
	return ok;
}

async function rate(port: number): Promise<number> {
	for (let i = 0; i < 5; i++) await oneHandshake(port); // warm-up
	let done = 0;
	const end = performance.now() + SECONDS * 1000;
	while (performance.now() < end) if (await oneHandshake(port)) done++;
	return done / SECONDS;
}

function start(cmd: string, args: string[], ready: RegExp): Promise<{ child: ChildProcess; match: RegExpExecArray }> {
	const child = spawn(cmd, args, { stdio: ["pipe", "pipe", "pipe"] });
	let out = "";
	return new Promise((resolve, reject) => {
		const check = (d: Buffer): void => {
			out += d.toString();
			const m = ready.exec(out);
			if (m) resolve({ child, match: m });
		};
		child.stdout!.on("data", check);
		child.stderr!.on("data", check);
		child.once("exit", (code) => reject(new Error(`${cmd} exited (${code}): ${out}`)));
	});
}

const ours = await start(process.execPath, ["--import", "tsx", fileURLToPath(new URL("./dtls-server.ts", import.meta.url)), pki.serverCert, pki.serverKey, pki.caCert], /ready (\d+)/);
const oursRate = await rate(Number(ours.match[1]));
ours.child.kill("SIGTERM");
const port = 20000 + (process.pid % 20000);
const openssl = spawn("openssl", ["s_server", "-dtls1_2", "-6", "-accept", String(port), "-cipher", "ECDHE-ECDSA-AES128-CCM8", "-cert", pki.serverCert, "-key", pki.serverKey, "-CAfile", pki.caCert, "-Verify", "1", "-quiet"], { stdio: ["pipe", "ignore", "ignore"] });
await new Promise((r) => setTimeout(r, 500));
const opensslRate = await rate(port);
openssl.kill("SIGTERM");
console.log(JSON.stringify({ oursHandshakesPerSecond: Number(oursRate.toFixed(1)), opensslHandshakesPerSecond: Number(opensslRate.toFixed(1)), ratio: opensslRate > 0 ? oursRate / opensslRate : null }));
process.exit(0);
