/* Loaded into xsnap by tools/bench/run.ts: the relay harness behind two global entry points. */

import { relayHarness, type RelayHarness } from "./relay-harness.js";
import { handshakeBothEnds, handshakeClientOnly, type Pems } from "./dtls-harness.js";

declare const __FIXTURES__: Record<string, string>;

declare const globalThis: { __bench?: unknown };

const pems: Pems = {
	pledgeCert: __FIXTURES__["cbrski/cert-pledge.pem"]!,
	pledgeKey: __FIXTURES__["cbrski/key-pledge.pem"]!,
	registrarCert: __FIXTURES__["cbrski/cert-registrar.pem"]!,
	registrarKey: __FIXTURES__["cbrski/key-registrar.pem"]!,
	domainCa: __FIXTURES__["cbrski/cert-domain_ca.pem"]!,
	masaCa: __FIXTURES__["cbrski/cert-masa_ca.pem"]!,
};
let recorded: Uint8Array[] = [];

let harness: RelayHarness | undefined;
let error = "";

globalThis.__bench = {
	setup(mode: "stateful" | "stateless"): void {
		harness = undefined;
		relayHarness(mode).then(
			(h) => (harness = h),
			(e: unknown) => (error = String(e)),
		);
	},
	/** A full handshake, both ends in XS; keeps the server's datagrams for clientOnly(). */
	handshake(): void {
		recorded = handshakeBothEnds(pems, 42);
	},
	/** The pledge's side of the same handshake alone. */
	clientOnly(): void {
		handshakeClientOnly(pems, 42, recorded);
	},
	run(count: number): number {
		if (harness === undefined) throw new Error(`relay harness not ready ${error}`);
		return harness.run(count);
	},
};
