/* Our DTLS server (node:crypto provider) on ::1 for the handshake benchmark; prints "ready <port>". */

import { readFileSync } from "node:fs";
import { createNodeHost } from "../../hosts/node/index.js";
import { createNodeCrypto } from "../../hosts/node/crypto.js";
import { DtlsServer } from "../../modules/dtls/server.js";
import { anchoredVerifier } from "../../modules/dtls/peer-verifier.js";
import { parseEcPrivateKey } from "../../modules/x509/private-key.js";
import { pemToDer } from "../../modules/util/base64.js";

const [cert, key, ca] = process.argv.slice(2) as [string, string, string];
const host = createNodeHost({ logLevel: "error" });
const crypto = createNodeCrypto();
const server = new DtlsServer({
	crypto,
	clock: host.clock,
	random: (b) => host.random(b),
	identity: { certificates: pemToDer(readFileSync(cert, "utf8"), "CERTIFICATE"), privateKey: parseEcPrivateKey(pemToDer(readFileSync(key, "utf8"))[0]!) },
	verifyPeer: anchoredVerifier({ anchors: pemToDer(readFileSync(ca, "utf8")), crypto, now: () => Date.now() }),
	onAccept: () => {},
	maxSessions: 1024,
});
const socket = await host.udp.bind({
	address: "::1",
	onDatagram: (d, from) => {
		const to = { address: from.address, port: from.port, zone: "" };
		server.receive(new Uint8Array(d), `${from.address}:${from.port}`, (out) => socket.send(out, to));
	},
});
console.log(`ready ${socket.port}`);
process.on("SIGTERM", () => {
	server.close();
	socket.close();
	process.exit(0);
});
