/*
 * The server half of block-wise transfer (RFC 7959): reassembles a Block1 request body before the
 * handler sees it, and serves a large response in Block2 blocks, keeping the representation between
 * blocks so the handler runs once per transfer.
 */

import type { Clock } from "../../hosts/host.js";
import { decodeBlock, encodeBlock, blockSize, type BlockValue } from "./block.js";
import { Code, EXCHANGE_LIFETIME_MS, Opt } from "./constants.js";
import { concatBytes } from "../util/hex.js";
import { utf8Encode } from "../util/utf8.js";
import { EMPTY_BYTES, findOption, option, setOption, uintOptionValue } from "./message.js";
import { peerKey } from "../util/peer.js";
import { dropExpired, type Sweeper } from "./sweeper.js";
import type { CoapHandler, CoapRequest, CoapResponse } from "./types.js";

export interface BlockwiseServerOptions {
	clock: Clock;
	sweeper: Sweeper;
	/** Largest block size exponent this server uses. */
	szx: number;
	/** Largest request body reassembled. */
	maxBodyBytes: number;
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

/** How long a partial Block1 body or a Block2 representation is kept between blocks. */
const BLOCK_STATE_LIFETIME_MS = EXCHANGE_LIFETIME_MS;

export class BlockwiseServer {
	readonly #clock: Clock;
	readonly #sweeper: Sweeper;
	readonly #szx: number;
	readonly #maxBody: number;
	/** Keyed by peer, method, path and query: one transfer per resource and client at a time. */
	readonly #assemblies = new Map<string, Assembly>();
	readonly #bodies = new Map<string, CachedBody>();

	constructor(options: BlockwiseServerOptions) {
		this.#clock = options.clock;
		this.#sweeper = options.sweeper;
		this.#szx = options.szx;
		this.#maxBody = options.maxBodyBytes;
		options.sweeper.watch(this);
	}

	/**
	 * The response to this very request (one block of it): `handler` runs once the whole body is
	 * here, with `request.payload` set to it, or not at all for a later block of a kept response.
	 * `handler` must not throw.
	 */
	serve(request: CoapRequest, handler: CoapHandler): CoapResponse | null | Promise<CoapResponse | null> {
		const stateKey = `${peerKey(request.peer)}|${request.method}|${request.path.join("/")}?${request.query.join("&")}`;
		const b1opt = findOption(request, Opt.Block1);
		const b2opt = findOption(request, Opt.Block2);
		const block1 = b1opt === undefined ? undefined : decodeBlock(b1opt.value);
		const block2 = b2opt === undefined ? undefined : decodeBlock(b2opt.value);
		if ((b1opt !== undefined && block1 === undefined) || (b2opt !== undefined && block2 === undefined)) {
			return { code: Code.BadOption, payload: utf8Encode("invalid Block option") };
		}
		let block1Reply: BlockValue | undefined;
		if (block1 !== undefined) {
			const part = request.payload;
			const size = blockSize(block1.szx);
			const szx = Math.min(block1.szx, this.#szx);
			let asm = this.#assemblies.get(stateKey);
			if (block1.num === 0) {
				const size1 = uintOptionValue(request, Opt.Size1);
				if (size1 !== undefined && size1 > this.#maxBody) return tooLarge(this.#maxBody);
				asm = { parts: [], length: 0, expires: 0 };
				this.#assemblies.set(stateKey, asm);
			}
			if (asm === undefined || asm.length !== block1.num * size || (block1.more && part.length !== size)) {
				this.#assemblies.delete(stateKey);
				return { code: Code.RequestEntityIncomplete };
			}
			if (asm.length + part.length > this.#maxBody) {
				this.#assemblies.delete(stateKey);
				return tooLarge(this.#maxBody);
			}
			asm.parts.push(part);
			asm.length += part.length;
			asm.expires = this.#clock.now() + BLOCK_STATE_LIFETIME_MS;
			this.#sweeper.keep();
			if (block1.more) {
				// Continue with our block size, which may be smaller than the client's (RFC 7959 §2.5).
				const ack: BlockValue = { num: (asm.length >> (szx + 4)) - 1, more: true, szx };
				return { code: Code.Continue, options: [option(Opt.Block1, encodeBlock(ack))] };
			}
			this.#assemblies.delete(stateKey);
			request.payload = concatBytes(asm.parts);
			block1Reply = { num: block1.num, more: false, szx: block1.szx };
		}
		const wantSzx = block2 === undefined ? this.#szx : Math.min(block2.szx, this.#szx);
		if (block2 !== undefined && block2.num > 0) {
			const cached = this.#bodies.get(stateKey);
			if (cached !== undefined) return slice(cached.response, cached.payload, block2.num, wantSzx, block1Reply);
		}
		const result = handler(request);
		const finish = (res: CoapResponse | null): CoapResponse | null => {
			if (res === null) return null;
			const body = res.payload ?? EMPTY_BYTES;
			const num = block2?.num ?? 0;
			if (body.length <= blockSize(wantSzx) && num === 0 && block2 === undefined) {
				return block1Reply === undefined ? res : withOption(res, Opt.Block1, encodeBlock(block1Reply));
			}
			if (body.length > blockSize(wantSzx)) {
				this.#bodies.set(stateKey, { response: res, payload: body, expires: this.#clock.now() + BLOCK_STATE_LIFETIME_MS });
				this.#sweeper.keep();
			}
			return slice(res, body, num, wantSzx, block1Reply);
		};
		return result instanceof Promise ? result.then(finish) : finish(result);
	}

	sweep(now: number): void {
		dropExpired(this.#assemblies, now);
		dropExpired(this.#bodies, now);
	}

	/** Transfers under way, either direction. */
	get size(): number {
		return this.#assemblies.size + this.#bodies.size;
	}

	clear(): void {
		this.#assemblies.clear();
		this.#bodies.clear();
	}
}

/** Block `num` of `body` at size `szx`, with the response's other options (RFC 7959 §2.3). */
function slice(res: CoapResponse, body: Uint8Array, num: number, szx: number, block1Reply: BlockValue | undefined): CoapResponse {
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

function tooLarge(max: number): CoapResponse {
	return { code: Code.RequestEntityTooLarge, options: [option(Opt.Size1, max)] }; // RFC 7959 §2.9.3
}

function withOption(res: CoapResponse, number: number, value: Uint8Array): CoapResponse {
	const options = (res.options ?? []).slice();
	setOption(options, number, value);
	return { ...res, options };
}
