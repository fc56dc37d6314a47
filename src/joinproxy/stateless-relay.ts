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
import { FlowCache } from "./flow-cache.js";
import { linkLocalText, parseLinkLocal } from "./pledge-address.js";
import type { JoinProxyCounters } from "./stats.js";

/** Largest UDP payload relayed either way (IPv6 minimum MTU 1280 − 40 − 8, RFC 8200 §5). */
export const MAX_DATAGRAM = 1232;

export interface StatelessRelayOptions {
	host: Host;
	/** The Registrar's JPY address and port (`jpy://[addr]:port`, draft §4.5.1). */
	registrar: UdpPeer;
	pledgeSockets: UdpSocket[];
	pledgeZones: string[];
	codec: JpyHeaderCodec;
	counters: JoinProxyCounters;
	/** Pledge flows remembered for allocation-free relaying (default 32). */
	flowCacheSize?: number;
}

export class StatelessRelay {
	readonly #host: Host;
	readonly #registrar: UdpPeer;
	readonly #pledgeSockets: UdpSocket[];
	readonly #zones: string[];
	readonly #codec: JpyHeaderCodec;
	readonly #c: JoinProxyCounters;
	readonly #flows: FlowCache;
	#socket: UdpSocket | undefined;
	/* Buffers and result objects allocated once. */
	readonly #tx = new Uint8Array(MAX_DATAGRAM + 64);
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
	}

	/** Opens the one Registrar-side socket and returns the relay. */
	static async open(options: StatelessRelayOptions): Promise<StatelessRelay> {
		const relay = new StatelessRelay(options);
		relay.#socket = await options.host.udp.bind({ port: 0, onDatagram: (data, from) => relay.#fromRegistrar(data, from) });
		return relay;
	}

	get registrarSidePort(): number {
		return this.#socket?.port ?? 0;
	}

	fromPledge(data: Uint8Array, from: Readonly<UdpArrival>, ifindex: number): void {
		if (this.#closed || this.#socket === undefined) return;
		if (jpyEncodedLength(HEADER_BYTES, data.length) > this.#tx.length) {
			this.#c.drops.tooLarge++;
			return;
		}
		const now = this.#host.clock.now();
		const flows = this.#flows;
		const addr = this.#addr;
		let i = flows.findText(ifindex, from.address, from.port, now);
		if (i < 0) {
			if (!parseLinkLocal(from.address, addr)) {
				this.#c.drops.notLinkLocal++;
				return;
			}
			i = flows.find(ifindex, addr, 8, from.port, now);
		}
		if (i < 0) {
			i = flows.insert(ifindex, addr, 8, from.port, now);
			const peer = flows.peers[i]!;
			peer.address = linkLocalText(addr, 8, this.#addr);
			peer.port = from.port;
			peer.zone = this.#zones[ifindex]!;
		}
		// Keep the flow's header while it still opens; reseal once its epoch is no longer accepted.
		const epoch = this.#codec.epoch;
		const sealedIn = flows.epochs[i]!;
		if (!(sealedIn === epoch || (sealedIn === epoch - 1 && this.#codec.acceptsPrevious))) {
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
			return;
		}
		const v = this.#view;
		try {
			decodeJpy(data, data.length, v);
		} catch (e) {
			if (!(e instanceof JpyError)) throw e;
			this.#c.drops.badJpy++;
			return;
		}
		const now = this.#host.clock.now();
		// A header we sealed and still cache is authentic as it stands; others are opened.
		let i = v.headerLength === HEADER_BYTES ? this.#flows.findHeader(data, v.headerStart, this.#codec.epoch, this.#codec.acceptsPrevious, now) : -1;
		if (i >= 0) {
			this.#deliver(data, v, i);
			return;
		}
		const flow = this.#flow;
		if (!this.#codec.open(data, v.headerStart, v.headerLength, flow) || flow.ifindex >= this.#pledgeSockets.length) {
			this.#c.drops.badHeader++; // silently, draft §4.5.5 MUST
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
