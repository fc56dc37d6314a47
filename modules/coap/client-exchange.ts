/*
 * The client side of an endpoint (RFC 7252 §5.2, §8.2.2): one request, one response, matched by
 * token, whether the response comes piggybacked, separately after an empty ACK, or as NON; and a
 * multicast request that collects responses for a while.
 */

import type { Timer, UdpPeer } from "../../hosts/host.js";
import { ACK, CON, EMPTY, GET, MAX_TRANSMIT_SPAN_MS, NON, EXCHANGE_LIFETIME_MS, Opt } from "./constants.js";
import { CoapClosedError, CoapResetError, CoapTimeoutError } from "./errors.js";
import { EMPTY_BYTES, encode, option, setOption, type CoapMessage, type CoapOption } from "./message.js";
import { dedupKey, type DedupCache } from "./dedup.js";
import { samePeer, type MessageLayer } from "./message-layer.js";
import type { TimerSet } from "./timer-set.js";
import { pathSegments } from "./uri.js";
import { peerKey } from "../util/peer.js";
import type { ReceivedResponse, RequestOptions } from "./types.js";

export interface ClientExchangeOptions {
	messages: MessageLayer;
	timers: TimerSet;
	dedup: DedupCache;
	random: (bytes: Uint8Array) => Uint8Array;
	/** Token length in bytes, 1..8. */
	tokenLength: number;
	/** Wait for a separate response after an empty ACK. */
	responseTimeoutMs: number;
	/** Default collection window of a multicast request. */
	multicastLeisureMs: number;
}

interface Waiter {
	peer: UdpPeer | undefined; // undefined: any source (multicast)
	onResponse(msg: CoapMessage, from: UdpPeer): void;
}

/** A request's options in option-number order: its own, then Uri-Path, Uri-Query, Content-Format, Accept. */
export function requestOptions(req: RequestOptions): CoapOption[] {
	const options = (req.options ?? []).slice();
	for (const seg of pathSegments(req.path)) options.push(option(Opt.UriPath, seg));
	for (const q of req.query ?? []) options.push(option(Opt.UriQuery, q));
	options.sort((a, b) => a.number - b.number);
	if (req.contentFormat !== undefined) setOption(options, Opt.ContentFormat, req.contentFormat);
	if (req.accept !== undefined) setOption(options, Opt.Accept, req.accept);
	return options;
}

export class ClientExchanges {
	readonly #messages: MessageLayer;
	readonly #timers: TimerSet;
	readonly #dedup: DedupCache;
	readonly #random: (bytes: Uint8Array) => Uint8Array;
	readonly #tokenLength: number;
	readonly #responseTimeout: number;
	readonly #leisure: number;
	/** By token. */
	readonly #waiters = new Map<string, Waiter>();
	#closed = false;

	constructor(options: ClientExchangeOptions) {
		this.#messages = options.messages;
		this.#timers = options.timers;
		this.#dedup = options.dedup;
		this.#random = options.random;
		this.#tokenLength = options.tokenLength;
		this.#responseTimeout = options.responseTimeoutMs;
		this.#leisure = options.multicastLeisureMs;
	}

	/** Later exchanges fail with CoapClosedError. Idempotent. */
	close(): void {
		this.#closed = true;
		this.#waiters.clear();
	}

	/** A response (class 2..5) arrived: hand it to its exchange, acknowledging or resetting a CON one. */
	onResponse(msg: CoapMessage, peer: UdpPeer): void {
		const waiter = this.#waiters.get(tokenKey(msg.token));
		if (msg.type === CON) {
			const key = dedupKey(peer, msg.messageId);
			if (waiter !== undefined || this.#dedup.has(key)) {
				this.#messages.sendEmpty(ACK, msg.messageId, peer);
				this.#dedup.remember(key, EXCHANGE_LIFETIME_MS);
			} else {
				this.#messages.sendReset(msg.messageId, peer); // RFC 7252 §5.3.2: unknown token
				return;
			}
		}
		if (waiter === undefined) return;
		if (waiter.peer !== undefined && !samePeer(waiter.peer, peer)) return;
		waiter.onResponse(msg, peer);
	}

	/** One request/response exchange, no block-wise handling. */
	exchange(req: RequestOptions, options: CoapOption[], payload: Uint8Array): Promise<ReceivedResponse> {
		if (this.#closed) return Promise.reject(new CoapClosedError());
		const confirmable = req.confirmable ?? true;
		const token = this.#newToken();
		const key = tokenKey(token);
		const mid = this.#messages.allocateMid();
		const message: CoapMessage = { type: confirmable ? CON : NON, code: req.method ?? GET, messageId: mid, token, options, payload };
		const bytes = encode(message);
		return new Promise<ReceivedResponse>((resolve, reject) => {
			let deadline: Timer | undefined;
			const done = (): void => {
				this.#waiters.delete(key);
				if (deadline !== undefined) this.#timers.release(deadline);
			};
			const waitFor = (ms: number): void => {
				deadline = this.#timers.start(() => {
					done();
					reject(new CoapTimeoutError(`no response from ${peerKey(req.peer)} within ${ms} ms`));
				});
				deadline.arm(ms);
			};
			this.#waiters.set(key, {
				peer: req.peer,
				onResponse: (msg, from) => {
					// A separate response may overtake the lost empty ACK: it ends retransmission too.
					this.#messages.settle(mid);
					done();
					resolve({ code: msg.code, options: msg.options, payload: msg.payload, peer: from });
				},
			});
			if (!confirmable) {
				this.#messages.send(bytes, req.peer);
				waitFor(req.timeoutMs ?? MAX_TRANSMIT_SPAN_MS);
				return;
			}
			this.#messages.sendConfirmable(bytes, req.peer, {
				onAck: (ack) => {
					if (ack.code !== EMPTY) {
						this.#waiters.get(key)?.onResponse(ack, req.peer);
						return;
					}
					if (this.#waiters.has(key)) waitFor(req.timeoutMs ?? this.#responseTimeout); // separate response follows
				},
				onReset: () => {
					done();
					reject(new CoapResetError(`${peerKey(req.peer)} reset the request`));
				},
				onGiveUp: () => {
					done();
					reject(this.#closed ? new CoapClosedError() : new CoapTimeoutError(`no acknowledgement from ${peerKey(req.peer)} after ${this.#messages.maxRetransmit} retransmissions`));
				},
			});
		});
	}

	/**
	 * Sends a NON request to a multicast group and collects every response that arrives within the
	 * leisure window (RFC 7252 §8.2.2).
	 */
	multicastRequest(req: RequestOptions & { leisureMs?: number }): Promise<ReceivedResponse[]> {
		if (this.#closed) return Promise.reject(new CoapClosedError());
		const token = this.#newToken();
		const key = tokenKey(token);
		const message: CoapMessage = {
			type: NON,
			code: req.method ?? GET,
			messageId: this.#messages.allocateMid(),
			token,
			options: requestOptions(req),
			payload: req.payload ?? EMPTY_BYTES,
		};
		const responses: ReceivedResponse[] = [];
		return new Promise((resolve) => {
			this.#waiters.set(key, {
				peer: undefined,
				onResponse: (msg, from) => responses.push({ code: msg.code, options: msg.options, payload: msg.payload, peer: from }),
			});
			const t = this.#timers.start(() => {
				this.#timers.release(t);
				this.#waiters.delete(key);
				resolve(responses);
			});
			t.arm(req.leisureMs ?? this.#leisure);
			this.#messages.send(encode(message), req.peer);
		});
	}

	#newToken(): Uint8Array {
		for (;;) {
			const token = this.#random(new Uint8Array(this.#tokenLength));
			if (!this.#waiters.has(tokenKey(token))) return token;
		}
	}
}

/** Tokens as map keys: one character per byte. */
function tokenKey(token: Uint8Array): string {
	let s = "";
	for (let i = 0; i < token.length; i++) s += String.fromCharCode(token[i]!);
	return s;
}
