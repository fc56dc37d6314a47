/* The in-memory network of the Join Proxy suites: a proxy between a mesh and a backbone, pledges, and Registrar stand-ins. */

import { ManualClock, MemoryNetwork, createXsHost, type InFlight } from "../../hosts/xs/index.js";
import type { Host, IcmpError, UdpArrival, UdpPeer, UdpSocket } from "../../hosts/host.js";
import type { JoinProxyOptions } from "../../src/joinproxy/join-proxy.js";
import { decodeJpy, encodeJpyInto, jpyEncodedLength } from "../../modules/jpy/message.js";
import { utf8Decode, utf8Encode } from "../../modules/util/utf8.js";
import { toHex } from "../../modules/util/hex.js";

export const REGISTRAR = "2001:db8::2";
export const JPY_PORT = 7634;
export const DTLS_PORT = 5684;

export interface Received {
	data: Uint8Array;
	from: UdpArrival;
}

export interface Net {
	clock: ManualClock;
	net: MemoryNetwork;
	trace: InFlight[];
	proxyHost: Host;
	registrarHost: Host;
	logs: string[];
	pledge(n: number): Host;
}

export function topology(options: { maxDatagram?: number } = {}): Net {
	const clock = new ManualClock();
	const trace: InFlight[] = [];
	const net = new MemoryNetwork({ clock, filter: (d) => (trace.push(d), true), ...options });
	const logs: string[] = [];
	const proxyHost = createXsHost({
		network: net,
		name: "proxy",
		interfaces: [
			{ name: "wpan0", link: "mesh", addresses: ["fe80::1"] },
			{ name: "eth0", link: "backbone", addresses: ["fe80::e1", "2001:db8::1"] },
		],
		log: (level, m) => logs.push(`${level} ${m}`),
	});
	const registrarHost = createXsHost({ network: net, name: "registrar", interfaces: [{ name: "eth0", link: "backbone", addresses: ["fe80::e2", REGISTRAR] }] });
	return {
		clock,
		net,
		trace,
		proxyHost,
		registrarHost,
		logs,
		pledge: (n) => createXsHost({ network: net, name: `pledge${n}`, interfaces: [{ name: "wpan0", link: "mesh", addresses: [`fe80::${(0x100 + n).toString(16)}`] }] }),
	};
}

export async function collect(host: Host, port: number, sink: Received[], onIcmp?: (e: IcmpError) => void): Promise<UdpSocket> {
	return host.udp.bind({ port, onDatagram: (data, from) => sink.push({ data: data.slice(), from: { ...from } }), ...(onIcmp ? { onIcmpError: onIcmp } : {}) });
}

export const JOIN: UdpPeer = { address: "fe80::1", port: 5684, zone: "wpan0" };

export function proxyOptions(n: Net, extra: Partial<JoinProxyOptions>): JoinProxyOptions {
	return { host: n.proxyHost, pledgeInterfaces: [{ name: "wpan0", address: "fe80::1" }], answerDiscovery: false, ...extra };
}

/** A stateful "Registrar" that answers each datagram with "re:" + payload, and records sources. */
export async function echoRegistrar(n: Net, seen: Received[]): Promise<UdpSocket> {
	const s: UdpSocket = await n.registrarHost.udp.bind({
		port: DTLS_PORT,
		onDatagram: (data, from) => {
			seen.push({ data: data.slice(), from: { ...from } });
			s.send(utf8Encode(`re:${utf8Decode(data)}`), from);
		},
	});
	return s;
}

/** A stateless "Registrar": echoes each JPY message's header with "re:" + content. */
export async function jpyRegistrar(n: Net, seen: { header: string; content: string; from: UdpArrival }[]): Promise<UdpSocket> {
	const s: UdpSocket = await n.registrarHost.udp.bind({
		port: JPY_PORT,
		onDatagram: (data, from) => {
			const v = decodeJpy(data);
			const header = data.slice(v.headerStart, v.headerStart + v.headerLength);
			const content = utf8Decode(data.subarray(v.contentStart, v.contentStart + v.contentLength));
			seen.push({ header: toHex(header), content, from: { ...from } });
			const reply = utf8Encode(`re:${content}`);
			const out = new Uint8Array(jpyEncodedLength(header.length, reply.length));
			encodeJpyInto(header, reply, out, 0);
			s.send(out, from);
		},
	});
	return s;
}

