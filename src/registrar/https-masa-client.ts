/*
 * The Registrar's MASA client on Node (RFC 8995 §5.4, digest §10 and R24/R25): HTTPS POST of the
 * RVR with mutual TLS (the Registrar certificate, which carries clientAuth, as client certificate),
 * SNI with the MASA's host name (never an IP literal, RFC 6066 §3), the MASA's certificate checked
 * against the manufacturer's MASA TLS anchors only and against the host name or IP address of the
 * URL (RFC 9525, Node's checkServerIdentity), and a deadline on the whole exchange.
 */

import { request } from "node:https";
import { isIP } from "node:net";
import { derToPem } from "../../modules/util/base64.js";
import { VOUCHER_COSE_MEDIA_TYPE, MasaUnreachableError, type MasaAnswer, type MasaCall, type MasaClient } from "./masa-client.js";

export interface HttpsMasaClientOptions {
	/** The Registrar's TLS client certificate chain (DER, leaf first) and its PKCS#8 PEM key. */
	clientChain: readonly Uint8Array[];
	clientKeyPem: string;
	/** Whole-exchange deadline (default 10 s). */
	timeoutMs?: number;
	/** Largest answer body read (default 64 KiB: a voucher is about 1 KiB). */
	maxBodyBytes?: number;
}

const DEFAULT_TIMEOUT_MS = 10_000;
const DEFAULT_MAX_BODY = 64 * 1024;

export class HttpsMasaClient implements MasaClient {
	readonly #o: HttpsMasaClientOptions;
	readonly #cert: string;

	constructor(options: HttpsMasaClientOptions) {
		this.#o = options;
		this.#cert = options.clientChain.map((d) => derToPem(d, "CERTIFICATE")).join("");
	}

	requestVoucher(call: MasaCall): Promise<MasaAnswer> {
		const url = new URL(call.url);
		const host = url.hostname.replace(/^\[(.*)\]$/, "$1");
		const timeoutMs = this.#o.timeoutMs ?? DEFAULT_TIMEOUT_MS;
		const maxBody = this.#o.maxBodyBytes ?? DEFAULT_MAX_BODY;
		return new Promise<MasaAnswer>((resolve, reject) => {
			const fail = (why: string): void => reject(new MasaUnreachableError(`MASA ${call.url}: ${why}`));
			const req = request(
				{
					method: "POST",
					host,
					port: url.port === "" ? 443 : Number(url.port),
					path: url.pathname + url.search,
					headers: { "content-type": VOUCHER_COSE_MEDIA_TYPE, accept: VOUCHER_COSE_MEDIA_TYPE, "content-length": call.rvr.length },
					ca: call.tlsAnchors.map((d) => derToPem(d, "CERTIFICATE")),
					cert: this.#cert,
					key: this.#o.clientKeyPem,
					...(isIP(host) === 0 ? { servername: host } : {}),
					minVersion: "TLSv1.2",
					rejectUnauthorized: true,
					agent: false,
					timeout: timeoutMs,
				},
				(res) => {
					const chunks: Buffer[] = [];
					let length = 0;
					res.on("data", (c: Buffer) => {
						length += c.length;
						if (length > maxBody) {
							req.destroy();
							fail(`answer longer than ${maxBody} bytes`);
							return;
						}
						chunks.push(c);
					});
					res.on("end", () => resolve({ status: res.statusCode ?? 0, contentType: String(res.headers["content-type"] ?? ""), body: new Uint8Array(Buffer.concat(chunks)) }));
					res.on("error", (e) => fail(e.message));
				},
			);
			const deadline = setTimeout(() => {
				req.destroy();
				fail(`no answer within ${timeoutMs} ms`);
			}, timeoutMs);
			req.on("close", () => clearTimeout(deadline));
			req.on("timeout", () => {
				req.destroy();
				fail(`socket idle for ${timeoutMs} ms`);
			});
			req.on("error", (e) => fail(e.message));
			req.end(call.rvr);
		});
	}

	close(): void {}
}
