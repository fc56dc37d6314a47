/* A CoAP endpoint on its own UDP socket: the usual way to run CoAP without DTLS. */

import type { Host, UdpSocket } from "../../hosts/host.js";
import { CoapEndpoint, type CoapEndpointOptions } from "./endpoint.js";

export interface UdpCoapOptions extends Omit<CoapEndpointOptions, "transport" | "clock" | "random"> {
	port?: number;
	address?: string;
	zone?: string;
	reuseAddress?: boolean;
	/**
	 * Multicast groups to serve on `zone`, e.g. ff02::fd (RFC 7252 §12.8). Each gets a socket of its
	 * own bound to the group, so requests to it are known to be multicast (no error responses, replies
	 * spread over the leisure, RFC 7252 §8.2); replies leave by the unicast socket. Bind the unicast
	 * socket to a unicast address, not "::", or the host may hand it the group's datagrams too.
	 */
	groups?: string[];
}

export interface UdpCoap {
	endpoint: CoapEndpoint;
	/** The unicast socket: requests are sent and all responses leave from it. */
	socket: UdpSocket;
	/** Idempotent. */
	close(): void;
}

export async function openUdpCoap(host: Pick<Host, "udp" | "clock" | "random">, options: UdpCoapOptions = {}): Promise<UdpCoap> {
	let endpoint: CoapEndpoint | undefined;
	const groups = options.groups ?? [];
	const bindOn = (address: string | undefined, port: number): Promise<UdpSocket> => {
		const bind: Parameters<Host["udp"]["bind"]>[0] = { port, onDatagram: (data, from) => endpoint?.receive(data, from) };
		if (address !== undefined) bind.address = address;
		if (options.zone !== undefined) bind.zone = options.zone;
		if (options.reuseAddress === true || groups.length > 0) bind.reuseAddress = true;
		return host.udp.bind(bind);
	};
	const socket = await bindOn(options.address, options.port ?? 0);
	const groupSockets: UdpSocket[] = [];
	try {
		for (const g of groups) {
			const s = await bindOn(g, socket.port);
			groupSockets.push(s);
			s.joinMulticast(g, options.zone);
		}
	} catch (e) {
		for (const s of groupSockets) s.close();
		socket.close();
		throw e;
	}
	const ep = new CoapEndpoint({ ...options, transport: socket, clock: host.clock, random: (b) => host.random(b) });
	endpoint = ep;
	return {
		endpoint: ep,
		socket,
		close: () => {
			ep.close();
			for (const s of groupSockets) s.close();
			socket.close();
		},
	};
}
