/*
 * Datagrams per second through a relay process, our Join Proxy against a bare dgram forwarder, on
 * the same path: run inside a network namespace whose dummy interface carries the pledge's and the
 * proxy's link-local addresses (the proxy relays only link-local pledges). Prints one JSON line.
 */

import dgram from "node:dgram";
import { spawn } from "node:child_process";
import { fileURLToPath } from "node:url";
import { decodeJpy, encodeJpyInto, jpyEncodedLength } from "../../modules/jpy/message.js";

const IFACE = "d0";
const PROXY = "fe80::1";
const PLEDGE = "fe80::2";
const REGISTRAR = "2001:db8::2";
const WINDOW = 32;
const WARMUP_MS = 300;
const MEASURE_MS = 1000;
const PAYLOAD = Buffer.alloc(200, 0x16);

async function measure(kind: "bare" | "stateful" | "stateless"): Promise<number> {
	const jpy = kind === "stateless";
	const registrar = dgram.createSocket({ type: "udp6", ipv6Only: true });
	registrar.on("message", (msg, rinfo) => {
		if (!jpy) return void registrar.send(msg, rinfo.port, rinfo.address);
		const v = decodeJpy(msg);
		const out = Buffer.alloc(jpyEncodedLength(v.headerLength, v.contentLength));
		encodeJpyInto(msg.subarray(v.headerStart, v.headerStart + v.headerLength), msg.subarray(v.contentStart, v.contentStart + v.contentLength), out, 0);
		registrar.send(out, rinfo.port, rinfo.address);
	});
	const regPort = jpy ? 7634 : 5684;
	await new Promise<void>((r) => registrar.bind(regPort, REGISTRAR, r));
	const child = spawn(process.execPath, ["--import", "tsx", fileURLToPath(new URL("./forwarder.ts", import.meta.url)), kind, IFACE, PROXY, REGISTRAR, String(regPort)], { stdio: ["ignore", "pipe", "inherit"] });
	await new Promise<void>((resolve, reject) => {
		child.stdout!.on("data", (d: Buffer) => d.toString().includes("ready") && resolve());
		child.once("exit", (code) => reject(new Error(`${kind} forwarder exited with ${code}`)));
	});
	const pledge = dgram.createSocket({ type: "udp6", ipv6Only: true });
	await new Promise<void>((r) => pledge.bind(61616, `${PLEDGE}%${IFACE}`, r));
	let received = 0;
	const send = (): void => pledge.send(PAYLOAD, 5684, `${PROXY}%${IFACE}`);
	pledge.on("message", () => {
		received++;
		send();
	});
	// Refill the window now and then: a datagram lost under load must not stall the loop.
	const refill = setInterval(() => {
		for (let i = 0; i < WINDOW / 4; i++) send();
	}, 100);
	for (let i = 0; i < WINDOW; i++) send();
	await new Promise((r) => setTimeout(r, WARMUP_MS));
	const start = received;
	const t0 = performance.now();
	await new Promise((r) => setTimeout(r, MEASURE_MS));
	const rate = ((received - start) * 1000) / (performance.now() - t0);
	clearInterval(refill);
	child.kill("SIGTERM");
	pledge.close();
	registrar.close();
	await new Promise((r) => child.once("exit", r));
	return rate;
}

// Interleaved rounds, medians: a burst of load elsewhere on the machine then skews one round, not the figure.
const ROUNDS = 3;
const stateful: number[] = [];
const stateless: number[] = [];
const bare: number[] = [];
for (let i = 0; i < ROUNDS; i++) {
	const b1 = await measure("bare");
	const sf = await measure("stateful");
	const sl = await measure("stateless");
	const b2 = await measure("bare");
	const b = (b1 + b2) / 2;
	bare.push(b);
	stateful.push(sf / b);
	stateless.push(sl / b);
}
const median = (xs: number[]): number => xs.slice().sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
console.log(JSON.stringify({ bareRoundTripsPerSecond: Math.round(median(bare)), statefulRatio: median(stateful), statelessRatio: median(stateless), rounds: ROUNDS }));
