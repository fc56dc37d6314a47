/* CoAP protocol constants (RFC 7252 §3, §4.8, §5.10, §12; RFC 7959 §2.1, §4; RFC 6690 §7.3). */

/** Message types (RFC 7252 §3). */
export const CON = 0;
export const NON = 1;
export const ACK = 2;
export const RST = 3;

/** Codes are class*32 + detail (RFC 7252 §3, §12.1). */
export const code = (cls: number, detail: number): number => (cls << 5) | detail;
export const codeClass = (c: number): number => c >> 5;
export const codeText = (c: number): string => `${c >> 5}.${String(c & 31).padStart(2, "0")}`;

export const EMPTY = 0;
export const GET = 1;
export const POST = 2;
export const PUT = 3;
export const DELETE = 4;
export const FETCH = 5; // RFC 8132
export const PATCH = 6;
export const IPATCH = 7;

export const Code = Object.freeze({
	Created: code(2, 1),
	Deleted: code(2, 2),
	Valid: code(2, 3),
	Changed: code(2, 4),
	Content: code(2, 5),
	Continue: code(2, 31), // RFC 7959 §2.9.1
	BadRequest: code(4, 0),
	Unauthorized: code(4, 1),
	BadOption: code(4, 2),
	Forbidden: code(4, 3),
	NotFound: code(4, 4),
	MethodNotAllowed: code(4, 5),
	NotAcceptable: code(4, 6),
	RequestEntityIncomplete: code(4, 8), // RFC 7959 §2.9.2
	PreconditionFailed: code(4, 12),
	RequestEntityTooLarge: code(4, 13), // RFC 7959 §2.9.3
	UnsupportedContentFormat: code(4, 15),
	InternalServerError: code(5, 0),
	NotImplemented: code(5, 1),
	ServiceUnavailable: code(5, 3),
	GatewayTimeout: code(5, 4),
});

/** Option numbers (RFC 7252 §5.10, RFC 7959 §2.1, RFC 7641, RFC 9175). */
export const Opt = Object.freeze({
	IfMatch: 1,
	UriHost: 3,
	ETag: 4,
	IfNoneMatch: 5,
	Observe: 6,
	UriPort: 7,
	LocationPath: 8,
	UriPath: 11,
	ContentFormat: 12,
	UriPathAbbrev: 13, // draft-ietf-core-uri-path-abbrev §2 (provisional)
	MaxAge: 14,
	UriQuery: 15,
	Accept: 17,
	LocationQuery: 20,
	Block2: 23,
	Block1: 27,
	Size2: 28,
	ProxyUri: 35,
	ProxyScheme: 39,
	Size1: 60,
	NoResponse: 258, // RFC 7967
});

/** An option is critical when its number is odd (RFC 7252 §5.4.1). */
export const isCritical = (n: number): boolean => (n & 1) === 1;

/**
 * Content-Format numbers used here (IANA "CoAP Content-Formats"; cBRSKI and EST-coaps uses in
 * cbrski-digest §0.1). The one table of them: EST and voucher code names its formats from here.
 */
export const ContentFormat = Object.freeze({
	TextPlain: 0, // RFC 7252 §12.3
	LinkFormat: 40, // RFC 6690 §7.3: discovery
	OctetStream: 42, // RFC 7252 §12.3
	Json: 50, // RFC 7252 §12.3
	Cbor: 60, // RFC 7049 §7.4: /vs and /es bodies (cBRSKI §6.5.1)
	MultipartCore: 62, // RFC 8710 §2: /crts with several formats (RFC 9148 §4.1)
	Pkcs7CertsOnly: 281, // RFC 9148 §8.1, application/pkcs7-mime;smime-type=certs-only: /crts, /sen, /sren responses
	Pkcs10: 286, // RFC 9148 §8.1, application/pkcs10: /sen, /sren requests
	PkixCert: 287, // RFC 9148 §8.1, application/pkix-cert: one certificate (/sen, /sren, single-CA /crts)
	VoucherCoseCbor: 836, // draft-ietf-anima-constrained-voucher IANA considerations, application/voucher+cose: /rv request and response
});

/** Default transmission parameters (RFC 7252 §4.8). */
export const ACK_TIMEOUT_MS = 2000;
export const ACK_RANDOM_FACTOR = 1.5;
export const MAX_RETRANSMIT = 4;
export const DEFAULT_LEISURE_MS = 5000;
/** Interactions a client keeps outstanding with one server (RFC 7252 §4.7). */
export const NSTART = 1;
/** Derived times (RFC 7252 §4.8.2). */
export const MAX_TRANSMIT_SPAN_MS = 45_000;
export const EXCHANGE_LIFETIME_MS = 247_000;
export const NON_LIFETIME_MS = 145_000;

export const COAP_PORT = 5683;
export const COAPS_PORT = 5684;
/** All-CoAP-Nodes multicast groups (RFC 7252 §12.8). */
export const ALL_COAP_NODES_LINK_LOCAL = "ff02::fd";
export const ALL_COAP_NODES_SITE_LOCAL = "ff05::fd";
