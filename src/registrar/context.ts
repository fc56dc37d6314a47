/*
 * What the Registrar's resources share: the host's clock and log, crypto, the database, the policy,
 * and one way to refuse a request (a log line naming the pledge, the reason and the CoAP code, and
 * the response with the reason as its diagnostic payload, RFC 7252 §5.5.2).
 */

import type { Host } from "../../hosts/host.js";
import { codeText, Opt } from "../../modules/coap/constants.js";
import { uintOptionValue } from "../../modules/coap/message.js";
import type { CoapResponse } from "../../modules/coap/types.js";
import type { CryptoProvider } from "../../modules/crypto/provider.js";
import type { CoapsRequest } from "../../modules/dtls/coaps.js";
import { utf8Encode } from "../../modules/util/utf8.js";
import type { Associations } from "./associations.js";
import type { RegistrarDatabase } from "./database.js";
import type { PeerIdentity, RegistrarPolicy } from "./policy.js";

export interface RegistrarContext {
	host: Pick<Host, "clock" | "log">;
	crypto: CryptoProvider;
	db: RegistrarDatabase;
	policy: RegistrarPolicy;
	associations: Associations;
}

/** The pledge in log lines: its serial number (or subject) and the transport peer it came through. */
export function describePeer(req: CoapsRequest, id: PeerIdentity | string | undefined): string {
	const via = `[${req.peer.address}]:${req.peer.port}`;
	if (id === undefined || typeof id === "string") return `unidentified peer via ${via}`;
	return `${id.kind === "idevid" ? "IDevID" : "LDevID"} ${id.serialNumber ?? "(no serialNumber)"} via ${via}`;
}

/** Logs and returns a refusal. */
export function refuse(ctx: RegistrarContext, resource: string, who: string, code: number, reason: string): CoapResponse {
	ctx.host.log("warn", `registrar: ${resource} refused for ${who}: ${codeText(code)} ${reason}`);
	return { code, payload: utf8Encode(reason) };
}

/** The request's Content-Format and Accept options (undefined when absent). */
export function formats(req: CoapsRequest): { contentFormat: number | undefined; accept: number | undefined } {
	return { contentFormat: uintOptionValue(req, Opt.ContentFormat), accept: uintOptionValue(req, Opt.Accept) };
}
