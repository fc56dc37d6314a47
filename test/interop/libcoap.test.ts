/*
 * Interop of our CoAP (modules/coap) with Debian's libcoap 4.3.1 command line tools, over ::1 only:
 *   A. our client → coap-server-notls (discovery, Block1 PUT + Block2 GET of a dynamic resource,
 *      one CON retransmission);
 *   B. coap-client-notls → our server (GET, Block1 POST, Block2 GET, filtered discovery).
 * Without the binaries the tests skip, or fail when CJP_REQUIRE_PEERS=1 (package libcoap3-bin).
 */

import { after, before, describe, it, type TestContext } from "node:test";
import assert from "node:assert/strict";
import { spawn, type ChildProcess } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createNodeHost } from "../../hosts/node/index.js";
import { findBinary } from "../node-lib/coap-peers.js";
import { unavailable } from "../node-lib/unavailable.js";
import type { UdpPeer, UdpSocket } from "../../hosts/host.js";
import { CoapEndpoint, type CoapRequest } from "../../modules/coap/endpoint.js";
import { openUdpCoap, type UdpCoap } from "../../modules/coap/udp-endpoint.js";
import { CoapRouter } from "../../modules/coap/router.js";
import { Code, ContentFormat, GET, Opt, PUT, codeText } from "../../modules/coap/constants.js";
import { findOption, uintOptionValue } from "../../modules/coap/message.js";
import { decodeBlock } from "../../modules/coap/block.js";
import { attribute, parseLinkFormat } from "../../modules/coap/link-format.js";
import { utf8Decode, utf8Encode } from "../../modules/util/utf8.js";
import { freeUdpPort } from "../node-lib/local.js";

const CLIENT = "coap-client-notls";
const SERVER = "coap-server-notls";
const PACKAGE = "libcoap3-bin";
const TEST_TIMEOUT_MS = 30_000;

/* ---------------------------------------------------------------- helpers */

function missing(t: TestContext, binary: string | undefined, name: string): binary is undefined {
	return unavailable(t, binary === undefined ? `${name} not found in PATH (Debian package ${PACKAGE})` : undefined);
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Ends a child: SIGTERM, then SIGKILL if it lingers. Resolves once it has exited. */
async function stop(child: ChildProcess): Promise<void> {
	if (child.exitCode !== null || child.signalCode !== null) return;
	const exited = new Promise<void>((r) => child.once("exit", () => r()));
	child.kill("SIGTERM");
	const t = setTimeout(() => child.kill("SIGKILL"), 2000);
	await exited;
	clearTimeout(t);
}

interface RunResult {
	code: number | null;
	signal: NodeJS.Signals | null;
	stdout: string;
	stderr: string;
}

/** Runs a command to completion (killed after timeoutMs). */
async function run(command: string, args: string[], timeoutMs = 20_000): Promise<RunResult> {
	const child = spawn(command, args, { stdio: ["ignore", "pipe", "pipe"] });
	let stdout = "";
	let stderr = "";
	child.stdout.setEncoding("utf8").on("data", (d: string) => (stdout += d));
	child.stderr.setEncoding("utf8").on("data", (d: string) => (stderr += d));
	const killer = setTimeout(() => child.kill("SIGKILL"), timeoutMs);
	try {
		return await new Promise<RunResult>((resolve, reject) => {
			child.once("error", reject);
			child.once("close", (code, signal) => resolve({ code, signal, stdout, stderr }));
		});
	} finally {
		clearTimeout(killer);
		await stop(child);
	}
}

const describeRun = (r: RunResult): string => `exit ${r.code ?? r.signal}; stdout=${JSON.stringify(r.stdout)}; stderr=${JSON.stringify(r.stderr)}`;

/** Deterministic printable text of `n` bytes (stdout comparisons stay simple). */
function text(n: number, seed: string): string {
	let s = "";
	for (let line = 0; s.length < n; line++) s += `${seed} line ${String(line).padStart(4, "0")}: ${"abcdefghijklmnopqrstuvwxyz0123456789".slice(line % 36)}\n`;
	return s.slice(0, n);
}

const LOOPBACK = (port: number): UdpPeer => ({ address: "::1", port, zone: "" });

/* ---------------------------------------------------------------- A: our client → coap-server-notls */

describe("libcoap interop: our client → coap-server-notls", () => {
	const serverBin = findBinary(SERVER);
	const host = createNodeHost();
	let server: ChildProcess | undefined;
	let serverLog = "";
	let port = 0;
	let client: UdpCoap | undefined;

	/** Starts coap-server-notls on a free port and waits until it answers a GET of "/". */
	async function startServer(): Promise<void> {
		if (serverBin === undefined) return;
		client = await openUdpCoap(host, { address: "::1", ackTimeoutMs: 150, maxRetransmit: 0 });
		for (let attempt = 0; attempt < 3; attempt++) {
			port = await freeUdpPort();
			// -d: PUT creates dynamic resources (how we get a large representation to GET back).
			const child = spawn(serverBin, ["-A", "::1", "-p", String(port), "-d", "10", "-v", "4"], { stdio: ["ignore", "pipe", "pipe"] });
			server = child;
			child.stdout.setEncoding("utf8").on("data", (d: string) => (serverLog += d));
			child.stderr.setEncoding("utf8").on("data", (d: string) => (serverLog += d));
			child.once("error", (e) => (serverLog += `spawn error: ${e.message}\n`));
			const deadline = Date.now() + 5000;
			while (Date.now() < deadline && child.exitCode === null && child.signalCode === null) {
				try {
					const res = await client.endpoint.request({ peer: LOOPBACK(port), method: GET, path: "/" });
					if (res.code === Code.Content) return;
				} catch {
					/* not up yet */
				}
				await sleep(50);
			}
			await stop(child); // exited (port taken?) or never answered: try another port
			server = undefined;
		}
		throw new Error(`${SERVER} did not come up on [::1]; its output:\n${serverLog}`);
	}

	before(startServer, { timeout: 20_000 });

	after(async () => {
		client?.close();
		if (server !== undefined) await stop(server);
	});

	it("GET /.well-known/core: 2.05, link-format, lists libcoap's example resources", { timeout: TEST_TIMEOUT_MS }, async (t) => {
		if (missing(t, serverBin, SERVER)) return;
		const ep = await openUdpCoap(host, { address: "::1", ackTimeoutMs: 500 });
		try {
			const res = await ep.endpoint.request({ peer: LOOPBACK(port), method: GET, path: "/.well-known/core" });
			assert.equal(codeText(res.code), "2.05");
			assert.equal(uintOptionValue(res, Opt.ContentFormat), ContentFormat.LinkFormat);
			const links = parseLinkFormat(utf8Decode(res.payload));
			const targets = links.map((l) => l.target);
			for (const want of ["/", "/time", "/async", "/example_data"]) assert.ok(targets.includes(want), `${want} missing from ${targets.join(",")}`);
			const time = links.find((l) => l.target === "/time")!;
			assert.equal(attribute(time, "rt"), "ticks");
			assert.equal(attribute(time, "if"), "clock");
			assert.equal(attribute(time, "obs"), true);
		} finally {
			ep.close();
		}
	});

	it("Block1 PUT of 5000 bytes creates a dynamic resource; Block2 GET in 64-byte blocks returns it byte for byte", { timeout: TEST_TIMEOUT_MS }, async (t) => {
		if (missing(t, serverBin, SERVER)) return;
		const ep = await openUdpCoap(host, { address: "::1", ackTimeoutMs: 500 });
		try {
			const body = new Uint8Array(randomBytes(5000));
			const path = `/cjp-${randomBytes(4).toString("hex")}`;
			const put = await ep.endpoint.request({ peer: LOOPBACK(port), method: PUT, path, payload: body, contentFormat: ContentFormat.OctetStream, blockSzx: 4 });
			assert.equal(codeText(put.code), "2.01", utf8Decode(put.payload));
			// libcoap 4.3.1 answers the last block with a bare 2.01 (no Block1 echo); accept either.
			const b1 = findOption(put, Opt.Block1);
			if (b1 !== undefined) assert.deepEqual(decodeBlock(b1.value), { num: 19, more: false, szx: 4 });
			const sentAfterPut = ep.endpoint.stats().sent;
			assert.equal(sentAfterPut, 20, "5000 bytes go out as 20 Block1 blocks of 256 bytes");

			const get = await ep.endpoint.request({ peer: LOOPBACK(port), method: GET, path, blockSzx: 2 });
			assert.equal(codeText(get.code), "2.05");
			const b2 = findOption(get, Opt.Block2);
			assert.ok(b2 !== undefined, "GET response is block-wise");
			assert.deepEqual(decodeBlock(b2.value), { num: 0, more: true, szx: 2 });
			assert.equal(uintOptionValue(get, Opt.Size2), body.length);
			assert.equal(uintOptionValue(get, Opt.ContentFormat), ContentFormat.OctetStream);
			assert.equal(get.payload.length, body.length);
			assert.ok(Buffer.from(get.payload).equals(Buffer.from(body)), "representation differs from what was PUT");
			assert.equal(ep.endpoint.stats().sent - sentAfterPut, Math.ceil(5000 / 64));
			assert.equal(ep.endpoint.stats().retransmissions, 0);
		} finally {
			ep.close();
		}
	});

	it("a CON request whose first transmission is lost is retransmitted exactly once and answered", { timeout: TEST_TIMEOUT_MS }, async (t) => {
		if (missing(t, serverBin, SERVER)) return;
		let endpoint: CoapEndpoint | undefined;
		const socket: UdpSocket = await host.udp.bind({ address: "::1", onDatagram: (data, from) => endpoint?.receive(data, from) });
		const attempts: number[] = [];
		let dropped = 0;
		const ep = new CoapEndpoint({
			transport: {
				send(data, to) {
					attempts.push(host.clock.now());
					if (attempts.length === 1) {
						dropped++;
						return; // lost on the way
					}
					socket.send(data, to);
				},
			},
			clock: host.clock,
			random: (b) => host.random(b),
			ackTimeoutMs: 300,
		});
		endpoint = ep;
		try {
			const res = await ep.request({ peer: LOOPBACK(port), method: GET, path: "/" });
			assert.equal(codeText(res.code), "2.05");
			assert.match(utf8Decode(res.payload), /libcoap/);
			assert.equal(dropped, 1);
			assert.equal(ep.stats().retransmissions, 1);
			assert.equal(attempts.length, 2);
			const gap = attempts[1]! - attempts[0]!;
			assert.ok(gap >= 290 && gap < 1500, `retransmitted after ${gap} ms, want ACK_TIMEOUT..ACK_TIMEOUT*1.5 (300..450)`);
		} finally {
			ep.close();
			socket.close();
		}
	});
});

/* ---------------------------------------------------------------- B: coap-client-notls → our server */

describe("libcoap interop: coap-client-notls → our server", () => {
	const clientBin = findBinary(CLIENT);
	const HELLO = "Hello from the constrained Join Proxy";
	const BIG = text(5000, "block2"); // > 4 KB, ASCII
	let received: Uint8Array[] = [];
	let server: UdpCoap | undefined;
	let port = 0;
	let dir = "";

	const router = new CoapRouter()
		.add("/hello", { get: () => ({ code: Code.Content, contentFormat: ContentFormat.TextPlain, payload: utf8Encode(HELLO) }), link: [{ name: "title", value: "greeting" }] })
		.add("/big", { get: () => ({ code: Code.Content, contentFormat: ContentFormat.TextPlain, payload: utf8Encode(BIG) }), link: [{ name: "rt", value: "bulk" }] })
		.add("/upload", {
			post: (req: CoapRequest) => {
				received.push(req.payload.slice());
				const digest = Buffer.from(req.payload).reduce((a, b) => (a * 31 + b) >>> 0, 7);
				return { code: Code.Changed, contentFormat: ContentFormat.TextPlain, payload: utf8Encode(`got ${req.payload.length} bytes, hash ${digest}`) };
			},
		})
		.add("/sensors/temp", { get: () => ({ code: Code.Content, payload: utf8Encode("21.5") }), link: [{ name: "rt", value: "temperature" }, { name: "if", value: "sensor" }] })
		.add("/sensors/temp2", { get: () => ({ code: Code.Content, payload: utf8Encode("19.0") }), link: [{ name: "rt", value: "humidity temperature" }] })
		.add("/sensors/hum", { get: () => ({ code: Code.Content, payload: utf8Encode("40") }), link: [{ name: "rt", value: "humidity" }, { name: "if", value: "sensor" }] });

	before(async () => {
		if (clientBin === undefined) return;
		server = await openUdpCoap(createNodeHost(), { address: "::1", port: 0, handler: router.handler });
		port = server.socket.port;
		dir = mkdtempSync(join(tmpdir(), "cjp-libcoap-"));
	});

	after(() => {
		server?.close();
		if (dir !== "") rmSync(dir, { recursive: true, force: true });
	});

	const url = (path: string): string => `coap://[::1]:${port}${path}`;
	const coapClient = (args: string[]): Promise<RunResult> => run(clientBin!, ["-B", "10", ...args]);

	it("GET of a small resource: stdout is the representation", { timeout: TEST_TIMEOUT_MS }, async (t) => {
		if (missing(t, clientBin, CLIENT)) return;
		const r = await coapClient(["-m", "get", url("/hello")]);
		assert.equal(r.code, 0, describeRun(r));
		// coap-client writes the payload, then a newline of its own when stdout is the output.
		assert.equal(r.stdout.replace(/\n$/, ""), HELLO, describeRun(r));
		const out = join(dir, "hello.out");
		const r2 = await coapClient(["-m", "get", "-o", out, url("/hello")]);
		assert.equal(r2.code, 0, describeRun(r2));
		assert.equal(readFileSync(out, "utf8"), HELLO);
	});

	it("Block1 POST of 2500 bytes in 64-byte blocks: the handler gets the exact body", { timeout: TEST_TIMEOUT_MS }, async (t) => {
		if (missing(t, clientBin, CLIENT)) return;
		received = [];
		const body = new Uint8Array(randomBytes(2500));
		const file = join(dir, "upload.bin");
		writeFileSync(file, body);
		const out = join(dir, "upload.out");
		const before = server!.endpoint.stats().received;
		const r = await coapClient(["-m", "post", "-t", "42", "-b", "64", "-f", file, "-o", out, url("/upload")]);
		assert.equal(r.code, 0, describeRun(r));
		assert.equal(server!.endpoint.stats().received - before, Math.ceil(2500 / 64), "one request per 64-byte block");
		assert.equal(received.length, 1, "handler called once with the reassembled body");
		assert.ok(Buffer.from(received[0]!).equals(Buffer.from(body)), `handler got ${received[0]!.length} bytes, not the file`);
		const digest = Buffer.from(body).reduce((a, b) => (a * 31 + b) >>> 0, 7);
		assert.equal(readFileSync(out, "utf8"), `got 2500 bytes, hash ${digest}`);
	});

	it("Block2 GET of a 5000-byte resource in 64-byte blocks: output equals the resource", { timeout: TEST_TIMEOUT_MS }, async (t) => {
		if (missing(t, clientBin, CLIENT)) return;
		const out = join(dir, "big.out");
		const before = server!.endpoint.stats().received;
		const r = await coapClient(["-m", "get", "-b", "64", "-o", out, url("/big")]);
		assert.equal(r.code, 0, describeRun(r));
		assert.equal(server!.endpoint.stats().received - before, Math.ceil(5000 / 64), "one request per 64-byte block");
		assert.equal(readFileSync(out, "utf8"), BIG);
		const r2 = await coapClient(["-m", "get", "-b", "64", url("/big")]);
		assert.equal(r2.code, 0, describeRun(r2));
		assert.equal(r2.stdout.replace(/\n$/, ""), BIG);
	});

	it("GET /.well-known/core?rt=temperature returns only the matching links", { timeout: TEST_TIMEOUT_MS }, async (t) => {
		if (missing(t, clientBin, CLIENT)) return;
		const out = join(dir, "wkc.out");
		const r = await coapClient(["-m", "get", "-o", out, url("/.well-known/core?rt=temperature")]);
		assert.equal(r.code, 0, describeRun(r));
		const links = parseLinkFormat(readFileSync(out, "utf8"));
		assert.deepEqual(
			links.map((l) => l.target),
			["/sensors/temp", "/sensors/temp2"],
		);
		assert.equal(attribute(links[0]!, "rt"), "temperature");

		const all = await coapClient(["-m", "get", "-o", out, url("/.well-known/core")]);
		assert.equal(all.code, 0, describeRun(all));
		assert.deepEqual(
			parseLinkFormat(readFileSync(out, "utf8"))
				.map((l) => l.target)
				.sort(),
			["/big", "/hello", "/sensors/hum", "/sensors/temp", "/sensors/temp2"],
		);

		const two = await coapClient(["-m", "get", "-o", out, url("/.well-known/core?if=sensor&rt=hum*")]);
		assert.equal(two.code, 0, describeRun(two));
		assert.deepEqual(
			parseLinkFormat(readFileSync(out, "utf8")).map((l) => l.target),
			["/sensors/hum"],
		);
	});
});
