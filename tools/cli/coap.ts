/* `cjp coap`: a CoAP client and a small file server, on the project's own CoAP stack and Node host. */

import { readFileSync, readdirSync, statSync, writeFileSync } from "node:fs";
import { extname, join, resolve, sep } from "node:path";
import { createNodeHost, splitZone } from "../../hosts/node/index.js";
import { Code, ContentFormat, DELETE, GET, POST, PUT, codeClass, codeText } from "../../modules/coap/constants.js";
import type { ReceivedResponse } from "../../modules/coap/endpoint.js";
import { parseLinkFormat } from "../../modules/coap/link-format.js";
import { CoapRouter } from "../../modules/coap/router.js";
import { openUdpCoap, type UdpCoapOptions } from "../../modules/coap/udp-endpoint.js";
import { parseCoapUri, CoapUriError } from "../../modules/coap/uri.js";
import { szxOf } from "../../modules/coap/block.js";
import { utf8Encode } from "../../modules/util/utf8.js";
import { intOption, linkLocalAddress, untilSignal, UsageError, type Command } from "./command.js";

const METHODS: Record<string, number> = { get: GET, post: POST, put: PUT, delete: DELETE };

const HELP = `Usage:
  cjp coap get|post|put|delete URI [options]   send a request, print the body on stdout
  cjp coap serve [options]                      serve files of a directory over CoAP

URI: coap://[ADDRESS%ZONE]:PORT/path?query. A multicast address (ff02::fd%eth0) sends a NON
request and prints every response that arrives within --leisure.

Client options:
  --payload TEXT          request body
  --file PATH             request body from a file (sent with Block1 when larger than a block)
  --content-format N      Content-Format of the body (e.g. 0 text, 42 octets, 60 CBOR)
  --accept N              Accept option
  --block-size N          16..1024: Block1 size, and Block2 size asked for (default 1024)
  --non                   send a non-confirmable request
  --bind ADDRESS[%ZONE]   local address (a link-local one needs its zone)
  --timeout MS            give up after MS (default: RFC 7252 retransmission, about 93 s)
  --leisure MS            multicast: how long to collect responses (default 5000)
  --out PATH              write the body to PATH instead of stdout

Server options:
  --bind ADDRESS          address to bind (default: the link-local address of --zone, else ::)
  --port N                port (default 5683)
  --zone IFACE            interface for link-local addresses and multicast
  --group ADDRESS         join a multicast group on --zone (repeatable), e.g. ff02::fd
  --dir PATH              serve the files of PATH (GET), read-only
  --link LINK             extra link-format entry for /.well-known/core (repeatable), e.g. '<>;brski-jp=5684'
  --leisure MS            spread responses to multicast requests over MS (default 5000, RFC 7252 §8.2)

Exit status: 0 for a 2.xx response, 1 for another response or a failure, 2 for a usage error.
`;

export const coapCommand: Command = {
	name: "coap",
	summary: "CoAP client (get/post/put/delete, multicast discovery) and file server",
	help: HELP,
	options: {
		payload: { type: "string" },
		file: { type: "string" },
		"content-format": { type: "string" },
		accept: { type: "string" },
		"block-size": { type: "string" },
		non: { type: "boolean" },
		bind: { type: "string" },
		timeout: { type: "string" },
		leisure: { type: "string" },
		out: { type: "string" },
		port: { type: "string" },
		zone: { type: "string" },
		group: { type: "string", multiple: true },
		dir: { type: "string" },
		link: { type: "string", multiple: true },
	},
	async run(values, positionals) {
		const [verb, ...rest] = positionals;
		if (verb === "serve") {
			if (rest.length > 0) throw new UsageError(`unexpected argument "${rest[0]}"`);
			return serve(values);
		}
		const method = verb === undefined ? undefined : METHODS[verb];
		if (method === undefined) throw new UsageError(verb === undefined ? "missing get|post|put|delete|serve" : `unknown verb "${verb}"`);
		if (rest.length !== 1) throw new UsageError("expected exactly one URI");
		return request(method, rest[0]!, values);
	},
};

type Values = Parameters<Command["run"]>[0];

function str(v: unknown): string | undefined {
	return typeof v === "string" ? v : undefined;
}

async function request(method: number, uriText: string, values: Values): Promise<number> {
	let uri;
	try {
		uri = parseCoapUri(uriText);
	} catch (e) {
		if (e instanceof CoapUriError) throw new UsageError(e.message);
		throw e;
	}
	if (uri.scheme !== "coap") throw new UsageError("coaps:// needs DTLS, which is not built yet");
	if (values["payload"] !== undefined && values["file"] !== undefined) throw new UsageError("--payload and --file exclude each other");
	const payload = values["file"] !== undefined ? new Uint8Array(readFileSync(str(values["file"])!)) : values["payload"] !== undefined ? utf8Encode(str(values["payload"])!) : undefined;
	const blockSize = intOption(values["block-size"], "block-size", 16, 1024);
	let blockSzx: number | undefined;
	try {
		blockSzx = blockSize === undefined ? undefined : szxOf(blockSize);
	} catch {
		throw new UsageError("--block-size must be a power of two in 16..1024");
	}
	const timeoutMs = intOption(values["timeout"], "timeout", 1, 3_600_000);
	const leisureMs = intOption(values["leisure"], "leisure", 0, 600_000);
	const contentFormat = intOption(values["content-format"], "content-format", 0, 65535);
	const accept = intOption(values["accept"], "accept", 0, 65535);
	const [bindAddress, bindZone] = splitZone(str(values["bind"]) ?? "::");
	const options: UdpCoapOptions = { address: bindAddress };
	if (bindZone !== "") options.zone = bindZone;
	if (blockSzx !== undefined) options.blockSzx = blockSzx;
	const coap = await openUdpCoap(createNodeHost(), options);
	const peer = { address: uri.host, port: uri.port, zone: uri.zone };
	const req = { peer, method, path: uri.path, query: uri.query, confirmable: values["non"] !== true } as Parameters<typeof coap.endpoint.request>[0];
	if (payload !== undefined) req.payload = payload;
	if (contentFormat !== undefined) req.contentFormat = contentFormat;
	if (accept !== undefined) req.accept = accept;
	if (blockSzx !== undefined) req.blockSzx = blockSzx;
	if (timeoutMs !== undefined) req.timeoutMs = timeoutMs;
	const giveUp = timeoutMs === undefined ? undefined : setTimeout(() => coap.close(), timeoutMs);
	try {
		if (/^ff/i.test(uri.host)) {
			const all = await coap.endpoint.multicastRequest({ ...req, leisureMs: leisureMs ?? 5000 });
			for (const r of all) report(r, values, true);
			process.stderr.write(`${all.length} response(s)\n`);
			return all.some((r) => codeClass(r.code) === 2) ? 0 : 1;
		}
		const res = await coap.endpoint.request(req);
		report(res, values, false);
		return codeClass(res.code) === 2 ? 0 : 1;
	} finally {
		if (giveUp !== undefined) clearTimeout(giveUp);
		coap.close();
	}
}

function report(res: ReceivedResponse, values: Values, labelled: boolean): void {
	const from = `[${res.peer.address}${res.peer.zone ? "%" + res.peer.zone : ""}]:${res.peer.port}`;
	process.stderr.write(`${codeText(res.code)} from ${from}, ${res.payload.length} bytes\n`);
	const out = str(values["out"]);
	if (out !== undefined) writeFileSync(out, res.payload);
	else {
		if (labelled) process.stdout.write(`${from} `);
		process.stdout.write(res.payload);
		if (labelled || (res.payload.length > 0 && res.payload[res.payload.length - 1] !== 0x0a && process.stdout.isTTY)) process.stdout.write("\n");
	}
}

async function serve(values: Values): Promise<number> {
	const router = new CoapRouter();
	const dir = str(values["dir"]);
	if (dir !== undefined) addDirectory(router, resolve(dir));
	for (const text of (values["link"] as string[] | undefined) ?? []) {
		try {
			for (const link of parseLinkFormat(text)) router.addLink(link);
		} catch (e) {
			throw new UsageError(`--link: ${(e as Error).message}`);
		}
	}
	const zone = str(values["zone"]);
	const options: UdpCoapOptions = {
		address: str(values["bind"]) ?? (zone === undefined ? "::" : linkLocalAddress(zone)),
		port: intOption(values["port"], "port", 1, 65535) ?? 5683,
		handler: router.handler,
		groups: (values["group"] as string[] | undefined) ?? [],
	};
	const leisure = intOption(values["leisure"], "leisure", 0, 600_000);
	if (leisure !== undefined) options.multicastLeisureMs = leisure;
	if (zone !== undefined) options.zone = zone;
	if ((options.groups?.length ?? 0) > 0 && zone === undefined) throw new UsageError("--group needs --zone (the interface to join it on)");
	const host = createNodeHost();
	const coap = await openUdpCoap(host, options);
	host.log("info", `cjp coap: serving on [${options.address}]:${coap.socket.port}${zone ? " zone " + zone : ""}${options.groups!.length ? ", groups " + options.groups!.join(" ") : ""}`);
	const signal = await untilSignal();
	host.log("info", `cjp coap: ${signal}, stopping`);
	coap.close();
	return 0;
}


function addDirectory(router: CoapRouter, root: string): void {
	const walk = (dir: string): void => {
		for (const name of readdirSync(dir)) {
			const full = join(dir, name);
			if (statSync(full).isDirectory()) {
				walk(full);
				continue;
			}
			const path = full.slice(root.length).split(sep).join("/");
			const ct = extname(name) === ".txt" ? ContentFormat.TextPlain : ContentFormat.OctetStream;
			router.add(path, {
				// Read on each request, so edits show without a restart.
				get: () => ({ code: Code.Content, contentFormat: ct, payload: new Uint8Array(readFileSync(full)) }),
				link: [{ name: "ct", value: String(ct) }],
			});
		}
	};
	walk(root);
}
