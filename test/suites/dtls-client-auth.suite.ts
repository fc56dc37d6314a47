/*
 * The server's proof that the client holds its certificate's key: a CertificateVerify that
 * verifies, after ClientKeyExchange and before Finished (RFC 5246 §7.4.8, RFC 6347). A scripted
 * client that knows only the pledge's (public) IDevID tries every way around it.
 */

import { suite } from "../lib/harness.js";
import { deepEqual, equal, ok } from "../lib/assert.js";
import { fixture } from "../lib/fixtures.js";
import { HONEST_FLIGHT, scriptedHandshake, type ClientStep } from "../lib/dtls-attacker.js";
import { registrarCredentials } from "../lib/draft-dtls.js";
import { ManualClock, SeededRandom } from "../../hosts/xs/index.js";
import { createNobleCrypto } from "../../modules/crypto/noble-provider.js";
import { DtlsAlertError } from "../../modules/dtls/connection.js";
import { AlertDescription } from "../../modules/dtls/handshake.js";
import { DtlsServer } from "../../modules/dtls/server.js";
import { pemToDer } from "../../modules/util/base64.js";
import { parseEcPrivateKey } from "../../modules/x509/private-key.js";

const pem = (name: string): Uint8Array => pemToDer(fixture(`cbrski/${name}`))[0]!;
const DECRYPT_ERROR = 51;

/** Runs `steps` against a Registrar's DTLS server, presenting the pledge's IDevID and signing with `key`. */
function attempt(steps: readonly ClientStep[], key = "key-pledge.pem") {
	const random = new SeededRandom(7);
	const crypto = createNobleCrypto((b) => random.fill(b));
	let connected = 0;
	const errors: (Error | undefined)[] = [];
	const inbox: Uint8Array[] = [];
	const server = new DtlsServer({
		crypto,
		clock: new ManualClock(),
		random: (b) => random.fill(b),
		...registrarCredentials(pem, crypto),
		onAccept: () => {},
		onConnected: () => connected++,
		onClose: (_peer, e) => errors.push(e),
	});
	const outcome = scriptedHandshake({
		crypto,
		random: (b) => random.fill(b),
		// The server keeps the reply path of the hello that opened the association: one inbox for all.
		exchange: (d) => {
			server.receive(d, "attacker", (r) => inbox.push(r));
			return inbox.splice(0);
		},
		certificates: [pem("cert-pledge.pem")],
		signingKey: parseEcPrivateKey(pem(key)),
		steps,
	});
	const active = server.stats().active;
	server.close();
	return { ...outcome, connected, errors, active };
}

/** The server refused with `alert`, sent it, and kept no association. */
function refused(r: ReturnType<typeof attempt>, alert: number): void {
	equal(r.serverFinished, false, "the server sent no Finished");
	equal(r.connected, 0, "no association was established");
	equal(r.active, 0, "no association is kept");
	deepEqual(r.alerts, [alert], "the client got exactly that fatal alert");
	const e = r.errors[0];
	ok(e instanceof DtlsAlertError && e.alert === alert && !e.received, `server closed with ${e?.message}`);
}

export default suite("dtls client authentication", (test) => {
	test("control: the scripted client with the pledge's own key completes the handshake", () => {
		const r = attempt(HONEST_FLIGHT);
		ok(r.serverFinished, "the server answered with its Finished");
		equal(r.connected, 1);
		deepEqual(r.alerts, []);
	});

	test("the victim's certificate without CertificateVerify: unexpected_message, no association", () => {
		refused(attempt(["certificate", "clientKeyExchange", "changeCipherSpec", "finished"]), AlertDescription.unexpectedMessage);
	});

	test("a CertificateVerify signed by another key: decrypt_error, no association", () => {
		refused(attempt(HONEST_FLIGHT, "key-registrar.pem"), DECRYPT_ERROR);
	});

	test("CertificateVerify before ClientKeyExchange: unexpected_message", () => {
		refused(attempt(["certificate", "certificateVerify", "clientKeyExchange", "changeCipherSpec", "finished"]), AlertDescription.unexpectedMessage);
	});

	test("a repeated Certificate, ClientKeyExchange or CertificateVerify: unexpected_message", () => {
		for (const twice of ["certificate", "clientKeyExchange", "certificateVerify"] as const) {
			const steps = HONEST_FLIGHT.flatMap((s) => (s === twice ? [s, s] : [s]));
			refused(attempt(steps), AlertDescription.unexpectedMessage);
		}
	});

	test("ClientKeyExchange without any Certificate: unexpected_message", () => {
		refused(attempt(["clientKeyExchange", "changeCipherSpec", "finished"]), AlertDescription.unexpectedMessage);
	});
});
