/*
 * Puts any UDP (DTLS) server behind a JPY endpoint: each JPY session gets a UDP socket of its own
 * towards the server, so the server sees one client address/port per pledge, as it would behind a
 * stateful proxy. Used to front an existing DTLS server before the Registrar's own DTLS stack serves
 * JPY sessions directly.
 *
 * A session socket takes datagrams from the server's address and port only: anything else reaching
 * its (ephemeral) port would otherwise go to the pledge under the session's genuine header.
 */

import type { Host, UdpArrival, UdpPeer, UdpSocket } from "../../hosts/host.js";
import { canonicalIPv6 } from "../../modules/util/ipv6.js";
import { JpyEndpoint, type JpyEndpointOptions, type JpyEndpointStats } from "./jpy-endpoint.js";

export interface UdpBridgeOptions extends Omit<JpyEndpointOptions, "onSession"> {
	/** The DTLS server every session is bridged to. */
	server: UdpPeer;
}

export interface UdpBridgeStats extends JpyEndpointStats {
	/** Datagrams on session sockets from anyone but the server, dropped. */
	foreignDatagrams: number;
}

export interface JpyUdpBridge {
	readonly port: number;
	stats(): UdpBridgeStats;
	/** Idempotent. */
	close(): void;
}

/** Datagrams a session keeps while its socket is still being bound (a handshake's first flight). */
const MAX_EARLY_DATAGRAMS = 8;

export async function openJpyUdpBridge(options: UdpBridgeOptions): Promise<JpyUdpBridge> {
	const host: Host = options.host;
	const server = options.server;
	// Hosts report sources in canonical text (RFC 5952), so one comparison per datagram suffices.
	const serverAddress = canonicalIPv6(server.address) ?? server.address;
	let foreign = 0;
	const fromServer = (from: Readonly<UdpArrival>): boolean =>
		from.port === server.port && from.address === serverAddress && (server.zone === "" || from.zone === server.zone);
	const endpoint = await JpyEndpoint.open({
		...options,
		onSession: (session) => {
			const pending: Uint8Array[] = [];
			let socket: UdpSocket | undefined;
			let closed = false;
			host.udp
				.bind({
					port: 0,
					onDatagram: (data, from) => {
						if (fromServer(from)) session.send(data);
						else foreign++;
					},
				})
				.then((s) => {
					if (closed) return s.close();
					socket = s;
					for (const d of pending.splice(0)) s.send(d, server);
				})
				.catch((e: unknown) => {
					host.log("error", `jpy bridge: cannot open a socket for ${session.id}: ${String(e)}`);
					session.close();
				});
			return {
				datagram: (content) => {
					if (socket !== undefined) socket.send(content, server);
					else if (pending.length < MAX_EARLY_DATAGRAMS) pending.push(content);
				},
				closed: () => {
					closed = true;
					socket?.close();
				},
			};
		},
	});
	return {
		get port() {
			return endpoint.port;
		},
		stats: () => ({ ...endpoint.stats(), foreignDatagrams: foreign }),
		close: () => endpoint.close(),
	};
}
