/* What requests and responses look like between a CoAP endpoint and the code that uses it. */

import type { UdpPeer } from "../../hosts/host.js";
import type { CoapOption } from "./message.js";

/** The seam to the network: a UDP socket, or a DTLS session that ignores `to`. */
export interface CoapTransport {
	send(data: Uint8Array, to: Readonly<UdpPeer>): void;
}

export interface CoapRequest {
	method: number;
	path: string[];
	query: string[];
	/** All options as received (Block1/Block2/Size1 of a reassembled body included). */
	options: CoapOption[];
	/** The whole body, reassembled from Block1 transfers. */
	payload: Uint8Array;
	peer: UdpPeer;
	multicast: boolean;
	confirmable: boolean;
}

export interface CoapResponse {
	code: number;
	options?: CoapOption[];
	payload?: Uint8Array;
	contentFormat?: number;
}

/** `null`: send no response (e.g. a multicast request this server has nothing useful for). */
export type CoapHandler = (request: CoapRequest) => CoapResponse | null | Promise<CoapResponse | null>;

export interface ReceivedResponse {
	code: number;
	options: CoapOption[];
	/** The whole body, reassembled from Block2 transfers. */
	payload: Uint8Array;
	peer: UdpPeer;
}

export interface RequestOptions {
	peer: UdpPeer;
	method?: number;
	/** "/a/b" or ["a", "b"]. */
	path?: string | string[];
	query?: string[];
	options?: CoapOption[];
	payload?: Uint8Array;
	contentFormat?: number;
	accept?: number;
	/** Default true; false sends NON. */
	confirmable?: boolean;
	/** Block size exponent for Block1 and (early negotiation) Block2; default from the endpoint. */
	blockSzx?: number;
	/** For a NON request, or after an empty ACK: how long to wait for the response. */
	timeoutMs?: number;
}

export interface CoapStats {
	sent: number;
	received: number;
	retransmissions: number;
	duplicates: number;
	parseErrors: number;
	resetsSent: number;
	/** Messages not sent: the transport refused them, or a reply could not be built (then a 5.00 went instead). */
	sendErrors: number;
}
