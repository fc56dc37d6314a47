/*
 * Stateful relaying (draft-ietf-anima-constrained-join-proxy-20 §4.3): a NAT66-like circuit proxy.
 * Each pledge flow gets a slot, and slot i sends and receives through the i-th socket of a pool
 * opened at start, so every pledge has its own Registrar-side port (MUST) without a bind per pledge.
 * Payloads pass unread and unchanged; only IP/UDP headers change.
 */

import type { Host, IcmpError, Timer, UdpArrival, UdpPeer, UdpSocket } from "../../hosts/host.js";
import { canonicalIPv6 } from "../../modules/util/ipv6.js";
import { Refusal, SlotTable } from "./slot-table.js";
import type { JoinProxyCounters } from "./stats.js";
import { linkLocalText } from "./pledge-address.js";
import { IcmpLimiter, ICMP_DEST_UNREACHABLE, ICMP_ADMIN_PROHIBITED } from "./icmp-limiter.js";
import { MAX_DATAGRAM } from "./datagram-limit.js";
import type { DropWatch } from "./drop-watch.js";
import type { PledgeGate } from "./pledge-gate.js";

/** Draft §4.3: state is cleared 30 s after the last relayed packet in either direction. */
export const DEFAULT_IDLE_TIMEOUT_MS = 30_000;
/** Draft §4.3 SHOULD limits. */
export const DEFAULT_MAX_PER_ADDRESS = 2;
export const DEFAULT_MAX_PER_INTERFACE = 10;

export interface StatefulRelayOptions {
	host: Host;
	registrar: UdpPeer;
	/** Join-port socket of each pledge-facing interface, by interface index. */
	pledgeSockets: UdpSocket[];
	/** Zone names of the pledge-facing interfaces, by interface index. */
	pledgeZones: string[];
	joinPort: number;
	counters: JoinProxyCounters;
	capacity: number;
	maxPerAddress?: number;
	maxPerInterface?: number;
	idleTimeoutMs?: number;
	icmpLimiter: IcmpLimiter;
	gate: PledgeGate;
	watch: DropWatch;
	/**
	 * Where the Registrar-side pool binds: the Registrar-facing address and interface, so a node on
	 * the pledge link cannot reach a pool port (issue 7 item 5). Default "::" on no interface.
	 */
	registrarSide?: { address?: string; zone?: string };
}

export class StatefulRelay {
	readonly #host: Host;
	readonly #registrar: UdpPeer;
	readonly #pledgeSockets: UdpSocket[];
	readonly #zones: string[];
	readonly #joinPort: number;
	readonly #c: JoinProxyCounters;
	readonly #table: SlotTable;
	readonly #idleMs: number;
	readonly #icmp: IcmpLimiter;
	readonly #gate: PledgeGate;
	readonly #watch: DropWatch;
	readonly #pool: UdpSocket[] = [];
	/** The pledge peer of each slot, built when the slot is made, so relaying builds no strings. */
	readonly #peers: UdpPeer[] = [];
	readonly #addr = new Uint8Array(16);
	readonly #expiry: Timer;
	#closed = false;

	private constructor(options: StatefulRelayOptions) {
		this.#host = options.host;
		// Canonical text, so the per-datagram source check is one string comparison.
		this.#registrar = { ...options.registrar, address: canonicalIPv6(options.registrar.address) ?? options.registrar.address };
		this.#pledgeSockets = options.pledgeSockets;
		this.#zones = options.pledgeZones;
		this.#joinPort = options.joinPort;
		this.#c = options.counters;
		this.#idleMs = options.idleTimeoutMs ?? DEFAULT_IDLE_TIMEOUT_MS;
		this.#icmp = options.icmpLimiter;
		this.#gate = options.gate;
		this.#watch = options.watch;
		this.#table = new SlotTable({
			capacity: options.capacity,
			maxPerAddress: options.maxPerAddress ?? DEFAULT_MAX_PER_ADDRESS,
			maxPerInterface: options.maxPerInterface ?? DEFAULT_MAX_PER_INTERFACE,
		});
		for (let i = 0; i < options.capacity; i++) this.#peers.push({ address: "", port: 0, zone: "" });
		this.#expiry = this.#host.clock.timer(() => this.#expire());
	}

	/** Opens the Registrar-side socket pool (one port per slot) and returns the relay. */
	static async open(options: StatefulRelayOptions): Promise<StatefulRelay> {
		const relay = new StatefulRelay(options);
		try {
			for (let i = 0; i < options.capacity; i++) {
				const slot = i;
				relay.#pool.push(
					await options.host.udp.bind({
						port: 0,
						address: options.registrarSide?.address ?? "::",
						...(options.registrarSide?.zone ? { zone: options.registrarSide.zone } : {}),
						onDatagram: (data, from) => relay.#fromRegistrar(slot, data, from),
						onIcmpError: (e) => relay.#icmpFromRegistrarSide(slot, e),
					}),
				);
			}
		} catch (e) {
			relay.close();
			throw e;
		}
		return relay;
	}

	get slotsInUse(): number {
		return this.#table.size;
	}

	get slotCapacity(): number {
		return this.#table.capacity;
	}

	fromPledge(data: Uint8Array, from: Readonly<UdpArrival>, ifindex: number): void {
		if (this.#closed) return;
		const now = this.#host.clock.now();
		if (!this.#gate.admit(data.length, from, ifindex, now)) return;
		// Known flows match on the address text kept per slot: parsing text allocates on XS.
		let slot = this.#findKnown(ifindex, from);
		if (slot >= 0) {
			this.#table.touch(slot, now);
		} else {
			if (!this.#gate.source(from, this.#addr)) return;
			slot = this.#table.find(ifindex, this.#addr, 8, from.port);
			if (slot >= 0) this.#table.touch(slot, now);
		}
		if (slot < 0) {
			if (!this.#gate.newFlow(from, ifindex, now)) return;
			const addr = this.#addr;
			slot = this.#table.allocate(ifindex, addr, 8, from.port, now);
			if (slot < 0) {
				this.#refuse(slot, data, from);
				return;
			}
			const peer = this.#peers[slot]!;
			peer.address = linkLocalText(addr, 8, addr);
			peer.port = from.port;
			peer.zone = this.#zones[ifindex]!;
			this.#armExpiry(this.#idleMs);
		}
		this.#c.toRegistrar.datagrams++;
		this.#c.toRegistrar.bytes += data.length;
		this.#pool[slot]!.send(data, this.#registrar);
	}

	#findKnown(ifindex: number, from: Readonly<UdpArrival>): number {
		const table = this.#table;
		if (table.size === 0) return -1;
		for (let i = 0; i < table.capacity; i++) {
			const p = this.#peers[i]!;
			if (p.port === from.port && p.address === from.address && table.inUse(i) && table.ifindex(i) === ifindex) return i;
		}
		return -1;
	}

	#fromRegistrar(slot: number, data: Uint8Array, from: Readonly<UdpArrival>): void {
		if (this.#closed) return;
		const d = this.#c.drops;
		if (from.port !== this.#registrar.port || from.address !== this.#registrar.address) d.notFromRegistrar++;
		else if (!this.#table.inUse(slot)) d.noSlot++;
		else if (data.length > MAX_DATAGRAM) d.tooLarge++;
		else {
			this.#table.touch(slot, this.#host.clock.now());
			this.#c.toPledge.datagrams++;
			this.#c.toPledge.bytes += data.length;
			this.#pledgeSockets[this.#table.ifindex(slot)]!.send(data, this.#peers[slot]!);
			return;
		}
		this.#watch.note();
	}

	/** Draft §4.3 SHOULD: tell the pledge of a Registrar-side ICMP error with the same Type and Code. */
	#icmpFromRegistrarSide(slot: number, e: IcmpError): void {
		if (this.#closed || !this.#table.inUse(slot)) return;
		this.#icmp.send(e.type, e.code, this.#peers[slot]!, this.#joinPort, EMPTY, true);
	}

	/** Draft §4.3 SHOULD: Destination Unreachable, administratively prohibited, when state can't be made. */
	#refuse(reason: number, data: Uint8Array, from: Readonly<UdpArrival>): void {
		this.#c.drops.refused++;
		if (reason === Refusal.TableFull) this.#c.refusals.tableFull++;
		else if (reason === Refusal.PerAddressLimit) this.#c.refusals.perAddress++;
		else this.#c.refusals.perInterface++;
		this.#watch.note();
		this.#icmp.send(ICMP_DEST_UNREACHABLE, ICMP_ADMIN_PROHIBITED, from, this.#joinPort, data, false);
	}

	#armExpiry(ms: number): void {
		if (!this.#expiry.armed && !this.#closed) this.#expiry.arm(ms);
	}

	#expire(): void {
		const now = this.#host.clock.now();
		this.#table.expire(now, this.#idleMs);
		const next = this.#table.nextExpiry(now, this.#idleMs);
		if (next >= 0) this.#armExpiry(Math.max(next, 1));
	}

	/** Idempotent. */
	close(): void {
		if (this.#closed) return;
		this.#closed = true;
		this.#expiry.cancel();
		for (const s of this.#pool) s.close();
	}
}

const EMPTY = new Uint8Array(0);
