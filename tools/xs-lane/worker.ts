/*
 * A real XS engine (xsnap from @agoric/xsnap) to run bundled scripts in. Its API needs the SES
 * lockdown of @endo/init, which hardens the whole Node process: only tools that run in a process of
 * their own (the XS lane, the benchmarks) may call this, never the ordinary test runner.
 */

import { spawn } from "node:child_process";
import * as fs from "node:fs";
import * as fsp from "node:fs/promises";
import os from "node:os";
import type { XSnapWorker } from "@agoric/xsnap";

export interface XsWorker {
	/**
	 * Evaluates a script; resolves with the crank's meter readings: `compute` (work done in the
	 * crank, deterministic), `allocate` (bytes the machine has reserved so far) and `heapCount`
	 * (slots in use at the end of the crank).
	 */
	evaluate(source: string): Promise<{ compute: number; allocate: number; heapCount: number }>;
	/** Resolves with the next message the script sends with issueCommand(ArrayBuffer), parsed as JSON. */
	nextMessage<T>(timeoutMs: number): Promise<T>;
	close(): Promise<void>;
}

export async function startXsWorker(): Promise<XsWorker> {
	await import("@endo/init");
	const tmp = await import("tmp");
	const { xsnap } = await import("@agoric/xsnap");
	const inbox: unknown[] = [];
	let wake: (() => void) | undefined;
	const worker: XSnapWorker = await xsnap({
		os: os.type(),
		spawn,
		fs: { ...fsp, createReadStream: fs.createReadStream, tmpName: tmp.tmpName },
		meteringLimit: 0,
		stdout: "inherit",
		stderr: "inherit",
		handleCommand: async (bytes: Uint8Array) => {
			inbox.push(JSON.parse(new TextDecoder().decode(bytes)));
			wake?.();
			return new Uint8Array(0);
		},
	});
	return {
		async evaluate(source) {
			const { meterUsage } = await worker.evaluate(source);
			return { compute: meterUsage.compute, allocate: meterUsage.allocate, heapCount: meterUsage.currentHeapCount };
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
		close: () => worker.close().catch(() => {}),
	};
}
