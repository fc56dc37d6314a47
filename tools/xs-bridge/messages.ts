/*
 * What the two sides of the bridge say. XS asks Node (issueCommand, answered synchronously) to act on
 * real or simulated sockets, timers and storage; Node tells XS (one crank each) what arrived and what time it is.
 */

import type { UdpPeer } from "../../hosts/host.js";

/** XS → Node. `bind` is answered with a BoundReply, `random` with the bytes, the rest with nothing. */
export type Request =
	| { op: "bind"; port?: number; address?: string; zone?: string; reuseAddress?: boolean }
	| { op: "send"; socket: number; to: UdpPeer }
	| { op: "join" | "leave"; socket: number; group: string; zone?: string }
	| { op: "close"; socket: number }
	/** `due` is on the clock XS was last told; `gen` tells a stale expiry from the current arming. */
	| { op: "arm"; timer: number; due: number; gen: number }
	| { op: "cancel"; timer: number }
	| { op: "random"; length: number }
	/** Storage writes, mirrored to Node's storage (the value is the payload). */
	| { op: "store"; key: string }
	| { op: "unstore"; key: string }
	| { op: "log"; level: "debug" | "info" | "warn" | "error"; message: string }
	| { op: "state"; state: string; detail: string }
	/** The run's end: the result as JSON, the LDevID (if any) as payload. */
	| { op: "done"; result: unknown };

export type BoundReply = { socket: number; port: number } | { error: string };

/** The time on Node's clock as a crank starts: XS's clock reads this until the next crank. */
export interface Now {
	now: number;
	wall: number;
}

/** Node → XS, each in a crank of its own. */
export type Event = Now &
	(
		/** `storage`: Node's storage as it is (hex values), which XS starts from. */
		| { ev: "start"; config: unknown; storage: Record<string, string> }
		| { ev: "datagram"; socket: number; from: UdpPeer; multicast: boolean }
		| { ev: "timer"; timer: number; gen: number }
		| { ev: "error"; socket: number; message: string }
		| { ev: "icmp"; socket: number; type: number; code: number; to: UdpPeer }
	);
