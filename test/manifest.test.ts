/*
 * manifest.json must list exactly the device code, with specifiers that mirror the folders, so
 * that mcconfig builds what Node tests and relative imports mean the same module on both.
 * Node-only. The checker lives in tools/manifest-check.ts; the last tests feed it fake trees to
 * prove each rule can fail.
 */

import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import {
	allProblems,
	checkManifest,
	expandModules,
	loadTree,
	readManifest,
	type Tree,
} from "../tools/manifest-check.js";

const root = fileURLToPath(new URL("..", import.meta.url));
const manifest = readManifest(root) as Record<string, unknown>;
const tree = loadTree(root);
const report = checkManifest(manifest, tree);

function none(problems: string[]): void {
	assert.deepEqual(problems, [], "\n" + problems.join("\n"));
}

describe("manifest.json", () => {
	it("is a Moddable manifest for this project", () => {
		assert.ok(Array.isArray(manifest["include"]), "include is an array");
		assert.ok((manifest["include"] as unknown[]).includes("$(MODDABLE)/examples/manifest_base.json"), "includes manifest_base.json");
		const ts = manifest["typescript"] as { tsconfig?: { compilerOptions?: unknown } } | undefined;
		assert.deepEqual(ts?.tsconfig?.compilerOptions, {
			strict: true,
			noUncheckedIndexedAccess: true,
			target: "es2022",
			lib: ["es2022"],
		});
		assert.deepEqual(manifest["config"], { joinProxy: { port: 5684 } });
		const creation = manifest["creation"] as Record<string, unknown> | undefined;
		assert.equal(creation?.["static"], 0, "ESP32 uses separate pools (static: 0)");
		assert.ok(creation?.["chunk"] !== undefined && creation?.["heap"] !== undefined && creation?.["stack"] !== undefined);
	});

	it("(a) lists every device file exactly once, and no test file", () => none(report.coverage));
	it("(b) every specifier resolves to an existing file", () => none(report.resolve));
	it("(c) every specifier mirrors its file's path", () => none(report.mirror));
	it("(d) relative imports resolve to the same listed file on Node and on the device", () => none(report.imports));
	it("(e) preload names match listed modules, and every module is preloaded", () => none(report.preload));
});

describe("manifest_joinproxy.json (the join proxy node's device build)", () => {
	const jp = JSON.parse(readFileSync(join(root, "manifest_joinproxy.json"), "utf8")) as Record<string, unknown>;
	const r = checkManifest(jp, tree);
	it("every specifier resolves, mirrors its path (or is a host stand-in), and relative imports resolve alike", () => none([...r.resolve, ...r.mirror, ...r.imports]));
	it("every module is preloaded by its exact name", () => none(r.preload));
	it("lists no third-party file: the device uses crypt's native AES", () => {
		assert.deepEqual(r.expansion.externalKeys.filter((k) => !k.startsWith("$(")), []);
	});
});

describe("manifest_crypto.json (the native CryptoProvider of the device apps)", () => {
	const m = JSON.parse(readFileSync(join(root, "manifest_crypto.json"), "utf8")) as Record<string, unknown>;
	const r = checkManifest(m, tree);
	it("every specifier resolves, mirrors its path (or is a host stand-in), and relative imports resolve alike", () => none([...r.resolve, ...r.mirror, ...r.imports]));
	it("every module is preloaded by its exact name", () => none(r.preload));
	it("lists no third-party file: SHA-256, AES and P-256 are the SDK's native ones", () => {
		const sources = Object.values(m["modules"] as Record<string, string | string[]>).flat();
		assert.deepEqual(sources.filter((s) => !s.startsWith("./") && !s.startsWith("$(MODULES)/crypt/")), []);
		assert.deepEqual(sources.filter((s) => s.includes("node_modules")), []);
	});
});

describe("manifest_host.json (the Moddable Host of the device apps)", () => {
	const m = JSON.parse(readFileSync(join(root, "manifest_host.json"), "utf8")) as Record<string, unknown>;
	const r = checkManifest(m, tree);
	it("every specifier resolves, mirrors its path, and relative imports resolve alike", () => none([...r.resolve, ...r.mirror, ...r.imports]));
	it("every module is preloaded by its exact name", () => none(r.preload));
});

describe("manifest_pledge.json (the pledge's device build)", () => {
	const m = JSON.parse(readFileSync(join(root, "manifest_pledge.json"), "utf8")) as Record<string, unknown>;
	const host = JSON.parse(readFileSync(join(root, "manifest_host.json"), "utf8")) as Record<string, unknown>;
	const crypto = JSON.parse(readFileSync(join(root, "manifest_crypto.json"), "utf8")) as Record<string, unknown>;
	// What mcconfig builds: this manifest with the two it includes.
	const merged = {
		modules: { ...(crypto["modules"] as object), ...(host["modules"] as object), ...(m["modules"] as object) },
		preload: [...(crypto["preload"] as string[]), ...(host["preload"] as string[]), ...(m["preload"] as string[])],
	};
	const r = checkManifest(merged, tree);
	it("every specifier resolves, mirrors its path (or is a host stand-in), and relative imports resolve alike", () => none([...r.resolve, ...r.mirror, ...r.imports]));
	it("every module is preloaded by its exact name", () => none(r.preload));
	it("lists only cbor-x's encode and decode from npm, no noble: the device uses the native CryptoProvider", () => {
		const sources = Object.values(merged.modules as Record<string, string | string[]>).flat();
		assert.deepEqual(sources.filter((s) => s.includes("node_modules")), ["./node_modules/cbor-x/encode", "./node_modules/cbor-x/decode"]);
	});
});

/* ------------------------------------------------------------------------------------------- */

function fakeTree(files: Record<string, string>): Tree {
	return {
		files: Object.keys(files).sort(),
		read: (p) => {
			const text = files[p];
			if (text === undefined) throw new Error(`fake tree has no ${p}`);
			return text;
		},
	};
}

const goodFiles = {
	"modules/coap/message.ts": `import { utf8Encode } from "../util/utf8.js";\nimport { CoapParseError } from "./errors.js";\nimport type { Clock } from "../../hosts/host.js";\n`,
	"modules/coap/errors.ts": "export class CoapParseError extends Error {}\n",
	"modules/util/utf8.ts": "export function utf8Encode() {}\n",
	"modules/util/types.d.ts": "export type X = number;\n",
	"hosts/host.ts": "export interface Clock {}\n",
	"hosts/node/udp.ts": `import dgram from "node:dgram";\n`,
	"test/coap.test.ts": "",
	"README.md": "",
};
const goodManifest = {
	modules: { "coap/*": "./modules/coap/*", "util/*": "./modules/util/*", host: "./hosts/host" },
	preload: ["coap/errors", "coap/message", "util/utf8", "host"],
};

describe("manifest checker (fake trees)", () => {
	it("expands keys like mcconfig: dir globs, plain keys, \"*\", prefixes, \"~\" and .d.ts", () => {
		const t = fakeTree({ ...goodFiles, "modules/coap/old.ts": "", "modules/crypt/aes_ccm.ts": "", "modules/crypt/aes_gcm.ts": "", "src/main.ts": "" });
		const exp = expandModules(
			{ ...goodManifest.modules, "~": "./modules/coap/old", "*": "./src/main", "ccm/*": "./modules/crypt/aes_*" },
			t,
		);
		assert.deepEqual(exp.problems, []);
		const got = exp.entries.map((e) => `${e.specifier}=${e.file}${e.typeOnly ? " (types)" : ""}`).sort();
		assert.deepEqual(got, [
			"ccm/ccm=modules/crypt/aes_ccm.ts",
			"ccm/gcm=modules/crypt/aes_gcm.ts",
			"coap/errors=modules/coap/errors.ts",
			"coap/message=modules/coap/message.ts",
			"host=hosts/host.ts",
			"main=src/main.ts",
			"util/types=modules/util/types.d.ts (types)",
			"util/utf8=modules/util/utf8.ts",
		]);
	});

	it("passes a well-formed fake manifest", () => {
		none(allProblems(checkManifest(goodManifest, fakeTree(goodFiles))));
	});

	it("(a) reports a file whose folder has no key", () => {
		const r = checkManifest(goodManifest, fakeTree({ ...goodFiles, "modules/cbor/decode.ts": "" }));
		assert.equal(r.coverage.length, 1, r.coverage.join("\n"));
		assert.match(r.coverage[0]!, /^modules\/cbor\/decode\.ts: not listed.*"cbor\/\*": "\.\/modules\/cbor\/\*"/);
	});

	it("(a) reports a nested folder, since \"dir/*\" is not recursive", () => {
		const r = checkManifest(goodManifest, fakeTree({ ...goodFiles, "modules/coap/block/block1.ts": "" }));
		assert.equal(r.coverage.length, 1, r.coverage.join("\n"));
		assert.match(r.coverage[0]!, /^modules\/coap\/block\/block1\.ts: not listed.*"coap\/block\/\*"/);
	});

	it("(a) reports a file listed twice, and a test file swept in by a glob", () => {
		const m = { modules: { ...goodManifest.modules, "c/*": "./modules/coap/*" }, preload: ["*"] };
		const r = checkManifest(m, fakeTree({ ...goodFiles, "modules/util/utf8.test.ts": "" }));
		assert.ok(r.coverage.some((p) => p.startsWith("modules/coap/errors.ts: listed by 2 specifiers")), r.coverage.join("\n"));
		assert.ok(r.coverage.some((p) => p.startsWith("modules/util/utf8.test.ts: test file swept")), r.coverage.join("\n"));
	});

	it("(b) reports a key whose file does not exist", () => {
		const r = checkManifest({ modules: { ...goodManifest.modules, main: "./src/main" }, preload: goodManifest.preload }, fakeTree(goodFiles));
		assert.ok(r.resolve.some((p) => p.includes('"main"') && p.includes("./src/main")), r.resolve.join("\n"));
	});

	it("(c) reports a specifier that does not mirror its path", () => {
		const m = { modules: { "proto/*": "./modules/coap/*", "util/*": "./modules/util/*", host: "./hosts/host" }, preload: ["*"] };
		const r = checkManifest(m, fakeTree(goodFiles));
		assert.ok(r.mirror.some((p) => p.startsWith('specifier "proto/message" for modules/coap/message.ts')), r.mirror.join("\n"));
	});

	it("(d) reports imports of unlisted files and imports that resolve differently on the device", () => {
		const files = {
			...goodFiles,
			"src/joinproxy/proxy.ts": `import { decode } from "../../modules/coap/message.js";\n`,
			"modules/coap/codec.ts": `import { x } from "./missing.js";\nimport { y } from "../util/utf8";\n`,
		};
		const m = { modules: { "coap/*": "./modules/coap/*", "joinproxy/*": "./src/joinproxy/*", host: "./hosts/host" }, preload: ["*"] };
		const r = checkManifest(m, fakeTree(files));
		const text = r.imports.join("\n");
		assert.match(text, /modules\/coap\/message\.ts:1: import "\.\.\/util\/utf8\.js" resolves on Node to modules\/util\/utf8\.ts, which manifest\.json does not list/);
		assert.match(text, /src\/joinproxy\/proxy\.ts:1: import "\.\.\/\.\.\/modules\/coap\/message\.js" climbs above/);
		assert.match(text, /modules\/coap\/codec\.ts:1: import "\.\/missing\.js" resolves on Node to modules\/coap\/missing\.js, which does not exist/);
		assert.match(text, /modules\/coap\/codec\.ts:2: import "\.\.\/util\/utf8" must end in "\.js"/);
	});

	it("(e) reports a preload name with no module, and a module that is not preloaded", () => {
		const r = checkManifest({ modules: goodManifest.modules, preload: ["coap/errors", "coap/message", "cbor/*", "host"] }, fakeTree(goodFiles));
		assert.ok(r.preload.includes('preload "cbor/*" matches no module listed in manifest.json "modules"'), r.preload.join("\n"));
		assert.ok(r.preload.some((p) => p.startsWith('module "util/utf8" (modules/util/utf8.ts) is not preloaded')), r.preload.join("\n"));
	});

	it("(e) a preload wildcard preloads .js modules only, as mcconfig's filterPreload does", () => {
		const files = { ...goodFiles, "modules/util/base64.js": "export {};\n" };
		const r = checkManifest({ modules: goodManifest.modules, preload: ["coap/*", "util/*", "host"] }, fakeTree(files));
		assert.ok(r.preload.some((p) => p.startsWith('module "coap/message" (modules/coap/message.ts) is not preloaded: mcconfig matches preload wildcards against .js files only')), r.preload.join("\n"));
		assert.ok(!r.preload.some((p) => p.includes('"util/base64"')), r.preload.join("\n"));
	});

	it("a hosts/moddable file may stand in for the modules/ specifier it mirrors, nothing else", () => {
		const files = { ...goodFiles, "hosts/moddable/util/utf8.ts": "", "hosts/moddable/other.ts": "" };
		const ok = checkManifest({ modules: { "util/*": "./modules/util/*", "modules/util/utf8": "./hosts/moddable/util/utf8" } }, fakeTree(files));
		assert.deepEqual(ok.mirror, []);
		const bad = checkManifest({ modules: { "modules/util/hex": "./hosts/moddable/other" } }, fakeTree(files));
		assert.equal(bad.mirror.length, 1, bad.mirror.join("\n"));
	});
});
