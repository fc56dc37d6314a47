/*
 * Checks manifest.json against the tree (Node-only tool). The `modules` section is expanded the
 * way mcconfig expands it (tools/mcmanifest.js, Rule.iterate): a key `x/*` with value `./dir/*`
 * maps every module file `dir/NAME.ext` directly in `dir` (not in subfolders: the glob is not
 * recursive) to the specifier `x/NAME`; a plain key maps the one file whose name without extension
 * is the value's last segment; `"~"` lists sources to exclude; `$(VAR)` sources (SDK modules) and
 * `./node_modules/` sources (npm packages) are
 * outside the repo and are not expanded. Then:
 *
 *   coverage  every .ts/.js in the device folders is listed by exactly one specifier, and no test
 *             file is swept into the build by a glob;
 *   resolve   every key resolves to existing files (mcconfig errors/warns otherwise);
 *   mirror    each specifier is its file's path with leading folders dropped (coap/message for
 *             modules/coap/message.ts), so `./x.js` means the same module everywhere;
 *   imports   every relative import of a listed file resolves, on Node (by path) and on the device
 *             (XS strips `.js` and resolves against the importer's specifier), to the same listed file;
 *   preload   every preload name matches a listed module, and every listed module is preloaded, the
 *             way mcconfig decides it (tools/mcconfig.js, filterPreload): a wildcard preloads .js
 *             modules only, so a .ts module is preloaded only when named exactly.
 *
 * A host may stand in for a portable module on the device: a file hosts/moddable/X listed under the
 * specifier modules/X (the device's native AES for modules/crypto/aes, say) mirrors its path.
 *
 * Every problem names the file or specifier it is about.
 * Run: node --import tsx tools/manifest-check.ts   (prints problems, exits 1 if any)
 */

import { readFileSync } from "node:fs";
import { join, posix } from "node:path";
import { pathToFileURL } from "node:url";
import { collectImports, isRelative, listFiles, parse } from "./xs-boundary.js";

/** Repo-relative posix file paths plus a reader: the real tree or a fake one in tests. */
export interface Tree {
	files: readonly string[];
	read(path: string): string;
}

export interface ModuleEntry {
	specifier: string;
	file: string;
	/** The manifest `modules` key that produced it. */
	key: string;
	/** A .d.ts file: a type-only path mapping, not a module compiled into the build. */
	typeOnly: boolean;
}

export interface Expansion {
	entries: ModuleEntry[];
	/** Keys whose sources live outside the repo (`$(MODDABLE)/...`), so are not expanded. */
	externalKeys: string[];
	problems: string[];
}

/** Folders (and files) whose every .ts/.js must be listed in the manifest: the device build. */
export const DEVICE_ROOTS = ["modules/", "src/joinproxy/", "src/pledge/", "hosts/host.ts"] as const;

/** Device apps' host: its files are listed by the app manifests (manifest_joinproxy.json), not by manifest.json. */
export const HOST_SUBSTITUTE_ROOT = "hosts/moddable/";

const MODULE_EXTENSIONS = [".js", ".ts", ".json"];
const TEST_FILE = /\.(test|suite)\.[cm]?[jt]s$/;

export function loadTree(root: string): Tree {
	return { files: listFiles(root), read: (path) => readFileSync(join(root, path), "utf8") };
}

export function readManifest(root: string): unknown {
	return JSON.parse(readFileSync(join(root, "manifest.json"), "utf8"));
}

function splitName(base: string): { name: string; ext: string } {
	if (base.endsWith(".d.ts")) return { name: base.slice(0, -5), ext: ".d.ts" };
	const dot = base.lastIndexOf(".");
	return dot <= 0 ? { name: base, ext: "" } : { name: base.slice(0, dot), ext: base.slice(dot) };
}

function stripExtension(file: string): string {
	const slash = file.lastIndexOf("/");
	return file.slice(0, slash + 1) + splitName(file.slice(slash + 1)).name;
}

export function isDeviceFile(file: string): boolean {
	if (!/\.[cm]?[jt]s$/.test(file) || file.endsWith(".d.ts") || TEST_FILE.test(file)) return false;
	return DEVICE_ROOTS.some((r) => (r.endsWith("/") ? file.startsWith(r) : file === r));
}

function sourcesOf(value: unknown): string[] | undefined {
	if (typeof value === "string") return [value];
	if (Array.isArray(value) && value.every((v) => typeof v === "string")) return value as string[];
	return undefined;
}

/** Expands a manifest `modules` object against the tree the way mcconfig does. */
export function expandModules(modules: unknown, tree: Tree): Expansion {
	const out: Expansion = { entries: [], externalKeys: [], problems: [] };
	if (modules === null || typeof modules !== "object" || Array.isArray(modules)) {
		out.problems.push('manifest.json: "modules" must be an object');
		return out;
	}
	const byDir = new Map<string, string[]>();
	const dirs = new Set<string>();
	for (const f of tree.files) {
		const slash = f.lastIndexOf("/");
		const dir = slash < 0 ? "" : f.slice(0, slash);
		let list = byDir.get(dir);
		if (list === undefined) byDir.set(dir, (list = []));
		list.push(f.slice(slash + 1));
		for (let d = dir; d !== ""; d = d.includes("/") ? d.slice(0, d.lastIndexOf("/")) : "") dirs.add(d);
	}
	const excluded = new Set<string>();

	const iterate = (key: string, target: string, source: string, straight: boolean, include: boolean): void => {
		// SDK modules ($(MODDABLE)/...) and npm packages (node_modules, installed by npm, not in the repo).
		if (source.includes("$(") || source.startsWith("./node_modules/")) {
			if (include && !out.externalKeys.includes(key)) out.externalKeys.push(key);
			return;
		}
		const s = posix.normalize(source);
		const slash = s.lastIndexOf("/");
		const dir = slash < 0 ? "." : s.slice(0, slash);
		if (dir.startsWith("../") || dir === ".." || (!dirs.has(dir) && dir !== ".")) {
			out.problems.push(`manifest.json modules "${key}": directory not found for "${source}"`);
			return;
		}
		const rest = s.slice(slash + 1);
		const star = rest.lastIndexOf("*");
		const prefix = star >= 0 ? rest.slice(0, star) : rest;
		let count = 0;
		for (const base of (byDir.get(dir === "." ? "" : dir) ?? []).slice().sort()) {
			if (base.startsWith(".")) continue;
			const { name, ext } = splitName(base);
			let n: string;
			if (star >= 0) {
				if (!name.startsWith(prefix)) continue;
				n = name.slice(prefix.length);
			} else if (name === prefix) n = prefix;
			else continue;
			const typeOnly = ext === ".d.ts";
			if (!typeOnly && !MODULE_EXTENSIONS.includes(ext)) continue;
			const file = dir === "." ? base : `${dir}/${base}`;
			count++;
			if (!include) {
				excluded.add(file);
				continue;
			}
			if (excluded.has(file)) continue;
			out.entries.push({ specifier: straight ? target : target + n, file, key, typeOnly });
		}
		if (count === 0 && include) out.problems.push(`manifest.json modules "${key}": no module file matches "${source}"`);
	};

	const table = modules as Record<string, unknown>;
	if ("~" in table) {
		const sources = sourcesOf(table["~"]);
		if (sources === undefined) out.problems.push('manifest.json modules "~": value must be a string or an array of strings');
		else for (const src of sources) iterate("~", "~", src, true, false);
	}
	for (const [key, value] of Object.entries(table)) {
		if (key === "~") continue;
		const sources = sourcesOf(value);
		if (sources === undefined) {
			out.problems.push(`manifest.json modules "${key}": value must be a string or an array of strings`);
			continue;
		}
		const star = key.lastIndexOf("*");
		const pipe = key.lastIndexOf("|");
		const target = star >= 0 ? key.slice(0, star) : pipe >= 0 ? key.slice(0, pipe) : key;
		for (const src of sources) iterate(key, target, src, star < 0, true);
	}
	return out;
}

function globToRegExp(glob: string): RegExp {
	return new RegExp("^" + glob.split("*").map((p) => p.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")).join(".*") + "$");
}

function moduleEntries(exp: Expansion): ModuleEntry[] {
	return exp.entries.filter((e) => !e.typeOnly);
}

/** A folder's suggested key: its path without the leading modules/, src/ or hosts/ folder. */
function suggestKey(dir: string): string {
	return dir.replace(/^(modules|src|hosts)\//, "");
}

/** (a) Each device file is listed exactly once; no test file is swept in. Also duplicate specifiers. */
export function checkCoverage(exp: Expansion, tree: Tree): string[] {
	const problems: string[] = [];
	const entries = moduleEntries(exp);
	const globbed = new Set(exp.entries.filter((e) => e.key.includes("*")).map((e) => posix.dirname(e.file)));
	for (const f of tree.files.filter(isDeviceFile)) {
		const by = entries.filter((e) => e.file === f);
		if (by.length === 0) {
			const dir = posix.dirname(f);
			const hint = globbed.has(dir)
				? ""
				: ` (mcconfig's "dir/*" is not recursive: add "${suggestKey(dir)}/*": "./${dir}/*" to "modules" and "preload")`;
			problems.push(`${f}: not listed in manifest.json "modules"${hint}`);
		} else if (by.length > 1) {
			problems.push(`${f}: listed by ${by.length} specifiers (${by.map((e) => `"${e.specifier}"`).join(", ")}); list it once`);
		}
	}
	for (const e of entries) {
		if (TEST_FILE.test(e.file)) {
			problems.push(`${e.file}: test file swept into the device build as "${e.specifier}" by "${e.key}"; move it under test/ or exclude it with "~"`);
		}
	}
	const bySpec = new Map<string, ModuleEntry[]>();
	for (const e of entries) bySpec.set(e.specifier, [...(bySpec.get(e.specifier) ?? []), e]);
	for (const [spec, list] of bySpec) {
		if (list.length > 1) problems.push(`specifier "${spec}" maps to several files (${list.map((e) => e.file).join(", ")}); mcconfig builds only the first`);
	}
	return problems;
}

/** (b) Every listed specifier resolves to an existing file, and every key matched something. */
export function checkResolvable(exp: Expansion, tree: Tree): string[] {
	const files = new Set(tree.files);
	const problems = [...exp.problems];
	for (const e of exp.entries) if (!files.has(e.file)) problems.push(`specifier "${e.specifier}": file ${e.file} does not exist`);
	return problems;
}

/** (c) Each specifier is its file's path (without extension) minus leading folders. */
export function checkMirror(exp: Expansion): string[] {
	const problems: string[] = [];
	for (const e of moduleEntries(exp)) {
		if (e.file.startsWith(HOST_SUBSTITUTE_ROOT) && e.specifier.startsWith("modules/") && stripExtension(e.file).slice(HOST_SUBSTITUTE_ROOT.length) === e.specifier.slice("modules/".length)) continue;
		const spec = e.specifier.split("/");
		const path = stripExtension(e.file).split("/");
		const tail = path.slice(path.length - spec.length);
		if (spec.length > path.length || tail.join("/") !== e.specifier) {
			const suggestion = suggestKey(stripExtension(e.file));
			problems.push(`specifier "${e.specifier}" for ${e.file} does not mirror its path (expected a trailing part of the path, e.g. "${suggestion}"), so relative imports resolve differently on the device and on Node`);
		}
	}
	return problems;
}

/** (d) Relative imports of listed files resolve to the same listed file on Node and on the device. */
export function checkImports(exp: Expansion, tree: Tree): string[] {
	const problems: string[] = [];
	const files = new Set(tree.files);
	const entries = moduleEntries(exp);
	const byFile = new Map<string, ModuleEntry>();
	const bySpec = new Map<string, ModuleEntry>();
	for (const e of entries) {
		if (!byFile.has(e.file)) byFile.set(e.file, e);
		if (!bySpec.has(e.specifier)) bySpec.set(e.specifier, e);
	}
	for (const e of byFile.values()) {
		if (!/\.[cm]?[jt]s$/.test(e.file) || !files.has(e.file)) continue;
		const sf = parse(e.file, tree.read(e.file));
		for (const imp of collectImports(sf)) {
			const s = imp.specifier;
			if (imp.typeOnly || !isRelative(s)) continue;
			const where = `${e.file}:${imp.line}: import "${s}"`;
			if (!s.endsWith(".js")) {
				problems.push(`${where} must end in ".js" (Node ESM needs the extension; XS strips it)`);
				continue;
			}
			const nodePath = posix.normalize(posix.join(posix.dirname(e.file), s));
			const onNode = [nodePath.slice(0, -3) + ".ts", nodePath].find((p) => files.has(p));
			const deviceSpec = posix.normalize(posix.join(posix.dirname(e.specifier), s.slice(0, -3)));
			const onDevice = deviceSpec.startsWith("../") ? undefined : bySpec.get(deviceSpec);
			const standIn = onNode !== undefined && onDevice !== undefined && onDevice.file.startsWith(HOST_SUBSTITUTE_ROOT) && deviceSpec === stripExtension(onNode);
			if (standIn) continue; // the device's own implementation of the module Node imports
			if (onNode === undefined) {
				problems.push(`${where} resolves on Node to ${nodePath}, which does not exist`);
			} else if (!byFile.has(onNode)) {
				problems.push(`${where} resolves on Node to ${onNode}, which manifest.json does not list`);
			} else if (deviceSpec.startsWith("../")) {
				problems.push(`${where} climbs above the specifier root on the device (from "${e.specifier}"); on Node it is ${onNode} ("${byFile.get(onNode)!.specifier}")`);
			} else if (onDevice === undefined) {
				problems.push(`${where} resolves on the device to "${deviceSpec}", which no manifest entry provides; on Node it is ${onNode} ("${byFile.get(onNode)!.specifier}")`);
			} else if (onDevice.file !== onNode) {
				problems.push(`${where} resolves to ${onNode} on Node but to "${deviceSpec}" (${onDevice.file}) on the device`);
			}
		}
	}
	return problems;
}

/** (e) Every preload name matches a listed module; every listed module is preloaded. */
export function checkPreload(manifest: Record<string, unknown>, exp: Expansion): string[] {
	const problems: string[] = [];
	const raw = manifest["preload"] ?? [];
	const names = typeof raw === "string" ? [raw] : Array.isArray(raw) ? raw : undefined;
	if (names === undefined || !names.every((n) => typeof n === "string")) return ['manifest.json: "preload" must be a string or an array of strings'];
	const specs = moduleEntries(exp).map((e) => e.specifier);
	const patterns = (names as string[]).map(globToRegExp);
	const exact = new Set(names as string[]);
	(names as string[]).forEach((name, i) => {
		const re = patterns[i]!;
		const own = specs.some((s) => re.test(s));
		const external = exp.externalKeys.some((k) => {
			const star = k.indexOf("*");
			return star < 0 ? re.test(k) : name.startsWith(k.slice(0, star));
		});
		if (!own && !external) problems.push(`preload "${name}" matches no module listed in manifest.json "modules"`);
	});
	for (const e of moduleEntries(exp)) {
		if (exact.has(e.specifier)) continue;
		const wildcard = patterns.some((re, i) => (names as string[])[i]!.includes("*") && re.test(e.specifier));
		if (wildcard && e.file.endsWith(".js")) continue;
		problems.push(
			wildcard
				? `module "${e.specifier}" (${e.file}) is not preloaded: mcconfig matches preload wildcards against .js files only; name "${e.specifier}" in "preload"`
				: `module "${e.specifier}" (${e.file}) is not preloaded: add "${e.specifier}" to "preload"`,
		);
	}
	return problems;
}

export interface ManifestReport {
	expansion: Expansion;
	coverage: string[];
	resolve: string[];
	mirror: string[];
	imports: string[];
	preload: string[];
}

export function checkManifest(manifest: unknown, tree: Tree): ManifestReport {
	const m = manifest !== null && typeof manifest === "object" && !Array.isArray(manifest) ? (manifest as Record<string, unknown>) : {};
	const expansion = expandModules(m["modules"], tree);
	return {
		expansion,
		coverage: checkCoverage(expansion, tree),
		resolve: checkResolvable(expansion, tree),
		mirror: checkMirror(expansion),
		imports: checkImports(expansion, tree),
		preload: checkPreload(m, expansion),
	};
}

export function allProblems(r: ManifestReport): string[] {
	return [...r.coverage, ...r.resolve, ...r.mirror, ...r.imports, ...r.preload];
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
	const root = process.cwd();
	const problems = allProblems(checkManifest(readManifest(root), loadTree(root)));
	for (const p of problems) console.log(p);
	process.exitCode = problems.length === 0 ? 0 : 1;
}
