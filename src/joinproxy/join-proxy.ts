/*
 * The Join Proxy role (draft-ietf-anima-constrained-join-proxy-20): decides its mode and Registrars
 * (configuration first, else discovery, §4.1 and §5.1), opens a join-port per Registrar offered on
 * every pledge-facing interface, answers pledges' discovery (§5.2), and relays statefully or
 * statelessly. With neither configuration nor a discovered Registrar it does not act as a proxy.
 */

import type { Host, Timer, UdpPeer, UdpSocket } from "../../hosts/host.js";
import { ALL_COAP_NODES_LINK_LOCAL, COAP_PORT } from "../../modules/coap/constants.js";
import { CoapRouter } from "../../modules/coap/router.js";
import { openUdpCoap, type UdpCoap } from "../../modules/coap/udp-endpoint.js";
import { HEADER_BYTES, JpyHeaderCodec, MAX_INTERFACE_INDEX } from "../../modules/jpy/header.js";
import { jpyOverhead } from "../../modules/jpy/message.js";
import { DropWatch } from "./drop-watch.js";
import { IcmpLimiter } from "./icmp-limiter.js";
import { parseLinkLocal } from "./pledge-address.js";
import { PledgeGate } from "./pledge-gate.js";
import { discoverRegistrars, type RegistrarEntry, type RelayMode } from "./registrar-discovery.js";
import { SLOT_BYTES } from "./slot-table.js";
import { DEFAULT_MAX_PER_INTERFACE, StatefulRelay } from "./stateful-relay.js";
import { StatelessRelay } from "./stateless-relay.js";
import type { SourceRateOptions } from "./source-limiter.js";
import { newCounters, type JoinProxyCounters } from "./stats.js";

/** Join-port when none is configured (cBRSKI uses 5684-like examples; any port works, it is discovered). */
export const DEFAULT_JOIN_PORT = 5684;
/** Draft §4.5.5: rotate the header key infrequently, e.g. every 24 hours. */
export const DEFAULT_KEY_ROTATION_MS = 24 * 3600_000;
/** How long headers of the previous key still open after a rotation. */
export const DEFAULT_KEY_GRACE_MS = 15 * 60_000;
const DEFAULT_DISCOVERY_RETRY_MS = 60_000;
/**
 * How long the proxy may wait before answering a pledge's multicast brski-jp query. RFC 7252 §8.2
 * derives Leisure = S × G / R: a ~30-byte answer, a few proxies in radio range and 250 kbit/s give
 * milliseconds, so 1 s is generous; the 5 s CoAP default would outlast the pledges' 3 s window
 * (src/pledge/discovery.ts) and make them miss the answer.
 */
export const DEFAULT_PLEDGE_DISCOVERY_LEISURE_MS = 1000;

export type ProxyMode = RelayMode | "auto";

export interface PledgeInterface {
	/** Zone (interface name). */
	name: string;
	/**
	 * The interface's link-local unicast address: the join-port and discovery server bind to it, so
	 * datagrams to other (global, multicast) destinations never reach the join-port, and it is never
	 * accepted as a pledge source (draft §4.3; issue 7 item 4). Give it: when absent they bind "::",
	 * and only multicast arrivals (`from.multicast`) can be told apart.
	 */
	address?: string;
}

export interface JoinProxyOptions {
	host: Host;
	/** "auto" (default): the draft's rules; a fixed mode restricts configuration and discovery to it. */
	mode?: ProxyMode;
	pledgeInterfaces: PledgeInterface[];
	/** One join-port per Registrar offered (draft §5.3); default [5684]. */
	joinPorts?: number[];
	/** Configured Registrars override discovery (draft §4.1); entries without a mode take `mode`. */
	registrars?: { address: string; port: number; zone?: string; mode?: RelayMode }[];
	/** Registrar discovery: the Registrar-facing interface for the ff05::fd query; omit to disable. */
	discovery?: { zone: string; group?: string; leisureMs?: number; retryMs?: number };
	/** Answer pledges' GET /.well-known/core?brski-jp=* on port 5683 and ff02::fd (draft §5.2; default true). */
	answerDiscovery?: boolean;
	/** Stateful slots per join-port (default: maxPerInterface × interfaces). */
	capacity?: number;
	maxPerAddress?: number;
	maxPerInterface?: number;
	idleTimeoutMs?: number;
	keyRotationMs?: number;
	keyGraceMs?: number;
	icmpRatePerSecond?: number;
	flowCacheSize?: number;
	/** Multicast leisure of the pledge-facing discovery server. */
	discoveryLeisureMs?: number;
	/** Further addresses of this node never accepted as pledge sources (the pledge interfaces' `address` always are). */
	ownAddresses?: string[];
	/**
	 * The Registrar-facing side: the Registrar-side sockets (stateful pool, stateless JPY socket) bind
	 * to this address and interface instead of "::", so nodes on the pledge link cannot reach them.
	 */
	registrarSide?: { address?: string; zone?: string };
	/** Per pledge source address rate limits, both modes (draft §6). */
	rateLimit?: SourceRateOptions;
	/** At most one drop/refusal warning per this many milliseconds (default 10 s). */
	dropLogPeriodMs?: number;
}

export interface JoinProxyStats extends JoinProxyCounters {
	acting: boolean;
	mode: RelayMode | "none";
	registrars: { address: string; port: number; mode: RelayMode; joinPort: number }[];
	slotsInUse: number;
	slotCapacity: number;
	bytesPerSlot: number;
	keyEpoch: number;
	/** JPY overhead per datagram for a 1024-byte datagram (stateless). */
	jpyOverheadBytes: number;
}

type Relay = StatefulRelay | StatelessRelay;

export class JoinProxy {
	readonly #o: JoinProxyOptions;
	readonly #host: Host;
	readonly #c = newCounters();
	/** Header keys of each stateless relay: a header opens only at the relay that sealed it. */
	readonly #codecs: JpyHeaderCodec[] = [];
	/** Rotations so far (every codec's epoch). */
	#keyEpoch = 0;
	readonly #icmp: IcmpLimiter;
	readonly #watch: DropWatch;
	readonly #gate: PledgeGate;
	readonly #rotation: Timer;
	readonly #grace: Timer;
	readonly #retry: Timer;
	readonly #relays: Relay[] = [];
	readonly #active: { entry: RegistrarEntry; joinPort: number }[] = [];
	readonly #sockets: UdpSocket[] = [];
	readonly #discoveryServers: UdpCoap[] = [];
	#client: UdpCoap | undefined;
	#closed = false;

	private constructor(options: JoinProxyOptions) {
		if (options.pledgeInterfaces.length === 0 || options.pledgeInterfaces.length > MAX_INTERFACE_INDEX + 1) {
			throw new RangeError(`1..${MAX_INTERFACE_INDEX + 1} pledge interfaces`);
		}
		const rotation = options.keyRotationMs ?? DEFAULT_KEY_ROTATION_MS;
		const grace = options.keyGraceMs ?? DEFAULT_KEY_GRACE_MS;
		if (!(rotation > 0 && grace >= 0 && grace < rotation)) throw new RangeError(`the key grace period (${grace} ms) must be shorter than the rotation period (${rotation} ms)`);
		const scratch = new Uint8Array(16);
		for (const i of options.pledgeInterfaces) {
			if (i.address !== undefined && !parseLinkLocal(i.address, scratch)) throw new RangeError(`pledge interface ${i.name}: "${i.address}" is not a link-local (fe80::/64) address`);
		}
		this.#o = options;
		this.#host = options.host;
		this.#icmp = new IcmpLimiter({ host: options.host, counters: this.#c, ratePerSecond: options.icmpRatePerSecond ?? 10 });
		this.#watch = new DropWatch({ host: options.host, counters: this.#c, ...(options.dropLogPeriodMs !== undefined ? { periodMs: options.dropLogPeriodMs } : {}) });
		const own = options.pledgeInterfaces.flatMap((i) => (i.address === undefined ? [] : [i.address]));
		this.#gate = new PledgeGate({ counters: this.#c, watch: this.#watch, ownAddresses: [...own, ...(options.ownAddresses ?? [])], rates: options.rateLimit ?? {}, now: options.host.clock.now() });
		this.#rotation = options.host.clock.timer(() => this.#rotate());
		this.#grace = options.host.clock.timer(() => {
			for (const c of this.#codecs) c.dropPrevious();
		});
		this.#retry = options.host.clock.timer(() => this.#retryDiscovery());
	}

	/**
	 * Starts the proxy. Resolves once it relays, or once it has decided it cannot yet (no Registrar
	 * configured or discovered: it then retries discovery and says so through the host log).
	 */
	static async start(options: JoinProxyOptions): Promise<JoinProxy> {
		const proxy = new JoinProxy(options);
		try {
			const configured = proxy.#configured();
			if (configured.length > 0) {
				await proxy.#activate(configured, "configuration");
			} else if (options.discovery !== undefined) {
				// Bound to the Registrar-facing interface: multicast beyond link scope (ff05::fd) leaves
				// by the socket's interface, not by the scope of the destination address.
				proxy.#client = await openUdpCoap(options.host, { zone: options.discovery.zone });
				await proxy.#discover();
			} else {
				options.host.log("warn", "join proxy: no Registrar configured and discovery disabled: not acting as a Join Proxy (draft §4.1)");
			}
		} catch (e) {
			proxy.close();
			throw e;
		}
		return proxy;
	}

	#mode(): ProxyMode {
		return this.#o.mode ?? "auto";
	}

	#configured(): RegistrarEntry[] {
		const out: RegistrarEntry[] = [];
		for (const r of this.#o.registrars ?? []) {
			const mode = r.mode ?? (this.#mode() === "auto" ? undefined : (this.#mode() as RelayMode));
			if (mode === undefined) throw new RangeError(`Registrar [${r.address}]:${r.port} needs a mode when the proxy mode is "auto"`);
			if (this.#mode() !== "auto" && mode !== this.#mode()) throw new RangeError(`Registrar [${r.address}]:${r.port} is ${mode} but the proxy is ${this.#mode()}`);
			out.push({ mode, address: r.address, port: r.port, zone: r.zone ?? "" });
		}
		return out;
	}

	/** A timer callback: a failed attempt is logged and retried, never an unhandled rejection. */
	#retryDiscovery(): void {
		this.#discover().catch((e: unknown) => {
			if (this.#closed) return;
			this.#host.log("error", `join proxy: Registrar discovery failed (${e instanceof Error ? e.message : String(e)}); retrying`);
			this.#retry.arm(this.#o.discovery?.retryMs ?? DEFAULT_DISCOVERY_RETRY_MS);
		});
	}

	async #discover(): Promise<void> {
		const d = this.#o.discovery;
		if (this.#closed || d === undefined || this.#client === undefined) return;
		const mode = this.#mode();
		const modes: RelayMode[] = mode === "auto" ? ["stateless", "stateful"] : [mode];
		const found = await discoverRegistrars({ endpoint: this.#client.endpoint, zone: d.zone, modes, ...(d.group ? { group: d.group } : {}), ...(d.leisureMs !== undefined ? { leisureMs: d.leisureMs } : {}) });
		if (this.#closed) return;
		if (found.length === 0) {
			this.#host.log("warn", `join proxy: no Registrar answered rt=${modes.map((m) => (m === "stateless" ? "brski.rjp" : "brski")).join(" or rt=")} on ${d.zone}: not acting as a Join Proxy; retrying`);
			this.#retry.arm(d.retryMs ?? DEFAULT_DISCOVERY_RETRY_MS);
			return;
		}
		await this.#activate(found, "discovery");
	}

	async #activate(registrars: RegistrarEntry[], how: string): Promise<void> {
		const joinPorts = this.#o.joinPorts ?? [DEFAULT_JOIN_PORT];
		// Draft §4.6: more Registrars than join-ports: keep the first ones (in answer order).
		const chosen = registrars.slice(0, joinPorts.length);
		const zones = this.#o.pledgeInterfaces.map((i) => i.name);
		const registrarSide = this.#o.registrarSide;
		for (let k = 0; k < chosen.length; k++) {
			const entry = chosen[k]!;
			const joinPort = joinPorts[k]!;
			const pledgeSockets: UdpSocket[] = [];
			const registrar: UdpPeer = { address: entry.address, port: entry.port, zone: entry.zone };
			const relay: Relay =
				entry.mode === "stateful"
					? await StatefulRelay.open({
							host: this.#host,
							registrar,
							pledgeSockets,
							pledgeZones: zones,
							joinPort,
							counters: this.#c,
							capacity: this.#o.capacity ?? (this.#o.maxPerInterface ?? DEFAULT_MAX_PER_INTERFACE) * zones.length,
							icmpLimiter: this.#icmp,
							gate: this.#gate,
							watch: this.#watch,
							...(registrarSide !== undefined ? { registrarSide } : {}),
							...(this.#o.maxPerAddress !== undefined ? { maxPerAddress: this.#o.maxPerAddress } : {}),
							...(this.#o.maxPerInterface !== undefined ? { maxPerInterface: this.#o.maxPerInterface } : {}),
							...(this.#o.idleTimeoutMs !== undefined ? { idleTimeoutMs: this.#o.idleTimeoutMs } : {}),
						})
					: await StatelessRelay.open({
							host: this.#host,
							registrar,
							pledgeSockets,
							pledgeZones: zones,
							codec: this.#newCodec(),
							counters: this.#c,
							gate: this.#gate,
							watch: this.#watch,
							...(registrarSide !== undefined ? { registrarSide } : {}),
							...(this.#o.flowCacheSize !== undefined ? { flowCacheSize: this.#o.flowCacheSize } : {}),
						});
			this.#relays.push(relay);
			for (let ifindex = 0; ifindex < this.#o.pledgeInterfaces.length; ifindex++) {
				const iface = this.#o.pledgeInterfaces[ifindex]!;
				const socket = await this.#host.udp.bind({
					port: joinPort,
					address: iface.address ?? "::",
					zone: iface.name,
					onDatagram: (data, from) => relay.fromPledge(data, from, ifindex),
				});
				pledgeSockets.push(socket);
				this.#sockets.push(socket);
			}
			this.#active.push({ entry, joinPort });
			this.#host.log("info", `join proxy: ${entry.mode} relay to [${entry.address}]:${entry.port} (from ${how}) on join-port ${joinPort}, interfaces ${zones.join(", ")}`);
		}
		if (this.#o.pledgeInterfaces.some((i) => i.address === undefined)) {
			this.#host.log("warn", "join proxy: a join-port bound to [::]: give each pledge interface its link-local address, or global destinations reach the join-port and its own address is not refused");
		}
		if (chosen.some((e) => e.mode === "stateless")) this.#rotation.arm(this.#o.keyRotationMs ?? DEFAULT_KEY_ROTATION_MS);
		if (this.#o.answerDiscovery !== false) await this.#serveDiscovery();
	}

	/** Draft §5.2: `<>;brski-jp=PORT` per join-port, at ff02::fd and unicast, on each pledge interface. */
	async #serveDiscovery(): Promise<void> {
		const router = new CoapRouter();
		for (const a of this.#active) router.addLink({ target: "", attributes: [{ name: "brski-jp", value: String(a.joinPort) }] });
		for (const iface of this.#o.pledgeInterfaces) {
			this.#discoveryServers.push(
				await openUdpCoap(this.#host, {
					port: COAP_PORT,
					address: iface.address ?? "::",
					zone: iface.name,
					groups: [ALL_COAP_NODES_LINK_LOCAL],
					handler: router.handler,
					multicastLeisureMs: this.#o.discoveryLeisureMs ?? DEFAULT_PLEDGE_DISCOVERY_LEISURE_MS,
				}),
			);
		}
	}

	#newCodec(): JpyHeaderCodec {
		const codec = new JpyHeaderCodec({ random: (b) => this.#host.random(b) });
		this.#codecs.push(codec);
		return codec;
	}

	#rotate(): void {
		for (const c of this.#codecs) c.rotate();
		this.#keyEpoch++;
		this.#grace.arm(this.#o.keyGraceMs ?? DEFAULT_KEY_GRACE_MS);
		this.#rotation.arm(this.#o.keyRotationMs ?? DEFAULT_KEY_ROTATION_MS);
		this.#host.log("info", `join proxy: header keys rotated (epoch ${this.#keyEpoch}; headers move to the new keys when the grace period ends)`);
	}

	/** Rotates the header key now (operators, tests); the old key stays valid for the grace period. */
	rotateKey(): void {
		this.#rotate();
	}

	get acting(): boolean {
		return this.#active.length > 0;
	}

	stats(): JoinProxyStats {
		let slotsInUse = 0;
		let slotCapacity = 0;
		for (const r of this.#relays) {
			if (r instanceof StatefulRelay) {
				slotsInUse += r.slotsInUse;
				slotCapacity += r.slotCapacity;
			}
		}
		const modes = new Set(this.#active.map((a) => a.entry.mode));
		return {
			...structuredCounters(this.#c),
			acting: this.acting,
			mode: modes.size === 0 ? "none" : modes.has("stateless") ? "stateless" : "stateful",
			registrars: this.#active.map((a) => ({ address: a.entry.address, port: a.entry.port, mode: a.entry.mode, joinPort: a.joinPort })),
			slotsInUse,
			slotCapacity,
			bytesPerSlot: SLOT_BYTES,
			keyEpoch: this.#keyEpoch,
			jpyOverheadBytes: jpyOverhead(HEADER_BYTES, 1024),
		};
	}

	/** Idempotent: stops timers, closes every socket. */
	close(): void {
		if (this.#closed) return;
		this.#closed = true;
		this.#rotation.cancel();
		this.#grace.cancel();
		this.#retry.cancel();
		this.#watch.close();
		for (const r of this.#relays) r.close();
		for (const s of this.#sockets) s.close();
		for (const d of this.#discoveryServers) d.close();
		this.#client?.close();
		for (const c of this.#codecs) c.dropPrevious();
	}
}

function structuredCounters(c: JoinProxyCounters): JoinProxyCounters {
	return {
		toRegistrar: { ...c.toRegistrar },
		toPledge: { ...c.toPledge },
		drops: { ...c.drops },
		refusals: { ...c.refusals },
		icmp: { ...c.icmp },
	};
}
