/*
 * The cBRSKI Registrar (cBRSKI §6, RFC 8995 §5, RFC 9148; digest §13): one CoAPS server whose DTLS
 * associations arrive both from UDP (stateful Join Proxies, pledges one hop away) and from the JPY
 * endpoint (stateless Join Proxies), natively: the JPY sessions feed the same CoapsServer, keyed by
 * (proxy, port, header) (R1, R13, R14). Resources: /.well-known/brski/{rv,vs,es} and
 * /.well-known/est/{crts,sen,sren}. Optional discovery: `rt=brski` and `rt=brski.rjp` answered at
 * ff05::fd (draft-ietf-anima-constrained-join-proxy §5.1). The network side takes a Host (so the
 * simulator runs it on virtual time); the MASA client, the database and the CA are injected.
 */

import type { Host, UdpSocket } from "../../hosts/host.js";
import { ALL_COAP_NODES_SITE_LOCAL, COAP_PORT, Code, ContentFormat } from "../../modules/coap/constants.js";
import { CoapRouter } from "../../modules/coap/router.js";
import type { LinkAttribute } from "../../modules/coap/link-format.js";
import type { CoapRequest, CoapResponse } from "../../modules/coap/types.js";
import { openUdpCoap, type UdpCoap } from "../../modules/coap/udp-endpoint.js";
import type { CryptoProvider } from "../../modules/crypto/provider.js";
import { CoapsServer, type CoapsRequest } from "../../modules/dtls/coaps.js";
import type { DtlsServerStats } from "../../modules/dtls/server.js";
import { RT_REGISTRAR, RT_REGISTRAR_JPY } from "../joinproxy/registrar-discovery.js";
import { VoucherService } from "./brski-resources.js";
import { Associations } from "./associations.js";
import { refuse, describePeer, type RegistrarContext } from "./context.js";
import type { RegistrarDatabase } from "./database.js";
import { EstResources, type LdevidIssuer } from "./est-resources.js";
import { JpyEndpoint, type JpyEndpointStats } from "./jpy-endpoint.js";
import type { MasaClient } from "./masa-client.js";
import { RegistrarPolicy, type Manufacturer } from "./policy.js";

/** RFC 7959 §2.2 SZX 5 = 512-byte blocks: leaves room for DTLS and JPY overhead under 1280 (R33). */
const BLOCK_SZX = 5;

/** cBRSKI §6.5 / RFC 9148 §4.1 resource paths (R2). */
export const RegistrarPath = Object.freeze({
	rv: "/.well-known/brski/rv",
	vs: "/.well-known/brski/vs",
	es: "/.well-known/brski/es",
	crts: "/.well-known/est/crts",
	sen: "/.well-known/est/sen",
	sren: "/.well-known/est/sren",
});

/** rt and ct link attributes of a resource in /.well-known/core (digest §3, R35). */
function attrs(rt: string, ct: string): LinkAttribute[] {
	return [{ name: "rt", value: rt }, { name: "ct", value: ct }];
}

export interface Listen {
	address?: string;
	/** 0: an ephemeral port. */
	port: number;
}

export interface RegistrarOptions {
	host: Host;
	crypto: CryptoProvider;
	/** Registrar certificate chain (DER, the cmcRA/serverAuth certificate first) and its P-256 scalar. */
	identity: { chain: Uint8Array[]; privateKey: Uint8Array };
	/** The domain CA certificates (DER, LDevID issuer first): LDevID client authentication and /crts. */
	domainCa: Uint8Array[];
	issueLdevid: LdevidIssuer;
	masaClient: MasaClient;
	db: RegistrarDatabase;
	manufacturers: Manufacturer[];
	/** CoAPS for stateful proxies; null: off. */
	coaps: Listen | null;
	/** JPY for stateless proxies; null: off. */
	jpy: Listen | null;
	/**
	 * Answer Registrar discovery at ff05::fd:5683 on `zone`, advertising `address` (a routable one),
	 * after a random delay up to `leisureMs` (RFC 7252 §8.2, default 5 s; keep it below the proxies' wait).
	 */
	discovery?: { zone: string; address: string; leisureMs?: number };
	/** See VoucherService. */
	masaWaitMs?: number;
	retryAfterSeconds?: number;
	/** DTLS associations kept at once (default 256) and their idle expiry (default 120 s). */
	maxSessions?: number;
	/** DTLS datagram size and first flight retransmission timeout (defaults: DtlsConnection's, 1024 and 1 s). */
	dtls?: { mtu?: number; retransmitInitialMs?: number };
	idleTimeoutMs?: number;
}

export interface RegistrarStats {
	dtls: DtlsServerStats;
	jpy: JpyEndpointStats | undefined;
}

export class Registrar {
	readonly #server: CoapsServer;
	#coaps: UdpSocket | undefined;
	#jpy: JpyEndpoint | undefined;
	#discovery: UdpCoap | undefined;
	#closed = false;

	private constructor(o: RegistrarOptions) {
		const policy = new RegistrarPolicy({ manufacturers: o.manufacturers, domainCa: o.domainCa, crypto: o.crypto, wallTime: () => o.host.clock.wallTime() });
		const ctx: RegistrarContext = { host: o.host, crypto: o.crypto, db: o.db, policy, associations: new Associations() };
		const vouchers = new VoucherService({
			ctx,
			masaClient: o.masaClient,
			chain: o.identity.chain,
			privateKey: o.identity.privateKey,
			...(o.masaWaitMs !== undefined ? { masaWaitMs: o.masaWaitMs } : {}),
			...(o.retryAfterSeconds !== undefined ? { retryAfterSeconds: o.retryAfterSeconds } : {}),
		});
		const est = new EstResources({ ctx, caCertificates: o.domainCa, issue: o.issueLdevid });
		// CoapsServer hands every handler a CoapsRequest; the router's type is the plain one. An
		// association refused for good (R18) gets 4.01 for anything: CoapsServer offers no way to end
		// one association, so it stays until its idle expiry, answering nothing else.
		const secure = <R>(h: (r: CoapsRequest) => R) => (r: CoapRequest): R | CoapResponse => {
			const req = r as CoapsRequest;
			const refused = ctx.associations.of(req).refused;
			if (refused !== undefined) return refuse(ctx, "/" + req.path.join("/"), describePeer(req, ctx.policy.identify(req.peerCertificates)), Code.Unauthorized, refused);
			return h(req);
		};
		const router = new CoapRouter()
			.add(RegistrarPath.rv, { post: secure(vouchers.rv), link: attrs("brski.rv", String(ContentFormat.VoucherCoseCbor)) })
			.add(RegistrarPath.vs, { post: secure(vouchers.telemetry("vs")), link: attrs("brski.vs", String(ContentFormat.Cbor)) })
			.add(RegistrarPath.es, { post: secure(vouchers.telemetry("es")), link: attrs("brski.es", String(ContentFormat.Cbor)) })
			.add(RegistrarPath.crts, { get: secure(est.crts), link: attrs("ace.est.crts", "62 281 287") })
			.add(RegistrarPath.sen, { post: secure(est.enroll("sen")), link: attrs("ace.est.sen", "281 287") })
			.add(RegistrarPath.sren, { post: secure(est.enroll("sren")), link: attrs("ace.est.sren", "281 287") });
		this.#server = new CoapsServer({
			crypto: o.crypto,
			clock: o.host.clock,
			random: (b) => o.host.random(b),
			identity: { certificates: o.identity.chain, privateKey: o.identity.privateKey },
			verifyPeer: policy.verifyPeer,
			maxSessions: o.maxSessions ?? 256,
			...o.dtls,
			idleTimeoutMs: o.idleTimeoutMs ?? 120_000,
			handler: router.handler,
			coap: { blockSzx: BLOCK_SZX, log: (level, message) => o.host.log(level, message) },
		});
	}

	/** Binds what `options` asks for; rejects (and releases what it bound) when a port is taken. */
	static async start(options: RegistrarOptions): Promise<Registrar> {
		const r = new Registrar(options);
		const { host } = options;
		try {
			if (options.coaps !== null) r.#coaps = await CoapsServer.onUdp(host, r.#server, { port: options.coaps.port, ...(options.coaps.address !== undefined ? { address: options.coaps.address } : {}) });
			if (options.jpy !== null) {
				const server = r.#server;
				r.#jpy = await JpyEndpoint.open({
					host,
					port: options.jpy.port,
					...(options.jpy.address !== undefined ? { address: options.jpy.address } : {}),
					onSession: (session) => {
						const from = { ...session.proxy, multicast: false };
						const reply = (d: Uint8Array): void => session.send(d);
						return { datagram: (content) => server.receive(content, session.id, reply, from) };
					},
				});
			}
			if (options.discovery !== undefined) r.#discovery = await r.#answerDiscovery(host, options.discovery);
		} catch (e) {
			r.close();
			throw e;
		}
		host.log("info", `registrar: CoAPS ${r.#coaps ? "port " + r.#coaps.port : "off"}, JPY ${r.#jpy ? "port " + r.#jpy.port : "off"}${options.discovery ? `, discovery at ${ALL_COAP_NODES_SITE_LOCAL}%${options.discovery.zone}` : ""}`);
		return r;
	}

	/** Draft §5.1: `<coaps://[a]:p>;rt=brski` (stateful) and `<jpy://[a]:p>;rt=brski.rjp` (stateless). */
	async #answerDiscovery(host: Host, d: NonNullable<RegistrarOptions["discovery"]>): Promise<UdpCoap> {
		const router = new CoapRouter();
		if (this.#coaps !== undefined) router.addLink({ target: `coaps://[${d.address}]:${this.#coaps.port}`, attributes: [{ name: "rt", value: RT_REGISTRAR }] });
		if (this.#jpy !== undefined) router.addLink({ target: `jpy://[${d.address}]:${this.#jpy.port}`, attributes: [{ name: "rt", value: RT_REGISTRAR_JPY }] });
		return openUdpCoap(host, { port: COAP_PORT, address: d.address, zone: d.zone, groups: [ALL_COAP_NODES_SITE_LOCAL], handler: router.handler, ...(d.leisureMs !== undefined ? { multicastLeisureMs: d.leisureMs } : {}) });
	}

	get coapsPort(): number | undefined {
		return this.#coaps?.port;
	}

	get jpyPort(): number | undefined {
		return this.#jpy?.port;
	}

	stats(): RegistrarStats {
		return { dtls: this.#server.dtls.stats(), jpy: this.#jpy?.stats() };
	}

	/** Idempotent: ends every association and closes every socket (the database is the caller's). */
	close(): void {
		if (this.#closed) return;
		this.#closed = true;
		this.#discovery?.close();
		this.#jpy?.close();
		this.#coaps?.close();
		this.#server.close();
	}
}
