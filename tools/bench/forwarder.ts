/*
 * One relay under load, in its own process (inside the bench's network namespace): our Join Proxy
 * in either mode, or the baseline, a bare dgram forwarder that does the least a stateful relay can
 * (one flow, two sockets, no checks). Prints "ready" once listening.
 */

import dgram from "node:dgram";
import { createNodeHost } from "../../hosts/node/index.js";
import { JoinProxy } from "../../src/joinproxy/join-proxy.js";

const [kind, iface, joinAddr, registrar, port] = process.argv.slice(2) as [string, string, string, string, string];

if (kind === "bare") {
	const down = dgram.createSocket({ type: "udp6", ipv6Only: true });
	const up = dgram.createSocket({ type: "udp6", ipv6Only: true });
	let pledge: { address: string; port: number } | undefined;
	down.on("message", (msg, rinfo) => {
		pledge = rinfo;
		up.send(msg, Number(port), registrar);
	});
	up.on("message", (msg) => {
		if (pledge !== undefined) down.send(msg, pledge.port, pledge.address);
	});
	down.bind(5684, `${joinAddr}%${iface}`, () => up.bind(0, () => console.log("ready")));
} else {
	const proxy = await JoinProxy.start({
		host: createNodeHost({ logLevel: "warn" }),
		mode: kind === "stateless" ? "stateless" : "stateful",
		pledgeInterfaces: [{ name: iface, address: joinAddr }],
		registrars: [{ address: registrar, port: Number(port) }],
		answerDiscovery: false,
	});
	console.log("ready");
	process.on("SIGTERM", () => {
		proxy.close();
		process.exit(0);
	});
}
