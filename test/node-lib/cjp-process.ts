/*
 * `cjp` subcommands (joinproxy, jpy-bridge, coap serve) as processes inside test namespaces: start and
 * wait for a line of their log, read stats() (SIGUSR1), and stop with SIGTERM while timing the exit.
 * `ip netns exec` execs the command, so the child's pid is cjp's own (for RSS and `ss -p`).
 */

import type { ChildProcess } from "node:child_process";
import { fileURLToPath } from "node:url";
import type { Namespaces } from "./netns.js";

export const CJP = fileURLToPath(new URL("../../bin/cjp.js", import.meta.url));

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

export interface CjpProcess {
	child: ChildProcess;
	out(): string;
	err(): string;
}

/** Starts `cjp ARGS` in `ns` and waits until `ready` appears in its log (stderr). */
export async function startCjp(net: Namespaces, ns: string, args: string[], ready: string, timeoutMs = 20_000): Promise<CjpProcess> {
	const child = net.spawn(ns, process.execPath, [CJP, ...args]);
	let out = "";
	let err = "";
	child.stdout!.on("data", (d: Buffer) => (out += d.toString()));
	child.stderr!.on("data", (d: Buffer) => (err += d.toString()));
	const deadline = Date.now() + timeoutMs;
	while (!err.includes(ready)) {
		if (child.exitCode !== null || Date.now() > deadline) throw new Error(`cjp ${args.join(" ")} did not become ready:\n${err}${out}`);
		await sleep(50);
	}
	return { child, out: () => out, err: () => err };
}

/** The stats() JSON a cjp server prints on SIGUSR1. */
export async function cjpStats(p: CjpProcess, timeoutMs = 5000): Promise<Record<string, any>> {
	const lines = (): string[] => p.out().split("\n").filter((l) => l.startsWith("{"));
	const before = lines().length;
	p.child.kill("SIGUSR1");
	const deadline = Date.now() + timeoutMs;
	for (;;) {
		const now = lines();
		if (now.length > before) return JSON.parse(now[now.length - 1]!);
		if (Date.now() > deadline) throw new Error("no stats line after SIGUSR1");
		await sleep(50);
	}
}

export interface Stopped {
	/** Milliseconds from SIGTERM to exit (or to the SIGKILL that ended it). */
	ms: number;
	code: number | null;
	signal: NodeJS.Signals | null;
	/** SIGTERM alone did not end it within killAfterMs. */
	killed: boolean;
}

/** Sends SIGTERM and times the exit; SIGKILL after killAfterMs. */
export async function stopTimed(p: CjpProcess, killAfterMs = 5000): Promise<Stopped> {
	const child = p.child;
	if (child.exitCode !== null || child.signalCode !== null) return { ms: 0, code: child.exitCode, signal: child.signalCode, killed: false };
	const started = performance.now();
	const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((r) => child.once("exit", (code, signal) => r({ code, signal })));
	child.kill("SIGTERM");
	let killed = false;
	const t = setTimeout(() => {
		killed = true;
		child.kill("SIGKILL");
	}, killAfterMs);
	const { code, signal } = await exited;
	clearTimeout(t);
	return { ms: Math.round(performance.now() - started), code, signal, killed };
}
