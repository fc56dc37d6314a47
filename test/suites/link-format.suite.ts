/* CoRE Link Format (RFC 6690): parsing, serializing and §4.1 query filtering. */

import { suite } from "../lib/harness.js";
import { deepEqual, equal, ok, throws } from "../lib/assert.js";
import { SeededRandom } from "../../hosts/xs/seeded-random.js";
import {
	LinkFormatError,
	attribute,
	filterLinks,
	parseLinkFormat,
	serializeLinkFormat,
	type Link,
} from "../../modules/coap/link-format.js";

/** RFC 6690 §5, first example (GET /.well-known/core). */
const RFC6690_SENSORS = '</sensors/temp>;rt="temperature-c";if="sensor",</sensors/light>;rt="light-lux";if="sensor"';

/** RFC 6690 §5, the example with anchors and relations. */
const RFC6690_ANCHORS =
	'</sensors>;ct=40;title="Sensor Index",</sensors/temp>;rt="temperature-c";if="sensor",' +
	'</sensors/light>;rt="light-lux";if="sensor",' +
	'<http://www.example.com/sensors/t123>;anchor="/sensors/temp";rel="describedby",' +
	'</t>;anchor="/sensors/temp";rel="alternate"';

const link = (target: string, ...attrs: [string, string | true][]): Link => ({
	target,
	attributes: attrs.map(([name, value]) => ({ name, value })),
});

const targets = (links: Link[]): string[] => links.map((l) => l.target);

/* Random material for the property tests. */

const ALNUM = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
const URI_CHARS = ALNUM + "-._~:/?#[]@!$&'()*+,;=";
const ATTR_CHARS = ALNUM + "!#$&+-.^_`|~";
/** Printable ASCII, the separators twice over, controls, and non-ASCII up to astral (surrogate pairs). */
const VALUE_CHARS = [
	...(ALNUM + " !\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~"),
	..." ,;\"\\=<>",
	"\t",
	"\n",
	"\u0000",
	"\u007f",
	"é",
	"ß",
	"€",
	"中",
	"\u00a0",
	"😀",
	"𝄞",
];
const KNOWN_NAMES = ["rt", "if", "ct", "sz", "rel", "anchor", "title", "obs", "brski-jp", "RT", "Title"];
const HEX = "0123456789ABCDEFabcdef";

function pick<T>(rnd: SeededRandom, items: ArrayLike<T>): T {
	return items[rnd.int(items.length)]!;
}

function randomString(rnd: SeededRandom, alphabet: ArrayLike<string>, min: number, max: number): string {
	const n = min + rnd.int(max - min + 1);
	let s = "";
	for (let i = 0; i < n; i++) s += pick(rnd, alphabet);
	return s;
}

function randomTarget(rnd: SeededRandom): string {
	switch (rnd.int(6)) {
		case 0:
			return "";
		case 1:
			return `coaps://[2001:db8::${rnd.int(0x10000).toString(16)}]:${rnd.int(65536)}`;
		default: {
			let s = "";
			const n = rnd.int(16);
			for (let i = 0; i < n; i++) {
				s += rnd.int(8) === 0 ? "%" + pick(rnd, HEX) + pick(rnd, HEX) : pick(rnd, URI_CHARS);
			}
			return s;
		}
	}
}

function randomExtValue(rnd: SeededRandom): string {
	let s = pick(rnd, ["UTF-8", "ISO-8859-1", "utf-8"]) + "'" + pick(rnd, ["", "en", "de-CH", "x-klingon"]) + "'";
	const n = rnd.int(8);
	for (let i = 0; i < n; i++) s += rnd.int(4) === 0 ? "%" + pick(rnd, HEX) + pick(rnd, HEX) : pick(rnd, ATTR_CHARS);
	return s;
}

function randomLinks(rnd: SeededRandom): Link[] {
	const links: Link[] = [];
	const count = rnd.int(5);
	for (let k = 0; k < count; k++) {
		const attributes: Link["attributes"] = [];
		const na = rnd.int(5);
		for (let a = 0; a < na; a++) {
			const r = rnd.int(10);
			if (r === 0) {
				attributes.push({ name: randomString(rnd, ATTR_CHARS, 1, 6) + "*", value: randomExtValue(rnd) });
				continue;
			}
			const name = r < 4 ? pick(rnd, KNOWN_NAMES) : randomString(rnd, ATTR_CHARS, 1, 8);
			const v = rnd.int(6);
			const value = v === 0 ? true : v === 1 ? randomString(rnd, ALNUM + "-._/", 1, 8) : randomString(rnd, VALUE_CHARS, 0, 12);
			attributes.push({ name, value });
		}
		links.push({ target: randomTarget(rnd), attributes });
	}
	return links;
}

/** The characters a mutation inserts: mostly the grammar's own delimiters, where parsers break. */
const MUTATION_CHARS = [..."<>;,\"\\=*% \t'", "\u0000", "é", "\ud800", "\udc00", "a", "0"];

function mutate(rnd: SeededRandom, s: string): string {
	const rounds = 1 + rnd.int(3);
	for (let r = 0; r < rounds; r++) {
		const at = rnd.int(s.length + 1);
		switch (rnd.int(5)) {
			case 0: // flip bits of one code unit
				if (s.length > 0) {
					const i = Math.min(at, s.length - 1);
					s = s.slice(0, i) + String.fromCharCode(s.charCodeAt(i) ^ (1 << rnd.int(8))) + s.slice(i + 1);
				}
				break;
			case 1: // truncate
				s = s.slice(0, at);
				break;
			case 2: // insert a delimiter
				s = s.slice(0, at) + pick(rnd, MUTATION_CHARS) + s.slice(at);
				break;
			case 3: // delete a run
				s = s.slice(0, at) + s.slice(at + 1 + rnd.int(3));
				break;
			default: // duplicate a slice elsewhere
				s = s.slice(0, at) + s.slice(rnd.int(s.length + 1), rnd.int(s.length + 1)) + s.slice(at);
		}
	}
	return s;
}

/** Parses, and insists that anything other than success is a LinkFormatError. */
function parseOrReject(text: string): Link[] | undefined {
	try {
		return parseLinkFormat(text);
	} catch (e) {
		if (e instanceof LinkFormatError) return undefined;
		throw new Error(`parseLinkFormat(${JSON.stringify(text)}) threw a non-LinkFormatError: ${String(e)}`);
	}
}

export default suite("coap link-format", (test) => {
	test("RFC 6690 §5 sensor listing parses into targets and attributes", () => {
		deepEqual(parseLinkFormat(RFC6690_SENSORS), [
			link("/sensors/temp", ["rt", "temperature-c"], ["if", "sensor"]),
			link("/sensors/light", ["rt", "light-lux"], ["if", "sensor"]),
		]);
	});

	test("RFC 6690 §5 anchored links parse, and filter by rel, href and ct", () => {
		const links = parseLinkFormat(RFC6690_ANCHORS);
		deepEqual(targets(links), ["/sensors", "/sensors/temp", "/sensors/light", "http://www.example.com/sensors/t123", "/t"]);
		deepEqual(links[0], link("/sensors", ["ct", "40"], ["title", "Sensor Index"]));
		deepEqual(links[3], link("http://www.example.com/sensors/t123", ["anchor", "/sensors/temp"], ["rel", "describedby"]));
		deepEqual(targets(filterLinks(links, ["rel=describedby"])), ["http://www.example.com/sensors/t123"]);
		deepEqual(targets(filterLinks(links, ["anchor=/sensors/temp"])), ["http://www.example.com/sensors/t123", "/t"]);
		deepEqual(targets(filterLinks(links, ["href=/sensors*"])), ["/sensors", "/sensors/temp", "/sensors/light"]);
		deepEqual(targets(filterLinks(links, ["href=/t"])), ["/t"]);
		deepEqual(targets(filterLinks(links, ["ct=40"])), ["/sensors"]);
		deepEqual(targets(filterLinks(links, ["if=sensor"])), ["/sensors/temp", "/sensors/light"]);
		// The RFC's documents survive a round trip through our serializer.
		deepEqual(parseLinkFormat(serializeLinkFormat(links)), links);
	});

	test("quoted and unquoted values mean the same", () => {
		deepEqual(parseLinkFormat('<a>;ct=40;sz="40"'), [link("a", ["ct", "40"], ["sz", "40"])]);
		deepEqual(parseLinkFormat('<a>;x=<b>=c;y="";z="a,b;c d"'), [link("a", ["x", "<b>=c"], ["y", ""], ["z", "a,b;c d"])]);
		deepEqual(parseLinkFormat('<>;title="Grüße 😀"'), [link("", ["title", "Grüße 😀"])]);
	});

	test("backslash escapes in quoted-strings", () => {
		deepEqual(parseLinkFormat('<a>;title="say \\"hi\\" \\\\ bye \\x"'), [link("a", ["title", 'say "hi" \\ bye x'])]);
		equal(serializeLinkFormat([link("a", ["title", 'say "hi" \\'])]), '<a>;title="say \\"hi\\" \\\\"');
	});

	test("valueless attributes are true, and differ from an empty value", () => {
		const links = parseLinkFormat('</obs>;obs;rt=x;brski-jp,</e>;obs=""');
		deepEqual(links, [link("/obs", ["obs", true], ["rt", "x"], ["brski-jp", true]), link("/e", ["obs", ""])]);
		equal(serializeLinkFormat(links), '</obs>;obs;rt=x;brski-jp,</e>;obs=""');
	});

	test("attribute order and repeats are kept; names compare case-insensitively", () => {
		const [l] = parseLinkFormat('<x>;RT=a;rt="b c";If=s;rt=d');
		deepEqual(l!.attributes.map((a) => a.name), ["RT", "rt", "If", "rt"]);
		equal(attribute(l!, "rt"), "a");
		equal(attribute(l!, "IF"), "s");
		equal(attribute(l!, "ct"), undefined);
		deepEqual(targets(filterLinks([l!], ["rt=d"])), ["x"]);
		deepEqual(targets(filterLinks([l!], ["Rt=c"])), ["x"]);
	});

	test("optional whitespace around separators is tolerated", () => {
		const text = '  </a> ; rt = "x y" ;obs ,\r\n\t</b>;ct= 40 ,</c>  ';
		deepEqual(parseLinkFormat(text), [link("/a", ["rt", "x y"], ["obs", true]), link("/b", ["ct", "40"]), link("/c")]);
	});

	test("empty and all-whitespace documents are empty lists", () => {
		deepEqual(parseLinkFormat(""), []);
		deepEqual(parseLinkFormat(" \r\n\t"), []);
		equal(serializeLinkFormat([]), "");
	});

	test("malformed documents throw LinkFormatError", () => {
		const bad = [
			"x",
			"<a",
			"a>",
			"<a b>",
			'<a">',
			"<a>,",
			",<a>",
			"<a>,,<b>",
			"<a><b>",
			"<a>;",
			"<a>;;x",
			"<a>;=1",
			"<a>;x=",
			"<a>;x=;y",
			'<a>;x="unterminated',
			'<a>;x="a"b',
			'<a>;x=a"b"',
			'<a>;x="\\',
			'<a>;x="\\é"',
			'<a>;x="bell\u0007"',
			"<a>;x=é",
			"<a>;x=a\\b",
			"<é>",
			"<%zz>",
			"<%4>",
			"<a>;x y",
			"<a>;title*",
			'<a>;title*="UTF-8\'\'x"',
			"<a>;title*=plain",
			"<a>;title*=UTF-8'en'%Z1",
			"<a>;title*=UTF-8'e.n'x",
			"<a>;title*='en'x",
			"<a>;ti*tle=1",
			"<a>;x**=1",
			"<a> x",
		];
		for (const text of bad) throws(() => parseLinkFormat(text), LinkFormatError, JSON.stringify(text));
	});

	test("ext-value parameters (title*) are accepted as RFC 5987 writes them", () => {
		const links = parseLinkFormat("</r>;title*=UTF-8'en'%E2%82%AC%20rates");
		deepEqual(links, [link("/r", ["title*", "UTF-8'en'%E2%82%AC%20rates"])]);
		equal(serializeLinkFormat(links), "</r>;title*=UTF-8'en'%E2%82%AC%20rates");
	});

	test("serializer: ptokens bare, everything else quoted, title and anchor always quoted", () => {
		equal(serializeLinkFormat([link("", ["brski-jp", "5684"])]), "<>;brski-jp=5684");
		equal(
			serializeLinkFormat([link("/s", ["rt", "a b"], ["if", "x,y"], ["z", "p;q"], ["e", ""], ["u", "é"], ["c", "\n"])]),
			'</s>;rt="a b";if="x,y";z="p;q";e="";u="é";c="\\\n"',
		);
		equal(serializeLinkFormat([link("/t", ["anchor", "/sensors/temp"], ["title", "x"])]), '</t>;anchor="/sensors/temp";title="x"');
		equal(serializeLinkFormat([link("/a"), link("/b", ["obs", true])]), "</a>,</b>;obs");
	});

	test("serializer refuses what cannot be written", () => {
		throws(() => serializeLinkFormat([link("a>b")]), LinkFormatError);
		throws(() => serializeLinkFormat([link("a b")]), LinkFormatError);
		throws(() => serializeLinkFormat([link("%4")]), LinkFormatError);
		throws(() => serializeLinkFormat([link("a", ["", "x"])]), LinkFormatError);
		throws(() => serializeLinkFormat([link("a", ["a=b", "x"])]), LinkFormatError);
		throws(() => serializeLinkFormat([link("a", ["title*", "plain"])]), LinkFormatError);
		throws(() => serializeLinkFormat([link("a", ["title*", true])]), LinkFormatError);
	});

	test("cBRSKI: the join proxy answers ?brski-jp=* with <>;brski-jp=5684", () => {
		const wellKnown = parseLinkFormat("<>;brski-jp=5684,</.well-known/brski>;rt=brski,</sensors>;ct=40");
		const found = filterLinks(wellKnown, ["brski-jp=*"]);
		deepEqual(found, [link("", ["brski-jp", "5684"])]);
		equal(attribute(found[0]!, "brski-jp"), "5684");
		deepEqual(filterLinks(wellKnown, ["brski-jp"]), found);
		deepEqual(filterLinks(wellKnown, ["brski-jp=5684"]), found);
		deepEqual(filterLinks(wellKnown, ["brski-jp=5683"]), []);
		// A valueless brski-jp also answers brski-jp=*: "*" alone asks only for presence.
		deepEqual(targets(filterLinks(parseLinkFormat("<>;brski-jp"), ["brski-jp=*"])), [""]);
	});

	test("cBRSKI: registrar discovery by rt=brski.rjp and by rt=brski* prefix", () => {
		const links = parseLinkFormat("</.well-known/brski>;rt=brski,<coaps://[2001:db8::1]:5685>;rt=brski.rjp,</x>;rt=other");
		deepEqual(links[1], link("coaps://[2001:db8::1]:5685", ["rt", "brski.rjp"]));
		deepEqual(targets(filterLinks(links, ["rt=brski.rjp"])), ["coaps://[2001:db8::1]:5685"]);
		deepEqual(targets(filterLinks(links, ["rt=brski"])), ["/.well-known/brski"]);
		deepEqual(targets(filterLinks(links, ["rt=brski*"])), ["/.well-known/brski", "coaps://[2001:db8::1]:5685"]);
		deepEqual(targets(filterLinks(links, ["rt=*"])), targets(links));
		equal(serializeLinkFormat([links[1]!]), "<coaps://[2001:db8::1]:5685>;rt=brski.rjp");
	});

	test("filter: list-valued rt/if/rel match any entry, other attributes the whole value", () => {
		const links = parseLinkFormat('</a>;rt="core.s  brski.rjp";title="core.s x",</b>;rt="core.rd";if="core.b core.lb"');
		deepEqual(targets(filterLinks(links, ["rt=brski.rjp"])), ["/a"]);
		deepEqual(targets(filterLinks(links, ["rt=core.*"])), ["/a", "/b"]);
		deepEqual(targets(filterLinks(links, ["if=core.lb"])), ["/b"]);
		deepEqual(targets(filterLinks(links, ["title=core.s"])), []);
		deepEqual(targets(filterLinks(links, ["title=core.s*"])), ["/a"]);
		deepEqual(targets(filterLinks(links, ["rt=core.s brski.rjp"])), []);
	});

	test("filter: several query items must all match", () => {
		const links = parseLinkFormat("</a>;rt=brski.rjp;ct=0,</b>;rt=brski.rjp;ct=60;obs,</c>;rt=brski;ct=60");
		deepEqual(targets(filterLinks(links, ["rt=brski.rjp", "ct=60"])), ["/b"]);
		deepEqual(targets(filterLinks(links, ["rt=brski*", "ct=60"])), ["/b", "/c"]);
		deepEqual(targets(filterLinks(links, ["rt=brski*", "obs"])), ["/b"]);
		deepEqual(targets(filterLinks(links, ["href=/a", "ct=60"])), []);
		deepEqual(targets(filterLinks(links, [])), ["/a", "/b", "/c"]);
		deepEqual(targets(filterLinks(links, [""])), ["/a", "/b", "/c"]);
		deepEqual(targets(filterLinks(links, ["unknown=1"])), []);
		deepEqual(targets(filterLinks(parseLinkFormat("</u>;unknown=1"), ["unknown=1"])), ["/u"]);
	});

	test("property: 2000 random link lists survive serialize -> parse exactly", () => {
		const rnd = new SeededRandom(6690);
		for (let i = 0; i < 2000; i++) {
			const links = randomLinks(rnd);
			const text = serializeLinkFormat(links);
			let back: Link[];
			try {
				back = parseLinkFormat(text);
			} catch (e) {
				throw new Error(`case ${i}: ${JSON.stringify(text)} did not parse: ${String(e)}`);
			}
			deepEqual(back, links, `case ${i}: ${JSON.stringify(text)}`);
		}
	});

	test("property: 3000 random and mutated documents parse or throw LinkFormatError, never anything else", () => {
		const rnd = new SeededRandom(8288);
		const fuzzChars = [...MUTATION_CHARS, ..."abc/:[]"];
		let parsed = 0;
		let rejected = 0;
		for (let i = 0; i < 3000; i++) {
			const text = i % 3 === 0 ? randomString(rnd, fuzzChars, 0, 24) : mutate(rnd, serializeLinkFormat(randomLinks(rnd)));
			const links = parseOrReject(text);
			if (links === undefined) {
				rejected++;
				continue;
			}
			parsed++;
			// Whatever parses is writable, and reads back the same.
			deepEqual(parseLinkFormat(serializeLinkFormat(links)), links, JSON.stringify(text));
		}
		ok(parsed > 100 && rejected > 100, `fuzzing should exercise both outcomes (parsed ${parsed}, rejected ${rejected})`);
	});

	test("large hostile inputs are handled in linear time", () => {
		const n = 50000;
		const escapes = '<a>;t="' + '\\"'.repeat(n) + '"';
		equal((attribute(parseLinkFormat(escapes)[0]!, "t") as string).length, n);
		equal(parseLinkFormat("<a>" + ";x".repeat(n))[0]!.attributes.length, n);
		equal(parseLinkFormat("<a>,".repeat(n) + "<a>").length, n + 1);
		throws(() => parseLinkFormat("<" + "a".repeat(n)), LinkFormatError);
		throws(() => parseLinkFormat('<a>;t="' + "\\\\".repeat(n)), LinkFormatError);
		throws(() => parseLinkFormat("<a>;x".repeat(n)), LinkFormatError);
		equal(serializeLinkFormat([link("a", ["t", '"'.repeat(n)])]).length, 8 + 2 * n);
	});
});
