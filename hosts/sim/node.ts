/*
 * A simulated node's IPv6 stack: UDP sockets behind the Host interface, ICMPv6 errors (RFC 4443),
 * a 6LoWPAN interface "wpan0" on the radio (fragmentation, reassembly) and/or an Ethernet-like
 * "eth0" on the backbone, and hop-by-hop forwarding by the routes the MeshSim computed.
 * Link-local destinations need their zone; the next hop's link-layer address of a link-local
 * destination is the one its interface identifier was derived from (RFC 4944 §6), so no neighbour
 * discovery is modelled.
 */

import type { Host, Icmp, IcmpError, Udp, UdpArrival, UdpBindOptions, UdpPeer, UdpSocket } from "../host.js";
import { encodeDatagram, Reassembler } from "../../modules/sixlowpan/adaptation.js";
import { iidFromLinkAddress, linkAddressFromIid, LowpanError } from "../../modules/sixlowpan/iphc.js";
import { BROADCAST_SHORT, maxPayload, type DataFrame } from "../../modules/ieee802154/frame.js";
import { buildIcmpError, buildUdpPacket, checksumValid, IPV6_HEADER_BYTES, IPV6_MIN_MTU, NEXT_HEADER_ICMPV6, NEXT_HEADER_UDP, readIpv6Header, UDP_HEADER_BYTES } from "../../modules/sixlowpan/ipv6-packet.js";
import { formatIPv6, parseIPv6Into } from "../../modules/util/ipv6.js";
import { TokenBucket } from "../../modules/util/token-bucket.js";
import { MemoryStorage } from "../xs/memory-storage.js";
import { SeededRandom } from "../xs/seeded-random.js";
import type { Radio } from "./radio.js";
import { bytesEqual as sameBytes, toHex } from "../../modules/util/hex.js";
import type { MeshSim } from "./mesh.js";

export const WPAN = "wpan0";
export const ETH = "eth0";
/** RFC 4443 §3.1 / §3.3 */
export const ICMP_DEST_UNREACHABLE = 1;
export const ICMP_TIME_EXCEEDED = 3;
export const CODE_NO_ROUTE = 0;
export const CODE_PORT_UNREACHABLE = 4;
const DEFAULT_HOP_LIMIT = 64;
const EPHEMERAL_FIRST = 49152; // RFC 6335 §6

export interface NodeCounters {
	ipSent: number;
	ipForwarded: number;
	ipDelivered: number;
	noRoute: number;
	noSocket: number;
	badPackets: number;
	hopLimitExceeded: number;
	tooBig: number;
	/** Datagrams lost because a frame of theirs was never acknowledged or found no idle channel. */
	macFailures: number;
	icmpSent: number;
	icmpReceived: number;
}

export interface Route {
	iface: typeof WPAN | typeof ETH;
	next: SimNode;
}

class SimSocket implements UdpSocket {
	readonly port: number;
	readonly address: Uint8Array | undefined;
	readonly zone: string;
	readonly options: UdpBindOptions;
	readonly groups = new Set<string>();
	readonly buffer = new Uint8Array(65535);
	readonly arrival: UdpArrival = { address: "", port: 0, zone: "", multicast: false };
	readonly #node: SimNode;
	closed = false;

	constructor(node: SimNode, port: number, options: UdpBindOptions) {
		this.#node = node;
		this.port = port;
		this.options = options;
		this.zone = options.zone ?? "";
		const a = options.address === undefined || options.address === "::" ? undefined : parseAddress(options.address);
		this.address = a;
	}

	send(data: Uint8Array, to: Readonly<UdpPeer>, length = data.length): void {
		if (this.closed) throw new Error("send on a closed socket");
		this.#node.sendUdp(this, data, length, to);
	}

	joinMulticast(group: string, zone?: string): void {
		this.groups.add(`${formatIPv6(parseAddress(group))}%${zone ?? this.zone}`);
	}

	leaveMulticast(group: string, zone?: string): void {
		this.groups.delete(`${formatIPv6(parseAddress(group))}%${zone ?? this.zone}`);
	}

	close(): void {
		if (this.closed) return;
		this.closed = true;
		this.#node.sockets.delete(this);
	}
}

export function parseAddress(text: string): Uint8Array {
	const out = new Uint8Array(16);
	if (!parseIPv6Into(text, out)) throw new TypeError(`not an IPv6 address: ${text}`);
	return out;
}

function isLinkLocal(a: Uint8Array): boolean {
	return a[0] === 0xfe && (a[1]! & 0xc0) === 0x80;
}

export interface SimNodeOptions {
	name: string;
	seed: number;
	/** Radio (wpan0) of a mesh node. */
	radio?: Radio;
	/** Global address on wpan0 (a router of the mesh). */
	meshAddress?: Uint8Array;
	/** eth0 addresses on the backbone. */
	backboneAddresses?: Uint8Array[];
}

export class SimNode {
	readonly sim: MeshSim;
	readonly name: string;
	readonly radio: Radio | undefined;
	readonly linkLocal: Uint8Array | undefined;
	meshAddress: Uint8Array | undefined;
	readonly backboneAddresses: Uint8Array[];
	readonly sockets = new Set<SimSocket>();
	readonly counters: NodeCounters = { ipSent: 0, ipForwarded: 0, ipDelivered: 0, noRoute: 0, noSocket: 0, badPackets: 0, hopLimitExceeded: 0, tooBig: 0, macFailures: 0, icmpSent: 0, icmpReceived: 0 };
	readonly reassembler: Reassembler | undefined;
	/** Host routes (global address text → next hop) and the default route; set by MeshSim.buildRoutes. */
	readonly routes = new Map<string, Route>();
	defaultRoute: Route | undefined;
	/** Simulated CPU: sends and deliveries wait until this time (device profile). */
	busyUntilUs = 0;
	readonly host: Host;
	readonly #rng: SeededRandom;
	readonly #icmpBucket: TokenBucket;
	#nextPort = EPHEMERAL_FIRST;
	#tag: number;

	constructor(sim: MeshSim, o: SimNodeOptions) {
		this.sim = sim;
		this.name = o.name;
		this.radio = o.radio;
		this.meshAddress = o.meshAddress;
		this.backboneAddresses = o.backboneAddresses ?? [];
		this.#rng = new SeededRandom(o.seed);
		this.#tag = this.#rng.int(0x10000);
		// RFC 4443 §2.4(f): errors are rate-limited; 10 per second with a burst of 10.
		this.#icmpBucket = new TokenBucket({ ratePerSecond: 10, burst: 10 }, sim.clock.now());
		if (o.radio !== undefined) {
			const ll = parseAddress("fe80::");
			iidFromLinkAddress(o.radio.mac, ll, 8);
			this.linkLocal = ll;
			this.reassembler = new Reassembler({ clock: sim.clock, contexts: sim.contexts, ...(sim.reassemblyTimeoutMs !== undefined ? { timeoutMs: sim.reassemblyTimeoutMs } : {}) });
			o.radio.onFrame = (f) => this.#onFrame(f);
		}
		const storage = new MemoryStorage();
		this.host = {
			udp: this.#udp,
			icmp: this.#icmp,
			clock: sim.hostClock,
			random: (bytes) => this.#rng.fill(bytes),
			storage,
			log: (level, message) => sim.log(level, `${this.name}: ${message}`),
		};
	}

	get interfaces(): string[] {
		return [...(this.radio !== undefined ? [WPAN] : []), ...(this.backboneAddresses.length > 0 ? [ETH] : [])];
	}

	/** Every unicast address of the node. */
	ownsAddress(a: Uint8Array): boolean {
		if (this.linkLocal !== undefined && sameBytes(a, this.linkLocal)) return true;
		if (this.meshAddress !== undefined && sameBytes(a, this.meshAddress)) return true;
		return this.backboneAddresses.some((b) => sameBytes(a, b));
	}

	readonly #udp: Udp = {
		bind: (options) => {
			let port = options.port ?? 0;
			const zone = options.zone ?? "";
			if (port === 0) {
				do port = this.#nextPort++;
				while ([...this.sockets].some((s) => s.port === port));
			} else if (!options.reuseAddress) {
				const address = options.address === undefined || options.address === "::" ? undefined : parseAddress(options.address);
				for (const s of this.sockets) {
					if (s.port !== port || (s.zone !== zone && s.zone !== "" && zone !== "")) continue;
					if (s.address === undefined || address === undefined || sameBytes(s.address, address)) return Promise.reject(new Error(`port ${port} already in use on ${this.name}`));
				}
			}
			const s = new SimSocket(this, port, options);
			this.sockets.add(s);
			return Promise.resolve(s);
		},
	};

	readonly #icmp: Icmp = {
		sendError: (type, code, about, localPort, payload) => {
			const src = parseAddress(about.address);
			const local = this.#sourceFor(src, about.zone);
			if (local === undefined) return;
			const invoking = buildUdpPacket({ src, dst: local, hopLimit: DEFAULT_HOP_LIMIT, trafficClass: 0, flowLabel: 0 }, about.port, localPort, payload);
			this.#sendIcmpError(type, code, invoking, about.zone, true);
		},
	};

	/** Source address for `dst`: link-local for link-local and link-scope multicast, else a global one. */
	#sourceFor(dst: Uint8Array, zone: string): Uint8Array | undefined {
		const linkScope = isLinkLocal(dst) || (dst[0] === 0xff && (dst[1]! & 0x0f) === 2);
		if (linkScope) return zone === ETH ? this.backboneAddresses.find(isLinkLocal) ?? this.backboneAddresses[0] : this.linkLocal ?? this.backboneAddresses[0];
		return this.meshAddress ?? this.backboneAddresses.find((a) => !isLinkLocal(a)) ?? this.linkLocal;
	}

	sendUdp(socket: SimSocket, data: Uint8Array, length: number, to: Readonly<UdpPeer>): void {
		const dst = parseAddress(to.address);
		const zone = to.zone !== "" ? to.zone : socket.zone !== "" ? socket.zone : this.interfaces[0] ?? WPAN;
		const src = socket.address !== undefined && socket.address[0] !== 0xff ? socket.address : this.#sourceFor(dst, zone);
		if (src === undefined) return;
		if (IPV6_HEADER_BYTES + UDP_HEADER_BYTES + length > IPV6_MIN_MTU) {
			this.counters.tooBig++; // 6LoWPAN links have the minimum MTU; IPv6 fragmentation is not modelled
			return;
		}
		const packet = buildUdpPacket({ src, dst, hopLimit: dst[0] === 0xff ? 255 : DEFAULT_HOP_LIMIT, trafficClass: 0, flowLabel: 0 }, socket.port, to.port, data, length);
		this.counters.ipSent++;
		this.#afterCpu(() => this.output(packet, zone, socket));
	}

	/** Runs `f` once the simulated CPU is free. */
	#afterCpu(f: () => void): void {
		const now = this.sim.queue.nowUs();
		if (this.busyUntilUs > now) this.sim.queue.at(this.busyUntilUs, f);
		else f();
	}

	/** Routes a packet this node originates or forwards. */
	output(packet: Uint8Array, zone: string, origin?: SimSocket): void {
		const dst = packet.subarray(24, 40);
		if (this.ownsAddress(dst)) {
			this.sim.queue.after(0, () => this.input(packet, zone));
			return;
		}
		if (dst[0] === 0xff || isLinkLocal(dst)) {
			if (zone === WPAN && this.radio !== undefined) this.#sendRadio(packet, dst[0] === 0xff ? new Uint8Array([BROADCAST_SHORT >> 8, BROADCAST_SHORT & 0xff]) : linkAddressFromIid(dst), undefined);
			else if (zone === ETH) this.sim.backbone.send(this, packet, dst[0] === 0xff ? undefined : dst);
			else this.#noRoute(packet, origin);
			return;
		}
		const route = this.routes.get(formatIPv6(dst)) ?? this.defaultRoute;
		if (route === undefined) {
			this.#noRoute(packet, origin);
			return;
		}
		if (route.iface === ETH) this.sim.backbone.send(this, packet, route.next.backboneAddresses[0]);
		else this.#sendRadio(packet, route.next.radio!.mac, route.next);
	}

	#noRoute(packet: Uint8Array, origin: SimSocket | undefined): void {
		this.counters.noRoute++;
		if (origin !== undefined) {
			const error: IcmpError = { type: ICMP_DEST_UNREACHABLE, code: CODE_NO_ROUTE, to: { address: formatIPv6(packet, 24), port: (packet[42]! << 8) | packet[43]!, zone: "" } };
			this.sim.queue.after(0, () => {
				this.sim.appCalls++;
				origin.options.onIcmpError?.(error);
			});
		} else this.#sendIcmpError(ICMP_DEST_UNREACHABLE, CODE_NO_ROUTE, packet, "", false);
	}

	#sendRadio(packet: Uint8Array, nextMac: Uint8Array, nextNode: SimNode | undefined): void {
		const radio = this.radio!;
		const link = { src: radio.mac, dst: nextMac };
		const payloadMax = maxPayload(nextMac.length, radio.mac.length);
		let frames: Uint8Array[];
		try {
			frames = encodeDatagram(packet, link, this.sim.contexts, payloadMax, this.#tag);
		} catch (e) {
			if (!(e instanceof LowpanError)) throw e;
			this.counters.tooBig++;
			return;
		}
		if (frames.length > 1) this.#tag = (this.#tag + 1) & 0xffff;
		const cls = this.sim.classify(packet);
		this.sim.countDatagram(cls);
		const to = nextNode?.radio ?? (nextMac.length === 8 ? this.sim.radioByMac(nextMac) : undefined);
		const broadcast = nextMac.length === 2;
		let failed = false;
		for (const payload of frames) {
			const frame: DataFrame = { kind: "data", seq: radio.nextSeq(), ackRequest: !broadcast, panId: radio.panId, dst: nextMac, src: radio.mac, payload };
			radio.send({
				frame,
				cls,
				to,
				// Once a fragment is lost the receiver cannot complete the datagram: purge the rest.
				cancelled: () => failed,
				done: (ok) => {
					if (ok || failed) return;
					failed = true; // the rest of this datagram is useless to the receiver
					this.counters.macFailures++;
				},
			});
		}
	}

	#onFrame(f: DataFrame): void {
		let packet: Uint8Array | undefined;
		try {
			packet = this.reassembler!.accept(f.payload, { src: f.src, dst: f.dst });
		} catch {
			this.counters.badPackets++;
			return;
		}
		if (packet !== undefined) this.input(packet, WPAN);
	}

	/** An IPv6 packet arriving on `zone`. */
	input(packet: Uint8Array, zone: string): void {
		const h = readIpv6Header(packet);
		if (h === undefined || !checksumValid(packet)) {
			this.counters.badPackets++;
			return;
		}
		const dst = h.dst;
		const multicast = dst[0] === 0xff;
		if (!multicast && !this.ownsAddress(dst)) {
			if (isLinkLocal(dst) || isLinkLocal(h.src)) return; // never forwarded off-link (RFC 4291 §2.5.6)
			if (h.hopLimit <= 1) {
				this.counters.hopLimitExceeded++;
				this.#sendIcmpError(ICMP_TIME_EXCEEDED, 0, packet, zone, false);
				return;
			}
			const copy = packet.slice();
			copy[7] = h.hopLimit - 1;
			this.counters.ipForwarded++;
			this.output(copy, zone);
			return;
		}
		this.#afterCpu(() => this.#deliver(packet, h.nextHeader, zone, multicast));
	}

	#deliver(packet: Uint8Array, nextHeader: number, zone: string, multicast: boolean): void {
		if (nextHeader === NEXT_HEADER_ICMPV6) {
			this.#icmpInput(packet);
			return;
		}
		if (nextHeader !== NEXT_HEADER_UDP || packet.length < IPV6_HEADER_BYTES + UDP_HEADER_BYTES) return;
		const dstText = formatIPv6(packet, 24);
		const dstPort = (packet[42]! << 8) | packet[43]!;
		const data = packet.subarray(IPV6_HEADER_BYTES + UDP_HEADER_BYTES);
		const from = formatIPv6(packet, 8);
		const fromPort = (packet[40]! << 8) | packet[41]!;
		let delivered = false;
		for (const s of [...this.sockets]) {
			if (s.closed || s.port !== dstPort || (s.zone !== "" && s.zone !== zone)) continue;
			if (multicast) {
				const member = s.groups.has(`${dstText}%${zone}`) || s.groups.has(`${dstText}%`);
				if (!member || (s.address !== undefined && !sameBytes(s.address, packet.subarray(24, 40)))) continue;
			} else if (s.address !== undefined && !sameBytes(s.address, packet.subarray(24, 40))) continue;
			s.buffer.set(data);
			const a = s.arrival;
			a.address = from;
			a.port = fromPort;
			a.zone = zone;
			a.multicast = multicast;
			this.counters.ipDelivered++;
			delivered = true;
			this.sim.appCalls++;
			s.options.onDatagram(s.buffer.subarray(0, data.length), a);
			if (!multicast) return;
		}
		if (!delivered && !multicast) {
			this.counters.noSocket++;
			this.#sendIcmpError(ICMP_DEST_UNREACHABLE, CODE_PORT_UNREACHABLE, packet, zone, false);
		}
	}

	/** An ICMPv6 error about a packet: back to its source (never about an error or a multicast, RFC 4443 §2.4(e)). */
	#sendIcmpError(type: number, code: number, invoking: Uint8Array, zone: string, unlimited: boolean): void {
		if (invoking[24] === 0xff || (invoking[6] === NEXT_HEADER_ICMPV6 && invoking[40]! < 128)) return;
		if (!unlimited && !this.#icmpBucket.take(this.sim.clock.now())) return;
		const dst = invoking.slice(8, 24);
		const src = this.ownsAddress(invoking.subarray(24, 40)) ? invoking.slice(24, 40) : this.#sourceFor(dst, zone);
		if (src === undefined) return;
		this.counters.icmpSent++;
		this.output(buildIcmpError({ src, dst, hopLimit: DEFAULT_HOP_LIMIT, trafficClass: 0, flowLabel: 0 }, type, code, invoking), zone);
	}

	#icmpInput(packet: Uint8Array): void {
		const type = packet[40]!;
		if (type >= 128) return; // informational messages are not modelled
		const q = IPV6_HEADER_BYTES + 8; // the quoted packet
		if (packet.length < q + IPV6_HEADER_BYTES + 4 || packet[q + 6] !== NEXT_HEADER_UDP) return;
		this.counters.icmpReceived++;
		const srcPort = (packet[q + 40]! << 8) | packet[q + 41]!;
		const error: IcmpError = { type, code: packet[41]!, to: { address: formatIPv6(packet, q + 24), port: (packet[q + 42]! << 8) | packet[q + 43]!, zone: "" } };
		for (const s of this.sockets) {
			if (s.port === srcPort) {
				this.sim.appCalls++;
				s.options.onIcmpError?.(error);
				return;
			}
		}
	}

	/** Link-layer identity for logs and routes. */
	get macHex(): string {
		return this.radio === undefined ? "" : toHex(this.radio.mac);
	}
}
