/*
 * Building and running Moddable lin apps for the test:moddable lane: mcconfig with Moddable's own
 * tools (`mcconfig -m -p lin -t build`, never -d: the debug build opens the GUI simulator and kills
 * processes by name), the build's own report (xsl warnings, the generated preload list), and the
 * headless launcher (tools/moddable/launch.c) that runs the built mc.so without a window.
 */

import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { existsSync, readFileSync, rmSync } from "node:fs";
import { delimiter, join } from "node:path";
import { fileURLToPath } from "node:url";

export const root = fileURLToPath(new URL("../..", import.meta.url));
/** Our module prefixes: xsl warnings about these fail the build checks. */
export const OURS = /^### warning: (modules|src|hosts|apps)\//;
/**
 * xsl names a warning by the preloaded module it was reached from: these are cbor-x's own module
 * variables (its Decoder and Encoder state, aliased in RAM), reached through modules/cbor/cbor.
 */
export const CBOR_X_STATE = /^### warning: modules\/cbor\/cbor: (decodeCbor\(\) Decoder\.prototype\.|encodeCbor\(\) Encoder\(\) )/;

/** Why device builds cannot run here, or undefined when they can. */
export function sdkUnavailable(): string | undefined {
	const sdk = process.env["MODDABLE"];
	if (sdk === undefined || sdk === "") return "MODDABLE is not set: device builds need MODDABLE pointing at a Moddable SDK with its host tools built";
	if (!existsSync(join(sdk, "build", "bin", "lin", "release", "mcconfig"))) return `MODDABLE=${sdk} has no built host tools (build/bin/lin/release/mcconfig)`;
	if (spawnSync("pkg-config", ["--exists", "glib-2.0"]).status !== 0) return "glib-2.0 development files are missing (the headless launcher links glib)";
	return undefined;
}

export interface Build {
	output: string;
	library: string;
	tmp: string;
}

/**
 * Builds the app in `dir` (its manifest's build.NAME is `name`) for lin; throws with mcconfig's
 * output on failure. `instrumented`: mcconfig -i, a release build with Moddable's instrumentation
 * (still -t build: only the debug flavour starts the simulator).
 */
export function buildApp(sdk: string, dir: string, name: string, instrumented = false): Build {
	const flavour = instrumented ? "instrument" : "release";
	const args = instrumented ? ["-i"] : [];
	const env = { ...process.env, PATH: [join(sdk, "build", "bin", "lin", "release"), join(root, "node_modules", ".bin"), process.env["PATH"]].join(delimiter) };
	const tmp = join(sdk, "build", "tmp", "lin", "mc", flavour, name);
	// xsl links and reports (its `### warning` lines) only when mc.xs.c is out of date: remove it so
	// that an incremental build reports too.
	rmSync(join(tmp, "mc.xs.c"), { force: true });
	const r = spawnSync("mcconfig", [...args, "-m", "-p", "lin", "-t", "build"], { cwd: dir, env, encoding: "utf8", maxBuffer: 64 << 20 });
	const output = r.stdout + r.stderr;
	if (r.status !== 0) throw new Error(`mcconfig failed (${r.status}):\n${output}`);
	// mcconfig puts a lin app under build/{bin,tmp}/lin/mc/{release,instrument}/NAME (the "mc" subplatform of lin).
	return {
		output,
		library: join(sdk, "build", "bin", "lin", "mc", flavour, name, "mc.so"),
		tmp,
	};
}

/** xsl's `### warning` lines about our modules (not cbor-x's state reached through them). */
export function ourWarnings(build: Build): string[] {
	return warnings(build).filter((l) => OURS.test(l) && !CBOR_X_STATE.test(l));
}

/** All of xsl's `### warning` lines. */
export function warnings(build: Build): string[] {
	if (!build.output.includes("# xsl modules")) throw new Error(`xsl did not run:\n${build.output}`);
	return build.output.split("\n").filter((l) => l.startsWith("### warning"));
}

/** The module names the build preloads, from its generated makefile (xsl's -p arguments). */
export function preloads(build: Build): string[] {
	const makefile = readFileSync(join(build.tmp, "makefile"), "utf8");
	return [...makefile.matchAll(/-p (\S+)\.xsb/g)].map((m) => m[1]!);
}

/** Compiles tools/moddable/launch.c into `dir`; returns its path. */
export function buildLauncher(sdk: string, dir: string): string {
	const out = join(dir, "launch");
	const flags = spawnSync("pkg-config", ["--cflags", "--libs", "glib-2.0"], { encoding: "utf8" }).stdout.trim().split(/\s+/);
	const r = spawnSync("cc", ["-O2", "-DmxLinux=1", `-I${join(sdk, "build", "simulators", "modules")}`, join(root, "tools", "moddable", "launch.c"), ...flags, "-ldl", "-o", out], { encoding: "utf8" });
	if (r.status !== 0) throw new Error(`launcher did not compile:\n${r.stderr}`);
	return out;
}

export interface App {
	child: ChildProcess;
	log(): string;
}

/** Starts the app (through `start`, e.g. inside a namespace) and waits until its output contains `ready`. */
export async function runUntil(start: () => ChildProcess, ready: string, timeoutMs = 20_000): Promise<App> {
	const child = start();
	let log = "";
	child.stdout!.on("data", (d: Buffer) => (log += d.toString()));
	child.stderr!.on("data", (d: Buffer) => (log += d.toString()));
	const deadline = Date.now() + timeoutMs;
	while (!log.includes(ready)) {
		if (child.exitCode !== null || Date.now() > deadline) throw new Error(`the Moddable app did not print "${ready}":\n${log}`);
		await new Promise((r) => setTimeout(r, 50));
	}
	return { child, log: () => log };
}

/** Runs the launcher on `library` in this namespace-less process. */
export function spawnLauncher(launcher: string, library: string): ChildProcess {
	return spawn(launcher, [library], { stdio: ["ignore", "pipe", "pipe"] });
}
