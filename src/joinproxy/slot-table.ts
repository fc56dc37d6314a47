/*
 * The stateful Join Proxy's mapping table (draft-ietf-anima-constrained-join-proxy-20 §4.3): one
 * slot per pledge flow (interface, link-local IID, UDP port), held in one ArrayBuffer allocated at
 * construction, so nothing is allocated per pledge or per datagram. Slot i is served by the i-th
 * Registrar-side socket of the proxy's pool: the index is the unique Registrar-side port the draft
 * requires per pledge, and needs no field of its own.
 *
 * A new flow takes the free slot that was released longest ago (never-used slots first), not the
 * lowest: the Registrar keeps a DTLS session per source port for longer (e.g. 120 s) than a slot
 * lives (30 s idle), so reusing a just-freed port at once would hand a new pledge the previous
 * pledge's stale Registrar session (issue 7 item 2). Released slots keep their flow and their
 * release time (in LAST), and the same flow coming back gets its old slot, and so its old port and
 * Registrar session: a pledge whose retransmissions outwait the 30 s is the one case where the
 * Registrar-side session behind a freed port is the right one.
 *
 * Slot layout (SLOT_BYTES = 16):
 *   0..7    pledge IID (low 64 bits of its fe80::/64 address)
 *   8..9    pledge UDP port
 *   10      interface index
 *   11      1 when in use
 *   12..15  last activity, milliseconds modulo 2^32 (idle spans are far below 49 days); of a
 *           free slot: when it was released (0 if never used)
 */

export const SLOT_BYTES = 16;
const IID = 0;
const PORT = 8;
const IFINDEX = 10;
const USED = 11;
const LAST = 12;

/** Why allocate() refused (draft §4.3 limits); all negative so they never look like an index. */
export const Refusal = Object.freeze({
	TableFull: -1,
	PerAddressLimit: -2,
	PerInterfaceLimit: -3,
});

export interface SlotTableOptions {
	capacity: number;
	/** Simultaneous flows per pledge address (draft §4.3 SHOULD: at most 2). */
	maxPerAddress: number;
	/** Simultaneous flows per pledge-facing interface (draft §4.3 SHOULD: at most 10). */
	maxPerInterface: number;
}

export class SlotTable {
	readonly capacity: number;
	readonly #maxPerAddress: number;
	readonly #maxPerInterface: number;
	readonly #bytes: Uint8Array;
	readonly #view: DataView;
	#used = 0;

	constructor(options: SlotTableOptions) {
		if (!(options.capacity >= 1 && options.capacity <= 0xffff)) throw new RangeError("slot table capacity must be 1..65535");
		this.capacity = options.capacity;
		this.#maxPerAddress = options.maxPerAddress;
		this.#maxPerInterface = options.maxPerInterface;
		const buffer = new ArrayBuffer(options.capacity * SLOT_BYTES);
		this.#bytes = new Uint8Array(buffer);
		this.#view = new DataView(buffer);
	}

	/** Slots in use. */
	get size(): number {
		return this.#used;
	}

	/** Bytes of table storage per slot. */
	get bytesPerSlot(): number {
		return this.#bytes.length / this.capacity;
	}

	/** Index of the flow's slot, or -1. `iid` is read at iid[iidOffset..+8]. */
	find(ifindex: number, iid: Uint8Array, iidOffset: number, port: number): number {
		if (this.#used === 0) return -1;
		const b = this.#bytes;
		for (let i = 0, o = 0; i < this.capacity; i++, o += SLOT_BYTES) {
			if (b[o + USED] === 1 && b[o + IFINDEX] === ifindex && this.#view.getUint16(o + PORT) === port && this.#sameIid(o, iid, iidOffset)) return i;
		}
		return -1;
	}

	/** A new slot for the flow, or a Refusal. The caller has checked find() first. */
	allocate(ifindex: number, iid: Uint8Array, iidOffset: number, port: number, now: number): number {
		const b = this.#bytes;
		let free = -1;
		let freeFor = -1;
		let perAddress = 0;
		let perInterface = 0;
		for (let i = 0, o = 0; i < this.capacity; i++, o += SLOT_BYTES) {
			if (b[o + USED] !== 1) {
				const same = b[o + IFINDEX] === ifindex && this.#view.getUint16(o + PORT) === port && this.#sameIid(o, iid, iidOffset);
				const unused = same ? 0x2_0000_0000 : this.#view.getUint32(o + LAST) === 0 ? 0x1_0000_0000 : this.idle(i, now);
				if (unused > freeFor) {
					free = i;
					freeFor = unused;
				}
				continue;
			}
			if (b[o + IFINDEX] !== ifindex) continue;
			perInterface++;
			if (this.#sameIid(o, iid, iidOffset)) perAddress++;
		}
		if (perAddress >= this.#maxPerAddress) return Refusal.PerAddressLimit;
		if (perInterface >= this.#maxPerInterface) return Refusal.PerInterfaceLimit;
		if (free < 0) return Refusal.TableFull;
		const o = free * SLOT_BYTES;
		for (let k = 0; k < 8; k++) b[o + IID + k] = iid[iidOffset + k]!;
		this.#view.setUint16(o + PORT, port);
		b[o + IFINDEX] = ifindex;
		b[o + USED] = 1;
		this.#view.setUint32(o + LAST, now >>> 0);
		this.#used++;
		return free;
	}

	inUse(index: number): boolean {
		return index >= 0 && index < this.capacity && this.#bytes[index * SLOT_BYTES + USED] === 1;
	}

	touch(index: number, now: number): void {
		this.#view.setUint32(index * SLOT_BYTES + LAST, now >>> 0);
	}

	/** Milliseconds since the slot's last activity. */
	idle(index: number, now: number): number {
		return ((now >>> 0) - this.#view.getUint32(index * SLOT_BYTES + LAST)) >>> 0;
	}

	ifindex(index: number): number {
		return this.#bytes[index * SLOT_BYTES + IFINDEX]!;
	}

	port(index: number): number {
		return this.#view.getUint16(index * SLOT_BYTES + PORT);
	}

	/** Copies the slot's IID into out[offset..+8]. */
	iidInto(index: number, out: Uint8Array, offset: number): void {
		const o = index * SLOT_BYTES + IID;
		for (let k = 0; k < 8; k++) out[offset + k] = this.#bytes[o + k]!;
	}

	release(index: number, now: number): void {
		const o = index * SLOT_BYTES;
		if (this.#bytes[o + USED] !== 1) return;
		this.#bytes[o + USED] = 0;
		// Never 0, which marks a never-used slot.
		this.#view.setUint32(o + LAST, now >>> 0 || 1);
		this.#used--;
	}

	/** Releases every slot idle for at least `idleMs`; returns how many. */
	expire(now: number, idleMs: number): number {
		let n = 0;
		for (let i = 0; i < this.capacity && this.#used > 0; i++) {
			if (this.inUse(i) && this.idle(i, now) >= idleMs) {
				this.release(i, now);
				n++;
			}
		}
		return n;
	}

	/** Milliseconds until the next slot reaches `idleMs` idle, or -1 with no slot in use. */
	nextExpiry(now: number, idleMs: number): number {
		let best = -1;
		for (let i = 0; i < this.capacity; i++) {
			if (!this.inUse(i)) continue;
			const left = Math.max(0, idleMs - this.idle(i, now));
			if (best < 0 || left < best) best = left;
		}
		return best;
	}

	#sameIid(o: number, iid: Uint8Array, iidOffset: number): boolean {
		const b = this.#bytes;
		for (let k = 0; k < 8; k++) if (b[o + IID + k] !== iid[iidOffset + k]) return false;
		return true;
	}
}
