/*
 * The pieces a CoAP endpoint is composed of, each on its own: duplicate detection and the sweeper,
 * the timer set, the message layer, and block-wise transfer on the server and the client side.
 */

import { suite } from "../lib/harness.js";
import { deepEqual, equal, ok, rejects } from "../lib/assert.js";
import { ManualClock, SeededRandom } from "../../hosts/xs/index.js";
import type { UdpPeer } from "../../hosts/host.js";
import { ACK, CON, Code, EXCHANGE_LIFETIME_MS, GET, Opt, POST, RST } from "../../modules/coap/constants.js";
import { CoapParseError } from "../../modules/coap/errors.js";
import { decode, encode, findOption, option, uintOptionValue, type CoapMessage, type CoapOption } from "../../modules/coap/message.js";
import { blockSize, decodeBlock, encodeBlock } from "../../modules/coap/block.js";
import { DedupCache, dedupKey } from "../../modules/coap/dedup.js";
import { Sweeper } from "../../modules/coap/sweeper.js";
import { TimerSet } from "../../modules/coap/timer-set.js";
import { MessageLayer, emptyMessage } from "../../modules/coap/message-layer.js";
import { BlockwiseServer } from "../../modules/coap/blockwise-server.js";
import { blockwiseRequest, type Exchange } from "../../modules/coap/blockwise-client.js";
import { requestOptions } from "../../modules/coap/client-exchange.js";
import type { CoapRequest, CoapResponse, ReceivedResponse, RequestOptions } from "../../modules/coap/types.js";
import { utf8Decode } from "../../modules/util/utf8.js";

const PEER: UdpPeer = { address: "fe80::1", port: 5683, zone: "wpan0" };

function pattern(n: number, seed = 0): Uint8Array {
	const b = new Uint8Array(n);
	for (let i = 0; i < n; i++) b[i] = (i * 13 + seed) & 0xff;
	return b;
}

function con(messageId: number): Uint8Array {
	return encode({ type: CON, code: GET, messageId, token: new Uint8Array([1]), options: [], payload: new Uint8Array(0) });
}

function layer(clock: ManualClock, sent: { bytes: Uint8Array; to: UdpPeer }[], extra: { maxRetransmit?: number } = {}) {
	const timers = new TimerSet(clock);
	const random = new SeededRandom(7);
	const messages = new MessageLayer({ transport: { send: (bytes, to) => sent.push({ bytes, to: { ...to } }) }, random: (b) => random.fill(b), timers, ackTimeoutMs: 100, ackRandomFactor: 1, ...extra });
	return { timers, messages };
}

function blockRequest(options: CoapOption[], payload: Uint8Array = new Uint8Array(0), peer: UdpPeer = PEER): CoapRequest {
	return { method: POST, path: ["up"], query: [], options, payload, peer, multicast: false, confirmable: true };
}

function block1(num: number, more: boolean, szx: number): CoapOption {
	return option(Opt.Block1, encodeBlock({ num, more, szx }));
}

/** The response a server would give: everything the client-side code looks at. */
function response(code: number, options: CoapOption[] = [], payload: Uint8Array = new Uint8Array(0)): ReceivedResponse {
	return { code, options, payload, peer: PEER };
}

export default suite("coap endpoint layers", (test) => {
	test("dedup: bounded, the least recently remembered entry goes first", () => {
		const clock = new ManualClock();
		const dedup = new DedupCache({ clock, sweeper: new Sweeper(clock, 1000), maxEntries: 3 });
		for (const mid of [1, 2, 3]) dedup.remember(dedupKey(PEER, mid), 5000);
		dedup.remember(dedupKey(PEER, 1), 5000); // seen again: now the newest
		dedup.remember(dedupKey(PEER, 4), 5000);
		equal(dedup.size, 3);
		deepEqual([1, 2, 3, 4].map((mid) => dedup.has(dedupKey(PEER, mid))), [true, false, true, true]);
		ok(dedup.get(dedupKey({ ...PEER, port: 5684 }, 1)) === undefined, "message IDs are per peer");
		ok(dedupKey({ ...PEER, address: "FE80::1" }, 9) === dedupKey(PEER, 9), "address case does not matter");
	});

	test("sweeper: expired entries go, it keeps sweeping while anything is kept and then stops", () => {
		const clock = new ManualClock();
		const sweeper = new Sweeper(clock, 1000);
		const dedup = new DedupCache({ clock, sweeper, maxEntries: 100 });
		equal(clock.nextDue(), undefined, "idle until something is kept");
		dedup.remember("short", 500);
		dedup.remember("long", 2500);
		equal(clock.nextDue(), 1000);
		clock.advance(1000);
		deepEqual([dedup.has("short"), dedup.has("long")], [false, true]);
		clock.advance(1000);
		ok(dedup.has("long"));
		clock.advance(1000);
		equal(dedup.size, 0);
		equal(clock.nextDue(), undefined, "nothing left: no timer");
		dedup.remember("again", 500);
		sweeper.close();
		sweeper.close();
		equal(clock.nextDue(), undefined, "close() cancels it");
		dedup.remember("after close", 500);
		equal(clock.nextDue(), undefined, "and it stays closed");
	});

	test("timer set: clear() cancels every timer started and not released", () => {
		const clock = new ManualClock();
		const timers = new TimerSet(clock);
		let fired = 0;
		const a = timers.start(() => fired++);
		const b = timers.start(() => fired++);
		a.arm(10);
		b.arm(20);
		timers.release(a);
		equal(timers.size, 1);
		equal(clock.nextDue(), 20);
		timers.clear();
		equal(clock.nextDue(), undefined);
		clock.advance(100);
		equal(fired, 0);
		equal(timers.size, 0);
	});

	test("message layer: Message IDs skip those of CONs under way; a CON is retransmitted with back-off until its ACK", () => {
		const clock = new ManualClock();
		const sent: { bytes: Uint8Array; to: UdpPeer }[] = [];
		const { messages } = layer(clock, sent);
		const first = messages.allocateMid();
		const held = (first + 1) & 0xffff;
		const acks: CoapMessage[] = [];
		messages.sendConfirmable(con(held), PEER, { onAck: (m) => acks.push(m), onReset: () => ok(false, "no reset"), onGiveUp: () => ok(false, "no give-up") });
		equal(messages.allocateMid(), (first + 2) & 0xffff, "the held ID is skipped");
		clock.advance(100);
		clock.advance(200);
		equal(sent.length, 3, "sent, then retransmitted after 100 and 200 more ms");
		messages.onAckOrReset(decode(emptyMessage(ACK, held)), { ...PEER, address: "fe80::2" });
		equal(acks.length, 0, "an ACK from another address is ignored");
		messages.onAckOrReset(decode(emptyMessage(ACK, held)), { ...PEER, zone: "" });
		equal(acks.length, 1, "an ACK without a zone matches");
		clock.advance(10_000);
		equal(sent.length, 3, "no retransmission after the ACK");
		messages.onAckOrReset(decode(emptyMessage(ACK, held)), PEER);
		equal(acks.length, 1, "a late duplicate ACK is ignored");
		deepEqual(messages.stats, { sent: 3, received: 0, retransmissions: 2, duplicates: 0, parseErrors: 0, resetsSent: 0, sendErrors: 0 });
		equal(messages.allocateMid(), (first + 3) & 0xffff);
	});

	test("message layer: RST, settle(), giving up and close() each end a CON exactly once", () => {
		const clock = new ManualClock();
		const sent: { bytes: Uint8Array; to: UdpPeer }[] = [];
		const { messages, timers } = layer(clock, sent, { maxRetransmit: 2 });
		const ends: string[] = [];
		const outcome = (name: string) => ({ onAck: () => ends.push(`${name}:ack`), onReset: () => ends.push(`${name}:reset`), onGiveUp: () => ends.push(`${name}:giveup`) });
		messages.sendConfirmable(con(1), PEER, outcome("a"));
		messages.sendConfirmable(con(2), PEER, outcome("b"));
		messages.sendConfirmable(con(3), PEER, outcome("c"));
		messages.sendConfirmable(con(4), PEER, outcome("d"));
		messages.onAckOrReset(decode(emptyMessage(RST, 1)), PEER);
		messages.settle(2);
		clock.advance(100 + 200 + 400);
		deepEqual(ends, ["a:reset", "c:giveup", "d:giveup"]);
		equal(sent.length, 4 + 2 * 2, "c and d retransmitted twice each, b not at all");
		messages.sendConfirmable(con(5), PEER, outcome("e"));
		messages.close();
		messages.close();
		deepEqual(ends, ["a:reset", "c:giveup", "d:giveup", "e:giveup"]);
		equal(timers.size, 0, "no timer held");
		messages.sendReset(9, PEER);
		const rst = decode(sent[sent.length - 1]!.bytes);
		deepEqual([rst.type, rst.code, rst.messageId], [RST, 0, 9]);
		equal(messages.stats.resetsSent, 1);
	});

	test("block-wise server: out-of-order Block1 gets 4.08 and forgets the transfer; bad Block options get 4.02", () => {
		const clock = new ManualClock();
		const server = new BlockwiseServer({ clock, sweeper: new Sweeper(clock, 1000), szx: 6, maxBodyBytes: 1000 });
		let calls = 0;
		const handler = (): CoapResponse => {
			calls++;
			return { code: Code.Changed };
		};
		equal((server.serve(blockRequest([block1(0, true, 0)], pattern(16)), handler) as CoapResponse).code, Code.Continue);
		equal((server.serve(blockRequest([block1(2, true, 0)], pattern(16)), handler) as CoapResponse).code, Code.RequestEntityIncomplete, "block 1 skipped");
		equal((server.serve(blockRequest([block1(1, false, 0)], pattern(5)), handler) as CoapResponse).code, Code.RequestEntityIncomplete, "the transfer was forgotten");
		equal((server.serve(blockRequest([block1(0, true, 0)], pattern(15)), handler) as CoapResponse).code, Code.RequestEntityIncomplete, "a short block that is not the last");
		equal((server.serve(blockRequest([option(Opt.Block1, new Uint8Array([0x0f]))]), handler) as CoapResponse).code, Code.BadOption, "SZX 7");
		equal((server.serve(blockRequest([option(Opt.Block2, new Uint8Array(4))]), handler) as CoapResponse).code, Code.BadOption, "4-byte Block2");
		const tooBig = server.serve(blockRequest([block1(0, true, 0), option(Opt.Size1, 1001)], pattern(16)), handler) as CoapResponse;
		equal(tooBig.code, Code.RequestEntityTooLarge, "Size1 over the limit is refused at once");
		equal(uintOptionValue({ options: tooBig.options! }, Opt.Size1), 1000);
		equal(calls, 0);
		equal(server.size, 0);
	});

	test("block-wise server: a kept representation serves later blocks until it expires; Block2 past the end gets 4.02", () => {
		const clock = new ManualClock();
		const server = new BlockwiseServer({ clock, sweeper: new Sweeper(clock, 10_000), szx: 6, maxBodyBytes: 1000 });
		const body = pattern(100);
		let calls = 0;
		const handler = (): CoapResponse => {
			calls++;
			return { code: Code.Content, payload: body, contentFormat: 42 };
		};
		const get = (num: number) => server.serve({ ...blockRequest([option(Opt.Block2, encodeBlock({ num, more: false, szx: 1 }))]), method: GET }, handler) as CoapResponse;
		const first = get(0);
		deepEqual(decodeBlock(findOption({ options: first.options! }, Opt.Block2)!.value), { num: 0, more: true, szx: 1 });
		equal(uintOptionValue({ options: first.options! }, Opt.Size2), 100);
		equal(first.contentFormat, 42);
		const last = get(3);
		deepEqual(last.payload, body.subarray(96));
		deepEqual(decodeBlock(findOption({ options: last.options! }, Opt.Block2)!.value), { num: 3, more: false, szx: 1 });
		equal(get(4).code, Code.BadOption);
		equal(calls, 1, "one handler call for the transfer");
		equal(server.size, 1);
		clock.advance(EXCHANGE_LIFETIME_MS + 10_000);
		equal(server.size, 0, "dropped after its lifetime");
		get(2);
		equal(calls, 2, "a later block after expiry asks the handler again");
	});

	test("property: random Block1 sequences never throw, and the handler sees only the exact body (seeded)", () => {
		const r = new SeededRandom(1959);
		const clock = new ManualClock();
		const server = new BlockwiseServer({ clock, sweeper: new Sweeper(clock, 1000), szx: 6, maxBodyBytes: 3000 });
		let completed = 0;
		for (let trial = 0; trial < 300; trial++) {
			const body = pattern(1 + r.int(4000), trial);
			const szx = r.int(7);
			const size = blockSize(szx);
			const blocks: { num: number; more: boolean; part: Uint8Array }[] = [];
			for (let off = 0, num = 0; off < body.length; off += size, num++) blocks.push({ num, more: off + size < body.length, part: body.subarray(off, off + size) });
			const sequence = blocks.slice();
			const mutation = r.int(4);
			if (mutation === 1 && sequence.length > 1) sequence.splice(r.int(sequence.length), 1);
			if (mutation === 2) sequence.splice(r.int(sequence.length), 0, sequence[r.int(sequence.length)]!);
			if (mutation === 3 && sequence.length > 1) {
				const i = r.int(sequence.length - 1);
				[sequence[i], sequence[i + 1]] = [sequence[i + 1]!, sequence[i]!];
			}
			const peer = { ...PEER, port: 1000 + trial };
			for (const b of sequence) {
				const res = server.serve(blockRequest([block1(b.num, b.more, szx)], b.part, peer), (req) => {
					deepEqual(req.payload, body, `trial ${trial}`);
					completed++;
					return { code: Code.Changed };
				}) as CoapResponse;
				ok([Code.Continue, Code.Changed, Code.RequestEntityIncomplete, Code.RequestEntityTooLarge].includes(res.code), `trial ${trial}: ${res.code}`);
			}
		}
		ok(completed > 50, `${completed} transfers completed`);
	});

	test("block-wise client: unusable Block options from the server are CoapParseError", async () => {
		const req: RequestOptions = { peer: PEER, method: POST, payload: pattern(100), blockSzx: 0 };
		const defaults = { szx: 6, maxBodyBytes: 100 };
		const always = (res: ReceivedResponse): Exchange => () => Promise.resolve(res);
		await rejects(blockwiseRequest(always(response(Code.Continue)), req, defaults), CoapParseError);
		const get: RequestOptions = { peer: PEER };
		const b2 = (num: number, more: boolean, szx = 0) => option(Opt.Block2, encodeBlock({ num, more, szx }));
		await rejects(blockwiseRequest(always(response(Code.Content, [b2(1, true)], pattern(16))), get, defaults), CoapParseError);
		await rejects(blockwiseRequest(always(response(Code.Content, [option(Opt.Block2, new Uint8Array([0x0f]))])), get, defaults), CoapParseError);
		await rejects(blockwiseRequest(always(response(Code.Content, [b2(0, true)], pattern(10))), get, defaults), CoapParseError, "a short block 0 that says more follow");
		// Each further block answers as block 0 again: out of sequence.
		await rejects(blockwiseRequest(always(response(Code.Content, [b2(0, true)], pattern(16))), get, defaults), CoapParseError);
		// A server that never stops: the body limit ends it.
		let n = 0;
		const endless: Exchange = () => Promise.resolve(response(Code.Content, [b2(n++, true)], pattern(16)));
		await rejects(blockwiseRequest(endless, get, defaults), CoapParseError);
		equal(n, 7, "the seventh block would make 112 bytes");
	});

	test("block-wise client: Block1 follows the server's smaller size; an error mid-Block2 is the answer", async () => {
		const seen: { options: CoapOption[]; payload: Uint8Array }[] = [];
		const body = pattern(300);
		const server: Exchange = (_req, options, payload) => {
			seen.push({ options, payload });
			const b1 = findOption({ options }, Opt.Block1);
			const b = decodeBlock(b1!.value)!;
			if (b.more) return Promise.resolve(response(Code.Continue, [option(Opt.Block1, encodeBlock({ num: b.num, more: true, szx: 1 }))]));
			return Promise.resolve(response(Code.Changed));
		};
		const res = await blockwiseRequest(server, { peer: PEER, method: POST, path: "/a/b", payload: body }, { szx: 2, maxBodyBytes: 1000 });
		equal(res.code, Code.Changed);
		deepEqual(seen.map((s) => s.payload.length), [64, 32, 32, 32, 32, 32, 32, 32, 12]);
		deepEqual(seen.map((s) => decodeBlock(findOption({ options: s.options }, Opt.Block1)!.value)!.num), [0, 2, 3, 4, 5, 6, 7, 8, 9]);
		equal(uintOptionValue({ options: seen[0]!.options }, Opt.Size1), 300);
		let calls = 0;
		const failing: Exchange = () =>
			Promise.resolve(calls++ === 0 ? response(Code.Content, [option(Opt.Block2, encodeBlock({ num: 0, more: true, szx: 0 }))], pattern(16)) : response(Code.NotFound));
		equal((await blockwiseRequest(failing, { peer: PEER }, { szx: 6, maxBodyBytes: 1000 })).code, Code.NotFound);
	});

	test("request options: the request's own, Uri-Path and Uri-Query in option order, then Content-Format and Accept", () => {
		const options = requestOptions({ peer: PEER, path: "/.well-known//core/", query: ["rt=brski"], options: [option(Opt.Block2, 0), option(Opt.IfMatch, "x")], contentFormat: 60, accept: 50 });
		deepEqual(options.map((o) => o.number), [Opt.IfMatch, Opt.UriPath, Opt.UriPath, Opt.ContentFormat, Opt.UriQuery, Opt.Accept, Opt.Block2]);
		deepEqual(options.filter((o) => o.number === Opt.UriPath).map((o) => utf8Decode(o.value)), [".well-known", "core"]);
	});
});
