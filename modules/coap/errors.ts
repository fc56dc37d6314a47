/* Typed CoAP errors: callers tell them apart with instanceof, never by message text. */

/** A datagram that is not a well-formed CoAP message (RFC 7252 §3, "message format error"). */
export class CoapParseError extends Error {
	constructor(message: string) {
		super(message);
		this.name = "CoapParseError";
	}
}

/** A confirmable request was never acknowledged, or no response came in time. */
export class CoapTimeoutError extends Error {
	constructor(message: string) {
		super(message);
		this.name = "CoapTimeoutError";
	}
}

/** The peer answered with Reset (RFC 7252 §4.2). */
export class CoapResetError extends Error {
	constructor(message: string) {
		super(message);
		this.name = "CoapResetError";
	}
}

/** The endpoint was closed while the exchange was under way. */
export class CoapClosedError extends Error {
	constructor() {
		super("CoAP endpoint closed");
		this.name = "CoapClosedError";
	}
}
