/*
 * An in-memory IPv6 UDP network on a ManualClock: nodes with named interfaces on named links,
 * link-local scoping, multicast groups, latency and a loss hook. It is the transport of the XS test
 * lane and the base of the simulator, so it follows the host interface's rules exactly: a received
 * datagram is a view into the socket's reused receive buffer.
 */

import type { Icmp, IcmpError, Timer, Udp, UdpArrival, UdpBindOptions, UdpPeer, UdpSocket } from "../host.js";
import type { ManualClock } from "./manual-clock.js";
import { canonicalIPv6, isLinkLocal, isMulticast } from "../../modules/util/ipv6.js";

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

/** Canonical text (RFC 5952) so "FE80:0:0::1" and "fe80::1" compare equal; non-IPv6 text lowercased. */
export function canonical(address: string): string {
	return canonicalIPv6(address) ?? address.toLowerCase();
}

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
		this.address = options.address === undefined ? "::" : canonical(options.address);
		this.zone = options.zone ?? "";
	}

	send(data: Uint8Array, to: Readonly<UdpPeer>, length = data.length): void {
		if (this.closed) throw new Error("send on a closed socket");
		this.node.network.transmit(this, data, to, length);
	}

	joinMulticast(group: string, zone?: string): void {
		this.groups.add(`${canonical(group)}%${zone ?? this.zone}`);
	}

	leaveMulticast(group: string, zone?: string): void {
		this.groups.delete(`${canonical(group)}%${zone ?? this.zone}`);
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
		this.interfaces = interfaces.map((i) => ({ ...i, addresses: i.addresses.map(canonical) }));
	}

	/** The Udp part of a host for this node. */
	readonly udp: Udp = {
		bind: (options) => {
			let port = options.port ?? 0;
			if (port === 0) {
				do port = this.#nextPort++;
				while (this.#portUsed(port, "::"));
			} else if (this.#portUsed(port, options.address, options.zone ?? "") && !options.reuseAddress) {
				return Promise.reject(new Error(`port ${port} already in use on ${this.name}`));
			}
			const s = new MemorySocket(this, port, options);
			this.sockets.add(s);
			return Promise.resolve(s);
		},
	};

	/** Like a Linux bind: sockets on different interfaces (zones) may share a port. */
	#portUsed(port: number, address = "::", zone = ""): boolean {
		const a = canonical(address);
		for (const s of this.sockets) {
			if (s.port !== port || (s.zone !== zone && s.zone !== "" && zone !== "")) continue;
			if (s.address === a || s.address === "::" || a === "::") return true;
		}
		return false;
	}

	/** ICMPv6 errors from this node back to the source of a datagram it received. */
	readonly icmp: Icmp = {
		sendError: (type, code, about, localPort) => {
			const iface = this.interfaceFor(about.zone) ?? this.interfaces[0];
			if (iface === undefined) return;
			const local = this.sourceAddress(iface, about.address, "::");
			this.network.sendIcmp(iface.link, { address: canonical(about.address), port: about.port, zone: "" }, { type, code, to: { address: local, port: localPort, zone: "" } });
		},
	};

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
	/** Set for an ICMPv6 error travelling to the socket at `to`. */
	icmp?: IcmpError;
}

export class MemoryNetwork {
	readonly clock: ManualClock;
	readonly nodes: MemoryNode[] = [];
	latencyMs: number;
	maxDatagram: number;
	filter: ((d: InFlight) => boolean) | undefined;
	/** Datagrams counted by fate, for tests and the simulator's report. */
	readonly counters = { sent: 0, delivered: 0, dropped: 0, unreachable: 0, icmp: 0 };
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
	transmit(socket: MemorySocket, data: Uint8Array, to: Readonly<UdpPeer>, length: number): void {
		this.counters.sent++;
		const node = socket.node;
		const dest = canonical(to.address);
		const scoped = isLinkLocal(dest) || isMulticast(dest);
		let iface: InterfaceConfig | undefined;
		if (scoped) {
			iface = node.interfaceFor(to.zone || socket.zone);
		} else {
			// Global destinations: leave by the interface whose link reaches the destination.
			iface = node.interfaces.find((i) => this.#ownerOn(i.link, dest) !== undefined) ?? node.interfaces[0];
		}
		if (iface === undefined || length > this.maxDatagram) {
			this.counters.dropped++;
			return;
		}
		const from: UdpPeer = { address: node.sourceAddress(iface, dest, socket.address), port: socket.port, zone: iface.name };
		const d: Pending = { due: this.clock.now() + this.latencyMs, link: iface.link, from, to: { address: dest, port: to.port, zone: to.zone }, data: data.slice(0, length) };
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
		if (d.icmp !== undefined) {
			const owner = this.#ownerOn(d.link, dest) ?? this.#routed(dest);
			for (const s of owner?.node.sockets ?? []) {
				if (s.port === d.to.port) {
					this.counters.icmp++;
					s.options.onIcmpError?.(d.icmp);
					return;
				}
			}
			return;
		}
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
		// ICMPv6 Destination Unreachable, port unreachable (RFC 4443 §3.1 code 4), back to the sender.
		this.sendIcmp(d.link, d.from, { type: 1, code: 4, to: d.to });
	}

	/** @internal Queues an ICMPv6 error for the socket at `to` (reached over `link`). */
	sendIcmp(link: string, to: UdpPeer, error: IcmpError): void {
		this.#queue.push({ due: this.clock.now() + this.latencyMs, link, from: error.to, to, data: new Uint8Array(0), icmp: error });
		if (!this.#timer.armed) this.#timer.arm(this.latencyMs);
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
