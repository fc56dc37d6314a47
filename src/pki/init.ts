/*
 * `cjp pki init DIR`: a complete test PKI for one manufacturer (MASA) and one domain (Registrar),
 * with N pledges; the layout and the configuration schema are in config.ts.
 */

import { chmodSync, existsSync, mkdirSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { join, relative } from "node:path";
import { x509, type CryptoKeyPair } from "./x509.js";
import { NO_EXPIRY, OID_KP_CMC_RA, daysAfter, generateKeyPair, issueCertificate, privateKeyPem, validFrom, type KeyedCertificate, type Profile } from "./ca.js";
import { CONFIG_FILE, CONFIG_VERSION, DEFAULT_PORTS, type MasaConfig, type PledgeConfig, type RegistrarConfig } from "./config.js";

export interface InitPkiOptions {
	dir: string;
	/** Number of pledge identities; default DEFAULT_PLEDGES. */
	pledges?: number;
	/** The MASA URL extension value of the IDevIDs (RFC 8995 §2.3.2: normally just the authority). */
	masaAuthority?: string;
	/** Replace the PKI in a folder that is not empty. */
	force?: boolean;
	now?: Date;
}

export interface InitPkiResult {
	dir: string;
	masaConfig: string;
	registrarConfig: string;
	/** pledges/SERIAL folders, in serial order. */
	pledgeDirs: string[];
	serials: string[];
}

export const DEFAULT_PLEDGES = 3;
export const DEFAULT_MASA_AUTHORITY = `[::1]:${DEFAULT_PORTS.masaHttps}`;
/** Host names in the MASA's TLS certificate besides the authority's own host. */
const MASA_DNS_NAMES = ["masa.example", "localhost"];
const MASA_IP_ADDRESSES = ["::1", "127.0.0.1"];
const REGISTRAR_DNS_NAMES = ["registrar.example", "localhost"];
const CA_DAYS = 20 * 365;
const SERVER_DAYS = 5 * 365;
const LDEVID_DAYS = 365;

/** Device serial numbers (subject serialNumber of the IDevIDs): PLEDGE-0001, PLEDGE-0002, ... */
export function pledgeSerial(i: number): string {
	return `PLEDGE-${String(i).padStart(4, "0")}`;
}

/** Thrown when DIR is not empty and `force` is not set. */
export class PkiExistsError extends Error {
	override readonly name = "PkiExistsError";
}

const PRIVATE = 0o600;
const PUBLIC = 0o644;

function write(path: string, text: string, mode: number): void {
	writeFileSync(path, text, { mode });
	chmodSync(path, mode); // the mode option does not apply to a file that existed already
}

function writeJson(path: string, value: object): void {
	write(path, JSON.stringify(value, null, "\t") + "\n", PUBLIC);
}

export async function initPki(options: InitPkiOptions): Promise<InitPkiResult> {
	const dir = options.dir;
	const count = options.pledges ?? DEFAULT_PLEDGES;
	if (!Number.isInteger(count) || count < 1 || count > 9999) throw new RangeError("pledges must be 1..9999");
	const authority = options.masaAuthority ?? DEFAULT_MASA_AUTHORITY;
	const host = hostOf(authority);
	if (existsSync(dir) && readdirSync(dir).length > 0) {
		if (options.force !== true) throw new PkiExistsError(`${dir} is not empty (use --force to replace the PKI in it)`);
		for (const d of ["masa", "registrar", "pledges"]) rmSync(join(dir, d), { recursive: true, force: true });
	}
	const now = options.now ?? new Date();
	const from = validFrom(now);

	const masaDir = join(dir, "masa");
	const registrarDir = join(dir, "registrar");
	for (const d of [masaDir, join(masaDir, "registrar-anchors"), registrarDir, join(registrarDir, "masa-anchors")]) mkdirSync(d, { recursive: true });

	/** A key pair and its certificate, written as PEM files. */
	const make = async (
		certFile: string,
		keyFile: string | undefined,
		subject: x509.Name,
		profile: Profile,
		issuer: KeyedCertificate | undefined,
		notAfter: Date,
	): Promise<KeyedCertificate & { keys: CryptoKeyPair }> => {
		const keys = await generateKeyPair();
		const cert = await issueCertificate({ subject, publicKey: keys.publicKey, issuer, signingKey: keys.privateKey, profile, notBefore: from, notAfter });
		write(certFile, cert.toString("pem") + "\n", PUBLIC);
		if (keyFile !== undefined) write(keyFile, await privateKeyPem(keys.privateKey), PRIVATE);
		return { cert, key: keys.privateKey, keys };
	};
	const name = (cn: string, o: string): x509.Name => new x509.Name([{ O: [o] }, { CN: [cn] }]);

	// Manufacturer side. Two roots with separate roles: the manufacturer CA issues IDevIDs (and the
	// MASA's TLS certificate); the voucher CA issues only the voucher signer. A pledge trusts the
	// voucher CA for vouchers, so no IDevID (another device's) can sign one (review F2).
	const manufacturer = await make(join(masaDir, "ca.pem"), join(masaDir, "ca.key"), name("cjp Manufacturer CA", "cjp manufacturer"), { kind: "ca", pathLength: 0 }, undefined, daysAfter(now, CA_DAYS));
	const voucherCa = await make(join(masaDir, "voucher-ca.pem"), join(masaDir, "voucher-ca.key"), name("cjp MASA Voucher CA", "cjp manufacturer"), { kind: "ca", pathLength: 0 }, undefined, daysAfter(now, CA_DAYS));
	const voucherSigner = await make(join(masaDir, "voucher-signer.pem"), join(masaDir, "voucher-signer.key"), name("cjp MASA voucher signer", "cjp manufacturer"), { kind: "end-entity" }, voucherCa, daysAfter(now, CA_DAYS));
	const masaDns = isIpLiteral(host) ? MASA_DNS_NAMES : [host, ...MASA_DNS_NAMES.filter((n) => n !== host)];
	const masaIps = isIpLiteral(host) && !MASA_IP_ADDRESSES.includes(host) ? [host, ...MASA_IP_ADDRESSES] : MASA_IP_ADDRESSES;
	await make(join(masaDir, "tls.pem"), join(masaDir, "tls.key"), name(isIpLiteral(host) ? "masa.example" : host, "cjp manufacturer"),
		{ kind: "end-entity", extendedKeyUsages: [x509.ExtendedKeyUsage.serverAuth], dnsNames: masaDns, ipAddresses: masaIps }, manufacturer, daysAfter(now, SERVER_DAYS));

	// Domain side.
	const domainCa = await make(join(registrarDir, "domain-ca.pem"), join(registrarDir, "domain-ca.key"), name("cjp Domain CA", "cjp domain"), { kind: "ca", pathLength: 0 }, undefined, daysAfter(now, CA_DAYS));
	await make(join(registrarDir, "cert.pem"), join(registrarDir, "key.pem"), name("cjp Registrar", "cjp domain"),
		{
			kind: "end-entity",
			extendedKeyUsages: [OID_KP_CMC_RA, x509.ExtendedKeyUsage.serverAuth, x509.ExtendedKeyUsage.clientAuth],
			dnsNames: REGISTRAR_DNS_NAMES,
			ipAddresses: ["::1", "127.0.0.1"],
		},
		domainCa, daysAfter(now, SERVER_DAYS));
	const manufacturerPem = manufacturer.cert.toString("pem") + "\n";
	const voucherCaPem = voucherCa.cert.toString("pem") + "\n";
	write(join(registrarDir, "masa-anchors", "manufacturer-ca.pem"), manufacturerPem, PUBLIC);
	write(join(registrarDir, "masa-anchors", "voucher-ca.pem"), voucherCaPem, PUBLIC);
	write(join(masaDir, "registrar-anchors", "domain-ca.pem"), domainCa.cert.toString("pem") + "\n", PUBLIC);

	// Pledges.
	const serials: string[] = [];
	const pledgeDirs: string[] = [];
	const voucherSignerPem = voucherSigner.cert.toString("pem") + "\n";
	for (let i = 1; i <= count; i++) {
		const serial = pledgeSerial(i);
		const pdir = join(dir, "pledges", serial);
		mkdirSync(pdir, { recursive: true });
		// serialNumber is X520SerialNumber, a PrintableString (RFC 5280 Appendix A.1).
		const subject = new x509.Name([{ O: ["cjp manufacturer"] }, { CN: [`cjp pledge ${serial}`] }, { "2.5.4.5": [{ printableString: serial }] }]);
		await make(join(pdir, "idevid.pem"), join(pdir, "idevid.key"), subject, { kind: "end-entity", omitSubjectKeyIdentifier: true, masaUrl: authority }, manufacturer, NO_EXPIRY);
		write(join(pdir, "masa-voucher-ca.pem"), voucherCaPem, PUBLIC);
		write(join(pdir, "voucher-signer.pem"), voucherSignerPem, PUBLIC);
		const config: Omit<PledgeConfig, "file"> = {
			kind: "cjp-pledge",
			version: CONFIG_VERSION,
			serialNumber: serial,
			idevid: { cert: "idevid.pem", key: "idevid.key" },
			masaTrustAnchor: "masa-voucher-ca.pem",
			voucherSigner: "voucher-signer.pem",
			masaUrl: authority,
			storage: "state",
		};
		writeJson(join(pdir, CONFIG_FILE), config);
		serials.push(serial);
		pledgeDirs.push(pdir);
	}

	const masaConfig: Omit<MasaConfig, "file"> = {
		kind: "cjp-masa",
		version: CONFIG_VERSION,
		listen: { address: "::", port: portOf(authority) },
		authority,
		tls: { cert: "tls.pem", key: "tls.key", clientAnchors: ["registrar-anchors/domain-ca.pem"] },
		voucherSigner: { cert: "voucher-signer.pem", key: "voucher-signer.key", chain: ["voucher-signer.pem", "voucher-ca.pem"] },
		manufacturerCa: "ca.pem",
		serials,
		database: "masa.db",
	};
	writeJson(join(masaDir, CONFIG_FILE), masaConfig);
	const anchor = relative(registrarDir, join(registrarDir, "masa-anchors", "manufacturer-ca.pem"));
	const voucherAnchor = relative(registrarDir, join(registrarDir, "masa-anchors", "voucher-ca.pem"));
	const registrarConfig: Omit<RegistrarConfig, "file"> = {
		kind: "cjp-registrar",
		version: CONFIG_VERSION,
		coaps: { address: "::", port: DEFAULT_PORTS.coaps },
		jpy: { address: "::", port: DEFAULT_PORTS.jpy },
		cert: "cert.pem",
		key: "key.pem",
		chain: ["cert.pem", "domain-ca.pem"],
		domainCa: { cert: "domain-ca.pem", key: "domain-ca.key" },
		manufacturers: [{ name: "cjp-manufacturer", anchor, voucherAnchors: [voucherAnchor], masaTlsAnchors: [anchor], masaUrl: null, serials }],
		ldevidValidityDays: LDEVID_DAYS,
		database: "registrar.db",
	};
	writeJson(join(registrarDir, CONFIG_FILE), registrarConfig);
	return { dir, masaConfig: join(masaDir, CONFIG_FILE), registrarConfig: join(registrarDir, CONFIG_FILE), pledgeDirs, serials };
}

/** The host of an authority "host:port" or "[v6]:port" (RFC 3986 §3.2), without brackets. */
function hostOf(authority: string): string {
	const m = /^(?:\[([0-9A-Fa-f:.]+)\]|([^:[\]/\s]+))(?::(\d{1,5}))?$/.exec(authority);
	if (m === null) throw new RangeError(`MASA authority "${authority}" is not host[:port] or [IPv6][:port]`);
	return m[1] ?? m[2]!;
}

/** The port of an authority; 443 (https) when it has none. */
function portOf(authority: string): number {
	const m = /:(\d{1,5})$/.exec(authority);
	const port = m === null || authority.endsWith("]") ? 443 : Number(m[1]);
	if (port < 1 || port > 65535) throw new RangeError(`MASA authority "${authority}" has an invalid port`);
	return port;
}

function isIpLiteral(host: string): boolean {
	return host.includes(":") || /^\d+\.\d+\.\d+\.\d+$/.test(host);
}
