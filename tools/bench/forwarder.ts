/*
 * One relay under load, in its own process (inside the bench's network namespace): our Join Proxy
 * in either mode, or the baseline, a bare dgram forwarder that does the least a stateful relay can
 * (one flow, two sockets, no checks). Spawned with an IPC channel: says "ready" once listening, and
 * answers each "usage" with its CPU time so far (all threads, µs), so that the bench can charge the
 * relay's own work per datagram whatever else runs on the machine.
 */

import dgram from "node:dgram";
import { createNodeHost } from "../../hosts/node/index.js";
import { JoinProxy } from "../../src/joinproxy/join-proxy.js";

const [kind, iface, joinAddr, registrar, port] = process.argv.slice(2) as [string, string, string, string, string];

let close = (): void => {};
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
	await new Promise<void>((r) => down.bind(5684, `${joinAddr}%${iface}`, r));
	await new Promise<void>((r) => up.bind(0, r));
	close = () => {
		down.close();
		up.close();
	};
} else {
	// Public options only, and only those a deployment would set for one configured Registrar.
	const proxy = await JoinProxy.start({
		host: createNodeHost({ logLevel: "warn" }),
		mode: kind === "stateless" ? "stateless" : "stateful",
		pledgeInterfaces: [{ name: iface, address: joinAddr }],
		registrars: [{ address: registrar, port: Number(port) }],
		answerDiscovery: false,
	});
	close = () => proxy.close();
}

process.on("message", (m) => {
	if (m === "usage") {
		const u = process.cpuUsage();
		process.send!({ cpuMicros: u.user + u.system });
	} else if (m === "close") {
		close();
		process.disconnect();
	}
});
process.send!("ready");
