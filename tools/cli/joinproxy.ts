/* `cjp joinproxy`: the Join Proxy on a Linux box, on the Node host. */

import { execFileSync } from "node:child_process";
import { networkInterfaces } from "node:os";
import { createNodeHost } from "../../hosts/node/index.js";
import { canonicalIPv6, isLinkLocal } from "../../modules/util/ipv6.js";
import { JoinProxy, type JoinProxyOptions, type ProxyMode } from "../../src/joinproxy/join-proxy.js";
import { registrarFromTarget } from "../../src/joinproxy/registrar-discovery.js";
import { intOption, linkLocalAddress, untilStopSignal, UsageError, type Command } from "./command.js";

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
  --registrar-iface IFACE   Registrar-facing interface (default: the --discover one, else the one the
                            kernel routes the first --registrar through): the Registrar-side
                            sockets bind to its global address (its link-local one for a link-local
                            Registrar) instead of [::], so the pledge link cannot reach them
  --registrar-address ADDR  the Registrar-facing address to bind, instead of deriving it
  --own-address ADDR        a further address of this node never accepted as a pledge source
                            (repeatable; each pledge interface's link-local address always is)
  --capacity N              stateful slots (default 10 per pledge interface)
  --max-per-address N       stateful flows per pledge address (default 2)
  --max-per-interface N     stateful flows per interface (default 10)
  --idle-timeout S          stateful idle expiry in seconds (default 30)
  --key-rotation S          stateless header key rotation in seconds (default 86400)
  --key-grace S             how long old headers still open after a rotation (default 900; less
                            than --key-rotation); headers move to the new key when it ends
  --flow-rate N             new flows per second per pledge address, both modes (default 1)
  --flow-burst N            new flows a quiet pledge address may open at once (default 10)
  --datagram-rate N         datagrams per second per pledge address (default: no limit)
  --datagram-burst N        datagrams a quiet pledge address may send at once (default 2 s worth)
  --no-discovery-answers    do not answer pledges' brski-jp=* discovery
  --stats-interval S        print stats() as a JSON line every S seconds (also on SIGUSR1)
  --log-level L             debug|info|warn|error (default info); drops and refusals are logged as
                            warnings when they start and stop, at most one line per 10 s

Relayed datagrams carry at most 1232 bytes of content either way (IPv6 minimum MTU 1280 − 40 − 8);
larger ones are dropped and counted. The join-port binds to each pledge interface's link-local
address, so datagrams to other addresses never reach it.

ICMPv6: on this (Node.js) host refusals are counted in stats() (icmp.unsupported) but NOT sent:
Node has no raw sockets, so no Destination Unreachable reaches a refused pledge.

On SIGINT or SIGTERM it prints the final stats and exits within 2 s (a second signal exits at once).
On Linux a datagram for the Registrar-facing global address still arrives if it comes in on another
interface (weak host model); an nftables rule dropping it on the pledge interfaces closes that.
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
		"registrar-iface": { type: "string" },
		"registrar-address": { type: "string" },
		"own-address": { type: "string", multiple: true },
		"flow-rate": { type: "string" },
		"flow-burst": { type: "string" },
		"datagram-rate": { type: "string" },
		"datagram-burst": { type: "string" },
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
		if (rotation !== undefined || grace !== undefined) {
			const r = rotation ?? 86400_000;
			const g = grace ?? 900_000;
			if (g >= r) throw new UsageError(`--key-grace (${g / 1000} s) must be shorter than --key-rotation (${r / 1000} s)`);
		}
		const rateLimit: NonNullable<JoinProxyOptions["rateLimit"]> = {};
		const flowRate = intOption(values["flow-rate"], "flow-rate", 1, 100_000);
		if (flowRate !== undefined) rateLimit.flowsPerSecond = flowRate;
		const flowBurst = intOption(values["flow-burst"], "flow-burst", 1, 100_000);
		if (flowBurst !== undefined) rateLimit.flowBurst = flowBurst;
		const dgRate = intOption(values["datagram-rate"], "datagram-rate", 1, 1_000_000);
		if (dgRate !== undefined) rateLimit.datagramsPerSecond = dgRate;
		const dgBurst = intOption(values["datagram-burst"], "datagram-burst", 1, 1_000_000);
		if (dgBurst !== undefined) {
			if (dgRate === undefined) throw new UsageError("--datagram-burst needs --datagram-rate");
			rateLimit.datagramBurst = dgBurst;
		}
		options.rateLimit = rateLimit;
		const own = (values["own-address"] as string[] | undefined) ?? [];
		for (const a of own) if (canonicalIPv6(a) === undefined) throw new UsageError(`--own-address must be an IPv6 address, got "${a}"`);
		if (own.length > 0) options.ownAddresses = own;
		// Without an interface named, the one the kernel routes the (first) Registrar through.
		const routed = values["registrar-iface"] === undefined && discover === undefined && registrars[0] !== undefined && !isLinkLocal(registrars[0].address) ? routeTo(registrars[0].address) : undefined;
		const registrarIface = (values["registrar-iface"] as string | undefined) ?? discover ?? routed?.dev;
		const registrarAddress = values["registrar-address"] as string | undefined;
		if (registrarAddress !== undefined && canonicalIPv6(registrarAddress) === undefined) throw new UsageError(`--registrar-address must be an IPv6 address, got "${registrarAddress}"`);
		if (registrarIface !== undefined || registrarAddress !== undefined) {
			const linkLocalRegistrar = registrars.length > 0 && registrars.every((r) => isLinkLocal(r.address));
			const address = registrarAddress ?? routed?.src ?? (registrarIface === undefined ? undefined : registrarFacingAddress(registrarIface, linkLocalRegistrar));
			options.registrarSide = { ...(address !== undefined ? { address } : {}), ...(registrarIface !== undefined ? { zone: registrarIface } : {}) };
		}

		if (options.registrarSide === undefined) host.log("warn", "join proxy: Registrar-side sockets bind [::] (no --registrar-iface and no route found): the pledge link can reach them");
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
		const signal = await untilStopSignal();
		host.log("info", `join proxy: ${signal}, stopping`);
		if (timer !== undefined) clearInterval(timer);
		process.off("SIGUSR1", printStats);
		printStats();
		proxy.close();
		return 0;
	},
};

/**
 * The address the Registrar-side sockets bind to on `zone`: a global one, or the link-local one when
 * every configured Registrar is link-local; a usage error when the interface has none.
 */
function registrarFacingAddress(zone: string, linkLocal: boolean): string {
	const addresses = (networkInterfaces()[zone] ?? []).filter((a) => a.family === "IPv6" && !a.internal).map((a) => a.address.split("%")[0]!);
	const found = linkLocal ? addresses.find((a) => isLinkLocal(a)) : addresses.find((a) => !isLinkLocal(a) && !a.toLowerCase().startsWith("fd") && !a.toLowerCase().startsWith("fc")) ?? addresses.find((a) => !isLinkLocal(a));
	if (found === undefined) throw new UsageError(`interface "${zone}" has no IPv6 ${linkLocal ? "link-local" : "global"} address for the Registrar side`);
	return found;
}

/** The interface and source address Linux would use toward `address` (`ip -6 route get`), if it can tell. */
function routeTo(address: string): { dev: string; src: string | undefined } | undefined {
	let out: string;
	try {
		out = execFileSync("ip", ["-6", "route", "get", address], { encoding: "utf8", stdio: ["ignore", "pipe", "ignore"] });
	} catch {
		return undefined;
	}
	const dev = / dev (\S+)/.exec(out)?.[1];
	return dev === undefined ? undefined : { dev, src: / src (\S+)/.exec(out)?.[1] };
}
