/*
 * DTLS 1.2 handshake messages: the 12-byte DTLS handshake header (RFC 6347 §4.2.2) and the bodies
 * our one cipher suite needs, TLS_ECDHE_ECDSA_WITH_AES_128_CCM_8 with P-256 and certificates both
 * ways (RFC 7925 profile): RFC 5246 §7.4 with the ECC parts of RFC 8422 and the cookie of RFC 6347.
 *
 * Decoding policy:
 * - Every vector length is checked against its RFC bounds and against the bytes that are there,
 *   and every body must be consumed exactly: anything else is HandshakeError(decode_error), the
 *   alert RFC 5246 §7.2.2 names for "a message could not be decoded". Decoders throw nothing else
 *   and run in time linear in the input (every loop consumes bytes).
 * - Values that are well-formed but unacceptable carry the alert RFC text asks for (e.g. an
 *   unknown max_fragment_length value is illegal_parameter, RFC 6066 §4). Negotiation policy (which
 *   versions, suites, groups or extensions are acceptable in a given state) is the state machine's.
 * - Hello extensions are kept raw and in wire order, so unknown ones pass through (RFC 5246
 *   §7.4.1.4: they are ignored, not rejected) and a decoded message re-encodes byte for byte. The
 *   known ones are still parsed while decoding, so a malformed known extension is a decode_error
 *   at the message and not later; parseExtensions() gives their typed values.
 * - Decoded byte strings are copies: the input is often a reused receive buffer.
 *
 * Encoders take the same shapes. An out-of-range value there is a bug in our own code, not peer
 * input, so it is a RangeError rather than a HandshakeError.
 */

/** HandshakeType (RFC 5246 §7.4; hello_verify_request from RFC 6347 §4.3.2). */
export const HandshakeType = Object.freeze({
	helloRequest: 0,
	clientHello: 1,
	serverHello: 2,
	helloVerifyRequest: 3,
	newSessionTicket: 4,
	certificate: 11,
	serverKeyExchange: 12,
	certificateRequest: 13,
	serverHelloDone: 14,
	certificateVerify: 15,
	clientKeyExchange: 16,
	finished: 20,
} as const);

/** The AlertDescription values handshake decoding asks for (RFC 5246 §7.2.2). */
export const AlertDescription = Object.freeze({
	unexpectedMessage: 10,
	handshakeFailure: 40,
	illegalParameter: 47,
	decodeError: 50,
	internalError: 80,
} as const);

/** ProtocolVersion values (RFC 6347 §4.1: the one's complement of the TLS version, 1.2 is {254,253}). */
export const DTLS_1_2 = 0xfefd;
/** Servers and first ClientHellos may use DTLS 1.0 in record and HelloVerifyRequest (RFC 6347 §4.2.1). */
export const DTLS_1_0 = 0xfeff;

/** CipherSuite values we name (RFC 7251 §2 for CCM_8; RFC 5746 §3.3 for the SCSV). */
export const CipherSuite = Object.freeze({
	ecdheEcdsaWithAes128Ccm8: 0xc0ae,
	emptyRenegotiationInfoScsv: 0x00ff,
} as const);

/** ExtensionType values (RFC 6066 §4, RFC 8422 §5.1, RFC 5246 §7.4.1.4.1, RFC 7627 §5.1, RFC 5746 §3.2). */
export const ExtensionType = Object.freeze({
	maxFragmentLength: 1,
	supportedGroups: 10,
	ecPointFormats: 11,
	signatureAlgorithms: 13,
	extendedMasterSecret: 23,
	renegotiationInfo: 0xff01,
} as const);

/** NamedCurve secp256r1 (RFC 8422 §5.1.1). */
export const NAMED_CURVE_SECP256R1 = 23;
/** ECPointFormat uncompressed (RFC 8422 §5.1.2). */
export const EC_POINT_FORMAT_UNCOMPRESSED = 0;
/** ECCurveType named_curve; explicit_prime(1) and explicit_char2(2) are deprecated (RFC 8422 §5.4). */
export const EC_CURVE_TYPE_NAMED_CURVE = 3;
/** ClientCertificateType ecdsa_sign (RFC 8422 §5.5). */
export const CLIENT_CERTIFICATE_TYPE_ECDSA_SIGN = 64;
/** HashAlgorithm sha256 and SignatureAlgorithm ecdsa (RFC 5246 §7.4.1.4.1, RFC 8422 §5.1.3). */
export const HASH_SHA256 = 4;
export const SIGNATURE_ECDSA = 3;
/**
 * SignatureAndHashAlgorithm as one 16-bit number, hash in the high byte (the wire order, RFC 5246
 * §7.4.1.4.1): {sha256, ecdsa} = 0x0403, which TLS 1.3 calls ecdsa_secp256r1_sha256.
 */
export const ECDSA_SHA256 = (HASH_SHA256 << 8) | SIGNATURE_ECDSA;
/** CompressionMethod null (RFC 5246 §7.4.1.2), the only one. */
export const COMPRESSION_NULL = 0;

/** DTLS handshake header: msg_type(1) length(3) message_seq(2) fragment_offset(3) fragment_length(3). */
export const HANDSHAKE_HEADER_BYTES = 12;
/** Random is 32 bytes (RFC 5246 §7.4.1.2). */
export const RANDOM_BYTES = 32;
/** SessionID<0..32> (RFC 5246 §7.4.1.2). */
export const MAX_SESSION_ID_BYTES = 32;
/** DTLS 1.2 cookies are opaque<0..2^8-1> (RFC 6347 §4.2.1; DTLS 1.0 allowed only 32). */
export const MAX_COOKIE_BYTES = 255;
/** verify_data_length is 12 for every RFC 5246 cipher suite (§7.4.9), CCM_8 included (RFC 7251). */
export const VERIFY_DATA_BYTES = 12;

const MAX_U16 = 0xffff;
const MAX_U24 = 0xffffff;

/** A handshake message that cannot be decoded or is unacceptable; `alert` is what to send (RFC 5246 §7.2.2). */
export class HandshakeError extends Error {
	// A field, not `this.name =`: Error.prototype is frozen on a preloaded device (override mistake).
	override readonly name: string = "HandshakeError";
	readonly alert: number;

	constructor(message: string, alert: number = AlertDescription.decodeError) {
		super(message);
		this.alert = alert;
	}
}

/* ------------------------------------------------------------------------------------------- */
/* Byte reader and writer: length-prefixed vectors in the RFC 5246 §4.3 presentation language.   */
/* TypeScript `private`, not `#` fields: these classes never leave the module, and XS reads      */
/* ordinary properties about three times faster (measured on the XS lane).                       */

class Reader {
	private readonly b: Uint8Array;
	private pos: number;
	private readonly end: number;

	constructor(bytes: Uint8Array, start = 0, end = bytes.length) {
		this.b = bytes;
		this.pos = start;
		this.end = end;
	}

	get left(): number {
		return this.end - this.pos;
	}

	private need(n: number, what: string): number {
		if (n > this.end - this.pos) throw new HandshakeError(`truncated ${what}`);
		const at = this.pos;
		this.pos += n;
		return at;
	}

	u8(what: string): number {
		return this.b[this.need(1, what)]!;
	}

	u16(what: string): number {
		const at = this.need(2, what);
		return (this.b[at]! << 8) | this.b[at + 1]!;
	}

	u24(what: string): number {
		const at = this.need(3, what);
		return (this.b[at]! << 16) | (this.b[at + 1]! << 8) | this.b[at + 2]!;
	}

	/** Exactly n bytes, copied. */
	bytes(n: number, what: string): Uint8Array {
		const at = this.need(n, what);
		return this.b.slice(at, at + n);
	}

	/** A vector `<min..max>` with a lengthBytes-byte length prefix; returns a reader over its contents. */
	vector(lengthBytes: 1 | 2 | 3, min: number, max: number, what: string): Reader {
		const n = lengthBytes === 1 ? this.u8(what) : lengthBytes === 2 ? this.u16(what) : this.u24(what);
		if (n < min || n > max) throw new HandshakeError(`${what}: length ${n} outside ${min}..${max}`);
		const at = this.need(n, what);
		return new Reader(this.b, at, at + n);
	}

	/** An opaque vector `<min..max>`, copied. */
	opaque(lengthBytes: 1 | 2 | 3, min: number, max: number, what: string): Uint8Array {
		return this.vector(lengthBytes, min, max, what).rest();
	}

	/** A vector of 16-bit values `<min..max>` (bounds in bytes, as the RFCs write them). */
	u16List(lengthBytes: 1 | 2, min: number, max: number, what: string): number[] {
		const v = this.vector(lengthBytes, min, max, what);
		if (v.left % 2 !== 0) throw new HandshakeError(`${what}: odd length ${v.left}`);
		const out: number[] = [];
		while (v.left > 0) out.push(v.u16(what));
		return out;
	}

	/** A vector of 8-bit values `<min..max>`. */
	u8List(min: number, max: number, what: string): number[] {
		const v = this.vector(1, min, max, what);
		const out: number[] = [];
		while (v.left > 0) out.push(v.u8(what));
		return out;
	}

	/** Everything left, copied. */
	rest(): Uint8Array {
		return this.bytes(this.left, "");
	}

	/** RFC 5246 §7.4: a message (or vector) must hold exactly its fields. */
	done(what: string): void {
		if (this.pos !== this.end) throw new HandshakeError(`${this.end - this.pos} trailing bytes in ${what}`);
	}
}

class Writer {
	private buf: Uint8Array;
	private len = 0;

	constructor(capacity = 128) {
		this.buf = new Uint8Array(capacity);
	}

	private room(n: number): number {
		if (this.len + n > this.buf.length) {
			const next = new Uint8Array(Math.max(this.buf.length * 2, this.len + n));
			next.set(this.buf.subarray(0, this.len));
			this.buf = next;
		}
		const at = this.len;
		this.len += n;
		return at;
	}

	u8(v: number, what: string): void {
		if (!(Number.isInteger(v) && v >= 0 && v <= 0xff)) throw new RangeError(`${what} out of range`);
		this.buf[this.room(1)] = v;
	}

	u16(v: number, what: string): void {
		if (!(Number.isInteger(v) && v >= 0 && v <= MAX_U16)) throw new RangeError(`${what} out of range`);
		const at = this.room(2);
		this.buf[at] = v >> 8;
		this.buf[at + 1] = v & 0xff;
	}

	bytes(b: Uint8Array): void {
		// room() first: it may replace buf.
		const at = this.room(b.length);
		this.buf.set(b, at);
	}

	/** Bytes of exactly n (fixed-size fields such as Random). */
	fixed(b: Uint8Array, n: number, what: string): void {
		if (b.length !== n) throw new RangeError(`${what} must be ${n} bytes`);
		this.bytes(b);
	}

	/** A vector `<min..max>` whose contents `fill` writes; the length prefix is patched afterwards. */
	vector(lengthBytes: 1 | 2 | 3, min: number, max: number, what: string, fill: () => void): void {
		const at = this.room(lengthBytes);
		fill();
		const n = this.len - at - lengthBytes;
		if (n < min || n > max) throw new RangeError(`${what}: length ${n} outside ${min}..${max}`);
		for (let i = lengthBytes - 1, v = n; i >= 0; i--, v >>>= 8) this.buf[at + i] = v & 0xff;
	}

	opaque(lengthBytes: 1 | 2 | 3, min: number, max: number, what: string, b: Uint8Array): void {
		this.vector(lengthBytes, min, max, what, () => this.bytes(b));
	}

	u16List(lengthBytes: 1 | 2, min: number, max: number, what: string, values: readonly number[]): void {
		this.vector(lengthBytes, min, max, what, () => {
			for (const v of values) this.u16(v, what);
		});
	}

	u8List(min: number, max: number, what: string, values: readonly number[]): void {
		this.vector(1, min, max, what, () => {
			for (const v of values) this.u8(v, what);
		});
	}

	finish(): Uint8Array {
		return this.buf.slice(0, this.len);
	}
}

/* ------------------------------------------------------------------------------------------- */
/* Header and whole messages (RFC 6347 §4.2.2).                                                  */

export interface HandshakeHeader {
	msgType: number;
	/** Length of the whole message body, whatever part of it this fragment carries. */
	length: number;
	messageSeq: number;
	fragmentOffset: number;
	fragmentLength: number;
}

/**
 * Reads the 12-byte header at `offset`. Checks only what the header alone can tell: it is all
 * there, and the fragment lies inside the message (offset + fragment_length <= length).
 */
export function readHandshakeHeader(bytes: Uint8Array, offset = 0): HandshakeHeader {
	const r = new Reader(bytes, offset);
	const h: HandshakeHeader = {
		msgType: r.u8("handshake header"),
		length: r.u24("handshake header"),
		messageSeq: r.u16("handshake header"),
		fragmentOffset: r.u24("handshake header"),
		fragmentLength: r.u24("handshake header"),
	};
	if (h.fragmentOffset + h.fragmentLength > h.length) {
		throw new HandshakeError(`fragment ${h.fragmentOffset}+${h.fragmentLength} runs past the message length ${h.length}`);
	}
	return h;
}

/** Writes the 12-byte header at `offset` of `out`. */
export function writeHandshakeHeader(h: HandshakeHeader, out: Uint8Array, offset = 0): void {
	if (!(h.msgType >= 0 && h.msgType <= 0xff) || !(h.messageSeq >= 0 && h.messageSeq <= MAX_U16)) {
		throw new RangeError("msg_type or message_seq out of range");
	}
	if (!(h.length >= 0 && h.length <= MAX_U24 && h.fragmentOffset >= 0 && h.fragmentLength >= 0)) {
		throw new RangeError("handshake length out of range");
	}
	if (h.fragmentOffset + h.fragmentLength > h.length) throw new RangeError("fragment runs past the message");
	if (offset < 0 || offset + HANDSHAKE_HEADER_BYTES > out.length) throw new RangeError("no room for the handshake header");
	out[offset] = h.msgType;
	put24(out, offset + 1, h.length);
	out[offset + 4] = h.messageSeq >> 8;
	out[offset + 5] = h.messageSeq & 0xff;
	put24(out, offset + 6, h.fragmentOffset);
	put24(out, offset + 9, h.fragmentLength);
}

function put24(out: Uint8Array, at: number, v: number): void {
	out[at] = (v >> 16) & 0xff;
	out[at + 1] = (v >> 8) & 0xff;
	out[at + 2] = v & 0xff;
}

/** A whole (unfragmented) handshake message. */
export interface HandshakeMessage {
	msgType: number;
	messageSeq: number;
	body: Uint8Array;
}

/**
 * The message as one fragment: header with fragment_offset 0 and fragment_length = length, then
 * the body. These are the bytes the handshake hash covers: RFC 6347 §4.2.6 hashes every message
 * "as if each handshake message had been sent as a single fragment", with the DTLS header fields
 * (message_seq, fragment_offset, fragment_length) included. (Checked against OpenSSL: its
 * CertificateVerify signature verifies over these bytes and not over TLS-style 4-byte headers.)
 */
export function encodeHandshakeMessage(msgType: number, messageSeq: number, body: Uint8Array): Uint8Array {
	const out = new Uint8Array(HANDSHAKE_HEADER_BYTES + body.length);
	writeHandshakeHeader({ msgType, length: body.length, messageSeq, fragmentOffset: 0, fragmentLength: body.length }, out, 0);
	out.set(body, HANDSHAKE_HEADER_BYTES);
	return out;
}

/**
 * Reads one whole message as encodeHandshakeMessage() writes it (and the Reassembler delivers it):
 * an unfragmented header and exactly `length` body bytes. `body` aliases `bytes`.
 */
export function decodeHandshakeMessage(bytes: Uint8Array): HandshakeMessage {
	const h = readHandshakeHeader(bytes, 0);
	if (h.fragmentOffset !== 0 || h.fragmentLength !== h.length) throw new HandshakeError("handshake message is a fragment");
	if (bytes.length !== HANDSHAKE_HEADER_BYTES + h.length) {
		throw new HandshakeError(`handshake message of length ${h.length} in ${bytes.length - HANDSHAKE_HEADER_BYTES} bytes`);
	}
	return { msgType: h.msgType, messageSeq: h.messageSeq, body: bytes.subarray(HANDSHAKE_HEADER_BYTES) };
}

/* ------------------------------------------------------------------------------------------- */
/* Hello extensions (RFC 5246 §7.4.1.4).                                                         */

export interface Extension {
	type: number;
	/** extension_data, raw. */
	data: Uint8Array;
}

/** The known extensions' values; any other type is in `unknown`, in wire order. */
export interface HelloExtensions {
	/** NamedCurve list (RFC 8422 §5.1.1). */
	supportedGroups?: number[];
	/** ECPointFormat list (RFC 8422 §5.1.2). */
	ecPointFormats?: number[];
	/** SignatureAndHashAlgorithm list, hash in the high byte (RFC 5246 §7.4.1.4.1). */
	signatureAlgorithms?: number[];
	/** RFC 7627 §5.1: present (with empty extension_data) or not. */
	extendedMasterSecret: boolean;
	/** The MaxFragmentLength code 1..4 (RFC 6066 §4); maxFragmentLengthBytes() gives the size. */
	maxFragmentLength?: number;
	/** renegotiated_connection (RFC 5746 §3.2): empty on an initial handshake. */
	renegotiationInfo?: Uint8Array;
	unknown: Extension[];
}

/** Plaintext size a MaxFragmentLength code stands for: 1 = 2^9 ... 4 = 2^12 (RFC 6066 §4). */
export function maxFragmentLengthBytes(code: number): number {
	if (!(Number.isInteger(code) && code >= 1 && code <= 4)) throw new RangeError("MaxFragmentLength code is 1..4");
	return 1 << (8 + code);
}

/**
 * Typed values of the known extensions in `list`. Throws HandshakeError for a malformed known
 * extension (decode_error), a value outside its enumeration (illegal_parameter), or the same type
 * twice, which RFC 5246 §7.4.1.4 forbids ("MUST NOT be more than one extension of the same type").
 */
export function parseExtensions(list: readonly Extension[]): HelloExtensions {
	const out: HelloExtensions = { extendedMasterSecret: false, unknown: [] };
	const seen = new Set<number>();
	for (const e of list) {
		if (seen.has(e.type)) throw new HandshakeError(`extension ${e.type} appears twice`, AlertDescription.illegalParameter);
		seen.add(e.type);
		const r = new Reader(e.data);
		switch (e.type) {
			case ExtensionType.supportedGroups:
				// NamedCurve named_curve_list<2..2^16-1> (RFC 8422 §5.1.1)
				out.supportedGroups = r.u16List(2, 2, MAX_U16 - 1, "supported_groups");
				break;
			case ExtensionType.ecPointFormats:
				// ECPointFormat ec_point_format_list<1..2^8-1> (RFC 8422 §5.1.2)
				out.ecPointFormats = r.u8List(1, 0xff, "ec_point_formats");
				break;
			case ExtensionType.signatureAlgorithms:
				// supported_signature_algorithms<2..2^16-2> (RFC 5246 §7.4.1.4.1)
				out.signatureAlgorithms = r.u16List(2, 2, MAX_U16 - 1, "signature_algorithms");
				break;
			case ExtensionType.extendedMasterSecret:
				// "The extension_data field of this extension SHALL be empty" (RFC 7627 §5.1)
				out.extendedMasterSecret = true;
				break;
			case ExtensionType.maxFragmentLength: {
				const code = r.u8("max_fragment_length");
				// RFC 6066 §4: any other value MUST be answered with illegal_parameter.
				if (code < 1 || code > 4) throw new HandshakeError(`max_fragment_length value ${code}`, AlertDescription.illegalParameter);
				out.maxFragmentLength = code;
				break;
			}
			case ExtensionType.renegotiationInfo:
				// opaque renegotiated_connection<0..255> (RFC 5746 §3.2)
				out.renegotiationInfo = r.opaque(1, 0, 0xff, "renegotiation_info");
				break;
			default:
				out.unknown.push(e);
				continue;
		}
		r.done(`extension ${e.type}`);
	}
	return out;
}

export function supportedGroupsExtension(groups: readonly number[]): Extension {
	const w = new Writer();
	w.u16List(2, 2, MAX_U16 - 1, "supported_groups", groups);
	return { type: ExtensionType.supportedGroups, data: w.finish() };
}

export function ecPointFormatsExtension(formats: readonly number[] = [EC_POINT_FORMAT_UNCOMPRESSED]): Extension {
	const w = new Writer();
	w.u8List(1, 0xff, "ec_point_formats", formats);
	return { type: ExtensionType.ecPointFormats, data: w.finish() };
}

export function signatureAlgorithmsExtension(algorithms: readonly number[]): Extension {
	const w = new Writer();
	w.u16List(2, 2, MAX_U16 - 1, "signature_algorithms", algorithms);
	return { type: ExtensionType.signatureAlgorithms, data: w.finish() };
}

export function extendedMasterSecretExtension(): Extension {
	return { type: ExtensionType.extendedMasterSecret, data: new Uint8Array(0) };
}

export function maxFragmentLengthExtension(code: number): Extension {
	maxFragmentLengthBytes(code);
	return { type: ExtensionType.maxFragmentLength, data: Uint8Array.of(code) };
}

/** Empty renegotiated_connection, as on every initial handshake (RFC 5746 §3.4, §3.6). */
export function renegotiationInfoExtension(renegotiatedConnection: Uint8Array = new Uint8Array(0)): Extension {
	const w = new Writer();
	w.opaque(1, 0, 0xff, "renegotiation_info", renegotiatedConnection);
	return { type: ExtensionType.renegotiationInfo, data: w.finish() };
}

/** Absent extensions block (undefined) and an empty one are different bytes; both are legal (RFC 5246 §7.4.1.2). */
function readExtensions(r: Reader): Extension[] | undefined {
	if (r.left === 0) return undefined;
	const v = r.vector(2, 0, MAX_U16, "extensions");
	const list: Extension[] = [];
	while (v.left > 0) {
		const type = v.u16("extension type");
		list.push({ type, data: v.opaque(2, 0, MAX_U16, `extension ${type}`) });
	}
	parseExtensions(list);
	return list;
}

function writeExtensions(w: Writer, list: readonly Extension[] | undefined): void {
	if (list === undefined) return;
	w.vector(2, 0, MAX_U16, "extensions", () => {
		for (const e of list) {
			w.u16(e.type, "extension type");
			w.opaque(2, 0, MAX_U16, `extension ${e.type}`, e.data);
		}
	});
}

/* ------------------------------------------------------------------------------------------- */
/* Hello messages.                                                                               */

/** ClientHello (RFC 5246 §7.4.1.2 with the DTLS cookie of RFC 6347 §4.2.1). */
export interface ClientHello {
	clientVersion: number;
	random: Uint8Array;
	sessionId: Uint8Array;
	cookie: Uint8Array;
	cipherSuites: number[];
	compressionMethods: number[];
	/** undefined: no extensions block at all (a legal ClientHello ends after compression_methods). */
	extensions?: Extension[];
}

export function encodeClientHello(m: ClientHello): Uint8Array {
	const w = new Writer(256);
	w.u16(m.clientVersion, "client_version");
	w.fixed(m.random, RANDOM_BYTES, "random");
	w.opaque(1, 0, MAX_SESSION_ID_BYTES, "session_id", m.sessionId);
	w.opaque(1, 0, MAX_COOKIE_BYTES, "cookie", m.cookie);
	// CipherSuite cipher_suites<2..2^16-2>; CompressionMethod compression_methods<1..2^8-1>
	w.u16List(2, 2, MAX_U16 - 1, "cipher_suites", m.cipherSuites);
	w.u8List(1, 0xff, "compression_methods", m.compressionMethods);
	writeExtensions(w, m.extensions);
	return w.finish();
}

export function decodeClientHello(body: Uint8Array): ClientHello {
	const r = new Reader(body);
	const m: ClientHello = {
		clientVersion: r.u16("client_version"),
		random: r.bytes(RANDOM_BYTES, "random"),
		sessionId: r.opaque(1, 0, MAX_SESSION_ID_BYTES, "session_id"),
		cookie: r.opaque(1, 0, MAX_COOKIE_BYTES, "cookie"),
		cipherSuites: r.u16List(2, 2, MAX_U16 - 1, "cipher_suites"),
		compressionMethods: r.u8List(1, 0xff, "compression_methods"),
	};
	const extensions = readExtensions(r);
	if (extensions !== undefined) m.extensions = extensions;
	r.done("ClientHello");
	return m;
}

/** HelloVerifyRequest (RFC 6347 §4.2.1). */
export interface HelloVerifyRequest {
	serverVersion: number;
	cookie: Uint8Array;
}

export function encodeHelloVerifyRequest(m: HelloVerifyRequest): Uint8Array {
	const w = new Writer(64);
	w.u16(m.serverVersion, "server_version");
	w.opaque(1, 0, MAX_COOKIE_BYTES, "cookie", m.cookie);
	return w.finish();
}

export function decodeHelloVerifyRequest(body: Uint8Array): HelloVerifyRequest {
	const r = new Reader(body);
	const m: HelloVerifyRequest = { serverVersion: r.u16("server_version"), cookie: r.opaque(1, 0, MAX_COOKIE_BYTES, "cookie") };
	r.done("HelloVerifyRequest");
	return m;
}

/** ServerHello (RFC 5246 §7.4.1.3). */
export interface ServerHello {
	serverVersion: number;
	random: Uint8Array;
	sessionId: Uint8Array;
	cipherSuite: number;
	compressionMethod: number;
	/** undefined: no extensions block. */
	extensions?: Extension[];
}

export function encodeServerHello(m: ServerHello): Uint8Array {
	const w = new Writer(128);
	w.u16(m.serverVersion, "server_version");
	w.fixed(m.random, RANDOM_BYTES, "random");
	w.opaque(1, 0, MAX_SESSION_ID_BYTES, "session_id", m.sessionId);
	w.u16(m.cipherSuite, "cipher_suite");
	w.u8(m.compressionMethod, "compression_method");
	writeExtensions(w, m.extensions);
	return w.finish();
}

export function decodeServerHello(body: Uint8Array): ServerHello {
	const r = new Reader(body);
	const m: ServerHello = {
		serverVersion: r.u16("server_version"),
		random: r.bytes(RANDOM_BYTES, "random"),
		sessionId: r.opaque(1, 0, MAX_SESSION_ID_BYTES, "session_id"),
		cipherSuite: r.u16("cipher_suite"),
		compressionMethod: r.u8("compression_method"),
	};
	const extensions = readExtensions(r);
	if (extensions !== undefined) m.extensions = extensions;
	r.done("ServerHello");
	return m;
}

/* ------------------------------------------------------------------------------------------- */
/* Certificates and key exchange.                                                                */

/**
 * Certificate (RFC 5246 §7.4.2): opaque ASN.1Cert<1..2^24-1>, certificate_list<0..2^24-1>, sender's
 * certificate first. An empty list is how a client says it has none (§7.4.6). The DER inside is
 * not looked at here.
 */
export function encodeCertificate(certificates: readonly Uint8Array[]): Uint8Array {
	const w = new Writer(1024);
	w.vector(3, 0, MAX_U24, "certificate_list", () => {
		for (const c of certificates) w.opaque(3, 1, MAX_U24, "ASN.1Cert", c);
	});
	return w.finish();
}

export function decodeCertificate(body: Uint8Array): Uint8Array[] {
	const r = new Reader(body);
	const list = r.vector(3, 0, MAX_U24, "certificate_list");
	const out: Uint8Array[] = [];
	while (list.left > 0) out.push(list.opaque(3, 1, MAX_U24, "ASN.1Cert"));
	r.done("Certificate");
	return out;
}

/**
 * ServerKeyExchange for ECDHE_ECDSA (RFC 8422 §5.4): ServerECDHParams (named_curve ECParameters and
 * the ephemeral public point) and a digitally-signed hash of them (RFC 5246 §4.7, §7.4.3).
 */
export interface ServerKeyExchange {
	namedCurve: number;
	/** ECPoint point<1..2^8-1>: 0x04 || X || Y for P-256 (RFC 8422 §5.4). Validity is crypto's job. */
	publicKey: Uint8Array;
	signatureAlgorithm: number;
	/** DER ECDSA-Sig-Value (RFC 8422 §5.4). */
	signature: Uint8Array;
}

/** ServerECDHParams bytes: curve_type named_curve, namedcurve, public (RFC 8422 §5.4). */
export function encodeServerEcdhParams(namedCurve: number, publicKey: Uint8Array): Uint8Array {
	const w = new Writer(80);
	w.u8(EC_CURVE_TYPE_NAMED_CURVE, "curve_type");
	w.u16(namedCurve, "namedcurve");
	w.opaque(1, 1, 0xff, "ECPoint", publicKey);
	return w.finish();
}

/**
 * What the server signs: SHA-256 is applied by the signer over
 * ClientHello.random + ServerHello.random + ServerECDHParams (RFC 8422 §5.4, RFC 5246 §7.4.3).
 */
export function serverKeyExchangeSignedData(
	clientRandom: Uint8Array,
	serverRandom: Uint8Array,
	params: { namedCurve: number; publicKey: Uint8Array },
): Uint8Array {
	if (clientRandom.length !== RANDOM_BYTES || serverRandom.length !== RANDOM_BYTES) throw new RangeError("randoms are 32 bytes");
	const p = encodeServerEcdhParams(params.namedCurve, params.publicKey);
	const out = new Uint8Array(2 * RANDOM_BYTES + p.length);
	out.set(clientRandom, 0);
	out.set(serverRandom, RANDOM_BYTES);
	out.set(p, 2 * RANDOM_BYTES);
	return out;
}

export function encodeServerKeyExchange(m: ServerKeyExchange): Uint8Array {
	const w = new Writer(160);
	w.bytes(encodeServerEcdhParams(m.namedCurve, m.publicKey));
	w.u16(m.signatureAlgorithm, "signature algorithm");
	w.opaque(2, 0, MAX_U16, "signature", m.signature);
	return w.finish();
}

export function decodeServerKeyExchange(body: Uint8Array): ServerKeyExchange {
	const r = new Reader(body);
	const curveType = r.u8("curve_type");
	// explicit_prime/explicit_char2 are deprecated and carry a different structure (RFC 8422 §5.4).
	if (curveType !== EC_CURVE_TYPE_NAMED_CURVE) throw new HandshakeError(`ECCurveType ${curveType}`, AlertDescription.illegalParameter);
	const m: ServerKeyExchange = {
		namedCurve: r.u16("namedcurve"),
		publicKey: r.opaque(1, 1, 0xff, "ECPoint"),
		signatureAlgorithm: r.u16("signature algorithm"),
		signature: r.opaque(2, 0, MAX_U16, "signature"),
	};
	r.done("ServerKeyExchange");
	return m;
}

/** CertificateRequest (RFC 5246 §7.4.4, RFC 8422 §5.5). */
export interface CertificateRequest {
	certificateTypes: number[];
	signatureAlgorithms: number[];
	/** DER DistinguishedNames, not looked at here. */
	certificateAuthorities: Uint8Array[];
}

/*
 * supported_signature_algorithms: RFC 5246 §7.4.4 prints the bound as "<2^16-1>" (a typo); we accept
 * any even length up to 2^16-2, an empty list included, since rejecting it would gain nothing.
 */
export function encodeCertificateRequest(m: CertificateRequest): Uint8Array {
	const w = new Writer(128);
	w.u8List(1, 0xff, "certificate_types", m.certificateTypes);
	w.u16List(2, 0, MAX_U16 - 1, "supported_signature_algorithms", m.signatureAlgorithms);
	w.vector(2, 0, MAX_U16, "certificate_authorities", () => {
		for (const dn of m.certificateAuthorities) w.opaque(2, 1, MAX_U16, "DistinguishedName", dn);
	});
	return w.finish();
}

export function decodeCertificateRequest(body: Uint8Array): CertificateRequest {
	const r = new Reader(body);
	const certificateTypes = r.u8List(1, 0xff, "certificate_types");
	const signatureAlgorithms = r.u16List(2, 0, MAX_U16 - 1, "supported_signature_algorithms");
	const cas = r.vector(2, 0, MAX_U16, "certificate_authorities");
	const certificateAuthorities: Uint8Array[] = [];
	while (cas.left > 0) certificateAuthorities.push(cas.opaque(2, 1, MAX_U16, "DistinguishedName"));
	r.done("CertificateRequest");
	return { certificateTypes, signatureAlgorithms, certificateAuthorities };
}

/** ServerHelloDone has an empty body (RFC 5246 §7.4.5). */
export function encodeServerHelloDone(): Uint8Array {
	return new Uint8Array(0);
}

export function decodeServerHelloDone(body: Uint8Array): void {
	new Reader(body).done("ServerHelloDone");
}

/** ClientKeyExchange for ECDHE: ECPoint ecdh_Yc<1..2^8-1> (RFC 8422 §5.7). Returns the point. */
export function encodeClientKeyExchange(publicKey: Uint8Array): Uint8Array {
	const w = new Writer(80);
	w.opaque(1, 1, 0xff, "ecdh_Yc", publicKey);
	return w.finish();
}

export function decodeClientKeyExchange(body: Uint8Array): Uint8Array {
	const r = new Reader(body);
	const point = r.opaque(1, 1, 0xff, "ecdh_Yc");
	r.done("ClientKeyExchange");
	return point;
}

/** CertificateVerify: digitally-signed over the handshake messages so far (RFC 5246 §7.4.8). */
export interface DigitallySigned {
	signatureAlgorithm: number;
	signature: Uint8Array;
}

export function encodeCertificateVerify(m: DigitallySigned): Uint8Array {
	const w = new Writer(80);
	w.u16(m.signatureAlgorithm, "signature algorithm");
	w.opaque(2, 0, MAX_U16, "signature", m.signature);
	return w.finish();
}

export function decodeCertificateVerify(body: Uint8Array): DigitallySigned {
	const r = new Reader(body);
	const m: DigitallySigned = { signatureAlgorithm: r.u16("signature algorithm"), signature: r.opaque(2, 0, MAX_U16, "signature") };
	r.done("CertificateVerify");
	return m;
}

/** Finished: verify_data[12] (RFC 5246 §7.4.9). Returns verify_data. */
export function encodeFinished(verifyData: Uint8Array): Uint8Array {
	if (verifyData.length !== VERIFY_DATA_BYTES) throw new RangeError("verify_data is 12 bytes");
	return verifyData.slice();
}

export function decodeFinished(body: Uint8Array): Uint8Array {
	const r = new Reader(body);
	const verifyData = r.bytes(VERIFY_DATA_BYTES, "verify_data");
	r.done("Finished");
	return verifyData;
}
