/*
 * Typed CoAP errors: callers tell them apart with instanceof, never by message text. `name` is a
 * class field, not assigned in the constructor: on a preloaded device Error.prototype is frozen and
 * assigning an inherited read-only property throws (the "override mistake").
 */

/** A datagram that is not a well-formed CoAP message (RFC 7252 §3, "message format error"). */
export class CoapParseError extends Error {
	override readonly name = "CoapParseError";
}

/** A confirmable request was never acknowledged, or no response came in time. */
export class CoapTimeoutError extends Error {
	override readonly name = "CoapTimeoutError";
}

/** The peer answered with Reset (RFC 7252 §4.2). */
export class CoapResetError extends Error {
	override readonly name = "CoapResetError";
}

/** The endpoint was closed while the exchange was under way. */
export class CoapClosedError extends Error {
	override readonly name = "CoapClosedError";

	constructor() {
		super("CoAP endpoint closed");
	}
}
