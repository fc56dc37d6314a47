/*
 * A CoAP endpoint (RFC 7252 §4-§5, §8; RFC 7959 block-wise), client and server at once, over any
 * datagram transport: a UDP socket now, a DTLS session later, through the same two-method seam.
 * It sorts arriving messages to the layers that do the work: the message layer (IDs, ACK/RST,
 * retransmission), client exchanges, server exchanges with duplicate detection, and block-wise
 * transfer on either side.
 */

import type { Clock, Host, UdpArrival, UdpPeer } from "../../hosts/host.js";
import { MAX_SZX } from "./block.js";
import { ACK, CON, DEFAULT_LEISURE_MS, EMPTY, EXCHANGE_LIFETIME_MS, NSTART, RST, codeClass } from "./constants.js";
import { CoapParseError } from "./errors.js";
import { decode, type CoapMessage, type CoapOption } from "./message.js";
import { MessageLayer, type MessageLayerOptions } from "./message-layer.js";
import { ClientExchanges } from "./client-exchange.js";
import { ServerExchanges } from "./server-exchange.js";
import { BlockwiseServer } from "./blockwise-server.js";
import { blockwiseRequest } from "./blockwise-client.js";
import { DedupCache } from "./dedup.js";
import { Sweeper } from "./sweeper.js";
import { TimerSet } from "./timer-set.js";
import type { CoapHandler, CoapStats, CoapTransport, ReceivedResponse, RequestOptions } from "./types.js";

export type { CoapHandler, CoapRequest, CoapResponse, CoapStats, CoapTransport, ReceivedResponse, RequestOptions } from "./types.js";
export { pathSegments } from "./uri.js";

export interface CoapEndpointOptions {
	transport: CoapTransport;
	clock: Clock;
	random: (bytes: Uint8Array) => Uint8Array;
	handler?: CoapHandler;
	ackTimeoutMs?: number;
	ackRandomFactor?: number;
	maxRetransmit?: number;
	/**
	 * Cap on the doubling retransmission interval (default: none, RFC 7252 §4.2). A pledge behind a
	 * stateful Join Proxy keeps it below the proxy's 30 s slot lifetime, or a late retry arrives from
	 * a new Registrar-side port that its DTLS association does not know.
	 */
	maxRetransmitIntervalMs?: number;
	/** Server: send an empty ACK and a separate response when the handler takes longer than this. */
	separateResponseAfterMs?: number;
	/** Server: random delay bound for responses to multicast requests (RFC 7252 §8.2). */
	multicastLeisureMs?: number;
	/** Preferred block size exponent, both directions (default 6: 1024 bytes). */
	blockSzx?: number;
	/** Largest body reassembled from blocks, either direction. */
	maxBodyBytes?: number;
	tokenLength?: number;
	/** Entries kept for duplicate detection (oldest evicted first). */
	maxDedupEntries?: number;
	/** Wait for a separate response after an empty ACK (default EXCHANGE_LIFETIME). */
	responseTimeoutMs?: number;
	/**
	 * Client: interactions outstanding at once with one server (RFC 7252 §4.7; default NSTART, 1).
	 * Further requests to it wait, in order, until a response or an ACK ends one. Infinity: no limit.
	 */
	nstart?: number;
	/** Where messages that could not be sent are reported (they are counted in stats() either way). */
	log?: Host["log"];
}

const DEFAULT_SEPARATE_AFTER_MS = 500;
const DEFAULT_MAX_BODY = 64 * 1024;
const DEFAULT_MAX_DEDUP = 1000;
const DEFAULT_TOKEN_LENGTH = 4;
const SWEEP_INTERVAL_MS = 10_000;

export class CoapEndpoint {
	readonly #timers: TimerSet;
	readonly #sweeper: Sweeper;
	readonly #dedup: DedupCache;
	readonly #messages: MessageLayer;
	readonly #client: ClientExchanges;
	readonly #blockwise: BlockwiseServer;
	readonly #server: ServerExchanges;
	readonly #szx: number;
	readonly #maxBody: number;
	#closed = false;

	constructor(options: CoapEndpointOptions) {
		const { clock, random } = options;
		this.#szx = options.blockSzx ?? MAX_SZX;
		if (!(this.#szx >= 0 && this.#szx <= MAX_SZX)) throw new RangeError("blockSzx must be 0..6");
		this.#maxBody = options.maxBodyBytes ?? DEFAULT_MAX_BODY;
		const tokenLength = options.tokenLength ?? DEFAULT_TOKEN_LENGTH;
		if (!(tokenLength >= 1 && tokenLength <= 8)) throw new RangeError("tokenLength must be 1..8");
		const leisure = options.multicastLeisureMs ?? DEFAULT_LEISURE_MS;
		const timers = (this.#timers = new TimerSet(clock));
		const sweeper = (this.#sweeper = new Sweeper(clock, SWEEP_INTERVAL_MS));
		const dedup = (this.#dedup = new DedupCache({ clock, sweeper, maxEntries: options.maxDedupEntries ?? DEFAULT_MAX_DEDUP }));
		const layer: MessageLayerOptions = { transport: options.transport, random, timers };
		if (options.ackTimeoutMs !== undefined) layer.ackTimeoutMs = options.ackTimeoutMs;
		if (options.ackRandomFactor !== undefined) layer.ackRandomFactor = options.ackRandomFactor;
		if (options.maxRetransmit !== undefined) layer.maxRetransmit = options.maxRetransmit;
		if (options.maxRetransmitIntervalMs !== undefined) layer.maxRetransmitIntervalMs = options.maxRetransmitIntervalMs;
		if (options.log !== undefined) layer.log = options.log;
		const messages = (this.#messages = new MessageLayer(layer));
		this.#client = new ClientExchanges({
			messages,
			timers,
			dedup,
			random,
			tokenLength,
			responseTimeoutMs: options.responseTimeoutMs ?? EXCHANGE_LIFETIME_MS,
			multicastLeisureMs: leisure,
			nstart: options.nstart ?? NSTART,
		});
		const blockwise = (this.#blockwise = new BlockwiseServer({ clock, sweeper, szx: this.#szx, maxBodyBytes: this.#maxBody }));
		this.#server = new ServerExchanges({
			messages,
			timers,
			dedup,
			blockwise,
			handler: options.handler,
			separateResponseAfterMs: options.separateResponseAfterMs ?? DEFAULT_SEPARATE_AFTER_MS,
			multicastLeisureMs: leisure,
		});
	}

	stats(): CoapStats {
		return { ...this.#messages.stats };
	}

	/** Idempotent: cancels every timer and fails every exchange under way with CoapClosedError. */
	close(): void {
		if (this.#closed) return;
		this.#closed = true;
		this.#client.close();
		this.#server.close();
		this.#sweeper.close();
		this.#timers.clear();
		this.#messages.close();
		this.#dedup.clear();
		this.#blockwise.clear();
	}

	/** Feed every datagram from the transport here. `data` may be a reused buffer: it is copied. */
	receive(data: Uint8Array, from: Readonly<UdpArrival>): void {
		if (this.#closed) return;
		const stats = this.#messages.stats;
		stats.received++;
		const bytes = data.slice();
		const peer: UdpPeer = { address: from.address, port: from.port, zone: from.zone };
		let msg: CoapMessage;
		try {
			msg = decode(bytes);
		} catch (e) {
			if (!(e instanceof CoapParseError)) throw e;
			stats.parseErrors++;
			// RFC 7252 §4.2/§4.3: a malformed CON is rejected with RST if its Message ID is readable; others are ignored.
			if (bytes.length >= 4 && bytes[0]! >> 6 === 1 && ((bytes[0]! >> 4) & 3) === CON && !from.multicast) {
				this.#messages.sendReset((bytes[2]! << 8) | bytes[3]!, peer);
			}
			return;
		}
		if (msg.type === ACK || msg.type === RST) {
			this.#messages.onAckOrReset(msg, peer);
			return;
		}
		const cls = codeClass(msg.code);
		if (msg.code === EMPTY) {
			if (msg.type === CON && !from.multicast) this.#messages.sendReset(msg.messageId, peer); // CoAP ping (RFC 7252 §4.3)
		} else if (cls === 0) {
			this.#server.onRequest(msg, peer, from.multicast);
		} else if (cls >= 2 && cls <= 5) {
			this.#client.onResponse(msg, peer);
		} else if (msg.type === CON) {
			this.#messages.sendReset(msg.messageId, peer); // reserved code classes 1, 6, 7
		}
	}

	/**
	 * Sends a request and resolves with the whole response: a body larger than a block goes out with
	 * Block1, a Block2 response is fetched to its last block. Rejects with CoapTimeoutError,
	 * CoapResetError, CoapClosedError, or CoapParseError for an unusable Block option.
	 */
	request(req: RequestOptions): Promise<ReceivedResponse> {
		return blockwiseRequest((r, options, payload) => this.exchange(r, options, payload), req, { szx: this.#szx, maxBodyBytes: this.#maxBody });
	}

	/** One request/response exchange, no block-wise handling. */
	exchange(req: RequestOptions, options: CoapOption[], payload: Uint8Array): Promise<ReceivedResponse> {
		return this.#client.exchange(req, options, payload);
	}

	/**
	 * Sends a NON request to a multicast group and collects every response that arrives within the
	 * leisure window (RFC 7252 §8.2.2). Block-wise does not apply to multicast.
	 */
	multicastRequest(req: RequestOptions & { leisureMs?: number }): Promise<ReceivedResponse[]> {
		return this.#client.multicastRequest(req);
	}
}
