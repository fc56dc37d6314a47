/*
 * A neighbour on the pledge link that lies about who it is, without raw sockets: with
 * `net.ipv6.ip_nonlocal_bind=1` in its namespace a dgram udp6 socket may bind an address the namespace
 * does not own (`fe80::dead:0%pl0`, the proxy's own `fe80::a%pl0`, the Registrar's routable address).
 * The kernel then sends with that source and never answers neighbour solicitations for it: exactly a
 * spoofed neighbour that never answers ND. Also the probes the attack tests read: UDP arrivals in a
 * namespace (/proc/net/snmp6 is per namespace), the UDP ports a process holds (`ss -ulpn`), a process's
 * RSS, a DTLS ClientHello to flood with, and a "fake pledge" that records every datagram it gets.
 */

import type { ChildProcess } from "node:child_process";
import { randomBytes } from "node:crypto";
import { readFileSync } from "node:fs";
import type { Namespaces } from "./netns.js";
import {
	CipherSuite,
	COMPRESSION_NULL,
	DTLS_1_2,
	ECDSA_SHA256,
	HandshakeType,
	NAMED_CURVE_SECP256R1,
	encodeClientHello,
	encodeHandshakeMessage,
	ecPointFormatsExtension,
	signatureAlgorithmsExtension,
	supportedGroupsExtension,
} from "../../modules/dtls/handshake.js";

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Lets sockets in `ns` bind addresses the namespace does not own (the spoofing switch). */
export function allowSpoofing(net: Namespaces, ns: string): void {
	net.sysctl(ns, "net.ipv6.ip_nonlocal_bind", "1");
}

/* ---------------------------------------------------------------- datagrams */

/** DTLS record content type handshake (RFC 6347 §4.1). */
const CONTENT_HANDSHAKE = 22;
const RECORD_HEADER_BYTES = 13;

/** One epoch-0 DTLS 1.2 ClientHello record without a cookie: every DTLS server answers it (HelloVerifyRequest). */
export function dtlsClientHello(sequence = 0): Buffer {
	const body = encodeClientHello({
		clientVersion: DTLS_1_2,
		random: randomBytes(32),
		sessionId: new Uint8Array(0),
		cookie: new Uint8Array(0),
		cipherSuites: [CipherSuite.ecdheEcdsaWithAes128Ccm8],
		compressionMethods: [COMPRESSION_NULL],
		extensions: [supportedGroupsExtension([NAMED_CURVE_SECP256R1]), ecPointFormatsExtension(), signatureAlgorithmsExtension([ECDSA_SHA256])],
	});
	const fragment = encodeHandshakeMessage(HandshakeType.clientHello, 0, body);
	const record = Buffer.alloc(RECORD_HEADER_BYTES + fragment.length);
	record[0] = CONTENT_HANDSHAKE;
	record.writeUInt16BE(DTLS_1_2, 1);
	record.writeUIntBE(sequence, 5, 6); // epoch 0 (bytes 3-4), 48-bit sequence number
	record.writeUInt16BE(fragment.length, 11);
	Buffer.from(fragment).copy(record, RECORD_HEADER_BYTES);
	return record;
}

/* ---------------------------------------------------------------- sender */

export interface SpoofOptions {
	/** Source address to claim, with zone for link-local ("fe80::dead:0%pl0"). */
	source: string;
	/** Source ports, used in turn (default: one ephemeral port). */
	sourcePorts?: number[];
	/** Destination, with zone for link-local and multicast ("fe80::a%pl0", "ff02::1%pl0"). */
	target: string;
	targetPorts: number[];
	/** What to send: fixed bytes, or "garbage" (random bytes, 1..200 long). */
	payload: Buffer | "garbage";
	/** Datagrams to send in all (default unlimited: until durationMs). */
	count?: number;
	/** Datagrams per second; 0 (default) sends as fast as the socket takes them. */
	rate?: number;
	/** Stop after this long (default 60 s). */
	durationMs?: number;
}

export interface SpoofResult {
	sent: number;
	errors: number;
	firstError?: string;
}

/* Runs inside the attacker's namespace; one JSON line at the end. Sends in batches so the event loop breathes. */
const SPOOF_JS = `const d=require("node:dgram"),c=require("node:crypto");const o=JSON.parse(process.argv[1]);
const fixed=o.payload==="garbage"?null:Buffer.from(o.payload,"hex");let sent=0,errors=0,firstError,inflight=0,stop=false;
const socks=[];const cb=e=>{inflight--;if(e){errors++;firstError??=e.code||e.message}};
const end=()=>{stop=true;const t=setInterval(()=>{if(inflight===0||Date.now()>t0+o.durationMs+3000){clearInterval(t);console.log(JSON.stringify({sent,errors,firstError}));process.exit(0)}},10)};
let t0=Date.now();const ports=o.sourcePorts.length?o.sourcePorts:[0];let bound=0;
for(const p of ports){const s=d.createSocket({type:"udp6",ipv6Only:true});s.on("error",e=>{console.error("bind "+o.source+" port "+p+": "+(e.code||e.message));process.exit(3)});
s.bind({address:o.source,port:p},()=>{socks.push(s);if(++bound===ports.length)go()})}
function one(){const s=socks[sent%socks.length];const m=fixed??c.randomBytes(1+c.randomInt(200));inflight++;sent++;s.send(m,o.targetPorts[sent%o.targetPorts.length],o.target,cb)}
function go(){t0=Date.now();setTimeout(end,o.durationMs).unref();
 if(o.rate>0){const tick=()=>{if(stop)return;const due=Math.min(o.count,Math.floor((Date.now()-t0)*o.rate/1000));while(sent<due)one();if(sent>=o.count)return end();setTimeout(tick,5)};tick()}
 else{const burst=()=>{if(stop)return;if(inflight<2000)for(let i=0;i<500&&sent<o.count;i++)one();if(sent>=o.count)return end();setImmediate(burst)};burst()}}`;

/** Starts a spoofing sender in `ns` (allowSpoofing() first); resolves with the counts once it is done. */
export function spoof(net: Namespaces, ns: string, o: SpoofOptions): { child: ChildProcess; done: Promise<SpoofResult> } {
	const config = {
		source: o.source,
		sourcePorts: o.sourcePorts ?? [],
		target: o.target,
		targetPorts: o.targetPorts,
		payload: o.payload === "garbage" ? "garbage" : o.payload.toString("hex"),
		count: o.count ?? Number.MAX_SAFE_INTEGER,
		rate: o.rate ?? 0,
		durationMs: o.durationMs ?? 60_000,
	};
	const child = net.spawn(ns, process.execPath, ["-e", SPOOF_JS, JSON.stringify(config)]);
	let out = "";
	let err = "";
	child.stdout!.setEncoding("utf8").on("data", (s: string) => (out += s));
	child.stderr!.setEncoding("utf8").on("data", (s: string) => (err += s));
	const done = new Promise<SpoofResult>((resolve, reject) => {
		child.once("close", (status) => {
			if (status === 0) resolve(JSON.parse(out.trim().split("\n").pop()!) as SpoofResult);
			else reject(new Error(`spoofer ${o.source} → ${o.target} exited ${status}: ${err}${out}`));
		});
	});
	return { child, done };
}

/* ---------------------------------------------------------------- fake pledge */

export interface Received {
	from: string;
	port: number;
	data: Buffer;
}

export interface UdpPeerProcess {
	child: ChildProcess;
	/** Everything received so far, in order. */
	received(): Received[];
	/** Resolves once something matching `match` arrived, or false after timeoutMs. */
	waitFor(match: (r: Received) => boolean, timeoutMs: number): Promise<boolean>;
	stop(): void;
}

const PEER_JS = `const d=require("node:dgram");const o=JSON.parse(process.argv[1]);const s=d.createSocket({type:"udp6",ipv6Only:true});
s.on("error",e=>{console.error(e.code||e.message);process.exit(3)});
s.on("message",(m,r)=>console.log(JSON.stringify({from:r.address,port:r.port,hex:m.toString("hex")})));
const send=()=>s.send(Buffer.from(o.hex,"hex"),o.targetPort,o.target);
s.bind({address:o.bind,port:o.port},()=>{console.log("ready");if(o.target){send();if(o.repeatMs>0)setInterval(send,o.repeatMs)}});`;

/**
 * A UDP peer in `ns` bound to `bind`:`port` (a fake pledge): sends `hello` to target:targetPort once
 * (and every repeatMs if given) and records every datagram it receives.
 */
export async function startUdpPeer(
	net: Namespaces,
	ns: string,
	o: { bind: string; port: number; target?: string; targetPort?: number; hello?: Buffer; repeatMs?: number },
): Promise<UdpPeerProcess> {
	const config = { bind: o.bind, port: o.port, target: o.target ?? "", targetPort: o.targetPort ?? 0, hex: (o.hello ?? Buffer.alloc(0)).toString("hex"), repeatMs: o.repeatMs ?? 0 };
	const child = net.spawn(ns, process.execPath, ["-e", PEER_JS, JSON.stringify(config)]);
	let out = "";
	let err = "";
	child.stdout!.setEncoding("utf8").on("data", (s: string) => (out += s));
	child.stderr!.setEncoding("utf8").on("data", (s: string) => (err += s));
	const deadline = Date.now() + 10_000;
	while (!out.startsWith("ready")) {
		if (child.exitCode !== null || Date.now() > deadline) throw new Error(`UDP peer [${o.bind}]:${o.port} in ${ns} did not start: ${err}`);
		await sleep(20);
	}
	const received = (): Received[] =>
		out
			.split("\n")
			.filter((l) => l.startsWith("{"))
			.map((l) => {
				const r = JSON.parse(l) as { from: string; port: number; hex: string };
				return { from: r.from, port: r.port, data: Buffer.from(r.hex, "hex") };
			});
	return {
		child,
		received,
		async waitFor(match, timeoutMs) {
			const end = Date.now() + timeoutMs;
			for (;;) {
				if (received().some(match)) return true;
				if (Date.now() > end) return false;
				await sleep(25);
			}
		},
		stop: () => void (child.exitCode === null && child.kill("SIGKILL")),
	};
}

/* ---------------------------------------------------------------- probes */

/**
 * UDP datagrams that reached namespace `ns` at all (delivered, to a closed port, or dropped for want
 * of buffer): Udp6InDatagrams + Udp6NoPorts + Udp6InErrors of its /proc/net/snmp6.
 */
export function udpArrivals(net: Namespaces, ns: string): number {
	const r = net.run(ns, "cat", ["/proc/net/snmp6"], 5000);
	if (r.status !== 0) throw new Error(`cannot read /proc/net/snmp6 in ${ns}: ${r.stderr}`);
	let n = 0;
	for (const line of r.stdout.split("\n")) {
		const [key, value] = line.trim().split(/\s+/);
		if (key === "Udp6InDatagrams" || key === "Udp6NoPorts" || key === "Udp6InErrors") n += Number(value);
	}
	return n;
}

/** UDP sockets process `pid` holds in `ns`: [address, port] pairs as `ss -ulpn` prints them. */
export function udpSocketsOf(net: Namespaces, ns: string, pid: number): { address: string; port: number }[] {
	const r = net.run(ns, "ss", ["-Hulpn"], 5000);
	if (r.status !== 0) throw new Error(`ss failed in ${ns}: ${r.stderr}`);
	const out: { address: string; port: number }[] = [];
	for (const line of r.stdout.split("\n")) {
		if (!line.includes(`pid=${pid},`)) continue;
		const local = line.trim().split(/\s+/)[3] ?? "";
		const i = local.lastIndexOf(":");
		out.push({ address: local.slice(0, i).replace(/^\[|\]$/g, ""), port: Number(local.slice(i + 1)) });
	}
	return out;
}

/** Resident set size of process `pid` in kB (VmRSS), or undefined once it has gone. */
export function rssKb(pid: number): number | undefined {
	try {
		const m = /^VmRSS:\s+(\d+)\s+kB/m.exec(readFileSync(`/proc/${pid}/status`, "utf8"));
		return m === null ? undefined : Number(m[1]);
	} catch {
		return undefined;
	}
}
