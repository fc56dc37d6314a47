/*
 * The MASA's HTTPS face (RFC 8995 §5.4-§5.6 with cBRSKI's media type): POST
 * /.well-known/brski/requestvoucher over TLS with client certificates (the Registrar
 * authenticates with its cmcRA certificate, RFC 8995 §5.4.1). Everything about vouchers is in
 * service.ts; this file is transport: methods, media types, size limits and timeouts.
 */

import { createServer, type Server } from "node:https";
import type { IncomingMessage, ServerResponse } from "node:http";
import type { TLSSocket } from "node:tls";
import { VOUCHER_COSE_MEDIA_TYPE, type MasaService } from "./service.js";

/** RFC 8995 §5.5 */
export const REQUEST_VOUCHER_PATH = "/.well-known/brski/requestvoucher";
/** An RVR is a few KB (the drafts' example is 1604 B with two certificates); anything far larger is refused unread. */
export const MAX_RVR_BYTES = 32 * 1024;
/** A Registrar that stops sending mid-request is cut off (slowloris). */
const REQUEST_TIMEOUT_MS = 10_000;

export interface MasaHttpsOptions {
	service: MasaService;
	address: string;
	port: number;
	/** PEM: server certificate (chain) and key; client anchors the Registrars' certificates must chain to. */
	cert: string;
	key: string;
	clientAnchors: string[];
	log(level: "info" | "warn", message: string): void;
}

export interface MasaHttpsServer {
	readonly port: number;
	/** Idempotent; resolves once the listening socket and every connection are closed. */
	close(): Promise<void>;
}

export async function startMasaHttps(o: MasaHttpsOptions): Promise<MasaHttpsServer> {
	const server: Server = createServer(
		{ cert: o.cert, key: o.key, ca: o.clientAnchors, requestCert: true, rejectUnauthorized: true, minVersion: "TLSv1.2", requestTimeout: REQUEST_TIMEOUT_MS },
		(req, res) =>
			void handle(o, req, res).catch((e: unknown) => {
				// Whatever went wrong, the connection gets an answer and the process lives on.
				o.log("warn", `masa: ${req.method} ${req.url} failed: ${e instanceof Error ? e.stack ?? e.message : String(e)}`);
				if (!res.headersSent) res.writeHead(500, { "content-type": "text/plain; charset=utf-8" });
				res.end("internal error");
			}),
	);
	server.on("tlsClientError", (e) => o.log("warn", `masa: TLS handshake refused: ${e.message}`));
	await new Promise<void>((resolve, reject) => {
		server.once("error", reject);
		server.listen(o.port, o.address, () => {
			server.off("error", reject);
			resolve();
		});
	});
	const port = (server.address() as { port: number }).port;
	let closing: Promise<void> | undefined;
	return {
		port,
		close: () =>
			(closing ??= new Promise<void>((resolve) => {
				server.close(() => resolve());
				server.closeAllConnections();
			})),
	};
}

async function handle(o: MasaHttpsOptions, req: IncomingMessage, res: ServerResponse): Promise<void> {
	const who = clientName(req);
	const answer = (status: number, text: string): void => {
		o.log("warn", `masa: ${req.method} ${req.url} from ${who}: ${status} ${text}`);
		res.writeHead(status, { "content-type": "text/plain; charset=utf-8" }).end(text);
	};
	if (req.url !== REQUEST_VOUCHER_PATH) return answer(404, "not found");
	if (req.method !== "POST") {
		res.setHeader("allow", "POST");
		return answer(405, "only POST");
	}
	if (mediaType(req.headers["content-type"]) !== VOUCHER_COSE_MEDIA_TYPE) return answer(415, `the voucher request must be ${VOUCHER_COSE_MEDIA_TYPE}`);
	if (!accepts(req.headers.accept)) return answer(406, `this MASA issues ${VOUCHER_COSE_MEDIA_TYPE} only`);
	const body = await readBody(req, MAX_RVR_BYTES);
	if (body === undefined) return answer(413, `a voucher request is at most ${MAX_RVR_BYTES} bytes`);
	const r = await o.service.requestVoucher(body);
	o.log("info", `masa: ${who}: ${r.status}`);
	res.writeHead(r.status, { "content-type": r.contentType, "content-length": r.body.length }).end(r.body);
}

/** The TLS client certificate's subject, for logs. */
function clientName(req: IncomingMessage): string {
	const cert = (req.socket as TLSSocket).getPeerCertificate?.();
	const cn = cert?.subject?.CN;
	return `${req.socket.remoteAddress ?? "?"} (${Array.isArray(cn) ? cn.join(",") : (cn ?? "no client certificate")})`;
}

function mediaType(header: string | undefined): string {
	return (header ?? "").split(";")[0]!.trim().toLowerCase();
}

// RFC 9110 §12.5.1, loosely: no Accept, any type, any application type, or the voucher type itself.
function accepts(header: string | undefined): boolean {
	if (header === undefined) return true;
	return header.split(",").some((part) => ["*/*", "application/*", VOUCHER_COSE_MEDIA_TYPE].includes(mediaType(part)));
}

/** The body, or undefined once it exceeds `max` (the rest is not read). */
function readBody(req: IncomingMessage, max: number): Promise<Uint8Array | undefined> {
	return new Promise((resolve) => {
		const declared = Number(req.headers["content-length"] ?? 0);
		if (declared > max) return resolve(undefined);
		const parts: Buffer[] = [];
		let n = 0;
		req.on("data", (chunk: Buffer) => {
			n += chunk.length;
			if (n > max) {
				req.destroy();
				resolve(undefined);
			} else parts.push(chunk);
		});
		req.on("end", () => resolve(new Uint8Array(Buffer.concat(parts))));
		req.on("error", () => resolve(undefined));
	});
}
