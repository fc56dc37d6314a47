/*
 * The MASA's voucher logic against the drafts' own Registrar voucher request (byte for byte what
 * cBRSKI Appendix C.4 shows) and against requests built here with the drafts' keys, one flaw each.
 */

import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { installFixtures } from "./lib/fixtures.js";
import { readVectors } from "./node-lib/vectors.js";
import { cbrskiHex, certDer, certKey, privateKey } from "./lib/cbrski-vectors.js";
import { createNodeCrypto } from "../hosts/node/crypto.js";
import { SeededRandom } from "../hosts/xs/seeded-random.js";
import { MasaService, type MasaServiceOptions } from "../src/masa/service.js";
import { MemoryAuditLog } from "../src/masa/audit-log.js";
import { decodeCoseSign1, encodeCoseSign1, signCoseSign1, verifyCoseSign1, coseCertificates } from "../modules/cose/sign1.js";
import { decodeVoucher, decodeVoucherRequest, encodeVoucherRequest, Assertion, type VoucherRequest } from "../modules/voucher/voucher.js";
import { idevidIssuerOf } from "../modules/voucher/idevid-issuer.js";
import { parseCertificate } from "../modules/x509/certificate.js";
import { bytesEqual, toHex } from "../modules/util/hex.js";

installFixtures(readVectors());
const crypto = createNodeCrypto();
const SERIAL = "JADA123456789";
const REGISTRAR_2022 = "cert-registrar-2022-12-06-from-rvr-x5bag.pem";
const DOMAIN_CA_2022 = "cert-domain_ca-2022-12-06-pinned-in-voucher.pem";
const WHEN = Date.UTC(2022, 11, 10); // inside the example Registrar certificate's validity

function masa(overrides: Partial<MasaServiceOptions> = {}): { service: MasaService; audit: MemoryAuditLog } {
	const audit = new MemoryAuditLog();
	const service = new MasaService({
		crypto,
		signer: { privateKey: privateKey("key-masa_ca.pem"), chain: [certDer("cert-masa_ca.pem")] },
		manufacturerAnchors: [certDer("cert-masa_ca.pem")],
		owns: (s) => s === SERIAL,
		inventory: (s) => (s === SERIAL ? certDer("cert-pledge.pem") : undefined),
		audit,
		wallTime: () => WHEN,
		...overrides,
	});
	return { service, audit };
}

const text = (b: Uint8Array): string => new TextDecoder().decode(b);

/** A PVR and RVR as a cBRSKI -30 Registrar builds them, with one thing changed by `tweak`. */
function request(tweak: { pvr?: Partial<VoucherRequest>; rvr?: Partial<VoucherRequest>; pvrKey?: string; rvrKey?: string; bag?: string[] } = {}): Uint8Array {
	const nonce = new Uint8Array([1, 2, 3, 4, 5, 6, 7, 8]);
	const registrar = parseCertificate(certDer(REGISTRAR_2022));
	const pvr: VoucherRequest = { assertion: Assertion.proximity, nonce, proximityRegistrarPubk: registrar.publicKey.spki, serialNumber: SERIAL, ...tweak.pvr };
	const pvrBytes = encodeCoseSign1(signCoseSign1(crypto, privateKey(tweak.pvrKey ?? "key-pledge.pem"), encodeVoucherRequest(pvr)));
	const rvr: VoucherRequest = {
		assertion: Assertion.proximity,
		createdOn: "2022-12-10T00:00:00.000Z",
		idevidIssuer: idevidIssuerOf(parseCertificate(certDer("cert-pledge.pem")), crypto),
		nonce,
		priorSignedVoucherRequest: pvrBytes,
		serialNumber: SERIAL,
		...tweak.rvr,
	};
	const bag = (tweak.bag ?? [REGISTRAR_2022, DOMAIN_CA_2022, "cert-pledge.pem"]).map(certDer);
	return encodeCoseSign1(signCoseSign1(crypto, privateKey(tweak.rvrKey ?? "key-registrar.pem"), encodeVoucherRequest(rvr), { x5bag: bag }));
}

describe("MASA voucher service", () => {
	it("the drafts' RVR (App. C.4) gets a voucher: proximity, the PVR's nonce, the domain CA pinned, signed by the MASA", async () => {
		const { service, audit } = masa({ checkRegistrarValidity: false });
		const res = await service.requestVoucher(cbrskiHex("cbrski-rvr.cose.hex"));
		assert.equal(res.status, 200, text(res.body));
		assert.equal(res.contentType, "application/voucher+cose");
		const cose = decodeCoseSign1(res.body);
		assert.ok(verifyCoseSign1(crypto, certKey("cert-masa_ca.pem"), cose));
		assert.deepEqual(coseCertificates(cose), [certDer("cert-masa_ca.pem")]);
		const v = decodeVoucher(cose.payload);
		assert.equal(v.assertion, Assertion.proximity);
		assert.equal(v.serialNumber, SERIAL);
		assert.equal(toHex(v.nonce!), "23bfbbc9c2bcf213");
		assert.deepEqual(v.pinnedDomainCert, certDer(DOMAIN_CA_2022)); // what the draft's own voucher pins
		assert.equal(v.createdOn, new Date(WHEN).toISOString());
		assert.deepEqual(audit.forDevice(SERIAL).map((e) => [e.outcome, e.status, e.nonce]), [["issued", 200, "23bfbbc9c2bcf213"]]);
	});

	it("the drafts' RVR is refused today: the example Registrar certificate has expired", async () => {
		const { service } = masa({ wallTime: () => Date.UTC(2026, 10, 30) });
		const res = await service.requestVoucher(cbrskiHex("cbrski-rvr.cose.hex"));
		assert.equal(res.status, 403);
		assert.match(text(res.body), /not valid now/);
	});

	it("a -30 RVR carrying the pledge's IDevID in its x5bag needs no inventory", async () => {
		const { service } = masa({ inventory: () => undefined });
		const res = await service.requestVoucher(request());
		assert.equal(res.status, 200, text(res.body));
	});

	const refusals: [string, Parameters<typeof request>[0], number, RegExp, Partial<MasaServiceOptions>?][] = [
		["unknown device", {}, 404, /unknown device/, { owns: () => false }],
		["PVR signed by another key", { pvrKey: "key-registrar.pem" }, 403, /not signed by the device's IDevID/],
		["nonce differs between PVR and RVR", { rvr: { nonce: new Uint8Array(8).fill(9) } }, 403, /nonce/],
		["serial-number differs", { pvr: { serialNumber: "OTHER" } }, 403, /serial-number differs/],
		["the pledge saw another Registrar", { pvr: { proximityRegistrarPubk: parseCertificate(certDer("cert-pledge.pem")).publicKey.spki } }, 403, /proximity/],
		["idevid-issuer of another CA", { rvr: { idevidIssuer: new Uint8Array([4, 2, 0, 0]) } }, 403, /idevid-issuer/],
		["RVR signed by a key without cmcRA", { rvrKey: "key-pledge.pem", bag: ["cert-pledge.pem"] }, 403, /cmcRA/],
		["RVR signature matching nothing in its bag", { bag: [DOMAIN_CA_2022, "cert-pledge.pem"] }, 403, /does not verify/],
		["IDevID not from the manufacturer", {}, 403, /does not chain to the manufacturer/, { manufacturerAnchors: [certDer("cert-domain_ca.pem")] }],
		["no prior-signed-voucher-request", { rvr: { priorSignedVoucherRequest: undefined } }, 400, /prior-signed-voucher-request/],
	];
	for (const [what, tweak, status, reason, options] of refusals) {
		it(`refuses: ${what} (${status}), and the audit log says why`, async () => {
			const { service, audit } = masa(options);
			const res = await service.requestVoucher(request(tweak));
			assert.equal(res.status, status, text(res.body));
			assert.match(text(res.body), reason);
			assert.equal(res.contentType, "text/plain; charset=utf-8");
			const log = audit.recent(10);
			assert.equal(log.length, 1);
			assert.equal(log[0]!.outcome, "refused");
			assert.match(log[0]!.reason!, reason);
		});
	}

	// Review F8: an audit log that cannot write must not crash the MASA nor let a voucher out unlogged.
	it("an audit log that fails: 500, and no voucher leaves", async () => {
		const audit = new MemoryAuditLog();
		audit.record = () => {
			throw new Error("SQLITE_FULL: database or disk is full");
		};
		const { service } = masa({ audit, inventory: () => undefined });
		for (const body of [request(), new Uint8Array([0xa0])]) {
			const res = await service.requestVoucher(body);
			assert.equal(res.status, 500);
			assert.equal(text(res.body), "internal error");
		}
	});

	it("garbage and truncations end in 400, never a throw", async () => {
		const { service } = masa();
		for (const body of [new Uint8Array(0), new Uint8Array([0xff]), new Uint8Array([0xd2, 0x84, 0x40]), request().subarray(0, 100)]) {
			assert.equal((await service.requestVoucher(body)).status, 400);
		}
	});

	it("seeded mutations of a good RVR are refused, or (outside what is signed) pin the genuine domain CA", async () => {
		const { service } = masa({ inventory: () => undefined });
		const good = request();
		const domainCa = parseCertificate(certDer(DOMAIN_CA_2022));
		const registrar = parseCertificate(certDer(REGISTRAR_2022));
		const rnd = new SeededRandom(8366);
		let issued = 0;
		for (let i = 0; i < 400; i++) {
			const m = good.slice();
			const flips = 1 + (rnd.next() % 3);
			for (let k = 0; k < flips; k++) m[rnd.next() % m.length]! ^= 1 << rnd.next() % 8;
			const res = await service.requestVoucher(m);
			assert.ok([200, 400, 403, 404].includes(res.status), `status ${res.status}`);
			if (res.status === 200) {
				issued++;
				// Unsigned bytes of the bag can change: the pin is then the genuine domain CA, or, when the
				// Registrar certificate's issuer name was hit, that certificate itself (its key is genuine).
				const pinned = parseCertificate(decodeVoucher(decodeCoseSign1(res.body).payload).pinnedDomainCert!);
				const genuine = [domainCa, registrar].some((c) => bytesEqual(c.publicKey.spki, pinned.publicKey.spki));
				assert.ok(genuine, "a voucher pinned a key that is neither the domain CA's nor the Registrar's");
			}
		}
		assert.ok(issued < 40, `${issued} of 400 mutated requests got a voucher`);
	});
});
