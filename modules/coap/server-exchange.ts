/*
 * The server side of an endpoint (RFC 7252 §5.2, §8.2): runs the handler once per request however
 * often the request is retransmitted, and answers piggybacked, or with an empty ACK and a separate
 * response when the handler is slow, or after a random leisure when the request was multicast.
 */

import type { Timer, UdpPeer } from "../../hosts/host.js";
import { ACK, CON, Code, EXCHANGE_LIFETIME_MS, NON, NON_LIFETIME_MS, Opt, codeClass, isCritical } from "./constants.js";
import { utf8Encode } from "../util/utf8.js";
import { EMPTY_BYTES, encode, setOption, stringOptions, type CoapMessage } from "./message.js";
import { requestPath } from "./uri-path-abbrev.js";
import { dedupKey, type DedupCache, type DedupEntry } from "./dedup.js";
import { emptyMessage, type MessageLayer } from "./message-layer.js";
import type { BlockwiseServer } from "./blockwise-server.js";
import type { TimerSet } from "./timer-set.js";
import type { CoapHandler, CoapRequest, CoapResponse } from "./types.js";

export interface ServerExchangeOptions {
	messages: MessageLayer;
	timers: TimerSet;
	dedup: DedupCache;
	blockwise: BlockwiseServer;
	/** Absent: every request is reset. */
	handler: CoapHandler | undefined;
	/** Send an empty ACK and a separate response when the handler takes longer than this. */
	separateResponseAfterMs: number;
	/** Random delay bound for responses to multicast requests (RFC 7252 §8.2). */
	multicastLeisureMs: number;
}

/** Options this endpoint understands; an unknown critical option in a request gets 4.02 (RFC 7252 §5.4.1). */
const KNOWN_OPTIONS = new Set<number>(Object.values(Opt));
/** A separate response is fire-and-forget once sent: nothing to do when it is acknowledged or not. */
const IGNORE_OUTCOME = Object.freeze({ onAck: () => {}, onReset: () => {}, onGiveUp: () => {} });
const INTERNAL_ERROR: CoapResponse = Object.freeze({ code: Code.InternalServerError });

export class ServerExchanges {
	readonly #messages: MessageLayer;
	readonly #timers: TimerSet;
	readonly #dedup: DedupCache;
	readonly #blockwise: BlockwiseServer;
	readonly #handler: CoapHandler | undefined;
	readonly #separateAfter: number;
	readonly #leisure: number;
	#closed = false;

	constructor(options: ServerExchangeOptions) {
		this.#messages = options.messages;
		this.#timers = options.timers;
		this.#dedup = options.dedup;
		this.#blockwise = options.blockwise;
		this.#handler = options.handler;
		this.#separateAfter = options.separateResponseAfterMs;
		this.#leisure = options.multicastLeisureMs;
	}

	/** No reply leaves after this, even from a handler still running. Idempotent. */
	close(): void {
		this.#closed = true;
	}

	onRequest(msg: CoapMessage, peer: UdpPeer, multicast: boolean): void {
		const key = dedupKey(peer, msg.messageId);
		const seen = this.#dedup.get(key);
		if (seen !== undefined) {
			this.#messages.stats.duplicates++;
			if (seen.reply !== undefined) this.#messages.trySend(seen.reply, peer);
			else if (seen.emptyAcked) this.#messages.sendEmpty(ACK, msg.messageId, peer);
			return;
		}
		const entry = this.#dedup.remember(key, msg.type === CON ? EXCHANGE_LIFETIME_MS : NON_LIFETIME_MS);
		if (this.#handler === undefined) {
			if (msg.type === CON) this.#messages.sendReset(msg.messageId, peer);
			return;
		}
		const handler = this.#handler;
		let finished = false;
		let separateTimer: Timer | undefined;
		const reply = (res: CoapResponse | null): void => {
			if (finished || this.#closed) return;
			finished = true;
			if (separateTimer !== undefined) this.#timers.release(separateTimer);
			// This runs in promise continuations too, where a throw would end the process: a response
			// that does not encode (a handler's bad option), or a separate one the transport refuses,
			// is counted, and a 5.00 tried instead.
			for (const r of [res, INTERNAL_ERROR]) {
				try {
					this.#reply(msg, peer, multicast, r, entry);
					return;
				} catch (e) {
					this.#messages.failed(`response to [${peer.address}]:${peer.port} not sent`, e);
				}
			}
		};
		const result = this.#serve(msg, peer, multicast, handler);
		if (!(result instanceof Promise)) {
			reply(result);
			return;
		}
		result.then(reply, () => reply(INTERNAL_ERROR));
		if (msg.type === CON && !multicast) {
			separateTimer = this.#timers.start(() => {
				if (finished) return;
				entry.emptyAcked = true;
				this.#messages.sendEmpty(ACK, msg.messageId, peer);
			});
			separateTimer.arm(this.#separateAfter);
		}
	}

	#serve(msg: CoapMessage, peer: UdpPeer, multicast: boolean, handler: CoapHandler): CoapResponse | null | Promise<CoapResponse | null> {
		for (const o of msg.options) {
			if (isCritical(o.number) && !KNOWN_OPTIONS.has(o.number)) {
				return multicast ? null : { code: Code.BadOption, payload: utf8Encode(`unknown critical option ${o.number}`) };
			}
		}
		const target = requestPath(msg);
		if ("badOption" in target) return multicast ? null : { code: Code.BadOption, payload: utf8Encode(target.badOption) };
		const request: CoapRequest = {
			method: msg.code,
			path: target.path,
			query: stringOptions(msg, Opt.UriQuery),
			options: msg.options,
			payload: msg.payload,
			peer,
			multicast,
			confirmable: msg.type === CON,
		};
		return this.#blockwise.serve(request, (r) => {
			try {
				return handler(r);
			} catch {
				return INTERNAL_ERROR;
			}
		});
	}

	#reply(req: CoapMessage, peer: UdpPeer, multicast: boolean, res: CoapResponse | null, entry: DedupEntry): void {
		if (multicast && res !== null && codeClass(res.code) !== 2) res = null; // RFC 7252 §8.2: no errors to multicast
		if (res === null) {
			if (req.type === CON && !entry.emptyAcked) {
				entry.reply = emptyMessage(ACK, req.messageId);
				this.#messages.trySend(entry.reply, peer);
			}
			return;
		}
		const options = (res.options ?? []).slice();
		if (res.contentFormat !== undefined) setOption(options, Opt.ContentFormat, res.contentFormat);
		const message: CoapMessage = { type: NON, code: res.code, messageId: 0, token: req.token, options, payload: res.payload ?? EMPTY_BYTES };
		if (req.type === CON && !entry.emptyAcked) {
			message.type = ACK; // piggybacked (RFC 7252 §5.2.1)
			message.messageId = req.messageId;
			entry.reply = encode(message);
			this.#messages.trySend(entry.reply, peer);
			return;
		}
		message.messageId = this.#messages.allocateMid();
		if (req.type === CON) {
			message.type = CON; // separate response, itself confirmable (RFC 7252 §5.2.2)
			this.#messages.sendConfirmable(encode(message), peer, IGNORE_OUTCOME);
			return;
		}
		const bytes = encode(message);
		entry.reply = bytes;
		if (!multicast) {
			this.#messages.trySend(bytes, peer);
			return;
		}
		// Spread responses to a multicast request over the leisure period (RFC 7252 §8.2).
		const delay = this.#leisure * this.#messages.randomFraction();
		const t = this.#timers.start(() => {
			this.#timers.release(t);
			this.#messages.trySend(bytes, peer);
		});
		t.arm(delay);
	}
}
