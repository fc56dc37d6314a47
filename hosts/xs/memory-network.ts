/*
 * An in-memory IPv6 UDP network on a ManualClock: nodes with named interfaces on named links,
 * link-local scoping, multicast groups, latency and a loss hook. It is the transport of the XS test
 * lane and the base of the simulator, so it follows the host interface's rules exactly: a received
 * datagram is a view into the socket's reused receive buffer.
 */

import type { Timer, Udp, UdpArrival, UdpBindOptions, UdpPeer, UdpSocket } from "../host.js";
import type { ManualClock } from "./manual-clock.js";

export interface InterfaceConfig {
	/** Zone name on this node, e.g. "wpan0". */
	name: string;
	/** Link (shared medium) the interface is attached to. */
	link: string;
	/** Unicast addresses of the interface, link-local and/or global. */
	addresses: string[];
}

export interface InFlight {
	from: UdpPeer;
	to: UdpPeer;
	/** Link the datagram travels on. */
	link: string;
	data: Uint8Array;
}

export interface MemoryNetworkOptions {
	clock: ManualClock;
	/** One-way delay of every datagram, default 1 ms. */
	latencyMs?: number;
	/** Largest datagram delivered; larger ones are dropped (IPv6 minimum MTU 1280 minus headers by default). */
	maxDatagram?: number;
	/** Return false to drop a datagram (loss, partitions, fault injection). */
	filter?: (d: InFlight) => boolean;
}

const RECEIVE_BUFFER_BYTES = 65535;
const DEFAULT_MAX_DATAGRAM = 1280 - 40 - 8; // IPv6 minimum MTU minus IPv6 and UDP headers (RFC 8200 §5)
const EPHEMERAL_FIRST = 49152; // RFC 6335 §6 dynamic ports

/** Canonical text form, so "FE80:0:0::1" and "fe80::1" compare equal (RFC 5952). */
export function canonicalIPv6(address: string): string {
	const words = parseIPv6(address);
	if (words === undefined) return address.toLowerCase();
	let bestStart = -1;
	let bestLen = 1;
	for (let i = 0; i < 8; ) {
		if (words[i] !== 0) {
			i++;
			continue;
		}
		let j = i;
		while (j < 8 && words[j] === 0) j++;
		if (j - i > bestLen) {
			bestStart = i;
			bestLen = j - i;
		}
		i = j;
	}
	const hex = words.map((w) => w.toString(16));
	if (bestStart < 0) return hex.join(":");
	return `${hex.slice(0, bestStart).join(":")}::${hex.slice(bestStart + bestLen).join(":")}`;
}

/** Eight 16-bit words, or undefined when `address` is not IPv6 text (embedded IPv4 not supported). */
export function parseIPv6(address: string): number[] | undefined {
	const halves = address.toLowerCase().split("::");
	if (halves.length > 2) return undefined;
	const parse = (s: string): number[] | undefined => {
		if (s === "") return [];
		const out: number[] = [];
		for (const part of s.split(":")) {
			if (!/^[0-9a-f]{1,4}$/.test(part)) return undefined;
			out.push(parseInt(part, 16));
		}
		return out;
	};
	const head = parse(halves[0]!);
	const tail = halves.length === 2 ? parse(halves[1]!) : [];
	if (head === undefined || tail === undefined) return undefined;
	if (halves.length === 1) return head.length === 8 ? head : undefined;
	if (head.length + tail.length > 7) return undefined;
	return [...head, ...new Array<number>(8 - head.length - tail.length).fill(0), ...tail];
}

export const isLinkLocal = (address: string): boolean => /^fe[89ab]/i.test(address);
export const isMulticast = (address: string): boolean => /^ff/i.test(address);

class MemorySocket implements UdpSocket {
	readonly port: number;
	readonly node: MemoryNode;
	readonly address: string;
	readonly zone: string;
	readonly groups = new Set<string>();
	readonly options: UdpBindOptions;
	readonly buffer = new Uint8Array(RECEIVE_BUFFER_BYTES);
	readonly arrival: UdpArrival = { address: "", port: 0, zone: "", multicast: false };
	closed = false;

	constructor(node: MemoryNode, port: number, options: UdpBindOptions) {
		this.node = node;
		this.port = port;
		this.options = options;
		this.address = options.address === undefined ? "::" : canonicalIPv6(options.address);
		this.zone = options.zone ?? "";
	}

	send(data: Uint8Array, to: Readonly<UdpPeer>): void {
		if (this.closed) throw new Error("send on a closed socket");
		this.node.network.transmit(this, data, to);
	}

	joinMulticast(group: string, zone?: string): void {
		this.groups.add(`${canonicalIPv6(group)}%${zone ?? this.zone}`);
	}

	leaveMulticast(group: string, zone?: string): void {
		this.groups.delete(`${canonicalIPv6(group)}%${zone ?? this.zone}`);
	}

	close(): void {
		if (this.closed) return;
		this.closed = true;
		this.node.sockets.delete(this);
	}

	deliver(data: Uint8Array, from: UdpPeer, zone: string, multicast: boolean): void {
		this.buffer.set(data);
		const a = this.arrival;
		a.address = from.address;
		a.port = from.port;
		a.zone = zone;
		a.multicast = multicast;
		this.options.onDatagram(this.buffer.subarray(0, data.length), a);
	}
}

export class MemoryNode {
	readonly network: MemoryNetwork;
	readonly name: string;
	readonly interfaces: InterfaceConfig[];
	readonly sockets = new Set<MemorySocket>();
	#nextPort = EPHEMERAL_FIRST;

	constructor(network: MemoryNetwork, name: string, interfaces: InterfaceConfig[]) {
		this.network = network;
		this.name = name;
		this.interfaces = interfaces.map((i) => ({ ...i, addresses: i.addresses.map(canonicalIPv6) }));
	}

	/** The Udp part of a host for this node. */
	readonly udp: Udp = {
		bind: (options) => {
			let port = options.port ?? 0;
			if (port === 0) {
				do port = this.#nextPort++;
				while (this.#portUsed(port, "::"));
			} else if (this.#portUsed(port, options.address) && !options.reuseAddress) {
				return Promise.reject(new Error(`port ${port} already in use on ${this.name}`));
			}
			const s = new MemorySocket(this, port, options);
			this.sockets.add(s);
			return Promise.resolve(s);
		},
	};

	#portUsed(port: number, address = "::"): boolean {
		const a = canonicalIPv6(address);
		for (const s of this.sockets) if (s.port === port && (s.address === a || s.address === "::" || a === "::")) return true;
		return false;
	}

	interfaceFor(zone: string): InterfaceConfig | undefined {
		return this.interfaces.find((i) => i.name === zone);
	}

	/** Source address for a datagram leaving `iface` towards `to`. */
	sourceAddress(iface: InterfaceConfig, to: string, bound: string): string {
		if (bound !== "::" && !isMulticast(bound)) return bound;
		const wantLinkLocal = isLinkLocal(to) || isMulticast(to);
		return iface.addresses.find((a) => isLinkLocal(a) === wantLinkLocal) ?? iface.addresses[0] ?? "::";
	}
}

interface Pending {
	due: number;
	link: string;
	from: UdpPeer;
	to: UdpPeer;
	data: Uint8Array;
}

export class MemoryNetwork {
	readonly clock: ManualClock;
	readonly nodes: MemoryNode[] = [];
	latencyMs: number;
	maxDatagram: number;
	filter: ((d: InFlight) => boolean) | undefined;
	/** Datagrams counted by fate, for tests and the simulator's report. */
	readonly counters = { sent: 0, delivered: 0, dropped: 0, unreachable: 0 };
	#queue: Pending[] = [];
	#timer: Timer;

	constructor(options: MemoryNetworkOptions) {
		this.clock = options.clock;
		this.latencyMs = options.latencyMs ?? 1;
		this.maxDatagram = options.maxDatagram ?? DEFAULT_MAX_DATAGRAM;
		this.filter = options.filter;
		this.#timer = this.clock.timer(() => this.#deliverDue());
	}

	node(name: string, interfaces: InterfaceConfig[]): MemoryNode {
		const n = new MemoryNode(this, name, interfaces);
		this.nodes.push(n);
		return n;
	}

	/** @internal called by sockets */
	transmit(socket: MemorySocket, data: Uint8Array, to: Readonly<UdpPeer>): void {
		this.counters.sent++;
		const node = socket.node;
		const dest = canonicalIPv6(to.address);
		const scoped = isLinkLocal(dest) || isMulticast(dest);
		let iface: InterfaceConfig | undefined;
		if (scoped) {
			iface = node.interfaceFor(to.zone || socket.zone);
		} else {
			// Global destinations: leave by the interface whose link reaches the destination.
			iface = node.interfaces.find((i) => this.#ownerOn(i.link, dest) !== undefined) ?? node.interfaces[0];
		}
		if (iface === undefined || data.length > this.maxDatagram) {
			this.counters.dropped++;
			return;
		}
		const from: UdpPeer = { address: node.sourceAddress(iface, dest, socket.address), port: socket.port, zone: iface.name };
		const d: Pending = { due: this.clock.now() + this.latencyMs, link: iface.link, from, to: { address: dest, port: to.port, zone: to.zone }, data: data.slice() };
		if (this.filter !== undefined && !this.filter(d)) {
			this.counters.dropped++;
			return;
		}
		this.#queue.push(d);
		if (!this.#timer.armed) this.#timer.arm(this.latencyMs);
	}

	#ownerOn(link: string, address: string): { node: MemoryNode; iface: InterfaceConfig } | undefined {
		for (const node of this.nodes) {
			for (const iface of node.interfaces) if (iface.link === link && iface.addresses.includes(address)) return { node, iface };
		}
		return undefined;
	}

	#deliverDue(): void {
		const now = this.clock.now();
		while (this.#queue.length > 0 && this.#queue[0]!.due <= now) this.#deliver(this.#queue.shift()!);
		if (this.#queue.length > 0) this.#timer.arm(this.#queue[0]!.due - now);
	}

	#deliver(d: Pending): void {
		const dest = d.to.address;
		if (isMulticast(dest)) {
			for (const node of this.nodes) {
				for (const iface of node.interfaces) {
					if (iface.link !== d.link) continue;
					for (const s of [...node.sockets]) {
						if (s.port !== d.to.port || (s.zone !== "" && s.zone !== iface.name)) continue;
						if (node === this.#senderNode(d) && s.port === d.from.port) continue; // no loopback to the sender
						const member = s.groups.has(`${dest}%${iface.name}`) || s.groups.has(`${dest}%`);
						if ((s.address === dest || s.address === "::") && member) {
							this.counters.delivered++;
							s.deliver(d.data, d.from, iface.name, true);
						}
					}
				}
			}
			return;
		}
		const owner = this.#ownerOn(d.link, dest) ?? this.#routed(dest);
		if (owner === undefined) {
			this.counters.unreachable++;
			return;
		}
		// A unicast socket bound to "::" (or to this address) takes it; group-bound sockets never do.
		for (const s of owner.node.sockets) {
			if (s.port === d.to.port && (s.address === "::" || s.address === dest) && (s.zone === "" || s.zone === owner.iface.name)) {
				this.counters.delivered++;
				s.deliver(d.data, d.from, owner.iface.name, false);
				return;
			}
		}
		this.counters.unreachable++;
	}

	#senderNode(d: Pending): MemoryNode | undefined {
		return this.nodes.find((n) => n.interfaces.some((i) => i.link === d.link && i.name === d.from.zone && i.addresses.includes(d.from.address)));
	}

	/** Global addresses are reachable from every link (the simulator adds real routing later). */
	#routed(address: string): { node: MemoryNode; iface: InterfaceConfig } | undefined {
		if (isLinkLocal(address)) return undefined;
		for (const node of this.nodes) for (const iface of node.interfaces) if (iface.addresses.includes(address)) return { node, iface };
		return undefined;
	}
}
