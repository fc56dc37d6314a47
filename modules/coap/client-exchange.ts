/*
 * The client side of an endpoint (RFC 7252 §5.2, §8.2.2): one request, one response, matched by
 * token, whether the response comes piggybacked, separately after an empty ACK, or as NON; and a
 * multicast request that collects responses for a while. Requests to one server beyond NSTART wait
 * their turn (RFC 7252 §4.7).
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
	/** Outstanding interactions per server (RFC 7252 §4.7 NSTART), at least 1; Infinity: no limit. */
	nstart: number;
}

interface Waiter {
	peer: UdpPeer | undefined; // undefined: any source (multicast)
	onResponse(msg: CoapMessage, from: UdpPeer): void;
	/** Ends the exchange with `error` (close()); absent for multicast, which just stops collecting. */
	fail?(error: Error): void;
}

/** A request waiting for its server to have fewer than NSTART interactions outstanding. */
interface Queued {
	start(): void;
	fail(error: Error): void;
}

/** Per server: interactions outstanding, and requests in arrival order waiting for one to end. */
interface ServerLoad {
	outstanding: number;
	queue: Queued[];
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
	readonly #nstart: number;
	/** By token. */
	readonly #waiters = new Map<string, Waiter>();
	/** By peerKey; an entry lives only while its server has an interaction outstanding. */
	readonly #load = new Map<string, ServerLoad>();
	#closed = false;

	constructor(options: ClientExchangeOptions) {
		this.#messages = options.messages;
		this.#timers = options.timers;
		this.#dedup = options.dedup;
		this.#random = options.random;
		this.#tokenLength = options.tokenLength;
		this.#responseTimeout = options.responseTimeoutMs;
		this.#leisure = options.multicastLeisureMs;
		if (!(options.nstart >= 1)) throw new RangeError("nstart must be at least 1");
		this.#nstart = options.nstart;
	}

	/** Fails every unicast exchange under way or waiting, and later ones, with CoapClosedError. Idempotent. */
	close(): void {
		if (this.#closed) return;
		this.#closed = true;
		const waiters = [...this.#waiters.values()];
		const queued: Queued[] = [];
		for (const load of this.#load.values()) queued.push(...load.queue);
		this.#waiters.clear();
		this.#load.clear();
		for (const w of waiters) w.fail?.(new CoapClosedError());
		for (const q of queued) q.fail(new CoapClosedError());
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

	/** One request/response exchange, no block-wise handling; it waits while NSTART interactions with the server are outstanding. */
	exchange(req: RequestOptions, options: CoapOption[], payload: Uint8Array): Promise<ReceivedResponse> {
		if (this.#closed) return Promise.reject(new CoapClosedError());
		return new Promise<ReceivedResponse>((resolve, reject) => {
			const server = peerKey(req.peer);
			this.#admit(server, { start: () => this.#start(req, options, payload, server, resolve, reject), fail: reject });
		});
	}

	#start(req: RequestOptions, options: CoapOption[], payload: Uint8Array, server: string, resolve: (r: ReceivedResponse) => void, reject: (e: Error) => void): void {
		let key: string | undefined;
		let deadline: Timer | undefined;
		let outstanding = true;
		// RFC 7252 §4.7: the interaction stops counting once a response or an ACK is in, or it is given up.
		const endInteraction = (): void => {
			if (!outstanding) return;
			outstanding = false;
			this.#leave(server);
		};
		const done = (): void => {
			if (key !== undefined) this.#waiters.delete(key);
			if (deadline !== undefined) this.#timers.release(deadline);
			endInteraction();
		};
		const fail = (e: Error): void => {
			done();
			reject(e);
		};
		const waitFor = (ms: number): void => {
			deadline = this.#timers.start(() => fail(new CoapTimeoutError(`no response from ${server} within ${ms} ms`)));
			deadline.arm(ms);
		};
		try {
			const confirmable = req.confirmable ?? true;
			const token = this.#newToken();
			const mid = this.#messages.allocateMid();
			const bytes = encode({ type: confirmable ? CON : NON, code: req.method ?? GET, messageId: mid, token, options, payload });
			const k = (key = tokenKey(token));
			this.#waiters.set(k, {
				peer: req.peer,
				onResponse: (msg, from) => {
					// A separate response may overtake the lost empty ACK: it ends retransmission too.
					this.#messages.settle(mid);
					done();
					resolve(received(msg, from));
				},
				fail,
			});
			if (!confirmable) {
				this.#messages.send(bytes, req.peer);
				waitFor(req.timeoutMs ?? MAX_TRANSMIT_SPAN_MS);
				return;
			}
			this.#messages.sendConfirmable(bytes, req.peer, {
				onAck: (ack) => {
					if (ack.code !== EMPTY) {
						this.#waiters.get(k)?.onResponse(ack, req.peer);
						return;
					}
					if (!this.#waiters.has(k)) return;
					endInteraction();
					waitFor(req.timeoutMs ?? this.#responseTimeout); // separate response follows
				},
				onReset: () => fail(new CoapResetError(`${server} reset the request`)),
				onGiveUp: () => fail(this.#closed ? new CoapClosedError() : new CoapTimeoutError(`no acknowledgement from ${server} after ${this.#messages.maxRetransmit} retransmissions`)),
			});
		} catch (e) {
			// Unencodable options, or a transport that refuses: this request fails, the next one may go.
			fail(e instanceof Error ? e : new Error(String(e)));
		}
	}

	/** Starts `q` now if `server` has room for another interaction, else queues it. */
	#admit(server: string, q: Queued): void {
		let load = this.#load.get(server);
		if (load === undefined) {
			load = { outstanding: 0, queue: [] };
			this.#load.set(server, load);
		}
		if (load.outstanding >= this.#nstart) {
			load.queue.push(q);
			return;
		}
		load.outstanding++;
		q.start();
	}

	/** An interaction with `server` ended: the next request waiting for it may go. */
	#leave(server: string): void {
		const load = this.#load.get(server);
		if (load === undefined) return; // closed meanwhile
		load.outstanding--;
		const next = load.queue.shift();
		if (next !== undefined) {
			load.outstanding++;
			next.start();
		} else if (load.outstanding === 0) {
			this.#load.delete(server);
		}
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
				onResponse: (msg, from) => responses.push(received(msg, from)),
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

function received(msg: CoapMessage, from: UdpPeer): ReceivedResponse {
	return { code: msg.code, options: msg.options, payload: msg.payload, peer: from };
}

/** Tokens as map keys: one character per byte. */
function tokenKey(token: Uint8Array): string {
	let s = "";
	for (let i = 0; i < token.length; i++) s += String.fromCharCode(token[i]!);
	return s;
}
