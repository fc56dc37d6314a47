/*
 * XS boundary checker (Node-only tool). Code in the XS-bound folders must run on the Moddable XS
 * engine as well as on Node, so it may not import Node built-ins or arbitrary npm packages, and may
 * not touch globals that XS does not provide (moddable-notes §2.3: no TextEncoder, setTimeout,
 * console, structuredClone, URL, queueMicrotask or crypto unless a module installs them).
 *
 * The check is syntactic: each file is parsed with ts.createSourceFile and its AST walked; no type
 * checker. A global is reported when an identifier with its name is used as a value and no
 * declaration of that name (var/let/const, parameter, function, class, import, catch binding...)
 * is in an enclosing scope. Property names (`x.console`), object keys and type positions are not
 * references. `typeof X` on its own is allowed: it is how code probes for an optional global.
 *
 * Run: node --import tsx tools/xs-boundary.ts   (exits 1 and prints `file:line: message` lines)
 */

import { readdirSync, readFileSync } from "node:fs";
import { builtinModules } from "node:module";
import { posix, join, sep } from "node:path";
import { pathToFileURL } from "node:url";
import ts from "typescript";

/** Folders (and single files) whose code runs on XS, relative to the repo root, posix separators. */
export const XS_BOUND = [
	"modules/",
	"src/joinproxy/",
	"src/pledge/",
	"hosts/xs/",
	"hosts/sim/",
	"hosts/moddable/",
	"hosts/host.ts",
	"test/suites/",
	"test/lib/",
] as const;

/** npm packages XS-bound code may import (pure ES modules that run on XS); subpaths allowed. */
export const ALLOWED_PACKAGES = ["@noble/curves", "@noble/hashes", "@noble/ciphers", "cbor-x"] as const;

/**
 * Moddable SDK module specifiers the device host adapter (hosts/moddable only) may import; the
 * manifest's includes provide them. `embedded:*` (ECMA-419) is allowed there as well.
 */
export const MODDABLE_SPECIFIERS = [
	"timer", "time", "rng", "crypt", "instrumentation", "debug", "mc/config", "text/encoder", "text/decoder",
	"preference", "flash", "file", "socket", "net", "wifi", "dns", "sntp", "Resource", "hex", "base64", "crc",
	"ecdsa", "curve", "hmac", "ber", "pkcs1", "mont", "ec", "ecp", "modular",
] as const;

/** Globals Node (or browsers) have and XS does not. */
export const MISSING_GLOBALS: ReadonlySet<string> = new Set([
	"Buffer", "process", "require", "module", "__dirname", "__filename",
	"setTimeout", "clearTimeout", "setInterval", "clearInterval", "setImmediate", "queueMicrotask",
	"structuredClone", "console", "TextEncoder", "TextDecoder", "crypto", "performance", "fetch",
	"URL", "URLSearchParams", "window", "document", "navigator", "global", "atob", "btoa",
]);

const NODE_BUILTINS: ReadonlySet<string> = new Set(builtinModules.map((m) => m.replace(/^node:/, "")));

export function isNodeBuiltin(specifier: string): boolean {
	if (specifier.startsWith("node:")) return true; // includes prefix-only modules (node:test, node:sqlite...)
	return NODE_BUILTINS.has(specifier) || NODE_BUILTINS.has(specifier.split("/")[0]!);
}

export function isRelative(specifier: string): boolean {
	return specifier.startsWith("./") || specifier.startsWith("../");
}

export function isXsBound(file: string): boolean {
	return XS_BOUND.some((root) => (root.endsWith("/") ? file.startsWith(root) : file === root));
}

export interface ImportRef {
	specifier: string;
	line: number;
	/** Erased at compile time (`import type`, `export type ... from`, `typeof import("x")`). */
	typeOnly: boolean;
	kind: "import" | "export" | "dynamic" | "import-equals" | "import-type";
}

function lineOf(sf: ts.SourceFile, node: ts.Node): number {
	return sf.getLineAndCharacterOfPosition(node.getStart(sf)).line + 1;
}

function scriptKind(fileName: string): ts.ScriptKind {
	return /\.[cm]?js$/.test(fileName) ? ts.ScriptKind.JS : ts.ScriptKind.TS;
}

export function parse(fileName: string, text: string): ts.SourceFile {
	return ts.createSourceFile(fileName, text, ts.ScriptTarget.ES2022, true, scriptKind(fileName));
}

/**
 * Every module reference in a file: static imports and re-exports, `import x = require()`,
 * `import()` calls and `import("x")` types. A dynamic import with a computed specifier is
 * returned with specifier "" so callers can report it.
 */
export function collectImports(sf: ts.SourceFile): ImportRef[] {
	const out: ImportRef[] = [];
	const visit = (node: ts.Node): void => {
		if (ts.isImportDeclaration(node) && ts.isStringLiteral(node.moduleSpecifier)) {
			out.push({ specifier: node.moduleSpecifier.text, line: lineOf(sf, node), typeOnly: node.importClause?.isTypeOnly === true, kind: "import" });
		} else if (ts.isExportDeclaration(node) && node.moduleSpecifier && ts.isStringLiteral(node.moduleSpecifier)) {
			out.push({ specifier: node.moduleSpecifier.text, line: lineOf(sf, node), typeOnly: node.isTypeOnly, kind: "export" });
		} else if (ts.isImportEqualsDeclaration(node) && ts.isExternalModuleReference(node.moduleReference)) {
			const e = node.moduleReference.expression;
			out.push({ specifier: ts.isStringLiteral(e) ? e.text : "", line: lineOf(sf, node), typeOnly: node.isTypeOnly, kind: "import-equals" });
		} else if (ts.isCallExpression(node) && node.expression.kind === ts.SyntaxKind.ImportKeyword) {
			const arg = node.arguments[0];
			const specifier = arg !== undefined && ts.isStringLiteralLike(arg) ? arg.text : "";
			out.push({ specifier, line: lineOf(sf, node), typeOnly: false, kind: "dynamic" });
		} else if (ts.isImportTypeNode(node) && ts.isLiteralTypeNode(node.argument) && ts.isStringLiteral(node.argument.literal)) {
			out.push({ specifier: node.argument.literal.text, line: lineOf(sf, node), typeOnly: true, kind: "import-type" });
		}
		ts.forEachChild(node, visit);
	};
	visit(sf);
	return out;
}

/* ---------------------------------------------------------------------------------------------
 * Scopes: which names each scope node declares.
 */

function isScopeNode(n: ts.Node): boolean {
	return (
		ts.isSourceFile(n) || ts.isBlock(n) || ts.isModuleBlock(n) || ts.isCaseBlock(n) ||
		ts.isForStatement(n) || ts.isForInStatement(n) || ts.isForOfStatement(n) || ts.isCatchClause(n) ||
		ts.isFunctionLike(n) || ts.isClassLike(n) || ts.isClassStaticBlockDeclaration(n)
	);
}

function isVarScopeNode(n: ts.Node): boolean {
	return ts.isSourceFile(n) || ts.isModuleBlock(n) || ts.isFunctionLike(n) || ts.isClassStaticBlockDeclaration(n);
}

function nearest(from: ts.Node | undefined, pred: (n: ts.Node) => boolean): ts.Node | undefined {
	for (let n = from; n !== undefined; n = n.parent) if (pred(n)) return n;
	return undefined;
}

/** A `declare` declaration (or a .d.ts file): it creates no runtime binding and runs no code. */
function isAmbient(n: ts.Node): boolean {
	if (ts.isSourceFile(n)) return n.isDeclarationFile;
	return ts.canHaveModifiers(n) && ts.getModifiers(n)?.some((m) => m.kind === ts.SyntaxKind.DeclareKeyword) === true;
}

function bindingNames(name: ts.BindingName, out: string[]): string[] {
	if (ts.isIdentifier(name)) out.push(name.text);
	else for (const el of name.elements) if (!ts.isOmittedExpression(el)) bindingNames(el.name, out);
	return out;
}

function collectScopes(sf: ts.SourceFile): Map<ts.Node, Set<string>> {
	const scopes = new Map<ts.Node, Set<string>>();
	const declare = (scope: ts.Node | undefined, names: readonly string[]): void => {
		if (scope === undefined) return;
		let set = scopes.get(scope);
		if (set === undefined) scopes.set(scope, (set = new Set()));
		for (const n of names) set.add(n);
	};
	const visit = (node: ts.Node): void => {
		if (isAmbient(node)) return; // `declare ...` creates no runtime binding
		if (ts.isVariableDeclaration(node)) {
			const names = bindingNames(node.name, []);
			if (ts.isCatchClause(node.parent)) declare(node.parent, names);
			else {
				const list = node.parent;
				const blockScoped = (list.flags & ts.NodeFlags.BlockScoped) !== 0;
				declare(nearest(list.parent, blockScoped ? isScopeNode : isVarScopeNode), names);
			}
		} else if (ts.isParameter(node)) {
			declare(node.parent, bindingNames(node.name, []));
		} else if (ts.isFunctionDeclaration(node) || ts.isClassDeclaration(node) || ts.isEnumDeclaration(node)) {
			if (node.name) declare(nearest(node.parent, isScopeNode), [node.name.text]);
		} else if (ts.isModuleDeclaration(node) && ts.isIdentifier(node.name)) {
			declare(nearest(node.parent, isScopeNode), [node.name.text]);
		} else if (ts.isFunctionExpression(node) || ts.isClassExpression(node)) {
			if (node.name) declare(node, [node.name.text]);
		} else if (ts.isImportClause(node) || ts.isNamespaceImport(node) || ts.isImportSpecifier(node) || ts.isImportEqualsDeclaration(node)) {
			if (node.name) declare(nearest(node.parent, isScopeNode), [node.name.text]);
		}
		ts.forEachChild(node, visit);
	};
	visit(sf);
	return scopes;
}

/** True when `id` is used as a value reference (not a declaration, property name, label...). */
function isValueReference(id: ts.Identifier): boolean {
	const p = id.parent;
	if (ts.isShorthandPropertyAssignment(p)) return p.name === id;
	if (ts.isExportSpecifier(p)) {
		if (p.parent.parent.moduleSpecifier !== undefined) return false;
		return (p.propertyName ?? p.name) === id;
	}
	if (ts.isPropertyAccessExpression(p)) return p.expression === id;
	if (ts.isQualifiedName(p) || ts.isMetaProperty(p)) return false;
	if (ts.isBindingElement(p)) return p.initializer === id;
	if (ts.isLabeledStatement(p) || ts.isBreakOrContinueStatement(p)) return false;
	if (ts.isTypeOfExpression(p)) return false; // `typeof X` probes safely on XS
	// Any other node holding the identifier as its `name` declares it or names a property/member.
	if ((p as { name?: ts.Node }).name === id) return false;
	return true;
}

function findFreeGlobals(sf: ts.SourceFile, scopes: Map<ts.Node, Set<string>>, report: (node: ts.Node, msg: string) => void): void {
	const visit = (node: ts.Node): void => {
		if (isAmbient(node)) return;
		if (ts.isImportDeclaration(node) || ts.isImportEqualsDeclaration(node)) return;
		if (ts.isExportDeclaration(node) && (node.moduleSpecifier !== undefined || node.isTypeOnly)) return;
		if (ts.isInterfaceDeclaration(node) || ts.isTypeAliasDeclaration(node) || ts.isTypeParameterDeclaration(node)) return;
		if (ts.isHeritageClause(node)) {
			// `class X extends Base` evaluates Base; `implements` and interface `extends` are types.
			if (node.token === ts.SyntaxKind.ExtendsKeyword && ts.isClassLike(node.parent)) {
				for (const t of node.types) visit(t.expression);
			}
			return;
		}
		if (ts.isTypeNode(node)) return;
		if (ts.isIdentifier(node)) {
			const name = node.text;
			if (MISSING_GLOBALS.has(name) && isValueReference(node)) {
				let bound = false;
				for (let a: ts.Node | undefined = node.parent; a !== undefined && !bound; a = a.parent) {
					bound = scopes.get(a)?.has(name) === true;
				}
				if (!bound) report(node, `uses global "${name}", which XS does not provide`);
			}
			return;
		}
		ts.forEachChild(node, visit);
	};
	visit(sf);
}

function isModdableSpecifier(specifier: string): boolean {
	return specifier.startsWith("embedded:") || (MODDABLE_SPECIFIERS as readonly string[]).includes(specifier);
}

/**
 * Checks one file's source. `fileName` is used in messages and, when it is a repo-relative path
 * inside the XS-bound folders, to check that relative imports stay inside them.
 * Returns `file:line: message` strings; empty when the file is clean.
 */
export function checkSource(fileName: string, text: string): string[] {
	const sf = parse(fileName, text);
	const findings: { line: number; msg: string }[] = [];
	const at = (line: number, msg: string): void => {
		findings.push({ line, msg });
	};
	const file = fileName.split(sep).join("/");
	const inModdableHost = file.startsWith("hosts/moddable/") || file.includes("/hosts/moddable/");

	for (const imp of collectImports(sf)) {
		const s = imp.specifier;
		if (s === "") {
			at(imp.line, `${imp.kind === "dynamic" ? "import()" : "import = require()"} with a computed specifier: cannot check it, and the device needs every module in the manifest`);
		} else if (isNodeBuiltin(s)) {
			at(imp.line, `imports Node built-in "${s}" (XS has no Node built-ins${imp.typeOnly ? "; even a type-only import pulls @types/node globals into the XS type check" : ""})`);
		} else if (isRelative(s)) {
			if (!imp.typeOnly && isXsBound(file)) {
				const target = posix.normalize(posix.join(posix.dirname(file), s));
				if (!isXsBound(target) && !isXsBound(target.replace(/\.js$/, ".ts"))) {
					at(imp.line, `imports "${s}" (${target}), which is outside the XS-bound folders`);
				}
			}
		} else if (s.startsWith("/") || (/^[a-z][a-z0-9+.-]*:/i.test(s) && !(inModdableHost && s.startsWith("embedded:")))) {
			at(imp.line, `imports "${s}": absolute paths and scheme specifiers do not belong in host-independent XS code`);
		} else if (ALLOWED_PACKAGES.some((p) => s === p || s.startsWith(p + "/"))) {
			// allowed
		} else if (inModdableHost && isModdableSpecifier(s)) {
			// the device host adapter may use the Moddable SDK
		} else {
			at(imp.line, `imports package "${s}", which is not allowed in XS-bound code (allowed: ${ALLOWED_PACKAGES.join(", ")})`);
		}
	}

	findFreeGlobals(sf, collectScopes(sf), (node, msg) => at(lineOf(sf, node), msg));

	findings.sort((a, b) => a.line - b.line);
	return findings.map((f) => `${fileName}:${f.line}: ${f.msg}`);
}

/* ---------------------------------------------------------------------------------------------
 * The tree.
 */

const SKIP_DIRS = new Set(["node_modules", ".git", "build"]);

function walk(root: string, dir: string, out: string[]): void {
	let entries;
	try {
		entries = readdirSync(join(root, dir), { withFileTypes: true });
	} catch {
		return; // folder does not exist (yet)
	}
	for (const e of entries) {
		if (e.name.startsWith(".") || SKIP_DIRS.has(e.name)) continue;
		const rel = dir === "" ? e.name : `${dir}/${e.name}`;
		if (e.isDirectory()) walk(root, rel, out);
		else if (e.isFile()) out.push(rel);
	}
}

/** Every repo-relative file path under `root` (posix separators), skipping node_modules, .git, build and dot entries. */
export function listFiles(root: string, dir = ""): string[] {
	const out: string[] = [];
	walk(root, dir, out);
	return out.sort();
}

/** The source files (.ts, .mts, .js, .mjs) in the XS-bound folders. */
export function xsBoundFiles(root: string): string[] {
	const out: string[] = [];
	for (const r of XS_BOUND) {
		if (r.endsWith("/")) out.push(...listFiles(root, r.slice(0, -1)));
		else out.push(...listFiles(root, posix.dirname(r)).filter((f) => f === r));
	}
	return out.filter((f) => /\.(m?ts|m?js)$/.test(f)).sort();
}

export function checkTree(root: string): string[] {
	const findings: string[] = [];
	for (const f of xsBoundFiles(root)) findings.push(...checkSource(f, readFileSync(join(root, f), "utf8")));
	return findings;
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
	const findings = checkTree(process.cwd());
	for (const f of findings) console.log(f);
	process.exitCode = findings.length === 0 ? 0 : 1;
}
