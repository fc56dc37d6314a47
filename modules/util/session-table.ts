/*
 * A bounded table of per-peer sessions with idle expiry: the shape the DTLS server's associations
 * and the Registrar's JPY sessions share. Full means the least recently active session makes room
 * (a flood of new peers cannot grow memory); idle sessions are swept on one re-armed timer.
 */

import type { Clock, Timer } from "../../hosts/host.js";

/** Why a session left the table, for the owner's `onEnd` and its counters. */
export type SessionEnd = "idle" | "evicted" | "closed";

export interface SessionTableOptions<K, V> {
	clock: Clock;
	maxSessions: number;
	idleTimeoutMs: number;
	/** How often idle sessions are looked for (default 5 s, or the idle timeout when shorter). */
	sweepIntervalMs?: number;
	/**
	 * Sessions to sacrifice first when full: the least recently active session for which this is
	 * true is evicted before any other (e.g. ones that never answered, so a flood of new peers
	 * displaces its own kind before established sessions). Default: all alike.
	 */
	evictFirst?(value: V): boolean;
	/** A session left by expiry, eviction or close(); not called for delete(), whose caller knows. */
	onEnd(key: K, value: V, reason: SessionEnd): void;
}

export class SessionTable<K, V> {
	readonly #o: SessionTableOptions<K, V>;
	readonly #entries = new Map<K, { value: V; lastActivity: number }>();
	readonly #sweeper: Timer;
	#closed = false;

	constructor(options: SessionTableOptions<K, V>) {
		if (!(options.maxSessions >= 1)) throw new RangeError("maxSessions must be at least 1");
		if (!(options.idleTimeoutMs > 0)) throw new RangeError("idleTimeoutMs must be positive");
		this.#o = options;
		this.#sweeper = options.clock.timer(() => this.#sweep());
	}

	get size(): number {
		return this.#entries.size;
	}

	get(key: K): V | undefined {
		return this.#entries.get(key)?.value;
	}

	/** Marks the session active now; only traffic that was accepted should count (a drop is no sign of life). */
	touch(key: K): void {
		const e = this.#entries.get(key);
		if (e !== undefined) e.lastActivity = this.#o.clock.now();
	}

	/** Adds (or replaces, without onEnd) a session, evicting the least recently active one when full. */
	set(key: K, value: V): void {
		if (this.#closed) throw new Error("session table is closed");
		if (!this.#entries.has(key) && this.#entries.size >= this.#o.maxSessions) {
			const oldest = this.#leastRecent();
			if (oldest !== undefined) this.#end(oldest, "evicted");
		}
		this.#entries.set(key, { value, lastActivity: this.#o.clock.now() });
		if (!this.#sweeper.armed) this.#sweeper.arm(this.#interval());
	}

	/** Removes a session without calling onEnd. */
	delete(key: K): boolean {
		return this.#entries.delete(key);
	}

	/** A snapshot, so the caller may end sessions while walking it. */
	values(): V[] {
		const out: V[] = [];
		for (const e of this.#entries.values()) out.push(e.value);
		return out;
	}

	#interval(): number {
		return Math.min(this.#o.sweepIntervalMs ?? 5_000, this.#o.idleTimeoutMs);
	}

	#leastRecent(): K | undefined {
		const first = this.#o.evictFirst;
		let oldest: K | undefined;
		let preferred = false;
		let t = Infinity;
		for (const [k, e] of this.#entries) {
			const p = first !== undefined && first(e.value);
			if ((p && !preferred) || (p === preferred && e.lastActivity < t)) {
				oldest = k;
				t = e.lastActivity;
				preferred = p;
			}
		}
		return oldest;
	}

	#end(key: K, reason: SessionEnd): void {
		const e = this.#entries.get(key);
		if (e === undefined) return;
		this.#entries.delete(key);
		this.#o.onEnd(key, e.value, reason);
	}

	#sweep(): void {
		const now = this.#o.clock.now();
		const idle = this.#o.idleTimeoutMs;
		const expired: K[] = [];
		for (const [k, e] of this.#entries) if (now - e.lastActivity >= idle) expired.push(k);
		for (const k of expired) this.#end(k, "idle");
		if (this.#entries.size > 0 && !this.#closed) this.#sweeper.arm(this.#interval());
	}

	/** Idempotent: ends every session with "closed" and stops the sweeper. */
	close(): void {
		if (this.#closed) return;
		this.#closed = true;
		this.#sweeper.cancel();
		for (const k of [...this.#entries.keys()]) this.#end(k, "closed");
	}
}
