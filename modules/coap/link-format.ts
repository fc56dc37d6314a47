/*
 * CoRE Link Format (RFC 6690): the payload of /.well-known/core, through which a pledge finds the
 * Join Proxy (`<>;brski-jp=5684`) and the Join Proxy finds the Registrar (`rt=brski.rjp`).
 *
 * The parser is a single left-to-right scan over code points, no regular expressions, so its time
 * is linear in the input whatever the input is (a hostile neighbour can send us any payload), and
 * every malformation surfaces as LinkFormatError so callers need only one catch.
 */

export interface LinkAttribute {
	/** As written; parameter names compare case-insensitively (RFC 8288 §3), see attribute(). */
	name: string;
	/** Unquoted and unescaped value, or `true` for a parameter without "=" (e.g. `obs`). */
	value: string | true;
}

export interface Link {
	/** The URI-Reference between "<" and ">", as written (not resolved, not percent-decoded). */
	target: string;
	/** In document order, repeats kept. */
	attributes: LinkAttribute[];
}

export class LinkFormatError extends Error {
	// A field, not `this.name =`: Error.prototype is frozen on a preloaded device (override mistake).
	override readonly name = "LinkFormatError";
}

/* Character classes, indexed by ASCII code; everything >= 0x80 is in none of them. */

/** ptokenchar (RFC 6690 §2): printable ASCII except SP, DQUOTE, ",", ";" and "\". */
const PTOKEN = 1;
/** attr-char (RFC 5987 §3.2.1), the characters of a parmname. */
const ATTR = 2;
/** Characters that may appear in a URI-Reference (RFC 3986 §2: unreserved, reserved, "%"). */
const URI = 4;
/** mime-charsetc (RFC 5987 §3.2.1), the characters of an ext-value's charset. */
const CHARSET = 8;

const classes = new Uint8Array(128);
function mark(chars: string, flag: number): void {
	for (const c of codesOf(chars)) classes[c]! |= flag;
}
const ALNUM = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
mark(ALNUM + "!#$%&'()*+-./:<=>?@[]^_`{|}~", PTOKEN);
mark(ALNUM + "!#$&+-.^_`|~", ATTR);
mark(ALNUM + "-._~" + ":/?#[]@" + "!$&'()*+,;=" + "%", URI);
mark(ALNUM + "!#$%&+-^_`{}~", CHARSET);

/**
 * One entry per code point: the code point itself up to 0xFFFF, its high surrogate above (all that
 * matters here is that it is >= 0x80). Strings are walked through their iterator, never with
 * charCodeAt(i) or slice(i): XS keeps strings as UTF-8, so indexing costs O(i) there and an
 * indexed scan is quadratic (measured: 20k chars took 0.2 s, 100k chars minutes).
 */
function codesOf(s: string): number[] {
	const codes: number[] = [];
	for (const ch of s) codes.push(ch.charCodeAt(0));
	return codes;
}

function is(c: number, flag: number): boolean {
	return c >= 0 && c < 0x80 && (classes[c]! & flag) !== 0;
}

function isAlnum(c: number): boolean {
	return (c >= 0x30 && c <= 0x39) || ((c | 0x20) >= 0x61 && (c | 0x20) <= 0x7a);
}

function isHex(c: number): boolean {
	return (c >= 0x30 && c <= 0x39) || ((c | 0x20) >= 0x61 && (c | 0x20) <= 0x66);
}

/** Whitespace tolerated around "<", ",", ";" and "=" (RFC 8288 §3 OWS/BWS; RFC 6690 itself has none). */
function isWs(c: number): boolean {
	return c === 0x20 || c === 0x09 || c === 0x0d || c === 0x0a;
}

/** CTLs (RFC 2616 §2.2) may not appear raw in a quoted-string, only escaped (HTAB is LWS, allowed). */
function isCtl(c: number): boolean {
	return (c >= 0 && c < 0x20 && c !== 0x09) || c === 0x7f;
}

const LT = 0x3c;
const GT = 0x3e;
const COMMA = 0x2c;
const SEMI = 0x3b;
const EQUALS = 0x3d;
const DQUOTE = 0x22;
const BACKSLASH = 0x5c;
const STAR = 0x2a;
const PERCENT = 0x25;
const APOSTROPHE = 0x27;
const HYPHEN = 0x2d;

/** Each "%" in c[from, to) must begin a pct-encoded triplet (RFC 3986 §2.1). */
function pctOk(c: number[], from: number, to: number): boolean {
	for (let i = from; i < to; i++) {
		if (c[i] === PERCENT) {
			if (i + 2 >= to || !isHex(c[i + 1]!) || !isHex(c[i + 2]!)) return false;
			i += 2;
		}
	}
	return true;
}

function all(c: number[], from: number, to: number, flag: number): boolean {
	for (let i = from; i < to; i++) if (!is(c[i]!, flag)) return false;
	return true;
}

function isUriReference(s: string): boolean {
	const c = codesOf(s);
	return all(c, 0, c.length, URI) && pctOk(c, 0, c.length);
}

/** parmname, optionally followed by "*" (ext-name-star, RFC 6690 §2 / RFC 5987 §3.2.1). */
function isParamName(s: string): boolean {
	const c = codesOf(s);
	const end = c.length > 1 && c[c.length - 1] === STAR ? c.length - 1 : c.length;
	return end > 0 && all(c, 0, end, ATTR);
}

function isPtoken(s: string): boolean {
	const c = codesOf(s);
	return c.length > 0 && all(c, 0, c.length, PTOKEN);
}

/**
 * ext-value = charset "'" [ language ] "'" value-chars (RFC 5987 §3.2.1), the only value an
 * ext-name-star parameter such as `title*` may take. The language tag is checked only for its
 * alphabet (ALPHA / DIGIT / "-"), not the full RFC 5646 grammar.
 */
function isExtValue(c: number[], from: number, to: number): boolean {
	let i = from;
	while (i < to && is(c[i]!, CHARSET)) i++;
	if (i === from || i >= to || c[i] !== APOSTROPHE) return false;
	i++;
	while (i < to && (c[i] === HYPHEN || isAlnum(c[i]!))) i++;
	if (i >= to || c[i] !== APOSTROPHE) return false;
	const start = ++i;
	for (; i < to; i++) if (c[i] !== PERCENT && !is(c[i]!, ATTR)) return false;
	return pctOk(c, start, to);
}

/** ASCII-only lowercasing: toLowerCase would also fold e.g. U+212A KELVIN SIGN into "k". */
function lower(s: string): string {
	return s.replace(/[A-Z]+/g, (m) => m.toLowerCase());
}

/** Parses a CoRE Link Format document (RFC 6690 §2). An empty (or all-whitespace) document is []. */
export function parseLinkFormat(text: string): Link[] {
	// Walked as an array of code points, see codesOf() for why not through the string itself.
	const chars = Array.from(text);
	const n = chars.length;
	// push, not new Array(n) filled by index: XS makes that quadratic (measured: 40k entries, 4 s).
	const codes: number[] = [];
	for (let k = 0; k < n; k++) codes.push(chars[k]!.charCodeAt(0));
	const at = (k: number): number => (k < n ? codes[k]! : -1);
	const piece = (from: number, to: number): string => chars.slice(from, to).join("");
	const fail = (k: number, what: string): never => {
		throw new LinkFormatError(`link-format: ${what} at character ${k}`);
	};
	const skipWs = (k: number): number => {
		while (isWs(at(k))) k++;
		return k;
	};

	const links: Link[] = [];
	let i = skipWs(0);
	if (i === n) return links;
	for (;;) {
		// link-value = "<" URI-Reference ">" *( ";" link-param )
		if (at(i) !== LT) fail(i, 'expected "<"');
		const targetStart = ++i;
		while (is(at(i), URI)) i++;
		if (at(i) !== GT) fail(i, 'expected ">" closing the URI-Reference');
		if (!pctOk(codes, targetStart, i)) fail(targetStart, "bad percent-encoding in URI-Reference");
		const link: Link = { target: piece(targetStart, i), attributes: [] };
		links.push(link);
		i = skipWs(i + 1);

		while (at(i) === SEMI) {
			i = skipWs(i + 1);
			const nameStart = i;
			while (is(at(i), ATTR)) i++;
			if (i === nameStart) fail(i, "expected a parameter name");
			const star = at(i) === STAR;
			if (star) i++;
			const name = piece(nameStart, i);
			i = skipWs(i);
			if (at(i) !== EQUALS) {
				if (star) fail(i, `"${name}" needs an ext-value`);
				link.attributes.push({ name, value: true });
				continue;
			}
			i = skipWs(i + 1);
			let value: string;
			if (at(i) === DQUOTE) {
				if (star) fail(i, `"${name}" takes an ext-value, not a quoted-string`);
				// quoted-string (RFC 2616 §2.2): collected piecewise and joined once, so linear in length.
				const parts: string[] = [];
				let from = ++i;
				for (;;) {
					const c = at(i);
					if (c < 0) fail(i, "unterminated quoted-string");
					if (c === DQUOTE) break;
					if (c === BACKSLASH) {
						// quoted-pair = "\" CHAR, and CHAR is US-ASCII
						const e = at(i + 1);
						if (e < 0 || e >= 0x80) fail(i, "bad quoted-pair");
						parts.push(piece(from, i));
						from = i + 1;
						i += 2;
						continue;
					}
					if (isCtl(c)) fail(i, "control character in quoted-string");
					i++;
				}
				parts.push(piece(from, i));
				value = parts.join("");
				i++;
			} else {
				const valueStart = i;
				while (is(at(i), PTOKEN)) i++;
				if (i === valueStart) fail(i, "expected a value");
				if (star && !isExtValue(codes, valueStart, i)) fail(valueStart, `"${name}" value is not an ext-value`);
				value = piece(valueStart, i);
			}
			link.attributes.push({ name, value });
			i = skipWs(i);
		}

		if (i >= n) return links;
		if (at(i) !== COMMA) fail(i, 'expected ";", "," or the end');
		i = skipWs(i + 1);
		if (i >= n) fail(i, 'expected a link after ","');
	}
}

/**
 * Parameters whose specific RFC 6690 §2 rule admits only a quoted-string. The generic
 * link-extension rule would accept them unquoted too, but quoting always is kinder to peers that
 * implement the specific rule.
 */
const ALWAYS_QUOTED = new Set(["anchor", "title"]);

function quote(value: string): string {
	const parts: string[] = ['"'];
	for (const ch of value) {
		const c = ch.charCodeAt(0);
		parts.push(c === DQUOTE || c === BACKSLASH || isCtl(c) ? "\\" + ch : ch);
	}
	parts.push('"');
	return parts.join("");
}

/**
 * Serializes links (RFC 6690 §2). Values are sent as a ptoken where that is valid and quoted
 * otherwise. A target that is not a URI-Reference or a name that is not a parmname cannot be
 * written at all, so it throws LinkFormatError rather than emit something unparseable.
 */
export function serializeLinkFormat(links: Link[]): string {
	const out: string[] = [];
	for (let k = 0; k < links.length; k++) {
		const link = links[k]!;
		if (!isUriReference(link.target)) throw new LinkFormatError(`link-format: target is not a URI-Reference: ${JSON.stringify(link.target)}`);
		if (k > 0) out.push(",");
		out.push("<", link.target, ">");
		for (const { name, value } of link.attributes) {
			if (!isParamName(name)) throw new LinkFormatError(`link-format: bad parameter name ${JSON.stringify(name)}`);
			out.push(";", name);
			const star = name.endsWith("*");
			if (value === true) {
				if (star) throw new LinkFormatError(`link-format: "${name}" needs an ext-value`);
				continue;
			}
			if (star) {
				const c = codesOf(value);
				if (!isExtValue(c, 0, c.length)) throw new LinkFormatError(`link-format: "${name}" value is not an ext-value`);
				out.push("=", value);
			} else if (isPtoken(value) && !ALWAYS_QUOTED.has(lower(name))) {
				out.push("=", value);
			} else {
				out.push("=", quote(value));
			}
		}
	}
	return out.join("");
}

/** The first value of the named attribute (case-insensitive name), or undefined when absent. */
export function attribute(link: Link, name: string): string | true | undefined {
	const want = lower(name);
	for (const a of link.attributes) if (lower(a.name) === want) return a.value;
	return undefined;
}

/** The query name that filters on the link target rather than on an attribute (RFC 6690 §4.1). */
const HREF = "href";

/** Attributes whose value is a space-separated list; a filter matches any one entry (RFC 6690 §4.1). */
const LIST_VALUED = new Set(["rt", "if", "rel", "rev"]);

/**
 * Resource discovery filtering (RFC 6690 §4.1). Each query item is one Uri-Query option:
 * `name=value` matches exactly, `name=prefix*` by prefix, and a bare `name` matches any link that
 * has the attribute. All items must match. `href` filters on the target. A valueless attribute
 * counts as the empty value, so `obs=*` finds `;obs`. Empty items (from a bare "?") are ignored.
 */
export function filterLinks(links: Link[], query: string[]): Link[] {
	const filters: { name: string; pattern: string | undefined; prefix: boolean }[] = [];
	for (const item of query) {
		if (item.length === 0) continue;
		const eq = item.indexOf("=");
		if (eq < 0) {
			filters.push({ name: lower(item), pattern: undefined, prefix: false });
			continue;
		}
		let pattern = item.slice(eq + 1);
		const prefix = pattern.endsWith("*");
		if (prefix) pattern = pattern.slice(0, -1);
		filters.push({ name: lower(item.slice(0, eq)), pattern, prefix });
	}

	const matches = (value: string, f: { pattern: string | undefined; prefix: boolean }): boolean =>
		f.pattern === undefined || (f.prefix ? value.startsWith(f.pattern) : value === f.pattern);

	return links.filter((link) =>
		filters.every((f) => {
			if (f.name === HREF) return matches(link.target, f);
			const list = LIST_VALUED.has(f.name);
			return link.attributes.some((a) => {
				if (lower(a.name) !== f.name) return false;
				if (f.pattern === undefined) return true;
				const value = a.value === true ? "" : a.value;
				// `rt=*` asks only that the attribute be there, even with an empty list.
				if (!list || (f.prefix && f.pattern === "")) return matches(value, f);
				return value.split(" ").some((entry) => entry.length > 0 && matches(entry, f));
			});
		}),
	);
}
