/*
 * CoAP over DTLS (RFC 7252 §9): the CoAP endpoint runs on a DTLS association through the same
 * transport seam it uses on plain UDP. A client opens one association to one server; a server gives
 * every association its own endpoint (message IDs and deduplication are per association) and serves
 * them all with one handler.
 */

import type { Host, UdpArrival, UdpPeer, UdpSocket } from "../../hosts/host.js";
import { CoapEndpoint, type CoapEndpointOptions, type CoapRequest, type CoapResponse } from "../coap/endpoint.js";
import { szxWithin } from "../coap/block.js";
import { DtlsConnection, type DtlsConnectionOptions, type DtlsIdentity, type PeerVerifier } from "./connection.js";
import type { CryptoProvider } from "../crypto/provider.js";
import { DtlsServer, type DtlsServerOptions } from "./server.js";
import { peerKey } from "../util/peer.js";

type CoapOptions = Omit<CoapEndpointOptions, "transport" | "clock" | "random" | "handler">;

export interface CoapsClientOptions {
	host: Pick<Host, "udp" | "clock" | "random">;
	crypto: CryptoProvider;
	server: UdpPeer;
	identity: DtlsIdentity;
	verifyPeer: PeerVerifier;
	/** Local address and zone to bind (a pledge binds its link-local address). */
	address?: string;
	zone?: string;
	/** Local port to bind (default: an ephemeral one). */
	port?: number;
	dtls?: Partial<Pick<DtlsConnectionOptions, "maxFragmentLength" | "mtu" | "retransmitInitialMs" | "retransmitMaxMs" | "handshakeTimeoutMs">>;
	coap?: CoapOptions;
}

export interface CoapsClient {
	endpoint: CoapEndpoint;
	connection: DtlsConnection;
	/** Idempotent: close_notify, then the socket. */
	close(): void;
}

/** Opens a DTLS association to `server` and resolves with a CoAP endpoint on it once connected. */
export async function openCoapsClient(options: CoapsClientOptions): Promise<CoapsClient> {
	const { host } = options;
	let connection: DtlsConnection | undefined;
	const bind: Parameters<Host["udp"]["bind"]>[0] = { port: options.port ?? 0, onDatagram: (d) => connection?.receive(d.slice()) };
	if (options.address !== undefined) bind.address = options.address;
	if (options.zone !== undefined) bind.zone = options.zone;
	const socket: UdpSocket = await host.udp.bind(bind);
	const peer: UdpArrival = { ...options.server, multicast: false };
	let endpoint: CoapEndpoint | undefined;
	return new Promise<CoapsClient>((resolve, reject) => {
		const conn = new DtlsConnection({
			role: "client",
			crypto: options.crypto,
			clock: host.clock,
			random: (b) => host.random(b),
			send: (d) => socket.send(d, options.server),
			identity: options.identity,
			verifyPeer: options.verifyPeer,
			...options.dtls,
			onConnected: () => {
				endpoint = new CoapEndpoint({ ...options.coap, ...associationCoap(options.coap, conn), clock: host.clock, random: (b) => host.random(b) });
				resolve({
					endpoint,
					connection: conn,
					close: () => {
						endpoint?.close();
						conn.close();
						socket.close();
					},
				});
			},
			onData: (d) => endpoint?.receive(d, peer),
			onClose: (e) => {
				endpoint?.close();
				socket.close();
				reject(e ?? new Error("DTLS association closed before it was established"));
			},
		});
		connection = conn;
		conn.start();
	});
}

/**
 * What an association's CoAP endpoint takes from it: its records as transport, and a block size
 * whose messages fit the record limit it negotiated (max_fragment_length 2^9 allows no 512-byte
 * blocks), whatever the configured one. The client's Block2 size cannot raise it (RFC 7959 §2.4).
 */
function associationCoap(coap: CoapOptions | undefined, connection: DtlsConnection): Pick<CoapEndpointOptions, "transport" | "blockSzx"> {
	return { transport: { send: (data) => connection.send(data) }, blockSzx: szxWithin(connection.maxPlaintext, coap?.blockSzx) };
}

/** A request on a DTLS association: who is asking, as the handshake authenticated them. */
export interface CoapsRequest extends CoapRequest {
	/** The peer's certificate chain from the handshake (leaf first), verified by `verifyPeer`. */
	peerCertificates: readonly Uint8Array[];
	/** The association's peer key (the `peer` given to receive()): one per DTLS session. */
	association: string;
}

/** Any CoapHandler fits; one that needs the peer's identity reads the CoapsRequest fields. */
export type CoapsHandler = (request: CoapsRequest) => CoapResponse | null | Promise<CoapResponse | null>;

export interface CoapsServerOptions extends Omit<DtlsServerOptions, "onAccept" | "onData" | "onConnected" | "onClose"> {
	handler: CoapsHandler;
	coap?: CoapOptions;
}

/**
 * A CoAPS server independent of how datagrams arrive: feed receive(datagram, peer, reply, from) from a
 * UDP socket or from a JPY session. `from` is what handlers see as the request's peer.
 */
export class CoapsServer {
	readonly #dtls: DtlsServer;
	readonly #endpoints = new Map<string, { endpoint: CoapEndpoint; from: UdpArrival; connection: DtlsConnection }>();
	/** Where the datagram being handled came from, while receive() runs: a new association's `from`. */
	#arriving: Readonly<UdpArrival> | undefined;

	constructor(options: CoapsServerOptions) {
		const { handler, coap, ...dtls } = options;
		this.#dtls = new DtlsServer({
			...dtls,
			onAccept: (peer, connection) => {
				const from: UdpArrival = { ...(this.#arriving ?? { address: "", port: 0, zone: "", multicast: false }) };
				const secure = (request: CoapRequest) => handler({ ...request, peerCertificates: connection.peerCertificates, association: peer });
				const endpoint = new CoapEndpoint({ ...coap, ...associationCoap(coap, connection), handler: secure, clock: options.clock, random: options.random });
				this.#endpoints.set(peer, { endpoint, from, connection });
			},
			onData: (peer, data) => {
				const e = this.#endpoints.get(peer);
				e?.endpoint.receive(data, e.from);
			},
			// Only the ended association's endpoint goes: a peer that restarted has a new one (RFC 6347 §4.2.8).
			onClose: (peer, _error, connection) => {
				const e = this.#endpoints.get(peer);
				if (e?.connection !== connection) return;
				e.endpoint.close();
				this.#endpoints.delete(peer);
			},
		});
	}

	get dtls(): DtlsServer {
		return this.#dtls;
	}

	receive(datagram: Uint8Array, peer: string, reply: (d: Uint8Array) => void, from: Readonly<UdpArrival>): void {
		this.#arriving = from;
		try {
			this.#dtls.receive(datagram, peer, reply);
		} finally {
			this.#arriving = undefined;
		}
	}

	/** Serves CoAPS on a UDP socket of `host` (peer identity: address, zone and port). */
	static async onUdp(host: Pick<Host, "udp">, server: CoapsServer, bind: { port?: number; address?: string; zone?: string }): Promise<UdpSocket> {
		const socket: UdpSocket = await host.udp.bind({
			...bind,
			onDatagram: (d, from) => {
				const to: UdpPeer = { address: from.address, port: from.port, zone: from.zone };
				server.receive(d.slice(), peerKey(from), (out) => socket.send(out, to), from);
			},
		});
		return socket;
	}

	/** Idempotent. */
	close(): void {
		for (const e of this.#endpoints.values()) e.endpoint.close();
		this.#endpoints.clear();
		this.#dtls.close();
	}
}
