/* A CoAP endpoint on its own UDP socket: the usual way to run CoAP without DTLS. */

import type { Host, UdpSocket } from "../../hosts/host.js";
import { CoapEndpoint, type CoapEndpointOptions } from "./endpoint.js";

export interface UdpCoapOptions extends Omit<CoapEndpointOptions, "transport" | "clock" | "random"> {
	port?: number;
	address?: string;
	zone?: string;
	reuseAddress?: boolean;
	/** Multicast groups to join on `zone`, e.g. ff02::fd (RFC 7252 §12.8). */
	groups?: string[];
}

export interface UdpCoap {
	endpoint: CoapEndpoint;
	socket: UdpSocket;
	/** Idempotent. */
	close(): void;
}

export async function openUdpCoap(host: Pick<Host, "udp" | "clock" | "random">, options: UdpCoapOptions = {}): Promise<UdpCoap> {
	let endpoint: CoapEndpoint | undefined;
	const bind: Parameters<Host["udp"]["bind"]>[0] = {
		port: options.port ?? 0,
		onDatagram: (data, from) => endpoint?.receive(data, from),
	};
	if (options.address !== undefined) bind.address = options.address;
	if (options.zone !== undefined) bind.zone = options.zone;
	if (options.reuseAddress !== undefined) bind.reuseAddress = options.reuseAddress;
	const socket = await host.udp.bind(bind);
	const ep = new CoapEndpoint({ ...options, transport: socket, clock: host.clock, random: (b) => host.random(b) });
	endpoint = ep;
	for (const g of options.groups ?? []) socket.joinMulticast(g, options.zone);
	return {
		endpoint: ep,
		socket,
		close: () => {
			ep.close();
			socket.close();
		},
	};
}
