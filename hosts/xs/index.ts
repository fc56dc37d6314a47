/*
 * The host of the XS test lane (and of the simulator): a node of a MemoryNetwork, a ManualClock,
 * seeded randomness and memory storage. Everything is deterministic, so a failing run replays.
 */

import type { Host } from "../host.js";
import { ManualClock } from "./manual-clock.js";
import { MemoryNetwork, type InterfaceConfig } from "./memory-network.js";
import { MemoryStorage } from "./memory-storage.js";
import { SeededRandom } from "./seeded-random.js";

export { ManualClock } from "./manual-clock.js";
export { MemoryNetwork, MemoryNode } from "./memory-network.js";
export type { InFlight, InterfaceConfig } from "./memory-network.js";
export { MemoryStorage } from "./memory-storage.js";
export { SeededRandom } from "./seeded-random.js";

export interface XsHostOptions {
	network: MemoryNetwork;
	name: string;
	interfaces: InterfaceConfig[];
	seed?: number;
	/** Receives log lines; default: dropped. */
	log?: Host["log"];
}

export function createXsHost(options: XsHostOptions): Host & { clock: ManualClock } {
	const node = options.network.node(options.name, options.interfaces);
	const rng = new SeededRandom(options.seed ?? hashName(options.name));
	return {
		udp: node.udp,
		icmp: node.icmp,
		clock: options.network.clock,
		random: (bytes) => rng.fill(bytes),
		storage: new MemoryStorage(),
		log: options.log ?? (() => {}),
	};
}

function hashName(name: string): number {
	let h = 2166136261; // FNV-1a
	for (let i = 0; i < name.length; i++) h = Math.imul(h ^ name.charCodeAt(i), 16777619) >>> 0;
	return h;
}
