/*
 * The join proxy node on Moddable's runtime. Settings come from the manifest's `config.joinProxy`
 * (build time; mcconfig key=value overrides) and, taking precedence, from Preference domain "cjp-jp"
 * (run time; keys ≤ 15 characters, string values):
 *
 *   pledgeIface  pledge-facing interface name          pledgeAddr  its link-local address
 *   registrars   space-separated coaps://[ADDR]:PORT (stateful) or jpy://[ADDR]:PORT (stateless)
 *   joinPorts    space-separated join-ports, one per Registrar (default 5684)
 *   mode         auto | stateful | stateless            discover    Registrar-facing interface for ff05::fd
 *   logLevel     debug | info | warn | error            statsMs     print stats() as JSON every N ms
 *
 * In an instrumented build (mcconfig -i) each stats line is followed by a `memory` line: the XS
 * slot heap and chunk heap in use (bytes), keys and garbage collections, from Moddable's
 * instrumentation (the lin simulator samples it once a second).
 *
 * Not preloaded on lin (it imports `preference`, which reads its file when loaded); everything it
 * imports is. The default export runs at boot.
 */

import config from "mc/config";
import Preference from "preference";
import Timer from "timer";
import Instrumentation from "instrumentation";
import { createModdableHost } from "../../hosts/moddable/index.js";
import { JoinProxy, type JoinProxyOptions, type ProxyMode } from "../../src/joinproxy/join-proxy.js";
import { registrarFromTarget } from "../../src/joinproxy/registrar-discovery.js";

const DOMAIN = "cjp-jp";
const MODES = Object.freeze(["auto", "stateful", "stateless"]);
const LEVELS = Object.freeze(["debug", "info", "warn", "error"]);

function setting(name: string): string {
	const stored = Preference.get(DOMAIN, name);
	if (stored !== undefined) return String(stored);
	const built = (config["joinProxy"] as Record<string, unknown> | undefined)?.[name];
	return built === undefined ? "" : String(built);
}

function words(text: string): string[] {
	return text.split(" ").filter((w) => w !== "");
}

function options(host: JoinProxyOptions["host"]): JoinProxyOptions {
	const iface = setting("pledgeIface");
	if (iface === "") throw new Error("no pledgeIface configured");
	const mode = setting("mode") || "auto";
	if (!MODES.includes(mode)) throw new Error(`mode must be auto, stateful or stateless, got "${mode}"`);
	const o: JoinProxyOptions = { host, mode: mode as ProxyMode, pledgeInterfaces: [{ name: iface }] };
	const address = setting("pledgeAddr");
	if (address !== "") o.pledgeInterfaces[0]!.address = address;
	const registrars: NonNullable<JoinProxyOptions["registrars"]> = [];
	for (const uri of words(setting("registrars"))) {
		const stateless = registrarFromTarget(uri, "stateless");
		const r = stateless ?? registrarFromTarget(uri, "stateful");
		if (r === undefined) throw new Error(`registrar must be jpy://[ADDR]:PORT or coaps://[ADDR][:PORT], got "${uri}"`);
		registrars.push({ ...r, mode: stateless !== undefined ? "stateless" : "stateful" });
	}
	if (registrars.length > 0) o.registrars = registrars;
	const ports = words(setting("joinPorts")).map(Number);
	if (ports.some((p) => !(Number.isInteger(p) && p > 0 && p < 65536))) throw new Error(`joinPorts must be ports, got "${setting("joinPorts")}"`);
	if (ports.length > 0) o.joinPorts = ports;
	const discover = setting("discover");
	if (discover !== "") o.discovery = { zone: discover };
	if (registrars.length === 0 && discover === "") throw new Error("configure registrars or discover");
	return o;
}

const SAMPLES = Object.freeze({ slotBytes: "XS Slot Heap Used", chunkBytes: "XS Chunk Heap Used", keys: "XS Keys Used", gc: "XS Garbage Collection Count" } as const);

/** Moddable's instrumentation, or undefined in a build without it. */
function sample(): Record<keyof typeof SAMPLES, number> | undefined {
	const out = { slotBytes: 0, chunkBytes: 0, keys: 0, gc: 0 };
	for (const [field, name] of Object.entries(SAMPLES) as [keyof typeof SAMPLES, (typeof SAMPLES)[keyof typeof SAMPLES]][]) {
		const value = Instrumentation.get(Instrumentation.map(name));
		if (value === undefined) return undefined;
		out[field] = value;
	}
	return out;
}

export default function main(): void {
	const level = setting("logLevel") || "info";
	const host = createModdableHost({ preference: Preference, logLevel: (LEVELS.includes(level) ? level : "info") as "info" });
	try {
		JoinProxy.start(options(host)).then(
			(proxy) => {
				const every = Number(setting("statsMs"));
				if (every > 0) Timer.repeat(() => {
					trace(`stats ${JSON.stringify(proxy.stats())}\n`);
					const memory = sample();
					if (memory !== undefined) trace(`memory ${JSON.stringify(memory)}\n`);
				}, every);
			},
			(e: unknown) => host.log("error", `join proxy: ${String(e)}`),
		);
	} catch (e) {
		host.log("error", `join proxy: ${String(e)}`);
	}
}
