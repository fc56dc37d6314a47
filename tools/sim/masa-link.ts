/*
 * The Registrar-MASA leg of the simulation: the in-process MASA behind a modelled Internet path on
 * the virtual clock. Each voucher request waits one TCP + TLS 1.3 set-up (2 round trips: SYN/SYN-ACK,
 * then the TLS 1.3 handshake, RFC 8446 §2), then the request's and the answer's serialization at the
 * path's rate, each after one one-way latency. Plain HTTP/TLS framing overhead is not modelled.
 */

import type { Clock } from "../../hosts/host.js";
import type { MasaClient } from "../../src/registrar/masa-client.js";

export interface MasaPath {
	/** One-way latency (default 40 ms: a continental Internet path). */
	latencyMs?: number;
	/** Bottleneck rate (default 10 Mbit/s). */
	bitsPerSecond?: number;
}

const SETUP_ROUND_TRIPS = 2;

export function linkedMasaClient(inner: MasaClient, clock: Clock, path: MasaPath = {}): MasaClient {
	const latency = path.latencyMs ?? 40;
	const bitsPerMs = (path.bitsPerSecond ?? 10e6) / 1000;
	const wait = (ms: number): Promise<void> => new Promise((resolve) => clock.timer(resolve).arm(ms));
	return {
		requestVoucher: async (call) => {
			await wait(SETUP_ROUND_TRIPS * 2 * latency + latency + (call.rvr.length * 8) / bitsPerMs);
			const answer = await inner.requestVoucher(call);
			await wait(latency + (answer.body.length * 8) / bitsPerMs);
			return answer;
		},
		close: () => inner.close?.(),
	};
}
