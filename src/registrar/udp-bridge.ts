/*
 * Puts any UDP (DTLS) server behind a JPY endpoint: each JPY session gets a UDP socket of its own
 * towards the server, so the server sees one client address/port per pledge, as it would behind a
 * stateful proxy. Used to front an existing DTLS server before the Registrar's own DTLS stack serves
 * JPY sessions directly.
 */

import type { Host, UdpPeer } from "../../hosts/host.js";
import { JpyEndpoint, type JpyEndpointOptions } from "./jpy-endpoint.js";

export interface UdpBridgeOptions extends Omit<JpyEndpointOptions, "onSession"> {
	/** The DTLS server every session is bridged to. */
	server: UdpPeer;
}

export function openJpyUdpBridge(options: UdpBridgeOptions): Promise<JpyEndpoint> {
	const host: Host = options.host;
	return JpyEndpoint.open({
		...options,
		onSession: (session) => {
			const pending: Uint8Array[] = [];
			let socket: Awaited<ReturnType<Host["udp"]["bind"]>> | undefined;
			let closed = false;
			host.udp
				.bind({ port: 0, onDatagram: (data) => session.send(data.slice()) })
				.then((s) => {
					if (closed) return s.close();
					socket = s;
					for (const d of pending.splice(0)) s.send(d, options.server);
				})
				.catch((e: unknown) => {
					host.log("error", `jpy bridge: cannot open a socket for ${session.id}: ${String(e)}`);
					session.close();
				});
			return {
				datagram: (content) => {
					if (socket === undefined) pending.push(content);
					else socket.send(content, options.server);
				},
				closed: () => {
					closed = true;
					socket?.close();
				},
			};
		},
	});
}
