/* Helpers for tests that run peers on loopback (::1). */

import { createSocket } from "node:dgram";
import { readFileSync } from "node:fs";
import type { Udp } from "../../hosts/host.js";
import { SeededRandom } from "../../hosts/xs/seeded-random.js";
import type { DtlsIdentity } from "../../modules/dtls/connection.js";
import { pemToDer } from "../../modules/util/base64.js";
import { parseEcPrivateKey } from "../../modules/x509/private-key.js";

/** A UDP port free on ::1 right now (bound and released). */
export function freeUdpPort(): Promise<number> {
	return new Promise((resolve, reject) => {
		const s = createSocket({ type: "udp6", ipv6Only: true });
		s.once("error", reject);
		s.bind(0, "::1", () => {
			const { port } = s.address();
			s.close(() => resolve(port));
		});
	});
}

/** A DTLS identity from PEM files: the certificate chain and a SEC1 or PKCS#8 P-256 key. */
export function pemIdentity(certFile: string, keyFile: string): DtlsIdentity {
	return { certificates: pemToDer(readFileSync(certFile, "utf8"), "CERTIFICATE"), privateKey: parseEcPrivateKey(pemToDer(readFileSync(keyFile, "utf8"))[0]!) };
}

/**
 * The host's UDP with seeded loss in both directions on every socket it binds: peers we did not write
 * see a lossy network, and both sides' retransmission must carry the exchange through.
 */
export function lossyUdp(udp: Udp, rate: number, seed: number): Udp {
	const r = new SeededRandom(seed);
	const pass = (): boolean => r.float() >= rate;
	return {
		bind: async (options) => {
			const socket = await udp.bind({ ...options, onDatagram: (d, from) => pass() && options.onDatagram(d, from) });
			return {
				get port() {
					return socket.port;
				},
				send: (data, to, length) => pass() && socket.send(data, to, length),
				joinMulticast: (g, z) => socket.joinMulticast(g, z),
				leaveMulticast: (g, z) => socket.leaveMulticast(g, z),
				close: () => socket.close(),
			};
		},
	};
}
