import { suite } from "../lib/harness.js";
import { deepEqual, equal, ok, throws } from "../lib/assert.js";
import { cbrskiHex, certDer, certKey, privateKey } from "../lib/cbrski-vectors.js";
import { SeededRandom } from "../../hosts/xs/seeded-random.js";
import { createNobleCrypto } from "../../modules/crypto/noble-provider.js";
import { decodeCoseSign1, encodeCoseSign1, signCoseSign1, verifyCoseSign1 } from "../../modules/cose/sign1.js";
import { decodeCbor, encodeCbor, Tag } from "../../modules/cbor/cbor.js";
import {
	Assertion,
	VoucherError,
	checkPledgeVoucherRequest,
	checkRegistrarVoucherRequest,
	decodeVoucher,
	decodeVoucherRequest,
	encodeVoucher,
	encodeVoucherRequest,
	hasPinnedDomain,
	type Voucher,
	type VoucherRequest,
} from "../../modules/voucher/voucher.js";
import { decodeStatusTelemetry, encodeStatusTelemetry } from "../../modules/voucher/telemetry.js";
import { parseCertificate } from "../../modules/x509/certificate.js";
import { idevidIssuerOf } from "../../modules/voucher/idevid-issuer.js";
import { namesRegistrar } from "../../modules/voucher/proximity.js";
import { verifyVoucherSignature } from "../../modules/voucher/voucher-signature.js";
import { fromHex, toHex } from "../../modules/util/hex.js";

const rng = new SeededRandom(0x40c4);
const crypto = createNobleCrypto((b) => rng.fill(b));

export default suite("voucher (SID-keyed vouchers, voucher requests, telemetry)", (test) => {
	test("PVR payload vector: fields as the draft lists them, re-encoded byte for byte, a valid PVR", () => {
		const bytes = cbrskiHex("cbrski-pvr-payload.cbor.hex");
		const pvr = decodeVoucherRequest(bytes);
		equal(pvr.assertion, Assertion.proximity);
		equal(toHex(pvr.nonce!), "23bfbbc9c2bcf213");
		equal(pvr.serialNumber, "JADA123456789");
		equal(toHex(pvr.proximityRegistrarPubk!), toHex(parseCertificate(certDer("cert-registrar.pem")).publicKey.spki), "the Registrar's SPKI");
		deepEqual(Object.keys(pvr).sort(), ["assertion", "nonce", "proximityRegistrarPubk", "serialNumber"]);
		checkPledgeVoucherRequest(pvr);
		throws(() => checkRegistrarVoucherRequest(pvr), VoucherError);
		equal(toHex(encodeVoucherRequest(pvr)), toHex(bytes));
	});

	test("RVR payload vector: created-on, idevid-issuer (04 18 || AKI), the PVR inside, re-encoded byte for byte", () => {
		const bytes = cbrskiHex("cbrski-rvr-payload.cbor.hex");
		const rvr = decodeVoucherRequest(bytes);
		equal(rvr.createdOn, "2022-12-06T20:04:15.754Z");
		equal(toHex(rvr.priorSignedVoucherRequest!), toHex(cbrskiHex("cbrski-pvr.cose.hex")));
		const aki = parseCertificate(certDer("cert-pledge.pem")).authorityKeyIdentifier!;
		equal(toHex(rvr.idevidIssuer!), "04183016" + "8014" + toHex(aki));
		checkRegistrarVoucherRequest(rvr);
		throws(() => checkPledgeVoucherRequest(rvr), VoucherError);
		equal(toHex(encodeVoucherRequest(rvr)), toHex(bytes));
	});

	test("voucher payload vector: pinned domain CA, nonce, revocation checks false, re-encoded byte for byte", () => {
		const bytes = cbrskiHex("cbrski-voucher-payload.cbor.hex");
		const v = decodeVoucher(bytes);
		equal(v.assertion, Assertion.proximity);
		equal(v.createdOn, "2022-12-06T20:23:30.708Z");
		equal(v.domainCertRevocationChecks, false);
		equal(toHex(v.nonce!), "57eed786ad404907");
		equal(toHex(v.pinnedDomainCert!), toHex(certDer("cert-domain_ca-2022-12-06-pinned-in-voucher.pem")));
		equal(v.serialNumber, "JADA123456789");
		ok(hasPinnedDomain(v));
		equal(toHex(encodeVoucher(v)), toHex(bytes));
		// The voucher request module is another container: its decoder refuses a voucher.
		throws(() => decodeVoucherRequest(bytes), VoucherError);
		throws(() => decodeVoucher(cbrskiHex("cbrski-pvr-payload.cbor.hex")), VoucherError);
	});

	test("names, tag-47 absolute SIDs and deltas may be mixed; unknown leaves are ignored; one leaf twice is refused", () => {
		const cert = certDer("cert-domain_ca.pem");
		const mixed = encodeCbor(new Map([["ietf-voucher:voucher", new Map<unknown, unknown>([
			["assertion", 2],
			[new Tag(2458, 47), fromHex("0102030405060708")],
			[8, cert],
			["serial-number", "X1"],
			[99, "unknown delta"],
			["no-such-leaf", 1],
			[new Tag(9999, 47), 0],
		])]]));
		const v = decodeVoucher(mixed);
		deepEqual(v, { assertion: 2, nonce: fromHex("0102030405060708"), pinnedDomainCert: cert, serialNumber: "X1" });
		const twice = encodeCbor(new Map([[2451, new Map<unknown, unknown>([[1, 2], [11, "A"], ["serial-number", "B"]])]]));
		throws(() => decodeVoucher(twice), VoucherError);
	});

	test("leaf types and sizes are checked, both ways", () => {
		const base: Voucher = { assertion: 2, serialNumber: "S", pinnedDomainPubkSha256: new Uint8Array(32) };
		decodeVoucher(encodeVoucher(base));
		const bad: [Record<number, unknown>, string][] = [
			[{ 1: 4, 11: "S" }, "assertion out of range"],
			[{ 1: "proximity", 11: "S" }, "assertion as text"],
			[{ 1: 2, 11: 5 }, "serial not text"],
			[{ 1: 2 }, "no serial"],
			[{ 11: "S" }, "no assertion"],
			[{ 1: 2, 11: "S", 7: new Uint8Array(7) }, "nonce too short"],
			[{ 1: 2, 11: "S", 7: new Uint8Array(33) }, "nonce too long"],
			[{ 1: 2, 11: "S", 10: new Uint8Array(31) }, "sha256 of 31"],
			[{ 1: 2, 11: "S", 2: "yesterday" }, "created-on not RFC 3339"],
			[{ 1: 2, 11: "S", 3: 0 }, "revocation checks not boolean"],
			[{ 1: 2, 11: "S", 8: "cert" }, "pinned cert as text"],
			[{ 1: 2, 11: "S", 15: [1, -1] }, "extensions with a negative SID"],
		];
		for (const [fields, what] of bad) {
			const inner = new Map(Object.entries(fields).map(([k, val]) => [Number(k), val]));
			throws(() => decodeVoucher(encodeCbor(new Map([[2451, inner]]))), VoucherError, what);
		}
		throws(() => encodeVoucher({ ...base, nonce: new Uint8Array(4) }), VoucherError, "encode checks too");
		const notOne: unknown[] = [new Map(), new Map<number, unknown>([[2451, new Map()], [2452, 1]]), new Map([[2451, []]]), [1], new Map([[1, new Map()]])];
		for (const x of notOne) throws(() => decodeVoucher(encodeCbor(x)), VoucherError);
		throws(() => decodeVoucher(fromHex("A11909")), VoucherError, "truncated");
	});

	test("PVR and RVR rules", () => {
		const pvr: VoucherRequest = { assertion: 2, nonce: new Uint8Array(8), serialNumber: "S", proximityRegistrarPubk: fromHex("3000") };
		checkPledgeVoucherRequest(pvr);
		throws(() => checkPledgeVoucherRequest({ ...pvr, nonce: undefined }), VoucherError, "no nonce");
		throws(() => checkPledgeVoucherRequest({ ...pvr, serialNumber: undefined }), VoucherError, "no serial");
		throws(() => checkPledgeVoucherRequest({ ...pvr, assertion: 0 }), VoucherError, "not proximity");
		throws(() => checkPledgeVoucherRequest({ ...pvr, proximityRegistrarPubk: undefined }), VoucherError, "no proximity key");
		throws(() => checkPledgeVoucherRequest({ ...pvr, proximityRegistrarCert: fromHex("3000") }), VoucherError, "two proximity keys");
		const rvr: VoucherRequest = { assertion: 2, serialNumber: "S", idevidIssuer: fromHex("0400"), priorSignedVoucherRequest: fromHex("00") };
		checkRegistrarVoucherRequest(rvr);
		throws(() => checkRegistrarVoucherRequest({ ...rvr, idevidIssuer: undefined }), VoucherError);
		throws(() => checkRegistrarVoucherRequest({ ...rvr, priorSignedVoucherRequest: undefined }), VoucherError);
		throws(() => checkRegistrarVoucherRequest({ ...rvr, proximityRegistrarPubkSha256: new Uint8Array(32) }), VoucherError);
		ok(!hasPinnedDomain({ assertion: 2, serialNumber: "S" }));
	});

	test("every leaf of both modules round-trips through CBOR, in SID order", () => {
		const all: Voucher = {
			assertion: 3, createdOn: "2026-01-02T03:04:05Z", domainCertRevocationChecks: true, expiresOn: "2026-01-02T03:24:05.5+01:00",
			idevidIssuer: fromHex("0401AA"), lastRenewalDate: "2026-01-01T00:00:00Z", nonce: new Uint8Array(32), pinnedDomainCert: fromHex("30"),
			pinnedDomainPubk: fromHex("3059"), pinnedDomainPubkSha256: new Uint8Array(32).fill(7), serialNumber: "SN", additionalConfigurationUrl: "https://c",
			estDomain: "https://e", manufacturerProprietary: fromHex("A0"), extensions: [2600, "ext-module"],
		};
		const enc = encodeVoucher(all);
		deepEqual(decodeVoucher(enc), all);
		const deltas = [...(topMap(enc).get(2451) as Map<number, unknown>).keys()];
		deepEqual(deltas, [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15]);
		const req: VoucherRequest = {
			assertion: 2, createdOn: "2026-01-02T03:04:05Z", domainCertRevocationChecks: false, expiresOn: "2026-01-02T03:04:05Z", idevidIssuer: fromHex("04"),
			lastRenewalDate: "2026-01-02T03:04:05Z", nonce: new Uint8Array(8), pinnedDomainCert: fromHex("01"), priorSignedVoucherRequest: fromHex("02"),
			proximityRegistrarCert: fromHex("03"), proximityRegistrarPubkSha256: new Uint8Array(32), proximityRegistrarPubk: fromHex("05"), serialNumber: "S",
			agentProvidedProximityRegistrarCert: fromHex("06"), agentSignCert: fromHex("07"), agentSignedData: fromHex("08"), pinnedDomainPubk: fromHex("09"),
			pinnedDomainPubkSha256: new Uint8Array(32), additionalConfigurationUrl: "u", estDomain: "e", extensions: [], manufacturerProprietary: fromHex("0A"),
		};
		const renc = encodeVoucherRequest(req);
		deepEqual(decodeVoucherRequest(renc), req);
		const rdeltas = [...(topMap(renc).get(2501) as Map<number, unknown>).keys()];
		deepEqual(rdeltas, Array.from({ length: 22 }, (_, i) => i + 1));
		// 2512 is the sha256, 2513 the pubk (the draft's normative table, not alphabetical)
		const inner = topMap(encodeVoucherRequest({ proximityRegistrarPubk: fromHex("AA") })).get(2501) as Map<number, unknown>;
		deepEqual([...inner.keys()], [12]);
	});

	test("signed end to end: a voucher signed with the MASA CA key verifies and decodes to what was signed", () => {
		const v: Voucher = { assertion: 2, nonce: new Uint8Array(8).fill(1), serialNumber: "JADA123456789", pinnedDomainCert: certDer("cert-domain_ca.pem") };
		const bytes = encodeCoseSign1(signCoseSign1(crypto, privateKey("key-masa_ca.pem"), encodeVoucher(v), { x5bag: [certDer("cert-masa_ca.pem")] }));
		const m = decodeCoseSign1(bytes);
		ok(verifyCoseSign1(crypto, certKey("cert-masa_ca.pem"), m));
		deepEqual(decodeVoucher(m.payload), v);
	});

	test("telemetry vectors decode and re-encode byte for byte", () => {
		const files = ["telemetry-enrollstatus-success.cbor.hex", "telemetry-enrollstatus-failure.cbor.hex", "telemetry-voucher-status-failure.cbor.hex"];
		for (const f of files) {
			const bytes = cbrskiHex(f);
			equal(toHex(encodeStatusTelemetry(decodeStatusTelemetry(bytes))), toHex(bytes), f);
		}
		deepEqual(decodeStatusTelemetry(cbrskiHex(files[0]!)), { version: 1, status: true });
		const failure = decodeStatusTelemetry(cbrskiHex(files[2]!));
		equal(failure.status, false);
		equal(failure.reason, "Informative human-readable error message");
		deepEqual([...failure.reasonContext!], [[0, "Additional information"]]);
		equal(toHex(encodeStatusTelemetry({ version: 1, status: true })), "a26776657273696f6e0166737461747573f5");
		const bad: unknown[] = [[], new Map([["status", true]]), new Map<string, unknown>([["version", 1], ["status", 1]]), new Map<string, unknown>([["version", -1], ["status", true]]),
			new Map<string, unknown>([["version", 1], ["status", false], ["reason", 5]]), new Map<string, unknown>([["version", 1], ["status", false], ["reason-context", "x"]])];
		for (const x of bad) throws(() => decodeStatusTelemetry(encodeCbor(x)), VoucherError);
		throws(() => decodeStatusTelemetry(fromHex("A267")), VoucherError);
		deepEqual(decodeStatusTelemetry(encodeCbor(new Map<string, unknown>([["version", 2], ["status", true], ["extra", 1]]))), { version: 2, status: true });
	});

	test("seeded fuzz: mutated payloads and telemetry end as a value or VoucherError", () => {
		const r = new SeededRandom(0x5eed);
		const seeds = ["cbrski-pvr-payload.cbor.hex", "cbrski-rvr-payload.cbor.hex", "cbrski-voucher-payload.cbor.hex", "telemetry-voucher-status-failure.cbor.hex"].map(cbrskiHex);
		let accepted = 0;
		for (let i = 0; i < 2000; i++) {
			const s = seeds[r.int(seeds.length)]!;
			let data: Uint8Array = s.slice();
			if (i % 3 === 0) data = data.subarray(0, r.int(data.length));
			else if (i % 3 === 1) for (let f = 1 + r.int(3); f > 0; f--) data[r.int(data.length)]! ^= 1 << r.int(8);
			else data = r.bytes(r.int(40));
			for (const decode of [decodeVoucher, decodeVoucherRequest, decodeStatusTelemetry]) {
				try {
					decode(data);
					accepted++;
				} catch (e) {
					if (!(e instanceof VoucherError)) throw new Error(`case ${i} (${decode.name}): ${String(e)}`);
				}
			}
		}
		ok(accepted > 0);
	});

	// Review F2, R27: who may sign a voucher, for the pledge and the Registrar alike.
	test("verifyVoucherSignature: the anchor's key; a signer chaining to the anchor in any bag order; nothing else", () => {
		const masaCa = parseCertificate(certDer("cert-masa_ca.pem"));
		const masa = parseCertificate(certDer("cert-masa.pem"));
		const idevid = parseCertificate(certDer("cert-pledge.pem"));
		const domainCa = parseCertificate(certDer("cert-domain_ca.pem"));
		const payload = encodeVoucher({ assertion: Assertion.proximity, serialNumber: "JADA123456789", pinnedDomainCert: certDer("cert-domain_ca.pem") });
		const byAnchor = signCoseSign1(crypto, privateKey("key-masa_ca.pem"), payload);
		equal(verifyVoucherSignature(crypto, byAnchor, { anchors: [masaCa], signers: [] }), masaCa);
		equal(verifyVoucherSignature(crypto, decodeCoseSign1(cbrskiHex("cbrski-voucher-to-pledge.cose.hex")), { anchors: [masaCa], signers: [] }), masaCa, "the draft's voucher");
		const byMasa = signCoseSign1(crypto, privateKey("key-masa.pem"), payload);
		equal(verifyVoucherSignature(crypto, byMasa, { anchors: [masaCa], signers: [masa] }), masa);
		equal(verifyVoucherSignature(crypto, byMasa, { anchors: [masaCa], signers: [masaCa, idevid, masa] }), masa, "an x5bag is a set: the signer need not come first");
		equal(verifyVoucherSignature(crypto, byMasa, { anchors: [masaCa], signers: [] }), undefined, "an unknown signer");
		equal(verifyVoucherSignature(crypto, byMasa, { anchors: [domainCa], signers: [masa, masaCa] }), undefined, "a chain to another root");
		// The signer must have signed: a bag naming a trusted signer does not vouch for another key.
		const byIdevid = signCoseSign1(crypto, privateKey("key-pledge.pem"), payload);
		equal(verifyVoucherSignature(crypto, byIdevid, { anchors: [masaCa], signers: [masa] }), undefined);
	});

	test("idevid-issuer: the AKI extnValue, or RFC 5280 method 1 (SHA-1 of the key) without an AKI", () => {
		const idevid = parseCertificate(certDer("cert-pledge.pem"));
		equal(toHex(idevidIssuerOf(idevid, crypto)), toHex(decodeVoucherRequest(cbrskiHex("cbrski-rvr-payload.cbor.hex")).idevidIssuer!));
		// The MASA CA has no AKI; its SKI (method 1) is the draft IDevID's AKI keyIdentifier.
		const masaCa = parseCertificate(certDer("cert-masa_ca.pem"));
		equal(toHex(idevidIssuerOf(masaCa, crypto)), "041830168014cb8d98ca74c51b58dde7acef869a9443a8d666a6");
	});

	test("proximity: a PVR names a Registrar only when every proximity-registrar-* leaf present matches", () => {
		const reg = parseCertificate(certDer("cert-registrar.pem"));
		const other = parseCertificate(certDer("cert-masa.pem"));
		const base: VoucherRequest = { assertion: Assertion.proximity, serialNumber: "S", nonce: new Uint8Array(8) };
		ok(namesRegistrar({ ...base, proximityRegistrarPubk: reg.publicKey.spki }, reg, crypto));
		ok(namesRegistrar({ ...base, proximityRegistrarCert: reg.der }, reg, crypto));
		ok(namesRegistrar({ ...base, proximityRegistrarPubkSha256: crypto.sha256(reg.publicKey.spki) }, reg, crypto));
		ok(!namesRegistrar({ ...base, proximityRegistrarPubk: other.publicKey.spki }, reg, crypto));
		ok(!namesRegistrar(base, reg, crypto));
		ok(!namesRegistrar({ ...base, proximityRegistrarPubk: reg.publicKey.spki, proximityRegistrarCert: other.der }, reg, crypto), "one wrong leaf is enough to refuse");
		ok(!namesRegistrar({ ...base, proximityRegistrarCert: other.der, proximityRegistrarPubkSha256: crypto.sha256(reg.publicKey.spki) }, reg, crypto));
	});
});

/** The top-level map of a container's CBOR. */
function topMap(bytes: Uint8Array): Map<number, unknown> {
	return decodeCbor(bytes) as Map<number, unknown>;
}
