/*
 * The xsnap-worker binary of @agoric/xsnap, spoken to directly: netstrings on fd 3 (to XS) and fd 4
 * (from XS), one crank per message. @agoric/xsnap's own API needs SES (@endo/init), which hardens the
 * whole Node process and so breaks libraries that extend intrinsics (reflect-metadata under
 * @peculiar/x509, which the Registrar issues LDevIDs with); this driver needs nothing of the kind, so
 * an XS engine can share a process with the Registrar, the join proxy or a test runner.
 *
 * Protocol (xsnap-worker.c): we send `e<script>` (evaluate) or `?<bytes>` (calls the script's global
 * handleCommand(ArrayBuffer)); XS answers `.<meter JSON>\x01<reply>` or `!<error>`, and in between may
 * send `?<bytes>` (its issueCommand(ArrayBuffer)), which blocks XS until we answer `/<bytes>`.
 */

import { spawn, type ChildProcess } from "node:child_process";
import { fileURLToPath } from "node:url";
import type { Readable, Writable } from "node:stream";

/** xsnap's meter for one crank. */
export interface CrankMeter {
	/** Work done in the crank (deterministic). */
	compute: number;
	/** Bytes the machine has reserved so far (grows with the heap). */
	allocate: number;
	/** Slots in use at the end of the crank. */
	heapCount: number;
}

export interface XsnapOptions {
	/**
	 * Answers the script's issueCommand(ArrayBuffer); XS waits for the answer, so it may be computed
	 * asynchronously but must not wait for a crank of this engine.
	 */
	onCommand(bytes: Uint8Array): Uint8Array | Promise<Uint8Array>;
	/** XS `print` output: shown (default) or dropped. */
	stdout?: "inherit" | "ignore";
}

export interface XsnapProcess {
	/** Evaluates a script in one crank. */
	evaluate(source: string): Promise<CrankMeter & { reply: Uint8Array }>;
	/** Calls the script's global handleCommand with `bytes` in one crank; resolves with what it returned (an ArrayBuffer). */
	command(bytes: Uint8Array): Promise<CrankMeter & { reply: Uint8Array }>;
	/** Idempotent. */
	close(): Promise<void>;
}

const BINARY = fileURLToPath(new URL("../../node_modules/@agoric/xsnap/xsnap-native/xsnap/build/bin/lin/release/xsnap-worker", import.meta.url));
const OK = 0x2e; // "."
const ERROR = 0x21; // "!"
const QUERY = 0x3f; // "?"
const METER_END = 0x01;

function netstring(prefix: number, body: Uint8Array): Buffer {
	const head = Buffer.from(`${body.length + 1}:`, "latin1");
	return Buffer.concat([head, Buffer.of(prefix), body, Buffer.from(",")]);
}

export async function startXsnap(options: XsnapOptions): Promise<XsnapProcess> {
	const child: ChildProcess = spawn(BINARY, ["cjp"], { stdio: ["ignore", options.stdout ?? "inherit", "inherit", "pipe", "pipe"] });
	const toXs = child.stdio[3] as Writable;
	const fromXs = child.stdio[4] as Readable;
	let exited: Error | undefined;
	let pending: { resolve(v: CrankMeter & { reply: Uint8Array }): void; reject(e: Error): void } | undefined;
	/** Cranks wait their turn: XS reads one message at a time and answers it before the next. */
	let baton: Promise<unknown> = Promise.resolve();

	const fail = (e: Error): void => {
		exited ??= e;
		pending?.reject(e);
		pending = undefined;
	};
	child.on("error", fail);
	child.on("exit", (code, signal) => fail(new Error(`xsnap-worker exited (${signal ?? `code ${code}`})`)));
	toXs.on("error", fail);

	const onMessage = async (m: Buffer): Promise<void> => {
		if (m[0] === QUERY) {
			let answer: Uint8Array;
			try {
				answer = await options.onCommand(new Uint8Array(m.buffer, m.byteOffset + 1, m.length - 1));
			} catch (e) {
				child.kill("SIGKILL");
				fail(e instanceof Error ? e : new Error(String(e)));
				return;
			}
			toXs.write(netstring(0x2f, answer)); // "/"
			return;
		}
		const p = pending;
		pending = undefined;
		if (p === undefined) return fail(new Error("xsnap-worker answered with no crank under way"));
		if (m[0] === ERROR) return p.reject(new Error(`uncaught exception in XS: ${m.subarray(1).toString("utf8")}`));
		if (m[0] !== OK) return p.reject(new Error(`xsnap protocol error: ${m.subarray(0, 40).toString("latin1")}`));
		const sep = m.indexOf(METER_END, 1);
		const meter = sep < 0 ? {} : (JSON.parse(m.subarray(1, sep).toString("utf8")) as { compute?: number; allocate?: number; currentHeapCount?: number });
		p.resolve({ compute: meter.compute ?? 0, allocate: meter.allocate ?? 0, heapCount: meter.currentHeapCount ?? 0, reply: new Uint8Array(m.subarray(sep < 0 ? 1 : sep + 1)) });
	};

	// Netstrings "<length>:<body>," from fd 4; handled strictly in order.
	let buffered: Buffer = Buffer.alloc(0);
	let chain: Promise<void> = Promise.resolve();
	fromXs.on("data", (chunk: Buffer) => {
		buffered = buffered.length === 0 ? chunk : Buffer.concat([buffered, chunk]);
		for (;;) {
			const colon = buffered.indexOf(0x3a);
			if (colon < 0) break;
			const length = Number(buffered.subarray(0, colon).toString("latin1"));
			if (!Number.isSafeInteger(length)) return fail(new Error("xsnap protocol error: bad netstring length"));
			if (buffered.length < colon + 1 + length + 1) break;
			const body = buffered.subarray(colon + 1, colon + 1 + length);
			buffered = buffered.subarray(colon + 1 + length + 1);
			chain = chain.then(() => onMessage(body));
		}
	});

	const crank = (prefix: number, body: Uint8Array): Promise<CrankMeter & { reply: Uint8Array }> => {
		const run = baton.then(
			() =>
				new Promise<CrankMeter & { reply: Uint8Array }>((resolve, reject) => {
					if (exited !== undefined) return reject(exited);
					pending = { resolve, reject };
					toXs.write(netstring(prefix, body));
				}),
		);
		baton = run.catch(() => {});
		return run;
	};

	let closing: Promise<void> | undefined;
	return {
		evaluate: (source) => crank(0x65, Buffer.from(source, "utf8")), // "e"
		command: (bytes) => crank(QUERY, bytes),
		close: () =>
			(closing ??= new Promise<void>((resolve) => {
				if (child.exitCode !== null || child.signalCode !== null) return resolve();
				child.once("exit", () => resolve());
				toXs.end(); // EOF on fd 3 ends the worker's loop
				setTimeout(() => child.kill("SIGKILL"), 2000).unref();
			})),
	};
}
