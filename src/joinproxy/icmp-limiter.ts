/*
 * ICMPv6 errors towards pledges, rate-limited with a token bucket as RFC 4443 §2.4(f) requires, so
 * a flood of refused flows cannot turn the proxy into an ICMP flood on the mesh.
 */

import type { Host, UdpPeer } from "../../hosts/host.js";
import type { JoinProxyCounters } from "./stats.js";

/** RFC 4443 §3.1. */
export const ICMP_DEST_UNREACHABLE = 1;
export const ICMP_ADMIN_PROHIBITED = 1;

export interface IcmpLimiterOptions {
	host: Host;
	counters: JoinProxyCounters;
	/** Sustained errors per second (default 10). */
	ratePerSecond?: number;
	/** Burst size (default 10). */
	burst?: number;
}

export class IcmpLimiter {
	readonly #host: Host;
	readonly #c: JoinProxyCounters;
	readonly #rate: number;
	readonly #burst: number;
	#tokens: number;
	#last: number;

	constructor(options: IcmpLimiterOptions) {
		this.#host = options.host;
		this.#c = options.counters;
		this.#rate = options.ratePerSecond ?? 10;
		this.#burst = options.burst ?? 10;
		this.#tokens = this.#burst;
		this.#last = this.#host.clock.now();
	}

	/** `relayed`: a Registrar-side error passed on, rather than one of our own refusals. */
	send(type: number, code: number, to: Readonly<UdpPeer>, localPort: number, payload: Uint8Array, relayed: boolean): void {
		const icmp = this.#host.icmp;
		if (icmp === undefined) {
			this.#c.icmp.unsupported++;
			return;
		}
		const now = this.#host.clock.now();
		this.#tokens = Math.min(this.#burst, this.#tokens + ((now - this.#last) * this.#rate) / 1000);
		this.#last = now;
		if (this.#tokens < 1) {
			this.#c.icmp.rateLimited++;
			return;
		}
		this.#tokens -= 1;
		if (relayed) this.#c.icmp.relayed++;
		else this.#c.icmp.refusalsSent++;
		icmp.sendError(type, code, to, localPort, payload);
	}
}
