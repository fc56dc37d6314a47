/*
 * The client half of block-wise transfer (RFC 7959): a request body larger than a block goes out in
 * Block1 blocks, following the server's smaller size if it asks; a Block2 response is fetched to its
 * last block. Each block is one exchange, so nothing here keeps state between requests.
 */

import { decodeBlock, encodeBlock, blockSize } from "./block.js";
import { Code, Opt, codeClass } from "./constants.js";
import { CoapParseError } from "./errors.js";
import { concatBytes } from "../util/hex.js";
import { EMPTY_BYTES, findOption, setOption, type CoapOption } from "./message.js";
import { requestOptions } from "./client-exchange.js";
import type { ReceivedResponse, RequestOptions } from "./types.js";

/** One request/response exchange with these options and payload (ClientExchanges.exchange). */
export type Exchange = (req: RequestOptions, options: CoapOption[], payload: Uint8Array) => Promise<ReceivedResponse>;

export interface BlockwiseDefaults {
	/** Block size exponent when the request names none. */
	szx: number;
	/** Largest Block2 body reassembled. */
	maxBodyBytes: number;
}

/**
 * Sends `req` and resolves with the whole response. Rejects with what `exchange` rejects with, or
 * CoapParseError for an unusable Block option.
 */
export async function blockwiseRequest(exchange: Exchange, req: RequestOptions, defaults: BlockwiseDefaults): Promise<ReceivedResponse> {
	const szx = req.blockSzx ?? defaults.szx;
	const base = requestOptions(req);
	const body = req.payload ?? EMPTY_BYTES;
	let res: ReceivedResponse;
	if (body.length > blockSize(szx)) {
		res = await sendBlock1(exchange, req, base, body, szx);
	} else {
		const options = base.slice();
		if (req.blockSzx !== undefined) setOption(options, Opt.Block2, encodeBlock({ num: 0, more: false, szx }));
		res = await exchange(req, options, body);
	}
	return fetchBlock2(exchange, req, base, res, defaults.maxBodyBytes);
}

async function sendBlock1(exchange: Exchange, req: RequestOptions, base: CoapOption[], body: Uint8Array, szx: number): Promise<ReceivedResponse> {
	let offset = 0;
	for (;;) {
		const size = blockSize(szx);
		const end = Math.min(body.length, offset + size);
		const more = end < body.length;
		const options = base.slice();
		setOption(options, Opt.Block1, encodeBlock({ num: offset / size, more, szx }));
		if (offset === 0) setOption(options, Opt.Size1, body.length);
		const res = await exchange(req, options, body.subarray(offset, end));
		if (res.code !== Code.Continue || !more) return res;
		const ackOpt = findOption(res, Opt.Block1);
		const ack = ackOpt === undefined ? undefined : decodeBlock(ackOpt.value);
		if (ack === undefined) throw new CoapParseError("2.31 Continue without a valid Block1 option");
		// The server may ask for smaller blocks; offsets stay byte-exact because sizes are powers of two.
		if (ack.szx < szx) szx = ack.szx;
		offset = end;
	}
}

async function fetchBlock2(exchange: Exchange, req: RequestOptions, base: CoapOption[], first: ReceivedResponse, maxBody: number): Promise<ReceivedResponse> {
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
		const res = await exchange(req, options, EMPTY_BYTES);
		if (codeClass(res.code) !== 2) return res;
		const o = findOption(res, Opt.Block2);
		const next = o === undefined ? undefined : decodeBlock(o.value);
		if (next === undefined || next.num * blockSize(next.szx) !== length) throw new CoapParseError("Block2 response out of sequence");
		length += res.payload.length;
		if (length > maxBody) throw new CoapParseError(`Block2 body larger than ${maxBody} bytes`);
		parts.push(res.payload);
		block = next;
	}
	return { code: first.code, options: first.options, payload: concatBytes(parts), peer: first.peer };
}
