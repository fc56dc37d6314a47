/*
 * CoRE Link Format (RFC 6690): the payload of /.well-known/core, through which a pledge finds the
 * Join Proxy (`<>;brski-jp=5684`) and the Join Proxy finds the Registrar (`rt=brski.rjp`).
 *
 * The parser is a single left-to-right scan over char codes, no regular expressions, so its time
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
	constructor(message: string) {
		super(message);
		this.name = "LinkFormatError";
	}
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
	for (let i = 0; i < chars.length; i++) classes[chars.charCodeAt(i)]! |= flag;
}
const ALNUM = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
mark(ALNUM + "!#$%&'()*+-./:<=>?@[]^_`{|}~", PTOKEN);
mark(ALNUM + "!#$&+-.^_`|~", ATTR);
mark(ALNUM + "-._~" + ":/?#[]@" + "!$&'()*+,;=" + "%", URI);
mark(ALNUM + "!#$%&+-^_`{}~", CHARSET);

function is(c: number, flag: number): boolean {
	return c < 0x80 && (classes[c]! & flag) !== 0;
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
	return (c < 0x20 && c !== 0x09) || c === 0x7f;
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

/** Each "%" must begin a pct-encoded triplet (RFC 3986 §2.1). */
function pctOk(s: string, from: number, to: number): boolean {
	for (let i = from; i < to; i++) {
		if (s.charCodeAt(i) === PERCENT) {
			if (i + 2 >= to || !isHex(s.charCodeAt(i + 1)) || !isHex(s.charCodeAt(i + 2))) return false;
			i += 2;
		}
	}
	return true;
}

function isUriReference(s: string): boolean {
	for (let i = 0; i < s.length; i++) if (!is(s.charCodeAt(i), URI)) return false;
	return pctOk(s, 0, s.length);
}

/** parmname, optionally followed by "*" (ext-name-star, RFC 6690 §2 / RFC 5987 §3.2.1). */
function isParamName(s: string): boolean {
	const end = s.length > 1 && s.charCodeAt(s.length - 1) === STAR ? s.length - 1 : s.length;
	if (end === 0) return false;
	for (let i = 0; i < end; i++) if (!is(s.charCodeAt(i), ATTR)) return false;
	return true;
}

function isPtoken(s: string): boolean {
	if (s.length === 0) return false;
	for (let i = 0; i < s.length; i++) if (!is(s.charCodeAt(i), PTOKEN)) return false;
	return true;
}

/**
 * ext-value = charset "'" [ language ] "'" value-chars (RFC 5987 §3.2.1), the only value an
 * ext-name-star parameter such as `title*` may take. The language tag is checked only for its
 * alphabet (ALPHA / DIGIT / "-"), not the full RFC 5646 grammar.
 */
function isExtValue(s: string): boolean {
	let i = 0;
	while (i < s.length && is(s.charCodeAt(i), CHARSET)) i++;
	if (i === 0 || i >= s.length || s.charCodeAt(i) !== APOSTROPHE) return false;
	i++;
	while (i < s.length) {
		const c = s.charCodeAt(i);
		if (c !== 0x2d && !isAlnum(c)) break;
		i++;
	}
	if (i >= s.length || s.charCodeAt(i) !== APOSTROPHE) return false;
	const start = ++i;
	for (; i < s.length; i++) {
		const c = s.charCodeAt(i);
		if (c !== PERCENT && !is(c, ATTR)) return false;
	}
	return pctOk(s, start, s.length);
}

/** ASCII-only lowercasing: toLowerCase would also fold e.g. U+212A KELVIN SIGN into "k". */
function lower(s: string): string {
	return s.replace(/[A-Z]+/g, (m) => m.toLowerCase());
}

/** Parses a CoRE Link Format document (RFC 6690 §2). An empty (or all-whitespace) document is []. */
export function parseLinkFormat(text: string): Link[] {
	const n = text.length;
	const links: Link[] = [];
	const fail = (at: number, what: string): never => {
		throw new LinkFormatError(`link-format: ${what} at offset ${at}`);
	};
	const skipWs = (i: number): number => {
		while (i < n && isWs(text.charCodeAt(i))) i++;
		return i;
	};

	let i = skipWs(0);
	if (i === n) return links;
	for (;;) {
		// link-value = "<" URI-Reference ">" *( ";" link-param )
		if (text.charCodeAt(i) !== LT) fail(i, 'expected "<"');
		const targetStart = ++i;
		while (i < n && is(text.charCodeAt(i), URI)) i++;
		if (i >= n || text.charCodeAt(i) !== GT) fail(i, 'expected ">" closing the URI-Reference');
		if (!pctOk(text, targetStart, i)) fail(targetStart, "bad percent-encoding in URI-Reference");
		const link: Link = { target: text.slice(targetStart, i), attributes: [] };
		links.push(link);
		i = skipWs(i + 1);

		while (i < n && text.charCodeAt(i) === SEMI) {
			i = skipWs(i + 1);
			const nameStart = i;
			while (i < n && is(text.charCodeAt(i), ATTR)) i++;
			if (i === nameStart) fail(i, "expected a parameter name");
			const star = i < n && text.charCodeAt(i) === STAR;
			if (star) i++;
			const name = text.slice(nameStart, i);
			i = skipWs(i);
			if (i >= n || text.charCodeAt(i) !== EQUALS) {
				if (star) fail(i, `"${name}" needs an ext-value`);
				link.attributes.push({ name, value: true });
				continue;
			}
			i = skipWs(i + 1);
			let value: string;
			if (i < n && text.charCodeAt(i) === DQUOTE) {
				if (star) fail(i, `"${name}" takes an ext-value, not a quoted-string`);
				// quoted-string (RFC 2616 §2.2); the pieces between escapes are joined once at the end
				// so a value full of escapes still costs linear time on engines without string ropes.
				const parts: string[] = [];
				let from = ++i;
				for (;;) {
					if (i >= n) fail(i, "unterminated quoted-string");
					const c = text.charCodeAt(i);
					if (c === DQUOTE) break;
					if (c === BACKSLASH) {
						// quoted-pair = "\" CHAR, and CHAR is US-ASCII
						if (i + 1 >= n || text.charCodeAt(i + 1) >= 0x80) fail(i, "bad quoted-pair");
						parts.push(text.slice(from, i));
						from = i + 1;
						i += 2;
						continue;
					}
					if (isCtl(c)) fail(i, "control character in quoted-string");
					i++;
				}
				parts.push(text.slice(from, i));
				value = parts.join("");
				i++;
			} else {
				const valueStart = i;
				while (i < n && is(text.charCodeAt(i), PTOKEN)) i++;
				if (i === valueStart) fail(i, "expected a value");
				value = text.slice(valueStart, i);
				if (star && !isExtValue(value)) fail(valueStart, `"${name}" value is not an ext-value`);
			}
			link.attributes.push({ name, value });
			i = skipWs(i);
		}

		if (i >= n) return links;
		if (text.charCodeAt(i) !== COMMA) fail(i, 'expected ";", "," or the end');
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
	let from = 0;
	for (let i = 0; i < value.length; i++) {
		const c = value.charCodeAt(i);
		if (c === DQUOTE || c === BACKSLASH || isCtl(c)) {
			parts.push(value.slice(from, i), "\\");
			from = i;
		}
	}
	parts.push(value.slice(from), '"');
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
			const star = name.charCodeAt(name.length - 1) === STAR;
			if (value === true) {
				if (star) throw new LinkFormatError(`link-format: "${name}" needs an ext-value`);
				continue;
			}
			if (star) {
				if (!isExtValue(value)) throw new LinkFormatError(`link-format: "${name}" value is not an ext-value`);
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
