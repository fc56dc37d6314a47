/*
 * Review F7: the Registrar's MASA calls are bounded. One device sending thousands of different PVRs
 * gets one MASA call and one row, the rest 5.03 + Max-Age; a global cap answers 5.03 for further
 * devices; a MASA call that fails in an unexpected way (here: the database) answers 5.00 and does
 * not leave an entry behind that would answer every resend forever.
 */

import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createNodeHost } from "../hosts/node/index.js";
import { createNodeCrypto } from "../hosts/node/crypto.js";
import { Code, ContentFormat, Opt } from "../modules/coap/constants.js";
import { option, uintOptionValue } from "../modules/coap/message.js";
import type { CoapsRequest } from "../modules/dtls/coaps.js";
import { pemToDer } from "../modules/util/base64.js";
import { parseEcPrivateKey } from "../modules/x509/private-key.js";
import { initPki } from "../src/pki/init.js";
import { loadRegistrarConfig } from "../src/pki/config.js";
import { Associations } from "../src/registrar/associations.js";
import { VoucherService } from "../src/registrar/brski-resources.js";
import { MemoryRegistrarDatabase } from "../src/registrar/database.js";
import type { MasaClient } from "../src/registrar/masa-client.js";
import { RegistrarPolicy } from "../src/registrar/policy.js";
import { loadPledge, makePvr, type TestPledgeIdentity } from "./node-lib/test-pledge.js";

const crypto = createNodeCrypto();
const host = { ...createNodeHost({ logLevel: "error" }), log: () => {} };
const der = (f: string): Uint8Array[] => pemToDer(readFileSync(f, "utf8"));

describe("Registrar MASA call bounds (review F7)", () => {
	let dir: string;
	let chain: Uint8Array[];
	let privateKey: Uint8Array;
	let policy: RegistrarPolicy;
	let pledges: TestPledgeIdentity[];

	before(async () => {
		dir = mkdtempSync(join(tmpdir(), "cjp-f7-"));
		await initPki({ dir, pledges: 2 });
		const c = loadRegistrarConfig(join(dir, "registrar"));
		chain = c.chain.flatMap(der);
		privateKey = parseEcPrivateKey(der(c.key)[0]!);
		const manufacturers = c.manufacturers.map((m) => ({ name: m.name, anchors: der(m.anchor), voucherAnchors: m.voucherAnchors.flatMap(der), masaTlsAnchors: [], masaUrl: m.masaUrl, serials: m.serials }));
		policy = new RegistrarPolicy({ manufacturers, domainCa: der(c.domainCa.cert), crypto, wallTime: () => Date.now() });
		pledges = ["PLEDGE-0001", "PLEDGE-0002"].map((s) => loadPledge(join(dir, "pledges", s)));
	});

	after(() => rmSync(dir, { recursive: true, force: true }));

	const rvRequest = (p: TestPledgeIdentity): CoapsRequest =>
		({ method: 2, path: [".well-known", "brski", "rv"], query: [], options: [option(Opt.ContentFormat, ContentFormat.VoucherCoseCbor)], payload: makePvr(crypto, p, chain[0]!), peer: { address: "::1", port: 1, zone: "" }, multicast: false, confirmable: true, peerCertificates: p.chain, association: "x" }) as unknown as CoapsRequest;

	function service(masaClient: MasaClient, db = new MemoryRegistrarDatabase(), maxMasaCalls?: number): VoucherService {
		return new VoucherService({ ctx: { host, crypto, db, policy, associations: new Associations() }, masaClient, chain, privateKey, masaWaitMs: 1, retryAfterSeconds: 7, ...(maxMasaCalls !== undefined ? { maxMasaCalls } : {}) });
	}

	it("3000 different PVRs from one device: one MASA call, one row, 5.03 + Max-Age for the rest", async () => {
		let calls = 0;
		const db = new MemoryRegistrarDatabase();
		const vs = service({ requestVoucher: () => (calls++, new Promise(() => {})) }, db);
		const codes = await Promise.all(Array.from({ length: 3000 }, () => vs.rv(rvRequest(pledges[0]!))));
		assert.equal(calls, 1);
		assert.equal(db.voucherRequests("PLEDGE-0001").length, 1);
		assert.ok(codes.every((r) => r.code === Code.ServiceUnavailable && uintOptionValue({ options: r.options ?? [] }, Opt.MaxAge) === 7));
	});

	it("a global cap: with one call allowed, a second device waits (5.03) without a MASA call", async () => {
		let calls = 0;
		const db = new MemoryRegistrarDatabase();
		const vs = service({ requestVoucher: () => (calls++, new Promise(() => {})) }, db, 1);
		assert.equal((await vs.rv(rvRequest(pledges[0]!))).code, Code.ServiceUnavailable);
		const second = await vs.rv(rvRequest(pledges[1]!));
		assert.equal(second.code, Code.ServiceUnavailable);
		assert.equal(calls, 1);
		assert.equal(db.voucherRequests("PLEDGE-0002").length, 0);
	});

	it("a MASA call that throws unexpectedly: 5.00, and the resend calls the MASA again", async () => {
		let calls = 0;
		const db = new MemoryRegistrarDatabase();
		db.recordVoucherOutcome = () => {
			throw new Error("SQLITE_BUSY");
		};
		const vs = service({ requestVoucher: async () => (calls++, { status: 404, contentType: "text/plain", body: new Uint8Array(0) }) }, db);
		const req = rvRequest(pledges[0]!);
		const first = await vs.rv(req);
		assert.equal(first.code, Code.InternalServerError);
		await new Promise((r) => setImmediate(r));
		const again = await vs.rv(req);
		assert.equal(again.code, Code.InternalServerError);
		assert.equal(calls, 2, "not stuck on the first failed call");
	});
});
