/*
 * A DTLS handshake between our client and our server with no network and no clock: datagrams are
 * handed over directly. Randomness is seeded, and signatures are deterministic (RFC 6979), so a
 * second client with the same seed produces the same flights: replaying the server's recorded
 * datagrams to it measures the client (the pledge) alone. Runs on XS and on Node.
 */

import { ManualClock } from "../../hosts/xs/manual-clock.js";
import { SeededRandom } from "../../hosts/xs/seeded-random.js";
import { createNobleCrypto } from "../../modules/crypto/noble-provider.js";
import { DtlsConnection } from "../../modules/dtls/connection.js";
import { DtlsServer } from "../../modules/dtls/server.js";
import { anchoredVerifier } from "../../modules/dtls/peer-verifier.js";
import { parseEcPrivateKey } from "../../modules/x509/private-key.js";
import { pemToDer } from "../../modules/util/base64.js";

export interface Pems {
	pledgeCert: string;
	pledgeKey: string;
	registrarCert: string;
	registrarKey: string;
	domainCa: string;
	masaCa: string;
}

const der = (pem: string): Uint8Array => pemToDer(pem)[0]!;

function client(p: Pems, clock: ManualClock, seed: number, send: (d: Uint8Array) => void, done: () => void): DtlsConnection {
	const r = new SeededRandom(seed);
	const crypto = createNobleCrypto((b) => r.fill(b));
	return new DtlsConnection({
		role: "client",
		crypto,
		clock,
		random: (b) => r.fill(b),
		send,
		identity: { certificates: [der(p.pledgeCert)], privateKey: parseEcPrivateKey(der(p.pledgeKey)) },
		verifyPeer: anchoredVerifier({ anchors: [der(p.domainCa)], crypto }),
		onConnected: done,
	});
}

/** One full handshake, both ends; returns the server's datagrams in the order the client got them. */
export function handshakeBothEnds(p: Pems, seed: number): Uint8Array[] {
	const clock = new ManualClock();
	const r = new SeededRandom(seed + 1);
	const crypto = createNobleCrypto((b) => r.fill(b));
	const toClient: Uint8Array[] = [];
	const toServer: Uint8Array[] = [];
	let connected = false;
	const server = new DtlsServer({
		crypto,
		clock,
		random: (b) => r.fill(b),
		identity: { certificates: [der(p.registrarCert)], privateKey: parseEcPrivateKey(der(p.registrarKey)) },
		verifyPeer: anchoredVerifier({ anchors: [der(p.masaCa)], crypto }),
		onAccept: () => {},
	});
	const c = client(p, clock, seed, (d) => toServer.push(d), () => (connected = true));
	const recorded: Uint8Array[] = [];
	c.start();
	for (let guard = 0; guard < 100 && !connected; guard++) {
		while (toServer.length > 0) server.receive(toServer.shift()!, "pledge", (d) => toClient.push(d));
		while (toClient.length > 0) {
			const d = toClient.shift()!;
			recorded.push(d.slice());
			c.receive(d);
		}
	}
	server.close();
	if (!connected) throw new Error("handshake did not complete");
	return recorded;
}

/** The client side alone, fed the server's recorded datagrams. */
export function handshakeClientOnly(p: Pems, seed: number, recorded: Uint8Array[]): void {
	let connected = false;
	const c = client(p, new ManualClock(), seed, () => {}, () => (connected = true));
	c.start();
	for (const d of recorded) c.receive(d.slice());
	if (!connected) throw new Error("replayed handshake did not complete");
}
