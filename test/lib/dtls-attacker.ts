/*
 * A scripted DTLS 1.2 client for attack tests. It does the cookie exchange and reads the server's
 * flight like any client, then sends the messages of its own flight in whatever order and number
 * a test lists, with whatever certificate and signing key the test gives: enough to impersonate a
 * device whose (public) certificate one holds but not its key. Built only from the module's own
 * codecs, key schedule and record layer, one datagram at a time, so it needs no network or clock
 * and runs in both lanes.
 */

import type { CryptoProvider } from "../../modules/crypto/provider.js";
import { readFragments, Reassembler } from "../../modules/dtls/fragments.js";
import {
	CipherSuite,
	COMPRESSION_NULL,
	decodeHandshakeMessage,
	decodeHelloVerifyRequest,
	decodeServerHello,
	decodeServerKeyExchange,
	DTLS_1_2,
	ECDSA_SHA256,
	ecPointFormatsExtension,
	encodeCertificate,
	encodeCertificateVerify,
	encodeClientHello,
	encodeClientKeyExchange,
	encodeFinished,
	encodeHandshakeMessage,
	extendedMasterSecretExtension,
	HandshakeType,
	NAMED_CURVE_SECP256R1,
	signatureAlgorithmsExtension,
	supportedGroupsExtension,
} from "../../modules/dtls/handshake.js";
import { extendedMasterSecret, KEY_BLOCK_LENGTH_CCM8, keyBlock, keyMaterialCcm8, verifyData } from "../../modules/dtls/prf.js";
import { CONTENT_ALERT, CONTENT_CHANGE_CIPHER_SPEC, CONTENT_HANDSHAKE, RecordLayer, RecordProtection } from "../../modules/dtls/record.js";
import { concatBytes } from "../../modules/util/hex.js";

/** One step of the client's second flight; each goes out in a datagram of its own. */
export type ClientStep = "certificate" | "clientKeyExchange" | "certificateVerify" | "changeCipherSpec" | "finished";

/** The honest order (RFC 5246 §7.3). */
export const HONEST_FLIGHT: readonly ClientStep[] = Object.freeze(["certificate", "clientKeyExchange", "certificateVerify", "changeCipherSpec", "finished"]);

export interface ScriptedClientOptions {
	crypto: CryptoProvider;
	random(bytes: Uint8Array): Uint8Array;
	/** Sends one datagram to the server and returns the datagrams it answered with at once. */
	exchange(datagram: Uint8Array): Uint8Array[];
	/** The chain the Certificate message shows (DER, leaf first). */
	certificates: Uint8Array[];
	/** Signs CertificateVerify: the leaf's own key, or any other. */
	signingKey: Uint8Array;
	steps: readonly ClientStep[];
}

export interface ScriptedOutcome {
	/** Alert descriptions the server sent, in order. */
	alerts: number[];
	/** The server answered with its Finished: it took the client's flight as authentic. */
	serverFinished: boolean;
}

export function scriptedHandshake(o: ScriptedClientOptions): ScriptedOutcome {
	const { crypto } = o;
	const out: ScriptedOutcome = { alerts: [], serverFinished: false };
	const records = new RecordLayer();
	const reassembler = new Reassembler();
	const received: Uint8Array[] = [];
	let pendingRead: RecordProtection | undefined;
	const read = (datagram: Uint8Array): void =>
		records.unprotectEach(datagram, (r) => {
			if (r.type === CONTENT_ALERT) out.alerts.push(r.plaintext[1]!);
			else if (r.type === CONTENT_CHANGE_CIPHER_SPEC && pendingRead !== undefined) {
				records.setReadProtection(1, pendingRead);
				pendingRead = undefined;
			} else if (r.type === CONTENT_HANDSHAKE) {
				for (const f of readFragments(r.plaintext)) reassembler.add(f);
				for (let m = reassembler.pop(); m !== undefined; m = reassembler.pop()) {
					received.push(m);
					if (r.epoch > 0 && decodeHandshakeMessage(m).msgType === HandshakeType.finished) out.serverFinished = true;
				}
			}
		});
	const send = (type: number, payload: Uint8Array): void => {
		for (const d of o.exchange(records.protect(type, payload))) read(d);
	};

	let seq = 0;
	const clientRandom = o.random(new Uint8Array(32));
	const hello = (cookie: Uint8Array): Uint8Array =>
		encodeHandshakeMessage(
			HandshakeType.clientHello,
			seq++,
			encodeClientHello({
				clientVersion: DTLS_1_2,
				random: clientRandom,
				sessionId: new Uint8Array(0),
				cookie,
				cipherSuites: [CipherSuite.ecdheEcdsaWithAes128Ccm8],
				compressionMethods: [COMPRESSION_NULL],
				extensions: [supportedGroupsExtension([NAMED_CURVE_SECP256R1]), ecPointFormatsExtension(), signatureAlgorithmsExtension([ECDSA_SHA256]), extendedMasterSecretExtension()],
			}),
		);
	send(CONTENT_HANDSHAKE, hello(new Uint8Array(0)));
	const hvr = received.shift();
	if (hvr === undefined) return out;
	const withCookie = hello(decodeHelloVerifyRequest(decodeHandshakeMessage(hvr).body).cookie);
	send(CONTENT_HANDSHAKE, withCookie);
	const transcript = [withCookie, ...received.splice(0)];
	let serverRandom: Uint8Array = new Uint8Array(0);
	let serverPoint: Uint8Array = new Uint8Array(0);
	for (const m of transcript.slice(1)) {
		const { msgType, body } = decodeHandshakeMessage(m);
		if (msgType === HandshakeType.serverHello) serverRandom = decodeServerHello(body).random;
		if (msgType === HandshakeType.serverKeyExchange) serverPoint = decodeServerKeyExchange(body).publicKey;
	}
	if (serverPoint.length === 0) return out;

	let master: Uint8Array | undefined;
	let write: RecordProtection | undefined;
	const message = (type: number, body: Uint8Array): void => {
		const m = encodeHandshakeMessage(type, seq++, body);
		transcript.push(m);
		send(CONTENT_HANDSHAKE, m);
	};
	for (const step of o.steps) {
		switch (step) {
			case "certificate":
				message(HandshakeType.certificate, encodeCertificate(o.certificates));
				break;
			case "clientKeyExchange": {
				const ecdhe = crypto.ecGenerate();
				message(HandshakeType.clientKeyExchange, encodeClientKeyExchange(ecdhe.publicKey));
				// RFC 7627 §4: the session hash runs through ClientKeyExchange.
				master = extendedMasterSecret(crypto, crypto.ecdh(ecdhe.privateKey, serverPoint), crypto.sha256(concatBytes(transcript)));
				const keys = keyMaterialCcm8(keyBlock(crypto, master, serverRandom, clientRandom, KEY_BLOCK_LENGTH_CCM8));
				write = new RecordProtection({ key: keys.clientWriteKey, salt: keys.clientWriteIv });
				pendingRead = new RecordProtection({ key: keys.serverWriteKey, salt: keys.serverWriteIv });
				break;
			}
			case "certificateVerify":
				message(HandshakeType.certificateVerify, encodeCertificateVerify({ signatureAlgorithm: ECDSA_SHA256, signature: crypto.ecdsaSign(o.signingKey, concatBytes(transcript)) }));
				break;
			case "changeCipherSpec":
				send(CONTENT_CHANGE_CIPHER_SPEC, new Uint8Array([1]));
				if (write !== undefined) records.setWriteProtection(1, write);
				break;
			case "finished":
				if (master === undefined) throw new RangeError("script sends Finished before ClientKeyExchange");
				message(HandshakeType.finished, encodeFinished(verifyData(crypto, master, "client finished", crypto.sha256(concatBytes(transcript)))));
				break;
		}
	}
	return out;
}
