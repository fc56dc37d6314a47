/*
 * The 2.4 GHz IEEE 802.15.4 channel and MAC of the simulated mesh (IEEE Std 802.15.4-2006):
 * - a shared medium per radio neighbourhood: a radio hears its neighbours' frames; it cannot receive
 *   while it transmits, and two overlapping frames at one receiver both fail there (hidden
 *   terminals collide, as on air); per directed link, a frame that survived is still lost with the
 *   link's loss probability;
 * - unslotted CSMA-CA (§7.5.1.4) with CCA, the RX-to-TX turnaround, acknowledgements after
 *   aTurnaroundTime, macAckWaitDuration and macMaxFrameRetries retransmissions (§7.5.6.4), and
 *   duplicate rejection by sequence number (§7.5.6.3).
 * All randomness (backoffs, losses) comes from one seeded stream in event order.
 */

import { airtimeUs, decodeFrame, encodeFrame, type DataFrame } from "../../modules/ieee802154/frame.js";
import type { SeededRandom } from "../xs/seeded-random.js";
import type { EventQueue } from "./event-queue.js";
import { bytesEqual, toHex } from "../../modules/util/hex.js";

/** One symbol at 62.5 ksymbol/s (§6.5.3.2). */
const SYMBOL_US = 16;
/** aUnitBackoffPeriod: 20 symbols (§7.4.1). */
export const UNIT_BACKOFF_US = 20 * SYMBOL_US;
/** CCA over 8 symbol periods (§6.9.9). */
export const CCA_US = 8 * SYMBOL_US;
/** aTurnaroundTime: 12 symbols (§6.4.1). */
export const TURNAROUND_US = 12 * SYMBOL_US;
/** macAckWaitDuration = aUnitBackoffPeriod + aTurnaroundTime + phySHRDuration + 6·phySymbolsPerOctet = 54 symbols (§7.4.2). */
export const ACK_WAIT_US = 54 * SYMBOL_US;
/** §7.4.2 MAC PIB defaults. */
export const MAC_MIN_BE = 3;
export const MAC_MAX_BE = 5;
export const MAC_MAX_CSMA_BACKOFFS = 4;
export const MAC_MAX_FRAME_RETRIES = 3;

/** MAC PIB attributes a deployment may set (§7.4.2, Table 86: the ranges allowed). */
export interface MacSettings {
	/** macMinBE, 0..macMaxBE (default 3). */
	minBe: number;
	/** macMaxBE, 3..8 (default 5). */
	maxBe: number;
	/** macMaxCSMABackoffs, 0..5 (default 4). */
	maxCsmaBackoffs: number;
	/** macMaxFrameRetries, 0..7 (default 3). */
	maxFrameRetries: number;
}

export const DEFAULT_MAC: Readonly<MacSettings> = Object.freeze({ minBe: MAC_MIN_BE, maxBe: MAC_MAX_BE, maxCsmaBackoffs: MAC_MAX_CSMA_BACKOFFS, maxFrameRetries: MAC_MAX_FRAME_RETRIES });

/** `o` over the defaults, refused outside Table 86's ranges. */
export function macSettings(o: Partial<MacSettings> = {}): Readonly<MacSettings> {
	const m = { ...DEFAULT_MAC, ...o };
	const within = (v: number, lo: number, hi: number): boolean => Number.isInteger(v) && v >= lo && v <= hi;
	if (!within(m.maxBe, 3, 8) || !within(m.minBe, 0, m.maxBe)) throw new RangeError("macMinBE must be in 0..macMaxBE and macMaxBE in 3..8");
	if (!within(m.maxCsmaBackoffs, 0, 5)) throw new RangeError("macMaxCSMABackoffs must be in 0..5");
	if (!within(m.maxFrameRetries, 0, 7)) throw new RangeError("macMaxFrameRetries must be in 0..7");
	return Object.freeze(m);
}

export interface LinkQuality {
	/** Probability that a frame that did not collide is still lost on this directed link. */
	loss: number;
}

/** A frame on air, with what the simulator knows about it and the air does not. */
export interface Transmission {
	from: Radio;
	bytes: Uint8Array;
	startUs: number;
	endUs: number;
	/** Datagram class the frame belongs to (ACKs take their data frame's). */
	cls: string;
	/** Addressed receiver (undefined: broadcast or ACK). */
	to: Radio | undefined;
	ack: boolean;
}

export interface RadioCounters {
	txFrames: number;
	txBytes: number;
	txAirtimeUs: number;
	acksSent: number;
	retries: number;
	noAck: number;
	channelAccessFailures: number;
	rxFrames: number;
	collisions: number;
	linkLosses: number;
	duplicates: number;
}

export interface OutgoingFrame {
	frame: DataFrame;
	cls: string;
	to: Radio | undefined;
	/** Checked before the first attempt: true drops the frame unsent (done(false)). */
	cancelled?: () => boolean;
	/** Called once: true when acknowledged (or sent, for broadcasts). */
	done(ok: boolean): void;
}

export class Medium {
	readonly queue: EventQueue;
	readonly rng: SeededRandom;
	readonly mac: Readonly<MacSettings>;
	readonly radios: Radio[] = [];
	/** Sees every transmission as it starts (pcap, counters). */
	readonly taps: ((tx: Transmission) => void)[] = [];

	constructor(queue: EventQueue, rng: SeededRandom, mac: Partial<MacSettings> = {}) {
		this.queue = queue;
		this.rng = rng;
		this.mac = macSettings(mac);
	}

	/** Starts a transmission now; receivers are decided at its end. */
	transmit(from: Radio, bytes: Uint8Array, cls: string, to: Radio | undefined, ack: boolean, onEnd?: () => void): void {
		const now = this.queue.nowUs();
		const tx: Transmission = { from, bytes, startUs: now, endUs: now + airtimeUs(bytes.length), cls, to, ack };
		from.transmittingUntil = tx.endUs;
		if (from.rx !== undefined) from.rx.ok = false; // half duplex: its own reception is ruined
		for (const r of from.neighbours.keys()) {
			r.heardUntil = Math.max(r.heardUntil, tx.endUs);
			if (r.transmittingUntil > now) continue;
			if (r.rx !== undefined) {
				r.rx.ok = false;
				r.counters.collisions++;
				continue;
			}
			r.rx = { tx, ok: true };
		}
		for (const tap of this.taps) tap(tx);
		this.queue.at(tx.endUs, () => {
			for (const [r, q] of from.neighbours) {
				if (r.rx?.tx !== tx) continue;
				const ok = r.rx.ok;
				r.rx = undefined;
				if (!ok) continue;
				if (q.loss > 0 && this.rng.float() < q.loss) {
					r.counters.linkLosses++;
					continue;
				}
				r.receive(tx);
			}
			onEnd?.();
		});
	}
}

/** One node's radio and MAC. */
export class Radio {
	readonly medium: Medium;
	readonly name: string;
	/** Extended address, most significant byte first. */
	readonly mac: Uint8Array;
	readonly panId: number;
	readonly neighbours = new Map<Radio, LinkQuality>();
	readonly counters: RadioCounters = { txFrames: 0, txBytes: 0, txAirtimeUs: 0, acksSent: 0, retries: 0, noAck: 0, channelAccessFailures: 0, rxFrames: 0, collisions: 0, linkLosses: 0, duplicates: 0 };
	/** Data frames accepted for this node (duplicates removed). */
	onFrame: (frame: DataFrame, tx: Transmission) => void = () => {};
	heardUntil = 0;
	transmittingUntil = 0;
	rx: { tx: Transmission; ok: boolean } | undefined;
	readonly #queue: OutgoingFrame[] = [];
	#busy = false;
	#seq: number;
	/** Bumped per attempt so a stale ACK-wait expiry does nothing. */
	#attempt = 0;
	#awaiting: { seq: number; attempt: number } | undefined;
	readonly #lastSeq = new Map<string, number>();

	constructor(medium: Medium, name: string, mac: Uint8Array, panId: number) {
		this.medium = medium;
		this.name = name;
		this.mac = mac;
		this.panId = panId;
		this.#seq = medium.rng.int(256); // macDSN starts random (§7.4.2)
		medium.radios.push(this);
	}

	nextSeq(): number {
		const s = this.#seq;
		this.#seq = (this.#seq + 1) & 0xff;
		return s;
	}

	get queued(): number {
		return this.#queue.length + (this.#busy ? 1 : 0);
	}

	send(out: OutgoingFrame): void {
		this.#queue.push(out);
		if (!this.#busy) this.#next();
	}

	#next(): void {
		const out = this.#queue.shift();
		if (out === undefined) {
			this.#busy = false;
			return;
		}
		this.#busy = true;
		if (out.cancelled?.() === true) {
			this.#finish(out, false);
			return;
		}
		this.#attemptFrame(out, 0);
	}

	#finish(out: OutgoingFrame, ok: boolean): void {
		out.done(ok);
		this.#next();
	}

	/** Unslotted CSMA-CA (§7.5.1.4, Figure 69). */
	#attemptFrame(out: OutgoingFrame, retries: number): void {
		const bytes = encodeFrame(out.frame);
		const q = this.medium.queue;
		const rng = this.medium.rng;
		let nb = 0;
		const mac = this.medium.mac;
		let be = mac.minBe;
		const backoff = (): void => {
			q.after(rng.int(1 << be) * UNIT_BACKOFF_US, () => {
				const ccaStart = q.nowUs();
				q.after(CCA_US, () => {
					if (this.heardUntil > ccaStart || this.transmittingUntil > ccaStart) {
						nb++;
						be = Math.min(be + 1, mac.maxBe);
						if (nb > mac.maxCsmaBackoffs) {
							this.counters.channelAccessFailures++;
							this.#finish(out, false);
						} else backoff();
						return;
					}
					q.after(TURNAROUND_US, () => this.#transmit(out, bytes, retries));
				});
			});
		};
		backoff();
	}

	#transmit(out: OutgoingFrame, bytes: Uint8Array, retries: number): void {
		this.#count(bytes);
		const attempt = ++this.#attempt;
		this.medium.transmit(this, bytes, out.cls, out.to, false, () => {
			if (!out.frame.ackRequest) {
				this.#finish(out, true);
				return;
			}
			this.#awaiting = { seq: out.frame.seq, attempt };
			this.medium.queue.after(ACK_WAIT_US, () => {
				if (this.#awaiting?.attempt !== attempt) return; // acknowledged meanwhile
				this.#awaiting = undefined;
				if (retries < this.medium.mac.maxFrameRetries) {
					this.counters.retries++;
					this.#attemptFrame(out, retries + 1);
				} else {
					this.counters.noAck++;
					this.#finish(out, false);
				}
			});
		});
		this.#pendingOut = out;
	}

	#pendingOut: OutgoingFrame | undefined;

	#count(bytes: Uint8Array): void {
		this.counters.txFrames++;
		this.counters.txBytes += bytes.length;
		this.counters.txAirtimeUs += airtimeUs(bytes.length);
	}

	/** A frame that reached this radio intact. */
	receive(tx: Transmission): void {
		// A unicast frame for another radio fails the address filter anyway (§7.5.6.2): skip decoding it.
		if (tx.to !== undefined && tx.to !== this) return;
		let f;
		try {
			f = decodeFrame(tx.bytes);
		} catch {
			return;
		}
		if (f.kind === "ack") {
			if (this.#awaiting !== undefined && f.seq === this.#awaiting.seq && tx.to === this) {
				this.#awaiting = undefined;
				const out = this.#pendingOut!;
				this.#pendingOut = undefined;
				this.#finish(out, true);
			}
			return;
		}
		if (f.panId !== this.panId) return;
		const broadcast = f.dst.length === 2 && f.dst[0] === 0xff && f.dst[1] === 0xff;
		if (!broadcast && !bytesEqual(f.dst, this.mac)) return;
		this.counters.rxFrames++;
		if (f.ackRequest && !broadcast) {
			this.medium.queue.after(TURNAROUND_US, () => {
				if (this.transmittingUntil > this.medium.queue.nowUs()) return;
				const ack = encodeFrame({ kind: "ack", seq: f.seq });
				this.#count(ack);
				this.counters.acksSent++;
				this.medium.transmit(this, ack, tx.cls, tx.from, true);
			});
		}
		const key = toHex(f.src);
		if (!broadcast && this.#lastSeq.get(key) === f.seq) {
			this.counters.duplicates++;
			return;
		}
		this.#lastSeq.set(key, f.seq);
		this.onFrame(f, tx);
	}
}
