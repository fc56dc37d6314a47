/*
 * Node side of the drafts' DTLS test identities (test/lib/draft-dtls.ts): `pem` reads the vector files,
 * and the Registrar's front for either proxy mode, shared by the tests that run our pledge through our
 * Join Proxy to our Registrar.
 */

import { readFileSync } from "node:fs";
import { join } from "node:path";
import type { Host } from "../../hosts/host.js";
import { CoapsServer } from "../../modules/dtls/coaps.js";
import { pemToDer } from "../../modules/util/base64.js";
import { JpyEndpoint } from "../../src/registrar/jpy-endpoint.js";
import { VECTORS_DIR } from "./vectors.js";

export const pem = (name: string): Uint8Array => pemToDer(readFileSync(join(VECTORS_DIR, "cbrski", name), "utf8"))[0]!;

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
