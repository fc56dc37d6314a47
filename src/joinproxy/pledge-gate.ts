/*
 * What every pledge datagram passes before either relay looks at it, in one place for both modes:
 * it must have been sent to the join-port's own link-local unicast address (not a group), fit the
 * pledge link (MAX_DATAGRAM), and stay under its source's datagram rate; a new flow must also come
 * from an acceptable source (pledge-address.ts) under its source's flow rate. Each refusal is
 * counted and noted for the drop log. Per datagram this costs a flag, a length and (only with a
 * datagram limit set) one hash of the address text; the rest runs only for new flows.
 */

import type { UdpArrival } from "../../hosts/host.js";
import { MAX_DATAGRAM } from "./datagram-limit.js";
import type { DropWatch } from "./drop-watch.js";
import { PledgeSources, SourceVerdict } from "./pledge-address.js";
import { SourceLimiter, type SourceRateOptions } from "./source-limiter.js";
import type { JoinProxyCounters } from "./stats.js";

export interface PledgeGateOptions {
	counters: JoinProxyCounters;
	watch: DropWatch;
	/** The proxy's own addresses: never accepted as a pledge source. */
	ownAddresses: readonly string[];
	rates: SourceRateOptions;
	now: number;
}

export class PledgeGate {
	readonly #c: JoinProxyCounters;
	readonly #watch: DropWatch;
	readonly #sources: PledgeSources;
	readonly #limiter: SourceLimiter;

	constructor(options: PledgeGateOptions) {
		this.#c = options.counters;
		this.#watch = options.watch;
		this.#sources = new PledgeSources(options.ownAddresses);
		this.#limiter = new SourceLimiter(options.rates, options.now);
	}

	/** Checks every pledge datagram; false: dropped (counted). */
	admit(length: number, from: Readonly<UdpArrival>, ifindex: number, now: number): boolean {
		const d = this.#c.drops;
		if (from.multicast) d.notToJoinPort++;
		else if (length > MAX_DATAGRAM) d.tooLarge++;
		else if (!this.#limiter.allowDatagram(ifindex, from.address, now)) d.datagramRateLimited++;
		else return true;
		this.#watch.note();
		return false;
	}

	/** Checks the source of a datagram the relay found no flow for by its text, parsing it into addr[0..16); false: dropped (counted). */
	source(from: Readonly<UdpArrival>, addr: Uint8Array): boolean {
		const verdict = this.#sources.check(from.address, addr);
		if (verdict === SourceVerdict.Ok) return true;
		if (verdict === SourceVerdict.OwnAddress) this.#c.drops.ownAddress++;
		else this.#c.drops.notLinkLocal++;
		this.#watch.note();
		return false;
	}

	/** Whether the (checked) source may open a new flow now; false: dropped (counted). */
	newFlow(from: Readonly<UdpArrival>, ifindex: number, now: number): boolean {
		if (this.#limiter.allowFlow(ifindex, from.address, now)) return true;
		this.#c.drops.flowRateLimited++;
		this.#watch.note();
		return false;
	}
}
