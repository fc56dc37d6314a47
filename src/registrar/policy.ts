/*
 * Who may talk to the Registrar and who gets a voucher (RFC 8995 §5.3, cBRSKI §6.1; digest R10, R19,
 * R25): DTLS client certificates are IDevIDs chaining to an accepted manufacturer's anchor (expired
 * ones too: an IDevID has no meaningful expiry, digest §7.1) or LDevIDs chaining to the domain CA
 * (validity checked). Per manufacturer: the serials accepted ("*" for all), the MASA TLS anchors and
 * an optional MASA URL override.
 */

import type { CryptoProvider } from "../../modules/crypto/provider.js";
import type { PeerVerifier } from "../../modules/dtls/connection.js";
import { parsePeerChain } from "../../modules/dtls/peer-verifier.js";
import { nameValue, parseCertificate, type Certificate } from "../../modules/x509/certificate.js";
import { verifyChain } from "../../modules/x509/chain.js";

export interface Manufacturer {
	name: string;
	/** DER: IDevID chains must end at one of these. */
	anchors: readonly Uint8Array[];
	/** DER: the roots for the MASA's voucher signer (R27); separate from the IDevID anchors. */
	voucherAnchors: readonly Uint8Array[];
	/** DER: the MASA's HTTPS certificate must chain to one of these. */
	masaTlsAnchors: readonly Uint8Array[];
	/** Overrides the IDevID's MASA URL extension when set. */
	masaUrl: string | null;
	serials: readonly string[] | "*";
}

/** A DTLS peer as the Registrar knows it. */
export type PeerIdentity =
	| { kind: "idevid"; chain: readonly Uint8Array[]; leaf: Certificate; serialNumber: string | undefined; manufacturer: Manufacturer }
	| { kind: "ldevid"; chain: readonly Uint8Array[]; leaf: Certificate; serialNumber: string | undefined };

interface ParsedManufacturer {
	m: Manufacturer;
	anchors: Certificate[];
	voucherAnchors: Certificate[];
}

export class RegistrarPolicy {
	readonly #manufacturers: ParsedManufacturer[];
	readonly #domainAnchors: Certificate[];
	readonly #crypto: Pick<CryptoProvider, "ecdsaVerify">;
	readonly #wallTime: () => number;
	/** Identities by chain: CoapsServer hands the same array for every request of an association. */
	readonly #known = new WeakMap<readonly Uint8Array[], PeerIdentity | string>();

	constructor(options: { manufacturers: readonly Manufacturer[]; domainCa: readonly Uint8Array[]; crypto: Pick<CryptoProvider, "ecdsaVerify">; wallTime: () => number }) {
		this.#manufacturers = options.manufacturers.map((m) => ({ m, anchors: m.anchors.map((a) => parseCertificate(a)), voucherAnchors: m.voucherAnchors.map((a) => parseCertificate(a)) }));
		this.#domainAnchors = options.domainCa.map((a) => parseCertificate(a));
		this.#crypto = options.crypto;
		this.#wallTime = options.wallTime;
	}

	/** The DTLS server's client-certificate check (digest R10). */
	readonly verifyPeer: PeerVerifier = (chain) => {
		const r = this.identify(chain);
		return typeof r === "string" ? r : undefined;
	};

	/** The peer behind a verified chain, or why it is not acceptable. */
	identify(chain: readonly Uint8Array[]): PeerIdentity | string {
		const known = this.#known.get(chain);
		if (known !== undefined) return known;
		const r = this.#identify(chain);
		this.#known.set(chain, r);
		return r;
	}

	#identify(chain: readonly Uint8Array[]): PeerIdentity | string {
		const certs = parsePeerChain(chain);
		if (typeof certs === "string") return certs;
		const leaf = certs[0];
		if (leaf === undefined) return "no certificate";
		const serialNumber = nameValue(leaf.subject, "serialNumber");
		const ld = verifyChain(certs, this.#domainAnchors, { crypto: this.#crypto, now: this.#wallTime() });
		if (ld.ok) return { kind: "ldevid", chain, leaf, serialNumber };
		const reasons = [`domain CA: ${ld.reason}`];
		for (const p of this.#manufacturers) {
			// No `now`: IDevIDs are accepted when expired (digest R10, §7.1).
			const r = verifyChain(certs, p.anchors, { crypto: this.#crypto });
			if (r.ok) return { kind: "idevid", chain, leaf, serialNumber, manufacturer: p.m };
			reasons.push(`${p.m.name}: ${r.reason}`);
		}
		return `certificate chains to no accepted manufacturer or the domain CA (${reasons.join("; ")})`;
	}

	/** The manufacturer's configured voucher roots (R27), parsed. */
	voucherAnchorsOf(m: Manufacturer): readonly Certificate[] {
		return this.#manufacturers.find((p) => p.m === m)?.voucherAnchors ?? [];
	}

	/** Whether the manufacturer's policy accepts this serial number (digest R19: else 4.04). */
	accepts(m: Manufacturer, serialNumber: string): boolean {
		return m.serials === "*" || m.serials.includes(serialNumber);
	}
}
