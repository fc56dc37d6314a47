/* A MASA service and its HTTPS server from masa/config.json (layout: src/pki/config.ts). */

import { readFileSync } from "node:fs";
import { createNodeCrypto } from "../../hosts/node/crypto.js";
import { pemToDer } from "../../modules/util/base64.js";
import { parseEcPrivateKey } from "../../modules/x509/private-key.js";
import type { MasaConfig } from "../pki/config.js";
import { MasaService } from "./service.js";
import { SqliteAuditLog } from "./sqlite-audit-log.js";
import { startMasaHttps, type MasaHttpsServer } from "./https-server.js";

export interface RunningMasa {
	service: MasaService;
	audit: SqliteAuditLog;
	https: MasaHttpsServer;
	/** Idempotent: stops serving, then closes the audit log. */
	close(): Promise<void>;
}

const pem = (file: string): string => readFileSync(file, "utf8");
const ders = (file: string): Uint8Array[] => pemToDer(pem(file));

export async function startMasaFromConfig(c: MasaConfig, log: (level: "info" | "warn", message: string) => void): Promise<RunningMasa> {
	const serials = new Set(c.serials);
	const audit = new SqliteAuditLog(c.database);
	try {
		const service = new MasaService({
			crypto: createNodeCrypto(),
			signer: { privateKey: parseEcPrivateKey(ders(c.voucherSigner.key)[0]!), chain: c.voucherSigner.chain.flatMap(ders) },
			manufacturerAnchors: ders(c.manufacturerCa),
			owns: (s) => serials.has(s),
			audit,
			wallTime: () => Date.now(),
			log,
		});
		const https = await startMasaHttps({
			service,
			address: c.listen.address,
			port: c.listen.port,
			cert: pem(c.tls.cert),
			key: pem(c.tls.key),
			clientAnchors: c.tls.clientAnchors.map(pem),
			log,
		});
		let closing: Promise<void> | undefined;
		return {
			service,
			audit,
			https,
			close: () =>
				(closing ??= https.close().then(() => audit.close())),
		};
	} catch (e) {
		audit.close();
		throw e;
	}
}
