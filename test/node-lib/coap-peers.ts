/*
 * Peers nobody on the team wrote, for end-to-end DTLS tests: Debian's libcoap 4.3.1 command line tools
 * (package libcoap3-bin) `coap-server-{openssl,gnutls}` (the "Registrar") and `coap-client-{openssl,gnutls}`
 * (the pledge), in PKI mode with the test PKI of ./pki.ts, run inside the network namespaces of ./netns.ts.
 * Also tshark captures of the DTLS handshakes and a tiny node UDP echo for checking topologies.
 *
 * What libcoap 4.3.1 does (checked on Debian 12):
 * - PKI mode is `-c cert.pem -j key.pem -C ca.pem` on both client and server; `-C` makes each side check
 *   the other's certificate against that CA (mutual authentication).
 * - The server listens on `-p PORT` (plain CoAP, default 5683) and PORT+1 (DTLS, 5684), bound to
 *   `-A ADDRESS` (a link-local address needs its zone: `-A fe80::a%rg0`).
 * - The client takes no zone in the URI: bind its own link-local address with the zone, `-a fe80::b%pl0`,
 *   and put the server's address without a zone in the URI (`coaps://[fe80::a]/`). `-p PORT` fixes its
 *   source port (handy to find its handshake in a capture).
 * - coap-client EXITS 0 EVEN ON FAILURE (4.04, handshake failure, unreachable server, -B timeout). Success is
 *   judged here by: the `-o` file exists and no "N.NN Reason" error line on stderr (see CoapClientResult.ok).
 *   Its log lines (`-v`, even ERR and WARN) go to STDOUT; only the "4.04 Not Found"-style line goes to stderr.
 * - Resources: `/` (a banner), `/time`, `/async`, `/example_data` (about 1.5 KB, too small for our block-wise
 *   test). A larger one is made by PUT when the server runs with `-d N` (dynamic resources): putResource()
 *   PUTs it over plain CoAP from inside the server's own namespace, so the DTLS client under test only GETs.
 * - Block-wise: client `-b SIZE` (multiple of 16, ≤ 1024) asks for Block2 of that size from block 0 and
 *   libcoap fetches the rest itself. With `-v 7` the client logs every PDU ("c:2.05 … Block2:N/M/SZ") to
 *   stdout: block2Count() counts them.
 * - Every coap-client run is a new DTLS session: ClientHello, HelloVerifyRequest, ClientHello with cookie,
 *   full handshake with certificates both ways. Give each run its own `-p` source port: the server keeps
 *   session state per client address and port.
 * - Cipher suite: libcoap's OpenSSL build hard-codes its list with SSL_CTX_set_cipher_list() after
 *   SSL_CTX_new(), so an OPENSSL_CONF `CipherString` is overridden (the file is read: `MaxProtocol = DTLSv1`
 *   there does break the handshake, but `CipherString` has no effect); it offers all of OpenSSL 3.0's TLS 1.2
 *   suites and an OpenSSL↔OpenSSL pair picks 0xC02C (ECDHE-ECDSA-AES256-GCM-SHA384). libcoap's GnuTLS
 *   build uses a fixed "NORMAL:+ECDHE-ECDSA:+AES-128-CCM-8:…" priority string, but GnuTLS's system-wide
 *   config `[overrides] tls-disabled-cipher/-kx` applies to every priority string: with
 *   GNUTLS_SYSTEM_PRIORITY_FILE pointing at such a file (ccm8Only), a GnuTLS client offers only
 *   0xC0AE (TLS_ECDHE_ECDSA_WITH_AES_128_CCM_8) and a GnuTLS server accepts only it. Any pair with a
 *   ccm8Only GnuTLS side therefore runs 0xC0AE, whatever the other side is.
 *
 * Three-namespace topology for the Join Proxy tests (joinProxyTopology()):
 *
 *     pledge ns                     proxy ns                                 registrar ns
 *     pl0 fe80::b  ──veth (link-local only)──  jp0 fe80::a
 *                                   jr0 fe80::1, 2001:db8:1::1/64 ──veth──  rg0 fe80::2, 2001:db8:1::2/64
 *
 * No IPv6 forwarding and no routes: the proxy relays at UDP level (one socket on jp0 towards the pledge,
 * its own 2001:db8:1::1 towards the Registrar), and the pledge has no route to 2001:db8:1::/64 at all.
 * Run the Registrar with startCoapServer({ ns: t.registrar.ns, address: t.registrar.routable, … }); the
 * pledge with runCoapClient({ ns: t.pledge.ns, bind: t.pledge.bind, uri: coapsUri(t.proxy.linkLocal, 5684, …) }).
 */

import { execFileSync, type ChildProcess } from "node:child_process";
import { accessSync, constants as fsConstants, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { delimiter, join } from "node:path";
import type { Namespaces } from "./netns.js";
import { testPki, type TestPki } from "./pki.js";

export type TlsLib = "openssl" | "gnutls";
export const LIBCOAP_PACKAGE = "libcoap3-bin";
/** TLS_ECDHE_ECDSA_WITH_AES_128_CCM_8 (RFC 7251), the suite RFC 7925 makes mandatory for certificates. */
export const CCM8 = 0xc0ae;
/** DTLS 1.2 on the wire. */
export const DTLS_1_2 = 0xfefd;

export const serverBinary = (lib: TlsLib): string => `coap-server-${lib}`;
export const clientBinary = (lib: TlsLib): string => `coap-client-${lib}`;

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/* ---------------------------------------------------------------- availability */

export function findBinary(name: string): string | undefined {
	for (const dir of (process.env.PATH ?? "").split(delimiter)) {
		if (dir === "") continue;
		const p = join(dir, name);
		try {
			accessSync(p, fsConstants.X_OK);
			return p;
		} catch {
			/* not here */
		}
	}
	return undefined;
}

/** Why these peers cannot run (missing binaries), or undefined when they can. */
export function peersUnavailable(libs: TlsLib[], alsoNeeded: string[] = []): string | undefined {
	const need = [...libs.flatMap((l) => [serverBinary(l), clientBinary(l)]), ...alsoNeeded];
	const missing = [...new Set(need)].filter((b) => findBinary(b) === undefined);
	if (missing.length === 0) return undefined;
	return `${missing.join(", ")} not found in PATH (Debian packages ${LIBCOAP_PACKAGE}${missing.includes("tshark") ? ", tshark" : ""}${missing.includes("openssl") ? ", openssl" : ""})`;
}

/* ---------------------------------------------------------------- scratch files */

let scratchDir: string | undefined;
let scratchSeq = 0;

/** A fresh path in a per-process temp dir (removed at exit). */
export function scratchFile(name: string): string {
	if (scratchDir === undefined) {
		const dir = mkdtempSync(join(tmpdir(), "cjp-peers-"));
		scratchDir = dir;
		process.once("exit", () => rmSync(dir, { recursive: true, force: true }));
	}
	return join(scratchDir, `${++scratchSeq}-${name}`);
}

let ccm8File: string | undefined;

/**
 * Environment that restricts a GnuTLS peer to TLS_ECDHE_ECDSA_WITH_AES_128_CCM_8: a GnuTLS system-wide config
 * whose [overrides] disable every other bulk cipher and key exchange that libcoap's priority string enables.
 */
export function gnutlsCcm8OnlyEnv(): Record<string, string> {
	if (ccm8File === undefined) {
		const file = scratchFile("gnutls-ccm8.cfg");
		const ciphers = ["AES-256-GCM", "AES-128-GCM", "AES-256-CCM", "AES-128-CCM", "CHACHA20-POLY1305", "AES-256-CBC", "AES-128-CBC"];
		const kx = ["RSA", "DHE-RSA", "ECDHE-RSA"];
		writeFileSync(file, ["[overrides]", ...ciphers.map((c) => `tls-disabled-cipher = ${c}`), ...kx.map((k) => `tls-disabled-kx = ${k}`), ""].join("\n"));
		ccm8File = file;
	}
	return { GNUTLS_SYSTEM_PRIORITY_FILE: ccm8File };
}

function tlsEnv(lib: TlsLib, ccm8Only: boolean | undefined): Record<string, string> | undefined {
	if (ccm8Only !== true) return undefined;
	if (lib === "openssl") {
		throw new Error("ccm8Only: libcoap 4.3.1's OpenSSL build sets its own cipher list (OPENSSL_CONF cannot restrict it); restrict the GnuTLS side instead");
	}
	return gnutlsCcm8OnlyEnv();
}

/* ---------------------------------------------------------------- addresses */

/** "fe80::a%rg0" → { address: "fe80::a", zone: "rg0" }. */
export function splitZone(address: string): { address: string; zone: string } {
	const i = address.indexOf("%");
	return i < 0 ? { address, zone: "" } : { address: address.slice(0, i), zone: address.slice(i + 1) };
}

/** A coaps:// (or coap://) URI for libcoap's client: the host WITHOUT its zone (libcoap cannot resolve one). */
export function coapsUri(host: string, port: number, path: string, scheme: "coaps" | "coap" = "coaps"): string {
	const { address } = splitZone(host);
	return `${scheme}://[${address}]:${port}${path.startsWith("/") ? path : `/${path}`}`;
}

/* ---------------------------------------------------------------- processes */

interface Exited {
	status: number | null;
	signal: NodeJS.Signals | null;
}

function exited(child: ChildProcess): Promise<Exited> {
	if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve({ status: child.exitCode, signal: child.signalCode });
	return new Promise((resolve) => child.once("exit", (status, signal) => resolve({ status, signal })));
}

/** Like exited(), but also waits until stdout/stderr are drained ("close"). Attach before the child can exit. */
function closed(child: ChildProcess): Promise<Exited> {
	return new Promise((resolve) => child.once("close", (status, signal) => resolve({ status, signal })));
}

/** Ends a child: `signal` (SIGTERM), then SIGKILL after graceMs. Resolves once it has exited. */
export async function stopChild(child: ChildProcess, signal: NodeJS.Signals = "SIGTERM", graceMs = 2000): Promise<void> {
	if (child.exitCode !== null || child.signalCode !== null) return;
	const done = exited(child);
	child.kill(signal);
	const t = setTimeout(() => child.kill("SIGKILL"), graceMs);
	await done;
	clearTimeout(t);
}

function collect(child: ChildProcess): { out: () => string; err: () => string } {
	let out = "";
	let err = "";
	child.stdout?.setEncoding("utf8").on("data", (d: string) => (out += d));
	child.stderr?.setEncoding("utf8").on("data", (d: string) => (err += d));
	child.once("error", (e) => (err += `spawn error: ${e.message}\n`));
	return { out: () => out, err: () => err };
}

/** Whether something in `ns` listens on UDP `port` (any address). */
function udpListening(net: Namespaces, ns: string, port: number): boolean {
	const r = net.run(ns, "ss", ["-Hlun", `sport = :${port}`], 5000);
	return r.status === 0 && r.stdout.trim() !== "";
}

/* ---------------------------------------------------------------- server */

export interface CoapServerOptions {
	lib: TlsLib;
	ns: string;
	/** Address to bind (`-A`); a link-local one with its zone, e.g. "fe80::a%rg0". */
	address: string;
	/** Plain CoAP port (default 5683); DTLS listens on port + 1. */
	port?: number;
	pki?: TestPki;
	/** Dynamic resources that PUT may create (`-d`), default 16. */
	dynamic?: number;
	/** GnuTLS only: accept only TLS_ECDHE_ECDSA_WITH_AES_128_CCM_8. */
	ccm8Only?: boolean;
	/** libcoap log level `-v` (default 4: warnings). */
	verbosity?: number;
	readyTimeoutMs?: number;
}

export interface CoapServer {
	lib: TlsLib;
	ns: string;
	/** Bound address without zone, and its zone ("" if none). */
	address: string;
	zone: string;
	port: number;
	dtlsPort: number;
	args: string[];
	child: ChildProcess;
	log(): string;
	stop(): Promise<void>;
}

/** Starts coap-server-LIB in PKI mode inside `ns` and waits until its DTLS port is bound. */
export async function startCoapServer(net: Namespaces, o: CoapServerOptions): Promise<CoapServer> {
	const pki = o.pki ?? testPki();
	const port = o.port ?? 5683;
	const env = tlsEnv(o.lib, o.ccm8Only);
	const args = ["-A", o.address, "-p", String(port), "-d", String(o.dynamic ?? 16), "-v", String(o.verbosity ?? 4),
		"-c", pki.serverCert, "-j", pki.serverKey, "-C", pki.caCert];
	const child = net.spawn(o.ns, serverBinary(o.lib), args, env === undefined ? {} : { env });
	const output = collect(child);
	const log = (): string => output.out() + output.err();
	const deadline = Date.now() + (o.readyTimeoutMs ?? 5000);
	while (!(udpListening(net, o.ns, port + 1) && udpListening(net, o.ns, port))) {
		if (child.exitCode !== null || child.signalCode !== null || Date.now() > deadline) {
			await stopChild(child);
			throw new Error(`${serverBinary(o.lib)} ${args.join(" ")} did not come up in ${o.ns}: ${log()}`);
		}
		await sleep(25);
	}
	const { address, zone } = splitZone(o.address);
	return { lib: o.lib, ns: o.ns, address, zone, port, dtlsPort: port + 1, args, child, log, stop: () => stopChild(child) };
}

/**
 * Creates (or replaces) resource `path` on a server started with `-d` by a plain CoAP PUT from inside the
 * server's own namespace (coap-client of the same TLS build), then reads it back over plain CoAP to be sure.
 */
export async function putResource(net: Namespaces, server: CoapServer, path: string, body: Uint8Array): Promise<void> {
	const file = scratchFile("put.bin");
	writeFileSync(file, body);
	const bind = server.zone === "" ? server.address : `${server.address}%${server.zone}`;
	const common = { lib: server.lib, ns: server.ns, bind, noPki: true, timeoutS: 5 };
	const put = await runCoapClient(net, { ...common, method: "put", payloadFile: file, uri: coapsUri(server.address, server.port, path, "coap") });
	if (put.responseError !== undefined) throw new Error(`PUT ${path}: ${put.responseError}: ${put.stderr}`);
	const get = await runCoapClient(net, { ...common, uri: coapsUri(server.address, server.port, path, "coap") });
	if (get.body === undefined || !get.body.equals(Buffer.from(body))) throw new Error(`PUT ${path} did not stick: ${get.stderr}`);
}

/* ---------------------------------------------------------------- client */

export interface CoapClientOptions {
	lib: TlsLib;
	ns: string;
	/** Own address to bind (`-a`), with zone for link-local: "fe80::b%pl0". */
	bind: string;
	/** Target URI, host without zone (see coapsUri()). */
	uri: string;
	pki?: TestPki;
	/** No certificate options at all (plain coap://). */
	noPki?: boolean;
	method?: "get" | "put" | "post" | "delete" | "fetch";
	payloadFile?: string;
	/** Block size `-b` (multiple of 16, ≤ 1024). */
	blockSize?: number;
	/** `-B`: give up after this many seconds (default 10). */
	timeoutS?: number;
	/** `-p`: own source port. */
	localPort?: number;
	/** GnuTLS only: offer only TLS_ECDHE_ECDSA_WITH_AES_128_CCM_8. */
	ccm8Only?: boolean;
	/** `-v` (default: libcoap's); 7 logs every PDU (needed by block2Count()). */
	verbosity?: number;
	extraArgs?: string[];
}

export interface CoapClientResult {
	/** argv after the binary name, for reports: `${binary} ${args.join(" ")}`. */
	binary: string;
	args: string[];
	env: Record<string, string> | undefined;
	status: number | null;
	signal: NodeJS.Signals | null;
	stdout: string;
	stderr: string;
	/** The response payload (`-o` file); undefined when none was written (error, timeout, no payload). */
	body: Buffer | undefined;
	/** "4.04 Not Found"-style line coap-client printed for an error response. */
	responseError: string | undefined;
	/** body present, no error response (coap-client's exit status is 0 even on failure). */
	ok: boolean;
	ms: number;
}

/** Runs coap-client-LIB inside `ns` to completion and returns what happened. */
export async function runCoapClient(net: Namespaces, o: CoapClientOptions): Promise<CoapClientResult> {
	const pki = o.pki ?? testPki();
	const out = scratchFile("body.bin");
	const timeoutS = o.timeoutS ?? 10;
	const args = ["-a", o.bind, "-B", String(timeoutS), "-o", out];
	if (o.method !== undefined) args.push("-m", o.method);
	if (o.payloadFile !== undefined) args.push("-f", o.payloadFile);
	if (o.blockSize !== undefined) args.push("-b", String(o.blockSize));
	if (o.localPort !== undefined) args.push("-p", String(o.localPort));
	if (o.verbosity !== undefined) args.push("-v", String(o.verbosity));
	if (o.noPki !== true) args.push("-c", pki.clientCert, "-j", pki.clientKey, "-C", pki.caCert);
	args.push(...(o.extraArgs ?? []), o.uri);
	const env = tlsEnv(o.lib, o.ccm8Only);
	const binary = clientBinary(o.lib);
	const started = Date.now();
	const child = net.spawn(o.ns, binary, args, env === undefined ? {} : { env });
	const output = collect(child);
	const done = closed(child);
	const killer = setTimeout(() => child.kill("SIGKILL"), (timeoutS + 5) * 1000);
	const { status, signal } = await done;
	clearTimeout(killer);
	const body = existsSync(out) ? readFileSync(out) : undefined;
	if (body !== undefined) rmSync(out);
	const stderr = output.err();
	const responseError = /^\d\.\d\d\b.*$/m.exec(stderr)?.[0];
	return { binary, args, env, status, signal, stdout: output.out(), stderr, body, responseError, ok: body !== undefined && responseError === undefined, ms: Date.now() - started };
}

/** Distinct Block2 numbers of the 2.05 responses a `-v 7` client logged. */
export function block2Count(r: CoapClientResult): number {
	const nums = new Set<string>();
	for (const m of (r.stdout + r.stderr).matchAll(/c:2\.05\b.*Block2:(\d+)\//g)) nums.add(m[1]!);
	return nums.size;
}

/** One line for a report: environment, binary, arguments. */
export function commandLine(r: { binary: string; args: string[]; env?: Record<string, string> | undefined }): string {
	const env = Object.entries(r.env ?? {}).map(([k, v]) => `${k}=${v} `).join("");
	return `${env}${r.binary} ${r.args.map((a) => (/^[\w@%+=:,./[\]-]+$/.test(a) ? a : `'${a}'`)).join(" ")}`;
}

/* ---------------------------------------------------------------- tshark */

export interface Capture {
	file: string;
	/** Waits 600 ms for the last packets, stops tshark (SIGINT) and waits until the file is complete. Idempotent. */
	stop(): Promise<void>;
}

/** Starts tshark on `ifname` in `ns`, writing `file`; resolves once it is capturing. Stops itself after maxSeconds. */
export async function startCapture(net: Namespaces, ns: string, ifname: string, file: string, maxSeconds = 60): Promise<Capture> {
	const child = net.spawn(ns, "tshark", ["-i", ifname, "-w", file, "-a", `duration:${maxSeconds}`, "-q"]);
	const output = collect(child);
	const deadline = Date.now() + 10_000;
	while (!/Capturing on/.test(output.err())) {
		if (child.exitCode !== null || child.signalCode !== null || Date.now() > deadline) {
			await stopChild(child, "SIGINT");
			throw new Error(`tshark did not start in ${ns}: ${output.err()}`);
		}
		await sleep(25);
	}
	await sleep(150); // "Capturing on" comes just before dumpcap really reads packets
	let stopping: Promise<void> | undefined;
	// libpcap hands packets over in TPACKET_V3 blocks that time out after ~250 ms, and an interrupted dumpcap
	// drops a block not yet handed over: let the last packets settle before SIGINT.
	const stop = async (): Promise<void> => {
		if (child.exitCode !== null || child.signalCode !== null) return;
		await sleep(600);
		await stopChild(child, "SIGINT", 5000);
	};
	return { file, stop: () => (stopping ??= stop()) };
}

export interface DtlsPacket {
	frame: number;
	srcPort: number;
	dstPort: number;
	/** Record-layer versions (one per DTLS record in the datagram). */
	recordVersions: number[];
	contentTypes: number[];
	/** Handshake message types (1 ClientHello, 2 ServerHello, 3 HelloVerifyRequest, 11 Certificate, …). */
	handshakeTypes: number[];
	/** ClientHello: the offered suites; ServerHello: the chosen one. */
	cipherSuites: number[];
	/** client_version / server_version of the hellos. */
	helloVersions: number[];
}

const nums = (s: string | undefined): number[] => (s ?? "").split(",").filter((x) => x !== "").map((x) => Number(x));

/** The DTLS datagrams of a capture; UDP `dtlsPorts` are decoded as DTLS. */
export function dtlsPackets(file: string, dtlsPorts: number[]): DtlsPacket[] {
	const decodeAs = dtlsPorts.flatMap((p) => ["-d", `udp.port==${p},dtls`]);
	const fields = ["frame.number", "udp.srcport", "udp.dstport", "dtls.record.version", "dtls.record.content_type", "dtls.handshake.type", "dtls.handshake.ciphersuite", "dtls.handshake.version"];
	const text = execFileSync("tshark", ["-r", file, ...decodeAs, "-Y", "dtls", "-T", "fields", "-E", "separator=/t", "-E", "aggregator=,", ...fields.flatMap((f) => ["-e", f])], {
		encoding: "utf8",
		stdio: ["ignore", "pipe", "ignore"],
		timeout: 30_000,
	});
	return text.split("\n").filter((l) => l.trim() !== "").map((line) => {
		const f = line.split("\t");
		return {
			frame: Number(f[0]),
			srcPort: Number(f[1]),
			dstPort: Number(f[2]),
			recordVersions: nums(f[3]),
			contentTypes: nums(f[4]),
			handshakeTypes: nums(f[5]),
			cipherSuites: nums(f[6]),
			helloVersions: nums(f[7]),
		};
	});
}

export interface DtlsSummary {
	clientHellos: number;
	helloVerifyRequests: number;
	/** Suites offered in the last ClientHello. */
	offered: number[];
	/** ServerHello server_version and cipher suite (undefined if no ServerHello was seen). */
	serverVersion: number | undefined;
	cipherSuite: number | undefined;
	/** Record versions from the ServerHello on (all should be DTLS 1.2; ClientHello and HelloVerifyRequest may say 1.0). */
	recordVersions: number[];
	applicationDataRecords: number;
	/** Certificate (11) messages from the server and the client, CertificateRequest (13) from the server. */
	serverCertificates: number;
	clientCertificates: number;
	certificateRequests: number;
}

const count = (packets: DtlsPacket[], handshakeType: number): number => packets.reduce((n, p) => n + p.handshakeTypes.filter((t) => t === handshakeType).length, 0);

/** What the handshake of the client bound to `clientPort` looked like on the wire. */
export function summarizeHandshake(packets: DtlsPacket[], clientPort: number): DtlsSummary {
	const mine = packets.filter((p) => p.srcPort === clientPort || p.dstPort === clientPort);
	const hellos = mine.filter((p) => p.srcPort === clientPort && p.handshakeTypes.includes(1));
	const serverHello = mine.find((p) => p.dstPort === clientPort && p.handshakeTypes.includes(2));
	return {
		clientHellos: hellos.length,
		helloVerifyRequests: mine.filter((p) => p.dstPort === clientPort && p.handshakeTypes.includes(3)).length,
		offered: hellos.at(-1)?.cipherSuites ?? [],
		serverVersion: serverHello?.helloVersions[0],
		cipherSuite: serverHello?.cipherSuites[0],
		recordVersions: serverHello === undefined ? [] : [...new Set(mine.filter((p) => p.frame >= serverHello.frame).flatMap((p) => p.recordVersions))],
		applicationDataRecords: mine.reduce((n, p) => n + p.contentTypes.filter((c) => c === 23).length, 0),
		serverCertificates: count(mine.filter((p) => p.dstPort === clientPort), 11),
		clientCertificates: count(mine.filter((p) => p.srcPort === clientPort), 11),
		certificateRequests: count(mine.filter((p) => p.dstPort === clientPort), 13),
	};
}

export const hex4 = (n: number | undefined): string => (n === undefined ? "none" : `0x${n.toString(16).toUpperCase().padStart(4, "0")}`);

/* ---------------------------------------------------------------- topologies */

export interface JoinProxyTopology {
	pledge: { ns: string; ifname: string; linkLocal: string; /** `-a` form for coap-client */ bind: string };
	proxy: { ns: string; pledgeIf: string; linkLocal: string; registrarIf: string; upstreamLinkLocal: string; routable: string };
	registrar: { ns: string; ifname: string; linkLocal: string; routable: string };
	/** The routable prefix between proxy and Registrar. */
	prefix: string;
}

/**
 * pledge ns —veth (link-local only)— proxy ns —veth (2001:db8:1::/64)— registrar ns, as drawn at the top of
 * this file. No forwarding, no routes: the proxy must relay at UDP level.
 */
export function joinProxyTopology(net: Namespaces): JoinProxyTopology {
	const pledgeNs = net.add("pledge");
	const proxyNs = net.add("proxy");
	const registrarNs = net.add("registrar");
	net.link(pledgeNs, "pl0", "fe80::b", proxyNs, "jp0", "fe80::a");
	net.link(proxyNs, "jr0", "fe80::1", registrarNs, "rg0", "fe80::2");
	net.addAddress(proxyNs, "jr0", "2001:db8:1::1/64");
	net.addAddress(registrarNs, "rg0", "2001:db8:1::2/64");
	net.setIpv6Forwarding(proxyNs, false);
	return {
		pledge: { ns: pledgeNs, ifname: "pl0", linkLocal: "fe80::b", bind: "fe80::b%pl0" },
		proxy: { ns: proxyNs, pledgeIf: "jp0", linkLocal: "fe80::a", registrarIf: "jr0", upstreamLinkLocal: "fe80::1", routable: "2001:db8:1::1" },
		registrar: { ns: registrarNs, ifname: "rg0", linkLocal: "fe80::2", routable: "2001:db8:1::2" },
		prefix: "2001:db8:1::/64",
	};
}

/* ---------------------------------------------------------------- UDP echo (node one-liners) */

const ECHO_JS = `const d=require("node:dgram");const [a,p]=process.argv.slice(1);const s=d.createSocket({type:"udp6",ipv6Only:true});
s.on("message",(m,r)=>s.send(m,r.port,r.address));s.on("error",e=>{console.error(e.code||e.message);process.exit(3)});
s.bind({address:a,port:+p},()=>console.log("ready"));`;

const PING_JS = `const d=require("node:dgram");const [b,t,p,msg,ms]=process.argv.slice(1);const s=d.createSocket({type:"udp6",ipv6Only:true});
setTimeout(()=>{console.error("timeout");process.exit(2)},+ms);s.on("error",e=>{console.error(e.code||e.message);process.exit(3)});
s.on("message",(m,r)=>{console.log(JSON.stringify({reply:m.toString(),from:r.address,port:r.port}));process.exit(0)});
s.bind({address:b,port:0},()=>s.send(msg,+p,t,e=>{if(e){console.error(e.code||e.message);process.exit(3)}}));`;

/** A UDP echo server in `ns` on address (with zone for link-local) and port; stop it with stopChild(). */
export async function startUdpEcho(net: Namespaces, ns: string, address: string, port: number): Promise<ChildProcess> {
	const child = net.spawn(ns, process.execPath, ["-e", ECHO_JS, address, String(port)]);
	const output = collect(child);
	const deadline = Date.now() + 10_000;
	while (!output.out().includes("ready")) {
		if (child.exitCode !== null || Date.now() > deadline) {
			await stopChild(child);
			throw new Error(`UDP echo did not start in ${ns} on [${address}]:${port}: ${output.err()}`);
		}
		await sleep(20);
	}
	return child;
}

export interface UdpPingResult {
	ok: boolean;
	reply?: string;
	/** Reply source address as node reports it (link-local with %zone). */
	from?: string;
	error?: string;
}

/** Sends `message` from `bind` (address%zone or "::") in `ns` to target (address%zone)/port and waits for the echo. */
export async function udpPing(net: Namespaces, ns: string, bind: string, target: string, port: number, message: string, timeoutMs = 3000): Promise<UdpPingResult> {
	const child = net.spawn(ns, process.execPath, ["-e", PING_JS, bind, target, String(port), message, String(timeoutMs)]);
	const output = collect(child);
	const { status } = await closed(child);
	if (status !== 0) return { ok: false, error: output.err().trim() };
	const r = JSON.parse(output.out()) as { reply: string; from: string };
	return { ok: true, reply: r.reply, from: r.from };
}
