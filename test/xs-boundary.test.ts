/*
 * Code that must also run on XS (modules/, src/joinproxy/, src/pledge/, hosts/xs/, hosts/moddable/,
 * hosts/host.ts, test/suites/, test/lib/) may not import Node built-ins or unlisted npm packages,
 * nor use globals XS lacks. Node-only; the checker is tools/xs-boundary.ts.
 */

import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { fileURLToPath } from "node:url";
import { checkSource, checkTree, xsBoundFiles } from "../tools/xs-boundary.js";

const root = fileURLToPath(new URL("..", import.meta.url));

describe("XS boundary", () => {
	it("the XS-bound tree has no Node-only imports or globals", () => {
		assert.ok(xsBoundFiles(root).includes("hosts/host.ts"), "the checker sees the XS-bound files");
		const findings = checkTree(root);
		assert.deepEqual(findings, [], "\n" + findings.join("\n"));
	});
});

/** Checks `lines` as a file in modules/ and returns the findings. */
function check(...lines: string[]): string[] {
	return checkSource("modules/demo/snippet.ts", lines.join("\n") + "\n");
}

function reports(findings: string[], line: number, pattern: RegExp): void {
	assert.ok(
		findings.some((f) => f.startsWith(`modules/demo/snippet.ts:${line}: `) && pattern.test(f)),
		`expected a finding at line ${line} matching ${pattern}, got:\n${findings.join("\n")}`,
	);
}

describe("XS boundary checker (snippets)", () => {
	it("reports Node built-ins, with or without node:, in every import form", () => {
		const f = check(
			`import fs from "node:fs";`,
			`import { createSocket } from "dgram";`,
			`export { join } from "node:path";`,
			`const m = await import("node:crypto");`,
			`import type { Socket } from "node:net";`,
			`import { readFile } from "fs/promises";`,
		);
		reports(f, 1, /Node built-in "node:fs"/);
		reports(f, 2, /Node built-in "dgram"/);
		reports(f, 3, /Node built-in "node:path"/);
		reports(f, 4, /Node built-in "node:crypto"/);
		reports(f, 5, /Node built-in "node:net"/);
		reports(f, 6, /Node built-in "fs\/promises"/);
		assert.equal(f.length, 6, f.join("\n"));
	});

	it("reports packages outside the allow-list, but allows the allow-list and its subpaths", () => {
		const f = check(
			`import { p256 } from "@noble/curves/nist.js";`,
			`import { sha256 } from "@noble/hashes/sha2.js";`,
			`import { gcm } from "@noble/ciphers/aes.js";`,
			`import { encode } from "cbor-x";`,
			`import _ from "lodash";`,
			`import { x } from "@noble/curvesque";`,
			`import Timer from "timer";`,
		);
		assert.equal(f.length, 3, f.join("\n"));
		reports(f, 5, /package "lodash"/);
		reports(f, 6, /package "@noble\/curvesque"/);
		reports(f, 7, /package "timer"/);
	});

	it("allows Moddable SDK modules in the device host adapter only", () => {
		assert.deepEqual(checkSource("hosts/moddable/udp.ts", `import UDP from "embedded:io/socket/udp";\nimport Timer from "timer";\n`), []);
		assert.equal(checkSource("modules/coap/x.ts", `import Timer from "timer";\n`).length, 1);
	});

	it("reports relative imports that leave the XS-bound folders", () => {
		const f = check(`import { NodeUdp } from "../../hosts/node/udp.js";`, `import { utf8Encode } from "../util/utf8.js";`);
		assert.equal(f.length, 1, f.join("\n"));
		reports(f, 1, /hosts\/node\/udp\.js.*outside the XS-bound folders/);
	});

	it("reports Buffer, setTimeout, console and the other missing globals", () => {
		const f = check(
			`const b = Buffer.from([1, 2]);`,
			`setTimeout(() => {}, 10);`,
			`console.log("hello");`,
			`const e = new TextEncoder();`,
			`const r = crypto.getRandomValues(new Uint8Array(4));`,
			`const t = performance.now();`,
			`queueMicrotask(() => {});`,
			`const c = structuredClone({});`,
			`const u = new URL("coap://x");`,
			`const q = require("x");`,
			`const o = { console };`,
			`class K extends URLSearchParams {}`,
			`function f(now = process.hrtime()) { return now; }`,
		);
		const names = ["Buffer", "setTimeout", "console", "TextEncoder", "crypto", "performance", "queueMicrotask", "structuredClone", "URL", "require", "console", "URLSearchParams", "process"];
		names.forEach((name, i) => reports(f, i + 1, new RegExp(`global "${name}"`)));
		assert.equal(f.length, names.length, f.join("\n"));
	});

	it("does not report property names, keys, locals, parameters, types or typeof probes", () => {
		const f = check(
			`export function log(x: { console: { log(m: string): void } }) { x.console.log("ok"); }`,
			`const crypto = { getRandomValues: (a: Uint8Array) => a };`,
			`crypto.getRandomValues(new Uint8Array(1));`,
			`const o = { console: 1, setTimeout() {}, Buffer: 2 };`,
			`class C { process = 1; fetch() { return this.process; } }`,
			`function g(Buffer: number) { return Buffer; }`,
			`try { g(1); } catch (URL) { void URL; }`,
			`for (const TextEncoder of [1]) void TextEncoder;`,
			`let c: Console | undefined; type T = typeof console;`,
			`if (typeof setTimeout === "function") void 0;`,
			`declare const trace: (m: string) => void;`,
			`const fe = function performance() { return performance; };`,
			`const { fetch: f2, atob } = { fetch: 1, atob: 2 }; void f2; void atob;`,
			`import { setTimeout as later } from "./timers.js"; later();`,
		);
		assert.deepEqual(f, []);
	});

	it("respects scopes: a local in one function does not hide the global in another", () => {
		const f = check(
			`function a() { const crypto = 1; return crypto; }`,
			`function b() { return crypto.subtle; }`,
			`{ let console = 1; void console; }`,
			`console.log("x");`,
			`declare const window: { x: number };`,
			`void window.x;`,
		);
		assert.equal(f.length, 3, f.join("\n"));
		reports(f, 2, /global "crypto"/);
		reports(f, 4, /global "console"/);
		reports(f, 6, /global "window"/);
	});
});
