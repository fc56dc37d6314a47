/*
 * Loaded into xsnap by node-bridge.ts: the pledge (src/pledge) with the noble crypto provider, on a
 * bridged host. Node starts it with a "start" event carrying the identity; the run's result goes back
 * as a "done" request. Nothing may escape a crank (an uncaught exception would end the engine).
 */

import type { UdpPeer } from "../../hosts/host.js";
import { createNobleCrypto } from "../../modules/crypto/noble-provider.js";
import { fromHex } from "../../modules/util/hex.js";
import { Pledge, type PledgeTiming } from "../../src/pledge/pledge.js";
import { ask, createBridgedHost } from "./bridged-host.js";
import { decodeFrame } from "./frame.js";
import type { Event } from "./messages.js";

/** The pledge's options as JSON (DER and keys in hex). */
export interface XsPledgeConfig {
	idevid: string[];
	privateKey: string;
	masaTrustAnchors: string[];
	voucherSigners?: string[];
	interfaces?: string[];
	proxies?: UdpPeer[];
	maxAttempts?: number;
	force?: boolean;
	trustedClock?: boolean;
	timing?: Partial<PledgeTiming>;
}

declare const globalThis: { handleCommand?: (message: ArrayBuffer) => ArrayBuffer };

const bridged = createBridgedHost();
const EMPTY = new ArrayBuffer(0);

function start(c: XsPledgeConfig): void {
	const { host } = bridged;
	const pledge = new Pledge({
		host,
		crypto: createNobleCrypto((b) => host.random(b)),
		idevid: { certificates: c.idevid.map(fromHex), privateKey: fromHex(c.privateKey) },
		masaTrustAnchors: c.masaTrustAnchors.map(fromHex),
		voucherSigners: (c.voucherSigners ?? []).map(fromHex),
		...(c.interfaces !== undefined ? { interfaces: c.interfaces } : {}),
		...(c.proxies !== undefined ? { proxies: c.proxies } : {}),
		...(c.maxAttempts !== undefined ? { maxAttempts: c.maxAttempts } : {}),
		...(c.force !== undefined ? { force: c.force } : {}),
		...(c.trustedClock !== undefined ? { trustedClock: c.trustedClock } : {}),
		...(c.timing !== undefined ? { timing: c.timing } : {}),
		onState: (state, detail) => void ask({ op: "state", state, detail }),
	});
	pledge.run().then(
		({ ldevid, ...result }) => void ask({ op: "done", result }, ldevid),
		(e: unknown) => void ask({ op: "done", result: { outcome: "failed", error: String(e) } }),
	);
}

globalThis.handleCommand = (message: ArrayBuffer): ArrayBuffer => {
	try {
		const { head, payload } = decodeFrame<Event>(new Uint8Array(message));
		bridged.deliver(head, payload);
		if (head.ev === "start") start(head.config as XsPledgeConfig);
	} catch (e) {
		ask({ op: "done", result: { outcome: "failed", error: `inside XS: ${e instanceof Error ? `${e.name}: ${e.message}` : String(e)}` } });
	}
	return EMPTY;
};
