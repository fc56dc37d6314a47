/*
 * Handshake fragmentation and reassembly (RFC 6347 §4.2.3). A handshake message may be larger than
 * one record can carry (a certificate chain over 6LoWPAN, a peer's max_fragment_length of 512), so
 * the sender splits it into fragments that each repeat msg_type, length and message_seq; the
 * receiver puts them back together whatever the order, duplication or overlap the network or the
 * peer's retransmissions produced, and hands the messages on strictly in message_seq order
 * (RFC 6347 §4.2.2: next_receive_seq).
 *
 * Reassembly is bounded because the lengths come from the peer before any authentication: one
 * message may claim at most `maxMessageLength` bytes (a fragment claiming more is an error), the
 * messages being assembled together at most `maxBufferedBytes`, and only `window` message_seq
 * values ahead of the next expected one are queued at all (RFC 6347 §4.2.2 allows discarding
 * future messages). The work per fragment is linear in its length.
 */

import {
	AlertDescription,
	HANDSHAKE_HEADER_BYTES,
	HandshakeError,
	readHandshakeHeader,
	writeHandshakeHeader,
	type HandshakeHeader,
} from "./handshake.js";

/** One fragment as it appears in a handshake record: its header and its `fragmentLength` bytes. */
export interface HandshakeFragment extends HandshakeHeader {
	data: Uint8Array;
}

/**
 * Splits a whole message (as encodeHandshakeMessage() writes it) into fragments of at most
 * `maxFragmentBody` body bytes each, every one with its own 12-byte header: pass the record
 * payload room minus HANDSHAKE_HEADER_BYTES. A message with an empty body is one fragment.
 */
export function fragment(message: Uint8Array, maxFragmentBody: number): Uint8Array[] {
	if (!(Number.isInteger(maxFragmentBody) && maxFragmentBody >= 1)) throw new RangeError("maxFragmentBody must be at least 1");
	let h: HandshakeHeader;
	try {
		h = readHandshakeHeader(message, 0);
	} catch {
		throw new RangeError("not a handshake message");
	}
	if (h.fragmentOffset !== 0 || h.fragmentLength !== h.length || message.length !== HANDSHAKE_HEADER_BYTES + h.length) {
		throw new RangeError("not a whole handshake message");
	}
	const out: Uint8Array[] = [];
	let offset = 0;
	do {
		const n = Math.min(maxFragmentBody, h.length - offset);
		const f = new Uint8Array(HANDSHAKE_HEADER_BYTES + n);
		writeHandshakeHeader({ msgType: h.msgType, length: h.length, messageSeq: h.messageSeq, fragmentOffset: offset, fragmentLength: n }, f, 0);
		f.set(message.subarray(HANDSHAKE_HEADER_BYTES + offset, HANDSHAKE_HEADER_BYTES + offset + n), HANDSHAKE_HEADER_BYTES);
		out.push(f);
		offset += n;
	} while (offset < h.length);
	return out;
}

/**
 * The fragments in the plaintext of one handshake record; a record may carry several (RFC 6347
 * §4.2.3), and a fragment never spans records. `data` aliases `payload`. A truncated fragment, or a
 * record with no handshake bytes at all (RFC 5246 §6.2.1 forbids zero-length handshake fragments;
 * a zero-length *message* still has its 12-byte header), is a decode_error.
 */
export function readFragments(payload: Uint8Array): HandshakeFragment[] {
	if (payload.length === 0) throw new HandshakeError("empty handshake record");
	const out: HandshakeFragment[] = [];
	let at = 0;
	while (at < payload.length) {
		const h = readHandshakeHeader(payload, at);
		const start = at + HANDSHAKE_HEADER_BYTES;
		if (h.fragmentLength > payload.length - start) throw new HandshakeError("handshake fragment runs past the record");
		out.push({ ...h, data: payload.subarray(start, start + h.fragmentLength) });
		at = start + h.fragmentLength;
	}
	return out;
}

/**
 * A fragment contradicts earlier ones of its message_seq. Besides a broken peer, this is what a
 * client sees when late fragments of a previous association's server flight (the same message_seq
 * values, another ECDHE key) meet the current one, so a client may discard instead of failing.
 */
export class FragmentConflictError extends HandshakeError {
	override readonly name = "FragmentConflictError";
}

/** What Reassembler.add() did with a fragment. */
export type FragmentOutcome =
	/** Stored, or a duplicate of bytes already held; pop() may now have a message. */
	| "accepted"
	/**
	 * Belongs to a message already delivered: the peer is retransmitting its previous flight, which
	 * means it has not seen ours, so the state machine retransmits its own (RFC 6347 §4.2.4).
	 */
	| "retransmission"
	/** Too far ahead, or no buffer room for a future message: dropped, the peer will resend it. */
	| "ignored";

export interface ReassemblerOptions {
	/** message_seq of the first message to deliver (next_receive_seq, RFC 6347 §4.2.2). Default 0. */
	nextSeq?: number;
	/** Largest message body accepted (default 16384). A fragment of a larger one is an error. */
	maxMessageLength?: number;
	/** Body bytes held across all messages being assembled (default: maxMessageLength). */
	maxBufferedBytes?: number;
	/** How many message_seq values from nextSeq on are queued (default 16: a whole flight and more). */
	window?: number;
}

const DEFAULT_MAX_MESSAGE_LENGTH = 16384;
const DEFAULT_WINDOW = 16;

interface Pending {
	msgType: number;
	length: number;
	/** Header (written when created, as one fragment) and body. */
	bytes: Uint8Array;
	/** One bit per body byte received. */
	have: Uint8Array;
	missing: number;
}

export class Reassembler {
	#nextSeq: number;
	readonly #maxMessageLength: number;
	readonly #maxBufferedBytes: number;
	readonly #window: number;
	readonly #pending = new Map<number, Pending>();
	#buffered = 0;

	constructor(options: ReassemblerOptions = {}) {
		this.#nextSeq = options.nextSeq ?? 0;
		this.#maxMessageLength = options.maxMessageLength ?? DEFAULT_MAX_MESSAGE_LENGTH;
		this.#maxBufferedBytes = options.maxBufferedBytes ?? this.#maxMessageLength;
		this.#window = options.window ?? DEFAULT_WINDOW;
		if (!(this.#nextSeq >= 0 && this.#nextSeq <= 0xffff && this.#window >= 1 && this.#maxMessageLength >= 0)) {
			throw new RangeError("bad reassembler options");
		}
		// The next expected message must always fit, or reassembly could stall for good.
		if (this.#maxBufferedBytes < this.#maxMessageLength) throw new RangeError("maxBufferedBytes below maxMessageLength");
	}

	/** message_seq of the next message pop() will return. */
	get nextSeq(): number {
		return this.#nextSeq;
	}

	/** Body bytes currently held. */
	get bufferedBytes(): number {
		return this.#buffered;
	}

	/**
	 * Takes one fragment. Throws HandshakeError when it contradicts what earlier fragments of its
	 * message_seq said (msg_type, length, or different bytes where they overlap: one message cannot
	 * have two contents, and mixing them would only fail later at Finished), or when it announces a
	 * message above maxMessageLength.
	 */
	add(f: HandshakeFragment): FragmentOutcome {
		if (f.data.length !== f.fragmentLength || f.fragmentOffset + f.fragmentLength > f.length) {
			throw new HandshakeError("inconsistent fragment header");
		}
		if (f.messageSeq < this.#nextSeq) return "retransmission";
		if (f.messageSeq >= this.#nextSeq + this.#window) return "ignored";
		let p = this.#pending.get(f.messageSeq);
		if (p === undefined) {
			if (f.length > this.#maxMessageLength) {
				throw new HandshakeError(`handshake message of ${f.length} bytes exceeds ${this.#maxMessageLength}`, AlertDescription.illegalParameter);
			}
			if (!this.#makeRoom(f.length, f.messageSeq)) return "ignored";
			p = this.#create(f);
		} else if (p.msgType !== f.msgType || p.length !== f.length) {
			throw new FragmentConflictError(
				`fragment of message_seq ${f.messageSeq} says type ${f.msgType}/length ${f.length}, earlier ones ${p.msgType}/${p.length}`,
				AlertDescription.illegalParameter,
			);
		}
		this.#merge(p, f);
		return "accepted";
	}

	/** The next message in message_seq order once all of it is here, as one unfragmented message. */
	pop(): Uint8Array | undefined {
		const p = this.#pending.get(this.#nextSeq);
		if (p === undefined || p.missing > 0) return undefined;
		this.#pending.delete(this.#nextSeq);
		this.#buffered -= p.length;
		this.#nextSeq++;
		return p.bytes;
	}

	#create(f: HandshakeFragment): Pending {
		const bytes = new Uint8Array(HANDSHAKE_HEADER_BYTES + f.length);
		writeHandshakeHeader({ msgType: f.msgType, length: f.length, messageSeq: f.messageSeq, fragmentOffset: 0, fragmentLength: f.length }, bytes, 0);
		const p: Pending = { msgType: f.msgType, length: f.length, bytes, have: new Uint8Array((f.length + 7) >> 3), missing: f.length };
		this.#pending.set(f.messageSeq, p);
		this.#buffered += f.length;
		return p;
	}

	/**
	 * Finds room for `length` more bytes. The next expected message always gets it, by dropping
	 * queued later messages from the far end (they will be retransmitted); a later message only
	 * gets free room.
	 */
	#makeRoom(length: number, seq: number): boolean {
		if (this.#buffered + length <= this.#maxBufferedBytes) return true;
		if (seq !== this.#nextSeq) return false;
		const later = [...this.#pending.keys()].sort((a, b) => b - a);
		for (const s of later) {
			if (this.#buffered + length <= this.#maxBufferedBytes) break;
			this.#buffered -= this.#pending.get(s)!.length;
			this.#pending.delete(s);
		}
		return true;
	}

	/**
	 * Checks every overlap before writing anything, so a rejected fragment leaves no trace. The
	 * usual case, bytes not seen before, is one scan of the bitmap and one native copy; only
	 * overlapping fragments go byte by byte.
	 */
	#merge(p: Pending, f: HandshakeFragment): void {
		const body = p.bytes;
		const have = p.have;
		const start = f.fragmentOffset;
		const end = start + f.fragmentLength;
		const base = HANDSHAKE_HEADER_BYTES + start;
		if (!anySet(have, start, end)) {
			body.set(f.data, base);
			setRange(have, start, end);
			p.missing -= f.fragmentLength;
			return;
		}
		for (let i = 0, pos = start; pos < end; i++, pos++) {
			if (have[pos >> 3]! & (1 << (pos & 7)) && body[base + i] !== f.data[i]) {
				throw new FragmentConflictError(`overlapping fragments of message_seq ${f.messageSeq} differ at byte ${pos}`, AlertDescription.illegalParameter);
			}
		}
		for (let i = 0, pos = start; pos < end; i++, pos++) {
			const bit = 1 << (pos & 7);
			if (!(have[pos >> 3]! & bit)) {
				have[pos >> 3] = have[pos >> 3]! | bit;
				body[base + i] = f.data[i]!;
				p.missing--;
			}
		}
	}
}

/* Bitmap helpers over bit positions [start, end): whole bytes at a time in the middle. */

function anySet(bits: Uint8Array, start: number, end: number): boolean {
	let pos = start;
	for (; pos < end && (pos & 7) !== 0; pos++) if (bits[pos >> 3]! & (1 << (pos & 7))) return true;
	for (; pos + 8 <= end; pos += 8) if (bits[pos >> 3] !== 0) return true;
	for (; pos < end; pos++) if (bits[pos >> 3]! & (1 << (pos & 7))) return true;
	return false;
}

function setRange(bits: Uint8Array, start: number, end: number): void {
	let pos = start;
	for (; pos < end && (pos & 7) !== 0; pos++) bits[pos >> 3] = bits[pos >> 3]! | (1 << (pos & 7));
	if (pos + 8 <= end) {
		bits.fill(0xff, pos >> 3, end >> 3);
		pos = end & ~7;
	}
	for (; pos < end; pos++) bits[pos >> 3] = bits[pos >> 3]! | (1 << (pos & 7));
}
