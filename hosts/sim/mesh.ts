/*
 * The simulated network: an IEEE 802.15.4 mesh of nodes with radios, a border router joining it to
 * a backbone (an Ethernet-like link, 100 Mbit/s and 1 ms by default) where the Registrar and MASA
 * sit, routes computed as a static RPL-like tree (each router's parent is its neighbour nearest the
 * border router, ties broken by link loss, then by creation order; routes down are per host, as in
 * RPL storing mode, RFC 6550 §9), a pcap of the air and counters per node, per link and per
 * datagram class. Every node's Host runs on the one ManualClock; one seed fixes the whole run.
 */

import type { Clock, Host } from "../host.js";
import { ManualClock } from "../xs/manual-clock.js";
import { SeededRandom } from "../xs/seeded-random.js";
import { airtimeUs } from "../../modules/ieee802154/frame.js";
import { formatIPv6 } from "../../modules/util/ipv6.js";
import { EventQueue } from "./event-queue.js";
import { PcapWriter } from "./pcap.js";
import { Medium, Radio, type MacSettings, type RadioCounters, type Transmission } from "./radio.js";
import { toHex as hex } from "../../modules/util/hex.js";
import { ETH, parseAddress, SimNode, WPAN, type NodeCounters } from "./node.js";

export interface MeshSimOptions {
	seed: number;
	clock?: ManualClock;
	/** PAN identifier of the mesh (default 0xabcd). */
	panId?: number;
	/** The mesh's /64 prefix, also 6LoWPAN context 0 (default 2001:db8:1::/64). */
	meshPrefix?: string;
	backbone?: { bitsPerSecond?: number; latencyMs?: number };
	/** Capture the air as pcap (default true). */
	pcap?: boolean;
	/** Names the class of an IPv6 packet for the counters (default: "icmpv6" or "udp:<lower port>"). */
	classify?: (packet: Uint8Array) => string;
	reassemblyTimeoutMs?: number;
	/** MAC PIB settings of every radio (default: the standard's defaults). */
	mac?: Partial<MacSettings>;
	log?: Host["log"];
}

export interface TrafficCounters {
	/** IPv6 packets handed to a radio hop (a packet forwarded twice counts three times). */
	datagrams: number;
	frames: number;
	/** PSDU bytes: MAC header, payload and FCS. */
	bytes: number;
	/** Airtime including the PHY header. */
	airtimeUs: number;
}

function emptyTraffic(): TrafficCounters {
	return { datagrams: 0, frames: 0, bytes: 0, airtimeUs: 0 };
}

export function defaultClassify(packet: Uint8Array): string {
	if (packet[6] === 58) return "icmpv6";
	if (packet[6] !== 17) return `nh:${packet[6]}`;
	const sp = (packet[40]! << 8) | packet[41]!;
	const dp = (packet[42]! << 8) | packet[43]!;
	return `udp:${Math.min(sp, dp)}`;
}

/** An Ethernet-like backbone: each sender serializes its frames in order; every frame then takes the latency. */
export class Backbone {
	readonly #sim: MeshSim;
	readonly #bitsPerUs: number;
	readonly #latencyUs: number;
	readonly #freeAt = new Map<SimNode, number>();
	readonly counters = { packets: 0, bytes: 0 };

	constructor(sim: MeshSim, bitsPerSecond: number, latencyMs: number) {
		this.#sim = sim;
		this.#bitsPerUs = bitsPerSecond / 1e6;
		this.#latencyUs = latencyMs * 1000;
	}

	/** `to` undefined: every other backbone node (multicast). */
	send(from: SimNode, packet: Uint8Array, to: Uint8Array | undefined): void {
		const q = this.#sim.queue;
		// Ethernet II header 14 + FCS 4 + preamble 8 + inter-frame gap 12 octets
		const wire = packet.length + 38;
		const start = Math.max(q.nowUs(), this.#freeAt.get(from) ?? 0);
		const done = start + Math.ceil((wire * 8) / this.#bitsPerUs);
		this.#freeAt.set(from, done);
		this.counters.packets++;
		this.counters.bytes += packet.length + 18;
		const receivers = [...this.#sim.nodes.values()].filter((n) => n !== from && n.backboneAddresses.length > 0 && (to === undefined || n.ownsAddress(to)));
		q.at(done + this.#latencyUs, () => {
			for (const n of receivers) n.input(packet, ETH);
		});
	}
}

export interface SimStats {
	nodes: Record<string, RadioCounters & NodeCounters & { hops: number | undefined }>;
	links: Record<string, TrafficCounters>;
	classes: Record<string, TrafficCounters>;
	air: TrafficCounters;
	backbone: { packets: number; bytes: number };
}

export class MeshSim {
	readonly clock: ManualClock;
	/**
	 * Application callbacks run so far: expiries of timers armed through a node's host (or
	 * `hostClock`), and datagrams and ICMPv6 errors handed to sockets. A driver needs a macrotask
	 * turn, to let promise continuations run, only after one of these: the radio's, 6LoWPAN's and
	 * routing's own events create no promise work.
	 */
	appCalls = 0;
	/** The clock the nodes' hosts see: `clock`, with each timer expiry counted in `appCalls`. */
	readonly hostClock: Clock;
	readonly queue: EventQueue;
	readonly medium: Medium;
	readonly backbone: Backbone;
	readonly nodes = new Map<string, SimNode>();
	readonly contexts: readonly Uint8Array[];
	readonly meshPrefix: Uint8Array;
	readonly panId: number;
	readonly pcap: PcapWriter | undefined;
	readonly reassemblyTimeoutMs: number | undefined;
	readonly classify: (packet: Uint8Array) => string;
	readonly #seed: number;
	readonly #log: Host["log"];
	readonly #links = new Map<string, TrafficCounters>();
	readonly #classes = new Map<string, TrafficCounters>();
	readonly #air = emptyTraffic();
	readonly #byMac = new Map<string, Radio>();
	#border: SimNode | undefined;
	readonly #rank = new Map<SimNode, number>();

	constructor(o: MeshSimOptions) {
		this.#seed = o.seed >>> 0;
		this.clock = o.clock ?? new ManualClock();
		this.queue = new EventQueue(this.clock);
		const clock = this.clock;
		this.hostClock = Object.freeze({
			now: () => clock.now(),
			wallTime: () => clock.wallTime(),
			timer: (callback: () => void) =>
				clock.timer(() => {
					this.appCalls++;
					callback();
				}),
		});
		this.medium = new Medium(this.queue, new SeededRandom(this.#seed), o.mac);
		this.panId = o.panId ?? 0xabcd;
		this.meshPrefix = parseAddress(o.meshPrefix ?? "2001:db8:1::").slice(0, 8);
		this.contexts = Object.freeze([this.meshPrefix]);
		this.backbone = new Backbone(this, o.backbone?.bitsPerSecond ?? 100e6, o.backbone?.latencyMs ?? 1);
		this.pcap = o.pcap === false ? undefined : new PcapWriter();
		this.reassemblyTimeoutMs = o.reassemblyTimeoutMs;
		this.classify = o.classify ?? defaultClassify;
		this.#log = o.log ?? (() => {});
		this.medium.taps.push((tx) => this.#onAir(tx));
	}

	log(level: Parameters<Host["log"]>[0], message: string): void {
		this.#log(level, message);
	}

	#nodeSeed(name: string): number {
		let h = 2166136261 ^ this.#seed; // FNV-1a over the name, keyed by the run's seed
		for (let i = 0; i < name.length; i++) h = Math.imul(h ^ name.charCodeAt(i), 16777619) >>> 0;
		return h >>> 0;
	}

	#add(node: SimNode): SimNode {
		if (this.nodes.has(node.name)) throw new RangeError(`node ${node.name} exists`);
		this.nodes.set(node.name, node);
		return node;
	}

	#radio(name: string): Radio {
		// EUI-64 from a locally administered OUI (02:00:00) and the node's number.
		const n = this.medium.radios.length + 1;
		const mac = new Uint8Array([0x02, 0, 0, 0, (n >>> 24) & 0xff, (n >>> 16) & 0xff, (n >>> 8) & 0xff, n & 0xff]);
		const r = new Radio(this.medium, name, mac, this.panId);
		this.#byMac.set(hex(mac), r);
		return r;
	}

	#meshAddress(radio: Radio): Uint8Array {
		const a = new Uint8Array(16);
		a.set(this.meshPrefix);
		a.set(radio.mac, 8);
		a[8] = a[8]! ^ 0x02;
		return a;
	}

	/**
	 * A mesh node. `router` (default true): it has a global address in the mesh prefix and forwards;
	 * false: a pledge, link-local only until `enrol` gives it its global address.
	 */
	addMeshNode(name: string, o: { router?: boolean } = {}): SimNode {
		const radio = this.#radio(name);
		return this.#add(new SimNode(this, { name, seed: this.#nodeSeed(name), radio, ...(o.router === false ? {} : { meshAddress: this.#meshAddress(radio) }) }));
	}

	/** The border router: a mesh router with an eth0 on the backbone. */
	addBorderRouter(name: string, o: { backboneAddress: string }): SimNode {
		if (this.#border !== undefined) throw new RangeError("one border router is modelled");
		const radio = this.#radio(name);
		const n = this.#add(new SimNode(this, { name, seed: this.#nodeSeed(name), radio, meshAddress: this.#meshAddress(radio), backboneAddresses: [parseAddress(o.backboneAddress)] }));
		this.#border = n;
		return n;
	}

	addBackboneNode(name: string, o: { address: string }): SimNode {
		return this.#add(new SimNode(this, { name, seed: this.#nodeSeed(name), backboneAddresses: [parseAddress(o.address)] }));
	}

	/** Gives a pledge its mesh address (it becomes a router); routes are rebuilt. */
	enrol(name: string): void {
		const n = this.node(name);
		if (n.meshAddress === undefined) n.meshAddress = this.#meshAddress(n.radio!);
		this.buildRoutes();
	}

	node(name: string): SimNode {
		const n = this.nodes.get(name);
		if (n === undefined) throw new RangeError(`no node ${name}`);
		return n;
	}

	host(name: string): Host {
		return this.node(name).host;
	}

	radioByMac(mac: Uint8Array): Radio | undefined {
		return this.#byMac.get(hex(mac));
	}

	/** Puts two radios in each other's range, with a loss probability per direction. */
	link(a: string, b: string, o: { loss?: number; lossBack?: number } = {}): void {
		const ra = this.node(a).radio;
		const rb = this.node(b).radio;
		if (ra === undefined || rb === undefined) throw new RangeError(`${a} and ${b} must both have radios`);
		ra.neighbours.set(rb, { loss: o.loss ?? 0 });
		rb.neighbours.set(ra, { loss: o.lossBack ?? o.loss ?? 0 });
	}

	/** Routers' hop count to the border router (undefined: not in the tree). */
	hops(name: string): number | undefined {
		return this.#rank.get(this.node(name));
	}

	/** The RPL-like tree: BFS from the border router over routers; parents, host routes down, default routes up. */
	buildRoutes(): void {
		const br = this.#border;
		if (br === undefined) throw new RangeError("no border router");
		const routers = [...this.nodes.values()].filter((n) => n.radio !== undefined && n.meshAddress !== undefined);
		const order = new Map(routers.map((n, i) => [n, i]));
		const byRadio = new Map(routers.map((n) => [n.radio!, n]));
		this.#rank.clear();
		const parent = new Map<SimNode, SimNode>();
		this.#rank.set(br, 0);
		let frontier = [br];
		while (frontier.length > 0) {
			const next: SimNode[] = [];
			for (const p of frontier) {
				for (const [r, q] of p.radio!.neighbours) {
					const c = byRadio.get(r);
					if (c === undefined || c === br || q.loss >= 1) continue;
					const rank = this.#rank.get(p)! + 1;
					const known = this.#rank.get(c);
					if (known !== undefined && known < rank) continue;
					const old = parent.get(c);
					const lossVia = (x: SimNode): number => x.radio!.neighbours.get(c.radio!)?.loss ?? 1;
					if (old === undefined || lossVia(p) < lossVia(old) || (lossVia(p) === lossVia(old) && order.get(p)! < order.get(old)!)) parent.set(c, p);
					if (known === undefined) {
						this.#rank.set(c, rank);
						next.push(c);
					}
				}
			}
			frontier = next;
		}
		for (const n of this.nodes.values()) {
			n.routes.clear();
			n.defaultRoute = undefined;
		}
		for (const [c, p] of parent) {
			c.defaultRoute = { iface: WPAN, next: p };
			// every ancestor routes c's address down toward it
			const dst = formatIPv6(c.meshAddress!);
			let child = c;
			for (let a = p; ; ) {
				a.routes.set(dst, { iface: WPAN, next: child });
				const up = parent.get(a);
				if (up === undefined) break;
				child = a;
				a = up;
			}
		}
		// The border router's own mesh address and the mesh behind it, seen from the backbone.
		for (const n of this.nodes.values()) {
			if (n.radio !== undefined || n === br) continue;
			for (const r of [br, ...parent.keys()]) n.routes.set(formatIPv6(r.meshAddress!), { iface: ETH, next: br });
		}
		br.defaultRoute = undefined;
		for (const n of this.nodes.values()) if (n.radio === undefined) for (const a of n.backboneAddresses) br.routes.set(formatIPv6(a), { iface: ETH, next: n });
	}

	countDatagram(cls: string): void {
		this.#traffic(this.#classes, cls).datagrams++;
		this.#air.datagrams++;
	}

	#traffic(map: Map<string, TrafficCounters>, key: string): TrafficCounters {
		let t = map.get(key);
		if (t === undefined) map.set(key, (t = emptyTraffic()));
		return t;
	}

	#onAir(tx: Transmission): void {
		const air = airtimeUs(tx.bytes.length);
		for (const t of [this.#air, this.#traffic(this.#classes, tx.cls), this.#traffic(this.#links, `${tx.from.name}>${tx.to?.name ?? "*"}`)]) {
			t.frames++;
			t.bytes += tx.bytes.length;
			t.airtimeUs += air;
		}
		this.pcap?.record(Math.round(this.clock.wallTime() * 1000), tx.bytes);
	}

	stats(): SimStats {
		const nodes: SimStats["nodes"] = {};
		for (const n of this.nodes.values()) {
			const r = n.radio?.counters;
			nodes[n.name] = { ...(r ?? { txFrames: 0, txBytes: 0, txAirtimeUs: 0, acksSent: 0, retries: 0, noAck: 0, channelAccessFailures: 0, rxFrames: 0, collisions: 0, linkLosses: 0, duplicates: 0 }), ...n.counters, hops: this.#rank.get(n) };
		}
		const obj = (m: Map<string, TrafficCounters>): Record<string, TrafficCounters> => Object.fromEntries([...m].map(([k, v]) => [k, { ...v }]));
		return { nodes, links: obj(this.#links), classes: obj(this.#classes), air: { ...this.#air }, backbone: { ...this.backbone.counters } };
	}
}
