/*
 * A throwaway test PKI made with the `openssl` CLI (OpenSSL 3.0: `req -x509 -CA` signs leaves in one call):
 * a P-256/ECDSA CA (SHA-256), a Registrar server certificate and a pledge client certificate, all PEM,
 * unencrypted keys (PKCS#8). Made once per process into a temp dir (removed at exit); ~50 ms.
 * Good for libcoap's PKI mode (`-c cert -j key -C ca`) with both its OpenSSL and GnuTLS builds.
 */

import { execFileSync } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

export interface TestPki {
	dir: string;
	caCert: string;
	caKey: string;
	/** Registrar (DTLS server) certificate: CN=registrar, SAN DNS:registrar + IP:2001:db8:1::2. */
	serverCert: string;
	serverKey: string;
	/** Pledge (DTLS client) certificate: CN=pledge, serialNumber=CJP-TEST-0001. */
	clientCert: string;
	clientKey: string;
}

let cached: TestPki | undefined;

function openssl(args: string[]): void {
	execFileSync("openssl", args, { stdio: ["ignore", "ignore", "pipe"], timeout: 10_000 });
}

const EC_KEY = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-sha256", "-days", "7"];

/** Why the PKI cannot be made here (no usable `openssl` CLI), or undefined when it can. */
export function pkiUnavailable(): string | undefined {
	try {
		testPki();
		return undefined;
	} catch (e) {
		return `cannot make a test PKI with the openssl CLI (${String((e as Error).message).split("\n")[0]})`;
	}
}

/** The process-wide test PKI, made on first use. Throws if `openssl` fails. */
export function testPki(): TestPki {
	if (cached !== undefined) return cached;
	const dir = mkdtempSync(join(tmpdir(), "cjp-pki-"));
	try {
		const p: TestPki = {
			dir,
			caCert: join(dir, "ca.pem"),
			caKey: join(dir, "ca.key"),
			serverCert: join(dir, "registrar.pem"),
			serverKey: join(dir, "registrar.key"),
			clientCert: join(dir, "pledge.pem"),
			clientKey: join(dir, "pledge.key"),
		};
		openssl(["req", "-x509", "-new", ...EC_KEY, "-keyout", p.caKey, "-out", p.caCert, "-subj", "/O=cjp test/CN=cjp test CA",
			"-addext", "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=critical,keyCertSign,cRLSign"]);
		openssl(["req", "-x509", "-new", ...EC_KEY, "-keyout", p.serverKey, "-out", p.serverCert, "-subj", "/O=cjp test/CN=registrar",
			"-CA", p.caCert, "-CAkey", p.caKey,
			"-addext", "basicConstraints=critical,CA:FALSE", "-addext", "keyUsage=critical,digitalSignature",
			"-addext", "extendedKeyUsage=serverAuth,clientAuth", "-addext", "subjectAltName=DNS:registrar,IP:2001:db8:1::2"]);
		openssl(["req", "-x509", "-new", ...EC_KEY, "-keyout", p.clientKey, "-out", p.clientCert, "-subj", "/O=cjp test/CN=pledge/serialNumber=CJP-TEST-0001",
			"-CA", p.caCert, "-CAkey", p.caKey,
			"-addext", "basicConstraints=critical,CA:FALSE", "-addext", "keyUsage=critical,digitalSignature",
			"-addext", "extendedKeyUsage=clientAuth"]);
		cached = p;
		process.once("exit", () => rmSync(dir, { recursive: true, force: true }));
		return p;
	} catch (e) {
		rmSync(dir, { recursive: true, force: true });
		throw e;
	}
}
