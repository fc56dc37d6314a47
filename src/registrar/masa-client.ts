/*
 * The Registrar's side of the BRSKI-MASA leg (RFC 8995 §5.4-§5.5, cBRSKI §7; digest §10): where the
 * MASA is, how its HTTP answer maps to the CoAP answer the pledge gets (digest R34), and the client
 * seam. The Node HTTPS client is https-masa-client.ts; `inProcessMasaClient` calls a MASA object in
 * the same process (simulator, benchmarks).
 */

import { Code, code } from "../../modules/coap/constants.js";

import { REQUEST_VOUCHER_PATH } from "../masa/https-server.js";

export { VOUCHER_COSE_MEDIA_TYPE } from "../masa/service.js";

export interface MasaAnswer {
	/** HTTP status. */
	status: number;
	contentType: string;
	body: Uint8Array;
}

/** What a MASA client is asked: which MASA, which manufacturer's trust anchors for its TLS certificate. */
export interface MasaCall {
	/** https://authority/.well-known/brski/requestvoucher */
	url: string;
	/** DER trust anchors the MASA's TLS certificate must chain to (per manufacturer, R25). */
	tlsAnchors: readonly Uint8Array[];
	/** The signed RVR (COSE_Sign1). */
	rvr: Uint8Array;
}

/**
 * Sends an RVR. Resolves with whatever HTTP answer came; rejects (MasaUnreachableError) when none did:
 * connection refused, TLS failure, timeout.
 */
export interface MasaClient {
	requestVoucher(call: MasaCall): Promise<MasaAnswer>;
	/** Idempotent; ends keep-alive connections. */
	close?(): void;
}

export class MasaUnreachableError extends Error {
	override readonly name = "MasaUnreachableError";
}

/**
 * RFC 8995 §2.3.2: the MASA URL extension normally holds only an authority ("masa.example" or
 * "[::1]:9443"), to which https:// and /.well-known/brski are added; a full https URI is taken as the
 * base. A policy override has the same forms. Undefined for anything that is not https.
 */
export function requestVoucherUrl(masaUrl: string): string | undefined {
	let url: URL;
	try {
		url = new URL(masaUrl.includes("/") ? masaUrl : `https://${masaUrl}`);
	} catch {
		return undefined;
	}
	if (url.protocol !== "https:" || url.hostname === "" || url.search !== "" || url.hash !== "") return undefined;
	const path = url.pathname.replace(/\/+$/, "");
	url.pathname = path.endsWith(REQUEST_VOUCHER_PATH) ? path : `${path.replace(/\/\.well-known\/brski$/, "")}${REQUEST_VOUCHER_PATH}`;
	return url.href;
}

/** Digest R34 / cBRSKI §6.5: the HTTP statuses EST and BRSKI name, and their CoAP equivalents. */
const HTTP_TO_COAP: ReadonlyMap<number, number> = new Map([
	[400, Code.BadRequest],
	[401, Code.Unauthorized],
	[403, Code.Forbidden],
	[404, Code.NotFound],
	[406, Code.NotAcceptable],
	[415, Code.UnsupportedContentFormat],
	[503, Code.ServiceUnavailable],
]);

/** RFC 8075 §7 (HTTP-CoAP mapping) for the rest: a 5xx the pledge cannot fix is 5.02 Bad Gateway. */
export const BAD_GATEWAY = code(5, 2);

/** The CoAP code for a MASA's non-200 status: the table above, other 4xx → 4.00 and other 5xx → 5.02. */
export function coapCodeForMasaStatus(status: number): number {
	return HTTP_TO_COAP.get(status) ?? (status >= 400 && status < 500 ? Code.BadRequest : BAD_GATEWAY);
}

/** The in-process MASA's shape (src/masa MasaService.requestVoucher). */
export interface InProcessMasa {
	requestVoucher(rvr: Uint8Array, context: { clientCertificate?: Uint8Array }): Promise<{ status: number; contentType: string; body: Uint8Array }>;
}

/** A MasaClient that hands the RVR to a MASA in this process, presenting `clientCertificate` as mutual TLS would. */
export function inProcessMasaClient(masa: InProcessMasa, clientCertificate: Uint8Array): MasaClient {
	return {
		requestVoucher: async (call) => {
			const a = await masa.requestVoucher(call.rvr, { clientCertificate });
			return { status: a.status, contentType: a.contentType, body: a.body };
		},
	};
}
