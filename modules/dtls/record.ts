/*
 * The DTLS 1.2 record layer (RFC 6347 §4.1) for TLS_ECDHE_ECDSA_WITH_AES_128_CCM_8 (RFC 7251,
 * RFC 6655, profiled by RFC 7925): framing, anti-replay, AEAD record protection, and per-epoch
 * state across ChangeCipherSpec.
 *
 * Record header (RFC 6347 §4.1), 13 bytes, big-endian:
 *
 *   byte 0       ContentType type
 *   bytes 1-2    ProtocolVersion version
 *   bytes 3-4    uint16 epoch
 *   bytes 5-10   uint48 sequence_number
 *   bytes 11-12  uint16 length (of the fragment that follows)
 *
 * A protected fragment (RFC 5246 §6.2.3.3 GenericAEADCipher, nonce per RFC 6655 §3 / RFC 5288 §3):
 *
 *   nonce_explicit (8) || AES-CCM ciphertext (length of the plaintext) || tag (8 for CCM_8)
 *
 *   nonce           = salt (the 4-byte client/server_write_IV) || nonce_explicit
 *   additional_data = seq_num (8) || type (1) || version (2) || plaintext length (2)
 *
 * where seq_num is epoch || sequence_number (RFC 6347 §4.1.2.1). We send seq_num as the
 * nonce_explicit (RFC 6655 §3), as OpenSSL and GnuTLS do; when opening we take whatever 8 bytes the
 * sender put there, since RFC 5288 §3 leaves the explicit part to the sender.
 *
 * Invalid records never raise (RFC 6347 §4.1.2.7: they are silently discarded): the parser stops at
 * broken framing and the layer drops what fails a check, counting each drop by reason.
 * Sequence numbers are plain numbers: 48 bits are exact in a double (< 2^53), so no BigInt is needed.
 */

import { AesCcm } from "../crypto/aes-ccm.js";

/** ContentType (RFC 5246 §6.2.1, RFC 6347 §4.1). */
export const CONTENT_CHANGE_CIPHER_SPEC = 20;
export const CONTENT_ALERT = 21;
export const CONTENT_HANDSHAKE = 22;
export const CONTENT_APPLICATION_DATA = 23;

/** ProtocolVersion on the wire: DTLS 1.0 is {254, 255}, DTLS 1.2 is {254, 253} (RFC 6347 §4.1). */
export const DTLS_1_0 = 0xfeff;
export const DTLS_1_2 = 0xfefd;

/** RFC 6347 §4.1: type (1) + version (2) + epoch (2) + sequence_number (6) + length (2). */
export const RECORD_HEADER_BYTES = 13;
/** RFC 5246 §6.2.1: a plaintext fragment is at most 2^14 bytes. */
export const MAX_PLAINTEXT = 2 ** 14;
/** RFC 5246 §6.2.3: a protected fragment is at most 2^14 + 2048 bytes; longer is record_overflow. */
export const MAX_FRAGMENT = 2 ** 14 + 2048;
/** RFC 6347 §4.1: epochs are uint16 and MUST NOT wrap. */
export const MAX_EPOCH = 0xffff;
/** RFC 6347 §4.1: sequence numbers are uint48; a connection must be re-established before they wrap. */
export const MAX_SEQUENCE = 2 ** 48 - 1;
/** RFC 6347 §4.1.2.6: "a window size of 64 is preferred and SHOULD be employed as the default". */
export const REPLAY_WINDOW = 64;

/** RFC 6655 §3: the 4-byte salt (client/server_write_IV) and the 8-byte nonce_explicit. */
const SALT_BYTES = 4;
const EXPLICIT_NONCE_BYTES = 8;
/** seq_num || type || version || length (RFC 5246 §6.2.3.3). */
const AAD_BYTES = 13;
/** RFC 6655 §3: AES_128_CCM_8 has an 8-byte tag (AES_128_CCM a 16-byte one). */
const CCM_8_TAG_BYTES = 8;
const TWO_32 = 0x1_0000_0000;

/**
 * Default for RecordLayerOptions.maxAuthFailures. An 8-byte tag lets each forged record succeed
 * with probability 2^-64, so after N tries the attacker's odds are N * 2^-64: 1024 keeps that at
 * 2^-54 per connection, while ending the connection still takes a thousand spoofed datagrams that
 * reach the right endpoint (RFC 9147 §4.5.3 asks for such a limit, and singles out CCM_8).
 */
const DEFAULT_MAX_AUTH_FAILURES = 1024;

/** protect after the layer closed itself (too many records failed authentication). */
export class RecordLayerClosedError extends Error {
	override readonly name = "RecordLayerClosedError";
}

/** The 48-bit write sequence of an epoch is used up (RFC 6347 §4.1: never wrap; rekey instead). */
export class SequenceExhaustedError extends Error {
	override readonly name = "SequenceExhaustedError";
}

/* ------------------------------------------------------------------------------------------------
 * Framing
 */

/** One record found in a datagram; the fragment is datagram[offset, offset + length). */
export interface RecordView {
	type: number;
	version: number;
	epoch: number;
	sequence: number;
	/** Where the fragment starts in the datagram (the header is the 13 bytes before it). */
	offset: number;
	length: number;
}

/** Why parsing stopped before the end of a datagram. */
export type FramingError = "truncated" | "oversized";

export interface ParsedDatagram {
	records: RecordView[];
	/** Set when the bytes from `invalidOffset` on were discarded. */
	invalid: FramingError | undefined;
	/** Where the discarded tail starts (the datagram's length when everything parsed). */
	invalidOffset: number;
}

/**
 * Splits a datagram into its records (RFC 6347 §4.1.1: several may share one datagram). A header
 * cut short, a length running past the end, or a length above MAX_FRAGMENT ends the walk: after a
 * bad length nothing later can be framed reliably, so the rest is reported invalid, not guessed at.
 * Type, version and epoch are not judged here; that is the caller's policy.
 */
export function parseDatagram(datagram: Uint8Array): ParsedDatagram {
	const records: RecordView[] = [];
	let pos = 0;
	while (pos < datagram.length) {
		if (datagram.length - pos < RECORD_HEADER_BYTES) return { records, invalid: "truncated", invalidOffset: pos };
		const length = (datagram[pos + 11]! << 8) | datagram[pos + 12]!;
		if (length > MAX_FRAGMENT) return { records, invalid: "oversized", invalidOffset: pos };
		const offset = pos + RECORD_HEADER_BYTES;
		if (datagram.length - offset < length) return { records, invalid: "truncated", invalidOffset: pos };
		records.push({
			type: datagram[pos]!,
			version: (datagram[pos + 1]! << 8) | datagram[pos + 2]!,
			epoch: (datagram[pos + 3]! << 8) | datagram[pos + 4]!,
			sequence: readUint48(datagram, pos + 5),
			offset,
			length,
		});
		pos = offset + length;
	}
	return { records, invalid: undefined, invalidOffset: pos };
}

/** The records of a datagram that frame correctly; parseDatagram says whether a tail was dropped. */
export function parseRecords(datagram: Uint8Array): RecordView[] {
	return parseDatagram(datagram).records;
}

/** Bytes a record with a `fragmentLength`-byte fragment takes on the wire. */
export function recordLength(fragmentLength: number): number {
	return RECORD_HEADER_BYTES + fragmentLength;
}

/** Writes a 13-byte record header at `offset`; returns RECORD_HEADER_BYTES. */
export function writeRecordHeader(out: Uint8Array, offset: number, type: number, version: number, epoch: number, sequence: number, length: number): number {
	checkUint(type, 0xff, "content type");
	checkUint(version, 0xffff, "version");
	checkUint(length, MAX_FRAGMENT, "fragment length");
	if (!Number.isInteger(offset) || offset < 0 || out.length - offset < RECORD_HEADER_BYTES) throw new RangeError("record output buffer too small");
	out[offset] = type;
	out[offset + 1] = version >>> 8;
	out[offset + 2] = version & 0xff;
	writeSeqNum(out, offset + 3, epoch, sequence);
	out[offset + 11] = length >>> 8;
	out[offset + 12] = length & 0xff;
	return RECORD_HEADER_BYTES;
}

/** Writes header and fragment at `offset`; returns the bytes written (recordLength(fragment.length)). */
export function writeRecord(out: Uint8Array, offset: number, type: number, version: number, epoch: number, sequence: number, fragment: Uint8Array): number {
	if (!Number.isInteger(offset) || offset < 0 || out.length - offset < recordLength(fragment.length)) throw new RangeError("record output buffer too small");
	writeRecordHeader(out, offset, type, version, epoch, sequence, fragment.length);
	out.set(fragment, offset + RECORD_HEADER_BYTES);
	return recordLength(fragment.length);
}

/* ------------------------------------------------------------------------------------------------
 * Anti-replay (RFC 6347 §4.1.2.6, the RFC 4303 §3.4.3 sliding window)
 */

/**
 * Which of the last REPLAY_WINDOW sequence numbers of one epoch were received. The right edge is
 * the highest sequence number accepted so far; anything at least REPLAY_WINDOW below it is too old.
 * `check` before authenticating, `accept` only after: a forged record must not move the window.
 */
export class ReplayWindow {
	/** Highest accepted sequence number; -1 before the first. */
	#top = -1;
	/** The window as a 64-bit bitmap in two words: bit i set when top - i was accepted. */
	#low = 0;
	#high = 0;

	/** True if `sequence` is new: above the window, or inside it and not yet accepted. */
	check(sequence: number): boolean {
		if (!Number.isInteger(sequence) || sequence < 0 || sequence > MAX_SEQUENCE) return false;
		if (sequence > this.#top) return true;
		const d = this.#top - sequence;
		if (d >= REPLAY_WINDOW) return false;
		return ((d < 32 ? this.#low >>> d : this.#high >>> (d - 32)) & 1) === 0;
	}

	/** Marks `sequence` received, sliding the window when it is the new highest. */
	accept(sequence: number): void {
		if (!Number.isInteger(sequence) || sequence < 0 || sequence > MAX_SEQUENCE) return;
		if (sequence > this.#top) {
			const shift = sequence - this.#top;
			if (shift >= REPLAY_WINDOW) {
				this.#high = 0;
				this.#low = 0;
			} else if (shift >= 32) {
				this.#high = this.#low << (shift - 32);
				this.#low = 0;
			} else {
				this.#high = (this.#high << shift) | (this.#low >>> (32 - shift));
				this.#low <<= shift;
			}
			this.#low = (this.#low | 1) >>> 0;
			this.#high >>>= 0;
			this.#top = sequence;
			return;
		}
		const d = this.#top - sequence;
		if (d >= REPLAY_WINDOW) return;
		if (d < 32) this.#low = (this.#low | (1 << d)) >>> 0;
		else this.#high = (this.#high | (1 << (d - 32))) >>> 0;
	}

	/** Highest sequence number accepted, or -1. */
	get highest(): number {
		return this.#top;
	}
}

/* ------------------------------------------------------------------------------------------------
 * Record protection: AES-CCM as a TLS AEAD cipher (RFC 6655 §3)
 */

export interface RecordProtectionOptions {
	/** client_write_key or server_write_key: 16 bytes for AES_128_CCM_8 (32 for AES_256_CCM_8). */
	key: Uint8Array;
	/** client_write_IV or server_write_IV: the 4-byte salt of the nonce (RFC 6655 §3). */
	salt: Uint8Array;
	/** 8 for the _CCM_8 suites (default), 16 for the plain _CCM ones. */
	tagLength?: number;
}

/**
 * One direction's keys. Seals and opens record fragments; it keeps no sequence state, so the caller
 * (RecordLayer) must never seal two records with the same epoch and sequence number: that would
 * reuse a CCM nonce (RFC 3610 §7) and give away both plaintexts' XOR and the MAC key's security.
 */
export class RecordProtection {
	/** Bytes a protected fragment adds to its plaintext: nonce_explicit + tag. */
	readonly overhead: number;
	readonly #ccm: AesCcm;
	/** salt || nonce_explicit, the salt written once. */
	readonly #nonce = new Uint8Array(SALT_BYTES + EXPLICIT_NONCE_BYTES);
	readonly #aad = new Uint8Array(AAD_BYTES);

	constructor(options: RecordProtectionOptions) {
		const tagLength = options.tagLength ?? CCM_8_TAG_BYTES;
		if (options.salt.length !== SALT_BYTES) throw new RangeError(`record protection salt must be ${SALT_BYTES} bytes`);
		this.#ccm = new AesCcm(options.key, tagLength, SALT_BYTES + EXPLICIT_NONCE_BYTES);
		this.#nonce.set(options.salt, 0);
		this.overhead = EXPLICIT_NONCE_BYTES + tagLength;
	}

	/** The protected fragment for `plaintext`: nonce_explicit (= epoch || sequence) || ciphertext || tag. */
	seal(type: number, version: number, epoch: number, sequence: number, plaintext: Uint8Array): Uint8Array {
		const out = new Uint8Array(plaintext.length + this.overhead);
		this.sealInto(type, version, epoch, sequence, plaintext, out, 0);
		return out;
	}

	/** seal into `out` at `offset` (which must not overlap `plaintext`); returns the bytes written. */
	sealInto(type: number, version: number, epoch: number, sequence: number, plaintext: Uint8Array, out: Uint8Array, offset: number): number {
		if (plaintext.length > MAX_FRAGMENT - this.overhead) throw new RangeError("record plaintext too long");
		if (!Number.isInteger(offset) || offset < 0 || out.length - offset < plaintext.length + this.overhead) throw new RangeError("record output buffer too small");
		writeSeqNum(this.#nonce, SALT_BYTES, epoch, sequence);
		this.#writeAad(type, version, epoch, sequence, plaintext.length);
		out.set(this.#nonce.subarray(SALT_BYTES), offset);
		return EXPLICIT_NONCE_BYTES + this.#ccm.sealInto(this.#nonce, this.#aad, plaintext, out, offset + EXPLICIT_NONCE_BYTES);
	}

	/**
	 * The plaintext of a protected fragment, or undefined if it is too short or does not
	 * authenticate under this header (type, version, epoch and sequence are all in the AAD).
	 */
	open(type: number, version: number, epoch: number, sequence: number, fragment: Uint8Array): Uint8Array | undefined {
		const n = fragment.length - this.overhead;
		if (n < 0) return undefined;
		// The sender chose nonce_explicit (RFC 5288 §3): take it from the record, not from seq_num.
		this.#nonce.set(fragment.subarray(0, EXPLICIT_NONCE_BYTES), SALT_BYTES);
		this.#writeAad(type, version, epoch, sequence, n);
		return this.#ccm.open(this.#nonce, this.#aad, fragment.subarray(EXPLICIT_NONCE_BYTES));
	}

	/** Overwrites the key schedule; the object is unusable afterwards. */
	destroy(): void {
		this.#ccm.destroy();
		this.#nonce.fill(0);
	}

	/** RFC 5246 §6.2.3.3 additional_data, with RFC 6347 §4.1.2.1's epoch || sequence as seq_num. */
	#writeAad(type: number, version: number, epoch: number, sequence: number, length: number): void {
		const aad = this.#aad;
		writeSeqNum(aad, 0, epoch, sequence);
		aad[8] = type;
		aad[9] = version >>> 8;
		aad[10] = version & 0xff;
		aad[11] = length >>> 8;
		aad[12] = length & 0xff;
	}
}

/* ------------------------------------------------------------------------------------------------
 * The record layer of one DTLS association
 */

export interface RecordLayerOptions {
	/** Record version to write (default DTLS 1.2); settable later through `version`. */
	version?: number;
	/** Plaintext limit per record, both ways (default 2^14; less after RFC 6066 max_fragment_length). */
	maxRecordSize?: number;
	/** Close (set `failed`) once this many records failed authentication (default 1024). */
	maxAuthFailures?: number;
	/**
	 * First epoch-0 write sequence number (default 0). A server that answered a stateless cookie
	 * exchange continues from the ClientHello's record sequence number (RFC 6347 §4.2.1).
	 */
	initialWriteSequence?: number;
}

/** One record that passed every check, in datagram order. */
export interface UnprotectedRecord {
	type: number;
	version: number;
	epoch: number;
	sequence: number;
	plaintext: Uint8Array;
}

/** Why a received record was discarded. */
export type DropReason = "malformed" | "epoch" | "replay" | "auth" | "oversized" | "closed";

export interface RecordLayerStats {
	/** Records written by protect/protectEpoch. */
	sent: number;
	/** Records returned by unprotect. */
	received: number;
	/**
	 * Discards: malformed (broken framing counts once per datagram, unknown type or version, a
	 * fragment too short to be protected, an empty handshake/alert/CCS fragment), epoch (not a read
	 * epoch we hold, or application data in the clear), replay, auth (failed authentication), oversized (above maxRecordSize), closed
	 * (whole datagrams arriving after the layer failed).
	 */
	dropped: Record<DropReason, number>;
}

interface ReadState {
	protection: RecordProtection | undefined;
	window: ReplayWindow;
}

interface WriteState {
	protection: RecordProtection | undefined;
	next: number;
}

/**
 * Per-epoch read and write state of one association. Epoch 0 carries plaintext records; each
 * ChangeCipherSpec moves a direction to the next epoch with new keys (RFC 6347 §4.1). The previous
 * epoch of each direction is kept until discarded: a retransmitted flight may hold records of both
 * epochs (RFC 6347 §4.2.4, e.g. CCS in epoch 0 and Finished in epoch 1), on the way out as well as
 * on the way in. Anything older is forgotten.
 */
export class RecordLayer {
	readonly maxAuthFailures: number;
	#version = DTLS_1_2;
	#maxRecordSize = MAX_PLAINTEXT;
	#authFailures = 0;
	#readEpoch = 0;
	#writeEpoch = 0;
	readonly #read = new Map<number, ReadState>();
	readonly #write = new Map<number, WriteState>();
	#sent = 0;
	#received = 0;
	readonly #dropped: Record<DropReason, number> = { malformed: 0, epoch: 0, replay: 0, auth: 0, oversized: 0, closed: 0 };

	constructor(options: RecordLayerOptions = {}) {
		this.version = options.version ?? DTLS_1_2;
		this.maxRecordSize = options.maxRecordSize ?? MAX_PLAINTEXT;
		const maxAuthFailures = options.maxAuthFailures ?? DEFAULT_MAX_AUTH_FAILURES;
		if (!(maxAuthFailures >= 1)) throw new RangeError("maxAuthFailures must be at least 1");
		this.maxAuthFailures = maxAuthFailures;
		const first = options.initialWriteSequence ?? 0;
		checkUint(first, MAX_SEQUENCE, "initialWriteSequence");
		this.#read.set(0, { protection: undefined, window: new ReplayWindow() });
		this.#write.set(0, { protection: undefined, next: first });
	}

	/** Record version protect writes (negotiation may change it; ClientHellos may use DTLS 1.0). */
	get version(): number {
		return this.#version;
	}

	set version(version: number) {
		checkUint(version, 0xffff, "version");
		this.#version = version;
	}

	/** Plaintext limit per record (1..2^14), applied to protect and unprotect. */
	get maxRecordSize(): number {
		return this.#maxRecordSize;
	}

	set maxRecordSize(size: number) {
		if (!Number.isInteger(size) || size < 1 || size > MAX_PLAINTEXT) throw new RangeError(`maxRecordSize must be 1..${MAX_PLAINTEXT}`);
		this.#maxRecordSize = size;
	}

	/** True once maxAuthFailures records failed authentication: the association must be closed. */
	get failed(): boolean {
		return this.#authFailures >= this.maxAuthFailures;
	}

	get readEpoch(): number {
		return this.#readEpoch;
	}

	get writeEpoch(): number {
		return this.#writeEpoch;
	}

	/** Next sequence number protectEpoch(epoch, ...) will use, or undefined for an epoch not held. */
	nextWriteSequence(epoch: number): number | undefined {
		return this.#write.get(epoch)?.next;
	}

	/** Bytes a record of `epoch` (default: the write epoch) adds to its plaintext. */
	overhead(epoch = this.#writeEpoch): number {
		const state = this.#write.get(epoch);
		if (state === undefined) throw new RangeError(`no write state for epoch ${epoch}`);
		return RECORD_HEADER_BYTES + (state.protection?.overhead ?? 0);
	}

	/** Starts writing `epoch` (the write epoch + 1) with `protection`, after sending ChangeCipherSpec. */
	setWriteProtection(epoch: number, protection: RecordProtection): void {
		this.#checkNextEpoch(epoch, this.#writeEpoch);
		this.#write.delete(this.#writeEpoch - 1);
		this.#write.set(epoch, { protection, next: 0 });
		this.#writeEpoch = epoch;
	}

	/** Starts reading `epoch` (the read epoch + 1) with `protection`, on receiving ChangeCipherSpec. */
	setReadProtection(epoch: number, protection: RecordProtection): void {
		this.#checkNextEpoch(epoch, this.#readEpoch);
		this.#read.delete(this.#readEpoch - 1);
		this.#read.set(epoch, { protection, window: new ReplayWindow() });
		this.#readEpoch = epoch;
	}

	/** Stops accepting records of the previous read epoch (its retransmissions are over). */
	discardPreviousReadEpoch(): void {
		this.#read.delete(this.#readEpoch - 1);
	}

	/** Forgets the previous write epoch (no flight spanning it will be retransmitted). */
	discardPreviousWriteEpoch(): void {
		this.#write.delete(this.#writeEpoch - 1);
	}

	/** A complete record of the current write epoch carrying `plaintext`. */
	protect(type: number, plaintext: Uint8Array): Uint8Array {
		return this.protectEpoch(this.#writeEpoch, type, plaintext);
	}

	/**
	 * A complete record of `epoch` (the write epoch or the one before it), with that epoch's next
	 * sequence number: retransmissions get fresh numbers too (RFC 6347 §4.2.4).
	 */
	protectEpoch(epoch: number, type: number, plaintext: Uint8Array): Uint8Array {
		if (this.failed) throw new RecordLayerClosedError("record layer closed after too many authentication failures");
		const state = this.#write.get(epoch);
		if (state === undefined) throw new RangeError(`no write state for epoch ${epoch}`);
		if (!isContentType(type)) throw new RangeError(`unknown content type ${type}`);
		if (state.protection === undefined && type === CONTENT_APPLICATION_DATA) throw new RangeError("no application data before the handshake protects it");
		if (plaintext.length > this.#maxRecordSize) throw new RangeError(`record plaintext longer than ${this.#maxRecordSize} bytes`);
		const sequence = state.next;
		if (sequence > MAX_SEQUENCE) throw new SequenceExhaustedError(`write sequence numbers of epoch ${epoch} used up`);
		const protection = state.protection;
		const fragmentLength = plaintext.length + (protection?.overhead ?? 0);
		const out = new Uint8Array(recordLength(fragmentLength));
		writeRecordHeader(out, 0, type, this.version, epoch, sequence, fragmentLength);
		if (protection === undefined) out.set(plaintext, RECORD_HEADER_BYTES);
		else protection.sealInto(type, this.version, epoch, sequence, plaintext, out, RECORD_HEADER_BYTES);
		// Only now: a failed seal must not burn the number, a successful one must never repeat it.
		state.next = sequence + 1;
		this.#sent++;
		return out;
	}

	/**
	 * The records of `datagram` that frame correctly, have a known type and version, belong to a
	 * read epoch we hold, are not replays, fit maxRecordSize and authenticate. Everything else is
	 * dropped silently (RFC 6347 §4.1.2.7) and counted in stats(). Never throws for any input.
	 */
	unprotect(datagram: Uint8Array): UnprotectedRecord[] {
		const out: UnprotectedRecord[] = [];
		this.unprotectEach(datagram, (r) => out.push(r));
		return out;
	}

	/**
	 * Like unprotect(), but hands each record to `onRecord` before it looks at the next one, so a
	 * ChangeCipherSpec can install the next read epoch in time for the Finished record that follows
	 * it in the same datagram (the usual way the last flight travels).
	 */
	unprotectEach(datagram: Uint8Array, onRecord: (record: UnprotectedRecord) => void): void {
		if (this.failed) {
			this.#dropped.closed++;
			return;
		}
		const parsed = parseDatagram(datagram);
		if (parsed.invalid !== undefined) this.#dropped.malformed++;
		for (const view of parsed.records) {
			const record = this.#unprotectOne(datagram, view);
			if (record !== undefined) {
				this.#received++;
				onRecord(record);
			}
			if (this.failed) break;
		}
	}

	/** Counters since construction (a snapshot). */
	stats(): RecordLayerStats {
		return { sent: this.#sent, received: this.#received, dropped: { ...this.#dropped } };
	}

	#unprotectOne(datagram: Uint8Array, view: RecordView): UnprotectedRecord | undefined {
		const { type, version, epoch, sequence } = view;
		if (!isContentType(type) || (version !== DTLS_1_2 && version !== DTLS_1_0)) return this.#drop("malformed");
		const state = this.#read.get(epoch);
		if (state === undefined) return this.#drop("epoch");
		const protection = state.protection;
		// RFC 6347 §4.1.2.6: the window guards authenticated records. Plaintext (epoch 0) can come from
		// anyone, a previous association's late flight included (a client restarted on the same port):
		// letting its sequence numbers into the window would drop the new server's records as replays.
		// Repeats of plaintext handshake messages are the reassembler's business.
		if (protection !== undefined && !state.window.check(sequence)) return this.#drop("replay");
		const fragment = datagram.subarray(view.offset, view.offset + view.length);
		// Application data only ever travels protected (no renegotiation here): cleartext "application
		// data" in epoch 0 could only be an injection, so it never reaches the application.
		if (protection === undefined && type === CONTENT_APPLICATION_DATA) return this.#drop("epoch");
		// Length checks come before the (costly) decryption; a short fragment is not an auth failure.
		const plaintextLength = fragment.length - (protection?.overhead ?? 0);
		if (plaintextLength < 0) return this.#drop("malformed");
		// RFC 5246 §6.2.1: no zero-length handshake, alert or ChangeCipherSpec fragments.
		if (plaintextLength === 0 && type !== CONTENT_APPLICATION_DATA) return this.#drop("malformed");
		if (plaintextLength > this.#maxRecordSize) return this.#drop("oversized");
		let plaintext: Uint8Array | undefined;
		if (protection === undefined) plaintext = fragment.slice();
		else {
			plaintext = protection.open(type, version, epoch, sequence, fragment);
			if (plaintext === undefined) {
				this.#authFailures++;
				return this.#drop("auth");
			}
		}
		// RFC 6347 §4.1.2.6: the window moves only for records that authenticated.
		if (protection !== undefined) state.window.accept(sequence);
		return { type, version, epoch, sequence, plaintext };
	}

	#drop(reason: DropReason): undefined {
		this.#dropped[reason]++;
		return undefined;
	}

	#checkNextEpoch(epoch: number, current: number): void {
		// RFC 6347 §4.1: the epoch goes up by one per ChangeCipherSpec and MUST NOT wrap.
		if (epoch !== current + 1) throw new RangeError(`next epoch must be ${current + 1}, not ${epoch}`);
		if (epoch > MAX_EPOCH) throw new RangeError("epoch would wrap; establish a new association");
	}
}

/* ------------------------------------------------------------------------------------------------
 * Helpers
 */

function isContentType(type: number): boolean {
	return type === CONTENT_CHANGE_CIPHER_SPEC || type === CONTENT_ALERT || type === CONTENT_HANDSHAKE || type === CONTENT_APPLICATION_DATA;
}

function checkUint(value: number, max: number, what: string): void {
	if (!Number.isInteger(value) || value < 0 || value > max) throw new RangeError(`${what} must be an integer 0..${max}`);
}

/** seq_num as RFC 6347 §4.1.2.1 defines it: epoch (2 bytes) || sequence_number (6 bytes). */
function writeSeqNum(out: Uint8Array, offset: number, epoch: number, sequence: number): void {
	checkUint(epoch, MAX_EPOCH, "epoch");
	checkUint(sequence, MAX_SEQUENCE, "sequence number");
	const high = Math.floor(sequence / TWO_32);
	const low = sequence >>> 0;
	out[offset] = epoch >>> 8;
	out[offset + 1] = epoch & 0xff;
	out[offset + 2] = high >>> 8;
	out[offset + 3] = high & 0xff;
	out[offset + 4] = low >>> 24;
	out[offset + 5] = (low >>> 16) & 0xff;
	out[offset + 6] = (low >>> 8) & 0xff;
	out[offset + 7] = low & 0xff;
}

function readUint48(bytes: Uint8Array, offset: number): number {
	const high = (bytes[offset]! << 8) | bytes[offset + 1]!;
	const low = ((bytes[offset + 2]! << 24) | (bytes[offset + 3]! << 16) | (bytes[offset + 4]! << 8) | bytes[offset + 5]!) >>> 0;
	return high * TWO_32 + low;
}
