/*
 * The files `cjp pki init DIR` writes, and typed loaders for the three configuration files that
 * `cjp masa`, `cjp registrar` and `cjp pledge` read. All keys are P-256 (ES256), PKCS#8 PEM, mode 0600.
 *
 *   DIR/masa/                          the manufacturer's side
 *     ca.pem, ca.key                   manufacturer CA (self-signed): issues IDevIDs and the TLS cert
 *     voucher-ca.pem, voucher-ca.key   MASA voucher CA (self-signed): issues the voucher signer only; kept apart
 *                                      from the manufacturer CA so that no IDevID can sign a voucher
 *     voucher-signer.pem, .key         MASA voucher-signing certificate (end entity, issued by voucher-ca)
 *     tls.pem, tls.key                 MASA HTTPS server certificate (serverAuth; SAN masa.example, localhost, ::1, 127.0.0.1)
 *     registrar-anchors/domain-ca.pem  Registrar TLS client certificates the MASA accepts (mutual TLS, RFC 8995 §5.4)
 *     config.json                      MasaConfig
 *   DIR/registrar/
 *     domain-ca.pem, domain-ca.key     domain CA (self-signed): issues the Registrar cert and LDevIDs; pinned by vouchers
 *     cert.pem, key.pem                Registrar: EKU cmcRA + serverAuth + clientAuth (DTLS server, TLS client to the MASA, RVR signer)
 *     masa-anchors/manufacturer-ca.pem the manufacturer CA: IDevID chains, the MASA's TLS certificate
 *     masa-anchors/voucher-ca.pem      the MASA voucher CA: the configured root for vouchers (R27)
 *     config.json                      RegistrarConfig
 *   DIR/pledges/SERIAL/                one per pledge, SERIAL = PLEDGE-0001, ...
 *     idevid.pem, idevid.key           IDevID: subject serialNumber=SERIAL, MASA URL extension, notAfter 99991231235959Z
 *     masa-voucher-ca.pem              the MASA voucher CA, the pledge's MASA trust anchor (not the IDevID issuer)
 *     voucher-signer.pem               the MASA voucher-signing certificate, pre-installed: the Registrar strips the
 *                                      voucher's x5bag (cbrski-digest R26), so the pledge must already hold the signer,
 *                                      which it checks against masa-voucher-ca.pem before trusting its key
 *     config.json                      PledgeConfig
 *
 * Paths inside a config.json are relative to the folder of that file; the loaders return them
 * absolute. Every config has "kind" and "version" (CONFIG_VERSION); unknown keys are refused so that
 * a typo does not silently fall back to a default. A malformed file ends in one ConfigError line.
 *
 * MasaConfig (masa/config.json):
 *   { "kind": "cjp-masa", "version": 1,
 *     "listen": { "address": "::", "port": 9443 },        HTTPS /.well-known/brski/requestvoucher
 *     "authority": "[::1]:9443",                           what the IDevIDs' MASA URL extension says
 *     "tls": { "cert": "tls.pem", "key": "tls.key", "clientAnchors": ["registrar-anchors/domain-ca.pem"] },
 *     "voucherSigner": { "cert": "voucher-signer.pem", "key": "voucher-signer.key",
 *                        "chain": ["voucher-signer.pem", "voucher-ca.pem"] },   x5bag of the vouchers it signs
 *     "manufacturerCa": "ca.pem",                          IDevIDs in PVRs must chain to it
 *     "serials": ["PLEDGE-0001", ...],                     devices this MASA sold (ownership policy)
 *     "database": "masa.db" }                              SQLite audit log
 *
 * RegistrarConfig (registrar/config.json):
 *   { "kind": "cjp-registrar", "version": 1,
 *     "coaps": { "address": "::", "port": 5684 },          CoAPS for stateful proxies (and pledges one hop away)
 *     "jpy": { "address": "::", "port": 7634 },            JPY for stateless proxies
 *     "cert": "cert.pem", "key": "key.pem",
 *     "chain": ["cert.pem", "domain-ca.pem"],              DTLS Certificate message and RVR x5bag
 *     "domainCa": { "cert": "domain-ca.pem", "key": "domain-ca.key" },
 *     "manufacturers": [ {                                  policy: accepted manufacturers and their serials
 *         "name": "cjp-manufacturer",
 *         "anchor": "masa-anchors/manufacturer-ca.pem",    IDevIDs must chain to it
 *         "voucherAnchors": ["masa-anchors/voucher-ca.pem"],   vouchers' signers must chain to one (R27)
 *         "masaTlsAnchors": ["masa-anchors/manufacturer-ca.pem"],   the MASA's HTTPS certificate must chain to one
 *         "masaUrl": null,                                  null: the IDevID's MASA URL; a string overrides it
 *         "serials": ["PLEDGE-0001", ...] } ],              or "*" for any serial from that manufacturer
 *     "ldevidValidityDays": 365,
 *     "database": "registrar.db" }
 *
 * PledgeConfig (pledges/SERIAL/config.json):
 *   { "kind": "cjp-pledge", "version": 1,
 *     "serialNumber": "PLEDGE-0001",
 *     "idevid": { "cert": "idevid.pem", "key": "idevid.key" },
 *     "masaTrustAnchor": "masa-voucher-ca.pem",
 *     "voucherSigner": "voucher-signer.pem",
 *     "masaUrl": "[::1]:9443",                             copy of the IDevID extension, for logs
 *     "storage": "state" }                                 folder for host.storage (LDevID, trust anchors)
 */

import { readFileSync, statSync } from "node:fs";
import { dirname, join, resolve } from "node:path";

export const CONFIG_VERSION = 1;
export const CONFIG_FILE = "config.json";

/** Default ports: CoAPS (RFC 7252 §12.7), the Registrar's JPY port (a choice; the draft has none), the MASA's HTTPS. */
export const DEFAULT_PORTS = Object.freeze({ coaps: 5684, jpy: 7634, masaHttps: 9443 });

/** A configuration file that is missing, not JSON, or not the expected shape. */
export class ConfigError extends Error {
	override readonly name = "ConfigError";
}

export interface Listen {
	address: string;
	port: number;
}

export interface CertAndKey {
	/** Absolute path of a PEM certificate. */
	cert: string;
	/** Absolute path of a PKCS#8 PEM private key. */
	key: string;
}

export interface MasaConfig {
	kind: "cjp-masa";
	version: number;
	/** The file it was read from. */
	file: string;
	listen: Listen;
	authority: string;
	tls: CertAndKey & { clientAnchors: string[] };
	voucherSigner: CertAndKey & { chain: string[] };
	manufacturerCa: string;
	serials: string[];
	database: string;
}

export interface ManufacturerPolicy {
	name: string;
	/** IDevIDs chain to it. */
	anchor: string;
	/** The configured roots for vouchers (R27): the MASA's voucher CA, never the IDevID issuer. */
	voucherAnchors: string[];
	masaTlsAnchors: string[];
	/** Overrides the IDevID's MASA URL when set. */
	masaUrl: string | null;
	/** Accepted device serial numbers, or "*" for all. */
	serials: string[] | "*";
}

export interface RegistrarConfig {
	kind: "cjp-registrar";
	version: number;
	file: string;
	coaps: Listen;
	jpy: Listen;
	cert: string;
	key: string;
	chain: string[];
	domainCa: CertAndKey;
	manufacturers: ManufacturerPolicy[];
	ldevidValidityDays: number;
	database: string;
}

export interface PledgeConfig {
	kind: "cjp-pledge";
	version: number;
	file: string;
	serialNumber: string;
	idevid: CertAndKey;
	masaTrustAnchor: string;
	voucherSigner: string;
	masaUrl: string;
	/** Absolute path of the folder behind host.storage. */
	storage: string;
}

/** Reads masa/config.json (or the config.json inside the given folder). */
export function loadMasaConfig(path: string): MasaConfig {
	return load(path, "cjp-masa", (o, f) => {
		const tls = f.object(o, "tls");
		const signer = f.object(o, "voucherSigner");
		const c: MasaConfig = {
			kind: "cjp-masa",
			version: CONFIG_VERSION,
			file: f.file,
			listen: f.listen(o, "listen"),
			authority: f.string(o, "authority"),
			tls: { cert: f.path(tls, "cert"), key: f.path(tls, "key"), clientAnchors: f.paths(tls, "clientAnchors") },
			voucherSigner: { cert: f.path(signer, "cert"), key: f.path(signer, "key"), chain: f.paths(signer, "chain") },
			manufacturerCa: f.path(o, "manufacturerCa"),
			serials: f.strings(o, "serials"),
			database: f.path(o, "database"),
		};
		f.done(tls, ["cert", "key", "clientAnchors"], "tls");
		f.done(signer, ["cert", "key", "chain"], "voucherSigner");
		f.done(o, ["kind", "version", "listen", "authority", "tls", "voucherSigner", "manufacturerCa", "serials", "database"]);
		return c;
	});
}

/** Reads registrar/config.json (or the config.json inside the given folder). */
export function loadRegistrarConfig(path: string): RegistrarConfig {
	return load(path, "cjp-registrar", (o, f) => {
		const ca = f.object(o, "domainCa");
		const list = o["manufacturers"];
		if (!Array.isArray(list) || list.length === 0) throw f.error("manufacturers", "must be a non-empty array");
		const manufacturers = list.map((m: unknown, i): ManufacturerPolicy => {
			const where = `manufacturers[${i}]`;
			if (typeof m !== "object" || m === null || Array.isArray(m)) throw f.error(where, "must be an object");
			const p = m as Record<string, unknown>;
			const masaUrl = p["masaUrl"];
			if (masaUrl !== null && typeof masaUrl !== "string") throw f.error(`${where}.masaUrl`, "must be null or a string");
			const serials = p["serials"] === "*" ? "*" : f.strings(p, "serials", where);
			const policy: ManufacturerPolicy = {
				name: f.string(p, "name", where),
				anchor: f.path(p, "anchor", where),
				voucherAnchors: f.paths(p, "voucherAnchors", where),
				masaTlsAnchors: f.paths(p, "masaTlsAnchors", where),
				masaUrl,
				serials,
			};
			f.done(p, ["name", "anchor", "voucherAnchors", "masaTlsAnchors", "masaUrl", "serials"], where);
			return policy;
		});
		const c: RegistrarConfig = {
			kind: "cjp-registrar",
			version: CONFIG_VERSION,
			file: f.file,
			coaps: f.listen(o, "coaps"),
			jpy: f.listen(o, "jpy"),
			cert: f.path(o, "cert"),
			key: f.path(o, "key"),
			chain: f.paths(o, "chain"),
			domainCa: { cert: f.path(ca, "cert"), key: f.path(ca, "key") },
			manufacturers,
			ldevidValidityDays: f.integer(o, "ldevidValidityDays", 1, 100 * 366),
			database: f.path(o, "database"),
		};
		f.done(ca, ["cert", "key"], "domainCa");
		f.done(o, ["kind", "version", "coaps", "jpy", "cert", "key", "chain", "domainCa", "manufacturers", "ldevidValidityDays", "database"]);
		return c;
	});
}

/** Reads pledges/SERIAL/config.json, or the config.json inside the given folder (`cjp pledge --identity DIR`). */
export function loadPledgeConfig(path: string): PledgeConfig {
	return load(path, "cjp-pledge", (o, f) => {
		const idevid = f.object(o, "idevid");
		const c: PledgeConfig = {
			kind: "cjp-pledge",
			version: CONFIG_VERSION,
			file: f.file,
			serialNumber: f.string(o, "serialNumber"),
			idevid: { cert: f.path(idevid, "cert"), key: f.path(idevid, "key") },
			masaTrustAnchor: f.path(o, "masaTrustAnchor"),
			voucherSigner: f.path(o, "voucherSigner"),
			masaUrl: f.string(o, "masaUrl"),
			storage: f.path(o, "storage"),
		};
		f.done(idevid, ["cert", "key"], "idevid");
		f.done(o, ["kind", "version", "serialNumber", "idevid", "masaTrustAnchor", "voucherSigner", "masaUrl", "storage"]);
		return c;
	});
}

type Json = Record<string, unknown>;

/** Field readers bound to one file: each failure names the file and the field. */
class Fields {
	constructor(readonly file: string) {}

	error(field: string, problem: string): ConfigError {
		return new ConfigError(`${this.file}: ${field}: ${problem}`);
	}

	#name(key: string, where?: string): string {
		return where === undefined ? key : `${where}.${key}`;
	}

	object(o: Json, key: string, where?: string): Json {
		const v = o[key];
		if (typeof v !== "object" || v === null || Array.isArray(v)) throw this.error(this.#name(key, where), "must be an object");
		return v as Json;
	}

	string(o: Json, key: string, where?: string): string {
		const v = o[key];
		if (typeof v !== "string" || v === "") throw this.error(this.#name(key, where), "must be a non-empty string");
		return v;
	}

	strings(o: Json, key: string, where?: string): string[] {
		const v = o[key];
		if (!Array.isArray(v) || !v.every((s) => typeof s === "string" && s !== "")) throw this.error(this.#name(key, where), "must be an array of non-empty strings");
		return v as string[];
	}

	integer(o: Json, key: string, min: number, max: number, where?: string): number {
		const v = o[key];
		if (typeof v !== "number" || !Number.isInteger(v) || v < min || v > max) throw this.error(this.#name(key, where), `must be an integer in ${min}..${max}`);
		return v;
	}

	/** A path relative to the config file's folder, returned absolute. */
	path(o: Json, key: string, where?: string): string {
		return resolve(dirname(this.file), this.string(o, key, where));
	}

	paths(o: Json, key: string, where?: string): string[] {
		return this.strings(o, key, where).map((p) => resolve(dirname(this.file), p));
	}

	listen(o: Json, key: string): Listen {
		const l = this.object(o, key);
		const c = { address: this.string(l, "address", key), port: this.integer(l, "port", 1, 65535, key) };
		this.done(l, ["address", "port"], key);
		return c;
	}

	/** Refuses keys the schema does not have. */
	done(o: Json, known: readonly string[], where?: string): void {
		for (const k of Object.keys(o)) if (!known.includes(k)) throw this.error(this.#name(k, where), "unknown key");
	}
}

function load<T>(path: string, kind: string, read: (o: Json, f: Fields) => T): T {
	let file = resolve(path);
	try {
		if (statSync(file).isDirectory()) file = join(file, CONFIG_FILE);
	} catch {
		throw new ConfigError(`${file}: no such file or folder`);
	}
	let o: unknown;
	try {
		o = JSON.parse(readFileSync(file, "utf8"));
	} catch (e) {
		throw new ConfigError(`${file}: ${e instanceof SyntaxError ? "not JSON: " + e.message : "cannot read: " + (e as Error).message}`);
	}
	const f = new Fields(file);
	if (typeof o !== "object" || o === null || Array.isArray(o)) throw new ConfigError(`${file}: not a JSON object`);
	const j = o as Json;
	if (j["kind"] !== kind) throw f.error("kind", `must be "${kind}" (is this the right file?)`);
	if (j["version"] !== CONFIG_VERSION) throw f.error("version", `must be ${CONFIG_VERSION}`);
	return read(j, f);
}
