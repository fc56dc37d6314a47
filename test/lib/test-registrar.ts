/*
 * A stand-in Registrar and MASA for the pledge suite, built from the project's own pieces (CoapsServer,
 * COSE signing, CSR parsing) with the drafts' keys and certificates: it serves /rv (answering with a
 * voucher it signs itself, as the MASA would, with the draft's MASA CA key), /vs, /es, /crts and /sen
 * (issuing LDevIDs from the draft's domain CA key), on a CoAPS port for stateful proxies and a JPY
 * port for stateless ones at once. Knobs make it misbehave the ways the negative tests need.
 * Runs in both lanes (no Node APIs): the real Registrar (src/registrar) is Node only.
 */

import type { Host, UdpPeer, UdpSocket } from "../../hosts/host.js";
import { CoapsServer } from "../../modules/dtls/coaps.js";
import { anchoredVerifier } from "../../modules/dtls/peer-verifier.js";
import type { CoapRequest, CoapResponse } from "../../modules/coap/endpoint.js";
import { Code, ContentFormat, Opt } from "../../modules/coap/constants.js";
import { option, uintOptionValue } from "../../modules/coap/message.js";
import { createNobleCrypto } from "../../modules/crypto/noble-provider.js";
import type { CryptoProvider } from "../../modules/crypto/provider.js";
import { decodeCoseSign1, encodeCoseSign1, signCoseSign1, verifyCoseSign1 } from "../../modules/cose/sign1.js";
import { Assertion, checkPledgeVoucherRequest, decodeVoucherRequest, encodeVoucher, type Voucher, type VoucherRequest } from "../../modules/voucher/voucher.js";
import { decodeStatusTelemetry, type StatusTelemetry } from "../../modules/voucher/telemetry.js";
import { encodeMultipartCore } from "../../modules/est/multipart-core.js";
import { parseVerifiedCsr } from "../../modules/x509/csr.js";
import { parseCertificate, Oid } from "../../modules/x509/certificate.js";
import { derBoolean, derExplicit, derInteger, derOctetString, derOid, derSequence, derSmallInteger, derTlv, derBitString } from "../../modules/asn1/der.js";
import { decodeJpy, encodeJpyInto, jpyEncodedLength } from "../../modules/jpy/message.js";
import { peerKey } from "../../modules/util/peer.js";
import { toHex } from "../../modules/util/hex.js";
import { utf8Encode } from "../../modules/util/utf8.js";
import { certDer, privateKey } from "./cbrski-vectors.js";

export const REGISTRAR_COAPS_PORT = 5684;
export const REGISTRAR_JPY_PORT = 7634;

export interface TestRegistrarOptions {
	host: Host;
	/** Ports to serve CoAPS and JPY on (defaults 5684 and 7634; 0: any free port, see `ports`). */
	coapsPort?: number;
	jpyPort?: number;
	/** Changes the voucher the "MASA" issues for a PVR; called with the attempt number (1, 2, ...). */
	tamperVoucher?: (v: Voucher, attempt: number) => Voucher | undefined;
	/** Signs vouchers with this key (default the draft's MASA CA key) for these attempts. */
	wrongSignerFor?: (attempt: number) => boolean;
	/** Signs the voucher of this attempt with `key`, putting `x5bag` in its unprotected header. */
	signWith?: (attempt: number) => { key: Uint8Array; x5bag: Uint8Array[] } | undefined;
	/**
	 * Serve DTLS with a certificate for the Registrar's key issued by the domain CA without id-kp-cmcRA
	 * (what an LDevID of a fellow device looks like to the pledge).
	 */
	withoutCmcRa?: boolean;
	/** Answer this many /rv requests with 5.03 + Max-Age before the voucher. */
	unavailable?: number;
	maxAgeS?: number;
	/** Garbage instead of proper replies, for the property test: returns a response for any request. */
	garbage?: (request: CoapRequest) => CoapResponse | undefined;
}

export interface Telemetry extends StatusTelemetry {
	path: "vs" | "es";
}

const DAY_MS = 86_400_000;

/** YYMMDDHHMMSSZ (UTCTime, RFC 5280 §4.1.2.5.1) for dates before 2050. */
function utcTime(ms: number): Uint8Array {
	const d = new Date(ms);
	const two = (n: number): string => String(n).padStart(2, "0");
	return derTlv(0x17, utf8Encode(`${two(d.getUTCFullYear() % 100)}${two(d.getUTCMonth() + 1)}${two(d.getUTCDate())}${two(d.getUTCHours())}${two(d.getUTCMinutes())}${two(d.getUTCSeconds())}Z`));
}

/** An end-entity certificate for `spki` and `subject` (DER), issued by the draft's domain CA. */
export function issueLdevid(crypto: CryptoProvider, subject: Uint8Array, spki: Uint8Array, serial: number, notBeforeMs: number): Uint8Array {
	const ca = parseCertificate(certDer("cert-domain_ca.pem"));
	const alg = derSequence(derOid(Oid.ECDSA_WITH_SHA256));
	const basicConstraints = derSequence(derOid(Oid.BASIC_CONSTRAINTS), derBoolean(true), derOctetString(derSequence()));
	const tbs = derSequence(
		derExplicit(0, derSmallInteger(2)),
		derInteger(Uint8Array.of(0x10, serial >> 8, serial & 0xff)),
		alg,
		ca.subject.der,
		derSequence(utcTime(notBeforeMs), utcTime(notBeforeMs + 365 * DAY_MS)),
		subject,
		spki,
		derExplicit(3, derSequence(basicConstraints)),
	);
	return derSequence(tbs, alg, derBitString(crypto.ecdsaSign(privateKey("key-domain_ca.pem"), tbs)));
}

export class TestRegistrar {
	readonly pvrs: VoucherRequest[] = [];
	/** Every /rv request body, 5.03-answered ones included. */
	readonly rvBodies: Uint8Array[] = [];
	readonly telemetry: Telemetry[] = [];
	readonly issued: Uint8Array[] = [];
	readonly #o: TestRegistrarOptions;
	readonly #crypto: CryptoProvider;
	readonly #server: CoapsServer;
	readonly #sockets: UdpSocket[] = [];
	/** Handshakes whose client certificate is an LDevID we issued (the success /es goes on one, P34). */
	ldevidHandshakes = 0;
	#unavailable: number;
	#serial = 1;

	private constructor(options: TestRegistrarOptions) {
		this.#o = options;
		const { host } = options;
		this.#crypto = createNobleCrypto((b) => host.random(b));
		this.#unavailable = options.unavailable ?? 0;
		const drafted = parseCertificate(certDer("cert-registrar.pem"));
		const registrar = options.withoutCmcRa === true ? parseCertificate(issueLdevid(this.#crypto, drafted.subject.der, drafted.publicKey.spki, 0xfff, host.clock.wallTime())) : drafted;
		this.#server = new CoapsServer({
			crypto: this.#crypto,
			clock: host.clock,
			random: (b) => host.random(b),
			identity: { certificates: [registrar.der, certDer("cert-domain_ca.pem")], privateKey: privateKey("key-registrar.pem") },
			// IDevIDs chain to the manufacturer CA, LDevIDs to the domain CA; no clock (the draft's certificates have expired).
			verifyPeer: (chain) => {
				const r = anchoredVerifier({ anchors: [certDer("cert-masa_ca.pem"), certDer("cert-domain_ca.pem")], crypto: this.#crypto })(chain);
				if (r === undefined && chain[0] !== undefined && this.issued.some((d) => toHex(d) === toHex(chain[0]!))) this.ldevidHandshakes++;
				return r;
			},
			handler: (req) => this.#handle(req),
			coap: { blockSzx: 5 },
		});
	}

	static async start(options: TestRegistrarOptions): Promise<TestRegistrar> {
		const r = new TestRegistrar(options);
		r.#sockets.push(await CoapsServer.onUdp(options.host, r.#server, { port: options.coapsPort ?? REGISTRAR_COAPS_PORT }));
		// JPY (JP draft §4.5.7): (proxy address, port, header) is the session; replies echo the header.
		const jpy: UdpSocket = await options.host.udp.bind({
			port: options.jpyPort ?? REGISTRAR_JPY_PORT,
			onDatagram: (data, from) => {
				let v;
				try {
					v = decodeJpy(data);
				} catch {
					return;
				}
				const header = data.slice(v.headerStart, v.headerStart + v.headerLength);
				const content = data.slice(v.contentStart, v.contentStart + v.contentLength);
				const to: UdpPeer = { address: from.address, port: from.port, zone: from.zone };
				r.#server.receive(content, `${peerKey(from)}#${toHex(header)}`, (out) => {
					const wrapped = new Uint8Array(jpyEncodedLength(header.length, out.length));
					encodeJpyInto(header, out, wrapped, 0);
					jpy.send(wrapped, to);
				}, from);
			},
		});
		r.#sockets.push(jpy);
		return r;
	}

	/** The bound CoAPS and JPY ports. */
	get ports(): { coaps: number; jpy: number } {
		return { coaps: this.#sockets[0]!.port, jpy: this.#sockets[1]!.port };
	}

	/** The voucher requests answered so far (1-based attempt number of the next). */
	get voucherRequests(): number {
		return this.pvrs.length;
	}

	close(): void {
		this.#server.close();
		for (const s of this.#sockets) s.close();
	}

	#handle(req: CoapRequest): CoapResponse {
		const garbage = this.#o.garbage?.(req);
		if (garbage !== undefined) return garbage;
		const path = "/" + req.path.join("/");
		switch (path) {
			case "/.well-known/brski/rv":
				return this.#voucher(req);
			case "/.well-known/brski/vs":
			case "/.well-known/brski/es":
				return this.#status(req, path.endsWith("vs") ? "vs" : "es");
			case "/.well-known/est/crts":
				return { code: Code.Content, contentFormat: ContentFormat.MultipartCore, payload: encodeMultipartCore([{ contentFormat: ContentFormat.PkixCert, body: certDer("cert-domain_ca.pem") }]) };
			case "/.well-known/est/sen":
				return this.#enroll(req);
			default:
				return { code: Code.NotFound };
		}
	}

	#voucher(req: CoapRequest): CoapResponse {
		if (uintOptionValue(req, Opt.ContentFormat) !== ContentFormat.VoucherCoseCbor) return { code: Code.UnsupportedContentFormat };
		this.rvBodies.push(req.payload.slice());
		if (this.#unavailable > 0) {
			this.#unavailable--;
			return { code: Code.ServiceUnavailable, options: [option(Opt.MaxAge, this.#o.maxAgeS ?? 5)] };
		}
		let pvr: VoucherRequest;
		try {
			const cose = decodeCoseSign1(req.payload);
			// The DTLS client certificate is the draft's IDevID here; a real Registrar takes it from the session.
			if (!verifyCoseSign1(this.#crypto, parseCertificate(certDer("cert-pledge.pem")).publicKey.bytes, cose)) return { code: Code.Forbidden };
			pvr = decodeVoucherRequest(cose.payload);
			checkPledgeVoucherRequest(pvr);
		} catch {
			return { code: Code.BadRequest };
		}
		this.pvrs.push(pvr);
		const attempt = this.pvrs.length;
		let v: Voucher | undefined = {
			assertion: Assertion.proximity,
			serialNumber: pvr.serialNumber!,
			nonce: pvr.nonce!,
			createdOn: new Date(this.#o.host.clock.wallTime()).toISOString(),
			pinnedDomainCert: certDer("cert-domain_ca.pem"),
		};
		v = this.#o.tamperVoucher?.(v, attempt) ?? v;
		const key = this.#o.wrongSignerFor?.(attempt) === true ? privateKey("key-registrar.pem") : privateKey("key-masa_ca.pem");
		const other = this.#o.signWith?.(attempt);
		const signed = encodeCoseSign1(other !== undefined ? signCoseSign1(this.#crypto, other.key, encodeVoucher(v), { x5bag: other.x5bag }) : signCoseSign1(this.#crypto, key, encodeVoucher(v)));
		return { code: Code.Changed, contentFormat: ContentFormat.VoucherCoseCbor, payload: signed };
	}

	#status(req: CoapRequest, path: "vs" | "es"): CoapResponse {
		try {
			const t = decodeStatusTelemetry(req.payload);
			this.telemetry.push({ ...t, path });
		} catch {
			return { code: Code.BadRequest };
		}
		return { code: Code.Changed };
	}

	#enroll(req: CoapRequest): CoapResponse {
		let csr;
		try {
			csr = parseVerifiedCsr(req.payload, this.#crypto);
		} catch {
			return { code: Code.BadRequest };
		}
		const cert = issueLdevid(this.#crypto, csr.subject.der, csr.publicKey.spki, this.#serial++, this.#o.host.clock.wallTime());
		this.issued.push(cert);
		return { code: Code.Changed, contentFormat: ContentFormat.PkixCert, payload: cert };
	}
}
