/*
 * The EST-coaps resources (RFC 9148 §4.1-§4.3 as cBRSKI §6.7 profiles them; digest §3, R30-R33):
 * /crts serves the domain CA certificates (multipart-core by default, PKCS#7 or one DER certificate
 * by Accept, with an ETag and Size2), /sen and /sren issue an LDevID for a PKCS#10 request whose
 * subject is the authenticated device's, byte for byte: its IDevID's for /sen (after a voucher on the
 * same association), its LDevID's for /sren.
 */

import { Code, ContentFormat, Opt } from "../../modules/coap/constants.js";
import { option } from "../../modules/coap/message.js";
import type { CoapResponse } from "../../modules/coap/types.js";
import type { CoapsRequest } from "../../modules/dtls/coaps.js";
import { encodeMultipartCore } from "../../modules/est/multipart-core.js";
import { encodeCertsOnly } from "../../modules/est/pkcs7.js";
import { bytesEqual } from "../../modules/util/hex.js";
import { CsrError, parseCsr, type CertificationRequest } from "../../modules/x509/csr.js";
import { Oid, nameValue } from "../../modules/x509/certificate.js";
import { deviceKey } from "./associations.js";
import { describePeer, formats, refuse, type RegistrarContext } from "./context.js";

/** An issued LDevID. */
export interface IssuedLdevid {
	der: Uint8Array;
	/** Certificate serial number, lower-case hex. */
	serialNumber: string;
	/** Wall-clock ms. */
	notAfter: number;
}

/**
 * Issues an LDevID from the domain CA for a DER PKCS#10 request whose subject must be `subject` (DER);
 * rejects with CsrError for a request that is malformed, not signed by its key or for another subject.
 * Node: src/pki/ca.ts issueLdevid.
 */
export type LdevidIssuer = (request: { csr: Uint8Array; subject: Uint8Array }) => Promise<IssuedLdevid>;

/** RFC 7252 §5.10.6: an ETag of 1-8 bytes; 8 bytes of the body's SHA-256 change with any CA change. */
const ETAG_BYTES = 8;

export interface EstResourcesOptions {
	ctx: RegistrarContext;
	/** The domain's CA certificates, DER: the LDevIDs' issuer first, up to the top CA (R31). */
	caCertificates: readonly Uint8Array[];
	issue: LdevidIssuer;
}

export class EstResources {
	readonly #o: EstResourcesOptions;
	readonly #ctx: RegistrarContext;

	constructor(options: EstResourcesOptions) {
		this.#o = options;
		this.#ctx = options.ctx;
	}

	/** GET /.well-known/est/crts */
	readonly crts = (req: CoapsRequest): CoapResponse => {
		const ctx = this.#ctx;
		const id = ctx.policy.identify(req.peerCertificates);
		if (typeof id === "string") return refuse(ctx, "/crts", describePeer(req, id), Code.Unauthorized, id);
		const cas = this.#o.caCertificates;
		const { accept } = formats(req);
		let body: Uint8Array;
		let cf: number;
		if (accept === undefined || accept === ContentFormat.MultipartCore) {
			body = encodeMultipartCore(cas.map((c) => ({ contentFormat: ContentFormat.PkixCert, body: c })));
			cf = ContentFormat.MultipartCore;
		} else if (accept === ContentFormat.Pkcs7CertsOnly) {
			body = encodeCertsOnly(cas);
			cf = ContentFormat.Pkcs7CertsOnly;
		} else if (accept === ContentFormat.PkixCert) {
			// cBRSKI §6.7: one certificate only where the domain has exactly one CA to offer.
			if (cas.length !== 1) return refuse(ctx, "/crts", describePeer(req, id), Code.NotAcceptable, `Accept 287 but the domain has ${cas.length} CA certificates`);
			body = cas[0]!;
			cf = ContentFormat.PkixCert;
		} else {
			return refuse(ctx, "/crts", describePeer(req, id), Code.NotAcceptable, `Accept ${accept}: /crts offers 62, 281 and 287`);
		}
		const etag = ctx.crypto.sha256(body).subarray(0, ETAG_BYTES);
		const options = [option(Opt.ETag, etag), option(Opt.Size2, body.length)];
		// RFC 7252 §5.10.6.2: the client's cached representation is still current.
		if (req.options.some((o) => o.number === Opt.ETag && bytesEqual(o.value, etag))) return { code: Code.Valid, options: [option(Opt.ETag, etag)] };
		return { code: Code.Content, contentFormat: cf, options, payload: body };
	};

	/** POST /.well-known/est/sen (kind "sen", IDevID session) and /sren (LDevID session). */
	enroll(kind: "sen" | "sren"): (req: CoapsRequest) => Promise<CoapResponse> {
		const resource = `/${kind}`;
		return async (req) => {
			const ctx = this.#ctx;
			const id = ctx.policy.identify(req.peerCertificates);
			const who = describePeer(req, id);
			const f = formats(req);
			if (f.contentFormat !== ContentFormat.Pkcs10) return refuse(ctx, resource, who, Code.UnsupportedContentFormat, `Content-Format ${f.contentFormat ?? "none"}, expected ${ContentFormat.Pkcs10}`);
			// RFC 9148 §4.3: without Accept the server picks PKCS#7 (281); cBRSKI pledges ask for 287.
			const cf = f.accept ?? ContentFormat.Pkcs7CertsOnly;
			if (cf !== ContentFormat.Pkcs7CertsOnly && cf !== ContentFormat.PkixCert) return refuse(ctx, resource, who, Code.NotAcceptable, `Accept ${cf}: ${resource} answers 281 or 287`);
			if (typeof id === "string") return refuse(ctx, resource, who, Code.Unauthorized, id);
			const wanted = kind === "sen" ? "idevid" : "ldevid";
			if (id.kind !== wanted) return refuse(ctx, resource, who, Code.Forbidden, `${resource} needs an ${wanted === "idevid" ? "IDevID" : "LDevID"} session`);
			const serial = id.serialNumber;
			if (serial === undefined) return refuse(ctx, resource, who, Code.Forbidden, "the client certificate has no subject serialNumber");
			if (id.kind === "idevid" && !ctx.policy.accepts(id.manufacturer, serial)) return refuse(ctx, resource, who, Code.Forbidden, `serial ${serial} is not accepted for manufacturer ${id.manufacturer.name}`);
			// Review F3: enrollment follows a voucher the MASA issued for this device, relayed on this
			// association and not rejected by the pledge since (/vs false).
			if (id.kind === "idevid" && ctx.associations.of(req).voucherFor !== deviceKey(id.manufacturer.name, serial)) {
				return refuse(ctx, resource, who, Code.Forbidden, "no voucher for this device on this association (a /rv that got one must come first)");
			}
			let csr: CertificationRequest;
			try {
				csr = parseCsr(req.payload);
			} catch (e) {
				if (e instanceof CsrError) return refuse(ctx, resource, who, Code.BadRequest, e.message);
				throw e;
			}
			// Review F4 (cBRSKI §6.7, R30): the LDevID names the device as its certificate does, byte for
			// byte; the pledge repeats that subject, and anything else (a second serialNumber, another
			// organisation) is refused rather than certified.
			if (!bytesEqual(csr.subject.der, id.leaf.subject.der)) {
				return refuse(ctx, resource, who, Code.Forbidden, `CSR subject (serialNumber ${JSON.stringify(nameValue(csr.subject, "serialNumber") ?? null)}) is not the ${id.kind === "idevid" ? "IDevID" : "LDevID"}'s subject`);
			}
			if (csr.subject.attributes.filter((a) => a.type === Oid.SERIAL_NUMBER).length !== 1) return refuse(ctx, resource, who, Code.Forbidden, "the subject must carry exactly one serialNumber");
			let issued: IssuedLdevid;
			try {
				issued = await this.#o.issue({ csr: req.payload, subject: id.leaf.subject.der });
			} catch (e) {
				if (e instanceof CsrError) return refuse(ctx, resource, who, Code.BadRequest, e.message);
				ctx.host.log("error", `registrar: ${resource} for ${who}: issuing failed: ${e instanceof Error ? e.stack ?? e.message : String(e)}`);
				return { code: Code.InternalServerError };
			}
			const at = ctx.host.clock.wallTime();
			const manufacturer = id.kind === "idevid" ? id.manufacturer.name : "";
			ctx.db.recordEnrollment({ serialNumber: serial, manufacturer, at }, { kind, certificate: issued.der, certificateSerial: issued.serialNumber, notAfter: issued.notAfter });
			ctx.host.log("info", `registrar: ${resource} for ${who}: LDevID ${issued.serialNumber} issued`);
			return { code: Code.Changed, contentFormat: cf, payload: cf === ContentFormat.PkixCert ? issued.der : encodeCertsOnly([issued.der]) };
		};
	}
}

