/*
 * Duplicate detection (RFC 7252 §4.5): what this endpoint did with each (peer, Message ID) it saw
 * lately, so a retransmitted message is answered again without being processed twice.
 */

import type { UdpPeer } from "../../hosts/host.js";
import { peerKey } from "../util/peer.js";
import { dropExpired, type Sweeper } from "./sweeper.js";
import type { Clock } from "../../hosts/host.js";

export interface DedupEntry {
	expires: number;
	/** Response bytes to resend for a duplicate, once known. */
	reply: Uint8Array | undefined;
	/** A separate response is under way: answer duplicates of a CON request with an empty ACK. */
	emptyAcked: boolean;
}

export interface DedupOptions {
	clock: Clock;
	sweeper: Sweeper;
	/** Entries kept; the oldest is evicted first. */
	maxEntries: number;
}

/** Message IDs are the sender's: one key per peer and ID. */
export const dedupKey = (peer: Readonly<UdpPeer>, messageId: number): string => `${peerKey(peer)}#${messageId}`;

export class DedupCache {
	readonly #clock: Clock;
	readonly #sweeper: Sweeper;
	readonly #max: number;
	/** Insertion order is age order: remember() re-inserts. */
	readonly #entries = new Map<string, DedupEntry>();

	constructor(options: DedupOptions) {
		this.#clock = options.clock;
		this.#sweeper = options.sweeper;
		this.#max = options.maxEntries;
		options.sweeper.watch(this);
	}

	get(key: string): DedupEntry | undefined {
		return this.#entries.get(key);
	}

	has(key: string): boolean {
		return this.#entries.has(key);
	}

	/** A fresh entry for `key` (replacing any), kept for `lifetimeMs`. */
	remember(key: string, lifetimeMs: number): DedupEntry {
		const entry: DedupEntry = { expires: this.#clock.now() + lifetimeMs, reply: undefined, emptyAcked: false };
		this.#entries.delete(key);
		this.#entries.set(key, entry);
		if (this.#entries.size > this.#max) {
			const oldest = this.#entries.keys().next();
			if (!oldest.done) this.#entries.delete(oldest.value);
		}
		this.#sweeper.keep();
		return entry;
	}

	sweep(now: number): void {
		dropExpired(this.#entries, now);
	}

	get size(): number {
		return this.#entries.size;
	}

	clear(): void {
		this.#entries.clear();
	}
}
