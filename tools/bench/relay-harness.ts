/*
 * A join proxy wired to a stub host, to drive its relay paths directly: no network, no clock
 * queue, so what a benchmark measures is the relay's own work (and, inside XS, its allocation).
 * Runs on XS and on Node.
 */

import type { Host, Timer, UdpArrival, UdpBindOptions, UdpPeer, UdpSocket } from "../../hosts/host.js";
import { JoinProxy } from "../../src/joinproxy/join-proxy.js";
import { encodeJpyInto, jpyEncodedLength, decodeJpy } from "../../modules/jpy/message.js";

interface StubSocket extends UdpSocket {
	options: UdpBindOptions;
	sent: number;
	last: Uint8Array;
	lastLength: number;
}

export interface RelayHarness {
	proxy: JoinProxy;
	/** Relays `count` pledge datagrams up and as many replies down; returns datagrams relayed. */
	run(count: number): number;
}

const REGISTRAR = "2001:db8::2";

export async function relayHarness(mode: "stateful" | "stateless"): Promise<RelayHarness> {
	let now = 0;
	let nextPort = 40000;
	const sockets: StubSocket[] = [];
	const timer = (): Timer => ({ armed: false, arm() {}, cancel() {} });
	const host: Host = {
		udp: {
			bind(options) {
				const s: StubSocket = {
					port: options.port || nextPort++,
					options,
					sent: 0,
					last: new Uint8Array(0),
					lastLength: 0,
					send(data, _to: Readonly<UdpPeer>, length = data.length) {
						s.sent++;
						s.last = data;
						s.lastLength = length;
					},
					joinMulticast() {},
					leaveMulticast() {},
					close() {},
				};
				sockets.push(s);
				return Promise.resolve(s);
			},
		},
		clock: { now: () => now, wallTime: () => now, timer },
		random: (b) => {
			for (let i = 0; i < b.length; i++) b[i] = (i * 31 + 7) & 0xff;
			return b;
		},
		storage: { get: () => undefined, set() {}, delete() {}, keys: () => [] },
		log() {},
	};
	const port = mode === "stateful" ? 5684 : 7634;
	const proxy = await JoinProxy.start({ host, mode, pledgeInterfaces: [{ name: "wpan0" }], registrars: [{ address: REGISTRAR, port }], answerDiscovery: false });
	const join = sockets.find((s) => s.port === 5684 && s.options.zone === "wpan0")!;
	const payload = new Uint8Array(200).fill(0x16);
	const pledge: UdpArrival = { address: "fe80::212:4b00:14aa:bbcc", port: 61616, zone: "wpan0", multicast: false };
	const registrar: UdpArrival = { address: REGISTRAR, port, zone: "", multicast: false };
	// One round trip to learn the Registrar-side socket and the reply the Registrar would send.
	join.options.onDatagram(payload, pledge);
	const up = sockets.find((s) => s !== join && s.sent > 0)!;
	let reply = payload.slice();
	if (mode === "stateless") {
		const v = decodeJpy(up.last, up.lastLength);
		reply = new Uint8Array(jpyEncodedLength(v.headerLength, payload.length));
		encodeJpyInto(up.last.slice(v.headerStart, v.headerStart + v.headerLength), payload, reply, 0);
	}
	// The relay may rewrite a received buffer in place (it owns it until it returns): restore it each time.
	const rx = new Uint8Array(reply.length);
	return {
		proxy,
		run(count) {
			for (let i = 0; i < count; i++) {
				now += 1;
				join.options.onDatagram(payload, pledge);
				rx.set(reply);
				up.options.onDatagram(rx, registrar);
			}
			return 2 * count;
		},
	};
}
