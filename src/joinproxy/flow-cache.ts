/*
 * The stateless proxy's cache of recently seen pledge flows, in fixed arrays sized at start. It is
 * not state the protocol depends on (a miss just costs work), but it makes the relay allocation-free
 * in steady state: the pledge's UdpPeer (with its address text) is built once per flow, and the
 * sealed header is reused. The header itself does not depend on the cache: it is a function of the
 * flow and the codec's sealing key, so an evicted flow sealed again gets the same bytes.
 */

import type { UdpPeer } from "../../hosts/host.js";
import { HEADER_BYTES, IID_BYTES } from "../../modules/jpy/header.js";
import { equalConstantTime } from "../../modules/crypto/constant-time.js";

export class FlowCache {
	readonly capacity: number;
	readonly #iids: Uint8Array;
	readonly #ports: Uint16Array;
	readonly #ifindex: Uint8Array;
	readonly #used: Uint8Array;
	readonly #lastUse: Float64Array;
	/** Sealing epoch each cached header was made in (-1: none yet). */
	readonly epochs: Float64Array;
	/** Sealed headers, HEADER_BYTES per entry. */
	readonly headers: Uint8Array;
	readonly peers: UdpPeer[] = [];

	constructor(capacity: number) {
		this.capacity = capacity;
		this.#iids = new Uint8Array(capacity * IID_BYTES);
		this.#ports = new Uint16Array(capacity);
		this.#ifindex = new Uint8Array(capacity);
		this.#used = new Uint8Array(capacity);
		this.#lastUse = new Float64Array(capacity);
		this.epochs = new Float64Array(capacity);
		this.headers = new Uint8Array(capacity * HEADER_BYTES);
		for (let i = 0; i < capacity; i++) this.peers.push({ address: "", port: 0, zone: "" });
	}

	find(ifindex: number, iid: Uint8Array, iidOffset: number, port: number, now: number): number {
		for (let i = 0; i < this.capacity; i++) {
			if (this.#used[i] !== 1 || this.#ports[i] !== port || this.#ifindex[i] !== ifindex) continue;
			let same = true;
			for (let k = 0; k < IID_BYTES && same; k++) same = this.#iids[i * IID_BYTES + k] === iid[iidOffset + k];
			if (same) {
				this.#lastUse[i] = now;
				return i;
			}
		}
		return -1;
	}

	/** Like find(), by the address text of the cached peer: parsing text allocates on XS. */
	findText(ifindex: number, address: string, port: number, now: number): number {
		for (let i = 0; i < this.capacity; i++) {
			const p = this.peers[i]!;
			if (this.#used[i] === 1 && p.port === port && p.address === address && this.#ifindex[i] === ifindex) {
				this.#lastUse[i] = now;
				return i;
			}
		}
		return -1;
	}

	/**
	 * The entry whose cached header is byte-for-byte `data[offset..+HEADER_BYTES)`, or -1: a header this
	 * proxy sealed and still caches needs no decryption. Every entry is compared in full, so the time
	 * taken says nothing about how much of a forged header matched.
	 */
	findHeader(data: Uint8Array, offset: number, sealingEpoch: number, now: number): number {
		let found = -1;
		for (let i = 0; i < this.capacity; i++) {
			if (this.#used[i] !== 1 || this.epochs[i] !== sealingEpoch) continue;
			if (equalConstantTime(this.headers, i * HEADER_BYTES, data, offset, HEADER_BYTES)) found = i;
		}
		if (found >= 0) this.#lastUse[found] = now;
		return found;
	}

	/** Takes a free or the least recently used entry for the flow; the caller fills peers[i] and headers. */
	insert(ifindex: number, iid: Uint8Array, iidOffset: number, port: number, now: number): number {
		let victim = 0;
		for (let i = 0; i < this.capacity; i++) {
			if (this.#used[i] !== 1) {
				victim = i;
				break;
			}
			if (this.#lastUse[i]! < this.#lastUse[victim]!) victim = i;
		}
		this.#used[victim] = 1;
		this.#ports[victim] = port;
		this.#ifindex[victim] = ifindex;
		for (let k = 0; k < IID_BYTES; k++) this.#iids[victim * IID_BYTES + k] = iid[iidOffset + k]!;
		this.#lastUse[victim] = now;
		this.epochs[victim] = -1;
		return victim;
	}

	ifindexOf(i: number): number {
		return this.#ifindex[i]!;
	}

	/** Forgets every flow (key compromise, or close). */
	clear(): void {
		this.#used.fill(0);
	}
}
