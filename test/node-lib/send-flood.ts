/*
 * Run inside a network namespace by test/node-host.test.ts (and by hand for the flood figures):
 * one Node host socket on a veth floods a link-local address nobody owns (neighbour discovery
 * fails, the kernel queues, the send buffer fills), while a live peer on the same link must still
 * get datagrams. Prints one JSON line with counters, memory and timings; host log lines go to stderr.
 *
 * Arguments (JSON in argv[2]): see FloodPlan.
 */

import { createNodeHost } from "../../hosts/node/index.js";
import type { NodeUdpSocket } from "../../hosts/node/index.js";

export interface FloodPlan {
	zone: string;
	dead: string;
	live: string;
	livePort: number;
	count: number;
	size: number;
	maxPendingSends: number;
	sendBufferBytes?: number;
	/** Stop waiting for the live peer's echo after this long. */
	liveWaitMs: number;
	closeGraceMs: number;
}

export interface FloodResult {
	rssBeforeMB: number;
	rssAfterMB: number;
	heapAfterMB: number;
	floodMs: number;
	/** From the first live send after the flood to the echo, or -1 when none came. */
	liveMs: number;
	liveTries: number;
	stats: ReturnType<NodeUdpSocket["stats"]>;
	pendingAtClose: number;
	closeMs: number;
}

const plan = JSON.parse(process.argv[2]!) as FloodPlan;
const gc = (globalThis as { gc?: () => void }).gc;
const rss = (): number => {
	gc?.();
	return Math.round((process.memoryUsage().rss / 2 ** 20) * 10) / 10;
};
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

const host = createNodeHost({
	logLevel: "info",
	udp: { maxPendingSends: plan.maxPendingSends, closeGraceMs: plan.closeGraceMs, warnIntervalMs: 1000, ...(plan.sendBufferBytes !== undefined ? { sendBufferBytes: plan.sendBufferBytes } : {}) },
});
let echoed = -1;
const socket = (await host.udp.bind({ zone: plan.zone, onDatagram: (d) => (echoed = d[0]!) })) as NodeUdpSocket;
const rssBefore = rss();
const out = new Uint8Array(plan.size);
const dead = { address: plan.dead, port: 5684, zone: plan.zone };
const live = { address: plan.live, port: plan.livePort, zone: plan.zone };

// The flood reuses one buffer, as a relay does; 100 sends per turn of the event loop.
const t0 = performance.now();
for (let i = 0; i < plan.count; i++) {
	out[0] = i & 0xff;
	socket.send(out, dead);
	if (i % 100 === 99) await new Promise((r) => setImmediate(r));
}
const floodMs = performance.now() - t0;

// The live peer echoes; try every 100 ms (a drop is a lost datagram, as for any UDP sender).
const t1 = performance.now();
let tries = 0;
const marker = new Uint8Array([0x4c]);
while (echoed !== 0x4c && performance.now() - t1 < plan.liveWaitMs) {
	tries++;
	socket.send(marker, live);
	await sleep(100);
}
const liveMs = echoed === 0x4c ? performance.now() - t1 : -1;
const rssAfter = rss();
const heapAfter = Math.round((process.memoryUsage().heapUsed / 2 ** 20) * 10) / 10;

// Pending sends toward the dead neighbour again, then close: it must not wait for them.
for (let i = 0; i < plan.count; i++) socket.send(out, dead);
const pendingAtClose = socket.stats().pending;
const t2 = performance.now();
socket.close();
const closed = new Promise<void>((resolve) => {
	const poll = setInterval(() => {
		if (socket.stats().pending === 0) {
			clearInterval(poll);
			resolve();
		}
	}, 5);
});
await closed;
const result: FloodResult = {
	rssBeforeMB: rssBefore,
	rssAfterMB: rssAfter,
	heapAfterMB: heapAfter,
	floodMs: Math.round(floodMs),
	liveMs: Math.round(liveMs),
	liveTries: tries,
	stats: socket.stats(),
	pendingAtClose,
	closeMs: Math.round(performance.now() - t2),
};
process.stdout.write(`${JSON.stringify(result)}\n`);
process.on("exit", () => process.stderr.write(`exit after ${Math.round(performance.now() - t2)} ms\n`));
