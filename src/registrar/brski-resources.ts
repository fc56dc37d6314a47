/*
 * The BRSKI resources (cBRSKI §6.5; digest §3, R16-R29): /.well-known/brski/rv turns a PVR into a
 * voucher through the MASA, /vs and /es take status telemetry. A MASA that has not answered within
 * `masaWaitMs` gets the pledge a 5.03 with Max-Age (EST-coaps delayed response, RFC 9148 §4.7); the
 * MASA call goes on, and the pledge's identical resend is answered from it. A MASA that could not be
 * reached gives 5.03 as well, and the next resend calls it again.
 */

import { Code, ContentFormat, Opt, codeText } from "../../modules/coap/constants.js";
import { option } from "../../modules/coap/message.js";
import type { CoapResponse } from "../../modules/coap/types.js";
import { CoseError, coseCertificates, decodeCoseSign1, encodeCoseSign1, stripUnprotected } from "../../modules/cose/sign1.js";
import type { CoapsRequest } from "../../modules/dtls/coaps.js";
import { bytesEqual, toHex } from "../../modules/util/hex.js";
import { decodeStatusTelemetry, STATUS_TELEMETRY_VERSION, type StatusTelemetry } from "../../modules/voucher/telemetry.js";
import { VoucherError, decodeVoucher } from "../../modules/voucher/voucher.js";
import { CertificateError, parseCertificate, type Certificate } from "../../modules/x509/certificate.js";
import { verifyVoucherSignature } from "../../modules/voucher/voucher-signature.js";
import { deviceKey } from "./associations.js";
import { describePeer, formats, refuse, type RegistrarContext } from "./context.js";
import { BAD_GATEWAY, MasaUnreachableError, VOUCHER_COSE_MEDIA_TYPE, coapCodeForMasaStatus, requestVoucherUrl, type MasaClient } from "./masa-client.js";
import type { Manufacturer } from "./policy.js";
import { buildRvr, verifyPvr, type Refusal } from "./voucher-request.js";
import { utf8Decode, utf8Encode } from "../../modules/util/utf8.js";

export interface VoucherServiceOptions {
	ctx: RegistrarContext;
	masaClient: MasaClient;
	/** Our signing chain (cmcRA certificate first; also the DTLS server chain) and key. */
	chain: readonly Uint8Array[];
	privateKey: Uint8Array;
	/** How long a /rv request waits for the MASA before the 5.03 (default 3 s). */
	masaWaitMs?: number;
	/** Max-Age of that 5.03, the pledge's retry hint in seconds (default 5). */
	retryAfterSeconds?: number;
	/** MASA calls under way at once (default 64); more get 5.03 + Max-Age. */
	maxMasaCalls?: number;
}

/** A MASA call, keyed by the PVR's bytes; its answer is kept a while for the pledge's resends. */
interface Pending {
	answer: Promise<CoapResponse>;
	result: CoapResponse | undefined;
	expires: number;
}

const DEFAULT_MASA_WAIT_MS = 3_000;
const DEFAULT_RETRY_AFTER_S = 5;
/** How long a MASA answer is kept for resends of the same PVR. */
const ANSWER_KEPT_MS = 120_000;
/** Most MASA calls remembered at once, those under way included; beyond, the oldest finished ones go, and then new ones wait. */
const MAX_PENDING = 1024;
/** MASA calls under way at once, across devices (review F7). */
const DEFAULT_MAX_MASA_CALLS = 64;

export class VoucherService {
	readonly #o: VoucherServiceOptions;
	readonly #ctx: RegistrarContext;
	readonly #ours: Certificate;
	readonly #pending = new Map<string, Pending>();
	/** deviceKey()s with a MASA call under way. */
	readonly #inFlight = new Set<string>();

	constructor(options: VoucherServiceOptions) {
		this.#o = options;
		this.#ctx = options.ctx;
		this.#ours = parseCertificate(options.chain[0]!);
	}

	/** POST /.well-known/brski/rv */
	readonly rv = async (req: CoapsRequest): Promise<CoapResponse> => {
		const res = await this.#rv(req);
		// Review F3: what /sen requires, a voucher relayed for this device on this association.
		const id = this.#ctx.policy.identify(req.peerCertificates);
		if (res.code === Code.Changed && typeof id !== "string" && id.kind === "idevid" && id.serialNumber !== undefined) {
			this.#ctx.associations.of(req).voucherFor = deviceKey(id.manufacturer.name, id.serialNumber);
		}
		return res;
	};

	async #rv(req: CoapsRequest): Promise<CoapResponse> {
		const ctx = this.#ctx;
		const id = ctx.policy.identify(req.peerCertificates);
		const who = describePeer(req, id);
		const f = formats(req);
		if (f.contentFormat !== ContentFormat.VoucherCoseCbor) return refuse(ctx, "/rv", who, Code.UnsupportedContentFormat, `Content-Format ${f.contentFormat ?? "none"}, expected ${ContentFormat.VoucherCoseCbor}`);
		if (f.accept !== undefined && f.accept !== ContentFormat.VoucherCoseCbor) return refuse(ctx, "/rv", who, Code.NotAcceptable, `Accept ${f.accept}: only voucher+cose (${ContentFormat.VoucherCoseCbor}) is offered`);
		if (typeof id === "string") return refuse(ctx, "/rv", who, Code.Unauthorized, id);
		if (id.kind !== "idevid") return refuse(ctx, "/rv", who, Code.Forbidden, "a voucher request needs an IDevID session");
		const serial = id.serialNumber;
		if (serial === undefined) return refuse(ctx, "/rv", who, Code.Forbidden, "the IDevID has no subject serialNumber");

		const device = deviceKey(id.manufacturer.name, serial);
		const key = `${device}|${toHex(ctx.crypto.sha256(req.payload))}`;
		const known = this.#pending.get(key);
		if (known !== undefined) return this.#answer(known, who);
		// Review F7: one MASA call per device at a time, a bounded number overall; beyond, the pledge
		// waits (5.03 + Max-Age) and nothing is recorded or called.
		const retry = this.#o.retryAfterSeconds ?? DEFAULT_RETRY_AFTER_S;
		if (this.#inFlight.has(device)) return this.#busy(who, retry, "a voucher request of this device is still with the MASA");
		this.#sweep();
		if (this.#inFlight.size >= (this.#o.maxMasaCalls ?? DEFAULT_MAX_MASA_CALLS) || this.#pending.size >= MAX_PENDING) return this.#busy(who, retry, "too many voucher requests with the MASA");

		const now = ctx.host.clock.wallTime();
		const seen = { serialNumber: serial, manufacturer: id.manufacturer.name, at: now };
		const refused = (r: Refusal): CoapResponse => {
			ctx.db.recordVoucherRequest(seen, { pvr: req.payload, outcome: codeText(r.code), reason: r.reason, state: "refused" });
			return refuse(ctx, "/rv", who, r.code, r.reason);
		};
		const pvr = verifyPvr(req.payload, id.leaf, serial, this.#ours, ctx.crypto);
		if ("code" in pvr) {
			// R18: a pledge that saw another Registrar is talking through a man in the middle: this
			// association is done (every further request is refused, see registrar.ts).
			if (pvr.code === Code.Unauthorized) ctx.associations.of(req).refused = pvr.reason;
			return refused(pvr);
		}
		if (!ctx.policy.accepts(id.manufacturer, serial)) return refused({ code: Code.NotFound, reason: `serial ${serial} is not accepted for manufacturer ${id.manufacturer.name}` });
		const urlSource = id.manufacturer.masaUrl ?? id.leaf.masaUrl;
		const url = urlSource === undefined ? undefined : requestVoucherUrl(urlSource);
		if (url === undefined) return refused({ code: Code.Forbidden, reason: `no usable MASA URL (${urlSource === undefined ? "the IDevID has none and the policy sets none" : JSON.stringify(urlSource)})` });

		const rvr = buildRvr({ pvr, idevid: id.leaf, serialNumber: serial, pledgeChain: id.chain, registrarChain: this.#o.chain, privateKey: this.#o.privateKey, crypto: ctx.crypto, now });
		const requestId = ctx.db.recordVoucherRequest(seen, { pvr: req.payload, rvr, outcome: "pending", reason: `sent to ${url}`, state: "voucher-requested" });
		ctx.host.log("info", `registrar: /rv from ${who}: RVR ${requestId} to ${url}`);
		const pending: Pending = { answer: undefined!, result: undefined, expires: Infinity };
		this.#inFlight.add(device);
		pending.answer = this.#callMasa(url, rvr, id.manufacturer, serial, pvr.request.nonce, requestId, who).then((res) => {
			this.#inFlight.delete(device);
			pending.result = res;
			// A MASA that could not answer is asked again on the next resend; any real answer is kept.
			if (res.code === Code.ServiceUnavailable || res.code === Code.InternalServerError) this.#pending.delete(key);
			else pending.expires = ctx.host.clock.now() + ANSWER_KEPT_MS;
			return res;
		});
		this.#pending.set(key, pending);
		return this.#answer(pending, who);
	}

	#busy(who: string, retryAfterSeconds: number, why: string): CoapResponse {
		this.#ctx.host.log("info", `registrar: /rv for ${who}: ${why}, 5.03 Max-Age ${retryAfterSeconds}`);
		return serviceUnavailable(retryAfterSeconds, why);
	}

	/** The MASA's answer if it comes within the wait, else 5.03 + Max-Age. */
	async #answer(p: Pending, who: string): Promise<CoapResponse> {
		if (p.result !== undefined) return p.result;
		const waitMs = this.#o.masaWaitMs ?? DEFAULT_MASA_WAIT_MS;
		let timer: ReturnType<RegistrarContext["host"]["clock"]["timer"]> | undefined;
		const late = new Promise<undefined>((resolve) => {
			timer = this.#ctx.host.clock.timer(() => resolve(undefined));
			timer.arm(waitMs);
		});
		const res = await Promise.race([p.answer, late]);
		timer?.cancel();
		if (res !== undefined) return res;
		const retry = this.#o.retryAfterSeconds ?? DEFAULT_RETRY_AFTER_S;
		this.#ctx.host.log("info", `registrar: /rv for ${who}: MASA has not answered within ${waitMs} ms, 5.03 Max-Age ${retry}`);
		return serviceUnavailable(retry, "waiting for the MASA");
	}

	/** Never rejects: every outcome is a CoAP response, logged and recorded (a failure to record is 5.00). */
	async #callMasa(url: string, rvr: Uint8Array, m: Manufacturer, serial: string, nonce: Uint8Array | undefined, requestId: number, who: string): Promise<CoapResponse> {
		try {
			return await this.#askMasa(url, rvr, m, serial, nonce, requestId, who);
		} catch (e) {
			this.#ctx.host.log("error", `registrar: /rv for ${who}: ${e instanceof Error ? e.stack ?? e.message : String(e)}`);
			return { code: Code.InternalServerError };
		}
	}

	async #askMasa(url: string, rvr: Uint8Array, m: Manufacturer, serial: string, nonce: Uint8Array | undefined, requestId: number, who: string): Promise<CoapResponse> {
		const ctx = this.#ctx;
		const done = (code: number, reason: string, voucher?: Uint8Array): void => {
			ctx.db.recordVoucherOutcome(requestId, { code: codeText(code), reason, at: ctx.host.clock.wallTime(), ...(voucher !== undefined ? { voucher } : {}) });
		};
		let a;
		try {
			a = await this.#o.masaClient.requestVoucher({ url, tlsAnchors: m.masaTlsAnchors, rvr });
		} catch (e) {
			if (!(e instanceof MasaUnreachableError)) {
				ctx.host.log("error", `registrar: MASA client failed: ${e instanceof Error ? e.stack ?? e.message : String(e)}`);
			}
			const reason = e instanceof Error ? e.message : String(e);
			done(Code.ServiceUnavailable, reason);
			ctx.host.log("warn", `registrar: /rv for ${who}: MASA unreachable (${reason}), 5.03`);
			return serviceUnavailable(this.#o.retryAfterSeconds ?? DEFAULT_RETRY_AFTER_S, "MASA unreachable");
		}
		if (a.status !== 200) {
			const code = coapCodeForMasaStatus(a.status);
			const text = a.contentType.startsWith("text/") ? utf8Decode(a.body.subarray(0, 200)) : "";
			const reason = `MASA answered HTTP ${a.status}${text ? ": " + text : ""}`;
			done(code, reason);
			if (code === Code.ServiceUnavailable) return (ctx.host.log("warn", `registrar: /rv for ${who}: ${reason}, 5.03`), serviceUnavailable(this.#o.retryAfterSeconds ?? DEFAULT_RETRY_AFTER_S, "MASA unavailable"));
			return refuse(ctx, "/rv", who, code, reason);
		}
		const checked = this.#checkVoucher(a.contentType, a.body, m, serial, nonce);
		if (typeof checked === "string") {
			done(BAD_GATEWAY, checked);
			return refuse(ctx, "/rv", who, BAD_GATEWAY, checked);
		}
		done(Code.Changed, "voucher issued", checked);
		ctx.host.log("info", `registrar: /rv for ${who}: voucher (${checked.length} bytes) relayed`);
		return { code: Code.Changed, contentFormat: ContentFormat.VoucherCoseCbor, payload: checked };
	}

	/**
	 * The voucher as passed on, unprotected x5bag/x5chain removed (R26), or why it is not passed on.
	 * We check what the pledge will: serial and nonce; and that the signer is the key of a configured
	 * voucher anchor or a certificate of the (unordered) x5bag chaining to one (R27).
	 */
	#checkVoucher(contentType: string, body: Uint8Array, m: Manufacturer, serial: string, nonce: Uint8Array | undefined): Uint8Array | string {
		if (contentType.split(";")[0]!.trim().toLowerCase() !== VOUCHER_COSE_MEDIA_TYPE) return `MASA answered Content-Type ${JSON.stringify(contentType)}`;
		try {
			const cose = decodeCoseSign1(body);
			const v = decodeVoucher(cose.payload);
			if (v.serialNumber !== serial) return `voucher is for serial ${v.serialNumber}, not ${serial}`;
			if (nonce !== undefined && (v.nonce === undefined || !bytesEqual(v.nonce, nonce))) return "voucher nonce differs from the PVR's";
			const bag = coseCertificates(cose).map((d) => parseCertificate(d));
			const signer = verifyVoucherSignature(this.#ctx.crypto, cose, { anchors: this.#ctx.policy.voucherAnchorsOf(m), signers: bag });
			if (signer === undefined) return `voucher signature does not verify with a voucher anchor of ${m.name} or an x5bag certificate chaining to one`;
			return encodeCoseSign1(stripUnprotected(cose));
		} catch (e) {
			if (e instanceof CoseError || e instanceof VoucherError || e instanceof CertificateError) return `unusable voucher from the MASA: ${e.message}`;
			throw e;
		}
	}

	#sweep(): void {
		const now = this.#ctx.host.clock.now();
		for (const [k, p] of this.#pending) if (p.expires <= now) this.#pending.delete(k);
		if (this.#pending.size < MAX_PENDING) return;
		for (const [k, p] of this.#pending) {
			if (p.result === undefined) continue;
			this.#pending.delete(k);
			if (this.#pending.size < MAX_PENDING) return;
		}
	}

	/** POST /.well-known/brski/vs and /es (R29): CBOR status telemetry, logged and recorded, 2.04. */
	telemetry(kind: "vs" | "es"): (req: CoapsRequest) => CoapResponse {
		return (req) => {
			const ctx = this.#ctx;
			const id = ctx.policy.identify(req.peerCertificates);
			const who = describePeer(req, id);
			const resource = `/${kind}`;
			const f = formats(req);
			if (f.contentFormat !== ContentFormat.Cbor) return refuse(ctx, resource, who, Code.UnsupportedContentFormat, `Content-Format ${f.contentFormat ?? "none"}, expected ${ContentFormat.Cbor}`);
			if (typeof id === "string") return refuse(ctx, resource, who, Code.Unauthorized, id);
			let t: StatusTelemetry;
			try {
				t = decodeStatusTelemetry(req.payload);
			} catch (e) {
				if (e instanceof VoucherError) return refuse(ctx, resource, who, Code.BadRequest, e.message);
				throw e;
			}
			const serial = id.serialNumber ?? "";
			let session = "";
			if (kind === "es") {
				// "Matching" (R29): the session's certificate is an LDevID this Registrar issued to this device.
				const onNew = id.kind === "ldevid" && ctx.db.enrollments(serial).some((e) => bytesEqual(e.certificate, id.chain[0]!));
				session = onNew ? "on a session with its new LDevID" : `on its ${id.kind === "idevid" ? "IDevID" : "older LDevID"} session`;
			}
			const detail = `status ${t.status}${t.reason !== undefined ? `, reason ${JSON.stringify(t.reason)}` : ""}${session ? ", " + session : ""}`;
			if (t.version > STATUS_TELEMETRY_VERSION) ctx.host.log("warn", `registrar: ${resource} from ${who} has version ${t.version}, newer than ${STATUS_TELEMETRY_VERSION}`);
			ctx.host.log(t.status ? "info" : "warn", `registrar: ${resource} from ${who}: ${detail}`);
			// Review F3: a pledge that rejected the voucher does not enroll on it.
			if (kind === "vs" && !t.status) ctx.associations.of(req).voucherFor = undefined;
			const state = kind === "vs" ? (t.status ? "voucher-accepted" : "voucher-rejected") : t.status ? "enroll-confirmed" : "enroll-failed";
			ctx.db.audit({ at: ctx.host.clock.wallTime(), serialNumber: serial, event: kind, detail }, state);
			return { code: Code.Changed };
		};
	}
}

function serviceUnavailable(retryAfterSeconds: number, why: string): CoapResponse {
	return { code: Code.ServiceUnavailable, options: [option(Opt.MaxAge, retryAfterSeconds)], payload: utf8Encode(why) };
}
