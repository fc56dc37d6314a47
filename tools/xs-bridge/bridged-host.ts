/*
 * The Host of code running inside xsnap whose sockets, timers and randomness are on the Node side
 * (node-bridge.ts): every act is a synchronous issueCommand to Node, and every datagram, expiry or
 * socket error comes back as a crank of its own that also brings Node's time. Storage is read from XS
 * memory and every write is mirrored to Node's storage, which the "start" event loads XS from.
 * Runs inside XS only (bundled by esbuild), so ES2022 and xsnap's issueCommand.
 */

import type { Host, Timer, UdpArrival, UdpBindOptions, UdpPeer, UdpSocket } from "../../hosts/host.js";
import { MemoryStorage } from "../../hosts/xs/memory-storage.js";
import { fromHex } from "../../modules/util/hex.js";
import { decodeFrame, encodeFrame } from "./frame.js";
import type { BoundReply, Event, Request } from "./messages.js";

declare function issueCommand(message: ArrayBuffer): ArrayBuffer;

/** Sends a request to Node and returns its answer. */
export function ask(request: Request, payload?: Uint8Array): Uint8Array {
	const f = encodeFrame(request, payload);
	return new Uint8Array(issueCommand(f.buffer.slice(f.byteOffset, f.byteOffset + f.byteLength) as ArrayBuffer));
}

interface BridgedTimer extends Timer {
	armed: boolean;
	gen: number;
	fire(): void;
}

export interface BridgedHost {
	host: Host;
	/** Applies one event from Node (sets the clock first). */
	deliver(event: Event, payload: Uint8Array): void;
}

export function createBridgedHost(): BridgedHost {
	let now = 0;
	let wall = 0;
	const sockets = new Map<number, UdpBindOptions>();
	const timers: BridgedTimer[] = [];
	const memory = new MemoryStorage();
	const arrival: UdpArrival = { address: "", port: 0, zone: "", multicast: false };

	const host: Host = {
		udp: {
			bind(options: UdpBindOptions): Promise<UdpSocket> {
				const { onDatagram: _d, onError: _e, onIcmpError: _i, ...where } = options;
				const reply = decodeFrame<BoundReply>(ask({ op: "bind", ...where })).head;
				if ("error" in reply) return Promise.reject(new Error(reply.error));
				const id = reply.socket;
				sockets.set(id, options);
				let closed = false;
				return Promise.resolve({
					port: reply.port,
					send(data: Uint8Array, to: Readonly<UdpPeer>, length = data.length): void {
						if (closed) return;
						ask({ op: "send", socket: id, to: { address: to.address, port: to.port, zone: to.zone } }, data.subarray(0, length));
					},
					joinMulticast: (group: string, zone?: string) => void ask({ op: "join", socket: id, group, ...(zone !== undefined ? { zone } : {}) }),
					leaveMulticast: (group: string, zone?: string) => void ask({ op: "leave", socket: id, group, ...(zone !== undefined ? { zone } : {}) }),
					close(): void {
						if (closed) return;
						closed = true;
						sockets.delete(id);
						ask({ op: "close", socket: id });
					},
				});
			},
		},
		clock: {
			now: () => now,
			wallTime: () => wall,
			timer(callback: () => void): Timer {
				const id = timers.length;
				const t: BridgedTimer = {
					gen: 0,
					armed: false,
					arm(delayMs: number): void {
						t.gen++;
						t.armed = true;
						ask({ op: "arm", timer: id, due: now + Math.max(0, delayMs), gen: t.gen });
					},
					cancel(): void {
						if (!t.armed) return;
						t.armed = false;
						t.gen++;
						ask({ op: "cancel", timer: id });
					},
					fire(): void {
						t.armed = false;
						callback();
					},
				};
				timers.push(t);
				return t;
			},
		},
		random(bytes: Uint8Array): Uint8Array {
			bytes.set(ask({ op: "random", length: bytes.length }).subarray(0, bytes.length));
			return bytes;
		},
		storage: {
			get: (key) => memory.get(key),
			keys: () => memory.keys(),
			set(key: string, value: Uint8Array): void {
				memory.set(key, value);
				ask({ op: "store", key }, value);
			},
			delete(key: string): void {
				memory.delete(key);
				ask({ op: "unstore", key });
			},
		},
		log: (level, message) => void ask({ op: "log", level, message }),
	};

	return {
		host,
		deliver(e: Event, payload: Uint8Array): void {
			now = e.now;
			wall = e.wall;
			switch (e.ev) {
				case "datagram": {
					const s = sockets.get(e.socket);
					if (s === undefined) return;
					arrival.address = e.from.address;
					arrival.port = e.from.port;
					arrival.zone = e.from.zone;
					arrival.multicast = e.multicast;
					s.onDatagram(payload, arrival);
					return;
				}
				case "timer": {
					const t = timers[e.timer];
					// An expiry already replaced by a re-arm or a cancel (both crossed on the way) is dropped.
					if (t !== undefined && t.armed && t.gen === e.gen) t.fire();
					return;
				}
				case "error":
					sockets.get(e.socket)?.onError?.(new Error(e.message));
					return;
				case "icmp":
					sockets.get(e.socket)?.onIcmpError?.({ type: e.type, code: e.code, to: e.to });
					return;
				case "start":
					for (const [key, hex] of Object.entries(e.storage)) memory.set(key, fromHex(hex));
					return;
			}
		},
	};
}
