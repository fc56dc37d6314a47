/* `cjp joinproxy`: the Join Proxy on a Linux box, on the Node host. */

import { createNodeHost } from "../../hosts/node/index.js";
import { JoinProxy, type JoinProxyOptions, type ProxyMode } from "../../src/joinproxy/join-proxy.js";
import { registrarFromTarget } from "../../src/joinproxy/registrar-discovery.js";
import { intOption, linkLocalAddress, untilSignal, UsageError, type Command } from "./command.js";

const HELP = `Usage: cjp joinproxy --pledge-iface IFACE [options]

Relays pledges' DTLS datagrams from link-local join-ports to a Registrar
(draft-ietf-anima-constrained-join-proxy), statefully or statelessly (JPY).

Options:
  --pledge-iface IFACE      pledge-facing interface (repeatable); its link-local address is used
  --join-port N             join-port, one per Registrar offered (repeatable, default 5684)
  --mode auto|stateful|stateless
                            default auto: the draft's rules (stateless if a brski.rjp Registrar is found)
  --registrar URI           configured Registrar (repeatable): jpy://[ADDR]:PORT (stateless, JPY port)
                            or coaps://[ADDR]:PORT (stateful); configuration overrides discovery
  --discover IFACE          discover Registrars with GET coap://[ff05::fd]/.well-known/core on IFACE
  --capacity N              stateful slots (default 10 per pledge interface)
  --max-per-address N       stateful flows per pledge address (default 2)
  --max-per-interface N     stateful flows per interface (default 10)
  --idle-timeout S          stateful idle expiry in seconds (default 30)
  --key-rotation S          stateless header key rotation in seconds (default 86400)
  --key-grace S             how long old headers still open after a rotation (default 900)
  --no-discovery-answers    do not answer pledges' brski-jp=* discovery
  --stats-interval S        print stats() as a JSON line every S seconds (also on SIGUSR1)
  --log-level L             debug|info|warn|error (default info)

Stops cleanly on SIGINT or SIGTERM.
`;

export const joinproxyCommand: Command = {
	name: "joinproxy",
	summary: "run the Join Proxy (stateful or stateless) on this host",
	help: HELP,
	options: {
		"pledge-iface": { type: "string", multiple: true },
		"join-port": { type: "string", multiple: true },
		mode: { type: "string" },
		registrar: { type: "string", multiple: true },
		discover: { type: "string" },
		capacity: { type: "string" },
		"max-per-address": { type: "string" },
		"max-per-interface": { type: "string" },
		"idle-timeout": { type: "string" },
		"key-rotation": { type: "string" },
		"key-grace": { type: "string" },
		"no-discovery-answers": { type: "boolean" },
		"stats-interval": { type: "string" },
		"log-level": { type: "string" },
	},
	async run(values, positionals) {
		if (positionals.length > 0) throw new UsageError(`unexpected argument "${positionals[0]}"`);
		const ifaces = (values["pledge-iface"] as string[] | undefined) ?? [];
		if (ifaces.length === 0) throw new UsageError("--pledge-iface is required");
		const mode = (values["mode"] as string | undefined) ?? "auto";
		if (!["auto", "stateful", "stateless"].includes(mode)) throw new UsageError(`--mode must be auto, stateful or stateless, got "${mode}"`);
		const logLevel = (values["log-level"] as string | undefined) ?? "info";
		if (!["debug", "info", "warn", "error"].includes(logLevel)) throw new UsageError(`--log-level must be debug, info, warn or error`);
		const registrars: NonNullable<JoinProxyOptions["registrars"]> = [];
		for (const uri of (values["registrar"] as string[] | undefined) ?? []) {
			const stateless = registrarFromTarget(uri, "stateless");
			const stateful = registrarFromTarget(uri, "stateful");
			const r = stateless ?? stateful;
			if (r === undefined) throw new UsageError(`--registrar must be jpy://[ADDR]:PORT or coaps://[ADDR][:PORT], got "${uri}"`);
			registrars.push({ ...r, mode: stateless ? "stateless" : "stateful" });
		}
		const discover = values["discover"] as string | undefined;
		if (registrars.length === 0 && discover === undefined) throw new UsageError("give --registrar or --discover (with neither, the draft says not to act as a Join Proxy)");
		const joinPorts = ((values["join-port"] as string[] | undefined) ?? []).map((p) => intOption(p, "join-port", 1, 65535)!);
		const seconds = (name: string, max: number): number | undefined => {
			const s = intOption(values[name], name, 1, max);
			return s === undefined ? undefined : s * 1000;
		};
		const host = createNodeHost({ logLevel: logLevel as "info" });
		const options: JoinProxyOptions = {
			host,
			mode: mode as ProxyMode,
			pledgeInterfaces: ifaces.map((name) => ({ name, address: linkLocalAddress(name) })),
			answerDiscovery: values["no-discovery-answers"] !== true,
		};
		if (joinPorts.length > 0) options.joinPorts = joinPorts;
		if (registrars.length > 0) options.registrars = registrars;
		if (discover !== undefined) options.discovery = { zone: discover };
		const capacity = intOption(values["capacity"], "capacity", 1, 65535);
		if (capacity !== undefined) options.capacity = capacity;
		const perAddress = intOption(values["max-per-address"], "max-per-address", 1, 65535);
		if (perAddress !== undefined) options.maxPerAddress = perAddress;
		const perInterface = intOption(values["max-per-interface"], "max-per-interface", 1, 65535);
		if (perInterface !== undefined) options.maxPerInterface = perInterface;
		const idle = seconds("idle-timeout", 86400);
		if (idle !== undefined) options.idleTimeoutMs = idle;
		const rotation = seconds("key-rotation", 30 * 86400);
		if (rotation !== undefined) options.keyRotationMs = rotation;
		const grace = seconds("key-grace", 86400);
		if (grace !== undefined) options.keyGraceMs = grace;
		const statsEvery = seconds("stats-interval", 86400);

		let proxy: JoinProxy;
		try {
			proxy = await JoinProxy.start(options);
		} catch (e) {
			if (e instanceof RangeError) throw new UsageError(e.message);
			throw e;
		}
		const printStats = (): void => void process.stdout.write(`${JSON.stringify(proxy.stats())}\n`);
		process.on("SIGUSR1", printStats);
		const timer = statsEvery === undefined ? undefined : setInterval(printStats, statsEvery);
		const signal = await untilSignal();
		host.log("info", `join proxy: ${signal}, stopping`);
		if (timer !== undefined) clearInterval(timer);
		process.off("SIGUSR1", printStats);
		printStats();
		proxy.close();
		return 0;
	},
};
