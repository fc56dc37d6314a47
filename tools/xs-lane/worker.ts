/*
 * A real XS engine (xsnap from @agoric/xsnap, driven by xsnap-process.ts) to run bundled scripts in,
 * collecting the JSON messages they send with issueCommand(ArrayBuffer).
 */

import { startXsnap, type CrankMeter } from "./xsnap-process.js";

export interface XsWorker {
	/**
	 * Evaluates a script; resolves with the crank's meter readings: `compute` (work done in the
	 * crank, deterministic), `allocate` (bytes the machine has reserved so far) and `heapCount`
	 * (slots in use at the end of the crank).
	 */
	evaluate(source: string): Promise<CrankMeter>;
	/** Resolves with the next message the script sends with issueCommand(ArrayBuffer), parsed as JSON. */
	nextMessage<T>(timeoutMs: number): Promise<T>;
	close(): Promise<void>;
}

export async function startXsWorker(): Promise<XsWorker> {
	const inbox: unknown[] = [];
	let wake: (() => void) | undefined;
	const xs = await startXsnap({
		onCommand: (bytes) => {
			inbox.push(JSON.parse(new TextDecoder().decode(bytes)));
			wake?.();
			return new Uint8Array(0);
		},
	});
	return {
		async evaluate(source) {
			const { compute, allocate, heapCount } = await xs.evaluate(source);
			return { compute, allocate, heapCount };
		},
		async nextMessage<T>(timeoutMs: number): Promise<T> {
			const deadline = Date.now() + timeoutMs;
			while (inbox.length === 0) {
				const left = deadline - Date.now();
				if (left <= 0) throw new Error(`no message from XS within ${timeoutMs} ms`);
				await new Promise<void>((resolve) => {
					wake = resolve;
					setTimeout(resolve, left).unref();
				});
			}
			return inbox.shift() as T;
		},
		close: () => xs.close(),
	};
}
