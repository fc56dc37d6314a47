/* Why an onboarding attempt failed: one error type, with a code a caller can branch on. */

/** What went wrong, by onboarding step (the pledge's result and log lines carry it). */
export type PledgeErrorCode =
	| "no-proxy" // discovery found no join proxy, and none is configured
	| "dtls" // the DTLS handshake failed or timed out (no progress through this proxy)
	| "coap" // a CoAP exchange timed out, was reset, or the session closed under it
	| "refused" // the Registrar answered a 4.xx/5.xx (other than 5.03 with a retry hint)
	| "voucher" // the voucher failed validation (cbrski-digest §6)
	| "ca-certs" // /crts gave nothing that chains to the pinned domain
	| "enroll" // the LDevID does not chain to the domain trust anchors or is not for our key
	| "storage"; // a credential does not fit the host storage

export class PledgeError extends Error {
	override readonly name = "PledgeError";
	readonly code: PledgeErrorCode;

	constructor(code: PledgeErrorCode, message: string) {
		super(message);
		this.code = code;
	}
}
