/*
 * Counts every datagram and UDP payload byte the pledge sends and receives, by wrapping the host's
 * Udp: what the onboarding costs on the pledge's link (issue 8's onboarding.*.datagrams/bytes).
 */

import type { Udp, UdpBindOptions, UdpSocket } from "../../hosts/host.js";

export interface TrafficCounters {
	datagramsSent: number;
	bytesSent: number;
	datagramsReceived: number;
	bytesReceived: number;
}

export function newTrafficCounters(): TrafficCounters {
	return { datagramsSent: 0, bytesSent: 0, datagramsReceived: 0, bytesReceived: 0 };
}

/** A Udp whose sockets add to `counters` (and, if given, to `also`, e.g. the current attempt's). */
export function countingUdp(udp: Udp, counters: TrafficCounters, also?: () => TrafficCounters | undefined): Udp {
	const add = (sent: boolean, bytes: number): void => {
		for (const c of [counters, also?.()]) {
			if (c === undefined) continue;
			if (sent) {
				c.datagramsSent++;
				c.bytesSent += bytes;
			} else {
				c.datagramsReceived++;
				c.bytesReceived += bytes;
			}
		}
	};
	return {
		async bind(options: UdpBindOptions): Promise<UdpSocket> {
			const inner = await udp.bind({
				...options,
				onDatagram: (data, from) => {
					add(false, data.length);
					options.onDatagram(data, from);
				},
			});
			return {
				get port() {
					return inner.port;
				},
				send(data, to, length) {
					add(true, length ?? data.length);
					inner.send(data, to, length);
				},
				joinMulticast: (g, z) => inner.joinMulticast(g, z),
				leaveMulticast: (g, z) => inner.leaveMulticast(g, z),
				close: () => inner.close(),
			};
		},
	};
}
