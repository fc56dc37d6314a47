/*
 * The Registrar on Node from its configuration (src/pki/config.ts RegistrarConfig): PEM files read,
 * the SQLite database opened, HTTPS with mutual TLS to the MASA, LDevIDs issued by the domain CA
 * with @peculiar/x509 (src/pki/ca.ts). `cjp registrar`, the end-to-end tests and the benchmark use it.
 */

import { readFileSync } from "node:fs";
import type { Host } from "../../hosts/host.js";
import { createNodeCrypto } from "../../hosts/node/crypto.js";
import { pemToDer } from "../../modules/util/base64.js";
import { parseEcPrivateKey } from "../../modules/x509/private-key.js";
import { issueLdevid, loadKeyedCertificate } from "../pki/ca.js";
import type { RegistrarConfig } from "../pki/config.js";
import type { RegistrarDatabase } from "./database.js";
import type { LdevidIssuer } from "./est-resources.js";
import { HttpsMasaClient } from "./https-masa-client.js";
import type { MasaClient } from "./masa-client.js";
import type { Manufacturer } from "./policy.js";
import { Registrar, type RegistrarOptions } from "./registrar.js";
import { SqliteRegistrarDatabase } from "./sqlite-database.js";

const certificates = (file: string): Uint8Array[] => pemToDer(readFileSync(file, "utf8"), "CERTIFICATE");

export interface NodeRegistrarOverrides {
	/** Instead of HTTPS (e.g. an in-process MASA). */
	masaClient?: MasaClient;
	/** Instead of the SQLite file of the configuration. */
	db?: RegistrarDatabase;
	discovery?: RegistrarOptions["discovery"];
	/** Ports instead of the configuration's (0: ephemeral; null: off). */
	coapsPort?: number | null;
	jpyPort?: number | null;
	masaWaitMs?: number;
	retryAfterSeconds?: number;
}

export interface NodeRegistrar {
	registrar: Registrar;
	db: RegistrarDatabase;
	/** Idempotent: the Registrar, the MASA client and the database. */
	close(): void;
}

/** The issuer of LDevIDs for `config`'s domain CA. */
export async function domainCaIssuer(config: RegistrarConfig): Promise<LdevidIssuer> {
	const ca = await loadKeyedCertificate(config.domainCa.cert, config.domainCa.key);
	const crypto = createNodeCrypto();
	return async ({ csr, subject }) => {
		const c = await issueLdevid({ ca, csr, expectedSubject: subject, validityDays: config.ldevidValidityDays, crypto });
		return { der: c.der, serialNumber: c.serialNumber, notAfter: c.notAfter.getTime() };
	};
}

/** Reads everything `config` names (throws for unreadable files) and starts the Registrar on `host`. */
export async function startNodeRegistrar(config: RegistrarConfig, host: Host, o: NodeRegistrarOverrides = {}): Promise<NodeRegistrar> {
	const chain = config.chain.flatMap(certificates);
	const keyPem = readFileSync(config.key, "utf8");
	const privateKey = parseEcPrivateKey(pemToDer(keyPem)[0]!);
	const manufacturers: Manufacturer[] = config.manufacturers.map((m) => ({
		name: m.name,
		anchors: certificates(m.anchor),
		voucherAnchors: m.voucherAnchors.flatMap(certificates),
		masaTlsAnchors: m.masaTlsAnchors.flatMap(certificates),
		masaUrl: m.masaUrl,
		serials: m.serials,
	}));
	const issue = await domainCaIssuer(config);
	const masaClient = o.masaClient ?? new HttpsMasaClient({ clientChain: chain, clientKeyPem: keyPem });
	const db = o.db ?? new SqliteRegistrarDatabase(config.database);
	const listen = (l: RegistrarConfig["coaps"], port: number | null | undefined) => (port === null ? null : { address: l.address, port: port ?? l.port });
	let registrar: Registrar;
	try {
		registrar = await Registrar.start({
			host,
			crypto: createNodeCrypto(),
			identity: { chain, privateKey },
			domainCa: certificates(config.domainCa.cert),
			issueLdevid: issue,
			masaClient,
			db,
			manufacturers,
			coaps: listen(config.coaps, o.coapsPort),
			jpy: listen(config.jpy, o.jpyPort),
			...(o.discovery !== undefined ? { discovery: o.discovery } : {}),
			...(o.masaWaitMs !== undefined ? { masaWaitMs: o.masaWaitMs } : {}),
			...(o.retryAfterSeconds !== undefined ? { retryAfterSeconds: o.retryAfterSeconds } : {}),
		});
	} catch (e) {
		masaClient.close?.();
		if (o.db === undefined) db.close();
		throw e;
	}
	let closed = false;
	return {
		registrar,
		db,
		close: () => {
			if (closed) return;
			closed = true;
			registrar.close();
			masaClient.close?.();
			db.close();
		},
	};
}
