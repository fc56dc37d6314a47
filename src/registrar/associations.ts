/*
 * What the Registrar remembers about one DTLS association: which device's voucher it relayed on it
 * (enrollment follows a voucher on the same association, review F3) and whether it refused the
 * association for good (a PVR naming another Registrar, R18). Kept by the association's certificate
 * chain: CoapsServer hands every request of an association the same array and a new handshake a new
 * one, so the state goes with the association and is never reused by a later one.
 */

import type { CoapsRequest } from "../../modules/dtls/coaps.js";

export interface AssociationState {
	/** deviceKey() of the device whose voucher was relayed here and not rejected by /vs since. */
	voucherFor: string | undefined;
	/** Why every further request on this association is refused. */
	refused: string | undefined;
}

/** A device is its manufacturer and serial: serials are unique only within a manufacturer (review F5). */
export function deviceKey(manufacturer: string, serialNumber: string): string {
	return `${manufacturer}\u0000${serialNumber}`;
}

export class Associations {
	readonly #states = new WeakMap<readonly Uint8Array[], AssociationState>();

	of(req: Pick<CoapsRequest, "peerCertificates">): AssociationState {
		let s = this.#states.get(req.peerCertificates);
		if (s === undefined) this.#states.set(req.peerCertificates, (s = { voucherFor: undefined, refused: undefined }));
		return s;
	}
}
