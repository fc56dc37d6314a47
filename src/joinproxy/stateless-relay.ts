/*
 * Stateless relaying (draft-ietf-anima-constrained-join-proxy-20 §4.4-§4.5): every pledge datagram
 * goes to the Registrar's JPY port as [header, content] from one fixed source port (§4.5.3 SHOULD),
 * the header being this proxy's sealed record of the pledge flow (modules/jpy/header.ts); replies
 * come back with the header echoed, which alone says where to deliver them.
 */

import type { Host, UdpArrival, UdpPeer, UdpSocket } from "../../hosts/host.js";
import { HEADER_BYTES, JpyHeaderCodec, type PledgeFlow } from "../../modules/jpy/header.js";
import { decodeJpy, encodeJpyPartsInto, jpyEncodedLength, JpyError, type JpyView } from "../../modules/jpy/message.js";
import { canonicalIPv6 } from "../../modules/util/ipv6.js";
import { MAX_DATAGRAM } from "./datagram-limit.js";
import type { DropWatch } from "./drop-watch.js";
import { FlowCache } from "./flow-cache.js";
import { linkLocalText, parseLinkLocal } from "./pledge-address.js";
import type { PledgeGate } from "./pledge-gate.js";
import type { JoinProxyCounters } from "./stats.js";

export interface StatelessRelayOptions {
	host: Host;
	/** The Registrar's JPY address and port (`jpy://[addr]:port`, draft §4.5.1). */
	registrar: UdpPeer;
	pledgeSockets: UdpSocket[];
	pledgeZones: string[];
	/** This relay's own header keys: a header made for one relay never opens at another. */
	codec: JpyHeaderCodec;
	counters: JoinProxyCounters;
	gate: PledgeGate;
	watch: DropWatch;
	/** Pledge flows remembered for allocation-free relaying (default 32). */
	flowCacheSize?: number;
	/** Where the Registrar-side socket binds (the Registrar-facing address and interface); default "::". */
	registrarSide?: { address?: string; zone?: string };
}

export class StatelessRelay {
	readonly #host: Host;
	readonly #registrar: UdpPeer;
	readonly #pledgeSockets: UdpSocket[];
	readonly #zones: string[];
	readonly #codec: JpyHeaderCodec;
	readonly #c: JoinProxyCounters;
	readonly #flows: FlowCache;
	readonly #gate: PledgeGate;
	readonly #watch: DropWatch;
	#socket: UdpSocket | undefined;
	/* Buffers and result objects allocated once. */
	readonly #tx = new Uint8Array(jpyEncodedLength(HEADER_BYTES, MAX_DATAGRAM));
	readonly #addr = new Uint8Array(16);
	readonly #view: JpyView = { headerStart: 0, headerLength: 0, contentStart: 0, contentLength: 0, elements: 0 };
	readonly #flow: PledgeFlow = { ifindex: 0, port: 0, iid: new Uint8Array(8) };
	#closed = false;

	private constructor(options: StatelessRelayOptions) {
		this.#host = options.host;
		this.#registrar = { ...options.registrar, address: canonicalIPv6(options.registrar.address) ?? options.registrar.address };
		this.#pledgeSockets = options.pledgeSockets;
		this.#zones = options.pledgeZones;
		this.#codec = options.codec;
		this.#c = options.counters;
		this.#flows = new FlowCache(options.flowCacheSize ?? 32);
		this.#gate = options.gate;
		this.#watch = options.watch;
	}

	/** Opens the one Registrar-side socket and returns the relay. */
	static async open(options: StatelessRelayOptions): Promise<StatelessRelay> {
		const relay = new StatelessRelay(options);
		relay.#socket = await options.host.udp.bind({
			port: 0,
			address: options.registrarSide?.address ?? "::",
			...(options.registrarSide?.zone ? { zone: options.registrarSide.zone } : {}),
			onDatagram: (data, from) => relay.#fromRegistrar(data, from),
		});
		return relay;
	}

	fromPledge(data: Uint8Array, from: Readonly<UdpArrival>, ifindex: number): void {
		if (this.#closed || this.#socket === undefined) return;
		const now = this.#host.clock.now();
		if (!this.#gate.admit(data.length, from, ifindex, now)) return;
		const flows = this.#flows;
		const addr = this.#addr;
		let i = flows.findText(ifindex, from.address, from.port, now);
		if (i < 0) {
			if (!this.#gate.source(from, addr)) return;
			i = flows.find(ifindex, addr, 8, from.port, now);
			if (i < 0) {
				// A flow evicted from the cache counts as new here: the cache is sized for the neighbours one proxy serves.
				if (!this.#gate.newFlow(from, ifindex, now)) return;
				i = flows.insert(ifindex, addr, 8, from.port, now);
				const peer = flows.peers[i]!;
				peer.address = linkLocalText(addr, 8, this.#addr);
				peer.port = from.port;
				peer.zone = this.#zones[ifindex]!;
			}
		}
		// The header is a function of the flow and the sealing key alone (header.ts), so a flow evicted
		// from the cache and sealed again gets the header it had: only the cached copy is saved.
		const epoch = this.#codec.sealingEpoch;
		if (flows.epochs[i] !== epoch) {
			parseLinkLocal(from.address, addr);
			this.#codec.seal(ifindex, from.port, addr, 8, flows.headers, i * HEADER_BYTES);
			flows.epochs[i] = epoch;
		}
		const end = encodeJpyPartsInto(flows.headers, i * HEADER_BYTES, HEADER_BYTES, data, 0, data.length, this.#tx, 0);
		this.#c.toRegistrar.datagrams++;
		this.#c.toRegistrar.bytes += end;
		this.#socket.send(this.#tx, this.#registrar, end);
	}

	#fromRegistrar(data: Uint8Array, from: Readonly<UdpArrival>): void {
		if (this.#closed) return;
		// Only the Registrar's JPY address and port may speak JPY to us (draft §4.5.5).
		if (from.port !== this.#registrar.port || from.address !== this.#registrar.address) {
			this.#c.drops.notFromRegistrar++;
			this.#watch.note();
			return;
		}
		const v = this.#view;
		try {
			decodeJpy(data, data.length, v);
		} catch (e) {
			if (!(e instanceof JpyError)) throw e;
			this.#c.drops.badJpy++;
			this.#watch.note();
			return;
		}
		if (v.contentLength > MAX_DATAGRAM) {
			this.#c.drops.tooLarge++;
			this.#watch.note();
			return;
		}
		const now = this.#host.clock.now();
		// A header we sealed and still cache is authentic as it stands; others are opened.
		let i = v.headerLength === HEADER_BYTES ? this.#flows.findHeader(data, v.headerStart, this.#codec.sealingEpoch, now) : -1;
		if (i >= 0) {
			this.#deliver(data, v, i);
			return;
		}
		const flow = this.#flow;
		if (!this.#codec.open(data, v.headerStart, v.headerLength, flow) || flow.ifindex >= this.#pledgeSockets.length) {
			this.#c.drops.badHeader++; // silently, draft §4.5.5 MUST
			this.#watch.note();
			return;
		}
		i = this.#flows.find(flow.ifindex, flow.iid, 0, flow.port, now);
		if (i < 0) {
			i = this.#flows.insert(flow.ifindex, flow.iid, 0, flow.port, now);
			const peer = this.#flows.peers[i]!;
			peer.address = linkLocalText(flow.iid, 0, this.#addr);
			peer.port = flow.port;
			peer.zone = this.#zones[flow.ifindex]!;
		}
		this.#deliver(data, v, i);
	}

	#deliver(data: Uint8Array, v: JpyView, flowIndex: number): void {
		this.#c.toPledge.datagrams++;
		this.#c.toPledge.bytes += v.contentLength;
		// The content moves to the front of the receive buffer (ours until we return): no view to allocate.
		data.copyWithin(0, v.contentStart, v.contentStart + v.contentLength);
		this.#pledgeSockets[this.#flows.ifindexOf(flowIndex)]!.send(data, this.#flows.peers[flowIndex]!, v.contentLength);
	}

	/** Idempotent. */
	close(): void {
		if (this.#closed) return;
		this.#closed = true;
		this.#flows.clear();
		this.#socket?.close();
	}
}
