/* A MASA in process (src/masa MasaService) that the test can take down or slow down. */

import { MasaUnreachableError, type InProcessMasa } from "../../src/registrar/masa-client.js";

export class FlakyMasa implements InProcessMasa {
	/** Calls reject as a refused connection would. */
	down = false;
	/** Calls answer this much later (real time). */
	delayMs = 0;
	calls = 0;
	/** Answers with this HTTP status (plain text) instead of asking the MASA. */
	refuse: number | undefined;
	/** Replaces the body of a 200 answer (a MASA, or someone in its place, signing differently). */
	rewrite: ((voucher: Uint8Array) => Uint8Array) | undefined;
	readonly #inner: InProcessMasa;

	constructor(inner: InProcessMasa) {
		this.#inner = inner;
	}

	async requestVoucher(rvr: Uint8Array, context: { clientCertificate?: Uint8Array }): Promise<{ status: number; contentType: string; body: Uint8Array }> {
		this.calls++;
		if (this.delayMs > 0) await new Promise((r) => setTimeout(r, this.delayMs));
		if (this.down) throw new MasaUnreachableError("connect ECONNREFUSED (the test took the MASA down)");
		if (this.refuse !== undefined) return { status: this.refuse, contentType: "text/plain", body: new TextEncoder().encode("refused by the test") };
		const a = await this.#inner.requestVoucher(rvr, context);
		return this.rewrite !== undefined && a.status === 200 ? { ...a, body: this.rewrite(a.body) } : a;
	}
}
