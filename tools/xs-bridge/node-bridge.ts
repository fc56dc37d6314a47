/*
 * The Node side of the XS pledge bridge: runs src/pledge inside xsnap (pledge-entry.ts) and gives it
 * a backend Host's sockets, timers, randomness and storage: hosts/node for real interfaces, or a
 * hosts/xs node of an in-memory network for deterministic runs. Everything the backend reports
 * (a datagram, an expiry, a socket error) becomes one crank, stamped with the backend's clock.
 */

import { fileURLToPath } from "node:url";
import type { Host, Timer, UdpSocket } from "../../hosts/host.js";
import { toHex } from "../../modules/util/hex.js";
import { buildXsBundle } from "../xs-lane/bundle.js";
import { startXsnap, type CrankMeter, type XsnapProcess } from "../xs-lane/xsnap-process.js";
import { decodeFrame, encodeFrame } from "./frame.js";
import type { Event, Request } from "./messages.js";
import type { XsPledgeConfig } from "./pledge-entry.js";
import type { PledgeOptions } from "../../src/pledge/pledge.js";

export type { XsPledgeConfig } from "./pledge-entry.js";

type EventBody = Event extends infer E ? (E extends Event ? Omit<E, "now" | "wall"> : never) : never;

export interface XsPledgeBridgeOptions {
	backend: Host;
	onState?(state: string, detail: string): void;
	/** Every crank's meter (benchmarks). */
	onCrank?(meter: CrankMeter): void;
	/** XS `print` output (default: dropped). */
	stdout?: "inherit" | "ignore";
}

export interface XsPledgeOutcome {
	/** The pledge's PledgeResult without the LDevID. */
	result: { outcome: string; error?: string } & Record<string, unknown>;
	ldevid?: Uint8Array;
}

const EMPTY = new Uint8Array(0);

/** The JSON form of pledge options for the engine (what a host and crypto provider are not). */
export function xsPledgeConfig(o: Omit<PledgeOptions, "host" | "crypto" | "onState">): XsPledgeConfig {
	return {
		idevid: o.idevid.certificates.map(toHex),
		privateKey: toHex(o.idevid.privateKey),
		masaTrustAnchors: o.masaTrustAnchors.map(toHex),
		...(o.voucherSigners !== undefined ? { voucherSigners: o.voucherSigners.map(toHex) } : {}),
		...(o.interfaces !== undefined ? { interfaces: o.interfaces } : {}),
		...(o.proxies !== undefined ? { proxies: o.proxies.map((p) => ({ address: p.address, port: p.port, zone: p.zone })) } : {}),
		...(o.maxAttempts !== undefined ? { maxAttempts: o.maxAttempts } : {}),
		...(o.force !== undefined ? { force: o.force } : {}),
		...(o.trustedClock !== undefined ? { trustedClock: o.trustedClock } : {}),
		...(o.timing !== undefined ? { timing: o.timing } : {}),
	};
}
const ENTRY = fileURLToPath(new URL("./pledge-entry.ts", import.meta.url));

export class XsPledgeBridge {
	readonly #o: XsPledgeBridgeOptions;
	readonly #xs: XsnapProcess;
	readonly #sockets = new Map<number, UdpSocket>();
	readonly #timers = new Map<number, { timer: Timer; gen: number }>();
	#nextSocket = 1;
	#busy = 0;
	#idle: (() => void)[] = [];
	#done: ((o: XsPledgeOutcome) => void) | undefined;
	#failed: ((e: Error) => void) | undefined;
	#closed = false;

	private constructor(options: XsPledgeBridgeOptions, xs: XsnapProcess) {
		this.#o = options;
		this.#xs = xs;
	}

	static async start(options: XsPledgeBridgeOptions): Promise<XsPledgeBridge> {
		let self: XsPledgeBridge | undefined;
		const xs = await startXsnap({ stdout: options.stdout ?? "ignore", onCommand: (bytes) => self!.#onRequest(bytes) });
		self = new XsPledgeBridge(options, xs);
		try {
			self.#metered(await xs.evaluate(await buildXsBundle(ENTRY, { fixtures: false })));
		} catch (e) {
			await xs.close();
			throw e;
		}
		return self;
	}

	/** Cranks queued or running. */
	get busy(): number {
		return this.#busy;
	}

	/** Resolves once no crank is queued or running. */
	idle(): Promise<void> {
		return this.#busy === 0 ? Promise.resolve() : new Promise((resolve) => this.#idle.push(resolve));
	}

	/** Evaluates a script in the engine, in turn with the events (benchmarks: gc(), heap readings). */
	evaluate(source: string): Promise<CrankMeter> {
		return this.#xs.evaluate(source);
	}

	/** Starts the pledge with `config` and the backend's storage; resolves with its result (never rejects for onboarding failures). */
	run(config: XsPledgeConfig): Promise<XsPledgeOutcome> {
		const { storage } = this.#o.backend;
		const snapshot: Record<string, string> = {};
		for (const key of storage.keys()) snapshot[key] = toHex(storage.get(key)!);
		const done = new Promise<XsPledgeOutcome>((resolve, reject) => {
			this.#done = resolve;
			this.#failed = reject;
		});
		this.#deliver({ ev: "start", config, storage: snapshot });
		return done;
	}

	/** Idempotent: the backend's sockets and timers, and the engine; a run under way rejects. */
	async close(): Promise<void> {
		if (this.#closed) return;
		this.#closed = true;
		this.#failed?.(new Error("stopped"));
		for (const s of this.#sockets.values()) s.close();
		for (const t of this.#timers.values()) t.timer.cancel();
		this.#sockets.clear();
		await this.#xs.close();
	}

	#metered(m: CrankMeter): void {
		this.#o.onCrank?.({ compute: m.compute, allocate: m.allocate, heapCount: m.heapCount });
	}

	#deliver(event: EventBody, payload: Uint8Array = EMPTY): void {
		if (this.#closed) return;
		const { clock } = this.#o.backend;
		// Encoded (and so copied) now: the backend may reuse `payload` once this returns.
		const frame = encodeFrame({ ...event, now: clock.now(), wall: clock.wallTime() }, payload);
		this.#busy++;
		this.#xs.command(frame).then(
			(m) => this.#metered(m),
			(e: Error) => this.#failed?.(e),
		).finally(() => {
			if (--this.#busy === 0) for (const wake of this.#idle.splice(0)) wake();
		});
	}

	async #onRequest(bytes: Uint8Array): Promise<Uint8Array> {
		const { head: r, payload } = decodeFrame<Request>(bytes);
		const { backend } = this.#o;
		switch (r.op) {
			case "bind": {
				const id = this.#nextSocket++;
				try {
					const { op: _op, ...where } = r;
					const s = await backend.udp.bind({
						...where,
						onDatagram: (data, from) => this.#deliver({ ev: "datagram", socket: id, from: { address: from.address, port: from.port, zone: from.zone }, multicast: from.multicast }, data),
						onError: (e) => this.#deliver({ ev: "error", socket: id, message: e.message }),
						onIcmpError: (e) => this.#deliver({ ev: "icmp", socket: id, type: e.type, code: e.code, to: { ...e.to } }),
					});
					this.#sockets.set(id, s);
					return encodeFrame({ socket: id, port: s.port });
				} catch (e) {
					return encodeFrame({ error: e instanceof Error ? e.message : String(e) });
				}
			}
			case "send":
				this.#sockets.get(r.socket)?.send(payload.slice(), r.to);
				break;
			case "join":
				this.#sockets.get(r.socket)?.joinMulticast(r.group, r.zone);
				break;
			case "leave":
				this.#sockets.get(r.socket)?.leaveMulticast(r.group, r.zone);
				break;
			case "close":
				this.#sockets.get(r.socket)?.close();
				this.#sockets.delete(r.socket);
				break;
			case "arm": {
				let t = this.#timers.get(r.timer);
				if (t === undefined) {
					const entry = { gen: 0, timer: backend.clock.timer(() => this.#deliver({ ev: "timer", timer: r.timer, gen: entry.gen })) };
					this.#timers.set(r.timer, (t = entry));
				}
				t.gen = r.gen;
				// `due` is on the clock XS was told when its crank was queued; time has moved since.
				t.timer.arm(Math.max(0, r.due - backend.clock.now()));
				break;
			}
			case "cancel":
				this.#timers.get(r.timer)?.timer.cancel();
				break;
			case "random":
				return backend.random(new Uint8Array(r.length));
			case "store":
				backend.storage.set(r.key, payload.slice());
				break;
			case "unstore":
				backend.storage.delete(r.key);
				break;
			case "log":
				backend.log(r.level, r.message);
				break;
			case "state":
				this.#o.onState?.(r.state, r.detail);
				break;
			case "done":
				this.#done?.({ result: r.result as XsPledgeOutcome["result"], ...(payload.length > 0 ? { ldevid: payload.slice() } : {}) });
				break;
		}
		return EMPTY;
	}
}
