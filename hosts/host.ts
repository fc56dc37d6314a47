/*
 * The host interface: everything a protocol module or role needs from the platform it runs on.
 * Modules receive a Host (or the one part they need) by injection and never import a host, so the
 * same code runs on Node, in the XS test lane, in the simulator and on a Moddable device.
 *
 * Addresses are IPv6 text without a zone ("fe80::1"); the zone (interface name) travels in its
 * own field because link-local addresses are ambiguous without it (RFC 4007 §6).
 */

/** Where a datagram came from or goes to. Hosts may reuse one instance per socket: copy it to keep it. */
export interface UdpPeer {
	address: string;
	port: number;
	/** Interface (zone) the datagram arrived on or must leave by; "" when the address is not scoped. */
	zone: string;
}

/** What a host knows of a received datagram beyond its source. Reused like UdpPeer. */
export interface UdpArrival extends UdpPeer {
	/** True when the datagram was sent to a multicast group (the socket was bound to that group). */
	multicast: boolean;
}

export interface UdpBindOptions {
	/** Local port; 0 or absent: an ephemeral port chosen by the host. */
	port?: number;
	/**
	 * Local address. "::" (default) receives unicast and multicast; a multicast group address
	 * receives only datagrams sent to that group, which is how a server tells multicast requests
	 * apart (RFC 7252 §8.2) on hosts that cannot report the destination address.
	 */
	address?: string;
	/** Interface to bind to (link-local scope, and the interface for multicast). */
	zone?: string;
	/** Allow several sockets on one port (unicast socket plus group sockets). */
	reuseAddress?: boolean;
	/**
	 * Called once per datagram. `data` is a view into a receive buffer that the host may reuse
	 * after the call returns: copy what must outlive the call.
	 */
	onDatagram(data: Uint8Array, from: UdpArrival): void;
	/** Asynchronous socket errors. */
	onError?(error: Error): void;
	/** ICMPv6 errors about datagrams this socket sent, on hosts that report them (RFC 4443 §2.4(c)). */
	onIcmpError?(error: IcmpError): void;
}

/** An ICMPv6 error (RFC 4443) about a datagram a socket sent. */
export interface IcmpError {
	type: number;
	code: number;
	/** Destination of the datagram that caused the error. */
	to: UdpPeer;
}

export interface UdpSocket {
	/** Bound local port (known once bind has completed; hosts complete bind before returning). */
	readonly port: number;
	/** Sends data[0..length) (default: all of it); `length` spares relays a subarray view per datagram. */
	send(data: Uint8Array, to: Readonly<UdpPeer>, length?: number): void;
	joinMulticast(group: string, zone?: string): void;
	leaveMulticast(group: string, zone?: string): void;
	/** Idempotent. */
	close(): void;
}

export interface Udp {
	/** Resolves once the socket is bound; rejects (e.g. port in use) with an Error. */
	bind(options: UdpBindOptions): Promise<UdpSocket>;
}

/** A re-armable one-shot timer: arming again replaces the pending expiry, nothing is allocated per arm. */
export interface Timer {
	arm(delayMs: number): void;
	cancel(): void;
	readonly armed: boolean;
}

export interface Clock {
	/** Monotonic milliseconds (not wall-clock time). */
	now(): number;
	/** Wall-clock milliseconds since the Unix epoch (certificate validity, logs). */
	wallTime(): number;
	timer(callback: () => void): Timer;
}

/** Persistent key/value storage for credentials and state (values are opaque bytes). */
export interface Storage {
	get(key: string): Uint8Array | undefined;
	set(key: string, value: Uint8Array): void;
	delete(key: string): void;
	keys(): string[];
}

/** Sending ICMPv6 errors needs privileges most hosts lack, so it is optional. */
export interface Icmp {
	/**
	 * Sends an ICMPv6 error (RFC 4443) back to the source of a UDP datagram this host received:
	 * `about` is that datagram's source, `localPort` its destination port, `payload` its UDP payload
	 * (quoted as far as the minimum MTU allows).
	 */
	sendError(type: number, code: number, about: Readonly<UdpPeer>, localPort: number, payload: Uint8Array): void;
}

export interface Host {
	udp: Udp;
	/** Absent where the host cannot send ICMPv6 (e.g. Node.js without raw sockets). */
	icmp?: Icmp;
	clock: Clock;
	/** Fills `bytes` with cryptographically strong random bytes and returns it. */
	random(bytes: Uint8Array): Uint8Array;
	storage: Storage;
	/** Diagnostics; hosts without a console may drop them. */
	log(level: "debug" | "info" | "warn" | "error", message: string): void;
}
