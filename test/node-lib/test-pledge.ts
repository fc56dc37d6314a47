/*
 * The pledge side of an onboarding, built from the existing blocks for the Registrar's tests (the
 * real pledge is src/pledge): DTLS with the pki-init'd IDevID, a PVR naming the Registrar's key,
 * /rv (resending the identical PVR after a 5.03), /vs, /crts, /sen with a fresh P-256 key, /es.
 */

import { randomBytes } from "node:crypto";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import type { Host, UdpPeer } from "../../hosts/host.js";
import { Code, ContentFormat, Opt } from "../../modules/coap/constants.js";
import { uintOptionValue } from "../../modules/coap/message.js";
import type { ReceivedResponse } from "../../modules/coap/types.js";
import { encodeCoseSign1, signCoseSign1 } from "../../modules/cose/sign1.js";
import type { CryptoProvider } from "../../modules/crypto/provider.js";
import { openCoapsClient, type CoapsClient, type CoapsClientOptions } from "../../modules/dtls/coaps.js";
import { provisionalVerifier } from "../../modules/dtls/peer-verifier.js";
import { pemToDer } from "../../modules/util/base64.js";
import { encodeStatusTelemetry } from "../../modules/voucher/telemetry.js";
import { Assertion, encodeVoucherRequest } from "../../modules/voucher/voucher.js";
import { parseCertificate } from "../../modules/x509/certificate.js";
import { createCsr } from "../../modules/x509/csr.js";
import { parseEcPrivateKey } from "../../modules/x509/private-key.js";

export interface TestPledgeIdentity {
	chain: Uint8Array[];
	privateKey: Uint8Array;
	serial: string;
}

/** pledges/SERIAL from `cjp pki init`. */
export function loadPledge(dir: string): TestPledgeIdentity {
	const cert = pemToDer(readFileSync(join(dir, "idevid.pem"), "utf8"))[0]!;
	const serial = JSON.parse(readFileSync(join(dir, "config.json"), "utf8")).serialNumber as string;
	return { chain: [cert], privateKey: parseEcPrivateKey(pemToDer(readFileSync(join(dir, "idevid.key"), "utf8"))[0]!), serial };
}

export interface Session {
	client: CoapsClient;
	server: UdpPeer;
	/** The Registrar's DTLS chain, as the pledge saw it. */
	registrarChain: Uint8Array[];
}

/** `maxFragmentLength` and `coap` override the defaults (2^10; 512-byte blocks). */
export async function connect(
	host: Host,
	crypto: CryptoProvider,
	server: UdpPeer,
	identity: { chain: Uint8Array[]; privateKey: Uint8Array },
	o: { maxFragmentLength?: 512 | 1024; coap?: CoapsClientOptions["coap"] } = {},
): Promise<Session> {
	let registrarChain: Uint8Array[] = [];
	const client = await openCoapsClient({
		host,
		crypto,
		server,
		identity: { certificates: identity.chain, privateKey: identity.privateKey },
		verifyPeer: provisionalVerifier((c) => (registrarChain = c)),
		dtls: { maxFragmentLength: o.maxFragmentLength ?? 1024 },
		coap: { blockSzx: 5, ackTimeoutMs: 1000, maxRetransmitIntervalMs: 8000, ...o.coap },
	});
	return { client, server, registrarChain };
}

export interface PvrOptions {
	nonce?: Uint8Array;
	serial?: string;
	/** Name this key instead of the Registrar's (a proximity mismatch). */
	proximityPubk?: Uint8Array;
}

export function makePvr(crypto: CryptoProvider, pledge: TestPledgeIdentity, registrarLeaf: Uint8Array, o: PvrOptions = {}): Uint8Array {
	const payload = encodeVoucherRequest({
		assertion: Assertion.proximity,
		nonce: o.nonce ?? new Uint8Array(randomBytes(16)),
		serialNumber: o.serial ?? pledge.serial,
		proximityRegistrarPubk: o.proximityPubk ?? parseCertificate(registrarLeaf).publicKey.spki,
	});
	return encodeCoseSign1(signCoseSign1(crypto, pledge.privateKey, payload));
}

export function post(s: Session, path: string, payload: Uint8Array, contentFormat: number, accept?: number): Promise<ReceivedResponse> {
	return s.client.endpoint.request({ peer: s.server, method: 2, path, payload, contentFormat, ...(accept !== undefined ? { accept } : {}) });
}

/** POST /rv, resending the identical PVR after each 5.03 (waiting its Max-Age) up to `tries` times. */
export async function requestVoucher(s: Session, pvr: Uint8Array, tries = 10, sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))): Promise<{ response: ReceivedResponse; unavailable: number }> {
	let unavailable = 0;
	for (;;) {
		const response = await post(s, "/.well-known/brski/rv", pvr, ContentFormat.VoucherCoseCbor);
		if (response.code !== Code.ServiceUnavailable || ++unavailable >= tries) return { response, unavailable };
		await sleep(1000 * (uintOptionValue(response, Opt.MaxAge) ?? 1));
	}
}

export function telemetry(status: boolean, reason?: string): Uint8Array {
	return encodeStatusTelemetry({ version: 1, status, ...(reason !== undefined ? { reason } : {}) });
}

/** A CSR for a fresh key with the IDevID's subject (cBRSKI §6.7); returns the key too. */
export function makeCsr(crypto: CryptoProvider, idevid: Uint8Array, subject?: Uint8Array): { csr: Uint8Array; privateKey: Uint8Array } {
	const k = crypto.ecGenerate();
	return { csr: createCsr({ crypto, privateKey: k.privateKey, publicKey: k.publicKey, subject: subject ?? parseCertificate(idevid).subject.der }), privateKey: k.privateKey };
}
