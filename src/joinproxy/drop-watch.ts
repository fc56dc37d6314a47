/*
 * Observability under attack (issue 7 item 11): one warning when drops or refusals start after a
 * quiet period, at most one progress line per period while they go on, and one summary once a
 * whole period passes without any. The relays call note() only on their drop paths, and note()
 * only checks a flag while a period runs, so a flood costs no log line and no allocation per datagram.
 */

import type { Host, Timer } from "../../hosts/host.js";
import { totalDrops, type JoinProxyCounters } from "./stats.js";

/** Default length of a reporting period. */
export const DEFAULT_DROP_LOG_PERIOD_MS = 10_000;

export class DropWatch {
	readonly #host: Host;
	readonly #c: JoinProxyCounters;
	readonly #periodMs: number;
	readonly #timer: Timer;
	/** Drops counted when the current episode started, and at the last period boundary. */
	#atStart = 0;
	#atLast = 0;
	#closed = false;

	constructor(options: { host: Host; counters: JoinProxyCounters; periodMs?: number }) {
		this.#host = options.host;
		this.#c = options.counters;
		this.#periodMs = options.periodMs ?? DEFAULT_DROP_LOG_PERIOD_MS;
		this.#timer = options.host.clock.timer(() => this.#tick());
	}

	/** A datagram was just dropped or refused (its counter already incremented). */
	note(): void {
		if (this.#timer.armed || this.#closed) return;
		// The first drop of an episode: this one is already counted.
		this.#atStart = totalDrops(this.#c) - 1;
		this.#atLast = this.#atStart + 1;
		this.#host.log("warn", `join proxy: dropping or refusing pledge/Registrar datagrams (counters: ${summary(this.#c)}); next report in ${this.#periodMs / 1000} s`);
		this.#timer.arm(this.#periodMs);
	}

	#tick(): void {
		const total = totalDrops(this.#c);
		if (total !== this.#atLast) {
			this.#host.log("warn", `join proxy: still dropping: ${total - this.#atLast} in the last ${this.#periodMs / 1000} s (counters: ${summary(this.#c)})`);
			this.#atLast = total;
			this.#timer.arm(this.#periodMs);
			return;
		}
		this.#host.log("warn", `join proxy: drops stopped: ${total - this.#atStart} in this episode (counters: ${summary(this.#c)})`);
	}

	/** Idempotent. */
	close(): void {
		this.#closed = true;
		this.#timer.cancel();
	}
}

function summary(c: JoinProxyCounters): string {
	return JSON.stringify({ drops: c.drops, refusals: c.refusals, icmp: c.icmp });
}
