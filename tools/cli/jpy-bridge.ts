/* `cjp jpy-bridge`: a Registrar-side JPY endpoint in front of any DTLS server (one UDP flow per session). */

import { createNodeHost, splitZone } from "../../hosts/node/index.js";
import { openJpyUdpBridge } from "../../src/registrar/udp-bridge.js";
import { intOption, untilSignal, UsageError, type Command } from "./command.js";

const HELP = `Usage: cjp jpy-bridge --port N --to [ADDR]:PORT [options]

Serves JPY (draft-ietf-anima-constrained-join-proxy §4.5) for stateless Join Proxies and bridges
every pledge session to the DTLS server at --to, one UDP socket per session. Session sockets take
datagrams from --to only. JPY headers over 64 bytes, pledge datagrams over 1232 bytes and sessions
beyond 1000 (500 per proxy address, 50 new per second per proxy address) are refused or evicted,
sessions that never answered first. Node sends no ICMPv6 (no raw sockets).

Options:
  --port N            JPY port to listen on (advertise it as <jpy://[ADDR]:N>;rt=brski.rjp)
  --bind ADDRESS      address to listen on (default ::)
  --to [ADDR]:PORT    the DTLS (CoAPS) server, e.g. [::1]:5684
  --idle-timeout S    session idle expiry in seconds (default 120)
  --stats-interval S  print stats as a JSON line every S seconds
`;

export const jpyBridgeCommand: Command = {
	name: "jpy-bridge",
	summary: "Registrar-side JPY endpoint bridging stateless-proxy sessions to a DTLS server",
	help: HELP,
	options: {
		port: { type: "string" },
		bind: { type: "string" },
		to: { type: "string" },
		"idle-timeout": { type: "string" },
		"stats-interval": { type: "string" },
	},
	async run(values, positionals) {
		if (positionals.length > 0) throw new UsageError(`unexpected argument "${positionals[0]}"`);
		const port = intOption(values["port"], "port", 1, 65535);
		if (port === undefined) throw new UsageError("--port is required");
		const m = /^\[([^\]]+)\]:(\d+)$/.exec(String(values["to"] ?? ""));
		if (m === null) throw new UsageError("--to must be [ADDRESS]:PORT");
		const [address, zone] = splitZone(m[1]!);
		const toPort = intOption(m[2], "to", 1, 65535)!;
		const idle = intOption(values["idle-timeout"], "idle-timeout", 1, 86400);
		const every = intOption(values["stats-interval"], "stats-interval", 1, 86400);
		const host = createNodeHost();
		const bridge = await openJpyUdpBridge({
			host,
			port,
			server: { address, port: toPort, zone },
			...(typeof values["bind"] === "string" ? { address: values["bind"] } : {}),
			...(idle !== undefined ? { idleTimeoutMs: idle * 1000 } : {}),
		});
		host.log("info", `jpy-bridge: JPY on port ${bridge.port}, sessions bridged to [${address}]:${toPort}`);
		const print = (): void => void process.stdout.write(`${JSON.stringify({ ...bridge.stats(), udp: host.udp.stats() })}\n`);
		const timer = every === undefined ? undefined : setInterval(print, every * 1000);
		const signal = await untilSignal();
		host.log("info", `jpy-bridge: ${signal}, stopping`);
		if (timer !== undefined) clearInterval(timer);
		print();
		bridge.close();
		return 0;
	},
};
