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
import { createModdableHost, logLevel } from "../../hosts/moddable/index.js";
import { sampleMemory } from "../../hosts/moddable/memory.js";
import { AppSettings } from "../../hosts/moddable/settings.js";
import { JoinProxy, type JoinProxyOptions, type ProxyMode } from "../../src/joinproxy/join-proxy.js";
import { registrarFromTarget } from "../../src/joinproxy/registrar-discovery.js";

const MODES = Object.freeze(["auto", "stateful", "stateless"]);

function options(host: JoinProxyOptions["host"], s: AppSettings): JoinProxyOptions {
	const iface = s.text("pledgeIface");
	if (iface === "") throw new Error("no pledgeIface configured");
	const mode = s.text("mode") || "auto";
	if (!MODES.includes(mode)) throw new Error(`mode must be auto, stateful or stateless, got "${mode}"`);
	const o: JoinProxyOptions = { host, mode: mode as ProxyMode, pledgeInterfaces: [{ name: iface }] };
	const address = s.text("pledgeAddr");
	if (address !== "") o.pledgeInterfaces[0]!.address = address;
	const registrars: NonNullable<JoinProxyOptions["registrars"]> = [];
	for (const uri of s.words("registrars")) {
		const stateless = registrarFromTarget(uri, "stateless");
		const r = stateless ?? registrarFromTarget(uri, "stateful");
		if (r === undefined) throw new Error(`registrar must be jpy://[ADDR]:PORT or coaps://[ADDR][:PORT], got "${uri}"`);
		registrars.push({ ...r, mode: stateless !== undefined ? "stateless" : "stateful" });
	}
	if (registrars.length > 0) o.registrars = registrars;
	const ports = s.words("joinPorts").map(Number);
	if (ports.some((p) => !(Number.isInteger(p) && p > 0 && p < 65536))) throw new Error(`joinPorts must be ports, got "${s.text("joinPorts")}"`);
	if (ports.length > 0) o.joinPorts = ports;
	const discover = s.text("discover");
	if (discover !== "") o.discovery = { zone: discover };
	if (registrars.length === 0 && discover === "") throw new Error("configure registrars or discover");
	return o;
}

export default function main(): void {
	const s = new AppSettings(Preference, "cjp-jp", config["joinProxy"] as Record<string, unknown> | undefined);
	const host = createModdableHost({ preference: Preference, logLevel: logLevel(s.text("logLevel")) });
	try {
		JoinProxy.start(options(host, s)).then(
			(proxy) => {
				const every = Number(s.text("statsMs"));
				if (every > 0) Timer.repeat(() => {
					trace(`stats ${JSON.stringify(proxy.stats())}\n`);
					const memory = sampleMemory();
					if (memory !== undefined) trace(`memory ${JSON.stringify(memory)}\n`);
				}, every);
			},
			(e: unknown) => host.log("error", `join proxy: ${String(e)}`),
		);
	} catch (e) {
		host.log("error", `join proxy: ${String(e)}`);
	}
}
