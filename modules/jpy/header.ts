/*
 * The stateless Join Proxy's JPY header (draft-ietf-anima-constrained-join-proxy-20 §4.5.5): the
 * proxy's own encrypted, authenticated record of where a pledge datagram came from, which the
 * Registrar echoes unchanged. Only this proxy can read it; its format is a local matter (§4.5.6).
 *
 * Layout, 19 bytes (HEADER_BYTES):
 *
 *   byte 0      E | X        E: key-epoch parity bit (clear); X: interface index (7 bits, encrypted)
 *   bytes 1-2   pledge UDP port (encrypted)
 *   bytes 3-10  pledge IID, the low 64 bits of its fe80::/64 address (encrypted)
 *   bytes 11-18 T, the 64-bit tag
 *
 * Construction: deterministic authenticated encryption in the SIV style (Rogaway & Shrimpton,
 * "Deterministic Authenticated-Encryption", 2006; RFC 5297's idea with single-block primitives):
 *
 *   P = ifindex || port || IID                       (11 bytes)
 *   T = first 8 bytes of AES_Km(DOMAIN || E || P || 0^3)
 *   C = P xor first 11 bytes of AES_Ke(T || 0^8),   with E kept in clear in byte 0's top bit
 *
 * Why this and not CCM: the Registrar tells DTLS sessions apart by the header, so one pledge flow
 * must always get the same header within a key epoch; a deterministic scheme gives that without a
 * per-flow nonce. CCM with a fixed nonce would reuse its keystream across pledges (leaking the XOR of
 * their addresses); here the keystream is selected by T, a PRF of the whole plaintext, so distinct
 * plaintexts get unrelated keystreams, and equal plaintexts equal headers (the one thing revealed,
 * and the point). Authenticity: the input to AES_Km is one fixed-format block, so T is a PRF output
 * (PRP/PRF switching); forging a header that opens means predicting 64 bits of it: at most q / 2^64
 * for q attempts, and every failed one is dropped silently and counted (§4.5.5 MUST). Km and Ke are
 * independent random keys, known only to this proxy, replaced on rotation.
 *
 * Rotation keeps the previous epoch's keys for a grace period; the parity bit says which of the two
 * to try, so a header two epochs old (same parity as the current one) fails authentication, as it
 * should. Headers are sealed under the previous key for as long as it opens, and under the new key
 * only once the grace period ends: a flow's header is then a function of the flow and one key alone,
 * so it stays the same through the grace period whether or not a relay still caches it. Sealing new
 * flows under the new key at once would give a flow evicted from a relay's cache mid-handshake a new
 * header, and the Registrar a new session (issue 7 item 9). Every flow changes header once, at the end
 * of the grace period; the new key opens headers from the rotation on, and keys are wiped when dropped.
 */

import { AesBlock } from "../crypto/aes.js";
import { equalConstantTime } from "../crypto/constant-time.js";

/** Bytes of the header (the bstr contents in the JPY message). */
export const HEADER_BYTES = 19;
/** Bytes of the interface identifier of a link-local address (RFC 4291 §2.5.6). */
export const IID_BYTES = 8;
/** Interface indexes 0..127: the top bit of byte 0 is the epoch marker. */
export const MAX_INTERFACE_INDEX = 127;
const TAG_BYTES = 8;
const TAG_OFFSET = HEADER_BYTES - TAG_BYTES;
const PLAIN_BYTES = 1 + 2 + IID_BYTES;
/** Domain separation for the tag block, so these keys can never be confused with another use. */
const DOMAIN = 0x4a; // "J"
const KEY_BYTES = 16;

/** Where a pledge datagram came from, as the header records it. */
export interface PledgeFlow {
	ifindex: number;
	port: number;
	/** IID_BYTES bytes. */
	iid: Uint8Array;
}

interface Epoch {
	mac: AesBlock;
	enc: AesBlock;
	parity: number;
}

export interface JpyHeaderCodecOptions {
	/** Fills a buffer with cryptographically strong random bytes (the host's RNG). */
	random: (bytes: Uint8Array) => Uint8Array;
}

export class JpyHeaderCodec {
	readonly #random: (bytes: Uint8Array) => Uint8Array;
	#current: Epoch;
	#previous: Epoch | undefined;
	#epoch = 0;
	/* Scratch blocks, allocated once: seal and open allocate nothing. */
	readonly #block = new Uint8Array(16);
	readonly #stream = new Uint8Array(16);
	readonly #plain = new Uint8Array(PLAIN_BYTES);

	constructor(options: JpyHeaderCodecOptions) {
		this.#random = options.random;
		this.#current = this.#newEpoch(0);
	}

	/** Number of rotations so far; its parity is the marker bit of headers sealed now. */
	get epoch(): number {
		return this.#epoch;
	}

	/** Whether headers of the previous epoch are still accepted (its grace period has not ended). */
	get acceptsPrevious(): boolean {
		return this.#previous !== undefined;
	}

	/** The epoch whose key seal() uses: the previous one while it is accepted, else the current one. */
	get sealingEpoch(): number {
		return this.#previous !== undefined ? this.#epoch - 1 : this.#epoch;
	}

	/** New keys; seal() moves to them at dropPrevious(). A previous epoch still kept is wiped first. */
	rotate(): void {
		this.dropPrevious();
		this.#previous = this.#current;
		this.#epoch++;
		this.#current = this.#newEpoch(this.#epoch & 1);
	}

	/** Ends the grace period of the previous epoch's headers and wipes its keys. */
	dropPrevious(): void {
		this.#previous?.mac.destroy();
		this.#previous?.enc.destroy();
		this.#previous = undefined;
	}

	#newEpoch(parity: number): Epoch {
		const key = this.#random(new Uint8Array(2 * KEY_BYTES));
		const epoch = { mac: new AesBlock(key.subarray(0, KEY_BYTES)), enc: new AesBlock(key.subarray(KEY_BYTES)), parity };
		key.fill(0);
		return epoch;
	}

	/** Writes the HEADER_BYTES-byte header for a pledge flow, sealed under the sealing epoch's key, into `out` at `offset`. */
	seal(ifindex: number, port: number, iid: Uint8Array, iidOffset: number, out: Uint8Array, offset: number): void {
		if (!(ifindex >= 0 && ifindex <= MAX_INTERFACE_INDEX) || !(port >= 0 && port <= 0xffff)) throw new RangeError("interface index or port out of range");
		const p = this.#plain;
		p[0] = ifindex;
		p[1] = port >> 8;
		p[2] = port & 0xff;
		for (let i = 0; i < IID_BYTES; i++) p[3 + i] = iid[iidOffset + i]!;
		const e = this.#previous ?? this.#current;
		this.#tag(e, out, offset + TAG_OFFSET);
		this.#keystream(e, out, offset + TAG_OFFSET);
		const s = this.#stream;
		out[offset] = (e.parity << 7) | ((p[0]! ^ s[0]!) & 0x7f);
		for (let i = 1; i < PLAIN_BYTES; i++) out[offset + i] = p[i]! ^ s[i]!;
	}

	/**
	 * Checks and decrypts a header; fills `flow` (whose iid must have IID_BYTES bytes) and returns
	 * true, or returns false for anything that is not a header this proxy sealed under a live key.
	 */
	open(data: Uint8Array, offset: number, length: number, flow: PledgeFlow): boolean {
		if (length !== HEADER_BYTES) return false;
		const parity = data[offset]! >> 7;
		const e = parity === this.#current.parity ? this.#current : this.#previous !== undefined && parity === this.#previous.parity ? this.#previous : undefined;
		if (e === undefined) return false;
		this.#keystream(e, data, offset + TAG_OFFSET);
		const s = this.#stream;
		const p = this.#plain;
		p[0] = (data[offset]! ^ s[0]!) & 0x7f;
		for (let i = 1; i < PLAIN_BYTES; i++) p[i] = data[offset + i]! ^ s[i]!;
		this.#tag(e, this.#block, 0);
		if (!equalConstantTime(this.#block, 0, data, offset + TAG_OFFSET, TAG_BYTES)) {
			p.fill(0);
			return false;
		}
		flow.ifindex = p[0]!;
		flow.port = (p[1]! << 8) | p[2]!;
		for (let i = 0; i < IID_BYTES; i++) flow.iid[i] = p[3 + i]!;
		return true;
	}

	/** T = AES_Km(DOMAIN || E || P || 0^3), first TAG_BYTES bytes written to out at offset. */
	#tag(e: Epoch, out: Uint8Array, offset: number): void {
		const b = this.#block;
		b[0] = DOMAIN;
		b[1] = e.parity;
		b.set(this.#plain, 2);
		b[13] = 0;
		b[14] = 0;
		b[15] = 0;
		e.mac.encrypt(b, 0, b, 0);
		for (let i = 0; i < TAG_BYTES; i++) out[offset + i] = b[i]!;
	}

	/** Keystream AES_Ke(T || 0^8) into #stream, T read from `src` at `tagOffset`. */
	#keystream(e: Epoch, src: Uint8Array, tagOffset: number): void {
		const s = this.#stream;
		for (let i = 0; i < TAG_BYTES; i++) s[i] = src[tagOffset + i]!;
		for (let i = TAG_BYTES; i < 16; i++) s[i] = 0;
		e.enc.encrypt(s, 0, s, 0);
	}
}
