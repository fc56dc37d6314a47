/*
 * A small stand-in for the MASA (src/masa is being written elsewhere) with MasaService's in-process
 * shape: it checks the RVR's signature with its x5bag signer and the PVR inside it, and answers a
 * voucher for the PVR's serial and nonce pinning the Registrar's domain CA (the RVR x5bag's second
 * certificate), signed by the pki-init'd voucher signer with its chain in the unprotected x5bag.
 * Knobs: `down` (rejects: unreachable), `delayMs`, `status` (an HTTP error instead).
 */

import { readFileSync } from "node:fs";
import { join } from "node:path";
import { createNodeCrypto } from "../../hosts/node/crypto.js";
import { coseCertificates, decodeCoseSign1, encodeCoseSign1, signCoseSign1, verifyCoseSign1 } from "../../modules/cose/sign1.js";
import { pemToDer } from "../../modules/util/base64.js";
import { utf8Encode } from "../../modules/util/utf8.js";
import { Assertion, decodeVoucherRequest, encodeVoucher } from "../../modules/voucher/voucher.js";
import { parseCertificate } from "../../modules/x509/certificate.js";
import { parseEcPrivateKey } from "../../modules/x509/private-key.js";
import { MasaUnreachableError, type InProcessMasa } from "../../src/registrar/masa-client.js";

export class MasaDouble implements InProcessMasa {
	down = false;
	delayMs = 0;
	status: number | undefined;
	calls = 0;
	readonly #key: Uint8Array;
	readonly #chain: Uint8Array[];
	readonly #crypto = createNodeCrypto();

	/** `masaDir`: the pki-init'd masa/ folder. */
	constructor(masaDir: string) {
		this.#key = parseEcPrivateKey(pemToDer(readFileSync(join(masaDir, "voucher-signer.key"), "utf8"))[0]!);
		this.#chain = ["voucher-signer.pem", "ca.pem"].map((f) => pemToDer(readFileSync(join(masaDir, f), "utf8"))[0]!);
	}

	async requestVoucher(rvrBytes: Uint8Array): Promise<{ status: number; contentType: string; body: Uint8Array }> {
		this.calls++;
		if (this.delayMs > 0) await new Promise((r) => setTimeout(r, this.delayMs));
		if (this.down) throw new MasaUnreachableError("connect ECONNREFUSED (double is down)");
		const text = (status: number, why: string) => ({ status, contentType: "text/plain", body: utf8Encode(why) });
		if (this.status !== undefined) return text(this.status, "configured failure");
		const rvr = decodeCoseSign1(rvrBytes);
		const bag = coseCertificates(rvr);
		if (!verifyCoseSign1(this.#crypto, parseCertificate(bag[0]!).publicKey.bytes, rvr)) return text(403, "RVR signature");
		const r = decodeVoucherRequest(rvr.payload);
		const pvr = decodeCoseSign1(r.priorSignedVoucherRequest!);
		const idevid = bag.map((c) => parseCertificate(c)).find((c) => c.masaUrl !== undefined)!;
		if (!verifyCoseSign1(this.#crypto, idevid.publicKey.bytes, pvr)) return text(403, "PVR signature");
		const voucher = encodeVoucher({ assertion: Assertion.proximity, createdOn: new Date().toISOString(), nonce: r.nonce!, serialNumber: r.serialNumber!, pinnedDomainCert: bag[1]! });
		const body = encodeCoseSign1(signCoseSign1(this.#crypto, this.#key, voucher, { x5bag: this.#chain }));
		return { status: 200, contentType: "application/voucher+cose", body };
	}
}
