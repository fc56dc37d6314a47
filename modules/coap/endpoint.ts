/*
 * A CoAP endpoint (RFC 7252 §4-§5, §8; RFC 7959 block-wise), client and server at once, over any
 * datagram transport: a UDP socket now, a DTLS session later, through the same two-method seam.
 */

import type { Clock, Timer, UdpArrival, UdpPeer } from "../../hosts/host.js";
import { decodeBlock, encodeBlock, blockSize, MAX_SZX, type BlockValue } from "./block.js";
import {
	ACK,
	ACK_RANDOM_FACTOR,
	ACK_TIMEOUT_MS,
	CON,
	Code,
	DEFAULT_LEISURE_MS,
	EMPTY,
	EXCHANGE_LIFETIME_MS,
	GET,
	MAX_RETRANSMIT,
	MAX_TRANSMIT_SPAN_MS,
	NON,
	NON_LIFETIME_MS,
	Opt,
	RST,
	codeClass,
	isCritical,
} from "./constants.js";
import { CoapClosedError, CoapParseError, CoapResetError, CoapTimeoutError } from "./errors.js";
import { concatBytes } from "../util/hex.js";
import { utf8Encode } from "../util/utf8.js";
import { decode, encode, findOption, option, setOption, stringOptions, uintOptionValue, type CoapMessage, type CoapOption } from "./message.js";
import { peerKey } from "../util/peer.js";

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
}

export interface CoapStats {
	sent: number;
	received: number;
	retransmissions: number;
	duplicates: number;
	parseErrors: number;
	resetsSent: number;
}

interface Outgoing {
	bytes: Uint8Array;
	peer: UdpPeer;
	attempts: number;
	timeoutMs: number;
	timer: Timer;
	onAck(msg: CoapMessage): void;
	onReset(): void;
	onGiveUp(): void;
}

interface Waiter {
	peer: UdpPeer | undefined; // undefined: any source (multicast)
	onResponse(msg: CoapMessage, from: UdpPeer): void;
}

interface DedupEntry {
	expires: number;
	/** Response bytes to resend for a duplicate, once known. */
	reply: Uint8Array | undefined;
	/** A separate response is under way: answer duplicates of a CON request with an empty ACK. */
	emptyAcked: boolean;
}

interface Assembly {
	parts: Uint8Array[];
	length: number;
	expires: number;
}

interface CachedBody {
	response: CoapResponse;
	payload: Uint8Array;
	expires: number;
}

const DEFAULT_SEPARATE_AFTER_MS = 500;
/** How long a partial Block1 body or a Block2 representation is kept between blocks. */
const BLOCK_STATE_LIFETIME_MS = EXCHANGE_LIFETIME_MS;
const DEFAULT_MAX_BODY = 64 * 1024;
const EMPTY_BYTES = new Uint8Array(0);
const SWEEP_INTERVAL_MS = 10_000;


function samePeer(a: Readonly<UdpPeer>, b: Readonly<UdpPeer>): boolean {
	return a.port === b.port && a.address.toLowerCase() === b.address.toLowerCase() && (a.zone === b.zone || a.zone === "" || b.zone === "");
}

export function pathSegments(path: string | string[] | undefined): string[] {
	if (path === undefined) return [];
	if (Array.isArray(path)) return path;
	return path.split("/").filter((s) => s.length > 0);
}

/** Options this endpoint understands; an unknown critical option in a request gets 4.02 (RFC 7252 §5.4.1). */
const KNOWN_OPTIONS = new Set<number>(Object.values(Opt));

export class CoapEndpoint {
	readonly #transport: CoapTransport;
	readonly #clock: Clock;
	readonly #random: (bytes: Uint8Array) => Uint8Array;
	readonly #handler: CoapHandler | undefined;
	readonly #ackTimeout: number;
	readonly #randomFactor: number;
	readonly #maxRetransmit: number;
	readonly #maxInterval: number;
	readonly #separateAfter: number;
	readonly #leisure: number;
	readonly #szx: number;
	readonly #maxBody: number;
	readonly #tokenLength: number;
	readonly #maxDedup: number;
	readonly #responseTimeout: number;
	#nextMid: number;
	#closed = false;
	readonly #outgoing = new Map<number, Outgoing>();
	readonly #waiters = new Map<string, Waiter>();
	readonly #dedup = new Map<string, DedupEntry>();
	readonly #assemblies = new Map<string, Assembly>();
	readonly #bodies = new Map<string, CachedBody>();
	readonly #timers = new Set<Timer>();
	readonly #sweeper: Timer;
	readonly #stats: CoapStats = { sent: 0, received: 0, retransmissions: 0, duplicates: 0, parseErrors: 0, resetsSent: 0 };

	constructor(options: CoapEndpointOptions) {
		this.#transport = options.transport;
		this.#clock = options.clock;
		this.#random = options.random;
		this.#handler = options.handler;
		this.#ackTimeout = options.ackTimeoutMs ?? ACK_TIMEOUT_MS;
		this.#randomFactor = options.ackRandomFactor ?? ACK_RANDOM_FACTOR;
		this.#maxRetransmit = options.maxRetransmit ?? MAX_RETRANSMIT;
		this.#maxInterval = options.maxRetransmitIntervalMs ?? Infinity;
		this.#separateAfter = options.separateResponseAfterMs ?? DEFAULT_SEPARATE_AFTER_MS;
		this.#leisure = options.multicastLeisureMs ?? DEFAULT_LEISURE_MS;
		this.#szx = options.blockSzx ?? MAX_SZX;
		if (!(this.#szx >= 0 && this.#szx <= MAX_SZX)) throw new RangeError("blockSzx must be 0..6");
		this.#maxBody = options.maxBodyBytes ?? DEFAULT_MAX_BODY;
		this.#tokenLength = options.tokenLength ?? 4;
		if (!(this.#tokenLength >= 1 && this.#tokenLength <= 8)) throw new RangeError("tokenLength must be 1..8");
		this.#maxDedup = options.maxDedupEntries ?? 1000;
		this.#responseTimeout = options.responseTimeoutMs ?? EXCHANGE_LIFETIME_MS;
		const mid = this.#random(new Uint8Array(2));
		this.#nextMid = (mid[0]! << 8) | mid[1]!;
		this.#sweeper = this.#clock.timer(() => this.#sweep());
	}

	stats(): CoapStats {
		return { ...this.#stats };
	}

	/** Idempotent: cancels every timer and fails every exchange under way with CoapClosedError. */
	close(): void {
		if (this.#closed) return;
		this.#closed = true;
		this.#sweeper.cancel();
		for (const t of this.#timers) t.cancel();
		this.#timers.clear();
		const outgoing = [...this.#outgoing.values()];
		this.#outgoing.clear();
		for (const o of outgoing) {
			o.timer.cancel();
			o.onGiveUp();
		}
		this.#waiters.clear();
		this.#dedup.clear();
		this.#assemblies.clear();
		this.#bodies.clear();
	}

	/* ---------------------------------------------------------------- receiving */

	/** Feed every datagram from the transport here. `data` may be a reused buffer: it is copied. */
	receive(data: Uint8Array, from: Readonly<UdpArrival>): void {
		if (this.#closed) return;
		this.#stats.received++;
		const bytes = data.slice();
		const peer: UdpPeer = { address: from.address, port: from.port, zone: from.zone };
		let msg: CoapMessage;
		try {
			msg = decode(bytes);
		} catch (e) {
			if (!(e instanceof CoapParseError)) throw e;
			this.#stats.parseErrors++;
			// RFC 7252 §4.2/§4.3: a malformed CON is rejected with RST if its Message ID is readable; others are ignored.
			if (bytes.length >= 4 && bytes[0]! >> 6 === 1 && ((bytes[0]! >> 4) & 3) === CON && !from.multicast) {
				this.#sendReset((bytes[2]! << 8) | bytes[3]!, peer);
			}
			return;
		}
		if (msg.type === ACK || msg.type === RST) {
			this.#onAckOrReset(msg, peer);
			return;
		}
		const cls = codeClass(msg.code);
		if (msg.code === EMPTY) {
			if (msg.type === CON && !from.multicast) this.#sendReset(msg.messageId, peer); // CoAP ping (RFC 7252 §4.3)
		} else if (cls === 0) {
			this.#onRequest(msg, peer, from.multicast);
		} else if (cls >= 2 && cls <= 5) {
			this.#onResponse(msg, peer);
		} else if (msg.type === CON) {
			this.#sendReset(msg.messageId, peer); // reserved code classes 1, 6, 7
		}
	}

	#onAckOrReset(msg: CoapMessage, peer: UdpPeer): void {
		const out = this.#outgoing.get(msg.messageId);
		if (out === undefined || !samePeer(out.peer, peer)) return; // stray or late ACK: ignore (RFC 7252 §4.2)
		this.#outgoing.delete(msg.messageId);
		out.timer.cancel();
		this.#timers.delete(out.timer);
		if (msg.type === RST) out.onReset();
		else out.onAck(msg);
	}

	#onResponse(msg: CoapMessage, peer: UdpPeer): void {
		const key = this.#tokenKey(msg.token);
		const waiter = this.#waiters.get(key);
		if (msg.type === CON) {
			const dupKey = `${peerKey(peer)}#${msg.messageId}`;
			if (waiter !== undefined || this.#dedup.has(dupKey)) {
				this.#sendEmpty(ACK, msg.messageId, peer);
				this.#remember(dupKey, EXCHANGE_LIFETIME_MS, undefined);
			} else {
				this.#sendReset(msg.messageId, peer); // RFC 7252 §5.3.2: unknown token
				return;
			}
		}
		if (waiter === undefined) return;
		if (waiter.peer !== undefined && !samePeer(waiter.peer, peer)) return;
		waiter.onResponse(msg, peer);
	}

	/* ---------------------------------------------------------------- server side */

	#onRequest(msg: CoapMessage, peer: UdpPeer, multicast: boolean): void {
		const dupKey = `${peerKey(peer)}#${msg.messageId}`;
		const seen = this.#dedup.get(dupKey);
		if (seen !== undefined) {
			this.#stats.duplicates++;
			if (seen.reply !== undefined) this.#send(seen.reply, peer);
			else if (seen.emptyAcked) this.#sendEmpty(ACK, msg.messageId, peer);
			return;
		}
		const entry = this.#remember(dupKey, msg.type === CON ? EXCHANGE_LIFETIME_MS : NON_LIFETIME_MS, undefined);
		if (this.#handler === undefined) {
			if (msg.type === CON) this.#sendReset(msg.messageId, peer);
			return;
		}
		const handler = this.#handler;
		let finished = false;
		let separateTimer: Timer | undefined;
		const reply = (res: CoapResponse | null): void => {
			if (finished || this.#closed) return;
			finished = true;
			if (separateTimer !== undefined) {
				separateTimer.cancel();
				this.#timers.delete(separateTimer);
			}
			this.#reply(msg, peer, multicast, res, entry);
		};
		const result = this.#serve(msg, peer, multicast, handler);
		if (!(result instanceof Promise)) {
			reply(result);
			return;
		}
		result.then(reply, () => reply({ code: Code.InternalServerError }));
		if (msg.type === CON && !multicast) {
			separateTimer = this.#timer(() => {
				if (finished) return;
				entry.emptyAcked = true;
				this.#sendEmpty(ACK, msg.messageId, peer);
			});
			separateTimer.arm(this.#separateAfter);
		}
	}

	/** Block-wise reassembly and serving around the handler; returns the response for this very request. */
	#serve(msg: CoapMessage, peer: UdpPeer, multicast: boolean, handler: CoapHandler): CoapResponse | null | Promise<CoapResponse | null> {
		for (const o of msg.options) {
			if (isCritical(o.number) && !KNOWN_OPTIONS.has(o.number)) {
				return multicast ? null : { code: Code.BadOption, payload: utf8Encode(`unknown critical option ${o.number}`) };
			}
		}
		const path = stringOptions(msg, Opt.UriPath);
		const query = stringOptions(msg, Opt.UriQuery);
		const stateKey = `${peerKey(peer)}|${msg.code}|${path.join("/")}?${query.join("&")}`;
		const b1opt = findOption(msg, Opt.Block1);
		const b2opt = findOption(msg, Opt.Block2);
		const block1 = b1opt === undefined ? undefined : decodeBlock(b1opt.value);
		const block2 = b2opt === undefined ? undefined : decodeBlock(b2opt.value);
		if ((b1opt !== undefined && block1 === undefined) || (b2opt !== undefined && block2 === undefined)) {
			return { code: Code.BadOption, payload: utf8Encode("invalid Block option") };
		}
		let payload = msg.payload;
		let block1Reply: BlockValue | undefined;
		if (block1 !== undefined) {
			const size = blockSize(block1.szx);
			const szx = Math.min(block1.szx, this.#szx);
			let asm = this.#assemblies.get(stateKey);
			if (block1.num === 0) {
				const size1 = uintOptionValue(msg, Opt.Size1);
				if (size1 !== undefined && size1 > this.#maxBody) return tooLarge(this.#maxBody);
				asm = { parts: [], length: 0, expires: 0 };
				this.#assemblies.set(stateKey, asm);
			}
			if (asm === undefined || asm.length !== block1.num * size || (block1.more && msg.payload.length !== size)) {
				this.#assemblies.delete(stateKey);
				return { code: Code.RequestEntityIncomplete };
			}
			if (asm.length + msg.payload.length > this.#maxBody) {
				this.#assemblies.delete(stateKey);
				return tooLarge(this.#maxBody);
			}
			asm.parts.push(msg.payload);
			asm.length += msg.payload.length;
			asm.expires = this.#clock.now() + BLOCK_STATE_LIFETIME_MS;
			this.#armSweeper();
			if (block1.more) {
				// Continue with our block size, which may be smaller than the client's (RFC 7959 §2.5).
				const ack: BlockValue = { num: (asm.length >> (szx + 4)) - 1, more: true, szx };
				return { code: Code.Continue, options: [option(Opt.Block1, encodeBlock(ack))] };
			}
			this.#assemblies.delete(stateKey);
			payload = concatBytes(asm.parts);
			block1Reply = { num: block1.num, more: false, szx: block1.szx };
		}
		const wantSzx = block2 === undefined ? this.#szx : Math.min(block2.szx, this.#szx);
		if (block2 !== undefined && block2.num > 0) {
			const cached = this.#bodies.get(stateKey);
			if (cached !== undefined) return this.#slice(cached.response, cached.payload, block2.num, wantSzx, block1Reply);
		}
		const request: CoapRequest = { method: msg.code, path, query, options: msg.options, payload, peer, multicast, confirmable: msg.type === CON };
		let result: CoapResponse | null | Promise<CoapResponse | null>;
		try {
			result = handler(request);
		} catch {
			result = { code: Code.InternalServerError };
		}
		const finish = (res: CoapResponse | null): CoapResponse | null => {
			if (res === null) return null;
			const body = res.payload ?? EMPTY_BYTES;
			const num = block2?.num ?? 0;
			if (body.length <= blockSize(wantSzx) && num === 0 && block2 === undefined) {
				return block1Reply === undefined ? res : withOption(res, Opt.Block1, encodeBlock(block1Reply));
			}
			if (body.length > blockSize(wantSzx)) {
				this.#bodies.set(stateKey, { response: res, payload: body, expires: this.#clock.now() + BLOCK_STATE_LIFETIME_MS });
				this.#armSweeper();
			}
			return this.#slice(res, body, num, wantSzx, block1Reply);
		};
		return result instanceof Promise ? result.then(finish) : finish(result);
	}

	#slice(res: CoapResponse, body: Uint8Array, num: number, szx: number, block1Reply: BlockValue | undefined): CoapResponse {
		const size = blockSize(szx);
		const start = num * size;
		if (start >= body.length && !(start === 0 && body.length === 0)) {
			return { code: Code.BadOption, payload: utf8Encode("Block2 beyond the end of the representation") };
		}
		const end = Math.min(body.length, start + size);
		const options = (res.options ?? []).slice();
		setOption(options, Opt.Block2, encodeBlock({ num, more: end < body.length, szx }));
		if (num === 0) setOption(options, Opt.Size2, body.length);
		if (block1Reply !== undefined) setOption(options, Opt.Block1, encodeBlock(block1Reply));
		const out: CoapResponse = { code: res.code, options, payload: body.subarray(start, end) };
		if (res.contentFormat !== undefined) out.contentFormat = res.contentFormat;
		return out;
	}

	#reply(req: CoapMessage, peer: UdpPeer, multicast: boolean, res: CoapResponse | null, entry: DedupEntry): void {
		if (multicast && res !== null && codeClass(res.code) !== 2) res = null; // RFC 7252 §8.2: no errors to multicast
		if (res === null) {
			if (req.type === CON && !entry.emptyAcked) {
				entry.reply = this.#emptyBytes(ACK, req.messageId);
				this.#send(entry.reply, peer);
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
			this.#send(entry.reply, peer);
			return;
		}
		message.messageId = this.#allocateMid();
		if (req.type === CON) {
			message.type = CON; // separate response, itself confirmable (RFC 7252 §5.2.2)
			this.#sendConfirmable(encode(message), peer, () => {}, () => {}, () => {});
			return;
		}
		const bytes = encode(message);
		entry.reply = bytes;
		if (!multicast) {
			this.#send(bytes, peer);
			return;
		}
		// Spread responses to a multicast request over the leisure period (RFC 7252 §8.2).
		const delay = this.#leisure * this.#randomFraction();
		const t = this.#timer(() => {
			this.#timers.delete(t);
			this.#send(bytes, peer);
		});
		t.arm(delay);
	}

	/* ---------------------------------------------------------------- client side */

	/**
	 * Sends a request and resolves with the whole response: a body larger than a block goes out with
	 * Block1, a Block2 response is fetched to its last block. Rejects with CoapTimeoutError,
	 * CoapResetError, CoapClosedError, or CoapParseError for an unusable Block option.
	 */
	async request(req: RequestOptions): Promise<ReceivedResponse> {
		const szx = req.blockSzx ?? this.#szx;
		const base = this.#requestOptions(req);
		const body = req.payload ?? EMPTY_BYTES;
		let res: ReceivedResponse;
		if (body.length > blockSize(szx)) {
			res = await this.#sendBlock1(req, base, body, szx);
		} else {
			const options = base.slice();
			if (req.blockSzx !== undefined) setOption(options, Opt.Block2, encodeBlock({ num: 0, more: false, szx }));
			res = await this.exchange(req, options, body);
		}
		return this.#fetchBlock2(req, base, res);
	}

	async #sendBlock1(req: RequestOptions, base: CoapOption[], body: Uint8Array, szx: number): Promise<ReceivedResponse> {
		let offset = 0;
		for (;;) {
			const size = blockSize(szx);
			const end = Math.min(body.length, offset + size);
			const more = end < body.length;
			const options = base.slice();
			setOption(options, Opt.Block1, encodeBlock({ num: offset / size, more, szx }));
			if (offset === 0) setOption(options, Opt.Size1, body.length);
			const res = await this.exchange(req, options, body.subarray(offset, end));
			if (res.code !== Code.Continue || !more) return res;
			const ackOpt = findOption(res, Opt.Block1);
			const ack = ackOpt === undefined ? undefined : decodeBlock(ackOpt.value);
			if (ack === undefined) throw new CoapParseError("2.31 Continue without a valid Block1 option");
			// The server may ask for smaller blocks; offsets stay byte-exact because sizes are powers of two.
			if (ack.szx < szx) szx = ack.szx;
			offset = end;
		}
	}

	async #fetchBlock2(req: RequestOptions, base: CoapOption[], first: ReceivedResponse): Promise<ReceivedResponse> {
		const opt = findOption(first, Opt.Block2);
		if (opt === undefined) return first;
		let block = decodeBlock(opt.value);
		if (block === undefined) throw new CoapParseError("response with an invalid Block2 option");
		if (block.num !== 0) throw new CoapParseError("first response block is not block 0");
		const parts: Uint8Array[] = [first.payload];
		let length = first.payload.length;
		while (block.more) {
			const size = blockSize(block.szx);
			if (first.payload.length === 0 || length % size !== 0) throw new CoapParseError("Block2 block of the wrong size");
			const options = base.slice();
			setOption(options, Opt.Block2, encodeBlock({ num: length / size, more: false, szx: block.szx }));
			const res = await this.exchange(req, options, EMPTY_BYTES);
			if (codeClass(res.code) !== 2) return res;
			const o = findOption(res, Opt.Block2);
			const next = o === undefined ? undefined : decodeBlock(o.value);
			if (next === undefined || next.num * blockSize(next.szx) !== length) throw new CoapParseError("Block2 response out of sequence");
			length += res.payload.length;
			if (length > this.#maxBody) throw new CoapParseError(`Block2 body larger than ${this.#maxBody} bytes`);
			parts.push(res.payload);
			block = next;
		}
		return { code: first.code, options: first.options, payload: concatBytes(parts), peer: first.peer };
	}

	#requestOptions(req: RequestOptions): CoapOption[] {
		const options = (req.options ?? []).slice();
		for (const seg of pathSegments(req.path)) options.push(option(Opt.UriPath, seg));
		for (const q of req.query ?? []) options.push(option(Opt.UriQuery, q));
		options.sort((a, b) => a.number - b.number);
		if (req.contentFormat !== undefined) setOption(options, Opt.ContentFormat, req.contentFormat);
		if (req.accept !== undefined) setOption(options, Opt.Accept, req.accept);
		return options;
	}

	/** One request/response exchange, no block-wise handling. */
	exchange(req: RequestOptions, options: CoapOption[], payload: Uint8Array): Promise<ReceivedResponse> {
		if (this.#closed) return Promise.reject(new CoapClosedError());
		const confirmable = req.confirmable ?? true;
		const token = this.#newToken();
		const key = this.#tokenKey(token);
		const mid = this.#allocateMid();
		const message: CoapMessage = { type: confirmable ? CON : NON, code: req.method ?? GET, messageId: mid, token, options, payload };
		const bytes = encode(message);
		return new Promise<ReceivedResponse>((resolve, reject) => {
			let deadline: Timer | undefined;
			const done = (): void => {
				this.#waiters.delete(key);
				if (deadline !== undefined) {
					deadline.cancel();
					this.#timers.delete(deadline);
				}
			};
			const waitFor = (ms: number): void => {
				deadline = this.#timer(() => {
					done();
					reject(new CoapTimeoutError(`no response from ${peerKey(req.peer)} within ${ms} ms`));
				});
				deadline.arm(ms);
			};
			this.#waiters.set(key, {
				peer: req.peer,
				onResponse: (msg, from) => {
					const o = this.#outgoing.get(mid);
					if (o !== undefined) {
						// A separate response may overtake the lost empty ACK: it ends retransmission too.
						this.#outgoing.delete(mid);
						o.timer.cancel();
						this.#timers.delete(o.timer);
					}
					done();
					resolve({ code: msg.code, options: msg.options, payload: msg.payload, peer: from });
				},
			});
			if (!confirmable) {
				this.#send(bytes, req.peer);
				waitFor(req.timeoutMs ?? MAX_TRANSMIT_SPAN_MS);
				return;
			}
			this.#sendConfirmable(
				bytes,
				req.peer,
				(ack) => {
					if (ack.code !== EMPTY) {
						this.#waiters.get(key)?.onResponse(ack, req.peer);
						return;
					}
					if (this.#waiters.has(key)) waitFor(req.timeoutMs ?? this.#responseTimeout); // separate response follows
				},
				() => {
					done();
					reject(new CoapResetError(`${peerKey(req.peer)} reset the request`));
				},
				() => {
					done();
					reject(this.#closed ? new CoapClosedError() : new CoapTimeoutError(`no acknowledgement from ${peerKey(req.peer)} after ${this.#maxRetransmit} retransmissions`));
				},
			);
		});
	}

	/**
	 * Sends a NON request to a multicast group and collects every response that arrives within the
	 * leisure window (RFC 7252 §8.2.2). Block-wise does not apply to multicast.
	 */
	multicastRequest(req: RequestOptions & { leisureMs?: number }): Promise<ReceivedResponse[]> {
		if (this.#closed) return Promise.reject(new CoapClosedError());
		const token = this.#newToken();
		const key = this.#tokenKey(token);
		const message: CoapMessage = {
			type: NON,
			code: req.method ?? GET,
			messageId: this.#allocateMid(),
			token,
			options: this.#requestOptions(req),
			payload: req.payload ?? EMPTY_BYTES,
		};
		const responses: ReceivedResponse[] = [];
		return new Promise((resolve) => {
			this.#waiters.set(key, {
				peer: undefined,
				onResponse: (msg, from) => responses.push({ code: msg.code, options: msg.options, payload: msg.payload, peer: from }),
			});
			const t = this.#timer(() => {
				this.#timers.delete(t);
				this.#waiters.delete(key);
				resolve(responses);
			});
			t.arm(req.leisureMs ?? this.#leisure);
			this.#send(encode(message), req.peer);
		});
	}

	/* ---------------------------------------------------------------- transmission */

	#sendConfirmable(bytes: Uint8Array, peer: UdpPeer, onAck: (m: CoapMessage) => void, onReset: () => void, onGiveUp: () => void): void {
		const mid = (bytes[2]! << 8) | bytes[3]!;
		// Initial timeout random in [ACK_TIMEOUT, ACK_TIMEOUT * ACK_RANDOM_FACTOR] (RFC 7252 §4.2).
		const initial = this.#ackTimeout * (1 + (this.#randomFactor - 1) * this.#randomFraction());
		const out: Outgoing = {
			bytes,
			peer,
			attempts: 0,
			timeoutMs: initial,
			timer: this.#timer(() => {
				if (out.attempts >= this.#maxRetransmit) {
					this.#outgoing.delete(mid);
					this.#timers.delete(out.timer);
					out.onGiveUp();
					return;
				}
				out.attempts++;
				out.timeoutMs = Math.min(out.timeoutMs * 2, this.#maxInterval);
				this.#stats.retransmissions++;
				this.#send(out.bytes, out.peer);
				out.timer.arm(out.timeoutMs);
			}),
			onAck,
			onReset,
			onGiveUp,
		};
		this.#outgoing.set(mid, out);
		this.#send(bytes, peer);
		out.timer.arm(initial);
	}

	#send(bytes: Uint8Array, peer: UdpPeer): void {
		this.#stats.sent++;
		this.#transport.send(bytes, peer);
	}

	#emptyBytes(type: number, messageId: number): Uint8Array {
		return new Uint8Array([0x40 | (type << 4), EMPTY, messageId >> 8, messageId & 0xff]);
	}

	#sendEmpty(type: number, messageId: number, peer: UdpPeer): void {
		this.#send(this.#emptyBytes(type, messageId), peer);
	}

	#sendReset(messageId: number, peer: UdpPeer): void {
		this.#stats.resetsSent++;
		this.#sendEmpty(RST, messageId, peer);
	}

	#allocateMid(): number {
		for (let i = 0; i < 0x10000; i++) {
			const mid = this.#nextMid;
			this.#nextMid = (this.#nextMid + 1) & 0xffff;
			if (!this.#outgoing.has(mid)) return mid;
		}
		throw new RangeError("all 65536 message IDs are in flight");
	}

	#newToken(): Uint8Array {
		for (;;) {
			const token = this.#random(new Uint8Array(this.#tokenLength));
			if (!this.#waiters.has(this.#tokenKey(token))) return token;
		}
	}

	#tokenKey(token: Uint8Array): string {
		let s = "";
		for (let i = 0; i < token.length; i++) s += String.fromCharCode(token[i]!);
		return s;
	}

	#randomFraction(): number {
		const b = this.#random(new Uint8Array(2));
		return ((b[0]! << 8) | b[1]!) / 0x10000;
	}

	#timer(callback: () => void): Timer {
		const t = this.#clock.timer(callback);
		this.#timers.add(t);
		return t;
	}

	/* ---------------------------------------------------------------- housekeeping */

	#remember(key: string, lifetimeMs: number, reply: Uint8Array | undefined): DedupEntry {
		const entry: DedupEntry = { expires: this.#clock.now() + lifetimeMs, reply, emptyAcked: false };
		this.#dedup.delete(key);
		this.#dedup.set(key, entry);
		if (this.#dedup.size > this.#maxDedup) {
			const oldest = this.#dedup.keys().next();
			if (!oldest.done) this.#dedup.delete(oldest.value);
		}
		this.#armSweeper();
		return entry;
	}

	#armSweeper(): void {
		if (!this.#sweeper.armed && !this.#closed) this.#sweeper.arm(SWEEP_INTERVAL_MS);
	}

	#sweep(): void {
		const now = this.#clock.now();
		for (const map of [this.#dedup, this.#assemblies, this.#bodies] as Map<string, { expires: number }>[]) {
			for (const [k, v] of map) if (v.expires <= now) map.delete(k);
		}
		if (this.#dedup.size + this.#assemblies.size + this.#bodies.size > 0) this.#armSweeper();
	}
}

function tooLarge(max: number): CoapResponse {
	return { code: Code.RequestEntityTooLarge, options: [option(Opt.Size1, max)] }; // RFC 7959 §2.9.3
}

function withOption(res: CoapResponse, number: number, value: Uint8Array): CoapResponse {
	const options = (res.options ?? []).slice();
	setOption(options, number, value);
	return { ...res, options };
}
