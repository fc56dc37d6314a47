/*
 * The Host's UDP on Moddable: IPv6 sockets from our native module (lin/udp6.c, esp32/udp6.c), since
 * Moddable's own UDP is IPv4 only. Zones are interface names at the Host interface and interface
 * indexes in the native one; this file translates, caching both ways, and turns each datagram's
 * native metadata into the socket's one reused UdpArrival. Per datagram nothing is allocated except
 * a source address string when the source differs from the previous datagram's.
 */

import type { Udp, UdpArrival, UdpBindOptions, UdpPeer, UdpSocket } from "../host.js";
import { formatIPv6 } from "../../modules/util/ipv6.js";

/** Large enough that an over-long datagram (> 1232 bytes) reaches the protocol code to be counted. */
const RECEIVE_BYTES = 2048;
/** Source address (16), source port (2, big-endian), arrival interface index (4, little-endian), multicast flag (1). */
const META_BYTES = 23;

const construct = native("xs_udp6_constructor");
const nativeSend: (data: Uint8Array, length: number, address: string, port: number, ifindex: number) => number = native("xs_udp6_send");
const nativeJoin = native("xs_udp6_join");
const nativeLeave = native("xs_udp6_leave");
const nativePort: () => number = native("xs_udp6_port");
const nativeClose = native("xs_udp6_close");
const ifIndex: (name: string) => number = native("xs_udp6_if_index");
const ifName: (index: number) => string | undefined = native("xs_udp6_if_name");

/** Interface names ↔ indexes, looked up once each (interfaces of a device do not come and go). */
export class Interfaces {
	readonly #indexes = new Map<string, number>();
	readonly #names = new Map<number, string>();

	/** 0 for "" (unscoped); throws for an unknown interface. */
	index(zone: string): number {
		if (zone === "") return 0;
		let index = this.#indexes.get(zone);
		if (index === undefined) {
			index = ifIndex(zone);
			if (index === 0) throw new RangeError(`no interface "${zone}"`);
			this.#indexes.set(zone, index);
			this.#names.set(index, zone);
		}
		return index;
	}

	name(index: number): string {
		if (index === 0) return "";
		let name = this.#names.get(index);
		if (name === undefined) {
			name = ifName(index) ?? String(index);
			this.#names.set(index, name);
			this.#indexes.set(name, index);
		}
		return name;
	}
}

/** Cumulative send counters of one socket: sends never throw (a relay must not die of one bad peer). */
export interface ModdableUdpStats {
	sent: number;
	errors: number;
	/** The last send error: a negative errno on lin, a negative lwIP err_t on esp32 (0: none yet). */
	lastError: number;
}

export class ModdableUdpSocket extends Native("xs_udp6_destructor") implements UdpSocket {
	readonly #interfaces: Interfaces;
	readonly #ifindex: number;
	readonly #receive: Uint8Array;
	readonly #meta: Uint8Array;
	readonly #from: UdpArrival = { address: "::", port: 0, zone: "", multicast: false };
	/** The source bytes `#from.address` was formatted from. */
	readonly #source = new Uint8Array(16);
	readonly #onDatagram: UdpBindOptions["onDatagram"];
	readonly #stats: ModdableUdpStats = { sent: 0, errors: 0, lastError: 0 };
	readonly #port: number;
	#closed = false;

	constructor(options: UdpBindOptions, interfaces: Interfaces) {
		super();
		this.#interfaces = interfaces;
		this.#ifindex = interfaces.index(options.zone ?? "");
		this.#receive = new Uint8Array(RECEIVE_BYTES);
		this.#meta = new Uint8Array(META_BYTES);
		this.#onDatagram = options.onDatagram;
		const address = options.address === undefined || options.address === "::" ? "" : options.address;
		construct.call(this, address, options.port ?? 0, this.#ifindex, options.reuseAddress === true, this.#receive.buffer, this.#meta.buffer);
		this.#port = nativePort.call(this);
	}

	get port(): number {
		return this.#port;
	}

	get stats(): Readonly<ModdableUdpStats> {
		return this.#stats;
	}

	/** Called by the native module once per datagram, with the payload in the receive buffer. */
	onPacket(length: number): void {
		const m = this.#meta;
		const from = this.#from;
		if (!sameSource(m, this.#source)) from.address = formatIPv6(m, 0);
		from.port = (m[16]! << 8) | m[17]!;
		from.zone = this.#interfaces.name((m[18]! | (m[19]! << 8) | (m[20]! << 16) | (m[21]! << 24)) >>> 0);
		from.multicast = m[22] === 1;
		this.#onDatagram(this.#receive.subarray(0, length), from);
	}

	send(data: Uint8Array, to: Readonly<UdpPeer>, length = data.length): void {
		if (this.#closed) return;
		const result = nativeSend.call(this, data, length, to.address, to.port, this.#interfaces.index(to.zone));
		if (result === 0) this.#stats.sent++;
		else {
			this.#stats.errors++;
			this.#stats.lastError = result;
		}
	}

	joinMulticast(group: string, zone?: string): void {
		nativeJoin.call(this, group, zone === undefined ? this.#ifindex : this.#interfaces.index(zone));
	}

	leaveMulticast(group: string, zone?: string): void {
		if (this.#closed) return;
		nativeLeave.call(this, group, zone === undefined ? this.#ifindex : this.#interfaces.index(zone));
	}

	close(): void {
		if (this.#closed) return;
		this.#closed = true;
		nativeClose.call(this);
	}
}
Object.freeze(ModdableUdpSocket.prototype);

/** Copies meta[0..16) into `last` and returns false when they differ; true when equal. */
function sameSource(meta: Uint8Array, last: Uint8Array): boolean {
	let same = true;
	for (let i = 0; i < 16; i++) {
		if (last[i] !== meta[i]) {
			last[i] = meta[i]!;
			same = false;
		}
	}
	return same;
}

export class ModdableUdp implements Udp {
	readonly #interfaces: Interfaces;

	constructor(interfaces: Interfaces) {
		this.#interfaces = interfaces;
	}

	bind(options: UdpBindOptions): Promise<UdpSocket> {
		try {
			return Promise.resolve(new ModdableUdpSocket(options, this.#interfaces));
		} catch (e) {
			return Promise.reject(e instanceof Error ? e : new Error(String(e)));
		}
	}
}
