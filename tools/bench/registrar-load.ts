/*
 * registrar.onboardingsPerSecond: the Registrar on loopback (SQLite database, src/masa's MASA in
 * process) and CLIENTS concurrent pledges, each onboarding over and over for DURATION_MS: a new DTLS
 * session with its IDevID, then /rv, /vs, /sen and /es. Prints one JSON line.
 */

import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createNodeHost } from "../../hosts/node/index.js";
import { createNodeCrypto } from "../../hosts/node/crypto.js";
import { Code, ContentFormat } from "../../modules/coap/constants.js";
import { startMasaFromConfig } from "../../src/masa/from-config.js";
import { loadMasaConfig, loadRegistrarConfig } from "../../src/pki/config.js";
import { initPki } from "../../src/pki/init.js";
import { inProcessMasaClient } from "../../src/registrar/masa-client.js";
import { startNodeRegistrar } from "../../src/registrar/node-registrar.js";
import { connect, loadPledge, makeCsr, makePvr, post, requestVoucher, telemetry } from "../../test/node-lib/test-pledge.js";

const CLIENTS = 8;
const DURATION_MS = 5_000;

const dir = mkdtempSync(join(tmpdir(), "cjp-bench-registrar-"));
try {
	const pki = await initPki({ dir, pledges: CLIENTS });
	const masa = await startMasaFromConfig({ ...loadMasaConfig(pki.masaConfig), listen: { address: "::1", port: 0 } }, () => {});
	const config = loadRegistrarConfig(pki.registrarConfig);
	const host = createNodeHost({ logLevel: "error" });
	const crypto = createNodeCrypto();
	const reg = await startNodeRegistrar(config, host, { masaClient: inProcessMasaClient(masa.service, new Uint8Array(0)), coapsPort: 0, jpyPort: null });
	const server = { address: "::1", port: reg.registrar.coapsPort!, zone: "" };
	const end = Date.now() + DURATION_MS;
	let onboardings = 0;
	const started = Date.now();
	await Promise.all(
		pki.pledgeDirs.map(async (d) => {
			const pledge = loadPledge(d);
			while (Date.now() < end) {
				const s = await connect(host, crypto, server, pledge);
				try {
					const { response } = await requestVoucher(s, makePvr(crypto, pledge, s.registrarChain[0]!));
					if (response.code !== Code.Changed) throw new Error(`rv: ${response.code}`);
					await post(s, "/.well-known/brski/vs", telemetry(true), ContentFormat.Cbor);
					const sen = await post(s, "/.well-known/est/sen", makeCsr(crypto, pledge.chain[0]!).csr, ContentFormat.Pkcs10, ContentFormat.PkixCert);
					if (sen.code !== Code.Changed) throw new Error(`sen: ${sen.code}`);
					await post(s, "/.well-known/brski/es", telemetry(true), ContentFormat.Cbor);
					onboardings++;
				} finally {
					s.client.close();
				}
			}
		}),
	);
	const seconds = (Date.now() - started) / 1000;
	reg.close();
	await masa.close();
	process.stdout.write(`${JSON.stringify({ onboardingsPerSecond: Number((onboardings / seconds).toFixed(1)), onboardings, clients: CLIENTS, seconds })}\n`);
} finally {
	rmSync(dir, { recursive: true, force: true });
}
