/* Storage kept in memory: for tests, the simulator, and devices that re-enrol on every boot. */

import type { Storage } from "../host.js";

export class MemoryStorage implements Storage {
	#map = new Map<string, Uint8Array>();

	get(key: string): Uint8Array | undefined {
		const v = this.#map.get(key);
		return v === undefined ? undefined : v.slice();
	}

	set(key: string, value: Uint8Array): void {
		this.#map.set(key, value.slice());
	}

	delete(key: string): void {
		this.#map.delete(key);
	}

	keys(): string[] {
		return [...this.#map.keys()];
	}
}
