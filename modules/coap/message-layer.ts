/*
 * The CoAP message layer (RFC 7252 §4): Message IDs, sending, empty ACK/RST, and retransmission of
 * confirmable messages with exponential back-off until they are acknowledged or reset.
 */

import type { Host, Timer, UdpPeer } from "../../hosts/host.js";
import { ACK_RANDOM_FACTOR, ACK_TIMEOUT_MS, EMPTY, MAX_RETRANSMIT, RST } from "./constants.js";
import type { CoapMessage } from "./message.js";
import type { TimerSet } from "./timer-set.js";
import type { CoapStats, CoapTransport } from "./types.js";

export interface MessageLayerOptions {
	transport: CoapTransport;
	random: (bytes: Uint8Array) => Uint8Array;
	timers: TimerSet;
	ackTimeoutMs?: number;
	ackRandomFactor?: number;
	maxRetransmit?: number;
	/** Cap on the doubling retransmission interval (default: none). */
	maxRetransmitIntervalMs?: number;
	/** Where failed sends are reported (default: nowhere; they are counted either way). */
	log?: Host["log"];
}

/** What becomes of a confirmable message: exactly one of these runs, unless settle() ends it first. */
export interface ConfirmableOutcome {
	onAck(msg: CoapMessage): void;
	onReset(): void;
	/** MAX_RETRANSMIT reached, or the layer was closed. */
	onGiveUp(): void;
}

interface Outgoing extends ConfirmableOutcome {
	bytes: Uint8Array;
	peer: UdpPeer;
	attempts: number;
	timeoutMs: number;
	timer: Timer;
}

/** Zones match when equal or when either side does not know its zone. */
export function samePeer(a: Readonly<UdpPeer>, b: Readonly<UdpPeer>): boolean {
	return a.port === b.port && a.address.toLowerCase() === b.address.toLowerCase() && (a.zone === b.zone || a.zone === "" || b.zone === "");
}

/** An Empty message (RFC 7252 §4.1): header only. */
export function emptyMessage(type: number, messageId: number): Uint8Array {
	return new Uint8Array([0x40 | (type << 4), EMPTY, messageId >> 8, messageId & 0xff]);
}

export class MessageLayer {
	readonly #transport: CoapTransport;
	readonly #random: (bytes: Uint8Array) => Uint8Array;
	readonly #timers: TimerSet;
	readonly #ackTimeout: number;
	readonly #randomFactor: number;
	readonly #maxRetransmit: number;
	readonly #maxInterval: number;
	readonly #log: Host["log"] | undefined;
	readonly #outgoing = new Map<number, Outgoing>();
	#nextMid: number;
	/** Counters of the whole endpoint; the other layers count into them too. */
	readonly stats: CoapStats = { sent: 0, received: 0, retransmissions: 0, duplicates: 0, parseErrors: 0, resetsSent: 0, sendErrors: 0 };

	constructor(options: MessageLayerOptions) {
		this.#transport = options.transport;
		this.#random = options.random;
		this.#timers = options.timers;
		this.#ackTimeout = options.ackTimeoutMs ?? ACK_TIMEOUT_MS;
		this.#randomFactor = options.ackRandomFactor ?? ACK_RANDOM_FACTOR;
		this.#maxRetransmit = options.maxRetransmit ?? MAX_RETRANSMIT;
		this.#maxInterval = options.maxRetransmitIntervalMs ?? Infinity;
		this.#log = options.log;
		const mid = this.#random(new Uint8Array(2));
		this.#nextMid = (mid[0]! << 8) | mid[1]!;
	}

	get maxRetransmit(): number {
		return this.#maxRetransmit;
	}

	/** Throws what the transport throws: for requests, whose caller learns that theirs failed. */
	send(bytes: Uint8Array, peer: UdpPeer): void {
		this.#transport.send(bytes, peer);
		this.stats.sent++;
	}

	/**
	 * Sends from a socket callback, timer or promise continuation, where a throw would end the
	 * process: a datagram the transport refuses (a DTLS association that closed, a record limit) is
	 * lost as the network could lose it, counted and logged.
	 */
	trySend(bytes: Uint8Array, peer: UdpPeer): void {
		try {
			this.send(bytes, peer);
		} catch (e) {
			this.failed(`message to [${peer.address}]:${peer.port} not sent`, e);
		}
	}

	/** Counts and logs a message that could not go out. */
	failed(what: string, error: unknown): void {
		this.stats.sendErrors++;
		this.#log?.("warn", `coap: ${what}: ${error instanceof Error ? error.message : String(error)}`);
	}

	sendEmpty(type: number, messageId: number, peer: UdpPeer): void {
		this.trySend(emptyMessage(type, messageId), peer);
	}

	sendReset(messageId: number, peer: UdpPeer): void {
		this.stats.resetsSent++;
		this.sendEmpty(RST, messageId, peer);
	}

	/** Sends a CON (its Message ID in `bytes`) and retransmits it until one of `outcome` runs. */
	sendConfirmable(bytes: Uint8Array, peer: UdpPeer, outcome: ConfirmableOutcome): void {
		const mid = (bytes[2]! << 8) | bytes[3]!;
		// Initial timeout random in [ACK_TIMEOUT, ACK_TIMEOUT * ACK_RANDOM_FACTOR] (RFC 7252 §4.2).
		const initial = this.#ackTimeout * (1 + (this.#randomFactor - 1) * this.randomFraction());
		const out: Outgoing = {
			bytes,
			peer,
			attempts: 0,
			timeoutMs: initial,
			timer: this.#timers.start(() => {
				if (out.attempts >= this.#maxRetransmit) {
					this.#outgoing.delete(mid);
					this.#timers.release(out.timer);
					out.onGiveUp();
					return;
				}
				out.attempts++;
				out.timeoutMs = Math.min(out.timeoutMs * 2, this.#maxInterval);
				this.stats.retransmissions++;
				this.trySend(out.bytes, out.peer);
				out.timer.arm(out.timeoutMs);
			}),
			onAck: outcome.onAck,
			onReset: outcome.onReset,
			onGiveUp: outcome.onGiveUp,
		};
		this.#outgoing.set(mid, out);
		try {
			this.send(bytes, peer);
		} catch (e) {
			// Refused at once: nothing is under way, the caller hears of it.
			this.#outgoing.delete(mid);
			this.#timers.release(out.timer);
			throw e;
		}
		out.timer.arm(initial);
	}

	/** Stops retransmitting `messageId` without running its outcome (its answer came another way). */
	settle(messageId: number): void {
		const out = this.#outgoing.get(messageId);
		if (out === undefined) return;
		this.#outgoing.delete(messageId);
		this.#timers.release(out.timer);
	}

	/** An ACK or RST arrived: ends the matching CON. */
	onAckOrReset(msg: CoapMessage, peer: UdpPeer): void {
		const out = this.#outgoing.get(msg.messageId);
		if (out === undefined || !samePeer(out.peer, peer)) return; // stray or late ACK: ignore (RFC 7252 §4.2)
		this.settle(msg.messageId);
		if (msg.type === RST) out.onReset();
		else out.onAck(msg);
	}

	/** The next Message ID not held by a CON under way. */
	allocateMid(): number {
		for (let i = 0; i < 0x10000; i++) {
			const mid = this.#nextMid;
			this.#nextMid = (this.#nextMid + 1) & 0xffff;
			if (!this.#outgoing.has(mid)) return mid;
		}
		throw new RangeError("all 65536 message IDs are in flight");
	}

	/** Uniform in [0, 1). */
	randomFraction(): number {
		const b = this.#random(new Uint8Array(2));
		return ((b[0]! << 8) | b[1]!) / 0x10000;
	}

	/** Gives up every CON under way (their onGiveUp runs). Idempotent. */
	close(): void {
		const outgoing = [...this.#outgoing.values()];
		this.#outgoing.clear();
		for (const o of outgoing) {
			this.#timers.release(o.timer);
			o.onGiveUp();
		}
	}
}
