/*
 * The Registrar on Node, on loopback, with a pledge that negotiates max_fragment_length 2^9 (cBRSKI
 * allows 2^9 or 2^10) and asks for 512-byte blocks: its association serves 256-byte blocks, so the
 * voucher and the CA certificates arrive block-wise and nothing exceeds the record limit (a 512-byte
 * block once ended the Registrar's process). The pledge is test-pledge's, with that one change.
 */

import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createNodeHost } from "../hosts/node/index.js";
import { createNodeCrypto } from "../hosts/node/crypto.js";
import { Code, ContentFormat } from "../modules/coap/constants.js";
import { decodeCertsOnly } from "../modules/est/pkcs7.js";
import { pemToDer } from "../modules/util/base64.js";
import { initPki } from "../src/pki/init.js";
import { loadMasaConfig, loadRegistrarConfig } from "../src/pki/config.js";
import { startMasaFromConfig, type RunningMasa } from "../src/masa/from-config.js";
import { inProcessMasaClient } from "../src/registrar/masa-client.js";
import { startNodeRegistrar, type NodeRegistrar } from "../src/registrar/node-registrar.js";
import { connect, loadPledge, makePvr } from "./node-lib/test-pledge.js";

const crypto = createNodeCrypto();
const logs: string[] = [];
const host = { ...createNodeHost({ logLevel: "error" }), log: (level: string, message: string) => void (level === "warn" || level === "error" ? logs.push(message) : undefined) };
let dir: string;
let masa: RunningMasa;
let nr: NodeRegistrar;

before(async () => {
	dir = mkdtempSync(join(tmpdir(), "cjp-registrar-mfl-"));
	await initPki({ dir, pledges: 1 });
	const config = loadRegistrarConfig(join(dir, "registrar", "config.json"));
	masa = await startMasaFromConfig({ ...loadMasaConfig(join(dir, "masa")), listen: { address: "::1", port: 0 } }, () => {});
	nr = await startNodeRegistrar(config, host, { masaClient: inProcessMasaClient(masa.service, pemToDer(readFileSync(config.cert, "utf8"))[0]!), coapsPort: 0, jpyPort: 0 });
});

after(async () => {
	nr.close();
	await masa.close();
	rmSync(dir, { recursive: true, force: true });
});

describe("Registrar and a max_fragment_length 2^9 pledge", () => {
	it("/rv and /crts arrive block-wise within the record limit; the Registrar stays up", async () => {
		const pledge = loadPledge(join(dir, "pledges", "PLEDGE-0001"));
		const server = { address: "::1", port: nr.registrar.coapsPort!, zone: "" };
		const { client, registrarChain } = await connect(host, crypto, server, pledge, { maxFragmentLength: 512, coap: { maxRetransmit: 2 } });
		try {
			assert.equal(client.connection.maxPlaintext, 512);
			const rv = await client.endpoint.request({ peer: server, method: 2, path: "/.well-known/brski/rv", payload: makePvr(crypto, pledge, registrarChain[0]!), contentFormat: ContentFormat.VoucherCoseCbor });
			assert.equal(rv.code, Code.Changed, `/rv: ${rv.code >> 5}.${rv.code & 31}`);
			assert.ok(rv.payload.length > 256, `the voucher (${rv.payload.length} bytes) took more than one block`);
			const crts = await client.endpoint.request({ peer: server, path: "/.well-known/est/crts", accept: ContentFormat.Pkcs7CertsOnly });
			assert.equal(crts.code, Code.Content);
			assert.ok(decodeCertsOnly(crts.payload).length >= 1);
			assert.ok(crts.payload.length > 256, `the CA certificates (${crts.payload.length} bytes) took more than one block`);
			assert.equal(client.endpoint.stats().sendErrors, 0);
			assert.deepEqual(logs.filter((l) => /not sent|failed/.test(l)), [], "the Registrar refused to send nothing");
		} finally {
			client.close();
		}
	});
});
