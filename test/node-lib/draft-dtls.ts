/*
 * The drafts' pledge and Registrar DTLS identities and the Registrar's front for either proxy mode,
 * shared by the tests that run our pledge through our Join Proxy to our Registrar.
 */

import { readFileSync } from "node:fs";
import { join } from "node:path";
import type { Host } from "../../hosts/host.js";
import type { CryptoProvider } from "../../modules/crypto/provider.js";
import { CoapsServer } from "../../modules/dtls/coaps.js";
import { anchoredVerifier } from "../../modules/dtls/peer-verifier.js";
import { pemToDer } from "../../modules/util/base64.js";
import { parseEcPrivateKey } from "../../modules/x509/private-key.js";
import { JpyEndpoint } from "../../src/registrar/jpy-endpoint.js";
import { VECTORS_DIR } from "./vectors.js";

export const pem = (name: string): Uint8Array => pemToDer(readFileSync(join(VECTORS_DIR, "cbrski", name), "utf8"))[0]!;

/** The pledge's IDevID and its trust in the domain CA. */
export function pledgeCredentials(crypto: CryptoProvider) {
	return {
		identity: { certificates: [pem("cert-pledge.pem")], privateKey: parseEcPrivateKey(pem("key-pledge.pem")) },
		verifyPeer: anchoredVerifier({ anchors: [pem("cert-domain_ca.pem")], crypto }),
	};
}

/** The Registrar's certificate and its trust in the manufacturer (MASA) CA for pledges. */
export function registrarCredentials(crypto: CryptoProvider) {
	return {
		identity: { certificates: [pem("cert-registrar.pem")], privateKey: parseEcPrivateKey(pem("key-registrar.pem")) },
		verifyPeer: anchoredVerifier({ anchors: [pem("cert-masa_ca.pem")], crypto }),
	};
}

/**
 * Puts `server` behind the Registrar's front for `mode`: plain DTLS on `dtlsPort` (stateful proxy), or
 * the JPY endpoint on `jpyPort` with DTLS sessions keyed by JPY session (stateless). Returns close().
 */
export async function openRegistrarFront(host: Host, server: CoapsServer, mode: "stateful" | "stateless", ports = { dtlsPort: 5684, jpyPort: 7634 }): Promise<() => void> {
	if (mode === "stateful") {
		const socket = await CoapsServer.onUdp(host, server, { port: ports.dtlsPort });
		return () => socket.close();
	}
	const jpy = await JpyEndpoint.open({
		host,
		port: ports.jpyPort,
		onSession: (session) => {
			const from = { ...session.proxy, multicast: false };
			return { datagram: (content) => server.receive(content, session.id, (d) => session.send(d), from) };
		},
	});
	return () => jpy.close();
}
