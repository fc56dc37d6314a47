/*
 * XS heap use from Moddable's instrumentation (an `mcconfig -i` build; undefined otherwise): slot
 * and chunk heap in use (bytes, garbage included until the next collection), keys, collections,
 * and the deepest stack since the runtime's last sample (bytes).
 * lin samples them when asked; on a device the same names are served by modInstrumentation.
 */

import Instrumentation from "instrumentation";

const SAMPLES = Object.freeze({ slotBytes: "XS Slot Heap Used", chunkBytes: "XS Chunk Heap Used", keys: "XS Keys Used", gc: "XS Garbage Collection Count", stackBytes: "XS Stack Used" } as const);

export type MemorySample = Record<keyof typeof SAMPLES, number>;

/** The heap figures now, or undefined in a build without instrumentation. */
export function sampleMemory(): MemorySample | undefined {
	const out: MemorySample = { slotBytes: 0, chunkBytes: 0, keys: 0, gc: 0, stackBytes: 0 };
	for (const [field, name] of Object.entries(SAMPLES) as [keyof typeof SAMPLES, (typeof SAMPLES)[keyof typeof SAMPLES]][]) {
		const value = Instrumentation.get(Instrumentation.map(name));
		if (value === undefined) return undefined;
		out[field] = value;
	}
	return out;
}
